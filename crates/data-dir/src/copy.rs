//! Copying a directory tree of a data dir: private modes, and holes kept as holes.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::Path;

/// The unit of a copy: each chunk is read once, and written only when it is not all zeros.
const CHUNK: usize = 64 * 1024;

/// Copies the directory `from` to `to`, which must not exist: directories are created 0700
/// and regular files 0600, each written with [`copy_file_sparse`] and synced. Symbolic links
/// and special files are skipped (a data dir holds none, and a link is never followed out
/// of it).
///
/// # Errors
/// The first I/O error; what was copied up to it stays (the caller copies into a directory
/// it removes on failure).
pub fn copy_tree_sparse(from: &Path, to: &Path) -> std::io::Result<()> {
    DirBuilder::new().mode(0o700).create(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree_sparse(&entry.path(), &target)?;
        } else if kind.is_file() {
            copy_file_sparse(&entry.path(), &target)?;
        }
    }
    File::open(to)?.sync_all()
}

/// Copies the regular file `from` to `to` (created 0600; it must not exist) and syncs it.
/// Only the data regions of `from` are read (`SEEK_DATA`/`SEEK_HOLE`), and a chunk that
/// reads as zeros is not written: holes stay holes, and a sparse volume image costs what it
/// holds, not its size. On a file system without hole reporting the whole file is one data
/// region, and only the zero chunks are left as holes.
///
/// # Errors
/// The I/O error (the partial `to` is removed).
pub fn copy_file_sparse(from: &Path, to: &Path) -> std::io::Result<()> {
    let src = File::open(from)?;
    let len = src.metadata()?.len();
    let dst = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    let result = (|| {
        let mut buf = vec![0u8; CHUNK];
        let mut pos = 0;
        while pos < len {
            let Some(start) = next_data(&src, pos)? else {
                break;
            };
            let end = next_hole(&src, start)?.min(len);
            copy_range(&src, &dst, start, end, &mut buf)?;
            pos = end.max(start + 1);
        }
        dst.set_len(len)?;
        dst.sync_all()
    })();
    if result.is_err() {
        drop(dst);
        let _ = std::fs::remove_file(to);
    }
    result
}

/// The first byte of data at or after `pos`, `None` when only a hole follows.
fn next_data(file: &File, pos: u64) -> std::io::Result<Option<u64>> {
    match rustix::fs::seek(file, rustix::fs::SeekFrom::Data(pos)) {
        Ok(at) => Ok(Some(at)),
        Err(rustix::io::Errno::NXIO) => Ok(None),
        // No hole reporting: everything from `pos` on is data.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::OPNOTSUPP) => Ok(Some(pos)),
        Err(e) => Err(e.into()),
    }
}

/// The first hole at or after `pos` (the end of the file counts as one).
fn next_hole(file: &File, pos: u64) -> std::io::Result<u64> {
    match rustix::fs::seek(file, rustix::fs::SeekFrom::Hole(pos)) {
        Ok(at) => Ok(at),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::OPNOTSUPP) => Ok(file.metadata()?.len()),
        Err(e) => Err(e.into()),
    }
}

/// Copies bytes `start..end` chunk by chunk, skipping chunks of zeros.
fn copy_range(src: &File, dst: &File, start: u64, end: u64, buf: &mut [u8]) -> std::io::Result<()> {
    let mut at = start;
    while at < end {
        let want = usize::try_from(end - at).map_or(buf.len(), |n| n.min(buf.len()));
        let n = match src.read_at(&mut buf[..want], at) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        if chunk.iter().any(|&b| b != 0) {
            dst.write_all_at(chunk, at)?;
        }
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_sparse_file_copies_with_its_holes() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("data.img");
        let size: u64 = 64 * 1024 * 1024;
        {
            let f = File::create(&from).unwrap();
            f.set_len(size).unwrap();
            f.write_all_at(b"first", 4000).unwrap();
            f.write_all_at(&[7u8; 3 * CHUNK], 40 * 1024 * 1024).unwrap();
            f.write_all_at(b"last", size - 4).unwrap();
        }
        let to = dir.path().join("copy.img");
        copy_file_sparse(&from, &to).unwrap();
        assert_eq!(std::fs::read(&from).unwrap(), std::fs::read(&to).unwrap());
        assert_eq!(mode(&to), 0o600);
        let allocated = std::fs::metadata(&to).unwrap().blocks() * 512;
        assert!(
            allocated < 4 * 1024 * 1024,
            "{allocated} bytes allocated for a 64 MiB file holding about 200 KiB"
        );
    }

    #[test]
    fn zero_chunks_are_not_written_and_the_size_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("zeros");
        std::fs::write(&from, vec![0u8; 8 * CHUNK]).unwrap();
        let to = dir.path().join("copy");
        copy_file_sparse(&from, &to).unwrap();
        let meta = std::fs::metadata(&to).unwrap();
        assert_eq!(meta.len(), 8 * CHUNK as u64);
        assert_eq!(meta.blocks(), 0, "an all-zero file copies as one hole");
        assert!(
            copy_file_sparse(&from, &to).is_err(),
            "an existing target is not overwritten"
        );
        let empty = dir.path().join("empty");
        File::create(&empty).unwrap();
        copy_file_sparse(&empty, &dir.path().join("empty-copy")).unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join("empty-copy"))
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn a_tree_copies_privately_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::create_dir_all(from.join("volumes/vol-1")).unwrap();
        std::fs::write(from.join("volumes/vol-1/metadata.json"), b"{}").unwrap();
        std::fs::write(from.join("top"), b"top").unwrap();
        std::os::unix::fs::symlink("/etc", from.join("link")).unwrap();
        let to = dir.path().join("to");
        copy_tree_sparse(&from, &to).unwrap();
        assert_eq!(
            std::fs::read(to.join("volumes/vol-1/metadata.json")).unwrap(),
            b"{}"
        );
        assert_eq!(std::fs::read(to.join("top")).unwrap(), b"top");
        assert!(!to.join("link").exists(), "links are skipped");
        assert_eq!(mode(&to), 0o700);
        assert_eq!(mode(&to.join("volumes/vol-1")), 0o700);
        assert_eq!(mode(&to.join("top")), 0o600);
        assert!(
            copy_tree_sparse(&from, &to).is_err(),
            "the target must not exist"
        );
    }
}
