//! The policy document: its kinds, compiled statements, the decision of an evaluation,
//! and what a document tells about itself.

use super::condition::{Condition, ConditionValues};
use super::glob::Pattern;
use super::principal::{Matcher, PolicyPrincipal};

/// Largest accepted policy document, in bytes (KMS quota: 32 KiB).
pub const MAX_POLICY_BYTES: usize = 32_768;

/// Which kind of document was parsed (they differ in the `Principal` and `Sid` rules and in
/// what a match means).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyKind {
    /// A key policy (resource-based): every statement names a `Principal`.
    Key,
    /// An IAM identity policy: no `Principal`; it applies to the principal it is attached to.
    Identity,
    /// A role's trust policy (AssumeRolePolicyDocument): every statement names a `Principal`
    /// and none a `Resource` (the resource is the role itself; docs/iam.md).
    Trust,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Effect {
    /// `"Allow"`
    Allow,
    /// `"Deny"`
    Deny,
}

/// The outcome of evaluating one policy for one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Decision {
    /// A `Deny` statement matched: nothing else can allow the request.
    ExplicitDeny {
        /// The `Sid` of the first matching Deny statement.
        sid: Option<String>,
    },
    /// An `Allow` statement matched this principal directly.
    Allow {
        /// The `Sid` of the first matching Allow statement.
        sid: Option<String>,
    },
    /// Only a key-policy statement naming the caller's account root (`arn:aws:iam::A:root`)
    /// matched: the request is allowed if an IAM identity policy of the caller allows it.
    DelegatedToIam {
        /// The `Sid` of the delegating statement.
        sid: Option<String>,
    },
    /// No statement matched.
    NotApplicable,
}

impl Decision {
    /// The `Sid` of the deciding statement, if it has one (for the audit trail).
    pub fn sid(&self) -> Option<&str> {
        match self {
            Self::ExplicitDeny { sid } | Self::Allow { sid } | Self::DelegatedToIam { sid } => {
                sid.as_deref()
            }
            Self::NotApplicable => None,
        }
    }
}

/// One request as a policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The caller's ARN (`arn:aws:iam::111122223333:user/alice`,
    /// `arn:aws:sts::A:assumed-role/R/S`), or a service principal (`ec2.amazonaws.com`).
    pub principal: &'a str,
    /// The action, e.g. `kms:Decrypt` (matched case-insensitively).
    pub action: &'a str,
    /// The resource ARN (the key ARN for key operations).
    pub resource: &'a str,
    /// The request's condition keys.
    pub conditions: &'a ConditionValues,
}

impl<'a> RequestContext<'a> {
    /// Bundles the parts of a request.
    pub fn new(
        principal: &'a str,
        action: &'a str,
        resource: &'a str,
        conditions: &'a ConditionValues,
    ) -> Self {
        Self {
            principal,
            action,
            resource,
            conditions,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Principals {
    /// Identity policies.
    Attached,
    Only(Vec<PolicyPrincipal>, Vec<Matcher>),
    AllBut(Vec<PolicyPrincipal>, Vec<Matcher>),
}

/// `Action`/`NotAction`, `Resource`/`NotResource`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Matchers {
    pub(super) negated: bool,
    pub(super) raw: Vec<String>,
    pub(super) patterns: Vec<Pattern>,
}

impl Matchers {
    pub(super) fn matches(&self, s: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(s)) != self.negated
    }

    /// For folded (action) patterns and an already lowercased text.
    pub(super) fn matches_lowercased(&self, s: &str) -> bool {
        self.patterns.iter().any(|p| p.matches_lowercased(s)) != self.negated
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Statement {
    pub(super) sid: Option<String>,
    pub(super) effect: Effect,
    pub(super) principals: Principals,
    /// `None`: no `Action`/`NotAction`: the statement never matches.
    pub(super) actions: Option<Matchers>,
    /// `None`: no `Resource`/`NotResource`: the statement never matches.
    pub(super) resources: Option<Matchers>,
    pub(super) conditions: Vec<Condition>,
}

/// A parsed, validated and compiled policy document. Parse once, evaluate many times; the
/// text as given is kept for `GetKeyPolicy`.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub(super) text: String,
    pub(super) kind: PolicyKind,
    pub(super) version: String,
    pub(super) id: Option<String>,
    pub(super) statements: Vec<Statement>,
}

impl PartialEq for PolicyDocument {
    /// Semantic equality: same kind, version, id and compiled statements (the text may differ).
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.version == other.version
            && self.id == other.id
            && self.statements == other.statements
    }
}

impl PolicyDocument {
    /// The document exactly as given (what `GetKeyPolicy` returns).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Key or identity policy.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Id` element, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The `Version` (`2008-10-17` when the document has none, as IAM assumes).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The `Sid` of each statement, in order.
    pub fn sids(&self) -> impl Iterator<Item = Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref())
    }

    /// Every principal named in `Principal` or `NotPrincipal` elements (normalized), for
    /// validating that they exist.
    pub fn principals(&self) -> impl Iterator<Item = &PolicyPrincipal> {
        self.statements.iter().flat_map(|s| match &s.principals {
            Principals::Attached => [].iter(),
            Principals::Only(p, _) | Principals::AllBut(p, _) => p.iter(),
        })
    }
}
