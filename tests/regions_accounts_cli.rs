//! `--region`, `--account`, `ebsim info`, and the CLI against a server of each credential
//! mode: a region keeps its own keys, an account its own ARNs, and the CLI reaches its own
//! data dir's server under `strict` through the service credential.

use std::path::Path;

use ebsim_test_support::ebsim::{Ebsim, ok};
use serde_json::Value;

fn ebsim(dir: &Path) -> Ebsim {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn key_arns(e: &Ebsim, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--json", "key", "list"];
    args.extend_from_slice(extra);
    let v = json(&e.ok(&args));
    v["Keys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k["KeyArn"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn region_and_account_flags_scope_what_commands_see() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = ebsim(dir.path());
    let created = json(&e.ok(&["--json", "--region", "us-east-1", "key", "create"]));
    let arn = created["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/"),
        "{created}"
    );
    assert_eq!(key_arns(&e, &["--region", "us-east-1"]), vec![arn.clone()]);
    assert!(key_arns(&e, &[]).is_empty(), "us-west-2 has no key");

    let created = json(&e.ok(&["--json", "--account", "123456789012", "key", "create"]));
    let other = created["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        other.starts_with("arn:aws:kms:us-west-2:123456789012:key/"),
        "{created}"
    );
    assert_eq!(key_arns(&e, &["--account", "123456789012"]), vec![other]);

    // The environment sets them too.
    let out = e
        .command(&["--json", "key", "list"])
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run");
    let v = json(&ok(&out, "key list with AWS_REGION"));
    assert_eq!(v["Keys"].as_array().map(Vec::len), Some(1));

    let info = json(&e.ok(&[
        "--json",
        "--account",
        "000000000000",
        "--region",
        "eu-west-1",
        "info",
    ]));
    assert_eq!(info["account"], "000000000000");
    assert_eq!(info["region"], "eu-west-1");
    let info = json(&e.ok(&["--json", "info"]));
    assert_eq!(info["account"], "111122223333");
    assert_eq!(info["region"], "us-west-2");
}

#[test]
fn bad_regions_and_accounts_are_usage_errors_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = ebsim(dir.path());
    for args in [
        &["--account", "12", "key", "create"][..],
        &["--account", "1234567890123", "key", "create"],
        &["--region", "xx-fake-1", "key", "create"],
        &["--region", "US-WEST-2", "key", "create"],
    ] {
        let out = e.output(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is not a valid"), "{args:?}: {err}");
    }
    assert!(!dir.path().join("kms").exists(), "nothing was created");
}

#[test]
fn the_cli_reaches_a_strict_server_of_its_own_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = ebsim(dir.path());
    let server = e.serve(&[
        "kms",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--credentials",
        "strict",
        "--account",
        "123456789012",
    ]);
    // With test/test in the environment (as the test harness sets), the server refuses.
    let out = e.output(&["key", "list"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("UnrecognizedClientException"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without an access key in the environment, the CLI signs with the service credential
    // and acts as the server's default account root.
    let run = |args: &[&str]| {
        let out = e
            .command(args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output()
            .expect("run");
        json(&ok(&out, &format!("{args:?}")))
    };
    let created = run(&["--json", "key", "create"]);
    assert!(
        created["KeyMetadata"]["Arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:kms:us-west-2:123456789012:key/")),
        "{created}"
    );
    let creds = run(&[
        "--json",
        "--account",
        "123456789012",
        "iam",
        "root-credentials",
    ]);
    assert_eq!(creds["arn"], "arn:aws:iam::123456789012:root");
    let (akid, secret) = (
        creds["access_key_id"].as_str().unwrap_or_default(),
        creds["secret_access_key"].as_str().unwrap_or_default(),
    );
    assert!(akid.starts_with("AKIA") && secret.len() >= 40, "{creds}");
    // That pair signs.
    let out = e
        .command(&["--json", "key", "list"])
        .env("AWS_ACCESS_KEY_ID", akid)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .output()
        .expect("run");
    let listed = json(&ok(&out, "key list with root credentials"));
    assert_eq!(listed["Keys"].as_array().map(Vec::len), Some(1), "{listed}");
    server.stop();
}
