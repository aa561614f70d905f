//! ReplicateKey and UpdatePrimaryRegion: multi-Region keys (docs/kms.md, "Multi-Region keys").

use serde::{Deserialize, Serialize};

use super::Rule;
use super::crypto::KEY_ID_RULE;
use super::keys::{DESCRIPTION_RULE, KeyMetadata};
use super::tags::Tag;

/// A region name (`RegionType`; its pattern is checked by the service).
pub const REGION_RULE: Rule = Rule::Length {
    min: 1,
    max: Some(32),
};

request! {
    /// ReplicateKey: a replica of a multi-Region primary key in another region.
    ReplicateKeyRequest = "ReplicateKey" {
        /// The primary key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The region of the replica.
        replica_region, REPLICA_REGION: Option<String> = "ReplicaRegion", Value,
            [Rule::Required, REGION_RULE];
        /// The replica's key policy (default: the account's default key policy).
        policy, POLICY: Option<String> = "Policy", Hidden, [];
        /// Skips the check that the policy lets the caller manage the replica.
        bypass_policy_lockout_safety_check, BYPASS_POLICY_LOCKOUT_SAFETY_CHECK: bool = "BypassPolicyLockoutSafetyCheck", Value, [];
        /// The replica's description (default empty).
        description, DESCRIPTION: Option<String> = "Description", Hidden, [DESCRIPTION_RULE];
        /// The replica's tags.
        tags, TAGS: Option<Vec<Tag>> = "Tags", Hidden, [];
    }

    /// UpdatePrimaryRegion: a replica becomes the primary key.
    UpdatePrimaryRegionRequest = "UpdatePrimaryRegion" {
        /// The current primary key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The region of the replica that becomes the primary.
        primary_region, PRIMARY_REGION: Option<String> = "PrimaryRegion", Value,
            [Rule::Required, REGION_RULE];
    }
}

/// A related key of a multi-Region key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MultiRegionKey {
    /// Its ARN.
    pub arn: String,
    /// Its region.
    pub region: String,
}

/// `MultiRegionConfiguration` of DescribeKey.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MultiRegionConfiguration {
    /// `PRIMARY` or `REPLICA`.
    pub multi_region_key_type: String,
    /// The primary key.
    pub primary_key: MultiRegionKey,
    /// Every replica.
    pub replica_keys: Vec<MultiRegionKey>,
}

/// The answer of ReplicateKey.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicateKeyResponse {
    /// The replica.
    pub replica_key_metadata: KeyMetadata,
    /// The replica's key policy.
    pub replica_policy: String,
    /// The replica's tags.
    pub replica_tags: Vec<Tag>,
}

responses! {
    ReplicateKeyRequest => ReplicateKeyResponse,
    UpdatePrimaryRegionRequest => super::EmptyResponse,
}
