//! Grants: CreateGrant, RetireGrant, RevokeGrant, ListGrants, ListRetirableGrants, grant tokens.

use ebsim_kms_api::types::aliases::ALIAS_NAME_PATTERN;
use ebsim_kms_api::types::grants::{
    CreateGrantRequest, CreateGrantResponse, GrantConstraints, GrantListEntry, ListGrantsRequest,
    ListGrantsResponse, ListRetirableGrantsRequest, PRINCIPAL_PATTERN, RetireGrantRequest,
    RevokeGrantRequest,
};
use ebsim_kms_api::types::{EmptyResponse, MemberSpec, Request as _, Rule};

use super::*;

pub use ebsim_kms_api::types::grants::GRANT_OPERATIONS;

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

/// At most 10 grant tokens (every request declares `GrantTokens` as CreateGrant does), each
/// of ebsim's form.
pub(super) fn check_grant_tokens(tokens: Option<&[String]>) -> R<()> {
    if let Some(tokens) = tokens {
        CreateGrantRequest::GRANT_TOKENS.check_list(tokens)?;
        for t in tokens {
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

pub(super) fn grant_entry(key: &Key, g: &Grant) -> GrantListEntry {
    GrantListEntry {
        key_id: key.arn.clone(),
        grant_id: g.grant_id.clone(),
        name: g.name.clone(),
        creation_date: g.created,
        grantee_principal: g.grantee.clone(),
        grantee_service_principal: grant_principals::service_member(&g.grantee),
        retiring_principal: g.retiring.clone(),
        retiring_service_principal: g
            .retiring
            .as_deref()
            .and_then(grant_principals::service_member),
        issuing_account: format!("arn:aws:iam::{}:root", g.issuing_account),
        operations: g.operations.clone(),
        constraints: (!g.constraints.is_empty()).then(|| GrantConstraints {
            encryption_context_subset: g.constraints.subset.clone(),
            encryption_context_equals: g.constraints.equals.clone(),
        }),
    }
}

fn grant_page(
    items: Vec<GrantListEntry>,
    limit: Option<i64>,
    marker: R<Option<&str>>,
    limit_spec: &MemberSpec,
) -> R<ListGrantsResponse> {
    let page = list_page(items, limit, marker, limit_spec, 50)?;
    Ok(ListGrantsResponse {
        grants: page.items,
        next_marker: page.next_marker,
        truncated: page.truncated,
    })
}

impl Kms {
    pub(super) fn create_grant(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Staged<CreateGrantRequest>,
        ev: &mut Ev,
        now: f64,
        dry: bool,
    ) -> R<CreateGrantResponse> {
        type Q = CreateGrantRequest;
        check_grant_tokens(req.get(&Q::GRANT_TOKENS, req.grant_tokens.as_deref())?)?;
        let grantee = grant_principals::one_of(
            req.get(&Q::GRANTEE_PRINCIPAL, req.grantee_principal.as_deref())?,
            req.get(
                &Q::GRANTEE_SERVICE_PRINCIPAL,
                req.grantee_service_principal.as_deref(),
            )?,
            &Q::GRANTEE_PRINCIPAL,
            &Q::GRANTEE_SERVICE_PRINCIPAL,
        )?
        .unwrap_or_default();
        if !valid_principal_id(grantee) {
            return Err(Q::GRANTEE_PRINCIPAL.violation(Rule::Pattern(PRINCIPAL_PATTERN), grantee));
        }
        let retiring = grant_principals::one_of(
            req.get(&Q::RETIRING_PRINCIPAL, req.retiring_principal.as_deref())?,
            req.get(
                &Q::RETIRING_SERVICE_PRINCIPAL,
                req.retiring_service_principal.as_deref(),
            )?,
            &Q::RETIRING_PRINCIPAL,
            &Q::RETIRING_SERVICE_PRINCIPAL,
        )?;
        if let Some(r) = retiring
            && !valid_principal_id(r)
        {
            return Err(Q::RETIRING_PRINCIPAL.violation(Rule::Pattern(PRINCIPAL_PATTERN), r));
        }
        let ops = req.get(&Q::OPERATIONS, req.operations.as_deref())?;
        let ops = Q::OPERATIONS.check_present(ops)?;
        Q::OPERATIONS.check_list(ops)?;
        let constraints = match req.get(&Q::CONSTRAINTS, &req.constraints)? {
            None => Constraints::default(),
            Some(c) => {
                let subset = c.encryption_context_subset.clone();
                let equals = c.encryption_context_equals.clone();
                for m in subset.iter().chain(equals.iter()) {
                    if m.len() > 8 || m.values().any(|v| v.chars().count() > 384) {
                        return Err(validation(
                            "A grant constraint holds at most 8 pairs and each value at most 384 characters.",
                        ));
                    }
                }
                Constraints { subset, equals }
            }
        };
        let name = req.get(&Q::NAME, req.name.as_deref())?;
        if let Some(n) = name
            && !valid_alias_chars(n)
        {
            return Err(Q::NAME.violation(Rule::Pattern(ALIAS_NAME_PATTERN), n));
        }
        let grantee_n = normalize_grantee(grantee);
        let retiring_n = retiring.map(normalize_grantee);
        let key_ref = req.get(&Q::KEY_ID, req.key_id.as_deref())?;
        let key_ref = Q::KEY_ID.check_present(key_ref)?;
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
        for o in ops {
            if !grant_op_fits(o, key) {
                return Err(validation(format!(
                    "Grant operation {o} is not valid for key {} of spec {}.",
                    key.arn, key.key_spec
                )));
            }
        }
        // Encryption-context constraints only mean something for symmetric encryption keys
        // (docs/kms.md, "Asymmetric and HMAC keys").
        if !key.is_symmetric() && !constraints.is_empty() {
            return Err(validation(format!(
                "Grant constraints are not supported for key {} of spec {}: only symmetric encryption keys take an encryption context.",
                key.arn, key.key_spec
            )));
        }
        let (key_id, key_arn) = (key.slot(), key.arn.clone());
        let mut ops_sorted = ops.to_vec();
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
        Ok(CreateGrantResponse {
            grant_token: new_grant_token(&grant_id),
            grant_id,
        })
    }

    pub(super) fn retire_grant(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Staged<RetireGrantRequest>,
        ev: &mut Ev,
        dry: bool,
    ) -> R<EmptyResponse> {
        type Q = RetireGrantRequest;
        let (key_id, grant_id) = match req.get(&Q::GRANT_TOKEN, req.grant_token.as_deref())? {
            Some(t) => {
                let gid = parse_grant_token(t)?;
                let region = self.region_of(caller);
                let key = st
                    .keys
                    .values()
                    .filter(|k| region == *k.region)
                    .find(|k| k.grants.iter().any(|g| g.grant_id == gid))
                    .ok_or_else(|| {
                        err(
                            ErrorType::InvalidGrantTokenException,
                            "The grant token refers to a grant that does not exist.",
                        )
                    })?;
                (key.slot(), gid)
            }
            None => {
                let key_ref = req.get(&Q::KEY_ID, req.key_id.as_deref())?;
                let key_ref = Q::KEY_ID.check_present(key_ref)?;
                let gid = req.get(&Q::GRANT_ID, req.grant_id.as_deref())?;
                let gid = Q::GRANT_ID.check_present(gid)?;
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
        Ok(EmptyResponse {})
    }

    pub(super) fn list_grants(
        &self,
        st: &State,
        caller: &Caller,
        req: &Staged<ListGrantsRequest>,
        ev: &mut Ev,
    ) -> R<ListGrantsResponse> {
        type Q = ListGrantsRequest;
        let key_id = req.get(&Q::KEY_ID, req.key_id.as_deref())?;
        let key = self.managed_key_ref(st, caller, key_id, &Q::KEY_ID, Q::OPERATION, ev)?;
        let gid = req.get(&Q::GRANT_ID, req.grant_id.as_deref())?;
        if let Some(g) = gid
            && !is_grant_id(g)
        {
            return Err(err(ErrorType::InvalidGrantIdException, "Invalid grant ID."));
        }
        let grantee = grant_principals::one_of(
            req.get(&Q::GRANTEE_PRINCIPAL, req.grantee_principal.as_deref())?,
            req.get(
                &Q::GRANTEE_SERVICE_PRINCIPAL,
                req.grantee_service_principal.as_deref(),
            )?,
            &Q::GRANTEE_PRINCIPAL,
            &Q::GRANTEE_SERVICE_PRINCIPAL,
        )?
        .map(normalize_grantee);
        let items: Vec<GrantListEntry> = key
            .grants
            .iter()
            .filter(|g| gid.is_none_or(|i| i == g.grant_id))
            .filter(|g| grantee.as_ref().is_none_or(|p| *p == g.grantee))
            .map(|g| grant_entry(key, g))
            .collect();
        grant_page(
            items,
            req.get(&Q::LIMIT, req.limit)?,
            req.get(&Q::MARKER, req.marker.as_deref()),
            &Q::LIMIT,
        )
    }

    pub(super) fn list_retirable_grants(
        &self,
        st: &State,
        caller: &Caller,
        req: &Staged<ListRetirableGrantsRequest>,
    ) -> R<ListGrantsResponse> {
        type Q = ListRetirableGrantsRequest;
        let rp = grant_principals::one_of(
            req.get(&Q::RETIRING_PRINCIPAL, req.retiring_principal.as_deref())?,
            req.get(
                &Q::RETIRING_SERVICE_PRINCIPAL,
                req.retiring_service_principal.as_deref(),
            )?,
            &Q::RETIRING_PRINCIPAL,
            &Q::RETIRING_SERVICE_PRINCIPAL,
        )?
        .unwrap_or_default();
        self.authorize_iam_only(st, caller, "ListRetirableGrants", "*")?;
        let rp = normalize_grantee(rp);
        let region = self.region_of(caller);
        let items: Vec<GrantListEntry> = st
            .keys
            .values()
            .filter(|k| region == *k.region)
            .flat_map(|k| k.grants.iter().map(move |g| (k, g)))
            .filter(|(_, g)| g.retiring.as_deref() == Some(rp.as_str()))
            .map(|(k, g)| grant_entry(k, g))
            .collect();
        grant_page(
            items,
            req.get(&Q::LIMIT, req.limit)?,
            req.get(&Q::MARKER, req.marker.as_deref()),
            &Q::LIMIT,
        )
    }

    pub(super) fn revoke_grant(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &RevokeGrantRequest,
        ev: &mut Ev,
        dry: bool,
    ) -> R<EmptyResponse> {
        type Q = RevokeGrantRequest;
        let gid = Q::GRANT_ID.check_present(req.grant_id.as_deref())?;
        let id = {
            let key_id = req.key_id.as_deref();
            let key = self.managed_key_ref(st, caller, key_id, &Q::KEY_ID, Q::OPERATION, ev)?;
            key.slot()
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
        Ok(EmptyResponse {})
    }
}
