//! EBS snapshots: incremental, crash-consistent copies of a volume's ciphertext in 512 KiB
//! blocks, with AWS's key model (docs/formats.md, "Snapshots"; docs/architecture.md).
//!
//! - **Create** ([`SnapshotStore::create`]) makes no KMS call: it copies the volume's
//!   ciphertext blocks, and the snapshot shares the volume's wrapped data key and encryption
//!   context (its *lineage*), so `DataEncryptionKeyId` stays the same. Only the blocks that
//!   changed since the volume's previous snapshot are stored. The copy runs in the background
//!   ([`SnapshotJob`]); the snapshot is `pending` until it completes.
//! - **Copy** ([`SnapshotStore::copy`]) under the same key shares the blocks; under another
//!   key (or into another region, or an unencrypted snapshot with `Encrypted`) it asks KMS for
//!   a new data key (GenerateDataKeyWithoutPlaintext, context `aws:ebs:id` = the new snapshot's
//!   id) and re-encrypts every block.
//! - **Restore** ([`SnapshotStore::restore`]) writes a new volume: within the lineage (same
//!   key) with the lineage's wrapped key and context, otherwise under a new data key.
//! - **Delete** ([`SnapshotStore::delete`]) keeps every block a remaining snapshot lists.
//!
//! Encryption can never be removed.
//!
//! ```no_run
//! use ebsim_snapshot::{CreateSnapshot, RestoreVolume, SnapshotStore};
//! # fn demo(client: ebsim_kms_client::KmsClient) -> Result<(), ebsim_snapshot::SnapshotError> {
//! let region = ebsim_kms_api::Region::parse("us-west-2").expect("a region");
//! let store = SnapshotStore::open("/srv/ebsim", client, region)?;
//! let job = store.create(CreateSnapshot::new("vol-0123456789abcdef0"))?;
//! let snap = job.wait()?;
//! let volume = store.restore(RestoreVolume::new(snap.snapshot_id.as_str()))?;
//! println!("{} restored to {}", snap.snapshot_id, volume.volume_id);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod blocks;
mod copy;
mod create;
mod direct;
#[cfg(test)]
mod direct_tests;
mod error;
mod id;
mod job;
mod keys;
mod manifest;
mod restore;
#[cfg(feature = "s3-snapshots")]
mod s3;
mod store;
#[cfg(test)]
mod unencrypted_tests;

// The public interface is:
pub use copy::CopySnapshot;
pub use create::CreateSnapshot;
pub use direct::{DIRECT_VOLUME_ID, DirectWriter, MAX_DIRECT_VOLUME_GIB, StartDirect};
pub use error::SnapshotError;
pub use id::{SnapshotId, is_snapshot_id};
pub use job::SnapshotJob;
pub use manifest::{BlockRef, CopiedFrom, LineageKey, SnapshotState};
pub use restore::RestoreVolume;
pub use store::{Snapshot, SnapshotStore, StoreLocation};

/// The snapshot block size: 512 KiB, EBS direct's `BlockSize` (block *i* holds the volume's
/// bytes `i × 512 KiB ..`).
pub const BLOCK_SIZE: u64 = 512 * 1024;
