//! boto3 against `ebsim kms serve --credentials any-as-root` and `--credentials strict`:
//! tests/scripts/kms_accounts_boto3.py checks moto's credentials, regions, accounts, a
//! cross-account key policy and strict refusals. aws-cli checks `--account` on the server.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use ebsim_test_support::ebsim::Ebsim;
use serde_json::{Value, json};

fn json_ok(ebsim: &Ebsim, args: &[&str]) -> Value {
    serde_json::from_str(&ebsim.ok(args)).unwrap()
}

fn user(ebsim: &Ebsim, name: &str) -> (String, String) {
    let u = json_ok(ebsim, &["--json", "iam", "create-user", name]);
    (
        u["access_key_id"].as_str().unwrap().to_owned(),
        u["secret_access_key"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn boto3_across_credential_modes_regions_and_accounts() {
    let tmp = tempfile::tempdir().unwrap();
    let any_dir = tmp.path().join("any");
    let strict_dir = tmp.path().join("strict");
    let any = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&any_dir);
    let strict = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&strict_dir);
    let any_server = any.serve(&[
        "kms",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--credentials",
        "any-as-root",
    ]);
    let strict_server = strict.serve(&[
        "kms",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--credentials",
        "strict",
    ]);
    let (bob_key, bob_secret) = user(&any, "bob");
    let (carol_key, carol_secret) = user(&any, "carol");
    let policy = tmp.path().join("bob.json");
    std::fs::write(
        &policy,
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}]})
        .to_string(),
    )
    .unwrap();
    any.ok(&["iam", "put-policy", "bob", policy.to_str().unwrap()]);
    // The CLI reaches its own strict server with the service credential.
    let out = strict
        .command(&["--json", "iam", "root-credentials"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root: Value = serde_json::from_slice(&out.stdout).unwrap();

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/kms_accounts_boto3.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(any_server.url())
        .arg(strict_server.url())
        .arg(root["access_key_id"].as_str().unwrap())
        .arg(root["secret_access_key"].as_str().unwrap())
        .args([&bob_key, &bob_secret, &carol_key, &carol_secret])
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("python3 with boto3 must be installed (.ci/install-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "boto3 flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(any_server.stop().expect("stopped").success());
    assert!(strict_server.stop().expect("stopped").success());
}

fn aws(url: &str, region: &str, args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new("aws")
        .args([
            "--endpoint-url",
            url,
            "--region",
            region,
            "--output",
            "json",
        ])
        .args(args)
        .current_dir(cwd)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .output()
        .expect("aws-cli must be installed (.ci/install-deps)")
}

#[test]
fn aws_cli_against_a_server_of_another_default_account() {
    let tmp = tempfile::tempdir().unwrap();
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(tmp.path().join("d"));
    let server = ebsim.serve(&[
        "kms",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--account",
        "123456789012",
    ]);
    let url = server.url();
    let out = aws(&url, "eu-central-1", &["kms", "create-key"], tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key: Value = serde_json::from_slice(&out.stdout).unwrap();
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:kms:eu-central-1:123456789012:key/"),
        "{arn}"
    );
    let out = aws(&url, "us-west-2", &["kms", "list-keys"], tmp.path());
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(keys["Keys"], json!([]), "another region");
    // Saved states and reset, seen through aws-cli.
    let count = || {
        let out = aws(&url, "eu-central-1", &["kms", "list-keys"], tmp.path());
        let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
        keys["Keys"].as_array().map_or(usize::MAX, Vec::len)
    };
    ebsim.ok(&["state", "save", "one-key"]);
    assert!(
        aws(&url, "eu-central-1", &["kms", "create-key"], tmp.path())
            .status
            .success()
    );
    assert_eq!(count(), 2);
    ebsim.ok(&["state", "restore", "one-key"]);
    assert_eq!(count(), 1, "restored");
    ebsim.ok(&["state", "reset"]);
    assert_eq!(count(), 0, "reset");
    ebsim.ok(&["state", "restore", "one-key"]);
    assert_eq!(count(), 1, "restored after a reset");
    let out = ebsim.output(&["state", "restore", "no-such-state"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NotFoundException"));
    assert_eq!(count(), 1, "a refused restore changes nothing");

    let out = aws(&url, "mars-east-1", &["kms", "list-keys"], tmp.path());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("InvalidSignatureException"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.stop().expect("stopped").success());
}
