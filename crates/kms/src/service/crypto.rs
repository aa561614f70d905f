//! The cryptographic operations: Encrypt, Decrypt, GenerateDataKey(WithoutPlaintext), ReEncrypt, GenerateRandom.

use ebsim_kms_api::types::crypto::{
    DecryptRequest, EncryptRequest, GenerateDataKeyRequest, GenerateRandomRequest,
    GenerateRandomResponse, ReEncryptRequest,
};
use ebsim_kms_api::types::{MemberSpec, SecretBlob, StringMap};

use super::*;

/// Checks an `EncryptionAlgorithm` member: an asymmetric algorithm is the wrong key usage
/// for a symmetric key; anything else must be one of the model's values.
pub(super) fn check_algorithm(spec: &MemberSpec, algorithm: Option<&str>) -> R<()> {
    match algorithm {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => Err(err(
            ErrorType::InvalidKeyUsageException,
            format!("The encryption algorithm {a} is not valid for a symmetric key."),
        )),
        Some(a) => spec.check_str(a),
    }
}

/// The encryption context of a request (empty when absent).
pub(super) fn context(ctx: &Option<StringMap>) -> &StringMap {
    static EMPTY: StringMap = StringMap::new();
    ctx.as_ref().unwrap_or(&EMPTY)
}

pub(super) fn seal<'k>(
    key: &'k Key,
    plaintext: &[u8],
    ctx: &BTreeMap<String, String>,
) -> R<(Vec<u8>, &'k str)> {
    let m = key
        .current_material()
        .ok_or_else(|| internal("The key has no key material."))?;
    // An external key store key: the proxy's layer first (crate::xks).
    let layered = crate::xks::outer_seal(key, plaintext)?;
    let plaintext = layered.as_deref().map_or(plaintext, Vec::as_slice);
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
        // An RSA encryption key asked for the symmetric algorithm (docs/kms.md).
        if !key.is_symmetric()
            && key.key_usage == "ENCRYPT_DECRYPT"
            && matches!(op, "Encrypt" | "Decrypt" | "ReEncrypt")
        {
            return Err(err(
                ErrorType::InvalidKeyUsageException,
                format!(
                    "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec {}.",
                    key.key_spec
                ),
            ));
        }
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

    pub(super) fn handle_encrypt<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &EncryptRequest,
        ev: &mut Ev,
    ) -> R<hot::EncryptOut<'s>> {
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let ctx = context(&req.encryption_context);
        let plaintext = EncryptRequest::PLAINTEXT.check_present(req.plaintext.as_ref())?;
        EncryptRequest::PLAINTEXT.check_len(plaintext.expose().len())?;
        check_algorithm(
            &EncryptRequest::ENCRYPTION_ALGORITHM,
            req.encryption_algorithm.as_deref(),
        )?;
        let key_ref = EncryptRequest::KEY_ID.check_present(req.key_id.as_deref())?;
        let key = self.used_key(st, caller, key_ref, "Encrypt", Some(ctx), ev)?;
        Self::check_state("Encrypt", key)?;
        Self::check_symmetric(key, "Encrypt")?;
        let (blob, material_id) = seal(key, plaintext.expose(), ctx)?;
        Ok(hot::EncryptOut {
            blob,
            key,
            material_id,
        })
    }

    pub(super) fn handle_generate_data_key<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &GenerateDataKeyRequest,
        ev: &mut Ev,
        with_plaintext: bool,
    ) -> R<hot::DataKeyOut<'s>> {
        type Q = GenerateDataKeyRequest;
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let ctx = context(&req.encryption_context);
        let len = match (req.key_spec.as_deref(), req.number_of_bytes) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(validation(
                    "Please specify either number of bytes or key spec.",
                ));
            }
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (Some(spec), None) => {
                Q::KEY_SPEC.check_str(spec)?;
                return Err(internal("unknown data key spec"));
            }
            (None, Some(n)) => {
                Q::NUMBER_OF_BYTES.check_int(n)?;
                n as usize
            }
        };
        let action = if with_plaintext {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        };
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let key = self.used_key(st, caller, key_ref, action, Some(ctx), ev)?;
        Self::check_state("GenerateDataKey", key)?;
        Self::check_symmetric(key, action)?;
        let mut data_key = Zeroizing::new(vec![0u8; len]);
        rand::Rng::fill_bytes(&mut rand::rng(), &mut data_key);
        let (blob, material_id) = seal(key, &data_key, ctx)?;
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
        let asked = match key_param {
            Some(k) => Some(self.resolve_id(st, caller, k, Forms::All)?),
            None => None,
        };
        let region = self.region_of(caller);
        let key = st.blob_key(&parsed.key_id, region).ok_or_else(|| {
            err(ErrorType::AccessDeniedException, "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.")
        })?;
        ev.key(key);
        let mut cv = self.base_conditions(caller);
        Self::key_conditions(&mut cv, key);
        Self::context_conditions(&mut cv, ctx);
        let a = self.authorize(st, caller, key, &cv, KeyUse::grantable(action, Some(ctx)))?;
        ev.grant_id = a.grant_id;
        ev.sid = a.sid;
        Self::check_state("Decrypt", key)?;
        Self::check_symmetric(key, "Decrypt")?;
        if asked.is_some_and(|a| crate::state::wire_id(&a) != key.id) {
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
        let plaintext = crate::xks::outer_open(key, plaintext)?;
        Ok((key, plaintext, m.id.as_str()))
    }

    pub(super) fn handle_decrypt<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &DecryptRequest,
        ev: &mut Ev,
    ) -> R<hot::DecryptOut<'s>> {
        type Q = DecryptRequest;
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let ctx = context(&req.encryption_context);
        check_algorithm(
            &Q::ENCRYPTION_ALGORITHM,
            req.encryption_algorithm.as_deref(),
        )?;
        let blob = Q::CIPHERTEXT_BLOB.check_present(req.ciphertext_blob.as_ref())?;
        Q::CIPHERTEXT_BLOB.check_len(blob.0.len())?;
        let sealed = Sealed {
            blob: &blob.0,
            key_id: req.key_id.as_deref(),
            ctx,
        };
        let (key, plaintext, material_id) = self.open_blob(st, caller, sealed, "Decrypt", ev)?;
        Ok(hot::DecryptOut {
            key,
            plaintext,
            material_id,
        })
    }

    pub(super) fn handle_re_encrypt<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &ReEncryptRequest,
        ev: &mut Ev,
    ) -> R<hot::ReEncryptOut<'s>> {
        type Q = ReEncryptRequest;
        check_grant_tokens(req.grant_tokens.as_deref())?;
        let src_ctx = context(&req.source_encryption_context);
        let dst_ctx = context(&req.destination_encryption_context);
        check_algorithm(
            &Q::SOURCE_ENCRYPTION_ALGORITHM,
            req.source_encryption_algorithm.as_deref(),
        )?;
        check_algorithm(
            &Q::DESTINATION_ENCRYPTION_ALGORITHM,
            req.destination_encryption_algorithm.as_deref(),
        )?;
        let blob = Q::CIPHERTEXT_BLOB.check_present(req.ciphertext_blob.as_ref())?;
        Q::CIPHERTEXT_BLOB.check_len(blob.0.len())?;
        let dst_ref = Q::DESTINATION_KEY_ID.check_present(req.destination_key_id.as_deref())?;
        let sealed = Sealed {
            blob: &blob.0,
            key_id: req.source_key_id.as_deref(),
            ctx: src_ctx,
        };
        let (src, plaintext, src_m) = self.open_blob(st, caller, sealed, "ReEncryptFrom", ev)?;
        let mut ev2 = Ev::default();
        let dst = self.key(st, caller, dst_ref, Forms::All, &mut ev2)?;
        let mut cv = self.base_conditions(caller);
        Self::context_conditions(&mut cv, dst_ctx);
        self.authorize(
            st,
            caller,
            dst,
            &cv,
            KeyUse::grantable("ReEncryptTo", Some(dst_ctx)),
        )?;
        Self::check_state("ReEncrypt", dst)?;
        Self::check_symmetric(dst, "ReEncrypt")?;
        let (blob, dst_m) = seal(dst, &plaintext, dst_ctx)?;
        Ok(hot::ReEncryptOut {
            blob,
            src,
            dst,
            src_material_id: src_m,
            dst_material_id: dst_m,
        })
    }

    pub(super) fn handle_generate_random(
        &self,
        st: &State,
        caller: &Caller,
        req: &GenerateRandomRequest,
    ) -> R<GenerateRandomResponse> {
        self.authorize_iam_only(st, caller, "GenerateRandom", "*")?;
        let n = req
            .number_of_bytes
            .ok_or_else(|| validation("NumberOfBytes is required."))?;
        GenerateRandomRequest::NUMBER_OF_BYTES.check_int(n)?;
        let mut bytes = Zeroizing::new(vec![0u8; n as usize]);
        rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
        Ok(GenerateRandomResponse {
            plaintext: SecretBlob(bytes),
        })
    }
}
