//! RSA-OAEP encryption, HMAC and ECDH with a key's material.

use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm};
use zeroize::Zeroizing;

use super::{AsymError, Live, PrivateKey, Spec, internal};

/// An RSA encryption algorithm (`RSAES_OAEP_SHA_1`, `RSAES_OAEP_SHA_256`).
fn oaep(algorithm: &str) -> Option<(&'static OaepAlgorithm, usize)> {
    match algorithm {
        "RSAES_OAEP_SHA_1" => Some((&OAEP_SHA1_MGF1SHA1, 20)),
        "RSAES_OAEP_SHA_256" => Some((&OAEP_SHA256_MGF1SHA256, 32)),
        _ => None,
    }
}

/// The MAC algorithm of an HMAC spec.
pub fn mac_algorithm(spec: Spec) -> Option<&'static str> {
    Some(match spec {
        Spec::Hmac(224) => "HMAC_SHA_224",
        Spec::Hmac(256) => "HMAC_SHA_256",
        Spec::Hmac(384) => "HMAC_SHA_384",
        Spec::Hmac(512) => "HMAC_SHA_512",
        _ => return None,
    })
}

impl PrivateKey {
    /// The largest plaintext `algorithm` encrypts under this RSA key (k − 2·hLen − 2 bytes).
    fn oaep_limit(&self, algorithm: &str) -> Option<(&'static OaepAlgorithm, usize)> {
        let Spec::Rsa(bits) = self.spec else {
            return None;
        };
        let (alg, h) = oaep(algorithm)?;
        Some((alg, bits as usize / 8 - 2 * h - 2))
    }

    /// RSA-OAEP encryption of `plaintext` (the raw OAEP output, as long as the modulus).
    ///
    /// # Errors
    /// [`AsymError::Incompatible`] for an algorithm that is not RSA-OAEP or a key that is not
    /// RSA; [`AsymError::Invalid`] for a plaintext over the limit.
    pub fn oaep_encrypt(&self, algorithm: &str, plaintext: &[u8]) -> Result<Vec<u8>, AsymError> {
        let Live::Rsa {
            oaep_public: public,
            ..
        } = &self.live
        else {
            return Err(AsymError::Incompatible(algorithm.to_owned()));
        };
        let (alg, limit) = self
            .oaep_limit(algorithm)
            .ok_or_else(|| AsymError::Incompatible(algorithm.to_owned()))?;
        if plaintext.len() > limit {
            let Spec::Rsa(bits) = self.spec else {
                return Err(AsymError::Internal);
            };
            return Err(AsymError::Invalid(format!(
                "Algorithm {algorithm} and key spec RSA_{bits} cannot encrypt data larger than {limit} bytes."
            )));
        }
        let mut out = vec![0u8; public.ciphertext_size()];
        let n = public
            .encrypt(alg, plaintext, &mut out, None)
            .map_err(internal)?
            .len();
        out.truncate(n);
        Ok(out)
    }

    /// RSA-OAEP decryption.
    ///
    /// # Errors
    /// [`AsymError::Incompatible`] as for [`PrivateKey::oaep_encrypt`];
    /// [`AsymError::BadCiphertext`] when it does not decrypt.
    pub fn oaep_decrypt(
        &self,
        algorithm: &str,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        let Live::Rsa { oaep: key, .. } = &self.live else {
            return Err(AsymError::Incompatible(algorithm.to_owned()));
        };
        let (alg, _) = self
            .oaep_limit(algorithm)
            .ok_or_else(|| AsymError::Incompatible(algorithm.to_owned()))?;
        if ciphertext.len() != key.key_size_bytes() {
            return Err(AsymError::BadCiphertext);
        }
        let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
        let n = key
            .decrypt(alg, ciphertext, &mut out, None)
            .map_err(|_| AsymError::BadCiphertext)?
            .len();
        out.truncate(n);
        Ok(out)
    }

    fn hmac_key(&self, algorithm: &str) -> Result<&aws_lc_rs::hmac::Key, AsymError> {
        match &self.live {
            Live::Hmac(k) if mac_algorithm(self.spec) == Some(algorithm) => Ok(k),
            _ => Err(AsymError::Incompatible(algorithm.to_owned())),
        }
    }

    /// The HMAC of `msg` with `algorithm` (the one of the key's spec).
    ///
    /// # Errors
    /// [`AsymError::Incompatible`] for another algorithm.
    pub fn mac(&self, algorithm: &str, msg: &[u8]) -> Result<Vec<u8>, AsymError> {
        let key = self.hmac_key(algorithm)?;
        Ok(aws_lc_rs::hmac::sign(key, msg).as_ref().to_vec())
    }

    /// Checks an HMAC in constant time.
    ///
    /// # Errors
    /// [`AsymError::Incompatible`] for another algorithm; [`AsymError::BadMac`] for a
    /// mismatch.
    pub fn verify_mac(&self, algorithm: &str, msg: &[u8], mac: &[u8]) -> Result<(), AsymError> {
        let key = self.hmac_key(algorithm)?;
        aws_lc_rs::hmac::verify(key, msg, mac).map_err(|_| AsymError::BadMac)
    }

    /// ECDH with the peer's DER SubjectPublicKeyInfo: the raw shared secret (the
    /// x-coordinate).
    ///
    /// # Errors
    /// [`AsymError::BadPublicKey`] when the peer's key is not DER SubjectPublicKeyInfo on
    /// the key's curve; [`AsymError::Incompatible`] for a key that is not for key agreement.
    pub fn derive(&self, peer_der: &[u8]) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        let Live::Ecdh(key) = &self.live else {
            return Err(AsymError::Incompatible("ECDH".to_owned()));
        };
        // DER SubjectPublicKeyInfo only: a bare SEC1 point (0x02, 0x03, 0x04) is refused.
        if peer_der.first() != Some(&0x30) {
            return Err(AsymError::BadPublicKey);
        }
        let peer = aws_lc_rs::agreement::UnparsedPublicKey::new(key.algorithm(), peer_der);
        aws_lc_rs::agreement::agree(key, peer, AsymError::BadPublicKey, |z| {
            Ok(Zeroizing::new(z.to_vec()))
        })
    }
}
