//! Key ids and where keys sit in the KMS state: the map key of a key (a multi-Region key's
//! related keys share its id, so its region is part of the map key), the bytes a key id
//! stands for in a ciphertext blob, and a multi-Region key's role (docs/kms.md, "Multi-Region
//! keys").

use serde::{Deserialize, Serialize};

/// The prefix of multi-Region key ids (`mrk-` and 32 lowercase hex).
pub const MRK_PREFIX: &str = "mrk-";

/// The map key of a key in [`State::keys`] (and of an alias's target): its id, and for a
/// multi-Region key, whose related keys in other regions share the id, `<id>@<region>`.
pub fn slot_of(id: &str, region: &str) -> String {
    if id.starts_with(MRK_PREFIX) {
        format!("{id}@{region}")
    } else {
        id.to_owned()
    }
}

/// The key id of a map key ([`slot_of`] undone).
pub fn wire_id(slot: &str) -> &str {
    slot.split_once('@').map_or(slot, |(id, _)| id)
}

/// The 16 bytes a key id stands for in a ciphertext blob: the UUID's, or the 32 hex digits
/// of a multi-Region key id. `None` for anything else.
pub fn id_bytes(id: &str) -> Option<[u8; 16]> {
    match id.strip_prefix(MRK_PREFIX) {
        Some(hex_part)
            if hex_part.len() == 32
                && hex_part
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            hex::decode(hex_part).ok()?.try_into().ok()
        }
        Some(_) => None,
        None if id.len() == 36 => uuid::Uuid::parse_str(id).ok().map(|u| *u.as_bytes()),
        None => None,
    }
}

/// A multi-Region key's role (docs/kms.md, "Multi-Region keys").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiRegionRole {
    /// The primary key.
    #[serde(rename = "PRIMARY")]
    Primary,
    /// A replica.
    #[serde(rename = "REPLICA")]
    Replica,
}

impl MultiRegionRole {
    /// `PRIMARY` or `REPLICA` (`MultiRegionKeyType`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Primary => "PRIMARY",
            Self::Replica => "REPLICA",
        }
    }
}
