//! The sector engine: XTS-AES-256 over runs of whole sectors.
//!
//! The backend is chosen once, when the engine is created; each call dispatches once and then
//! runs one kernel over the whole run. Every backend computes the tweaks of a sector in bulk,
//! keeps many blocks in flight and applies the tweak before and after the AES rounds in the
//! same pass over the data.

use aes::Aes256;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use rayon::prelude::*;

use crate::{IoError, SectorSize, SectorTransform, XtsKey};

/// Environment variable that forces the backend chosen by [`XtsEngine::new`].
pub const BACKEND_ENV: &str = "EBSIM_XTS_BACKEND";

/// Runs at least this long go to the rayon pool in [`XtsEngine::encrypt_sectors_par`].
const PAR_MIN_BYTES: usize = 128 * 1024;
/// Smallest piece of a run one rayon task works on.
const PAR_CHUNK_BYTES: usize = 64 * 1024;

/// Out-of-place encryption of runs at least this long writes the ciphertext with
/// non-temporal stores. Shorter runs use normal stores: the fence that must follow
/// non-temporal stores costs more than they save on a few KiB.
const STREAM_MIN_BYTES: usize = 64 * 1024;

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
    /// The `aes` crate's block cipher under this crate's own XTS loop (32 blocks per batch,
    /// tweaks computed first), always available. Not necessarily software: the `aes` crate
    /// picks its implementation at run time, so on x86-64 it runs AES-NI whenever the CPU has
    /// it (its portable software only without AES-NI, or when built with
    /// `--cfg aes_backend="soft"`), and on other targets whatever the `aes` crate has there.
    /// Named `aes-crate` (`soft` is accepted as its old name).
    AesCrate,
}

impl Backend {
    /// Every backend, fastest first.
    pub const ALL: [Backend; 4] = [
        Backend::Vaes512,
        Backend::Vaes256,
        Backend::AesNi,
        Backend::AesCrate,
    ];

    /// The backend's name as used on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Vaes512 => "vaes512",
            Backend::Vaes256 => "vaes256",
            Backend::AesNi => "aesni",
            Backend::AesCrate => "aes-crate",
        }
    }

    /// The backend with this name (`vaes512`, `vaes256`, `aesni`, `aes-crate`), if any;
    /// `soft`, the old name of [`Backend::AesCrate`], is accepted too.
    pub fn from_name(name: &str) -> Option<Backend> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("soft") {
            return Some(Backend::AesCrate);
        }
        Backend::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(name))
    }

    /// Whether this CPU can run the backend.
    pub fn is_available(self) -> bool {
        match self {
            Backend::AesCrate => true,
            other => crate::arch::is_available(other),
        }
    }

    /// The fastest backend this CPU supports.
    pub fn detect() -> Backend {
        Backend::ALL
            .into_iter()
            .find(|b| b.is_available())
            .unwrap_or(Backend::AesCrate)
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Expanded key material of one engine (zeroized on drop by the types inside).
enum Keys {
    /// The `aes` crate's key schedules (built with its `zeroize` feature).
    AesCrate {
        data: Box<Aes256>,
        tweak: Box<Aes256>,
    },
    /// Round keys for the hand-written x86-64 kernels.
    Arch(Box<crate::arch::RoundKeys>),
}

/// XTS-AES-256 over whole sectors, tweak = sector number (little-endian, `plain64`).
pub struct XtsEngine {
    keys: Keys,
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
    /// An engine on the fastest backend this CPU supports, or on the one named by the
    /// environment variable `EBSIM_XTS_BACKEND` (`vaes512`, `vaes256`, `aesni`, `aes-crate`) when
    /// that names a backend this CPU can run.
    pub fn new(key: &XtsKey, sector_size: SectorSize) -> Self {
        let backend = std::env::var(BACKEND_ENV)
            .ok()
            .and_then(|v| Backend::from_name(&v))
            .filter(|b| b.is_available())
            .unwrap_or_else(Backend::detect);
        Self::build(key, sector_size, backend)
    }

    /// An engine forced onto one backend.
    ///
    /// # Errors
    /// [`IoError::BackendUnavailable`] if this CPU cannot run it.
    pub fn with_backend(
        key: &XtsKey,
        sector_size: SectorSize,
        backend: Backend,
    ) -> Result<Self, IoError> {
        if !backend.is_available() {
            return Err(IoError::BackendUnavailable(backend));
        }
        Ok(Self::build(key, sector_size, backend))
    }

    fn build(key: &XtsKey, sector_size: SectorSize, backend: Backend) -> Self {
        let keys = match backend {
            Backend::AesCrate => Keys::AesCrate {
                data: Box::new(Aes256::new(key.key1().into())),
                tweak: Box::new(Aes256::new(key.key2().into())),
            },
            other => match crate::arch::RoundKeys::new(other, key.key1(), key.key2()) {
                Some(rk) => Keys::Arch(rk),
                // Unreachable on a CPU that reported the backend available; stay correct anyway.
                None => {
                    return Self::build(key, sector_size, Backend::AesCrate);
                }
            },
        };
        Self {
            keys,
            sector_size,
            backend,
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The sector size.
    pub fn sector_size(&self) -> SectorSize {
        self.sector_size
    }

    #[inline]
    fn check(&self, first_sector: u64, len: usize) -> Result<(), IoError> {
        // The sector size is a power of two: mask and shift instead of dividing.
        let shift = self.sector_size.shift();
        if len & ((1usize << shift) - 1) != 0 {
            return Err(IoError::Misaligned {
                len: len as u64,
                sector_size: self.sector_size.get(),
            });
        }
        let count = (len >> shift) as u64;
        if count > 0 && first_sector.checked_add(count - 1).is_none() {
            return Err(IoError::SectorOverflow {
                first: first_sector,
                count,
            });
        }
        Ok(())
    }

    /// Checks an out-of-place run: equal lengths, then as [`XtsEngine::check`].
    #[inline]
    fn check_to(&self, first_sector: u64, src: &[u8], dst: &[u8]) -> Result<(), IoError> {
        if src.len() != dst.len() {
            return Err(IoError::LengthMismatch {
                src_len: src.len() as u64,
                dst_len: dst.len() as u64,
            });
        }
        self.check(first_sector, src.len())
    }

    /// Runs the kernel over a checked run: in place on `dst`, or from `src` into `dst`.
    #[inline]
    fn run(&self, encrypt: bool, first_sector: u64, src: Option<&[u8]>, dst: &mut [u8]) {
        match &self.keys {
            Keys::AesCrate { data, tweak } => {
                let ss = self.sector_size.bytes();
                aes_crate_run(data, tweak, encrypt, first_sector, src, dst, ss);
            }
            Keys::Arch(rk) => {
                let shift = self.sector_size.shift();
                match src {
                    // Ciphertext written out of place is headed for storage: a long run goes
                    // past the cache. Plaintext is headed for a reader: it stays in the cache.
                    Some(src) => {
                        let stream = encrypt && dst.len() >= STREAM_MIN_BYTES;
                        crate::arch::run_to(rk, encrypt, first_sector, src, dst, shift, stream)
                    }
                    None => crate::arch::run(rk, encrypt, first_sector, dst, shift),
                }
            }
        }
    }

    /// Encrypts a run of whole sectors in place, on the calling thread.
    ///
    /// # Errors
    /// [`IoError::Misaligned`] if `buf` is not whole sectors; [`IoError::SectorOverflow`] if
    /// the run would pass sector 2^64 − 1. Nothing is changed on error.
    pub fn encrypt_sectors(&self, first_sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.check(first_sector, buf.len())?;
        self.run(true, first_sector, None, buf);
        Ok(())
    }

    /// Decrypts a run of whole sectors in place, on the calling thread.
    ///
    /// # Errors
    /// As [`XtsEngine::encrypt_sectors`].
    pub fn decrypt_sectors(&self, first_sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.check(first_sector, buf.len())?;
        self.run(false, first_sector, None, buf);
        Ok(())
    }

    /// Encrypts a run of whole sectors from `src` into `dst`, on the calling thread: the same
    /// output as copying `src` to `dst` and calling [`XtsEngine::encrypt_sectors`] on it, in
    /// one pass over the data (for example straight from a receive buffer into a mapped file).
    ///
    /// The ciphertext is taken to be headed for storage: for runs of 64 KiB or more, where
    /// `dst` is aligned for it (64 bytes on the VAES-512 backend), it is written with
    /// non-temporal stores that bypass the cache, which saves the memory reads a normal store
    /// into uncached memory costs.
    ///
    /// # Errors
    /// [`IoError::LengthMismatch`] if the buffers differ in length; otherwise as
    /// [`XtsEngine::encrypt_sectors`]. Nothing is changed on error.
    pub fn encrypt_sectors_to(
        &self,
        first_sector: u64,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<(), IoError> {
        self.check_to(first_sector, src, dst)?;
        self.run(true, first_sector, Some(src), dst);
        Ok(())
    }

    /// Decrypts a run of whole sectors from `src` into `dst`, on the calling thread; see
    /// [`XtsEngine::encrypt_sectors_to`].
    ///
    /// # Errors
    /// As [`XtsEngine::encrypt_sectors_to`].
    pub fn decrypt_sectors_to(
        &self,
        first_sector: u64,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<(), IoError> {
        self.check_to(first_sector, src, dst)?;
        self.run(false, first_sector, Some(src), dst);
        Ok(())
    }

    /// Encrypts a run of whole sectors in place, spread over the rayon pool when the run is
    /// long (at least 128 KiB, in pieces of at least 64 KiB); a short run stays on the calling
    /// thread. The output is the same as [`XtsEngine::encrypt_sectors`].
    ///
    /// # Errors
    /// As [`XtsEngine::encrypt_sectors`].
    pub fn encrypt_sectors_par(&self, first_sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.check(first_sector, buf.len())?;
        self.run_par(true, first_sector, None, buf);
        Ok(())
    }

    /// Decrypts a run of whole sectors in place, spread over the rayon pool when the run is
    /// long; see [`XtsEngine::encrypt_sectors_par`].
    ///
    /// # Errors
    /// As [`XtsEngine::encrypt_sectors`].
    pub fn decrypt_sectors_par(&self, first_sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.check(first_sector, buf.len())?;
        self.run_par(false, first_sector, None, buf);
        Ok(())
    }

    /// [`XtsEngine::encrypt_sectors_to`] spread over the rayon pool when the run is long; see
    /// [`XtsEngine::encrypt_sectors_par`].
    ///
    /// # Errors
    /// As [`XtsEngine::encrypt_sectors_to`].
    pub fn encrypt_sectors_to_par(
        &self,
        first_sector: u64,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<(), IoError> {
        self.check_to(first_sector, src, dst)?;
        self.run_par(true, first_sector, Some(src), dst);
        Ok(())
    }

    /// [`XtsEngine::decrypt_sectors_to`] spread over the rayon pool when the run is long; see
    /// [`XtsEngine::encrypt_sectors_par`].
    ///
    /// # Errors
    /// As [`XtsEngine::encrypt_sectors_to`].
    pub fn decrypt_sectors_to_par(
        &self,
        first_sector: u64,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<(), IoError> {
        self.check_to(first_sector, src, dst)?;
        self.run_par(false, first_sector, Some(src), dst);
        Ok(())
    }

    fn run_par(&self, encrypt: bool, first_sector: u64, src: Option<&[u8]>, dst: &mut [u8]) {
        let ss = self.sector_size.bytes();
        let threads = rayon::current_num_threads();
        if dst.len() < PAR_MIN_BYTES || threads < 2 {
            self.run(encrypt, first_sector, src, dst);
            return;
        }
        // About four pieces per thread, each a whole number of sectors and at least 64 KiB.
        let per_task = (dst.len() / (threads * 4)).max(PAR_CHUNK_BYTES).max(ss);
        let chunk = per_task / ss * ss;
        let sectors_per_chunk = (chunk / ss) as u64;
        // The whole run was checked, so no piece's first sector passes 2^64 - 1.
        let first_of = |i: usize| first_sector.wrapping_add(i as u64 * sectors_per_chunk);
        match src {
            Some(src) => dst
                .par_chunks_mut(chunk)
                .zip(src.par_chunks(chunk))
                .enumerate()
                .for_each(|(i, (d, s))| self.run(encrypt, first_of(i), Some(s), d)),
            None => dst
                .par_chunks_mut(chunk)
                .enumerate()
                .for_each(|(i, piece)| self.run(encrypt, first_of(i), None, piece)),
        }
    }
}

/// An engine as a [`SectorTransform`] for the stores' [`BlockStore::write_sectors_via`] and
/// [`BlockStore::read_sectors_via`]: encryption or decryption, on the calling thread or (with
/// [`XtsTransform::parallel`]) over the rayon pool for long runs.
///
/// ```
/// use ebsim_io::{BlockStore, MemoryStore, SectorSize, XtsEngine, XtsKey};
///
/// let key = XtsKey::from_slice(&(0u8..64).collect::<Vec<u8>>())?;
/// let engine = XtsEngine::new(&key, SectorSize::S4096);
/// let store = MemoryStore::new(SectorSize::S4096, 1024)?;
/// // Encrypted straight from the buffer into the store; the buffer is scratch afterwards.
/// let held = store.range_locks().write(3, 2);
/// let mut buf = vec![7u8; 8192];
/// store.write_sectors_via(&held, 3, &mut buf, &engine.encryptor())?;
/// let mut back = vec![0u8; 8192];
/// let mut holes = [false; 2];
/// store.read_sectors_via(&held, 3, &mut back, &mut holes, &engine.decryptor())?;
/// assert!(back.iter().all(|&b| b == 7) && holes == [false, false]);
/// # Ok::<(), ebsim_io::IoError>(())
/// ```
///
/// [`BlockStore::write_sectors_via`]: crate::BlockStore::write_sectors_via
/// [`BlockStore::read_sectors_via`]: crate::BlockStore::read_sectors_via
#[derive(Debug, Clone, Copy)]
pub struct XtsTransform<'a> {
    engine: &'a XtsEngine,
    encrypt: bool,
    parallel: bool,
}

impl XtsTransform<'_> {
    /// Whether long runs go to the rayon pool (as [`XtsEngine::encrypt_sectors_par`]); off by
    /// default. The bytes are the same either way.
    #[must_use]
    pub fn parallel(self, on: bool) -> Self {
        Self {
            parallel: on,
            ..self
        }
    }
}

impl XtsEngine {
    /// This engine's encryption as a store transform (on the calling thread).
    pub fn encryptor(&self) -> XtsTransform<'_> {
        XtsTransform {
            engine: self,
            encrypt: true,
            parallel: false,
        }
    }

    /// This engine's decryption as a store transform (on the calling thread).
    pub fn decryptor(&self) -> XtsTransform<'_> {
        XtsTransform {
            engine: self,
            encrypt: false,
            parallel: false,
        }
    }
}

impl SectorTransform for XtsTransform<'_> {
    fn apply(&self, first: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.engine.check(first, buf.len())?;
        self.run(first, None, buf);
        Ok(())
    }

    fn apply_to(&self, first: u64, src: &[u8], dst: &mut [u8]) -> Result<(), IoError> {
        self.engine.check_to(first, src, dst)?;
        self.run(first, Some(src), dst);
        Ok(())
    }
}

impl XtsTransform<'_> {
    /// Runs a checked run on the calling thread or over the pool.
    fn run(&self, first: u64, src: Option<&[u8]>, dst: &mut [u8]) {
        if self.parallel {
            self.engine.run_par(self.encrypt, first, src, dst);
        } else {
            self.engine.run(self.encrypt, first, src, dst);
        }
    }
}

/// Blocks processed per batch by [`Backend::AesCrate`] (one 512-byte piece of a sector).
const AES_CRATE_BATCH: usize = 32;

/// Multiplies a tweak by x in GF(2^128) (IEEE 1619 little-endian convention).
#[inline(always)]
fn mul_x(t: u128) -> u128 {
    (t << 1) ^ ((t >> 127) * 0x87)
}

/// [`Backend::AesCrate`]: `aes` crate block functions over 32 blocks at a time, tweaks computed
/// for the batch first. In place on `buf`, or from `src` (of the same length) into `buf`: the
/// input is read block by block and only output is ever stored in `buf`, so a destination in
/// a file map never holds plaintext that is being encrypted, even for a moment.
#[inline(never)]
fn aes_crate_run(
    data: &Aes256,
    tweak: &Aes256,
    encrypt: bool,
    first_sector: u64,
    src: Option<&[u8]>,
    buf: &mut [u8],
    ss: usize,
) {
    const PIECE: usize = 16 * AES_CRATE_BATCH;
    let mut blocks = [aes::Block::default(); AES_CRATE_BATCH];
    let mut tweaks = [0u128; AES_CRATE_BATCH];
    for (i, sector) in buf.chunks_exact_mut(ss).enumerate() {
        let n = first_sector.wrapping_add(i as u64);
        let mut t0 = aes::Block::from(u128::from(n).to_le_bytes());
        tweak.encrypt_block(&mut t0);
        let mut t = u128::from_le_bytes(t0.into());
        for (j, piece) in sector.chunks_exact_mut(PIECE).enumerate() {
            let at = i * ss + j * PIECE;
            let input: &[u8] = match src {
                Some(src) => &src[at..at + PIECE],
                None => piece,
            };
            for ((blk, tw), bytes) in blocks
                .iter_mut()
                .zip(tweaks.iter_mut())
                .zip(input.chunks_exact(16))
            {
                *tw = t;
                t = mul_x(t);
                let mut b = [0u8; 16];
                b.copy_from_slice(bytes);
                *blk = aes::Block::from((u128::from_le_bytes(b) ^ *tw).to_le_bytes());
            }
            if encrypt {
                data.encrypt_blocks(&mut blocks);
            } else {
                data.decrypt_blocks(&mut blocks);
            }
            for ((blk, tw), bytes) in blocks
                .iter()
                .zip(tweaks.iter())
                .zip(piece.chunks_exact_mut(16))
            {
                let v = u128::from_le_bytes((*blk).into()) ^ *tw;
                bytes.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    blocks.iter_mut().for_each(|b| *b = aes::Block::default());
}
