//! The EC2 service: one entry point per request (version, operation table, authorization of
//! `ec2:ACTION` through the KMS's IAM policy engine, DryRun), the state it owns, the KMS
//! calls EBS makes and the events it records (docs/ec2.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ebsim_iam::{QueryError, QueryRequest, QueryService};
use ebsim_kms::{Caller, Kms};
use ebsim_kms_api::Region;
use ebsim_kms_client::{ClientError, Identity, KmsClient};
use ebsim_volume::VolumeRoot;
use parking_lot::Mutex;

use crate::error::{dry_run, internal, unauthorized};
use crate::ops::operation;
use crate::state::{Ec2State, Scope, scope_key};

/// The EC2 service over one data dir's KMS and volumes. It owns `DIR/ec2/state.json` while
/// it runs (docs/formats.md, "One data dir, several processes").
pub struct Ec2 {
    pub(crate) kms: Arc<Kms>,
    pub(crate) client: KmsClient,
    pub(crate) volumes: VolumeRoot,
    pub(crate) dir: PathBuf,
    pub(crate) default_region: Region,
    /// Where snapshots are kept.
    pub(crate) snapshot_location: ebsim_snapshot::StoreLocation,
    /// Held while a request reads and writes `DIR/ec2/state.json`. The state is read from
    /// the file at each request, so that a reset or a restored saved state is what the next
    /// request sees.
    pub(crate) lock: Mutex<()>,
    /// EBS direct: the snapshots being written and StartSnapshot's client tokens.
    pub(crate) direct: crate::direct::DirectState,
}

impl std::fmt::Debug for Ec2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2")
            .field("dir", &self.dir)
            .field("default_region", &self.default_region)
            .finish_non_exhaustive()
    }
}

/// One request in progress: who, where, what.
pub(crate) struct Cx<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) req: &'a QueryRequest,
    pub(crate) account: String,
    pub(crate) region: Region,
    pub(crate) rid: &'a str,
}

impl Cx<'_> {
    /// The state key of the caller's account in the request's region.
    pub(crate) fn scope_key(&self) -> String {
        scope_key(&self.account, self.region.as_str())
    }

    /// `ec2.<region>.amazonaws.com`, the `kms:ViaService` of EBS's forwarded calls.
    pub(crate) fn via_service(&self) -> String {
        format!("ec2.{}.amazonaws.com", self.region.as_str())
    }

    /// The caller, as EBS forwards its request to KMS.
    pub(crate) fn on_behalf(&self) -> Identity {
        Identity::OnBehalfOf {
            principal: self.caller.principal.clone(),
            via_service: self.via_service(),
        }
    }

    /// An ARN of this account and region: `arn:aws:ec2:REGION:ACCOUNT:KIND/ID`.
    pub(crate) fn arn(&self, kind: &str, id: &str) -> String {
        format!(
            "arn:aws:ec2:{}:{}:{kind}/{id}",
            self.region.as_str(),
            self.account
        )
    }

    /// The zones of the region: `<region>a`, `b`, `c`.
    pub(crate) fn zones(&self) -> [String; 3] {
        let r = self.region.as_str();
        [format!("{r}a"), format!("{r}b"), format!("{r}c")]
    }
}

/// The principal an instance's attachments decrypt as: its EC2 infrastructure session.
pub fn instance_principal(account: &str, instance_id: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/aws:ec2-infrastructure/{instance_id}")
}

impl Ec2 {
    /// The EC2 service of data dir `dir`, calling `kms` in process as EBS does; `region` is
    /// the region of requests whose signature names none.
    ///
    /// # Errors
    /// A message when `DIR/ec2/state.json` cannot be read.
    pub fn open(dir: &Path, kms: Arc<Kms>, region: Region) -> Result<Self, String> {
        let mut state = Ec2State::load(dir)?;
        let volumes = VolumeRoot::dir(dir);
        if crate::adopt::reconcile(
            &mut state,
            &volumes,
            &kms.account_of(&Caller::new("")),
            region,
        ) {
            state.save(dir)?;
        }
        Ok(Self {
            client: KmsClient::in_process(kms.clone()),
            kms,
            volumes: VolumeRoot::dir(dir),
            dir: dir.to_owned(),
            default_region: region,
            snapshot_location: ebsim_snapshot::StoreLocation::DataDir,
            lock: Mutex::new(()),
            direct: crate::direct::DirectState::default(),
        })
    }

    /// Keeps snapshots at `location` (`--snapshot-store`) rather than under `DIR/snapshots/`.
    #[must_use]
    pub fn with_snapshot_store(mut self, location: ebsim_snapshot::StoreLocation) -> Self {
        self.snapshot_location = location;
        self
    }

    /// The state as it is now.
    ///
    /// # Errors
    /// A message when `DIR/ec2/state.json` cannot be read.
    pub fn current_state(&self) -> Result<Ec2State, String> {
        let _guard = self.lock.lock();
        Ec2State::load(&self.dir)
    }

    /// The KMS client in `cx`'s region.
    pub(crate) fn kms_in(&self, cx: &Cx<'_>) -> KmsClient {
        self.client.in_region(cx.region)
    }

    /// Answers one EC2 request.
    ///
    /// # Errors
    /// The EC2 error: `InvalidAction`, `UnauthorizedOperation`, `DryRunOperation`, or the
    /// operation's own.
    pub fn handle(
        &self,
        caller: &Caller,
        req: &QueryRequest,
        rid: &str,
    ) -> Result<Vec<u8>, QueryError> {
        let op = operation(req.action()).ok_or_else(|| QueryError::invalid_action(req.action()))?;
        if let Some(v) = req.version()
            && v != QueryService::Ec2.version()
        {
            return Err(QueryError::new(
                "InvalidAction",
                400,
                format!(
                    "Could not find operation {} for version {}",
                    op.name,
                    ebsim_iam::names::echo(v)
                ),
            ));
        }
        if !op.implemented {
            return Err(QueryError::new(
                "UnsupportedOperation",
                400,
                format!(
                    "{} is not served yet: snapshots come with the snapshot engine.",
                    op.name
                ),
            ));
        }
        if caller.via_service.is_some() {
            return Err(unauthorized(
                "You are not authorized to perform this operation: a forwarding service cannot call EC2.",
            ));
        }
        let cx = Cx {
            caller,
            req,
            account: self.kms.account_of(caller),
            region: caller.region.unwrap_or(self.default_region),
            rid,
        };
        let resource = self.resource_of(&cx);
        let action = format!("ec2:{}", op.name);
        self.kms
            .authorize_action(caller, &action, &resource)
            .map_err(|why| {
                unauthorized(format!(
                    "You are not authorized to perform this operation. {why}"
                ))
            })?;
        if op.dry_run && crate::params::bool(req, "DryRun")? == Some(true) {
            return Err(dry_run());
        }
        let _guard = self.lock.lock();
        let mut st = Ec2State::load(&self.dir).map_err(internal)?;
        // Volumes made outside the server meanwhile (restored by `ebsim volume create
        // --snapshot`, say) are recorded before the request sees the state.
        let adopted = crate::adopt::reconcile(
            &mut st,
            &self.volumes,
            &self.kms.account_of(&Caller::new("")),
            self.default_region,
        );
        let out = self.dispatch(&cx, op.name, &mut st)?;
        if op.mutates || adopted {
            st.save(&self.dir).map_err(internal)?;
        }
        Ok(out)
    }

    /// The resource an action is authorized on: the volume's or instance's ARN when the
    /// request names one, else `*`.
    fn resource_of(&self, cx: &Cx<'_>) -> String {
        let one = |name: &str, kind: &str, id_kind| {
            cx.req
                .get(name)
                .filter(|id| crate::ids::is_id(id_kind, id))
                .map(|id| cx.arn(kind, id))
        };
        one("VolumeId", "volume", crate::ids::IdKind::Volume)
            .or_else(|| one("InstanceId", "instance", crate::ids::IdKind::Instance))
            .unwrap_or_else(|| "*".to_owned())
    }

    fn dispatch(
        &self,
        cx: &Cx<'_>,
        action: &str,
        st: &mut Ec2State,
    ) -> Result<Vec<u8>, QueryError> {
        let key = cx.scope_key();
        match action {
            "DescribeVolumes" => return self.describe_volumes(cx, scope_ref(st, &key)),
            "DescribeInstances" => return self.describe_instances(cx, scope_ref(st, &key)),
            "DescribeSnapshots" => return self.describe_snapshots(cx, scope_ref(st, &key)),
            _ => {}
        }
        let scope = st.scope_mut(&cx.account, cx.region.as_str());
        match action {
            "CreateVolume" => self.create_volume(cx, scope),
            "DeleteVolume" => self.delete_volume(cx, scope),
            "ModifyVolume" => self.modify_volume(cx, scope),
            "AttachVolume" => self.attach_volume(cx, scope),
            "DetachVolume" => self.detach_volume(cx, scope),
            "RunInstances" => self.run_instances(cx, scope),
            "StartInstances" | "StopInstances" | "TerminateInstances" => {
                self.change_instances(cx, action, scope)
            }
            "CreateSnapshot" => self.create_snapshot(cx, scope),
            "DeleteSnapshot" => self.delete_snapshot(cx, scope),
            "CopySnapshot" => self.copy_snapshot(cx, scope),
            _ => self.encryption_by_default(cx, action, scope),
        }
    }

    /// Appends an EventBridge-shaped `EBS Volume Notification` to `DIR/events.jsonl`
    /// (docs/formats.md, "events.jsonl").
    pub(crate) fn volume_event(
        &self,
        cx: &Cx<'_>,
        event: &str,
        volume_id: &str,
        key_arn: &str,
        cause: &str,
    ) {
        let record = serde_json::json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": "EBS Volume Notification",
            "source": "aws.ec2",
            "account": cx.account,
            "time": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "region": cx.region.as_str(),
            "resources": [cx.arn("volume", volume_id), key_arn],
            "detail": {
                "event": event,
                "result": "failed",
                "cause": cause,
                "request-id": cx.rid,
            }
        });
        if let Err(e) = append_line(&self.dir.join(EVENTS_FILE), &record.to_string()) {
            tracing::warn!("cannot record an EBS event in {EVENTS_FILE}: {e}");
        }
    }
}

/// The event log, `DIR/events.jsonl`.
pub const EVENTS_FILE: &str = "events.jsonl";

fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true).mode(0o600);
    let mut f = ebsim_data_dir::open_regular(path, &mut options)?;
    let mut bytes = line.as_bytes().to_vec();
    bytes.push(b'\n');
    f.write_all(&bytes)
}

fn scope_ref<'a>(st: &'a Ec2State, key: &str) -> &'a Scope {
    static EMPTY: std::sync::OnceLock<Scope> = std::sync::OnceLock::new();
    st.scopes
        .get(key)
        .unwrap_or_else(|| EMPTY.get_or_init(Scope::default))
}

/// Why a key cannot be used, as EBS's events put it: `<key ARN> is disabled.`, `… is
/// pending deletion.`, or the KMS error.
pub(crate) fn unusable_cause(key: &str, e: &ClientError) -> String {
    use ebsim_kms_api::ErrorType as T;
    match e.kms_error_type() {
        Some(T::DisabledException) => format!("{key} is disabled."),
        Some(T::KMSInvalidStateException) if e.to_string().contains("Import") => {
            format!("{key} is pending import.")
        }
        Some(T::KMSInvalidStateException) => format!("{key} is pending deletion."),
        _ => format!("{key}: {e}"),
    }
}

impl ebsim_kms_server::QueryHandler for Ec2 {
    fn handle(
        &self,
        caller: &Caller,
        request: &QueryRequest,
        request_id: &str,
    ) -> Result<Vec<u8>, QueryError> {
        Ec2::handle(self, caller, request, request_id)
    }
}
