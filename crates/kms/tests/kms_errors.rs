//! The remaining error types of the error table (docs/kms.md), pagination, audit record shape, and the
//! blob fuzz corpus replay.

use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig};
use serde_json::{Value, json};

const ROOT: &str = "arn:aws:iam::111122223333:root";

fn kms_with_key() -> (Kms, String) {
    let kms = Kms::in_memory(KmsConfig::default());
    let k = kms
        .call_json(&Caller::new(ROOT), "CreateKey", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    let id = k["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (kms, id)
}

fn err_type(r: Result<Value, ebsim_kms::KmsError>) -> Option<ErrorType> {
    r.err().map(|e| e.error_type)
}

#[test]
fn dry_run_marker_and_throttling() {
    let (kms, id) = kms_with_key();
    let root = Caller::new(ROOT);
    let r = kms.call_json(
        &root,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": id, "NumberOfBytes": 64, "DryRun": true}),
    );
    assert_eq!(err_type(r), Some(ErrorType::DryRunOperationException));
    let r = kms.call_json(
        &root,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": ROOT, "Operations": ["Decrypt"], "DryRun": true}),
    );
    assert_eq!(err_type(r), Some(ErrorType::DryRunOperationException));
    let grants = kms
        .call_json(&root, "ListGrants", json!({"KeyId": id}))
        .unwrap_or_default();
    assert_eq!(
        grants["Grants"].as_array().map(Vec::len),
        Some(0),
        "a dry run changes nothing"
    );
    let r = kms.call_json(&root, "ListKeys", json!({"Marker": "not-a-marker"}));
    assert_eq!(err_type(r), Some(ErrorType::InvalidMarkerException));
    for _ in 0..2 {
        kms.call_json(&root, "CreateKey", json!({}))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let p1 = kms
        .call_json(&root, "ListKeys", json!({"Limit": 2}))
        .unwrap_or_default();
    assert_eq!(p1["Truncated"], json!(true));
    let p2 = kms
        .call_json(
            &root,
            "ListKeys",
            json!({"Limit": 2, "Marker": p1["NextMarker"]}),
        )
        .unwrap_or_default();
    assert_eq!(
        (p2["Keys"].as_array().map(Vec::len), p2["Truncated"].clone()),
        (Some(1), json!(false))
    );
    assert!(p2.get("NextMarker").is_none());
    kms.admin_json(
        &root,
        "SetFault",
        json!({"Operation": "DescribeKey", "Kind": "throttle", "RatePerSecond": 1}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let results: Vec<Option<ErrorType>> = (0..5)
        .map(|_| err_type(kms.call_json(&root, "DescribeKey", json!({"KeyId": id}))))
        .collect();
    assert!(
        results.contains(&Some(ErrorType::ThrottlingException)),
        "{results:?}"
    );
    kms.admin_json(
        &root,
        "SetFault",
        json!({"Operation": "*", "Kind": "outage"}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        err_type(kms.call_json(&root, "ListKeys", json!({}))),
        Some(ErrorType::KMSInternalException)
    );
    let r = kms.admin_json(
        &root,
        "SetFault",
        json!({"Operation": "*", "Kind": "flood"}),
    );
    assert_eq!(err_type(r), Some(ErrorType::ValidationException));
}

#[test]
fn refused_calls_are_audited_with_their_error() {
    let (kms, id) = kms_with_key();
    let bob = Caller::new("arn:aws:iam::111122223333:user/bob");
    let r = kms.call_json(&bob, "DisableKey", json!({"KeyId": id}));
    assert_eq!(err_type(r), Some(ErrorType::AccessDeniedException));
    let rec = kms.audit_records().pop().unwrap_or_default();
    assert_eq!(rec["eventName"], json!("DisableKey"));
    assert_eq!(rec["eventSource"], json!("kms.amazonaws.com"));
    assert_eq!(rec["eventType"], json!("AwsApiCall"));
    assert_eq!(rec["readOnly"], json!(false));
    assert_eq!(rec["errorCode"], json!("AccessDeniedException"));
    assert_eq!(rec["userIdentity"]["type"], json!("IAMUser"));
    assert_eq!(rec["userIdentity"]["accountId"], json!("111122223333"));
    assert_eq!(rec["resources"][0]["type"], json!("AWS::KMS::Key"));
    assert_eq!(rec["responseElements"], Value::Null);
    let t = rec["eventTime"].as_str().unwrap_or_default();
    assert!(t.len() == 20 && t.ends_with('Z'), "{t}");
    assert!(rec["eventID"].is_string() && rec["requestID"].is_string());
    let created = kms
        .call_json(
            &Caller::new(ROOT),
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": ROOT, "Operations": ["Decrypt"]}),
        )
        .unwrap_or_default();
    let rec = kms.audit_records().pop().unwrap_or_default();
    assert_eq!(rec["responseElements"]["grantId"], created["GrantId"]);
    assert!(
        !rec.to_string()
            .contains(created["GrantToken"].as_str().unwrap_or("-")),
        "no token in the trail"
    );
}

#[test]
fn blob_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/blob_parser");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.map(|e| e.path()).unwrap_or_default()).unwrap_or_default();
        ebsim_kms::internal::fuzz_blob_parser(&data);
        for cut in 0..data.len() {
            ebsim_kms::internal::fuzz_blob_parser(&data[..cut]);
        }
        n += 1;
    }
    assert!(n >= 4, "corpus has {n} files");
    assert!(ebsim_kms::internal::parse_blob(&[0xEB, 1, 0]).is_none());
}
