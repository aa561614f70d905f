//! The operation table: everything ebsim knows about each AWS KMS operation, in one place.
//!
//! Every question about an operation — its IAM action, whether it locks the state for
//! reading or writing, whether a grant can allow it, whether it takes `DryRun`, which request
//! members the audit trail records, whether it may block, in which key states it runs, and
//! whether ebsim implements it — is answered by [`operation`]. The list is AWS's: a test of
//! `ebsim-kms` checks it against the vendored botocore model
//! (`crates/kms/tests/data/kms-service-2.json`).

use crate::{ErrorType, KeyState};

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
    /// `PendingImport`.
    pub pending_import: StateRule,
}

impl KeyStates {
    /// Cryptographic operations (and CreateGrant, rotation): enabled keys only.
    pub const USABLE: Self = Self {
        enabled: StateRule::Allow,
        disabled: StateRule::Disabled,
        pending_deletion: StateRule::Invalid,
        pending_import: StateRule::Invalid,
    };
    /// Management operations: not while pending deletion.
    pub const NOT_PENDING: Self = Self {
        enabled: StateRule::Allow,
        disabled: StateRule::Allow,
        pending_deletion: StateRule::Invalid,
        pending_import: StateRule::Allow,
    };
    /// EnableKey and DisableKey: not while pending deletion or pending import.
    pub const SETTLED: Self = Self {
        enabled: StateRule::Allow,
        disabled: StateRule::Allow,
        pending_deletion: StateRule::Invalid,
        pending_import: StateRule::Invalid,
    };
    /// Any key state.
    pub const ANY: Self = Self {
        enabled: StateRule::Allow,
        disabled: StateRule::Allow,
        pending_deletion: StateRule::Allow,
        pending_import: StateRule::Allow,
    };
    /// CancelKeyDeletion: only while pending deletion.
    pub const PENDING_ONLY: Self = Self {
        enabled: StateRule::NotPendingDeletion,
        disabled: StateRule::NotPendingDeletion,
        pending_deletion: StateRule::Allow,
        pending_import: StateRule::NotPendingDeletion,
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
    /// Whether it may block (it persists state, or generates an RSA key pair): servers run it
    /// off their async workers.
    pub blocking: bool,
    /// Its key-state rules (`None` for operations that name no key).
    pub key_states: Option<KeyStates>,
    /// Whether ebsim implements it; the others answer `UnknownOperationException`.
    pub implemented: bool,
}

impl Operation {
    /// The error for `key_arn` in key state `state`, if this operation may not run in it.
    pub fn state_error(&self, key_arn: &str, state: KeyState) -> Option<(ErrorType, String)> {
        let rules = self.key_states?;
        let (rule, words) = match state {
            KeyState::Enabled => (rules.enabled, "enabled"),
            KeyState::Disabled => (rules.disabled, "disabled"),
            KeyState::PendingDeletion => (rules.pending_deletion, "pending deletion"),
            KeyState::PendingImport => (rules.pending_import, "pending import"),
            // AWS's key-state table gives both pending deletions one column.
            KeyState::PendingReplicaDeletion => {
                (rules.pending_deletion, "pending replica deletion")
            }
            // Usable keys only where an Enabled key is required (docs/kms.md, "Custom key
            // stores"); management operations go on.
            KeyState::Unavailable => (
                match rules.disabled {
                    StateRule::Disabled => StateRule::Invalid,
                    other => other,
                },
                "unavailable",
            ),
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

    /// Whether an audit record of this operation copies request member `name`: the members
    /// of [`Operation::audited`], and `DryRun` wherever it is sent (operations without it
    /// refuse it, and the record shows the member that was refused).
    pub fn records_member(&self, name: &str) -> bool {
        name == "DryRun" || self.audited.contains(&name)
    }

    /// CloudTrail's `readOnly`.
    pub fn read_only(&self) -> bool {
        self.access == Access::Read
    }
}

/// The operation named `name` (case-sensitive, as on the wire).
pub fn operation(name: &str) -> Option<&'static Operation> {
    // Asked several times per call (authorization, key states, the audit record): one cheap
    // hash (FxHash: the keys are fixed, not chosen by a client) and one comparison rather than
    // a binary search's six.
    static BY_NAME: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, &'static Operation>> =
        std::sync::LazyLock::new(|| OPERATIONS.iter().map(|o| (o.name, o)).collect());
    BY_NAME.get(name).copied()
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
const DATA_KEY_PAIR: &[&str] = &["KeyId", "EncryptionContext", "KeyPairSpec", "DryRun"];
const SIGN: &[&str] = &["KeyId", "MessageType", "SigningAlgorithm", "DryRun"];
const MAC: &[&str] = &["KeyId", "MacAlgorithm", "DryRun"];
const NONE: &[&str] = &[];

/// A row: a write operation that is implemented, names no key, takes no grant or `DryRun`
/// and audits nothing, until its builder calls say otherwise.
const fn op(name: &'static str, actions: &'static [&'static str]) -> Operation {
    Operation {
        name,
        actions,
        access: Access::Write,
        grant: false,
        dry_run: false,
        audited: NONE,
        // Writes persist; reads never wait on the disk.
        blocking: true,
        key_states: None,
        implemented: true,
    }
}

impl Operation {
    const fn read(mut self) -> Self {
        self.access = Access::Read;
        self.blocking = false;
        self
    }
    /// May block its thread for long (it generates an RSA key pair, up to a second for
    /// RSA_4096): servers run it off their async workers though it only reads the state.
    const fn slow(mut self) -> Self {
        self.blocking = true;
        self
    }
    const fn grant(mut self) -> Self {
        self.grant = true;
        self
    }
    const fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }
    const fn audits(mut self, members: &'static [&'static str]) -> Self {
        self.audited = members;
        self
    }
    const fn states(mut self, rules: KeyStates) -> Self {
        self.key_states = Some(rules);
        self
    }
}

const USABLE: KeyStates = KeyStates::USABLE;
const NOT_PENDING: KeyStates = KeyStates::NOT_PENDING;
const ANY: KeyStates = KeyStates::ANY;
const SETTLED: KeyStates = KeyStates::SETTLED;

#[rustfmt::skip]
static OPERATIONS: [Operation; 54] = [
    op("CancelKeyDeletion", &["kms:CancelKeyDeletion"]).audits(KEY).states(KeyStates::PENDING_ONLY),
    op("ConnectCustomKeyStore", &["kms:ConnectCustomKeyStore"]).audits(&["CustomKeyStoreId"]),
    op("CreateAlias", &["kms:CreateAlias"]).audits(&["AliasName", "TargetKeyId"]).states(NOT_PENDING),
    op("CreateCustomKeyStore", &["kms:CreateCustomKeyStore"]).audits(&["CustomKeyStoreName", "CustomKeyStoreType", "CloudHsmClusterId", "XksProxyUriEndpoint", "XksProxyUriPath", "XksProxyConnectivity", "XksProxyVpcEndpointServiceName", "XksProxyVpcEndpointServiceOwner"]),
    op("CreateGrant", &["kms:CreateGrant"]).grant().dry_run().audits(&["KeyId", "GranteePrincipal", "RetiringPrincipal", "Operations", "Constraints", "Name", "DryRun", "GranteeServicePrincipal", "RetiringServicePrincipal"]).states(USABLE),
    op("CreateKey", &["kms:CreateKey"]).audits(&["KeySpec", "KeyUsage", "Description", "BypassPolicyLockoutSafetyCheck", "Origin", "CustomerMasterKeySpec", "Tags", "MultiRegion", "CustomKeyStoreId", "XksKeyId"]),
    op("Decrypt", &["kms:Decrypt"]).read().grant().dry_run().audits(CRYPTO).states(USABLE),
    op("DeleteAlias", &["kms:DeleteAlias"]).audits(&["AliasName"]).states(ANY),
    op("DeleteCustomKeyStore", &["kms:DeleteCustomKeyStore"]).audits(&["CustomKeyStoreId"]),
    op("DeleteImportedKeyMaterial", &["kms:DeleteImportedKeyMaterial"]).audits(&["KeyId", "KeyMaterialId"]).states(ANY),
    op("DeriveSharedSecret", &["kms:DeriveSharedSecret"]).read().grant().dry_run().audits(&["KeyId", "KeyAgreementAlgorithm", "DryRun"]).states(USABLE),
    op("DescribeCustomKeyStores", &["kms:DescribeCustomKeyStores"]).read().audits(&["CustomKeyStoreId", "CustomKeyStoreName", "Limit"]),
    op("DescribeKey", &["kms:DescribeKey"]).read().grant().audits(KEY).states(ANY),
    op("DisableKey", &["kms:DisableKey"]).audits(KEY).states(SETTLED),
    op("DisableKeyRotation", &["kms:DisableKeyRotation"]).audits(KEY).states(USABLE),
    op("DisconnectCustomKeyStore", &["kms:DisconnectCustomKeyStore"]).audits(&["CustomKeyStoreId"]),
    op("EnableKey", &["kms:EnableKey"]).audits(KEY).states(SETTLED),
    op("EnableKeyRotation", &["kms:EnableKeyRotation"]).audits(&["KeyId", "RotationPeriodInDays"]).states(USABLE),
    op("Encrypt", &["kms:Encrypt"]).read().grant().dry_run().audits(CRYPTO).states(USABLE),
    op("GenerateDataKey", &["kms:GenerateDataKey"]).read().grant().dry_run().audits(DATA_KEY).states(USABLE),
    op("GenerateDataKeyPair", &["kms:GenerateDataKeyPair"]).read().slow().grant().dry_run().audits(DATA_KEY_PAIR).states(USABLE),
    op("GenerateDataKeyPairWithoutPlaintext", &["kms:GenerateDataKeyPairWithoutPlaintext"]).read().slow().grant().dry_run().audits(DATA_KEY_PAIR).states(USABLE),
    op("GenerateDataKeyWithoutPlaintext", &["kms:GenerateDataKeyWithoutPlaintext"]).read().grant().dry_run().audits(DATA_KEY).states(USABLE),
    op("GenerateMac", &["kms:GenerateMac"]).read().grant().dry_run().audits(MAC).states(USABLE),
    op("GenerateRandom", &["kms:GenerateRandom"]).read().audits(&["NumberOfBytes"]),
    op("GetKeyLastUsage", &["kms:GetKeyLastUsage"]).read().audits(KEY).states(ANY),
    op("GetKeyPolicy", &["kms:GetKeyPolicy"]).read().audits(&["KeyId", "PolicyName"]).states(ANY),
    op("GetKeyRotationStatus", &["kms:GetKeyRotationStatus"]).read().audits(KEY).states(ANY),
    op("GetParametersForImport", &["kms:GetParametersForImport"]).audits(&["KeyId", "WrappingAlgorithm", "WrappingKeySpec"]).states(NOT_PENDING),
    op("GetPublicKey", &["kms:GetPublicKey"]).read().grant().audits(KEY).states(USABLE),
    op("ImportKeyMaterial", &["kms:ImportKeyMaterial"]).audits(&["KeyId", "ValidTo", "ExpirationModel", "ImportType", "KeyMaterialDescription", "KeyMaterialId"]).states(NOT_PENDING),
    op("ListAliases", &["kms:ListAliases"]).read().audits(KEY_LIMIT),
    op("ListGrants", &["kms:ListGrants"]).read().audits(&["KeyId", "GranteePrincipal", "GrantId", "Limit", "GranteeServicePrincipal"]).states(ANY),
    op("ListKeyPolicies", &["kms:ListKeyPolicies"]).read().audits(KEY_LIMIT).states(ANY),
    op("ListKeyRotations", &["kms:ListKeyRotations"]).read().audits(&["KeyId", "Limit", "IncludeKeyMaterial"]).states(ANY),
    op("ListKeys", &["kms:ListKeys"]).read().audits(&["Limit"]),
    op("ListResourceTags", &["kms:ListResourceTags"]).read().audits(KEY_LIMIT).states(ANY),
    op("ListRetirableGrants", &["kms:ListRetirableGrants"]).read().audits(&["RetiringPrincipal", "Limit", "RetiringServicePrincipal"]),
    op("PutKeyPolicy", &["kms:PutKeyPolicy"]).audits(&["KeyId", "PolicyName", "BypassPolicyLockoutSafetyCheck"]).states(ANY),
    op("ReEncrypt", &["kms:ReEncryptFrom", "kms:ReEncryptTo"]).read().grant().dry_run().audits(&["SourceKeyId", "DestinationKeyId", "SourceEncryptionContext", "DestinationEncryptionContext", "DryRun"]).states(USABLE),
    op("ReplicateKey", &["kms:ReplicateKey"]).audits(&["KeyId", "ReplicaRegion", "Description", "BypassPolicyLockoutSafetyCheck", "Tags"]).states(USABLE),
    op("RetireGrant", &["kms:RetireGrant"]).grant().dry_run().audits(&["KeyId", "GrantId", "DryRun"]).states(ANY),
    op("RevokeGrant", &["kms:RevokeGrant"]).dry_run().audits(&["KeyId", "GrantId", "DryRun"]).states(ANY),
    op("RotateKeyOnDemand", &["kms:RotateKeyOnDemand"]).audits(KEY).states(USABLE),
    op("ScheduleKeyDeletion", &["kms:ScheduleKeyDeletion"]).audits(&["KeyId", "PendingWindowInDays"]).states(NOT_PENDING),
    op("Sign", &["kms:Sign"]).read().grant().dry_run().audits(SIGN).states(USABLE),
    op("TagResource", &["kms:TagResource"]).audits(&["KeyId", "Tags"]).states(NOT_PENDING),
    op("UntagResource", &["kms:UntagResource"]).audits(&["KeyId", "TagKeys"]).states(NOT_PENDING),
    op("UpdateAlias", &["kms:UpdateAlias"]).audits(&["AliasName", "TargetKeyId"]).states(NOT_PENDING),
    op("UpdateCustomKeyStore", &["kms:UpdateCustomKeyStore"]).audits(&["CustomKeyStoreId", "NewCustomKeyStoreName", "CloudHsmClusterId", "XksProxyUriEndpoint", "XksProxyUriPath", "XksProxyConnectivity", "XksProxyVpcEndpointServiceName", "XksProxyVpcEndpointServiceOwner"]),
    op("UpdateKeyDescription", &["kms:UpdateKeyDescription"]).audits(&["KeyId", "Description"]).states(NOT_PENDING),
    op("UpdatePrimaryRegion", &["kms:UpdatePrimaryRegion"]).audits(&["KeyId", "PrimaryRegion"]).states(USABLE),
    op("Verify", &["kms:Verify"]).read().grant().dry_run().audits(SIGN).states(USABLE),
    op("VerifyMac", &["kms:VerifyMac"]).read().grant().dry_run().audits(MAC).states(USABLE),
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
