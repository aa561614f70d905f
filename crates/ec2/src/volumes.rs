//! CreateVolume, DescribeVolumes, DeleteVolume and ModifyVolume, with the KMS calls EBS
//! makes (as docs/ec2.md tells it): CreateVolume asks for a 64-byte data
//! key (GenerateDataKeyWithoutPlaintext) on behalf of the caller; a key that cannot be used
//! leaves the volume in `error`, with an event.

use ebsim_iam::QueryError;
use ebsim_iam::xml::{self, XmlWriter};
use ebsim_io::SectorSize;
use ebsim_kms_api::types::keys::DescribeKeyRequest;
use ebsim_kms_client::{EncryptionContext, Identity};
use ebsim_volume::{NewVolume, VolumeError};

use crate::error::{
    incorrect_state, internal, invalid_dependency, invalid_value, missing, volume_in_use,
    volume_not_found,
};
use crate::filters;
use crate::ids::{self, IdKind};
use crate::params;
use crate::service::{Cx, Ec2};
use crate::state::{Scope, Volume, VolumeStatus, now_iso};

/// The key EBS uses when none is named and no default is set.
pub const DEFAULT_EBS_KEY: &str = "alias/aws/ebs";

/// The filters DescribeVolumes knows (and `tag:KEY`).
const VOLUME_FILTERS: &[&str] = &[
    "volume-id",
    "status",
    "encrypted",
    "attachment.instance-id",
    "attachment.device",
    "attachment.status",
    "availability-zone",
    "size",
    "volume-type",
    "snapshot-id",
    "tag-key",
];

/// The longest `KmsKeyId` (an alias ARN at most).
pub(crate) const MAX_KEY_ID: usize = 2048;

/// What a new volume is to be.
pub(crate) struct NewEc2Volume {
    pub(crate) spec: crate::types::VolumeSpec,
    pub(crate) zone: String,
    pub(crate) encrypted: bool,
    pub(crate) key_id: String,
    pub(crate) tags: std::collections::BTreeMap<String, String>,
}

impl Ec2 {
    pub(crate) fn create_volume(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        if req.get("EbsimSizeBytes").is_some() && req.get("SnapshotId").is_none() {
            return self.create_cli_volume(cx, scope);
        }
        let size = params::int(req, "Size", 1, 65_536)?;
        let snapshot = match req.get("SnapshotId") {
            Some(s) => Some(ids::parse(IdKind::Snapshot, "SnapshotId", s)?),
            None => None,
        };
        if size.is_none() && snapshot.is_none() {
            return Err(missing(
                "The request must contain the parameter size/snapshot",
            ));
        }
        let zone = params::required(req, "AvailabilityZone", 64)?;
        if !cx.zones().iter().any(|z| z == zone) {
            return Err(invalid_value(format!(
                "Invalid availability zone: [{}]",
                ebsim_iam::names::echo(zone)
            )));
        }
        if let Some(snap) = snapshot {
            // `ebsim volume create --snapshot --size BYTES` names the size in bytes.
            let bytes = match params::int(req, "EbsimSizeBytes", 1, 64 << 40)? {
                Some(b) => Some(b),
                None => size.map(|g| g << 30),
            };
            return self.create_volume_from_snapshot(cx, scope, &snap, bytes, zone);
        }
        let size = size.unwrap_or_default();
        let spec = crate::types::check(
            params::text(req, "VolumeType", 16)?,
            size,
            params::int(req, "Iops", 0, 1 << 20)?,
            params::int(req, "Throughput", 0, 1 << 20)?,
        )?;
        let encrypted_param = params::bool(req, "Encrypted")?;
        let key_param = params::text(req, "KmsKeyId", MAX_KEY_ID)?;
        if key_param.is_some() && encrypted_param != Some(true) {
            return Err(invalid_dependency(
                "The parameter KmsKeyId requires the parameter Encrypted to be set.",
            ));
        }
        let _ = params::text(req, "ClientToken", 64)?;
        let tags = params::tags(req, "volume")?;
        let ebd = &scope.encryption_by_default;
        let encrypted = encrypted_param == Some(true) || ebd.enabled;
        let key_id = key_param
            .map(str::to_owned)
            .or_else(|| ebd.kms_key_id.clone())
            .unwrap_or_else(|| DEFAULT_EBS_KEY.to_owned());
        let volume = self.new_volume(
            cx,
            NewEc2Volume {
                spec,
                zone: zone.to_owned(),
                encrypted,
                key_id,
                tags,
            },
        )?;
        let out = xml::response(ebsim_iam::QueryService::Ec2, "CreateVolume", cx.rid, |w| {
            write_volume_fields(w, &volume, Some("creating"));
        });
        scope.volumes.insert(volume.volume_id.clone(), volume);
        Ok(out)
    }

    /// Makes a volume: for an encrypted one, GenerateDataKeyWithoutPlaintext (64 bytes,
    /// context `aws:ebs:id`) on behalf of the caller via EC2, then its files. A KMS failure
    /// gives a volume in `error` and a `createVolume` event, not an error.
    pub(crate) fn new_volume(&self, cx: &Cx<'_>, new: NewEc2Volume) -> Result<Volume, QueryError> {
        let volume_id = ids::new_id(IdKind::Volume);
        let mut volume = Volume {
            volume_id: volume_id.clone(),
            size_gib: new.spec.size_gib,
            volume_type: new.spec.volume_type,
            iops: new.spec.iops,
            throughput: new.spec.throughput,
            availability_zone: new.zone,
            encrypted: new.encrypted,
            kms_key_id: None,
            status: VolumeStatus::Available,
            create_time: now_iso(),
            snapshot_id: None,
            tags: new.tags,
            attachment: None,
            error_cause: None,
            creator: cx.caller.principal.clone(),
        };
        if !new.encrypted {
            return Ok(volume);
        }
        let context = EncryptionContext::ebs(&volume_id).map_err(|e| internal(e.to_string()))?;
        let kms = self.kms_in(cx);
        match kms.generate_wrapped_data_key(&cx.on_behalf(), &new.key_id, &context) {
            Ok(wrapped) => {
                self.volumes
                    .create(NewVolume {
                        volume_id: volume_id.clone(),
                        size_bytes: new.spec.size_gib << 30,
                        sector_size: SectorSize::S4096,
                        kms_key_arn: wrapped.key_arn.clone(),
                        wrapped_key: wrapped.ciphertext_blob,
                        context,
                        grant_id: None,
                        grantee_principal: None,
                        retiring_principal: None,
                        owner: None,
                    })
                    .map_err(|e| internal(e.to_string()))?;
                volume.kms_key_id = Some(wrapped.key_arn);
            }
            Err(e) => {
                let key_arn = self.key_arn(cx, &new.key_id).unwrap_or(new.key_id);
                let cause = crate::service::unusable_cause(&key_arn, &e);
                self.volume_event(cx, "createVolume", &volume_id, &key_arn, &cause);
                volume.kms_key_id = Some(key_arn);
                volume.status = VolumeStatus::Error;
                volume.error_cause = Some(cause);
            }
        }
        Ok(volume)
    }

    /// `ebsim volume create` through the server (docs/ec2.md, "ebsim's own parameters"):
    /// `EbsimSizeBytes`, `EbsimSectorSize`, `KmsKeyId`, `EbsimWorkspaceUser` and
    /// `EbsimDirectory`. The volume is made as EBS's CLI path makes it, with its per-volume
    /// grant for I/O without an instance, and recorded in the EC2 state.
    fn create_cli_volume(&self, cx: &Cx<'_>, scope: &mut Scope) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        let size_bytes = params::int(req, "EbsimSizeBytes", 1, 64 << 40)?.unwrap_or(0);
        let sector = params::int(req, "EbsimSectorSize", 512, 4096)?.unwrap_or(4096);
        let sector_size = SectorSize::new(sector)
            .ok()
            .filter(|_| sector == 512 || sector == 4096)
            .ok_or_else(|| invalid_value("EbsimSectorSize must be 512 or 4096."))?;
        if !size_bytes.is_multiple_of(sector) {
            return Err(invalid_value(format!(
                "EbsimSizeBytes {size_bytes} is not a multiple of the sector size {sector}."
            )));
        }
        let owner = match (
            params::text(req, "EbsimWorkspaceUser", 256)?,
            params::text(req, "EbsimDirectory", 64)?,
        ) {
            (Some(u), Some(d)) => Some(ebsim_volume::VolumeOwner {
                user_sid: u.to_owned(),
                directory_id: d.to_owned(),
            }),
            (None, None) => None,
            _ => {
                return Err(invalid_dependency(
                    "EbsimWorkspaceUser and EbsimDirectory go together.",
                ));
            }
        };
        let ebs =
            ebsim_workspaces::Ebs::new(self.kms_in(cx), self.volumes.clone(), cx.region.as_str());
        let meta = ebs
            .create_volume(&ebsim_workspaces::CreateVolumeRequest {
                size_bytes,
                sector_size,
                key_id: params::text(req, "KmsKeyId", MAX_KEY_ID)?.map(str::to_owned),
                owner,
                caller: Some(cx.caller.principal.clone()),
                key_info: None,
            })
            .map_err(|e| QueryError::new(cli_error_code(&e), 400, e.to_string()))?;
        let volume = adopted(&meta, &cx.zones()[0]);
        let out = xml::response(ebsim_iam::QueryService::Ec2, "CreateVolume", cx.rid, |w| {
            write_volume_fields(w, &volume, Some("creating"));
        });
        scope.volumes.insert(volume.volume_id.clone(), volume);
        Ok(out)
    }

    /// The ARN of `key_id` (DescribeKey on behalf of the caller), if it resolves.
    pub(crate) fn key_arn(&self, cx: &Cx<'_>, key_id: &str) -> Option<String> {
        self.kms_in(cx)
            .send(
                &cx.on_behalf(),
                &DescribeKeyRequest {
                    key_id: Some(key_id.to_owned()),
                    ..Default::default()
                },
            )
            .ok()
            .map(|o| o.key_metadata.arn)
            .filter(|a| !a.is_empty())
    }

    pub(crate) fn describe_volumes(
        &self,
        cx: &Cx<'_>,
        scope: &Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        let wanted = req.ec2_list("VolumeId", 1000)?;
        let mut ids = Vec::with_capacity(wanted.len());
        for id in &wanted {
            let id = ids::parse(IdKind::Volume, "volumeId", id)?;
            if !scope.volumes.contains_key(&id) {
                return Err(volume_not_found(&id));
            }
            ids.push(id);
        }
        let filters = filters::parse(req, VOLUME_FILTERS)?;
        let (max, token) = filters::page_params(req, 5, 500, !ids.is_empty())?;
        let matching: Vec<(String, &Volume)> = scope
            .volumes
            .values()
            .filter(|v| ids.is_empty() || ids.contains(&v.volume_id))
            .filter(|v| filters::matches(&filters, |name| volume_field(v, name)))
            .map(|v| (v.volume_id.clone(), v))
            .collect();
        let (page, next) = filters::page(matching, max, token.as_deref());
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "DescribeVolumes",
            cx.rid,
            |w| {
                w.items("volumeSet", page, |w, v| write_volume_fields(w, v, None));
                w.opt("nextToken", next.as_deref());
            },
        ))
    }

    pub(crate) fn delete_volume(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let id = ids::parse(
            IdKind::Volume,
            "volumeId",
            params::required(cx.req, "VolumeId", 64)?,
        )?;
        let volume = scope
            .volumes
            .get(&id)
            .ok_or_else(|| volume_not_found(&id))?;
        if let Some(a) = &volume.attachment {
            return Err(volume_in_use(format!(
                "Volume {id} is currently attached to {}",
                a.instance_id
            )));
        }
        if volume.encrypted && volume.status != VolumeStatus::Error {
            self.remove_files(cx, &id)?;
        }
        scope.volumes.remove(&id);
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "DeleteVolume",
            cx.rid,
            |w| {
                w.bool("return", true);
            },
        ))
    }

    /// Removes a volume's files, retiring the per-volume grant of a volume `ebsim volume
    /// create` made (on behalf of its retiring principal). Refused while a process has the
    /// volume open.
    pub(crate) fn remove_files(&self, cx: &Cx<'_>, id: &str) -> Result<(), QueryError> {
        let meta = match self.volumes.load(id) {
            Ok(m) => m,
            Err(VolumeError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(internal(e.to_string())),
        };
        // A WorkSpace's volume: its control plane attached it (metadata.json says so).
        if meta.state == ebsim_volume::VolumeState::InUse {
            return Err(volume_in_use(format!(
                "Volume {id} is attached to {}.",
                meta.attached_to.as_deref().unwrap_or("a WorkSpace")
            )));
        }
        if self
            .volumes
            .is_attached(id)
            .map_err(|e| internal(e.to_string()))?
        {
            return Err(volume_in_use(format!(
                "Volume {id} is open for I/O in another process."
            )));
        }
        if let Some(grant_id) = &meta.grant_id {
            let retiring = meta
                .retiring_principal
                .clone()
                .unwrap_or_else(|| cx.caller.principal.clone());
            let who = Identity::OnBehalfOf {
                principal: retiring,
                via_service: cx.via_service(),
            };
            self.retire(cx, &who, &meta.kms_key_arn, grant_id)?;
        }
        match self.volumes.delete(id) {
            Ok(()) | Err(VolumeError::NotFound(_)) => Ok(()),
            Err(VolumeError::InUse(_)) => Err(volume_in_use(format!(
                "Volume {id} is open for I/O in another process."
            ))),
            Err(e) => Err(internal(e.to_string())),
        }
    }

    /// RetireGrant as `who`; a grant already gone is not an error.
    pub(crate) fn retire(
        &self,
        cx: &Cx<'_>,
        who: &Identity,
        key_arn: &str,
        grant_id: &str,
    ) -> Result<(), QueryError> {
        use ebsim_kms_api::types::grants::RetireGrantRequest;
        match self.kms_in(cx).send(
            who,
            &RetireGrantRequest {
                key_id: Some(key_arn.to_owned()),
                grant_id: Some(grant_id.to_owned()),
                ..Default::default()
            },
        ) {
            Ok(_) => Ok(()),
            Err(e) if e.kms_error_type().map(|t| t.name()) == Some("NotFoundException") => Ok(()),
            Err(e) => Err(internal(format!("RetireGrant failed: {e}"))),
        }
    }

    pub(crate) fn modify_volume(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        let id = ids::parse(
            IdKind::Volume,
            "volumeId",
            params::required(req, "VolumeId", 64)?,
        )?;
        let volume = scope
            .volumes
            .get(&id)
            .ok_or_else(|| volume_not_found(&id))?
            .clone();
        if volume.status == VolumeStatus::Error {
            return Err(incorrect_state(format!(
                "Volume '{id}' is in the 'error' state."
            )));
        }
        let size = params::int(req, "Size", 1, 65_536)?.unwrap_or(volume.size_gib);
        if size < volume.size_gib {
            return Err(invalid_value(format!(
                "New size cannot be smaller than existing size: {size}GiB < {}GiB.",
                volume.size_gib
            )));
        }
        let new_type = params::text(req, "VolumeType", 16)?;
        let type_changes = new_type.is_some_and(|t| t != volume.volume_type);
        let keep = |v: Option<u32>| if type_changes { None } else { v.map(u64::from) };
        let iops = params::int(req, "Iops", 0, 1 << 20)?;
        let throughput = params::int(req, "Throughput", 0, 1 << 20)?;
        let ty = new_type.unwrap_or(&volume.volume_type);
        let spec = crate::types::check(
            Some(ty),
            size,
            iops.or_else(|| if ty == "gp2" { None } else { keep(volume.iops) }),
            throughput.or_else(|| keep(volume.throughput)),
        )?;
        if spec.size_gib > volume.size_gib && volume.encrypted {
            // The size is bound into the metadata MAC: EBS unwraps the key to re-bind it and
            // discards it (docs/formats.md, "The metadata MAC").
            let kms = self.kms_in(cx);
            let who = cx.on_behalf();
            let result = self
                .volumes
                .resize_with(&id, spec.size_gib << 30, |blob, ctx| {
                    kms.decrypt_data_key_with(&who, blob, ctx, volume.kms_key_id.as_deref())
                });
            match result {
                Ok(_) => {}
                Err(VolumeError::InUse(_)) => {
                    return Err(QueryError::new(
                        "IncorrectModificationState",
                        400,
                        format!(
                            "Volume {id} is open for I/O in another process; it can grow once that process detaches."
                        ),
                    ));
                }
                Err(e) => return Err(QueryError::new("IncorrectState", 400, e.to_string())),
            }
        }
        let now = now_iso();
        let original = volume.clone();
        let entry = scope
            .volumes
            .get_mut(&id)
            .ok_or_else(|| volume_not_found(&id))?;
        entry.size_gib = spec.size_gib;
        entry.volume_type = spec.volume_type;
        entry.iops = spec.iops;
        entry.throughput = spec.throughput;
        let target = entry.clone();
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "ModifyVolume",
            cx.rid,
            |w| {
                w.open("volumeModification");
                w.text("volumeId", &id);
                w.text("modificationState", "modifying");
                w.num("targetSize", target.size_gib);
                w.text("targetVolumeType", &target.volume_type);
                w.opt("targetIops", target.iops.map(|n| n.to_string()).as_deref());
                w.opt(
                    "targetThroughput",
                    target.throughput.map(|n| n.to_string()).as_deref(),
                );
                w.num("originalSize", original.size_gib);
                w.text("originalVolumeType", &original.volume_type);
                w.opt(
                    "originalIops",
                    original.iops.map(|n| n.to_string()).as_deref(),
                );
                w.opt(
                    "originalThroughput",
                    original.throughput.map(|n| n.to_string()).as_deref(),
                );
                w.num("progress", 0);
                w.text("startTime", &now);
                w.close("volumeModification");
            },
        ))
    }
}

/// The code of a failed `ebsim volume create`: the KMS error's name when KMS refused.
fn cli_error_code(e: &ebsim_workspaces::ControlPlaneError) -> &'static str {
    e.kms_error_type()
        .map_or("InvalidParameterValue", |t| t.name())
}

/// The EC2 record of a volume found under `DIR/volumes/` (made by `ebsim volume create`).
pub(crate) fn adopted(meta: &ebsim_volume::VolumeMetadata, zone: &str) -> Volume {
    let at = jiff::Timestamp::from_second(meta.created_time as i64)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string())
        .unwrap_or_else(|_| now_iso());
    let size_gib = meta.size_bytes.div_ceil(1 << 30);
    Volume {
        volume_id: meta.volume_id.clone(),
        size_gib,
        volume_type: "gp2".to_owned(),
        iops: Some((size_gib * 3).clamp(100, 16_000) as u32),
        throughput: None,
        availability_zone: zone.to_owned(),
        encrypted: true,
        kms_key_id: Some(meta.kms_key_arn.clone()),
        // A WorkSpace's volume stays `in-use` while its WorkSpace has it.
        status: if meta.state == ebsim_volume::VolumeState::InUse {
            VolumeStatus::InUse
        } else {
            VolumeStatus::Available
        },
        create_time: at,
        snapshot_id: None,
        tags: Default::default(),
        attachment: None,
        error_cause: None,
        creator: meta
            .retiring_principal
            .clone()
            .unwrap_or_else(|| ebsim_kms_api::id::DEFAULT_ROOT.to_owned()),
    }
}

/// The values volume `v` has for filter `name`.
fn volume_field(v: &Volume, name: &str) -> Vec<String> {
    let a = v.attachment.as_ref();
    let one = |s: &str| vec![s.to_owned()];
    match name {
        "volume-id" => one(&v.volume_id),
        "status" => one(v.status.as_str()),
        "encrypted" => one(if v.encrypted { "true" } else { "false" }),
        "attachment.instance-id" => a.map(|a| a.instance_id.clone()).into_iter().collect(),
        "attachment.device" => a.map(|a| a.device.clone()).into_iter().collect(),
        "attachment.status" => a.map(|_| "attached".to_owned()).into_iter().collect(),
        "availability-zone" => one(&v.availability_zone),
        "volume-type" => one(&v.volume_type),
        "snapshot-id" => v.snapshot_id.clone().into_iter().collect(),
        "tag-key" => v.tags.keys().cloned().collect(),
        "size" => vec![v.size_gib.to_string()],
        other => other
            .strip_prefix("tag:")
            .and_then(|k| v.tags.get(k))
            .cloned()
            .into_iter()
            .collect(),
    }
}

/// A volume's members, as CreateVolume and DescribeVolumes write them (`status` given by
/// CreateVolume, `creating`).
pub(crate) fn write_volume_fields(w: &mut XmlWriter, v: &Volume, status: Option<&str>) {
    w.text("volumeId", &v.volume_id);
    w.num("size", v.size_gib);
    w.text("snapshotId", v.snapshot_id.as_deref().unwrap_or(""));
    w.text("availabilityZone", &v.availability_zone);
    w.text("status", status.unwrap_or(v.status.as_str()));
    w.text("createTime", &v.create_time);
    w.items("attachmentSet", v.attachment.iter(), |w, a| {
        w.text("volumeId", &v.volume_id);
        w.text("instanceId", &a.instance_id);
        w.text("device", &a.device);
        w.text("status", "attached");
        w.text("attachTime", &a.attach_time);
        w.bool("deleteOnTermination", a.delete_on_termination);
    });
    w.text("volumeType", &v.volume_type);
    w.opt("iops", v.iops.map(|n| n.to_string()).as_deref());
    w.opt("throughput", v.throughput.map(|n| n.to_string()).as_deref());
    w.bool("encrypted", v.encrypted);
    w.opt("kmsKeyId", v.kms_key_id.as_deref());
    w.bool("multiAttachEnabled", false);
    if !v.tags.is_empty() {
        w.items("tagSet", v.tags.iter(), |w, (k, val)| {
            w.text("key", k);
            w.text("value", val);
        });
    }
}
