//! The ciphertext blob format and the encryption-context encoding (the AAD).
//!
//! Blob, version 1 (all integers big-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | magic `0xEB` |
//! | 1 | 1 | format version `0x01` |
//! | 2 | 16 | key id (the UUID's 16 bytes) |
//! | 18 | 32 | key material id (the 64-hex id's 32 bytes) |
//! | 50 | 12 | AES-GCM nonce (random) |
//! | 62 | n + 16 | AES-256-GCM ciphertext and tag |
//!
//! AAD = `"ebsim-kms/v1\0"` ‖ the 50-byte header (magic, version, key id, material id) ‖
//! the canonical encoding of the encryption context: the number of pairs as u32, then for
//! each pair in byte order of its key: u32 length of the key, the key, u32 length of the value,
//! the value. Every field is length-prefixed, so two different contexts never encode alike.

use std::collections::BTreeMap;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use rand::Rng;
use zeroize::Zeroizing;

/// First byte of every blob.
pub const MAGIC: u8 = 0xEB;
/// Blob format version.
pub const VERSION: u8 = 0x01;
/// Header length (magic, version, key id, material id).
pub const HEADER_LEN: usize = 50;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const AAD_LABEL: &[u8] = b"ebsim-kms/v1\0";

/// A parsed blob (borrowing the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedBlob<'a> {
    /// The key id bytes (a UUID).
    pub key_id: [u8; 16],
    /// The key material id bytes.
    pub material_id: [u8; 32],
    header: &'a [u8],
    nonce: &'a [u8],
    sealed: &'a [u8],
}

impl ParsedBlob<'_> {
    /// The key id as the lowercase hyphenated UUID.
    pub fn key_id_string(&self) -> String {
        uuid::Uuid::from_bytes(self.key_id).hyphenated().to_string()
    }

    /// The material id as 64 lowercase hex.
    pub fn material_id_string(&self) -> String {
        hex::encode(self.material_id)
    }
}

/// Parses a blob's framing. `None` for anything that is not a version-1 blob.
pub fn parse(blob: &[u8]) -> Option<ParsedBlob<'_>> {
    if blob.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || blob[0] != MAGIC || blob[1] != VERSION {
        return None;
    }
    let key_id: [u8; 16] = blob.get(2..18)?.try_into().ok()?;
    let material_id: [u8; 32] = blob.get(18..50)?.try_into().ok()?;
    Some(ParsedBlob {
        key_id,
        material_id,
        header: blob.get(..HEADER_LEN)?,
        nonce: blob.get(HEADER_LEN..HEADER_LEN + NONCE_LEN)?,
        sealed: blob.get(HEADER_LEN + NONCE_LEN..)?,
    })
}

/// Appends the canonical, injective encoding of `context` to `out`.
pub fn encode_context(context: &BTreeMap<String, String>, out: &mut Vec<u8>) {
    out.extend_from_slice(&(context.len() as u32).to_be_bytes());
    for (k, v) in context {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
}

fn aad(header: &[u8], context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::with_capacity(AAD_LABEL.len() + HEADER_LEN + 64);
    out.extend_from_slice(AAD_LABEL);
    out.extend_from_slice(header);
    encode_context(context, &mut out);
    out
}

/// One version of a key's material: 256 bits, zeroized on drop, never printed.
pub struct KeyMaterial {
    bytes: Zeroizing<[u8; 32]>,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyMaterial { .. }")
    }
}

impl KeyMaterial {
    /// Fresh material from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        Self::from_bytes(bytes)
    }

    /// Material from stored bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::from_bytes(Zeroizing::new(arr)))
    }

    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        let cipher = Aes256Gcm::new(&(*bytes).into());
        Self { bytes, cipher }
    }

    /// The raw bytes (for the 0600 state file only).
    pub fn expose(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// Seals `plaintext` for key `key_id` / material `material_id` under `context`.
    pub fn seal(
        &self,
        key_id: &[u8; 16],
        material_id: &[u8; 32],
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Option<Vec<u8>> {
        let mut blob = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
        blob.push(MAGIC);
        blob.push(VERSION);
        blob.extend_from_slice(key_id);
        blob.extend_from_slice(material_id);
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        blob.extend_from_slice(&nonce);
        let aad = aad(&blob[..HEADER_LEN], context);
        let sealed = self
            .cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .ok()?;
        blob.extend_from_slice(&sealed);
        Some(blob)
    }

    /// Opens a parsed blob. `None` for any failure (wrong key, tampering, other context).
    pub fn open(
        &self,
        blob: &ParsedBlob<'_>,
        context: &BTreeMap<String, String>,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let aad = aad(blob.header, context);
        let nonce: [u8; NONCE_LEN] = blob.nonce.try_into().ok()?;
        self.cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: blob.sealed,
                    aad: &aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

/// The fuzz hook: parses arbitrary bytes; a blob that parses must not open under a random key.
pub(crate) fn fuzz(data: &[u8]) {
    if let Some(p) = parse(data) {
        let _ = (p.key_id_string(), p.material_id_string());
        let m = KeyMaterial::generate();
        assert!(
            m.open(&p, &std::collections::BTreeMap::new()).is_none(),
            "a random key must not open a blob"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn round_trip_and_failures() {
        let m = KeyMaterial::generate();
        let c = ctx(&[("aws:ebs:id", "vol-0123456789abcdef0")]);
        let blob = m.seal(&[7; 16], &[9; 32], b"secret", &c).expect("seal");
        let p = parse(&blob).expect("parse");
        assert_eq!(p.key_id, [7; 16]);
        assert_eq!(p.material_id, [9; 32]);
        assert_eq!(m.open(&p, &c).expect("open").as_slice(), b"secret");
        assert!(m.open(&p, &ctx(&[("aws:ebs:id", "vol-1")])).is_none());
        assert!(m.open(&p, &BTreeMap::new()).is_none());
        assert!(KeyMaterial::generate().open(&p, &c).is_none());
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 1;
            if let Some(p) = parse(&t) {
                assert!(m.open(&p, &c).is_none(), "flip at {i} accepted");
            }
        }
        assert!(parse(&blob[..40]).is_none());
        assert!(
            parse(b"not a blob at all, definitely not one of ours, no no no no no no no no")
                .is_none()
        );
    }

    #[test]
    fn concatenation_ambiguity_is_excluded() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        encode_context(&ctx(&[("ab", "c")]), &mut a);
        encode_context(&ctx(&[("a", "bc")]), &mut b);
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn context_encoding_is_injective(
            a in proptest::collection::btree_map(".{0,6}", ".{0,6}", 0..4),
            b in proptest::collection::btree_map(".{0,6}", ".{0,6}", 0..4),
        ) {
            let mut ea = Vec::new();
            let mut eb = Vec::new();
            encode_context(&a, &mut ea);
            encode_context(&b, &mut eb);
            prop_assert_eq!(a == b, ea == eb);
        }

        #[test]
        fn context_encoding_injective_on_near_collisions(
            k in "[a-c:]{0,4}", v in "[a-c:]{0,4}", split in 0usize..8,
        ) {
            // Move characters between key and value: never the same encoding.
            let joined = format!("{k}{v}");
            let s = split.min(joined.len());
            let a = ctx(&[(k.as_str(), v.as_str())]);
            let b = ctx(&[(&joined[..s], &joined[s..])]);
            let mut ea = Vec::new();
            let mut eb = Vec::new();
            encode_context(&a, &mut ea);
            encode_context(&b, &mut eb);
            prop_assert_eq!(a == b, ea == eb);
        }
    }
}
