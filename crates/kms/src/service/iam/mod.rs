//! IAM and STS over the Query protocol (docs/iam.md): dispatch, the authorization of `iam:*`
//! and `sts:*` actions through the same policy engine as KMS calls, session policies, and the
//! helpers the actions share.

use ebsim_iam::names::{check_document, check_len, check_name, check_path};
use ebsim_iam::xml::{self, XmlWriter};
use ebsim_iam::{QueryError, QueryRequest, QueryService};

use super::*;
use crate::iam_state::{
    AccessKey, KeyStatus, ManagedPolicy, PolicyVersion, Session, SessionKind, session_token,
    unique_id,
};

mod managed;
mod principals;
mod sts;

/// Users an account may have.
const MAX_USERS: usize = 5000;
/// Roles an account may have.
const MAX_ROLES: usize = 1000;
/// Customer managed policies an account may have.
const MAX_MANAGED: usize = 1500;
/// Access keys a user may have, inactive ones included.
const MAX_KEYS: usize = 2;
/// Managed policies attached to one user or role.
const MAX_ATTACHED: usize = 10;
/// Versions one managed policy may have.
const MAX_VERSIONS: usize = 5;
/// Inline policy characters (not white space) of a user, all its policies together.
const USER_INLINE_CHARS: usize = 2048;
/// Inline policy characters of a role.
const ROLE_INLINE_CHARS: usize = 10_240;
/// Characters of a managed policy document.
const MANAGED_CHARS: usize = 6144;
/// Characters of a trust policy.
const TRUST_CHARS: usize = 2048;
/// Live sessions kept at once; expired ones are dropped as new ones are made.
const MAX_SESSIONS: usize = 100_000;

type Q<T> = Result<T, QueryError>;

/// One Query call: who makes it, the request, the caller's account and the simulated time.
struct Cx<'a> {
    caller: &'a Caller,
    req: &'a QueryRequest,
    account: String,
    now: f64,
    rid: &'a str,
}

fn failure(e: KmsError) -> QueryError {
    QueryError::service_failure(e.message.unwrap_or_else(|| "internal failure".to_owned()))
}

fn policy_error(e: &crate::policy::PolicyError) -> QueryError {
    use crate::policy::PolicyErrorKind as K;
    match e.kind {
        K::Syntax => QueryError::malformed_policy("This policy contains invalid Json"),
        K::TooLarge => QueryError::limit_exceeded(e.message.clone()),
        _ => QueryError::malformed_policy(e.message.clone()),
    }
}

/// A page of `items` starting at the item whose key is `marker` (the key of the first item
/// not yet returned), at most `max` long, and the marker of the next page.
fn page<'a, T>(
    items: impl Iterator<Item = (&'a str, T)>,
    marker: Option<&str>,
    max: usize,
) -> (Vec<T>, Option<String>) {
    let mut out = Vec::new();
    let mut next = None;
    for (key, item) in items.skip_while(|(k, _)| marker.is_some_and(|m| *k < m)) {
        if out.len() == max {
            next = Some(key.to_owned());
            break;
        }
        out.push(item);
    }
    (out, next)
}

impl Kms {
    /// An IAM or STS action in the Query protocol, answered as its XML response.
    ///
    /// # Errors
    /// The IAM or STS error (`InvalidAction` for an action the service does not have).
    pub fn query(
        &self,
        caller: &Caller,
        service: QueryService,
        req: &QueryRequest,
        rid: &str,
    ) -> Result<Vec<u8>, QueryError> {
        let action = service
            .action(req.action())
            .ok_or_else(|| QueryError::invalid_action(req.action()))?;
        if let Some(v) = req.version()
            && v != service.version()
        {
            return Err(QueryError::new(
                "InvalidAction",
                400,
                format!(
                    "Could not find operation {action} for version {}",
                    ebsim_iam::names::echo(v)
                ),
            ));
        }
        let cx = Cx {
            caller,
            req,
            account: self.caller_account(caller).to_owned(),
            now: self.now(),
            rid,
        };
        match service {
            QueryService::Sts => self.sts_action(&cx, action),
            QueryService::Iam => self.iam_action(&cx, action),
            // EC2 is its own service (`ebsim-ec2`), not the KMS's.
            _ => Err(QueryError::invalid_action(action)),
        }
    }

    /// Whether `caller` may perform `action` (`ec2:CreateVolume`) on `resource` by the rules
    /// of the IAM actions: an account root may, anyone else needs an identity policy that
    /// allows it and no deny (and, in a session with session policies, one of those too).
    /// The denial's reason when not (docs/ec2.md, "Authorization").
    ///
    /// # Errors
    /// The text of the denial: `User: P is not authorized to perform: A on resource: R …`.
    pub fn authorize_action(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
    ) -> Result<(), String> {
        let st = self.state.read();
        let p = caller.principal.as_str();
        let cv = self.base_conditions(caller);
        let denied = |why: &str| {
            format!(
                "User: {p} is not authorized to perform: {action} on resource: {resource} {why}"
            )
        };
        if let Some(why) = self.session_limit(&st, caller, action, resource, &cv) {
            return Err(denied(&why));
        }
        match self.iam(&st, p, action, resource, &cv) {
            Iam::Deny => Err(denied("with an explicit deny in an identity-based policy")),
            Iam::Allow => Ok(()),
            Iam::None if is_root(p) => Ok(()),
            Iam::None => Err(denied(&format!(
                "because no identity-based policy allows the {action} action"
            ))),
        }
    }

    /// The account of `caller` (its principal's, else the default account).
    pub fn account_of(&self, caller: &Caller) -> String {
        self.caller_account(caller).to_owned()
    }

    fn iam_action(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        match action {
            "CreateUser" | "CreateRole" => self.create_principal(cx, action),
            "GetUser" => self.get_user(cx),
            "GetRole" => self.get_role(cx),
            "ListUsers" | "ListRoles" => self.list_principals(cx, action),
            "DeleteUser" | "DeleteRole" => self.delete_principal(cx, action),
            "UpdateAssumeRolePolicy" => self.update_trust(cx),
            "CreateAccessKey" => self.create_access_key(cx),
            "ListAccessKeys" => self.list_access_keys(cx),
            "UpdateAccessKey" | "DeleteAccessKey" => self.change_access_key(cx, action),
            "PutUserPolicy" | "PutRolePolicy" => self.put_inline(cx, action),
            "GetUserPolicy" | "GetRolePolicy" => self.get_inline(cx, action),
            "ListUserPolicies" | "ListRolePolicies" => self.list_inline(cx, action),
            "DeleteUserPolicy" | "DeleteRolePolicy" => self.delete_inline(cx, action),
            "CreatePolicy" => self.create_policy(cx),
            "GetPolicy" => self.get_policy(cx),
            "ListPolicies" => self.list_policies(cx),
            "DeletePolicy" => self.delete_policy(cx),
            "CreatePolicyVersion" => self.create_policy_version(cx),
            "GetPolicyVersion" => self.get_policy_version(cx),
            "AttachUserPolicy" | "AttachRolePolicy" | "DetachUserPolicy" | "DetachRolePolicy" => {
                self.attach(cx, action)
            }
            "ListAttachedUserPolicies" | "ListAttachedRolePolicies" => {
                self.list_attached(cx, action)
            }
            other => Err(QueryError::invalid_action(other)),
        }
    }

    /// Whether the caller may perform `action` (`iam:CreateUser`) on `resource`: an account
    /// root may, anyone else needs an identity policy that allows it (and, in a session with
    /// session policies, one of those too).
    fn allow(&self, st: &State, cx: &Cx<'_>, action: &str, resource: &str) -> Q<()> {
        let p = cx.caller.principal.as_str();
        let cv = self.base_conditions(cx.caller);
        let denied = |why: &str| {
            QueryError::access_denied(format!(
                "User: {p} is not authorized to perform: {action} on resource: {resource} {why}"
            ))
        };
        if cx.caller.via_service.is_some() {
            return Err(denied("because a forwarding service cannot call IAM"));
        }
        if let Some(why) = self.session_limit(st, cx.caller, action, resource, &cv) {
            return Err(denied(&why));
        }
        match self.iam(st, p, action, resource, &cv) {
            Iam::Deny => Err(denied("with an explicit deny in an identity-based policy")),
            Iam::Allow => Ok(()),
            Iam::None if is_root(p) => Ok(()),
            Iam::None => Err(denied(&format!(
                "because no identity-based policy allows the {action} action"
            ))),
        }
    }

    /// Why the session policies of the caller's session refuse `action` on `resource`, if
    /// they do (docs/iam.md, "AssumeRole"): they only narrow what the role may do.
    pub(in crate::service) fn session_limit(
        &self,
        st: &State,
        caller: &Caller,
        action: &str,
        resource: &str,
        cv: &ConditionValues,
    ) -> Option<String> {
        let s = st.sessions.get(caller.session.as_deref()?)?;
        if !s.has_policies() {
            return None;
        }
        let docs = s.compiled.iter().chain(
            s.policy_arns
                .iter()
                .filter_map(|arn| st.managed_policies.get(arn)?.compiled.as_ref()),
        );
        let mut allowed = false;
        for doc in docs {
            match doc.allows(&caller.principal, action, resource, cv) {
                Decision::ExplicitDeny { .. } => {
                    return Some("with an explicit deny in a session policy".to_owned());
                }
                Decision::Allow { .. } | Decision::DelegatedToIam { .. } => allowed = true,
                _ => {}
            }
        }
        (!allowed).then(|| format!("because no session policy allows the {action} action"))
    }

    fn save(&self, st: &mut State) -> Q<()> {
        self.persist(st).map_err(failure)
    }

    /// The session credentials of a temporary access key, for the server to check the
    /// request's token and the expiration against the simulated clock.
    pub fn lookup_session(&self, access_key_id: &str) -> Option<ebsim_kms_api::SessionCredential> {
        if !access_key_id.starts_with("ASIA") {
            return None;
        }
        let st = self.state.read();
        let s = st.sessions.get(access_key_id)?;
        // Simulated time, read under the same lock (as `Kms::now` computes it).
        let now = self.config.clock.now() + st.clock_offset;
        Some(ebsim_kms_api::SessionCredential {
            credential: Credential {
                principal: s.principal.clone(),
                secret: s.secret.clone(),
                is_service: false,
            },
            token: s.token.clone(),
            expired: now >= s.expires,
            from_session_token: s.kind == SessionKind::SessionToken,
        })
    }

    /// Mints a session for `principal` (an assumed role's session ARN, a user, a root, or a
    /// service's own session) valid for `seconds` of simulated time, dropping expired
    /// sessions first.
    #[allow(clippy::too_many_arguments)]
    fn mint_session(
        &self,
        st: &mut State,
        now: f64,
        kind: SessionKind,
        principal: String,
        identity: String,
        user_id: String,
        seconds: i64,
        policy: Option<String>,
        policy_arns: Vec<String>,
    ) -> Q<(String, f64)> {
        let expired: Vec<String> = st
            .sessions
            .iter()
            .filter(|(_, s)| s.expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            st.sessions.remove(&k);
        }
        if st.sessions.len() >= MAX_SESSIONS {
            return Err(QueryError::new(
                "LimitExceeded",
                400,
                format!("At most {MAX_SESSIONS} sessions may be live at once."),
            ));
        }
        let compiled = match &policy {
            Some(t) => Some(Arc::new(
                PolicyDocument::parse_identity_policy(t).map_err(|e| policy_error(&e))?,
            )),
            None => None,
        };
        let (id, secret) = store::new_access_key("ASIA");
        let expires = now + seconds as f64;
        st.sessions.insert(
            id.clone(),
            Session {
                access_key_id: id.clone(),
                secret,
                token: session_token(),
                kind,
                principal,
                identity,
                user_id,
                expires,
                policy,
                policy_arns,
                compiled,
            },
        );
        Ok((id, expires))
    }

    /// `<Credentials>` of session `id`.
    fn write_credentials(w: &mut XmlWriter, s: &Session) {
        w.open("Credentials");
        w.text("AccessKeyId", &s.access_key_id);
        w.text("SecretAccessKey", &s.secret);
        w.text("SessionToken", &s.token);
        w.text("Expiration", &iso8601(s.expires));
        w.close("Credentials");
    }
}

#[cfg(test)]
mod tests;
