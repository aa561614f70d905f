//! EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
//! ListKeyRotations.

use serde::{Deserialize, Serialize};

use super::Rule;
use super::crypto::KEY_ID_RULE;
use super::keys::LIMIT_RULE;

/// `IncludeKeyMaterial` values.
pub const INCLUDE_KEY_MATERIAL: &[&str] = &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"];

request! {
    /// EnableKeyRotation: automatic rotation of a symmetric key.
    EnableKeyRotationRequest = "EnableKeyRotation" {
        /// Days between rotations (90 to 2,560, default 365).
        rotation_period_in_days, ROTATION_PERIOD_IN_DAYS: Option<i64> = "RotationPeriodInDays", Value,
            [Rule::Range { min: 90, max: 2560 }];
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// DisableKeyRotation.
    DisableKeyRotationRequest = "DisableKeyRotation" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// GetKeyRotationStatus.
    GetKeyRotationStatusRequest = "GetKeyRotationStatus" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// RotateKeyOnDemand: new key material now.
    RotateKeyOnDemandRequest = "RotateKeyOnDemand" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// ListKeyRotations: a key's rotations (or all its key material), a page at a time.
    ListKeyRotationsRequest = "ListKeyRotations" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// `ROTATIONS_ONLY` (default) or `ALL_KEY_MATERIAL`.
        include_key_material, INCLUDE_KEY_MATERIAL: Option<String> = "IncludeKeyMaterial", Hidden,
            [Rule::Enum(INCLUDE_KEY_MATERIAL)];
        /// Entries per page (1 to 1,000, default 100).
        limit, LIMIT: Option<i64> = "Limit", Value, [LIMIT_RULE];
        /// The `NextMarker` of the previous page.
        marker, MARKER: Option<String> = "Marker", Value, [];
    }
}

/// The answer of GetKeyRotationStatus (reading one, members AWS may leave out default).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetKeyRotationStatusResponse {
    /// The key's ARN.
    pub key_id: String,
    /// Whether automatic rotation is on (never while the key is pending deletion).
    pub key_rotation_enabled: bool,
    /// Days between rotations, when it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u32>,
    /// The next automatic rotation (epoch seconds), when it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
}

/// The answer of RotateKeyOnDemand.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotateKeyOnDemandResponse {
    /// The key's ARN.
    pub key_id: String,
}

/// One key material of a ListKeyRotations page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationsListEntry {
    /// The key's ARN.
    pub key_id: String,
    /// The key material.
    pub key_material_id: String,
    /// The description of imported material.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_material_description: Option<String>,
    /// `IMPORTED` or `PENDING_IMPORT` (imported material only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_state: Option<String>,
    /// `CURRENT`, `NON_CURRENT` or `PENDING_ROTATION`.
    pub key_material_state: String,
    /// Whether imported material expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
    /// When imported material expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<f64>,
    /// When the rotation that made it happened (absent for the original material).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_date: Option<f64>,
    /// `AUTOMATIC` or `ON_DEMAND` (absent for the original material).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_type: Option<String>,
}

/// The answer of ListKeyRotations.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsResponse {
    /// This page's entries.
    pub rotations: Vec<RotationsListEntry>,
    /// Whether more pages follow.
    pub truncated: bool,
    /// The `Marker` of the next page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

responses! {
    EnableKeyRotationRequest => super::EmptyResponse,
    DisableKeyRotationRequest => super::EmptyResponse,
    GetKeyRotationStatusRequest => GetKeyRotationStatusResponse,
    RotateKeyOnDemandRequest => RotateKeyOnDemandResponse,
    ListKeyRotationsRequest => ListKeyRotationsResponse,
}
