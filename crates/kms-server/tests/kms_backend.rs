//! The endpoint in front of the real KMS: bad input (not JSON, wrong types, missing members,
//! unknown operations, oversized bodies) gets an AWS-shaped error and changes nothing; the
//! admin API is for the account root only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use ebsim_kms::{Kms, KmsConfig};
use ebsim_kms_server::{KmsServer, ServerConfig, ServerHandle};
use ebsim_test_support::http::{KmsRequest, post as send};
use serde_json::{Value, json};

fn start() -> (tempfile::TempDir, ServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(Kms::open(dir.path(), KmsConfig::default()).unwrap());
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap()).max_body_bytes(64 * 1024);
    let handle = KmsServer::bind(kms, config).unwrap().spawn().unwrap();
    (dir, handle)
}

fn post(addr: SocketAddr, target: &str, body: &[u8], key: &str, secret: &str) -> (u16, Value) {
    try_post(addr, target, body, key, secret).unwrap_or_else(|e| panic!("{e}"))
}

/// As `post`, but a transport failure (e.g. the server closing an oversized upload) is an
/// `Err` instead of a panic.
fn try_post(
    addr: SocketAddr,
    target: &str,
    body: &[u8],
    key: &str,
    secret: &str,
) -> Result<(u16, Value), std::io::Error> {
    let mut req = KmsRequest::new(target, body);
    req.key = key;
    req.secret = secret;
    let resp = send(addr, &req.signed_headers(addr), body)?;
    Ok((resp.status, resp.json()))
}

fn root(addr: SocketAddr, op: &str, body: &[u8]) -> (u16, Value) {
    post(addr, &format!("TrentService.{op}"), body, "test", "test")
}

fn state(addr: SocketAddr) -> (Value, Value) {
    let (_, keys) = root(addr, "ListKeys", b"{}");
    let (_, aliases) = root(addr, "ListAliases", b"{}");
    (keys, aliases)
}

#[test]
fn bad_input_gets_aws_errors_and_changes_nothing() {
    let (_dir, server) = start();
    let addr = server.addr();
    let (status, created) = root(addr, "CreateKey", b"{}");
    assert_eq!(status, 200, "{created}");
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let before = state(addr);

    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "CreateKey",
            b"not json".to_vec(),
            &["SerializationException"],
        ),
        (
            "CreateKey",
            b"[1,2]".to_vec(),
            &["SerializationException", "ValidationException"],
        ),
        (
            "CreateKey",
            br#"{"Description": 5}"#.to_vec(),
            &["SerializationException", "ValidationException"],
        ),
        (
            "CreateKey",
            br#"{"KeySpec": "NOT_A_SPEC"}"#.to_vec(),
            &["ValidationException"],
        ),
        (
            "CreateAlias",
            br#"{"AliasName": "alias/x"}"#.to_vec(),
            &["ValidationException"],
        ),
        (
            "CreateAlias",
            format!(r#"{{"AliasName": "no-prefix", "TargetKeyId": "{key_id}"}}"#).into_bytes(),
            &["ValidationException"],
        ),
        (
            "CreateAlias",
            format!(r#"{{"AliasName": "alias/bad name!", "TargetKeyId": "{key_id}"}}"#)
                .into_bytes(),
            &["ValidationException"],
        ),
        (
            "ScheduleKeyDeletion",
            format!(r#"{{"KeyId": "{key_id}", "PendingWindowInDays": 3}}"#).into_bytes(),
            &["ValidationException"],
        ),
        (
            "ScheduleKeyDeletion",
            format!(r#"{{"KeyId": "{key_id}", "PendingWindowInDays": "7"}}"#).into_bytes(),
            &["SerializationException", "ValidationException"],
        ),
        (
            "GenerateDataKey",
            format!(r#"{{"KeyId": "{key_id}", "NumberOfBytes": 1025}}"#).into_bytes(),
            &["ValidationException"],
        ),
        (
            "GenerateDataKey",
            format!(r#"{{"KeyId": "{key_id}", "NumberOfBytes": 32, "KeySpec": "AES_256"}}"#)
                .into_bytes(),
            &["ValidationException"],
        ),
        (
            "Encrypt",
            format!(r#"{{"KeyId": "{key_id}", "Plaintext": "not base64!"}}"#).into_bytes(),
            &["SerializationException", "ValidationException"],
        ),
        (
            "Decrypt",
            br#"{"CiphertextBlob": "AAAA"}"#.to_vec(),
            &["InvalidCiphertextException"],
        ),
        ("DisableKey", b"{}".to_vec(), &["ValidationException"]),
        (
            "TotallyUnknown",
            b"{}".to_vec(),
            &["UnknownOperationException"],
        ),
    ];
    for (op, body, expected) in &cases {
        let (status, err) = root(addr, op, body);
        assert_eq!(status, 400, "{op} {}: {err}", String::from_utf8_lossy(body));
        let t = err["__type"].as_str().unwrap_or_default();
        assert!(
            expected.contains(&t),
            "{op} {}: got {err}",
            String::from_utf8_lossy(body)
        );
    }
    let big = format!(r#"{{"Description": "{}"}}"#, "x".repeat(100 * 1024));
    // Refused before it is read: a 413, or the connection closed under the upload.
    match try_post(
        addr,
        "TrentService.CreateKey",
        big.as_bytes(),
        "test",
        "test",
    ) {
        Ok((status, err)) => assert_eq!(status, 413, "{err}"),
        Err(_closed) => {}
    }
    assert_eq!(
        state(addr),
        before,
        "no bad request changed the key or alias lists"
    );
    let (_, d) = root(
        addr,
        "DescribeKey",
        format!(r#"{{"KeyId": "{key_id}"}}"#).as_bytes(),
    );
    assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
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
fn admin_is_root_only() {
    let (_dir, server) = start();
    let addr = server.addr();
    let (key, secret) = user(addr, "eve");
    let (key, secret) = (key.as_str(), secret.as_str());
    let (status, err) = post(addr, "EbsimAdmin.GetClock", b"{}", key, secret);
    assert_eq!(status, 400);
    assert_eq!(err["__type"], "AccessDeniedException", "{err}");
    assert!(
        err.get("Message").is_some(),
        "AccessDenied uses Message: {err}"
    );
    // IAM principals are made with IAM actions only.
    for op in [
        "CreateUser",
        "CreateRole",
        "PutPrincipalPolicy",
        "ListPrincipals",
    ] {
        let (status, err) = post(
            addr,
            &format!("EbsimAdmin.{op}"),
            br#"{"UserName": "mallory", "RoleName": "mallory"}"#,
            "test",
            "test",
        );
        assert_eq!(status, 400, "{op}");
        assert_eq!(err["__type"], "UnknownOperationException", "{op}: {err}");
    }
    let (_, listed) = iam(addr, "test", "test", "ListUsers", &[]);
    assert!(!listed.iter().any(|(_, v)| v == "mallory"), "{listed:?}");
    let (status, err) = post(addr, "EbsimAdmin.NoSuchAdminOp", b"{}", "test", "test");
    assert_eq!(status, 400);
    assert_eq!(err["__type"], "UnknownOperationException", "{err}");
}

/// A latency fault holds its calls on the blocking pool: with more delayed calls in flight
/// than the runtime has workers, an undelayed call still completes first.
#[test]
fn a_delayed_call_never_stalls_another() {
    let (_dir, server) = start();
    let addr = server.addr();
    let (status, key) = post(addr, "TrentService.CreateKey", b"{}", "test", "test");
    assert_eq!(status, 200);
    let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let fault = json!({"Operation": "DescribeKey", "Kind": "latency", "LatencyMs": 1500});
    let (status, body) = post(
        addr,
        "EbsimAdmin.SetFault",
        fault.to_string().as_bytes(),
        "test",
        "test",
    );
    assert_eq!(status, 200, "{body}");
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let delayed: Vec<_> = (0..workers + 2)
        .map(|_| {
            let order = order.clone();
            let body = json!({"KeyId": key_id}).to_string();
            std::thread::spawn(move || {
                let (status, _) = post(
                    addr,
                    "TrentService.DescribeKey",
                    body.as_bytes(),
                    "test",
                    "test",
                );
                order.lock().unwrap().push(("DescribeKey", status));
            })
        })
        .collect();
    // Let the delayed calls reach the server first.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (status, _) = post(addr, "TrentService.ListKeys", b"{}", "test", "test");
    order.lock().unwrap().push(("ListKeys", status));
    for t in delayed {
        t.join().unwrap();
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(order.first(), Some(&("ListKeys", 200)), "{order:?}");
    assert_eq!(order.len(), workers + 3);
    assert!(order.iter().all(|(_, s)| *s == 200), "{order:?}");
}
