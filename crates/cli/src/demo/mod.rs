//! `ebsim demo`: the key flow of an encrypted WorkSpace (WorkSpaces → EBS → KMS) told with
//! real calls and the audit records they produced: a set-up, the nine steps, four lessons and
//! the terminate (docs/key-flow.md); `ebsim demo ekm`, the bring-your-own-key story of a SaaS
//! app. Writes the trail (`--trace`) and a sequence diagram drawn from it (`--diagram` SVG,
//! `--mermaid`); `--json` prints the run as one JSON object.

mod diagram;
mod ekm_story;
mod glossary;
mod html;
mod lessons;
mod png;
mod report;
mod story;
mod text;

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use ebsim_kms_client::KmsClient;
use ebsim_workspaces::Simulator;

use crate::output_file::Output;
use crate::{CliError, GlobalArgs};

/// `ebsim demo [ekm] [--trace FILE] [--diagram FILE.svg] [--mermaid FILE] [--glossary]`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Another story instead of the WorkSpaces one.
    #[command(subcommand)]
    pub story: Option<Story>,
    /// Write the KMS audit trail the demo produced (CloudTrail-shaped JSON lines).
    #[arg(long, global = true, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write a sequence diagram of the trail: SVG, or PNG for a name ending in .png.
    #[arg(long, global = true, value_name = "FILE.svg|FILE.png")]
    pub diagram: Option<PathBuf>,
    /// Write the same diagram as Mermaid text.
    #[arg(long, global = true, value_name = "FILE")]
    pub mermaid: Option<PathBuf>,
    /// Write a self-contained HTML walkthrough: the diagram, stepping through the steps and
    /// lessons (buttons, or the → ← keys) with each step's calls; the glossary on hover.
    #[arg(long, global = true, value_name = "FILE.html")]
    pub html: Option<PathBuf>,
    /// Print the glossary of the words the demo uses, and make no call.
    #[arg(long)]
    pub glossary: bool,
}

/// The stories besides the default WorkSpaces one.
#[derive(Debug, Subcommand)]
pub enum Story {
    /// A SaaS app's bring-your-own-key check (Workato EKM): the vendor's role, the statement
    /// for the key policy, a successful check, and the three documented failure causes.
    Ekm,
}

/// The KMS client of the demo on `dir`: its running server or its embedded KMS; with
/// `--kms-endpoint`, only the server of `dir` (checked before any call).
fn demo_client(global: &GlobalArgs, dir: &Path) -> Result<KmsClient, CliError> {
    if let Some(url) = &global.kms_endpoint {
        let not_own = |reason: String| CliError::NotOwnServer {
            endpoint: url.clone(),
            dir: dir.to_path_buf(),
            reason,
        };
        if global.data_dir.is_none() {
            return Err(not_own("the demo acts for EBS with the service credential of the server's data dir; name that dir with --data-dir DIR (or leave out --kms-endpoint to use a server running on DIR)".into()));
        }
        match ebsim_kms_client::verify_endpoint(dir, std::time::Duration::from_secs(2)) {
            Ok(own) if same_endpoint(&own, url) => {}
            Ok(own) => {
                return Err(not_own(format!(
                    "the server of that data dir listens on {own}"
                )));
            }
            Err(why) => return Err(not_own(format!("{why}"))),
        }
    }
    // The endpoint, if any, is the data dir's own server: reach it as the data dir's commands
    // do (found through its endpoint file, with the service credential).
    let g = GlobalArgs {
        data_dir: Some(dir.to_path_buf()),
        kms_endpoint: None,
        ..global.clone()
    };
    crate::common::kms_client(&g, crate::common::DataDir::Create)
}

/// Whether two endpoint URLs name the same server (`localhost` is 127.0.0.1; a trailing
/// slash does not matter).
fn same_endpoint(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim_end_matches('/')
            .replace("://localhost:", "://127.0.0.1:")
            .to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

/// Runs `ebsim demo`.
pub fn run(global: &GlobalArgs, args: &DemoArgs) -> Result<(), CliError> {
    if args.glossary {
        let mut r = report::Report {
            title: "Words the demo uses".into(),
            ..Default::default()
        };
        let mut s = report::Section::new(report::Kind::Notes, "");
        s.table(20, glossary::rows());
        r.sections.push(s);
        if global.json {
            let map: serde_json::Map<String, serde_json::Value> = glossary::GLOSSARY
                .iter()
                .map(|(t, e)| ((*t).to_owned(), (*e).into()))
                .collect();
            outln!("{}", serde_json::Value::Object(map))?;
        } else {
            let text = text::Text::new(false).report(&r);
            outln!("{}", text.trim_end())?;
        }
        return Ok(());
    }
    let as_png = match args.diagram.as_ref().map(|p| {
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        (p, ext)
    }) {
        None => false,
        Some((_, Some(e))) if e == "svg" => false,
        Some((_, Some(e))) if e == "png" => true,
        Some((p, _)) => {
            return Err(CliError::InvalidArgument(format!(
                "--diagram {}: give a name ending in .svg or .png",
                p.display()
            )));
        }
    };
    // Every output path is checked (a temporary file made next to it) before any call.
    let mut outputs = Vec::new();
    for (path, what) in [
        (&args.trace, "trail"),
        (&args.diagram, "diagram"),
        (&args.mermaid, "Mermaid diagram"),
        (&args.html, "HTML walkthrough"),
    ] {
        if let Some(p) = path {
            outputs.push(Output::prepare(p, what)?);
        }
    }
    let started = std::time::Instant::now();
    let color =
        !global.json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // Without --data-dir, a fresh private temporary data dir, removed at the end.
    let (dir, temporary) = match &global.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("ebsim-demo-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .map_err(CliError::io(
                    "create a temporary data dir in",
                    std::env::temp_dir(),
                ))?;
            (t.path().to_owned(), Some(t))
        }
    };
    let result = (|| {
        let client = demo_client(global, &dir)?;
        let sim = Simulator::with_client(client.clone(), Some(&dir));
        match args.story {
            None => story::run(&client, &sim, &dir),
            Some(Story::Ekm) => ekm_story::run(&client, &sim, &dir),
        }
    })();
    drop(temporary);
    let (report, trail) = result?;
    let mut written = Vec::new();
    for mut o in outputs {
        let bytes = match o.what {
            "trail" => {
                let mut t = String::new();
                for r in &trail {
                    t.push_str(&r.to_string());
                    t.push('\n');
                }
                t
            }
            "diagram" if as_png => {
                o.commit(&png::render(&diagram::svg(&report))?)?;
                written.push(o);
                continue;
            }
            "diagram" => diagram::svg(&report),
            "HTML walkthrough" => html::page(&report),
            _ => diagram::mermaid(&report),
        };
        o.commit(bytes.as_bytes())?;
        written.push(o);
    }
    if global.json {
        let mut v = report.to_json();
        v["outputs"] = written
            .iter()
            .map(|o| (o.what.to_owned(), o.path.display().to_string().into()))
            .collect::<serde_json::Map<_, _>>()
            .into();
        outln!("{v}")?;
        return Ok(());
    }
    let mut out = text::Text::new(color).report(&report);
    for o in &written {
        out.push_str(&format!("{} written to {}\n", o.what, o.path.display()));
    }
    out.push_str(&format!(
        "\ndone in {:.2} s\n",
        started.elapsed().as_secs_f64()
    ));
    {
        use std::io::Write as _;
        std::io::stdout()
            .lock()
            .write_all(out.as_bytes())
            .map_err(CliError::Stdout)?;
    }
    Ok(())
}
