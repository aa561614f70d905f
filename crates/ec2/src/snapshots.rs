//! CreateSnapshot, DescribeSnapshots, DeleteSnapshot, CopySnapshot and CreateVolume from a
//! snapshot, on the snapshot engine (`ebsim-snapshot`; docs/ec2.md, "Snapshots"). The
//! engine makes the KMS calls AWS's key model asks for; this module checks the request,
//! keeps the tags and records restored volumes in the EC2 state.

use ebsim_iam::QueryError;
use ebsim_iam::xml::{self, XmlWriter};
use ebsim_snapshot::{
    CopySnapshot, CreateSnapshot, RestoreVolume, Snapshot, SnapshotError, SnapshotState,
    SnapshotStore,
};

use crate::error::invalid_value;
use crate::filters;
use crate::ids::{self, IdKind};
use crate::params;
use crate::service::{Cx, Ec2};
use crate::state::{Scope, Volume, VolumeStatus, now_iso};
use crate::volumes::{MAX_KEY_ID, write_volume_fields};

/// The filters DescribeSnapshots knows (and `tag:KEY`).
const SNAPSHOT_FILTERS: &[&str] = &[
    "description",
    "encrypted",
    "owner-id",
    "progress",
    "snapshot-id",
    "start-time",
    "status",
    "volume-id",
    "volume-size",
    "tag-key",
];

/// A snapshot engine error as EC2 answers it.
pub(crate) fn snapshot_error(e: &SnapshotError) -> QueryError {
    let status = if e.is_client_error() { 400 } else { 500 };
    QueryError::new(e.code(), status, e.to_string())
}

fn state_name(s: SnapshotState) -> &'static str {
    match s {
        SnapshotState::Pending => "pending",
        SnapshotState::Completed => "completed",
        SnapshotState::Error => "error",
    }
}

impl Ec2 {
    /// The snapshot store of the request's region.
    fn store(&self, cx: &Cx<'_>) -> Result<SnapshotStore, QueryError> {
        SnapshotStore::open_at(
            &self.dir,
            self.kms_in(cx),
            cx.region,
            &self.snapshot_location,
        )
        .map_err(|e| snapshot_error(&e))
    }

    /// A snapshot of the caller's account in the request's region.
    fn own_snapshot(
        &self,
        cx: &Cx<'_>,
        store: &SnapshotStore,
        id: &str,
    ) -> Result<Snapshot, QueryError> {
        let s = store.describe(id).map_err(|e| snapshot_error(&e))?;
        if s.owner_id != cx.account {
            return Err(QueryError::new(
                "InvalidSnapshot.NotFound",
                400,
                format!("The snapshot '{id}' does not exist."),
            ));
        }
        Ok(s)
    }

    pub(crate) fn create_snapshot(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        let volume_id = ids::parse(
            IdKind::Volume,
            "volumeId",
            params::required(req, "VolumeId", 64)?,
        )?;
        let volume = scope
            .volumes
            .get(&volume_id)
            .ok_or_else(|| crate::error::volume_not_found(&volume_id))?;
        if volume.status == VolumeStatus::Error {
            return Err(crate::error::incorrect_state(format!(
                "Volume '{volume_id}' is in the 'error' state."
            )));
        }
        if !volume.encrypted {
            return Err(QueryError::new(
                "UnsupportedOperation",
                400,
                format!(
                    "Volume '{volume_id}' is unencrypted: ebsim keeps data for encrypted volumes only."
                ),
            ));
        }
        let description = params::text(req, "Description", 255)?;
        let tags = params::tags(req, "snapshot")?;
        let job = self
            .store(cx)?
            .create(CreateSnapshot {
                volume_id: volume_id.clone(),
                description: description.map(str::to_owned),
                caller: Some(cx.caller.principal.clone()),
                attached: None,
            })
            .map_err(|e| snapshot_error(&e))?;
        let s = job.started().clone();
        // The copy goes on in the background (dropping the job leaves it running).
        drop(job);
        if !tags.is_empty() {
            scope
                .snapshot_tags
                .insert(s.snapshot_id.as_str().to_owned(), tags);
        }
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "CreateSnapshot",
            cx.rid,
            |w| {
                write_snapshot(w, &s, scope);
            },
        ))
    }

    pub(crate) fn describe_snapshots(
        &self,
        cx: &Cx<'_>,
        scope: &Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        let store = self.store(cx)?;
        let wanted = req.ec2_list("SnapshotId", 1000)?;
        let mut ids_wanted = Vec::new();
        for id in wanted {
            let id = ids::parse(IdKind::Snapshot, "snapshotId", id)?;
            self.own_snapshot(cx, &store, &id)?;
            ids_wanted.push(id);
        }
        for owner in req.ec2_list("Owner", 100)? {
            if owner != "self"
                && owner != "amazon"
                && owner != cx.account
                && !(owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(invalid_value(format!(
                    "Value ({}) for parameter owner is invalid.",
                    ebsim_iam::names::echo(owner)
                )));
            }
        }
        let owners = req.ec2_list("Owner", 100)?;
        let mine_asked =
            owners.is_empty() || owners.iter().any(|o| *o == "self" || *o == cx.account);
        let _ = req.ec2_list("RestorableBy", 100)?;
        let filters = filters::parse(req, SNAPSHOT_FILTERS)?;
        let (max, token) = filters::page_params(req, 5, 1000, !ids_wanted.is_empty())?;
        let all = store.list().map_err(|e| snapshot_error(&e))?;
        let matching: Vec<(String, Snapshot)> = all
            .into_iter()
            .filter(|s| mine_asked && s.owner_id == cx.account)
            .filter(|s| {
                ids_wanted.is_empty() || ids_wanted.iter().any(|i| i == s.snapshot_id.as_str())
            })
            .filter(|s| filters::matches(&filters, |name| snapshot_field(s, scope, name)))
            .map(|s| (s.snapshot_id.as_str().to_owned(), s))
            .collect();
        let mut matching = matching;
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        let (page, next) = filters::page(matching, max, token.as_deref());
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "DescribeSnapshots",
            cx.rid,
            |w| {
                w.items("snapshotSet", page.iter(), |w, s| {
                    write_snapshot(w, s, scope);
                    w.opt("dataEncryptionKeyId", s.data_encryption_key_id.as_deref());
                });
                w.opt("nextToken", next.as_deref());
            },
        ))
    }

    pub(crate) fn delete_snapshot(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let id = ids::parse(
            IdKind::Snapshot,
            "snapshotId",
            params::required(cx.req, "SnapshotId", 64)?,
        )?;
        let store = self.store(cx)?;
        self.own_snapshot(cx, &store, &id)?;
        store.delete(&id).map_err(|e| snapshot_error(&e))?;
        scope.snapshot_tags.remove(&id);
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "DeleteSnapshot",
            cx.rid,
            |w| {
                w.bool("return", true);
            },
        ))
    }

    pub(crate) fn copy_snapshot(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        let source = ids::parse(
            IdKind::Snapshot,
            "sourceSnapshotId",
            params::required(req, "SourceSnapshotId", 64)?,
        )?;
        let source_region = params::required(req, "SourceRegion", 32)?;
        if let Some(dest) = params::text(req, "DestinationRegion", 32)?
            && dest != cx.region.as_str()
        {
            return Err(invalid_value(format!(
                "The destination region {} is not the region of the request ({}).",
                ebsim_iam::names::echo(dest),
                cx.region.as_str()
            )));
        }
        // boto3 adds a presigned URL for the source region; ebsim never fetches it.
        let _ = params::text(req, "PresignedUrl", 8192)?;
        let mut encrypted = params::bool(req, "Encrypted")?;
        let key = params::text(req, "KmsKeyId", MAX_KEY_ID)?.map(str::to_owned);
        if key.is_some() && encrypted == Some(false) {
            return Err(crate::error::invalid_dependency(
                "The parameter KmsKeyId requires the parameter Encrypted to be set.",
            ));
        }
        let ebd = &scope.encryption_by_default;
        if ebd.enabled && encrypted.is_none() {
            encrypted = Some(true);
        }
        let tags = params::tags(req, "snapshot")?;
        let job = self
            .store(cx)?
            .copy(CopySnapshot {
                source_snapshot_id: source,
                source_region: source_region.to_owned(),
                encrypted,
                kms_key_id: key.or_else(|| ebd.enabled.then(|| ebd.kms_key_id.clone()).flatten()),
                description: params::text(req, "Description", 255)?.map(str::to_owned),
                caller: Some(cx.caller.principal.clone()),
            })
            .map_err(|e| snapshot_error(&e))?;
        let id = job.snapshot_id().as_str().to_owned();
        drop(job);
        if !tags.is_empty() {
            scope.snapshot_tags.insert(id.clone(), tags.clone());
        }
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "CopySnapshot",
            cx.rid,
            |w| {
                w.text("snapshotId", &id);
                write_tags(w, &tags);
            },
        ))
    }

    /// CreateVolume with a `SnapshotId`: the engine restores the volume (within the lineage
    /// or under a new key); it is recorded as EC2 describes it.
    pub(crate) fn create_volume_from_snapshot(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
        snapshot_id: &str,
        size_bytes: Option<u64>,
        zone: &str,
    ) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        let store = self.store(cx)?;
        let snap = self.own_snapshot(cx, &store, snapshot_id)?;
        let size = size_bytes.map_or(snap.volume_size_gib, |b| b.div_ceil(1 << 30));
        let spec = crate::types::check(
            params::text(req, "VolumeType", 16)?,
            size,
            params::int(req, "Iops", 0, 1 << 20)?,
            params::int(req, "Throughput", 0, 1 << 20)?,
        )?;
        let encrypted = params::bool(req, "Encrypted")?;
        let key = params::text(req, "KmsKeyId", MAX_KEY_ID)?.map(str::to_owned);
        if key.is_some() && encrypted != Some(true) {
            return Err(crate::error::invalid_dependency(
                "The parameter KmsKeyId requires the parameter Encrypted to be set.",
            ));
        }
        let _ = params::text(req, "ClientToken", 64)?;
        let tags = params::tags(req, "volume")?;
        let ebd = &scope.encryption_by_default;
        // Encryption by default names the key of a volume from an unencrypted snapshot.
        let key = key.or_else(|| {
            (ebd.enabled && !snap.encrypted)
                .then(|| ebd.kms_key_id.clone())
                .flatten()
        });
        let meta = store
            .restore(RestoreVolume {
                snapshot_id: snapshot_id.to_owned(),
                size_bytes,
                encrypted,
                kms_key_id: key,
                caller: Some(cx.caller.principal.clone()),
            })
            .map_err(|e| snapshot_error(&e))?;
        let volume = Volume {
            volume_id: meta.volume_id.clone(),
            size_gib: meta
                .size_bytes
                .div_ceil(1 << 30)
                .max(spec.size_gib.min(size)),
            volume_type: spec.volume_type,
            iops: spec.iops,
            throughput: spec.throughput,
            availability_zone: zone.to_owned(),
            encrypted: true,
            kms_key_id: Some(meta.kms_key_arn.clone()),
            status: VolumeStatus::Available,
            create_time: now_iso(),
            snapshot_id: Some(snapshot_id.to_owned()),
            tags,
            attachment: None,
            error_cause: None,
            creator: cx.caller.principal.clone(),
        };
        let out = xml::response(ebsim_iam::QueryService::Ec2, "CreateVolume", cx.rid, |w| {
            write_volume_fields(w, &volume, Some("creating"));
        });
        scope.volumes.insert(volume.volume_id.clone(), volume);
        Ok(out)
    }
}

/// The values snapshot `s` has for filter `name`.
fn snapshot_field(s: &Snapshot, scope: &Scope, name: &str) -> Vec<String> {
    let tags = scope.snapshot_tags.get(s.snapshot_id.as_str());
    match name {
        "description" => vec![s.description.clone()],
        "encrypted" => vec![s.encrypted.to_string()],
        "owner-id" => vec![s.owner_id.clone()],
        "progress" => vec![format!("{}%", s.progress)],
        "snapshot-id" => vec![s.snapshot_id.as_str().to_owned()],
        "start-time" => vec![s.start_time.clone()],
        "status" => vec![state_name(s.state).to_owned()],
        "volume-id" => vec![s.volume_id.clone()],
        "volume-size" => vec![s.volume_size_gib.to_string()],
        "tag-key" => tags
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default(),
        other => other
            .strip_prefix("tag:")
            .and_then(|k| tags.and_then(|t| t.get(k)))
            .cloned()
            .into_iter()
            .collect(),
    }
}

fn write_tags(w: &mut XmlWriter, tags: &std::collections::BTreeMap<String, String>) {
    if !tags.is_empty() {
        w.items("tagSet", tags.iter(), |w, (k, v)| {
            w.text("key", k);
            w.text("value", v);
        });
    }
}

/// A snapshot's members, as CreateSnapshot and DescribeSnapshots write them.
fn write_snapshot(w: &mut XmlWriter, s: &Snapshot, scope: &Scope) {
    w.text("snapshotId", s.snapshot_id.as_str());
    w.text("volumeId", &s.volume_id);
    w.text("status", state_name(s.state));
    w.opt("statusMessage", s.state_message.as_deref());
    w.text("startTime", &s.start_time);
    w.text("progress", &format!("{}%", s.progress));
    w.text("ownerId", &s.owner_id);
    w.num("volumeSize", s.volume_size_gib);
    w.text("description", &s.description);
    w.bool("encrypted", s.encrypted);
    w.opt("kmsKeyId", s.kms_key_id.as_deref());
    w.text("storageTier", "standard");
    if let Some(tags) = scope.snapshot_tags.get(s.snapshot_id.as_str()) {
        write_tags(w, tags);
    }
}
