//! Imported key material in the KMS state (docs/kms.md, "Imported key material"): the
//! wrapping keys and import tokens GetParametersForImport hands out, the expiry of imported
//! material, and unwrapping what ImportKeyMaterial receives.
//!
//! An import token (version 1, all integers big-endian) is `EBIT` ‖ `0x01` ‖ the key id (16
//! bytes) ‖ the token id (16 random bytes) ‖ the time it expires (f64, epoch seconds). It
//! names the wrapping key kept in the state; it carries no secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::asym::{PrivateKey, Spec};

/// How long a wrapping key and its import token are valid: 24 hours (simulated time).
pub const PARAMETERS_LIFETIME: f64 = 24.0 * 3600.0;
/// Wrapping keys a key keeps at once; the oldest goes first.
pub const MAX_PARAMETERS: usize = 8;
const TOKEN_MAGIC: &[u8; 4] = b"EBIT";
const TOKEN_VERSION: u8 = 1;
/// The length of an import token.
pub const TOKEN_LEN: usize = 4 + 1 + 16 + 16 + 8;

/// What was imported with one version of a symmetric key's material.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportedMaterial {
    /// `KEY_MATERIAL_EXPIRES` or `KEY_MATERIAL_DOES_NOT_EXPIRE`.
    pub expiration_model: String,
    /// When it expires (epoch seconds).
    pub valid_to: Option<f64>,
    /// `KeyMaterialDescription`.
    pub description: Option<String>,
    /// Imported with `NEW_KEY_MATERIAL` into a key that had material: waits for
    /// RotateKeyOnDemand to become current.
    #[serde(default)]
    pub pending_rotation: bool,
}

/// The import state of an `EXTERNAL` key.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KeyImport {
    /// The wrapping keys handed out, newest last.
    #[serde(default)]
    pub params: Vec<ImportParams>,
    /// The expiry of an asymmetric or HMAC key's material.
    #[serde(default)]
    pub expiration_model: Option<String>,
    /// When an asymmetric or HMAC key's material expires.
    #[serde(default)]
    pub valid_to: Option<f64>,
    /// What an asymmetric or HMAC key is bound to forever by its first import: the SHA-256
    /// of its public key (HMAC: of the key id and the material), hex.
    #[serde(default)]
    pub bound: Option<String>,
}

/// One GetParametersForImport answer: a wrapping key pair and its token.
#[derive(Serialize, Deserialize)]
pub struct ImportParams {
    /// The token id, 32 lowercase hex.
    pub token_id: String,
    /// The wrapping algorithm.
    pub algorithm: String,
    /// `RSA_2048`, `RSA_3072` or `RSA_4096`.
    pub spec: String,
    /// When the token expires.
    pub valid_to: f64,
    /// The wrapping private key, PKCS #8 DER (base64 in the 0600 state only).
    #[serde(with = "wrapping_b64")]
    pub wrapping: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ImportParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportParams")
            .field("token_id", &self.token_id)
            .field("algorithm", &self.algorithm)
            .field("spec", &self.spec)
            .field("valid_to", &self.valid_to)
            .finish_non_exhaustive()
    }
}

mod wrapping_b64 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(
        m: &Zeroizing<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(B64.encode(m.as_slice()));
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Zeroizing<Vec<u8>>, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        B64.decode(text.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| serde::de::Error::custom("wrapping key is not base64"))
    }
}

/// The RSA modulus size of a wrapping key spec.
pub fn wrapping_bits(spec: &str) -> Option<u32> {
    match spec {
        "RSA_2048" => Some(2048),
        "RSA_3072" => Some(3072),
        "RSA_4096" => Some(4096),
        _ => None,
    }
}

impl ImportParams {
    /// A new wrapping key pair of `spec` for `algorithm`, valid until `valid_to`, and its
    /// public key (DER SubjectPublicKeyInfo).
    pub fn generate(algorithm: &str, spec: &str, valid_to: f64) -> Option<(Self, Vec<u8>)> {
        let key = PrivateKey::generate(Spec::Rsa(wrapping_bits(spec)?), false).ok()?;
        let public = key.public_key_der()?.to_vec();
        let mut id = [0u8; 16];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut id);
        Some((
            Self {
                token_id: hex::encode(id),
                algorithm: algorithm.to_owned(),
                spec: spec.to_owned(),
                valid_to,
                wrapping: Zeroizing::new(key.stored().to_vec()),
            },
            public,
        ))
    }

    /// The import token of these parameters for key `key_id`.
    pub fn token(&self, key_id: &[u8; 16]) -> Vec<u8> {
        let mut t = Vec::with_capacity(TOKEN_LEN);
        t.extend_from_slice(TOKEN_MAGIC);
        t.push(TOKEN_VERSION);
        t.extend_from_slice(key_id);
        t.extend_from_slice(&hex::decode(&self.token_id).unwrap_or_default());
        t.extend_from_slice(&self.valid_to.to_be_bytes());
        t
    }

    /// Unwraps `wrapped` with this wrapping key and algorithm. `None` for anything that
    /// does not unwrap (the caller answers InvalidCiphertextException, nothing more).
    pub fn unwrap(&self, wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let bits = wrapping_bits(&self.spec)?;
        let key = PrivateKey::from_stored(Spec::Rsa(bits), false, self.wrapping.clone()).ok()?;
        let oaep = if self.algorithm.ends_with("SHA_1") {
            "RSAES_OAEP_SHA_1"
        } else {
            "RSAES_OAEP_SHA_256"
        };
        match self.algorithm.as_str() {
            "RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" => key.oaep_decrypt(oaep, wrapped).ok(),
            "RSA_AES_KEY_WRAP_SHA_1" | "RSA_AES_KEY_WRAP_SHA_256" => {
                // The RSA-OAEP-wrapped AES key, then the material under RFC 5649 key wrap
                // with padding (docs/kms.md, "Imported key material").
                let k = bits as usize / 8;
                let (head, rest) = (wrapped.get(..k)?, wrapped.get(k..)?);
                if rest.len() < 16 {
                    return None;
                }
                let aes = key.oaep_decrypt(oaep, head).ok()?;
                use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded as _};
                let kek = AesKek::new(&AES_256, &aes).ok()?;
                let mut out = Zeroizing::new(vec![0u8; rest.len()]);
                let n = kek.unwrap_with_padding(rest, &mut out).ok()?.len();
                out.truncate(n);
                Some(out)
            }
            _ => None,
        }
    }
}

/// A parsed import token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Token {
    /// The key it was issued for.
    pub key_id: [u8; 16],
    /// Its id (32 hex once encoded).
    pub token_id: [u8; 16],
    /// When it expires, as the token says.
    pub valid_to: f64,
}

/// Parses an import token; `None` when it is not one.
pub fn parse_token(t: &[u8]) -> Option<Token> {
    if t.len() != TOKEN_LEN || &t[..4] != TOKEN_MAGIC || t[4] != TOKEN_VERSION {
        return None;
    }
    let valid_to = f64::from_be_bytes(t[37..45].try_into().ok()?);
    valid_to.is_finite().then_some(())?;
    Some(Token {
        key_id: t[5..21].try_into().ok()?,
        token_id: t[21..37].try_into().ok()?,
        valid_to,
    })
}

/// The id of imported symmetric material: SHA-256 over a label, the key id and the
/// material, hex. The same material imported again into the same key has the same id, as
/// AWS computes it from the key and the material.
pub fn material_id(key_id: &[u8; 16], material: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"ebsim-kms imported key material\0");
    h.update(key_id);
    h.update(material);
    hex::encode(h.finalize())
}

/// The SHA-256 of `bytes`, hex.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        let (p, public) = ImportParams::generate("RSAES_OAEP_SHA_256", "RSA_2048", 1000.0)
            .expect("a wrapping key");
        assert!(!public.is_empty());
        let t = p.token(&[7; 16]);
        let parsed = parse_token(&t).expect("parses");
        assert_eq!(parsed.key_id, [7; 16]);
        assert_eq!(hex::encode(parsed.token_id), p.token_id);
        assert_eq!(parsed.valid_to, 1000.0);
        assert!(parse_token(&t[..44]).is_none());
        let mut bad = t.clone();
        bad[0] = b'X';
        assert!(parse_token(&bad).is_none());
        assert!(
            format!("{p:?}").contains("ImportParams") && !format!("{p:?}").contains("wrapping")
        );
    }

    #[test]
    fn material_ids_bind_the_key() {
        let a = material_id(&[1; 16], &[9; 32]);
        assert_eq!(a.len(), 64);
        assert_eq!(a, material_id(&[1; 16], &[9; 32]));
        assert_ne!(a, material_id(&[2; 16], &[9; 32]));
        assert_ne!(a, material_id(&[1; 16], &[8; 32]));
    }

    #[test]
    fn unwraps_what_was_wrapped_both_ways() {
        for alg in [
            "RSAES_OAEP_SHA_1",
            "RSAES_OAEP_SHA_256",
            "RSA_AES_KEY_WRAP_SHA_1",
            "RSA_AES_KEY_WRAP_SHA_256",
        ] {
            let (p, _) = ImportParams::generate(alg, "RSA_2048", 0.0).expect("a wrapping key");
            let key = PrivateKey::from_stored(Spec::Rsa(2048), false, p.wrapping.clone())
                .expect("parses");
            let oaep = if alg.ends_with("SHA_1") {
                "RSAES_OAEP_SHA_1"
            } else {
                "RSAES_OAEP_SHA_256"
            };
            let material = [0x5a_u8; 32];
            let wrapped = if alg.starts_with("RSAES") {
                key.oaep_encrypt(oaep, &material).expect("wraps")
            } else {
                use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded as _};
                let aes = [3u8; 32];
                let mut out = key.oaep_encrypt(oaep, &aes).expect("wraps");
                let kek = AesKek::new(&AES_256, &aes).expect("kek");
                let mut buf = vec![0u8; 64];
                let n = kek
                    .wrap_with_padding(&material, &mut buf)
                    .expect("kw")
                    .len();
                out.extend_from_slice(&buf[..n]);
                out
            };
            assert_eq!(
                p.unwrap(&wrapped).as_deref().map(Vec::as_slice),
                Some(&material[..]),
                "{alg}"
            );
            let mut tampered = wrapped.clone();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            assert!(p.unwrap(&tampered).is_none(), "{alg}");
            assert!(p.unwrap(&wrapped[..10]).is_none(), "{alg}");
        }
    }
}
