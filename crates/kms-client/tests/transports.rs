//! One client test suite, run on both transports: the KMS in this process, and HTTP to an
//! `ebsim-kms-server` started inside the test on 127.0.0.1:0. Plus retries, timeouts and the
//! data-dir routing of `KmsClient::for_data_dir`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ebsim_iam::QueryService;
use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig, KmsError};
use ebsim_kms_client::{
    AccessKey, ClientError, EncryptionContext, EndpointRecord, HttpConfig, Identity, KmsClient,
    RetryPolicy, endpoint_file, publish_endpoint,
};
use ebsim_kms_server::{Backend, KmsServer, ServerConfig, ServerCredential, ServerHandle};
use serde_json::json;

const ROOT: &str = "arn:aws:iam::111122223333:root";
const EC2: &str = "ec2.us-west-2.amazonaws.com";
const INFRA: &str =
    "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-0123456789abcdef0";

struct Env {
    _dir: tempfile::TempDir,
    client: KmsClient,
    _server: Option<ServerHandle>,
}

fn in_process() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
    Env {
        client: KmsClient::in_process(Arc::new(kms)),
        _dir: dir,
        _server: None,
    }
}

fn http_config(url: &str, dir: &Path) -> HttpConfig {
    HttpConfig::new(url)
        .unwrap()
        .credentials(AccessKey::new("test", "test"))
        .region("us-west-2")
        .service_credential_from_data_dir(dir)
        .unwrap()
}

fn over_http() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(Kms::open(dir.path(), KmsConfig::default()).unwrap());
    let server = KmsServer::bind(kms, ServerConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    let handle = server.spawn().unwrap();
    let client = KmsClient::http(http_config(&handle.url(), dir.path())).unwrap();
    assert!(client.is_http());
    Env {
        client,
        _dir: dir,
        _server: Some(handle),
    }
}

/// Runs `suite` on both transports.
macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {
        mod in_process_transport {
            $( #[test] fn $name() { super::$name(&super::in_process().client); } )*
        }
        mod http_transport {
            $( #[test] fn $name() { super::$name(&super::over_http().client); } )*
        }
    };
}

both_transports!(
    wrap_and_unwrap,
    wrong_context_is_invalid_ciphertext,
    tampered_blob_is_invalid_ciphertext,
    service_identities,
    generic_calls_and_errors,
    acting_as_another_principal,
    admin_operations,
);

fn new_key(c: &KmsClient) -> (String, String) {
    let out = c
        .call(
            &Identity::Default,
            "CreateKey",
            json!({"Description": "client suite"}),
        )
        .unwrap();
    let meta = &out["KeyMetadata"];
    (
        meta["KeyId"].as_str().unwrap().to_owned(),
        meta["Arn"].as_str().unwrap().to_owned(),
    )
}

fn ctx() -> EncryptionContext {
    EncryptionContext::workspaces(
        "vol-0123456789abcdef0",
        "S-1-5-21-1004336348-1177238915-682003330-512",
        "d-926724a1b2",
    )
    .unwrap()
}

fn wrap_and_unwrap(c: &KmsClient) {
    let (key_id, key_arn) = new_key(c);
    let w = c
        .generate_wrapped_data_key(&Identity::Default, &key_id, &ctx())
        .unwrap();
    assert_eq!(w.key_arn, key_arn);
    let k1 = c
        .decrypt_data_key(&Identity::Default, &w.ciphertext_blob, &ctx())
        .unwrap();
    let k2 = c
        .decrypt_data_key_with(
            &Identity::Default,
            &w.ciphertext_blob,
            &ctx(),
            Some(&key_arn),
        )
        .unwrap();
    assert_eq!(k1.len(), 64);
    assert_eq!(k1.as_bytes(), k2.as_bytes());
    assert_eq!(format!("{k1:?}"), "DataKey { len: 64, .. }");
    let w2 = c
        .generate_wrapped_data_key(&Identity::Default, &key_id, &ctx())
        .unwrap();
    let k3 = c
        .decrypt_data_key(&Identity::Default, &w2.ciphertext_blob, &ctx())
        .unwrap();
    assert_ne!(k1.as_bytes(), k3.as_bytes(), "each data key is fresh");
    // By alias.
    c.call(
        &Identity::Default,
        "CreateAlias",
        json!({"AliasName": "alias/suite", "TargetKeyId": key_id}),
    )
    .unwrap();
    let w3 = c
        .generate_wrapped_data_key(&Identity::Default, "alias/suite", &ctx())
        .unwrap();
    assert_eq!(w3.key_arn, key_arn);
    // Another key named in Decrypt.
    let (other, _) = new_key(c);
    let e = c
        .decrypt_data_key_with(&Identity::Default, &w.ciphertext_blob, &ctx(), Some(&other))
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::IncorrectKeyException),
        "{e}"
    );
}

fn wrong_context_is_invalid_ciphertext(c: &KmsClient) {
    let (key_id, _) = new_key(c);
    let w = c
        .generate_wrapped_data_key(&Identity::Default, &key_id, &ctx())
        .unwrap();
    for wrong in [
        EncryptionContext::ebs("vol-0123456789abcdef0").unwrap(),
        EncryptionContext::workspaces("vol-0123456789abcdef0", "S-1-5-21-1", "d-926724a1b2")
            .unwrap(),
        EncryptionContext::default(),
    ] {
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
    }
}

fn tampered_blob_is_invalid_ciphertext(c: &KmsClient) {
    let (key_id, _) = new_key(c);
    let w = c
        .generate_wrapped_data_key(&Identity::Default, &key_id, &ctx())
        .unwrap();
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

fn service_identities(c: &KmsClient) {
    let (key_id, key_arn) = new_key(c);
    let ebs = Identity::OnBehalfOf {
        principal: ROOT.to_owned(),
        via_service: EC2.to_owned(),
    };
    let w = c.generate_wrapped_data_key(&ebs, &key_id, &ctx()).unwrap();
    let infra = Identity::Principal(INFRA.to_owned());
    let e = c
        .decrypt_data_key(&infra, &w.ciphertext_blob, &ctx())
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::AccessDeniedException),
        "{e}"
    );
    let grant = c
        .call(
            &ebs,
            "CreateGrant",
            json!({
                "KeyId": key_arn,
                "GranteePrincipal": INFRA,
                "Operations": ["Decrypt"],
                "Constraints": {"EncryptionContextSubset": ctx()},
            }),
        )
        .unwrap();
    assert!(grant["GrantId"].is_string());
    let k = c
        .decrypt_data_key(&infra, &w.ciphertext_blob, &ctx())
        .unwrap();
    assert_eq!(k.len(), 64);
    // The grant's constraint binds the context.
    let other = EncryptionContext::ebs("vol-0123456789abcdef1").unwrap();
    let w2 = c.generate_wrapped_data_key(&ebs, &key_id, &other).unwrap();
    let e = c
        .decrypt_data_key(&infra, &w2.ciphertext_blob, &other)
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::AccessDeniedException),
        "{e}"
    );
}

fn generic_calls_and_errors(c: &KmsClient) {
    let (key_id, key_arn) = new_key(c);
    let d = c
        .call(&Identity::Default, "DescribeKey", json!({"KeyId": key_id}))
        .unwrap();
    assert_eq!(d["KeyMetadata"]["Arn"], key_arn.as_str());
    let e = c
        .call(&Identity::Default, "NoSuchOperation", json!({}))
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::UnknownOperationException),
        "{e}"
    );
    let e = c
        .call(
            &Identity::Default,
            "DescribeKey",
            json!({"KeyId": "alias/missing"}),
        )
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::NotFoundException),
        "{e}"
    );
    let e = c
        .call(&Identity::Default, "DescribeKey", json!({"KeyId": 7}))
        .unwrap_err();
    assert!(
        matches!(
            e.kms_error_type(),
            Some(ErrorType::SerializationException | ErrorType::ValidationException)
        ),
        "{e}"
    );
    let e = c
        .call(&Identity::Default, "DescribeKey", json!({}))
        .unwrap_err();
    assert!(
        matches!(
            e.kms_error_type(),
            Some(ErrorType::ValidationException | ErrorType::SerializationException)
        ),
        "{e}"
    );
    let e = c
        .call_raw(&Identity::Default, "DescribeKey", b"not json")
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::SerializationException),
        "{e}"
    );
    // Operations without output answer an empty object.
    let out = c
        .call(&Identity::Default, "DisableKey", json!({"KeyId": key_id}))
        .unwrap();
    assert_eq!(out, json!({}));
    let e = c
        .generate_wrapped_data_key(&Identity::Default, &key_id, &ctx())
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::DisabledException),
        "{e}"
    );
}

fn acting_as_another_principal(c: &KmsClient) {
    let user = c
        .query(QueryService::Iam, "CreateUser", &[("UserName", "carol")])
        .unwrap();
    let arn = leaf(&user, "Arn");
    assert_eq!(arn, "arn:aws:iam::111122223333:user/carol");
    let (key_id, _) = new_key(c);
    let carol = Identity::Principal(arn.clone());
    let e = c
        .generate_wrapped_data_key(&carol, &key_id, &ctx())
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::AccessDeniedException),
        "{e}"
    );
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:GenerateDataKeyWithoutPlaintext", "Resource": "*"}]
    })
    .to_string();
    c.query(
        QueryService::Iam,
        "PutUserPolicy",
        &[
            ("UserName", "carol"),
            ("PolicyName", "gen"),
            ("PolicyDocument", &policy),
        ],
    )
    .unwrap();
    c.generate_wrapped_data_key(&carol, &key_id, &ctx())
        .unwrap();
    let listed = c.query(QueryService::Iam, "ListUsers", &[]).unwrap();
    assert!(
        listed.iter().any(|(k, v)| k == "UserName" && v == "carol"),
        "{listed:?}"
    );

    // A role carol may assume, with the same permission: its session signs its own calls.
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}]})
    .to_string();
    c.query(
        QueryService::Iam,
        "CreateRole",
        &[("RoleName", "gen"), ("AssumeRolePolicyDocument", &trust)],
    )
    .unwrap();
    c.query(
        QueryService::Iam,
        "PutRolePolicy",
        &[
            ("RoleName", "gen"),
            ("PolicyName", "gen"),
            ("PolicyDocument", &policy),
        ],
    )
    .unwrap();
    let role = "arn:aws:iam::111122223333:role/gen";
    let e = c
        .assume_role(&Identity::Default, role, "s1")
        .expect_err("the root may not assume a role");
    assert!(e.to_string().contains("AccessDenied"), "{e}");
    let session = c.assume_role(&carol, role, "s1").unwrap();
    let Identity::Session(s) = &session else {
        panic!("{session:?}")
    };
    assert_eq!(s.principal, "arn:aws:sts::111122223333:assumed-role/gen/s1");
    assert!(s.credentials.access_key_id.starts_with("ASIA"), "{s:?}");
    c.generate_wrapped_data_key(&session, &key_id, &ctx())
        .unwrap();
    let me = c
        .query_as(&session, QueryService::Sts, "GetCallerIdentity", &[])
        .unwrap();
    assert_eq!(leaf(&me, "Arn"), s.principal);
}

fn leaf(leaves: &[(String, String)], name: &str) -> String {
    leaves
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn admin_operations(c: &KmsClient) {
    let clock = c.admin("GetClock", json!({})).unwrap();
    assert!(clock.get("Now").is_some(), "{clock}");
    let advanced = c.admin("AdvanceClock", json!({"Days": 1.0})).unwrap();
    assert!(
        advanced["OffsetSeconds"].as_f64().unwrap() >= 86_399.0,
        "{advanced}"
    );
    let (key_id, _) = new_key(c);
    c.admin("SetFault", json!({"Operation": "DescribeKey", "Kind": "outage", "ErrorType": "DependencyTimeoutException"}))
        .unwrap();
    let e = c
        .call(&Identity::Default, "DescribeKey", json!({"KeyId": key_id}))
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::DependencyTimeoutException),
        "{e}"
    );
    c.admin("ClearFaults", json!({})).unwrap();
    c.call(&Identity::Default, "DescribeKey", json!({"KeyId": key_id}))
        .unwrap();
    let audit = c.admin("ReadAudit", json!({"Limit": 50})).unwrap();
    assert!(
        audit["Records"].as_array().is_some_and(|r| !r.is_empty()),
        "{audit}"
    );
}

/// A backend that fails the first `fail` calls with `error`, then delegates.
#[derive(Debug)]
struct Flaky {
    kms: Arc<Kms>,
    fail: usize,
    error: ErrorType,
    calls: AtomicUsize,
}

impl Backend for Flaky {
    fn call(&self, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.fail {
            return Err(KmsError::new(self.error, "injected"));
        }
        self.kms.call(caller, op, body)
    }
    fn admin(&self, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        self.kms.admin(caller, op, body)
    }
    fn lookup_access_key(&self, id: &str) -> Option<ServerCredential> {
        Backend::lookup_access_key(&*self.kms, id)
    }
}

fn flaky(fail: usize, error: ErrorType) -> (tempfile::TempDir, Arc<Flaky>, ServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(Kms::open(dir.path(), KmsConfig::default()).unwrap());
    let backend = Arc::new(Flaky {
        kms,
        fail,
        error,
        calls: AtomicUsize::new(0),
    });
    let handle = KmsServer::bind(
        backend.clone(),
        ServerConfig::new("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap()
    .spawn()
    .unwrap();
    (dir, backend, handle)
}

#[test]
fn throttling_and_5xx_are_retried_with_backoff() {
    for error in [
        ErrorType::ThrottlingException,
        ErrorType::KMSInternalException,
        ErrorType::DependencyTimeoutException,
    ] {
        let (dir, backend, server) = flaky(3, error);
        let client = KmsClient::http(http_config(&server.url(), dir.path())).unwrap();
        client
            .call(&Identity::Default, "ListKeys", json!({}))
            .unwrap();
        assert_eq!(
            backend.calls.load(Ordering::SeqCst),
            4,
            "{error}: 3 failures + 1 success"
        );

        let (dir, backend, server) = flaky(100, error);
        let client = KmsClient::http(http_config(&server.url(), dir.path())).unwrap();
        let start = Instant::now();
        let e = client
            .call(&Identity::Default, "ListKeys", json!({}))
            .unwrap_err();
        assert_eq!(e.kms_error_type(), Some(error));
        assert_eq!(
            backend.calls.load(Ordering::SeqCst),
            4,
            "bounded at 4 attempts"
        );
        assert!(start.elapsed() < Duration::from_secs(4));
    }
    // Client errors are not retried.
    let (dir, backend, server) = flaky(100, ErrorType::AccessDeniedException);
    let client = KmsClient::http(http_config(&server.url(), dir.path())).unwrap();
    client
        .call(&Identity::Default, "ListKeys", json!({}))
        .unwrap_err();
    assert_eq!(backend.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn connection_failures_are_retried_then_reported() {
    let refusing = ebsim_test_support::process::RefusingPort::new();
    let config = HttpConfig::new(&refusing.url())
        .unwrap()
        .retry(RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
        })
        .timeouts(Duration::from_millis(200), Duration::from_millis(500));
    let client = KmsClient::http(config).unwrap();
    let start = Instant::now();
    let e = client
        .call(&Identity::Default, "ListKeys", json!({}))
        .unwrap_err();
    assert!(matches!(e, ClientError::Transport { .. }), "{e}");
    assert!(e.is_retryable());
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn read_timeout_bounds_a_hung_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let _hold = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(2).collect();
        std::thread::sleep(Duration::from_secs(3));
        drop(conns);
    });
    let config = HttpConfig::new(&url)
        .unwrap()
        .retry(RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(5),
        })
        .timeouts(Duration::from_millis(200), Duration::from_millis(300));
    let start = Instant::now();
    let e = KmsClient::http(config)
        .unwrap()
        .call(&Identity::Default, "ListKeys", json!({}))
        .unwrap_err();
    assert!(matches!(e, ClientError::Transport { .. }), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn service_identities_need_the_service_credential_over_http() {
    let env = over_http();
    let url = env.client.endpoint().unwrap().to_owned();
    let client = KmsClient::http(
        HttpConfig::new(&url)
            .unwrap()
            .credentials(AccessKey::new("test", "test")),
    )
    .unwrap();
    let e = client
        .call(
            &Identity::Principal(INFRA.to_owned()),
            "ListKeys",
            json!({}),
        )
        .unwrap_err();
    assert!(matches!(e, ClientError::NoServiceCredential { .. }), "{e}");
    // Someone else's credential cannot claim to be the service.
    let forged = HttpConfig::new(&url)
        .unwrap()
        .credentials(AccessKey::new("test", "test"))
        .service_credentials(AccessKey::new("test", "test"));
    let e = KmsClient::http(forged)
        .unwrap()
        .call(
            &Identity::Principal(INFRA.to_owned()),
            "ListKeys",
            json!({}),
        )
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::AccessDeniedException),
        "{e}"
    );
}

#[test]
fn for_data_dir_routes_to_a_running_server_else_embeds() {
    let dir = tempfile::tempdir().unwrap();
    // No server: embedded, holding the lock while the client lives.
    let embedded = KmsClient::for_data_dir(dir.path(), None, None).unwrap();
    assert!(!embedded.is_http());
    let (key_id, _) = new_key(&embedded);
    drop(embedded);

    // A server owns the data dir and publishes its endpoint.
    let kms = Arc::new(Kms::open(dir.path(), KmsConfig::default()).unwrap());
    let server = KmsServer::bind(kms, ServerConfig::new("127.0.0.1:0".parse().unwrap()))
        .unwrap()
        .spawn()
        .unwrap();
    let record = EndpointRecord::for_this_process(&server.url()).unwrap();
    publish_endpoint(dir.path(), &record).unwrap();
    let routed = KmsClient::for_data_dir(dir.path(), None, None).unwrap();
    assert_eq!(routed.endpoint(), Some(server.url().as_str()));
    routed
        .call(&Identity::Default, "DescribeKey", json!({"KeyId": key_id}))
        .unwrap();
    // --as over HTTP rides on the service credential.
    let as_infra = KmsClient::for_data_dir(dir.path(), Some(INFRA.to_owned()), None).unwrap();
    let e = as_infra
        .call(
            &Identity::Default,
            "Encrypt",
            json!({"KeyId": key_id, "Plaintext": "AA=="}),
        )
        .unwrap_err();
    assert_eq!(
        e.kms_error_type(),
        Some(ErrorType::AccessDeniedException),
        "{e}"
    );
    server.shutdown().unwrap();

    // A stale endpoint file (server gone): embedded again, and the stale file is removed.
    let embedded = KmsClient::for_data_dir(dir.path(), None, None).unwrap();
    assert!(!embedded.is_http());
    assert!(!endpoint_file(dir.path()).exists());
    embedded
        .call(&Identity::Default, "DescribeKey", json!({"KeyId": key_id}))
        .unwrap();

    // Locked by another holder and no server: a clear error, not a hang.
    let start = Instant::now();
    let e = KmsClient::for_data_dir(dir.path(), None, None).unwrap_err();
    assert!(matches!(e, ClientError::Open { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(10));
    drop(embedded);
}

#[test]
fn explicit_endpoint_wins() {
    let env = over_http();
    let url = env.client.endpoint().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let c = KmsClient::for_data_dir(dir.path(), None, Some(url.clone())).unwrap();
    assert_eq!(c.endpoint(), Some(url.as_str()));
    let e = KmsClient::for_data_dir(dir.path(), None, Some("kms.example".into())).unwrap_err();
    assert!(matches!(e, ClientError::InvalidEndpoint(_)));
}
