//! The material of asymmetric and HMAC KMS keys, and what it can do: sign and verify, RSA-OAEP
//! encrypt and decrypt, HMAC, ECDH, and data key pairs (docs/kms.md, "Asymmetric and HMAC
//! keys"; docs/crypto-providers.md for the libraries).
//!
//! The cryptography is aws-lc-rs's, except two things it lacks: Ed25519ph (ed25519-dalek) and
//! ML-DSA signing or verifying with an external μ (RustCrypto's `ml-dsa`, from the same
//! 32-byte seed as aws-lc-rs's key).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, PqdsaKeyPair, RsaKeyPair};
use zeroize::Zeroizing;

mod ops;
mod pair;
mod sign;

pub use pair::{DataKeyPair, generate_pair};
pub use sign::{MessageType, SigningAlgorithm};

/// Why an asymmetric or HMAC operation was refused (the service maps each to AWS's error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsymError {
    /// The algorithm does not fit the key spec: InvalidKeyUsageException `Algorithm A is
    /// incompatible with key spec S.`
    Incompatible(String),
    /// A request that breaks a rule of the algorithm (a digest of the wrong length, a message
    /// type the algorithm does not take, a plaintext too long): ValidationException.
    Invalid(String),
    /// The signature does not verify: KMSInvalidSignatureException.
    BadSignature,
    /// The MAC does not match: KMSInvalidMacException.
    BadMac,
    /// The ciphertext does not decrypt: InvalidCiphertextException.
    BadCiphertext,
    /// The peer's public key is not a DER SubjectPublicKeyInfo on the key's curve:
    /// ValidationException with no message.
    BadPublicKey,
    /// The library failed: KMSInternalException.
    Internal,
}

/// The key specs with material of this module, parsed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// `RSA_2048`, `RSA_3072`, `RSA_4096` (bits).
    Rsa(u32),
    /// `ECC_NIST_P256`.
    P256,
    /// `ECC_NIST_P384`.
    P384,
    /// `ECC_NIST_P521`.
    P521,
    /// `ECC_SECG_P256K1`.
    K256,
    /// `ECC_NIST_EDWARDS25519`.
    Ed25519,
    /// `ML_DSA_44`, `ML_DSA_65`, `ML_DSA_87`.
    MlDsa(u32),
    /// `HMAC_224` … `HMAC_512` (bits of the digest).
    Hmac(u32),
}

impl Spec {
    /// The spec named `name`; `None` for `SYMMETRIC_DEFAULT`, `SM2` and unknown names.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "RSA_2048" => Self::Rsa(2048),
            "RSA_3072" => Self::Rsa(3072),
            "RSA_4096" => Self::Rsa(4096),
            "ECC_NIST_P256" => Self::P256,
            "ECC_NIST_P384" => Self::P384,
            "ECC_NIST_P521" => Self::P521,
            "ECC_SECG_P256K1" => Self::K256,
            "ECC_NIST_EDWARDS25519" => Self::Ed25519,
            "ML_DSA_44" => Self::MlDsa(44),
            "ML_DSA_65" => Self::MlDsa(65),
            "ML_DSA_87" => Self::MlDsa(87),
            "HMAC_224" => Self::Hmac(224),
            "HMAC_256" => Self::Hmac(256),
            "HMAC_384" => Self::Hmac(384),
            "HMAC_512" => Self::Hmac(512),
            _ => return None,
        })
    }

    /// The ECDSA algorithm of an elliptic-curve spec.
    fn ecdsa(self) -> Option<&'static aws_lc_rs::signature::EcdsaSigningAlgorithm> {
        use aws_lc_rs::signature as s;
        Some(match self {
            Self::P256 => &s::ECDSA_P256_SHA256_ASN1_SIGNING,
            Self::P384 => &s::ECDSA_P384_SHA384_ASN1_SIGNING,
            Self::P521 => &s::ECDSA_P521_SHA512_ASN1_SIGNING,
            Self::K256 => &s::ECDSA_P256K1_SHA256_ASN1_SIGNING,
            _ => return None,
        })
    }

    /// The ECDH algorithm of a NIST curve.
    fn ecdh(self) -> Option<&'static aws_lc_rs::agreement::Algorithm> {
        use aws_lc_rs::agreement as a;
        Some(match self {
            Self::P256 => &a::ECDH_P256,
            Self::P384 => &a::ECDH_P384,
            Self::P521 => &a::ECDH_P521,
            _ => return None,
        })
    }

    fn hmac(self) -> Option<aws_lc_rs::hmac::Algorithm> {
        use aws_lc_rs::hmac as h;
        Some(match self {
            Self::Hmac(224) => h::HMAC_SHA224,
            Self::Hmac(256) => h::HMAC_SHA256,
            Self::Hmac(384) => h::HMAC_SHA384,
            Self::Hmac(512) => h::HMAC_SHA512,
            _ => return None,
        })
    }

    fn ml_dsa(self) -> Option<&'static aws_lc_rs::signature::PqdsaSigningAlgorithm> {
        use aws_lc_rs::signature as u;
        Some(match self {
            Self::MlDsa(44) => &u::ML_DSA_44_SIGNING,
            Self::MlDsa(65) => &u::ML_DSA_65_SIGNING,
            Self::MlDsa(87) => &u::ML_DSA_87_SIGNING,
            _ => return None,
        })
    }
}

/// The ML-DSA key of RustCrypto's `ml-dsa`, for signing and verifying with an external μ.
enum MuKey {
    P44(Box<ml_dsa::ExpandedSigningKey<ml_dsa::MlDsa44>>),
    P65(Box<ml_dsa::ExpandedSigningKey<ml_dsa::MlDsa65>>),
    P87(Box<ml_dsa::ExpandedSigningKey<ml_dsa::MlDsa87>>),
}

/// The parsed key, ready to use (built once when the material is made or read).
enum Live {
    Rsa {
        sign: RsaKeyPair,
        oaep: aws_lc_rs::rsa::OaepPrivateDecryptingKey,
        oaep_public: aws_lc_rs::rsa::OaepPublicEncryptingKey,
    },
    Ecdsa(EcdsaKeyPair),
    Ecdh(aws_lc_rs::agreement::PrivateKey),
    Ed25519 {
        lc: Ed25519KeyPair,
        dalek: Box<ed25519_dalek::SigningKey>,
    },
    MlDsa {
        lc: PqdsaKeyPair,
        mu: MuKey,
    },
    Hmac(Box<aws_lc_rs::hmac::Key>),
}

/// The secret of an asymmetric or HMAC KMS key. Zeroized on drop (the bytes here; the
/// libraries' key objects clear their own memory when freed), never printed, never
/// serialized except into the 0600 KMS state (`crate::state`).
pub struct PrivateKey {
    spec: Spec,
    /// What the state keeps: PKCS #8 DER (RSA, ECC, Ed25519), the 32-byte seed (ML-DSA), the
    /// key bytes (HMAC).
    stored: Zeroizing<Vec<u8>>,
    live: Live,
    /// DER SubjectPublicKeyInfo (empty for HMAC keys).
    public_der: Vec<u8>,
    /// The public key in the form aws-lc-rs verifies with (RSA: PKCS #1; ECC: the
    /// uncompressed point; Ed25519: 32 bytes).
    public_raw: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey {{ spec: {:?}, .. }}", self.spec)
    }
}

/// Bytes of the secret of `spec` for an HMAC key: as many as the digest.
fn hmac_len(bits: u32) -> usize {
    (bits / 8) as usize
}

fn internal<E>(_: E) -> AsymError {
    AsymError::Internal
}

impl PrivateKey {
    /// Fresh material for a key of `spec` with `usage` (`SIGN_VERIFY`, `ENCRYPT_DECRYPT`,
    /// `KEY_AGREEMENT`, `GENERATE_VERIFY_MAC`).
    ///
    /// # Errors
    /// [`AsymError::Internal`] if the library fails.
    pub fn generate(spec: Spec, key_agreement: bool) -> Result<Self, AsymError> {
        let stored: Zeroizing<Vec<u8>> = match spec {
            Spec::Rsa(bits) => {
                let size = match bits {
                    2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                    3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                    _ => aws_lc_rs::rsa::KeySize::Rsa4096,
                };
                let kp = RsaKeyPair::generate(size).map_err(internal)?;
                let der = kp.as_der().map_err(internal)?;
                Zeroizing::new(der.as_ref().to_vec())
            }
            Spec::P256 | Spec::P384 | Spec::P521 | Spec::K256 => {
                let alg = spec.ecdsa().ok_or(AsymError::Internal)?;
                let kp = EcdsaKeyPair::generate(alg).map_err(internal)?;
                let doc = kp.to_pkcs8v1().map_err(internal)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            Spec::Ed25519 => {
                let kp = Ed25519KeyPair::generate().map_err(internal)?;
                let doc = kp.to_pkcs8v1().map_err(internal)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            Spec::MlDsa(_) | Spec::Hmac(_) => {
                let n = match spec {
                    Spec::Hmac(bits) => hmac_len(bits),
                    _ => 32,
                };
                let mut bytes = Zeroizing::new(vec![0u8; n]);
                aws_lc_rs::rand::fill(&mut bytes).map_err(internal)?;
                bytes
            }
        };
        Self::from_stored(spec, key_agreement, stored)
    }

    /// Material as the state keeps it ([`PrivateKey::stored`]).
    ///
    /// # Errors
    /// [`AsymError::Internal`] when the bytes are not a key of `spec`.
    pub fn from_stored(
        spec: Spec,
        key_agreement: bool,
        stored: Zeroizing<Vec<u8>>,
    ) -> Result<Self, AsymError> {
        let (live, public_der, public_raw) = match spec {
            Spec::Rsa(_) => {
                let sign = RsaKeyPair::from_pkcs8(&stored).map_err(internal)?;
                let dec =
                    aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&stored).map_err(internal)?;
                let oaep_public = aws_lc_rs::rsa::OaepPublicEncryptingKey::new(dec.public_key())
                    .map_err(internal)?;
                let oaep = aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(dec).map_err(internal)?;
                let der = sign.public_key().as_der().map_err(internal)?;
                let raw = sign.public_key().as_ref().to_vec();
                (
                    Live::Rsa {
                        sign,
                        oaep,
                        oaep_public,
                    },
                    der.as_ref().to_vec(),
                    raw,
                )
            }
            Spec::P256 | Spec::P384 | Spec::P521 | Spec::K256 => {
                let alg = spec.ecdsa().ok_or(AsymError::Internal)?;
                let kp = EcdsaKeyPair::from_pkcs8(alg, &stored).map_err(internal)?;
                let der = kp.public_key().as_der().map_err(internal)?;
                let raw = kp.public_key().as_ref().to_vec();
                let live = match spec.ecdh().filter(|_| key_agreement) {
                    Some(ecdh) => Live::Ecdh(
                        aws_lc_rs::agreement::PrivateKey::from_private_key_der(ecdh, &stored)
                            .map_err(internal)?,
                    ),
                    None => Live::Ecdsa(kp),
                };
                (live, der.as_ref().to_vec(), raw)
            }
            Spec::Ed25519 => {
                let lc = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&stored).map_err(internal)?;
                let seed = lc.seed().map_err(internal)?;
                let seed_bytes: Zeroizing<[u8; 32]> = Zeroizing::new(
                    aws_lc_rs::encoding::AsBigEndian::as_be_bytes(&seed)
                        .map_err(internal)?
                        .as_ref()
                        .try_into()
                        .map_err(internal)?,
                );
                let dalek = Box::new(ed25519_dalek::SigningKey::from_bytes(&seed_bytes));
                let der = lc.public_key().as_der().map_err(internal)?;
                let raw = lc.public_key().as_ref().to_vec();
                (Live::Ed25519 { lc, dalek }, der.as_ref().to_vec(), raw)
            }
            Spec::MlDsa(level) => {
                let alg = spec.ml_dsa().ok_or(AsymError::Internal)?;
                let lc = PqdsaKeyPair::from_seed(alg, &stored).map_err(internal)?;
                let seed: ml_dsa::Seed = stored.as_slice().try_into().map_err(internal)?;
                let mu = match level {
                    44 => MuKey::P44(Box::new(ml_dsa::ExpandedSigningKey::from_seed(&seed))),
                    65 => MuKey::P65(Box::new(ml_dsa::ExpandedSigningKey::from_seed(&seed))),
                    _ => MuKey::P87(Box::new(ml_dsa::ExpandedSigningKey::from_seed(&seed))),
                };
                let der = lc.public_key().as_der().map_err(internal)?;
                let raw = lc.public_key().as_ref().to_vec();
                (Live::MlDsa { lc, mu }, der.as_ref().to_vec(), raw)
            }
            Spec::Hmac(bits) => {
                if stored.len() != hmac_len(bits) {
                    return Err(AsymError::Internal);
                }
                let alg = spec.hmac().ok_or(AsymError::Internal)?;
                (
                    Live::Hmac(Box::new(aws_lc_rs::hmac::Key::new(alg, &stored))),
                    Vec::new(),
                    Vec::new(),
                )
            }
        };
        Ok(Self {
            spec,
            stored,
            live,
            public_der,
            public_raw,
        })
    }

    /// The bytes the state keeps (see the field's doc).
    pub fn stored(&self) -> &[u8] {
        &self.stored
    }

    /// The key spec.
    pub fn spec(&self) -> Spec {
        self.spec
    }

    /// DER SubjectPublicKeyInfo (`None` for HMAC keys).
    pub fn public_key_der(&self) -> Option<&[u8]> {
        (!self.public_der.is_empty()).then_some(self.public_der.as_slice())
    }
}

#[cfg(test)]
mod tests;
