//! The attach/detach simulation end to end against the real KMS, on both transports (in
//! process, and HTTP to an ebsim-kms-server on 127.0.0.1:0): WorkSpaces launch, I/O, reboot,
//! rebuild, terminate; the failure cases; assertions on the audit trail.

use std::sync::Arc;

use ebsim::kms::{Kms, KmsConfig};
use ebsim::{CreateVolumeRequest, Identity, KmsClient, LaunchRequest, Simulator};
use serde_json::{Value, json};

const SID: &str = "S-1-5-21-277731876-1789304096-451871588-1107";
const DIR: &str = "d-1234abcd01";

#[derive(Clone, Copy, Debug)]
enum T {
    InProcess,
    Http,
}

struct Env {
    sim: Simulator,
    _dir: tempfile::TempDir,
    _server: Option<ebsim::kms_server::ServerHandle>,
}

fn env(t: T) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let kms = Arc::new(Kms::open(&dir.path().join("kmsdata"), KmsConfig::default()).expect("kms"));
    let (client, server) = match t {
        T::InProcess => (KmsClient::in_process(kms), None),
        T::Http => {
            let server = ebsim::kms_server::KmsServer::bind(
                kms,
                ebsim::kms_server::ServerConfig::new("127.0.0.1:0".parse().expect("addr")),
            )
            .expect("bind")
            .spawn()
            .expect("spawn");
            let cfg = ebsim::kms_client::HttpConfig::new(&server.url())
                .expect("url")
                .service_credential_from_data_dir(&dir.path().join("kmsdata"))
                .expect("service credential");
            (KmsClient::http(cfg).expect("client"), Some(server))
        }
    };
    let sim = Simulator::with_client(client, Some(&dir.path().join("data")));
    Env {
        sim,
        _dir: dir,
        _server: server,
    }
}

fn events(sim: &Simulator, name: &str) -> Vec<Value> {
    sim.audit_records()
        .expect("audit")
        .into_iter()
        .filter(|r| r["eventName"] == name)
        .collect()
}

fn customer_key(sim: &Simulator) -> String {
    let out = sim
        .kms()
        .call(&Identity::Default, "CreateKey", json!({}))
        .expect("CreateKey");
    out["KeyMetadata"]["Arn"].as_str().expect("arn").to_owned()
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod in_process { $( #[test] fn $name() { super::$name(super::T::InProcess); } )* }
        mod over_http { $( #[test] fn $name() { super::$name(super::T::Http); } )* }
    };
}

both!(
    retired_grant_and_wrong_principal,
    launch_io_reboot_rebuild_terminate,
    key_disabled_while_attached,
    changed_context_and_bad_keys
);

fn launch_io_reboot_rebuild_terminate(t: T) {
    let e = env(t);
    let ws = e
        .sim
        .workspaces()
        .launch(&LaunchRequest::new(SID, DIR))
        .expect("launch");
    e.sim
        .workspaces()
        .with_volumes(&ws.workspace_id, |_r, u| {
            u.write_at(4097, b"survives reboots")
        })
        .expect("running")
        .expect("write");
    let ws = e.sim.workspaces().reboot(&ws.workspace_id).expect("reboot");
    let ws = e
        .sim
        .workspaces()
        .rebuild(&ws.workspace_id)
        .expect("rebuild");
    let mut b = [0u8; 16];
    e.sim
        .workspaces()
        .with_volumes(&ws.workspace_id, |_r, u| u.read_at(4097, &mut b))
        .expect("running")
        .expect("read");
    assert_eq!(&b, b"survives reboots");
    let gdk = events(&e.sim, "GenerateDataKeyWithoutPlaintext");
    assert_eq!(gdk.len(), 3, "root, user, rebuilt root");
    assert!(gdk.iter().all(
        |r| r["requestParameters"]["encryptionContext"]["aws:workspaces:sid-directoryid"]
            == format!("[{SID}]@[{DIR}]")
    ));
    let decrypts = events(&e.sim, "Decrypt");
    assert!(
        decrypts.len() >= 6,
        "launch, reboot, rebuild attach both volumes"
    );
    assert!(decrypts.iter().all(|r| {
        r["userIdentity"]["arn"]
            .as_str()
            .is_some_and(|a| a.contains("aws:ec2-infrastructure/vol-"))
    }));

    let user = e
        .sim
        .ebs()
        .volumes()
        .load(&ws.user_volume_id)
        .expect("meta");
    e.sim
        .workspaces()
        .terminate(&ws.workspace_id)
        .expect("terminate");
    assert_eq!(
        events(&e.sim, "RetireGrant").len(),
        4,
        "three volume grants and the WorkSpace's"
    );
    let err = e
        .sim
        .kms()
        .decrypt_data_key(
            &Identity::Principal(user.grantee_principal.clone().expect("grantee")),
            &user.wrapped_key().expect("blob"),
            &user.context(),
        )
        .expect_err("grants retired");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("AccessDeniedException")
    );
}

fn key_disabled_while_attached(t: T) {
    let e = env(t);
    let key = customer_key(&e.sim);
    let mut req = CreateVolumeRequest::new(1 << 20);
    req.key_id = Some(key.clone());
    let meta = e.sim.ebs().create_volume(&req).expect("create");
    let vol = e.sim.ebs().attach(&meta.volume_id).expect("attach");
    e.sim
        .kms()
        .call(&Identity::Default, "DisableKey", json!({"KeyId": key}))
        .expect("disable");
    vol.write_at(0, b"still here").expect("I/O continues");
    vol.detach().expect("detach");
    let err = e.sim.ebs().attach(&meta.volume_id).expect_err("disabled");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("DisabledException"),
        "{err}"
    );
    e.sim
        .kms()
        .call(&Identity::Default, "EnableKey", json!({"KeyId": key}))
        .expect("enable");
    e.sim
        .ebs()
        .attach(&meta.volume_id)
        .expect("attach again")
        .detach()
        .expect("detach");
    e.sim
        .kms()
        .call(
            &Identity::Default,
            "ScheduleKeyDeletion",
            json!({"KeyId": key, "PendingWindowInDays": 7}),
        )
        .expect("schedule");
    let err = e
        .sim
        .ebs()
        .attach(&meta.volume_id)
        .expect_err("pending deletion");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("KMSInvalidStateException"),
        "{err}"
    );
}

fn changed_context_and_bad_keys(t: T) {
    let e = env(t);
    // A customer managed key: its default key policy lets the account root use it.
    let mut req = CreateVolumeRequest::new(1 << 20);
    req.key_id = Some(customer_key(&e.sim));
    let meta = e.sim.ebs().create_volume(&req).expect("create");
    let mut ctx = meta.encryption_context.clone();
    ctx.insert("aws:ebs:id".into(), "vol-0000000000000000f".into());
    // The account root may use the key (key policy), but not with another context.
    let err = e
        .sim
        .kms()
        .decrypt_data_key(
            &Identity::Default,
            &meta.wrapped_key().expect("blob"),
            &ebsim::EncryptionContext::from_map(ctx),
        )
        .expect_err("changed context");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("InvalidCiphertextException")
    );
    let rsa = e
        .sim
        .kms()
        .call(
            &Identity::Default,
            "CreateKey",
            json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
        )
        .expect("rsa");
    let mut req = CreateVolumeRequest::new(1 << 20);
    req.key_id = rsa["KeyMetadata"]["Arn"].as_str().map(str::to_owned);
    let err = e.sim.ebs().create_volume(&req).expect_err("asymmetric");
    assert!(err.to_string().contains("RSA_2048"), "{err}");
    e.sim
        .inject_fault("Decrypt", ebsim::Fault::Outage)
        .expect("fault");
    let err = e.sim.ebs().attach(&meta.volume_id).expect_err("outage");
    assert!(err.to_string().contains("outage"), "{err}");
    e.sim.clear_faults().expect("clear");
    e.sim
        .ebs()
        .attach(&meta.volume_id)
        .expect("attach")
        .detach()
        .expect("detach");
}

fn retired_grant_and_wrong_principal(t: T) {
    let e = env(t);
    let a = e
        .sim
        .ebs()
        .create_volume(&CreateVolumeRequest::new(1 << 20))
        .expect("create a");
    let b = e
        .sim
        .ebs()
        .create_volume(&CreateVolumeRequest::new(1 << 20))
        .expect("create b");
    // Volume b's EC2 session cannot unwrap volume a's key: a's grant names another grantee.
    let err = e
        .sim
        .kms()
        .decrypt_data_key(
            &Identity::Principal(b.grantee_principal.clone().expect("grantee")),
            &a.wrapped_key().expect("blob"),
            &a.context(),
        )
        .expect_err("wrong principal");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("AccessDeniedException")
    );
    // Retire a's grant behind EBS's back: the next attach fails, typed, nothing changes.
    e.sim
        .kms()
        .call(
            &Identity::OnBehalfOf {
                principal: "arn:aws:iam::111122223333:root".into(),
                via_service: "ec2.us-west-2.amazonaws.com".into(),
            },
            "RetireGrant",
            json!({"KeyId": a.kms_key_arn, "GrantId": a.grant_id}),
        )
        .expect("retire");
    let err = e.sim.ebs().attach(&a.volume_id).expect_err("grant retired");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("AccessDeniedException"),
        "{err}"
    );
    assert!(err.to_string().contains("cannot be attached"), "{err}");
    assert_eq!(e.sim.ebs().volumes().load(&a.volume_id).expect("meta"), a);
    e.sim
        .ebs()
        .attach(&b.volume_id)
        .expect("b unaffected")
        .detach()
        .expect("detach");
}
