//! XTS-AES-256 sector engine and block stores.
//!
//! The engine encrypts runs of whole sectors, in place or from one buffer into another, with
//! the tweak of sector *i* being *i* as a 16-byte little-endian integer (dm-crypt's
//! `aes-xts-plain64`). The block stores hold ciphertext sectors; given the engine as a
//! [`SectorTransform`], they run it straight between the caller's buffer and their storage.
//!
//! ```
//! use ebsim_io::{SectorSize, XtsEngine, XtsKey};
//!
//! let key_bytes: Vec<u8> = (0u8..64).collect();
//! let key = XtsKey::from_slice(&key_bytes)?;
//! let engine = XtsEngine::new(&key, SectorSize::S4096);
//! let mut buf = vec![0u8; 2 * 4096];
//! engine.encrypt_sectors(10, &mut buf)?;
//! engine.decrypt_sectors(10, &mut buf)?;
//! assert!(buf.iter().all(|&b| b == 0));
//! # Ok::<(), ebsim_io::IoError>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[allow(unsafe_code)]
mod arch;
mod engine;
mod error;
mod key;
mod sector;
mod store;

// The public interface is:
pub use engine::{BACKEND_ENV, Backend, XtsEngine, XtsTransform};
pub use error::IoError;
pub use key::XtsKey;
pub use sector::SectorSize;
pub use store::{
    AllocationRun, BlockStore, FileStore, MAX_ALLOCATION_RUNS, MemoryStore, MmapStore, RangeGuard,
    RangeLocks, SectorTransform, is_hole,
};
