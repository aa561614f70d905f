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
