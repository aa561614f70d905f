//! `POST /ebsim/reset` in front of the real KMS on a data dir: signed by the default
//! account's root it answers `{"status":"ok"}` and forgets keys, principals, the clock and
//! the audit trail while the service credential keeps working; an attached volume, an
//! unsigned request or another signer is refused and nothing changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use ebsim_data_dir::{DataDir, ExclusiveLock, read_service_credential};
use ebsim_kms::trust::new_nonce;
use ebsim_kms::{Kms, KmsConfig};
use ebsim_kms_server::{KmsServer, RESET_PATH, ServerConfig, ServerHandle};
use ebsim_test_support::http::{KmsRequest, post};
use serde_json::{Value, json};

const VOL: &str = "vol-0123456789abcdef0";

fn start() -> (tempfile::TempDir, ServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(Kms::open(dir.path(), KmsConfig::default()).unwrap());
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    let handle = KmsServer::bind(kms, config).unwrap().spawn().unwrap();
    (dir, handle)
}

/// A KMS or admin call signed with `test`/`test`: (status, body).
fn call(addr: SocketAddr, target: &str, body: Value) -> (u16, Value) {
    let body = body.to_string();
    let req = KmsRequest::new(target, body.as_bytes());
    let resp = post(addr, &req.signed_headers(addr), body.as_bytes()).unwrap();
    (resp.status, resp.json())
}

fn ok(addr: SocketAddr, target: &str, body: Value) -> Value {
    let (status, out) = call(addr, target, body.clone());
    assert_eq!(status, 200, "{target} {body}: {out}");
    out
}

/// `POST /ebsim/reset` with exactly these headers: (status, body).
fn reset_with(addr: SocketAddr, headers: &[(String, String)]) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut head = format!("POST {RESET_PATH} HTTP/1.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("content-length: 0\r\nconnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The headers of `POST /ebsim/reset` (empty body) signed with `key`/`secret` for KMS in
/// us-west-2, as an SDK or `curl --aws-sigv4 aws:amz:us-west-2:kms` signs it.
fn signed(addr: SocketAddr, key: &str, secret: &str) -> Vec<(String, String)> {
    let mut headers = vec![("host".to_owned(), addr.to_string())];
    let identity = Credentials::new(key, secret, None, None, "test").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-west-2")
        .name("kms")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        RESET_PATH,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    headers.extend(
        instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    headers
}

fn key_count(addr: SocketAddr) -> usize {
    ok(addr, "TrentService.ListKeys", json!({}))["Keys"]
        .as_array()
        .map_or(0, Vec::len)
}

fn principal_count(addr: SocketAddr) -> usize {
    let (status, users) = iam(addr, "test", "test", "ListUsers", &[]);
    assert_eq!(status, 200, "{users:?}");
    users.iter().filter(|(k, _)| k == "UserName").count()
}

/// An IAM action (Query protocol over the wire) signed with `key`/`secret`: the status and
/// the answer's leaf elements (or the error's).
fn iam(
    addr: SocketAddr,
    key: &str,
    secret: &str,
    action: &str,
    params: &[(&str, &str)],
) -> (u16, Vec<(String, String)>) {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action);
    form.append_pair("Version", "2010-05-08");
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let mut req = KmsRequest::new("", body.as_bytes());
    req.key = key;
    req.secret = secret;
    req.service = "iam";
    let resp = req.send(addr);
    let leaves = ebsim_iam::xml::leaves(resp.body.as_bytes()).unwrap_or_default();
    (resp.status, leaves)
}

fn leaf(leaves: &[(String, String)], name: &str) -> String {
    leaves
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A user `name` with an access key, made by the root: (access key id, secret).
fn user(addr: SocketAddr, name: &str) -> (String, String) {
    let (status, out) = iam(addr, "test", "test", "CreateUser", &[("UserName", name)]);
    assert_eq!(status, 200, "{out:?}");
    let (status, key) = iam(
        addr,
        "test",
        "test",
        "CreateAccessKey",
        &[("UserName", name)],
    );
    assert_eq!(status, 200, "{key:?}");
    (leaf(&key, "AccessKeyId"), leaf(&key, "SecretAccessKey"))
}

#[test]
fn a_signed_reset_forgets_everything_but_the_service_credential() {
    let (dir, server) = start();
    let addr = server.addr();
    ok(addr, "TrentService.CreateKey", json!({}));
    ok(addr, "TrentService.CreateKey", json!({}));
    let (akid, secret) = user(addr, "alice");
    ok(addr, "EbsimAdmin.AdvanceClock", json!({"Days": 5}));
    assert_eq!(key_count(addr), 2);
    assert_eq!(principal_count(addr), 1);

    let (status, out) = reset_with(addr, &signed(addr, "test", "test"));
    assert_eq!((status, out), (200, json!({"status": "ok"})));

    let audit = ok(addr, "EbsimAdmin.ReadAudit", json!({}));
    assert_eq!(audit["Records"], json!([]), "the audit trail is empty");
    assert_eq!(key_count(addr), 0);
    assert_eq!(principal_count(addr), 0);
    let clock = ok(addr, "EbsimAdmin.GetClock", json!({}));
    assert_eq!(clock["OffsetSeconds"], json!(0.0));
    // The user's key went with the user.
    let (akid, secret) = (akid.as_str(), secret.as_str());
    let mut req = KmsRequest::new("TrentService.ListKeys", b"{}");
    req.key = akid;
    req.secret = secret;
    let resp = post(addr, &req.signed_headers(addr), b"{}").unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["__type"], json!("UnrecognizedClientException"));

    // The service credential still signs.
    let d = DataDir::new(dir.path());
    let (id, secret) = read_service_credential(&d.service_credential())
        .unwrap()
        .unwrap();
    let nonce = new_nonce(SystemTime::now());
    let mut req = KmsRequest::new("TrentService.CreateKey", b"{}");
    req.key = &id;
    req.secret = &secret;
    req.extra = vec![("x-ebsim-nonce", nonce.as_str())];
    let resp = post(addr, &req.signed_headers(addr), b"{}").unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(key_count(addr), 1);
    server.shutdown().unwrap();
}

#[test]
fn an_attached_volume_refuses_the_reset_and_nothing_is_removed() {
    let (dir, server) = start();
    let addr = server.addr();
    ok(addr, "TrentService.CreateKey", json!({}));
    let d = DataDir::new(dir.path());
    std::fs::create_dir_all(d.volume(VOL)).unwrap();
    std::fs::write(d.volume_data(VOL), b"image").unwrap();
    let attached = ExclusiveLock::try_acquire(&d.volume_lock(VOL)).unwrap();

    let (status, out) = reset_with(addr, &signed(addr, "test", "test"));
    assert_eq!(status, 400);
    assert_eq!(out["__type"], json!("ConflictException"));
    assert_eq!(
        out["message"],
        json!(format!(
            "Volume {VOL} is attached; detach it before a reset."
        ))
    );
    assert_eq!(key_count(addr), 1);
    assert_eq!(std::fs::read(d.volume_data(VOL)).unwrap(), b"image");

    drop(attached);
    let (status, _) = reset_with(addr, &signed(addr, "test", "test"));
    assert_eq!(status, 200);
    assert_eq!(key_count(addr), 0);
    assert!(!d.volumes().exists());
    server.shutdown().unwrap();
}

#[test]
fn an_unsigned_or_non_root_reset_is_refused() {
    let (_dir, server) = start();
    let addr = server.addr();
    ok(addr, "TrentService.CreateKey", json!({}));
    let (akid, secret) = user(addr, "alice");

    let (status, out) = reset_with(addr, &[("host".to_owned(), addr.to_string())]);
    assert_eq!(status, 400);
    assert_eq!(out["__type"], json!("IncompleteSignatureException"));

    let (status, out) = reset_with(addr, &signed(addr, "test", "wrong"));
    assert_eq!(status, 400);
    assert_eq!(out["__type"], json!("InvalidSignatureException"));

    let (akid, secret) = (akid.as_str(), secret.as_str());
    let (status, out) = reset_with(addr, &signed(addr, akid, secret));
    assert_eq!(status, 400);
    assert_eq!(out["__type"], json!("AccessDeniedException"));

    assert_eq!(key_count(addr), 1);
    assert_eq!(principal_count(addr), 1);
    server.shutdown().unwrap();
}
