//! Key states.

use serde::{Deserialize, Serialize};

/// The state of a KMS key (which operations it allows is in the operation table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Disabled by the owner.
    Disabled,
    /// Scheduled for deletion.
    PendingDeletion,
    /// An `EXTERNAL` key without (all of) its key material: never imported, expired or
    /// deleted (docs/kms.md, "Imported key material").
    PendingImport,
    /// A multi-Region primary key scheduled for deletion while it still has replicas.
    PendingReplicaDeletion,
    /// A key in a custom key store that is not connected.
    Unavailable,
}

impl KeyState {
    /// The wire name (`KeyMetadata.KeyState`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
            Self::PendingImport => "PendingImport",
            Self::PendingReplicaDeletion => "PendingReplicaDeletion",
            Self::Unavailable => "Unavailable",
        }
    }
}
