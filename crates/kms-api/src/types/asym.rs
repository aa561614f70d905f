//! The operations of asymmetric and HMAC keys: Sign, Verify, GetPublicKey, GenerateMac,
//! VerifyMac, DeriveSharedSecret, GenerateDataKeyPair(WithoutPlaintext), and
//! GetKeyLastUsage (docs/kms.md, "Asymmetric and HMAC keys").

use serde::{Deserialize, Serialize};

use super::crypto::{CIPHERTEXT_RULE, GRANT_TOKENS_RULE, KEY_ID_RULE};
use super::{Blob, Rule, SecretBlob, StringMap};

/// `SigningAlgorithm` values.
pub const SIGNING_ALGORITHMS: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
    "ED25519_SHA_512",
    "ED25519_PH_SHA_512",
];
/// `MessageType` values.
pub const MESSAGE_TYPES: &[&str] = &["RAW", "DIGEST", "EXTERNAL_MU"];
/// `MacAlgorithm` values, in the order AWS lists them in its validation message.
pub const MAC_ALGORITHMS: &[&str] = &[
    "HMAC_SHA_384",
    "HMAC_SHA_256",
    "HMAC_SHA_224",
    "HMAC_SHA_512",
];
/// `KeyAgreementAlgorithm` values.
pub const KEY_AGREEMENT_ALGORITHMS: &[&str] = &["ECDH"];
/// `KeyPairSpec` values.
pub const DATA_KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
];
/// A message to sign or MAC (`PlaintextType`).
pub const MESSAGE_RULE: Rule = Rule::Length {
    min: 1,
    max: Some(4096),
};
/// A public key (`PublicKeyType`).
pub const PUBLIC_KEY_RULE: Rule = Rule::Length {
    min: 1,
    max: Some(8192),
};

request! {
    /// Sign: a signature of up to 4,096 bytes of message (or a digest, or μ) with an
    /// asymmetric SIGN_VERIFY key.
    SignRequest = "Sign" {
        /// The key (any form, aliases included).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The message, digest or μ.
        message, MESSAGE: Option<SecretBlob> = "Message", Blob, [Rule::Required, MESSAGE_RULE];
        /// `RAW` (default), `DIGEST` or `EXTERNAL_MU`.
        message_type, MESSAGE_TYPE: Option<String> = "MessageType", Value, [Rule::Enum(MESSAGE_TYPES)];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// The signing algorithm.
        signing_algorithm, SIGNING_ALGORITHM: Option<String> = "SigningAlgorithm", Value,
            [Rule::Required, Rule::Enum(SIGNING_ALGORITHMS)];
        /// Checks the call without making it.
        dry_run, DRY_RUN: Option<bool> = "DryRun", Value, [];
    }

    /// Verify: checks a signature; a signature that does not verify is
    /// `KMSInvalidSignatureException`.
    VerifyRequest = "Verify" {
        /// The key (any form, aliases included).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The message, digest or μ.
        message, MESSAGE: Option<SecretBlob> = "Message", Blob, [Rule::Required, MESSAGE_RULE];
        /// `RAW` (default), `DIGEST` or `EXTERNAL_MU`.
        message_type, MESSAGE_TYPE: Option<String> = "MessageType", Value, [Rule::Enum(MESSAGE_TYPES)];
        /// The signature.
        signature, SIGNATURE: Option<Blob> = "Signature", Blob, [Rule::Required, CIPHERTEXT_RULE];
        /// The signing algorithm.
        signing_algorithm, SIGNING_ALGORITHM: Option<String> = "SigningAlgorithm", Value,
            [Rule::Required, Rule::Enum(SIGNING_ALGORITHMS)];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: Option<bool> = "DryRun", Value, [];
    }

    /// GetPublicKey: the DER SubjectPublicKeyInfo of an asymmetric key.
    GetPublicKeyRequest = "GetPublicKey" {
        /// The key (any form, aliases included).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
    }

    /// GenerateMac: the HMAC of up to 4,096 bytes under an HMAC key.
    GenerateMacRequest = "GenerateMac" {
        /// The message.
        message, MESSAGE: Option<SecretBlob> = "Message", Blob, [Rule::Required, MESSAGE_RULE];
        /// The key (any form, aliases included).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The MAC algorithm (the one of the key's spec).
        mac_algorithm, MAC_ALGORITHM: Option<String> = "MacAlgorithm", Value,
            [Rule::Required, Rule::Enum(MAC_ALGORITHMS)];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: Option<bool> = "DryRun", Value, [];
    }

    /// VerifyMac: checks an HMAC; a mismatch is `KMSInvalidMacException`.
    VerifyMacRequest = "VerifyMac" {
        /// The message.
        message, MESSAGE: Option<SecretBlob> = "Message", Blob, [Rule::Required, MESSAGE_RULE];
        /// The key (any form, aliases included).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The MAC algorithm.
        mac_algorithm, MAC_ALGORITHM: Option<String> = "MacAlgorithm", Value,
            [Rule::Required, Rule::Enum(MAC_ALGORITHMS)];
        /// The MAC to check.
        mac, MAC: Option<Blob> = "Mac", Blob, [Rule::Required, CIPHERTEXT_RULE];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: Option<bool> = "DryRun", Value, [];
    }

    /// DeriveSharedSecret: ECDH between a KEY_AGREEMENT key and a peer's public key.
    DeriveSharedSecretRequest = "DeriveSharedSecret" {
        /// The key (any form, aliases included).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// `ECDH`.
        key_agreement_algorithm, KEY_AGREEMENT_ALGORITHM: Option<String> = "KeyAgreementAlgorithm", Value,
            [Rule::Required, Rule::Enum(KEY_AGREEMENT_ALGORITHMS)];
        /// The peer's public key, DER SubjectPublicKeyInfo on the key's curve.
        public_key, PUBLIC_KEY: Option<Blob> = "PublicKey", Blob, [Rule::Required, PUBLIC_KEY_RULE];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: Option<bool> = "DryRun", Value, [];
    }

    /// GenerateDataKeyPair: a fresh key pair, its private key in plaintext (PKCS #8 DER) and
    /// encrypted under a symmetric key.
    GenerateDataKeyPairRequest = "GenerateDataKeyPair" {
        /// Bound to the encrypted private key.
        encryption_context, ENCRYPTION_CONTEXT: Option<StringMap> = "EncryptionContext", Value, [];
        /// The symmetric key that encrypts the private key.
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The kind of pair.
        key_pair_spec, KEY_PAIR_SPEC: Option<String> = "KeyPairSpec", Value,
            [Rule::Required, Rule::Enum(DATA_KEY_PAIR_SPECS)];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: Option<bool> = "DryRun", Value, [];
    }

    /// GenerateDataKeyPairWithoutPlaintext: a fresh key pair, its private key encrypted only.
    GenerateDataKeyPairWithoutPlaintextRequest = "GenerateDataKeyPairWithoutPlaintext" {
        /// Bound to the encrypted private key.
        encryption_context, ENCRYPTION_CONTEXT: Option<StringMap> = "EncryptionContext", Value, [];
        /// The symmetric key that encrypts the private key.
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The kind of pair.
        key_pair_spec, KEY_PAIR_SPEC: Option<String> = "KeyPairSpec", Value,
            [Rule::Required, Rule::Enum(DATA_KEY_PAIR_SPECS)];
        /// Grant tokens.
        grant_tokens, GRANT_TOKENS: Option<Vec<String>> = "GrantTokens", Hidden, [GRANT_TOKENS_RULE];
        /// Checks the call without making it.
        dry_run, DRY_RUN: Option<bool> = "DryRun", Value, [];
    }

    /// GetKeyLastUsage: the last successful cryptographic use of a key.
    GetKeyLastUsageRequest = "GetKeyLastUsage" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
    }
}

/// The answer of Sign.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignResponse {
    /// The key's ARN.
    pub key_id: String,
    /// The signature.
    pub signature: Blob,
    /// The algorithm used.
    pub signing_algorithm: String,
}

/// The answer of Verify (a signature that does not verify is an error, never `false`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyResponse {
    /// The key's ARN.
    pub key_id: String,
    /// Always `true`.
    pub signature_valid: bool,
    /// The algorithm used.
    pub signing_algorithm: String,
}

/// The answer of GetPublicKey.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPublicKeyResponse {
    /// The key's ARN.
    pub key_id: String,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Blob,
    /// The former name of `KeySpec`.
    pub customer_master_key_spec: String,
    /// The key spec.
    pub key_spec: String,
    /// The key usage.
    pub key_usage: String,
    /// For ENCRYPT_DECRYPT keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<String>>,
    /// For SIGN_VERIFY keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<String>>,
    /// For KEY_AGREEMENT keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithms: Option<Vec<String>>,
}

/// The answer of GenerateMac.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateMacResponse {
    /// The MAC.
    pub mac: Blob,
    /// The algorithm used.
    pub mac_algorithm: String,
    /// The key's ARN.
    pub key_id: String,
}

/// The answer of VerifyMac (a mismatch is an error, never `false`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyMacResponse {
    /// The key's ARN.
    pub key_id: String,
    /// Always `true`.
    pub mac_valid: bool,
    /// The algorithm used.
    pub mac_algorithm: String,
}

/// The answer of DeriveSharedSecret.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeriveSharedSecretResponse {
    /// The key's ARN.
    pub key_id: String,
    /// The raw ECDH secret (the x-coordinate).
    pub shared_secret: SecretBlob,
    /// `ECDH`.
    pub key_agreement_algorithm: String,
    /// `AWS_KMS`.
    pub key_origin: String,
}

/// The answer of GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyPairResponse {
    /// The private key (PKCS #8 DER), encrypted under the symmetric key.
    pub private_key_ciphertext_blob: Blob,
    /// The private key, PKCS #8 DER (GenerateDataKeyPair only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_plaintext: Option<SecretBlob>,
    /// The public key, DER SubjectPublicKeyInfo.
    pub public_key: Blob,
    /// The symmetric key's ARN.
    pub key_id: String,
    /// The kind of pair.
    pub key_pair_spec: String,
    /// The key material that sealed the private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// One use of a key (GetKeyLastUsage).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyLastUsage {
    /// The operation.
    pub operation: String,
    /// When, epoch seconds.
    pub timestamp: f64,
    /// The audit record's event id.
    pub cloud_trail_event_id: String,
    /// The audit record's request id.
    pub kms_request_id: String,
}

/// The answer of GetKeyLastUsage.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyLastUsageResponse {
    /// The key's ARN.
    pub key_id: String,
    /// The last successful use, if any since tracking started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_last_usage: Option<KeyLastUsage>,
    /// Since when uses are tracked, epoch seconds.
    pub tracking_start_date: f64,
    /// When the key was created, epoch seconds.
    pub key_creation_date: f64,
}

responses! {
    SignRequest => SignResponse,
    VerifyRequest => VerifyResponse,
    GetPublicKeyRequest => GetPublicKeyResponse,
    GenerateMacRequest => GenerateMacResponse,
    VerifyMacRequest => VerifyMacResponse,
    DeriveSharedSecretRequest => DeriveSharedSecretResponse,
    GenerateDataKeyPairRequest => GenerateDataKeyPairResponse,
    GenerateDataKeyPairWithoutPlaintextRequest => GenerateDataKeyPairResponse,
    GetKeyLastUsageRequest => GetKeyLastUsageResponse,
}
