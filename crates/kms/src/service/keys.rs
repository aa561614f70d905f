//! Keys: CreateKey, the AWS managed keys, DescribeKey, ListKeys, EnableKey/DisableKey, UpdateKeyDescription, ScheduleKeyDeletion/CancelKeyDeletion.

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
        "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" | "ECC_SECG_P256K1" => {
            &["SIGN_VERIFY", "KEY_AGREEMENT"]
        }
        "ECC_NIST_EDWARDS25519" | "ML_DSA_44" | "ML_DSA_65" | "ML_DSA_87" => &["SIGN_VERIFY"],
        "SM2" => &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"],
        "HMAC_224" | "HMAC_256" | "HMAC_384" | "HMAC_512" => &["GENERATE_VERIFY_MAC"],
        _ => return None,
    })
}

pub(super) fn key_metadata(k: &Key) -> Value {
    let mut m = Map::new();
    m.insert("AWSAccountId".into(), json!(k.account));
    m.insert("KeyId".into(), json!(k.id));
    m.insert("Arn".into(), json!(k.arn));
    m.insert("CreationDate".into(), json!(k.created));
    m.insert("Enabled".into(), json!(k.state == KeyState::Enabled));
    m.insert("Description".into(), json!(k.description));
    m.insert("KeyUsage".into(), json!(k.key_usage));
    m.insert("KeyState".into(), json!(k.state.name()));
    if let Some(d) = k.deletion_date {
        m.insert("DeletionDate".into(), json!(d));
        if let Some(w) = k.pending_window_days {
            m.insert("PendingDeletionWindowInDays".into(), json!(w));
        }
    }
    m.insert("Origin".into(), json!(k.origin));
    m.insert(
        "KeyManager".into(),
        json!(if k.aws_managed { "AWS" } else { "CUSTOMER" }),
    );
    m.insert("CustomerMasterKeySpec".into(), json!(k.key_spec));
    m.insert("KeySpec".into(), json!(k.key_spec));
    match k.key_usage.as_str() {
        "ENCRYPT_DECRYPT" => {
            let algs: &[&str] = if k.is_symmetric() {
                &["SYMMETRIC_DEFAULT"]
            } else if k.key_spec == "SM2" {
                &["SM2PKE"]
            } else {
                &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
            };
            m.insert("EncryptionAlgorithms".into(), json!(algs));
        }
        "GENERATE_VERIFY_MAC" => {
            let alg = format!("HMAC_SHA_{}", k.key_spec.trim_start_matches("HMAC_"));
            m.insert("MacAlgorithms".into(), json!([alg]));
        }
        "SIGN_VERIFY" => {
            let algs: Vec<&str> = match k.key_spec.as_str() {
                s if s.starts_with("RSA_") => vec![
                    "RSASSA_PSS_SHA_256",
                    "RSASSA_PSS_SHA_384",
                    "RSASSA_PSS_SHA_512",
                    "RSASSA_PKCS1_V1_5_SHA_256",
                    "RSASSA_PKCS1_V1_5_SHA_384",
                    "RSASSA_PKCS1_V1_5_SHA_512",
                ],
                "ECC_NIST_P256" | "ECC_SECG_P256K1" => vec!["ECDSA_SHA_256"],
                "ECC_NIST_P384" => vec!["ECDSA_SHA_384"],
                "ECC_NIST_P521" => vec!["ECDSA_SHA_512"],
                "ECC_NIST_EDWARDS25519" => vec!["ED25519_SHA_512", "ED25519_PH_SHA_512"],
                "SM2" => vec!["SM2DSA"],
                _ => vec!["ML_DSA_SHAKE_256"],
            };
            m.insert("SigningAlgorithms".into(), json!(algs));
        }
        "KEY_AGREEMENT" => {
            m.insert("KeyAgreementAlgorithms".into(), json!(["ECDH"]));
        }
        _ => {}
    }
    m.insert("MultiRegion".into(), json!(false));
    if let Some(mat) = k.current_material() {
        m.insert("CurrentKeyMaterialId".into(), json!(mat.id));
    }
    Value::Object(m)
}

/// What a new key is made of.
pub(super) struct NewKey<'a> {
    pub(super) account: &'a str,
    pub(super) description: &'a str,
    pub(super) spec: &'a str,
    pub(super) usage: &'a str,
    pub(super) policy_text: String,
    pub(super) policy: PolicyDocument,
}

impl Kms {
    /// Creates the AWS managed key an `alias/aws/ebs` or `alias/aws/workspaces` reference
    /// names, the first time it is used.
    pub(super) fn ensure_managed(&self, caller: &Caller, key_ref: &str, now: f64) -> R<()> {
        let region = &self.config.region;
        let (account, name) = if let Some(rest) = key_ref.strip_prefix("arn:aws:kms:") {
            let mut p = rest.splitn(3, ':');
            let (Some(r), Some(a), Some(res)) = (p.next(), p.next(), p.next()) else {
                return Ok(());
            };
            if r != region {
                return Ok(());
            }
            (a.to_string(), res.to_string())
        } else {
            (self.caller_account(caller).to_string(), key_ref.to_string())
        };
        let Some((alias, service, description)) = MANAGED.iter().find(|m| m.0 == name) else {
            return Ok(());
        };
        let alias_arn = format!("arn:aws:kms:{region}:{account}:{alias}");
        if self.state.read().aliases.contains_key(&alias_arn) {
            return Ok(());
        }
        let mut st = self.state.write();
        if st.aliases.contains_key(&alias_arn) {
            return Ok(());
        }
        let policy = aws_managed_key_policy(service, &account, region)
            .ok_or_else(|| internal("No managed key policy for this service."))?;
        let doc = PolicyDocument::parse_key_policy(&policy).map_err(KmsError::from)?;
        let mut key = self.new_key(
            NewKey {
                account: &account,
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
        let id = key.id.clone();
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
        self.persist(&st)?;
        self.update_due(&st);
        Ok(())
    }

    /// A new key (not yet in the state) of `spec` and `usage`, created at `now`.
    pub(super) fn new_key(&self, spec: NewKey<'_>, now: f64) -> Key {
        let NewKey {
            account,
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
            arn: format!("arn:aws:kms:{}:{account}:key/{id}", self.config.region),
            id,
            id_bytes: *uuid.as_bytes(),
            account: account.to_string(),
            region: self.config.region.clone(),
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
        }
    }

    pub(super) fn create_key(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
    ) -> R<Value> {
        self.authorize_iam_only(st, caller, "CreateKey", "*")?;
        let description = opt_str(req, "Description")?.unwrap_or("");
        if description.len() > 8192 {
            return Err(validation(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
            ));
        }
        let spec = match (
            opt_str(req, "KeySpec")?,
            opt_str(req, "CustomerMasterKeySpec")?,
        ) {
            (Some(a), Some(b)) if a != b => {
                return Err(validation(
                    "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.",
                ));
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => "SYMMETRIC_DEFAULT",
        };
        let usages = key_usage_for_spec(spec).ok_or_else(|| {
            validation(format!("1 validation error detected: Value '{spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, ECC_NIST_EDWARDS25519, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87]"))
        })?;
        let usage = match opt_str(req, "KeyUsage")? {
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
        match opt_str(req, "Origin")? {
            None | Some("AWS_KMS") => {}
            Some(o @ ("EXTERNAL" | "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE")) => {
                return Err(err(
                    ErrorType::UnsupportedOperationException,
                    format!("Origin {o} is not supported by this KMS."),
                ));
            }
            Some(o) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{o}' at 'origin' failed to satisfy constraint: Member must satisfy enum value set: [AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE]"
                )));
            }
        }
        if opt_bool(req, "MultiRegion")? {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                "Multi-Region keys are not supported by this KMS.",
            ));
        }
        let tags = self.create_key_tags(st, caller, req)?;
        let account = self.caller_account(caller).to_string();
        let owned = st
            .keys
            .values()
            .filter(|k| k.account == account && !k.aws_managed)
            .count();
        if owned >= self.config.key_quota {
            return Err(err(
                ErrorType::LimitExceededException,
                format!(
                    "The account {account} already has {} customer managed keys in {}.",
                    self.config.key_quota, self.config.region
                ),
            ));
        }
        let bypass = opt_bool(req, "BypassPolicyLockoutSafetyCheck")?;
        let uuid_probe = format!("arn:aws:kms:{}:{account}:key/*", self.config.region);
        let (text, doc) = match opt_str(req, "Policy")? {
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
                description,
                spec,
                usage,
                policy_text: text,
                policy: doc,
            },
            now,
        );
        key.tags = tags;
        ev.key(&key);
        let meta = key_metadata(&key);
        ev.response = Some(json!({"keyMetadata": {"keyId": key.id, "arn": key.arn}}));
        st.keys.insert(key.id.clone(), key);
        Ok(json!({ "KeyMetadata": meta }))
    }

    pub(super) fn describe_key(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        check_grant_tokens(req)?;
        let key = self.used_key(st, caller, req_str(req, "KeyId")?, "DescribeKey", None, ev)?;
        Ok(json!({ "KeyMetadata": key_metadata(key) }))
    }

    pub(super) fn list_keys(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
    ) -> R<Value> {
        self.authorize_iam_only(st, caller, "ListKeys", "*")?;
        let account = self.caller_account(caller);
        let keys: Vec<Value> = st
            .keys
            .values()
            .filter(|k| k.account == account)
            .map(|k| json!({"KeyId": k.id, "KeyArn": k.arn}))
            .collect();
        list_page(keys, req, 1000, 100, "Keys")
    }

    pub(super) fn enable_or_disable_key(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
    ) -> R<Value> {
        let id = {
            let key = self.managed_key(st, caller, req, op, ev)?;
            Self::check_state(op, key)?;
            key.id.clone()
        };
        if let Some(k) = st.keys.get_mut(&id) {
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
        Ok(json!({}))
    }

    pub(super) fn update_key_description(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let d = req_str(req, "Description")?;
        if d.len() > 8192 {
            return Err(validation(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
            ));
        }
        let id = {
            let key = self.managed_key(st, caller, req, op, ev)?;
            Self::check_state(op, key)?;
            key.id.clone()
        };
        if let Some(k) = st.keys.get_mut(&id) {
            k.description = d.to_string();
        }
        Ok(json!({}))
    }

    pub(super) fn schedule_key_deletion(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
    ) -> R<Value> {
        let days = opt_int(req, "PendingWindowInDays")?.unwrap_or(30);
        let id = {
            let key = self.managed_key(st, caller, req, op, ev)?;
            if key.aws_managed {
                return Err(err(
                    ErrorType::UnsupportedOperationException,
                    format!("{} is an AWS managed key.", key.arn),
                ));
            }
            Self::check_state(op, key)?;
            key.id.clone()
        };
        if !(7..=30).contains(&days) {
            return Err(validation(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
            )));
        }
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        let date = now + days as f64 * DAY;
        k.state = KeyState::PendingDeletion;
        k.deletion_date = Some(date);
        k.pending_window_days = Some(days as u32);
        Ok(
            json!({"KeyId": k.arn, "DeletionDate": date, "KeyState": "PendingDeletion", "PendingWindowInDays": days}),
        )
    }

    pub(super) fn cancel_key_deletion(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let id = {
            let key = self.managed_key(st, caller, req, op, ev)?;
            Self::check_state(op, key)?;
            key.id.clone()
        };
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        k.state = KeyState::Disabled;
        k.deletion_date = None;
        k.pending_window_days = None;
        Ok(json!({"KeyId": k.arn}))
    }
}
