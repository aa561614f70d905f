//! The external key store proxy (docs/kms.md, "Custom key stores"): the operations of AWS's
//! XKS proxy API that KMS calls (GetHealthStatus, GetKeyMetadata, Encrypt, Decrypt) as a
//! trait, and the in-process proxy ebsim answers them with. ebsim records a store's proxy
//! settings and never contacts a proxy over the network.
//!
//! The keys of an `EXTERNAL_KEY_STORE` key are used twice, as AWS's double encryption: the
//! plaintext is encrypted by the proxy (AES-256-GCM under the external key, with the KMS
//! key's ARN as additional data) and the result sealed with the KMS key's own material as any
//! ciphertext (`crate::blob`).

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use rand::Rng as _;
use zeroize::Zeroizing;

/// A failure of the proxy, by the XKS API's error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XksError {
    /// `KeyNotFoundException`.
    KeyNotFound,
    /// `InvalidCiphertextException`.
    InvalidCiphertext,
    /// `InternalException`.
    Internal,
}

/// `GetKeyMetadata`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XksKeyMetadata {
    /// `AES`.
    pub key_spec: &'static str,
    /// `ENCRYPT`, `DECRYPT`.
    pub key_usage: &'static [&'static str],
    /// `ENABLED`.
    pub key_status: &'static str,
}

/// `Encrypt`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XksCiphertext {
    /// The AES-GCM ciphertext.
    pub ciphertext: Vec<u8>,
    /// The 12-byte IV.
    pub initialization_vector: [u8; 12],
    /// The 16-byte tag.
    pub authentication_tag: [u8; 16],
}

/// What KMS asks of an external key store proxy.
pub trait XksProxy {
    /// `GetHealthStatus`: whether the proxy and its key manager are up.
    ///
    /// # Errors
    /// The proxy's failure.
    fn get_health_status(&self) -> Result<(), XksError>;
    /// `GetKeyMetadata` of external key `key_id`.
    ///
    /// # Errors
    /// [`XksError::KeyNotFound`].
    fn get_key_metadata(&self, key_id: &str) -> Result<XksKeyMetadata, XksError>;
    /// `Encrypt` with external key `key_id`, authenticating `aad`.
    ///
    /// # Errors
    /// [`XksError::KeyNotFound`], [`XksError::Internal`].
    fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<XksCiphertext, XksError>;
    /// `Decrypt` with external key `key_id`.
    ///
    /// # Errors
    /// [`XksError::KeyNotFound`], [`XksError::InvalidCiphertext`].
    fn decrypt(
        &self,
        key_id: &str,
        ciphertext: &XksCiphertext,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, XksError>;
}

/// The in-process proxy of one external key: the key (256 bits, zeroized, kept in the 0600
/// KMS state with the KMS key it backs) and its id.
pub struct InProcessXks<'a> {
    /// The external key's id.
    pub key_id: &'a str,
    /// Its AES-256 key.
    pub key: &'a [u8; 32],
}

impl std::fmt::Debug for InProcessXks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessXks")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl XksProxy for InProcessXks<'_> {
    fn get_health_status(&self) -> Result<(), XksError> {
        Ok(())
    }

    fn get_key_metadata(&self, key_id: &str) -> Result<XksKeyMetadata, XksError> {
        if key_id != self.key_id {
            return Err(XksError::KeyNotFound);
        }
        Ok(XksKeyMetadata {
            key_spec: "AES",
            key_usage: &["ENCRYPT", "DECRYPT"],
            key_status: "ENABLED",
        })
    }

    fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<XksCiphertext, XksError> {
        self.get_key_metadata(key_id)?;
        let cipher = Aes256Gcm::new(&(*self.key).into());
        let mut iv = [0u8; 12];
        rand::rng().fill_bytes(&mut iv);
        let mut sealed = cipher
            .encrypt(
                &iv.into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| XksError::Internal)?;
        let tag_at = sealed.len().checked_sub(16).ok_or(XksError::Internal)?;
        let tag: [u8; 16] = sealed[tag_at..]
            .try_into()
            .map_err(|_| XksError::Internal)?;
        sealed.truncate(tag_at);
        Ok(XksCiphertext {
            ciphertext: sealed,
            initialization_vector: iv,
            authentication_tag: tag,
        })
    }

    fn decrypt(
        &self,
        key_id: &str,
        c: &XksCiphertext,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, XksError> {
        self.get_key_metadata(key_id)?;
        let cipher = Aes256Gcm::new(&(*self.key).into());
        let mut msg = Vec::with_capacity(c.ciphertext.len() + 16);
        msg.extend_from_slice(&c.ciphertext);
        msg.extend_from_slice(&c.authentication_tag);
        cipher
            .decrypt(&c.initialization_vector.into(), Payload { msg: &msg, aad })
            .map(Zeroizing::new)
            .map_err(|_| XksError::InvalidCiphertext)
    }
}

/// KMS's answer to any proxy failure during a cryptographic operation (AWS's: the proxy's
/// own message is never passed on).
fn proxy_failed() -> crate::api::KmsError {
    crate::api::KmsError::new(
        crate::api::ErrorType::KMSInvalidStateException,
        "The external key store proxy rejected the request. The KMS key's external key could not be used.",
    )
}

/// The proxy's layer over `plaintext` for an `EXTERNAL_KEY_STORE` key (`None` for other
/// keys): Encrypt through the key's proxy, with the key ARN as additional data.
///
/// # Errors
/// `KMSInvalidStateException` when the proxy fails.
pub fn outer_seal(
    key: &crate::state::Key,
    plaintext: &[u8],
) -> Result<Option<Zeroizing<Vec<u8>>>, crate::api::KmsError> {
    let Some(x) = &key.xks else {
        return Ok(None);
    };
    let c = x
        .proxy()
        .encrypt(&x.key_id, plaintext, key.arn.as_bytes())
        .map_err(|_| proxy_failed())?;
    Ok(Some(encode(&c)))
}

/// [`outer_seal`] undone: `opened` is what the KMS material opened.
///
/// # Errors
/// `KMSInvalidStateException` when the proxy fails to decrypt.
pub fn outer_open(
    key: &crate::state::Key,
    opened: Zeroizing<Vec<u8>>,
) -> Result<Zeroizing<Vec<u8>>, crate::api::KmsError> {
    let Some(x) = &key.xks else {
        return Ok(opened);
    };
    let c = decode(&opened).ok_or_else(proxy_failed)?;
    x.proxy()
        .decrypt(&x.key_id, &c, key.arn.as_bytes())
        .map_err(|_| proxy_failed())
}

/// The proxy's ciphertext as the inner layer of a KMS ciphertext: IV ‖ tag ‖ ciphertext.
pub fn encode(c: &XksCiphertext) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(28 + c.ciphertext.len()));
    out.extend_from_slice(&c.initialization_vector);
    out.extend_from_slice(&c.authentication_tag);
    out.extend_from_slice(&c.ciphertext);
    out
}

/// [`encode`] undone; `None` for anything too short.
pub fn decode(b: &[u8]) -> Option<XksCiphertext> {
    Some(XksCiphertext {
        initialization_vector: b.get(..12)?.try_into().ok()?,
        authentication_tag: b.get(12..28)?.try_into().ok()?,
        ciphertext: b.get(28..)?.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_in_process_proxy_round_trips_and_refuses_tampering() {
        let key = [9u8; 32];
        let p = InProcessXks {
            key_id: "ext-1",
            key: &key,
        };
        assert!(p.get_health_status().is_ok());
        assert_eq!(p.get_key_metadata("other"), Err(XksError::KeyNotFound));
        let c = p.encrypt("ext-1", b"inner", b"arn").expect("encrypts");
        assert_ne!(c.ciphertext, b"inner");
        let back = decode(&encode(&c)).expect("decodes");
        assert_eq!(
            p.decrypt("ext-1", &back, b"arn")
                .expect("decrypts")
                .as_slice(),
            b"inner"
        );
        assert_eq!(
            p.decrypt("ext-1", &back, b"other arn"),
            Err(XksError::InvalidCiphertext)
        );
        let other = [8u8; 32];
        let q = InProcessXks {
            key_id: "ext-1",
            key: &other,
        };
        assert_eq!(
            q.decrypt("ext-1", &back, b"arn"),
            Err(XksError::InvalidCiphertext)
        );
        assert!(decode(&[0u8; 27]).is_none());
    }
}
