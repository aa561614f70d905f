//! The EKM (bring-your-own-key) check a SaaS app such as Workato runs when a customer gives it
//! a KMS key: the statement to paste into the key policy, and the validation of the key ARN
//! with a diagnosis naming which of the three documented causes a failure is.

use std::fmt;

use ebsim_kms::policy::{ConditionValues, Decision, PolicyDocument, PolicyError};
use ebsim_kms_api::types::crypto::{DecryptRequest, EncryptRequest};
use ebsim_kms_api::types::keys::DescribeKeyRequest;
use ebsim_kms_api::types::policy::GetKeyPolicyRequest;
use ebsim_kms_api::types::rotation::GetKeyRotationStatusRequest;
use ebsim_kms_api::types::{SecretBlob, StringMap};
use ebsim_kms_client::{ClientError, Identity, KmsClient};
use serde::Serialize;
use serde_json::{Value, json};

/// The app role of the source's example (in the vendor's account).
pub const EXAMPLE_ROLE_ARN: &str = "arn:aws:iam::222233334444:role/Workato_EKM";

/// The IAM user the app runs as in the vendor's account; it assumes the app role.
pub const APP_USER: &str = "ekm-app";

/// The session name of the app's AssumeRole.
pub const SESSION_NAME: &str = "ekm-validation";

/// The app's own principal for `role_arn`: the user [`APP_USER`] of the role's account, whose
/// AssumeRole the role's trust policy must allow.
pub fn app_principal(role_arn: &str) -> String {
    let account = role_arn.split(':').nth(4).unwrap_or_default();
    format!("arn:aws:iam::{account}:user/{APP_USER}")
}

/// The app role's trust policy: `app` (see [`app_principal`]) may assume it.
pub fn trust_policy(app: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": app}, "Action": "sts:AssumeRole"}]})
}

/// The key-policy statement that lets `role_arn` use a key for Encrypt and Decrypt.
pub fn policy_statement(role_arn: &str) -> Value {
    json!({
        "Sid": "Allow use of the key by the EKM app",
        "Effect": "Allow",
        "Principal": {"AWS": role_arn},
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*"
    })
}

/// [`policy_statement`] as text to paste, its elements in the order a policy is written (Sid,
/// Effect, Principal, Action, Resource), one line each.
pub fn policy_statement_lines(role_arn: &str) -> Vec<String> {
    let s = policy_statement(role_arn);
    vec![
        "{".into(),
        format!("  \"Sid\": {},", s["Sid"]),
        format!("  \"Effect\": {},", s["Effect"]),
        format!("  \"Principal\": {{\"AWS\": {}}},", s["Principal"]["AWS"]),
        format!(
            "  \"Action\": {},",
            s["Action"].to_string().replace(',', ", ")
        ),
        format!("  \"Resource\": {}", s["Resource"]),
        "}".into(),
    ]
}

/// The three causes the source lists for a failed validation (plus the key's own state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EkmCause {
    /// The key policy is not valid JSON, or the statement is not inside `Statement`.
    PolicyInvalid,
    /// The ARN has extra spaces or characters, or is not the right key.
    WrongArn,
    /// KMS itself is having an outage.
    KmsOutage,
    /// Not one of the three: the key policy is valid, but no statement lets this role use
    /// the key (the statement is missing, or names another role).
    RoleNotInKeyPolicy,
    /// Not one of the three: the key policy lets the role use the key, but the role has no
    /// identity policy of its own allowing it (a key in another account needs both).
    RoleIdentityPolicyMissing,
    /// Not one of the three: the app cannot assume its role (no such role, or its trust
    /// policy does not name the app).
    RoleNotAssumable,
}

impl fmt::Display for EkmCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PolicyInvalid => {
                "cause 1: the key policy is not valid JSON or the statement is not inside Statement"
            }
            Self::WrongArn => {
                "cause 2: the ARN has extra spaces or characters, or is not the right key"
            }
            Self::KmsOutage => "cause 3: AWS KMS is having an outage or cannot be reached",
            Self::RoleNotInKeyPolicy => {
                "not one of the three documented causes: the key policy is valid JSON, but no statement in it lets this role use the key"
            }
            Self::RoleIdentityPolicyMissing => {
                "not one of the three documented causes: the key policy lets the role use the key, but the role has no identity policy of its own allowing it"
            }
            Self::RoleNotAssumable => {
                "not one of the three documented causes: the app cannot assume its role (the role does not exist, or its trust policy does not name the app)"
            }
        })
    }
}

/// A failed EKM validation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EkmError {
    /// An ARN is malformed.
    #[error("the {which} {value:?} is malformed at character {position}: {problem}")]
    ArnSyntax {
        /// `key ARN` or `role ARN`.
        which: &'static str,
        /// The value given.
        value: String,
        /// 1-based position of the first offending character.
        position: usize,
        /// What is wrong there.
        problem: String,
    },
    /// KMS has no such key.
    #[error("key {key_arn} was not found (NotFoundException)")]
    KeyNotFound {
        /// The key.
        key_arn: String,
    },
    /// The key is not a symmetric encryption key.
    #[error(
        "key {key_arn} has key spec {key_spec}; EKM needs a symmetric encryption key (SYMMETRIC_DEFAULT)"
    )]
    NotSymmetric {
        /// The key.
        key_arn: String,
        /// Its spec.
        key_spec: String,
    },
    /// The key is not enabled.
    #[error("key {key_arn} is {key_state}; enable it (or cancel its deletion) first")]
    KeyNotEnabled {
        /// The key.
        key_arn: String,
        /// Its state.
        key_state: String,
    },
    /// The key policy does not parse.
    #[error("the key policy of {key_arn} is not valid: line {}, column {}: {}", error.line, error.column, error.message)]
    PolicyNotValid {
        /// The key.
        key_arn: String,
        /// Where and why.
        error: PolicyError,
    },
    /// The key policy does not let the role call an operation.
    #[error("the key policy of {key_arn} does not allow {role_arn} to call {action} ({decision})")]
    PolicyDoesNotAllow {
        /// The key.
        key_arn: String,
        /// The app role.
        role_arn: String,
        /// `kms:Encrypt` or `kms:Decrypt`.
        action: &'static str,
        /// What the evaluator decided.
        decision: String,
    },
    /// The key policy allows the role, but KMS refused the role's call because no identity
    /// policy of the role allows it.
    #[error(
        "the key policy of {key_arn} allows {role_arn}, but KMS refused its {operation}: no identity policy of the role allows {action}"
    )]
    RoleLacksIdentityPolicy {
        /// The key.
        key_arn: String,
        /// The app role.
        role_arn: String,
        /// `Encrypt` or `Decrypt`.
        operation: &'static str,
        /// `kms:Encrypt` or `kms:Decrypt`.
        action: &'static str,
    },
    /// The app's AssumeRole of its role was refused.
    #[error("{app} could not assume {role_arn}: {source}")]
    AssumeRole {
        /// The app role.
        role_arn: String,
        /// The app's principal.
        app: String,
        /// What STS answered.
        #[source]
        source: Box<ClientError>,
    },
    /// A KMS call failed.
    #[error("{operation} failed: {source}")]
    Kms {
        /// The operation.
        operation: &'static str,
        /// What KMS (or the transport) answered.
        #[source]
        source: Box<ClientError>,
    },
    /// The round trip returned other bytes than were encrypted.
    #[error("the Encrypt/Decrypt round trip returned different bytes")]
    RoundTripMismatch,
}

fn is_outage(e: &ClientError) -> bool {
    match e.kms_error_type().map(|t| t.name()) {
        Some("KMSInternalException" | "DependencyTimeoutException" | "ThrottlingException") => true,
        Some(_) => false,
        None => e.is_retryable(),
    }
}

impl EkmError {
    /// Which of the documented causes this is.
    pub fn cause(&self) -> EkmCause {
        match self {
            Self::ArnSyntax { .. }
            | Self::KeyNotFound { .. }
            | Self::NotSymmetric { .. }
            | Self::KeyNotEnabled { .. } => EkmCause::WrongArn,
            Self::PolicyNotValid { .. } => EkmCause::PolicyInvalid,
            Self::PolicyDoesNotAllow { .. } => EkmCause::RoleNotInKeyPolicy,
            Self::RoleLacksIdentityPolicy { .. } => EkmCause::RoleIdentityPolicyMissing,
            Self::AssumeRole { source, .. } if is_outage(source) => EkmCause::KmsOutage,
            Self::AssumeRole { .. } => EkmCause::RoleNotAssumable,
            Self::Kms { source, .. } if is_outage(source) => EkmCause::KmsOutage,
            Self::Kms { source, .. } => match source.kms_error_type().map(|t| t.name()) {
                Some("AccessDeniedException") => EkmCause::PolicyInvalid,
                _ => EkmCause::WrongArn,
            },
            Self::RoundTripMismatch => EkmCause::KmsOutage,
        }
    }

    /// How to fix it.
    pub fn fix(&self) -> String {
        match self {
            Self::ArnSyntax { .. } => "copy the ARN again from the KMS console, without spaces or other characters around it".into(),
            Self::KeyNotFound { .. } => "check the region, account and key id: the ARN must name an existing key".into(),
            Self::NotSymmetric { .. } => "create a symmetric encryption key (KMS-generated material) and use its ARN".into(),
            Self::KeyNotEnabled { .. } => "enable the key (ebsim key enable KEY) and validate again".into(),
            Self::PolicyNotValid { error, .. } => error.hint.clone().unwrap_or_else(|| {
                "fix the JSON at that position (no comments; a comma between statements, none after the last)".into()
            }),
            Self::PolicyDoesNotAllow { role_arn, .. } => format!(
                "add the statement of `ebsim ekm policy-statement --role-arn {role_arn}` inside the key policy's Statement array, or correct the role ARN in its Principal"
            ),
            Self::RoleLacksIdentityPolicy { role_arn, key_arn, .. } => format!(
                "the vendor attaches an identity policy to {role_arn} allowing kms:Encrypt and kms:Decrypt on {key_arn} (ebsim iam put-policy {role_arn} FILE); a key in another account needs both that and the key policy"
            ),
            Self::AssumeRole { role_arn, app, .. } => format!(
                "the vendor creates {role_arn} with a trust policy letting {app} assume it (ebsim iam create-role NAME --trust-policy FILE)"
            ),
            Self::Kms { source, .. } if is_outage(source) => "KMS is unavailable: check the AWS Health Dashboard (or that the endpoint runs), wait and validate again".into(),
            Self::Kms { .. } => "check that the key policy lets the app role use the key".into(),
            Self::RoundTripMismatch => "validate again; if it persists, KMS is misbehaving".into(),
        }
    }
}

/// A passed EKM validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EkmReport {
    /// The key.
    pub key_arn: String,
    /// The app role.
    pub role_arn: String,
    /// The key policy statement that allowed Encrypt (its Sid).
    pub encrypt_allowed_by: Option<String>,
    /// The key policy statement that allowed Decrypt (its Sid).
    pub decrypt_allowed_by: Option<String>,
    /// The session of the role the round trip ran as (STS AssumeRole by [`app_principal`]).
    pub session_arn: String,
    /// When that session expires (ISO 8601, simulated time).
    pub session_expiration: String,
    /// Whether automatic rotation is on (when KMS said).
    pub rotation_enabled: Option<bool>,
    /// Recommendations (e.g. switch rotation on).
    pub recommendations: Vec<String>,
}

fn arn_error(which: &'static str, value: &str, position: usize, problem: &str) -> EkmError {
    EkmError::ArnSyntax {
        which,
        value: value.to_owned(),
        position,
        problem: problem.to_owned(),
    }
}

fn check_chars(
    which: &'static str,
    value: &str,
    allowed: impl Fn(char) -> bool,
) -> Result<(), EkmError> {
    for (i, c) in value.chars().enumerate() {
        if c.is_whitespace() {
            return Err(arn_error(
                which,
                value,
                i + 1,
                "a space (or other blank) that is not part of an ARN",
            ));
        }
        if !allowed(c) {
            return Err(arn_error(
                which,
                value,
                i + 1,
                &format!("the character {c:?} cannot appear in an ARN"),
            ));
        }
    }
    Ok(())
}

/// Checks a KMS key ARN: `arn:aws:kms:REGION:ACCOUNT:key/KEY-ID`.
///
/// # Errors
/// [`EkmError::ArnSyntax`] naming the position of the first problem.
pub fn check_key_arn(arn: &str) -> Result<(), EkmError> {
    const W: &str = "key ARN";
    check_chars(W, arn, |c| c.is_ascii_alphanumeric() || ":/-_".contains(c))?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") || parts[2] != "kms" {
        return Err(arn_error(
            W,
            arn,
            1,
            "expected arn:aws:kms:REGION:ACCOUNT:key/KEY-ID",
        ));
    }
    let account_pos = parts[..4].iter().map(|p| p.len() + 1).sum::<usize>() + 1;
    if parts[4].len() != 12 || !parts[4].bytes().all(|b| b.is_ascii_digit()) {
        return Err(arn_error(
            W,
            arn,
            account_pos,
            "the account must be 12 digits",
        ));
    }
    let res_pos = account_pos + parts[4].len() + 1;
    let Some(id) = parts[5].strip_prefix("key/") else {
        return Err(arn_error(
            W,
            arn,
            res_pos,
            "expected key/KEY-ID (an alias ARN is not a key ARN)",
        ));
    };
    let uuid_ok = id.len() == 36
        && id.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let mrk_ok = id
        .strip_prefix("mrk-")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !uuid_ok && !mrk_ok {
        return Err(arn_error(
            W,
            arn,
            res_pos + 4,
            "the key id must be a UUID (or mrk- and 32 hex digits)",
        ));
    }
    Ok(())
}

/// Checks an IAM role ARN: `arn:aws:iam::ACCOUNT:role/[PATH/]NAME`.
///
/// # Errors
/// [`EkmError::ArnSyntax`] naming the position of the first problem.
pub fn check_role_arn(arn: &str) -> Result<(), EkmError> {
    const W: &str = "role ARN";
    check_chars(W, arn, |c| {
        c.is_ascii_alphanumeric() || ":/+=,.@_-".contains(c)
    })?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6
        || parts[0] != "arn"
        || !parts[1].starts_with("aws")
        || parts[2] != "iam"
        || !parts[3].is_empty()
    {
        return Err(arn_error(
            W,
            arn,
            1,
            "expected arn:aws:iam::ACCOUNT:role/NAME",
        ));
    }
    let account_pos = "arn:".len() + parts[1].len() + ":iam::".len() + 1;
    if parts[4].len() != 12 || !parts[4].bytes().all(|b| b.is_ascii_digit()) {
        return Err(arn_error(
            W,
            arn,
            account_pos,
            "the account must be 12 digits",
        ));
    }
    match parts[5].strip_prefix("role/") {
        Some(name) if !name.is_empty() && !name.ends_with('/') => Ok(()),
        _ => Err(arn_error(W, arn, account_pos + 13, "expected role/NAME")),
    }
}

/// The session principal a role's calls are made as.
pub fn role_session(role_arn: &str) -> String {
    let account = role_arn.split(':').nth(4).unwrap_or_default();
    let name = role_arn.rsplit('/').next().unwrap_or_default();
    format!("arn:aws:sts::{account}:assumed-role/{name}/{SESSION_NAME}")
}

/// Validates `key_arn` for the app role `role_arn` as the app does: ARN syntax, the key exists
/// and is a symmetric, enabled key, the key policy (evaluated, not string-matched) lets the
/// role Encrypt and Decrypt, and a live Encrypt→Decrypt round trip as a session of the role
/// that [`app_principal`] takes on with STS AssumeRole. The key's
/// owner (the client's default identity) reads the key and its policy.
///
/// # Errors
/// The first check that fails, as an [`EkmError`] whose [`EkmError::cause`] names which of
/// the documented causes it is.
pub fn validate(client: &KmsClient, key_arn: &str, role_arn: &str) -> Result<EkmReport, EkmError> {
    check_key_arn(key_arn)?;
    check_role_arn(role_arn)?;
    let kms = |operation: &'static str| {
        move |e: ClientError| {
            if e.kms_error_type().map(|t| t.name()) == Some("NotFoundException")
                && operation == "DescribeKey"
            {
                EkmError::KeyNotFound {
                    key_arn: key_arn.to_owned(),
                }
            } else {
                EkmError::Kms {
                    operation,
                    source: Box::new(e),
                }
            }
        }
    };
    let owner = Identity::Default;
    let described = client
        .send(
            &owner,
            &DescribeKeyRequest {
                key_id: Some(key_arn.to_owned()),
                ..Default::default()
            },
        )
        .map_err(kms("DescribeKey"))?;
    let m = &described.key_metadata;
    if m.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(EkmError::NotSymmetric {
            key_arn: key_arn.to_owned(),
            key_spec: m.key_spec.clone(),
        });
    }
    if m.key_state != "Enabled" {
        return Err(EkmError::KeyNotEnabled {
            key_arn: key_arn.to_owned(),
            key_state: m.key_state.clone(),
        });
    }
    let policy = client
        .send(
            &owner,
            &GetKeyPolicyRequest {
                key_id: Some(key_arn.to_owned()),
                policy_name: Some("default".to_owned()),
            },
        )
        .map_err(kms("GetKeyPolicy"))?;
    let text = policy.policy.as_str();
    let doc = PolicyDocument::parse_key_policy(text).map_err(|error| EkmError::PolicyNotValid {
        key_arn: key_arn.to_owned(),
        error,
    })?;
    let session = role_session(role_arn);
    let role_account = role_arn.split(':').nth(4).unwrap_or_default();
    let conditions = ConditionValues::new().with("kms:CallerAccount", role_account);
    let mut allowed_by = Vec::new();
    for action in ["kms:Encrypt", "kms:Decrypt"] {
        match doc.allows(&session, action, key_arn, &conditions) {
            Decision::Allow { sid } => allowed_by.push(sid),
            other => {
                return Err(EkmError::PolicyDoesNotAllow {
                    key_arn: key_arn.to_owned(),
                    role_arn: role_arn.to_owned(),
                    action,
                    decision: match other {
                        Decision::ExplicitDeny { sid } => {
                            format!("explicitly denied by statement {}", sid.unwrap_or_default())
                        }
                        Decision::DelegatedToIam { .. } => {
                            "only the account root is named; the role itself is not".into()
                        }
                        _ => "no statement names the role for this action".into(),
                    },
                });
            }
        }
    }
    // The app acts as the role through a real AssumeRole: the role's trust policy decides.
    let app = app_principal(role_arn);
    let role = client
        .assume_role(&Identity::Principal(app.clone()), role_arn, SESSION_NAME)
        .map_err(|e| EkmError::AssumeRole {
            role_arn: role_arn.to_owned(),
            app,
            source: Box::new(e),
        })?;
    // The key policy allowed the role: an AccessDenied now is the role's own side.
    let round_trip = |operation: &'static str, action: &'static str| {
        move |e: ClientError| {
            let denied = e.kms_error_type().map(|t| t.name()) == Some("AccessDeniedException");
            if denied && e.to_string().contains("no identity-based policy allows") {
                EkmError::RoleLacksIdentityPolicy {
                    key_arn: key_arn.to_owned(),
                    role_arn: role_arn.to_owned(),
                    operation,
                    action,
                }
            } else {
                EkmError::Kms {
                    operation,
                    source: Box::new(e),
                }
            }
        }
    };
    let probe = b"ebsim EKM validation";
    let context: StringMap = [("purpose".to_owned(), "ekm-validation".to_owned())].into();
    let enc = client
        .send(
            &role,
            &EncryptRequest {
                key_id: Some(key_arn.to_owned()),
                plaintext: Some(SecretBlob::from(probe.to_vec())),
                encryption_context: Some(context.clone()),
                ..Default::default()
            },
        )
        .map_err(round_trip("Encrypt", "kms:Encrypt"))?;
    let dec = client
        .send(
            &role,
            &DecryptRequest {
                key_id: Some(key_arn.to_owned()),
                ciphertext_blob: Some(enc.ciphertext_blob),
                encryption_context: Some(context),
                ..Default::default()
            },
        )
        .map_err(round_trip("Decrypt", "kms:Decrypt"))?;
    if dec.plaintext.expose() != probe {
        return Err(EkmError::RoundTripMismatch);
    }
    let rotation = client
        .send(
            &owner,
            &GetKeyRotationStatusRequest {
                key_id: Some(key_arn.to_owned()),
            },
        )
        .ok()
        .map(|r| r.key_rotation_enabled);
    let mut recommendations = Vec::new();
    if rotation == Some(false) {
        recommendations.push(format!(
            "automatic key rotation is off; switch it on (yearly): ebsim key enable-rotation {key_arn}"
        ));
    }
    let mut sids = allowed_by.into_iter();
    let (session_arn, session_expiration) = match &role {
        Identity::Session(s) => (s.principal.clone(), s.expiration.clone()),
        _ => (session, String::new()),
    };
    Ok(EkmReport {
        key_arn: key_arn.to_owned(),
        role_arn: role_arn.to_owned(),
        session_arn,
        session_expiration,
        encrypt_allowed_by: sids.next().flatten(),
        decrypt_allowed_by: sids.next().flatten(),
        rotation_enabled: rotation,
        recommendations,
    })
}
