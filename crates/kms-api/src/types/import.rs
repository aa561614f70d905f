//! GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial: key material a
//! customer brings (docs/kms.md, "Imported key material").

use serde::{Deserialize, Serialize};

use super::crypto::{CIPHERTEXT_RULE, KEY_ID_RULE};
use super::{Blob, Rule};

/// `WrappingAlgorithm` values of the model (`RSAES_PKCS1_V1_5` and `SM2PKE` are refused by
/// the operation).
pub const WRAPPING_ALGORITHMS: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];
/// `WrappingKeySpec` values of the model (`SM2` is refused by the operation).
pub const WRAPPING_KEY_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];
/// `ExpirationModel` values.
pub const EXPIRATION_MODELS: &[&str] = &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"];
/// `ImportType` values.
pub const IMPORT_TYPES: &[&str] = &["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"];
/// A key material id (`BackingKeyIdType`): 64 lowercase hex.
pub const KEY_MATERIAL_ID_RULES: [Rule; 2] = [
    Rule::LengthBetween { min: 64, max: 64 },
    Rule::Pattern("^[a-f0-9]+$"),
];
/// `KeyMaterialDescription`.
pub const KEY_MATERIAL_DESCRIPTION_RULES: [Rule; 2] = [
    Rule::Length {
        min: 0,
        max: Some(256),
    },
    Rule::Pattern("^[a-zA-Z0-9:/_\\s.-]+$"),
];

request! {
    /// GetParametersForImport: a wrapping public key and an import token for a key of
    /// origin `EXTERNAL`.
    GetParametersForImportRequest = "GetParametersForImport" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// How the material will be wrapped.
        wrapping_algorithm, WRAPPING_ALGORITHM: Option<String> = "WrappingAlgorithm", Value,
            [Rule::Required, Rule::Enum(WRAPPING_ALGORITHMS)];
        /// The wrapping key's spec.
        wrapping_key_spec, WRAPPING_KEY_SPEC: Option<String> = "WrappingKeySpec", Value,
            [Rule::Required, Rule::Enum(WRAPPING_KEY_SPECS)];
    }

    /// ImportKeyMaterial: wrapped key material, with the import token of its wrapping key.
    ImportKeyMaterialRequest = "ImportKeyMaterial" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The token GetParametersForImport answered.
        import_token, IMPORT_TOKEN: Option<Blob> = "ImportToken", Blob,
            [Rule::Required, CIPHERTEXT_RULE];
        /// The material, wrapped with the token's public key and algorithm.
        encrypted_key_material, ENCRYPTED_KEY_MATERIAL: Option<Blob> = "EncryptedKeyMaterial", Blob,
            [Rule::Required, CIPHERTEXT_RULE];
        /// When the material expires (epoch seconds), with `KEY_MATERIAL_EXPIRES`.
        valid_to, VALID_TO: Option<f64> = "ValidTo", Value, [];
        /// `KEY_MATERIAL_EXPIRES` (default) or `KEY_MATERIAL_DOES_NOT_EXPIRE`.
        expiration_model, EXPIRATION_MODEL: Option<String> = "ExpirationModel", Value,
            [Rule::Enum(EXPIRATION_MODELS)];
        /// `NEW_KEY_MATERIAL` or `EXISTING_KEY_MATERIAL` (symmetric keys).
        import_type, IMPORT_TYPE: Option<String> = "ImportType", Value, [Rule::Enum(IMPORT_TYPES)];
        /// A description of the material (symmetric keys).
        key_material_description, KEY_MATERIAL_DESCRIPTION: Option<String> = "KeyMaterialDescription", Value,
            [KEY_MATERIAL_DESCRIPTION_RULES[0], KEY_MATERIAL_DESCRIPTION_RULES[1]];
        /// The material being reimported (symmetric keys).
        key_material_id, KEY_MATERIAL_ID: Option<String> = "KeyMaterialId", Value,
            [KEY_MATERIAL_ID_RULES[0], KEY_MATERIAL_ID_RULES[1]];
    }

    /// DeleteImportedKeyMaterial: the key returns to `PendingImport`.
    DeleteImportedKeyMaterialRequest = "DeleteImportedKeyMaterial" {
        /// The key (id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The material to delete (default: the current one).
        key_material_id, KEY_MATERIAL_ID: Option<String> = "KeyMaterialId", Value,
            [KEY_MATERIAL_ID_RULES[0], KEY_MATERIAL_ID_RULES[1]];
    }
}

/// The answer of GetParametersForImport.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportResponse {
    /// The key's ARN.
    pub key_id: String,
    /// The token ImportKeyMaterial takes back.
    pub import_token: Blob,
    /// The wrapping public key, DER SubjectPublicKeyInfo.
    pub public_key: Blob,
    /// When the token and the public key expire (epoch seconds).
    pub parameters_valid_to: f64,
}

/// The answer of ImportKeyMaterial.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportKeyMaterialResponse {
    /// The key's ARN.
    pub key_id: String,
    /// The material imported (symmetric keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// The answer of DeleteImportedKeyMaterial.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteImportedKeyMaterialResponse {
    /// The key's ARN.
    pub key_id: String,
    /// The material deleted (empty for a key without material ids).
    pub key_material_id: String,
}

responses! {
    GetParametersForImportRequest => GetParametersForImportResponse,
    ImportKeyMaterialRequest => ImportKeyMaterialResponse,
    DeleteImportedKeyMaterialRequest => DeleteImportedKeyMaterialResponse,
}
