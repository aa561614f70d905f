//! aws-cli's `aws iam` and `aws sts` against `ebsim serve` (docs/iam.md): a user with a key
//! and a policy, a role assumed through a real AssumeRole, its session used with and without
//! its token, pagination and errors by code.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools::Aws;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

#[test]
fn aws_cli_iam_and_sts_against_ebsim_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(tmp.path().join("data"));
    let server = ebsim.serve(&["serve", "--listen", "127.0.0.1:0"]);
    let url = server.url();
    let root = Aws {
        url: &url,
        key: "test".into(),
        secret: "test".into(),
        token: None,
    };
    let me = root.ok(&["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], "arn:aws:iam::111122223333:root");

    let user = root.ok(&["iam", "create-user", "--user-name", "dave"]);
    let user_arn = s(&user["User"]["Arn"]);
    let key = root.ok(&["iam", "create-access-key", "--user-name", "dave"]);
    let dave = Aws {
        url: &url,
        key: s(&key["AccessKey"]["AccessKeyId"]),
        secret: s(&key["AccessKey"]["SecretAccessKey"]),
        token: None,
    };
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    root.ok(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "dave",
        "--policy-name",
        "assume",
        "--policy-document",
        policy,
    ]);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = root.ok(&[
        "iam",
        "create-role",
        "--role-name",
        "ops",
        "--assume-role-policy-document",
        &trust,
    ]);
    let role_arn = s(&role["Role"]["Arn"]);
    // The trust policy names dave, not the root.
    root.fails(
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn,
            "--role-session-name",
            "cli",
        ],
        "AccessDenied",
    );
    let assumed = dave.ok(&[
        "sts",
        "assume-role",
        "--role-arn",
        &role_arn,
        "--role-session-name",
        "cli",
        "--duration-seconds",
        "900",
    ]);
    let c = &assumed["Credentials"];
    let session = Aws {
        url: &url,
        key: s(&c["AccessKeyId"]),
        secret: s(&c["SecretAccessKey"]),
        token: Some(s(&c["SessionToken"])),
    };
    let who = session.ok(&["sts", "get-caller-identity"]);
    assert_eq!(who["Arn"], "arn:aws:sts::111122223333:assumed-role/ops/cli");
    // The role has no policy: its session may list no keys.
    session.fails(&["kms", "list-keys"], "AccessDeniedException");
    let bare = Aws {
        token: None,
        ..session
    };
    bare.fails(&["sts", "get-caller-identity"], "InvalidClientTokenId");
    bare.fails(&["kms", "list-keys"], "UnrecognizedClientException");
    dave.fails(
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn,
            "--role-session-name",
            "cli",
            "--duration-seconds",
            "3601",
        ],
        "ValidationError",
    );

    // Pagination: aws-cli follows the markers to the end.
    for i in 0..5 {
        root.ok(&["iam", "create-user", "--user-name", &format!("p{i}")]);
    }
    let all = root.ok(&["iam", "list-users", "--page-size", "2"]);
    assert_eq!(all["Users"].as_array().unwrap().len(), 6, "{all}");
    let first = root.ok(&["iam", "list-users", "--max-items", "2"]);
    assert!(first["NextToken"].is_string(), "{first}");
    root.fails(
        &["iam", "get-user", "--user-name", "nobody"],
        "NoSuchEntity",
    );
    root.fails(
        &["iam", "create-user", "--user-name", "bad/name"],
        "ValidationError",
    );
    root.fails(
        &["iam", "delete-user", "--user-name", "dave"],
        "DeleteConflict",
    );
    assert!(server.stop().expect("server stopped").success());
}
