//! The EKM check against the real KMS: the app's role lives in the vendor's account
//! (222233334444) and gets the key through the pasted statement; each failure is named as one
//! of the source's three causes.

use ebsim::Simulator;
use ebsim::kms_client::Identity;
use ebsim::workspaces::ekm::{self, EXAMPLE_ROLE_ARN, EkmCause, EkmError};
use ebsim_iam::QueryService;
use serde_json::{Value, json};

/// An IAM action in the vendor's account (222233334444), as its root.
fn vendor_iam(sim: &Simulator, action: &str, params: &[(&str, &str)]) {
    let vendor = Identity::Principal("arn:aws:iam::222233334444:root".into());
    sim.kms()
        .query_as(&vendor, QueryService::Iam, action, params)
        .unwrap_or_else(|e| panic!("{action}: {e}"));
}

/// The vendor's app user and role (whose trust policy lets the app assume it), without the
/// role's identity policy yet, and the customer's key.
fn setup_without_role_policy() -> (Simulator, String) {
    let sim = Simulator::in_memory();
    vendor_iam(&sim, "CreateUser", &[("UserName", ekm::APP_USER)]);
    let trust = ekm::trust_policy(&ekm::app_principal(EXAMPLE_ROLE_ARN)).to_string();
    vendor_iam(
        &sim,
        "CreateRole",
        &[
            ("RoleName", "Workato_EKM"),
            ("AssumeRolePolicyDocument", &trust),
        ],
    );
    let key = sim
        .kms()
        .call(&Identity::Default, "CreateKey", json!({}))
        .expect("CreateKey");
    let arn = key["KeyMetadata"]["Arn"].as_str().expect("arn").to_owned();
    (sim, arn)
}

fn setup() -> (Simulator, String) {
    let (sim, arn) = setup_without_role_policy();
    // The vendor's own IAM policy for its role (cross-account use needs both sides).
    let iam = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": arn}]});
    vendor_iam(
        &sim,
        "PutRolePolicy",
        &[
            ("RoleName", "Workato_EKM"),
            ("PolicyName", "ekm"),
            ("PolicyDocument", &iam.to_string()),
        ],
    );
    (sim, arn)
}

fn put_policy(sim: &Simulator, key: &str, policy: &str) {
    sim.kms()
        .call(
            &Identity::Default,
            "PutKeyPolicy",
            json!({"KeyId": key, "PolicyName": "default", "Policy": policy}),
        )
        .expect("PutKeyPolicy");
}

fn default_policy(sim: &Simulator, key: &str) -> Value {
    let p = sim
        .kms()
        .call(
            &Identity::Default,
            "GetKeyPolicy",
            json!({"KeyId": key, "PolicyName": "default"}),
        )
        .expect("GetKeyPolicy");
    serde_json::from_str(p["Policy"].as_str().expect("policy")).expect("json")
}

#[test]
fn pasted_statement_passes_and_a_missing_statement_is_told_apart() {
    let (sim, key) = setup();
    let err = ekm::validate(sim.kms(), &key, EXAMPLE_ROLE_ARN).expect_err("not yet allowed");
    assert_eq!(err.cause(), EkmCause::RoleNotInKeyPolicy, "{err}");
    assert!(err.fix().contains("ekm policy-statement"), "{}", err.fix());

    let mut policy = default_policy(&sim, &key);
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(ekm::policy_statement(EXAMPLE_ROLE_ARN));
    put_policy(&sim, &key, &policy.to_string());
    let report = ekm::validate(sim.kms(), &key, EXAMPLE_ROLE_ARN).expect("valid");
    assert_eq!(
        report.encrypt_allowed_by.as_deref(),
        Some("Allow use of the key by the EKM app")
    );
    assert_eq!(report.rotation_enabled, Some(false));
    assert!(
        report
            .recommendations
            .iter()
            .any(|r| r.contains("rotation"))
    );
    // The round trip really ran as the role.
    let trail = sim.audit_records().expect("audit");
    assert!(trail.iter().any(|r| {
        r["eventName"] == "Encrypt"
            && r["userIdentity"]["arn"]
                .as_str()
                .is_some_and(|a| a.contains("222233334444:assumed-role/Workato_EKM"))
    }));

    sim.kms()
        .call(
            &Identity::Default,
            "EnableKeyRotation",
            json!({"KeyId": key}),
        )
        .expect("rotation");
    let report = ekm::validate(sim.kms(), &key, EXAMPLE_ROLE_ARN).expect("valid");
    assert!(report.recommendations.is_empty());
}

#[test]
fn typos_wrong_keys_and_outages_are_told_apart() {
    let (sim, key) = setup();
    let mut policy = default_policy(&sim, &key);
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(ekm::policy_statement(EXAMPLE_ROLE_ARN));
    put_policy(&sim, &key, &policy.to_string());

    let err =
        ekm::validate(sim.kms(), &format!("{key} "), EXAMPLE_ROLE_ARN).expect_err("trailing space");
    assert!(
        matches!(err, EkmError::ArnSyntax { position, .. } if position == key.len() + 1),
        "{err}"
    );
    assert_eq!(err.cause(), EkmCause::WrongArn);
    let missing = format!(
        "{}00000000-0000-4000-8000-000000000000",
        &key[..key.len() - 36]
    );
    let err = ekm::validate(sim.kms(), &missing, EXAMPLE_ROLE_ARN).expect_err("no such key");
    assert!(matches!(err, EkmError::KeyNotFound { .. }), "{err}");
    let rsa = sim
        .kms()
        .call(
            &Identity::Default,
            "CreateKey",
            json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
        )
        .expect("rsa");
    let err = ekm::validate(
        sim.kms(),
        rsa["KeyMetadata"]["Arn"].as_str().expect("arn"),
        EXAMPLE_ROLE_ARN,
    )
    .expect_err("asymmetric");
    assert!(err.to_string().contains("RSA_2048"), "{err}");

    sim.inject_fault("*", ebsim::Fault::Outage).expect("fault");
    let err = ekm::validate(sim.kms(), &key, EXAMPLE_ROLE_ARN).expect_err("outage");
    assert_eq!(err.cause(), EkmCause::KmsOutage, "{err}");
    sim.clear_faults().expect("clear");
    ekm::validate(sim.kms(), &key, EXAMPLE_ROLE_ARN).expect("valid again");
}

/// The statement is pasted, but the vendor's role has no identity policy of its own: not
/// cause 1 (the policy is valid), and the fix says what the vendor must do. A role the key
/// policy does not name is told apart too.
#[test]
fn missing_role_identity_policy_and_unnamed_role_are_not_cause_one() {
    let (sim, key) = setup_without_role_policy();
    let mut policy = default_policy(&sim, &key);
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(ekm::policy_statement(EXAMPLE_ROLE_ARN));
    put_policy(&sim, &key, &policy.to_string());
    let err = ekm::validate(sim.kms(), &key, EXAMPLE_ROLE_ARN).expect_err("no role policy");
    assert_eq!(err.cause(), EkmCause::RoleIdentityPolicyMissing, "{err}");
    assert!(
        matches!(
            err,
            EkmError::RoleLacksIdentityPolicy {
                operation: "Encrypt",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.fix().contains("identity policy"), "{}", err.fix());
    assert!(!err.cause().to_string().starts_with("cause 1"));

    let other = "arn:aws:iam::222233334444:role/Other_EKM";
    let err = ekm::validate(sim.kms(), &key, other).expect_err("not named");
    assert_eq!(err.cause(), EkmCause::RoleNotInKeyPolicy, "{err}");
    assert!(err.fix().contains(other), "{}", err.fix());
}

/// The app acts as its role through a real AssumeRole: the report names the session, and a
/// trust policy that no longer names the app stops it (not one of the three causes).
#[test]
fn the_app_assumes_its_role_and_the_trust_policy_decides() {
    let (sim, key) = setup();
    let mut policy = default_policy(&sim, &key);
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(ekm::policy_statement(EXAMPLE_ROLE_ARN));
    put_policy(&sim, &key, &policy.to_string());
    let report = ekm::validate(sim.kms(), &key, EXAMPLE_ROLE_ARN).expect("valid");
    assert_eq!(
        report.session_arn,
        "arn:aws:sts::222233334444:assumed-role/Workato_EKM/ekm-validation"
    );
    assert!(report.session_expiration.ends_with('Z'), "{report:?}");

    // The trust policy names the vendor's account instead of the app: the app user has no
    // identity policy allowing sts:AssumeRole, so the AssumeRole is refused.
    let account_only = ekm::trust_policy("arn:aws:iam::222233334444:root").to_string();
    vendor_iam(
        &sim,
        "UpdateAssumeRolePolicy",
        &[
            ("RoleName", "Workato_EKM"),
            ("PolicyDocument", &account_only),
        ],
    );
    let err = ekm::validate(sim.kms(), &key, EXAMPLE_ROLE_ARN).expect_err("not assumable");
    assert_eq!(err.cause(), EkmCause::RoleNotAssumable, "{err}");
    assert!(err.to_string().contains("AccessDenied"), "{err}");
    assert!(err.fix().contains("trust policy"), "{}", err.fix());
}
