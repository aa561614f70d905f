//! ReEncrypt with an RSA key on either side (docs/kms.md, "Asymmetric and HMAC keys"): the source is
//! opened with RSA-OAEP when `SourceEncryptionAlgorithm` is an RSA one (the request must then
//! name the key, as the ciphertext does not), else as a symmetric blob; the destination is
//! sealed with RSA-OAEP when `DestinationEncryptionAlgorithm` is an RSA one, else as a
//! symmetric blob. The plaintext never leaves KMS. ReEncrypt between symmetric keys takes the
//! data-plane path (`hot.rs`, `crypto.rs`).

use ebsim_kms_api::types::crypto::{ReEncryptRequest, ReEncryptResponse};
use ebsim_kms_api::types::{Blob, StringMap};

use super::asym::{
    Ask, asym_err, check_usage, is_asymmetric_algorithm, material, no_context, symmetric_refusal,
};
use super::crypto::{Sealed, check_algorithm, context, seal};
use super::*;

/// The side of a ReEncrypt that an RSA algorithm names: the key, with the action and
/// algorithm authorized on it.
struct RsaSide<'a> {
    key_ref: &'a str,
    action: &'static str,
    algorithm: &'a str,
    ctx: &'a StringMap,
}

impl Kms {
    /// Resolves and authorizes an RSA key of a ReEncrypt side and checks that it can encrypt
    /// and decrypt with the side's algorithm and no encryption context.
    fn rsa_side<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        side: RsaSide<'_>,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        let extra = [("kms:EncryptionAlgorithm", side.algorithm)];
        let key = self.asym_key(
            st,
            caller,
            side.key_ref,
            Ask {
                action: side.action,
                extra: &extra,
                ctx: Some(side.ctx),
            },
            ev,
        )?;
        if key.is_symmetric() {
            return Err(symmetric_refusal(side.algorithm));
        }
        check_usage(key, "ENCRYPT_DECRYPT", "ReEncrypt")?;
        no_context(side.ctx, side.algorithm)?;
        Ok(key)
    }

    /// ReEncrypt where the source or the destination algorithm is RSA-OAEP.
    pub(super) fn handle_asym_re_encrypt(
        &self,
        st: &State,
        caller: &Caller,
        r: &ReEncryptRequest,
        ev: &mut Ev,
    ) -> R<ReEncryptResponse> {
        type Q = ReEncryptRequest;
        check_grant_tokens(r.grant_tokens.as_deref())?;
        let blob = Q::CIPHERTEXT_BLOB.check_present(r.ciphertext_blob.as_ref())?;
        Q::CIPHERTEXT_BLOB.check_len(blob.0.len())?;
        let dst_ref = Q::DESTINATION_KEY_ID.check_present(r.destination_key_id.as_deref())?;
        let src_ctx = context(&r.source_encryption_context);
        let dst_ctx = context(&r.destination_encryption_context);
        let src_alg = r.source_encryption_algorithm.as_deref();
        let dst_alg = r.destination_encryption_algorithm.as_deref();

        // The source: the plaintext, the key and its material id (symmetric keys only).
        let (src, plaintext, src_material) = if is_asymmetric_algorithm(src_alg) {
            let alg = src_alg.unwrap_or_default();
            // An RSA ciphertext names no key: without `SourceKeyId` there is nothing to open
            // it with.
            let Some(key_ref) = r.source_key_id.as_deref() else {
                return Err(if crate::blob::parse(&blob.0).is_some() {
                    symmetric_refusal(alg)
                } else {
                    KmsError::invalid_ciphertext()
                });
            };
            let side = RsaSide {
                key_ref,
                action: "ReEncryptFrom",
                algorithm: alg,
                ctx: src_ctx,
            };
            let key = self.rsa_side(st, caller, side, ev)?;
            let plaintext = material(key)?
                .oaep_decrypt(alg, &blob.0)
                .map_err(|e| asym_err(key, e))?;
            (key, plaintext, None)
        } else {
            check_algorithm(&Q::SOURCE_ENCRYPTION_ALGORITHM, src_alg)?;
            let sealed = Sealed {
                blob: &blob.0,
                key_id: r.source_key_id.as_deref(),
                ctx: src_ctx,
            };
            let (key, plaintext, m) = self.open_blob(st, caller, sealed, "ReEncryptFrom", ev)?;
            (key, plaintext, Some(m.to_owned()))
        };

        // The destination.
        let mut dst_ev = Ev::default();
        let (dst, ciphertext, dst_material) = if is_asymmetric_algorithm(dst_alg) {
            let alg = dst_alg.unwrap_or_default();
            let side = RsaSide {
                key_ref: dst_ref,
                action: "ReEncryptTo",
                algorithm: alg,
                ctx: dst_ctx,
            };
            let key = self.rsa_side(st, caller, side, &mut dst_ev)?;
            let ciphertext = material(key)?
                .oaep_encrypt(alg, &plaintext)
                .map_err(|e| asym_err(key, e))?;
            (key, ciphertext, None)
        } else {
            check_algorithm(&Q::DESTINATION_ENCRYPTION_ALGORITHM, dst_alg)?;
            let key = self.key(st, caller, dst_ref, Forms::All, &mut dst_ev)?;
            let mut cv = self.base_conditions(caller);
            Self::context_conditions(&mut cv, dst_ctx);
            self.authorize(
                st,
                caller,
                key,
                &cv,
                KeyUse::grantable("ReEncryptTo", Some(dst_ctx)),
            )?;
            Self::check_state("ReEncrypt", key)?;
            Self::check_symmetric(key, "ReEncrypt")?;
            let (ciphertext, m) = seal(key, &plaintext, dst_ctx)?;
            (key, ciphertext, Some(m.to_owned()))
        };
        Ok(ReEncryptResponse {
            ciphertext_blob: Blob(ciphertext),
            destination_encryption_algorithm: Some(
                dst_alg.unwrap_or("SYMMETRIC_DEFAULT").to_owned(),
            ),
            destination_key_material_id: dst_material,
            key_id: dst.arn.clone(),
            source_encryption_algorithm: Some(src_alg.unwrap_or("SYMMETRIC_DEFAULT").to_owned()),
            source_key_id: Some(src.arn.clone()),
            source_key_material_id: src_material,
        })
    }
}
