//! The cryptographic operations: Encrypt, Decrypt, GenerateDataKey(WithoutPlaintext), ReEncrypt, GenerateRandom.

use super::*;

pub(super) fn check_algorithm<Q: Req + ?Sized>(req: &Q, name: &str) -> R<()> {
    match opt_str(req, name)? {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => Err(err(
            ErrorType::InvalidKeyUsageException,
            format!("The encryption algorithm {a} is not valid for a symmetric key."),
        )),
        Some(a) => Err(validation(format!(
            "1 validation error detected: Value '{a}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
            camel(name)
        ))),
    }
}

pub(super) fn seal<'k>(
    key: &'k Key,
    plaintext: &[u8],
    ctx: &BTreeMap<String, String>,
) -> R<(Vec<u8>, &'k str)> {
    let m = key
        .current_material()
        .ok_or_else(|| internal("The key has no key material."))?;
    let blob = m
        .secret
        .seal(&key.id_bytes, &m.id_bytes, plaintext, ctx)
        .ok_or_else(|| internal("Encryption failed."))?;
    Ok((blob, m.id.as_str()))
}

/// A ciphertext blob to open: its bytes, the key the request names for it (if any), and
/// the encryption context it must have been sealed under.
#[derive(Clone, Copy)]
pub(super) struct Sealed<'a> {
    pub(super) blob: &'a [u8],
    pub(super) key_id: Option<&'a str>,
    pub(super) ctx: &'a BTreeMap<String, String>,
}

impl Kms {
    pub(super) fn check_symmetric(key: &Key, op: &str) -> R<()> {
        if !key.is_symmetric() {
            return Err(err(
                ErrorType::InvalidKeyUsageException,
                format!(
                    "{} key usage is {} which is not valid for {op}.",
                    key.arn, key.key_usage
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn encrypt<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        ev: &mut Ev,
    ) -> R<hot::EncryptOut<'s>> {
        check_grant_tokens(req)?;
        let ctx = context_param(req, "EncryptionContext")?;
        let plaintext = blob_param(req, "Plaintext")?.ok_or_else(|| {
            validation("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must not be null")
        })?;
        if plaintext.is_empty() || plaintext.len() > 4096 {
            return Err(validation(format!(
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length {}",
                if plaintext.is_empty() {
                    "greater than or equal to 1"
                } else {
                    "less than or equal to 4096"
                }
            )));
        }
        check_algorithm(req, "EncryptionAlgorithm")?;
        let key = self.used_key(st, caller, req, "Encrypt", Some(&ctx), ev)?;
        Self::check_state("Encrypt", key)?;
        Self::check_symmetric(key, "Encrypt")?;
        let (blob, material_id) = seal(key, &plaintext, &ctx)?;
        Ok(hot::EncryptOut {
            blob,
            key,
            material_id,
        })
    }

    pub(super) fn generate_data_key<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        ev: &mut Ev,
        with_plaintext: bool,
    ) -> R<hot::DataKeyOut<'s>> {
        check_grant_tokens(req)?;
        let ctx = context_param(req, "EncryptionContext")?;
        let spec = opt_str(req, "KeySpec")?;
        let n = opt_int(req, "NumberOfBytes")?;
        let len = match (spec, n) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(validation(
                    "Please specify either number of bytes or key spec.",
                ));
            }
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (Some(_), None) => {
                return Err(validation(
                    "1 validation error detected: Value at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]",
                ));
            }
            (None, Some(n)) => {
                range("NumberOfBytes", n, 1, 1024)?;
                n as usize
            }
        };
        let action = if with_plaintext {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        };
        let key = self.used_key(st, caller, req, action, Some(&ctx), ev)?;
        Self::check_state("GenerateDataKey", key)?;
        Self::check_symmetric(key, action)?;
        let mut data_key = Zeroizing::new(vec![0u8; len]);
        rand::Rng::fill_bytes(&mut rand::rng(), &mut data_key);
        let (blob, material_id) = seal(key, &data_key, &ctx)?;
        Ok(hot::DataKeyOut {
            blob,
            key,
            material_id,
            plaintext: with_plaintext.then_some(data_key),
        })
    }

    /// Opens a blob for `action` (`Decrypt` / `ReEncryptFrom`): returns the key, the
    /// plaintext and the material id.
    pub(super) fn open_blob<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        sealed: Sealed<'_>,
        action: &str,
        ev: &mut Ev,
    ) -> R<(&'a Key, Zeroizing<Vec<u8>>, &'a str)> {
        let Sealed {
            blob: blob_bytes,
            key_id: key_param,
            ctx,
        } = sealed;
        let parsed = blob::parse(blob_bytes).ok_or_else(KmsError::invalid_ciphertext)?;
        let id = parsed.key_id_string();
        let asked = match key_param {
            Some(k) => Some(self.resolve_id(st, caller, k, Forms::All)?),
            None => None,
        };
        let key = st.keys.get(&id).ok_or_else(|| {
            err(ErrorType::AccessDeniedException, "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.")
        })?;
        ev.key(key);
        let mut cv = self.base_conditions(caller);
        Self::context_conditions(&mut cv, ctx);
        let a = self.authorize(st, caller, key, &cv, KeyUse::grantable(action, Some(ctx)))?;
        ev.grant_id = a.grant_id;
        ev.sid = a.sid;
        Self::check_state("Decrypt", key)?;
        Self::check_symmetric(key, "Decrypt")?;
        if asked.is_some_and(|a| a != key.id) {
            return Err(err(
                ErrorType::IncorrectKeyException,
                "The key ID in the request does not identify a CMK that can perform this operation.",
            ));
        }
        let m = key
            .materials
            .iter()
            .find(|m| m.id_bytes == parsed.material_id)
            .ok_or_else(KmsError::invalid_ciphertext)?;
        let plaintext = m
            .secret
            .open(&parsed, ctx)
            .ok_or_else(KmsError::invalid_ciphertext)?;
        Ok((key, plaintext, m.id.as_str()))
    }

    pub(super) fn decrypt<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        ev: &mut Ev,
    ) -> R<hot::DecryptOut<'s>> {
        check_grant_tokens(req)?;
        let ctx = context_param(req, "EncryptionContext")?;
        check_algorithm(req, "EncryptionAlgorithm")?;
        let blob_bytes = blob_param(req, "CiphertextBlob")?.ok_or_else(|| {
            validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
        })?;
        if blob_bytes.is_empty() || blob_bytes.len() > 6144 {
            return Err(validation(
                "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144",
            ));
        }
        let sealed = Sealed {
            blob: &blob_bytes,
            key_id: opt_str(req, "KeyId")?,
            ctx: &ctx,
        };
        let (key, plaintext, material_id) = self.open_blob(st, caller, sealed, "Decrypt", ev)?;
        Ok(hot::DecryptOut {
            key,
            plaintext,
            material_id,
        })
    }

    pub(super) fn re_encrypt<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        ev: &mut Ev,
    ) -> R<hot::ReEncryptOut<'s>> {
        check_grant_tokens(req)?;
        let src_ctx = context_param(req, "SourceEncryptionContext")?;
        let dst_ctx = context_param(req, "DestinationEncryptionContext")?;
        check_algorithm(req, "SourceEncryptionAlgorithm")?;
        check_algorithm(req, "DestinationEncryptionAlgorithm")?;
        let blob_bytes = blob_param(req, "CiphertextBlob")?.ok_or_else(|| {
            validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
        })?;
        if blob_bytes.is_empty() || blob_bytes.len() > 6144 {
            return Err(validation(
                "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144",
            ));
        }
        let dst_ref = req_str(req, "DestinationKeyId")?;
        let sealed = Sealed {
            blob: &blob_bytes,
            key_id: opt_str(req, "SourceKeyId")?,
            ctx: &src_ctx,
        };
        let (src, plaintext, src_m) = self.open_blob(st, caller, sealed, "ReEncryptFrom", ev)?;
        let mut ev2 = Ev::default();
        let dst = self.key(st, caller, dst_ref, Forms::All, &mut ev2)?;
        let mut cv = self.base_conditions(caller);
        Self::context_conditions(&mut cv, &dst_ctx);
        self.authorize(
            st,
            caller,
            dst,
            &cv,
            KeyUse::grantable("ReEncryptTo", Some(&dst_ctx)),
        )?;
        Self::check_state("ReEncrypt", dst)?;
        Self::check_symmetric(dst, "ReEncrypt")?;
        let (blob, dst_m) = seal(dst, &plaintext, &dst_ctx)?;
        Ok(hot::ReEncryptOut {
            blob,
            src,
            dst,
            src_material_id: src_m,
            dst_material_id: dst_m,
        })
    }

    pub(super) fn generate_random(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
    ) -> R<Value> {
        self.authorize_iam_only(st, caller, "GenerateRandom", "*")?;
        let n = opt_int(req, "NumberOfBytes")?
            .ok_or_else(|| validation("NumberOfBytes is required."))?;
        range("NumberOfBytes", n, 1, 1024)?;
        let mut bytes = Zeroizing::new(vec![0u8; n as usize]);
        rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
        Ok(json!({ "Plaintext": B64.encode(&*bytes) }))
    }
}
