//! Key rotation: Enable/DisableKeyRotation, RotateKeyOnDemand, GetKeyRotationStatus, ListKeyRotations.

use ebsim_kms_api::types::rotation::{
    DisableKeyRotationRequest, EnableKeyRotationRequest, GetKeyRotationStatusRequest,
    GetKeyRotationStatusResponse, ListKeyRotationsRequest, ListKeyRotationsResponse,
    RotateKeyOnDemandRequest, RotateKeyOnDemandResponse, RotationsListEntry,
};
use ebsim_kms_api::types::{EmptyResponse, Request as _};

use super::*;

pub(super) fn rotation_eligible(key: &Key) -> R<()> {
    // Keys in custom key stores never rotate (docs/kms.md, "Custom key stores").
    if !key.is_symmetric() || key.custom_key_store_id.is_some() {
        return Err(KmsError::bare(ErrorType::UnsupportedOperationException));
    }
    Ok(())
}

impl Kms {
    pub(super) fn get_key_rotation_status(
        &self,
        st: &State,
        caller: &Caller,
        req: &GetKeyRotationStatusRequest,
        ev: &mut Ev,
    ) -> R<GetKeyRotationStatusResponse> {
        type Q = GetKeyRotationStatusRequest;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let key = self.managed_key(st, caller, key_ref, Q::OPERATION, ev)?;
        rotation_eligible(key)?;
        let rotation = key
            .rotation
            .as_ref()
            .filter(|_| key.state != KeyState::PendingDeletion);
        Ok(GetKeyRotationStatusResponse {
            key_id: key.arn.clone(),
            key_rotation_enabled: rotation.is_some(),
            rotation_period_in_days: rotation.map(|r| r.period_days),
            next_rotation_date: rotation.map(|r| r.next),
        })
    }

    pub(super) fn list_key_rotations(
        &self,
        st: &State,
        caller: &Caller,
        req: &ListKeyRotationsRequest,
        ev: &mut Ev,
    ) -> R<ListKeyRotationsResponse> {
        type Q = ListKeyRotationsRequest;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let key = self.managed_key(st, caller, key_ref, Q::OPERATION, ev)?;
        rotation_eligible(key)?;
        let all = match req.include_key_material.as_deref() {
            None => false,
            Some(v) => {
                Q::INCLUDE_KEY_MATERIAL.check_str(v)?;
                v == "ALL_KEY_MATERIAL"
            }
        };
        let current = key.current_material().map(|m| m.id.as_str());
        let items: Vec<RotationsListEntry> = key
            .materials
            .iter()
            .filter(|m| all || m.rotation_type.is_some())
            .map(|m| {
                let state = if m.is_pending_rotation() {
                    "PENDING_ROTATION"
                } else if current == Some(m.id.as_str()) {
                    "CURRENT"
                } else {
                    "NON_CURRENT"
                };
                let import = m.import.as_ref();
                RotationsListEntry {
                    key_id: key.arn.clone(),
                    key_material_id: m.id.clone(),
                    key_material_description: import.and_then(|i| i.description.clone()),
                    import_state: import.map(|_| {
                        (if m.secret.is_present() {
                            "IMPORTED"
                        } else {
                            "PENDING_IMPORT"
                        })
                        .to_owned()
                    }),
                    key_material_state: state.to_owned(),
                    expiration_model: import.map(|i| i.expiration_model.clone()),
                    valid_to: import.and_then(|i| i.valid_to),
                    rotation_date: m.rotation_type.as_ref().map(|_| m.created),
                    rotation_type: m.rotation_type.clone(),
                }
            })
            .collect();
        let (rotations, next_marker) =
            page(items, req.limit, Ok(req.marker.as_deref()), &Q::LIMIT, 100)?;
        Ok(ListKeyRotationsResponse {
            rotations,
            truncated: next_marker.is_some(),
            next_marker,
        })
    }

    pub(super) fn enable_key_rotation(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &EnableKeyRotationRequest,
        ev: &mut Ev,
        now: f64,
    ) -> R<EmptyResponse> {
        type Q = EnableKeyRotationRequest;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let id = self.rotation_key(st, caller, Q::OPERATION, key_ref, ev)?;
        let period = req.rotation_period_in_days.unwrap_or(365);
        Q::ROTATION_PERIOD_IN_DAYS.check_int(period)?;
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        let anchor = k.materials.last().map_or(now, |m| m.created).max(now);
        k.rotation = Some(Rotation {
            period_days: period as u32,
            next: anchor + period as f64 * DAY,
        });
        Self::sync_replicas(st, &id);
        Ok(EmptyResponse {})
    }

    pub(super) fn disable_key_rotation(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &DisableKeyRotationRequest,
        ev: &mut Ev,
    ) -> R<EmptyResponse> {
        type Q = DisableKeyRotationRequest;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let id = self.rotation_key(st, caller, Q::OPERATION, key_ref, ev)?;
        if let Some(k) = st.keys.get_mut(&id) {
            k.rotation = None;
        }
        Self::sync_replicas(st, &id);
        Ok(EmptyResponse {})
    }

    /// The key EnableKeyRotation or DisableKeyRotation (`op`) names: a customer managed
    /// symmetric key, in a state `op` allows.
    fn rotation_key(
        &self,
        st: &State,
        caller: &Caller,
        op: &str,
        key_ref: &str,
        ev: &mut Ev,
    ) -> R<String> {
        let key = self.managed_key(st, caller, key_ref, op, ev)?;
        rotation_eligible(key)?;
        super::multi_region::refuse_replica_rotation(key)?;
        // Imported material rotates on demand only (docs/kms.md, "Imported key material").
        if key.is_external() {
            return Err(KmsError::bare(ErrorType::UnsupportedOperationException));
        }
        Self::check_state(op, key)?;
        if key.aws_managed {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                format!("{} is an AWS managed key.", key.arn),
            ));
        }
        Ok(key.slot())
    }

    pub(super) fn rotate_key_on_demand(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &RotateKeyOnDemandRequest,
        ev: &mut Ev,
        now: f64,
    ) -> R<RotateKeyOnDemandResponse> {
        type Q = RotateKeyOnDemandRequest;
        let op = Q::OPERATION;
        let id = {
            let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
            let key = self.managed_key(st, caller, key_ref, op, ev)?;
            rotation_eligible(key)?;
            super::multi_region::refuse_replica_rotation(key)?;
            if key.aws_managed {
                return Err(err(
                    ErrorType::UnsupportedOperationException,
                    format!("{} is an AWS managed key.", key.arn),
                ));
            }
            Self::check_state(op, key)?;
            if key.is_external() && !key.materials.iter().any(Material::is_pending_rotation) {
                return Err(err(
                    ErrorType::KMSInvalidStateException,
                    format!(
                        "No available key material pending rotation for the key: {}.",
                        key.arn
                    ),
                ));
            }
            if let Some(r) = &key.rotation
                && r.next - now <= ROTATION_CONFLICT_WINDOW
            {
                return Err(err(
                    ErrorType::ConflictException,
                    format!(
                        "An automatic rotation of {} is due within 20 minutes; try the on-demand rotation later.",
                        key.arn
                    ),
                ));
            }
            if key.on_demand_rotations >= 25 {
                return Err(err(
                    ErrorType::LimitExceededException,
                    format!(
                        "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                        key.arn
                    ),
                ));
            }
            key.slot()
        };
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        if k.is_external() {
            // The imported material waiting for this rotation becomes current.
            for m in &mut k.materials {
                if let Some(i) = m.import.as_mut().filter(|i| i.pending_rotation) {
                    i.pending_rotation = false;
                    m.rotation_type = Some("ON_DEMAND".into());
                    m.created = now;
                }
            }
        } else {
            k.materials.push(Material::generate(now, Some("ON_DEMAND")));
        }
        k.on_demand_rotations += 1;
        let key_id = k.arn.clone();
        Self::sync_replicas(st, &id);
        Ok(RotateKeyOnDemandResponse { key_id })
    }
}
