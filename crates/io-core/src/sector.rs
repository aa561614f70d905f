use crate::IoError;

/// A sector size: a power of two from 512 to 65536 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SectorSize(u32);

impl SectorSize {
    /// 512-byte sectors.
    pub const S512: Self = Self(512);
    /// 4096-byte sectors (the default).
    pub const S4096: Self = Self(4096);

    /// Validates a sector size.
    ///
    /// # Errors
    /// [`IoError::UnsupportedSectorSize`] unless `bytes` is a power of two in 512..=65536.
    pub fn new(bytes: u64) -> Result<Self, IoError> {
        if bytes.is_power_of_two() && (512..=65536).contains(&bytes) {
            Ok(Self(bytes as u32))
        } else {
            Err(IoError::UnsupportedSectorSize(bytes))
        }
    }

    /// The size in bytes.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The size in bytes, as `usize`.
    pub const fn bytes(self) -> usize {
        self.0 as usize
    }

    /// log2 of the size.
    pub const fn shift(self) -> u32 {
        self.0.trailing_zeros()
    }
}

impl Default for SectorSize {
    fn default() -> Self {
        Self::S4096
    }
}

impl std::fmt::Display for SectorSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
