//! The cryptographic operations: Encrypt, Decrypt, GenerateDataKey(WithoutPlaintext),
//! ReEncrypt, GenerateRandom.

use serde::{Deserialize, Serialize};

use super::{Blob, Rule, SecretBlob, StringMap};

/// `EncryptionAlgorithm` values.
pub const ENCRYPTION_ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];
/// `DryRunModifiers` values.
pub const DRY_RUN_MODIFIERS: &[&str] = &["IGNORE_CIPHERTEXT"];
/// `KeySpec` values of a data key.
pub const DATA_KEY_SPECS: &[&str] = &["AES_256", "AES_128"];

/// A key id, ARN, alias name or alias ARN (`KeyIdType`).
pub const KEY_ID_RULE: Rule = Rule::LengthBetween { min: 1, max: 2048 };
/// Grant tokens a request may carry (`GrantTokenList`).
pub const GRANT_TOKENS_RULE: Rule = Rule::Length {
    min: 0,
    max: Some(10),
};
/// A ciphertext blob (`CiphertextType`).
pub const CIPHERTEXT_RULE: Rule = Rule::LengthBetween { min: 1, max: 6144 };

request! {
    /// Encrypt: up to 4,096 bytes under a symmetric key.
    EncryptRequest = "Encrypt" {
        /// The key.
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The data to encrypt.
        plaintext, PLAINTEXT: Option<SecretBlob> = "Plaintext", Blob,
            [Rule::Required, Rule::Length { min: 1, max: Some(4096) }];
        /// Bound to the ciphertext; Decrypt must name it again.
        encryption_context, ENCRYPTION_CONTEXT: StringMap = "EncryptionContext", Value, [];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// The algorithm (`SYMMETRIC_DEFAULT` for symmetric keys).
        encryption_algorithm, ENCRYPTION_ALGORITHM: Option<String> = "EncryptionAlgorithm", Value,
            [Rule::Enum(ENCRYPTION_ALGORITHMS)];
        /// Checks the call without making it.
        dry_run, DRY_RUN: bool = "DryRun", Value, [];
    }

    /// Decrypt: the key is read from the ciphertext (or named by `KeyId`).
    DecryptRequest = "Decrypt" {
        /// The ciphertext.
        ciphertext_blob, CIPHERTEXT_BLOB: Option<Blob> = "CiphertextBlob", Blob,
            [Rule::Required, CIPHERTEXT_RULE];
        /// The encryption context it was sealed under.
        encryption_context, ENCRYPTION_CONTEXT: StringMap = "EncryptionContext", Value, [];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// The key the ciphertext must be under.
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [KEY_ID_RULE];
        /// The algorithm.
        encryption_algorithm, ENCRYPTION_ALGORITHM: Option<String> = "EncryptionAlgorithm", Value,
            [Rule::Enum(ENCRYPTION_ALGORITHMS)];
        /// Checks the call without making it.
        dry_run, DRY_RUN: bool = "DryRun", Value, [];
        /// `IGNORE_CIPHERTEXT`: a dry run that checks permissions only.
        dry_run_modifiers, DRY_RUN_MODIFIERS: Option<Vec<String>> = "DryRunModifiers", Value,
            [Rule::ItemEnum(DRY_RUN_MODIFIERS)];
    }

    /// GenerateDataKey: a data key, in plaintext and encrypted.
    GenerateDataKeyRequest = "GenerateDataKey" {
        /// The key.
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// Bound to the encrypted data key.
        encryption_context, ENCRYPTION_CONTEXT: StringMap = "EncryptionContext", Value, [];
        /// The length in bytes (or `KeySpec`).
        number_of_bytes, NUMBER_OF_BYTES: Option<i64> = "NumberOfBytes", Value,
            [Rule::Range { min: 1, max: 1024 }];
        /// `AES_256` or `AES_128` (or `NumberOfBytes`).
        key_spec, KEY_SPEC: Option<String> = "KeySpec", Hidden, [Rule::Enum(DATA_KEY_SPECS)];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: bool = "DryRun", Value, [];
    }

    /// GenerateDataKeyWithoutPlaintext: a data key, encrypted only.
    GenerateDataKeyWithoutPlaintextRequest = "GenerateDataKeyWithoutPlaintext" {
        /// The key.
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// Bound to the encrypted data key.
        encryption_context, ENCRYPTION_CONTEXT: StringMap = "EncryptionContext", Value, [];
        /// `AES_256` or `AES_128` (or `NumberOfBytes`).
        key_spec, KEY_SPEC: Option<String> = "KeySpec", Hidden, [Rule::Enum(DATA_KEY_SPECS)];
        /// The length in bytes (or `KeySpec`).
        number_of_bytes, NUMBER_OF_BYTES: Option<i64> = "NumberOfBytes", Value,
            [Rule::Range { min: 1, max: 1024 }];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: bool = "DryRun", Value, [];
    }

    /// ReEncrypt: decrypts and encrypts again, inside KMS.
    ReEncryptRequest = "ReEncrypt" {
        /// The ciphertext.
        ciphertext_blob, CIPHERTEXT_BLOB: Option<Blob> = "CiphertextBlob", Blob,
            [Rule::Required, CIPHERTEXT_RULE];
        /// The context it was sealed under.
        source_encryption_context, SOURCE_ENCRYPTION_CONTEXT: StringMap = "SourceEncryptionContext", Value, [];
        /// The key it must be under.
        source_key_id, SOURCE_KEY_ID: Option<String> = "SourceKeyId", Hidden, [KEY_ID_RULE];
        /// The key to seal it under.
        destination_key_id, DESTINATION_KEY_ID: Option<String> = "DestinationKeyId", Hidden,
            [Rule::Required, KEY_ID_RULE];
        /// The context to seal it under.
        destination_encryption_context, DESTINATION_ENCRYPTION_CONTEXT: StringMap = "DestinationEncryptionContext", Value, [];
        /// The algorithm it was sealed with.
        source_encryption_algorithm, SOURCE_ENCRYPTION_ALGORITHM: Option<String> = "SourceEncryptionAlgorithm", Value,
            [Rule::Enum(ENCRYPTION_ALGORITHMS)];
        /// The algorithm to seal it with.
        destination_encryption_algorithm, DESTINATION_ENCRYPTION_ALGORITHM: Option<String> = "DestinationEncryptionAlgorithm", Value,
            [Rule::Enum(ENCRYPTION_ALGORITHMS)];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: bool = "DryRun", Value, [];
        /// `IGNORE_CIPHERTEXT`: a dry run that checks permissions only.
        dry_run_modifiers, DRY_RUN_MODIFIERS: Option<Vec<String>> = "DryRunModifiers", Value,
            [Rule::ItemEnum(DRY_RUN_MODIFIERS)];
    }

    /// GenerateRandom: random bytes.
    GenerateRandomRequest = "GenerateRandom" {
        /// How many (1 to 1,024).
        number_of_bytes, NUMBER_OF_BYTES: Option<i64> = "NumberOfBytes", Value,
            [Rule::Range { min: 1, max: 1024 }];
    }
}

/// The answer of Encrypt.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptResponse {
    /// The ciphertext.
    pub ciphertext_blob: Blob,
    /// The algorithm used.
    pub encryption_algorithm: String,
    /// The key's ARN.
    pub key_id: String,
    /// The key material that sealed it.
    pub key_material_id: String,
}

/// The answer of Decrypt.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptResponse {
    /// The algorithm used.
    pub encryption_algorithm: String,
    /// The key's ARN.
    pub key_id: String,
    /// The key material that sealed it.
    pub key_material_id: String,
    /// The plaintext.
    pub plaintext: SecretBlob,
}

/// The answer of GenerateDataKey and GenerateDataKeyWithoutPlaintext.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyResponse {
    /// The data key, encrypted.
    pub ciphertext_blob: Blob,
    /// The key's ARN.
    pub key_id: String,
    /// The key material that sealed it.
    pub key_material_id: String,
    /// The data key (GenerateDataKey only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<SecretBlob>,
}

/// The answer of ReEncrypt.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptResponse {
    /// The new ciphertext.
    pub ciphertext_blob: Blob,
    /// The algorithm of the new ciphertext.
    pub destination_encryption_algorithm: String,
    /// The key material that sealed the new ciphertext.
    pub destination_key_material_id: String,
    /// The destination key's ARN.
    pub key_id: String,
    /// The algorithm of the old ciphertext.
    pub source_encryption_algorithm: String,
    /// The source key's ARN.
    pub source_key_id: String,
    /// The key material that sealed the old ciphertext.
    pub source_key_material_id: String,
}

/// The answer of GenerateRandom.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomResponse {
    /// The random bytes.
    pub plaintext: SecretBlob,
}
