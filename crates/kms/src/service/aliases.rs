//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use ebsim_kms_api::types::aliases::{
    ALIAS_NAME_PATTERN, AliasListEntry, CreateAliasRequest, DeleteAliasRequest, ListAliasesRequest,
    ListAliasesResponse, UpdateAliasRequest,
};
use ebsim_kms_api::types::{EmptyResponse, MemberSpec, Request as _, Rule};

use super::*;

pub(super) fn valid_alias_chars(name: &str) -> bool {
    name.len() <= 256 && Rule::check_pattern(ALIAS_NAME_PATTERN, name)
}

impl Kms {
    /// Resolves and checks the `TargetKeyId` of CreateAlias/UpdateAlias: authorized for `op`,
    /// not pending deletion, and customer managed. Returns the key id.
    pub(super) fn alias_target(
        &self,
        st: &State,
        caller: &Caller,
        target: Option<&str>,
        spec: &MemberSpec,
        op: &str,
        ev: &mut Ev,
    ) -> R<String> {
        let target = spec.check_present(target)?;
        let key = self.key_access(st, caller, target, Forms::IdOrArn, KeyUse::policy(op), ev)?;
        Self::check_state(op, key)?;
        if key.aws_managed {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                "Aliases cannot point to AWS managed keys.",
            ));
        }
        Ok(key.slot())
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

    /// The alias `AliasName` names (checked against `spec`), and the caller's IAM permission
    /// for `op` on it: the alias name, its ARN, and the caller's condition values.
    fn named_alias<'a>(
        &self,
        st: &State,
        caller: &Caller,
        op: &str,
        name: Option<&'a str>,
        spec: &MemberSpec,
    ) -> R<(&'a str, String, ConditionValues)> {
        let name = spec.check_present(name)?;
        if !name.starts_with("alias/") {
            return Err(validation(
                "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
            ));
        }
        if !valid_alias_chars(name) || name.len() <= "alias/".len() {
            return Err(spec.violation(Rule::Pattern(ALIAS_NAME_PATTERN), name));
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
        let alias_arn = format!("arn:aws:kms:{}:{account}:{name}", self.region_of(caller));
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
        Ok((name, alias_arn, cv))
    }

    fn alias_not_found(alias_arn: &str) -> KmsError {
        err(
            ErrorType::NotFoundException,
            format!("Alias {alias_arn} is not found."),
        )
    }

    pub(super) fn create_alias(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Staged<CreateAliasRequest>,
        ev: &mut Ev,
        now: f64,
    ) -> R<EmptyResponse> {
        type Q = CreateAliasRequest;
        let op = Q::OPERATION;
        let name = req.get(&Q::ALIAS_NAME, req.alias_name.as_deref())?;
        let (name, alias_arn, _) = self.named_alias(st, caller, op, name, &Q::ALIAS_NAME)?;
        if st.aliases.contains_key(&alias_arn) {
            return Err(err(
                ErrorType::AlreadyExistsException,
                format!("An alias with the name {alias_arn} already exists"),
            ));
        }
        let target = req.get(&Q::TARGET_KEY_ID, req.target_key_id.as_deref())?;
        let target = self.alias_target(st, caller, target, &Q::TARGET_KEY_ID, op, ev)?;
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
        Ok(EmptyResponse {})
    }

    pub(super) fn update_alias(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Staged<UpdateAliasRequest>,
        ev: &mut Ev,
        now: f64,
    ) -> R<EmptyResponse> {
        type Q = UpdateAliasRequest;
        let op = Q::OPERATION;
        let name = req.get(&Q::ALIAS_NAME, req.alias_name.as_deref())?;
        let (_, alias_arn, cv) = self.named_alias(st, caller, op, name, &Q::ALIAS_NAME)?;
        let old = st
            .aliases
            .get(&alias_arn)
            .cloned()
            .ok_or_else(|| Self::alias_not_found(&alias_arn))?;
        let target = req.get(&Q::TARGET_KEY_ID, req.target_key_id.as_deref())?;
        let target = self.alias_target(st, caller, target, &Q::TARGET_KEY_ID, op, ev)?;
        Self::check_alias_quota(st, &target, &alias_arn)?;
        if let Some(old_key) = st.keys.get(&old.target_key_id) {
            self.authorize(st, caller, old_key, &cv, KeyUse::policy(op))?;
        }
        if let Some(a) = st.aliases.get_mut(&alias_arn) {
            a.target_key_id = target;
            a.updated = now;
        }
        Ok(EmptyResponse {})
    }

    pub(super) fn delete_alias(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &DeleteAliasRequest,
        ev: &mut Ev,
    ) -> R<EmptyResponse> {
        type Q = DeleteAliasRequest;
        let op = Q::OPERATION;
        let name = req.alias_name.as_deref();
        let (_, alias_arn, cv) = self.named_alias(st, caller, op, name, &Q::ALIAS_NAME)?;
        let old = st
            .aliases
            .get(&alias_arn)
            .cloned()
            .ok_or_else(|| Self::alias_not_found(&alias_arn))?;
        if let Some(k) = st.keys.get(&old.target_key_id) {
            ev.key(k);
            self.authorize(st, caller, k, &cv, KeyUse::policy(op))?;
        }
        st.aliases.remove(&alias_arn);
        Ok(EmptyResponse {})
    }

    pub(super) fn list_aliases(
        &self,
        st: &State,
        caller: &Caller,
        req: &Staged<ListAliasesRequest>,
    ) -> R<ListAliasesResponse> {
        type Q = ListAliasesRequest;
        self.authorize_iam_only(st, caller, "ListAliases", "*")?;
        let account = self.caller_account(caller).to_string();
        let filter = match req.get(&Q::KEY_ID, req.key_id.as_deref())? {
            Some(k) => Some(self.resolve_id(st, caller, k, Forms::IdOrArn)?),
            None => None,
        };
        let prefix = format!("arn:aws:kms:{}:{account}:", self.region_of(caller));
        let mut items: Vec<AliasListEntry> = st
            .aliases
            .values()
            .filter(|a| a.arn.starts_with(&prefix))
            .filter(|a| filter.as_ref().is_none_or(|f| *f == a.target_key_id))
            .map(|a| AliasListEntry {
                alias_name: a.name.clone(),
                alias_arn: a.arn.clone(),
                target_key_id: Some(crate::state::wire_id(&a.target_key_id).to_owned()),
                creation_date: Some(a.created),
                last_updated_date: Some(a.updated),
            })
            .collect();
        if filter.is_none() {
            for (name, _, _) in MANAGED {
                let arn = format!("{prefix}{name}");
                if !st.aliases.contains_key(&arn) {
                    items.push(AliasListEntry {
                        alias_name: name.to_string(),
                        alias_arn: arn,
                        target_key_id: None,
                        creation_date: None,
                        last_updated_date: None,
                    });
                }
            }
        }
        let page = list_page(
            items,
            req.get(&Q::LIMIT, req.limit)?,
            req.get(&Q::MARKER, req.marker.as_deref()),
            &Q::LIMIT,
            50,
        )?;
        Ok(ListAliasesResponse {
            aliases: page.items,
            next_marker: page.next_marker,
            truncated: page.truncated,
        })
    }
}
