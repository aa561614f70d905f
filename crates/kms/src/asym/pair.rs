//! Data key pairs (GenerateDataKeyPair): a fresh pair, the private key as PKCS #8 DER.

use zeroize::Zeroizing;

use super::{AsymError, PrivateKey, Spec};

/// A data key pair: the private key (PKCS #8 DER, zeroized on drop) and the public key (DER
/// SubjectPublicKeyInfo).
pub struct DataKeyPair {
    /// PKCS #8 DER.
    pub private_der: Zeroizing<Vec<u8>>,
    /// DER SubjectPublicKeyInfo.
    pub public_der: Vec<u8>,
}

impl std::fmt::Debug for DataKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKeyPair { .. }")
    }
}

/// A fresh pair of `spec` (`RSA_*`, `ECC_*`, `ECC_NIST_EDWARDS25519`; `None` for the others).
///
/// # Errors
/// [`AsymError::Internal`] if the library fails.
pub fn generate_pair(spec: &str) -> Option<Result<DataKeyPair, AsymError>> {
    let spec = Spec::parse(spec).filter(|s| !matches!(s, Spec::Hmac(_) | Spec::MlDsa(_)))?;
    Some(PrivateKey::generate(spec, false).map(|k| DataKeyPair {
        public_der: k.public_der.clone(),
        private_der: k.stored.clone(),
    }))
}
