//! The audit trail: CloudTrail-shaped JSON records of every call, allowed or refused. Kept in
//! a bounded in-memory ring, and for a data dir appended (buffered) to
//! `DIR/audit/kms-audit.jsonl`, rotated by size.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use parking_lot::Mutex;
use serde_json::Value;

/// Records kept in memory.
pub const RING_CAPACITY: usize = 10_000;
/// Rotate the file when it grows past this size.
pub const ROTATE_BYTES: u64 = 16 * 1024 * 1024;
/// Rotated files kept (`kms-audit.jsonl.1` … `.4`).
pub const ROTATE_KEEP: u32 = 4;
const FLUSH_EVERY: u32 = 64;

#[derive(Debug)]
struct FileSink {
    path: PathBuf,
    limit: u64,
    out: BufWriter<File>,
    size: u64,
    unflushed: u32,
}

impl FileSink {
    fn open(path: PathBuf, limit: u64) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path,
            limit,
            out: BufWriter::with_capacity(256 * 1024, file),
            size,
            unflushed: 0,
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        for i in (1..ROTATE_KEEP).rev() {
            let from = self.path.with_extension(format!("jsonl.{i}"));
            if from.exists() {
                std::fs::rename(&from, self.path.with_extension(format!("jsonl.{}", i + 1)))?;
            }
        }
        std::fs::rename(&self.path, self.path.with_extension("jsonl.1"))?;
        *self = Self::open(self.path.clone(), self.limit)?;
        Ok(())
    }

    fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.size + line.len() as u64 + 1 > self.limit && self.size > 0 {
            self.rotate()?;
        }
        self.out.write_all(line)?;
        self.out.write_all(b"\n")?;
        self.size += line.len() as u64 + 1;
        self.unflushed += 1;
        if self.unflushed >= FLUSH_EVERY {
            self.out.flush()?;
            self.unflushed = 0;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Serialized records (one allocation each, moved in as written).
    ring: VecDeque<String>,
    file: Option<FileSink>,
}

/// The audit trail.
#[derive(Debug, Default)]
pub struct AuditLog {
    inner: Mutex<Inner>,
}

impl AuditLog {
    /// A trail in memory only.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A trail also appended to `path`.
    pub fn with_file(path: PathBuf) -> std::io::Result<Self> {
        Self::with_file_limit(path, ROTATE_BYTES)
    }

    /// A trail appended to `path`, rotated when it would grow past `limit` bytes.
    pub fn with_file_limit(path: PathBuf, limit: u64) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let sink = FileSink::open(path, limit)?;
        Ok(Self {
            inner: Mutex::new(Inner {
                ring: VecDeque::new(),
                file: Some(sink),
            }),
        })
    }

    /// An empty buffer to write the next record into: the allocation of the oldest record
    /// when the ring is full (so that a full ring recycles its buffers), else a new one.
    pub fn buffer(&self) -> String {
        let recycled = {
            let mut inner = self.inner.lock();
            if inner.ring.len() >= RING_CAPACITY {
                inner.ring.pop_front()
            } else {
                None
            }
        };
        match recycled {
            Some(mut b) => {
                b.clear();
                b
            }
            None => String::with_capacity(1024),
        }
    }

    /// Appends one record (a serialized JSON object).
    pub fn record(&self, record: String) {
        let mut inner = self.inner.lock();
        if let Some(sink) = inner.file.as_mut() {
            // An audit write failure must not fail the call; the ring still has the record.
            let _ = sink.write(record.as_bytes());
        }
        let oldest = if inner.ring.len() >= RING_CAPACITY {
            inner.ring.pop_front()
        } else {
            None
        };
        inner.ring.push_back(record);
        drop(inner);
        // The evicted record is freed after the lock is released.
        drop(oldest);
    }

    /// The newest `limit` records (all kept ones when `None`), oldest first.
    pub fn records(&self, limit: Option<usize>) -> Vec<Value> {
        let inner = self.inner.lock();
        let n = limit.unwrap_or(inner.ring.len()).min(inner.ring.len());
        inner
            .ring
            .iter()
            .skip(inner.ring.len() - n)
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect()
    }

    /// Writes buffered records to the file.
    pub fn flush(&self) {
        let mut inner = self.inner.lock();
        if let Some(sink) = inner.file.as_mut() {
            let _ = sink.out.flush();
            sink.unflushed = 0;
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_four() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("audit").join("kms-audit.jsonl");
        let log = AuditLog::with_file_limit(path.clone(), 1000).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..200 {
            log.record(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(80)));
        }
        log.flush();
        for i in 1..=ROTATE_KEEP {
            let rotated = path.with_extension(format!("jsonl.{i}"));
            let len = std::fs::metadata(&rotated).map(|m| m.len()).unwrap_or(0);
            assert!(
                len > 0 && len <= 1000,
                "{} has {len} bytes",
                rotated.display()
            );
        }
        assert!(
            !path
                .with_extension(format!("jsonl.{}", ROTATE_KEEP + 1))
                .exists()
        );
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        let last = current.lines().last().unwrap_or_default();
        assert!(last.starts_with("{\"n\":199,"), "{last}");
        assert_eq!(log.records(Some(2)).len(), 2);
        assert_eq!(log.records(None).len(), 200);
    }

    #[test]
    fn a_full_ring_recycles_buffers_and_keeps_the_newest() {
        let log = AuditLog::in_memory();
        for i in 0..RING_CAPACITY + 5 {
            let mut b = log.buffer();
            assert!(b.is_empty());
            b.push_str(&format!("{{\"n\":{i}}}"));
            log.record(b);
        }
        let r = log.records(None);
        assert_eq!(r.len(), RING_CAPACITY);
        assert_eq!(r[0]["n"], serde_json::json!(5));
        assert_eq!(
            r[RING_CAPACITY - 1]["n"],
            serde_json::json!(RING_CAPACITY + 4)
        );
    }
}
