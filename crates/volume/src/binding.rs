//! The metadata MAC: binds a volume's geometry and identity in `metadata.json` to its data key
//! (docs/formats.md, "The metadata MAC").
//!
//! `metadata_mac` = base64 of HMAC-SHA256 under a key derived from the 64-byte data key with
//! HKDF-SHA256 (RFC 5869: salt `ebsim volume metadata`, info `metadata-mac v1`), over the
//! length-prefixed fields `volume_id`, `size_bytes`, `sector_size`, `kms_key_arn` and the
//! encryption context (pairs in key order). Whoever can edit `metadata.json` without the data
//! key cannot make a changed geometry or identity verify; attach refuses it.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::metadata::VolumeMetadata;

type HmacSha256 = Hmac<Sha256>;

const SALT: &[u8] = b"ebsim volume metadata";
const INFO: &[u8] = b"metadata-mac v1";
const DOMAIN: &[u8] = b"ebsim-volume-metadata-v1";

/// The MAC key of one volume, derived from its data key; zeroized on drop, never cloned,
/// printed or stored.
pub(crate) struct MetadataKey(Zeroizing<[u8; 32]>);

impl MetadataKey {
    /// HKDF-SHA256 of `data_key` (extract, then one block of expand: 32 bytes).
    pub(crate) fn derive(data_key: &[u8]) -> Self {
        Self(hkdf_sha256_32(SALT, data_key, INFO))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; 32 bytes cannot fail.
        match HmacSha256::new_from_slice(self.0.as_ref()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts any key length"),
        }
    }

    /// The MAC of `meta`'s bound fields, base64.
    pub(crate) fn sign(&self, meta: &VolumeMetadata) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.tag(meta))
    }

    /// Whether `stored` (base64) is the MAC of `meta`'s bound fields (compared in constant
    /// time).
    pub(crate) fn verify(&self, meta: &VolumeMetadata, stored: &str) -> bool {
        use base64::Engine as _;
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(stored) else {
            return false;
        };
        let want = self.tag(meta);
        given.len() == want.len() && bool::from(given.ct_eq(&want))
    }

    fn tag(&self, meta: &VolumeMetadata) -> [u8; 32] {
        let mut m = self.mac();
        let mut field = |bytes: &[u8]| {
            m.update(&(bytes.len() as u64).to_be_bytes());
            m.update(bytes);
        };
        field(DOMAIN);
        field(meta.volume_id.as_bytes());
        field(&meta.size_bytes.to_be_bytes());
        field(&u64::from(meta.sector_size).to_be_bytes());
        field(meta.kms_key_arn.as_bytes());
        field(&(meta.encryption_context.len() as u64).to_be_bytes());
        for (k, v) in &meta.encryption_context {
            field(k.as_bytes());
            field(v.as_bytes());
        }
        m.finalize().into_bytes().into()
    }
}

/// HKDF-SHA256 (RFC 5869) with an output of one hash length.
fn hkdf_sha256_32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 255 hash lengths: expand cannot fail.
    if hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm.as_mut())
        .is_err()
    {
        unreachable!("32 bytes is a valid HKDF-SHA256 output length");
    }
    okm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_matches_rfc_5869_test_case_1() {
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        let okm = hkdf_sha256_32(&salt, &ikm, &info);
        let hex: String = okm.iter().map(|b| format!("{b:02x}")).collect();
        // The first 32 bytes of the test case's 42-byte OKM.
        assert_eq!(
            hex,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }
}
