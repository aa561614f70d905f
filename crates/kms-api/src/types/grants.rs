//! CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.
//!
//! Besides AWS's members, grant principals may be given as AWS service principals:
//! `GranteeServicePrincipal` / `RetiringServicePrincipal` (docs/kms.md, "Authorization").

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::aliases::ALIAS_NAME_PATTERN;
use super::crypto::{GRANT_TOKENS_RULE, KEY_ID_RULE};
use super::{Member, Rule, StringMap, get, ser};
use crate::KmsError;

/// Operations a grant may allow (docs/kms.md, "Authorization").
pub const GRANT_OPERATIONS: [&str; 17] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
];

/// A principal (`PrincipalIdType`). The service also takes any Unicode letter or digit
/// where the pattern says `\w`, and reports a principal longer than 256 characters as
/// breaking the pattern.
pub const PRINCIPAL_PATTERN: &str = r"^[\w+=,.@:/-]+$";
/// A member naming an AWS service principal (`<service>.amazonaws.com` or
/// `<service>.<region>.amazonaws.com`, lowercase).
pub const SERVICE_PRINCIPAL_RULE: Rule =
    Rule::Service("be an AWS service principal such as dynamodb.us-west-2.amazonaws.com");
/// `Limit` of ListGrants and ListRetirableGrants: the service's 1 to 100 (the model allows
/// 1,000).
pub const LIST_GRANTS_LIMIT_RULE: Rule = Rule::Range { min: 1, max: 100 };

request! {
    /// CreateGrant: allows a principal some operations on a key.
    CreateGrantRequest = "CreateGrant" {
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Who gets the permissions (or `GranteeServicePrincipal`).
        grantee_principal, GRANTEE_PRINCIPAL: Option<String> = "GranteePrincipal", Value,
            [Rule::RequiredUnless("GranteeServicePrincipal"), Rule::Pattern(PRINCIPAL_PATTERN)];
        /// An AWS service that gets the permissions (or `GranteePrincipal`).
        grantee_service_principal, GRANTEE_SERVICE_PRINCIPAL: Option<String> = "GranteeServicePrincipal", Value,
            [SERVICE_PRINCIPAL_RULE];
        /// Who may retire the grant (at most one of this and `RetiringServicePrincipal`).
        retiring_principal, RETIRING_PRINCIPAL: Option<String> = "RetiringPrincipal", Value,
            [Rule::Pattern(PRINCIPAL_PATTERN)];
        /// An AWS service that may retire the grant.
        retiring_service_principal, RETIRING_SERVICE_PRINCIPAL: Option<String> = "RetiringServicePrincipal", Value,
            [SERVICE_PRINCIPAL_RULE];
        /// The operations allowed (at least one).
        operations, OPERATIONS: Option<Vec<String>> = "Operations", Value,
            [Rule::Required, Rule::Length { min: 1, max: None }, Rule::ItemEnum(&GRANT_OPERATIONS)];
        /// The encryption context the allowed operations must carry (at most 8 pairs per
        /// map, values at most 384 characters).
        constraints, CONSTRAINTS: Option<GrantConstraints> = "Constraints", Hidden, [];
        /// A name: CreateGrant with the name, principals, operations and constraints of an
        /// existing grant answers that grant. Longer than 256 characters fails the pattern.
        name, NAME: Option<String> = "Name", Value, [Rule::Pattern(ALIAS_NAME_PATTERN)];
        /// The key (key id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: bool = "DryRun", Value, [];
    }

    /// ListGrants: the grants of a key.
    ListGrantsRequest = "ListGrants" {
        /// The key (key id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// Only this grant (an invalid id is InvalidGrantIdException).
        grant_id, GRANT_ID: Option<String> = "GrantId", Value, [];
        /// Only the grants of this grantee (at most one of this and
        /// `GranteeServicePrincipal`).
        grantee_principal, GRANTEE_PRINCIPAL: Option<String> = "GranteePrincipal", Value, [];
        /// Only the grants of this AWS service.
        grantee_service_principal, GRANTEE_SERVICE_PRINCIPAL: Option<String> = "GranteeServicePrincipal", Value,
            [SERVICE_PRINCIPAL_RULE];
        /// Page size (default 50).
        limit, LIMIT: Option<i64> = "Limit", Value, [LIST_GRANTS_LIMIT_RULE];
        /// Where the previous page ended (its `NextMarker`).
        marker, MARKER: Option<String> = "Marker", Value, [];
    }

    /// ListRetirableGrants: the grants a principal may retire, across the account's keys.
    ListRetirableGrantsRequest = "ListRetirableGrants" {
        /// The retiring principal (or `RetiringServicePrincipal`).
        retiring_principal, RETIRING_PRINCIPAL: Option<String> = "RetiringPrincipal", Value,
            [Rule::RequiredUnless("RetiringServicePrincipal")];
        /// The retiring AWS service (or `RetiringPrincipal`).
        retiring_service_principal, RETIRING_SERVICE_PRINCIPAL: Option<String> = "RetiringServicePrincipal", Value,
            [SERVICE_PRINCIPAL_RULE];
        /// Page size (default 50).
        limit, LIMIT: Option<i64> = "Limit", Value, [LIST_GRANTS_LIMIT_RULE];
        /// Where the previous page ended (its `NextMarker`).
        marker, MARKER: Option<String> = "Marker", Value, [];
    }

    /// RetireGrant: by grant token, or by key ARN and grant id.
    RetireGrantRequest = "RetireGrant" {
        /// The grant's token.
        grant_token, GRANT_TOKEN: Option<String> = "GrantToken", Value, [];
        /// The key's ARN (without `GrantToken`).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [KEY_ID_RULE];
        /// The grant id (without `GrantToken`).
        grant_id, GRANT_ID: Option<String> = "GrantId", Value, [];
        /// Checks the call without making it.
        dry_run, DRY_RUN: bool = "DryRun", Value, [];
    }

    /// RevokeGrant: deletes a grant of a key.
    RevokeGrantRequest = "RevokeGrant" {
        /// The grant id.
        grant_id, GRANT_ID: Option<String> = "GrantId", Value, [Rule::Required];
        /// The key (key id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: bool = "DryRun", Value, [];
    }
}

/// The encryption context constraints of a grant (`GrantConstraints`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantConstraints {
    /// Pairs the request's encryption context must include.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<StringMap>,
    /// The encryption context the request must carry exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<StringMap>,
}

/// A map member of a structure: `None` when the key is absent, empty when it is `null`.
fn present_map(c: &Map<String, Value>, name: &str) -> Result<Option<StringMap>, KmsError> {
    if c.contains_key(name) {
        StringMap::read(c, name).map(Some)
    } else {
        Ok(None)
    }
}

impl Member for Option<GrantConstraints> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(None),
            Some(Value::Object(c)) => Ok(Some(GrantConstraints {
                encryption_context_subset: present_map(c, "EncryptionContextSubset")?,
                encryption_context_equals: present_map(c, "EncryptionContextEquals")?,
            })),
            Some(_) => Err(ser(format!("{name} must be an object"))),
        }
    }
}

/// The answer of CreateGrant (reading one, members AWS may leave out default).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateGrantResponse {
    /// A token that uses the grant at once.
    pub grant_token: String,
    /// The grant id.
    pub grant_id: String,
}

/// One grant in a ListGrants or ListRetirableGrants answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantListEntry {
    /// The key's ARN.
    pub key_id: String,
    /// The grant id.
    pub grant_id: String,
    /// The grant's name, if it was given one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it was created, epoch seconds.
    pub creation_date: f64,
    /// Who has the permissions.
    pub grantee_principal: String,
    /// The grantee again, when it is an AWS service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee_service_principal: Option<String>,
    /// Who may retire the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    /// The retiring principal again, when it is an AWS service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_service_principal: Option<String>,
    /// The root of the key's account (`arn:aws:iam::<account>:root`).
    pub issuing_account: String,
    /// The operations allowed, sorted.
    pub operations: Vec<String>,
    /// The encryption context constraints, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<GrantConstraints>,
}

/// The answer of ListGrants and ListRetirableGrants.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGrantsResponse {
    /// This page of grants.
    pub grants: Vec<GrantListEntry>,
    /// Where the next page starts, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether there is a next page.
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FromMembers;
    use serde_json::json;

    fn msg(e: KmsError) -> String {
        e.message.unwrap_or_default()
    }

    const V: &str = "1 validation error detected: ";

    #[test]
    fn messages() {
        type Q = CreateGrantRequest;
        let ops: Vec<String> = vec!["Fly".into()];
        assert_eq!(
            msg(Q::OPERATIONS.check_list(&ops).unwrap_err()),
            format!(
                "{V}Value '[Fly]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                GRANT_OPERATIONS.join(", ")
            )
        );
        assert_eq!(
            msg(Q::OPERATIONS.check_list(&[]).unwrap_err()),
            format!(
                "{V}Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
        assert_eq!(
            msg(Q::OPERATIONS.check_present(None::<&[String]>).unwrap_err()),
            format!(
                "{V}Value null at 'operations' failed to satisfy constraint: Member must not be null"
            )
        );
        let tokens = vec![String::new(); 11];
        assert_eq!(
            msg(Q::GRANT_TOKENS.check_list(&tokens).unwrap_err()),
            format!(
                "{V}Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10"
            )
        );
        assert!(Q::GRANT_TOKENS.check_list(&tokens[..10]).is_ok());
        assert_eq!(
            msg(Q::GRANTEE_PRINCIPAL.violation(Rule::Pattern(PRINCIPAL_PATTERN), "a b")),
            format!(
                "{V}Value 'a b' at 'granteePrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
            )
        );
        assert_eq!(
            msg(Q::RETIRING_PRINCIPAL.violation(Rule::Pattern(PRINCIPAL_PATTERN), "")),
            format!(
                "{V}Value '' at 'retiringPrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
            )
        );
        assert_eq!(
            msg(Q::NAME.violation(Rule::Pattern(ALIAS_NAME_PATTERN), "a.b")),
            format!(
                "{V}Value 'a.b' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
            )
        );
        assert_eq!(
            msg(Q::GRANTEE_PRINCIPAL
                .check_present(None::<&str>)
                .unwrap_err()),
            format!(
                "{V}Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null (or give GranteeServicePrincipal)"
            )
        );
        assert_eq!(
            msg(ListRetirableGrantsRequest::RETIRING_PRINCIPAL
                .check_present(None::<&str>)
                .unwrap_err()),
            format!(
                "{V}Value null at 'retiringPrincipal' failed to satisfy constraint: Member must not be null (or give RetiringServicePrincipal)"
            )
        );
        assert_eq!(
            msg(Q::GRANTEE_SERVICE_PRINCIPAL.violation(SERVICE_PRINCIPAL_RULE, "ec2")),
            format!(
                "{V}Value 'ec2' at 'granteeServicePrincipal' failed to satisfy constraint: Member must be an AWS service principal such as dynamodb.us-west-2.amazonaws.com"
            )
        );
        assert_eq!(
            msg(Q::KEY_ID.check_present(None::<&str>).unwrap_err()),
            format!(
                "{V}Value null at 'keyId' failed to satisfy constraint: Member must not be null"
            )
        );
        assert_eq!(
            msg(RevokeGrantRequest::GRANT_ID
                .check_present(None::<&str>)
                .unwrap_err()),
            format!(
                "{V}Value null at 'grantId' failed to satisfy constraint: Member must not be null"
            )
        );
        assert_eq!(
            msg(ListGrantsRequest::LIMIT.check_int(101).unwrap_err()),
            format!(
                "{V}Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
            )
        );
        assert_eq!(
            msg(ListGrantsRequest::LIMIT.check_int(0).unwrap_err()),
            format!(
                "{V}Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )
        );
    }

    #[test]
    fn constraints_read_like_the_service() {
        let read = |v: serde_json::Value| {
            let m = v.as_object().cloned().unwrap_or_default();
            CreateGrantRequest::from_members(&m).map(|r| r.constraints)
        };
        assert_eq!(read(json!({})).ok(), Some(None));
        assert_eq!(
            read(json!({"Constraints": {"EncryptionContextSubset": null}})).ok(),
            Some(Some(GrantConstraints {
                encryption_context_subset: Some(StringMap::new()),
                encryption_context_equals: None,
            }))
        );
        assert_eq!(
            read(json!({"Constraints": 1})).err().map(msg).as_deref(),
            Some("Constraints must be an object")
        );
        assert_eq!(
            read(json!({"Constraints": {"EncryptionContextEquals": {"a": 1}}}))
                .err()
                .map(msg)
                .as_deref(),
            Some("EncryptionContextEquals values must be strings")
        );
    }
}

responses! {
    CreateGrantRequest => CreateGrantResponse,
    ListGrantsRequest => ListGrantsResponse,
    ListRetirableGrantsRequest => ListGrantsResponse,
    RetireGrantRequest => super::EmptyResponse,
    RevokeGrantRequest => super::EmptyResponse,
}
