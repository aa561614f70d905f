use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::IoError;

/// A 64-byte XTS-AES-256 key (key1 ‖ key2). Zeroized on drop; never printed.
pub struct XtsKey(Box<[u8; 64]>);

impl XtsKey {
    /// Copies a key from a slice.
    ///
    /// # Errors
    /// [`IoError::KeyLength`] unless the slice is 64 bytes; [`IoError::WeakKey`] if both
    /// halves are equal.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, IoError> {
        if bytes.len() != 64 {
            return Err(IoError::KeyLength(bytes.len()));
        }
        if bytes[..32] == bytes[32..] {
            return Err(IoError::WeakKey);
        }
        let mut k = Box::new([0u8; 64]);
        k.copy_from_slice(bytes);
        Ok(Self(k))
    }

    /// The data-unit key (key1).
    pub(crate) fn key1(&self) -> &[u8; 32] {
        self.0[..32].try_into().unwrap_or(&[0; 32])
    }

    /// The tweak key (key2).
    pub(crate) fn key2(&self) -> &[u8; 32] {
        self.0[32..].try_into().unwrap_or(&[0; 32])
    }
}

impl AsRef<[u8]> for XtsKey {
    fn as_ref(&self) -> &[u8] {
        &self.0[..]
    }
}

impl Drop for XtsKey {
    #[inline(never)]
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for XtsKey {}

impl std::fmt::Debug for XtsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XtsKey { .. }")
    }
}
