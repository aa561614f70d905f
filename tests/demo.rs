//! `ebsim demo` end to end (the binary): the nine steps in order, within 80 columns, no colour
//! when not on a TTY; what the set-up, the steps and each lesson must teach (pinned outcomes);
//! the calls in the text in trail order; `--json`; the glossary; the output files (checked
//! before any call, replaced atomically); a running server; and `ebsim demo ekm`.

use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;

fn ebsim() -> Ebsim {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim"))
}

fn run_ok(e: &Ebsim, args: &[&str]) -> String {
    let out = e.output(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ebsim {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The operation names of the call lines (`    [step N] Operation → outcome`), in order.
fn call_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("    "))
        .map(|l| match l.strip_prefix("[step ") {
            Some(rest) => rest.split_once("] ").map_or(rest, |(_, r)| r),
            None => l,
        })
        .filter(|l| l.contains(" → ") && !l.starts_with(' '))
        .filter_map(|l| l.split(' ').next())
        .filter(|op| op.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_owned)
        .collect()
}

fn trail_names(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("trail")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .map(|r| r["eventName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The text with every run of blanks (line ends included) as one space, so that a phrase
/// wrapped over two lines is still found.
fn flatten(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_within_80_columns(stdout: &str) {
    for line in stdout.lines() {
        assert!(
            line.chars().count() <= 80,
            "wider than 80 columns: {line:?}"
        );
        assert!(
            !line.contains('\u{1b}'),
            "colour escape when not on a TTY: {line:?}"
        );
    }
}

#[test]
fn demo_teaches_the_steps_lessons_grants_and_identities_in_trail_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("trail.jsonl");
    let svg = dir.path().join("flow.svg");
    let mmd = dir.path().join("flow.mmd");
    let stdout = run_ok(
        &ebsim(),
        &[
            "demo",
            "--trace",
            trace.to_str().expect("utf-8"),
            "--diagram",
            svg.to_str().expect("utf-8"),
            "--mermaid",
            mmd.to_str().expect("utf-8"),
        ],
    );
    let mut last = 0;
    for n in 1..=9 {
        let at = stdout
            .find(&format!("Step {n}/9 — "))
            .unwrap_or_else(|| panic!("no step {n}:\n{stdout}"));
        assert!(at > last || n == 1, "step {n} out of order");
        last = at;
    }
    assert_within_80_columns(&stdout);
    assert!(!stdout.contains("unexpected"), "{stdout}");
    let flat = flatten(&stdout);
    let has = |s: &str| assert!(flat.contains(s), "missing {s:?}:\n{stdout}");
    // Identities, explained once.
    has("Who is who");
    has("\"EBS\" is the EC2 infrastructure");
    has("via ec2.amazonaws.com");
    has("arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION");
    // The admin's IAM policy of the source document, with the real key ARN, and a refused
    // launch without kms:CreateGrant.
    let key_line = stdout
        .lines()
        .find(|l| l.starts_with("  \"arn:aws:kms:us-west-2:111122223333:key/"))
        .unwrap_or_else(|| panic!("no key ARN line in the admin policy:\n{stdout}"));
    assert_eq!(key_line.len(), 2 + 1 + 75 + 1, "{key_line}");
    has("{\"Effect\": \"Allow\", \"Action\": \"kms:CreateGrant\", \"Resource\":");
    has("[\"kms:ListAliases\", \"kms:ListKeys\"]");
    has("only for the console");
    has("refused: AccessDeniedException");
    has("perform: kms:CreateGrant");
    // Grants in full, and the child grants' parent.
    let grants: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("      new grant "))
        .collect();
    assert_eq!(grants.len(), 3, "{stdout}");
    for g in &grants {
        assert!(
            g.len() == 64 && g.bytes().all(|b| b.is_ascii_hexdigit()),
            "{g}"
        );
    }
    assert_eq!(
        stdout.matches("(this one is its child)").count(),
        2,
        "{stdout}"
    );
    has("may call Decrypt, GenerateDataKeyWithoutPlaintext, CreateGrant");
    has("only when the context includes aws:workspaces:sid-directoryid =");
    has("retiring arn:aws:iam::111122223333:user/WorkSpacesAdmin");
    // The volumes table names both volumes, their grants and metadata paths.
    has("root volume vol-");
    has("user volume vol-");
    assert_eq!(stdout.matches("      metadata  ").count(), 2, "{stdout}");
    // Where plaintext keys live.
    has("in the memory of the EBS hosts that serve the volume");
    has("In ebsim, in this process's memory");
    // Lesson 1 reads as authorized, then refused.
    has("authorized by key policy statement \"Enable IAM User Permissions\",");
    has("then refused: the encryption context differs");
    has("InvalidCiphertextException");
    // Lesson 2.
    has("DisabledException");
    has("still works");
    // Lesson 3: RSA.
    has("has key spec RSA_2048");
    has("GenerateDataKeyWithoutPlaintext, which only symmetric keys support");
    has("InvalidKeyUsageException");
    // Lesson 4: rotation.
    has("RotateKeyOnDemand");
    has("now NON_CURRENT");
    has("Reboot (attach again): both volumes attach.");
    // The glossary.
    for term in [
        "grant",
        "child grant",
        "encryption context",
        "wrapped key",
        "WithoutPlaintext",
        "XTS",
        "SID",
        "assumed-role",
        "via",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("    {term} "))),
            "glossary lacks {term}"
        );
    }

    // Every call of the trail appears in the text, in the trail's order.
    let names = trail_names(&trace);
    assert_eq!(
        call_lines(&stdout),
        names,
        "text order differs from the trail"
    );
    for op in [
        "CreateKey",
        "PutKeyPolicy",
        "CreateGrant",
        "GenerateDataKeyWithoutPlaintext",
        "Decrypt",
        "DisableKey",
        "EnableKey",
        "RotateKeyOnDemand",
        "RetireGrant",
    ] {
        assert!(names.iter().any(|n| n == op), "{op} missing from the trail");
    }
    let svg = std::fs::read_to_string(&svg).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("RetireGrant"));
    let mmd = std::fs::read_to_string(&mmd).expect("mermaid");
    assert!(mmd.starts_with("sequenceDiagram") && mmd.contains("EBSEC2->>KMS: Decrypt"));
}

#[test]
fn demo_json_pins_every_lesson_outcome() {
    let stdout = run_ok(&ebsim(), &["demo", "--json"]);
    assert_eq!(stdout.lines().count(), 1, "one JSON object:\n{stdout}");
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["story"], "workspaces");
    assert_eq!(v["setup"][0]["outcome"], "AccessDeniedException");
    let steps = v["steps"].as_array().expect("steps");
    assert_eq!(
        steps
            .iter()
            .map(|s| s["number"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>(),
        (1..=9).collect::<Vec<u64>>()
    );
    let lessons: Vec<(u64, String)> = v["lessons"]
        .as_array()
        .expect("lessons")
        .iter()
        .map(|l| {
            (
                l["number"].as_u64().unwrap_or(0),
                l["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        lessons,
        [
            (1, "InvalidCiphertextException".to_owned()),
            (2, "DisabledException".to_owned()),
            (3, "NotSymmetric".to_owned()),
            (4, "ok".to_owned()),
        ]
    );
    for s in steps
        .iter()
        .chain(v["lessons"].as_array().expect("lessons"))
    {
        for c in s["calls"].as_array().expect("calls") {
            for k in [
                "operation",
                "principal",
                "via",
                "context",
                "decided_by",
                "outcome",
            ] {
                assert!(c.get(k).is_some(), "call without {k}: {c}");
            }
        }
    }
    let calls = |n: usize| {
        steps[n - 1]["calls"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let ops = |n: usize| {
        calls(n)
            .iter()
            .map(|c| c["operation"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ops(1), ["DescribeKey", "CreateGrant"]);
    assert_eq!(ops(2), ["CreateGrant", "CreateGrant"]);
    assert_eq!(
        ops(3),
        [
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyWithoutPlaintext"
        ]
    );
    assert_eq!(ops(5), ["Decrypt", "Decrypt"]);
    let volumes = v["volumes"].as_array().expect("volumes");
    for (c, vol) in calls(5).iter().zip(volumes) {
        assert_eq!(c["context"]["aws:ebs:id"], vol["volume_id"]);
        assert_eq!(
            c["decided_by"],
            format!("grant {}", vol["grant_id"].as_str().unwrap_or(""))
        );
        assert_eq!(c["via"], Value::Null);
    }
    assert_eq!(calls(3)[0]["via"], "ec2.amazonaws.com");
    let child = &calls(2)[0]["grant"];
    assert_eq!(child["operations"], serde_json::json!(["Decrypt"]));
    assert_eq!(child["parent"], calls(1)[1]["grant"]["grant_id"]);
}

#[test]
fn glossary_alone_makes_no_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("never");
    let stdout = run_ok(&ebsim().data_dir(&d), &["demo", "--glossary"]);
    assert!(stdout.contains("child grant") && stdout.contains("WithoutPlaintext"));
    assert_within_80_columns(&stdout);
    assert!(!d.exists(), "--glossary created the data dir");
}

#[test]
fn unwritable_outputs_fail_before_any_call_and_outputs_are_replaced_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("data");
    for flag in ["--trace", "--diagram", "--mermaid", "--html"] {
        let bad = dir.path().join("no-such-dir").join("out.svg");
        let out = ebsim()
            .data_dir(&d)
            .output(&["demo", flag, bad.to_str().expect("utf-8")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("cannot write") && stderr.contains("no-such-dir"),
            "{stderr}"
        );
        assert!(
            !d.exists(),
            "{flag}: a call was made before the output was checked"
        );
    }
    let out = ebsim()
        .data_dir(&d)
        .output(&["demo", "--diagram", "flow.jpg"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".svg or .png"));
    assert!(!d.exists(), "a call was made before --diagram was checked");

    let png = dir.path().join("flow.png");
    let page = dir.path().join("walk.html");
    run_ok(
        &ebsim(),
        &[
            "demo",
            "--json",
            "--diagram",
            png.to_str().expect("utf-8"),
            "--html",
            page.to_str().expect("utf-8"),
        ],
    );
    let bytes = std::fs::read(&png).expect("png");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000);
    let html = std::fs::read_to_string(&page).expect("html");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
    // Self-contained: nothing fetched from the network (the SVG namespace is only a name).
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
    // One stop per band: the set-up, the nine steps and the four lessons.
    assert_eq!(html.matches("<section class=\"stop\"").count(), 14);
    assert_eq!(html.matches("class=\"band\"").count(), 14);

    let trace = dir.path().join("trail.jsonl");
    std::fs::write(
        &trace,
        "old content that is much longer than nothing\n".repeat(1000),
    )
    .expect("write");
    run_ok(
        &ebsim(),
        &["demo", "--json", "--trace", trace.to_str().expect("utf-8")],
    );
    let text = std::fs::read_to_string(&trace).expect("trail");
    assert!(!text.contains("old content"));
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ebsim-out-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn demo_runs_against_the_server_of_its_data_dir_and_refuses_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("served");
    let e = ebsim().data_dir(&d);
    let server = e.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let url = server.url();
    let json = run_ok(&e, &["demo", "--json"]);
    let v: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["lessons"][0]["outcome"], "InvalidCiphertextException");
    // A second run on the same data dir reads only its own records from the trail.
    let again: Value = serde_json::from_str(&run_ok(
        &e.clone().kms_endpoint(url.clone()),
        &["demo", "--json"],
    ))
    .expect("JSON");
    let ops = |v: &Value, n: usize| -> Vec<String> {
        v["steps"][n]["calls"]
            .as_array()
            .expect("calls")
            .iter()
            .map(|c| c["operation"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(ops(&again, 0), ["DescribeKey", "CreateGrant"]);
    assert_eq!(ops(&again, 4), ["Decrypt", "Decrypt"]);
    assert_eq!(again["lessons"][3]["outcome"], "ok");
    // Not the server of the data dir in force: refused before any call.
    let other = dir.path().join("other");
    for g in [
        ebsim().kms_endpoint(url.clone()),
        ebsim().data_dir(&other).kms_endpoint(url.clone()),
    ] {
        let out = g.output(&["demo"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("is not the KMS server of"), "{stderr}");
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    server.stop();
}

#[test]
fn ekm_demo_shows_the_causes_and_tells_the_role_cases_apart() {
    let stdout = run_ok(&ebsim(), &["demo", "ekm"]);
    assert_within_80_columns(&stdout);
    let flat = flatten(&stdout);
    for s in [
        "\"AWS\": \"arn:aws:iam::222233334444:role/Workato_EKM\"",
        "the role has no identity policy of its own",
        "ekm connect: valid.",
        "recommendation: automatic key rotation is off",
        "JSON has no comments",
        "cause 2: the ARN has extra spaces",
        "cause 3:",
        "no statement in it lets this role use the key",
    ] {
        assert!(flat.contains(s), "missing {s:?}:\n{stdout}");
    }
    let v: Value =
        serde_json::from_str(&run_ok(&ebsim(), &["demo", "ekm", "--json"])).expect("JSON");
    let outcome = |k: &str, n: usize| v[k][n]["outcome"].as_str().unwrap_or_default().to_owned();
    assert_eq!(outcome("steps", 3), "role_identity_policy_missing");
    assert_eq!(outcome("steps", 4), "valid");
    assert_eq!(outcome("steps", 5), "valid");
    assert_eq!(outcome("lessons", 0), "MalformedPolicyDocumentException");
    assert_eq!(outcome("lessons", 1), "wrong_arn");
    assert_eq!(outcome("lessons", 2), "kms_outage");
    assert_eq!(outcome("lessons", 3), "role_not_in_key_policy");
    let round_trip: Vec<&str> = v["steps"][4]["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter(|c| {
            c["principal"]
                .as_str()
                .is_some_and(|p| p.contains("assumed-role/Workato_EKM"))
        })
        .filter_map(|c| c["operation"].as_str())
        .collect();
    assert_eq!(round_trip, ["Encrypt", "Decrypt"]);
}

/// Output into a pipe nobody reads (`ebsim demo | head -0`) ends the program the way SIGPIPE
/// would, status 141, without a panic report; output into a full device is a plain error.
#[test]
fn closed_or_full_stdout_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [&["info"][..], &["demo"][..]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = ebsim()
            .data_dir(dir.path().join("closed"))
            .command(args)
            .stdout(writer)
            .output()
            .expect("run ebsim");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = ebsim()
        .data_dir(dir.path().join("full"))
        .command(&["info"])
        .stdout(full)
        .output()
        .expect("run ebsim");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: writing to standard output"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// docs/demo-questions.md: every answering line it quotes is in the demo's text, the EKM
/// demo's text, or the SVG, as it says.
#[test]
fn every_answer_in_demo_questions_is_in_the_output() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/demo-questions.md"
    ))
    .expect("docs/demo-questions.md");
    let dir = tempfile::tempdir().expect("tempdir");
    let svg_path = dir.path().join("flow.svg");
    let text = flatten(&run_ok(
        &ebsim(),
        &["demo", "--diagram", svg_path.to_str().expect("utf-8")],
    ));
    let ekm = flatten(&run_ok(&ebsim(), &["demo", "ekm"]));
    let svg = std::fs::read_to_string(&svg_path).expect("svg");
    let mut checked = 0;
    for line in doc.lines() {
        let Some((kind, rest)) = line.strip_prefix("- ").and_then(|l| l.split_once(": `")) else {
            continue;
        };
        let quote = rest
            .strip_suffix('`')
            .unwrap_or_else(|| panic!("unterminated: {line}"));
        match kind {
            "text" => assert!(
                text.contains(&flatten(quote)),
                "not in the demo's text: {quote}"
            ),
            "ekm" => assert!(
                ekm.contains(&flatten(quote)),
                "not in the EKM demo's text: {quote}"
            ),
            "diagram" => {
                let escaped = quote
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;");
                assert!(
                    svg.contains(&format!(">{escaped}</text>")),
                    "not a text of the SVG: {quote}"
                );
            }
            other => panic!("unknown kind {other} in {line}"),
        }
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} answers found");
}
