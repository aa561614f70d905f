//! The IAM state survives reopening a data dir (journal and snapshot): users with their
//! access keys and policies, roles with trust policies, managed policies and their versions,
//! STS sessions with their tokens (docs/iam.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_iam::{QueryRequest, QueryService};
use ebsim_kms::{Caller, Kms, KmsConfig};

const ROOT: &str = "arn:aws:iam::111122223333:root";

fn q(
    kms: &Kms,
    caller: &Caller,
    service: QueryService,
    action: &str,
    params: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action);
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let req = QueryRequest::parse(form.finish().as_bytes()).unwrap();
    let out = kms
        .query(caller, service, &req, "r")
        .unwrap_or_else(|e| panic!("{action}: {e}"));
    ebsim_iam::xml::leaves(&out).unwrap()
}

fn field(leaves: &[(String, String)], name: &str) -> String {
    leaves
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap()
}

#[test]
fn iam_state_and_sessions_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let root = Caller::new(ROOT);
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#;
    let (key_id, session_id, token, policy_arn) = {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
        q(
            &kms,
            &root,
            QueryService::Iam,
            "CreateUser",
            &[("UserName", "alice")],
        );
        let key = q(
            &kms,
            &root,
            QueryService::Iam,
            "CreateAccessKey",
            &[("UserName", "alice")],
        );
        let p = q(
            &kms,
            &root,
            QueryService::Iam,
            "CreatePolicy",
            &[("PolicyName", "list"), ("PolicyDocument", allow)],
        );
        let policy_arn = field(&p, "Arn");
        q(
            &kms,
            &root,
            QueryService::Iam,
            "AttachUserPolicy",
            &[("UserName", "alice"), ("PolicyArn", &policy_arn)],
        );
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}]}"#;
        let role = q(
            &kms,
            &root,
            QueryService::Iam,
            "CreateRole",
            &[("RoleName", "r"), ("AssumeRolePolicyDocument", trust)],
        );
        q(
            &kms,
            &root,
            QueryService::Iam,
            "PutRolePolicy",
            &[
                ("RoleName", "r"),
                ("PolicyName", "p"),
                ("PolicyDocument", allow),
            ],
        );
        let alice = Caller::new("arn:aws:iam::111122223333:user/alice");
        let s = q(
            &kms,
            &alice,
            QueryService::Sts,
            "AssumeRole",
            &[("RoleArn", &field(&role, "Arn")), ("RoleSessionName", "s1")],
        );
        (
            field(&key, "AccessKeyId"),
            field(&s, "AccessKeyId"),
            field(&s, "SessionToken"),
            policy_arn,
        )
    };
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
    let cred = kms.lookup_access_key(&key_id).expect("the user's key");
    assert_eq!(cred.principal, "arn:aws:iam::111122223333:user/alice");
    let s = kms.lookup_session(&session_id).expect("the session");
    assert_eq!(
        s.credential.principal,
        "arn:aws:sts::111122223333:assumed-role/r/s1"
    );
    assert_eq!(s.token.as_str(), token);
    assert!(!s.expired);
    // The attached managed policy and the role's inline policy are evaluated again.
    let alice = Caller::new("arn:aws:iam::111122223333:user/alice");
    assert!(
        kms.call_json(&alice, "ListKeys", serde_json::json!({}))
            .is_ok()
    );
    let session = Caller::new(s.credential.principal.clone()).in_session(session_id.clone());
    assert!(
        kms.call_json(&session, "ListKeys", serde_json::json!({}))
            .is_ok()
    );
    let v = q(
        &kms,
        &root,
        QueryService::Iam,
        "GetPolicy",
        &[("PolicyArn", &policy_arn)],
    );
    assert_eq!(field(&v, "AttachmentCount"), "1");
    drop(kms);
    // A third opening, after the snapshot the second one wrote.
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
    assert!(kms.lookup_access_key(&key_id).is_some());
    assert_eq!(
        kms.lookup_session(&session_id)
            .expect("session")
            .token
            .as_str(),
        token
    );
}
