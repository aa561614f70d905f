//! Resolving a `KeyId` and authorizing a call: key policy, IAM identity policies and grants, and the key-state rules of the operation table.

use super::*;
use ebsim_kms_api::id::{PrincipalArn, PrincipalKind, arn_account};
use ebsim_kms_api::types::crypto::KEY_ID_RULE;
use ebsim_kms_api::types::{Echo, MemberSpec};

/// The result of authorization.
#[derive(Debug, Default)]
pub(super) struct Authz {
    pub(super) sid: Option<String>,
    pub(super) grant_id: Option<String>,
    /// The grant through which CreateGrant was allowed (child-grant rule).
    pub(super) via_grant: Option<Grant>,
}

pub(super) enum Iam {
    Deny,
    Allow,
    None,
}

/// What a key-scoped call asks authorization for.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyUse<'a> {
    /// The action (`Decrypt`, `ReEncryptFrom`, `CreateAlias`, …).
    pub(super) action: &'a str,
    /// The encryption context (condition keys, grant constraints), if the call takes one.
    pub(super) ctx: Option<&'a BTreeMap<String, String>>,
    /// Whether a grant can allow it.
    pub(super) grant: bool,
}

impl<'a> KeyUse<'a> {
    /// Allowed by key policy and IAM only.
    pub(super) fn policy(action: &'a str) -> Self {
        Self {
            action,
            ctx: None,
            grant: false,
        }
    }

    /// Allowed by key policy, IAM, or a grant (whose constraints `ctx` must meet).
    pub(super) fn grantable(action: &'a str, ctx: Option<&'a BTreeMap<String, String>>) -> Self {
        Self {
            action,
            ctx,
            grant: true,
        }
    }
}

/// Which `KeyId` forms an operation accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Forms {
    All,
    IdOrArn,
}

/// Whether `op` accepts an alias as its key reference ([`Forms::All`]): the cryptographic
/// operations and DescribeKey. Only these can name an AWS managed key by its alias, and so
/// create it on first use.
pub(super) fn takes_alias(op: &str) -> bool {
    matches!(
        op,
        "Encrypt"
            | "Decrypt"
            | "GenerateDataKey"
            | "GenerateDataKeyWithoutPlaintext"
            | "GenerateDataKeyPair"
            | "GenerateDataKeyPairWithoutPlaintext"
            | "ReEncrypt"
            | "DescribeKey"
    )
}

/// The constraints every key reference is resolved under: whichever member carries it
/// (`KeyId`, `TargetKeyId`, `DestinationKeyId`), a length outside [`KEY_ID_RULE`] is reported
/// as `keyId`.
pub(super) const KEY_REF: MemberSpec = MemberSpec {
    name: "KeyId",
    echo: Echo::Hidden,
    rules: &[KEY_ID_RULE],
};

/// Checks a key reference against the length rules of `spec` (its member's constraints),
/// counting bytes.
pub(super) fn check_key_ref(spec: &MemberSpec, key_ref: &str) -> R<()> {
    spec.check_len(key_ref.len())
}

/// `arn:aws:sts::A:assumed-role/R/S` → `arn:aws:iam::A:role/R`.
pub(super) fn identity_arn(principal: &str) -> Option<String> {
    let p = PrincipalArn::parse(principal)?;
    let role = p.assumed_role()?;
    let mut arn = String::with_capacity(24 + p.account().len() + role.len());
    arn.push_str("arn:aws:iam::");
    arn.push_str(p.account());
    arn.push_str(":role/");
    arn.push_str(role);
    Some(arn)
}

/// Whether `principal` is an account root (`arn:aws:iam::ACCOUNT:root`).
pub(super) fn is_root(principal: &str) -> bool {
    // Most callers are not roots: the suffix answers them without a parse.
    principal.ends_with(":root")
        && PrincipalArn::parse(principal).is_some_and(|p| p.kind() == PrincipalKind::Root)
}

/// The 12-digit account of an ARN (its fifth `:`-separated field), as [`Caller::account`].
pub(super) fn principal_account(principal: &str) -> Option<&str> {
    arn_account(principal)
}

/// `kms:ACTION` for an action named by an operation or a grant operation (`ReEncryptFrom`).
pub(super) fn kms_action(action: &str) -> std::borrow::Cow<'static, str> {
    let from_table = crate::ops::operation(action).and_then(|o| {
        o.actions
            .iter()
            .find(|a| a.strip_prefix("kms:") == Some(action))
    });
    match (from_table, action) {
        (Some(a), _) => std::borrow::Cow::Borrowed(a),
        (None, "ReEncryptFrom") => std::borrow::Cow::Borrowed("kms:ReEncryptFrom"),
        (None, "ReEncryptTo") => std::borrow::Cow::Borrowed("kms:ReEncryptTo"),
        (None, _) => std::borrow::Cow::Owned(format!("kms:{action}")),
    }
}

impl Kms {
    pub(super) fn caller_account<'a>(&'a self, caller: &'a Caller) -> &'a str {
        principal_account(&caller.principal).unwrap_or(&self.config.account)
    }

    /// Resolves a `KeyId` to the key's id (the map key).
    pub(super) fn resolve_id(
        &self,
        st: &State,
        caller: &Caller,
        key_ref: &str,
        forms: Forms,
    ) -> R<String> {
        let region = self.region_of(caller);
        let not_found = |arn: &str| {
            err(
                ErrorType::NotFoundException,
                format!("Key '{arn}' does not exist"),
            )
        };
        let alias_unsupported = || {
            err(
                ErrorType::InvalidArnException,
                "Key Aliases are not supported for this operation",
            )
        };
        check_key_ref(&KEY_REF, key_ref)?;
        let (account, resource) = if let Some(rest) = key_ref.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if parts.len() != 5
                || !matches!(parts[0], "aws" | "aws-cn" | "aws-us-gov")
                || parts[1] != "kms"
            {
                return Err(err(
                    ErrorType::NotFoundException,
                    format!("Invalid arn {key_ref}"),
                ));
            }
            if region != *parts[2] {
                return Err(err(
                    ErrorType::NotFoundException,
                    format!("Invalid arn {}", parts[2]),
                ));
            }
            (parts[3].to_string(), parts[4].to_string())
        } else {
            (self.caller_account(caller).to_string(), key_ref.to_string())
        };
        if resource.starts_with("alias/") {
            if forms != Forms::All {
                return Err(alias_unsupported());
            }
            let arn = format!("arn:aws:kms:{region}:{account}:{resource}");
            return st
                .aliases
                .get(&arn)
                .map(|a| a.target_key_id.clone())
                .ok_or_else(|| {
                    err(
                        ErrorType::NotFoundException,
                        format!("Alias {arn} is not found."),
                    )
                });
        }
        let is_arn = key_ref.starts_with("arn:");
        if is_arn && !resource.starts_with("key/") {
            return Err(err(
                ErrorType::NotFoundException,
                format!("Invalid arn {key_ref}"),
            ));
        }
        // `key/<id>` is a form only inside an ARN.
        let id = if is_arn {
            resource.strip_prefix("key/").unwrap_or(&resource)
        } else {
            resource.as_str()
        };
        if crate::state::id_bytes(id).is_none() {
            return Err(err(
                ErrorType::NotFoundException,
                format!("Invalid keyId '{key_ref}'"),
            ));
        }
        let arn = format!("arn:aws:kms:{region}:{account}:key/{id}");
        match st.keys.get(&crate::state::slot_of(id, region.as_str())) {
            Some(k) if k.account == account && region == *k.region => Ok(k.slot()),
            _ => Err(not_found(&arn)),
        }
    }

    pub(super) fn key<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        key_ref: &str,
        forms: Forms,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        let id = self.resolve_id(st, caller, key_ref, forms)?;
        let key = st.keys.get(&id).ok_or_else(|| internal("key vanished"))?;
        ev.key(key);
        Ok(key)
    }

    pub(super) fn base_conditions(&self, caller: &Caller) -> ConditionValues {
        let mut cv = ConditionValues::new();
        if let Some(a) = principal_account(&caller.principal) {
            cv.insert("kms:CallerAccount", a);
        }
        cv.insert(
            "aws:PrincipalArn",
            identity_arn(&caller.principal).unwrap_or_else(|| caller.principal.clone()),
        );
        if let Some(v) = &caller.via_service {
            cv.insert("kms:ViaService", v.clone());
        }
        cv
    }

    pub(super) fn context_conditions(cv: &mut ConditionValues, ctx: &BTreeMap<String, String>) {
        let mut name = String::with_capacity(64);
        for (k, v) in ctx {
            name.clear();
            name.push_str("kms:EncryptionContext:");
            name.push_str(k);
            cv.insert(&name, v.clone());
        }
        cv.insert_many("kms:EncryptionContextKeys", ctx.keys().cloned());
    }

    pub(super) fn iam(
        &self,
        st: &State,
        principal: &str,
        action: &str,
        resource: &str,
        cv: &ConditionValues,
    ) -> Iam {
        if st.principals.is_empty() {
            return Iam::None;
        }
        let arn = identity_arn(principal);
        let Some(p) = st.principals.get(arn.as_deref().unwrap_or(principal)) else {
            return Iam::None;
        };
        let mut allowed = false;
        for doc in &p.compiled {
            match doc.allows(principal, action, resource, cv) {
                Decision::ExplicitDeny { .. } => return Iam::Deny,
                Decision::Allow { .. } | Decision::DelegatedToIam { .. } => allowed = true,
                _ => {}
            }
        }
        if allowed { Iam::Allow } else { Iam::None }
    }

    pub(super) fn denied(principal: &str, action: &str, resource: &str, why: &str) -> KmsError {
        err(
            ErrorType::AccessDeniedException,
            format!(
                "User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"
            ),
        )
    }

    /// Key policy + IAM + grants for `what.action` (`"Decrypt"`) on `key`.
    pub(super) fn authorize(
        &self,
        st: &State,
        caller: &Caller,
        key: &Key,
        cv: &ConditionValues,
        what: KeyUse<'_>,
    ) -> R<Authz> {
        let KeyUse {
            action,
            ctx: grant_ctx,
            grant: grant_op,
        } = what;
        let p = caller.principal.as_str();
        let full = kms_action(action);
        let policy = key
            .policy
            .as_ref()
            .ok_or_else(|| internal("key policy missing"))?;
        let decision = policy.allows(p, &full, &key.arn, cv);
        if matches!(decision, Decision::ExplicitDeny { .. }) {
            return Err(Self::denied(
                p,
                &full,
                &key.arn,
                "with an explicit deny in a resource-based policy",
            ));
        }
        let iam = self.iam(st, p, &full, &key.arn, cv);
        if matches!(iam, Iam::Deny) {
            return Err(Self::denied(
                p,
                &full,
                &key.arn,
                "with an explicit deny in an identity-based policy",
            ));
        }
        if caller.session.is_some()
            && let Some(why) = self.session_limit(st, caller, &full, &key.arn, cv)
        {
            return Err(Self::denied(p, &full, &key.arn, &why));
        }
        let same_account = || principal_account(p) == Some(key.account.as_str());
        let root = || is_root(p);
        let mut missing_identity = false;
        match &decision {
            Decision::Allow { sid } => {
                if same_account() || root() || matches!(iam, Iam::Allow) {
                    return Ok(Authz {
                        sid: sid.clone(),
                        ..Authz::default()
                    });
                }
                missing_identity = true;
            }
            Decision::DelegatedToIam { sid } if root() || matches!(iam, Iam::Allow) => {
                return Ok(Authz {
                    sid: sid.clone(),
                    ..Authz::default()
                });
            }
            // The key policy left the decision to IAM, and no identity policy allows it:
            // AWS names the identity-based policy as the one missing.
            Decision::DelegatedToIam { .. } => missing_identity = true,
            _ => {}
        }
        if grant_op {
            let empty = BTreeMap::new();
            let ctx = grant_ctx.unwrap_or(&empty);
            let normalized;
            let grantee = if p.contains(":assumed-role/") || p.starts_with("arn:") {
                p
            } else {
                normalized = normalize_grantee(p);
                normalized.as_str()
            };
            for g in &key.grants {
                if g.grantee == grantee
                    && g.operations.iter().any(|o| o == action)
                    && (grant_ctx.is_none() || g.constraints.allows(ctx))
                {
                    return Ok(Authz {
                        grant_id: Some(g.grant_id.clone()),
                        via_grant: (action == "CreateGrant").then(|| g.clone()),
                        ..Authz::default()
                    });
                }
            }
        }
        let why = if missing_identity {
            format!("because no identity-based policy allows the {full} action")
        } else {
            format!("because no resource-based policy allows the {full} action")
        };
        Err(Self::denied(p, &full, &key.arn, &why))
    }

    /// IAM-only actions: the root of an account may; others need an identity policy.
    pub(super) fn authorize_iam_only(
        &self,
        st: &State,
        caller: &Caller,
        action: &str,
        resource: &str,
    ) -> R<()> {
        self.authorize_iam_only_with(st, caller, action, resource, &[])
    }

    /// [`Kms::authorize_iam_only`] with condition keys of the request (CreateKey's
    /// `kms:KeySpec`, `kms:KeyUsage`).
    pub(super) fn authorize_iam_only_with(
        &self,
        st: &State,
        caller: &Caller,
        action: &str,
        resource: &str,
        extra: &[(&str, &str)],
    ) -> R<()> {
        let p = caller.principal.as_str();
        let full = format!("kms:{action}");
        let mut cv = self.base_conditions(caller);
        for (k, v) in extra {
            cv.insert(k, *v);
        }
        if let Some(why) = self.session_limit(st, caller, &full, resource, &cv) {
            return Err(Self::denied(p, &full, resource, &why));
        }
        match self.iam(st, p, &full, resource, &cv) {
            Iam::Deny => Err(Self::denied(
                p,
                &full,
                resource,
                "with an explicit deny in an identity-based policy",
            )),
            Iam::Allow => Ok(()),
            Iam::None if is_root(p) => Ok(()),
            Iam::None => Err(Self::denied(
                p,
                &full,
                resource,
                &format!("because no identity-based policy allows the {full} action"),
            )),
        }
    }

    /// The key-state rule of `op` (the operation table) for `key`.
    pub(super) fn check_state(op: &str, key: &Key) -> R<()> {
        match crate::ops::operation(op).and_then(|o| o.state_error(&key.arn, key.state)) {
            Some((t, message)) => Err(err(t, message)),
            None => Ok(()),
        }
    }

    /// Everything a key-scoped operation needs: resolve `key_ref` (in the `forms` the
    /// operation accepts) and authorize `what` on the key.
    pub(super) fn key_access<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        key_ref: &str,
        forms: Forms,
        what: KeyUse<'_>,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        let key = self.key(st, caller, key_ref, forms, ev)?;
        let mut cv = self.base_conditions(caller);
        Self::key_conditions(&mut cv, key);
        if let Some(c) = what.ctx {
            Self::context_conditions(&mut cv, c);
        }
        let a = self.authorize(st, caller, key, &cv, what)?;
        ev.grant_id.clone_from(&a.grant_id);
        ev.sid.clone_from(&a.sid);
        Ok(key)
    }

    /// The key a key-management operation names (key id or ARN, no alias),
    /// authorized for `action` by the key policy and IAM policies (grants never allow
    /// management operations).
    pub(super) fn managed_key<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        key_ref: &str,
        action: &str,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        self.key_access(
            st,
            caller,
            key_ref,
            Forms::IdOrArn,
            KeyUse::policy(action),
            ev,
        )
    }

    /// [`Kms::managed_key`] for a typed request: the key `key_id` (required, as `spec`
    /// says) names, authorized for `action`.
    pub(super) fn managed_key_ref<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        key_id: Option<&str>,
        spec: &MemberSpec,
        action: &str,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        self.managed_key(st, caller, spec.check_present(key_id)?, action, ev)
    }

    /// The key a cryptographic or describing operation names (any form, aliases
    /// included), authorized for `action` by policy or by a grant, with the encryption context
    /// (if the operation takes one) as condition keys.
    pub(super) fn used_key<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        key_ref: &str,
        action: &str,
        ctx: Option<&BTreeMap<String, String>>,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        self.key_access(
            st,
            caller,
            key_ref,
            Forms::All,
            KeyUse::grantable(action, ctx),
            ev,
        )
    }
}
