//! Block work shared by create, copy and restore: checksums, fetching and checking a stored
//! block, and re-encrypting one.

use ebsim_io::XtsEngine;
use sha2::Digest as _;

use crate::manifest::Manifest;
use crate::store::block_len;
use crate::{BLOCK_SIZE, BlockRef, SnapshotError, SnapshotStore};

/// SHA-256 of a block's stored bytes.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(bytes).into()
}

/// Reads block `b` of `m` into `buf` and checks its length and checksum.
pub(crate) fn fetch(
    store: &SnapshotStore,
    m: &Manifest,
    b: &BlockRef,
    buf: &mut Vec<u8>,
) -> Result<(), SnapshotError> {
    fetch_checked(store, m, b, buf, true)
}

/// Reads block `b` of `m` for a bulk copy (a restore or a re-keying copy): its length is
/// checked, and its checksum where the store is remote. Blocks in the data dir are private
/// files written whole and renamed into place, as trusted as the volume's own `data.img`
/// (which has no checksum either); re-hashing each would cost a third of a restore
/// (docs/formats.md, "Snapshots").
pub(crate) fn fetch_bulk(
    store: &SnapshotStore,
    m: &Manifest,
    b: &BlockRef,
    buf: &mut Vec<u8>,
) -> Result<(), SnapshotError> {
    fetch_checked(store, m, b, buf, !store.0.backend.cheap_reads())
}

fn fetch_checked(
    store: &SnapshotStore,
    m: &Manifest,
    b: &BlockRef,
    buf: &mut Vec<u8>,
    checksum: bool,
) -> Result<(), SnapshotError> {
    let corrupt = |reason: &str| SnapshotError::CorruptBlock {
        snapshot_id: m.snapshot_id.clone(),
        index: b.index,
        reason: reason.to_owned(),
    };
    if !store.0.backend.get_block(&b.sha256, buf)? {
        return Err(corrupt("missing from the store"));
    }
    if buf.len() != block_len(m.size_bytes, b.index) {
        return Err(corrupt("wrong length"));
    }
    if checksum && sha256(buf) != b.sha256 {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(())
}

/// Re-encrypts block `index` in place: each stored sector that is not all zeros (a hole) is
/// decrypted with `from` (none: it is plaintext) and encrypted with `to` (none: left
/// plaintext), tweak = its sector number in the volume.
pub(crate) fn rekey(
    from: Option<&XtsEngine>,
    to: Option<&XtsEngine>,
    sector_size: usize,
    index: u64,
    buf: &mut [u8],
) -> Result<(), SnapshotError> {
    let first_sector = index * BLOCK_SIZE / sector_size as u64;
    let n = buf.len() / sector_size;
    let mut i = 0;
    while i < n {
        if ebsim_io::is_hole(&buf[i * sector_size..(i + 1) * sector_size]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && !ebsim_io::is_hole(&buf[i * sector_size..(i + 1) * sector_size]) {
            i += 1;
        }
        let run = &mut buf[start * sector_size..i * sector_size];
        let s = first_sector + start as u64;
        let io = |e: ebsim_io::IoError| SnapshotError::InvalidParameter(e.to_string());
        if let Some(from) = from {
            from.decrypt_sectors(s, run).map_err(io)?;
        }
        if let Some(to) = to {
            to.encrypt_sectors(s, run).map_err(io)?;
        }
    }
    Ok(())
}
