//! The EC2 service in process over a data dir's KMS: the calls EBS makes at create, attach
//! and detach, the state it persists, unusable keys and bad input that changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use ebsim_ec2::{EVENTS_FILE, Ec2, Ec2State};
use ebsim_iam::{QueryError, QueryRequest};
use ebsim_kms::{Caller, Kms, KmsConfig};
use ebsim_kms_api::Region;
use serde_json::{Value, json};

const ROOT: &str = "arn:aws:iam::111122223333:root";

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    kms: Arc<Kms>,
    ec2: Ec2,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let kms = Arc::new(Kms::open(&dir, KmsConfig::default()).unwrap());
    let ec2 = Ec2::open(&dir, kms.clone(), Region::default()).unwrap();
    Fixture {
        _tmp: tmp,
        dir,
        kms,
        ec2,
    }
}

impl Fixture {
    fn call(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, QueryError> {
        let mut body = format!("Action={action}&Version=2016-11-15");
        for (k, v) in params {
            body.push_str(&format!(
                "&{k}={}",
                v.replace(':', "%3A").replace('/', "%2F")
            ));
        }
        let req = QueryRequest::parse(body.as_bytes()).unwrap();
        let out = self.ec2.handle(&Caller::new(ROOT), &req, "rid")?;
        Ok(ebsim_iam::xml::leaves(&out).unwrap())
    }

    fn ok(&self, action: &str, params: &[(&str, &str)]) -> Vec<(String, String)> {
        self.call(action, params)
            .unwrap_or_else(|e| panic!("{action}: {e}"))
    }

    fn code(&self, action: &str, params: &[(&str, &str)]) -> &'static str {
        self.call(action, params).expect_err("refused").code
    }

    fn kms(&self, op: &str, body: Value) -> Value {
        let out = self
            .kms
            .call(&Caller::new(ROOT), op, body.to_string().as_bytes())
            .unwrap();
        serde_json::from_slice(&out).unwrap()
    }
}

fn leaf<'a>(l: &'a [(String, String)], name: &str) -> &'a str {
    l.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {l:?}"))
}

#[test]
fn attach_grants_the_instance_session_and_detach_retires_it() {
    let f = fixture();
    let key = f.kms("CreateKey", json!({}))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = f.ok(
        "CreateVolume",
        &[
            ("Size", "1"),
            ("AvailabilityZone", "us-west-2a"),
            ("Encrypted", "true"),
            ("KmsKeyId", &key),
        ],
    );
    let vol = leaf(&v, "volumeId").to_owned();
    assert_eq!(leaf(&v, "status"), "creating");
    assert_eq!(leaf(&v, "kmsKeyId"), key);
    let r = f.ok(
        "RunInstances",
        &[
            ("ImageId", "ami-12345678"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
        ],
    );
    let inst = leaf(&r, "instanceId").to_owned();
    f.ok(
        "AttachVolume",
        &[
            ("VolumeId", &vol),
            ("InstanceId", &inst),
            ("Device", "/dev/sdf"),
        ],
    );
    let session = format!("arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/{inst}");
    let grants = f.kms("ListGrants", json!({"KeyId": key}))["Grants"].clone();
    assert_eq!(grants.as_array().unwrap().len(), 1, "{grants}");
    assert_eq!(grants[0]["GranteePrincipal"], session.as_str());
    assert_eq!(
        grants[0]["Constraints"]["EncryptionContextSubset"],
        json!({"aws:ebs:id": vol})
    );
    assert_eq!(
        ebsim_ec2::attached_instance_principal(&f.dir, &vol).unwrap(),
        Some(session.clone())
    );
    let st = Ec2State::load(&f.dir).unwrap();
    let (_, rec) = st.find_volume(&vol).unwrap();
    assert_eq!(rec.attachment.as_ref().unwrap().instance_id, inst);
    assert_eq!(f.code("DeleteVolume", &[("VolumeId", &vol)]), "VolumeInUse");
    f.ok("DetachVolume", &[("VolumeId", &vol)]);
    assert_eq!(
        f.kms("ListGrants", json!({"KeyId": key}))["Grants"],
        json!([])
    );
    assert_eq!(
        ebsim_ec2::attached_instance_principal(&f.dir, &vol).unwrap(),
        None
    );
    f.ok("DeleteVolume", &[("VolumeId", &vol)]);
    assert!(!f.dir.join("volumes").join(&vol).exists());
    assert_eq!(
        f.code("DescribeVolumes", &[("VolumeId.1", &vol)]),
        "InvalidVolume.NotFound"
    );
}

#[test]
fn a_disabled_key_leaves_the_volume_in_error_with_an_event() {
    let f = fixture();
    let key = f.kms("CreateKey", json!({}))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    f.kms("DisableKey", json!({"KeyId": key}));
    let v = f.ok(
        "CreateVolume",
        &[
            ("Size", "1"),
            ("AvailabilityZone", "us-west-2a"),
            ("Encrypted", "true"),
            ("KmsKeyId", &key),
        ],
    );
    let vol = leaf(&v, "volumeId").to_owned();
    let d = f.ok("DescribeVolumes", &[("VolumeId.1", &vol)]);
    assert_eq!(leaf(&d, "status"), "error");
    let events = std::fs::read_to_string(f.dir.join(EVENTS_FILE)).unwrap();
    let last: Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    assert_eq!(last["detail"]["event"], "createVolume");
    assert_eq!(last["detail"]["cause"], format!("{key} is disabled."));
    assert!(
        !f.dir.join("volumes").join(&vol).exists(),
        "no files for a failed volume"
    );
}

#[test]
fn bad_input_changes_nothing() {
    let f = fixture();
    f.ok(
        "CreateVolume",
        &[("Size", "1"), ("AvailabilityZone", "us-west-2a")],
    );
    let before = Ec2State::load(&f.dir).unwrap();
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case<'_>] = &[
        (
            "DeleteVolume",
            &[("VolumeId", "snap-0123456789abcdef0")],
            "InvalidParameterValue",
        ),
        (
            "DeleteVolume",
            &[("VolumeId", "vol-zz")],
            "InvalidVolumeID.Malformed",
        ),
        ("DeleteVolume", &[], "MissingParameter"),
        (
            "CreateVolume",
            &[
                ("Size", "1"),
                ("AvailabilityZone", "us-west-2a"),
                ("Encrypted", "false"),
                ("KmsKeyId", "alias/x"),
            ],
            "InvalidParameterDependency",
        ),
        (
            "CreateVolume",
            &[
                ("Size", "99999999999999999999"),
                ("AvailabilityZone", "us-west-2a"),
            ],
            "InvalidParameterValue",
        ),
        (
            "CreateVolume",
            &[
                ("Size", "1"),
                ("AvailabilityZone", "us-west-2a"),
                ("Encrypted", "yes"),
            ],
            "InvalidParameterValue",
        ),
        (
            "CreateVolume",
            &[("Size", "1"), ("AvailabilityZone", "eu-west-1a")],
            "InvalidParameterValue",
        ),
        (
            "CreateVolume",
            &[
                ("Size", "1"),
                ("AvailabilityZone", "us-west-2a"),
                ("TagSpecification.1.ResourceType", "instance"),
            ],
            "InvalidParameterValue",
        ),
        (
            "DescribeVolumes",
            &[("Filter.1.Name", "colour"), ("Filter.1.Value.1", "x")],
            "InvalidParameterValue",
        ),
        (
            "DescribeVolumes",
            &[("Filter.1.Name", "status")],
            "InvalidParameterValue",
        ),
        (
            "DescribeVolumes",
            &[("VolumeId.2", "vol-0123456789abcdef0")],
            "InvalidParameterValue",
        ),
        (
            "DescribeVolumes",
            &[("MaxResults", "501")],
            "InvalidParameterValue",
        ),
        (
            "StopInstances",
            &[("InstanceId.1", "i-0123456789abcdef0")],
            "InvalidInstanceID.NotFound",
        ),
        (
            "RunInstances",
            &[("ImageId", "ami-1"), ("MinCount", "1"), ("MaxCount", "21")],
            "InvalidParameterValue",
        ),
        (
            "CreateSnapshot",
            &[("VolumeId", "vol-0123456789abcdef0")],
            "InvalidVolume.NotFound",
        ),
        ("NoSuchAction", &[], "InvalidAction"),
    ];
    for (action, params, code) in cases {
        assert_eq!(f.code(action, params), *code, "{action} {params:?}");
    }
    assert_eq!(Ec2State::load(&f.dir).unwrap(), before);
}

#[test]
fn iam_policies_decide_ec2_actions() {
    let f = fixture();
    let user = "arn:aws:iam::111122223333:user/nobody";
    let req = QueryRequest::parse(b"Action=DescribeVolumes&Version=2016-11-15").unwrap();
    let e = f
        .ec2
        .handle(&Caller::new(user), &req, "r")
        .expect_err("denied");
    assert_eq!((e.code, e.status), ("UnauthorizedOperation", 403));
    assert!(e.message.contains("ec2:DescribeVolumes"), "{}", e.message);
    let dry = QueryRequest::parse(b"Action=DescribeVolumes&DryRun=true").unwrap();
    let e = f
        .ec2
        .handle(&Caller::new(ROOT), &dry, "r")
        .expect_err("dry run");
    assert_eq!((e.code, e.status), ("DryRunOperation", 412));
}

#[test]
fn a_workspace_volume_is_not_deleted_through_ec2() {
    let f = fixture();
    let v = f.ok(
        "CreateVolume",
        &[
            ("Size", "1"),
            ("AvailabilityZone", "us-west-2a"),
            ("Encrypted", "true"),
        ],
    );
    let vol = leaf(&v, "volumeId").to_owned();
    let root = ebsim_volume::VolumeRoot::dir(&f.dir);
    let mut meta = root.load(&vol).unwrap();
    meta.state = ebsim_volume::VolumeState::InUse;
    meta.attached_to = Some("ws-0123456789".to_owned());
    root.update(&meta).unwrap();
    assert_eq!(f.code("DeleteVolume", &[("VolumeId", &vol)]), "VolumeInUse");
    assert!(f.dir.join("volumes").join(&vol).is_dir());
    // Adopted when the service opens: a WorkSpace's volume is `in-use`.
    std::fs::remove_file(ebsim_ec2::state_file(&f.dir)).unwrap();
    let d = f.ok("DescribeVolumes", &[("VolumeId.1", &vol)]);
    assert_eq!(leaf(&d, "status"), "in-use");
}
