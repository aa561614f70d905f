//! The operations of asymmetric and HMAC keys: Sign, Verify, GetPublicKey, GenerateMac,
//! VerifyMac, DeriveSharedSecret, GenerateDataKeyPair(WithoutPlaintext), GetKeyLastUsage,
//! and Encrypt/Decrypt with RSA-OAEP (docs/kms.md, "Asymmetric and HMAC keys"). The
//! cryptography is in `crate::asym`.

use ebsim_kms_api::types::asym::{
    DeriveSharedSecretRequest, DeriveSharedSecretResponse, GenerateDataKeyPairRequest,
    GenerateDataKeyPairResponse, GenerateDataKeyPairWithoutPlaintextRequest, GenerateMacRequest,
    GenerateMacResponse, GetKeyLastUsageRequest, GetKeyLastUsageResponse, GetPublicKeyRequest,
    GetPublicKeyResponse, KeyLastUsage, SignRequest, SignResponse, VerifyMacRequest,
    VerifyMacResponse, VerifyRequest, VerifyResponse,
};
use ebsim_kms_api::types::crypto::{
    DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse,
};
use ebsim_kms_api::types::{Blob, SecretBlob, StringMap};

use super::crypto::{context, seal};
use super::*;
use crate::asym::{AsymError, MessageType, PrivateKey, SigningAlgorithm};

/// When AWS began tracking key usage (GetKeyLastUsage's `TrackingStartDate` is the later of
/// this and the key's creation): 2026-04-23T00:00:00Z.
const TRACKING_START: f64 = 1_776_902_400.0;

/// The operations whose successful calls GetKeyLastUsage reports.
pub(super) const TRACKED_USES: &[&str] = &[
    "Decrypt",
    "DeriveSharedSecret",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// Whether an `EncryptionAlgorithm` is one of an asymmetric key.
pub(super) fn is_asymmetric_algorithm(algorithm: Option<&str>) -> bool {
    matches!(
        algorithm,
        Some("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")
    )
}

/// What a call asks of its key: the action, the condition keys of the request, and its
/// encryption context (for the operations that take one).
#[derive(Clone, Copy)]
pub(super) struct Ask<'a> {
    pub(super) action: &'a str,
    pub(super) extra: &'a [(&'a str, &'a str)],
    pub(super) ctx: Option<&'a StringMap>,
}

/// AWS's error for what the key material refused.
pub(super) fn asym_err(key: &Key, e: AsymError) -> KmsError {
    match e {
        AsymError::Incompatible(alg) => err(
            ErrorType::InvalidKeyUsageException,
            format!(
                "Algorithm {alg} is incompatible with key spec {}.",
                key.key_spec
            ),
        ),
        AsymError::Invalid(m) => validation(m),
        AsymError::BadSignature => KmsError::bare(ErrorType::KMSInvalidSignatureException),
        AsymError::BadMac => KmsError::bare(ErrorType::KMSInvalidMacException),
        AsymError::BadCiphertext => KmsError::invalid_ciphertext(),
        AsymError::BadPublicKey => KmsError::bare(ErrorType::ValidationException),
        AsymError::Internal => internal("The cryptographic operation failed."),
    }
}

/// InvalidKeyUsageException unless `key` has `usage`.
pub(super) fn check_usage(key: &Key, usage: &str, op: &str) -> R<()> {
    if key.key_usage == usage {
        Ok(())
    } else {
        Err(err(
            ErrorType::InvalidKeyUsageException,
            format!(
                "{} key usage is {} which is not valid for {op}.",
                key.arn, key.key_usage
            ),
        ))
    }
}

/// The key's material (every asymmetric and HMAC key has it).
pub(super) fn material(key: &Key) -> R<&PrivateKey> {
    key.secret
        .ready()
        .ok_or_else(|| internal("The key has no key material."))
}

/// A refusal of an encryption context on an asymmetric key (docs/kms.md).
pub(super) fn no_context(ctx: &StringMap, algorithm: &str) -> R<()> {
    if ctx.is_empty() {
        Ok(())
    } else {
        Err(validation(format!(
            "EncryptionContext is not supported with the encryption algorithm {algorithm}."
        )))
    }
}

impl Kms {
    /// Runs an operation of this module, `None` for the others.
    pub(super) fn asym_op(&self, st: &State, cx: &Call<'_>, ev: &mut Ev) -> Option<R<Value>> {
        let Call {
            caller, op, req, ..
        } = *cx;
        Some(match op {
            "Sign" => parse(req)
                .and_then(|r| self.handle_sign(st, caller, &r, ev))
                .and_then(to_json),
            "Verify" => parse(req)
                .and_then(|r| self.handle_verify(st, caller, &r, ev))
                .and_then(to_json),
            "GetPublicKey" => parse(req)
                .and_then(|r| self.handle_get_public_key(st, caller, &r, ev))
                .and_then(to_json),
            "GenerateMac" => parse(req)
                .and_then(|r| self.handle_generate_mac(st, caller, &r, ev))
                .and_then(to_json),
            "VerifyMac" => parse(req)
                .and_then(|r| self.handle_verify_mac(st, caller, &r, ev))
                .and_then(to_json),
            "DeriveSharedSecret" => parse(req)
                .and_then(|r| self.handle_derive_shared_secret(st, caller, &r, ev))
                .and_then(to_json),
            "GenerateDataKeyPair" => parse(req)
                .and_then(|r| self.handle_generate_data_key_pair(st, caller, &r, ev, true))
                .and_then(to_json),
            "GenerateDataKeyPairWithoutPlaintext" => {
                parse::<GenerateDataKeyPairWithoutPlaintextRequest>(req)
                    .and_then(|r| {
                        let r = GenerateDataKeyPairRequest {
                            encryption_context: r.encryption_context,
                            key_id: r.key_id,
                            key_pair_spec: r.key_pair_spec,
                            grant_tokens: r.grant_tokens,
                            dry_run: r.dry_run,
                        };
                        self.handle_generate_data_key_pair(st, caller, &r, ev, false)
                    })
                    .and_then(to_json)
            }
            "GetKeyLastUsage" => parse(req)
                .and_then(|r| self.handle_get_key_last_usage(st, caller, &r, ev))
                .and_then(to_json),
            "Encrypt" => {
                let r: EncryptRequest = match parse(req) {
                    Ok(r) => r,
                    Err(e) => return Some(Err(e)),
                };
                if !is_asymmetric_algorithm(r.encryption_algorithm.as_deref()) {
                    return None;
                }
                self.handle_asym_encrypt(st, caller, &r, ev)
                    .and_then(to_json)
            }
            "ReEncrypt" => {
                let r: ReEncryptRequest = match parse(req) {
                    Ok(r) => r,
                    Err(e) => return Some(Err(e)),
                };
                let asym = |a: &Option<String>| is_asymmetric_algorithm(a.as_deref());
                if !asym(&r.source_encryption_algorithm)
                    && !asym(&r.destination_encryption_algorithm)
                {
                    return None;
                }
                // A dry run without a ciphertext checks the keys as for any ReEncrypt.
                match super::dry_run::ignores_ciphertext(r.dry_run, r.dry_run_modifiers.as_deref())
                {
                    Ok(true) => return None,
                    Ok(false) => {}
                    Err(e) => return Some(Err(e)),
                }
                self.handle_asym_re_encrypt(st, caller, &r, ev)
                    .and_then(to_json)
            }
            "Decrypt" => {
                let r: DecryptRequest = match parse(req) {
                    Ok(r) => r,
                    Err(e) => return Some(Err(e)),
                };
                if !is_asymmetric_algorithm(r.encryption_algorithm.as_deref()) {
                    return None;
                }
                self.handle_asym_decrypt(st, caller, &r, ev)
                    .and_then(to_json)
            }
            _ => return None,
        })
    }

    /// Resolves and authorizes the key of a call of `action`, with the condition keys of the
    /// key (`kms:KeySpec`, `kms:KeyUsage`), of the request (`extra`) and of its encryption
    /// context, if it takes one.
    pub(super) fn asym_key<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        key_ref: &str,
        ask: Ask<'_>,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        let Ask { action, extra, ctx } = ask;
        let key = self.key(st, caller, key_ref, Forms::All, ev)?;
        let mut cv = self.base_conditions(caller);
        cv.insert("kms:KeySpec", key.key_spec.clone());
        cv.insert("kms:KeyUsage", key.key_usage.clone());
        Self::key_conditions(&mut cv, key);
        for (k, v) in extra {
            cv.insert(k, *v);
        }
        if let Some(c) = ctx {
            Self::context_conditions(&mut cv, c);
        }
        let a = self.authorize(st, caller, key, &cv, KeyUse::grantable(action, ctx))?;
        ev.grant_id = a.grant_id;
        ev.sid = a.sid;
        Self::check_state(action, key)?;
        Ok(key)
    }

    fn handle_sign(
        &self,
        st: &State,
        caller: &Caller,
        r: &SignRequest,
        ev: &mut Ev,
    ) -> R<SignResponse> {
        type Q = SignRequest;
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let msg = Q::MESSAGE.check_present(r.message.as_ref())?;
        Q::MESSAGE.check_len(msg.expose().len())?;
        let mt_name = r.message_type.as_deref().unwrap_or("RAW");
        Q::MESSAGE_TYPE.check_str(mt_name)?;
        let alg_name = Q::SIGNING_ALGORITHM.check_present(r.signing_algorithm.as_deref())?;
        Q::SIGNING_ALGORITHM.check_str(alg_name)?;
        let key_ref = Q::KEY_ID.check_present(r.key_id.as_deref())?;
        let extra = [
            ("kms:SigningAlgorithm", alg_name),
            ("kms:MessageType", mt_name),
        ];
        let key = self.asym_key(
            st,
            caller,
            key_ref,
            Ask {
                action: "Sign",
                extra: &extra,
                ctx: None,
            },
            ev,
        )?;
        check_usage(key, "SIGN_VERIFY", "Sign")?;
        let (alg, mt) = signing(key, alg_name, mt_name)?;
        let signature = material(key)?
            .sign(alg, mt, msg.expose())
            .map_err(|e| asym_err(key, e))?;
        Ok(SignResponse {
            key_id: key.arn.clone(),
            signature: Blob(signature),
            signing_algorithm: alg_name.to_owned(),
        })
    }

    fn handle_verify(
        &self,
        st: &State,
        caller: &Caller,
        r: &VerifyRequest,
        ev: &mut Ev,
    ) -> R<VerifyResponse> {
        type Q = VerifyRequest;
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let msg = Q::MESSAGE.check_present(r.message.as_ref())?;
        Q::MESSAGE.check_len(msg.expose().len())?;
        let mt_name = r.message_type.as_deref().unwrap_or("RAW");
        Q::MESSAGE_TYPE.check_str(mt_name)?;
        let signature = Q::SIGNATURE.check_present(r.signature.as_ref())?;
        Q::SIGNATURE.check_len(signature.0.len())?;
        let alg_name = Q::SIGNING_ALGORITHM.check_present(r.signing_algorithm.as_deref())?;
        Q::SIGNING_ALGORITHM.check_str(alg_name)?;
        let key_ref = Q::KEY_ID.check_present(r.key_id.as_deref())?;
        let extra = [
            ("kms:SigningAlgorithm", alg_name),
            ("kms:MessageType", mt_name),
        ];
        let key = self.asym_key(
            st,
            caller,
            key_ref,
            Ask {
                action: "Verify",
                extra: &extra,
                ctx: None,
            },
            ev,
        )?;
        check_usage(key, "SIGN_VERIFY", "Verify")?;
        let (alg, mt) = signing(key, alg_name, mt_name)?;
        material(key)?
            .verify(alg, mt, msg.expose(), &signature.0)
            .map_err(|e| asym_err(key, e))?;
        Ok(VerifyResponse {
            key_id: key.arn.clone(),
            signature_valid: true,
            signing_algorithm: alg_name.to_owned(),
        })
    }

    fn handle_get_public_key(
        &self,
        st: &State,
        caller: &Caller,
        r: &GetPublicKeyRequest,
        ev: &mut Ev,
    ) -> R<GetPublicKeyResponse> {
        type Q = GetPublicKeyRequest;
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let key_ref = Q::KEY_ID.check_present(r.key_id.as_deref())?;
        let key = self.asym_key(
            st,
            caller,
            key_ref,
            Ask {
                action: "GetPublicKey",
                extra: &[],
                ctx: None,
            },
            ev,
        )?;
        let public = key
            .secret
            .ready()
            .and_then(PrivateKey::public_key_der)
            .ok_or_else(|| {
                err(
                    ErrorType::UnsupportedOperationException,
                    format!(
                        "{} key spec is {} which is not valid for GetPublicKey.",
                        key.arn, key.key_spec
                    ),
                )
            })?;
        let md = super::keys::key_metadata(key);
        Ok(GetPublicKeyResponse {
            key_id: key.arn.clone(),
            public_key: Blob(public.to_vec()),
            customer_master_key_spec: key.key_spec.clone(),
            key_spec: key.key_spec.clone(),
            key_usage: key.key_usage.clone(),
            encryption_algorithms: md.encryption_algorithms,
            signing_algorithms: md.signing_algorithms,
            key_agreement_algorithms: md.key_agreement_algorithms,
        })
    }

    fn handle_generate_mac(
        &self,
        st: &State,
        caller: &Caller,
        r: &GenerateMacRequest,
        ev: &mut Ev,
    ) -> R<GenerateMacResponse> {
        type Q = GenerateMacRequest;
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let msg = Q::MESSAGE.check_present(r.message.as_ref())?;
        Q::MESSAGE.check_len(msg.expose().len())?;
        let alg = Q::MAC_ALGORITHM.check_present(r.mac_algorithm.as_deref())?;
        Q::MAC_ALGORITHM.check_str(alg)?;
        let key_ref = Q::KEY_ID.check_present(r.key_id.as_deref())?;
        let extra = [("kms:MacAlgorithm", alg)];
        let key = self.asym_key(
            st,
            caller,
            key_ref,
            Ask {
                action: "GenerateMac",
                extra: &extra,
                ctx: None,
            },
            ev,
        )?;
        check_usage(key, "GENERATE_VERIFY_MAC", "GenerateMac")?;
        let mac = material(key)?
            .mac(alg, msg.expose())
            .map_err(|e| asym_err(key, e))?;
        Ok(GenerateMacResponse {
            mac: Blob(mac),
            mac_algorithm: alg.to_owned(),
            key_id: key.arn.clone(),
        })
    }

    fn handle_verify_mac(
        &self,
        st: &State,
        caller: &Caller,
        r: &VerifyMacRequest,
        ev: &mut Ev,
    ) -> R<VerifyMacResponse> {
        type Q = VerifyMacRequest;
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let msg = Q::MESSAGE.check_present(r.message.as_ref())?;
        Q::MESSAGE.check_len(msg.expose().len())?;
        let alg = Q::MAC_ALGORITHM.check_present(r.mac_algorithm.as_deref())?;
        Q::MAC_ALGORITHM.check_str(alg)?;
        let mac = Q::MAC.check_present(r.mac.as_ref())?;
        Q::MAC.check_len(mac.0.len())?;
        let key_ref = Q::KEY_ID.check_present(r.key_id.as_deref())?;
        let extra = [("kms:MacAlgorithm", alg)];
        let key = self.asym_key(
            st,
            caller,
            key_ref,
            Ask {
                action: "VerifyMac",
                extra: &extra,
                ctx: None,
            },
            ev,
        )?;
        check_usage(key, "GENERATE_VERIFY_MAC", "VerifyMac")?;
        material(key)?
            .verify_mac(alg, msg.expose(), &mac.0)
            .map_err(|e| asym_err(key, e))?;
        Ok(VerifyMacResponse {
            key_id: key.arn.clone(),
            mac_valid: true,
            mac_algorithm: alg.to_owned(),
        })
    }

    fn handle_derive_shared_secret(
        &self,
        st: &State,
        caller: &Caller,
        r: &DeriveSharedSecretRequest,
        ev: &mut Ev,
    ) -> R<DeriveSharedSecretResponse> {
        type Q = DeriveSharedSecretRequest;
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let alg = Q::KEY_AGREEMENT_ALGORITHM.check_present(r.key_agreement_algorithm.as_deref())?;
        Q::KEY_AGREEMENT_ALGORITHM.check_str(alg)?;
        let peer = Q::PUBLIC_KEY.check_present(r.public_key.as_ref())?;
        Q::PUBLIC_KEY.check_len(peer.0.len())?;
        let key_ref = Q::KEY_ID.check_present(r.key_id.as_deref())?;
        let extra = [("kms:KeyAgreementAlgorithm", alg)];
        let key = self.asym_key(
            st,
            caller,
            key_ref,
            Ask {
                action: "DeriveSharedSecret",
                extra: &extra,
                ctx: None,
            },
            ev,
        )?;
        check_usage(key, "KEY_AGREEMENT", "DeriveSharedSecret")?;
        let secret = material(key)?
            .derive(&peer.0)
            .map_err(|e| asym_err(key, e))?;
        Ok(DeriveSharedSecretResponse {
            key_id: key.arn.clone(),
            shared_secret: SecretBlob(secret),
            key_agreement_algorithm: alg.to_owned(),
            key_origin: key.origin.clone(),
        })
    }

    fn handle_generate_data_key_pair(
        &self,
        st: &State,
        caller: &Caller,
        r: &GenerateDataKeyPairRequest,
        ev: &mut Ev,
        with_plaintext: bool,
    ) -> R<GenerateDataKeyPairResponse> {
        type Q = GenerateDataKeyPairRequest;
        let action = if with_plaintext {
            "GenerateDataKeyPair"
        } else {
            "GenerateDataKeyPairWithoutPlaintext"
        };
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let ctx = context(&r.encryption_context);
        let spec = Q::KEY_PAIR_SPEC.check_present(r.key_pair_spec.as_deref())?;
        Q::KEY_PAIR_SPEC.check_str(spec)?;
        let key_ref = Q::KEY_ID.check_present(r.key_id.as_deref())?;
        let extra = [("kms:DataKeyPairSpec", spec)];
        let key = self.asym_key(
            st,
            caller,
            key_ref,
            Ask {
                action,
                extra: &extra,
                ctx: Some(ctx),
            },
            ev,
        )?;
        Self::check_symmetric(key, action)?;
        if spec == "SM2" {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                "KeyPairSpec SM2 is not supported in this Region",
            ));
        }
        let pair = crate::asym::generate_pair(spec)
            .ok_or_else(|| internal("Unknown key pair spec."))?
            .map_err(|e| asym_err(key, e))?;
        let (blob, material_id) = seal(key, &pair.private_der, ctx)?;
        Ok(GenerateDataKeyPairResponse {
            private_key_ciphertext_blob: Blob(blob),
            private_key_plaintext: with_plaintext
                .then(|| SecretBlob(Zeroizing::new(pair.private_der.to_vec()))),
            public_key: Blob(pair.public_der),
            key_id: key.arn.clone(),
            key_pair_spec: spec.to_owned(),
            key_material_id: Some(material_id.to_owned()),
        })
    }

    fn handle_get_key_last_usage(
        &self,
        st: &State,
        caller: &Caller,
        r: &GetKeyLastUsageRequest,
        ev: &mut Ev,
    ) -> R<GetKeyLastUsageResponse> {
        let key = self.managed_key_ref(
            st,
            caller,
            r.key_id.as_deref(),
            &GetKeyLastUsageRequest::KEY_ID,
            "GetKeyLastUsage",
            ev,
        )?;
        Ok(GetKeyLastUsageResponse {
            key_id: key.arn.clone(),
            key_last_usage: self.last_usage.lock().get(&key.arn).cloned(),
            tracking_start_date: TRACKING_START.max(key.created),
            key_creation_date: key.created,
        })
    }

    /// Encrypt with an RSA key: RSA-OAEP, the raw output as the ciphertext.
    fn handle_asym_encrypt(
        &self,
        st: &State,
        caller: &Caller,
        r: &EncryptRequest,
        ev: &mut Ev,
    ) -> R<EncryptResponse> {
        type Q = EncryptRequest;
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let plaintext = Q::PLAINTEXT.check_present(r.plaintext.as_ref())?;
        Q::PLAINTEXT.check_len(plaintext.expose().len())?;
        let alg = r.encryption_algorithm.as_deref().unwrap_or_default();
        let key_ref = Q::KEY_ID.check_present(r.key_id.as_deref())?;
        let ctx = context(&r.encryption_context);
        let extra = [("kms:EncryptionAlgorithm", alg)];
        let key = self.asym_key(
            st,
            caller,
            key_ref,
            Ask {
                action: "Encrypt",
                extra: &extra,
                ctx: Some(ctx),
            },
            ev,
        )?;
        if key.is_symmetric() {
            return Err(symmetric_refusal(alg));
        }
        check_usage(key, "ENCRYPT_DECRYPT", "Encrypt")?;
        no_context(ctx, alg)?;
        let blob = material(key)?
            .oaep_encrypt(alg, plaintext.expose())
            .map_err(|e| asym_err(key, e))?;
        Ok(EncryptResponse {
            ciphertext_blob: Blob(blob),
            encryption_algorithm: Some(alg.to_owned()),
            key_id: key.arn.clone(),
            key_material_id: None,
        })
    }

    /// Decrypt with an RSA key: the request names the key and the algorithm.
    fn handle_asym_decrypt(
        &self,
        st: &State,
        caller: &Caller,
        r: &DecryptRequest,
        ev: &mut Ev,
    ) -> R<DecryptResponse> {
        type Q = DecryptRequest;
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let blob = Q::CIPHERTEXT_BLOB.check_present(r.ciphertext_blob.as_ref())?;
        Q::CIPHERTEXT_BLOB.check_len(blob.0.len())?;
        let alg = r.encryption_algorithm.as_deref().unwrap_or_default();
        // The ciphertext of an asymmetric key names no key: without `KeyId` there is nothing
        // to decrypt it with.
        let Some(key_ref) = r.key_id.as_deref() else {
            // A symmetric ciphertext asked to decrypt with an asymmetric algorithm.
            return Err(if crate::blob::parse(&blob.0).is_some() {
                symmetric_refusal(alg)
            } else {
                KmsError::invalid_ciphertext()
            });
        };
        let ctx = context(&r.encryption_context);
        let extra = [("kms:EncryptionAlgorithm", alg)];
        let key = self.asym_key(
            st,
            caller,
            key_ref,
            Ask {
                action: "Decrypt",
                extra: &extra,
                ctx: Some(ctx),
            },
            ev,
        )?;
        if key.is_symmetric() {
            return Err(symmetric_refusal(alg));
        }
        check_usage(key, "ENCRYPT_DECRYPT", "Decrypt")?;
        no_context(ctx, alg)?;
        let plaintext = material(key)?
            .oaep_decrypt(alg, &blob.0)
            .map_err(|e| asym_err(key, e))?;
        Ok(DecryptResponse {
            encryption_algorithm: Some(alg.to_owned()),
            key_id: key.arn.clone(),
            key_material_id: None,
            plaintext: SecretBlob(plaintext),
        })
    }

    /// Notes a successful use of a key for GetKeyLastUsage (saved when the KMS closes;
    /// docs/kms.md). On the data plane: a key used before has its entry rewritten in place,
    /// with no allocation.
    pub(super) fn note_usage(&self, op: &str, key_arn: &str, now: f64, ids: (&str, &str)) {
        if !TRACKED_USES.contains(&op) {
            return;
        }
        let mut map = self.last_usage.lock();
        self.last_usage_dirty.store(true, Ordering::Relaxed);
        if let Some(u) = map.get_mut(key_arn) {
            for (field, value) in [
                (&mut u.operation, op),
                (&mut u.kms_request_id, ids.0),
                (&mut u.cloud_trail_event_id, ids.1),
            ] {
                field.clear();
                field.push_str(value);
            }
            u.timestamp = now;
            return;
        }
        map.insert(
            key_arn.to_owned(),
            KeyLastUsage {
                operation: op.to_owned(),
                timestamp: now,
                cloud_trail_event_id: ids.1.to_owned(),
                kms_request_id: ids.0.to_owned(),
            },
        );
    }
}

/// The algorithm and message type of a Sign or Verify request (SM2DSA is the algorithm of a
/// spec that ebsim refuses, so no key here takes it).
fn signing(key: &Key, alg: &str, mt: &str) -> R<(SigningAlgorithm, MessageType)> {
    let a = SigningAlgorithm::parse(alg)
        .ok_or_else(|| asym_err(key, AsymError::Incompatible(alg.to_owned())))?;
    let m = MessageType::parse(Some(mt)).ok_or_else(|| internal("unknown message type"))?;
    Ok((a, m))
}

/// An asymmetric algorithm asked of a symmetric key.
pub(super) fn symmetric_refusal(alg: &str) -> KmsError {
    err(
        ErrorType::InvalidKeyUsageException,
        format!("The encryption algorithm {alg} is not valid for a symmetric key."),
    )
}
