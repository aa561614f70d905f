//! The pytest fixture of docs/usage.md ("Coming from moto or LocalStack"),
//! tests/scripts/pytest_fixture/conftest.py, runs tests written for moto against
//! `ebsim kms serve --credentials any-as-root --account 123456789012`, resetting before each.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn moto_style_tests_run_against_ebsim_through_the_fixture() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/pytest_fixture");
    let out = Command::new("python3")
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", dir])
        .env("EBSIM_BIN", env!("CARGO_BIN_EXE_ebsim"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("EBSIM_DATA_DIR")
        .env_remove("EBSIM_ACCOUNT")
        .output()
        .expect("python3 with pytest must be installed (.ci/install-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("3 passed"),
        "pytest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
