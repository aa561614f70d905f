//! `ebsim demo --html` in a real browser: Debian's chromium, headless, driven through
//! chromium-driver by selenium with keyboard events (tests/scripts/demo_html.py). The DOM is
//! checked (the stop shown, step 5's Decrypts with the volume's context and grant, the band
//! highlighted in the diagram, the glossary on hover); the screenshots are kept in
//! `target/tmp/demo-html/` to look at.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ebsim_test_support::ebsim::Ebsim;

#[test]
fn the_walkthrough_steps_through_the_demo_in_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("walk.html");
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim"));
    e.ok(&["demo", "--json", "--html", page.to_str().expect("utf-8")]);
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-html");
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/scripts/demo_html.py"
        ))
        .arg(&page)
        .arg(&shots)
        .env("SE_OFFLINE", "true")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 with selenium, chromium and chromium-driver (.ci/install-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "the walkthrough failed in chromium:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shot in ["00-setup.png", "05-step5.png", "lesson1.png", "99-end.png"] {
        let bytes = std::fs::read(shots.join(shot)).expect("screenshot");
        assert!(bytes.starts_with(b"\x89PNG"), "{shot}");
    }
}
