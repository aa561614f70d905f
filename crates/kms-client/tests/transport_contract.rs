//! The transport contract, run on both transports against the same recording KMS double:
//! the KMS in this process, and HTTP to an `ebsim-kms-server` started on 127.0.0.1:0.
//! Identities reach the KMS as the same `Caller` either way, errors keep their KMS type,
//! data keys round-trip, and the HTTP transport retries throttling, 5xx and connection
//! failures within bounds. (The suite against the real `ebsim-kms` service is
//! `tests/transports.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ebsim_kms::{Caller, ErrorType, KmsError};
use ebsim_kms_client::{
    AccessKey, ClientError, EncryptionContext, EndpointRecord, HttpConfig, Identity, KmsClient,
    LocalKms, RetryPolicy, Untrusted, endpoint_file, lock_file, publish_endpoint, verify_endpoint,
};
use ebsim_kms_server::{Backend, KmsServer, ServerConfig, ServerCredential, ServerHandle};
use serde_json::{Value, json};
use zeroize::Zeroizing;

const ROOT: &str = "arn:aws:iam::111122223333:root";
const SERVICE: &str = "arn:aws:iam::111122223333:role/ebsim-service";
const EC2: &str = "ec2.us-west-2.amazonaws.com";
const INFRA: &str =
    "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-0123456789abcdef0";

/// A KMS double: wraps data keys as (context, key, plaintext) records, echoes callers, and
/// fails the first `fail` calls with `error`.
#[derive(Debug, Default)]
struct Double {
    seen: Mutex<Vec<Caller>>,
    fail: AtomicUsize,
    error: Mutex<Option<ErrorType>>,
    calls: AtomicUsize,
}

impl Double {
    fn failing(n: usize, error: ErrorType) -> Self {
        let d = Self::default();
        d.fail.store(n, Ordering::SeqCst);
        *d.error.lock().unwrap() = Some(error);
        d
    }
}

fn bad(t: ErrorType) -> KmsError {
    KmsError::new(t, "bad request")
}

impl LocalKms for Double {
    fn call(&self, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            let t = self
                .error
                .lock()
                .unwrap()
                .unwrap_or(ErrorType::ThrottlingException);
            return Err(KmsError::new(t, "injected"));
        }
        self.seen.lock().unwrap().push(caller.clone());
        let req: Value =
            serde_json::from_slice(body).map_err(|_| bad(ErrorType::SerializationException))?;
        let out = match op {
            "WhoAmI" => json!({"Principal": caller.principal, "ViaService": caller.via_service}),
            "GenerateDataKeyWithoutPlaintext" => {
                let key = req["KeyId"]
                    .as_str()
                    .ok_or_else(|| bad(ErrorType::ValidationException))?;
                let n = req["NumberOfBytes"]
                    .as_u64()
                    .ok_or_else(|| bad(ErrorType::ValidationException))?;
                let pt: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
                let record = json!({"c": req["EncryptionContext"], "k": key, "p": B64.encode(pt)});
                json!({
                    "CiphertextBlob": B64.encode(record.to_string()),
                    "KeyId": format!("arn:aws:kms:us-west-2:111122223333:key/{key}"),
                })
            }
            "Decrypt" => {
                let blob = B64
                    .decode(req["CiphertextBlob"].as_str().unwrap_or_default())
                    .map_err(|_| KmsError::invalid_ciphertext())?;
                let record: Value =
                    serde_json::from_slice(&blob).map_err(|_| KmsError::invalid_ciphertext())?;
                if record["c"] != req["EncryptionContext"] {
                    return Err(KmsError::invalid_ciphertext());
                }
                json!({"Plaintext": record["p"], "KeyId": record["k"]})
            }
            "NoOutput" => return Ok(Vec::new()),
            "Fail" => {
                let name = req["Type"].as_str().unwrap_or_default();
                let t = ErrorType::from_name(name)
                    .ok_or_else(|| bad(ErrorType::ValidationException))?;
                return Err(KmsError::new(t, "as asked"));
            }
            _ => return Err(KmsError::bare(ErrorType::UnknownOperationException)),
        };
        Ok(out.to_string().into_bytes())
    }

    fn admin(&self, caller: &Caller, op: &str, _body: &[u8]) -> Result<Vec<u8>, KmsError> {
        if !caller.principal.ends_with(":root") {
            return Err(KmsError::new(ErrorType::AccessDeniedException, "root only"));
        }
        Ok(json!({"Admin": op, "Principal": caller.principal})
            .to_string()
            .into_bytes())
    }
}

#[derive(Debug)]
struct Served(Arc<Double>);

impl Backend for Served {
    fn call(&self, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        LocalKms::call(&*self.0, caller, op, body)
    }
    fn admin(&self, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        LocalKms::admin(&*self.0, caller, op, body)
    }
    fn lookup_access_key(&self, id: &str) -> Option<ServerCredential> {
        let (principal, secret, is_service) = match id {
            "test" => (ROOT, "test", false),
            "svc" => (SERVICE, "svc-secret", true),
            _ => return None,
        };
        Some(ServerCredential {
            principal: principal.into(),
            secret: Zeroizing::new(secret.into()),
            is_service,
        })
    }
    fn service_access_key_id(&self) -> Option<String> {
        Some("svc".into())
    }
}

fn serve(double: Arc<Double>) -> ServerHandle {
    let server = KmsServer::bind(
        Arc::new(Served(double)),
        ServerConfig::new("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap();
    server.spawn().unwrap()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(20),
    }
}

fn http_config(url: &str) -> HttpConfig {
    HttpConfig::new(url)
        .unwrap()
        .credentials(AccessKey::new("test", "test"))
        .service_credentials(AccessKey::new("svc", "svc-secret"))
        .region("us-west-2")
        .retry(fast_retry())
}

struct Env {
    client: KmsClient,
    double: Arc<Double>,
    _server: Option<ServerHandle>,
}

fn in_process(double: Double) -> Env {
    let double = Arc::new(double);
    Env {
        client: KmsClient::in_process(double.clone()),
        double,
        _server: None,
    }
}

fn over_http(double: Double) -> Env {
    let double = Arc::new(double);
    let server = serve(double.clone());
    let client = KmsClient::http(http_config(&server.url())).unwrap();
    Env {
        client,
        double,
        _server: Some(server),
    }
}

macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {
        mod in_process_transport {
            $( #[test] fn $name() { super::$name(super::in_process); } )*
        }
        mod http_transport {
            $( #[test] fn $name() { super::$name(super::over_http); } )*
        }
    };
}

both_transports!(
    wrap_and_unwrap,
    wrong_context_and_tampering_are_invalid_ciphertext,
    identities_become_callers,
    errors_keep_their_kms_type,
    empty_output_is_an_empty_object,
    admin_goes_to_the_admin_api,
);

type Make = fn(Double) -> Env;

fn ctx() -> EncryptionContext {
    EncryptionContext::workspaces(
        "vol-0123456789abcdef0",
        "S-1-5-21-1004336348-1177238915-682003330-512",
        "d-926724a1b2",
    )
    .unwrap()
}

fn wrap_and_unwrap(make: Make) {
    let env = make(Double::default());
    let c = &env.client;
    let w = c
        .generate_wrapped_data_key(&Identity::Default, "k1", &ctx())
        .unwrap();
    assert_eq!(w.key_arn, "arn:aws:kms:us-west-2:111122223333:key/k1");
    let k = c
        .decrypt_data_key(&Identity::Default, &w.ciphertext_blob, &ctx())
        .unwrap();
    assert_eq!(k.len(), 64);
    assert_eq!(format!("{k:?}"), "DataKey { len: 64, .. }");
    let k2 = c
        .decrypt_data_key_with(&Identity::Default, &w.ciphertext_blob, &ctx(), Some("k1"))
        .unwrap();
    assert_eq!(k.as_bytes(), k2.as_bytes());
}

fn wrong_context_and_tampering_are_invalid_ciphertext(make: Make) {
    let env = make(Double::default());
    let c = &env.client;
    let w = c
        .generate_wrapped_data_key(&Identity::Default, "k1", &ctx())
        .unwrap();
    let wrong = EncryptionContext::ebs("vol-0123456789abcdef0").unwrap();
    let e = c
        .decrypt_data_key(&Identity::Default, &w.ciphertext_blob, &wrong)
        .unwrap_err();
    assert!(
        matches!(
            &e,
            ClientError::Kms(KmsError {
                error_type: ErrorType::InvalidCiphertextException,
                message: None
            })
        ),
        "{e}"
    );
    let mut blob = w.ciphertext_blob.clone();
    let last = blob.len() - 1;
    blob[last] ^= 1;
    let e = c
        .decrypt_data_key(&Identity::Default, &blob, &ctx())
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::InvalidCiphertextException)
    );
}

fn identities_become_callers(make: Make) {
    let env = make(Double::default());
    let c = &env.client;
    let who = |id: &Identity| c.call(id, "WhoAmI", json!({})).unwrap();
    assert_eq!(
        who(&Identity::Default),
        json!({"Principal": ROOT, "ViaService": null})
    );
    assert_eq!(
        who(&Identity::OnBehalfOf {
            principal: "arn:aws:iam::111122223333:user/alice".into(),
            via_service: EC2.into()
        }),
        json!({"Principal": "arn:aws:iam::111122223333:user/alice", "ViaService": EC2})
    );
    assert_eq!(
        who(&Identity::Principal(INFRA.into())),
        json!({"Principal": INFRA, "ViaService": null})
    );
    assert_eq!(env.double.seen.lock().unwrap().len(), 3);
}

fn errors_keep_their_kms_type(make: Make) {
    let env = make(Double::default());
    let c = &env.client;
    for t in [
        ErrorType::NotFoundException,
        ErrorType::AccessDeniedException,
        ErrorType::DisabledException,
        ErrorType::KMSInvalidStateException,
        ErrorType::ValidationException,
    ] {
        let e = c
            .call(&Identity::Default, "Fail", json!({"Type": t.name()}))
            .unwrap_err();
        assert_eq!(e.kms_error_type(), Some(t), "{e}");
        assert!(e.to_string().contains("as asked"), "{e}");
    }
    let e = c
        .call(&Identity::Default, "NoSuchOperation", json!({}))
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::UnknownOperationException)
    );
    let e = c
        .call_raw(&Identity::Default, "WhoAmI", b"{not json")
        .unwrap_err();
    assert_eq!(e.kms_error_type(), Some(ErrorType::SerializationException));
}

fn empty_output_is_an_empty_object(make: Make) {
    let env = make(Double::default());
    assert_eq!(
        env.client
            .call(&Identity::Default, "NoOutput", json!({}))
            .unwrap(),
        json!({})
    );
}

fn admin_goes_to_the_admin_api(make: Make) {
    let env = make(Double::default());
    let out = env.client.admin("GetClock", json!({})).unwrap();
    assert_eq!(out, json!({"Admin": "GetClock", "Principal": ROOT}));
}

#[test]
fn in_process_default_identity_is_configurable() {
    let double = Arc::new(Double::default());
    let c = KmsClient::in_process_as(double, INFRA);
    assert_eq!(
        c.call(&Identity::Default, "WhoAmI", json!({})).unwrap()["Principal"],
        INFRA
    );
    let e = c.admin("GetClock", json!({})).unwrap_err();
    assert_eq!(e.kms_error_type(), Some(ErrorType::AccessDeniedException));
    assert!(!c.is_http());
    assert_eq!(c.endpoint(), None);
}

#[test]
fn throttling_and_5xx_are_retried_boundedly() {
    for error in [
        ErrorType::ThrottlingException,
        ErrorType::KMSInternalException,
        ErrorType::DependencyTimeoutException,
    ] {
        let env = over_http(Double::failing(3, error));
        env.client
            .call(&Identity::Default, "WhoAmI", json!({}))
            .unwrap();
        assert_eq!(
            env.double.calls.load(Ordering::SeqCst),
            4,
            "{error}: 3 failures, then success"
        );

        let env = over_http(Double::failing(100, error));
        let e = env
            .client
            .call(&Identity::Default, "WhoAmI", json!({}))
            .unwrap_err();
        assert_eq!(e.kms_error_type(), Some(error));
        assert_eq!(
            env.double.calls.load(Ordering::SeqCst),
            4,
            "{error}: at most 4 attempts"
        );
    }
    let env = over_http(Double::failing(100, ErrorType::AccessDeniedException));
    env.client
        .call(&Identity::Default, "WhoAmI", json!({}))
        .unwrap_err();
    assert_eq!(
        env.double.calls.load(Ordering::SeqCst),
        1,
        "client errors are not retried"
    );
    // The in-process transport does not retry: the caller sees the KMS answer.
    let env = in_process(Double::failing(1, ErrorType::ThrottlingException));
    let e = env
        .client
        .call(&Identity::Default, "WhoAmI", json!({}))
        .unwrap_err();
    assert_eq!(e.kms_error_type(), Some(ErrorType::ThrottlingException));
}

#[test]
fn default_backoff_stays_within_its_cap() {
    let p = RetryPolicy::default();
    assert_eq!(
        (p.max_attempts, p.base, p.cap),
        (4, Duration::from_millis(20), Duration::from_secs(1))
    );
    for retry in 1..12 {
        assert!(p.backoff(retry) <= Duration::from_secs(1));
    }
}

#[test]
fn connection_failures_are_retried_then_reported() {
    let refusing = ebsim_test_support::process::RefusingPort::new();
    let config = http_config(&refusing.url())
        .timeouts(Duration::from_millis(200), Duration::from_millis(500));
    let start = Instant::now();
    let e = KmsClient::http(config)
        .unwrap()
        .call(&Identity::Default, "WhoAmI", json!({}))
        .unwrap_err();
    assert!(matches!(e, ClientError::Transport { .. }), "{e}");
    assert!(e.is_retryable());
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn read_timeout_bounds_a_hung_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hold = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(2).collect();
        std::thread::sleep(Duration::from_secs(2));
        drop(conns);
    });
    let config = http_config(&url)
        .retry(RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(5),
        })
        .timeouts(Duration::from_millis(200), Duration::from_millis(300));
    let start = Instant::now();
    let e = KmsClient::http(config)
        .unwrap()
        .call(&Identity::Default, "WhoAmI", json!({}))
        .unwrap_err();
    assert!(matches!(e, ClientError::Transport { .. }), "{e}");
    assert!(
        start.elapsed() < Duration::from_millis(1800),
        "{:?}",
        start.elapsed()
    );
    hold.join().unwrap();
}

#[test]
fn service_identities_need_the_service_credential() {
    let double = Arc::new(Double::default());
    let server = serve(double.clone());
    let plain = HttpConfig::new(&server.url())
        .unwrap()
        .credentials(AccessKey::new("test", "test"));
    let c = KmsClient::http(plain).unwrap();
    let e = c
        .call(&Identity::Principal(INFRA.into()), "WhoAmI", json!({}))
        .unwrap_err();
    assert!(matches!(e, ClientError::NoServiceCredential { .. }), "{e}");
    // A non-service credential claiming to be the service is refused by the server.
    let forged = HttpConfig::new(&server.url())
        .unwrap()
        .credentials(AccessKey::new("test", "test"))
        .service_credentials(AccessKey::new("test", "test"));
    let e = KmsClient::http(forged)
        .unwrap()
        .call(&Identity::Principal(INFRA.into()), "WhoAmI", json!({}))
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::AccessDeniedException),
        "{e}"
    );
    assert!(double.seen.lock().unwrap().is_empty());
    // --as over HTTP: the default identity rides on the service credential.
    let as_infra = http_config(&server.url()).default_principal(Some(INFRA.into()));
    let who = KmsClient::http(as_infra)
        .unwrap()
        .call(&Identity::Default, "WhoAmI", json!({}))
        .unwrap();
    assert_eq!(who["Principal"], INFRA);
}

#[test]
fn routed_follows_explicit_endpoint_then_running_server() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        KmsClient::routed(dir.path(), None, None).unwrap().is_none(),
        "no server, no endpoint"
    );
    let double = Arc::new(Double::default());
    let server = serve(double);
    // Explicit endpoint.
    let c = KmsClient::routed(dir.path(), None, Some(server.url()))
        .unwrap()
        .unwrap();
    assert_eq!(c.endpoint(), Some(server.url().as_str()));
    assert!(matches!(
        KmsClient::routed(dir.path(), None, Some("kms.example".into())),
        Err(ClientError::InvalidEndpoint(_))
    ));
    // Published endpoint of a live server that holds the data dir's lock and proves that it
    // holds the service credential; the credential comes from the data dir.
    std::fs::create_dir_all(dir.path().join("kms")).unwrap();
    let lock = std::fs::File::create(lock_file(dir.path())).unwrap();
    lock.lock().unwrap();
    let record = EndpointRecord::for_this_process(&server.url()).unwrap();
    publish_endpoint(dir.path(), &record).unwrap();
    write_service_credential(dir.path(), "svc-secret");
    let c = KmsClient::routed(dir.path(), Some(INFRA.into()), None)
        .unwrap()
        .unwrap();
    assert!(c.is_http());
    assert_eq!(
        c.call(&Identity::Default, "WhoAmI", json!({})).unwrap()["Principal"],
        INFRA
    );
    // A server that cannot prove it holds this data dir's service secret is not used.
    write_service_credential(dir.path(), "another-secret");
    assert_eq!(
        verify_endpoint(dir.path(), Duration::from_secs(2)),
        Err(Untrusted::NoProof(server.url()))
    );
    assert!(KmsClient::routed(dir.path(), None, None).unwrap().is_none());
    write_service_credential(dir.path(), "svc-secret");
    // Nor when the named process does not hold the lock.
    lock.unlock().unwrap();
    assert_eq!(
        verify_endpoint(dir.path(), Duration::from_secs(2)),
        Err(Untrusted::NotLockHolder(std::process::id()))
    );
    lock.lock().unwrap();
    // Nor when the process is gone (another start time: a reused pid).
    let stale = EndpointRecord {
        start_time: record.start_time + 1,
        ..record.clone()
    };
    publish_endpoint(dir.path(), &stale).unwrap();
    assert_eq!(
        verify_endpoint(dir.path(), Duration::from_secs(2)),
        Err(Untrusted::Gone(std::process::id()))
    );
    // Nor a bare URL (the format before the proof).
    std::fs::write(endpoint_file(dir.path()), format!("{}\n", server.url())).unwrap();
    assert_eq!(
        verify_endpoint(dir.path(), Duration::from_secs(2)),
        Err(Untrusted::Malformed)
    );
    publish_endpoint(dir.path(), &record).unwrap();
    assert!(verify_endpoint(dir.path(), Duration::from_secs(2)).is_ok());
    // A stale endpoint file is ignored.
    let url = server.url();
    server.shutdown().unwrap();
    let start = Instant::now();
    assert!(
        KmsClient::routed(dir.path(), None, None).unwrap().is_none(),
        "{url} is gone"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
}

fn write_service_credential(dir: &Path, secret: &str) {
    std::fs::write(
        dir.join("kms").join("service-credential"),
        json!({"AccessKeyId": "svc", "SecretAccessKey": secret}).to_string(),
    )
    .unwrap();
}
