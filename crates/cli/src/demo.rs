//! `ebsim demo`: the nine steps of the WorkSpaces → EBS → KMS key flow, told with real calls
//! and the audit records they produced, then two lessons and the terminate; writes the trail
//! (`--trace`), and a sequence diagram drawn from it (`--diagram` SVG, `--mermaid`).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::Args;
use ebsim_kms_client::{Identity, KmsClient};
use ebsim_workspaces::{LaunchRequest, Simulator};
use serde_json::{Value, json};

use crate::{CliError, GlobalArgs};

/// `ebsim demo [--trace FILE] [--diagram FILE.svg] [--mermaid FILE]`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Write the KMS audit trail the demo produced (CloudTrail-shaped JSON lines).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write a sequence diagram of the trail as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub diagram: Option<PathBuf>,
    /// Write the same diagram as Mermaid text.
    #[arg(long, value_name = "FILE")]
    pub mermaid: Option<PathBuf>,
}

const SID: &str = "S-1-5-21-277731876-1789304096-451871588-1107";
const DIRECTORY: &str = "d-1234abcd01";
const WIDTH: usize = 80;

struct Out {
    color: bool,
}

impl Out {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    fn step(&self, n: u32, text: &str) -> Result<(), CliError> {
        let head = format!("Step {n}/9 — ");
        let lines = wrap(text, WIDTH - head.chars().count());
        for (i, l) in lines.iter().enumerate() {
            if i == 0 {
                outln!("{}{l}", self.paint("1;36", &head))?;
            } else {
                outln!("{:width$}{l}", "", width = head.chars().count())?;
            }
        }
        Ok(())
    }

    fn title(&self, text: &str) -> Result<(), CliError> {
        outln!("{}", self.paint("1", text))?;
        Ok(())
    }

    fn note(&self, text: &str) -> Result<(), CliError> {
        for l in wrap(text, WIDTH - 4) {
            outln!("    {l}")?;
        }
        Ok(())
    }

    fn call(&self, r: &Value) -> Result<(), CliError> {
        let c = Call::from_record(r);
        let status = match &c.error {
            Some(e) => self.paint("31", &format!("→ {e}")),
            None => self.paint("32", "→ ok"),
        };
        outln!("    {} {status}", self.paint("1", &c.operation))?;
        for l in wrap(&format!("as {}", short_principal(&c.principal)), WIDTH - 8) {
            outln!("      {l}")?;
        }
        if let Some(v) = &c.via {
            outln!("      via {v}")?;
        }
        if let Some(ctx) = &c.context {
            let pairs: Vec<(String, String)> =
                serde_json::from_str::<serde_json::Map<String, Value>>(ctx)
                    .map(|m| {
                        m.into_iter()
                            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
            for (i, (k, v)) in pairs.iter().enumerate() {
                let head = if i == 0 { "context" } else { "       " };
                for (j, l) in wrap(&format!("{k} = {v}"), WIDTH - 14).iter().enumerate() {
                    outln!("      {} {l}", if j == 0 { head } else { "       " })?;
                }
            }
        }
        if let Some(a) = &c.allowed_by {
            for l in wrap(&format!("allowed by {a}"), WIDTH - 8) {
                outln!("      {l}")?;
            }
        }
        Ok(())
    }
}

/// A principal ARN without the `arn:aws:iam::` / `arn:aws:sts::` prefix (the account stays).
fn short_principal(p: &str) -> &str {
    p.strip_prefix("arn:aws:iam::")
        .or_else(|| p.strip_prefix("arn:aws:sts::"))
        .unwrap_or(p)
}

/// Splits `text` into lines of at most `width` characters, at spaces where possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_owned();
        while word.chars().count() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        if line.is_empty() {
            line = word;
        } else if line.chars().count() + 1 + word.chars().count() <= width {
            line.push(' ');
            line.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut line, word));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// One KMS call as read from its audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    operation: String,
    principal: String,
    via: Option<String>,
    context: Option<String>,
    allowed_by: Option<String>,
    error: Option<String>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

impl Call {
    fn from_record(r: &Value) -> Self {
        let operation = str_at(r, &["eventName"]).unwrap_or("?").to_owned();
        let principal = str_at(r, &["userIdentity", "arn"])
            .or_else(|| str_at(r, &["userIdentity", "principalId"]))
            .unwrap_or("?")
            .to_owned();
        let via = str_at(r, &["userIdentity", "invokedBy"])
            .or_else(|| str_at(r, &["additionalEventData", "viaService"]))
            .map(str::to_owned);
        let context = r
            .get("requestParameters")
            .and_then(|p| p.get("encryptionContext"))
            .filter(|c| c.as_object().is_some_and(|o| !o.is_empty()))
            .map(Value::to_string);
        // What allowed the call: a grant id or a policy statement, as the KMS recorded it.
        let allowed_by = r.get("additionalEventData").and_then(|a| {
            let grant = ["grantId", "authorizingGrantId"]
                .iter()
                .find_map(|k| a.get(*k).and_then(Value::as_str))
                .map(|g| format!("grant {}…", g.chars().take(16).collect::<String>()));
            let stmt = a
                .get("policyStatementSid")
                .and_then(Value::as_str)
                .map(|s| format!("key policy statement \"{s}\""));
            grant.or(stmt)
        });
        let error = str_at(r, &["errorCode"]).map(str::to_owned);
        Self {
            operation,
            principal,
            via,
            context,
            allowed_by,
            error,
        }
    }

    /// The diagram participant that made the call.
    fn actor(&self) -> &'static str {
        if self.principal.contains("aws:ec2-infrastructure") {
            "EBS"
        } else if self.principal.contains("aws:workspaces-infrastructure") {
            if self.via.as_deref().is_some_and(|v| v.starts_with("ec2")) {
                "EBS"
            } else {
                "WorkSpaces"
            }
        } else if let Some(v) = &self.via {
            if v.starts_with("ec2") {
                "EBS"
            } else {
                "WorkSpaces"
            }
        } else {
            "Admin"
        }
    }
}

const PARTICIPANTS: [&str; 4] = ["Admin", "WorkSpaces", "EBS", "KMS"];

/// Mermaid sequence diagram of a trail.
fn mermaid(calls: &[Call]) -> String {
    let mut s = String::from("sequenceDiagram\n");
    for p in PARTICIPANTS {
        let _ = writeln!(s, "    participant {p}");
    }
    for c in calls {
        let _ = writeln!(s, "    {}->>KMS: {}", c.actor(), c.operation);
        if let Some(e) = &c.error {
            let _ = writeln!(s, "    KMS-->>{}: {e}", c.actor());
        }
    }
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Hand-drawn SVG sequence diagram of a trail.
fn svg(calls: &[Call]) -> String {
    let col = 180;
    let x = |p: &str| 90 + col * PARTICIPANTS.iter().position(|q| *q == p).unwrap_or(0);
    let row = 26;
    let top = 60;
    let height = top + row * (calls.len() + 1) + 20;
    let width = 90 * 2 + col * (PARTICIPANTS.len() - 1);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <defs><marker id=\"a\" markerWidth=\"8\" markerHeight=\"8\" refX=\"8\" refY=\"4\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for p in PARTICIPANTS {
        let px = x(p);
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"10\" width=\"120\" height=\"28\" rx=\"4\" fill=\"#eef\" stroke=\"#335\"/><text x=\"{px}\" y=\"29\" text-anchor=\"middle\" font-weight=\"bold\">{p}</text>\n<line x1=\"{px}\" y1=\"38\" x2=\"{px}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
            px - 60,
            height - 10
        );
    }
    for (i, c) in calls.iter().enumerate() {
        let y = top + row * i;
        let (x1, x2) = (x(c.actor()), x("KMS"));
        let colour = if c.error.is_some() { "#b00" } else { "#000" };
        let label = match &c.error {
            Some(e) => format!("{} ✗ {e}", c.operation),
            None => c.operation.clone(),
        };
        let _ = writeln!(
            s,
            "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{colour}\" marker-end=\"url(#a)\"/><text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
            x2 - 2,
            x1 + 6,
            y - 4,
            xml_escape(&label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Reads the audit records produced since the last call.
struct Trail<'a> {
    sim: &'a Simulator,
    seen: usize,
    all: Vec<Value>,
}

impl<'a> Trail<'a> {
    fn new(sim: &'a Simulator) -> Result<Self, CliError> {
        let seen = sim.audit_records()?.len();
        Ok(Self {
            sim,
            seen,
            all: Vec::new(),
        })
    }

    fn take(&mut self) -> Result<Vec<Value>, CliError> {
        let records = self.sim.audit_records()?;
        let new: Vec<Value> = records.into_iter().skip(self.seen).collect();
        self.seen += new.len();
        self.all.extend(new.iter().cloned());
        Ok(new)
    }
}

fn named<'v>(records: &'v [Value], op: &str) -> impl Iterator<Item = &'v Value> {
    let op = op.to_owned();
    records
        .iter()
        .filter(move |r| str_at(r, &["eventName"]) == Some(op.as_str()))
}

/// The KMS client of the demo: `--kms-endpoint` or a running server, else the embedded KMS.
fn demo_client(global: &GlobalArgs, dir: &Path) -> Result<KmsClient, CliError> {
    let g = GlobalArgs {
        data_dir: Some(dir.to_path_buf()),
        ..global.clone()
    };
    crate::common::kms_client(&g, crate::common::DataDir::Create)
}

/// The wrapped data key of a volume of the data dir.
fn wrapped_key(dir: &Path, meta: &ebsim_volume::VolumeMetadata) -> Result<Vec<u8>, CliError> {
    meta.wrapped_key().map_err(|reason| {
        CliError::Volume(ebsim_volume::VolumeError::CorruptMetadata {
            path: dir
                .join("volumes")
                .join(&meta.volume_id)
                .join("metadata.json"),
            reason,
        })
    })
}

/// Runs `ebsim demo`.
pub fn run(global: &GlobalArgs, args: &DemoArgs) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let out = Out {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    // Without --data-dir, a fresh private temporary data dir, removed at the end.
    let (dir, temporary) = match &global.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("ebsim-demo-")
                .tempdir()
                .map_err(CliError::io(
                    "create a temporary data dir in",
                    std::env::temp_dir(),
                ))?;
            (t.path().to_owned(), Some(t))
        }
    };
    let result = story(global, args, &dir, &out);
    drop(temporary);
    result?;
    outln!()?;
    outln!("done in {:.2} s", started.elapsed().as_secs_f64())?;
    Ok(())
}

fn story(global: &GlobalArgs, args: &DemoArgs, dir: &Path, out: &Out) -> Result<(), CliError> {
    let client = demo_client(global, dir)?;
    let sim = Simulator::with_client(client.clone(), Some(dir));
    let mut trail = Trail::new(&sim)?;
    out.title("ebsim demo — how an encrypted WorkSpace uses AWS KMS (docs/architecture.md)")?;
    outln!("data dir {}", dir.display())?;
    outln!()?;

    // A customer managed key, so that the lesson can disable it.
    let created = client.call(
        &Identity::Default,
        "CreateKey",
        json!({"Description": "ebsim demo: WorkSpaces volumes"}),
    )?;
    let key_arn = str_at(&created, &["KeyMetadata", "Arn"])
        .unwrap_or_default()
        .to_owned();
    out.title("Setup — a symmetric customer managed key (CreateKey)")?;
    for r in trail.take()? {
        out.call(&r)?;
    }
    outln!()?;

    let mut req = LaunchRequest::new(SID, DIRECTORY);
    req.key_id = Some(key_arn.clone());
    let ws = sim.workspaces().launch(&req)?;
    let launch = trail.take()?;
    let grants: Vec<&Value> = named(&launch, "CreateGrant").collect();
    out.step(1, &format!("the admin launches {} for user {SID} in {DIRECTORY}; WorkSpaces creates a grant on the key usable only for this user and directory.", ws.workspace_id))?;
    for r in named(&launch, "DescribeKey").chain(grants.iter().take(1).copied()) {
        out.call(r)?;
    }
    out.step(2, "WorkSpaces asks EBS for a root and a user volume; EBS creates one grant per volume, a child of the WorkSpace's grant.")?;
    for r in grants.iter().skip(1) {
        out.call(r)?;
    }
    out.step(3, "EBS asks KMS for a new data key for each volume, wrapped under the key, bound to the encryption context.")?;
    for r in named(&launch, "GenerateDataKeyWithoutPlaintext") {
        out.call(r)?;
    }
    let meta_path = dir
        .join("volumes")
        .join(&ws.user_volume_id)
        .join("metadata.json");
    out.step(4, "KMS made a fresh 512-bit key (two AES-256 keys for XTS), returned only its wrapped copy; EBS stored it in the volume's metadata:")?;
    out.note(&meta_path.display().to_string())?;
    out.step(5, "the volumes are attached: EBS sends each wrapped key back in a Decrypt, with the same encryption context.")?;
    for r in named(&launch, "Decrypt") {
        out.call(r)?;
    }
    out.step(6, "KMS checked the caller against key policy and grants (with their constraints), decrypted, and returned the data key to EBS only.")?;
    out.note("(see the \"allowed by\" lines above: the per-volume grant)")?;

    let payload = b"Quarterly report: this text is encrypted in data.img";
    let offset = 1_000_000;
    sim.workspaces()
        .with_volumes(&ws.workspace_id, |_root, user| {
            user.write_at(offset, payload)
        })??;
    let img = dir
        .join("volumes")
        .join(&ws.user_volume_id)
        .join("data.img");
    let on_disk = std::fs::read(&img).unwrap_or_default();
    let plaintext_on_disk = on_disk.windows(payload.len()).any(|w| w == payload);
    out.step(7, &format!("EBS encrypts every sector with XTS-AES-256 under the data key, which lives only in this process's memory. {} bytes written at offset {offset}; data.img holds {}.", payload.len(), if plaintext_on_disk { "PLAINTEXT (unexpected!)" } else { "only ciphertext" }))?;
    out.note(&img.display().to_string())?;

    sim.workspaces().reboot(&ws.workspace_id)?;
    let reboot = trail.take()?;
    let mut back = vec![0u8; payload.len()];
    sim.workspaces()
        .with_volumes(&ws.workspace_id, |_root, user| {
            user.read_at(offset, &mut back)
        })??;
    out.step(8, &format!("reboot: the keys left memory; EBS re-read the wrapped keys from the metadata and went back to step 5. Read back: {}.", if back == payload { "the same bytes" } else { "DIFFERENT bytes" }))?;
    for r in &reboot {
        out.call(r)?;
    }
    outln!()?;

    out.title("Lesson 1 — the encryption context is part of the ciphertext")?;
    let user_meta = sim.ebs().volumes().load(&ws.user_volume_id)?;
    let mut ctx = user_meta.encryption_context.clone();
    ctx.insert("aws:ebs:id".into(), "vol-0000000000000000f".into());
    let blob = wrapped_key(dir, &user_meta)?;
    let attempt = client.decrypt_data_key(
        &Identity::Default,
        &blob,
        &ebsim_kms_client::EncryptionContext::from_map(ctx),
    );
    out.note(&format!("the account root (whom the key policy allows everything) asks for the user volume's key with another aws:ebs:id: {}", match &attempt {
        Ok(_) => "it was returned (unexpected!)".to_owned(),
        Err(e) => e.kms_error_type().map_or_else(|| e.to_string(), |t| t.name().to_owned()),
    }))?;
    drop(attempt);
    for r in trail.take()? {
        out.call(&r)?;
    }
    outln!()?;

    out.title("Lesson 2 — a disabled key: attached volumes keep working, the next attach fails")?;
    client.call(&Identity::Default, "DisableKey", json!({"KeyId": key_arn}))?;
    let io = sim
        .workspaces()
        .with_volumes(&ws.workspace_id, |_r, user| {
            user.write_at(0, b"still writing")
                .and_then(|()| user.read_at(offset, &mut back))
        })?;
    out.note(&format!(
        "key disabled; I/O on the attached volume: {}",
        if io.is_ok() { "still works" } else { "failed" }
    ))?;
    let failed = sim.workspaces().reboot(&ws.workspace_id);
    out.note(&format!(
        "reboot: {}",
        match &failed {
            Ok(_) => "succeeded (unexpected!)".to_owned(),
            Err(e) => e.to_string(),
        }
    ))?;
    client.call(&Identity::Default, "EnableKey", json!({"KeyId": key_arn}))?;
    sim.workspaces().start(&ws.workspace_id)?;
    out.note("key enabled again; the WorkSpace starts (attach succeeds).")?;
    for r in trail.take()? {
        out.call(&r)?;
    }
    outln!()?;

    let root_meta = sim.ebs().volumes().load(&ws.root_volume_id)?;
    sim.workspaces().terminate(&ws.workspace_id)?;
    out.step(
        9,
        "terminate: the volumes are deleted and WorkSpaces and EBS retire their grants.",
    )?;
    for r in trail.take()? {
        out.call(&r)?;
    }
    let useless = client.decrypt_data_key(
        &Identity::Principal(root_meta.grantee_principal.clone().unwrap_or_default()),
        &wrapped_key(dir, &root_meta)?,
        &root_meta.context(),
    );
    out.note(&format!(
        "EBS tries the old root volume's wrapped key: {}",
        match &useless {
            Ok(_) => "it still unwraps (unexpected!)".to_owned(),
            Err(e) => e
                .kms_error_type()
                .map_or_else(|| e.to_string(), |t| t.name().to_owned()),
        }
    ))?;
    drop(useless);
    let _ = trail.take()?;

    let calls: Vec<Call> = trail.all.iter().map(Call::from_record).collect();
    if let Some(p) = &args.trace {
        let mut text = String::new();
        for r in &trail.all {
            let _ = writeln!(text, "{r}");
        }
        std::fs::write(p, text).map_err(CliError::io("write", p))?;
        outln!("trail written to {}", p.display())?;
    }
    if let Some(p) = &args.diagram {
        std::fs::write(p, svg(&calls)).map_err(CliError::io("write", p))?;
        outln!("diagram written to {}", p.display())?;
    }
    if let Some(p) = &args.mermaid {
        std::fs::write(p, mermaid(&calls)).map_err(CliError::io("write", p))?;
        outln!("Mermaid diagram written to {}", p.display())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(op: &str, arn: &str, via: Option<&str>, error: Option<&str>) -> Value {
        let mut r = json!({"eventName": op, "userIdentity": {"arn": arn},
            "requestParameters": {"encryptionContext": {"aws:ebs:id": "vol-0123456789abcdef0"}},
            "additionalEventData": {"grantId": "ab".repeat(32)}});
        if let Some(v) = via {
            r["userIdentity"]["invokedBy"] = v.into();
        }
        if let Some(e) = error {
            r["errorCode"] = e.into();
        }
        r
    }

    #[test]
    fn wrap_keeps_lines_within_width() {
        let text = "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/vol-0123456789abcdef0 and more words here";
        for l in wrap(text, 40) {
            assert!(l.chars().count() <= 40, "{l}");
        }
        assert_eq!(wrap("a b c", 3), ["a b", "c"]);
    }

    #[test]
    fn calls_map_to_actors_and_diagrams() {
        use ebsim_kms_client::DEFAULT_ROOT;
        let calls: Vec<Call> = [
            record("CreateGrant", DEFAULT_ROOT, Some("workspaces.us-west-2.amazonaws.com"), None),
            record("GenerateDataKeyWithoutPlaintext", "arn:aws:sts::111122223333:assumed-role/aws:workspaces-infrastructure/ws-abc", Some("ec2.us-west-2.amazonaws.com"), None),
            record("Decrypt", "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/vol-0123456789abcdef0", None, Some("DisabledException")),
            record("CreateKey", DEFAULT_ROOT, None, None),
        ]
        .iter()
        .map(Call::from_record)
        .collect();
        assert_eq!(
            calls.iter().map(Call::actor).collect::<Vec<_>>(),
            ["WorkSpaces", "EBS", "EBS", "Admin"]
        );
        assert!(
            calls[2]
                .allowed_by
                .as_deref()
                .is_some_and(|a| a.starts_with("grant abab"))
        );
        let m = mermaid(&calls);
        assert!(m.starts_with("sequenceDiagram\n"));
        assert!(m.contains("EBS->>KMS: Decrypt\n    KMS-->>EBS: DisabledException"));
        let s = svg(&calls);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("marker-end").count(), 4);
        assert!(s.contains("Decrypt ✗ DisabledException"));
    }
}
