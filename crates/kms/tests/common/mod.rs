//! Helpers shared by the KMS integration tests: a KMS on a manual clock, calls through the
//! JSON entry point that expect success or failure, and a fresh key.

#![allow(dead_code)] // each test file uses its own subset

use std::sync::Arc;

use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig, KmsError, ManualClock};
use serde_json::{Value, json};

/// The account root of the default account.
pub const ROOT: &str = "arn:aws:iam::111122223333:root";

/// The account root as a caller.
pub fn root() -> Caller {
    Caller::new(ROOT)
}

/// An in-memory KMS whose clock the test moves (starting at 2027-01-15).
pub fn kms() -> (Kms, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_800_000_000.0));
    (
        Kms::in_memory(KmsConfig::default().clock(clock.clone())),
        clock,
    )
}

/// Calls `op` and returns its response; panics with the request if it fails.
pub fn ok(kms: &Kms, caller: &Caller, op: &str, req: Value) -> Value {
    match kms.call_json(caller, op, req.clone()) {
        Ok(v) => v,
        Err(e) => panic!("{op} {req} failed: {e}"),
    }
}

/// Calls `op` and returns its error; panics with the request if it succeeds.
pub fn fails(kms: &Kms, caller: &Caller, op: &str, req: Value) -> KmsError {
    match kms.call_json(caller, op, req.clone()) {
        Ok(v) => panic!("{op} {req} should fail, got {v}"),
        Err(e) => e,
    }
}

/// The error type `op` fails with.
pub fn kind(kms: &Kms, caller: &Caller, op: &str, req: Value) -> ErrorType {
    fails(kms, caller, op, req).error_type
}

/// A new symmetric key made by the root: (key id, key ARN).
pub fn create_key(kms: &Kms) -> (String, String) {
    let k = ok(kms, &root(), "CreateKey", json!({}));
    let field = |name: &str| {
        k["KeyMetadata"][name]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    (field("KeyId"), field("Arn"))
}

/// An IAM action (Query protocol, docs/iam.md) as `caller`; panics with the action if it
/// fails. The answer's leaf elements in document order.
pub fn iam(
    kms: &Kms,
    caller: &Caller,
    action: &str,
    params: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action);
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let out = ebsim_iam::QueryRequest::parse(form.finish().as_bytes())
        .and_then(|req| kms.query(caller, ebsim_iam::QueryService::Iam, &req, "test"))
        .unwrap_or_else(|e| panic!("{action} {params:?} failed: {e}"));
    ebsim_iam::xml::leaves(&out).unwrap_or_else(|e| panic!("{action}: {e}"))
}

/// The text of the first leaf `name` of an IAM answer ("" if none).
pub fn leaf(leaves: &[(String, String)], name: &str) -> String {
    leaves
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A trust policy letting `principal` assume the role.
pub fn trust(principal: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})
    .to_string()
}
