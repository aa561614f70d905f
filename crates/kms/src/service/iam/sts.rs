//! STS: GetCallerIdentity, AssumeRole (the trust policy evaluated, session policies,
//! durations) and GetSessionToken (docs/iam.md, "STS").

use super::principals::find;
use super::*;

/// The longest session a role assumed by role chaining (or from GetSessionToken
/// credentials) may have.
const CHAINED_MAX: i64 = 3600;
/// Characters of the session policies together.
const SESSION_POLICY_CHARS: usize = 2048;

impl Kms {
    pub(super) fn sts_action(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        match action {
            "GetCallerIdentity" => self.get_caller_identity(cx),
            "AssumeRole" => self.assume_role(cx),
            "GetSessionToken" => self.get_session_token(cx),
            other => Err(QueryError::invalid_action(other)),
        }
    }

    /// Needs no permission: who the signer is.
    fn get_caller_identity(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let st = self.state.read();
        let p = &cx.caller.principal;
        let user_id = match cx
            .caller
            .session
            .as_deref()
            .and_then(|s| st.sessions.get(s))
        {
            Some(s) => s.user_id.clone(),
            None if is_root(p) => cx.account.clone(),
            None => match st.principals.get(p) {
                Some(pr) => pr.id.clone(),
                None => cx.account.clone(),
            },
        };
        Ok(xml::response(
            QueryService::Sts,
            "GetCallerIdentity",
            cx.rid,
            |w| {
                w.text("UserId", &user_id);
                w.text("Account", &cx.account);
                w.text("Arn", p);
            },
        ))
    }

    fn assume_role(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let req = cx.req;
        let role_arn = req.required("RoleArn")?;
        check_len("RoleArn", role_arn, 20, 2048)?;
        let invalid =
            || QueryError::validation(format!("{} is invalid", ebsim_iam::names::echo(role_arn)));
        let (account, role_name) = role_arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|rest| rest.split_once(":role/"))
            .filter(|(a, _)| a.parse::<ebsim_kms_api::id::AccountId>().is_ok())
            .map(|(a, path_name)| (a, path_name.rsplit('/').next().unwrap_or_default()))
            .ok_or_else(invalid)?;
        if role_name.is_empty() {
            return Err(invalid());
        }
        let session_name = req.required("RoleSessionName")?;
        check_name("RoleSessionName", session_name, 2, 64)?;
        let duration = req.int("DurationSeconds", 900, 43200)?;
        let policy = req.get("Policy");
        let mut policy_arns = Vec::new();
        for i in 1..=11 {
            let Some(a) = req.get(&format!("PolicyArns.member.{i}.arn")) else {
                break;
            };
            if i == 11 {
                return Err(QueryError::validation(
                    "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10",
                ));
            }
            check_len("PolicyArns", a, 20, 2048)?;
            policy_arns.push(a.to_owned());
        }
        let packed: usize =
            policy.map_or(0, str::len) + policy_arns.iter().map(String::len).sum::<usize>();
        if let Some(t) = policy {
            check_document("Policy", t, usize::MAX, "PolicySize")?;
        }
        if packed > SESSION_POLICY_CHARS {
            return Err(QueryError::new(
                "PackedPolicyTooLarge",
                400,
                format!(
                    "Packed size of consumed session policies exceeds the maximum allowed size: {}%",
                    packed * 100 / SESSION_POLICY_CHARS
                ),
            ));
        }
        if let Some(e) = req.get("ExternalId") {
            check_len("ExternalId", e, 2, 1224)?;
        }
        let caller = cx.caller;
        let p = caller.principal.as_str();
        if is_root(p) {
            return Err(QueryError::access_denied(
                "Roles may not be assumed by root accounts.",
            ));
        }
        let mut st = self.state.write();
        let denied = || {
            QueryError::access_denied(format!(
                "User: {p} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            ))
        };
        // A missing role is answered as a refusal, as AWS does.
        let key = find(&st, account, "role", role_name).ok_or_else(denied)?;
        let role = st.principals.get(&key).ok_or_else(denied)?;
        let trust = role.trust.clone().ok_or_else(denied)?;
        let mut cv = self.base_conditions(caller);
        if let Some(e) = req.get("ExternalId") {
            cv.insert("sts:ExternalId", e.to_owned());
        }
        let resource = role.arn.clone();
        let iam_allows = || -> bool {
            self.session_limit(&st, caller, "sts:AssumeRole", &resource, &cv)
                .is_none()
                && matches!(
                    self.iam(&st, p, "sts:AssumeRole", &resource, &cv),
                    Iam::Allow
                )
        };
        let same_account = principal_account(p) == Some(account);
        let trusted = match trust.allows(p, "sts:AssumeRole", &resource, &cv) {
            // The trust policy names the caller: enough in its own account; another
            // account's caller also needs its identity policies to allow it.
            Decision::Allow { .. } => {
                (same_account
                    && !matches!(
                        self.iam(&st, p, "sts:AssumeRole", &resource, &cv),
                        Iam::Deny
                    )
                    && self
                        .session_limit(&st, caller, "sts:AssumeRole", &resource, &cv)
                        .is_none())
                    || iam_allows()
            }
            // It names the caller's account: the account's identity policies decide.
            Decision::DelegatedToIam { .. } => iam_allows(),
            _ => false,
        };
        if !trusted {
            return Err(denied());
        }
        let requested = duration.unwrap_or(3600);
        if requested > i64::from(role.max_session_duration) {
            return Err(QueryError::validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        if caller.session.is_some() && requested > CHAINED_MAX {
            return Err(QueryError::validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        let session_arn = format!(
            "arn:aws:sts::{account}:assumed-role/{}/{session_name}",
            role.name
        );
        let user_id = format!("{}:{session_name}", role.id);
        let (id, _) = self.mint_session(
            &mut st,
            cx.now,
            SessionKind::AssumedRole,
            session_arn.clone(),
            resource,
            user_id.clone(),
            requested,
            policy.map(str::to_owned),
            policy_arns,
        )?;
        let s = st
            .sessions
            .get(&id)
            .ok_or_else(super::principals::internal_q)?;
        let out = xml::response(QueryService::Sts, "AssumeRole", cx.rid, |w| {
            Self::write_credentials(w, s);
            w.open("AssumedRoleUser");
            w.text("AssumedRoleId", &user_id);
            w.text("Arn", &session_arn);
            w.close("AssumedRoleUser");
            if packed > 0 {
                w.num("PackedPolicySize", packed * 100 / SESSION_POLICY_CHARS);
            }
        });
        self.save(&mut st)?;
        Ok(out)
    }

    fn get_session_token(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let p = cx.caller.principal.as_str();
        if cx.caller.session.is_some() {
            return Err(QueryError::access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        let root = is_root(p);
        let requested = cx.req.int("DurationSeconds", 900, 129_600)?;
        let seconds = if root {
            requested.unwrap_or(3600).min(3600)
        } else {
            requested.unwrap_or(43_200)
        };
        let mut st = self.state.write();
        let user_id = if root {
            cx.account.clone()
        } else {
            match st.principals.get(p) {
                Some(u) if u.kind == "user" => u.id.clone(),
                _ => {
                    return Err(QueryError::access_denied(format!(
                        "User: {p} is not authorized to perform: sts:GetSessionToken"
                    )));
                }
            }
        };
        let (id, _) = self.mint_session(
            &mut st,
            cx.now,
            SessionKind::SessionToken,
            p.to_owned(),
            p.to_owned(),
            user_id,
            seconds,
            None,
            Vec::new(),
        )?;
        let s = st
            .sessions
            .get(&id)
            .ok_or_else(super::principals::internal_q)?;
        let out = xml::response(QueryService::Sts, "GetSessionToken", cx.rid, |w| {
            Self::write_credentials(w, s);
        });
        self.save(&mut st)?;
        Ok(out)
    }
}
