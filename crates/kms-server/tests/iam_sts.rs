//! IAM and STS over the wire against the real KMS (in memory, on a manual clock): routing by
//! the scope's service, the Query decoder and XML answers, users and access keys, roles and
//! AssumeRole with its trust policy, durations and session policies, session tokens
//! (missing, wrong, expired), managed policies, pagination, and bad input that changes
//! nothing (docs/iam.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ebsim_kms::{Kms, KmsConfig, ManualClock};
use ebsim_kms_server::{KmsServer, ServerConfig, ServerHandle};
use ebsim_test_support::http::{KmsRequest as Req, Response};

struct Sim {
    kms: Arc<Kms>,
    clock: Arc<ManualClock>,
    server: ServerHandle,
}

/// Credentials: access key id, secret, session token.
#[derive(Clone)]
struct Creds {
    id: String,
    secret: String,
    token: Option<String>,
}

fn root() -> Creds {
    Creds {
        id: "test".into(),
        secret: "test".into(),
        token: None,
    }
}

fn start() -> Sim {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let clock = Arc::new(ManualClock::new(now));
    let kms = Arc::new(Kms::in_memory(KmsConfig::default().clock(clock.clone())));
    let server = KmsServer::bind(
        kms.clone(),
        ServerConfig::new("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap()
    .spawn()
    .unwrap();
    Sim { kms, clock, server }
}

fn form(params: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

impl Sim {
    /// A Query call of `service` (`iam`, `sts`) with a form body.
    fn query(&self, c: &Creds, service: &str, params: &[(&str, &str)]) -> Response {
        self.raw(c, service, form(params).as_bytes())
    }

    fn raw(&self, c: &Creds, service: &str, body: &[u8]) -> Response {
        let mut r = Req::new("", body);
        r.key = &c.id;
        r.secret = &c.secret;
        r.service = service;
        if let Some(t) = &c.token {
            r.extra = vec![("x-amz-security-token", t.as_str())];
        }
        r.send(self.server.addr())
    }

    fn iam(&self, c: &Creds, action: &str, params: &[(&str, &str)]) -> Response {
        let mut p = vec![("Action", action), ("Version", "2010-05-08")];
        p.extend_from_slice(params);
        self.query(c, "iam", &p)
    }

    fn sts(&self, c: &Creds, action: &str, params: &[(&str, &str)]) -> Response {
        let mut p = vec![("Action", action), ("Version", "2011-06-15")];
        p.extend_from_slice(params);
        self.query(c, "sts", &p)
    }

    fn kms(&self, c: &Creds, op: &str, body: &serde_json::Value) -> Response {
        let body = body.to_string();
        let target = format!("TrentService.{op}");
        let mut r = Req::new(&target, body.as_bytes());
        r.key = &c.id;
        r.secret = &c.secret;
        if let Some(t) = &c.token {
            r.extra = vec![("x-amz-security-token", t.as_str())];
        }
        r.send(self.server.addr())
    }

    /// A user with an access key and an inline policy allowing `actions` on every key.
    fn user(&self, name: &str, actions: &[&str]) -> (Creds, String) {
        let r = self.iam(&root(), "CreateUser", &[("UserName", name)]);
        assert_eq!(r.status, 200, "{}", r.body);
        let arn = tag(&r, "Arn");
        let k = self.iam(&root(), "CreateAccessKey", &[("UserName", name)]);
        assert_eq!(k.status, 200, "{}", k.body);
        if !actions.is_empty() {
            let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": "*"}]});
            let r = self.iam(
                &root(),
                "PutUserPolicy",
                &[
                    ("UserName", name),
                    ("PolicyName", "p"),
                    ("PolicyDocument", &doc.to_string()),
                ],
            );
            assert_eq!(r.status, 200, "{}", r.body);
        }
        (
            Creds {
                id: tag(&k, "AccessKeyId"),
                secret: tag(&k, "SecretAccessKey"),
                token: None,
            },
            arn,
        )
    }

    fn create_key(&self) -> String {
        let r = self.kms(&root(), "CreateKey", &serde_json::json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
    }

    fn encrypt(&self, key: &str) -> String {
        let r = self.kms(
            &root(),
            "Encrypt",
            &serde_json::json!({"KeyId": key, "Plaintext": "aGk="}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["CiphertextBlob"].as_str().unwrap().to_owned()
    }
}

/// The text of the first `<name>` element (the tests' responses are flat enough).
fn tag(r: &Response, name: &str) -> String {
    let open = format!("<{name}>");
    let start = r
        .body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {}", r.body))
        + open.len();
    let end = r.body[start..].find("</").unwrap() + start;
    r.body[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `<Code>` of an error answer, checked to be an XML error envelope with `status`.
fn code(r: &Response, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.body.contains("<ErrorResponse"), "{}", r.body);
    assert!(r.body.contains("<Type>Sender</Type>"), "{}", r.body);
    tag(r, "Code")
}

fn trust(principal: &str) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})
    .to_string()
}

fn assume(sim: &Sim, c: &Creds, role_arn: &str, extra: &[(&str, &str)]) -> Result<Creds, Response> {
    let mut p = vec![("RoleArn", role_arn), ("RoleSessionName", "s1")];
    p.extend_from_slice(extra);
    let r = sim.sts(c, "AssumeRole", &p);
    if r.status != 200 {
        return Err(r);
    }
    Ok(Creds {
        id: tag(&r, "AccessKeyId"),
        secret: tag(&r, "SecretAccessKey"),
        token: Some(tag(&r, "SessionToken")),
    })
}

#[test]
fn routing_by_scope_service_and_query_errors() {
    let sim = start();
    let r = sim.sts(&root(), "GetCallerIdentity", &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/xml"));
    assert!(r.body.contains("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"), "{}", r.body);
    assert_eq!(tag(&r, "Arn"), "arn:aws:iam::111122223333:root");
    assert_eq!(tag(&r, "Account"), "111122223333");
    // The same port still speaks KMS's JSON.
    let k = sim.kms(&root(), "ListKeys", &serde_json::json!({}));
    assert_eq!(k.status, 200);
    assert!(k.json()["Keys"].is_array());
    // An action of the other service, an unknown one, a missing one.
    assert_eq!(
        code(&sim.iam(&root(), "GetCallerIdentity", &[]), 400),
        "InvalidAction"
    );
    assert_eq!(
        code(&sim.sts(&root(), "Frobnicate", &[]), 400),
        "InvalidAction"
    );
    assert_eq!(
        code(
            &sim.query(&root(), "iam", &[("Version", "2010-05-08")]),
            400
        ),
        "MissingAction"
    );
    // An unknown key: InvalidClientTokenId here, UnrecognizedClientException for KMS.
    let nobody = Creds {
        id: "AKIAAAAAAAAAAAAAAAAA".into(),
        secret: "x".into(),
        token: None,
    };
    assert_eq!(
        code(&sim.sts(&nobody, "GetCallerIdentity", &[]), 403),
        "InvalidClientTokenId"
    );
    let k = sim.kms(&nobody, "ListKeys", &serde_json::json!({}));
    assert_eq!(k.json()["__type"], "UnrecognizedClientException");
    // A bad signature.
    let (alice, _) = sim.user("alice", &[]);
    let wrong = Creds {
        secret: "wrong".into(),
        ..alice
    };
    assert_eq!(
        code(&sim.sts(&wrong, "GetCallerIdentity", &[]), 403),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn a_users_lifecycle_ends_with_its_key_refused() {
    let sim = start();
    let key = sim.create_key();
    let blob = sim.encrypt(&key);
    let (alice, arn) = sim.user("alice", &[]);
    assert_eq!(arn, "arn:aws:iam::111122223333:user/alice");
    let decrypt = serde_json::json!({"CiphertextBlob": blob});
    // No policy yet: refused.
    assert_eq!(
        sim.kms(&alice, "Decrypt", &decrypt).json()["__type"],
        "AccessDeniedException"
    );
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#;
    let r = sim.iam(
        &root(),
        "PutUserPolicy",
        &[
            ("UserName", "alice"),
            ("PolicyName", "d"),
            ("PolicyDocument", doc),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let got = sim.iam(
        &root(),
        "GetUserPolicy",
        &[("UserName", "alice"), ("PolicyName", "d")],
    );
    assert_eq!(
        tag(&got, "PolicyDocument"),
        ebsim_iam::xml::encode_document(doc)
    );
    assert_eq!(sim.kms(&alice, "Decrypt", &decrypt).status, 200);
    let me = sim.sts(&alice, "GetCallerIdentity", &[]);
    assert_eq!(tag(&me, "Arn"), arn);
    assert!(tag(&me, "UserId").starts_with("AIDA"));
    // Inactive: refused like an unknown key; active again: accepted.
    let set = |status: &str| {
        sim.iam(
            &root(),
            "UpdateAccessKey",
            &[
                ("UserName", "alice"),
                ("AccessKeyId", &alice.id),
                ("Status", status),
            ],
        )
    };
    assert_eq!(set("Inactive").status, 200);
    assert_eq!(
        sim.kms(&alice, "Decrypt", &decrypt).json()["__type"],
        "UnrecognizedClientException"
    );
    assert_eq!(set("Active").status, 200);
    assert_eq!(sim.kms(&alice, "Decrypt", &decrypt).status, 200);
    // At most two keys.
    assert_eq!(
        sim.iam(&root(), "CreateAccessKey", &[("UserName", "alice")])
            .status,
        200
    );
    assert_eq!(
        code(
            &sim.iam(&root(), "CreateAccessKey", &[("UserName", "alice")]),
            409
        ),
        "LimitExceeded"
    );
    // The user cannot go while it has keys and policies.
    assert_eq!(
        code(
            &sim.iam(&root(), "DeleteUser", &[("UserName", "alice")]),
            409
        ),
        "DeleteConflict"
    );
    let keys = sim.iam(&root(), "ListAccessKeys", &[("UserName", "alice")]);
    assert_eq!(keys.body.matches("<member>").count(), 2, "{}", keys.body);
    for id in keys
        .body
        .split("<AccessKeyId>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect::<Vec<_>>()
    {
        let r = sim.iam(
            &root(),
            "DeleteAccessKey",
            &[("UserName", "alice"), ("AccessKeyId", &id)],
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // The deleted key is refused by every protocol.
    assert_eq!(
        sim.kms(&alice, "Decrypt", &decrypt).json()["__type"],
        "UnrecognizedClientException"
    );
    assert_eq!(
        code(&sim.sts(&alice, "GetCallerIdentity", &[]), 403),
        "InvalidClientTokenId"
    );
    assert_eq!(
        code(
            &sim.iam(&root(), "DeleteUser", &[("UserName", "alice")]),
            409
        ),
        "DeleteConflict"
    );
    assert_eq!(
        sim.iam(
            &root(),
            "DeleteUserPolicy",
            &[("UserName", "alice"), ("PolicyName", "d")]
        )
        .status,
        200
    );
    assert_eq!(
        sim.iam(&root(), "DeleteUser", &[("UserName", "ALICE")])
            .status,
        200
    );
    assert_eq!(
        code(&sim.iam(&root(), "GetUser", &[("UserName", "alice")]), 404),
        "NoSuchEntity"
    );
}

#[test]
fn an_assumed_role_session_acts_as_the_role_under_its_trust_policy() {
    let sim = start();
    let (alice, alice_arn) = sim.user("alice", &[]);
    let (mallory, _) = sim.user("mallory", &[]);
    let r = sim.iam(
        &root(),
        "CreateRole",
        &[
            ("RoleName", "reader"),
            ("AssumeRolePolicyDocument", &trust(&alice_arn)),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.body.contains("MaxSessionDuration"),
        "CreateRole shows none: {}",
        r.body
    );
    let role_arn = tag(&r, "Arn");
    // A key whose policy names the role.
    let key = sim.create_key();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "reader", "Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "kms:Decrypt", "Resource": "*"}]});
    let r = sim.kms(
        &root(),
        "PutKeyPolicy",
        &serde_json::json!({"KeyId": key, "PolicyName": "default", "Policy": policy.to_string()}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let blob = sim.encrypt(&key);
    // The trust policy does not name mallory, nor the root.
    assert_eq!(
        code(&assume(&sim, &mallory, &role_arn, &[]).err().unwrap(), 403),
        "AccessDenied"
    );
    let root_try = assume(&sim, &root(), &role_arn, &[]).err().unwrap();
    assert!(
        root_try
            .body
            .contains("Roles may not be assumed by root accounts.")
    );
    let missing = assume(&sim, &alice, "arn:aws:iam::111122223333:role/nope", &[])
        .err()
        .unwrap();
    assert_eq!(code(&missing, 403), "AccessDenied");
    let session = assume(&sim, &alice, &role_arn, &[]).unwrap();
    assert!(session.id.starts_with("ASIA"));
    let me = sim.sts(&session, "GetCallerIdentity", &[]);
    assert_eq!(
        tag(&me, "Arn"),
        "arn:aws:sts::111122223333:assumed-role/reader/s1"
    );
    assert!(tag(&me, "UserId").starts_with("AROA") && tag(&me, "UserId").ends_with(":s1"));
    let d = sim.kms(
        &session,
        "Decrypt",
        &serde_json::json!({"CiphertextBlob": blob}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let rec = sim.kms.audit_records();
    let last = rec
        .iter()
        .rev()
        .find(|r| r["eventName"] == "Decrypt")
        .unwrap();
    assert_eq!(
        last["userIdentity"]["arn"], "arn:aws:sts::111122223333:assumed-role/reader/s1",
        "{last}"
    );
    // The key policy does not allow Encrypt to the role.
    let e = sim.kms(
        &session,
        "Encrypt",
        &serde_json::json!({"KeyId": key, "Plaintext": "aGk="}),
    );
    assert_eq!(e.json()["__type"], "AccessDeniedException");
    // GetSessionToken with session credentials is refused; IAM calls as the role need a policy.
    assert_eq!(
        code(&sim.sts(&session, "GetSessionToken", &[]), 403),
        "AccessDenied"
    );
    assert_eq!(
        code(&sim.iam(&session, "ListUsers", &[]), 403),
        "AccessDenied"
    );
}

#[test]
fn session_tokens_are_required_checked_and_expire_on_the_simulated_clock() {
    let sim = start();
    let (alice, alice_arn) = sim.user("alice", &[]);
    let role = sim.iam(
        &root(),
        "CreateRole",
        &[
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", &trust(&alice_arn)),
            ("MaxSessionDuration", "7200"),
        ],
    );
    let role_arn = tag(&role, "Arn");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#;
    let r = sim.iam(
        &root(),
        "PutRolePolicy",
        &[
            ("RoleName", "r"),
            ("PolicyName", "l"),
            ("PolicyDocument", doc),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let session = assume(&sim, &alice, &role_arn, &[("DurationSeconds", "900")]).unwrap();
    let list = serde_json::json!({});
    assert_eq!(sim.kms(&session, "ListKeys", &list).status, 200);
    // Without its token, or with another: refused.
    let bare = Creds {
        token: None,
        ..session.clone()
    };
    assert_eq!(
        sim.kms(&bare, "ListKeys", &list).json()["__type"],
        "UnrecognizedClientException"
    );
    assert_eq!(
        code(&sim.sts(&bare, "GetCallerIdentity", &[]), 403),
        "InvalidClientTokenId"
    );
    let other = Creds {
        token: Some("bm90IHRoZSB0b2tlbg==".into()),
        ..session.clone()
    };
    assert_eq!(
        code(&sim.sts(&other, "GetCallerIdentity", &[]), 403),
        "InvalidClientTokenId"
    );
    // A token with a long-term key: refused.
    let stray = Creds {
        token: session.token.clone(),
        ..alice.clone()
    };
    assert_eq!(
        code(&sim.sts(&stray, "GetCallerIdentity", &[]), 403),
        "InvalidClientTokenId"
    );
    assert_eq!(
        sim.kms(&stray, "ListKeys", &list).json()["__type"],
        "UnrecognizedClientException"
    );
    // 899 seconds later it still works; at 900 it has expired.
    sim.clock.advance(899.0);
    assert_eq!(sim.kms(&session, "ListKeys", &list).status, 200);
    sim.clock.advance(1.0);
    let k = sim.kms(&session, "ListKeys", &list);
    assert_eq!(k.status, 400);
    assert_eq!(k.json()["__type"], "ExpiredTokenException");
    assert_eq!(
        code(&sim.sts(&session, "GetCallerIdentity", &[]), 403),
        "ExpiredToken"
    );
    // GetSessionToken: the user's own identity, refused by IAM.
    let r = sim.sts(&alice, "GetSessionToken", &[("DurationSeconds", "900")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let st = Creds {
        id: tag(&r, "AccessKeyId"),
        secret: tag(&r, "SecretAccessKey"),
        token: Some(tag(&r, "SessionToken")),
    };
    assert_eq!(
        tag(&sim.sts(&st, "GetCallerIdentity", &[]), "Arn"),
        alice_arn
    );
    assert_eq!(
        code(&sim.iam(&st, "GetUser", &[]), 403),
        "InvalidClientTokenId"
    );
    // Chained from GetSessionToken credentials: at most an hour.
    let chained = assume(&sim, &st, &role_arn, &[("DurationSeconds", "3601")])
        .err()
        .unwrap();
    assert_eq!(code(&chained, 400), "ValidationError");
    assert!(chained.body.contains("role chaining"), "{}", chained.body);
}

#[test]
fn durations_and_session_policies() {
    let sim = start();
    let (alice, alice_arn) = sim.user("alice", &[]);
    let r = sim.iam(
        &root(),
        "CreateRole",
        &[
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", &trust(&alice_arn)),
            ("MaxSessionDuration", "7200"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let role_arn = tag(&r, "Arn");
    assert_eq!(
        tag(
            &sim.iam(&root(), "GetRole", &[("RoleName", "r")]),
            "MaxSessionDuration"
        ),
        "7200"
    );
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}"#;
    assert_eq!(
        sim.iam(
            &root(),
            "PutRolePolicy",
            &[
                ("RoleName", "r"),
                ("PolicyName", "use"),
                ("PolicyDocument", doc)
            ]
        )
        .status,
        200
    );
    for (d, ok) in [
        ("899", false),
        ("900", true),
        ("7200", true),
        ("7201", false),
        ("43201", false),
    ] {
        let r = assume(&sim, &alice, &role_arn, &[("DurationSeconds", d)]);
        assert_eq!(r.is_ok(), ok, "{d}");
        if let Err(e) = r {
            assert_eq!(code(&e, 400), "ValidationError");
        }
    }
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "CreateRole",
                &[
                    ("RoleName", "r2"),
                    ("AssumeRolePolicyDocument", &trust(&alice_arn)),
                    ("MaxSessionDuration", "43201")
                ]
            ),
            400
        ),
        "ValidationError"
    );
    let key = sim.create_key();
    let blob = sim.encrypt(&key);
    // A session policy narrows the role to Decrypt.
    let only_decrypt = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#;
    let narrow = assume(&sim, &alice, &role_arn, &[("Policy", only_decrypt)]).unwrap();
    assert_eq!(
        sim.kms(
            &narrow,
            "Decrypt",
            &serde_json::json!({"CiphertextBlob": blob})
        )
        .status,
        200
    );
    let e = sim.kms(
        &narrow,
        "Encrypt",
        &serde_json::json!({"KeyId": key, "Plaintext": "aGk="}),
    );
    assert_eq!(e.json()["__type"], "AccessDeniedException");
    assert!(
        e.json()["Message"]
            .as_str()
            .unwrap()
            .contains("no session policy allows"),
        "{}",
        e.body
    );
    // It cannot widen it either: the role has no CreateKey.
    let wide = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    let widened = assume(&sim, &alice, &role_arn, &[("Policy", wide)]).unwrap();
    assert_eq!(
        sim.kms(&widened, "CreateKey", &serde_json::json!({}))
            .json()["__type"],
        "AccessDeniedException"
    );
    let full = assume(&sim, &alice, &role_arn, &[]).unwrap();
    assert_eq!(
        sim.kms(
            &full,
            "Encrypt",
            &serde_json::json!({"KeyId": key, "Plaintext": "aGk="})
        )
        .status,
        200
    );
    // A malformed session policy.
    assert_eq!(
        code(
            &assume(&sim, &alice, &role_arn, &[("Policy", "{")])
                .err()
                .unwrap(),
            400
        ),
        "MalformedPolicyDocument"
    );
}

#[test]
fn managed_policies_attach_detach_and_versions() {
    let sim = start();
    let (bob, _) = sim.user("bob", &[]);
    let list = serde_json::json!({});
    assert_eq!(
        sim.kms(&bob, "ListKeys", &list).json()["__type"],
        "AccessDeniedException"
    );
    let deny_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:ListKeys","Resource":"*"}]}"#;
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#;
    let r = sim.iam(
        &root(),
        "CreatePolicy",
        &[("PolicyName", "lister"), ("PolicyDocument", allow)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let arn = tag(&r, "Arn");
    assert_eq!(arn, "arn:aws:iam::111122223333:policy/lister");
    assert_eq!(tag(&r, "DefaultVersionId"), "v1");
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "CreatePolicy",
                &[("PolicyName", "LISTER"), ("PolicyDocument", allow)]
            ),
            409
        ),
        "EntityAlreadyExists"
    );
    assert_eq!(
        sim.iam(
            &root(),
            "AttachUserPolicy",
            &[("UserName", "bob"), ("PolicyArn", &arn)]
        )
        .status,
        200
    );
    assert_eq!(
        tag(
            &sim.iam(&root(), "GetPolicy", &[("PolicyArn", &arn)]),
            "AttachmentCount"
        ),
        "1"
    );
    assert_eq!(sim.kms(&bob, "ListKeys", &list).status, 200);
    let attached = sim.iam(&root(), "ListAttachedUserPolicies", &[("UserName", "bob")]);
    assert_eq!(tag(&attached, "PolicyArn"), arn);
    assert_eq!(
        code(
            &sim.iam(&root(), "DeletePolicy", &[("PolicyArn", &arn)]),
            409
        ),
        "DeleteConflict"
    );
    // A new default version takes effect for every holder.
    let v2 = sim.iam(
        &root(),
        "CreatePolicyVersion",
        &[
            ("PolicyArn", &arn),
            ("PolicyDocument", deny_all),
            ("SetAsDefault", "true"),
        ],
    );
    assert_eq!(tag(&v2, "VersionId"), "v2");
    assert_eq!(
        sim.kms(&bob, "ListKeys", &list).json()["__type"],
        "AccessDeniedException"
    );
    let v1 = sim.iam(
        &root(),
        "GetPolicyVersion",
        &[("PolicyArn", &arn), ("VersionId", "v1")],
    );
    assert_eq!(tag(&v1, "Document"), ebsim_iam::xml::encode_document(allow));
    assert_eq!(tag(&v1, "IsDefaultVersion"), "false");
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "GetPolicyVersion",
                &[("PolicyArn", &arn), ("VersionId", "v9")]
            ),
            404
        ),
        "NoSuchEntity"
    );
    assert_eq!(
        sim.iam(
            &root(),
            "DetachUserPolicy",
            &[("UserName", "bob"), ("PolicyArn", &arn)]
        )
        .status,
        200
    );
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "DetachUserPolicy",
                &[("UserName", "bob"), ("PolicyArn", &arn)]
            ),
            404
        ),
        "NoSuchEntity"
    );
    assert_eq!(
        sim.kms(&bob, "ListKeys", &list).json()["__type"],
        "AccessDeniedException"
    );
    // Two versions: DeletePolicy refuses until only the default one is left.
    assert_eq!(
        code(
            &sim.iam(&root(), "DeletePolicy", &[("PolicyArn", &arn)]),
            409
        ),
        "DeleteConflict"
    );
    assert_eq!(
        code(
            &sim.iam(&root(), "GetPolicy", &[("PolicyArn", "not-an-arn")]),
            400
        ),
        "ValidationError"
    );
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "AttachRolePolicy",
                &[("RoleName", "none"), ("PolicyArn", &arn)]
            ),
            404
        ),
        "NoSuchEntity"
    );
    let missing = "arn:aws:iam::111122223333:policy/missing";
    sim.iam(
        &root(),
        "CreateRole",
        &[
            ("RoleName", "x"),
            ("AssumeRolePolicyDocument", &trust("111122223333")),
        ],
    );
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "AttachRolePolicy",
                &[("RoleName", "x"), ("PolicyArn", missing)]
            ),
            404
        ),
        "NoSuchEntity"
    );
}

#[test]
fn pagination_over_150_users() {
    let sim = start();
    for i in 0..150 {
        let r = sim.iam(&root(), "CreateUser", &[("UserName", &format!("u{i:03}"))]);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut p = vec![("MaxItems", "40")];
        if let Some(m) = &marker {
            p.push(("Marker", m.as_str()));
        }
        let r = sim.iam(&root(), "ListUsers", &p);
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        names.extend(
            r.body
                .split("<UserName>")
                .skip(1)
                .map(|s| s.split('<').next().unwrap().to_owned()),
        );
        if tag(&r, "IsTruncated") == "false" {
            assert!(!r.body.contains("<Marker>"));
            break;
        }
        marker = Some(tag(&r, "Marker"));
    }
    assert_eq!(pages, 4);
    let expected: Vec<String> = (0..150).map(|i| format!("u{i:03}")).collect();
    assert_eq!(names, expected);
    assert_eq!(
        code(&sim.iam(&root(), "ListUsers", &[("MaxItems", "0")]), 400),
        "ValidationError"
    );
    assert_eq!(
        code(&sim.iam(&root(), "ListUsers", &[("MaxItems", "1001")]), 400),
        "ValidationError"
    );
}

#[test]
fn bad_input_gets_aws_codes_and_changes_nothing() {
    let sim = start();
    let (alice, alice_arn) = sim.user("alice", &[]);
    let before = sim.iam(&root(), "ListUsers", &[]).body;
    let roles_before = sim.iam(&root(), "ListRoles", &[]).body;
    let cases: Vec<(Response, u16, &str)> = vec![
        (sim.raw(&root(), "iam", b"Action=CreateUser&Version=2010-05-08&UserName=%zz"), 400, "MalformedQueryString"),
        (sim.raw(&root(), "iam", b"Action=CreateUser&Version=2010-05-08&UserName=%ff%fe"), 400, "MalformedQueryString"),
        (sim.raw(&root(), "iam", b"Action=CreateUser&Version=2010-05-08&UserName=a&UserName=b"), 400, "MalformedQueryString"),
        (sim.raw(&root(), "iam", b"Action=CreateUser&Version=2010-05-08&UserName=a%00b"), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", "bad name")]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", "a/b")]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", &"a".repeat(65))]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", "ok"), ("Path", "nopath")]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", "Alice")]), 409, "EntityAlreadyExists"),
        (sim.iam(&root(), "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", "{not json")]), 400, "MalformedPolicyDocument"),
        (sim.iam(&root(), "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Principal":{"AWS":"111122223333"}}]}"#)]), 400, "MalformedPolicyDocument"),
        (sim.iam(&root(), "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", &format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"{}\",\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{{\"AWS\":\"111122223333\"}}}}]}}", "a".repeat(2100)))]), 409, "LimitExceeded"),
        (sim.iam(&root(), "PutUserPolicy", &[("UserName", "alice"), ("PolicyName", "p"), ("PolicyDocument", r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":"*"}]}"#)]), 400, "MalformedPolicyDocument"),
        (sim.iam(&root(), "PutUserPolicy", &[("UserName", "alice"), ("PolicyName", "p"), ("PolicyDocument", &format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"kms:*","Resource":"*","Sid":"{}"}}]}}"#, "a".repeat(2100)))]), 409, "LimitExceeded"),
        (sim.iam(&root(), "UpdateAccessKey", &[("UserName", "alice"), ("AccessKeyId", &alice.id), ("Status", "Paused")]), 400, "ValidationError"),
    ];
    for (r, status, want) in cases {
        assert_eq!(code(&r, status), want, "{}", r.body);
    }
    assert_eq!(
        sim.iam(&root(), "ListUsers", &[])
            .body
            .split("<RequestId>")
            .next(),
        before.split("<RequestId>").next()
    );
    assert_eq!(
        sim.iam(&root(), "ListRoles", &[])
            .body
            .split("<RequestId>")
            .next(),
        roles_before.split("<RequestId>").next()
    );
    let policies = sim.iam(&root(), "ListUserPolicies", &[("UserName", "alice")]);
    assert!(
        policies.body.contains("<PolicyNames></PolicyNames>"),
        "{}",
        policies.body
    );
    let _ = alice_arn;
}
