//! RunInstances, DescribeInstances, Start/Stop/TerminateInstances, simulated at the minimum
//! (docs/ec2.md, "Instances"): an id, a state, a root volume and attachments; nothing runs.
//! A launch or start whose volume key cannot be used ends `terminated` / `stopped` with
//! `Client.InternalError`, as docs/ec2.md, "Unusable keys", describes.

use ebsim_iam::QueryError;
use ebsim_iam::xml::{self, XmlWriter};
use ebsim_kms_client::Identity;

use crate::error::{incorrect_instance_state, instance_not_found, invalid_value};
use crate::filters;
use crate::ids::{self, IdKind};
use crate::params;
use crate::service::{Cx, Ec2, unusable_cause};
use crate::state::{Instance, InstanceState, Scope, StateReason, now_iso};
use crate::volumes::{DEFAULT_EBS_KEY, MAX_KEY_ID, NewEc2Volume};

const INSTANCE_FILTERS: &[&str] = &[
    "instance-id",
    "instance-state-name",
    "availability-zone",
    "image-id",
    "instance-type",
    "reservation-id",
];

/// The root device of every simulated instance.
const ROOT_DEVICE: &str = "/dev/xvda";

fn launch_failure() -> StateReason {
    StateReason {
        code: "Client.InternalError".to_owned(),
        message: "Client.InternalError: Client error on launch".to_owned(),
    }
}

impl Ec2 {
    pub(crate) fn run_instances(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        let image = params::required(req, "ImageId", 64)?;
        if !image.starts_with("ami-") {
            return Err(QueryError::new(
                "InvalidAMIID.Malformed",
                400,
                format!(
                    "Invalid id: \"{}\" (expecting \"ami-...\")",
                    ebsim_iam::names::echo(image)
                ),
            ));
        }
        let min = params::int(req, "MinCount", 1, 20)?.ok_or_else(|| {
            crate::error::missing("The request must contain the parameter MinCount")
        })?;
        let max = params::int(req, "MaxCount", 1, 20)?.ok_or_else(|| {
            crate::error::missing("The request must contain the parameter MaxCount")
        })?;
        if min > max {
            return Err(invalid_value(
                "MinCount must be less than or equal to MaxCount",
            ));
        }
        let instance_type = params::text(req, "InstanceType", 32)?.unwrap_or("m1.small");
        let zone = params::text(req, "Placement.AvailabilityZone", 64)?
            .map(str::to_owned)
            .unwrap_or_else(|| cx.zones()[0].clone());
        if !cx.zones().contains(&zone) {
            return Err(invalid_value(format!(
                "Invalid availability zone: [{}]",
                ebsim_iam::names::echo(&zone)
            )));
        }
        let tags = params::tags(req, "instance")?;
        // The root volume: BlockDeviceMapping.1.Ebs, else encryption by default decides.
        let ebs = |f: &str| format!("BlockDeviceMapping.1.Ebs.{f}");
        let root_size = params::int(req, &ebs("VolumeSize"), 1, 16_384)?.unwrap_or(8);
        let root_type = params::text(req, &ebs("VolumeType"), 16)?.map(str::to_owned);
        let enc = params::bool(req, &ebs("Encrypted"))?;
        let key = params::text(req, &ebs("KmsKeyId"), MAX_KEY_ID)?;
        if key.is_some() && enc != Some(true) {
            return Err(crate::error::invalid_dependency(
                "The parameter KmsKeyId requires the parameter Encrypted to be set.",
            ));
        }
        let spec = crate::types::check(root_type.as_deref(), root_size, None, None)?;
        let ebd = scope.encryption_by_default.clone();
        let encrypted = enc == Some(true) || ebd.enabled;
        let key_id = key
            .map(str::to_owned)
            .or(ebd.kms_key_id)
            .unwrap_or_else(|| DEFAULT_EBS_KEY.to_owned());
        let reservation = ids::new_id(IdKind::Reservation);
        let mut launched = Vec::new();
        for _ in 0..max {
            let id = ids::new_id(IdKind::Instance);
            let instance = Instance {
                instance_id: id.clone(),
                reservation_id: reservation.clone(),
                image_id: image.to_owned(),
                instance_type: instance_type.to_owned(),
                availability_zone: zone.clone(),
                state: InstanceState::Pending,
                state_reason: None,
                launch_time: now_iso(),
                owner_id: cx.account.clone(),
                root_device_name: ROOT_DEVICE.to_owned(),
                tags: tags.clone(),
            };
            scope.instances.insert(id.clone(), instance);
            let root = self.new_volume(
                cx,
                NewEc2Volume {
                    spec: spec.clone(),
                    zone: zone.clone(),
                    encrypted,
                    key_id: key_id.clone(),
                    tags: Default::default(),
                },
            )?;
            let root_id = root.volume_id.clone();
            let usable = root.status != crate::state::VolumeStatus::Error;
            scope.volumes.insert(root_id.clone(), root);
            let attached = usable
                && self
                    .attach(cx, scope, &root_id, &id, ROOT_DEVICE, true)
                    .is_ok();
            let inst = scope
                .instances
                .get_mut(&id)
                .ok_or_else(|| instance_not_found(&id))?;
            if attached {
                inst.state = InstanceState::Running;
            } else {
                inst.state = InstanceState::Terminated;
                inst.state_reason = Some(launch_failure());
                let _ = self.delete_volume_record(cx, scope, &root_id);
            }
            launched.push(id);
        }
        let owner = cx.account.clone();
        let out = xml::response(ebsim_iam::QueryService::Ec2, "RunInstances", cx.rid, |w| {
            w.text("reservationId", &reservation);
            w.text("ownerId", &owner);
            w.items("groupSet", std::iter::empty::<()>(), |_, ()| {});
            w.items("instancesSet", launched.iter(), |w, id| {
                if let Some(i) = scope.instances.get(id) {
                    write_instance(w, i, scope, Some(InstanceState::Pending));
                }
            });
        });
        Ok(out)
    }

    /// Removes a volume record and its files (a failed launch's root volume).
    fn delete_volume_record(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
        id: &str,
    ) -> Result<(), QueryError> {
        if let Some(v) = scope.volumes.get(id)
            && v.encrypted
            && v.status != crate::state::VolumeStatus::Error
        {
            self.remove_files(cx, id)?;
        }
        scope.volumes.remove(id);
        Ok(())
    }

    pub(crate) fn describe_instances(
        &self,
        cx: &Cx<'_>,
        scope: &Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let req = cx.req;
        let wanted = req.ec2_list("InstanceId", 1000)?;
        let mut ids_wanted = Vec::new();
        for id in wanted {
            let id = ids::parse(IdKind::Instance, "instanceId", id)?;
            if !scope.instances.contains_key(&id) {
                return Err(instance_not_found(&id));
            }
            ids_wanted.push(id);
        }
        let filters = filters::parse(req, INSTANCE_FILTERS)?;
        let (max, token) = filters::page_params(req, 5, 1000, !ids_wanted.is_empty())?;
        let matching: Vec<(String, &Instance)> = scope
            .instances
            .values()
            .filter(|i| ids_wanted.is_empty() || ids_wanted.contains(&i.instance_id))
            .filter(|i| filters::matches(&filters, |name| instance_field(i, name)))
            .map(|i| (i.instance_id.clone(), i))
            .collect();
        let (page, next) = filters::page(matching, max, token.as_deref());
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            "DescribeInstances",
            cx.rid,
            |w| {
                // One reservation item per instance (simulated reservations hold what they launched).
                w.items("reservationSet", page, |w, i| {
                    w.text("reservationId", &i.reservation_id);
                    w.text("ownerId", &i.owner_id);
                    w.items("groupSet", std::iter::empty::<()>(), |_, ()| {});
                    w.items("instancesSet", [i], |w, i| {
                        write_instance(w, i, scope, None)
                    });
                });
                w.opt("nextToken", next.as_deref());
            },
        ))
    }

    pub(crate) fn change_instances(
        &self,
        cx: &Cx<'_>,
        action: &str,
        scope: &mut Scope,
    ) -> Result<Vec<u8>, QueryError> {
        let wanted = cx.req.ec2_list("InstanceId", 1000)?;
        if wanted.is_empty() {
            return Err(crate::error::missing(
                "The request must contain the parameter InstanceId",
            ));
        }
        let mut ids_wanted = Vec::new();
        for id in wanted {
            let id = ids::parse(IdKind::Instance, "instanceId", id)?;
            let i = scope
                .instances
                .get(&id)
                .ok_or_else(|| instance_not_found(&id))?;
            if action != "TerminateInstances" && i.state == InstanceState::Terminated {
                return Err(incorrect_instance_state(format!(
                    "This instance '{id}' is not in a state from which it can be {}.",
                    if action == "StartInstances" {
                        "started"
                    } else {
                        "stopped"
                    }
                )));
            }
            ids_wanted.push(id);
        }
        let mut changes = Vec::new();
        for id in ids_wanted {
            let previous = scope
                .instances
                .get(&id)
                .map_or(InstanceState::Terminated, |i| i.state);
            let (current, next, reason) = match (action, previous) {
                ("StopInstances", InstanceState::Running | InstanceState::Pending) => (
                    InstanceState::Stopping,
                    InstanceState::Stopped,
                    Some(StateReason {
                        code: "Client.UserInitiatedShutdown".to_owned(),
                        message: "Client.UserInitiatedShutdown: User initiated shutdown".to_owned(),
                    }),
                ),
                ("StartInstances", InstanceState::Stopped) => {
                    match self.reattach_all(cx, scope, &id) {
                        Ok(()) => (InstanceState::Pending, InstanceState::Running, None),
                        Err(()) => (
                            InstanceState::Pending,
                            InstanceState::Stopped,
                            Some(launch_failure()),
                        ),
                    }
                }
                ("TerminateInstances", s) if s != InstanceState::Terminated => {
                    self.release_all(cx, scope, &id)?;
                    (
                        InstanceState::ShuttingDown,
                        InstanceState::Terminated,
                        Some(StateReason {
                            code: "Client.UserInitiatedShutdown".to_owned(),
                            message: "Client.UserInitiatedShutdown: User initiated shutdown"
                                .to_owned(),
                        }),
                    )
                }
                (_, s) => (s, s, None),
            };
            if let Some(i) = scope.instances.get_mut(&id)
                && (next != previous || reason.is_some())
            {
                i.state = next;
                i.state_reason = reason;
            }
            changes.push((id, current, previous));
        }
        Ok(xml::response(
            ebsim_iam::QueryService::Ec2,
            action,
            cx.rid,
            |w| {
                w.items("instancesSet", changes, |w, (id, current, previous)| {
                    w.text("instanceId", &id);
                    write_state(w, "currentState", current);
                    write_state(w, "previousState", previous);
                });
            },
        ))
    }

    /// A start: each attached encrypted volume's key is unwrapped again by the instance's
    /// session through the attachment's grant (and discarded). A failure records a
    /// `reattachVolume` event.
    fn reattach_all(&self, cx: &Cx<'_>, scope: &Scope, instance_id: &str) -> Result<(), ()> {
        let kms = self.kms_in(cx);
        for v in scope.volumes.values() {
            let Some(a) = v
                .attachment
                .as_ref()
                .filter(|a| a.instance_id == instance_id)
            else {
                continue;
            };
            let Some(grantee) = &a.grantee else { continue };
            let Ok(meta) = self.volumes.load(&v.volume_id) else {
                return Err(());
            };
            let Ok(blob) = meta.wrapped_key() else {
                return Err(());
            };
            let who = Identity::Principal(grantee.clone());
            if let Err(e) =
                kms.decrypt_data_key_with(&who, &blob, &meta.context(), Some(&meta.kms_key_arn))
            {
                let cause = unusable_cause(&meta.kms_key_arn, &e);
                self.volume_event(
                    cx,
                    "reattachVolume",
                    &v.volume_id,
                    &meta.kms_key_arn,
                    &cause,
                );
                return Err(());
            }
        }
        Ok(())
    }

    /// A termination: every attachment ends (its grant retired); volumes marked
    /// DeleteOnTermination go.
    fn release_all(
        &self,
        cx: &Cx<'_>,
        scope: &mut Scope,
        instance_id: &str,
    ) -> Result<(), QueryError> {
        let attached: Vec<(String, bool)> = scope
            .volumes
            .values()
            .filter_map(|v| {
                let a = v.attachment.as_ref()?;
                (a.instance_id == instance_id)
                    .then(|| (v.volume_id.clone(), a.delete_on_termination))
            })
            .collect();
        for (vol, delete) in attached {
            self.detach(cx, scope, &vol)?;
            if delete {
                self.delete_volume_record(cx, scope, &vol)?;
            }
        }
        Ok(())
    }
}

fn instance_field(i: &Instance, name: &str) -> Vec<String> {
    match name {
        "instance-id" => vec![i.instance_id.clone()],
        "instance-state-name" => vec![i.state.wire().1.to_owned()],
        "availability-zone" => vec![i.availability_zone.clone()],
        "image-id" => vec![i.image_id.clone()],
        "instance-type" => vec![i.instance_type.clone()],
        "reservation-id" => vec![i.reservation_id.clone()],
        other => other
            .strip_prefix("tag:")
            .and_then(|k| i.tags.get(k))
            .cloned()
            .into_iter()
            .collect(),
    }
}

fn write_state(w: &mut XmlWriter, name: &str, s: InstanceState) {
    let (code, text) = s.wire();
    w.open(name);
    w.num("code", code);
    w.text("name", text);
    w.close(name);
}

/// An instance's members (`state` overrides the stored one: RunInstances answers `pending`).
fn write_instance(w: &mut XmlWriter, i: &Instance, scope: &Scope, state: Option<InstanceState>) {
    w.text("instanceId", &i.instance_id);
    w.text("imageId", &i.image_id);
    write_state(w, "instanceState", state.unwrap_or(i.state));
    w.text("instanceType", &i.instance_type);
    w.text("launchTime", &i.launch_time);
    w.open("placement");
    w.text("availabilityZone", &i.availability_zone);
    w.close("placement");
    w.text("rootDeviceType", "ebs");
    w.text("rootDeviceName", &i.root_device_name);
    let attached = scope.volumes.values().filter_map(|v| {
        v.attachment
            .as_ref()
            .filter(|a| a.instance_id == i.instance_id)
            .map(|a| (v, a))
    });
    w.items("blockDeviceMapping", attached, |w, (v, a)| {
        w.text("deviceName", &a.device);
        w.open("ebs");
        w.text("volumeId", &v.volume_id);
        w.text("status", "attached");
        w.text("attachTime", &a.attach_time);
        w.bool("deleteOnTermination", a.delete_on_termination);
        w.close("ebs");
    });
    if let Some(r) = &i.state_reason {
        w.open("stateReason");
        w.text("code", &r.code);
        w.text("message", &r.message);
        w.close("stateReason");
        w.text("reason", &r.message);
    }
    if !i.tags.is_empty() {
        w.items("tagSet", i.tags.iter(), |w, (k, v)| {
            w.text("key", k);
            w.text("value", v);
        });
    }
}
