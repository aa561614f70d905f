//! Tests of `audit`.

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
fn rotation_counts_what_it_drops_and_remembers_it_across_opens() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("audit").join("kms-audit.jsonl");
    let line = |i: usize| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(80)).into_bytes();
    let written = 3000;
    {
        let log = AuditLog::with_trail_bytes(path.clone(), MIN_TRAIL_BYTES)
            .unwrap_or_else(|e| panic!("{e}"));
        for i in 0..written {
            log.record(line(i));
        }
        log.flush();
        let on_disk: u64 = std::iter::once(path.clone())
            .chain((1..=ROTATE_KEEP).map(|i| path.with_extension(format!("jsonl.{i}"))))
            .map(|p| bytecount_lines(&std::fs::read(p).unwrap_or_default()))
            .sum();
        let dropped = log.dropped();
        assert!(dropped.from_disk > 0, "{dropped:?}");
        assert_eq!(on_disk + dropped.from_disk, written as u64);
        assert_eq!(dropped.from_memory, 0);
    }
    let again =
        AuditLog::with_trail_bytes(path.clone(), MIN_TRAIL_BYTES).unwrap_or_else(|e| panic!("{e}"));
    let before = dropped_from_disk(&path);
    assert!(before > 0);
    assert_eq!(again.dropped().from_disk, before);
    again.clear().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dropped_from_disk(&path), 0);
    assert_eq!(again.dropped(), Dropped::default());
}

#[test]
fn the_ring_is_bounded_in_bytes() {
    let log = AuditLog::in_memory();
    let big = RING_BYTES / 8 + 1;
    for i in 0..20u8 {
        log.record(vec![b'0' + i % 10; big]);
    }
    let inner = log.inner.lock();
    assert!(inner.ring_bytes <= RING_BYTES, "{}", inner.ring_bytes);
    assert_eq!(
        inner.ring_bytes,
        inner.ring.iter().map(Vec::len).sum::<usize>()
    );
    assert_eq!(inner.ring.len(), 7);
    assert_eq!(inner.dropped.from_memory, 13);
    drop(inner);
    // A record bigger than the whole bound is still kept (alone).
    log.record(vec![b'1'; RING_BYTES + 1]);
    assert_eq!(log.inner.lock().ring.len(), 1);
}

#[test]
fn a_record_keeps_at_most_string_cap_bytes_of_any_string() {
    let log = AuditLog::in_memory();
    let huge = "K".repeat(1 << 20);
    let params = serde_json::json!({"KeyId": huge});
    let Value::Object(req) = params else {
        panic!("an object")
    };
    let record = AuditRecord {
        event_version: AuditRecord::EVENT_VERSION,
        user_identity: UserIdentity {
            kind: "IAMUser",
            arn: Some("arn:aws:iam::111122223333:user/u"),
            account_id: Some("111122223333"),
            invoked_by: None,
        },
        event_time: "2026-01-01T00:00:00Z",
        event_source: AuditRecord::EVENT_SOURCE,
        event_name: "DescribeKey",
        aws_region: "us-west-2",
        source_ip_address: "127.0.0.1",
        user_agent: "ebsim",
        request_parameters: RequestParameters {
            operation: ebsim_kms_api::ops::operation("DescribeKey"),
            request: RequestMembers::Json(&req),
        },
        response_elements: None,
        additional_event_data: AdditionalEventData {
            grant_id: None,
            policy_statement_sid: None,
        },
        error_code: Some("NotFoundException"),
        error_message: Some(&huge),
        request_id: "r",
        event_id: "e",
        read_only: true,
        resources: None,
        event_type: AuditRecord::EVENT_TYPE,
        management_event: true,
        recipient_account_id: "111122223333",
        event_category: AuditRecord::EVENT_CATEGORY,
    };
    log.append(&record);
    let inner = log.inner.lock();
    let kept = inner.ring.back().map_or(0, Vec::len);
    assert!(kept < 4 * STRING_CAP, "{kept} bytes kept");
    drop(inner);
    let r = log.records(None).pop().unwrap_or_default();
    let cut = format!(
        "{}{}",
        "K".repeat(STRING_CAP),
        crate::jsonw::truncation_marker(1 << 20)
    );
    assert_eq!(r["requestParameters"]["keyId"], serde_json::json!(cut));
    assert_eq!(r["errorMessage"], serde_json::json!(cut));
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
