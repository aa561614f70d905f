//! `ebsim demo` end to end (the binary): the nine steps in order, within 80 columns, no colour
//! when not on a TTY, the lessons' outcomes, and the trail and diagrams it writes.

use ebsim_test_support::ebsim::Ebsim;

fn ebsim() -> Ebsim {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim"))
}

#[test]
fn demo_tells_the_nine_steps_and_writes_trail_and_diagrams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("trail.jsonl");
    let svg = dir.path().join("flow.svg");
    let mmd = dir.path().join("flow.mmd");
    let out = ebsim()
        .command(&["demo", "--trace"])
        .arg(&trace)
        .arg("--diagram")
        .arg(&svg)
        .arg("--mermaid")
        .arg(&mmd)
        .output()
        .expect("run ebsim demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut last = 0;
    for n in 1..=9 {
        let at = stdout
            .find(&format!("Step {n}/9 — "))
            .unwrap_or_else(|| panic!("no step {n}:\n{stdout}"));
        assert!(at > last || n == 1, "step {n} out of order");
        last = at;
    }
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
    assert!(
        stdout.contains("InvalidCiphertextException"),
        "lesson 1:\n{stdout}"
    );
    assert!(stdout.contains("DisabledException"), "lesson 2:\n{stdout}");
    assert!(stdout.contains("still works"), "lesson 2 I/O:\n{stdout}");
    assert!(!stdout.contains("unexpected"), "{stdout}");

    let trail = std::fs::read_to_string(&trace).expect("trail");
    let names: Vec<String> = trail
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .map(|r| r["eventName"].as_str().unwrap_or_default().to_owned())
        .collect();
    for op in [
        "CreateKey",
        "CreateGrant",
        "GenerateDataKeyWithoutPlaintext",
        "Decrypt",
        "DisableKey",
        "EnableKey",
        "RetireGrant",
    ] {
        assert!(names.iter().any(|n| n == op), "{op} missing from the trail");
    }
    let svg = std::fs::read_to_string(&svg).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("RetireGrant"));
    let mmd = std::fs::read_to_string(&mmd).expect("mermaid");
    assert!(mmd.starts_with("sequenceDiagram") && mmd.contains("EBS->>KMS: Decrypt"));
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
