//! Sign and Verify: the algorithms of each key spec and AWS's rules for `MessageType`
//! (docs/kms.md, "Asymmetric and HMAC keys").

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as sig, KeyPair, UnparsedPublicKey};
use sha2::Digest as _;

use super::{AsymError, Live, MuKey, PrivateKey, Spec, internal};

/// A `SigningAlgorithm` ebsim can run (SM2DSA is refused with its key spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// `RSASSA_PSS_SHA_256/384/512` (salt length = hash length).
    Pss(u32),
    /// `RSASSA_PKCS1_V1_5_SHA_256/384/512`.
    Pkcs1(u32),
    /// `ECDSA_SHA_256/384/512`.
    Ecdsa(u32),
    /// `ED25519_SHA_512`.
    Ed25519,
    /// `ED25519_PH_SHA_512`.
    Ed25519Ph,
    /// `ML_DSA_SHAKE_256`.
    MlDsa,
}

/// A `MessageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// The message itself (the default).
    Raw,
    /// A digest of it.
    Digest,
    /// ML-DSA's μ (FIPS 204 §6.2), 64 bytes.
    ExternalMu,
}

impl MessageType {
    /// The type named `name` (`None` for names outside the model's enum).
    pub fn parse(name: Option<&str>) -> Option<Self> {
        Some(match name {
            None | Some("RAW") => Self::Raw,
            Some("DIGEST") => Self::Digest,
            Some("EXTERNAL_MU") => Self::ExternalMu,
            Some(_) => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Raw => "RAW",
            Self::Digest => "DIGEST",
            Self::ExternalMu => "EXTERNAL_MU",
        }
    }
}

impl SigningAlgorithm {
    /// The algorithm named `name` (`None` for `SM2DSA` and names outside the model's enum).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "RSASSA_PSS_SHA_256" => Self::Pss(256),
            "RSASSA_PSS_SHA_384" => Self::Pss(384),
            "RSASSA_PSS_SHA_512" => Self::Pss(512),
            "RSASSA_PKCS1_V1_5_SHA_256" => Self::Pkcs1(256),
            "RSASSA_PKCS1_V1_5_SHA_384" => Self::Pkcs1(384),
            "RSASSA_PKCS1_V1_5_SHA_512" => Self::Pkcs1(512),
            "ECDSA_SHA_256" => Self::Ecdsa(256),
            "ECDSA_SHA_384" => Self::Ecdsa(384),
            "ECDSA_SHA_512" => Self::Ecdsa(512),
            "ED25519_SHA_512" => Self::Ed25519,
            "ED25519_PH_SHA_512" => Self::Ed25519Ph,
            "ML_DSA_SHAKE_256" => Self::MlDsa,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pss(256) => "RSASSA_PSS_SHA_256",
            Self::Pss(384) => "RSASSA_PSS_SHA_384",
            Self::Pss(_) => "RSASSA_PSS_SHA_512",
            Self::Pkcs1(256) => "RSASSA_PKCS1_V1_5_SHA_256",
            Self::Pkcs1(384) => "RSASSA_PKCS1_V1_5_SHA_384",
            Self::Pkcs1(_) => "RSASSA_PKCS1_V1_5_SHA_512",
            Self::Ecdsa(256) => "ECDSA_SHA_256",
            Self::Ecdsa(384) => "ECDSA_SHA_384",
            Self::Ecdsa(_) => "ECDSA_SHA_512",
            Self::Ed25519 => "ED25519_SHA_512",
            Self::Ed25519Ph => "ED25519_PH_SHA_512",
            Self::MlDsa => "ML_DSA_SHAKE_256",
        }
    }

    /// Whether a key of `spec` signs with this algorithm (AWS's pairs).
    pub fn fits(self, spec: Spec) -> bool {
        matches!(
            (self, spec),
            (Self::Pss(_) | Self::Pkcs1(_), Spec::Rsa(_))
                | (Self::Ecdsa(256), Spec::P256 | Spec::K256)
                | (Self::Ecdsa(384), Spec::P384)
                | (Self::Ecdsa(512), Spec::P521)
                | (Self::Ed25519 | Self::Ed25519Ph, Spec::Ed25519)
                | (Self::MlDsa, Spec::MlDsa(_))
        )
    }

    /// The digest a `DIGEST` message must be, if the algorithm takes one.
    fn digest(self) -> Option<&'static digest::Algorithm> {
        match self {
            Self::Pss(256) | Self::Pkcs1(256) | Self::Ecdsa(256) => Some(&digest::SHA256),
            Self::Pss(384) | Self::Pkcs1(384) | Self::Ecdsa(384) => Some(&digest::SHA384),
            Self::Pss(_) | Self::Pkcs1(_) | Self::Ecdsa(_) | Self::Ed25519Ph => {
                Some(&digest::SHA512)
            }
            Self::Ed25519 | Self::MlDsa => None,
        }
    }

    fn rsa_encoding(self) -> Option<&'static sig::RsaSignatureEncoding> {
        Some(match self {
            Self::Pss(256) => &sig::RSA_PSS_SHA256,
            Self::Pss(384) => &sig::RSA_PSS_SHA384,
            Self::Pss(_) => &sig::RSA_PSS_SHA512,
            Self::Pkcs1(256) => &sig::RSA_PKCS1_SHA256,
            Self::Pkcs1(384) => &sig::RSA_PKCS1_SHA384,
            Self::Pkcs1(_) => &sig::RSA_PKCS1_SHA512,
            _ => return None,
        })
    }

    fn rsa_params(self) -> Option<&'static sig::RsaParameters> {
        Some(match self {
            Self::Pss(256) => &sig::RSA_PSS_2048_8192_SHA256,
            Self::Pss(384) => &sig::RSA_PSS_2048_8192_SHA384,
            Self::Pss(_) => &sig::RSA_PSS_2048_8192_SHA512,
            Self::Pkcs1(256) => &sig::RSA_PKCS1_2048_8192_SHA256,
            Self::Pkcs1(384) => &sig::RSA_PKCS1_2048_8192_SHA384,
            Self::Pkcs1(_) => &sig::RSA_PKCS1_2048_8192_SHA512,
            _ => return None,
        })
    }

    /// The algorithms a key of `spec` signs with, in AWS's order (DescribeKey, GetPublicKey).
    pub fn of_spec(spec: &str) -> &'static [&'static str] {
        match spec {
            s if s.starts_with("RSA_") => &[
                "RSASSA_PKCS1_V1_5_SHA_256",
                "RSASSA_PKCS1_V1_5_SHA_384",
                "RSASSA_PKCS1_V1_5_SHA_512",
                "RSASSA_PSS_SHA_256",
                "RSASSA_PSS_SHA_384",
                "RSASSA_PSS_SHA_512",
            ],
            "ECC_NIST_P256" | "ECC_SECG_P256K1" => &["ECDSA_SHA_256"],
            "ECC_NIST_P384" => &["ECDSA_SHA_384"],
            "ECC_NIST_P521" => &["ECDSA_SHA_512"],
            "ECC_NIST_EDWARDS25519" => &["ED25519_SHA_512", "ED25519_PH_SHA_512"],
            "SM2" => &["SM2DSA"],
            _ => &["ML_DSA_SHAKE_256"],
        }
    }
}

/// What to sign or verify, checked against the algorithm's rules.
enum Input<'a> {
    Raw(&'a [u8]),
    Digest(digest::Digest),
    Mu(&'a [u8; 64]),
}

/// Applies AWS's `MessageType` rules: the digest length must match the algorithm, pure
/// Ed25519 takes only RAW, Ed25519ph only DIGEST, ML-DSA RAW or a 64-byte EXTERNAL_MU.
fn input(alg: SigningAlgorithm, mt: MessageType, msg: &[u8]) -> Result<Input<'_>, AsymError> {
    let refuse = || {
        AsymError::Invalid(format!(
            "MessageType {} is not supported for signing algorithm {}.",
            mt.name(),
            alg.name()
        ))
    };
    match (alg, mt) {
        (SigningAlgorithm::MlDsa, MessageType::ExternalMu) => {
            msg.try_into().map(Input::Mu).map_err(|_| {
                AsymError::Invalid(format!(
                    "External mu is invalid length for algorithm {}. It must be 64 bytes.",
                    alg.name()
                ))
            })
        }
        (_, MessageType::ExternalMu) => Err(refuse()),
        (SigningAlgorithm::Ed25519Ph, MessageType::Raw) => Err(refuse()),
        (SigningAlgorithm::Ed25519 | SigningAlgorithm::MlDsa, MessageType::Digest) => Err(refuse()),
        (_, MessageType::Digest) => {
            let d = alg.digest().ok_or_else(refuse)?;
            digest::Digest::import_less_safe(msg, d)
                .map(Input::Digest)
                .map_err(|_| {
                    AsymError::Invalid(format!(
                        "Digest is invalid length for algorithm {}.",
                        alg.name()
                    ))
                })
        }
        (_, MessageType::Raw) => Ok(Input::Raw(msg)),
    }
}

/// The SHA-512 state Ed25519ph signs: KMS runs the prehash over the 64 bytes it is given
/// (docs/kms.md, "Asymmetric and HMAC keys").
fn ph(d: &digest::Digest) -> sha2::Sha512 {
    sha2::Sha512::new().chain_update(d.as_ref())
}

fn mu_signature(mu: &MuKey, m: &[u8; 64]) -> Result<Vec<u8>, AsymError> {
    use ml_dsa::signature::SignatureEncoding as _;
    let mut rng = rand::rng();
    Ok(match mu {
        MuKey::P44(k) => k
            .sign_mu_randomized(&(*m).into(), &mut rng)
            .map_err(internal)?
            .to_vec(),
        MuKey::P65(k) => k
            .sign_mu_randomized(&(*m).into(), &mut rng)
            .map_err(internal)?
            .to_vec(),
        MuKey::P87(k) => k
            .sign_mu_randomized(&(*m).into(), &mut rng)
            .map_err(internal)?
            .to_vec(),
    })
}

fn ml_dsa_verify<P: ml_dsa::MlDsaParams>(
    key: &ml_dsa::ExpandedSigningKey<P>,
    input: &Input<'_>,
    signature: &[u8],
) -> bool {
    let Ok(encoded) = ml_dsa::EncodedSignature::<P>::try_from(signature) else {
        return false;
    };
    let Some(s) = ml_dsa::Signature::<P>::decode(&encoded) else {
        return false;
    };
    let vk = key.verifying_key();
    match input {
        Input::Raw(m) => vk.verify_with_context(m, &[], &s),
        Input::Mu(m) => vk.verify_mu(&(**m).into(), &s),
        Input::Digest(_) => false,
    }
}

impl PrivateKey {
    /// Signs `msg` (a message, digest or μ as `mt` says) with `alg`.
    ///
    /// # Errors
    /// [`AsymError::Incompatible`] for an algorithm of another spec, [`AsymError::Invalid`]
    /// for a message the algorithm does not take.
    pub fn sign(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        msg: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        self.check_fits(alg)?;
        let input = input(alg, mt, msg)?;
        match (&self.live, &input) {
            (Live::Rsa { sign, .. }, _) => {
                let enc = alg.rsa_encoding().ok_or(AsymError::Internal)?;
                let mut out = vec![0u8; sign.public_modulus_len()];
                match &input {
                    Input::Raw(m) => sign
                        .sign(enc, &aws_lc_rs::rand::SystemRandom::new(), m, &mut out)
                        .map_err(internal)?,
                    Input::Digest(d) => sign.sign_digest(enc, d, &mut out).map_err(internal)?,
                    Input::Mu(_) => return Err(AsymError::Internal),
                }
                Ok(out)
            }
            (Live::Ecdsa(kp), Input::Raw(m)) => Ok(kp
                .sign(&aws_lc_rs::rand::SystemRandom::new(), m)
                .map_err(internal)?
                .as_ref()
                .to_vec()),
            (Live::Ecdsa(kp), Input::Digest(d)) => {
                Ok(kp.sign_digest(d).map_err(internal)?.as_ref().to_vec())
            }
            (Live::Ed25519 { lc, .. }, Input::Raw(m)) => Ok(lc.sign(m).as_ref().to_vec()),
            (Live::Ed25519 { dalek, .. }, Input::Digest(d)) => Ok(dalek
                .sign_prehashed(ph(d), None)
                .map_err(internal)?
                .to_bytes()
                .to_vec()),
            (Live::MlDsa { lc, .. }, Input::Raw(m)) => {
                let mut out = vec![0u8; lc.algorithm().signature_len()];
                let n = lc.sign(m, &mut out).map_err(internal)?;
                out.truncate(n);
                Ok(out)
            }
            (Live::MlDsa { mu, .. }, Input::Mu(m)) => mu_signature(mu, m),
            _ => Err(AsymError::Internal),
        }
    }

    /// Verifies `signature` of `msg`.
    ///
    /// # Errors
    /// As [`PrivateKey::sign`], and [`AsymError::BadSignature`] when it does not verify.
    pub fn verify(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        msg: &[u8],
        signature: &[u8],
    ) -> Result<(), AsymError> {
        self.check_fits(alg)?;
        let input = input(alg, mt, msg)?;
        let ok = match (&self.live, &input) {
            (Live::Rsa { .. }, _) => {
                let params = alg.rsa_params().ok_or(AsymError::Internal)?;
                let pk = UnparsedPublicKey::new(params, &self.public_raw);
                match &input {
                    Input::Raw(m) => pk.verify(m, signature).is_ok(),
                    Input::Digest(d) => pk.verify_digest(d, signature).is_ok(),
                    Input::Mu(_) => false,
                }
            }
            (Live::Ecdsa(kp), _) => {
                let verifier: &'static sig::EcdsaVerificationAlgorithm = match self.spec {
                    Spec::P256 => &sig::ECDSA_P256_SHA256_ASN1,
                    Spec::P384 => &sig::ECDSA_P384_SHA384_ASN1,
                    Spec::P521 => &sig::ECDSA_P521_SHA512_ASN1,
                    _ => &sig::ECDSA_P256K1_SHA256_ASN1,
                };
                let pk = UnparsedPublicKey::new(verifier, kp.public_key().as_ref());
                match &input {
                    Input::Raw(m) => pk.verify(m, signature).is_ok(),
                    Input::Digest(d) => pk.verify_digest(d, signature).is_ok(),
                    Input::Mu(_) => false,
                }
            }
            (Live::Ed25519 { .. }, Input::Raw(m)) => {
                UnparsedPublicKey::new(&sig::ED25519, &self.public_raw)
                    .verify(m, signature)
                    .is_ok()
            }
            (Live::Ed25519 { dalek, .. }, Input::Digest(d)) => {
                match ed25519_dalek::Signature::from_slice(signature) {
                    Ok(s) => dalek
                        .verifying_key()
                        .verify_prehashed_strict(ph(d), None, &s)
                        .is_ok(),
                    Err(_) => false,
                }
            }
            (Live::MlDsa { mu, .. }, _) => match mu {
                MuKey::P44(k) => ml_dsa_verify(k, &input, signature),
                MuKey::P65(k) => ml_dsa_verify(k, &input, signature),
                MuKey::P87(k) => ml_dsa_verify(k, &input, signature),
            },
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(AsymError::BadSignature)
        }
    }

    fn check_fits(&self, alg: SigningAlgorithm) -> Result<(), AsymError> {
        if alg.fits(self.spec) && !matches!(self.live, Live::Ecdh(_) | Live::Hmac(_)) {
            Ok(())
        } else {
            Err(AsymError::Incompatible(alg.name().to_owned()))
        }
    }
}
