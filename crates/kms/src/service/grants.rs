//! Grants: CreateGrant, RetireGrant, RevokeGrant, ListGrants, ListRetirableGrants, grant tokens.

use super::*;

/// Operations a grant may allow (docs/kms.md, "Authorization").
pub const GRANT_OPERATIONS: [&str; 17] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
];

/// Grant token: base64url (no padding) of `0x01 ‖ grant id (32 bytes) ‖ 16 random bytes`.
pub(super) fn new_grant_token(grant_id: &str) -> String {
    let mut raw = vec![1u8];
    raw.extend(hex::decode(grant_id).unwrap_or_default());
    let mut nonce = [0u8; 16];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut nonce);
    raw.extend_from_slice(&nonce);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub(super) fn parse_grant_token(token: &str) -> R<String> {
    let bad = || {
        err(
            ErrorType::InvalidGrantTokenException,
            "Invalid grant token.",
        )
    };
    if token.is_empty() || token.len() > 8192 {
        return Err(bad());
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    if raw.len() != 49 || raw[0] != 1 {
        return Err(bad());
    }
    Ok(hex::encode(&raw[1..33]))
}

/// Checks a request's `GrantTokens`: at most ten, each a token this KMS issued.
pub(super) fn check_grant_tokens_typed(tokens: Option<&[String]>) -> R<()> {
    if let Some(tokens) = tokens {
        ebsim_kms_api::types::crypto::DecryptRequest::GRANT_TOKENS.check_list(tokens)?;
        for t in tokens {
            parse_grant_token(t)?;
        }
    }
    Ok(())
}

pub(super) fn check_grant_tokens<Q: Req + ?Sized>(req: &Q) -> R<()> {
    if let Some(tokens) = string_list(req, "GrantTokens")? {
        if tokens.len() > 10 {
            return Err(validation(
                "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10",
            ));
        }
        for t in &tokens {
            parse_grant_token(t)?;
        }
    }
    Ok(())
}

pub(super) fn is_grant_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `<acct>:aws:ec2-infrastructure:<id>` (the form EC2 sends) → the session ARN.
pub(super) fn normalize_grantee(p: &str) -> String {
    let parts: Vec<&str> = p.split(':').collect();
    if parts.len() == 4
        && principal_account(&format!("arn:aws:iam::{}:root", parts[0])).is_some()
        && parts[1] == "aws"
    {
        return format!(
            "arn:aws:sts::{}:assumed-role/aws:{}/{}",
            parts[0], parts[2], parts[3]
        );
    }
    p.to_string()
}

pub(super) fn valid_principal_id(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 256
        && p.chars()
            .all(|c| c.is_alphanumeric() || "_+=,.@:/-".contains(c))
}

/// Whether a grant operation suits a key.
pub(super) fn grant_op_fits(op: &str, key: &Key) -> bool {
    if matches!(op, "CreateGrant" | "RetireGrant" | "DescribeKey") {
        return true;
    }
    let allowed: &[&str] = match (key.is_symmetric(), key.key_usage.as_str()) {
        (true, _) => &[
            "Encrypt",
            "Decrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
        ],
        (false, "ENCRYPT_DECRYPT") => &[
            "Encrypt",
            "Decrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GetPublicKey",
        ],
        (false, "SIGN_VERIFY") => &["Sign", "Verify", "GetPublicKey"],
        (false, "GENERATE_VERIFY_MAC") => &["GenerateMac", "VerifyMac"],
        (false, "KEY_AGREEMENT") => &["DeriveSharedSecret", "GetPublicKey"],
        _ => &[],
    };
    allowed.contains(&op)
}

pub(super) fn grant_entry(key: &Key, g: &Grant) -> Value {
    let mut e = Map::new();
    e.insert("KeyId".into(), json!(key.arn));
    e.insert("GrantId".into(), json!(g.grant_id));
    if let Some(n) = &g.name {
        e.insert("Name".into(), json!(n));
    }
    e.insert("CreationDate".into(), json!(g.created));
    e.insert("GranteePrincipal".into(), json!(g.grantee));
    if let Some(r) = &g.retiring {
        e.insert("RetiringPrincipal".into(), json!(r));
    }
    e.insert(
        "IssuingAccount".into(),
        json!(format!("arn:aws:iam::{}:root", g.issuing_account)),
    );
    e.insert("Operations".into(), json!(g.operations));
    if !g.constraints.is_empty() {
        let mut c = Map::new();
        if let Some(s) = &g.constraints.subset {
            c.insert("EncryptionContextSubset".into(), json!(s));
        }
        if let Some(s) = &g.constraints.equals {
            c.insert("EncryptionContextEquals".into(), json!(s));
        }
        e.insert("Constraints".into(), Value::Object(c));
    }
    grant_principals::add_service_members(&mut e);
    Value::Object(e)
}

impl Kms {
    pub(super) fn create_grant(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
        dry: bool,
    ) -> R<Value> {
        check_grant_tokens(req)?;
        let grantee =
            grant_principals::one_of(req, "GranteePrincipal", "GranteeServicePrincipal", true)?
                .unwrap_or_default();
        if !valid_principal_id(grantee) {
            return Err(validation(format!(
                "1 validation error detected: Value '{grantee}' at 'granteePrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
            )));
        }
        let retiring =
            grant_principals::one_of(req, "RetiringPrincipal", "RetiringServicePrincipal", false)?;
        if let Some(r) = retiring
            && !valid_principal_id(r)
        {
            return Err(validation(format!(
                "1 validation error detected: Value '{r}' at 'retiringPrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
            )));
        }
        let ops = string_list(req, "Operations")?.ok_or_else(|| {
            validation("1 validation error detected: Value null at 'operations' failed to satisfy constraint: Member must not be null")
        })?;
        if ops.is_empty() {
            return Err(validation(
                "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        for o in &ops {
            if !GRANT_OPERATIONS.contains(&o.as_str()) {
                return Err(validation(format!(
                    "1 validation error detected: Value '[{o}]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                    GRANT_OPERATIONS.join(", ")
                )));
            }
        }
        let constraints = match req.get("Constraints") {
            None | Some(Value::Null) => Constraints::default(),
            Some(Value::Object(c)) => {
                let subset = if c.contains_key("EncryptionContextSubset") {
                    Some(context_param(c, "EncryptionContextSubset")?)
                } else {
                    None
                };
                let equals = if c.contains_key("EncryptionContextEquals") {
                    Some(context_param(c, "EncryptionContextEquals")?)
                } else {
                    None
                };
                for m in subset.iter().chain(equals.iter()) {
                    if m.len() > 8 || m.values().any(|v| v.chars().count() > 384) {
                        return Err(validation(
                            "A grant constraint holds at most 8 pairs and each value at most 384 characters.",
                        ));
                    }
                }
                Constraints { subset, equals }
            }
            Some(_) => return Err(ser("Constraints must be an object")),
        };
        let name = opt_str(req, "Name")?;
        if let Some(n) = name
            && !valid_alias_chars(n)
        {
            return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
            )));
        }
        let grantee_n = normalize_grantee(grantee);
        let retiring_n = retiring.map(normalize_grantee);
        let key_ref = req_str(req, "KeyId")?;
        let key = self.key(st, caller, key_ref, Forms::IdOrArn, ev)?;
        let mut cv = self.base_conditions(caller);
        cv.insert_many("kms:GrantOperations", ops.iter().cloned());
        cv.insert("kms:GranteePrincipal", grantee.to_string());
        if let Some(r) = retiring {
            cv.insert("kms:RetiringPrincipal", r.to_string());
        }
        cv.insert(
            "kms:GrantIsForAWSResource",
            if caller.via_service.is_some() {
                "true"
            } else {
                "false"
            },
        );
        if constraints.subset.is_some() {
            cv.insert("kms:GrantConstraintType", "EncryptionContextSubset");
        }
        if constraints.equals.is_some() {
            cv.insert("kms:GrantConstraintType", "EncryptionContextEquals");
        }
        let a = self.authorize(st, caller, key, &cv, KeyUse::grantable("CreateGrant", None))?;
        ev.sid.clone_from(&a.sid);
        ev.grant_id.clone_from(&a.grant_id);
        if let Some(parent) = &a.via_grant
            && (!ops.iter().all(|o| parent.operations.contains(o))
                || !constraints.at_least_as_strict_as(&parent.constraints))
        {
            return Err(Self::denied(
                &caller.principal,
                "kms:CreateGrant",
                &key.arn,
                "because a grant can only create child grants with a subset of its operations and equal or stricter constraints",
            ));
        }
        Self::check_state("CreateGrant", key)?;
        for o in &ops {
            if !grant_op_fits(o, key) {
                return Err(validation(format!(
                    "Grant operation {o} is not valid for key {} of spec {}.",
                    key.arn, key.key_spec
                )));
            }
        }
        let (key_id, key_arn) = (key.id.clone(), key.arn.clone());
        let mut ops_sorted = ops.clone();
        ops_sorted.sort();
        ops_sorted.dedup();
        let same = key.grants.iter().find(|g| {
            name.is_some()
                && g.name.as_deref() == name
                && g.grantee == grantee_n
                && g.retiring == retiring_n
                && g.operations == ops_sorted
                && g.constraints == constraints
        });
        let grant_id = match same {
            Some(g) => g.grant_id.clone(),
            // A retry of an existing named grant adds nothing, so only new grants count.
            None if key.grants.len() >= self.config.grant_quota => {
                return Err(err(
                    ErrorType::LimitExceededException,
                    format!(
                        "The key {key_arn} already has {} grants.",
                        self.config.grant_quota
                    ),
                ));
            }
            None => {
                let mut raw = [0u8; 32];
                rand::Rng::fill_bytes(&mut rand::rng(), &mut raw);
                let gid = hex::encode(raw);
                if !dry {
                    let g = Grant {
                        grant_id: gid.clone(),
                        name: name.map(str::to_string),
                        created: now,
                        grantee: grantee_n,
                        retiring: retiring_n,
                        issuing_account: key.account.clone(),
                        operations: ops_sorted,
                        constraints,
                        parent: a.grant_id.clone(),
                    };
                    if let Some(k) = st.keys.get_mut(&key_id) {
                        k.grants.push(g);
                    }
                }
                gid
            }
        };
        ev.response = Some(json!({"grantId": grant_id, "keyId": key_arn}));
        Ok(json!({"GrantToken": new_grant_token(&grant_id), "GrantId": grant_id}))
    }

    pub(super) fn retire_grant(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
        dry: bool,
    ) -> R<Value> {
        let (key_id, grant_id) = match opt_str(req, "GrantToken")? {
            Some(t) => {
                let gid = parse_grant_token(t)?;
                let key = st
                    .keys
                    .values()
                    .find(|k| k.grants.iter().any(|g| g.grant_id == gid))
                    .ok_or_else(|| {
                        err(
                            ErrorType::InvalidGrantTokenException,
                            "The grant token refers to a grant that does not exist.",
                        )
                    })?;
                (key.id.clone(), gid)
            }
            None => {
                let key_ref = req_str(req, "KeyId")?;
                let gid = req_str(req, "GrantId")?;
                if !key_ref.starts_with("arn:") {
                    return Err(err(
                        ErrorType::InvalidArnException,
                        format!("Invalid arn {key_ref}: RetireGrant needs the key ARN"),
                    ));
                }
                let id = self.resolve_id(st, caller, key_ref, Forms::IdOrArn)?;
                if !is_grant_id(gid) {
                    return Err(err(ErrorType::InvalidGrantIdException, "Invalid grant ID."));
                }
                (id, gid.to_string())
            }
        };
        let key = st
            .keys
            .get(&key_id)
            .ok_or_else(|| internal("key vanished"))?;
        ev.key(key);
        ev.grant_id = Some(grant_id.clone());
        let grant = key
            .grants
            .iter()
            .find(|g| g.grant_id == grant_id)
            .ok_or_else(|| {
                err(
                    ErrorType::NotFoundException,
                    format!("Grant ID {grant_id} not found"),
                )
            })?;
        let p = caller.principal.as_str();
        let cv = self.base_conditions(caller);
        let iam = self.iam(st, p, "kms:RetireGrant", &key.arn, &cv);
        if matches!(iam, Iam::Deny) {
            return Err(Self::denied(
                p,
                "kms:RetireGrant",
                &key.arn,
                "with an explicit deny in an identity-based policy",
            ));
        }
        let caller_acct = caller.account();
        let allowed = grant.retiring.as_deref() == Some(p)
            || (grant.grantee == p && grant.operations.iter().any(|o| o == "RetireGrant"))
            || (is_root(p) && caller_acct == Some(grant.issuing_account.as_str()))
            || (matches!(iam, Iam::Allow)
                && (caller_acct == Some(grant.issuing_account.as_str())
                    || grant
                        .retiring
                        .as_deref()
                        .is_some_and(|r| is_root(r) && principal_account(r) == caller_acct)));
        if !allowed {
            return Err(Self::denied(
                p,
                "kms:RetireGrant",
                &key.arn,
                "because the grant does not allow this principal to retire it",
            ));
        }
        if !dry && let Some(k) = st.keys.get_mut(&key_id) {
            k.grants.retain(|g| g.grant_id != grant_id);
        }
        Ok(json!({}))
    }

    pub(super) fn list_grants(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let key = self.managed_key(st, caller, req_str(req, "KeyId")?, "ListGrants", ev)?;
        let gid = opt_str(req, "GrantId")?;
        if let Some(g) = gid
            && !is_grant_id(g)
        {
            return Err(err(ErrorType::InvalidGrantIdException, "Invalid grant ID."));
        }
        let grantee =
            grant_principals::one_of(req, "GranteePrincipal", "GranteeServicePrincipal", false)?
                .map(normalize_grantee);
        let items: Vec<Value> = key
            .grants
            .iter()
            .filter(|g| gid.is_none_or(|i| i == g.grant_id))
            .filter(|g| grantee.as_ref().is_none_or(|p| *p == g.grantee))
            .map(|g| grant_entry(key, g))
            .collect();
        list_page(items, req, 100, 50, "Grants")
    }

    pub(super) fn list_retirable_grants(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
    ) -> R<Value> {
        let rp =
            grant_principals::one_of(req, "RetiringPrincipal", "RetiringServicePrincipal", true)?
                .unwrap_or_default();
        self.authorize_iam_only(st, caller, "ListRetirableGrants", "*")?;
        let rp = normalize_grantee(rp);
        let items: Vec<Value> = st
            .keys
            .values()
            .flat_map(|k| k.grants.iter().map(move |g| (k, g)))
            .filter(|(_, g)| g.retiring.as_deref() == Some(rp.as_str()))
            .map(|(k, g)| grant_entry(k, g))
            .collect();
        list_page(items, req, 100, 50, "Grants")
    }

    pub(super) fn revoke_grant(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
        dry: bool,
    ) -> R<Value> {
        let gid = req_str(req, "GrantId")?;
        let id = {
            let key = self.managed_key(st, caller, req_str(req, "KeyId")?, op, ev)?;
            key.id.clone()
        };
        if !is_grant_id(gid) {
            return Err(err(ErrorType::InvalidGrantIdException, "Invalid grant ID."));
        }
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        let pos = k
            .grants
            .iter()
            .position(|g| g.grant_id == gid)
            .ok_or_else(|| {
                err(
                    ErrorType::NotFoundException,
                    format!("Grant ID {gid} not found"),
                )
            })?;
        ev.grant_id = Some(gid.to_string());
        if !dry {
            k.grants.remove(pos);
        }
        Ok(json!({}))
    }
}
