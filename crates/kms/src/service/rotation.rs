//! Key rotation: Enable/DisableKeyRotation, RotateKeyOnDemand, GetKeyRotationStatus, ListKeyRotations.

use super::*;

pub(super) fn rotation_eligible(key: &Key) -> R<()> {
    if !key.is_symmetric() {
        return Err(KmsError::bare(ErrorType::UnsupportedOperationException));
    }
    Ok(())
}

impl Kms {
    pub(super) fn get_key_rotation_status(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let key = self.managed_key(st, caller, req, "GetKeyRotationStatus", ev)?;
        rotation_eligible(key)?;
        let mut out = Map::new();
        out.insert("KeyId".into(), json!(key.arn));
        match (&key.rotation, key.state) {
            (Some(r), s) if s != KeyState::PendingDeletion => {
                out.insert("KeyRotationEnabled".into(), json!(true));
                out.insert("RotationPeriodInDays".into(), json!(r.period_days));
                out.insert("NextRotationDate".into(), json!(r.next));
            }
            _ => {
                out.insert("KeyRotationEnabled".into(), json!(false));
            }
        }
        Ok(Value::Object(out))
    }

    pub(super) fn list_key_rotations(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let key = self.managed_key(st, caller, req, "ListKeyRotations", ev)?;
        rotation_eligible(key)?;
        let all = match opt_str(req, "IncludeKeyMaterial")? {
            None | Some("ROTATIONS_ONLY") => false,
            Some("ALL_KEY_MATERIAL") => true,
            Some(_) => {
                return Err(validation(
                    "1 validation error detected: Value at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]",
                ));
            }
        };
        let last = key.materials.len().saturating_sub(1);
        let items: Vec<Value> = key
            .materials
            .iter()
            .enumerate()
            .filter(|(_, m)| all || m.rotation_type.is_some())
            .map(|(i, m)| {
                let mut e = json!({"KeyId": key.arn, "KeyMaterialId": m.id,
                    "KeyMaterialState": if i == last {"CURRENT"} else {"NON_CURRENT"}});
                if let (Some(t), Value::Object(o)) = (&m.rotation_type, &mut e) {
                    o.insert("RotationDate".into(), json!(m.created));
                    o.insert("RotationType".into(), json!(t));
                }
                e
            })
            .collect();
        list_page(items, req, 1000, 100, "Rotations")
    }

    pub(super) fn enable_or_disable_rotation(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
    ) -> R<Value> {
        let period = opt_int(req, "RotationPeriodInDays")?;
        let id = {
            let key = self.managed_key(st, caller, req, op, ev)?;
            rotation_eligible(key)?;
            Self::check_state(op, key)?;
            if key.aws_managed {
                return Err(err(
                    ErrorType::UnsupportedOperationException,
                    format!("{} is an AWS managed key.", key.arn),
                ));
            }
            key.id.clone()
        };
        if op == "EnableKeyRotation" {
            let period = period.unwrap_or(365);
            range("RotationPeriodInDays", period, 90, 2560)?;
            let k = st
                .keys
                .get_mut(&id)
                .ok_or_else(|| internal("key vanished"))?;
            let anchor = k.materials.last().map_or(now, |m| m.created).max(now);
            k.rotation = Some(Rotation {
                period_days: period as u32,
                next: anchor + period as f64 * DAY,
            });
        } else if let Some(k) = st.keys.get_mut(&id) {
            k.rotation = None;
        }
        Ok(json!({}))
    }

    pub(super) fn rotate_key_on_demand(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
    ) -> R<Value> {
        let id = {
            let key = self.managed_key(st, caller, req, op, ev)?;
            rotation_eligible(key)?;
            if key.aws_managed {
                return Err(err(
                    ErrorType::UnsupportedOperationException,
                    format!("{} is an AWS managed key.", key.arn),
                ));
            }
            Self::check_state(op, key)?;
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
            key.id.clone()
        };
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        k.materials.push(Material::generate(now, Some("ON_DEMAND")));
        k.on_demand_rotations += 1;
        Ok(json!({"KeyId": k.arn}))
    }
}
