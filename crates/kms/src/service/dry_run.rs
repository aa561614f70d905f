//! `DryRun` (which operations accept it is in the operation table), and Decrypt/ReEncrypt with
//! `DryRunModifiers: ["IGNORE_CIPHERTEXT"]`, which checks authorization and key state on the
//! named key without a ciphertext.
//!
//! A dry run that would succeed answers `DryRunOperationException` and changes nothing; one
//! that would fail answers the failure.

use serde_json::{Map, Value, json};

use super::{
    Ev, Forms, KeyUse, Kms, R, context_param, opt_bool, opt_str, req_str, ser, validation,
};
use crate::api::Caller;
use crate::state::State;

/// Whether a Decrypt/ReEncrypt request is a dry run that ignores its ciphertext.
pub(super) fn ignores_ciphertext(req: &Map<String, Value>) -> R<bool> {
    let ignore = match req.get("DryRunModifiers") {
        None | Some(Value::Null) => false,
        Some(Value::Array(mods)) => {
            let mut ignore = false;
            for m in mods {
                match m.as_str() {
                    Some("IGNORE_CIPHERTEXT") => ignore = true,
                    Some(other) => {
                        return Err(validation(format!(
                            "1 validation error detected: Value '[{other}]' at 'dryRunModifiers' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [IGNORE_CIPHERTEXT]]"
                        )));
                    }
                    None => return Err(ser("DryRunModifiers must be a list of strings")),
                }
            }
            ignore
        }
        Some(_) => return Err(ser("DryRunModifiers must be a list")),
    };
    Ok(ignore && opt_bool(req, "DryRun")?)
}

impl Kms {
    /// Decrypt or ReEncrypt as a dry run without a ciphertext: the key comes from `KeyId`
    /// (Decrypt) or `SourceKeyId` and `DestinationKeyId` (ReEncrypt), which are then
    /// required.
    pub(super) fn dry_run_without_ciphertext(
        &self,
        st: &State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let legs: &[(&str, &str, &str)] = if op == "Decrypt" {
            &[("KeyId", "EncryptionContext", "Decrypt")]
        } else {
            &[
                ("SourceKeyId", "SourceEncryptionContext", "ReEncryptFrom"),
                (
                    "DestinationKeyId",
                    "DestinationEncryptionContext",
                    "ReEncryptTo",
                ),
            ]
        };
        for (i, (param, ctx_param, action)) in legs.iter().enumerate() {
            if opt_str(req, param)?.is_none() {
                return Err(validation(format!(
                    "{param} is required when DryRunModifiers includes IGNORE_CIPHERTEXT."
                )));
            }
            let ctx = context_param(req, ctx_param)?;
            let mut leg_ev = Ev::default();
            let key_ref = req_str(req, param)?;
            let key = self.key_access(
                st,
                caller,
                key_ref,
                Forms::All,
                KeyUse::grantable(action, Some(&ctx)),
                if i == 0 { &mut *ev } else { &mut leg_ev },
            )?;
            Self::check_state(op, key)?;
            Self::check_symmetric(key, op)?;
        }
        Ok(json!({}))
    }
}
