//! The audit trail: CloudTrail-shaped JSON records of every call, allowed or refused
//! (docs/kms.md, "Audit"). A record is a typed [`AuditRecord`], serialized through `serde`
//! (by `crate::jsonw::to_writer_capped`, `serde_json`'s text with every string cut to
//! [`STRING_CAP`] bytes) into a recycled buffer. Records are kept in an in-memory ring bounded
//! in count and bytes, and for a data dir appended (buffered) to `DIR/audit/kms-audit.jsonl`,
//! rotated by size; what either bound drops is counted ([`AuditLog::dropped`]).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use ebsim_kms_api::ops::Operation;
use ebsim_kms_api::types::{MemberRef, Members};
use parking_lot::Mutex;
use serde::Serialize;
use serde::ser::{SerializeMap as _, Serializer};
use serde_json::{Map, Value};

use crate::jsonw::Camel;

/// Records kept in memory.
pub const RING_CAPACITY: usize = 10_000;
/// Bytes of records kept in memory: the oldest records leave the ring beyond either bound.
pub const RING_BYTES: usize = 64 * 1024 * 1024;
/// The longest string a record keeps whole; a longer one is cut to its first `STRING_CAP`
/// bytes followed by ` …[truncated: N bytes]`.
pub const STRING_CAP: usize = 1024;
/// Rotate the file when it grows past this size.
pub const ROTATE_BYTES: u64 = 16 * 1024 * 1024;
/// Rotated files kept (`kms-audit.jsonl.1` … `.4`).
pub const ROTATE_KEEP: u32 = 4;
/// The on-disk trail by default: the current file and [`ROTATE_KEEP`] rotated ones of
/// [`ROTATE_BYTES`] each.
pub const TRAIL_BYTES: u64 = ROTATE_BYTES * (ROTATE_KEEP as u64 + 1);
/// The smallest on-disk trail a data dir may be given.
pub const MIN_TRAIL_BYTES: u64 = 64 * 1024;
const FLUSH_EVERY: u32 = 64;

/// One audit record, CloudTrail-shaped (docs/kms.md, "Audit"): the members in the order they
/// are written, absent members skipped, `null` ones written as `null`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditRecord<'a> {
    /// [`AuditRecord::EVENT_VERSION`].
    pub(crate) event_version: &'static str,
    /// Who called.
    pub(crate) user_identity: UserIdentity<'a>,
    /// The simulated time, `YYYY-MM-DDTHH:MM:SSZ`.
    pub(crate) event_time: &'a str,
    /// [`AuditRecord::EVENT_SOURCE`].
    pub(crate) event_source: &'static str,
    /// The operation.
    pub(crate) event_name: &'a str,
    /// The region of the KMS.
    pub(crate) aws_region: &'a str,
    /// The forwarding service's host name, else `127.0.0.1`.
    #[serde(rename = "sourceIPAddress")]
    pub(crate) source_ip_address: &'a str,
    /// The forwarding service's host name, else `ebsim`.
    pub(crate) user_agent: &'a str,
    /// The audited request members (`null` when none).
    pub(crate) request_parameters: RequestParameters<'a>,
    /// What a successful call adds (`null` otherwise).
    pub(crate) response_elements: Option<&'a Value>,
    /// The grant or the policy statement that allowed the call, when one did.
    #[serde(skip_serializing_if = "AdditionalEventData::is_empty")]
    pub(crate) additional_event_data: AdditionalEventData<'a>,
    /// The error's type, for a refused call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_code: Option<&'a str>,
    /// The error's message, for a refused call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_message: Option<&'a str>,
    /// A random UUID.
    #[serde(rename = "requestID")]
    pub(crate) request_id: &'a str,
    /// A random UUID.
    #[serde(rename = "eventID")]
    pub(crate) event_id: &'a str,
    /// Whether the operation only reads.
    pub(crate) read_only: bool,
    /// The key the call used, when it resolved one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resources: Option<[Resource<'a>; 1]>,
    /// [`AuditRecord::EVENT_TYPE`].
    pub(crate) event_type: &'static str,
    /// Always `true`.
    pub(crate) management_event: bool,
    /// The key's account, else the KMS's.
    pub(crate) recipient_account_id: &'a str,
    /// [`AuditRecord::EVENT_CATEGORY`].
    pub(crate) event_category: &'static str,
}

impl AuditRecord<'_> {
    /// `eventVersion`.
    pub(crate) const EVENT_VERSION: &'static str = "1.08";
    /// `eventSource`.
    pub(crate) const EVENT_SOURCE: &'static str = "kms.amazonaws.com";
    /// `eventType`.
    pub(crate) const EVENT_TYPE: &'static str = "AwsApiCall";
    /// `eventCategory`.
    pub(crate) const EVENT_CATEGORY: &'static str = "Management";
}

/// `userIdentity`: the caller.
#[derive(Serialize)]
pub(crate) struct UserIdentity<'a> {
    /// `Root`, `AssumedRole`, `IAMUser` or `AWSService`.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// The principal's ARN (not for a service principal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) arn: Option<&'a str>,
    /// The principal's account (not for a service principal).
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    pub(crate) account_id: Option<&'a str>,
    /// The service principal, or the service that forwarded the call.
    #[serde(rename = "invokedBy", skip_serializing_if = "Option::is_none")]
    pub(crate) invoked_by: Option<&'a str>,
}

/// `additionalEventData`: what allowed the call (left out when neither is known).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdditionalEventData<'a> {
    /// The grant that allowed the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) grant_id: Option<&'a str>,
    /// The `Sid` of the policy statement that allowed the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) policy_statement_sid: Option<&'a str>,
}

impl AdditionalEventData<'_> {
    fn is_empty(&self) -> bool {
        self.grant_id.is_none() && self.policy_statement_sid.is_none()
    }
}

/// An element of `resources`: the KMS key of the call.
#[derive(Serialize)]
pub(crate) struct Resource<'a> {
    /// The key's ARN.
    #[serde(rename = "ARN")]
    pub(crate) arn: &'a str,
    /// The key's account (`null` when unknown).
    #[serde(rename = "accountId")]
    pub(crate) account_id: Option<&'a str>,
    /// [`Resource::KEY_TYPE`].
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
}

impl Resource<'_> {
    /// The `type` of a KMS key.
    pub(crate) const KEY_TYPE: &'static str = "AWS::KMS::Key";
}

/// A request, as the members it was sent with.
#[derive(Clone, Copy)]
pub(crate) enum RequestMembers<'a> {
    /// The request's JSON members.
    Json(&'a Map<String, Value>),
    /// A typed request.
    Typed(&'a dyn Members),
}

/// `requestParameters`: the members of the request that the operation table says its
/// operation records ([`Operation::records_member`]; never plaintext, blobs, tokens or
/// policies), in the order of their wire names, named in camelCase, `Constraints` with its
/// keys in camelCase too; `null` when there are none or the operation is unknown.
#[derive(Clone, Copy)]
pub(crate) struct RequestParameters<'a> {
    /// The operation, `None` when unknown.
    pub(crate) operation: Option<&'static Operation>,
    /// The request.
    pub(crate) request: RequestMembers<'a>,
}

impl Serialize for RequestParameters<'_> {
    // Out of line, as are the two readings below: the members of the record itself stay
    // together in the code of the data-plane path.
    #[inline(never)]
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(op) = self.operation else {
            return s.serialize_none();
        };
        match self.request {
            RequestMembers::Json(req) => json_parameters(op, req, s),
            RequestMembers::Typed(req) => typed_parameters(op, req, s),
        }
    }
}

/// `requestParameters` from the JSON members of a request.
#[inline(never)]
fn json_parameters<S: Serializer>(
    op: &Operation,
    req: &Map<String, Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut members = req.iter().filter(|(k, _)| op.records_member(k)).peekable();
    if members.peek().is_none() {
        return s.serialize_none();
    }
    let mut map = s.serialize_map(None)?;
    for (name, v) in members {
        map.serialize_key(&Camel(name))?;
        if name == "Constraints" {
            map.serialize_value(&camel_keys(v))?;
        } else {
            map.serialize_value(v)?;
        }
    }
    map.end()
}

/// `requestParameters` from a typed request.
#[inline(never)]
fn typed_parameters<S: Serializer>(
    op: &Operation,
    req: &dyn Members,
    s: S,
) -> Result<S::Ok, S::Error> {
    // The audited members, gathered on the stack (a request type has a few).
    let mut kept = [("", MemberRef::Opaque); 8];
    let mut n = 0;
    let mut more = Vec::new();
    req.visit(&mut |name, v| {
        if op.records_member(name) {
            match kept.get_mut(n) {
                Some(slot) => {
                    *slot = (name, v);
                    n += 1;
                }
                None => more.push((name, v)),
            }
        }
    });
    let members = if more.is_empty() {
        &mut kept[..n]
    } else {
        more.extend_from_slice(&kept);
        &mut more[..]
    };
    if members.is_empty() {
        return s.serialize_none();
    }
    members.sort_unstable_by_key(|(name, _)| *name);
    let mut map = s.serialize_map(Some(members.len()))?;
    for &(name, v) in &*members {
        map.serialize_entry(&Camel(name), &Member(v))?;
    }
    map.end()
}

/// An object with its keys in camelCase (any other value as it is).
fn camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (ebsim_kms_api::types::constraint::camel(k), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A typed request member as JSON (a binary member as `null`; the operation table never
/// audits one).
struct Member<'a>(MemberRef<'a>);

impl Serialize for Member<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            MemberRef::Str(v) => s.serialize_str(v),
            MemberRef::Int(n) => s.serialize_i64(n),
            MemberRef::Bool(b) => s.serialize_bool(b),
            MemberRef::Number(n) => s.serialize_f64(n),
            MemberRef::Map(m) => m.serialize(s),
            MemberRef::List(l) => l.serialize(s),
            MemberRef::Opaque => s.serialize_unit(),
        }
    }
}

#[derive(Debug)]
struct FileSink {
    path: PathBuf,
    limit: u64,
    out: BufWriter<File>,
    size: u64,
    unflushed: u32,
    /// Records in the current file, when this process wrote all of them (else counted only
    /// if it is ever rotated out).
    lines: Option<u64>,
    /// The same for `.1` … `.4`.
    rotated: [Option<u64>; ROTATE_KEEP as usize],
}

impl FileSink {
    fn open(path: PathBuf, limit: u64) -> std::io::Result<Self> {
        let (out, size) = Self::open_current(&path)?;
        Ok(Self {
            path,
            limit,
            out,
            size,
            unflushed: 0,
            lines: (size == 0).then_some(0),
            rotated: [None; ROTATE_KEEP as usize],
        })
    }

    fn open_current(path: &std::path::Path) -> std::io::Result<(BufWriter<File>, u64)> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let size = file.metadata()?.len();
        Ok((BufWriter::with_capacity(256 * 1024, file), size))
    }

    /// Rotates the files; the oldest one, if there were already [`ROTATE_KEEP`], is removed
    /// and the number of records it held returned.
    fn rotate(&mut self) -> std::io::Result<u64> {
        self.out.flush()?;
        let oldest = self.path.with_extension(format!("jsonl.{ROTATE_KEEP}"));
        // Counted as written; a file older than this process is read once, when it goes.
        let dropped = match self.rotated[ROTATE_KEEP as usize - 1] {
            Some(n) => n,
            None => match std::fs::read(&oldest) {
                Ok(bytes) => bytecount_lines(&bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(e),
            },
        };
        for i in (1..ROTATE_KEEP).rev() {
            let from = self.path.with_extension(format!("jsonl.{i}"));
            if from.exists() {
                std::fs::rename(&from, self.path.with_extension(format!("jsonl.{}", i + 1)))?;
            }
        }
        std::fs::rename(&self.path, self.path.with_extension("jsonl.1"))?;
        self.rotated.rotate_right(1);
        self.rotated[0] = self.lines;
        let (out, size) = Self::open_current(&self.path)?;
        self.out = out;
        self.size = size;
        self.unflushed = 0;
        self.lines = (size == 0).then_some(0);
        Ok(dropped)
    }

    /// Appends one record; returns the number of records a rotation dropped from the trail.
    fn write(&mut self, line: &[u8]) -> std::io::Result<u64> {
        let mut dropped = 0;
        if self.size + line.len() as u64 + 1 > self.limit && self.size > 0 {
            dropped = self.rotate()?;
        }
        self.out.write_all(line)?;
        self.out.write_all(b"\n")?;
        if let Some(n) = self.lines.as_mut() {
            *n += 1;
        }
        self.size += line.len() as u64 + 1;
        self.unflushed += 1;
        if self.unflushed >= FLUSH_EVERY {
            self.out.flush()?;
            self.unflushed = 0;
        }
        Ok(dropped)
    }
}

/// The records (lines) in a file's bytes.
fn bytecount_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Records the audit bounds have dropped ([`AuditLog::dropped`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dropped {
    /// Records that left the in-memory ring (this process's), oldest first.
    pub from_memory: u64,
    /// Records removed from the on-disk trail by rotation (kept across restarts in
    /// `kms-audit.dropped` beside the trail).
    pub from_disk: u64,
}

/// `DIR/audit/kms-audit.dropped`: the count of records rotation removed from the trail.
fn dropped_path(trail: &std::path::Path) -> PathBuf {
    trail.with_extension("dropped")
}

/// Reads the count of records rotation removed from the trail at `trail` (0 when none were,
/// or when the file is unreadable: the count is informative).
pub fn dropped_from_disk(trail: &std::path::Path) -> u64 {
    std::fs::read_to_string(dropped_path(trail))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Writes `n` as the text of the file at `path` (mode 0600), without syncing it.
fn write_count(path: &std::path::Path, n: u64) -> std::io::Result<()> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(format!("{n}\n").as_bytes())
}

/// The per-file limit of an on-disk trail of `total` bytes (at least [`MIN_TRAIL_BYTES`]).
fn file_limit(total: u64) -> u64 {
    total.max(MIN_TRAIL_BYTES) / (u64::from(ROTATE_KEEP) + 1)
}

#[derive(Debug, Default)]
struct Inner {
    /// Serialized records (one allocation each, moved in as written).
    ring: VecDeque<Vec<u8>>,
    /// The bytes of the records in `ring`.
    ring_bytes: usize,
    file: Option<FileSink>,
    dropped: Dropped,
    /// When the last warning about dropped records was logged.
    warned: Option<std::time::Instant>,
}

/// The least time between two warnings about records dropped from the on-disk trail.
const WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Inner {
    /// Removes the oldest record from the ring, counting it as dropped.
    fn evict(&mut self) -> Option<Vec<u8>> {
        let oldest = self.ring.pop_front()?;
        self.ring_bytes -= oldest.len();
        self.dropped.from_memory += 1;
        Some(oldest)
    }

    /// Whether a record of `len` bytes needs the oldest record out first.
    fn full_for(&self, len: usize) -> bool {
        !self.ring.is_empty()
            && (self.ring.len() >= RING_CAPACITY || self.ring_bytes + len > RING_BYTES)
    }
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

    /// A trail appended to `path`, of at most about `total` bytes on disk (at least
    /// [`MIN_TRAIL_BYTES`]): the current file and [`ROTATE_KEEP`] rotated ones of a fifth
    /// each.
    pub fn with_trail_bytes(path: PathBuf, total: u64) -> std::io::Result<Self> {
        Self::with_file_limit(path, file_limit(total))
    }

    /// A trail appended to `path`, rotated when it would grow past `limit` bytes.
    pub fn with_file_limit(path: PathBuf, limit: u64) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            ebsim_data_dir::create_private_dir_all(dir)?;
        }
        let from_disk = dropped_from_disk(&path);
        let sink = FileSink::open(path, limit)?;
        Ok(Self {
            inner: Mutex::new(Inner {
                file: Some(sink),
                dropped: Dropped {
                    from_memory: 0,
                    from_disk,
                },
                ..Inner::default()
            }),
        })
    }

    /// The records the bounds have dropped so far.
    pub fn dropped(&self) -> Dropped {
        self.inner.lock().dropped
    }

    /// An empty buffer to write the next record into: the allocation of the oldest record
    /// when the ring is full (so that a full ring recycles its buffers), else a new one.
    pub fn buffer(&self) -> Vec<u8> {
        let recycled = {
            let mut inner = self.inner.lock();
            if inner.ring.len() >= RING_CAPACITY {
                inner.evict()
            } else {
                None
            }
        };
        match recycled {
            Some(mut b) => {
                b.clear();
                b
            }
            None => Vec::with_capacity(1024),
        }
    }

    /// Serializes `record` into a recycled buffer ([`AuditLog::buffer`]) and appends it.
    pub fn append(&self, record: &AuditRecord<'_>) {
        let mut out = self.buffer();
        // Serializing into memory fails only on a map with non-string keys, which no record
        // has; such a record would be dropped rather than kept torn.
        if crate::jsonw::to_writer_capped(&mut out, record, STRING_CAP).is_ok() {
            self.record(out);
        }
    }

    /// Appends one record (a serialized JSON object).
    pub fn record(&self, record: Vec<u8>) {
        let mut inner = self.inner.lock();
        let mut rotated_out = 0;
        if let Some(sink) = inner.file.as_mut() {
            // An audit write failure must not fail the call; the ring still has the record.
            rotated_out = sink.write(&record).unwrap_or(0);
        }
        if rotated_out > 0 {
            inner.dropped.from_disk += rotated_out;
            let total = inner.dropped.from_disk;
            let warn = inner.warned.is_none_or(|t| t.elapsed() >= WARN_EVERY);
            if warn {
                inner.warned = Some(std::time::Instant::now());
            }
            if let Some(sink) = &inner.file {
                // Informative, and rewritten at each rotation: not synced.
                let _ = write_count(&dropped_path(&sink.path), total);
            }
            if warn {
                let limit = inner
                    .file
                    .as_ref()
                    .map_or(0, |f| f.limit * (u64::from(ROTATE_KEEP) + 1));
                tracing::warn!(
                    dropped = rotated_out,
                    total,
                    trail_bytes = limit,
                    "audit: the oldest records left the on-disk trail (its size is bounded; \
                     raise it with --audit-max-size); said at most once a minute"
                );
            }
        }
        let mut evicted = Vec::new();
        while inner.full_for(record.len()) {
            evicted.extend(inner.evict());
        }
        inner.ring_bytes += record.len();
        inner.ring.push_back(record);
        drop(inner);
        // The evicted records are freed after the lock is released.
        drop(evicted);
    }

    /// The newest `limit` records (all kept ones when `None`), oldest first.
    pub fn records(&self, limit: Option<usize>) -> Vec<Value> {
        let inner = self.inner.lock();
        let n = limit.unwrap_or(inner.ring.len()).min(inner.ring.len());
        inner
            .ring
            .iter()
            .skip(inner.ring.len() - n)
            .filter_map(|r| serde_json::from_slice(r).ok())
            .collect()
    }

    /// Forgets every record: the ring is emptied, the file truncated (records still buffered
    /// are dropped, not written) and its rotated files (`.1` to `.4`) removed.
    ///
    /// # Errors
    /// The I/O error; the ring is empty whatever happens to the files.
    pub fn clear(&self) -> std::io::Result<()> {
        let mut inner = self.inner.lock();
        inner.ring.clear();
        inner.ring_bytes = 0;
        inner.dropped = Dropped::default();
        let Some(sink) = inner.file.take() else {
            return Ok(());
        };
        let FileSink {
            path, limit, out, ..
        } = sink;
        // Take the file back without writing what the buffer holds.
        let (file, _dropped) = out.into_parts();
        drop(file);
        let emptied = (|| {
            match std::fs::remove_file(dropped_path(&path)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            for i in 1..=ROTATE_KEEP {
                match std::fs::remove_file(path.with_extension(format!("jsonl.{i}"))) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            if let Some(dir) = path.parent() {
                ebsim_data_dir::create_private_dir_all(dir)?;
            }
            OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .map(drop)
        })();
        // Records after this one go to the file again, whether or not emptying it worked.
        inner.file = Some(FileSink::open(path, limit)?);
        emptied
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
mod tests;
