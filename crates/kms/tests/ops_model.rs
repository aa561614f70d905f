//! The operation table against AWS's own description of KMS: botocore's service model at the
//! version the test suite pins (`tests/data/kms-service-2.json`, botocore 1.43.11). Every
//! operation of the model is in the table and nothing else is; `DryRun`, the audited members
//! and the grant operations agree with the request shapes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use ebsim_kms::GRANT_OPERATIONS;
use ebsim_kms::ops::{Access, operation, operations};
use serde_json::Value;

fn model() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/kms-service-2.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn input_members(model: &Value, op: &str) -> BTreeSet<String> {
    let Some(shape) = model["operations"][op]["input"]["shape"].as_str() else {
        return BTreeSet::new();
    };
    model["shapes"][shape]["members"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// Members ebsim accepts beyond this botocore version's shapes (AWS added them later).
const EXTENSIONS: &[(&str, &str)] = &[
    ("CreateGrant", "GranteeServicePrincipal"),
    ("CreateGrant", "RetiringServicePrincipal"),
    ("ListGrants", "GranteeServicePrincipal"),
    ("ListRetirableGrants", "RetiringServicePrincipal"),
];

#[test]
fn the_table_covers_the_model_exactly() {
    let model = model();
    let in_model: BTreeSet<&str> = model["operations"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let in_table: BTreeSet<&str> = operations().iter().map(|o| o.name).collect();
    assert_eq!(in_model.len(), 54);
    assert_eq!(in_table, in_model);
}

#[test]
fn dry_run_and_audited_members_follow_the_request_shapes() {
    let model = model();
    for o in operations() {
        let members = input_members(&model, o.name);
        assert_eq!(o.dry_run, members.contains("DryRun"), "{}: DryRun", o.name);
        for a in o.audited {
            assert!(
                members.contains(*a) || EXTENSIONS.contains(&(o.name, a)),
                "{} audits {a}, which its request does not have",
                o.name
            );
        }
        for (op, m) in EXTENSIONS {
            if *op == o.name {
                assert!(!members.contains(*m), "{op}.{m} is in the model now");
            }
        }
    }
}

#[test]
fn grant_operations_are_the_models_and_the_tables() {
    let model = model();
    let enum_values: Vec<&str> = model["shapes"]["GrantOperation"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // The same values; the validation message lists them in ebsim's own order.
    assert_eq!(
        GRANT_OPERATIONS.iter().copied().collect::<BTreeSet<_>>(),
        enum_values.iter().copied().collect::<BTreeSet<_>>()
    );
    let from_table: BTreeSet<&str> = operations()
        .iter()
        .filter(|o| o.grant)
        .flat_map(|o| o.actions.iter().map(|a| a.strip_prefix("kms:").unwrap()))
        .collect();
    assert_eq!(from_table, enum_values.into_iter().collect());
}

#[test]
fn implemented_operations_are_classified() {
    for name in [
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "ReEncrypt",
        "DescribeKey",
        "ListKeys",
    ] {
        let o = operation(name).unwrap();
        assert!(
            o.implemented && o.access == Access::Read && !o.blocking,
            "{name}"
        );
    }
    for name in [
        "CreateKey",
        "PutKeyPolicy",
        "CreateGrant",
        "ScheduleKeyDeletion",
    ] {
        let o = operation(name).unwrap();
        assert!(
            o.implemented && o.access == Access::Write && o.blocking,
            "{name}"
        );
    }
    let implemented = operations().iter().filter(|o| o.implemented).count();
    assert_eq!(implemented, 34, "54 operations, 20 not implemented");
}
