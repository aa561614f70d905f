//! `ebsim iam …` and `ebsim sts …`, fronts of the IAM and STS actions, on the embedded KMS and
//! through `ebsim serve`: a user with keys, a role assumed by it, the session's credentials
//! signing as the role, a key deleted and refused, and bad names refused with nothing changed
//! (docs/iam.md, "From the command line").

use std::path::Path;

use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn flow(e: &Ebsim, dir: &Path) -> Value {
    let user = json(&e.ok(&["--json", "iam", "create-user", "alice"]));
    assert_eq!(user["arn"], "arn:aws:iam::111122223333:user/alice");
    let akid = user["access_key_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(akid.starts_with("AKIA"), "{user}");
    let second = json(&e.ok(&["--json", "iam", "create-access-key", "alice"]));
    assert_ne!(second["access_key_id"], user["access_key_id"]);
    let third = e.output(&["iam", "create-access-key", "alice"]);
    assert!(!third.status.success());
    assert!(String::from_utf8_lossy(&third.stderr).contains("LimitExceeded"));

    let policy = dir.join("assume.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","kms:ListKeys"],"Resource":"*"}]}"#,
    )
    .expect("write the policy");
    e.ok(&[
        "iam",
        "put-policy",
        "alice",
        policy.to_str().unwrap_or_default(),
    ]);
    let role = json(&e.ok(&[
        "--json",
        "iam",
        "create-role",
        "app",
        "--max-session-duration",
        "7200",
    ]));
    assert_eq!(role["arn"], "arn:aws:iam::111122223333:role/app");
    e.ok(&[
        "iam",
        "put-policy",
        "app",
        policy.to_str().unwrap_or_default(),
    ]);
    let list = json(&e.ok(&["--json", "iam", "list"]));
    let arns: Vec<&str> = list["principals"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["arn"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        arns,
        [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:role/app"
        ]
    );

    // Alice assumes the role (the default trust policy trusts the account; her policy allows it).
    let session = json(&e.ok(&[
        "--json",
        "--as",
        "arn:aws:iam::111122223333:user/alice",
        "sts",
        "assume-role",
        "app",
        "--duration",
        "7200",
    ]));
    assert_eq!(
        session["arn"],
        "arn:aws:sts::111122223333:assumed-role/app/ebsim-cli"
    );
    assert!(
        session["access_key_id"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA"))
    );
    assert!(
        session["session_token"]
            .as_str()
            .is_some_and(|t| t.len() > 40)
    );
    // The root cannot.
    let root_try = e.output(&["sts", "assume-role", "app"]);
    assert!(!root_try.status.success());
    assert!(
        String::from_utf8_lossy(&root_try.stderr)
            .contains("Roles may not be assumed by root accounts")
    );
    let me = json(&e.ok(&["--json", "sts", "get-caller-identity"]));
    assert_eq!(me["arn"], "arn:aws:iam::111122223333:root");

    // Bad names change nothing.
    let bad = e.output(&["iam", "create-user", "bad/name"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ValidationError"));
    assert_eq!(json(&e.ok(&["--json", "iam", "list"])), list);

    e.ok(&["iam", "delete-access-key", &akid]);
    let gone = e.output(&["iam", "delete-access-key", &akid]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NoSuchEntity"));
    e.ok(&["iam", "delete-user", "alice"]);
    let list = json(&e.ok(&["--json", "iam", "list"]));
    assert_eq!(
        list["principals"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    session
}

#[test]
fn iam_and_sts_commands_on_the_embedded_kms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir.path().join("data"));
    flow(&e, dir.path());
}

#[test]
fn iam_and_sts_commands_through_ebsim_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir.path().join("data"));
    let server = e.serve(&["serve", "--listen", "127.0.0.1:0"]);
    let session = flow(&e, dir.path());
    // The session's credentials sign as the role against the server; without the token they
    // are refused.
    let field = |k: &str| session[k].as_str().unwrap_or_default().to_owned();
    let signed = |token: Option<&str>| {
        let mut c = e.command(&["--json", "key", "list"]);
        c.env("AWS_ACCESS_KEY_ID", field("access_key_id"))
            .env("AWS_SECRET_ACCESS_KEY", field("secret_access_key"))
            .env_remove("AWS_SESSION_TOKEN");
        if let Some(t) = token {
            c.env("AWS_SESSION_TOKEN", t);
        }
        c.output().expect("run ebsim")
    };
    let token = field("session_token");
    let out = signed(Some(&token));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = signed(None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("UnrecognizedClientException"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.stop().expect("server stopped").success());
}
