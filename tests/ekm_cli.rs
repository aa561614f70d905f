//! `ebsim ekm connect` with the vendor's side made as docs/usage.md shows it: the app's user,
//! the role whose trust policy names it, the role's identity policy, the statement in the key
//! policy. The check assumes the role (STS AssumeRole by the app's user) and names the
//! session; a trust policy not naming the app is a cause of its own.

use std::path::Path;

use ebsim_test_support::ebsim::Ebsim;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::222233334444:role/Workato_EKM";

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path.to_str().unwrap_or_default().to_owned()
}

#[test]
fn ekm_connect_assumes_the_vendor_role() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir.path().join("data"));
    let vendor = ["--account", "222233334444"];
    let trust = |who: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "sts:AssumeRole", "Principal": {"AWS": who}}]})
    };
    e.ok(&[&vendor[..], &["iam", "create-user", "ekm-app"]].concat());
    let app_trust = write(
        dir.path(),
        "trust.json",
        &trust("arn:aws:iam::222233334444:user/ekm-app"),
    );
    e.ok(&[
        &vendor[..],
        &[
            "iam",
            "create-role",
            "Workato_EKM",
            "--trust-policy",
            &app_trust,
        ],
    ]
    .concat());
    let vendor_policy = write(
        dir.path(),
        "vendor-policy.json",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "arn:aws:kms:*:*:key/*"}]}),
    );
    e.ok(&["iam", "put-policy", ROLE, &vendor_policy]);

    let key = json(&e.ok(&["--json", "key", "create"]));
    let key_arn = key["KeyMetadata"]["Arn"]
        .as_str()
        .or_else(|| key["arn"].as_str())
        .unwrap_or_else(|| panic!("no key ARN: {key}"))
        .to_owned();
    let statement = json(&e.ok(&["--json", "ekm", "policy-statement", "--role-arn", ROLE]));
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        statement]});
    let policy = write(dir.path(), "key-policy.json", &policy);
    e.ok(&["key", "policy", "put", &key_arn, "--file", &policy]);

    let report = json(&e.ok(&[
        "--json",
        "ekm",
        "connect",
        "--key-arn",
        &key_arn,
        "--role-arn",
        ROLE,
    ]));
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(
        report["session_arn"], "arn:aws:sts::222233334444:assumed-role/Workato_EKM/ekm-validation",
        "{report}"
    );
    assert!(
        report["session_expiration"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{report}"
    );
    let text = e.ok(&["ekm", "connect", "--key-arn", &key_arn, "--role-arn", ROLE]);
    assert!(
        text.contains("AssumeRole by arn:aws:iam::222233334444:user/ekm-app"),
        "{text}"
    );

    // A role whose trust policy names someone else: the app cannot assume it.
    e.ok(&[&vendor[..], &["iam", "create-user", "someone-else"]].concat());
    let other_trust = write(
        dir.path(),
        "other-trust.json",
        &trust("arn:aws:iam::222233334444:user/someone-else"),
    );
    e.ok(&[
        &vendor[..],
        &[
            "iam",
            "create-role",
            "Other_EKM",
            "--trust-policy",
            &other_trust,
        ],
    ]
    .concat());
    let other = "arn:aws:iam::222233334444:role/Other_EKM";
    let statement = json(&e.ok(&["--json", "ekm", "policy-statement", "--role-arn", other]));
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        statement]});
    let policy = write(dir.path(), "key-policy-2.json", &policy);
    e.ok(&["key", "policy", "put", &key_arn, "--file", &policy]);
    let out = e.output(&[
        "--json",
        "ekm",
        "connect",
        "--key-arn",
        &key_arn,
        "--role-arn",
        other,
    ]);
    assert!(!out.status.success());
    let failed = json(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(failed["cause"], "role_not_assumable", "{failed}");
}
