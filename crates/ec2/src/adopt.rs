//! The EC2 state and `DIR/volumes/` agree when the service opens: a volume made by `ebsim
//! volume create` while no server ran is recorded (in its key's account and region, zone
//! `a`), and the record of an encrypted volume whose files were deleted meanwhile goes
//! (docs/formats.md, "EC2 state").

use ebsim_kms_api::Region;
use ebsim_volume::VolumeRoot;

use crate::state::{Ec2State, VolumeStatus, scope_key};

/// Brings `state` in line with `volumes`; whether it changed.
pub(crate) fn reconcile(
    state: &mut Ec2State,
    volumes: &VolumeRoot,
    default_account: &str,
    default_region: Region,
) -> bool {
    let Ok(listing) = volumes.list() else {
        return false;
    };
    let mut changed = false;
    let on_disk: std::collections::BTreeSet<&str> = listing
        .volumes
        .iter()
        .map(|m| m.volume_id.as_str())
        .chain(listing.broken.iter().map(|b| b.volume_id.as_str()))
        .collect();
    for scope in state.scopes.values_mut() {
        let before = scope.volumes.len();
        scope.volumes.retain(|id, v| {
            !v.encrypted || v.status == VolumeStatus::Error || on_disk.contains(id.as_str())
        });
        changed |= scope.volumes.len() != before;
    }
    for meta in &listing.volumes {
        if state.find_volume(&meta.volume_id).is_some() {
            continue;
        }
        let arn = ebsim_kms_api::id::Arn::parse(&meta.kms_key_arn);
        let account = arn
            .as_ref()
            .map_or(default_account.to_owned(), |a| a.account.to_owned());
        let region = arn
            .as_ref()
            .and_then(|a| Region::parse(a.region))
            .unwrap_or(default_region);
        let zone = format!("{}a", region.as_str());
        state
            .scopes
            .entry(scope_key(&account, region.as_str()))
            .or_default()
            .volumes
            .insert(meta.volume_id.clone(), crate::volumes::adopted(meta, &zone));
        changed = true;
    }
    changed
}
