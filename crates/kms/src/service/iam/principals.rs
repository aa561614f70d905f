//! Users, roles, their access keys and inline policies (docs/iam.md, "Operations").

use super::*;

/// `user` or `role`, by the action's noun.
fn kind_of(action: &str) -> &'static str {
    if action.contains("Role") {
        "role"
    } else {
        "user"
    }
}

/// The name parameter of a kind (`UserName`, `RoleName`).
fn name_param(kind: &str) -> &'static str {
    if kind == "role" {
        "RoleName"
    } else {
        "UserName"
    }
}

fn not_found(kind: &str, name: &str) -> QueryError {
    let what = if kind == "role" { "role" } else { "user" };
    QueryError::no_such_entity(format!(
        "The {what} with name {} cannot be found.",
        ebsim_iam::names::echo(name)
    ))
}

/// The ARN (map key) of the `kind` named `name` in `account`, names compared
/// case-insensitively as IAM compares them.
pub(super) fn find(st: &State, account: &str, kind: &str, name: &str) -> Option<String> {
    st.principals
        .values()
        .find(|p| p.kind == kind && p.account == account && p.name.eq_ignore_ascii_case(name))
        .map(|p| p.arn.clone())
}

fn write_user(w: &mut XmlWriter, p: &Principal) {
    w.open("User");
    w.text("Path", &p.path);
    w.text("UserName", &p.name);
    w.text("UserId", &p.id);
    w.text("Arn", &p.arn);
    w.text("CreateDate", &iso8601(p.created));
    w.close("User");
}

/// A role; `full` adds what GetRole and ListRoles show (MaxSessionDuration; GetRole's
/// RoleLastUsed is written by the caller).
fn write_role_fields(w: &mut XmlWriter, p: &Principal, full: bool) {
    w.text("Path", &p.path);
    w.text("RoleName", &p.name);
    w.text("RoleId", &p.id);
    w.text("Arn", &p.arn);
    w.text("CreateDate", &iso8601(p.created));
    if let Some(t) = &p.trust_policy {
        w.document("AssumeRolePolicyDocument", t);
    }
    w.opt("Description", p.description.as_deref());
    if full {
        w.num("MaxSessionDuration", p.max_session_duration);
    }
}

impl Kms {
    /// The ARN of the principal a request names with `param` (checked, 1..=`max` characters),
    /// which must exist.
    fn named(&self, st: &State, cx: &Cx<'_>, kind: &str, max: usize) -> Q<String> {
        let param = name_param(kind);
        let name = cx.req.required(param)?;
        check_name(param, name, 1, max)?;
        find(st, &cx.account, kind, name).ok_or_else(|| not_found(kind, name))
    }

    /// The user a request names with `UserName`, or the caller when it names none.
    fn user_or_caller(&self, st: &State, cx: &Cx<'_>) -> Q<String> {
        if cx.req.get("UserName").is_some() {
            return self.named(st, cx, "user", 128);
        }
        match st.principals.get(&cx.caller.principal) {
            Some(p) if p.kind == "user" => Ok(p.arn.clone()),
            _ => Err(QueryError::validation(
                "Must specify userName when calling with non-User credentials",
            )),
        }
    }

    pub(super) fn create_principal(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let kind = kind_of(action);
        let param = name_param(kind);
        let name = cx.req.required(param)?;
        check_name(param, name, 1, 64)?;
        let path = cx.req.get("Path").unwrap_or("/");
        check_path("Path", path)?;
        let description = cx.req.get("Description");
        if let Some(d) = description {
            check_len("Description", d, 0, 1000)?;
        }
        let mut trust = None;
        let mut max_session = 3600;
        if kind == "role" {
            let text = cx.req.required("AssumeRolePolicyDocument")?;
            check_document(
                "AssumeRolePolicyDocument",
                text,
                TRUST_CHARS,
                "ACLSizePerRole",
            )?;
            trust = Some(Self::parse_trust(text)?);
            max_session = cx
                .req
                .int("MaxSessionDuration", 3600, 43200)?
                .unwrap_or(3600) as u32;
        }
        let arn = format!("arn:aws:iam::{}:{kind}{path}{name}", cx.account);
        let mut st = self.state.write();
        self.allow(&st, cx, &format!("iam:{action}"), &arn)?;
        if let Some(t) = &trust {
            Self::check_trust_principals(&st, t)?;
        }
        if find(&st, &cx.account, kind, name).is_some() {
            let what = if kind == "role" { "Role" } else { "User" };
            return Err(QueryError::already_exists(format!(
                "{what} with name {name} already exists."
            )));
        }
        let count = st
            .principals
            .values()
            .filter(|p| p.kind == kind && p.account == cx.account)
            .count();
        let (quota, quota_name) = if kind == "role" {
            (MAX_ROLES, "RolesPerAccount")
        } else {
            (MAX_USERS, "UsersPerAccount")
        };
        if count >= quota {
            return Err(QueryError::limit_exceeded(format!(
                "Cannot exceed quota for {quota_name}: {quota}"
            )));
        }
        let mut p = Principal::new(arn.clone(), kind, cx.account.clone(), cx.now);
        if trust.is_some() {
            p.trust_policy = cx.req.get("AssumeRolePolicyDocument").map(str::to_owned);
        }
        p.trust = trust;
        p.max_session_duration = max_session;
        p.description = description.map(str::to_owned);
        let out = xml::response(QueryService::Iam, action, cx.rid, |w| {
            if kind == "role" {
                w.open("Role");
                write_role_fields(w, &p, false);
                w.close("Role");
            } else {
                write_user(w, &p);
            }
        });
        st.principals.insert(arn, p);
        self.save(&mut st)?;
        Ok(out)
    }

    /// Refuses a trust policy naming a user or role that does not exist, as IAM does
    /// (`Invalid principal in policy`); accounts, roots, sessions and services are not
    /// checked.
    pub(super) fn check_trust_principals(st: &State, trust: &PolicyDocument) -> Q<()> {
        for p in trust.principals() {
            let crate::policy::PolicyPrincipal::Aws(arn) = p else {
                continue;
            };
            let Some((account, resource)) = arn
                .strip_prefix("arn:aws:iam::")
                .and_then(|r| r.split_once(':'))
            else {
                continue;
            };
            let kind = if resource.starts_with("user/") {
                "user"
            } else if resource.starts_with("role/") {
                "role"
            } else {
                continue;
            };
            let name = resource.rsplit('/').next().unwrap_or_default();
            if find(st, account, kind, name).is_none() {
                return Err(QueryError::malformed_policy(format!(
                    "Invalid principal in policy: \"AWS\":\"{}\"",
                    ebsim_iam::names::echo(arn)
                )));
            }
        }
        Ok(())
    }

    pub(super) fn parse_trust(text: &str) -> Q<Arc<PolicyDocument>> {
        PolicyDocument::parse(text, crate::policy::PolicyKind::Trust)
            .map(Arc::new)
            .map_err(|e| policy_error(&e))
    }

    pub(super) fn get_user(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let st = self.state.read();
        if cx.req.get("UserName").is_none() && is_root(&cx.caller.principal) {
            self.allow(&st, cx, "iam:GetUser", &cx.caller.principal)?;
            return Ok(xml::response(QueryService::Iam, "GetUser", cx.rid, |w| {
                w.open("User");
                w.text("UserId", &cx.account);
                w.text("Arn", &cx.caller.principal);
                w.text("CreateDate", &iso8601(0.0));
                w.close("User");
            }));
        }
        let arn = self.user_or_caller(&st, cx)?;
        self.allow(&st, cx, "iam:GetUser", &arn)?;
        let p = st.principals.get(&arn).ok_or_else(internal_q)?;
        Ok(xml::response(QueryService::Iam, "GetUser", cx.rid, |w| {
            write_user(w, p)
        }))
    }

    pub(super) fn get_role(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let st = self.state.read();
        let arn = self.named(&st, cx, "role", 64)?;
        self.allow(&st, cx, "iam:GetRole", &arn)?;
        let p = st.principals.get(&arn).ok_or_else(internal_q)?;
        Ok(xml::response(QueryService::Iam, "GetRole", cx.rid, |w| {
            w.open("Role");
            write_role_fields(w, p, true);
            w.open("RoleLastUsed");
            w.close("RoleLastUsed");
            w.close("Role");
        }))
    }

    pub(super) fn list_principals(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let kind = kind_of(action);
        let prefix = cx.req.get("PathPrefix").unwrap_or("/");
        check_len("PathPrefix", prefix, 1, 512)?;
        let max = cx.req.max_items()?;
        let marker = cx.req.get("Marker");
        if let Some(m) = marker {
            check_len("Marker", m, 1, 320)?;
        }
        let st = self.state.read();
        let resource = format!("arn:aws:iam::{}:{kind}/", cx.account);
        self.allow(&st, cx, &format!("iam:{action}"), &resource)?;
        let items = st
            .principals
            .iter()
            .filter(|(_, p)| {
                p.kind == kind && p.account == cx.account && p.path.starts_with(prefix)
            })
            .map(|(k, p)| (k.as_str(), p));
        let (items, next) = page(items, marker, max);
        let list = if kind == "role" { "Roles" } else { "Users" };
        Ok(xml::response(QueryService::Iam, action, cx.rid, |w| {
            w.list(list, items, |w, p| {
                if kind == "role" {
                    write_role_fields(w, p, true);
                } else {
                    w.text("Path", &p.path);
                    w.text("UserName", &p.name);
                    w.text("UserId", &p.id);
                    w.text("Arn", &p.arn);
                    w.text("CreateDate", &iso8601(p.created));
                }
            });
            w.page(next.as_deref());
        }))
    }

    pub(super) fn delete_principal(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let kind = kind_of(action);
        let mut st = self.state.write();
        let arn = self.named(&st, cx, kind, 128)?;
        self.allow(&st, cx, &format!("iam:{action}"), &arn)?;
        let p = st.principals.get(&arn).ok_or_else(internal_q)?;
        if kind == "user" && !p.access_keys.is_empty() {
            return Err(QueryError::delete_conflict(
                "Cannot delete entity, must delete access keys first.",
            ));
        }
        if !p.policies.is_empty() {
            return Err(QueryError::delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !p.attached.is_empty() {
            return Err(QueryError::delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        st.principals.remove(&arn);
        self.save(&mut st)?;
        Ok(xml::response(QueryService::Iam, action, cx.rid, |_| {}))
    }

    pub(super) fn update_trust(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let text = cx.req.required("PolicyDocument")?;
        check_document("PolicyDocument", text, TRUST_CHARS, "ACLSizePerRole")?;
        let trust = Self::parse_trust(text)?;
        let mut st = self.state.write();
        let arn = self.named(&st, cx, "role", 64)?;
        self.allow(&st, cx, "iam:UpdateAssumeRolePolicy", &arn)?;
        Self::check_trust_principals(&st, &trust)?;
        let p = st.principals.get_mut(&arn).ok_or_else(internal_q)?;
        p.trust_policy = Some(text.to_owned());
        p.trust = Some(trust);
        self.save(&mut st)?;
        Ok(xml::response(
            QueryService::Iam,
            "UpdateAssumeRolePolicy",
            cx.rid,
            |_| {},
        ))
    }

    pub(super) fn create_access_key(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let mut st = self.state.write();
        let arn = self.user_or_caller(&st, cx)?;
        self.allow(&st, cx, "iam:CreateAccessKey", &arn)?;
        let p = st.principals.get_mut(&arn).ok_or_else(internal_q)?;
        if p.access_keys.len() >= MAX_KEYS {
            return Err(QueryError::limit_exceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}"
            )));
        }
        let (id, secret) = store::new_access_key("AKIA");
        let name = p.name.clone();
        let out = xml::response(QueryService::Iam, "CreateAccessKey", cx.rid, |w| {
            w.open("AccessKey");
            w.text("UserName", &name);
            w.text("AccessKeyId", &id);
            w.text("Status", "Active");
            w.text("SecretAccessKey", &secret);
            w.text("CreateDate", &iso8601(cx.now));
            w.close("AccessKey");
        });
        p.access_keys.push(AccessKey {
            id,
            secret,
            status: KeyStatus::Active,
            created: cx.now,
        });
        self.save(&mut st)?;
        Ok(out)
    }

    pub(super) fn list_access_keys(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let max = cx.req.max_items()?;
        let marker = cx.req.get("Marker");
        let st = self.state.read();
        let arn = self.user_or_caller(&st, cx)?;
        self.allow(&st, cx, "iam:ListAccessKeys", &arn)?;
        let p = st.principals.get(&arn).ok_or_else(internal_q)?;
        let (keys, next) = page(
            p.access_keys.iter().map(|k| (k.id.as_str(), k)),
            marker,
            max,
        );
        Ok(xml::response(
            QueryService::Iam,
            "ListAccessKeys",
            cx.rid,
            |w| {
                w.list("AccessKeyMetadata", keys, |w, k| {
                    w.text("UserName", &p.name);
                    w.text("AccessKeyId", &k.id);
                    w.text("Status", k.status.as_str());
                    w.text("CreateDate", &iso8601(k.created));
                });
                w.page(next.as_deref());
            },
        ))
    }

    /// UpdateAccessKey and DeleteAccessKey. Without `UserName`, the key is looked for among
    /// the account's users and roles (a role's key made before roles took sessions only).
    pub(super) fn change_access_key(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let key_id = cx.req.required("AccessKeyId")?;
        check_len("AccessKeyId", key_id, 16, 128)?;
        let status = if action == "UpdateAccessKey" {
            match cx.req.required("Status")? {
                "Active" => Some(KeyStatus::Active),
                "Inactive" => Some(KeyStatus::Inactive),
                other => {
                    return Err(QueryError::validation(format!(
                        "1 validation error detected: Value '{}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]",
                        ebsim_iam::names::echo(other)
                    )));
                }
            }
        } else {
            None
        };
        let mut st = self.state.write();
        let missing = || {
            QueryError::no_such_entity(format!("The Access Key with id {key_id} cannot be found."))
        };
        let arn = if cx.req.get("UserName").is_some() {
            self.named(&st, cx, "user", 128)?
        } else {
            st.principals
                .values()
                .find(|p| p.account == cx.account && p.access_keys.iter().any(|k| k.id == key_id))
                .map(|p| p.arn.clone())
                .ok_or_else(missing)?
        };
        self.allow(&st, cx, &format!("iam:{action}"), &arn)?;
        let p = st.principals.get_mut(&arn).ok_or_else(internal_q)?;
        let i = p
            .access_keys
            .iter()
            .position(|k| k.id == key_id)
            .ok_or_else(missing)?;
        match status {
            Some(s) => p.access_keys[i].status = s,
            None => {
                p.access_keys.remove(i);
            }
        }
        self.save(&mut st)?;
        Ok(xml::response(QueryService::Iam, action, cx.rid, |_| {}))
    }

    pub(super) fn put_inline(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let kind = kind_of(action);
        let policy_name = cx.req.required("PolicyName")?;
        check_name("PolicyName", policy_name, 1, 128)?;
        let text = cx.req.required("PolicyDocument")?;
        check_document("PolicyDocument", text, usize::MAX, "PolicySize")?;
        let doc = PolicyDocument::parse_identity_policy(text).map_err(|e| policy_error(&e))?;
        let mut st = self.state.write();
        let arn = self.named(&st, cx, kind, 128)?;
        self.allow(&st, cx, &format!("iam:{action}"), &arn)?;
        let p = st.principals.get_mut(&arn).ok_or_else(internal_q)?;
        let size = |t: &str| t.chars().filter(|c| !c.is_whitespace()).count();
        let total: usize = p
            .policies
            .iter()
            .filter(|(n, _)| n.as_str() != policy_name)
            .map(|(_, t)| size(t))
            .sum::<usize>()
            + size(text);
        let limit = if kind == "role" {
            ROLE_INLINE_CHARS
        } else {
            USER_INLINE_CHARS
        };
        if total > limit {
            return Err(QueryError::limit_exceeded(format!(
                "Maximum policy size of {limit} bytes exceeded for {kind} {}",
                p.name
            )));
        }
        let _ = doc;
        let stm = &mut *st;
        if let Some(p) = stm.principals.get_mut(&arn) {
            p.policies.insert(policy_name.to_owned(), text.to_owned());
            p.compile(&stm.managed_policies)
                .map_err(QueryError::service_failure)?;
        }
        self.save(&mut st)?;
        Ok(xml::response(QueryService::Iam, action, cx.rid, |_| {}))
    }

    fn inline_missing(kind: &str, name: &str) -> QueryError {
        QueryError::no_such_entity(format!(
            "The {kind} policy with name {} cannot be found.",
            ebsim_iam::names::echo(name)
        ))
    }

    pub(super) fn get_inline(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let kind = kind_of(action);
        let policy_name = cx.req.required("PolicyName")?;
        check_name("PolicyName", policy_name, 1, 128)?;
        let st = self.state.read();
        let arn = self.named(&st, cx, kind, 128)?;
        self.allow(&st, cx, &format!("iam:{action}"), &arn)?;
        let p = st.principals.get(&arn).ok_or_else(internal_q)?;
        let text = p
            .policies
            .get(policy_name)
            .ok_or_else(|| Self::inline_missing(kind, policy_name))?;
        Ok(xml::response(QueryService::Iam, action, cx.rid, |w| {
            w.text(name_param(kind), &p.name);
            w.text("PolicyName", policy_name);
            w.document("PolicyDocument", text);
        }))
    }

    pub(super) fn list_inline(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let kind = kind_of(action);
        let max = cx.req.max_items()?;
        let marker = cx.req.get("Marker");
        let st = self.state.read();
        let arn = self.named(&st, cx, kind, 128)?;
        self.allow(&st, cx, &format!("iam:{action}"), &arn)?;
        let p = st.principals.get(&arn).ok_or_else(internal_q)?;
        let (names, next) = page(
            p.policies.keys().map(|k| (k.as_str(), k.as_str())),
            marker,
            max,
        );
        Ok(xml::response(QueryService::Iam, action, cx.rid, |w| {
            w.list("PolicyNames", names, |w, n| w.text_only(n));
            w.page(next.as_deref());
        }))
    }

    pub(super) fn delete_inline(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let kind = kind_of(action);
        let policy_name = cx.req.required("PolicyName")?;
        check_name("PolicyName", policy_name, 1, 128)?;
        let mut st = self.state.write();
        let arn = self.named(&st, cx, kind, 128)?;
        self.allow(&st, cx, &format!("iam:{action}"), &arn)?;
        let p = st.principals.get(&arn).ok_or_else(internal_q)?;
        if !p.policies.contains_key(policy_name) {
            return Err(Self::inline_missing(kind, policy_name));
        }
        let stm = &mut *st;
        if let Some(p) = stm.principals.get_mut(&arn) {
            p.policies.remove(policy_name);
            p.compile(&stm.managed_policies)
                .map_err(QueryError::service_failure)?;
        }
        self.save(&mut st)?;
        Ok(xml::response(QueryService::Iam, action, cx.rid, |_| {}))
    }
}

pub(super) fn internal_q() -> QueryError {
    QueryError::service_failure("The entity changed during the call.")
}
