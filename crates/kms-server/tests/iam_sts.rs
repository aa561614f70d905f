//! IAM and STS over the wire against the real KMS (in memory, on a manual clock): routing by
//! the scope's service, the Query decoder and XML answers, users and access keys, roles and
//! AssumeRole with its trust policy (docs/iam.md). Sessions, managed policies, pagination and
//! bad input: `sts_sessions.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod iam_common;

use iam_common::*;

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
