//! The audit trail is bounded: a refused call with a huge parameter is validated before it
//! is recorded, its record keeps at most 1 KiB of any string, and a flood of such calls
//! cannot rotate the earlier records out of the on-disk trail. When records are dropped, the
//! count is kept and reported.

mod common;

use common::{ROOT, create_key, fails, ok};
use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig};
use serde_json::{Value, json};

const NOBODY: &str = "arn:aws:iam::111122223333:user/nobody";

fn trail(dir: &std::path::Path) -> Vec<Value> {
    let path = dir.join("audit").join("kms-audit.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_flood_of_huge_refused_parameters_stays_small_and_keeps_earlier_records() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let huge = "k".repeat(1 << 20);
    let audit_file = dir.path().join("audit").join("kms-audit.jsonl");
    {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let (id, _) = create_key(&kms);
        ok(
            &kms,
            &Caller::new(ROOT),
            "Encrypt",
            json!({"KeyId": id, "Plaintext": "AAAA"}),
        );
        let nobody = Caller::new(NOBODY);
        for _ in 0..100 {
            let e = fails(&kms, &nobody, "DescribeKey", json!({"KeyId": huge}));
            assert_eq!(e.error_type, ErrorType::ValidationException, "{e}");
            // A bad GrantTokens list or a huge alias name is cut as well.
            fails(
                &kms,
                &nobody,
                "Encrypt",
                json!({"KeyId": format!("alias/{huge}"), "Plaintext": "AAAA",
                       "EncryptionContext": {huge.as_str(): huge.as_str()}}),
            );
        }
        let records = kms.audit_records();
        let last = records.last().cloned().unwrap_or_default();
        let text = last.to_string();
        assert!(text.len() < 8 * 1024, "a record of {} bytes", text.len());
        assert!(text.contains("…[truncated: "), "{text:.300}");
        let describe = &records[records.len() - 2];
        assert_eq!(describe["eventName"], json!("DescribeKey"));
        assert_eq!(describe["errorCode"], json!("ValidationException"));
    }
    let size = std::fs::metadata(&audit_file).map_or(0, |m| m.len());
    assert!(
        size < 2 * 1024 * 1024,
        "200 refused calls wrote {size} bytes"
    );
    let records = trail(dir.path());
    assert_eq!(records.len(), 202, "no record was rotated out");
    assert_eq!(records[1]["eventName"], json!("Encrypt"));
    assert_eq!(records[1]["userIdentity"]["arn"], json!(ROOT));
}

#[test]
fn a_small_trail_drops_the_oldest_records_and_counts_them() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = KmsConfig::default().audit_trail_bytes(ebsim_kms::MIN_TRAIL_BYTES);
    let root = Caller::new(ROOT);
    {
        let kms = Kms::open(dir.path(), config.clone()).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..300 {
            ok(&kms, &root, "ListKeys", json!({}));
        }
        let read = kms
            .admin_json(&root, "ReadAudit", json!({"Limit": 1}))
            .unwrap_or_else(|e| panic!("{e}"));
        let dropped = read["Dropped"]["FromDisk"].as_u64().unwrap_or(0);
        assert!(dropped > 0, "{read}");
        assert_eq!(read["Dropped"]["FromMemory"], json!(0));
    }
    let audit_dir = dir.path().join("audit");
    let on_disk: usize = std::fs::read_dir(&audit_dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("kms-audit.jsonl")
                })
                .map(|e| {
                    std::fs::read_to_string(e.path())
                        .unwrap_or_default()
                        .lines()
                        .count()
                })
                .sum()
        })
        .unwrap_or(0);
    let dropped = ebsim_kms::dropped_from_disk(&audit_dir.join("kms-audit.jsonl"));
    assert_eq!(
        on_disk as u64 + dropped,
        300,
        "every record is on disk or counted"
    );
    let total: u64 = std::fs::read_dir(&audit_dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    assert!(
        total <= ebsim_kms::MIN_TRAIL_BYTES + 1024,
        "{total} bytes on disk"
    );
}
