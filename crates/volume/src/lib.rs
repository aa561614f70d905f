//! An encrypted block volume, as EBS keeps one.
//!
//! A volume is a sparse file of XTS-AES-256 ciphertext (`data.img`: sector *i* at byte
//! *i × sector_size*, tweak *i*) next to a `metadata.json` holding the KMS-wrapped 64-byte data
//! key and the encryption context it was wrapped under — nothing secret. Attaching a volume
//! ([`VolumeRoot::attach_with`]) takes its exclusive lock and asks KMS (through a closure, so
//! the caller chooses the identity and transport) to unwrap the data key; the resulting
//! [`AttachedVolume`] holds only the expanded key schedule, in memory, until it is detached or
//! dropped. Only an attached volume can read or write.
//!
//! ```
//! use ebsim_volume::{NewVolume, VolumeRoot, new_volume_id};
//! use ebsim_io::SectorSize;
//! use ebsim_kms_client::EncryptionContext;
//!
//! let root = VolumeRoot::in_memory();
//! let id = new_volume_id();
//! // A real volume gets its wrapped key from KMS (GenerateDataKeyWithoutPlaintext); this
//! // example stands in a fixed "wrapped" key that its unwrap closure maps back.
//! root.create(NewVolume {
//!     volume_id: id.clone(),
//!     size_bytes: 1 << 20,
//!     sector_size: SectorSize::S4096,
//!     kms_key_arn: "arn:aws:kms:us-west-2:111122223333:key/example".into(),
//!     wrapped_key: vec![7; 32],
//!     context: EncryptionContext::ebs(&id)?,
//!     grant_id: None,
//!     grantee_principal: None,
//!     retiring_principal: None,
//!     owner: None,
//! })?;
//! let vol = root.attach_with(&id, |_blob, _ctx| Ok::<_, ebsim_kms_client::ClientError>((0u8..64).collect::<Vec<u8>>()))?;
//! vol.write_at(1000, b"hello")?;
//! let mut buf = [0u8; 5];
//! vol.read_at(1000, &mut buf)?;
//! assert_eq!(&buf, b"hello");
//! vol.detach()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attached;
mod binding;
mod error;
mod extents;
mod holder;
mod metadata;
mod raw;
mod resize;
mod root;

// The public interface is:
pub use attached::AttachedVolume;
pub use error::{VolumeError, kms_failure_meaning};
pub use extents::{Extent, MAX_EXTENTS};
pub use holder::{COPY_SOCKET, CopyService, HeldVolume};
pub use metadata::{VolumeMetadata, VolumeOwner, VolumeState, is_volume_id, new_volume_id};
pub use raw::{CiphertextAccess, RawVolume};
pub use root::{BrokenVolume, NewVolume, VolumeListing, VolumeRoot};

/// Entry points for the fuzz targets (fuzz/README.md). Not a stable API.
#[doc(hidden)]
pub mod internal {
    /// Feeds arbitrary bytes to the `metadata.json` reader: it must never panic; a file it
    /// accepts must write back (as ebsim writes it) to bytes it reads as the same metadata, and
    /// its MAC must verify after signing and fail after a change of any bound field.
    pub fn fuzz_metadata(data: &[u8]) {
        crate::metadata::fuzz(data);
    }
}
