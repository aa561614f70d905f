//! Keys: CreateKey, the AWS managed keys, DescribeKey, ListKeys, EnableKey/DisableKey, UpdateKeyDescription, ScheduleKeyDeletion/CancelKeyDeletion.

use ebsim_kms_api::types::keys::{
    CancelKeyDeletionRequest, CancelKeyDeletionResponse, CreateKeyRequest, CreateKeyResponse,
    DescribeKeyRequest, DescribeKeyResponse, DisableKeyRequest, EnableKeyRequest, KEY_SPECS,
    KeyListEntry, KeyMetadata, ListKeysRequest, ListKeysResponse, ScheduleKeyDeletionRequest,
    ScheduleKeyDeletionResponse, UpdateKeyDescriptionRequest,
};
use ebsim_kms_api::types::{EmptyResponse, Request as _, Rule};

use super::tags::{parse_tags_in_order, parse_tags_list};
use super::*;

pub(super) const MANAGED: [(&str, &str, &str); 2] = [
    (
        "alias/aws/ebs",
        "ebs",
        "Default key that protects my EBS volumes when no other key is defined",
    ),
    (
        "alias/aws/workspaces",
        "workspaces",
        "Default key that protects my WorkSpaces when no other key is defined",
    ),
];

pub(super) fn key_usage_for_spec(spec: &str) -> Option<&'static [&'static str]> {
    Some(match spec {
        "SYMMETRIC_DEFAULT" => &["ENCRYPT_DECRYPT"],
        "RSA_2048" | "RSA_3072" | "RSA_4096" => &["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
        "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" => &["SIGN_VERIFY", "KEY_AGREEMENT"],
        "ECC_SECG_P256K1" | "ECC_NIST_EDWARDS25519" | "ML_DSA_44" | "ML_DSA_65" | "ML_DSA_87" => {
            &["SIGN_VERIFY"]
        }
        "SM2" => &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"],
        "HMAC_224" | "HMAC_256" | "HMAC_384" | "HMAC_512" => &["GENERATE_VERIFY_MAC"],
        _ => return None,
    })
}

pub(super) fn key_metadata(k: &Key) -> KeyMetadata {
    let deletion_date = k.deletion_date;
    let strings = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    let (mut encryption, mut mac, mut signing, mut agreement) = (None, None, None, None);
    match k.key_usage.as_str() {
        "ENCRYPT_DECRYPT" => {
            let algs: &[&str] = if k.is_symmetric() {
                &["SYMMETRIC_DEFAULT"]
            } else if k.key_spec == "SM2" {
                &["SM2PKE"]
            } else {
                &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
            };
            encryption = strings(algs);
        }
        "GENERATE_VERIFY_MAC" => {
            let alg = format!("HMAC_SHA_{}", k.key_spec.trim_start_matches("HMAC_"));
            mac = Some(vec![alg]);
        }
        "SIGN_VERIFY" => {
            let algs = crate::asym::SigningAlgorithm::of_spec(&k.key_spec);
            signing = strings(algs);
        }
        "KEY_AGREEMENT" => agreement = strings(&["ECDH"]),
        _ => {}
    }
    KeyMetadata {
        aws_account_id: k.account.clone(),
        key_id: k.id.clone(),
        arn: k.arn.clone(),
        creation_date: k.created,
        enabled: k.state == KeyState::Enabled,
        description: k.description.clone(),
        key_usage: k.key_usage.clone(),
        key_state: k.state.name().to_owned(),
        deletion_date,
        pending_deletion_window_in_days: if k.state == KeyState::PendingReplicaDeletion {
            k.pending_window_days
        } else {
            deletion_date.and(k.pending_window_days)
        },
        origin: k.origin.clone(),
        key_manager: (if k.aws_managed { "AWS" } else { "CUSTOMER" }).to_owned(),
        customer_master_key_spec: k.key_spec.clone(),
        key_spec: k.key_spec.clone(),
        encryption_algorithms: encryption,
        mac_algorithms: mac,
        signing_algorithms: signing,
        key_agreement_algorithms: agreement,
        valid_to: import::expiry_metadata(k).1,
        expiration_model: import::expiry_metadata(k).0,
        multi_region: k.multi_region.is_some(),
        // Filled in by the callers that have the state (`multi_region::configuration`).
        multi_region_configuration: None,
        custom_key_store_id: k.custom_key_store_id.clone(),
        // Filled in by the callers that have the state (`custom_key_stores::cluster_of`).
        cloud_hsm_cluster_id: None,
        xks_key_configuration: k.xks.as_ref().map(|x| {
            ebsim_kms_api::types::keys::XksKeyConfiguration {
                id: x.key_id.clone(),
            }
        }),
        current_key_material_id: k
            .current_material()
            .filter(|_| k.custom_key_store_id.is_none())
            .map(|m| m.id.clone()),
    }
}

/// What a new key is made of.
pub(super) struct NewKey<'a> {
    pub(super) account: &'a str,
    pub(super) region: Region,
    pub(super) description: &'a str,
    pub(super) spec: &'a str,
    pub(super) usage: &'a str,
    pub(super) policy_text: String,
    pub(super) policy: PolicyDocument,
}

impl Kms {
    /// Creates the AWS managed key a call names (`alias/aws/ebs`, its ARN, …) on its first
    /// use, as AWS does: only in the caller's own account and region, only when the caller
    /// would be allowed `action` on it by its key policy or an identity policy (else the
    /// call is refused with AccessDeniedException and nothing is created), and within the
    /// key quota. A reference to another account's managed alias creates nothing (the call
    /// then finds no such alias).
    pub(super) fn ensure_managed(
        &self,
        caller: &Caller,
        key_ref: &str,
        action: &str,
        now: f64,
    ) -> R<()> {
        let region = self.region_of(caller);
        let own = self.caller_account(caller);
        // Borrowed until the reference is known to name a managed alias: this runs for every
        // key reference of every call.
        let name = if let Some(rest) = key_ref.strip_prefix("arn:aws:kms:") {
            let mut p = rest.splitn(3, ':');
            let (Some(r), Some(a), Some(res)) = (p.next(), p.next(), p.next()) else {
                return Ok(());
            };
            if region != *r || a != own {
                return Ok(());
            }
            res
        } else {
            key_ref
        };
        let Some((alias, service, description)) = MANAGED.iter().find(|m| m.0 == name) else {
            return Ok(());
        };
        let account = own;
        let alias_arn = format!("arn:aws:kms:{region}:{account}:{alias}");
        if self.state.read().aliases.contains_key(&alias_arn) {
            return Ok(());
        }
        let mut st = self.state.write();
        if st.aliases.contains_key(&alias_arn) {
            return Ok(());
        }
        let policy = aws_managed_key_policy(service, account, region.as_str())
            .ok_or_else(|| internal("No managed key policy for this service."))?;
        let doc = PolicyDocument::parse_key_policy(&policy).map_err(KmsError::from)?;
        let mut key = self.new_key(
            NewKey {
                account,
                region,
                description,
                spec: "SYMMETRIC_DEFAULT",
                usage: "ENCRYPT_DECRYPT",
                policy_text: policy,
                policy: doc,
            },
            now,
        );
        key.aws_managed = true;
        key.rotation = Some(Rotation {
            period_days: 365,
            next: now + 365.0 * DAY,
        });
        // Authorized before it exists: a caller who could not use it creates nothing.
        let cv = self.base_conditions(caller);
        self.authorize(&st, caller, &key, &cv, KeyUse::policy(action))?;
        // AWS managed keys have a quota of their own (customer managed keys do not count).
        let in_account = st
            .keys
            .values()
            .filter(|k| k.aws_managed && k.account == account && k.region == region.as_str())
            .count();
        if in_account >= self.config.key_quota {
            return Err(err(
                ErrorType::LimitExceededException,
                format!(
                    "Account {account} has reached its quota of {} KMS keys in {region}.",
                    self.config.key_quota
                ),
            ));
        }
        let id = key.slot();
        st.keys.insert(id.clone(), key);
        st.aliases.insert(
            alias_arn.clone(),
            Alias {
                name: (*alias).to_string(),
                arn: alias_arn,
                target_key_id: id,
                created: now,
                updated: now,
            },
        );
        self.persist(&mut st)?;
        self.update_due(&st);
        Ok(())
    }

    /// A new key (not yet in the state) of `spec` and `usage`, created at `now`.
    pub(super) fn new_key(&self, spec: NewKey<'_>, now: f64) -> Key {
        let NewKey {
            account,
            region,
            description,
            spec,
            usage,
            policy_text,
            policy,
        } = spec;
        let uuid = uuid::Uuid::new_v4();
        let id = uuid.hyphenated().to_string();
        let symmetric = spec == "SYMMETRIC_DEFAULT";
        Key {
            arn: format!("arn:aws:kms:{region}:{account}:key/{id}"),
            id,
            id_bytes: *uuid.as_bytes(),
            account: account.to_string(),
            region: region.as_str().to_owned(),
            created: now,
            description: description.to_string(),
            key_usage: usage.to_string(),
            key_spec: spec.to_string(),
            origin: "AWS_KMS".into(),
            aws_managed: false,
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            policy_text,
            policy: Some(Arc::new(policy)),
            materials: if symmetric {
                vec![Material::generate(now, None)]
            } else {
                Vec::new()
            },
            rotation: None,
            on_demand_rotations: 0,
            grants: Vec::new(),
            tags: Vec::new(),
            secret: crate::state::KeySecret::None,
            import: None,
            multi_region: None,
            custom_key_store_id: None,
            xks: None,
            available_state: None,
        }
    }

    pub(super) fn create_key(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Staged<CreateKeyRequest>,
        ev: &mut Ev,
        now: f64,
    ) -> R<CreateKeyResponse> {
        type Q = CreateKeyRequest;
        // Tags are checked after everything else; a malformed member other than `Tags` is
        // refused first.
        req.check_except(&[&Q::TAGS])?;
        // The request's key spec and usage, as sent, are condition keys of CreateKey.
        let asked_spec = req
            .key_spec
            .as_deref()
            .or(req.customer_master_key_spec.as_deref())
            .unwrap_or("SYMMETRIC_DEFAULT");
        let asked_usage =
            req.key_usage
                .as_deref()
                .unwrap_or(if asked_spec == "SYMMETRIC_DEFAULT" {
                    "ENCRYPT_DECRYPT"
                } else {
                    ""
                });
        let mut asked = vec![
            ("kms:KeySpec", asked_spec),
            ("kms:KeyOrigin", req.origin.as_deref().unwrap_or("AWS_KMS")),
            (
                "kms:MultiRegion",
                if req.multi_region { "true" } else { "false" },
            ),
        ];
        if req.multi_region {
            asked.push(("kms:MultiRegionKeyType", "PRIMARY"));
        }
        if !asked_usage.is_empty() {
            asked.push(("kms:KeyUsage", asked_usage));
        }
        self.authorize_iam_only_with(st, caller, "CreateKey", "*", &asked)?;
        let description = req.description.as_deref().unwrap_or("");
        Q::DESCRIPTION.check_len(description.len())?;
        let spec = match (
            req.key_spec.as_deref(),
            req.customer_master_key_spec.as_deref(),
        ) {
            (Some(a), Some(b)) if a != b => {
                return Err(validation(
                    "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.",
                ));
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => "SYMMETRIC_DEFAULT",
        };
        // A `CustomerMasterKeySpec` outside the list is reported as `keySpec`.
        let usages = key_usage_for_spec(spec)
            .ok_or_else(|| Q::KEY_SPEC.violation(Rule::Enum(KEY_SPECS), spec))?;
        let usage = match req.key_usage.as_deref() {
            Some(u) => u,
            None if spec == "SYMMETRIC_DEFAULT" => "ENCRYPT_DECRYPT",
            None => {
                return Err(validation(
                    "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
                ));
            }
        };
        if !usages.contains(&usage) {
            return Err(validation(format!(
                "KeyUsage {usage} is not compatible with KeySpec {spec}."
            )));
        }
        // ebsim has no `aws-cn` partition, where SM2 is offered (docs/kms.md).
        if spec == "SM2" {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                "KeySpec SM2 is not supported in this Region",
            ));
        }
        if let Some(o) = req.origin.as_deref() {
            Q::ORIGIN.check_str(o)?;
        }
        let tags = match req.get(&Q::TAGS, req.tags.as_deref()) {
            Ok(tags) => parse_tags_list(tags)?,
            // A malformed tag: the tags before it are checked first.
            Err(e) => return Err(parse_tags_in_order(req.raw(&Q::TAGS)).err().unwrap_or(e)),
        };
        let tags = self.new_key_tags(st, caller, tags)?;
        let account = self.caller_account(caller).to_string();
        let region = self.region_of(caller);
        let owned = st
            .keys
            .values()
            .filter(|k| k.account == account && region == *k.region && !k.aws_managed)
            .count();
        if owned >= self.config.key_quota {
            return Err(err(
                ErrorType::LimitExceededException,
                format!(
                    "The account {account} already has {} customer managed keys in {}.",
                    self.config.key_quota, region
                ),
            ));
        }
        let bypass = req.bypass_policy_lockout_safety_check;
        let uuid_probe = format!("arn:aws:kms:{region}:{account}:key/*");
        let (text, doc) = match req.policy.as_deref() {
            Some(t) => (
                t.to_string(),
                self.check_new_policy(st, caller, t, &uuid_probe, bypass)?,
            ),
            None => {
                let t = default_key_policy(&account);
                let d = PolicyDocument::parse_key_policy(&t).map_err(KmsError::from)?;
                (t, d)
            }
        };
        let mut key = self.new_key(
            NewKey {
                account: &account,
                region,
                description,
                spec,
                usage,
                policy_text: text,
                policy: doc,
            },
            now,
        );
        key.tags = tags;
        if req.multi_region {
            let (id, bytes) = multi_region::new_mrk_id();
            key.arn = format!("arn:aws:kms:{region}:{account}:key/{id}");
            key.id = id;
            key.id_bytes = bytes;
            key.multi_region = Some(crate::state::MultiRegionRole::Primary);
        }
        let external = req.origin.as_deref() == Some("EXTERNAL");
        if req.custom_key_store_id.is_some()
            || matches!(
                req.origin.as_deref(),
                Some("AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE")
            )
        {
            self.in_custom_key_store(st, caller, req, &mut key)?;
        } else if req.xks_key_id.is_some() {
            return Err(validation(
                "XksKeyId is valid only with Origin EXTERNAL_KEY_STORE.",
            ));
        } else if external {
            // The material comes with ImportKeyMaterial (docs/kms.md, "Imported key material").
            key.origin = "EXTERNAL".into();
            key.materials.clear();
            key.state = KeyState::PendingImport;
        } else if let Some(asym) = crate::asym::Spec::parse(spec) {
            let material = crate::asym::PrivateKey::generate(asym, usage == "KEY_AGREEMENT")
                .map_err(|_| internal("Key generation failed."))?;
            key.secret = crate::state::KeySecret::Ready(Box::new(material));
        }
        ev.key(&key);
        let mut key_metadata = key_metadata(&key);
        key_metadata.multi_region_configuration = multi_region::configuration(st, &key);
        key_metadata.cloud_hsm_cluster_id = custom_key_stores::cluster_of(st, &key);
        ev.response = Some(json!({"keyMetadata": {"keyId": key.id, "arn": key.arn}}));
        st.keys.insert(key.slot(), key);
        Ok(CreateKeyResponse { key_metadata })
    }

    pub(super) fn describe_key(
        &self,
        st: &State,
        caller: &Caller,
        req: &DescribeKeyRequest,
        ev: &mut Ev,
    ) -> R<DescribeKeyResponse> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let key_ref = DescribeKeyRequest::KEY_ID.check_present(req.key_id.as_deref())?;
        let what = KeyUse::grantable("DescribeKey", None);
        let key = self.key_access(st, caller, key_ref, Forms::All, what, ev)?;
        let mut key_metadata = key_metadata(key);
        key_metadata.multi_region_configuration = multi_region::configuration(st, key);
        key_metadata.cloud_hsm_cluster_id = custom_key_stores::cluster_of(st, key);
        Ok(DescribeKeyResponse { key_metadata })
    }

    pub(super) fn list_keys(
        &self,
        st: &State,
        caller: &Caller,
        req: &ListKeysRequest,
    ) -> R<ListKeysResponse> {
        type Q = ListKeysRequest;
        self.authorize_iam_only(st, caller, "ListKeys", "*")?;
        let account = self.caller_account(caller);
        let region = self.region_of(caller);
        let keys: Vec<KeyListEntry> = st
            .keys
            .values()
            .filter(|k| k.account == account && region == *k.region)
            .map(|k| KeyListEntry {
                key_id: k.id.clone(),
                key_arn: k.arn.clone(),
            })
            .collect();
        let (keys, next_marker) = page(keys, req.limit, Ok(req.marker.as_deref()), &Q::LIMIT, 100)?;
        Ok(ListKeysResponse {
            keys,
            truncated: next_marker.is_some(),
            next_marker,
        })
    }

    pub(super) fn enable_key(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &EnableKeyRequest,
        ev: &mut Ev,
        now: f64,
    ) -> R<EmptyResponse> {
        let key_ref = EnableKeyRequest::KEY_ID.check_present(req.key_id.as_deref())?;
        self.enable_or_disable_key(st, caller, "EnableKey", key_ref, ev, now)
    }

    pub(super) fn disable_key(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &DisableKeyRequest,
        ev: &mut Ev,
        now: f64,
    ) -> R<EmptyResponse> {
        let key_ref = DisableKeyRequest::KEY_ID.check_present(req.key_id.as_deref())?;
        self.enable_or_disable_key(st, caller, "DisableKey", key_ref, ev, now)
    }

    fn enable_or_disable_key(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        key_ref: &str,
        ev: &mut Ev,
        now: f64,
    ) -> R<EmptyResponse> {
        let id = {
            let key = self.managed_key(st, caller, key_ref, op, ev)?;
            Self::check_state(op, key)?;
            key.slot()
        };
        if let Some(k) = st.keys.get_mut(&id) {
            // A key whose store is not connected takes the new state once it is.
            if k.state == KeyState::Unavailable {
                k.available_state = Some(if op == "EnableKey" {
                    KeyState::Enabled
                } else {
                    KeyState::Disabled
                });
                return Ok(EmptyResponse {});
            }
            // Automatic rotations that fell due while the key was disabled happen
            // once, now (docs/kms.md, "Ciphertext, grants, time"), not once per missed period.
            if op == "EnableKey"
                && k.state == KeyState::Disabled
                && let Some(r) = k.rotation.as_mut()
                && r.next < now
            {
                r.next = now;
            }
            k.state = if op == "EnableKey" {
                KeyState::Enabled
            } else {
                KeyState::Disabled
            };
        }
        Ok(EmptyResponse {})
    }

    pub(super) fn update_key_description(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &UpdateKeyDescriptionRequest,
        ev: &mut Ev,
    ) -> R<EmptyResponse> {
        type Q = UpdateKeyDescriptionRequest;
        let op = Q::OPERATION;
        let d = Q::DESCRIPTION.check_present(req.description.as_deref())?;
        Q::DESCRIPTION.check_len(d.len())?;
        let id = {
            let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
            let key = self.managed_key(st, caller, key_ref, op, ev)?;
            Self::check_state(op, key)?;
            key.slot()
        };
        if let Some(k) = st.keys.get_mut(&id) {
            k.description = d.to_string();
        }
        Ok(EmptyResponse {})
    }

    pub(super) fn schedule_key_deletion(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &ScheduleKeyDeletionRequest,
        ev: &mut Ev,
        now: f64,
    ) -> R<ScheduleKeyDeletionResponse> {
        type Q = ScheduleKeyDeletionRequest;
        let op = Q::OPERATION;
        let days = req.pending_window_in_days.unwrap_or(30);
        let id = {
            let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
            let key = self.managed_key(st, caller, key_ref, op, ev)?;
            if key.aws_managed {
                return Err(err(
                    ErrorType::UnsupportedOperationException,
                    format!("{} is an AWS managed key.", key.arn),
                ));
            }
            Self::check_state(op, key)?;
            key.slot()
        };
        Q::PENDING_WINDOW_IN_DAYS.check_int(days)?;
        // A multi-Region primary waits for its replicas to be deleted first (docs/kms.md,
        // "Multi-Region keys").
        let has_replicas = st.keys.get(&id).is_some_and(|k| {
            k.multi_region == Some(crate::state::MultiRegionRole::Primary)
                && multi_region::related(st, k).len() > 1
        });
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        let date = (!has_replicas).then_some(now + days as f64 * DAY);
        k.state = if has_replicas {
            KeyState::PendingReplicaDeletion
        } else {
            KeyState::PendingDeletion
        };
        k.deletion_date = date;
        k.pending_window_days = Some(days as u32);
        Ok(ScheduleKeyDeletionResponse {
            key_id: k.arn.clone(),
            deletion_date: date,
            key_state: k.state.name().to_owned(),
            pending_window_in_days: days,
        })
    }

    pub(super) fn cancel_key_deletion(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &CancelKeyDeletionRequest,
        ev: &mut Ev,
    ) -> R<CancelKeyDeletionResponse> {
        type Q = CancelKeyDeletionRequest;
        let op = Q::OPERATION;
        let id = {
            let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
            let key = self.managed_key(st, caller, key_ref, op, ev)?;
            Self::check_state(op, key)?;
            key.slot()
        };
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        // An imported key without its material goes back to waiting for it.
        k.state = if k.missing_material() {
            KeyState::PendingImport
        } else {
            KeyState::Disabled
        };
        k.deletion_date = None;
        k.pending_window_days = None;
        Ok(CancelKeyDeletionResponse {
            key_id: k.arn.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_spec_enum_is_the_specs_with_usages() {
        for spec in KEY_SPECS {
            assert!(key_usage_for_spec(spec).is_some(), "{spec}");
        }
        for spec in ["AES_256", "RSA_1024", "", "symmetric_default"] {
            assert!(key_usage_for_spec(spec).is_none(), "{spec}");
        }
    }
}
