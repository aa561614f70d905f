//! The IAM and STS parts of the KMS state (docs/iam.md): access keys of users and roles,
//! customer managed policies with their versions, and the sessions STS issued. They live in
//! the one KMS state because every KMS call is authorized against them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::policy::PolicyDocument;

/// `Active` or `Inactive` (an inactive key fails authentication like an unknown one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum KeyStatus {
    /// Signs requests.
    #[default]
    Active,
    /// Kept, but refused.
    Inactive,
}

impl KeyStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }
}

/// A long-term access key (`AKIA…`) of a user (or, made before roles took sessions only, of
/// a role). Its `Debug` leaves the secret out.
#[derive(Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    #[serde(with = "crate::state::secret_string")]
    pub secret: Zeroizing<String>,
    #[serde(default)]
    pub status: KeyStatus,
    #[serde(default)]
    pub created: f64,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// One version of a managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, … (never reused).
    pub id: String,
    pub document: String,
    pub created: f64,
}

/// A customer managed policy.
#[derive(Debug, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub arn: String,
    pub name: String,
    pub path: String,
    /// `ANPA…`.
    pub id: String,
    pub account: String,
    pub description: Option<String>,
    pub created: f64,
    pub updated: f64,
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    /// The number of the last version made.
    pub last_version: u32,
    /// The default version, compiled.
    #[serde(skip)]
    pub compiled: Option<Arc<PolicyDocument>>,
}

impl ManagedPolicy {
    /// The text of the default version.
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }

    /// Compiles the default version (it was checked when stored).
    pub fn compile(&mut self) -> Result<(), String> {
        let text = self
            .default_document()
            .ok_or_else(|| format!("managed policy {} has no default version", self.arn))?;
        let doc = PolicyDocument::parse_identity_policy(text)
            .map_err(|e| format!("managed policy {}: {e}", self.arn))?;
        self.compiled = Some(Arc::new(doc));
        Ok(())
    }
}

/// What issued a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionKind {
    /// AssumeRole: the principal is `arn:aws:sts::A:assumed-role/ROLE/SESSION`.
    AssumedRole,
    /// GetSessionToken: the principal is the user (or root) itself.
    SessionToken,
    /// A session a service minted for itself (`aws:ec2-infrastructure/…`), not an IAM role.
    Service,
}

/// Temporary credentials STS issued (`ASIA…` with a session token), valid until `expires`
/// on the simulated clock. Its `Debug` leaves the secret and the token out.
#[derive(Serialize, Deserialize)]
pub struct Session {
    pub access_key_id: String,
    #[serde(with = "crate::state::secret_string")]
    pub secret: Zeroizing<String>,
    #[serde(with = "crate::state::secret_string")]
    pub token: Zeroizing<String>,
    pub kind: SessionKind,
    /// Who the session acts as.
    pub principal: String,
    /// The user or role it derives from (the role's ARN for an assumed role).
    pub identity: String,
    /// `AROA…:SESSION` for an assumed role, the user's id for GetSessionToken, the account
    /// for a root's.
    pub user_id: String,
    pub expires: f64,
    /// The session policy (AssumeRole `Policy`), if any.
    pub policy: Option<String>,
    /// The managed session policies (AssumeRole `PolicyArns`).
    #[serde(default)]
    pub policy_arns: Vec<String>,
    #[serde(skip)]
    pub compiled: Option<Arc<PolicyDocument>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("kind", &self.kind)
            .field("principal", &self.principal)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Whether session policies limit what the session may do.
    pub fn has_policies(&self) -> bool {
        self.policy.is_some() || !self.policy_arns.is_empty()
    }
}

/// A unique id: `prefix` and 17 upper-case letters and digits, random.
pub fn unique_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut buf = [0u8; 17];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut buf);
    prefix
        .chars()
        .chain(buf.iter().map(|b| ALPHABET[(*b % 32) as usize] as char))
        .collect()
}

/// The unique id of a principal made before ids were kept: derived from its ARN, so that it
/// stays the same from one opening to the next.
pub fn derived_id(prefix: &str, arn: &str) -> String {
    use sha2::Digest as _;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hash = sha2::Sha256::digest(arn.as_bytes());
    prefix
        .chars()
        .chain(
            hash.iter()
                .take(17)
                .map(|b| ALPHABET[(*b % 32) as usize] as char),
        )
        .collect()
}

/// A session token: 64 random bytes, base64 (opaque and unguessable; bound to its key by
/// the session that holds both).
pub fn session_token() -> Zeroizing<String> {
    use base64::Engine as _;
    let mut buf = Zeroizing::new([0u8; 64]);
    rand::Rng::fill_bytes(&mut rand::rng(), &mut *buf);
    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_secrets_and_tokens_out() {
        let key = AccessKey {
            id: "AKIAEXAMPLEEXAMPLE12".into(),
            secret: Zeroizing::new("the-secret-of-the-key".into()),
            status: KeyStatus::Active,
            created: 0.0,
        };
        let text = format!("{key:?}");
        assert!(
            text.contains("AKIAEXAMPLEEXAMPLE12") && !text.contains("the-secret"),
            "{text}"
        );
        let session = Session {
            access_key_id: "ASIAEXAMPLEEXAMPLE12".into(),
            secret: Zeroizing::new("session-secret".into()),
            token: session_token(),
            kind: SessionKind::AssumedRole,
            principal: "arn:aws:sts::111122223333:assumed-role/r/s".into(),
            identity: "arn:aws:iam::111122223333:role/r".into(),
            user_id: "AROAEXAMPLE:s".into(),
            expires: 1.0,
            policy: None,
            policy_arns: Vec::new(),
            compiled: None,
        };
        let text = format!("{session:?}");
        assert!(
            !text.contains("session-secret") && !text.contains(session.token.as_str()),
            "{text}"
        );
        assert!(text.contains("assumed-role/r/s"));
    }

    #[test]
    fn ids_and_tokens_have_their_shapes() {
        let id = unique_id("AIDA");
        assert_eq!(id.len(), 21);
        assert!(
            id.starts_with("AIDA")
                && id
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_ne!(unique_id("AIDA"), id);
        assert_eq!(derived_id("AROA", "arn:x"), derived_id("AROA", "arn:x"));
        assert_ne!(derived_id("AROA", "arn:x"), derived_id("AROA", "arn:y"));
        let (a, b) = (session_token(), session_token());
        assert_eq!(a.len(), 88);
        assert_ne!(a.as_str(), b.as_str());
    }
}
