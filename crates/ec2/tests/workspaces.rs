//! The WorkSpaces service in process (docs/workspaces.md): after TerminateWorkspaces the
//! volumes' old wrapped keys are useless to EBS (its session's Decrypt is refused), an
//! asymmetric key ends the WorkSpace in ERROR, bad input changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use ebsim_ec2::WorkspacesService;
use ebsim_ec2::workspaces::directory::{Directories, Directory, DirectoryUser};
use ebsim_kms::{Caller, Kms, KmsConfig};
use ebsim_kms_api::Region;
use serde_json::{Value, json};

const ROOT: &str = "arn:aws:iam::111122223333:root";

fn call(svc: &WorkspacesService, op: &str, body: Value) -> Result<Value, String> {
    let caller = Caller::new(ROOT).in_region(Region::parse("us-west-2").unwrap());
    svc.call(&caller, op, body.to_string().as_bytes())
        .map(|b| serde_json::from_slice(&b).unwrap())
        .map_err(|e| e.code)
}

fn kms_call(kms: &Kms, who: &Caller, op: &str, body: Value) -> Result<Value, String> {
    kms.call(who, op, body.to_string().as_bytes())
        .map(|b| serde_json::from_slice(&b).unwrap())
        .map_err(|e| e.error_type.name().to_owned())
}

fn setup(dir: &Path) -> (Arc<Kms>, WorkspacesService, String) {
    let kms = Arc::new(Kms::open(dir, KmsConfig::default()).unwrap());
    let svc = WorkspacesService::open(dir, kms.clone(), Region::parse("us-west-2").unwrap());
    let d = "d-00000000a1".to_owned();
    let mut dirs = Directories::default();
    let user = DirectoryUser {
        name: "alice".into(),
        sid: "S-1-5-21-1-2-3-1107".into(),
    };
    dirs.directories.insert(
        d.clone(),
        Directory {
            directory_id: d.clone(),
            name: "corp.example.com".into(),
            account: "111122223333".into(),
            region: "us-west-2".into(),
            registered: true,
            users: [("alice".to_owned(), user)].into(),
        },
    );
    dirs.save(dir).unwrap();
    (kms, svc, d)
}

#[test]
fn terminate_leaves_the_old_wrapped_keys_useless_to_ebs() {
    let tmp = tempfile::tempdir().unwrap();
    let (kms, svc, d) = setup(tmp.path());
    let root = Caller::new(ROOT);
    let key = kms_call(&kms, &root, "CreateKey", json!({})).unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = call(
        &svc,
        "CreateWorkspaces",
        json!({"Workspaces": [{"DirectoryId": d, "UserName": "alice", "BundleId": "wsb-valuew10x1",
            "VolumeEncryptionKey": key, "UserVolumeEncryptionEnabled": true,
            "RootVolumeEncryptionEnabled": true}]}),
    )
    .unwrap();
    let id = out["PendingRequests"][0]["WorkspaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let record: Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join(format!("workspaces/{id}.json"))).unwrap(),
    )
    .unwrap();
    let mut olds = Vec::new();
    for vol in [&record["root_volume_id"], &record["user_volume_id"]] {
        let vol = vol.as_str().unwrap();
        let meta: Value = serde_json::from_slice(
            &std::fs::read(tmp.path().join(format!("volumes/{vol}/metadata.json"))).unwrap(),
        )
        .unwrap();
        let ctx = &meta["encryption_context"];
        assert!(
            ctx["aws:workspaces:sid-directoryid"]
                .as_str()
                .unwrap()
                .contains(&d),
            "{ctx}"
        );
        assert_eq!(ctx["aws:ebs:id"], vol);
        let ebs = Caller::new(ebsim_workspaces::attach_principal(&key, vol));
        let decrypt = json!({"CiphertextBlob": meta["encrypted_data_key"], "EncryptionContext": ctx,
            "KeyId": key});
        // EBS can unwrap the key while the WorkSpace lives…
        kms_call(&kms, &ebs, "Decrypt", decrypt.clone()).unwrap();
        olds.push((ebs, decrypt));
    }
    assert!(
        !kms_call(&kms, &root, "ListGrants", json!({"KeyId": key})).unwrap()["Grants"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let out = call(
        &svc,
        "TerminateWorkspaces",
        json!({"TerminateWorkspaceRequests": [{"WorkspaceId": id}]}),
    )
    .unwrap();
    assert_eq!(out["FailedRequests"], json!([]));
    // …and not after: every grant is retired.
    for (ebs, decrypt) in olds {
        assert_eq!(
            kms_call(&kms, &ebs, "Decrypt", decrypt).unwrap_err(),
            "AccessDeniedException"
        );
    }
    assert_eq!(
        kms_call(&kms, &root, "ListGrants", json!({"KeyId": key})).unwrap()["Grants"],
        json!([])
    );
}

#[test]
fn an_asymmetric_key_ends_in_error_and_bad_input_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (kms, svc, d) = setup(tmp.path());
    let root = Caller::new(ROOT);
    let rsa = kms_call(
        &kms,
        &root,
        "CreateKey",
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    )
    .unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let req = json!({"DirectoryId": d, "UserName": "alice", "BundleId": "wsb-valuew10x1",
        "VolumeEncryptionKey": rsa, "RootVolumeEncryptionEnabled": true});
    let out = call(&svc, "CreateWorkspaces", json!({"Workspaces": [req]})).unwrap();
    let id = out["PendingRequests"][0]["WorkspaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let w =
        &call(&svc, "DescribeWorkspaces", json!({"WorkspaceIds": [id]})).unwrap()["Workspaces"][0];
    assert_eq!(w["State"], "ERROR", "{w}");
    assert_eq!(w["ErrorCode"], "InvalidKmsKey", "{w}");
    assert!(
        !tmp.path().join("volumes").exists()
            || std::fs::read_dir(tmp.path().join("volumes"))
                .unwrap()
                .next()
                .is_none()
    );
    // Whole-request errors.
    let before = call(&svc, "DescribeWorkspaces", json!({})).unwrap();
    for (op, body, code) in [
        (
            "CreateWorkspaces",
            json!({"Workspaces": []}),
            "InvalidParameterValuesException",
        ),
        (
            "CreateWorkspaces",
            json!({"Workspaces": [{"DirectoryId": "x", "UserName": "a", "BundleId": "wsb-valuew10x1"}]}),
            "InvalidParameterValuesException",
        ),
        (
            "CreateWorkspaces",
            json!({"Workspaces": "no"}),
            "SerializationException",
        ),
        (
            "RebuildWorkspaces",
            json!({"RebuildWorkspaceRequests": [{"WorkspaceId": id}, {"WorkspaceId": id}]}),
            "InvalidParameterValuesException",
        ),
        (
            "DescribeWorkspaces",
            json!({"Limit": 0}),
            "InvalidParameterValuesException",
        ),
        (
            "DescribeWorkspaces",
            json!({"UserName": "alice"}),
            "InvalidParameterValuesException",
        ),
        (
            "RegisterWorkspaceDirectory",
            json!({"DirectoryId": "d-0123456789"}),
            "ResourceNotFoundException",
        ),
        (
            "RegisterWorkspaceDirectory",
            json!({"DirectoryId": d}),
            "ResourceAlreadyExistsException",
        ),
        ("NoSuchOperation", json!({}), "UnknownOperationException"),
    ] {
        assert_eq!(call(&svc, op, body).unwrap_err(), code, "{op}");
    }
    assert_eq!(call(&svc, "DescribeWorkspaces", json!({})).unwrap(), before);
}

#[test]
fn describe_pages_with_limit_and_next_token() {
    let tmp = tempfile::tempdir().unwrap();
    let (kms, svc, d) = setup(tmp.path());
    let mut dirs = Directories::load(tmp.path()).unwrap();
    let dir = dirs.directories.get_mut(&d).unwrap();
    for name in ["bob", "carol"] {
        dir.users.insert(
            name.into(),
            DirectoryUser {
                name: name.into(),
                sid: format!("S-1-5-21-1-2-3-{}", 1200 + name.len()),
            },
        );
    }
    dirs.save(tmp.path()).unwrap();
    let _ = kms;
    let reqs: Vec<Value> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| json!({"DirectoryId": d, "UserName": u, "BundleId": "wsb-valuew10x1"}))
        .collect();
    let out = call(&svc, "CreateWorkspaces", json!({"Workspaces": reqs})).unwrap();
    assert_eq!(out["PendingRequests"].as_array().unwrap().len(), 3, "{out}");
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"Limit": 2, "DirectoryId": d});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let page = call(&svc, "DescribeWorkspaces", body).unwrap();
        let ws = page["Workspaces"].as_array().unwrap();
        assert!(ws.len() <= 2);
        seen.extend(
            ws.iter()
                .map(|w| w["UserName"].as_str().unwrap().to_owned()),
        );
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["alice", "bob", "carol"]);
}

#[test]
fn workspace_properties_are_checked_and_only_the_model_members_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let (_kms, svc, d) = setup(tmp.path());
    let req = |props: Value| {
        json!({"Workspaces": [{"DirectoryId": d, "UserName": "alice", "BundleId": "wsb-valuew10x1",
            "WorkspaceProperties": props}]})
    };
    for bad in [
        json!({"RunningMode": 5}),
        json!({"RunningMode": "SOMETIMES"}),
        json!({"UserVolumeSizeGib": 0}),
        json!({"Protocols": ["PCOIP", "WSP", "A", "B", "C"]}),
        json!("not an object"),
    ] {
        let out = call(&svc, "CreateWorkspaces", req(bad.clone())).unwrap();
        assert_eq!(
            out["FailedRequests"][0]["ErrorCode"], "InvalidParameterValuesException",
            "{bad}: {out}"
        );
        assert_eq!(out["PendingRequests"], json!([]));
    }
    let mut bad_name = req(json!({}));
    bad_name["Workspaces"][0]["WorkspaceName"] = json!("-starts-with-a-dash");
    let out = call(&svc, "CreateWorkspaces", bad_name).unwrap();
    assert_eq!(
        out["FailedRequests"][0]["ErrorCode"],
        "InvalidParameterValuesException"
    );
    assert_eq!(
        call(&svc, "DescribeWorkspaces", json!({})).unwrap()["Workspaces"],
        json!([])
    );
    let out = call(&svc, "CreateWorkspaces", {
        let mut r = req(
            json!({"RunningMode": "MANUAL", "Junk": "x".repeat(10_000), "UserVolumeSizeGib": 2}),
        );
        r["Workspaces"][0]["WorkspaceName"] = json!("alice-desk");
        r
    })
    .unwrap();
    assert_eq!(out["PendingRequests"][0]["WorkspaceName"], "alice-desk");
    let named = call(
        &svc,
        "DescribeWorkspaces",
        json!({"WorkspaceName": "alice-desk"}),
    )
    .unwrap();
    assert_eq!(named["Workspaces"].as_array().unwrap().len(), 1, "{named}");
    let none = call(
        &svc,
        "DescribeWorkspaces",
        json!({"WorkspaceName": "other"}),
    )
    .unwrap();
    assert_eq!(none["Workspaces"], json!([]));
    let p = &out["PendingRequests"][0]["WorkspaceProperties"];
    assert_eq!(p["RunningMode"], "MANUAL", "{out}");
    assert_eq!(p["UserVolumeSizeGib"], 2);
    assert_eq!(p["RootVolumeSizeGib"], 80);
    assert!(p.get("Junk").is_none(), "{p}");
}
