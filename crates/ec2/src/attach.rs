//! AttachVolume and DetachVolume as EBS does them (docs/key-flow.md, "Attach to an
//! instance"): a grant for the instance's `aws:ec2-infrastructure` session constrained to
//! the volume's `aws:ebs:id`, then a Decrypt by that session which checks the key (the
//! plaintext is discarded); DetachVolume retires the grant.

use ebsim_iam::QueryError;
use ebsim_iam::xml;
use ebsim_kms_api::types::grants::{CreateGrantRequest, GrantConstraints};
use ebsim_kms_client::Identity;

use crate::error::{
    incorrect_instance_state, incorrect_state, instance_not_found, internal, invalid_value,
    volume_in_use, volume_not_found,
};
use crate::ids::{self, IdKind};
use crate::params;
use crate::service::{Cx, Ec2, instance_principal, unusable_cause};
use crate::state::{Attachment, InstanceState, Scope, VolumeStatus, now_iso};

/// Whether `device` is a device name EBS accepts (`/dev/sd[a-z]`, `/dev/xvd[a-z]`,
/// `/dev/xvd[b-c][a-z]`, `/dev/sda1`, `/dev/sda2`).
pub(crate) fn valid_device(device: &str) -> bool {
    let letters = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_lowercase());
    if device == "/dev/sda1" || device == "/dev/sda2" {
        return true;
    }
    if let Some(rest) = device.strip_prefix("/dev/sd") {
        return letters(rest, 1);
    }
    if let Some(rest) = device.strip_prefix("/dev/xvd") {
        return letters(rest, 1) || (letters(rest, 2) && matches!(rest.as_bytes()[0], b'b' | b'c'));
    }
    false
}

impl Ec2 {
    pub(crate) fn attach_volume(
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
        let instance_id = ids::parse(
            IdKind::Instance,
            "instanceId",
            params::required(req, "InstanceId", 64)?,
        )?;
        let device = params::required(req, "Device", 32)?;
        let attachment = self.attach(cx, scope, &volume_id, &instance_id, device, false)?;
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "AttachVolume",
            cx.rid,
            |w| {
                w.text("volumeId", &volume_id);
                w.text("instanceId", &attachment.instance_id);
                w.text("device", &attachment.device);
                w.text("status", "attaching");
                w.text("attachTime", &attachment.attach_time);
                w.bool("deleteOnTermination", attachment.delete_on_termination);
            },
        ))
    }

    /// Attaches `volume_id` to `instance_id` at `device`: the checks, the grant, the
    /// Decrypt; on a Decrypt failure the grant is retired, an `attachVolume` event recorded
    /// and nothing changes.
    pub(crate) fn attach(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
        volume_id: &str,
        instance_id: &str,
        device: &str,
        delete_on_termination: bool,
    ) -> Result<Attachment, QueryError> {
        if !valid_device(device) {
            return Err(invalid_value(format!(
                "Value ({}) for parameter device is invalid. {} is not a valid EBS device name.",
                ebsim_iam::names::echo(device),
                ebsim_iam::names::echo(device)
            )));
        }
        let volume = scope
            .volumes
            .get(volume_id)
            .ok_or_else(|| volume_not_found(volume_id))?;
        let instance = scope
            .instances
            .get(instance_id)
            .ok_or_else(|| instance_not_found(instance_id))?;
        if let Some(a) = &volume.attachment {
            return Err(volume_in_use(format!(
                "{volume_id} is already attached to an instance ({})",
                a.instance_id
            )));
        }
        if volume.status != VolumeStatus::Available {
            return Err(incorrect_state(format!("{volume_id} is not 'available'.")));
        }
        if !matches!(
            instance.state,
            InstanceState::Running | InstanceState::Stopped | InstanceState::Pending
        ) {
            return Err(incorrect_instance_state(format!(
                "The instance '{instance_id}' is not in a state from which it can be attached."
            )));
        }
        if instance.availability_zone != volume.availability_zone {
            return Err(QueryError::new(
                "InvalidVolume.ZoneMismatch",
                400,
                format!(
                    "The volume '{volume_id}' is not in the same availability zone as instance '{instance_id}'"
                ),
            ));
        }
        let taken = scope.volumes.values().any(|v| {
            v.attachment
                .as_ref()
                .is_some_and(|a| a.instance_id == instance_id && a.device == device)
        });
        if taken {
            return Err(invalid_value(format!(
                "Invalid value '{device}' for unixDevice. Attachment point {device} is already in use"
            )));
        }
        let grantee = instance_principal(&instance.owner_id, instance_id);
        let mut attachment = Attachment {
            instance_id: instance_id.to_owned(),
            device: device.to_owned(),
            attach_time: now_iso(),
            delete_on_termination,
            grant_id: None,
            grantee: None,
        };
        if volume.encrypted {
            if self.volumes.is_attached(volume_id).unwrap_or(false) {
                return Err(volume_in_use(format!(
                    "{volume_id} is open for I/O in another process."
                )));
            }
            let meta = self
                .volumes
                .load(volume_id)
                .map_err(|e| internal(e.to_string()))?;
            let key_arn = meta.kms_key_arn.clone();
            let ebs_id = meta
                .context()
                .get(ebsim_kms_client::EBS_CONTEXT_KEY)
                .unwrap_or(volume_id)
                .to_owned();
            let kms = self.kms_in(cx);
            let grant = kms
                .send(
                    &cx.on_behalf(),
                    &CreateGrantRequest {
                        key_id: Some(key_arn.clone()),
                        grantee_principal: Some(grantee.clone()),
                        retiring_principal: Some(grantee.clone()),
                        operations: Some(vec!["Decrypt".to_owned()]),
                        constraints: Some(GrantConstraints {
                            // The volume's own `aws:ebs:id`: a volume restored within its
                            // snapshot's lineage keeps the lineage's.
                            encryption_context_subset: Some(
                                [(ebsim_kms_client::EBS_CONTEXT_KEY.to_owned(), ebs_id.clone())]
                                    .into_iter()
                                    .collect(),
                            ),
                            encryption_context_equals: None,
                        }),
                        name: Some(uuid::Uuid::new_v4().to_string()),
                        ..Default::default()
                    },
                )
                .map_err(|e| {
                    let cause = unusable_cause(&key_arn, &e);
                    self.volume_event(cx, "attachVolume", volume_id, &key_arn, &cause);
                    incorrect_state(format!("Volume {volume_id} cannot be attached: {cause}"))
                })?;
            let who = Identity::Principal(grantee.clone());
            let blob = meta.wrapped_key().map_err(internal)?;
            // The Decrypt checks the key; the plaintext is dropped (and wiped) at once.
            if let Err(e) = kms.decrypt_data_key_with(&who, &blob, &meta.context(), Some(&key_arn))
            {
                let _ = self.retire(cx, &who, &key_arn, &grant.grant_id);
                let cause = unusable_cause(&key_arn, &e);
                self.volume_event(cx, "attachVolume", volume_id, &key_arn, &cause);
                return Err(incorrect_state(format!(
                    "Volume {volume_id} cannot be attached: {cause}"
                )));
            }
            attachment.grant_id = Some(grant.grant_id);
            attachment.grantee = Some(grantee);
        }
        let volume = scope
            .volumes
            .get_mut(volume_id)
            .ok_or_else(|| volume_not_found(volume_id))?;
        volume.status = VolumeStatus::InUse;
        volume.attachment = Some(attachment.clone());
        Ok(attachment)
    }

    pub(crate) fn detach_volume(
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
        let instance = match req.get("InstanceId") {
            Some(i) => Some(ids::parse(IdKind::Instance, "instanceId", i)?),
            None => None,
        };
        let _ = params::bool(req, "Force")?;
        let volume = scope
            .volumes
            .get(&volume_id)
            .ok_or_else(|| volume_not_found(&volume_id))?;
        let Some(a) = volume.attachment.clone() else {
            return Err(incorrect_state(format!(
                "Volume '{volume_id}' is in the '{}' state.",
                volume.status.as_str()
            )));
        };
        if instance.as_ref().is_some_and(|i| *i != a.instance_id) {
            return Err(QueryError::new(
                "InvalidAttachment.NotFound",
                400,
                format!(
                    "Volume '{volume_id}' is not attached to instance '{}'.",
                    instance.unwrap_or_default()
                ),
            ));
        }
        if let Some(d) = req.get("Device")
            && d != a.device
        {
            return Err(QueryError::new(
                "InvalidAttachment.NotFound",
                400,
                format!(
                    "Volume '{volume_id}' is not attached at '{}'.",
                    ebsim_iam::names::echo(d)
                ),
            ));
        }
        self.detach(cx, scope, &volume_id)?;
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "DetachVolume",
            cx.rid,
            |w| {
                w.text("volumeId", &volume_id);
                w.text("instanceId", &a.instance_id);
                w.text("device", &a.device);
                w.text("status", "detaching");
                w.text("attachTime", &a.attach_time);
                w.bool("deleteOnTermination", a.delete_on_termination);
            },
        ))
    }

    /// Ends a volume's attachment: its grant retired by the instance's session.
    pub(crate) fn detach(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
        volume_id: &str,
    ) -> Result<(), QueryError> {
        let volume = scope
            .volumes
            .get_mut(volume_id)
            .ok_or_else(|| volume_not_found(volume_id))?;
        if let Some(a) = &volume.attachment
            && let (Some(grant), Some(grantee), Some(key)) =
                (&a.grant_id, &a.grantee, &volume.kms_key_id)
        {
            self.retire(cx, &Identity::Principal(grantee.clone()), key, grant)?;
        }
        volume.attachment = None;
        volume.status = VolumeStatus::Available;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::valid_device;

    #[test]
    fn device_names() {
        for ok in ["/dev/sdf", "/dev/xvdb", "/dev/xvdba", "/dev/sda1"] {
            assert!(valid_device(ok), "{ok}");
        }
        for bad in [
            "/dev/sdi1",
            "/dev/sdba",
            "/dev/xvdda",
            "sdf",
            "/dev/sd",
            "/dev/sdF",
        ] {
            assert!(!valid_device(bad), "{bad}");
        }
    }
}
