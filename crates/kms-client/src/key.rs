//! Data keys: the plaintext one (secret) and the wrapped one (public).

use zeroize::Zeroizing;

/// A plaintext data key, as Decrypt returns it. Zeroized on drop; never printed.
pub struct DataKey(Zeroizing<Vec<u8>>);

impl DataKey {
    pub(crate) fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes (64 for a volume key).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl AsRef<[u8]> for DataKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

/// A data key wrapped by KMS: the `CiphertextBlob` and the ARN of the key that wrapped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The KMS ciphertext blob (opaque).
    pub ciphertext_blob: Vec<u8>,
    /// The ARN of the KMS key.
    pub key_arn: String,
}
