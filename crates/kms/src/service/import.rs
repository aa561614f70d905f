//! Imported key material (docs/kms.md, "Imported key material"): GetParametersForImport,
//! ImportKeyMaterial, DeleteImportedKeyMaterial, and the expiry of imported material on the
//! simulated clock.

use ebsim_kms_api::types::Request as _;
use ebsim_kms_api::types::import::{
    DeleteImportedKeyMaterialRequest, DeleteImportedKeyMaterialResponse,
    GetParametersForImportRequest, GetParametersForImportResponse, ImportKeyMaterialRequest,
    ImportKeyMaterialResponse,
};

use super::*;
use crate::import_state::{
    ImportParams, ImportedMaterial, KeyImport, MAX_PARAMETERS, PARAMETERS_LIFETIME, digest,
    material_id, parse_token,
};
use crate::state::{KeySecret, MaterialSecret};

/// The furthest ahead `ValidTo` may be: 365 days.
const MAX_VALID_FOR: f64 = 365.0 * DAY;

fn incorrect(msg: impl Into<String>) -> KmsError {
    err(ErrorType::IncorrectKeyMaterialException, msg)
}

fn invalid_token() -> KmsError {
    err(
        ErrorType::InvalidImportTokenException,
        "The import token is invalid for this KMS key.",
    )
}

fn invalid_state(msg: impl Into<String>) -> KmsError {
    err(ErrorType::KMSInvalidStateException, msg)
}

/// What ImportKeyMaterial was asked to do, checked.
struct Asked<'a> {
    expiration_model: &'a str,
    valid_to: Option<f64>,
    import_type: Option<&'a str>,
    description: Option<&'a str>,
    material_id: Option<&'a str>,
}

impl Kms {
    /// The condition keys of a key itself that the key operations see (docs/kms.md,
    /// "Authorization"): `kms:KeyOrigin`, `kms:MultiRegion` and, for a multi-Region key,
    /// `kms:MultiRegionKeyType`.
    pub(super) fn key_conditions(cv: &mut ConditionValues, key: &Key) {
        cv.set_key_facts(&key.origin, key.multi_region.map(|role| role.name()));
    }

    /// The key an import operation (`op`) names: by id or ARN, authorized by its key policy
    /// (and IAM) with the key's and the request's (`extra`) condition keys, of origin
    /// `EXTERNAL`, in a state `op` allows.
    fn import_key<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        key_ref: &str,
        op: &str,
        extra: &[(&str, String)],
        ev: &mut Ev,
    ) -> R<&'a Key> {
        let key = self.key(st, caller, key_ref, Forms::IdOrArn, ev)?;
        let mut cv = self.base_conditions(caller);
        Self::key_conditions(&mut cv, key);
        cv.insert("kms:KeySpec", key.key_spec.clone());
        cv.insert("kms:KeyUsage", key.key_usage.clone());
        for (k, v) in extra {
            cv.insert(k, v.clone());
        }
        let a = self.authorize(st, caller, key, &cv, KeyUse::policy(op))?;
        ev.sid = a.sid;
        if !key.is_external() {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                format!(
                    "{} origin is {} which is not valid for this operation.",
                    key.arn, key.origin
                ),
            ));
        }
        Self::check_state(op, key)?;
        Ok(key)
    }

    pub(super) fn get_parameters_for_import(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &GetParametersForImportRequest,
        ev: &mut Ev,
        now: f64,
    ) -> R<GetParametersForImportResponse> {
        type Q = GetParametersForImportRequest;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let alg = Q::WRAPPING_ALGORITHM.check_present(req.wrapping_algorithm.as_deref())?;
        let spec = Q::WRAPPING_KEY_SPEC.check_present(req.wrapping_key_spec.as_deref())?;
        Q::WRAPPING_ALGORITHM.check_str(alg)?;
        Q::WRAPPING_KEY_SPEC.check_str(spec)?;
        let extra = [
            ("kms:WrappingAlgorithm", alg.to_owned()),
            ("kms:WrappingKeySpec", spec.to_owned()),
        ];
        let id = self
            .import_key(st, caller, key_ref, Q::OPERATION, &extra, ev)?
            .slot();
        if alg == "RSAES_PKCS1_V1_5" {
            return Err(validation(
                "The RSAES_PKCS1_V1_5 wrapping algorithm is not supported. Use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1.",
            ));
        }
        // ebsim has no `aws-cn` partition, where SM2 wrapping is offered (docs/kms.md).
        if alg == "SM2PKE" || spec == "SM2" {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                format!(
                    "WrappingAlgorithm {alg} with WrappingKeySpec {spec} is not supported in this Region"
                ),
            ));
        }
        let valid_to = now + PARAMETERS_LIFETIME;
        let (params, public) = ImportParams::generate(alg, spec, valid_to)
            .ok_or_else(|| internal("Wrapping key generation failed."))?;
        let key = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        let token = params.token(&key.id_bytes);
        let import = key.import.get_or_insert_with(KeyImport::default);
        import.params.retain(|p| p.valid_to > now);
        if import.params.len() >= MAX_PARAMETERS {
            import.params.remove(0);
        }
        import.params.push(params);
        Ok(GetParametersForImportResponse {
            key_id: key.arn.clone(),
            import_token: ebsim_kms_api::types::Blob(token),
            public_key: ebsim_kms_api::types::Blob(public),
            parameters_valid_to: valid_to,
        })
    }

    pub(super) fn import_key_material(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &ImportKeyMaterialRequest,
        ev: &mut Ev,
        now: f64,
    ) -> R<ImportKeyMaterialResponse> {
        type Q = ImportKeyMaterialRequest;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let token = Q::IMPORT_TOKEN.check_present(req.import_token.as_ref())?;
        Q::IMPORT_TOKEN.check_len(token.0.len())?;
        let wrapped =
            Q::ENCRYPTED_KEY_MATERIAL.check_present(req.encrypted_key_material.as_ref())?;
        Q::ENCRYPTED_KEY_MATERIAL.check_len(wrapped.0.len())?;
        let asked = Asked {
            expiration_model: match req.expiration_model.as_deref() {
                Some(m) => {
                    Q::EXPIRATION_MODEL.check_str(m)?;
                    m
                }
                None => "KEY_MATERIAL_EXPIRES",
            },
            valid_to: req.valid_to,
            import_type: req.import_type.as_deref(),
            description: req.key_material_description.as_deref(),
            material_id: req.key_material_id.as_deref(),
        };
        if let Some(t) = asked.import_type {
            Q::IMPORT_TYPE.check_str(t)?;
        }
        if let Some(d) = asked.description {
            Q::KEY_MATERIAL_DESCRIPTION.check_str(d)?;
        }
        if let Some(m) = asked.material_id {
            Q::KEY_MATERIAL_ID.check_str(m)?;
        }
        let mut extra = vec![("kms:ExpirationModel", asked.expiration_model.to_owned())];
        if let Some(v) = asked.valid_to {
            extra.push(("kms:ValidTo", format!("{v}")));
        }
        let (id, params) = {
            let key = self.import_key(st, caller, key_ref, Q::OPERATION, &extra, ev)?;
            match (asked.expiration_model, asked.valid_to) {
                ("KEY_MATERIAL_EXPIRES", None) => {
                    return Err(validation(
                        "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
                    ));
                }
                ("KEY_MATERIAL_EXPIRES", Some(v)) if v <= now => {
                    return Err(validation("The validTo date must be in the future."));
                }
                ("KEY_MATERIAL_EXPIRES", Some(v)) if v > now + MAX_VALID_FOR => {
                    return Err(validation(
                        "The validTo date must be no more than 365 days in the future.",
                    ));
                }
                ("KEY_MATERIAL_DOES_NOT_EXPIRE", Some(_)) => {
                    return Err(validation(
                        "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE",
                    ));
                }
                _ => {}
            }
            let t = parse_token(&token.0).ok_or_else(invalid_token)?;
            if t.key_id != key.id_bytes {
                return Err(invalid_token());
            }
            let params = key.import.as_ref().and_then(|i| {
                i.params
                    .iter()
                    .find(|p| p.token_id == hex::encode(t.token_id))
            });
            if t.valid_to <= now || params.is_some_and(|p| p.valid_to <= now) {
                return Err(err(
                    ErrorType::ExpiredImportTokenException,
                    "The import token has expired. Call GetParametersForImport for a new one.",
                ));
            }
            let params = params.ok_or_else(invalid_token)?;
            (key.slot(), params.token_id.clone())
        };
        let key = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        let material = key
            .import
            .as_ref()
            .and_then(|i| i.params.iter().find(|p| p.token_id == params))
            .and_then(|p| p.unwrap(&wrapped.0))
            .ok_or_else(KmsError::invalid_ciphertext)?;
        let material_id = if key.is_symmetric() {
            Some(import_symmetric(key, material, &asked, now)?)
        } else {
            import_asymmetric(key, material, &asked)?;
            None
        };
        if key.state == KeyState::PendingImport && !key.missing_material() {
            key.state = KeyState::Enabled;
        }
        Ok(ImportKeyMaterialResponse {
            key_id: key.arn.clone(),
            key_material_id: material_id,
        })
    }

    pub(super) fn delete_imported_key_material(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &DeleteImportedKeyMaterialRequest,
        ev: &mut Ev,
    ) -> R<DeleteImportedKeyMaterialResponse> {
        type Q = DeleteImportedKeyMaterialRequest;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        if let Some(m) = req.key_material_id.as_deref() {
            Q::KEY_MATERIAL_ID.check_str(m)?;
        }
        let id = self
            .import_key(st, caller, key_ref, Q::OPERATION, &[], ev)?
            .slot();
        let key = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        let deleted = if key.is_symmetric() {
            let target = match req.key_material_id.as_deref() {
                Some(m) => key
                    .materials
                    .iter()
                    .position(|x| x.id == m)
                    .ok_or_else(|| {
                        err(
                            ErrorType::NotFoundException,
                            format!("Key material {m} does not exist for KMS key {}.", key.arn),
                        )
                    })?,
                None => match key.current_material().map(|c| c.id.clone()) {
                    Some(c) => key.materials.iter().position(|x| x.id == c).unwrap_or(0),
                    None => {
                        return Ok(DeleteImportedKeyMaterialResponse {
                            key_id: key.arn.clone(),
                            key_material_id: String::new(),
                        });
                    }
                },
            };
            let m = &mut key.materials[target];
            let id = m.id.clone();
            if m.is_pending_rotation() {
                key.materials.remove(target);
            } else {
                m.secret = MaterialSecret::absent();
            }
            id
        } else {
            key.secret = KeySecret::None;
            String::new()
        };
        mark_pending_import(key);
        Ok(DeleteImportedKeyMaterialResponse {
            key_id: key.arn.clone(),
            key_material_id: deleted,
        })
    }

    /// Deletes imported material whose `ValidTo` has passed (`DeleteExpiredKeyMaterial`);
    /// whether anything changed.
    pub(super) fn expire_imported(st: &mut State, now: f64) -> bool {
        let due: Vec<String> = st
            .keys
            .values()
            .filter(|k| next_expiry(k).is_some_and(|v| v <= now))
            .map(|k| k.slot())
            .collect();
        for id in &due {
            let Some(key) = st.keys.get_mut(id) else {
                continue;
            };
            let expired = |v: Option<f64>| v.is_some_and(|v| v <= now);
            key.materials.retain(|m| {
                !(m.is_pending_rotation() && expired(m.import.as_ref().and_then(|i| i.valid_to)))
            });
            for m in &mut key.materials {
                if expired(m.import.as_ref().and_then(|i| i.valid_to)) {
                    m.secret = MaterialSecret::absent();
                }
            }
            if !key.secret.is_none() && expired(key.import.as_ref().and_then(|i| i.valid_to)) {
                key.secret = KeySecret::None;
            }
            mark_pending_import(key);
        }
        !due.is_empty()
    }
}

/// The earliest time present imported material of `key` expires.
pub(super) fn next_expiry(key: &Key) -> Option<f64> {
    if !key.is_external() {
        return None;
    }
    let mut due: Option<f64> = None;
    let mut note = |v: Option<f64>| {
        if let Some(v) = v {
            due = Some(due.map_or(v, |d: f64| d.min(v)));
        }
    };
    for m in key.materials.iter().filter(|m| m.secret.is_present()) {
        note(m.import.as_ref().and_then(|i| i.valid_to));
    }
    if !key.secret.is_none() {
        note(key.import.as_ref().and_then(|i| i.valid_to));
    }
    due
}

/// The `ExpirationModel` and `ValidTo` DescribeKey shows for `key`: those of its present
/// imported material (none while it is pending import).
pub(super) fn expiry_metadata(key: &Key) -> (Option<String>, Option<f64>) {
    if !key.is_external() || key.missing_material() {
        return (None, None);
    }
    if key.is_symmetric() {
        let present: Vec<&ImportedMaterial> = key
            .materials
            .iter()
            .filter(|m| !m.is_pending_rotation() && m.secret.is_present())
            .filter_map(|m| m.import.as_ref())
            .collect();
        let valid_to = present.iter().filter_map(|i| i.valid_to).reduce(f64::min);
        let model = if valid_to.is_some() {
            "KEY_MATERIAL_EXPIRES"
        } else {
            "KEY_MATERIAL_DOES_NOT_EXPIRE"
        };
        (Some(model.to_owned()), valid_to)
    } else {
        let i = key.import.as_ref();
        (
            i.and_then(|i| i.expiration_model.clone()),
            i.and_then(|i| i.valid_to),
        )
    }
}

/// After material was deleted or expired: the key is pending import, unless it is pending
/// deletion (which it stays).
fn mark_pending_import(key: &mut Key) {
    if key.state != KeyState::PendingDeletion && key.missing_material() {
        key.state = KeyState::PendingImport;
    }
}

/// Imports 32 bytes of symmetric material into `key`; its material id.
fn import_symmetric(
    key: &mut Key,
    material: Zeroizing<Vec<u8>>,
    asked: &Asked<'_>,
    now: f64,
) -> R<String> {
    let secret = crate::blob::KeyMaterial::from_slice(&material).ok_or_else(|| {
        incorrect("The key material must be 256 bits (32 bytes) for a SYMMETRIC_DEFAULT key.")
    })?;
    drop(material);
    let id = {
        // The id is computed from the key id and the material, as AWS computes it.
        let bytes = secret.expose();
        material_id(&key.id_bytes, bytes)
    };
    let info = |description: Option<String>, pending_rotation: bool| ImportedMaterial {
        expiration_model: asked.expiration_model.to_owned(),
        valid_to: asked.valid_to,
        description,
        pending_rotation,
    };
    let has = !key.materials.is_empty();
    let import_type = asked.import_type.unwrap_or(if has {
        "EXISTING_KEY_MATERIAL"
    } else {
        "NEW_KEY_MATERIAL"
    });
    if import_type == "NEW_KEY_MATERIAL" {
        if asked.material_id.is_some() {
            return Err(validation(
                "KeyMaterialId must not be specified when ImportType is NEW_KEY_MATERIAL.",
            ));
        }
        if key.materials.iter().any(|m| m.id == id) {
            return Err(incorrect(format!(
                "The key material (id: {id}) is already associated with KMS key {}. Import it with ImportType EXISTING_KEY_MATERIAL.",
                key.arn
            )));
        }
        if has && key.state == KeyState::PendingImport {
            return Err(invalid_state(format!("{} is pending import.", key.arn)));
        }
        if let Some(p) = key.materials.iter().find(|m| m.is_pending_rotation()) {
            return Err(invalid_state(format!(
                "New key material (id: {id}) cannot be imported into KMS key {}, because another key material (id: {}) is pending rotation.",
                key.arn, p.id
            )));
        }
        let id_bytes: [u8; 32] = hex::decode(&id)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| internal("bad material id"))?;
        key.materials.push(Material {
            id: id.clone(),
            id_bytes,
            created: now,
            rotation_type: None,
            secret: MaterialSecret::new(secret),
            import: Some(info(asked.description.map(str::to_owned), has)),
        });
        return Ok(id);
    }
    if let Some(m) = asked.material_id
        && m != id
    {
        return Err(incorrect(format!(
            "The key material does not match the key material (id: {m}) of KMS key {}.",
            key.arn
        )));
    }
    let Some(m) = key.materials.iter_mut().find(|m| m.id == id) else {
        return Err(incorrect(format!(
            "The key material is not the key material previously imported into KMS key {}.",
            key.arn
        )));
    };
    let description = asked
        .description
        .map(str::to_owned)
        .or_else(|| m.import.as_ref().and_then(|i| i.description.clone()));
    let pending = m.is_pending_rotation();
    m.secret = MaterialSecret::new(secret);
    m.import = Some(info(description, pending));
    Ok(id)
}

/// Imports the private key (PKCS #8 DER; HMAC: the key bytes) of an asymmetric or HMAC key.
fn import_asymmetric(key: &mut Key, material: Zeroizing<Vec<u8>>, asked: &Asked<'_>) -> R<()> {
    if asked.import_type.is_some() || asked.material_id.is_some() || asked.description.is_some() {
        return Err(validation(
            "ImportType, KeyMaterialId and KeyMaterialDescription are valid only for symmetric encryption keys.",
        ));
    }
    let spec = crate::asym::Spec::parse(&key.key_spec)
        .ok_or_else(|| internal("The key spec has no material type."))?;
    let wrong = || {
        incorrect(format!(
            "The key material is not a valid {} private key.",
            key.key_spec
        ))
    };
    if let crate::asym::Spec::Rsa(bits) = spec {
        let size = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&material)
            .map_err(|_| wrong())?
            .key_size_bits();
        if size != bits as usize {
            return Err(wrong());
        }
    }
    let parsed = crate::asym::PrivateKey::from_stored(
        spec,
        key.key_usage == "KEY_AGREEMENT",
        material.clone(),
    )
    .map_err(|_| wrong())?;
    let binding = match parsed.public_key_der() {
        Some(public) => digest(public),
        None => material_id(&key.id_bytes, &material),
    };
    let import = key.import.get_or_insert_with(KeyImport::default);
    if import.bound.as_ref().is_some_and(|b| *b != binding) {
        return Err(incorrect(format!(
            "The key material is not the key material previously imported into KMS key {}.",
            key.arn
        )));
    }
    import.bound = Some(binding);
    import.expiration_model = Some(asked.expiration_model.to_owned());
    import.valid_to = asked.valid_to;
    key.secret = KeySecret::Ready(Box::new(parsed));
    Ok(())
}
