//! `ebsim key import` (docs/usage.md, "Bringing your own key"): the whole flow from the
//! command line — a new EXTERNAL key with generated material saved 0600, expiry on the
//! simulated clock, the saved material imported again with another wrapping algorithm,
//! other material refused, an asymmetric key with generated material, and bad arguments
//! refused before any call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;

use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;

#[test]
fn key_import_runs_the_whole_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let saved = tmp.path().join("material.bin");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let json = |args: &[&str]| -> Value { serde_json::from_str(&ebsim.ok(args)).unwrap() };
    let out = json(&[
        "--json",
        "key",
        "import",
        "--save-material",
        saved.to_str().unwrap(),
        "--valid-for-days",
        "2",
    ]);
    assert_eq!(out["KeyState"], "Enabled");
    assert_eq!(out["ExpirationModel"], "KEY_MATERIAL_EXPIRES");
    assert_eq!(out["MaterialGenerated"], true);
    let key = out["KeyId"].as_str().unwrap().to_owned();
    let meta = std::fs::metadata(&saved).unwrap();
    assert_eq!(meta.len(), 32);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    ebsim.ok(&["clock", "advance", "3"]);
    let d = json(&["--json", "key", "describe", &key]);
    assert_eq!(d["KeyMetadata"]["KeyState"], "PendingImport");
    let other = tmp.path().join("other.bin");
    std::fs::write(&other, [1u8; 32]).unwrap();
    let refused = ebsim.output(&["key", "import", &key, "--material", other.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("IncorrectKeyMaterialException"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let again = json(&[
        "--json",
        "key",
        "import",
        &key,
        "--material",
        saved.to_str().unwrap(),
        "--wrapping-algorithm",
        "RSAES_OAEP_SHA_1",
        "--wrapping-key-spec",
        "RSA_2048",
    ]);
    assert_eq!(again["KeyState"], "Enabled");
    assert_eq!(again["KeyMaterialId"], out["KeyMaterialId"]);
    assert_eq!(again["ExpirationModel"], "KEY_MATERIAL_DOES_NOT_EXPIRE");
    let ecc = json(&[
        "--json",
        "key",
        "import",
        "--key-spec",
        "ECC_NIST_P256",
        "--key-usage",
        "SIGN_VERIFY",
    ]);
    assert_eq!(ecc["KeyState"], "Enabled");
    let signed = ebsim.output(&[
        "key",
        "sign",
        ecc["KeyId"].as_str().unwrap(),
        "--algorithm",
        "ECDSA_SHA_256",
        "--message",
        "hi",
    ]);
    assert!(signed.status.success());
    for bad in [
        vec!["key", "import", "--valid-for-days", "400"],
        vec!["key", "import", "--material", "/nonexistent/material"],
        vec!["key", "import", "--wrapping-algorithm", "RSAES_PKCS1_V1_5"],
    ] {
        let o = ebsim.output(&bad);
        assert!(!o.status.success(), "{bad:?}");
    }
    let keys = ebsim.ok(&["key", "list"]);
    assert_eq!(
        keys.lines().count(),
        2,
        "the refused commands created no key:\n{keys}"
    );
}
