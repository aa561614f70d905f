//! GetKeyPolicy, PutKeyPolicy, ListKeyPolicies.

use serde::{Deserialize, Serialize};

use super::Rule;
use super::crypto::KEY_ID_RULE;

/// The one key policy name.
pub const DEFAULT_POLICY_NAME: &str = "default";
/// PutKeyPolicy's `PolicyName` must be `default` (checked by the service).
pub const POLICY_NAME_RULE: Rule = Rule::Service("be default");

request! {
    /// GetKeyPolicy.
    GetKeyPolicyRequest = "GetKeyPolicy" {
        /// The policy name (`default`, the default).
        policy_name, POLICY_NAME: Option<String> = "PolicyName", Value, [];
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// PutKeyPolicy: replaces a key's policy.
    PutKeyPolicyRequest = "PutKeyPolicy" {
        /// The policy name (`default`, the default).
        policy_name, POLICY_NAME: Option<String> = "PolicyName", Hidden, [POLICY_NAME_RULE];
        /// The new key policy.
        policy, POLICY: Option<String> = "Policy", Hidden, [Rule::Required];
        /// Skips the check that the policy lets the caller manage the key.
        bypass_policy_lockout_safety_check, BYPASS_POLICY_LOCKOUT_SAFETY_CHECK: bool = "BypassPolicyLockoutSafetyCheck", Value, [];
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }

    /// ListKeyPolicies: always `default`, on one page.
    ListKeyPoliciesRequest = "ListKeyPolicies" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }
}

/// The answer of GetKeyPolicy.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyResponse {
    /// The policy document.
    pub policy: String,
    /// `default`.
    pub policy_name: String,
}

/// The answer of ListKeyPolicies.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyPoliciesResponse {
    /// `["default"]`.
    pub policy_names: Vec<String>,
    /// Whether more pages follow (never).
    pub truncated: bool,
    /// The `Marker` of the next page (never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

responses! {
    GetKeyPolicyRequest => GetKeyPolicyResponse,
    PutKeyPolicyRequest => super::EmptyResponse,
    ListKeyPoliciesRequest => ListKeyPoliciesResponse,
}
