//! Multi-Region keys (docs/kms.md, "Multi-Region keys"): `mrk-` keys made by CreateKey with
//! `MultiRegion`, ReplicateKey, UpdatePrimaryRegion, the configuration DescribeKey shows, the
//! material and rotation replicas share with their primary, and the deletion of a primary
//! that still has replicas.

use ebsim_kms_api::types::multi_region::{
    MultiRegionConfiguration, MultiRegionKey, ReplicateKeyRequest, ReplicateKeyResponse,
    UpdatePrimaryRegionRequest,
};
use ebsim_kms_api::types::tags::Tag;
use ebsim_kms_api::types::{EmptyResponse, Request as _, Rule};

use super::tags::{parse_tags_in_order, parse_tags_list};
use super::*;
use crate::state::{KeySecret, MRK_PREFIX, MaterialSecret, MultiRegionRole, slot_of};

/// `RegionType`'s pattern.
const REGION_PATTERN: &str = "^([a-z]+-){2,3}\\d+$";

/// Whether `s` matches [`REGION_PATTERN`].
fn region_shaped(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A new multi-Region key id: `mrk-` and 32 lowercase hex, and its 16 bytes.
pub(super) fn new_mrk_id() -> (String, [u8; 16]) {
    let mut b = [0u8; 16];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut b);
    (format!("{MRK_PREFIX}{}", hex::encode(b)), b)
}

/// The keys related to `key` (the same multi-Region key id in the same account), by region,
/// `key` included.
pub(super) fn related<'a>(st: &'a State, key: &Key) -> Vec<&'a Key> {
    if key.multi_region.is_none() {
        return Vec::new();
    }
    Region::all()
        .filter_map(|r| st.keys.get(&slot_of(&key.id, r.as_str())))
        .filter(|k| k.account == key.account)
        .collect()
}

/// `MultiRegionConfiguration` of `key` (`None` for a single-Region key).
pub(super) fn configuration(st: &State, key: &Key) -> Option<MultiRegionConfiguration> {
    let role = key.multi_region?;
    let mut primary = MultiRegionKey::default();
    let mut replicas = Vec::new();
    let mut all = related(st, key);
    if all.is_empty() {
        // A key not yet in the state (CreateKey's answer).
        all.push(key);
    }
    for k in all {
        let entry = MultiRegionKey {
            arn: k.arn.clone(),
            region: k.region.clone(),
        };
        match k.multi_region {
            Some(MultiRegionRole::Primary) => primary = entry,
            _ => replicas.push(entry),
        }
    }
    Some(MultiRegionConfiguration {
        multi_region_key_type: role.name().to_owned(),
        primary_key: primary,
        replica_keys: replicas,
    })
}

/// The error for a multi-Region operation on a key that is not a primary.
fn not_primary(key: &Key) -> KmsError {
    let what = if key.multi_region.is_some() {
        "a multi-region primary key"
    } else {
        "a multi-Region key"
    };
    err(
        ErrorType::UnsupportedOperationException,
        format!("{} is not {what}.", key.arn),
    )
}

/// Refuses rotation settings and on-demand rotation on a replica: they are the primary's.
pub(super) fn refuse_replica_rotation(key: &Key) -> R<()> {
    if key.multi_region == Some(MultiRegionRole::Replica) {
        return Err(err(
            ErrorType::UnsupportedOperationException,
            format!(
                "{} is a multi-Region replica key; its rotation is managed on its primary key.",
                key.arn
            ),
        ));
    }
    Ok(())
}

/// A copy of one material version (the same id and secret) for a replica.
fn copy_material(m: &Material) -> Material {
    Material {
        id: m.id.clone(),
        id_bytes: m.id_bytes,
        created: m.created,
        rotation_type: m.rotation_type.clone(),
        secret: MaterialSecret::absent(),
        import: m.import.clone(),
    }
}

impl Kms {
    /// Gives each replica of the primary at `slot` the primary's material versions it lacks
    /// and the primary's rotation settings (KMS synchronizes them). Replicas of an imported
    /// key get the material ids only and take the same material by import.
    pub(super) fn sync_replicas(st: &mut State, slot: &str) {
        let Some(primary) = st.keys.get(slot) else {
            return;
        };
        if primary.multi_region != Some(MultiRegionRole::Primary) {
            return;
        }
        let external = primary.is_external();
        let rotation = primary.rotation.clone();
        let replicas: Vec<String> = related(st, primary)
            .iter()
            .filter(|k| k.multi_region == Some(MultiRegionRole::Replica))
            .map(|k| k.slot())
            .collect();
        let materials: Vec<(Material, Option<Zeroizing<Vec<u8>>>)> = primary
            .materials
            .iter()
            .map(|m| (copy_material(m), m.secret.bytes()))
            .collect();
        for r in replicas {
            let Some(k) = st.keys.get_mut(&r) else {
                continue;
            };
            k.rotation.clone_from(&rotation);
            for (m, bytes) in &materials {
                if k.materials.iter().any(|x| x.id == m.id) {
                    continue;
                }
                let mut copy = copy_material(m);
                // Imported material is imported into each replica instead.
                if !external
                    && let Some(secret) = bytes.as_deref().and_then(|b| KeyMaterial::from_slice(b))
                {
                    copy.secret = MaterialSecret::new(secret);
                }
                k.materials.push(copy);
            }
        }
    }

    /// Primaries pending replica deletion whose last replica is gone become pending deletion,
    /// their waiting period starting now; whether any did.
    pub(super) fn settle_replica_deletions(st: &mut State, now: f64) -> bool {
        let ready: Vec<String> = st
            .keys
            .values()
            .filter(|k| k.state == KeyState::PendingReplicaDeletion)
            .filter(|k| related(st, k).len() <= 1)
            .map(Key::slot)
            .collect();
        for slot in &ready {
            if let Some(k) = st.keys.get_mut(slot) {
                k.state = KeyState::PendingDeletion;
                let days = k.pending_window_days.unwrap_or(30);
                k.deletion_date = Some(now + f64::from(days) * DAY);
            }
        }
        !ready.is_empty()
    }

    /// The primary `key_ref` names, authorized for `op` with the key's condition keys and
    /// `extra`, in a state `op` allows.
    fn primary_key<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        key_ref: &str,
        op: &str,
        extra: (&str, &str),
        ev: &mut Ev,
    ) -> R<&'a Key> {
        let key = self.key(st, caller, key_ref, Forms::IdOrArn, ev)?;
        let mut cv = self.base_conditions(caller);
        Self::key_conditions(&mut cv, key);
        cv.insert(extra.0, extra.1);
        let a = self.authorize(st, caller, key, &cv, KeyUse::policy(op))?;
        ev.sid = a.sid;
        if key.multi_region != Some(MultiRegionRole::Primary) {
            return Err(not_primary(key));
        }
        Self::check_state(op, key)?;
        Ok(key)
    }

    /// The region a ReplicateKey or UpdatePrimaryRegion request names, checked.
    fn named_region(spec: &ebsim_kms_api::types::MemberSpec, r: Option<&str>) -> R<Region> {
        let r = spec.check_present(r)?;
        spec.check_str(r)?;
        if !region_shaped(r) {
            return Err(spec.violation(Rule::Pattern(REGION_PATTERN), r));
        }
        Region::parse(r).ok_or_else(|| {
            err(
                ErrorType::UnsupportedOperationException,
                format!("Region {r} is not a Region of this KMS."),
            )
        })
    }

    pub(super) fn replicate_key(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Staged<ReplicateKeyRequest>,
        ev: &mut Ev,
        now: f64,
    ) -> R<ReplicateKeyResponse> {
        type Q = ReplicateKeyRequest;
        req.check_except(&[&Q::TAGS])?;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let to = Self::named_region(&Q::REPLICA_REGION, req.replica_region.as_deref())?;
        let primary = self.primary_key(
            st,
            caller,
            key_ref,
            Q::OPERATION,
            ("kms:ReplicaRegion", to.as_str()),
            ev,
        )?;
        if to == *primary.region {
            return Err(validation(format!(
                "The replica Region {to} is the Region of the primary key {}.",
                primary.arn
            )));
        }
        let arn = format!("arn:aws:kms:{to}:{}:key/{}", primary.account, primary.id);
        if st.keys.contains_key(&slot_of(&primary.id, to.as_str())) {
            return Err(err(
                ErrorType::AlreadyExistsException,
                format!("Replica key {arn} already exists."),
            ));
        }
        // Creating the replica is a CreateKey in its region (IAM).
        self.authorize_iam_only_with(
            st,
            caller,
            "CreateKey",
            "*",
            &[("kms:MultiRegionKeyType", "REPLICA")],
        )?;
        let description = req.description.as_deref().unwrap_or("");
        Q::DESCRIPTION.check_len(description.len())?;
        let tags = match req.get(&Q::TAGS, req.tags.as_deref()) {
            Ok(tags) => parse_tags_list(tags)?,
            Err(e) => return Err(parse_tags_in_order(req.raw(&Q::TAGS)).err().unwrap_or(e)),
        };
        let tags = self.new_key_tags(st, caller, tags)?;
        let (policy_text, policy) = match req.policy.as_deref() {
            Some(t) => (
                t.to_owned(),
                self.check_new_policy(st, caller, t, &arn, req.bypass_policy_lockout_safety_check)?,
            ),
            None => {
                let t = default_key_policy(&primary.account);
                let d = PolicyDocument::parse_key_policy(&t).map_err(KmsError::from)?;
                (t, d)
            }
        };
        let owned = st
            .keys
            .values()
            .filter(|k| k.account == primary.account && to == *k.region && !k.aws_managed)
            .count();
        if owned >= self.config.key_quota {
            return Err(err(
                ErrorType::LimitExceededException,
                format!(
                    "The account {} already has {} customer managed keys in {to}.",
                    primary.account, self.config.key_quota
                ),
            ));
        }
        let external = primary.is_external();
        let secret = match (external, primary.secret.ready()) {
            (false, Some(p)) => KeySecret::Ready(Box::new(
                crate::asym::PrivateKey::from_stored(
                    p.spec(),
                    primary.key_usage == "KEY_AGREEMENT",
                    Zeroizing::new(p.stored().to_vec()),
                )
                .map_err(|_| internal("The key material could not be copied."))?,
            )),
            _ => KeySecret::None,
        };
        let replica = Key {
            id: primary.id.clone(),
            id_bytes: primary.id_bytes,
            arn: arn.clone(),
            account: primary.account.clone(),
            region: to.as_str().to_owned(),
            created: now,
            description: description.to_owned(),
            key_usage: primary.key_usage.clone(),
            key_spec: primary.key_spec.clone(),
            origin: primary.origin.clone(),
            aws_managed: false,
            // Replicas of imported keys start without material (docs/kms.md).
            state: if external {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            deletion_date: None,
            pending_window_days: None,
            policy_text: policy_text.clone(),
            policy: Some(Arc::new(policy)),
            materials: Vec::new(),
            rotation: None,
            on_demand_rotations: 0,
            grants: Vec::new(),
            tags: tags.clone(),
            secret,
            import: None,
            multi_region: Some(MultiRegionRole::Replica),
            custom_key_store_id: None,
            xks: None,
            available_state: None,
        };
        let primary_slot = primary.slot();
        let replica_slot = replica.slot();
        st.keys.insert(replica_slot.clone(), replica);
        Self::sync_replicas(st, &primary_slot);
        let replica = st
            .keys
            .get(&replica_slot)
            .ok_or_else(|| internal("key vanished"))?;
        let mut metadata = keys::key_metadata(replica);
        metadata.multi_region_configuration = configuration(st, replica);
        Ok(ReplicateKeyResponse {
            replica_key_metadata: metadata,
            replica_policy: policy_text,
            replica_tags: tags
                .into_iter()
                .map(|(k, v)| Tag {
                    tag_key: k,
                    tag_value: v,
                })
                .collect(),
        })
    }

    pub(super) fn update_primary_region(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &UpdatePrimaryRegionRequest,
        ev: &mut Ev,
    ) -> R<EmptyResponse> {
        type Q = UpdatePrimaryRegionRequest;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let to = Self::named_region(&Q::PRIMARY_REGION, req.primary_region.as_deref())?;
        let op = Q::OPERATION;
        let primary = self.primary_key(
            st,
            caller,
            key_ref,
            op,
            ("kms:PrimaryRegion", to.as_str()),
            ev,
        )?;
        let from = primary.slot();
        let target_slot = slot_of(&primary.id, to.as_str());
        if target_slot == from {
            return Ok(EmptyResponse {});
        }
        let Some(target) = st
            .keys
            .get(&target_slot)
            .filter(|k| k.account == primary.account)
        else {
            return Err(err(
                ErrorType::NotFoundException,
                format!(
                    "Key 'arn:aws:kms:{to}:{}:key/{}' does not exist",
                    primary.account, primary.id
                ),
            ));
        };
        // The key policies of both keys must allow it.
        let mut cv = self.base_conditions(caller);
        Self::key_conditions(&mut cv, target);
        cv.insert("kms:PrimaryRegion", to.as_str());
        self.authorize(st, caller, target, &cv, KeyUse::policy(op))?;
        Self::check_state(op, target)?;
        if let Some(k) = st.keys.get_mut(&from) {
            k.multi_region = Some(MultiRegionRole::Replica);
        }
        if let Some(k) = st.keys.get_mut(&target_slot) {
            k.multi_region = Some(MultiRegionRole::Primary);
        }
        Ok(EmptyResponse {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_follow_the_models_pattern() {
        for ok in ["us-west-2", "us-gov-east-1", "ap-southeast-10"] {
            assert!(region_shaped(ok), "{ok}");
        }
        for bad in [
            "",
            "us-west",
            "US-west-2",
            "us--2",
            "us-west-2-a-b-3",
            "uswest2",
        ] {
            assert!(!region_shaped(bad), "{bad}");
        }
    }
}
