//! Simulated time is bounded: an advance beyond 100 years (or one that overflows) is refused
//! and changes nothing, a rotating key gains one material per period however far the clock
//! moves, `ResetClock` returns to wall time, and a state saved with an overflowed offset opens.

mod common;

use common::{ROOT, create_key, kms, ok};
use ebsim_kms::{Caller, ErrorType, Kms, KmsConfig};
use serde_json::json;

fn advance(kms: &Kms, days: f64) -> Result<serde_json::Value, ebsim_kms::KmsError> {
    kms.admin_json(&Caller::new(ROOT), "AdvanceClock", json!({"Days": days}))
}

#[test]
fn advances_beyond_100_years_are_refused_and_change_nothing() {
    let (kms, _) = kms();
    let before = advance(&kms, 1.0).unwrap_or_else(|e| panic!("{e}"));
    for days in [1e308, 36_500.0, 1e9, f64::MAX] {
        let e = advance(&kms, days).expect_err("refused");
        assert_eq!(e.error_type, ErrorType::ValidationException, "{days}: {e}");
        assert!(e.to_string().contains("100 years"), "{e}");
    }
    let after = kms
        .admin_json(&Caller::new(ROOT), "GetClock", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after["OffsetSeconds"], before["OffsetSeconds"]);
    // Up to the bound is fine.
    advance(&kms, 36_499.0).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_century_of_rotations_stays_bounded_and_reset_returns_to_wall_time() {
    let (kms, _) = kms();
    let (id, _) = create_key(&kms);
    let root = Caller::new(ROOT);
    ok(
        &kms,
        &root,
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    advance(&kms, 36_500.0).unwrap_or_else(|e| panic!("{e}"));
    let rotations = ok(
        &kms,
        &root,
        "ListKeyRotations",
        json!({"KeyId": id, "Limit": 1000}),
    );
    let n = rotations["Rotations"].as_array().map_or(0, Vec::len);
    // One rotation per 90 days: 36,500 / 90 = 405.
    assert!((400..=406).contains(&n), "{n} rotations");
    let reset = kms
        .admin_json(&root, "ResetClock", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reset["OffsetSeconds"], json!(0.0));
}

#[test]
fn a_state_saved_with_an_overflowed_offset_opens() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        ok(&kms, &Caller::new(ROOT), "CreateKey", json!({}));
    }
    let path = dir.path().join("kms/state.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    // What an overflow to infinity left behind before the bound.
    v["clock_offset"] = serde_json::Value::Null;
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let clock = kms
        .admin_json(&Caller::new(ROOT), "GetClock", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(clock["OffsetSeconds"], json!(0.0));
    let keys = ok(&kms, &Caller::new(ROOT), "ListKeys", json!({}));
    assert_eq!(keys["Keys"].as_array().map(Vec::len), Some(1));
}
