//! The endpoint in front of the real KMS under each credential mode, and regions: the region
//! of a request is its credential scope's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use ebsim_kms::{Kms, KmsConfig};
use ebsim_kms_server::{CredentialMode, KmsServer, ServerConfig, ServerHandle};
use ebsim_test_support::http::{KmsRequest, post};
use serde_json::{Value, json};

fn start(mode: CredentialMode, config: KmsConfig) -> (tempfile::TempDir, Arc<Kms>, ServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(Kms::open(dir.path(), config).unwrap());
    let server_config = ServerConfig::new("127.0.0.1:0".parse().unwrap()).credentials(mode);
    let handle = KmsServer::bind(kms.clone(), server_config)
        .unwrap()
        .spawn()
        .unwrap();
    (dir, kms, handle)
}

/// `op` signed with `key`/`secret`, scoped to `region`: (status, body).
fn call(
    addr: SocketAddr,
    (key, secret): (&str, &str),
    region: &str,
    op: &str,
    body: &Value,
) -> (u16, Value) {
    let body = serde_json::to_vec(body).unwrap();
    let target = format!("TrentService.{op}");
    let mut req = KmsRequest::new(&target, &body);
    req.key = key;
    req.secret = secret;
    req.region = region;
    let resp = post(addr, &req.signed_headers(addr), &body).unwrap();
    (resp.status, resp.json())
}

fn error_type(v: &Value) -> &str {
    v["__type"].as_str().unwrap_or_default()
}

fn arn_of_new_key(addr: SocketAddr, cred: (&str, &str), region: &str) -> String {
    let (status, out) = call(addr, cred, region, "CreateKey", &json!({}));
    assert_eq!(status, 200, "{out}");
    out["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
}

#[test]
fn default_mode_takes_test_and_issued_keys_only() {
    let (_dir, _kms, server) = start(CredentialMode::Default, KmsConfig::default());
    let addr = server.addr();
    let arn = arn_of_new_key(addr, ("test", "test"), "us-west-2");
    assert!(arn.starts_with("arn:aws:kms:us-west-2:111122223333:key/"));
    let (status, out) = call(
        addr,
        ("testing", "testing"),
        "us-west-2",
        "ListKeys",
        &json!({}),
    );
    assert_eq!(status, 400);
    assert_eq!(error_type(&out), "UnrecognizedClientException");
    let (_, out) = call(addr, ("test", "wrong"), "us-west-2", "ListKeys", &json!({}));
    assert_eq!(error_type(&out), "InvalidSignatureException");
}

#[test]
fn any_as_root_takes_any_key_and_reads_accounts_from_12_digit_ids() {
    let (_dir, kms, server) = start(CredentialMode::AnyAsRoot, KmsConfig::default());
    let addr = server.addr();
    // moto's documented credentials: the default account's root.
    let arn = arn_of_new_key(addr, ("testing", "testing"), "us-east-1");
    assert!(
        arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/"),
        "{arn}"
    );
    // The built-in key with any secret.
    let (status, _) = call(
        addr,
        ("test", "whatever"),
        "us-east-1",
        "ListKeys",
        &json!({}),
    );
    assert_eq!(status, 200);
    // A 12-digit access key id is that account's root.
    let other = arn_of_new_key(addr, ("123456789012", "x"), "us-east-1");
    assert!(
        other.starts_with("arn:aws:kms:us-east-1:123456789012:key/"),
        "{other}"
    );
    let (_, keys) = call(
        addr,
        ("123456789012", "y"),
        "us-east-1",
        "ListKeys",
        &json!({}),
    );
    assert_eq!(keys["Keys"].as_array().map(Vec::len), Some(1), "{keys}");
    // Keys ebsim issued are still verified.
    let root = ebsim_kms::Caller::new("arn:aws:iam::111122223333:root");
    let iam = |action: &str| {
        let req =
            ebsim_iam::QueryRequest::parse(format!("Action={action}&UserName=bob").as_bytes())
                .unwrap();
        let out = kms
            .query(&root, ebsim_iam::QueryService::Iam, &req, "test")
            .unwrap();
        ebsim_iam::xml::leaves(&out).unwrap()
    };
    iam("CreateUser");
    let key = iam("CreateAccessKey");
    let akid = key
        .iter()
        .find(|(k, _)| k == "AccessKeyId")
        .map(|(_, v)| v.as_str())
        .unwrap();
    let (_, out) = call(addr, (akid, "wrong"), "us-east-1", "ListKeys", &json!({}));
    assert_eq!(error_type(&out), "InvalidSignatureException", "{out}");
    // The scope is still checked.
    let (_, out) = call(
        addr,
        ("testing", "testing"),
        "xx-fake-1",
        "ListKeys",
        &json!({}),
    );
    assert_eq!(error_type(&out), "InvalidSignatureException");
    assert_eq!(
        out["message"],
        json!("Credential should be scoped to a valid region.")
    );
}

#[test]
fn strict_refuses_test_and_takes_root_credentials() {
    let (_dir, kms, server) = start(CredentialMode::Strict, KmsConfig::default());
    let addr = server.addr();
    let (status, out) = call(addr, ("test", "test"), "us-west-2", "ListKeys", &json!({}));
    assert_eq!(status, 400);
    assert_eq!(error_type(&out), "UnrecognizedClientException");
    let root = ebsim_kms::Caller::new("arn:aws:iam::111122223333:root");
    let creds = kms
        .admin_json(
            &root,
            "GetRootCredentials",
            json!({"AccountId": "123456789012"}),
        )
        .unwrap();
    let (akid, secret) = (
        creds["AccessKeyId"].as_str().unwrap(),
        creds["SecretAccessKey"].as_str().unwrap(),
    );
    // The same pair on every call.
    let again = kms
        .admin_json(
            &root,
            "GetRootCredentials",
            json!({"AccountId": "123456789012"}),
        )
        .unwrap();
    assert_eq!(again["AccessKeyId"], creds["AccessKeyId"]);
    let arn = arn_of_new_key(addr, (akid, secret), "eu-west-1");
    assert!(
        arn.starts_with("arn:aws:kms:eu-west-1:123456789012:key/"),
        "{arn}"
    );
    let (_, out) = call(addr, (akid, "wrong"), "eu-west-1", "ListKeys", &json!({}));
    assert_eq!(error_type(&out), "InvalidSignatureException");
    let bad = kms.admin_json(&root, "GetRootCredentials", json!({"AccountId": "12"}));
    assert!(bad.is_err());
}

#[test]
fn root_credentials_are_kept_private_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let root = ebsim_kms::Caller::new("arn:aws:iam::111122223333:root");
    let first = {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
        kms.admin_json(&root, "GetRootCredentials", json!({}))
            .unwrap()
    };
    let path = dir.path().join("kms/root-credentials");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
    let second = kms
        .admin_json(&root, "GetRootCredentials", json!({}))
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(first["Arn"], json!("arn:aws:iam::111122223333:root"));
    let akid = first["AccessKeyId"].as_str().unwrap();
    assert_eq!(
        kms.lookup_access_key(akid).map(|c| c.principal),
        Some("arn:aws:iam::111122223333:root".to_owned())
    );
    drop(kms);
    std::fs::write(&path, b"{\"Accounts\": {\"12\": {}}}").unwrap();
    assert!(Kms::open(dir.path(), KmsConfig::default()).is_err());
}

#[test]
fn regions_are_isolated_over_the_wire() {
    let (_dir, _kms, server) = start(CredentialMode::Default, KmsConfig::default());
    let addr = server.addr();
    let root = ("test", "test");
    let arn = arn_of_new_key(addr, root, "ap-southeast-1");
    assert!(arn.starts_with("arn:aws:kms:ap-southeast-1:"), "{arn}");
    let (status, out) = call(
        addr,
        root,
        "us-west-2",
        "DescribeKey",
        &json!({"KeyId": arn}),
    );
    assert_eq!(status, 400);
    assert_eq!(error_type(&out), "NotFoundException", "{out}");
    let (status, out) = call(
        addr,
        root,
        "ap-southeast-1",
        "DescribeKey",
        &json!({"KeyId": arn}),
    );
    assert_eq!(status, 200, "{out}");
}

#[test]
fn a_server_account_other_than_the_default() {
    let config = KmsConfig::default().account("000000000000");
    let (_dir, _kms, server) = start(CredentialMode::AnyAsRoot, config);
    let arn = arn_of_new_key(server.addr(), ("test", "test"), "us-east-1");
    assert!(
        arn.starts_with("arn:aws:kms:us-east-1:000000000000:key/"),
        "{arn}"
    );
}

/// An unsigned `POST path` with an empty body: (status, body).
fn unsigned_post(addr: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[test]
fn any_as_root_takes_unsigned_resets_at_both_paths() {
    let (_dir, _kms, server) = start(CredentialMode::AnyAsRoot, KmsConfig::default());
    let addr = server.addr();
    for path in ["/ebsim/reset", "/moto-api/reset"] {
        arn_of_new_key(addr, ("testing", "testing"), "us-east-1");
        let (status, body) = unsigned_post(addr, path);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"status": "ok"})
        );
        let (_, keys) = call(
            addr,
            ("testing", "testing"),
            "us-east-1",
            "ListKeys",
            &json!({}),
        );
        assert_eq!(keys["Keys"], json!([]), "{path}");
    }
}

#[test]
fn other_modes_refuse_unsigned_resets_and_know_no_moto_path() {
    for mode in [CredentialMode::Default, CredentialMode::Strict] {
        let (_dir, kms, server) = start(mode, KmsConfig::default());
        let addr = server.addr();
        let root = ebsim_kms::Caller::new("arn:aws:iam::111122223333:root");
        kms.call_json(&root, "CreateKey", json!({})).unwrap();
        let (status, body) = unsigned_post(addr, "/ebsim/reset");
        assert_eq!(status, 400, "{mode}: {body}");
        assert!(
            body.contains("MissingAuthenticationToken") || body.contains("IncompleteSignature"),
            "{body}"
        );
        let (status, _) = unsigned_post(addr, "/moto-api/reset");
        assert_ne!(status, 200, "{mode}");
        let keys = kms.call_json(&root, "ListKeys", json!({})).unwrap();
        assert_eq!(
            keys["Keys"].as_array().map(Vec::len),
            Some(1),
            "{mode}: nothing changed"
        );
    }
}
