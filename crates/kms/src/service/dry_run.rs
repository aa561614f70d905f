//! `DryRun` (which operations accept it is in the operation table), and Decrypt/ReEncrypt with
//! `DryRunModifiers: ["IGNORE_CIPHERTEXT"]`, which checks authorization and key state on the
//! named key without a ciphertext.
//!
//! A dry run that would succeed answers `DryRunOperationException` and changes nothing; one
//! that would fail answers the failure.

use ebsim_kms_api::types::MemberSpec;
use ebsim_kms_api::types::crypto::{DecryptRequest, ReEncryptRequest};
use serde_json::{Value, json};

use super::crypto::context;
use super::{Ev, Forms, KeyUse, Kms, R, validation};
use crate::api::Caller;
use crate::state::State;

/// Whether a Decrypt/ReEncrypt request is a dry run that ignores its ciphertext.
pub(super) fn ignores_ciphertext(dry_run: Option<bool>, modifiers: Option<&[String]>) -> R<bool> {
    let Some(mods) = modifiers else {
        return Ok(false);
    };
    DecryptRequest::DRY_RUN_MODIFIERS.check_list(mods)?;
    Ok(!mods.is_empty() && dry_run == Some(true))
}

/// One key of a dry run without a ciphertext: its member, the key it names, its encryption
/// context and the action it needs.
type Leg<'a> = (
    &'static MemberSpec,
    Option<&'a str>,
    &'a ebsim_kms_api::types::StringMap,
    &'static str,
);

/// The keys a dry run without a ciphertext checks.
pub(super) struct DryRunLegs<'a>(Vec<Leg<'a>>);

impl<'a> DryRunLegs<'a> {
    /// Decrypt: `KeyId`.
    pub(super) fn of(r: &'a impl LegsOf) -> Self {
        Self(r.legs())
    }
}

/// Requests that can be dry runs without a ciphertext.
pub(super) trait LegsOf {
    /// The keys the dry run checks, in order.
    fn legs(&self) -> Vec<Leg<'_>>;
}

impl LegsOf for DecryptRequest {
    fn legs(&self) -> Vec<Leg<'_>> {
        vec![(
            &DecryptRequest::KEY_ID,
            self.key_id.as_deref(),
            context(&self.encryption_context),
            "Decrypt",
        )]
    }
}

impl LegsOf for ReEncryptRequest {
    fn legs(&self) -> Vec<Leg<'_>> {
        vec![
            (
                &ReEncryptRequest::SOURCE_KEY_ID,
                self.source_key_id.as_deref(),
                context(&self.source_encryption_context),
                "ReEncryptFrom",
            ),
            (
                &ReEncryptRequest::DESTINATION_KEY_ID,
                self.destination_key_id.as_deref(),
                context(&self.destination_encryption_context),
                "ReEncryptTo",
            ),
        ]
    }
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
        legs: DryRunLegs<'_>,
        ev: &mut Ev,
    ) -> R<Value> {
        for (i, (spec, key_ref, ctx, action)) in legs.0.into_iter().enumerate() {
            let Some(key_ref) = key_ref else {
                return Err(validation(format!(
                    "{} is required when DryRunModifiers includes IGNORE_CIPHERTEXT.",
                    spec.name
                )));
            };
            let mut leg_ev = Ev::default();
            let key = self.key_access(
                st,
                caller,
                key_ref,
                Forms::All,
                KeyUse::grantable(action, Some(ctx)),
                if i == 0 { &mut *ev } else { &mut leg_ev },
            )?;
            Self::check_state(op, key)?;
            Self::check_symmetric(key, op)?;
        }
        Ok(json!({}))
    }
}
