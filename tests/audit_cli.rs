//! `ebsim audit` and the audit trail's bounds, end to end with the built binary: a server with
//! a small `--audit-max-size` keeps its trail within it, warns on stderr when the oldest
//! records are dropped, and `ebsim audit` says how many, in its text output and, with
//! `--json`, on stderr only (every stdout line stays a JSON record).

use std::net::SocketAddr;
use std::path::Path;

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::http::{KmsRequest, post};
use ebsim_test_support::process::Server;
use serde_json::{Value, json};

fn ebsim(dir: &Path) -> Ebsim {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir)
}

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// A KMS call over HTTP signed with `test`/`test`; returns the status.
fn kms_call(addr: SocketAddr, op: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let target = format!("TrentService.{op}");
    let req = KmsRequest::new(&target, body.as_bytes());
    post(addr, &req.signed_headers(addr), body.as_bytes())
        .unwrap_or_else(|e| panic!("{op}: {e}"))
        .status
}

fn trail_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("audit"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("kms-audit.jsonl")
                })
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn a_bounded_trail_drops_the_oldest_records_and_says_so() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let e = ebsim(tmp.path());
    assert!(
        !e.output(&["kms", "serve", "--audit-max-size", "1KiB"])
            .status
            .success(),
        "a trail below 64 KiB is refused"
    );
    let mut cmd = e.command(&[
        "kms",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--audit-max-size",
        "64KiB",
    ]);
    cmd.stderr(std::process::Stdio::piped());
    let server = Server::start(cmd);
    let addr = addr_of(&server.url());
    let huge = "k".repeat(512 * 1024);
    for i in 0..300 {
        let status = if i % 2 == 0 {
            kms_call(addr, "ListKeys", &json!({}))
        } else {
            kms_call(addr, "DescribeKey", &json!({"KeyId": huge}))
        };
        assert!(status == 200 || status == 400, "call {i}: {status}");
    }
    let text = e.ok(&["audit"]);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("note: ") && first.contains("dropped from the on-disk trail"),
        "{first}"
    );
    let out = e.output(&["--json", "audit"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.lines().count() > 0);
    for l in stdout.lines() {
        let r: Value = serde_json::from_str(l).unwrap_or_else(|err| panic!("{err}: {l}"));
        assert!(r["eventName"].is_string(), "{l}");
        assert!(l.len() < 8 * 1024, "a record of {} bytes", l.len());
    }
    assert!(
        stderr.contains("dropped from the on-disk trail"),
        "{stderr}"
    );
    let (_, server_log) = server.stop_with_stderr();
    assert!(
        server_log.contains("the oldest records left the on-disk trail"),
        "{server_log}"
    );
    assert!(
        trail_bytes(tmp.path()) <= 64 * 1024 + 8 * 1024,
        "{} bytes on disk",
        trail_bytes(tmp.path())
    );
    // Embedded, once the server is gone: the rotated files are read too, and the count of
    // dropped records is kept on disk.
    let text = e.ok(&["audit"]);
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("dropped from the on-disk trail")),
        "{text:.200}"
    );
    assert!(text.lines().count() > 20, "{} lines", text.lines().count());
}
