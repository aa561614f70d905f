//! The audit trail: CloudTrail-shaped JSON records of every call, allowed or refused
//! (docs/kms.md, "Audit"). A record is a typed [`AuditRecord`], serialized through `serde`
//! (by `crate::jsonw::to_writer`, `serde_json`'s text) into a recycled buffer. Records are
//! kept in a bounded in-memory ring, and for a data dir appended (buffered) to
//! `DIR/audit/kms-audit.jsonl`, rotated by size.

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
/// Rotate the file when it grows past this size.
pub const ROTATE_BYTES: u64 = 16 * 1024 * 1024;
/// Rotated files kept (`kms-audit.jsonl.1` … `.4`).
pub const ROTATE_KEEP: u32 = 4;
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
}

impl FileSink {
    fn open(path: PathBuf, limit: u64) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
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
    ring: VecDeque<Vec<u8>>,
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
            ebsim_data_dir::create_private_dir_all(dir)?;
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
    pub fn buffer(&self) -> Vec<u8> {
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
            None => Vec::with_capacity(1024),
        }
    }

    /// Serializes `record` into a recycled buffer ([`AuditLog::buffer`]) and appends it.
    pub fn append(&self, record: &AuditRecord<'_>) {
        let mut out = self.buffer();
        // Serializing into memory fails only on a map with non-string keys, which no record
        // has; such a record would be dropped rather than kept torn.
        if crate::jsonw::to_writer(&mut out, record).is_ok() {
            self.record(out);
        }
    }

    /// Appends one record (a serialized JSON object).
    pub fn record(&self, record: Vec<u8>) {
        let mut inner = self.inner.lock();
        if let Some(sink) = inner.file.as_mut() {
            // An audit write failure must not fail the call; the ring still has the record.
            let _ = sink.write(&record);
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
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_four() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("audit").join("kms-audit.jsonl");
        let log = AuditLog::with_file_limit(path.clone(), 1000).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..200 {
            log.record(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(80)).into_bytes());
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
    fn clear_forgets_the_ring_the_file_and_its_rotations() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("audit").join("kms-audit.jsonl");
        let log = AuditLog::with_file_limit(path.clone(), 1000).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..30 {
            log.record(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(80)).into_bytes());
        }
        assert!(path.with_extension("jsonl.1").exists());
        log.clear().unwrap_or_else(|e| panic!("{e}"));
        assert!(log.records(None).is_empty());
        log.flush();
        for i in 1..=ROTATE_KEEP {
            assert!(
                !path.with_extension(format!("jsonl.{i}")).exists(),
                "rotation {i}"
            );
        }
        assert_eq!(
            std::fs::read(&path).unwrap_or_default(),
            b"",
            "buffered records were dropped, not written"
        );
        log.record(b"{\"after\":true}".to_vec());
        log.flush();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            "{\"after\":true}\n"
        );
        assert_eq!(log.records(None).len(), 1);
        let memory = AuditLog::in_memory();
        memory.record(b"{}".to_vec());
        memory.clear().unwrap_or_else(|e| panic!("{e}"));
        assert!(memory.records(None).is_empty());
    }

    /// A typed request that sends `DryRun` (audited for every operation) `n` times, and a
    /// member no operation audits.
    struct Repeated(usize);

    impl Members for Repeated {
        fn visit<'a>(&'a self, f: &mut dyn FnMut(&'static str, MemberRef<'a>)) {
            f("Plaintext", MemberRef::Opaque);
            for i in 0..self.0 {
                f("DryRun", MemberRef::Bool(i % 2 == 0));
            }
        }
    }

    #[test]
    fn request_parameters_of_any_number_of_typed_members() {
        let op = ebsim_kms_api::ops::operation("Decrypt");
        for n in [0, 1, 7, 8, 9, 40] {
            let params = RequestParameters {
                operation: op,
                request: RequestMembers::Typed(&Repeated(n)),
            };
            let mut out = Vec::new();
            assert!(crate::jsonw::to_writer(&mut out, &params).is_ok());
            let text = String::from_utf8(out).unwrap_or_default();
            let expected = if n == 0 {
                "null".to_string()
            } else {
                let members: Vec<String> = (0..n)
                    .map(|i| format!("\"dryRun\":{}", i % 2 == 0))
                    .collect();
                format!("{{{}}}", members.join(","))
            };
            // Sorting by name may reorder equal names; compare as multisets of members.
            let sorted = |t: &str| {
                let mut m: Vec<String> = t
                    .trim_matches(['{', '}'])
                    .split(',')
                    .map(str::to_owned)
                    .collect();
                m.sort();
                m
            };
            assert_eq!(sorted(&text), sorted(&expected), "{n} members");
        }
        let unknown = RequestParameters {
            operation: None,
            request: RequestMembers::Typed(&Repeated(3)),
        };
        assert_eq!(serde_json::to_string(&unknown).unwrap_or_default(), "null");
    }

    #[test]
    fn a_full_ring_recycles_buffers_and_keeps_the_newest() {
        let log = AuditLog::in_memory();
        for i in 0..RING_CAPACITY + 5 {
            let mut b = log.buffer();
            assert!(b.is_empty());
            b.extend_from_slice(format!("{{\"n\":{i}}}").as_bytes());
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
