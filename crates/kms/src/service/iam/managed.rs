//! Customer managed policies: versions, attachments (docs/iam.md, "Operations").

use super::principals::{find, internal_q};
use super::*;

fn invalid_arn() -> QueryError {
    QueryError::validation("Invalid ARN:  Could not be parsed!")
}

/// Checks a policy ARN's form (`arn:aws:iam::ACCOUNT:policy/…`).
fn check_policy_arn(arn: &str) -> Q<()> {
    check_len("PolicyArn", arn, 20, 2048)?;
    let ok = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(account, res)| {
            (account == "aws" || account.parse::<ebsim_kms_api::id::AccountId>().is_ok())
                && res.starts_with("policy/")
                && res.len() > "policy/".len()
        });
    if ok { Ok(()) } else { Err(invalid_arn()) }
}

fn policy_missing(arn: &str) -> QueryError {
    QueryError::no_such_entity(format!(
        "Policy {} was not found.",
        ebsim_iam::names::echo(arn)
    ))
}

fn attachments(st: &State, arn: &str) -> usize {
    st.principals
        .values()
        .filter(|p| p.attached.iter().any(|a| a == arn))
        .count()
}

fn write_policy(w: &mut XmlWriter, m: &ManagedPolicy, attached: usize, full: bool) {
    w.text("PolicyName", &m.name);
    w.text("PolicyId", &m.id);
    w.text("Arn", &m.arn);
    w.text("Path", &m.path);
    w.text("DefaultVersionId", &m.default_version);
    w.num("AttachmentCount", attached);
    w.num("PermissionsBoundaryUsageCount", 0);
    w.bool("IsAttachable", true);
    if full {
        w.opt("Description", m.description.as_deref());
    }
    w.text("CreateDate", &iso8601(m.created));
    w.text("UpdateDate", &iso8601(m.updated));
}

impl Kms {
    fn policy_document(req: &QueryRequest) -> Q<(String, PolicyDocument)> {
        let text = req.required("PolicyDocument")?;
        check_document("PolicyDocument", text, MANAGED_CHARS, "PolicySize")?;
        let doc = PolicyDocument::parse_identity_policy(text).map_err(|e| policy_error(&e))?;
        Ok((text.to_owned(), doc))
    }

    /// Recompiles every principal that has `arn` attached (its default version changed).
    fn recompile_attached(st: &mut State, arn: &str) -> Q<()> {
        let holders: Vec<String> = st
            .principals
            .values()
            .filter(|p| p.attached.iter().any(|a| a == arn))
            .map(|p| p.arn.clone())
            .collect();
        for h in holders {
            if let Some(p) = st.principals.get_mut(&h) {
                p.compile(&st.managed_policies)
                    .map_err(QueryError::service_failure)?;
            }
        }
        Ok(())
    }

    pub(super) fn create_policy(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let name = cx.req.required("PolicyName")?;
        check_name("PolicyName", name, 1, 128)?;
        let path = cx.req.get("Path").unwrap_or("/");
        check_path("Path", path)?;
        let description = cx.req.get("Description");
        if let Some(d) = description {
            check_len("Description", d, 0, 1000)?;
        }
        let (text, doc) = Self::policy_document(cx.req)?;
        let arn = format!("arn:aws:iam::{}:policy{path}{name}", cx.account);
        let mut st = self.state.write();
        self.allow(&st, cx, "iam:CreatePolicy", &arn)?;
        let mine = st
            .managed_policies
            .values()
            .filter(|m| m.account == cx.account);
        let mut count = 0;
        for m in mine {
            if m.name.eq_ignore_ascii_case(name) {
                return Err(QueryError::already_exists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            count += 1;
        }
        if count >= MAX_MANAGED {
            return Err(QueryError::limit_exceeded(format!(
                "Cannot exceed quota for PoliciesPerAccount: {MAX_MANAGED}"
            )));
        }
        let m = ManagedPolicy {
            arn: arn.clone(),
            name: name.to_owned(),
            path: path.to_owned(),
            id: unique_id("ANPA"),
            account: cx.account.clone(),
            description: description.map(str::to_owned),
            created: cx.now,
            updated: cx.now,
            default_version: "v1".to_owned(),
            versions: vec![PolicyVersion {
                id: "v1".to_owned(),
                document: text,
                created: cx.now,
            }],
            last_version: 1,
            compiled: Some(Arc::new(doc)),
        };
        let out = xml::response(QueryService::Iam, "CreatePolicy", cx.rid, |w| {
            w.open("Policy");
            write_policy(w, &m, 0, false);
            w.close("Policy");
        });
        st.managed_policies.insert(arn, m);
        self.save(&mut st)?;
        Ok(out)
    }

    /// The policy a request's `PolicyArn` names, which must exist.
    fn named_policy(st: &State, req: &QueryRequest) -> Q<String> {
        let arn = req.required("PolicyArn")?;
        check_policy_arn(arn)?;
        if st.managed_policies.contains_key(arn) {
            Ok(arn.to_owned())
        } else {
            Err(policy_missing(arn))
        }
    }

    pub(super) fn get_policy(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let st = self.state.read();
        let arn = Self::named_policy(&st, cx.req)?;
        self.allow(&st, cx, "iam:GetPolicy", &arn)?;
        let m = st.managed_policies.get(&arn).ok_or_else(internal_q)?;
        let n = attachments(&st, &arn);
        Ok(xml::response(QueryService::Iam, "GetPolicy", cx.rid, |w| {
            w.open("Policy");
            write_policy(w, m, n, true);
            w.close("Policy");
        }))
    }

    pub(super) fn list_policies(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let scope = cx.req.get("Scope").unwrap_or("All");
        if !matches!(scope, "All" | "AWS" | "Local") {
            return Err(QueryError::validation(format!(
                "1 validation error detected: Value '{}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]",
                ebsim_iam::names::echo(scope)
            )));
        }
        let only_attached = cx.req.bool("OnlyAttached")?.unwrap_or(false);
        let prefix = cx.req.get("PathPrefix").unwrap_or("/");
        check_len("PathPrefix", prefix, 1, 512)?;
        let max = cx.req.max_items()?;
        let marker = cx.req.get("Marker");
        let st = self.state.read();
        let resource = format!("arn:aws:iam::{}:policy/", cx.account);
        self.allow(&st, cx, "iam:ListPolicies", &resource)?;
        // No AWS managed policy is modelled: scope AWS lists none.
        let items = st
            .managed_policies
            .iter()
            .filter(|(_, m)| {
                scope != "AWS" && m.account == cx.account && m.path.starts_with(prefix)
            })
            .map(|(k, m)| (k.as_str(), (m, attachments(&st, k))))
            .filter(|(_, (_, n))| !only_attached || *n > 0);
        let (items, next) = page(items, marker, max);
        Ok(xml::response(
            QueryService::Iam,
            "ListPolicies",
            cx.rid,
            |w| {
                w.list("Policies", items, |w, (m, n)| write_policy(w, m, n, false));
                w.page(next.as_deref());
            },
        ))
    }

    pub(super) fn delete_policy(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let mut st = self.state.write();
        let arn = Self::named_policy(&st, cx.req)?;
        self.allow(&st, cx, "iam:DeletePolicy", &arn)?;
        if attachments(&st, &arn) > 0 {
            return Err(QueryError::delete_conflict(
                "Cannot delete a policy attached to entities.",
            ));
        }
        let m = st.managed_policies.get(&arn).ok_or_else(internal_q)?;
        if m.versions.len() > 1 {
            return Err(QueryError::delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        st.managed_policies.remove(&arn);
        self.save(&mut st)?;
        Ok(xml::response(
            QueryService::Iam,
            "DeletePolicy",
            cx.rid,
            |_| {},
        ))
    }

    pub(super) fn create_policy_version(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let (text, doc) = Self::policy_document(cx.req)?;
        let set_default = cx.req.bool("SetAsDefault")?.unwrap_or(false);
        let mut st = self.state.write();
        let arn = Self::named_policy(&st, cx.req)?;
        self.allow(&st, cx, "iam:CreatePolicyVersion", &arn)?;
        let m = st.managed_policies.get_mut(&arn).ok_or_else(internal_q)?;
        if m.versions.len() >= MAX_VERSIONS {
            return Err(QueryError::limit_exceeded(format!(
                "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
            )));
        }
        m.last_version += 1;
        let id = format!("v{}", m.last_version);
        m.versions.push(PolicyVersion {
            id: id.clone(),
            document: text,
            created: cx.now,
        });
        m.updated = cx.now;
        if set_default {
            m.default_version.clone_from(&id);
            m.compiled = Some(Arc::new(doc));
            Self::recompile_attached(&mut st, &arn)?;
        }
        self.save(&mut st)?;
        Ok(xml::response(
            QueryService::Iam,
            "CreatePolicyVersion",
            cx.rid,
            |w| {
                w.open("PolicyVersion");
                w.text("VersionId", &id);
                w.bool("IsDefaultVersion", set_default);
                w.text("CreateDate", &iso8601(cx.now));
                w.close("PolicyVersion");
            },
        ))
    }

    pub(super) fn get_policy_version(&self, cx: &Cx<'_>) -> Q<Vec<u8>> {
        let version = cx.req.required("VersionId")?;
        let well_formed = version.strip_prefix('v').is_some_and(|n| {
            !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit())
        });
        if !well_formed {
            return Err(QueryError::validation(format!(
                "1 validation error detected: Value '{}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
                ebsim_iam::names::echo(version)
            )));
        }
        let st = self.state.read();
        let arn = Self::named_policy(&st, cx.req)?;
        self.allow(&st, cx, "iam:GetPolicyVersion", &arn)?;
        let m = st.managed_policies.get(&arn).ok_or_else(internal_q)?;
        let v = m.versions.iter().find(|v| v.id == version).ok_or_else(|| {
            QueryError::no_such_entity(format!(
                "Policy {arn} version {version} does not exist or is not attachable."
            ))
        })?;
        Ok(xml::response(
            QueryService::Iam,
            "GetPolicyVersion",
            cx.rid,
            |w| {
                w.open("PolicyVersion");
                w.document("Document", &v.document);
                w.text("VersionId", &v.id);
                w.bool("IsDefaultVersion", v.id == m.default_version);
                w.text("CreateDate", &iso8601(v.created));
                w.close("PolicyVersion");
            },
        ))
    }

    /// Attach/Detach User/Role Policy.
    pub(super) fn attach(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let kind = if action.contains("Role") {
            "role"
        } else {
            "user"
        };
        let param = if kind == "role" {
            "RoleName"
        } else {
            "UserName"
        };
        let name = cx.req.required(param)?;
        check_name(param, name, 1, 128)?;
        let policy_arn = cx.req.required("PolicyArn")?;
        check_policy_arn(policy_arn)?;
        let detach = action.starts_with("Detach");
        let mut st = self.state.write();
        let arn = find(&st, &cx.account, kind, name).ok_or_else(|| {
            QueryError::no_such_entity(format!(
                "The {kind} with name {} cannot be found.",
                ebsim_iam::names::echo(name)
            ))
        })?;
        self.allow(&st, cx, &format!("iam:{action}"), &arn)?;
        if !detach && !st.managed_policies.contains_key(policy_arn) {
            return Err(QueryError::no_such_entity(format!(
                "Policy {policy_arn} does not exist or is not attachable."
            )));
        }
        let stm = &mut *st;
        let p = stm.principals.get_mut(&arn).ok_or_else(internal_q)?;
        let at = p.attached.iter().position(|a| a == policy_arn);
        match (detach, at) {
            (true, None) => return Err(policy_missing(policy_arn)),
            (true, Some(i)) => {
                p.attached.remove(i);
            }
            (false, Some(_)) => {}
            (false, None) => {
                if p.attached.len() >= MAX_ATTACHED {
                    let quota = if kind == "role" {
                        "PoliciesPerRole"
                    } else {
                        "PoliciesPerUser"
                    };
                    return Err(QueryError::limit_exceeded(format!(
                        "Cannot exceed quota for {quota}: {MAX_ATTACHED}"
                    )));
                }
                p.attached.push(policy_arn.to_owned());
            }
        }
        p.compile(&stm.managed_policies)
            .map_err(QueryError::service_failure)?;
        self.save(&mut st)?;
        Ok(xml::response(QueryService::Iam, action, cx.rid, |_| {}))
    }

    pub(super) fn list_attached(&self, cx: &Cx<'_>, action: &str) -> Q<Vec<u8>> {
        let kind = if action.contains("Role") {
            "role"
        } else {
            "user"
        };
        let param = if kind == "role" {
            "RoleName"
        } else {
            "UserName"
        };
        let name = cx.req.required(param)?;
        check_name(param, name, 1, 128)?;
        let prefix = cx.req.get("PathPrefix").unwrap_or("/");
        let max = cx.req.max_items()?;
        let marker = cx.req.get("Marker");
        let st = self.state.read();
        let arn = find(&st, &cx.account, kind, name).ok_or_else(|| {
            QueryError::no_such_entity(format!(
                "The {kind} with name {} cannot be found.",
                ebsim_iam::names::echo(name)
            ))
        })?;
        self.allow(&st, cx, &format!("iam:{action}"), &arn)?;
        let p = st.principals.get(&arn).ok_or_else(internal_q)?;
        let items = p
            .attached
            .iter()
            .filter_map(|a| st.managed_policies.get(a))
            .filter(|m| m.path.starts_with(prefix))
            .map(|m| (m.arn.as_str(), m));
        let (items, next) = page(items, marker, max);
        Ok(xml::response(QueryService::Iam, action, cx.rid, |w| {
            w.list("AttachedPolicies", items, |w, m| {
                w.text("PolicyName", &m.name);
                w.text("PolicyArn", &m.arn);
            });
            w.page(next.as_deref());
        }))
    }
}
