//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use serde::{Deserialize, Serialize};

use super::Rule;
use super::crypto::KEY_ID_RULE;

/// An alias name (`AliasNameType`); grant names (`GrantNameType`) take the same characters.
pub const ALIAS_NAME_PATTERN: &str = "^[a-zA-Z0-9:/_-]+$";
/// `Limit` of ListAliases: the service's 1 to 100 (the model allows 1,000).
pub const LIST_ALIASES_LIMIT_RULE: Rule = Rule::Range { min: 1, max: 100 };

request! {
    /// CreateAlias: a new alias (`alias/…`) for a customer managed key.
    CreateAliasRequest = "CreateAlias" {
        /// The alias name, `alias/` and 1 or more characters of the pattern, 256 at most
        /// (longer names fail the pattern). `alias/aws/` is reserved.
        alias_name, ALIAS_NAME: Option<String> = "AliasName", Value,
            [Rule::Required, Rule::Pattern(ALIAS_NAME_PATTERN)];
        /// The key it points to (key id or ARN).
        target_key_id, TARGET_KEY_ID: Option<String> = "TargetKeyId", Hidden,
            [Rule::Required, KEY_ID_RULE];
    }

    /// UpdateAlias: points an existing alias at another key.
    UpdateAliasRequest = "UpdateAlias" {
        /// The alias name (as in CreateAlias).
        alias_name, ALIAS_NAME: Option<String> = "AliasName", Value,
            [Rule::Required, Rule::Pattern(ALIAS_NAME_PATTERN)];
        /// The key it is to point to (key id or ARN).
        target_key_id, TARGET_KEY_ID: Option<String> = "TargetKeyId", Hidden,
            [Rule::Required, KEY_ID_RULE];
    }

    /// DeleteAlias.
    DeleteAliasRequest = "DeleteAlias" {
        /// The alias name (as in CreateAlias).
        alias_name, ALIAS_NAME: Option<String> = "AliasName", Value,
            [Rule::Required, Rule::Pattern(ALIAS_NAME_PATTERN)];
    }

    /// ListAliases: the account's aliases in the region, AWS managed ones included.
    ListAliasesRequest = "ListAliases" {
        /// Only the aliases of this key (key id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [KEY_ID_RULE];
        /// Page size (default 50).
        limit, LIMIT: Option<i64> = "Limit", Value, [LIST_ALIASES_LIMIT_RULE];
        /// Where the previous page ended (its `NextMarker`).
        marker, MARKER: Option<String> = "Marker", Value, [];
    }
}

/// One alias in a ListAliases answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    /// The alias name (`alias/…`).
    pub alias_name: String,
    /// The alias ARN.
    pub alias_arn: String,
    /// The key id it points to (absent for AWS managed aliases not yet in use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_key_id: Option<String>,
    /// When it was created, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<f64>,
    /// When it was last pointed at a key, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_date: Option<f64>,
}

/// The answer of ListAliases.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    /// This page of aliases.
    pub aliases: Vec<AliasListEntry>,
    /// Where the next page starts, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether there is a next page.
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            CreateAliasRequest::ALIAS_NAME
                .violation(Rule::Pattern(ALIAS_NAME_PATTERN), "alias/a b")
                .message
                .as_deref(),
            Some(
                "1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
            )
        );
        assert_eq!(
            UpdateAliasRequest::TARGET_KEY_ID
                .check_present(None::<&str>)
                .unwrap_err()
                .message
                .as_deref(),
            Some(
                "1 validation error detected: Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null"
            )
        );
        assert_eq!(
            DeleteAliasRequest::ALIAS_NAME
                .check_present(None::<&str>)
                .unwrap_err()
                .message
                .as_deref(),
            Some(
                "1 validation error detected: Value null at 'aliasName' failed to satisfy constraint: Member must not be null"
            )
        );
        assert_eq!(
            ListAliasesRequest::LIMIT
                .check_int(0)
                .unwrap_err()
                .message
                .as_deref(),
            Some(
                "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )
        );
    }
}

responses! {
    CreateAliasRequest => super::EmptyResponse,
    UpdateAliasRequest => super::EmptyResponse,
    DeleteAliasRequest => super::EmptyResponse,
    ListAliasesRequest => ListAliasesResponse,
}
