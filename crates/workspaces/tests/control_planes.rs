//! EBS and WorkSpaces control planes against a KMS double with grant semantics.

use std::sync::Arc;

use ebsim_kms_client::{Identity, KmsClient};
use ebsim_test_support::kms_double as support;
use ebsim_volume::{VolumeError, VolumeRoot, VolumeState};
use ebsim_workspaces::{
    ControlPlaneError, CreateVolumeRequest, Ebs, LaunchRequest, WorkSpaces, WorkspaceState,
};
use support::{KmsDouble, Transport};

const SID: &str = "S-1-5-21-277731876-1789304096-451871588-1107";
const DIR: &str = "d-1234abcd01";

type Server = Option<ebsim_kms_server::ServerHandle>;

fn setup(dir: Option<&std::path::Path>, t: Transport) -> (Arc<KmsDouble>, WorkSpaces, Server) {
    let kms = Arc::new(KmsDouble::default());
    let (client, server) = support::client(&kms, t);
    let volumes = dir.map_or_else(VolumeRoot::in_memory, VolumeRoot::dir);
    let ebs = Ebs::new(client, volumes, "us-west-2");
    (kms, WorkSpaces::new(ebs, "us-west-2", dir), server)
}

macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $( #[test] fn $name() { super::$name(super::Transport::InProcess); } )*
        }
        mod over_http {
            $( #[test] fn $name() { super::$name(super::Transport::Http); } )*
        }
    };
}

both_transports!(
    ebs_create_attach_reattach_delete,
    asymmetric_keys_are_refused_by_spec,
    disabled_key_keeps_attached_volume_working_but_blocks_next_attach,
    workspace_launch_reboot_rebuild_terminate,
    admin_without_create_grant_is_refused_and_nothing_is_made,
);

fn ebs_create_attach_reattach_delete(t: Transport) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (kms, ws, _server) = setup(Some(dir.path()), t);
    let ebs = ws.ebs();
    let meta = ebs
        .create_volume(&CreateVolumeRequest::new(1 << 20))
        .expect("create");
    assert!(meta.volume_id.len() == 21 && meta.volume_id.starts_with("vol-"));
    let grant = &kms.grants()[0];
    assert_eq!(Some(&grant.id), meta.grant_id.as_ref());
    assert_eq!(
        grant.grantee,
        format!(
            "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/{}",
            meta.volume_id
        )
    );
    assert_eq!(grant.ops, ["Decrypt"]);
    assert_eq!(grant.subset.get("aws:ebs:id"), Some(&meta.volume_id));
    // GDKWP and CreateGrant were made on behalf of the caller via EC2.
    let calls = kms.0.lock().expect("lock").calls.clone();
    assert!(
        calls
            .iter()
            .any(|(op, p, via)| op == "GenerateDataKeyWithoutPlaintext"
                && p.ends_with(":root")
                && via.as_deref() == Some("ec2.us-west-2.amazonaws.com"))
    );

    let vol = ebs.attach(&meta.volume_id).expect("attach");
    vol.write_at(12345, b"persisted").expect("write");
    vol.detach().expect("detach");
    let calls = kms.0.lock().expect("lock").calls.clone();
    let (op, p, _) = calls.last().expect("a call");
    assert_eq!(
        (op.as_str(), p.as_str()),
        ("Decrypt", grant.grantee.as_str()),
        "attach decrypts as the EC2 infrastructure session"
    );

    let vol = ebs.attach(&meta.volume_id).expect("re-attach");
    let mut b = [0u8; 9];
    vol.read_at(12345, &mut b).expect("read");
    assert_eq!(&b, b"persisted");
    assert!(
        matches!(ebs.delete_volume(&meta.volume_id, None), Err(ControlPlaneError::Volume(e)) if matches!(*e, VolumeError::InUse(_)))
    );
    assert!(!kms.grants()[0].retired, "a refused delete keeps the grant");
    vol.detach().expect("detach");
    ebs.delete_volume(&meta.volume_id, None).expect("delete");
    assert!(kms.grants()[0].retired);
    assert!(!dir.path().join("volumes").join(&meta.volume_id).exists());
}

fn asymmetric_keys_are_refused_by_spec(t: Transport) {
    let (kms, ws, _server) = setup(None, t);
    let rsa = kms.create_key("RSA_2048");
    let mut req = CreateVolumeRequest::new(1 << 20);
    req.key_id = Some(rsa.clone());
    let err = ws.ebs().create_volume(&req).expect_err("asymmetric");
    assert!(
        err.to_string().contains("RSA_2048") && err.to_string().contains("symmetric"),
        "{err}"
    );
    assert!(kms.grants().is_empty(), "no grant made");
    assert!(ws.ebs().volumes().list().expect("list").volumes.is_empty());
}

fn disabled_key_keeps_attached_volume_working_but_blocks_next_attach(t: Transport) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (kms, ws, _server) = setup(Some(dir.path()), t);
    let key = kms.create_key("SYMMETRIC_DEFAULT");
    let mut req = CreateVolumeRequest::new(1 << 20);
    req.key_id = Some(key.clone());
    let meta = ws.ebs().create_volume(&req).expect("create");
    let vol = ws.ebs().attach(&meta.volume_id).expect("attach");
    kms.set_enabled(&key, false);
    vol.write_at(0, b"still works")
        .expect("write while disabled");
    vol.detach().expect("detach");
    let meta_file = dir
        .path()
        .join("volumes")
        .join(&meta.volume_id)
        .join("metadata.json");
    let before = std::fs::read(&meta_file).expect("read");
    let err = ws.ebs().attach(&meta.volume_id).expect_err("disabled");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("DisabledException")
    );
    assert!(err.to_string().contains("cannot be attached"), "{err}");
    assert_eq!(std::fs::read(&meta_file).expect("read"), before);
    kms.set_enabled(&key, true);
    let vol = ws
        .ebs()
        .attach(&meta.volume_id)
        .expect("attach after enable");
    let mut b = [0u8; 11];
    vol.read_at(0, &mut b).expect("read");
    assert_eq!(&b, b"still works");
}

fn workspace_launch_reboot_rebuild_terminate(t: Transport) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (kms, ws, _server) = setup(Some(dir.path()), t);
    let w = ws.launch(&LaunchRequest::new(SID, DIR)).expect("launch");
    assert!(ebsim_workspaces::is_workspace_id(&w.workspace_id));
    let grants = kms.grants();
    assert_eq!(grants.len(), 3, "WorkSpace grant + two volume grants");
    let pair = format!("[{SID}]@[{DIR}]");
    assert_eq!(
        grants[0].subset.get("aws:workspaces:sid-directoryid"),
        Some(&pair)
    );
    assert!(grants[0].ops.iter().any(|o| o == "CreateGrant"));
    for child in &grants[1..] {
        assert_eq!(
            child.created_by, w.grantee_principal,
            "volume grants are children of the WorkSpace grant"
        );
        assert_eq!(
            child.subset.get("aws:workspaces:sid-directoryid"),
            Some(&pair)
        );
    }
    let user_meta = ws.ebs().volumes().load(&w.user_volume_id).expect("meta");
    assert_eq!(user_meta.state, VolumeState::InUse);
    assert_eq!(
        user_meta
            .encryption_context
            .get("aws:workspaces:sid-directoryid"),
        Some(&pair)
    );
    assert!(
        dir.path()
            .join("workspaces")
            .join(format!("{}.json", w.workspace_id))
            .is_file()
    );

    ws.with_volumes(&w.workspace_id, |root, user| {
        root.write_at(0, b"root data").expect("write");
        user.write_at(4096, b"user data").expect("write");
    })
    .expect("running");

    let w = ws.reboot(&w.workspace_id).expect("reboot");
    let read = |ws: &WorkSpaces, id: &str| {
        ws.with_volumes(id, |root, user| {
            let (mut a, mut b) = ([0u8; 9], [0u8; 9]);
            root.read_at(0, &mut a).expect("read");
            user.read_at(4096, &mut b).expect("read");
            (a, b)
        })
        .expect("running")
    };
    assert_eq!(read(&ws, &w.workspace_id), (*b"root data", *b"user data"));

    let old_root = w.root_volume_id.clone();
    let w = ws.rebuild(&w.workspace_id).expect("rebuild");
    assert_ne!(w.root_volume_id, old_root);
    assert!(
        ws.ebs().volumes().load(&old_root).is_err(),
        "old root deleted"
    );
    assert_eq!(
        read(&ws, &w.workspace_id),
        ([0u8; 9], *b"user data"),
        "new root, user volume kept"
    );

    let user_blob = ws.ebs().volumes().load(&w.user_volume_id).expect("meta");
    let w = ws.terminate(&w.workspace_id).expect("terminate");
    assert_eq!(w.state, WorkspaceState::Terminated);
    assert!(
        kms.grants().iter().all(|g| g.retired),
        "every grant retired"
    );
    // The old wrapped key is useless to EBS now.
    let client = ws.ebs().client();
    let err = client
        .decrypt_data_key(
            &Identity::Principal(user_blob.grantee_principal.clone().expect("grantee")),
            &user_blob.wrapped_key().expect("blob"),
            &user_blob.context(),
        )
        .expect_err("retired grant");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("AccessDeniedException")
    );
    assert!(matches!(
        ws.reboot(&w.workspace_id),
        Err(ControlPlaneError::WorkspaceTerminated(_))
    ));
    assert_eq!(
        ws.describe(&w.workspace_id).expect("record").state,
        WorkspaceState::Terminated
    );
}

fn admin_without_create_grant_is_refused_and_nothing_is_made(t: Transport) {
    let (kms, ws, _server) = setup(None, t);
    let key = kms.create_key("SYMMETRIC_DEFAULT");
    kms.0
        .lock()
        .expect("lock")
        .admins
        .push("arn:aws:iam::111122223333:user/admin".into());
    let mut req = LaunchRequest::new(SID, DIR);
    req.key_id = Some(key);
    req.admin = Some("arn:aws:iam::111122223333:user/intern".into());
    let err = ws.launch(&req).expect_err("no permission");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("AccessDeniedException")
    );
    assert!(kms.grants().is_empty());
    req.admin = Some("arn:aws:iam::111122223333:user/admin".into());
    let w = ws.launch(&req).expect("admin may");
    assert_eq!(w.admin, "arn:aws:iam::111122223333:user/admin");
    assert!(matches!(
        ws.launch(&LaunchRequest::new("S-1-x", DIR)),
        Err(ControlPlaneError::Context(_))
    ));
}

#[test]
fn simulator_handle_drives_the_control_planes() {
    let kms = Arc::new(KmsDouble::default());
    let sim = ebsim_workspaces::Simulator::with_client(KmsClient::in_process(kms.clone()), None);
    let w = sim
        .workspaces()
        .launch(&LaunchRequest::new(SID, DIR))
        .expect("launch");
    assert!(sim.ebs().volumes().load(&w.root_volume_id).is_ok());
    assert!(sim.data_dir().is_none());
    // The double has no admin API: the handle reports the KMS error rather than guessing.
    assert!(sim.audit_records().is_err());
    sim.workspaces()
        .terminate(&w.workspace_id)
        .expect("terminate");
    assert!(kms.grants().iter().all(|g| g.retired));
}

#[test]
fn outage_at_attach_is_retried_then_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (kms, ws, _server) = setup(Some(dir.path()), Transport::InProcess);
    let meta = ws
        .ebs()
        .create_volume(&CreateVolumeRequest::new(1 << 20))
        .expect("create");
    kms.0.lock().expect("lock").outage = true;
    let before = kms.0.lock().expect("lock").calls.len();
    let err = ws.ebs().attach(&meta.volume_id).expect_err("outage");
    assert_eq!(
        err.kms_error_type().map(|t| t.name()),
        Some("KMSInternalException")
    );
    assert!(err.to_string().contains("outage"), "{err}");
    assert_eq!(
        kms.0.lock().expect("lock").calls.len() - before,
        3,
        "bounded retries"
    );
    kms.0.lock().expect("lock").outage = false;
    ws.ebs()
        .attach(&meta.volume_id)
        .expect("attach after the outage")
        .detach()
        .expect("detach");
}
