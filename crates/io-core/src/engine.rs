//! The sector engine: XTS-AES-256 over runs of whole sectors.

use aes::Aes256;
use aes::cipher::KeyInit;
use xts_mode::{Xts128, get_tweak_default};

use crate::{IoError, SectorSize, XtsKey};

/// An AES implementation the engine can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// AVX-512 VAES + VPCLMULQDQ, 512-bit vectors.
    Vaes512,
    /// AVX2 VAES + VPCLMULQDQ, 256-bit vectors.
    Vaes256,
    /// AES-NI, 128-bit.
    AesNi,
    /// Portable software (the `aes` crate).
    Soft,
}

impl Backend {
    /// Every backend, fastest first.
    pub const ALL: [Backend; 4] = [Backend::Vaes512, Backend::Vaes256, Backend::AesNi, Backend::Soft];

    /// The backend's name as used on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Vaes512 => "vaes512",
            Backend::Vaes256 => "vaes256",
            Backend::AesNi => "aesni",
            Backend::Soft => "soft",
        }
    }

    /// Whether this CPU can run the backend.
    pub fn is_available(self) -> bool {
        matches!(self, Backend::Soft)
    }

    /// The fastest backend this CPU supports.
    pub fn detect() -> Backend {
        Backend::ALL
            .into_iter()
            .find(|b| b.is_available())
            .unwrap_or(Backend::Soft)
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// XTS-AES-256 over whole sectors, tweak = sector number (little-endian, `plain64`).
pub struct XtsEngine {
    xts: Xts128<Aes256>,
    sector_size: SectorSize,
    backend: Backend,
}

impl std::fmt::Debug for XtsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XtsEngine")
            .field("sector_size", &self.sector_size)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl XtsEngine {
    /// An engine on the fastest backend this CPU supports.
    pub fn new(key: &XtsKey, sector_size: SectorSize) -> Self {
        let xts = Xts128::new(
            Aes256::new(key.key1().into()),
            Aes256::new(key.key2().into()),
        );
        Self { xts, sector_size, backend: Backend::detect() }
    }

    /// An engine forced onto one backend.
    ///
    /// # Errors
    /// [`IoError::BackendUnavailable`] if this CPU cannot run it.
    pub fn with_backend(key: &XtsKey, sector_size: SectorSize, backend: Backend) -> Result<Self, IoError> {
        if !backend.is_available() {
            return Err(IoError::BackendUnavailable(backend));
        }
        let mut e = Self::new(key, sector_size);
        e.backend = backend;
        Ok(e)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The sector size.
    pub fn sector_size(&self) -> SectorSize {
        self.sector_size
    }

    fn check(&self, first_sector: u64, len: usize) -> Result<(), IoError> {
        let ss = self.sector_size.bytes();
        if len % ss != 0 {
            return Err(IoError::Misaligned { len: len as u64, sector_size: self.sector_size.get() });
        }
        let count = (len / ss) as u64;
        if count > 0 && first_sector.checked_add(count - 1).is_none() {
            return Err(IoError::SectorOverflow { first: first_sector, count });
        }
        Ok(())
    }

    /// Encrypts a run of whole sectors in place, on the calling thread.
    ///
    /// # Errors
    /// [`IoError::Misaligned`] if `buf` is not whole sectors; [`IoError::SectorOverflow`] if
    /// the run would pass sector 2^64 − 1. Nothing is changed on error.
    pub fn encrypt_sectors(&self, first_sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.check(first_sector, buf.len())?;
        self.xts.encrypt_area(buf, self.sector_size.bytes(), u128::from(first_sector), get_tweak_default);
        Ok(())
    }

    /// Decrypts a run of whole sectors in place, on the calling thread.
    ///
    /// # Errors
    /// As [`XtsEngine::encrypt_sectors`].
    pub fn decrypt_sectors(&self, first_sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.check(first_sector, buf.len())?;
        self.xts.decrypt_area(buf, self.sector_size.bytes(), u128::from(first_sector), get_tweak_default);
        Ok(())
    }
}
