//! aws-cli against `ebsim kms serve`: a scripted session of real `aws kms` commands over the
//! wire (SigV4, JSON 1.1), checking exit codes, outputs and AWS error codes.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::tools::Aws;
use serde_json::Value;

fn b64_len(s: &str) -> usize {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap()
        .len()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    format!("fileb://{}", p.display())
}

#[test]
fn aws_cli_session_against_ebsim_kms_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let url = server.url();
    assert_eq!(
        std::fs::read_to_string(data.join("kms/endpoint"))
            .unwrap()
            .lines()
            .next(),
        Some(url.as_str()),
        "the server publishes its URL on the endpoint file's first line"
    );
    let root = Aws {
        url: &url,
        key: "test".into(),
        secret: "test".into(),
        token: None,
    };

    // Keys.
    let created = root.ok(&["kms", "create-key", "--description", "aws-cli session"]);
    let meta = &created["KeyMetadata"];
    let key_id = meta["KeyId"].as_str().unwrap().to_owned();
    let key_arn = meta["Arn"].as_str().unwrap().to_owned();
    assert_eq!(
        key_arn,
        format!("arn:aws:kms:us-west-2:111122223333:key/{key_id}")
    );
    assert_eq!(meta["KeyState"], "Enabled");
    assert!(meta["CreationDate"].is_number() || meta["CreationDate"].is_string());
    let listed = root.ok(&["kms", "list-keys"]);
    assert!(
        listed["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["KeyId"] == key_id.as_str())
    );
    root.fails(
        &["kms", "describe-key", "--key-id", "alias/does-not-exist"],
        "NotFoundException",
    );

    // Aliases.
    root.ok(&[
        "kms",
        "create-alias",
        "--alias-name",
        "alias/session",
        "--target-key-id",
        &key_id,
    ]);
    root.fails(
        &[
            "kms",
            "create-alias",
            "--alias-name",
            "alias/session",
            "--target-key-id",
            &key_id,
        ],
        "AlreadyExistsException",
    );
    root.fails(
        &[
            "kms",
            "create-alias",
            "--alias-name",
            "session2",
            "--target-key-id",
            &key_id,
        ],
        "ValidationException",
    );
    let aliases = root.ok(&["kms", "list-aliases", "--key-id", &key_id]);
    assert!(
        aliases["Aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["AliasName"] == "alias/session")
    );
    let by_alias = root.ok(&["kms", "describe-key", "--key-id", "alias/session"]);
    assert_eq!(by_alias["KeyMetadata"]["KeyId"], key_id.as_str());

    // Data keys under an encryption context; Decrypt with the right and a wrong context.
    let ctx = "aws:ebs:id=vol-0123456789abcdef0";
    let dk = root.ok(&[
        "kms",
        "generate-data-key-without-plaintext",
        "--key-id",
        "alias/session",
        "--number-of-bytes",
        "64",
        "--encryption-context",
        ctx,
    ]);
    assert_eq!(
        dk["KeyId"],
        key_arn.as_str(),
        "crypto responses name the key ARN"
    );
    assert!(dk.get("Plaintext").is_none());
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(dk["CiphertextBlob"].as_str().unwrap())
        .unwrap();
    let blob_file = write(tmp.path(), "blob", &blob);
    let plain = root.ok(&[
        "kms",
        "decrypt",
        "--ciphertext-blob",
        &blob_file,
        "--encryption-context",
        ctx,
    ]);
    assert_eq!(b64_len(plain["Plaintext"].as_str().unwrap()), 64);
    assert_eq!(plain["KeyId"], key_arn.as_str());
    root.fails(
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &blob_file,
            "--encryption-context",
            "aws:ebs:id=vol-0123456789abcdef1",
        ],
        "InvalidCiphertextException",
    );
    root.fails(
        &["kms", "decrypt", "--ciphertext-blob", &blob_file],
        "InvalidCiphertextException",
    );
    let gdk = root.ok(&[
        "kms",
        "generate-data-key",
        "--key-id",
        &key_id,
        "--key-spec",
        "AES_256",
    ]);
    assert_eq!(b64_len(gdk["Plaintext"].as_str().unwrap()), 32);
    root.fails(
        &[
            "kms",
            "generate-data-key",
            "--key-id",
            &key_id,
            "--number-of-bytes",
            "2048",
        ],
        "ValidationException",
    );
    let pt = write(tmp.path(), "pt", b"attack at dawn");
    let enc = root.ok(&["kms", "encrypt", "--key-id", &key_id, "--plaintext", &pt]);
    let enc_blob = base64::engine::general_purpose::STANDARD
        .decode(enc["CiphertextBlob"].as_str().unwrap())
        .unwrap();
    let enc_file = write(tmp.path(), "enc", &enc_blob);
    let dec = root.ok(&["kms", "decrypt", "--ciphertext-blob", &enc_file]);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(dec["Plaintext"].as_str().unwrap())
            .unwrap(),
        b"attack at dawn"
    );

    // Grants with constraints, used by an IAM user created through the admin API.
    let user = ebsim.output(&["--json", "iam", "create-user", "alice"]);
    assert!(
        user.status.success(),
        "iam create-user: {}",
        String::from_utf8_lossy(&user.stderr)
    );
    let user: Value = serde_json::from_slice(&user.stdout).unwrap();
    let alice_arn = user["arn"].as_str().unwrap().to_owned();
    assert_eq!(alice_arn, "arn:aws:iam::111122223333:user/alice");
    let alice = Aws {
        url: &url,
        key: user["access_key_id"].as_str().unwrap().to_owned(),
        secret: user["secret_access_key"].as_str().unwrap().to_owned(),
        token: None,
    };
    alice.fails(
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &blob_file,
            "--encryption-context",
            ctx,
        ],
        "AccessDeniedException",
    );
    let grant = root.ok(&[
        "kms",
        "create-grant",
        "--key-id",
        &key_id,
        "--grantee-principal",
        &alice_arn,
        "--operations",
        "Decrypt",
        "--constraints",
        "EncryptionContextSubset={aws:ebs:id=vol-0123456789abcdef0}",
        "--name",
        "session-grant",
    ]);
    let grant_id = grant["GrantId"].as_str().unwrap().to_owned();
    assert_eq!(grant_id.len(), 64);
    let plain = alice.ok(&[
        "kms",
        "decrypt",
        "--ciphertext-blob",
        &blob_file,
        "--encryption-context",
        ctx,
    ]);
    assert_eq!(b64_len(plain["Plaintext"].as_str().unwrap()), 64);
    // A blob under another volume's context is outside the grant's constraint.
    let other = root.ok(&[
        "kms",
        "generate-data-key-without-plaintext",
        "--key-id",
        &key_id,
        "--number-of-bytes",
        "64",
        "--encryption-context",
        "aws:ebs:id=vol-0123456789abcdef1",
    ]);
    let other_blob = base64::engine::general_purpose::STANDARD
        .decode(other["CiphertextBlob"].as_str().unwrap())
        .unwrap();
    let other_file = write(tmp.path(), "other", &other_blob);
    alice.fails(
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &other_file,
            "--encryption-context",
            "aws:ebs:id=vol-0123456789abcdef1",
        ],
        "AccessDeniedException",
    );
    alice.fails(
        &["kms", "encrypt", "--key-id", &key_id, "--plaintext", &pt],
        "AccessDeniedException",
    );
    let grants = root.ok(&["kms", "list-grants", "--key-id", &key_id]);
    let g = grants["Grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["GrantId"] == grant_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(g["GranteePrincipal"], alice_arn.as_str());
    assert_eq!(
        g["Constraints"]["EncryptionContextSubset"]["aws:ebs:id"],
        "vol-0123456789abcdef0"
    );
    root.ok(&[
        "kms",
        "revoke-grant",
        "--key-id",
        &key_id,
        "--grant-id",
        &grant_id,
    ]);
    alice.fails(
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &blob_file,
            "--encryption-context",
            ctx,
        ],
        "AccessDeniedException",
    );

    // Key policies, including a malformed one.
    let policy = root.ok(&[
        "kms",
        "get-key-policy",
        "--key-id",
        &key_id,
        "--policy-name",
        "default",
    ]);
    let doc: Value = serde_json::from_str(policy["Policy"].as_str().unwrap()).unwrap();
    assert!(doc["Statement"].is_array());
    root.fails(
        &[
            "kms",
            "put-key-policy",
            "--key-id",
            &key_id,
            "--policy-name",
            "default",
            "--policy",
            "{\"Version\": \"2012-10-17\", \"Statement\": [",
        ],
        "MalformedPolicyDocumentException",
    );
    root.ok(&[
        "kms",
        "put-key-policy",
        "--key-id",
        &key_id,
        "--policy-name",
        "default",
        "--policy",
        policy["Policy"].as_str().unwrap(),
    ]);

    // Rotation: old ciphertexts still decrypt.
    root.ok(&["kms", "enable-key-rotation", "--key-id", &key_id]);
    let status = root.ok(&["kms", "get-key-rotation-status", "--key-id", &key_id]);
    assert_eq!(status["KeyRotationEnabled"], true);
    let rotated = root.ok(&["kms", "rotate-key-on-demand", "--key-id", &key_id]);
    assert_eq!(rotated["KeyId"], key_arn.as_str());
    root.ok(&[
        "kms",
        "decrypt",
        "--ciphertext-blob",
        &blob_file,
        "--encryption-context",
        ctx,
    ]);
    // An automatic rotation due within 20 minutes blocks on-demand rotation (simulated time
    // moved by `ebsim clock advance`, routed to the running server).
    let advanced = ebsim.output(&["clock", "advance", "364.99"]);
    assert!(
        advanced.status.success(),
        "clock advance: {}",
        String::from_utf8_lossy(&advanced.stderr)
    );
    root.fails(
        &["kms", "rotate-key-on-demand", "--key-id", &key_id],
        "ConflictException",
    );
    root.ok(&["kms", "disable-key-rotation", "--key-id", &key_id]);
    assert_eq!(
        root.ok(&["kms", "get-key-rotation-status", "--key-id", &key_id])["KeyRotationEnabled"],
        false
    );

    // Tags.
    root.ok(&[
        "kms",
        "tag-resource",
        "--key-id",
        &key_id,
        "--tags",
        "TagKey=team,TagValue=storage",
        "TagKey=env,TagValue=test",
    ]);
    root.ok(&[
        "kms",
        "untag-resource",
        "--key-id",
        &key_id,
        "--tag-keys",
        "env",
    ]);
    let tags = root.ok(&["kms", "list-resource-tags", "--key-id", &key_id]);
    assert_eq!(
        tags["Tags"],
        serde_json::json!([{"TagKey": "team", "TagValue": "storage"}])
    );
    root.fails(
        &[
            "kms",
            "tag-resource",
            "--key-id",
            &key_id,
            "--tags",
            "TagKey=aws:reserved,TagValue=x",
        ],
        "TagException",
    );
    root.fails(
        &[
            "kms",
            "encrypt",
            "--key-id",
            &key_id,
            "--plaintext",
            &pt,
            "--dry-run",
        ],
        "DryRunOperationException",
    );

    // Disable / enable.
    root.ok(&["kms", "disable-key", "--key-id", &key_id]);
    root.fails(
        &["kms", "encrypt", "--key-id", &key_id, "--plaintext", &pt],
        "DisabledException",
    );
    root.fails(
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &blob_file,
            "--encryption-context",
            ctx,
        ],
        "DisabledException",
    );
    root.ok(&["kms", "enable-key", "--key-id", &key_id]);
    root.ok(&["kms", "encrypt", "--key-id", &key_id, "--plaintext", &pt]);

    // Deletion scheduling.
    root.fails(
        &[
            "kms",
            "schedule-key-deletion",
            "--key-id",
            &key_id,
            "--pending-window-in-days",
            "5",
        ],
        "ValidationException",
    );
    let sched = root.ok(&[
        "kms",
        "schedule-key-deletion",
        "--key-id",
        &key_id,
        "--pending-window-in-days",
        "7",
    ]);
    assert_eq!(sched["KeyState"], "PendingDeletion");
    assert_eq!(sched["KeyId"], key_arn.as_str());
    root.fails(
        &["kms", "encrypt", "--key-id", &key_id, "--plaintext", &pt],
        "KMSInvalidStateException",
    );
    let cancelled = root.ok(&["kms", "cancel-key-deletion", "--key-id", &key_id]);
    assert_eq!(cancelled["KeyId"], key_arn.as_str());
    let meta = root.ok(&["kms", "describe-key", "--key-id", &key_id]);
    assert_eq!(meta["KeyMetadata"]["KeyState"], "Disabled");

    // Authentication: unknown key, wrong secret.
    let stranger = Aws {
        url: &url,
        key: "AKIAUNKNOWN".into(),
        secret: "x".into(),
        token: None,
    };
    stranger.fails(&["kms", "list-keys"], "UnrecognizedClientException");
    let wrong = Aws {
        url: &url,
        key: "test".into(),
        secret: "not-test".into(),
        token: None,
    };
    wrong.fails(&["kms", "list-keys"], "InvalidSignatureException");

    // Clean stop: exit 0, endpoint file removed.
    let status = server.stop().expect("server stopped on SIGTERM");
    assert!(status.success(), "kms serve exit status {status}");
    assert!(!data.join("kms/endpoint").exists());
}

/// The README's KMS example, as written: a customer key makes a data key without plaintext,
/// `alias/aws/ebs` refuses aws-cli (its policy allows use only via EBS), and `ebsim demo
/// --data-dir DIR` then runs through the server.
#[test]
fn the_readme_kms_example_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("ebsim-data");
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = ebsim.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let url = server.url();
    let aws = Aws {
        url: &url,
        key: "test".into(),
        secret: "test".into(),
        token: None,
    };
    let key = aws.ok(&["kms", "create-key"])["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let context = "aws:ebs:id=vol-0123456789abcdef0";
    let made = aws.ok(&[
        "kms",
        "generate-data-key-without-plaintext",
        "--key-id",
        &key,
        "--number-of-bytes",
        "64",
        "--encryption-context",
        context,
    ]);
    assert_eq!(made["KeyId"], key.as_str());
    assert!(
        made["CiphertextBlob"]
            .as_str()
            .is_some_and(|b| !b.is_empty())
    );
    assert!(made.get("Plaintext").is_none());
    aws.fails(
        &[
            "kms",
            "generate-data-key-without-plaintext",
            "--key-id",
            "alias/aws/ebs",
            "--number-of-bytes",
            "64",
            "--encryption-context",
            context,
        ],
        "AccessDeniedException",
    );
    let out = ebsim.ok(&["demo", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["data_dir"], data.to_str().unwrap());
    server.stop();
}
