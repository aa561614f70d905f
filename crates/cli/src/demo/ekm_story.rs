//! `ebsim demo ekm`: a SaaS app (the Workato EKM example) brings the customer's own KMS key.
//! The vendor's role in its account, the statement pasted into the customer's key policy, the
//! app's check with an Encrypt/Decrypt round trip as the role, the rotation recommendation,
//! and each documented failure cause, demonstrated and diagnosed.

use std::path::Path;

use ebsim_iam::QueryService;
use ebsim_kms_client::{HttpConfig, Identity, KmsClient, RetryPolicy};
use ebsim_workspaces::Simulator;
use ebsim_workspaces::ekm::{self, EkmError};
use serde_json::{Value, json};

use super::report::{Kind, Report, Section, str_at};
use super::story::{Trail, code_of, policy_with};
use crate::CliError;

/// The vendor's account and role (the source's example name).
const VENDOR_ACCOUNT: &str = "222233334444";
const ROLE: &str = "arn:aws:iam::222233334444:role/Workato_EKM";
const OTHER_ROLE: &str = "arn:aws:iam::222233334444:role/Other_EKM";
const STEPS: u32 = 6;

fn step(n: u32, title: impl Into<String>) -> Section {
    Section::new(Kind::Step { n, of: STEPS }, title)
}

/// The vendor role's own identity policy: Encrypt and Decrypt on customers' keys (each
/// customer's key policy decides whose).
pub(crate) fn vendor_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "arn:aws:kms:*:*:key/*"}]})
}

/// [`vendor_policy`] as printed.
pub(crate) fn vendor_policy_lines() -> Vec<String> {
    vec![
        "{\"Version\": \"2012-10-17\", \"Statement\": [".into(),
        " {\"Effect\": \"Allow\", \"Action\": [\"kms:Encrypt\", \"kms:Decrypt\"],".into(),
        "  \"Resource\": \"arn:aws:kms:*:*:key/*\"}".into(),
        "]}".into(),
    ]
}

/// An IAM action in the vendor's account, as its root; a user or role that already exists
/// (a data dir the story ran in before) is kept.
fn vendor_iam(client: &KmsClient, action: &str, params: &[(&str, &str)]) -> Result<(), CliError> {
    let vendor = Identity::Principal(format!("arn:aws:iam::{VENDOR_ACCOUNT}:root"));
    match client.query_as(&vendor, QueryService::Iam, action, params) {
        Ok(_) => Ok(()),
        Err(ebsim_kms_client::ClientError::Service { type_name, .. })
            if type_name == "EntityAlreadyExists" =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// One `ekm connect` as the app runs it: the outcome (`valid` or the cause) and its text.
fn connect(
    client: &KmsClient,
    key: &str,
    role: &str,
) -> (String, Vec<String>, Option<ekm::EkmReport>) {
    match ekm::validate(client, key, role) {
        Ok(r) => {
            let mut lines = vec![format!(
                "ekm connect: valid. Encrypt allowed by statement \"{}\", Decrypt by \"{}\"; the round trip as the role returned the same bytes.",
                r.encrypt_allowed_by.clone().unwrap_or_default(),
                r.decrypt_allowed_by.clone().unwrap_or_default()
            )];
            lines.extend(
                r.recommendations
                    .iter()
                    .map(|x| format!("recommendation: {x}")),
            );
            ("valid".into(), lines, Some(r))
        }
        Err(e) => (cause_name(&e), diagnosis(&e), None),
    }
}

fn cause_name(e: &EkmError) -> String {
    serde_json::to_value(e.cause())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn diagnosis(e: &EkmError) -> Vec<String> {
    vec![
        format!("ekm connect: {e}"),
        format!("diagnosis: {}", e.cause()),
        format!("fix: {}", e.fix()),
    ]
}

/// Runs the EKM story.
pub(crate) fn run(
    client: &KmsClient,
    sim: &Simulator,
    dir: &Path,
) -> Result<(Report, Vec<Value>), CliError> {
    let mut trail = Trail::new(sim)?;
    let mut report = Report {
        story: "ekm",
        title: "ebsim demo ekm — a SaaS app uses the customer's KMS key (docs/key-flow.md)".into(),
        ..Report::default()
    };
    report
        .facts
        .insert("data_dir".into(), json!(dir.display().to_string()));
    report.facts.insert("role_arn".into(), json!(ROLE));

    let mut s1 = step(
        1,
        format!(
            "The vendor creates its app's IAM role in its own account ({VENDOR_ACCOUNT}): {ROLE}. The app calls KMS as a session of this role."
        ),
    );
    let app = ekm::app_principal(ROLE);
    vendor_iam(client, "CreateUser", &[("UserName", ekm::APP_USER)])?;
    let trust = ekm::trust_policy(&app).to_string();
    vendor_iam(
        client,
        "CreateRole",
        &[
            ("RoleName", "Workato_EKM"),
            ("AssumeRolePolicyDocument", &trust),
        ],
    )?;
    s1.text(format!(
        "(ebsim iam create-role Workato_EKM --account {VENDOR_ACCOUNT} --trust-policy trust.json)"
    ));
    s1.text(format!(
        "Its trust policy lets the app's own principal, {app}, assume it (sts:AssumeRole); the app's calls are made as the session arn:aws:sts::{VENDOR_ACCOUNT}:assumed-role/Workato_EKM/{}.",
        ekm::SESSION_NAME
    ));
    s1.notes.push("the vendor's role: IAM, no KMS call".into());
    report.sections.push(s1);

    let created = client.call(&Identity::Default, "CreateKey",
        json!({"Description": "ebsim demo: EKM key", "KeySpec": "SYMMETRIC_DEFAULT", "Origin": "AWS_KMS"}))?;
    let key = str_at(&created, &["KeyMetadata", "Arn"])
        .unwrap_or_default()
        .to_owned();
    report.facts.insert("key_arn".into(), json!(key));
    let mut s2 = step(
        2,
        "The customer creates a symmetric key whose material KMS makes (key type symmetric, origin KMS).",
    );
    s2.text(format!("Its ARN, to give to the app: {key}"));
    s2.calls(trail.take()?);
    report.sections.push(s2);

    let policy = policy_with(client, &key, ekm::policy_statement(ROLE))?;
    client.call(
        &Identity::Default,
        "PutKeyPolicy",
        json!({"KeyId": key, "PolicyName": "default", "Policy": policy.to_string()}),
    )?;
    let mut s3 = step(
        3,
        "The customer pastes the app's statement (ebsim ekm policy-statement) into the key policy, inside the Statement array, after a comma:",
    );
    s3.raw(ekm::policy_statement_lines(ROLE));
    s3.calls(trail.take()?);
    report.sections.push(s3);

    let (outcome, lines, _) = connect(client, &key, ROLE);
    let mut s4 = step(
        4,
        "The customer gives the app the key ARN; the app checks it (ebsim ekm connect). The vendor's role has no identity policy yet:",
    );
    for l in lines {
        s4.text(l);
    }
    s4.outcome = Some(outcome);
    s4.calls(trail.take()?);
    report.sections.push(s4);

    vendor_iam(
        client,
        "PutRolePolicy",
        &[
            ("RoleName", "Workato_EKM"),
            ("PolicyName", "ekm"),
            ("PolicyDocument", &vendor_policy().to_string()),
        ],
    )?;
    let (outcome, lines, _) = connect(client, &key, ROLE);
    let mut s5 = step(
        5,
        "The vendor attaches its role's identity policy (ebsim iam put-policy), as a role using a key of another account needs both sides:",
    );
    s5.raw(vendor_policy_lines());
    for l in lines {
        s5.text(l);
    }
    s5.outcome = Some(outcome);
    s5.calls(trail.take()?);
    report.sections.push(s5);

    client.call(
        &Identity::Default,
        "EnableKeyRotation",
        json!({"KeyId": key}),
    )?;
    let (outcome, lines, _) = connect(client, &key, ROLE);
    let mut s6 = step(
        6,
        "As the document recommends, the customer turns on yearly automatic rotation (EnableKeyRotation); the app's data stays readable, since KMS keeps the old material.",
    );
    s6.notes.push("rotate".into());
    for l in lines {
        s6.text(l);
    }
    s6.outcome = Some(outcome);
    s6.calls(trail.take()?);
    report.sections.push(s6);

    report
        .sections
        .push(cause_policy(client, &key, &mut trail)?);
    let mut l2 = Section::new(Kind::Lesson(2), "cause 2: a wrong or malformed ARN");
    let (o1, lines, _) = connect(client, &format!("{key} "), ROLE);
    l2.text("The ARN pasted with a stray space after it:");
    for l in lines {
        l2.text(l);
    }
    let missing = format!(
        "{}00000000-0000-4000-8000-000000000000",
        &key[..key.len().saturating_sub(36)]
    );
    let (o2, lines, _) = connect(client, &missing, ROLE);
    l2.text("The ARN of a key that does not exist:");
    for l in lines {
        l2.text(l);
    }
    l2.outcome = Some(if o1 == o2 { o1 } else { format!("{o1}, {o2}") });
    l2.calls(trail.take()?);
    report.sections.push(l2);

    let mut l3 = Section::new(Kind::Lesson(3), "cause 3: KMS cannot be reached");
    let (outcome, lines) = unreachable(&key)?;
    l3.text("The app's KMS endpoint does not answer (here: a port nobody listens on):");
    l3.notes.push("KMS unreachable: no call arrives".into());
    for l in lines {
        l3.text(l);
    }
    l3.outcome = Some(outcome);
    l3.calls(trail.take()?);
    report.sections.push(l3);

    let mut l4 = Section::new(
        Kind::Lesson(4),
        "not one of the three: a role the key policy does not name",
    );
    let (outcome, lines, _) = connect(client, &key, OTHER_ROLE);
    l4.text(format!(
        "The app checks the key as {OTHER_ROLE}, which no statement names:"
    ));
    for l in lines {
        l4.text(l);
    }
    l4.text("Step 4 showed the other case the document does not list: the key policy names the role, but the role has no identity policy of its own.");
    l4.outcome = Some(outcome);
    l4.calls(trail.take()?);
    report.sections.push(l4);
    Ok((report, trail.all))
}

/// Lesson 1: the document's own example (a comment after a statement), and a statement put
/// beside `Statement` instead of inside it.
fn cause_policy(client: &KmsClient, key: &str, trail: &mut Trail<'_>) -> Result<Section, CliError> {
    let mut s = Section::new(
        Kind::Lesson(1),
        "cause 1: a key policy that is not valid JSON, or a statement outside Statement",
    );
    let with_comment = format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [\n  {{\"Sid\": \"Enable IAM User Permissions\", \"Effect\": \"Allow\",\n   \"Principal\": {{\"AWS\": \"arn:aws:iam::111122223333:root\"}}, \"Action\": \"kms:*\", \"Resource\": \"*\"}}, /* Comma before next object */\n  {}\n]}}",
        ekm::policy_statement(ROLE)
    );
    let outside = json!({"Version": "2012-10-17",
        "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}],
        "Sid": "Allow use of the key by the EKM app", "Effect": "Allow",
        "Principal": {"AWS": ROLE}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"})
    .to_string();
    let mut outcomes = Vec::new();
    for (what, text) in [
        (
            "The document's example, pasted with its /* Comma before next object */ comment:",
            with_comment,
        ),
        (
            "The statement's elements pasted beside Statement instead of inside it:",
            outside,
        ),
    ] {
        s.text(what);
        let put = client.call(
            &Identity::Default,
            "PutKeyPolicy",
            json!({"KeyId": key, "PolicyName": "default", "Policy": text}),
        );
        let code = match &put {
            Ok(_) => "ok".to_owned(),
            Err(e) => code_of(e),
        };
        s.text(format!(
            "PutKeyPolicy: {code}; the key keeps its previous policy."
        ));
        if let Err(e) = ebsim_kms::policy::PolicyDocument::parse_key_policy(&text) {
            s.text(format!(
                "diagnosis: line {}, column {}: {}",
                e.line, e.column, e.message
            ));
            if let Some(h) = &e.hint {
                s.text(format!("fix: {h}"));
            }
        }
        outcomes.push(code);
    }
    outcomes.dedup();
    s.outcome = Some(outcomes.join(", "));
    s.calls(trail.take()?);
    Ok(s)
}

/// Lesson 3: a KMS endpoint that does not answer.
fn unreachable(key: &str) -> Result<(String, Vec<String>), CliError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(CliError::io("find a free port on", "127.0.0.1"))?
        .port();
    let config = HttpConfig::new(&format!("http://127.0.0.1:{port}"))?
        .retry(RetryPolicy::none())
        .timeouts(
            std::time::Duration::from_millis(500),
            std::time::Duration::from_millis(500),
        );
    let dead = KmsClient::http(config)?;
    let (outcome, lines, _) = connect(&dead, key, ROLE);
    Ok((outcome, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_statement_and_vendor_policy_are_the_applied_ones() {
        let parsed: Value =
            serde_json::from_str(&ekm::policy_statement_lines(ROLE).join("\n")).expect("JSON");
        assert_eq!(parsed, ekm::policy_statement(ROLE));
        let parsed: Value = serde_json::from_str(&vendor_policy_lines().join("\n")).expect("JSON");
        assert_eq!(parsed, vendor_policy());
    }
}
