//! The crate's error type.

use std::io;

use thiserror::Error;

/// Errors from setting up or running an [`crate::NbdServer`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NbdError {
    /// The server was given no exports.
    #[error("no exports to serve")]
    NoExports,
    /// Two exports share a name.
    #[error("export name {0:?} is used twice")]
    DuplicateExport(String),
    /// An export name is empty, longer than 4096 bytes, or contains NUL.
    #[error("invalid export name {0:?}")]
    BadExportName(String),
    /// A device's block size is not a power of two in 512..=65536.
    #[error("block size {0} is not a power of two from 512 to 65536")]
    BadBlockSize(u32),
    /// A device's size is not a multiple of its block size (or does not fit in memory).
    #[error("size {size} is not a whole number of {block_size}-byte blocks")]
    BadSize {
        /// Size in bytes.
        size: u64,
        /// Block size in bytes.
        block_size: u32,
    },
    /// Listening or accepting failed.
    #[error("nbd listener: {0}")]
    Io(#[from] io::Error),
    /// TLS credentials could not be loaded.
    #[error("TLS credentials: {path}: {reason}")]
    TlsCreds {
        /// The file at fault.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The final flush of an export failed at shutdown.
    #[error("flushing export {export} failed: {source}")]
    Flush {
        /// The export's name.
        export: String,
        /// The device's error.
        source: io::Error,
    },
}
