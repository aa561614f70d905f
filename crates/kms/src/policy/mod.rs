//! Key policies and IAM identity policies: parsing with positioned errors, compilation, and
//! evaluation.
//!
//! A document is parsed once into a [`PolicyDocument`] whose wildcards are compiled and
//! whose action names are lowercased; evaluation allocates nothing but the deciding `Sid`.
//!
//! ```
//! use ebsim_kms::policy::{ConditionValues, Decision, PolicyDocument, RequestContext};
//!
//! let policy = PolicyDocument::parse_key_policy(r#"{
//!   "Version": "2012-10-17",
//!   "Statement": [{
//!     "Sid": "Allow use of the key",
//!     "Effect": "Allow",
//!     "Principal": {"AWS": "arn:aws:iam::111122223333:role/Workato_EKM"},
//!     "Action": ["kms:Encrypt", "kms:Decrypt"],
//!     "Resource": "*"
//!   }]
//! }"#)?;
//! let conditions = ConditionValues::new().with("kms:CallerAccount", "111122223333");
//! let decision = policy.evaluate(&RequestContext::new(
//!     "arn:aws:sts::111122223333:assumed-role/Workato_EKM/session",
//!     "kms:Decrypt",
//!     "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
//!     &conditions,
//! ));
//! assert_eq!(decision, Decision::Allow { sid: Some("Allow use of the key".into()) });
//!
//! // Mistakes are reported with line, column and a hint.
//! let err = PolicyDocument::parse_key_policy("{\"Statement\": [ {} /* c */ ]}").unwrap_err();
//! assert_eq!((err.line, err.column), (1, 20));
//! assert!(err.hint.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod canonical;
mod condition;
mod defaults;
mod document;
mod error;
mod eval;
mod glob;
mod json;
mod parse;
mod principal;

// The public interface is:
pub use condition::ConditionValues;
pub use defaults::{aws_managed_key_policy, default_key_policy};
pub use document::{
    Decision, Effect, MAX_POLICY_BYTES, PolicyDocument, PolicyKind, RequestContext,
};
pub use error::{INVALID_PRINCIPALS_MESSAGE, PolicyError, PolicyErrorKind};
pub use principal::{PolicyPrincipal, PrincipalMatch};

/// Entry points for the fuzz targets.
#[doc(hidden)]
pub mod internal {
    /// Feeds arbitrary bytes to both parsers; for valid documents, checks that the canonical
    /// JSON parses to an equal document and evaluates one request. Panics only on a bug.
    pub fn fuzz_policy_parser(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        for kind in [super::PolicyKind::Key, super::PolicyKind::Identity] {
            if let Ok(doc) = super::PolicyDocument::parse(text, kind) {
                let json = doc.to_json();
                // Pretty printing can push a document near the limit over it.
                if json.len() <= super::MAX_POLICY_BYTES {
                    let again = super::PolicyDocument::parse(&json, kind);
                    assert!(again.as_ref() == Ok(&doc), "canonical JSON must round-trip");
                }
                let cv = super::ConditionValues::new()
                    .with("kms:CallerAccount", "111122223333")
                    .with("kms:ViaService", "ec2.us-west-2.amazonaws.com");
                let _ = doc.allows(
                    "arn:aws:sts::111122223333:assumed-role/R/s",
                    "kms:Decrypt",
                    "arn:aws:kms:us-west-2:111122223333:key/k",
                    &cv,
                );
                let _ = doc.principals().count();
            }
        }
    }
}
