//! Evaluation: the decision of a document for one request.

use super::condition::ConditionValues;
use super::document::{Decision, Effect, PolicyDocument, Principals, RequestContext, Statement};
use super::principal::{CallerInfo, PrincipalMatch};

impl PolicyDocument {
    /// Evaluates the policy for one request.
    ///
    /// A matching Deny wins over everything; then a directly matching Allow; then (key
    /// policies only) an Allow that names the caller's account root gives
    /// [`Decision::DelegatedToIam`]. A Deny naming an account root applies to every principal
    /// of that account. Identity policies apply to whoever they are attached to, so the
    /// principal is not checked. Statements without Action or Resource never match.
    pub fn evaluate(&self, req: &RequestContext<'_>) -> Decision {
        let caller = CallerInfo::new(req.principal);
        // Lowercase the action once (on the stack for the usual short ASCII names).
        let mut buf = [0u8; 96];
        let owned;
        let action: &str = match buf.get_mut(..req.action.len()) {
            Some(dst) if req.action.is_ascii() => {
                dst.copy_from_slice(req.action.as_bytes());
                dst.make_ascii_lowercase();
                std::str::from_utf8(dst).unwrap_or(req.action)
            }
            _ => {
                owned = req.action.to_lowercase();
                &owned
            }
        };
        let mut allow: Option<&Statement> = None;
        let mut delegated: Option<&Statement> = None;
        for s in &self.statements {
            let Some(actions) = &s.actions else {
                continue;
            };
            let resource_matches = match &s.resources {
                Some(resources) => resources.matches(req.resource),
                // A trust policy's statements are about the role that holds it.
                None => self.kind == super::PolicyKind::Trust,
            };
            if !resource_matches || !actions.matches_lowercased(action) {
                continue;
            }
            let m = match &s.principals {
                Principals::Attached => PrincipalMatch::Direct,
                Principals::Only(_, ms) => ms.iter().fold(PrincipalMatch::None, |acc, m| {
                    match (acc, m.matches(&caller)) {
                        (PrincipalMatch::Direct, _) | (_, PrincipalMatch::Direct) => {
                            PrincipalMatch::Direct
                        }
                        (PrincipalMatch::Account, _) | (_, PrincipalMatch::Account) => {
                            PrincipalMatch::Account
                        }
                        _ => PrincipalMatch::None,
                    }
                }),
                Principals::AllBut(_, ms) => {
                    if ms
                        .iter()
                        .any(|m| m.matches(&caller) == PrincipalMatch::Direct)
                    {
                        PrincipalMatch::None
                    } else {
                        PrincipalMatch::Direct
                    }
                }
            };
            if m == PrincipalMatch::None {
                continue;
            }
            // Conditions last: they are the most expensive part.
            let deny = s.effect == Effect::Deny;
            if !s
                .conditions
                .iter()
                .all(|c| c.evaluate_in(req.conditions, deny))
            {
                continue;
            }
            match (s.effect, m) {
                (Effect::Deny, _) => return Decision::ExplicitDeny { sid: s.sid.clone() },
                (Effect::Allow, PrincipalMatch::Direct) => {
                    allow.get_or_insert(s);
                }
                (Effect::Allow, _) => {
                    delegated.get_or_insert(s);
                }
            }
        }
        match (allow, delegated) {
            (Some(s), _) => Decision::Allow { sid: s.sid.clone() },
            (None, Some(s)) => Decision::DelegatedToIam { sid: s.sid.clone() },
            (None, None) => Decision::NotApplicable,
        }
    }

    /// [`evaluate`](Self::evaluate) with the parts spelled out, for checks such as the
    /// lockout safety check ("would this policy still let the caller call kms:PutKeyPolicy?")
    /// and EKM key validation.
    pub fn allows(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        conditions: &ConditionValues,
    ) -> Decision {
        self.evaluate(&RequestContext {
            principal,
            action,
            resource,
            conditions,
        })
    }
}
