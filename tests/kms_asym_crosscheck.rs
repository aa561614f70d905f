//! Asymmetric and HMAC keys through boto3 against `ebsim kms serve`, checked by independent
//! libraries (tests/scripts/kms_asym_boto3.py: Python `cryptography` and pycryptodome, pinned
//! in .ci/install-deps), and signatures those libraries made, verified by ebsim's own code
//! (`ebsim::kms::asym`).
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use base64::Engine as _;
use ebsim::kms::asym::{AsymError, MessageType, PrivateKey, SigningAlgorithm, Spec};
use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;
use zeroize::Zeroizing;

#[test]
fn boto3_and_independent_libraries_agree_with_ebsim() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let theirs = tmp.path().join("theirs.jsonl");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/kms_asym_boto3.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(server.url())
        .arg(&theirs)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("python3 with boto3, cryptography and pycryptodome (.ci/install-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "boto3 asymmetric flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.stop().expect("server stopped").success());

    // Their signatures, our verification (and a changed message fails).
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let lines = std::fs::read_to_string(&theirs).unwrap();
    let mut checked = 0;
    for line in lines.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let spec = Spec::parse(v["spec"].as_str().unwrap()).unwrap();
        let key = PrivateKey::from_stored(spec, false, Zeroizing::new(b64(&v["private"])))
            .unwrap_or_else(|e| panic!("{line}: {e:?}"));
        let alg = SigningAlgorithm::parse(v["alg"].as_str().unwrap()).unwrap();
        let mt = MessageType::parse(v["mt"].as_str()).unwrap();
        let (msg, sig) = (b64(&v["msg"]), b64(&v["sig"]));
        key.verify(alg, mt, &msg, &sig)
            .unwrap_or_else(|e| panic!("{line}: {e:?}"));
        let mut other = msg.clone();
        other[0] ^= 1;
        assert_eq!(
            key.verify(alg, mt, &other, &sig),
            Err(AsymError::BadSignature),
            "{line}"
        );
        checked += 1;
    }
    assert_eq!(checked, 8, "every signature of the script was checked");
}
