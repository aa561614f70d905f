//! aws-cli's `aws iam` and `aws sts` against `ebsim serve` (docs/iam.md): a user with a key
//! and a policy, a role assumed through a real AssumeRole, its session used with and without
//! its token, pagination and errors by code.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;

struct Aws<'a> {
    url: &'a str,
    key: String,
    secret: String,
    token: Option<String>,
}

struct Out {
    code: i32,
    json: Value,
    stderr: String,
}

impl Aws<'_> {
    fn run(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new("aws");
        cmd.args(args)
            .args(["--endpoint-url", self.url, "--output", "json"])
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_DEFAULT_REGION", "us-west-2")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_RETRY_MODE", "standard");
        if let Some(t) = &self.token {
            cmd.env("AWS_SESSION_TOKEN", t);
        }
        let out = cmd
            .output()
            .expect("aws-cli must be installed (.ci/install-deps)");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Out {
            code: out.status.code().unwrap_or(-1),
            json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        assert_eq!(o.code, 0, "aws {args:?} failed: {}", o.stderr);
        o.json
    }

    fn fails(&self, args: &[&str], error_code: &str) {
        let o = self.run(args);
        assert_ne!(o.code, 0, "aws {args:?} unexpectedly succeeded");
        assert!(
            o.stderr.contains(&format!("({error_code})")),
            "aws {args:?}: expected {error_code}, got: {}",
            o.stderr
        );
    }
}

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
