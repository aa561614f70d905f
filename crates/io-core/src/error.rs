use std::path::PathBuf;

/// Errors of the sector engine and the block stores.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// An XTS-AES-256 key must be exactly 64 bytes (key1 ‖ key2).
    #[error("XTS-AES-256 key must be 64 bytes, got {0}")]
    KeyLength(usize),
    /// The two halves of an XTS key must differ (IEEE 1619-2018, 5.1).
    #[error("XTS key halves must differ")]
    WeakKey,
    /// Sector sizes are powers of two from 512 to 65536 bytes.
    #[error("unsupported sector size {0}: use a power of two from 512 to 65536")]
    UnsupportedSectorSize(u64),
    /// A buffer that is not a whole number of sectors.
    #[error("length {len} is not a multiple of the sector size {sector_size}")]
    Misaligned {
        /// Length of the buffer or request.
        len: u64,
        /// Sector size in bytes.
        sector_size: u32,
    },
    /// A source and a destination buffer of different lengths.
    #[error("source of {src_len} bytes and destination of {dst_len} bytes differ in length")]
    LengthMismatch {
        /// Length of the source.
        src_len: u64,
        /// Length of the destination.
        dst_len: u64,
    },
    /// A run of sectors that would pass sector 2^64 − 1.
    #[error("run of {count} sectors starting at sector {first} passes sector 2^64-1")]
    SectorOverflow {
        /// First sector of the run.
        first: u64,
        /// Number of sectors in the run.
        count: u64,
    },
    /// A request past the end of the store.
    #[error("sectors {first}..{end} are past the end of the store ({num_sectors} sectors)")]
    OutOfRange {
        /// First sector asked for.
        first: u64,
        /// One past the last sector asked for.
        end: u64,
        /// Number of sectors in the store.
        num_sectors: u64,
    },
    /// The backend was forced but this CPU does not support it.
    #[error("backend {0} is not supported on this CPU")]
    BackendUnavailable(crate::Backend),
    /// A store larger than the implementation supports.
    #[error("a store of {size_bytes} bytes is larger than the supported {max_bytes} bytes")]
    TooLarge {
        /// Size asked for.
        size_bytes: u128,
        /// Largest size supported.
        max_bytes: u64,
    },
    /// The file system of a new data file (or the process's file-size limit, `ulimit -f`)
    /// does not allow a file of the size asked for (`EFBIG`).
    #[error(
        "cannot create {path} of {size_bytes} bytes: {limit}; use a smaller --size, or a data dir on a file system that allows larger files (XFS and btrfs allow files of 8 EiB)"
    )]
    FileTooLarge {
        /// The data file.
        path: PathBuf,
        /// The size asked for.
        size_bytes: u64,
        /// What limits it, in words: the file system and its largest file, or the process limit.
        limit: String,
    },
    /// A file that cannot be a volume's data file (not a regular file, wrong size).
    #[error("{path} is not a volume data file: {reason}")]
    NotAVolume {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A request whose sectors the caller's [`RangeGuard`](crate::RangeGuard) does not cover
    /// (or covers only shared, for a write), or a guard from another store's locks.
    #[error(
        "{count} sectors at {first} are not held {} through this store's range locks",
        if *exclusive { "exclusively" } else { "shared or exclusively" }
    )]
    NotLocked {
        /// First sector of the request.
        first: u64,
        /// Number of sectors in the request.
        count: u64,
        /// Whether the request needs the sectors locked exclusively.
        exclusive: bool,
    },
    /// The file system is full.
    #[error("no space left on device writing {path}")]
    NoSpace {
        /// The file being written.
        path: PathBuf,
    },
    /// Any other I/O failure, with the file it concerns.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
