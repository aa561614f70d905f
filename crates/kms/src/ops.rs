//! The operation table: everything ebsim knows about each AWS KMS operation, in one place.
//!
//! Every question about an operation — its IAM action, whether it locks the state for
//! reading or writing, whether a grant can allow it, whether it takes `DryRun`, which request
//! members the audit trail records, whether it may block, in which key states it runs, and
//! whether ebsim implements it — is answered by [`operation`]. The list is AWS's: a test
//! checks it against the vendored botocore model (`tests/data/kms-service-2.json`).

use crate::api::ErrorType;
use crate::state::KeyState;

/// How an operation uses the KMS state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Reads only (CloudTrail `readOnly: true`); runs under the shared lock.
    Read,
    /// Changes state (and persists it); runs under the exclusive lock.
    Write,
}

/// What one key state means for an operation (AWS's key-state table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateRule {
    /// Allowed.
    Allow,
    /// `DisabledException`: `<key ARN> is disabled.`
    Disabled,
    /// `KMSInvalidStateException`: `<key ARN> is <state>.`
    Invalid,
    /// `KMSInvalidStateException`: `<key ARN> is not pending deletion.`
    NotPendingDeletion,
}

/// The rule of each key state ebsim has, for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyStates {
    /// `Enabled`.
    pub enabled: StateRule,
    /// `Disabled`.
    pub disabled: StateRule,
    /// `PendingDeletion`.
    pub pending_deletion: StateRule,
}

impl KeyStates {
    /// Cryptographic operations (and CreateGrant, rotation): enabled keys only.
    pub const USABLE: Self = Self {
        enabled: StateRule::Allow,
        disabled: StateRule::Disabled,
        pending_deletion: StateRule::Invalid,
    };
    /// Management operations: not while pending deletion.
    pub const NOT_PENDING: Self = Self {
        enabled: StateRule::Allow,
        disabled: StateRule::Allow,
        pending_deletion: StateRule::Invalid,
    };
    /// Any key state.
    pub const ANY: Self = Self {
        enabled: StateRule::Allow,
        disabled: StateRule::Allow,
        pending_deletion: StateRule::Allow,
    };
    /// CancelKeyDeletion: only while pending deletion.
    pub const PENDING_ONLY: Self = Self {
        enabled: StateRule::NotPendingDeletion,
        disabled: StateRule::NotPendingDeletion,
        pending_deletion: StateRule::Allow,
    };
}

/// One AWS KMS operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operation {
    /// The wire name (`X-Amz-Target: TrentService.<name>`), also the CloudTrail `eventName`.
    pub name: &'static str,
    /// The IAM actions it needs (ReEncrypt needs two).
    pub actions: &'static [&'static str],
    /// Read or write.
    pub access: Access,
    /// Whether a grant can allow it (its grant operations are its actions without `kms:`).
    pub grant: bool,
    /// Whether the request has a `DryRun` member.
    pub dry_run: bool,
    /// The request members an audit record copies into `requestParameters`.
    pub audited: &'static [&'static str],
    /// Whether it may block (it persists state): servers run it off their async workers.
    pub blocking: bool,
    /// Its key-state rules (`None` for operations that name no key).
    pub key_states: Option<KeyStates>,
    /// Whether ebsim implements it; the others answer `UnknownOperationException`.
    pub implemented: bool,
}

impl Operation {
    /// The error for `key_arn` in key state `state`, if this operation may not run in it.
    pub(crate) fn state_error(
        &self,
        key_arn: &str,
        state: KeyState,
    ) -> Option<(ErrorType, String)> {
        let rules = self.key_states?;
        let (rule, words) = match state {
            KeyState::Enabled => (rules.enabled, "enabled"),
            KeyState::Disabled => (rules.disabled, "disabled"),
            KeyState::PendingDeletion => (rules.pending_deletion, "pending deletion"),
        };
        match rule {
            StateRule::Allow => None,
            StateRule::Disabled => Some((
                ErrorType::DisabledException,
                format!("{key_arn} is disabled."),
            )),
            StateRule::Invalid => Some((
                ErrorType::KMSInvalidStateException,
                format!("{key_arn} is {words}."),
            )),
            StateRule::NotPendingDeletion => Some((
                ErrorType::KMSInvalidStateException,
                format!("{key_arn} is not pending deletion."),
            )),
        }
    }

    /// CloudTrail's `readOnly`.
    pub fn read_only(&self) -> bool {
        self.access == Access::Read
    }
}

/// The operation named `name` (case-sensitive, as on the wire).
pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS
        .binary_search_by(|o| o.name.cmp(name))
        .ok()
        .map(|i| &OPERATIONS[i])
}

/// Every AWS KMS operation, sorted by name.
pub fn operations() -> &'static [Operation] {
    &OPERATIONS
}

const KEY: &[&str] = &["KeyId"];
const KEY_LIMIT: &[&str] = &["KeyId", "Limit"];
const CRYPTO: &[&str] = &[
    "KeyId",
    "EncryptionContext",
    "EncryptionAlgorithm",
    "DryRun",
];
const DATA_KEY: &[&str] = &[
    "KeyId",
    "EncryptionContext",
    "NumberOfBytes",
    "KeySpec",
    "DryRun",
];
const KEY_DRY: &[&str] = &["KeyId", "DryRun"];
const NONE: &[&str] = &[];

/// Shorthand for the table rows.
#[allow(clippy::too_many_arguments)]
const fn op(
    name: &'static str,
    actions: &'static [&'static str],
    access: Access,
    grant: bool,
    dry_run: bool,
    audited: &'static [&'static str],
    key_states: Option<KeyStates>,
    implemented: bool,
) -> Operation {
    Operation {
        name,
        actions,
        access,
        grant,
        dry_run,
        audited,
        // Writes persist; reads never wait on the disk.
        blocking: matches!(access, Access::Write),
        key_states,
        implemented,
    }
}

use Access::{Read, Write};

const USABLE: Option<KeyStates> = Some(KeyStates::USABLE);
const NOT_PENDING: Option<KeyStates> = Some(KeyStates::NOT_PENDING);
const ANY: Option<KeyStates> = Some(KeyStates::ANY);
const NO_KEY: Option<KeyStates> = None;
const YES: bool = true;
const NO: bool = false;

// Unimplemented operations run as any unknown name does (under the write lock, answering
// UnknownOperationException), so their rows say Write and implemented: NO.
#[rustfmt::skip]
static OPERATIONS: [Operation; 54] = [
    op("CancelKeyDeletion", &["kms:CancelKeyDeletion"], Write, NO, NO, KEY, Some(KeyStates::PENDING_ONLY), YES),
    op("ConnectCustomKeyStore", &["kms:ConnectCustomKeyStore"], Write, NO, NO, NONE, NO_KEY, NO),
    op("CreateAlias", &["kms:CreateAlias"], Write, NO, NO, &["AliasName", "TargetKeyId"], NOT_PENDING, YES),
    op("CreateCustomKeyStore", &["kms:CreateCustomKeyStore"], Write, NO, NO, NONE, NO_KEY, NO),
    op("CreateGrant", &["kms:CreateGrant"], Write, YES, YES, &["KeyId", "GranteePrincipal", "RetiringPrincipal", "Operations", "Constraints", "Name", "DryRun", "GranteeServicePrincipal", "RetiringServicePrincipal"], USABLE, YES),
    op("CreateKey", &["kms:CreateKey"], Write, NO, NO, &["KeySpec", "KeyUsage", "Description", "BypassPolicyLockoutSafetyCheck", "Origin", "CustomerMasterKeySpec", "Tags"], NO_KEY, YES),
    op("Decrypt", &["kms:Decrypt"], Read, YES, YES, CRYPTO, USABLE, YES),
    op("DeleteAlias", &["kms:DeleteAlias"], Write, NO, NO, &["AliasName"], ANY, YES),
    op("DeleteCustomKeyStore", &["kms:DeleteCustomKeyStore"], Write, NO, NO, NONE, NO_KEY, NO),
    op("DeleteImportedKeyMaterial", &["kms:DeleteImportedKeyMaterial"], Write, NO, NO, KEY, NO_KEY, NO),
    op("DeriveSharedSecret", &["kms:DeriveSharedSecret"], Write, YES, YES, KEY_DRY, NO_KEY, NO),
    op("DescribeCustomKeyStores", &["kms:DescribeCustomKeyStores"], Write, NO, NO, &["Limit"], NO_KEY, NO),
    op("DescribeKey", &["kms:DescribeKey"], Read, YES, NO, KEY, ANY, YES),
    op("DisableKey", &["kms:DisableKey"], Write, NO, NO, KEY, NOT_PENDING, YES),
    op("DisableKeyRotation", &["kms:DisableKeyRotation"], Write, NO, NO, KEY, USABLE, YES),
    op("DisconnectCustomKeyStore", &["kms:DisconnectCustomKeyStore"], Write, NO, NO, NONE, NO_KEY, NO),
    op("EnableKey", &["kms:EnableKey"], Write, NO, NO, KEY, NOT_PENDING, YES),
    op("EnableKeyRotation", &["kms:EnableKeyRotation"], Write, NO, NO, &["KeyId", "RotationPeriodInDays"], USABLE, YES),
    op("Encrypt", &["kms:Encrypt"], Read, YES, YES, CRYPTO, USABLE, YES),
    op("GenerateDataKey", &["kms:GenerateDataKey"], Read, YES, YES, DATA_KEY, USABLE, YES),
    op("GenerateDataKeyPair", &["kms:GenerateDataKeyPair"], Write, YES, YES, &["KeyId", "EncryptionContext", "DryRun"], NO_KEY, NO),
    op("GenerateDataKeyPairWithoutPlaintext", &["kms:GenerateDataKeyPairWithoutPlaintext"], Write, YES, YES, &["KeyId", "EncryptionContext", "DryRun"], NO_KEY, NO),
    op("GenerateDataKeyWithoutPlaintext", &["kms:GenerateDataKeyWithoutPlaintext"], Read, YES, YES, DATA_KEY, USABLE, YES),
    op("GenerateMac", &["kms:GenerateMac"], Write, YES, YES, KEY_DRY, NO_KEY, NO),
    op("GenerateRandom", &["kms:GenerateRandom"], Read, NO, NO, &["NumberOfBytes"], NO_KEY, YES),
    op("GetKeyLastUsage", &["kms:GetKeyLastUsage"], Write, NO, NO, KEY, NO_KEY, NO),
    op("GetKeyPolicy", &["kms:GetKeyPolicy"], Read, NO, NO, &["KeyId", "PolicyName"], ANY, YES),
    op("GetKeyRotationStatus", &["kms:GetKeyRotationStatus"], Read, NO, NO, KEY, ANY, YES),
    op("GetParametersForImport", &["kms:GetParametersForImport"], Write, NO, NO, KEY, NO_KEY, NO),
    op("GetPublicKey", &["kms:GetPublicKey"], Write, YES, NO, KEY, NO_KEY, NO),
    op("ImportKeyMaterial", &["kms:ImportKeyMaterial"], Write, NO, NO, KEY, NO_KEY, NO),
    op("ListAliases", &["kms:ListAliases"], Read, NO, NO, KEY_LIMIT, NO_KEY, YES),
    op("ListGrants", &["kms:ListGrants"], Read, NO, NO, &["KeyId", "GranteePrincipal", "GrantId", "Limit", "GranteeServicePrincipal"], ANY, YES),
    op("ListKeyPolicies", &["kms:ListKeyPolicies"], Read, NO, NO, KEY_LIMIT, ANY, YES),
    op("ListKeyRotations", &["kms:ListKeyRotations"], Read, NO, NO, &["KeyId", "Limit", "IncludeKeyMaterial"], ANY, YES),
    op("ListKeys", &["kms:ListKeys"], Read, NO, NO, &["Limit"], NO_KEY, YES),
    op("ListResourceTags", &["kms:ListResourceTags"], Read, NO, NO, KEY_LIMIT, ANY, YES),
    op("ListRetirableGrants", &["kms:ListRetirableGrants"], Read, NO, NO, &["RetiringPrincipal", "Limit"], NO_KEY, YES),
    op("PutKeyPolicy", &["kms:PutKeyPolicy"], Write, NO, NO, &["KeyId", "PolicyName", "BypassPolicyLockoutSafetyCheck"], ANY, YES),
    op("ReEncrypt", &["kms:ReEncryptFrom", "kms:ReEncryptTo"], Read, YES, YES, &["SourceKeyId", "DestinationKeyId", "SourceEncryptionContext", "DestinationEncryptionContext", "DryRun"], USABLE, YES),
    op("ReplicateKey", &["kms:ReplicateKey"], Write, NO, NO, &["KeyId", "Description", "BypassPolicyLockoutSafetyCheck", "Tags"], NO_KEY, NO),
    op("RetireGrant", &["kms:RetireGrant"], Write, YES, YES, &["KeyId", "GrantId", "DryRun"], ANY, YES),
    op("RevokeGrant", &["kms:RevokeGrant"], Write, NO, YES, &["KeyId", "GrantId", "DryRun"], ANY, YES),
    op("RotateKeyOnDemand", &["kms:RotateKeyOnDemand"], Write, NO, NO, KEY, USABLE, YES),
    op("ScheduleKeyDeletion", &["kms:ScheduleKeyDeletion"], Write, NO, NO, &["KeyId", "PendingWindowInDays"], NOT_PENDING, YES),
    op("Sign", &["kms:Sign"], Write, YES, YES, KEY_DRY, NO_KEY, NO),
    op("TagResource", &["kms:TagResource"], Write, NO, NO, &["KeyId", "Tags"], NOT_PENDING, YES),
    op("UntagResource", &["kms:UntagResource"], Write, NO, NO, &["KeyId", "TagKeys"], NOT_PENDING, YES),
    op("UpdateAlias", &["kms:UpdateAlias"], Write, NO, NO, &["AliasName", "TargetKeyId"], NOT_PENDING, YES),
    op("UpdateCustomKeyStore", &["kms:UpdateCustomKeyStore"], Write, NO, NO, NONE, NO_KEY, NO),
    op("UpdateKeyDescription", &["kms:UpdateKeyDescription"], Write, NO, NO, &["KeyId", "Description"], NOT_PENDING, YES),
    op("UpdatePrimaryRegion", &["kms:UpdatePrimaryRegion"], Write, NO, NO, KEY, NO_KEY, NO),
    op("Verify", &["kms:Verify"], Write, YES, YES, KEY_DRY, NO_KEY, NO),
    op("VerifyMac", &["kms:VerifyMac"], Write, YES, YES, KEY_DRY, NO_KEY, NO),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_found() {
        for w in OPERATIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for o in &OPERATIONS {
            assert_eq!(operation(o.name).map(|f| f.name), Some(o.name));
            assert!(o.actions.iter().all(|a| a.starts_with("kms:")));
            if o.dry_run {
                assert!(
                    o.audited.contains(&"DryRun") || !o.implemented,
                    "{}",
                    o.name
                );
            }
        }
        assert!(operation("decrypt").is_none());
        assert!(operation("Foo").is_none());
    }

    #[test]
    fn state_errors_follow_the_rules() {
        let decrypt = operation("Decrypt").unwrap();
        assert_eq!(decrypt.state_error("arn:k", KeyState::Enabled), None);
        assert_eq!(
            decrypt.state_error("arn:k", KeyState::Disabled),
            Some((ErrorType::DisabledException, "arn:k is disabled.".into()))
        );
        assert_eq!(
            decrypt.state_error("arn:k", KeyState::PendingDeletion),
            Some((
                ErrorType::KMSInvalidStateException,
                "arn:k is pending deletion.".into()
            ))
        );
        let cancel = operation("CancelKeyDeletion").unwrap();
        assert_eq!(
            cancel.state_error("arn:k", KeyState::Disabled),
            Some((
                ErrorType::KMSInvalidStateException,
                "arn:k is not pending deletion.".into()
            ))
        );
        assert_eq!(cancel.state_error("arn:k", KeyState::PendingDeletion), None);
        let describe = operation("DescribeKey").unwrap();
        assert_eq!(
            describe.state_error("arn:k", KeyState::PendingDeletion),
            None
        );
    }
}
