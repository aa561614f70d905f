//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use super::*;

pub(super) fn valid_alias_chars(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/:_-".contains(&b))
}

impl Kms {
    /// Resolves and checks the `TargetKeyId` of CreateAlias/UpdateAlias: authorized for `op`,
    /// not pending deletion, and customer managed. Returns the key id.
    pub(super) fn alias_target(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
        op: &str,
        ev: &mut Ev,
    ) -> R<String> {
        let target = req_str(req, "TargetKeyId")?;
        let key = self.key_access(st, caller, target, Forms::IdOrArn, KeyUse::policy(op), ev)?;
        Self::check_state(op, key)?;
        if key.aws_managed {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                "Aliases cannot point to AWS managed keys.",
            ));
        }
        Ok(key.id.clone())
    }

    /// LimitExceededException when `target` already has 50 aliases other than `alias_arn`.
    pub(super) fn check_alias_quota(st: &State, target: &str, alias_arn: &str) -> R<()> {
        let n = st
            .aliases
            .values()
            .filter(|a| a.target_key_id == target && a.arn != alias_arn)
            .count();
        if n >= 50 {
            let key_arn = st.keys.get(target).map(|k| k.arn.as_str()).unwrap_or("");
            return Err(err(
                ErrorType::LimitExceededException,
                format!("The key {key_arn} already has 50 aliases."),
            ));
        }
        Ok(())
    }

    pub(super) fn alias_op(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
    ) -> R<Value> {
        let name = req_str(req, "AliasName")?;
        if !name.starts_with("alias/") {
            return Err(validation(
                "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
            ));
        }
        if !valid_alias_chars(name) || name.len() <= "alias/".len() {
            return Err(validation(format!(
                "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
            )));
        }
        if name.starts_with("alias/aws/") {
            return Err(err(
                ErrorType::InvalidAliasNameException,
                format!(
                    "Alias names starting with alias/aws/ are reserved for AWS managed keys: {name}"
                ),
            ));
        }
        let account = self.caller_account(caller).to_string();
        let alias_arn = format!("arn:aws:kms:{}:{account}:{name}", self.config.region);
        let p = caller.principal.as_str();
        // IAM permission on the alias (the root has it implicitly).
        let cv = self.base_conditions(caller);
        let full = format!("kms:{op}");
        match self.iam(st, p, &full, &alias_arn, &cv) {
            Iam::Deny => {
                return Err(Self::denied(
                    p,
                    &full,
                    &alias_arn,
                    "with an explicit deny in an identity-based policy",
                ));
            }
            Iam::None if !is_root(p) => {
                return Err(Self::denied(
                    p,
                    &full,
                    &alias_arn,
                    &format!("because no identity-based policy allows the {full} action"),
                ));
            }
            _ => {}
        }
        let existing = st.aliases.get(&alias_arn).cloned();
        match op {
            "CreateAlias" => {
                if existing.is_some() {
                    return Err(err(
                        ErrorType::AlreadyExistsException,
                        format!("An alias with the name {alias_arn} already exists"),
                    ));
                }
                let target = self.alias_target(st, caller, req, op, ev)?;
                Self::check_alias_quota(st, &target, &alias_arn)?;
                st.aliases.insert(
                    alias_arn.clone(),
                    Alias {
                        name: name.into(),
                        arn: alias_arn,
                        target_key_id: target,
                        created: now,
                        updated: now,
                    },
                );
            }
            "UpdateAlias" => {
                let old = existing.ok_or_else(|| {
                    err(
                        ErrorType::NotFoundException,
                        format!("Alias {alias_arn} is not found."),
                    )
                })?;
                let target = self.alias_target(st, caller, req, op, ev)?;
                Self::check_alias_quota(st, &target, &alias_arn)?;
                if let Some(old_key) = st.keys.get(&old.target_key_id) {
                    self.authorize(st, caller, old_key, &cv, KeyUse::policy(op))?;
                }
                if let Some(a) = st.aliases.get_mut(&alias_arn) {
                    a.target_key_id = target;
                    a.updated = now;
                }
            }
            _ => {
                let old = existing.ok_or_else(|| {
                    err(
                        ErrorType::NotFoundException,
                        format!("Alias {alias_arn} is not found."),
                    )
                })?;
                if let Some(k) = st.keys.get(&old.target_key_id) {
                    ev.key(k);
                    self.authorize(st, caller, k, &cv, KeyUse::policy(op))?;
                }
                st.aliases.remove(&alias_arn);
            }
        }
        Ok(json!({}))
    }

    pub(super) fn list_aliases(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
    ) -> R<Value> {
        self.authorize_iam_only(st, caller, "ListAliases", "*")?;
        let account = self.caller_account(caller).to_string();
        let filter = match opt_str(req, "KeyId")? {
            Some(k) => Some(self.resolve_id(st, caller, k, Forms::IdOrArn)?),
            None => None,
        };
        let prefix = format!("arn:aws:kms:{}:{account}:", self.config.region);
        let mut items: Vec<Value> = st
            .aliases
            .values()
            .filter(|a| a.arn.starts_with(&prefix))
            .filter(|a| filter.as_ref().is_none_or(|f| *f == a.target_key_id))
            .map(|a| {
                json!({"AliasName": a.name, "AliasArn": a.arn, "TargetKeyId": a.target_key_id,
                       "CreationDate": a.created, "LastUpdatedDate": a.updated})
            })
            .collect();
        if filter.is_none() {
            for (name, _, _) in MANAGED {
                let arn = format!("{prefix}{name}");
                if !st.aliases.contains_key(&arn) {
                    items.push(json!({"AliasName": name, "AliasArn": arn}));
                }
            }
        }
        list_page(items, req, 100, 50, "Aliases")
    }
}
