//! CreateKey, DescribeKey, EnableKey, DisableKey, UpdateKeyDescription, ScheduleKeyDeletion,
//! CancelKeyDeletion, ListKeys.

use serde::{Deserialize, Serialize};

use super::Rule;
use super::crypto::{GRANT_TOKENS_RULE, KEY_ID_RULE};

/// `KeySpec` values CreateKey accepts, in the order the validation message lists them.
pub const KEY_SPECS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
];
/// `Origin` values.
pub const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];
/// A key description (`DescriptionType`).
pub const DESCRIPTION_RULE: Rule = Rule::Length {
    min: 0,
    max: Some(8192),
};
/// `Limit` of ListKeys and ListKeyRotations.
pub const LIMIT_RULE: Rule = Rule::Range { min: 1, max: 1000 };

request! {
    /// CreateKey: a new KMS key.
    CreateKeyRequest = "CreateKey" {
        /// The description (default empty).
        description, DESCRIPTION: Option<String> = "Description", Hidden, [DESCRIPTION_RULE];
        /// The key spec (default `SYMMETRIC_DEFAULT`).
        key_spec, KEY_SPEC: Option<String> = "KeySpec", Value, [Rule::Enum(KEY_SPECS)];
        /// The former name of `KeySpec`; both may be given when they agree.
        customer_master_key_spec, CUSTOMER_MASTER_KEY_SPEC: Option<String> = "CustomerMasterKeySpec", Value, [];
        /// The key usage (required for every spec but `SYMMETRIC_DEFAULT`).
        key_usage, KEY_USAGE: Option<String> = "KeyUsage", Value, [];
        /// Where the key material comes from (`AWS_KMS` or `EXTERNAL`).
        origin, ORIGIN: Option<String> = "Origin", Value, [Rule::Enum(ORIGINS)];
        /// A multi-Region primary key (`mrk-` id).
        multi_region, MULTI_REGION: bool = "MultiRegion", Value, [];
        /// Skips the check that the policy lets the caller manage the key.
        bypass_policy_lockout_safety_check, BYPASS_POLICY_LOCKOUT_SAFETY_CHECK: bool = "BypassPolicyLockoutSafetyCheck", Value, [];
        /// The key policy (default: the account's default key policy).
        policy, POLICY: Option<String> = "Policy", Hidden, [];
        /// Tags (read after the other checks, tag by tag).
        tags, TAGS: Option<Vec<super::tags::Tag>> = "Tags", Hidden, [];
        /// The custom key store of an `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE` key.
        custom_key_store_id, CUSTOM_KEY_STORE_ID: Option<String> = "CustomKeyStoreId", Value,
            [Rule::Length { min: 1, max: Some(64) }];
        /// The external key of an `EXTERNAL_KEY_STORE` key.
        xks_key_id, XKS_KEY_ID: Option<String> = "XksKeyId", Value,
            [Rule::Length { min: 1, max: Some(128) }, Rule::Pattern("^[a-zA-Z0-9-_.]+$")];
    }

    /// DescribeKey: a key's metadata.
    DescribeKeyRequest = "DescribeKey" {
        /// The key (any form, aliases included).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
    }

    /// EnableKey.
    EnableKeyRequest = "EnableKey" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// DisableKey.
    DisableKeyRequest = "DisableKey" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// UpdateKeyDescription.
    UpdateKeyDescriptionRequest = "UpdateKeyDescription" {
        /// The new description.
        description, DESCRIPTION: Option<String> = "Description", Hidden,
            [Rule::Required, DESCRIPTION_RULE];
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// ScheduleKeyDeletion: the key is deleted after a waiting period.
    ScheduleKeyDeletionRequest = "ScheduleKeyDeletion" {
        /// The waiting period in days (7 to 30, default 30).
        pending_window_in_days, PENDING_WINDOW_IN_DAYS: Option<i64> = "PendingWindowInDays", Value,
            [Rule::ServiceRange { min: 7, max: 30 }];
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// CancelKeyDeletion: the key ends disabled.
    CancelKeyDeletionRequest = "CancelKeyDeletion" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// ListKeys: the caller's account's keys, a page at a time.
    ListKeysRequest = "ListKeys" {
        /// Keys per page (1 to 1,000, default 100).
        limit, LIMIT: Option<i64> = "Limit", Value, [LIMIT_RULE];
        /// The `NextMarker` of the previous page.
        marker, MARKER: Option<String> = "Marker", Value, [];
    }
}

/// A key's metadata, as CreateKey and DescribeKey answer it. Reading one, members AWS may
/// leave out take their defaults (botocore requires only `KeyId`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyMetadata {
    /// The account that owns the key.
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub arn: String,
    /// When the key was created (epoch seconds).
    pub creation_date: f64,
    /// Whether the key state is `Enabled`.
    pub enabled: bool,
    /// The description.
    pub description: String,
    /// The key usage.
    pub key_usage: String,
    /// The key state.
    pub key_state: String,
    /// When the key is deleted, while it is pending deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    /// The waiting period of a pending deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<u32>,
    /// Where the key material comes from.
    pub origin: String,
    /// `CUSTOMER` or `AWS`.
    pub key_manager: String,
    /// The key spec, under its former name.
    pub customer_master_key_spec: String,
    /// The key spec.
    pub key_spec: String,
    /// The encryption algorithms of an `ENCRYPT_DECRYPT` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<String>>,
    /// The MAC algorithm of a `GENERATE_VERIFY_MAC` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_algorithms: Option<Vec<String>>,
    /// The signing algorithms of a `SIGN_VERIFY` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<String>>,
    /// The key agreement algorithms of a `KEY_AGREEMENT` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithms: Option<Vec<String>>,
    /// When the key material of an `EXTERNAL` key expires (the earliest expiry of its
    /// materials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<f64>,
    /// Whether the imported material of an `EXTERNAL` key expires (absent until material is
    /// imported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
    /// Whether the key is multi-Region.
    pub multi_region: bool,
    /// The primary and replicas of a multi-Region key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region_configuration: Option<super::multi_region::MultiRegionConfiguration>,
    /// The custom key store of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_key_store_id: Option<String>,
    /// The CloudHSM cluster of an `AWS_CLOUDHSM` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_hsm_cluster_id: Option<String>,
    /// The external key of an `EXTERNAL_KEY_STORE` key (`{"Id": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xks_key_configuration: Option<XksKeyConfiguration>,
    /// The current key material of a symmetric key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_key_material_id: Option<String>,
}

/// `XksKeyConfiguration` of DescribeKey.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct XksKeyConfiguration {
    /// The external key's id.
    pub id: String,
}

/// The answer of CreateKey.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyResponse {
    /// The new key.
    pub key_metadata: KeyMetadata,
}

/// The answer of DescribeKey.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeKeyResponse {
    /// The key.
    pub key_metadata: KeyMetadata,
}

/// The answer of ScheduleKeyDeletion.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionResponse {
    /// The key's ARN.
    pub key_id: String,
    /// When the key is deleted (epoch seconds; absent for a primary waiting for its replicas
    /// to be deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    /// `PendingDeletion`.
    pub key_state: String,
    /// The waiting period in days.
    pub pending_window_in_days: i64,
}

/// The answer of CancelKeyDeletion.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelKeyDeletionResponse {
    /// The key's ARN.
    pub key_id: String,
}

/// One key of a ListKeys page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub key_arn: String,
}

/// The answer of ListKeys.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysResponse {
    /// This page's keys.
    pub keys: Vec<KeyListEntry>,
    /// Whether more pages follow.
    pub truncated: bool,
    /// The `Marker` of the next page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::policy::{POLICY_NAME_RULE, PutKeyPolicyRequest};
    use crate::types::rotation::{EnableKeyRotationRequest, ListKeyRotationsRequest};

    fn msg(e: crate::KmsError) -> String {
        e.message.unwrap_or_default()
    }

    #[test]
    fn messages_are_the_services() {
        let long = "d".repeat(8193);
        assert_eq!(
            msg(UpdateKeyDescriptionRequest::DESCRIPTION
                .check_len(long.len())
                .unwrap_err()),
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192"
        );
        assert_eq!(
            msg(UpdateKeyDescriptionRequest::DESCRIPTION
                .check_present(None::<&str>)
                .unwrap_err()),
            "1 validation error detected: Value null at 'description' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            msg(DescribeKeyRequest::KEY_ID
                .check_present(None::<&str>)
                .unwrap_err()),
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            msg(ScheduleKeyDeletionRequest::PENDING_WINDOW_IN_DAYS
                .check_int(6)
                .unwrap_err()),
            "1 validation error detected: Value '6' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
        );
        assert_eq!(
            msg(CreateKeyRequest::KEY_SPEC.violation(Rule::Enum(KEY_SPECS), "AES_256")),
            "1 validation error detected: Value 'AES_256' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, ECC_NIST_EDWARDS25519, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87]"
        );
        assert_eq!(
            msg(CreateKeyRequest::ORIGIN
                .check_str("ON_PREMISES")
                .unwrap_err()),
            "1 validation error detected: Value 'ON_PREMISES' at 'origin' failed to satisfy constraint: Member must satisfy enum value set: [AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE]"
        );
        assert_eq!(
            msg(EnableKeyRotationRequest::ROTATION_PERIOD_IN_DAYS
                .check_int(2561)
                .unwrap_err()),
            "1 validation error detected: Value '2561' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 2560"
        );
        assert_eq!(
            msg(ListKeyRotationsRequest::INCLUDE_KEY_MATERIAL
                .check_str("SOME")
                .unwrap_err()),
            "1 validation error detected: Value at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]"
        );
        assert_eq!(
            msg(PutKeyPolicyRequest::POLICY_NAME.violation(POLICY_NAME_RULE, "other")),
            "1 validation error detected: Value at 'policyName' failed to satisfy constraint: Member must be default"
        );
        assert_eq!(
            msg(PutKeyPolicyRequest::POLICY
                .check_present(None::<&str>)
                .unwrap_err()),
            "1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            msg(ListKeysRequest::LIMIT.check_int(1001).unwrap_err()),
            "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
        );
    }

    #[test]
    fn key_metadata_keeps_the_wire_names() {
        let meta = KeyMetadata {
            aws_account_id: "111122223333".into(),
            key_id: "k".into(),
            arn: "a".into(),
            creation_date: 1.5,
            enabled: true,
            description: String::new(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_state: "Enabled".into(),
            deletion_date: None,
            pending_deletion_window_in_days: None,
            origin: "AWS_KMS".into(),
            key_manager: "CUSTOMER".into(),
            customer_master_key_spec: "SYMMETRIC_DEFAULT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            encryption_algorithms: Some(vec!["SYMMETRIC_DEFAULT".into()]),
            mac_algorithms: None,
            signing_algorithms: None,
            key_agreement_algorithms: None,
            valid_to: None,
            expiration_model: None,
            multi_region: false,
            multi_region_configuration: None,
            custom_key_store_id: None,
            cloud_hsm_cluster_id: None,
            xks_key_configuration: None,
            current_key_material_id: None,
        };
        let v = serde_json::to_value(&meta).unwrap();
        assert_eq!(v["AWSAccountId"], "111122223333");
        assert_eq!(v["EncryptionAlgorithms"][0], "SYMMETRIC_DEFAULT");
        assert!(v.get("DeletionDate").is_none() && v.get("MacAlgorithms").is_none());
        let back: KeyMetadata = serde_json::from_value(v).unwrap();
        assert_eq!(back, meta);
    }
}

responses! {
    CreateKeyRequest => CreateKeyResponse,
    DescribeKeyRequest => DescribeKeyResponse,
    EnableKeyRequest => super::EmptyResponse,
    DisableKeyRequest => super::EmptyResponse,
    UpdateKeyDescriptionRequest => super::EmptyResponse,
    ScheduleKeyDeletionRequest => ScheduleKeyDeletionResponse,
    CancelKeyDeletionRequest => CancelKeyDeletionResponse,
    ListKeysRequest => ListKeysResponse,
}
