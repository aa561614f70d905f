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
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
        "GetPublicKey",
        "DeriveSharedSecret",
        "GetKeyLastUsage",
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
    // Data key pairs only read the state but may generate an RSA_4096 pair: off the workers.
    for name in ["GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"] {
        let o = operation(name).unwrap();
        assert!(
            o.implemented && o.access == Access::Read && o.blocking,
            "{name}"
        );
    }
    let implemented = operations().iter().filter(|o| o.implemented).count();
    assert_eq!(implemented, 54, "every operation is implemented");
}

/// The rules each request type declares agree with the model: every member exists in the
/// operation's input shape (or is a known extension), every member the model requires is
/// declared required, and each model constraint (length, range, enum, pattern) the type
/// declares has the model's bounds and values. `Rule::ServiceRange` and `Rule::Service` are
/// the service's own, narrower rules and have no model counterpart.
#[test]
fn request_constraints_follow_the_model() {
    use ebsim_kms::types::{ALL, Rule};
    let model = model();
    let implemented: BTreeSet<&str> = operations()
        .iter()
        .filter(|o| o.implemented)
        .map(|o| o.name)
        .collect();
    for (op, members) in ALL {
        let shape_name = model["operations"][op]["input"]["shape"].as_str().unwrap();
        let shape = &model["shapes"][shape_name];
        let required: BTreeSet<&str> = shape["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for m in *members {
            let Some(member) = shape["members"].get(m.name) else {
                assert!(
                    EXTENSIONS.contains(&(op, m.name)),
                    "{op}.{} is not in the model",
                    m.name
                );
                continue;
            };
            let target = &model["shapes"][member["shape"].as_str().unwrap()];
            let min = target["min"].as_i64();
            let max = target["max"].as_i64();
            if required.contains(m.name) {
                assert!(
                    m.rules
                        .iter()
                        .any(|r| matches!(r, Rule::Required | Rule::RequiredUnless(_))),
                    "{op}.{} is required by the model",
                    m.name
                );
            }
            for rule in m.rules {
                match *rule {
                    // A length rule may narrow the model's (GrantOperationList has no minimum
                    // in the model; the service refuses an empty list).
                    Rule::Length { min: lo, max: hi } => {
                        assert!(lo as i64 >= min.unwrap_or(0), "{op}.{} min", m.name);
                        if let Some(model_max) = max {
                            assert!(
                                hi.is_some_and(|h| h as i64 <= model_max),
                                "{op}.{} max",
                                m.name
                            );
                        }
                    }
                    Rule::LengthBetween { min: lo, max: hi } => {
                        assert_eq!(
                            (min, max),
                            (Some(lo as i64), Some(hi as i64)),
                            "{op}.{}",
                            m.name
                        );
                    }
                    // The service may narrow a range (ListAliases takes 1–100 of the model's
                    // 1–1000), never widen it.
                    Rule::Range { min: lo, max: hi } => {
                        assert!(
                            min.is_some_and(|m| lo >= m) && max.is_some_and(|m| hi <= m),
                            "{op}.{}: {lo}..={hi} outside the model's {min:?}..={max:?}",
                            m.name
                        );
                    }
                    Rule::Enum(values) => {
                        let model_values: Vec<&str> = target["enum"]
                            .as_array()
                            .unwrap_or_else(|| panic!("{op}.{} has no enum", m.name))
                            .iter()
                            .filter_map(Value::as_str)
                            .collect();
                        for v in values {
                            assert!(model_values.contains(v), "{op}.{}: {v}", m.name);
                        }
                    }
                    Rule::ItemEnum(values) => {
                        let item = &model["shapes"][target["member"]["shape"].as_str().unwrap()];
                        let model_values: Vec<&str> = item["enum"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter_map(Value::as_str)
                            .collect();
                        // The same values; the message lists them in AWS's order.
                        let declared: BTreeSet<&str> = values.iter().copied().collect();
                        let model_set: BTreeSet<&str> = model_values.into_iter().collect();
                        assert_eq!(declared, model_set, "{op}.{}", m.name);
                    }
                    Rule::Pattern(p) => {
                        assert_eq!(target["pattern"].as_str(), Some(p), "{op}.{}", m.name);
                    }
                    _ => {}
                }
            }
        }
    }
    let typed: BTreeSet<&str> = ALL.iter().map(|(op, _)| *op).collect();
    assert_eq!(
        typed, implemented,
        "every implemented operation has a request type"
    );
}
