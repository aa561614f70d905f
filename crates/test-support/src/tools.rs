//! The outside tools the `external-tools` tests drive: aws-cli ([`Aws`]) and Python scripts
//! using boto3 ([`python`]), each with a clean AWS environment (no profile, no config or
//! credentials file), pointed at an ebsim endpoint.

use std::ffi::OsStr;
use std::process::{Command, Output};

use serde_json::Value;

/// Keeps the host's AWS configuration files out of a tool's requests.
fn clean_aws_env(cmd: &mut Command) -> &mut Command {
    cmd.env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}

/// aws-cli against an endpoint as one caller (region `us-west-2`).
pub struct Aws<'a> {
    /// The endpoint, `http://127.0.0.1:PORT`.
    pub url: &'a str,
    /// The access key id.
    pub key: String,
    /// The secret access key.
    pub secret: String,
    /// The session token of temporary credentials.
    pub token: Option<String>,
}

/// What one aws-cli command returned.
#[derive(Debug)]
pub struct Out {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// stdout as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// stderr.
    pub stderr: String,
}

impl std::fmt::Debug for Aws<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws")
            .field("url", &self.url)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<'a> Aws<'a> {
    /// A caller with long-term credentials.
    pub fn new(url: &'a str, key: impl Into<String>, secret: impl Into<String>) -> Self {
        Aws {
            url,
            key: key.into(),
            secret: secret.into(),
            token: None,
        }
    }

    /// Runs `aws ARGS --endpoint-url URL --output json`.
    pub fn run(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new("aws");
        clean_aws_env(&mut cmd)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_RETRY_MODE", "standard")
            .args(args)
            .args(["--endpoint-url", self.url, "--output", "json"])
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_DEFAULT_REGION", "us-west-2");
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

    /// Runs a command that must succeed; returns its JSON output.
    pub fn ok(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        assert_eq!(o.code, 0, "aws {args:?} failed: {}", o.stderr);
        o.json
    }

    /// Runs a command that must fail with `error_code`.
    pub fn fails(&self, args: &[&str], error_code: &str) {
        let o = self.run(args);
        assert_ne!(o.code, 0, "aws {args:?} unexpectedly succeeded");
        assert!(
            o.stderr.contains(&format!("({error_code})")),
            "aws {args:?}: expected {error_code}, got: {}",
            o.stderr
        );
    }
}

/// Runs `python3 SCRIPT ARGS…` with a clean AWS environment; the script must succeed and
/// print `ALL OK`. Returns its stdout.
pub fn python(script: &str, args: &[&dyn AsRef<OsStr>]) -> String {
    let out = python_output(script, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `python3 SCRIPT ARGS…` with a clean AWS environment and returns what it did.
pub fn python_output(script: &str, args: &[&dyn AsRef<OsStr>]) -> Output {
    let mut cmd = Command::new("python3");
    clean_aws_env(&mut cmd)
        .arg(script)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("python3 with boto3 must be installed (.ci/install-deps)")
}
