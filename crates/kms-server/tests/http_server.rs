//! The HTTP layer against a recording backend: signed requests reach the backend as the
//! signer; everything refused before the backend (authentication, bad targets, oversized or
//! slow requests) never reaches it; errors are AWS-shaped; many clients at once; graceful
//! shutdown finishes in-flight requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ebsim_kms::trust::{endpoint_proof, new_challenge, new_nonce};
use ebsim_kms::{Caller, ErrorType, KmsError};
use ebsim_kms_server::{
    Backend, KmsServer, ServerConfig, ServerCredential, ServerError, ServerHandle,
};
use ebsim_test_support::http::{KmsRequest as Req, Response, get, post};
use zeroize::Zeroizing;

#[derive(Debug, Default)]
struct Recorder {
    calls: Mutex<Vec<(Caller, String, Vec<u8>)>>,
}

impl Recorder {
    fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl Backend for Recorder {
    fn call(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        self.calls
            .lock()
            .unwrap()
            .push((caller.clone(), operation.to_owned(), body.to_vec()));
        match operation {
            "Slow" => {
                std::thread::sleep(Duration::from_millis(400));
                Ok(b"{\"Slow\":true}".to_vec())
            }
            op if op.starts_with("Fail") => {
                let t = ErrorType::from_name(&op[4..]).unwrap();
                Err(KmsError::new(t, "failure message"))
            }
            _ => Ok(serde_json::to_vec(&serde_json::json!({
                "Operation": operation,
                "Principal": caller.principal,
                "ViaService": caller.via_service,
                "BodyLen": body.len(),
            }))
            .unwrap()),
        }
    }

    fn admin(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        self.call(caller, &format!("admin:{operation}"), body)
    }

    fn lookup_access_key(&self, access_key_id: &str) -> Option<ServerCredential> {
        let (principal, secret, is_service) = match access_key_id {
            "test" => ("arn:aws:iam::111122223333:root", "test", false),
            "svc" => (
                "arn:aws:iam::111122223333:role/ebsim-service",
                "svc-secret",
                true,
            ),
            "alice" => (
                "arn:aws:iam::111122223333:user/alice",
                "alice-secret",
                false,
            ),
            _ => return None,
        };
        Some(ServerCredential {
            principal: principal.to_owned(),
            secret: Zeroizing::new(secret.to_owned()),
            is_service,
        })
    }

    fn service_access_key_id(&self) -> Option<String> {
        Some("svc".to_owned())
    }
}

fn start(config: ServerConfig) -> (Arc<Recorder>, ServerHandle) {
    let rec = Arc::new(Recorder::default());
    let server = KmsServer::bind(rec.clone(), config).unwrap();
    (rec, server.spawn().unwrap())
}

fn default_config() -> ServerConfig {
    ServerConfig::new("127.0.0.1:0".parse().unwrap())
}

/// Signed with the service credential, with a fresh nonce in `nonce`.
fn service_req<'a>(target: &'a str, body: &'a [u8], nonce: &'a mut String) -> Req<'a> {
    *nonce = new_nonce(SystemTime::now());
    let mut r = Req::new(target, body);
    r.key = "svc";
    r.secret = "svc-secret";
    r.extra = vec![("x-ebsim-nonce", nonce.as_str())];
    r
}

/// Sends a request signed like an AWS SDK does; returns (status, response).
fn send(addr: SocketAddr, r: &Req<'_>, sign_it: bool) -> (u16, Response) {
    let headers = request_headers(addr, r, sign_it);
    send_headers(addr, &headers, r.body)
}

/// Sends a POST with exactly these headers (e.g. a captured request, replayed).
fn send_headers(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> (u16, Response) {
    let resp = post(addr, headers, body).unwrap_or_else(|e| panic!("transport error: {e}"));
    (resp.status, resp)
}

/// The headers of a request, signed (over every header it carries) when `sign_it`.
fn request_headers(addr: SocketAddr, r: &Req<'_>, sign_it: bool) -> Vec<(String, String)> {
    if sign_it {
        r.signed_headers(addr)
    } else {
        r.headers(addr)
    }
}

fn json(resp: Response) -> serde_json::Value {
    resp.json()
}

#[test]
fn signed_request_reaches_backend_as_signer() {
    let (rec, server) = start(default_config());
    let (status, resp) = send(
        server.addr(),
        &Req::new("TrentService.ListKeys", b"{}"),
        true,
    );
    assert_eq!(status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    let rid = resp.header("x-amzn-requestid").unwrap().to_owned();
    assert_eq!(rid.len(), 36);
    assert_eq!(rid.as_bytes()[14], b'4', "UUID v4: {rid}");
    let body = json(resp);
    assert_eq!(body["Operation"], "ListKeys");
    assert_eq!(body["Principal"], "arn:aws:iam::111122223333:root");
    assert_eq!(body["ViaService"], serde_json::Value::Null);
    let mut r = Req::new("TrentService.Decrypt", b"{\"CiphertextBlob\":\"AAAA\"}");
    r.key = "alice";
    r.secret = "alice-secret";
    let (status, resp) = send(server.addr(), &r, true);
    assert_eq!(status, 200);
    assert_eq!(
        json(resp)["Principal"],
        "arn:aws:iam::111122223333:user/alice"
    );
    assert_eq!(rec.count(), 2);
}

#[test]
fn kms_errors_are_aws_shaped() {
    let (_rec, server) = start(default_config());
    let (status, resp) = send(
        server.addr(),
        &Req::new("TrentService.FailAccessDeniedException", b"{}"),
        true,
    );
    assert_eq!(status, 400);
    assert!(resp.header("x-amzn-requestid").is_some());
    assert_eq!(
        json(resp),
        serde_json::json!({"__type": "AccessDeniedException", "Message": "failure message"})
    );
    let (status, resp) = send(
        server.addr(),
        &Req::new("TrentService.FailInvalidCiphertextException", b"{}"),
        true,
    );
    assert_eq!(status, 400);
    assert_eq!(
        json(resp),
        serde_json::json!({"__type": "InvalidCiphertextException"})
    );
    let (status, resp) = send(
        server.addr(),
        &Req::new("TrentService.FailNotFoundException", b"{}"),
        true,
    );
    assert_eq!(status, 400);
    assert_eq!(
        json(resp),
        serde_json::json!({"__type": "NotFoundException", "message": "failure message"})
    );
    let (status, resp) = send(
        server.addr(),
        &Req::new("TrentService.FailKMSInternalException", b"{}"),
        true,
    );
    assert_eq!(status, 500);
    assert_eq!(json(resp)["__type"], "KMSInternalException");
}

#[test]
fn authentication_failures_never_reach_backend() {
    let (rec, server) = start(default_config());
    let addr = server.addr();
    let (status, resp) = send(addr, &Req::new("TrentService.ListKeys", b"{}"), false);
    assert_eq!(status, 400);
    assert_eq!(json(resp)["__type"], "IncompleteSignatureException");

    let mut r = Req::new("TrentService.ListKeys", b"{}");
    r.key = "nobody";
    let (status, resp) = send(addr, &r, true);
    assert_eq!(status, 400);
    assert_eq!(json(resp)["__type"], "UnrecognizedClientException");

    let mut r = Req::new("TrentService.ListKeys", b"{}");
    r.secret = "wrong";
    let (_, resp) = send(addr, &r, true);
    assert_eq!(json(resp)["__type"], "InvalidSignatureException");

    let mut r = Req::new("TrentService.ListKeys", b"{}");
    r.time = SystemTime::now() - Duration::from_secs(20 * 60);
    let (_, resp) = send(addr, &r, true);
    let body = json(resp);
    assert_eq!(body["__type"], "InvalidSignatureException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired"),
        "{body}"
    );

    let mut r = Req::new("TrentService.ListKeys", b"{}");
    r.service = "s3";
    let (_, resp) = send(addr, &r, true);
    assert_eq!(json(resp)["__type"], "InvalidSignatureException");

    // A signature over a different body.
    let signed = Req::new("TrentService.ListKeys", b"{}").signed_headers(addr);
    let (status, resp) = send_headers(addr, &signed, b"{\"Limit\":1}");
    assert_eq!(status, 400);
    assert_eq!(json(resp)["__type"], "InvalidSignatureException");
    assert_eq!(rec.count(), 0, "nothing reached the backend");
}

#[test]
fn acting_for_others_needs_the_service_credential() {
    let (rec, server) = start(default_config());
    let addr = server.addr();
    let mut r = Req::new("TrentService.Decrypt", b"{}");
    r.extra = vec![("x-ebsim-principal", "arn:aws:iam::111122223333:user/alice")];
    let (status, resp) = send(addr, &r, true);
    assert_eq!(status, 400);
    assert_eq!(json(resp)["__type"], "AccessDeniedException");
    let mut r = Req::new("TrentService.Decrypt", b"{}");
    r.key = "alice";
    r.secret = "alice-secret";
    r.extra = vec![("x-ebsim-via-service", "ec2.us-west-2.amazonaws.com")];
    let (_, resp) = send(addr, &r, true);
    assert_eq!(json(resp)["__type"], "AccessDeniedException");
    assert_eq!(rec.count(), 0);

    let mut nonce = String::new();
    let mut r = service_req(
        "TrentService.GenerateDataKeyWithoutPlaintext",
        b"{}",
        &mut nonce,
    );
    r.extra.extend([
        ("x-ebsim-principal", "arn:aws:iam::111122223333:user/alice"),
        ("x-ebsim-via-service", "ec2.us-west-2.amazonaws.com"),
    ]);
    let (status, resp) = send(addr, &r, true);
    assert_eq!(status, 200);
    let body = json(resp);
    assert_eq!(body["Principal"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(body["ViaService"], "ec2.us-west-2.amazonaws.com");
    let mut nonce = String::new();
    let mut r = service_req("TrentService.Decrypt", b"{}", &mut nonce);
    r.extra.push((
        "x-ebsim-principal",
        "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-0123",
    ));
    let body = json(send(addr, &r, true).1);
    assert_eq!(
        body["Principal"],
        "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-0123"
    );
    assert_eq!(body["ViaService"], serde_json::Value::Null);
}

#[test]
fn targets_and_admin() {
    let (rec, server) = start(default_config());
    let addr = server.addr();
    for target in [
        "",
        "TrentService",
        "Other.ListKeys",
        "trentservice.ListKeys",
    ] {
        let (status, resp) = send(addr, &Req::new(target, b"{}"), true);
        assert_eq!(status, 400, "{target}");
        assert_eq!(
            json(resp)["__type"],
            "UnknownOperationException",
            "{target}"
        );
    }
    assert_eq!(rec.count(), 0);
    let (status, resp) = send(addr, &Req::new("EbsimAdmin.GetClock", b"{}"), true);
    assert_eq!(status, 200);
    assert_eq!(json(resp)["Operation"], "admin:GetClock");
    // GET / is not an operation; the ping path answers.
    let resp = get(addr, "/ebsim/ping").unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, "ebsim-kms");
}

#[test]
fn oversized_body_is_refused_unread() {
    let (rec, server) = start(default_config().max_body_bytes(1024));
    let big = vec![b' '; 4096];
    let (status, resp) = send(
        server.addr(),
        &Req::new("TrentService.ListKeys", &big),
        true,
    );
    assert_eq!(status, 413);
    assert_eq!(json(resp)["__type"], "RequestEntityTooLargeException");
    // Chunked (no Content-Length) is cut off at the limit too.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 2048, " ".repeat(2048));
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: TrentService.ListKeys\r\nTransfer-Encoding: chunked\r\n\r\n",
        server.addr()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(chunk.as_bytes());
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    assert!(buf.starts_with("HTTP/1.1 413"), "{buf}");
    assert_eq!(rec.count(), 0);
}

fn closed_within(mut s: TcpStream, limit: Duration) -> (bool, String) {
    s.set_read_timeout(Some(limit)).unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let r = s.read_to_end(&mut buf);
    (
        r.is_ok() && start.elapsed() < limit,
        String::from_utf8_lossy(&buf).into_owned(),
    )
}

#[test]
fn slow_and_half_open_connections_are_closed() {
    let config = default_config().timeouts(Duration::from_millis(300), Duration::from_millis(300));
    let (rec, server) = start(config);
    let addr = server.addr();
    // Idle connection: closed after the header timeout.
    let idle = TcpStream::connect(addr).unwrap();
    // Half a request head.
    let mut partial = TcpStream::connect(addr).unwrap();
    partial
        .write_all(format!("POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Ta").as_bytes())
        .unwrap();
    // A complete head and a body that never arrives.
    let mut body = TcpStream::connect(addr).unwrap();
    body.write_all(format!("POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 100\r\n\r\n{{\"a\"").as_bytes()).unwrap();
    let (closed, _) = closed_within(idle, Duration::from_secs(5));
    assert!(closed, "idle connection closed");
    let (closed, _) = closed_within(partial, Duration::from_secs(5));
    assert!(closed, "slow header connection closed");
    let (closed, text) = closed_within(body, Duration::from_secs(5));
    assert!(closed, "slow body connection closed");
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    // Garbage instead of HTTP.
    let mut junk = TcpStream::connect(addr).unwrap();
    junk.write_all(b"\x16\x03\x01\x00\xa5garbage\r\n\r\n")
        .unwrap();
    let (closed, text) = closed_within(junk, Duration::from_secs(5));
    assert!(closed);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 400"),
        "{text}"
    );
    assert_eq!(rec.count(), 0);
    // The server still serves.
    let (status, _) = send(addr, &Req::new("TrentService.ListKeys", b"{}"), true);
    assert_eq!(status, 200);
}

#[test]
fn many_clients_at_once() {
    let (rec, server) = start(default_config());
    let addr = server.addr();
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(move || {
                for _ in 0..25 {
                    let (status, _) = send(addr, &Req::new("TrentService.Encrypt", b"{}"), true);
                    assert_eq!(status, 200);
                }
            });
        }
    });
    assert_eq!(rec.count(), 400);
}

#[test]
fn shutdown_finishes_in_flight_requests() {
    let (rec, server) = start(default_config());
    let addr = server.addr();
    let inflight =
        std::thread::spawn(move || send(addr, &Req::new("TrentService.Slow", b"{}"), true).0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while rec.count() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.shutdown().unwrap();
    assert_eq!(inflight.join().unwrap(), 200);
    assert!(
        TcpStream::connect(addr).is_err(),
        "listener closed after shutdown"
    );
}

#[test]
fn non_loopback_needs_allow_remote() {
    let err = KmsServer::bind(
        Arc::new(Recorder::default()),
        ServerConfig::new("0.0.0.0:0".parse().unwrap()),
    )
    .unwrap_err();
    assert!(matches!(err, ServerError::NotLoopback(_)));
    assert!(err.to_string().contains("--allow-remote"));
    let ok = KmsServer::bind(
        Arc::new(Recorder::default()),
        ServerConfig::new("0.0.0.0:0".parse().unwrap()).allow_remote(true),
    );
    assert!(ok.is_ok());
}

#[test]
fn a_host_naming_another_endpoint_is_refused() {
    let (rec, server) = start(default_config());
    let addr = server.addr();
    let other_port = format!("127.0.0.1:{}", addr.port().wrapping_add(1).max(1));
    for host in [
        "evil.example",
        "evil.example:4599",
        other_port.as_str(),
        "kms.us-west-2.amazonaws.com",
    ] {
        let mut r = Req::new("TrentService.ListKeys", b"{}");
        r.host = Some(host.to_owned());
        let (status, resp) = send(addr, &r, true);
        assert_eq!(status, 421, "{host}");
        assert_eq!(json(resp)["__type"], "MisdirectedRequestException");
        // The ping too: a proof is never given for a name that is not this server's.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(format!("GET /ebsim/ping HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        assert!(buf.starts_with("HTTP/1.1 421"), "{buf}");
    }
    assert_eq!(rec.count(), 0);
    // What aws-cli sends for --endpoint-url http://localhost:PORT is accepted.
    let localhost = format!("localhost:{}", addr.port());
    let mut r = Req::new("TrentService.ListKeys", b"{}");
    r.host = Some(localhost);
    assert_eq!(send(addr, &r, true).0, 200);
}

#[test]
fn the_ping_proves_the_service_credential_for_the_host_asked() {
    let (_rec, server) = start(default_config());
    let addr = server.addr();
    let c = new_challenge();
    let resp = get(addr, &format!("/ebsim/ping?challenge={}", hex::encode(c))).unwrap();
    let proof = resp.header("x-ebsim-proof").unwrap().to_owned();
    assert_eq!(resp.body, "ebsim-kms");
    assert_eq!(
        proof,
        hex::encode(endpoint_proof(b"svc-secret", &addr.to_string(), &c))
    );
    // Without a challenge: the plain liveness answer, no proof.
    let resp = get(addr, "/ebsim/ping").unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.header("x-ebsim-proof").is_none());
    let resp = get(addr, "/ebsim/ping?challenge=zz").unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(json(resp)["__type"], "ValidationException");
}

#[test]
fn service_requests_need_a_fresh_signed_nonce() {
    let (rec, server) = start(default_config());
    let addr = server.addr();
    let refused = |(status, resp): (u16, Response), why: &str| {
        assert_eq!(status, 400, "{why}");
        let body = json(resp);
        assert_eq!(body["__type"], "InvalidSignatureException", "{why}");
        body["message"].as_str().unwrap().to_owned()
    };
    // No nonce.
    let mut r = Req::new("TrentService.Decrypt", b"{}");
    r.key = "svc";
    r.secret = "svc-secret";
    let m = refused(send(addr, &r, true), "no nonce");
    assert!(m.contains("x-ebsim-nonce"), "{m}");
    // A nonce outside the signature.
    let mut headers = request_headers(addr, &r, true);
    headers.push(("x-ebsim-nonce".into(), new_nonce(SystemTime::now())));
    refused(send_headers(addr, &headers, b"{}"), "unsigned nonce");
    assert_eq!(rec.count(), 0);
    // A signed fresh nonce passes once; the same request again is a replay.
    let mut nonce = String::new();
    let r = service_req("TrentService.Decrypt", b"{}", &mut nonce);
    let captured = request_headers(addr, &r, true);
    assert_eq!(send_headers(addr, &captured, b"{}").0, 200);
    let m = refused(send_headers(addr, &captured, b"{}"), "replay");
    assert!(m.contains("already used"), "{m}");
    assert_eq!(rec.count(), 1);
    // Other credentials carry no nonce and are unaffected.
    let plain = request_headers(addr, &Req::new("TrentService.Decrypt", b"{}"), true);
    assert_eq!(send_headers(addr, &plain, b"{}").0, 200);
    assert_eq!(send_headers(addr, &plain, b"{}").0, 200);
    assert_eq!(rec.count(), 3);
}

#[test]
fn a_restarted_server_refuses_requests_captured_before_it_started() {
    let (rec, server) = start(default_config());
    let addr = server.addr();
    let mut nonce = String::new();
    let r = service_req("TrentService.Decrypt", b"{}", &mut nonce);
    let captured = request_headers(addr, &r, true);
    server.shutdown().unwrap();
    // The same port, a new server: the captured request was made before it started.
    let (rec2, _server2) = start(ServerConfig::new(addr));
    let (status, resp) = send_headers(addr, &captured, b"{}");
    assert_eq!(status, 400);
    let body = json(resp);
    assert_eq!(body["__type"], "InvalidSignatureException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("before this server started"),
        "{body}"
    );
    assert_eq!(rec.count() + rec2.count(), 0);
}
