//! The EKM check: statement, ARN syntax with positions, policy evaluation, round trip, and the
//! diagnosis of each failure as one of the source's three causes.

use std::sync::Arc;

use ebsim_kms_client::KmsClient;
use ebsim_test_support::kms_double as support;
use ebsim_workspaces::ekm::{self, EXAMPLE_ROLE_ARN, EkmCause, EkmError};
use support::KmsDouble;

fn setup(policy: &str) -> (Arc<KmsDouble>, KmsClient, String) {
    let kms = Arc::new(KmsDouble::default());
    let key = kms.create_key("SYMMETRIC_DEFAULT");
    kms.0
        .lock()
        .expect("lock")
        .policies
        .insert(key.clone(), policy.to_owned());
    let client = KmsClient::in_process(kms.clone());
    (kms, client, key)
}

fn policy_with(statement: &serde_json::Value) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            statement
        ]
    })
    .to_string()
}

#[test]
fn pasted_statement_validates_and_rotation_off_is_a_recommendation() {
    let stmt = ekm::policy_statement(EXAMPLE_ROLE_ARN);
    assert_eq!(stmt["Principal"]["AWS"], EXAMPLE_ROLE_ARN);
    let (kms, client, key) = setup(&policy_with(&stmt));
    let report = ekm::validate(&client, &key, EXAMPLE_ROLE_ARN).expect("valid");
    assert_eq!(
        report.encrypt_allowed_by.as_deref(),
        Some("Allow use of the key by the EKM app")
    );
    assert_eq!(report.rotation_enabled, Some(false));
    assert!(report.recommendations[0].contains("rotation"));
    // The app assumed the role as its own principal, then encrypted as the session.
    let session = "arn:aws:sts::222233334444:assumed-role/Workato_EKM/ekm-validation";
    assert_eq!(report.session_arn, session);
    let calls = kms.0.lock().expect("lock").calls.clone();
    let at = |op: &str, who: &str| calls.iter().position(|(o, p, _)| o == op && p == who);
    let assumed = at("AssumeRole", &ekm::app_principal(EXAMPLE_ROLE_ARN)).expect("AssumeRole");
    assert!(
        at("Encrypt", session).is_some_and(|e| e > assumed),
        "{calls:?}"
    );
}

#[test]
fn arn_typos_are_reported_with_their_position() {
    let (_kms, client, key) = setup(&policy_with(&ekm::policy_statement(EXAMPLE_ROLE_ARN)));
    let padded = format!(" {key}");
    let err = ekm::validate(&client, &padded, EXAMPLE_ROLE_ARN).expect_err("space");
    assert!(
        matches!(err, EkmError::ArnSyntax { position: 1, .. }),
        "{err}"
    );
    assert_eq!(err.cause(), EkmCause::WrongArn);
    let err = ekm::validate(&client, &format!("{key}\""), EXAMPLE_ROLE_ARN).expect_err("quote");
    assert!(
        matches!(err, EkmError::ArnSyntax { position, .. } if position == key.len() + 1),
        "{err}"
    );
    let err = ekm::validate(&client, &key, "arn:aws:iam::22223333444:role/Workato_EKM")
        .expect_err("account");
    assert!(err.to_string().contains("12 digits"), "{err}");
    let other = key.replace("00000001", "00000009");
    let err = ekm::validate(&client, &other, EXAMPLE_ROLE_ARN).expect_err("not found");
    assert!(matches!(err, EkmError::KeyNotFound { .. }));
    assert_eq!(err.cause(), EkmCause::WrongArn);
}

#[test]
fn invalid_policies_are_cause_one_and_an_unnamed_role_is_not() {
    // The source's example with its /* ... */ comment: not JSON.
    let (_k, client, key) = setup("{\"Version\": \"2012-10-17\", \"Statement\": [ /* ... */ ]}");
    let err = ekm::validate(&client, &key, EXAMPLE_ROLE_ARN).expect_err("comment");
    assert!(matches!(err, EkmError::PolicyNotValid { .. }), "{err}");
    assert_eq!(err.cause(), EkmCause::PolicyInvalid);
    // A valid policy that does not name the role (the statement was never added).
    let (_k, client, key) = setup(&policy_with(&ekm::policy_statement(
        "arn:aws:iam::222233334444:role/Other",
    )));
    let err = ekm::validate(&client, &key, EXAMPLE_ROLE_ARN).expect_err("not allowed");
    assert!(
        matches!(
            err,
            EkmError::PolicyDoesNotAllow {
                action: "kms:Encrypt",
                ..
            }
        ),
        "{err}"
    );
    // Valid JSON with the statement inside `Statement`: not cause 1 but its own diagnosis.
    assert_eq!(err.cause(), EkmCause::RoleNotInKeyPolicy);
    assert!(err.fix().contains("Statement"));
}

#[test]
fn outage_is_cause_three_and_asymmetric_keys_are_refused() {
    let (kms, client, key) = setup(&policy_with(&ekm::policy_statement(EXAMPLE_ROLE_ARN)));
    kms.0.lock().expect("lock").outage = true;
    let err = ekm::validate(&client, &key, EXAMPLE_ROLE_ARN).expect_err("outage");
    assert_eq!(err.cause(), EkmCause::KmsOutage, "{err}");
    kms.0.lock().expect("lock").outage = false;
    let rsa = kms.create_key("RSA_2048");
    let err = ekm::validate(&client, &rsa, EXAMPLE_ROLE_ARN).expect_err("rsa");
    assert!(err.to_string().contains("RSA_2048"), "{err}");
}

#[test]
fn the_statement_to_paste_is_the_statement_in_policy_order() {
    let lines = ekm::policy_statement_lines(EXAMPLE_ROLE_ARN);
    let parsed: serde_json::Value = serde_json::from_str(&lines.join("\n")).expect("JSON");
    assert_eq!(parsed, ekm::policy_statement(EXAMPLE_ROLE_ARN));
    assert!(lines[1].contains("\"Sid\"") && lines[5].contains("\"Resource\""));
}
