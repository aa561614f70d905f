//! The custom key store operations (docs/kms.md, "Custom key stores"): Create, Describe,
//! Update, Delete, Connect and DisconnectCustomKeyStore.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::keys::LIMIT_RULE;
use super::{Member, Rule, get, ser};
use crate::KmsError;

/// `CustomKeyStoreType` values.
pub const STORE_TYPES: &[&str] = &["AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];
/// `XksProxyConnectivity` values.
pub const CONNECTIVITY: &[&str] = &["PUBLIC_ENDPOINT", "VPC_ENDPOINT_SERVICE"];
/// A store name.
pub const NAME_RULE: Rule = Rule::Length {
    min: 1,
    max: Some(256),
};
/// A store id.
pub const STORE_ID_RULE: Rule = Rule::Length {
    min: 1,
    max: Some(64),
};
/// A CloudHSM cluster id (its pattern `cluster-[2-7a-zA-Z]{11,16}` is checked by the
/// service).
pub const CLUSTER_ID_RULE: Rule = Rule::Length {
    min: 19,
    max: Some(24),
};
/// The trust anchor certificate.
pub const TRUST_ANCHOR_RULE: Rule = Rule::Length {
    min: 1,
    max: Some(5000),
};
/// The `kmsuser` password.
pub const PASSWORD_RULE: Rule = Rule::Length {
    min: 7,
    max: Some(32),
};
/// The XKS proxy's endpoint and path (their patterns are checked by the service).
pub const URI_RULE: Rule = Rule::Length {
    min: 10,
    max: Some(128),
};
/// The VPC endpoint service name.
pub const VPC_SERVICE_RULE: Rule = Rule::Length {
    min: 20,
    max: Some(64),
};
/// An account id.
pub const ACCOUNT_RULE: Rule = Rule::Length {
    min: 12,
    max: Some(12),
};

/// `XksProxyAuthenticationCredential`: the key KMS signs its proxy requests with.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XksCredential {
    /// The access key id (20 to 30 of `A-Z2-7`).
    pub access_key_id: String,
    /// The secret (43 to 64 of `a-zA-Z0-9/+=`); never printed.
    #[serde(with = "secret_string")]
    pub raw_secret_access_key: Zeroizing<String>,
}

mod secret_string {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(v: &Zeroizing<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<String>, D::Error> {
        Ok(Zeroizing::new(String::deserialize(d)?))
    }
}

impl std::fmt::Debug for XksCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XksCredential")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Member for Option<XksCredential> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(None),
            Some(Value::Object(c)) => {
                let field = |n: &str| match c.get(n) {
                    Some(Value::String(s)) => Ok(s.clone()),
                    None | Some(Value::Null) => Ok(String::new()),
                    Some(_) => Err(ser(format!("STRING_VALUE can not be converted to {n}"))),
                };
                Ok(Some(XksCredential {
                    access_key_id: field("AccessKeyId")?,
                    raw_secret_access_key: Zeroizing::new(field("RawSecretAccessKey")?),
                }))
            }
            Some(_) => Err(ser(format!("{name} must be an object"))),
        }
    }
}

impl super::AsMemberRef for Option<XksCredential> {
    fn member_ref(&self) -> Option<super::MemberRef<'_>> {
        self.as_ref().map(|_| super::MemberRef::Opaque)
    }
}

/// A secret string member (`KeyStorePassword`): zeroized when dropped, never printed.
#[derive(Default, Serialize, Deserialize)]
pub struct SecretText(#[serde(with = "secret_string")] pub Zeroizing<String>);

impl SecretText {
    /// The text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(..)")
    }
}

impl Member for Option<SecretText> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(SecretText(Zeroizing::new(s.clone())))),
            Some(_) => Err(ser(format!("STRING_VALUE can not be converted to {name}"))),
        }
    }
}

impl super::AsMemberRef for Option<SecretText> {
    fn member_ref(&self) -> Option<super::MemberRef<'_>> {
        self.as_ref().map(|_| super::MemberRef::Opaque)
    }
}

request! {
    /// CreateCustomKeyStore.
    CreateCustomKeyStoreRequest = "CreateCustomKeyStore" {
        /// The store's name (unique in the account and region).
        custom_key_store_name, CUSTOM_KEY_STORE_NAME: Option<String> = "CustomKeyStoreName", Value, [Rule::Required, NAME_RULE];
        /// The CloudHSM cluster (`AWS_CLOUDHSM`).
        cloud_hsm_cluster_id, CLOUD_HSM_CLUSTER_ID: Option<String> = "CloudHsmClusterId", Value, [CLUSTER_ID_RULE];
        /// The cluster's trust anchor certificate (`AWS_CLOUDHSM`).
        trust_anchor_certificate, TRUST_ANCHOR_CERTIFICATE: Option<String> = "TrustAnchorCertificate", Hidden, [TRUST_ANCHOR_RULE];
        /// The `kmsuser` password (`AWS_CLOUDHSM`).
        key_store_password, KEY_STORE_PASSWORD: Option<SecretText> = "KeyStorePassword", Hidden, [PASSWORD_RULE];
        /// `AWS_CLOUDHSM` (default) or `EXTERNAL_KEY_STORE`.
        custom_key_store_type, CUSTOM_KEY_STORE_TYPE: Option<String> = "CustomKeyStoreType", Value, [Rule::Enum(STORE_TYPES)];
        /// The XKS proxy's endpoint (`https://host`).
        xks_proxy_uri_endpoint, XKS_PROXY_URI_ENDPOINT: Option<String> = "XksProxyUriEndpoint", Value, [URI_RULE];
        /// The XKS proxy's path (`[/prefix]/kms/xks/v1`).
        xks_proxy_uri_path, XKS_PROXY_URI_PATH: Option<String> = "XksProxyUriPath", Value, [URI_RULE];
        /// The VPC endpoint service (`VPC_ENDPOINT_SERVICE`).
        xks_proxy_vpc_endpoint_service_name, XKS_PROXY_VPC_ENDPOINT_SERVICE_NAME: Option<String> = "XksProxyVpcEndpointServiceName", Value, [VPC_SERVICE_RULE];
        /// The account that owns the VPC endpoint service.
        xks_proxy_vpc_endpoint_service_owner, XKS_PROXY_VPC_ENDPOINT_SERVICE_OWNER: Option<String> = "XksProxyVpcEndpointServiceOwner", Value, [ACCOUNT_RULE];
        /// The credential KMS authenticates to the proxy with.
        xks_proxy_authentication_credential, XKS_PROXY_AUTHENTICATION_CREDENTIAL: Option<XksCredential> = "XksProxyAuthenticationCredential", Hidden, [];
        /// `PUBLIC_ENDPOINT` or `VPC_ENDPOINT_SERVICE`.
        xks_proxy_connectivity, XKS_PROXY_CONNECTIVITY: Option<String> = "XksProxyConnectivity", Value, [Rule::Enum(CONNECTIVITY)];
    }

    /// DescribeCustomKeyStores.
    DescribeCustomKeyStoresRequest = "DescribeCustomKeyStores" {
        /// One store, by id.
        custom_key_store_id, CUSTOM_KEY_STORE_ID: Option<String> = "CustomKeyStoreId", Value, [STORE_ID_RULE];
        /// One store, by name.
        custom_key_store_name, CUSTOM_KEY_STORE_NAME: Option<String> = "CustomKeyStoreName", Value, [NAME_RULE];
        /// Stores per page.
        limit, LIMIT: Option<i64> = "Limit", Value, [LIMIT_RULE];
        /// The `NextMarker` of the previous page.
        marker, MARKER: Option<String> = "Marker", Value, [];
    }

    /// ConnectCustomKeyStore.
    ConnectCustomKeyStoreRequest = "ConnectCustomKeyStore" {
        /// The store.
        custom_key_store_id, CUSTOM_KEY_STORE_ID: Option<String> = "CustomKeyStoreId", Value, [Rule::Required, STORE_ID_RULE];
    }

    /// DisconnectCustomKeyStore.
    DisconnectCustomKeyStoreRequest = "DisconnectCustomKeyStore" {
        /// The store.
        custom_key_store_id, CUSTOM_KEY_STORE_ID: Option<String> = "CustomKeyStoreId", Value, [Rule::Required, STORE_ID_RULE];
    }

    /// DeleteCustomKeyStore.
    DeleteCustomKeyStoreRequest = "DeleteCustomKeyStore" {
        /// The store.
        custom_key_store_id, CUSTOM_KEY_STORE_ID: Option<String> = "CustomKeyStoreId", Value, [Rule::Required, STORE_ID_RULE];
    }

    /// UpdateCustomKeyStore.
    UpdateCustomKeyStoreRequest = "UpdateCustomKeyStore" {
        /// The store.
        custom_key_store_id, CUSTOM_KEY_STORE_ID: Option<String> = "CustomKeyStoreId", Value, [Rule::Required, STORE_ID_RULE];
        /// A new name (allowed in any connection state).
        new_custom_key_store_name, NEW_CUSTOM_KEY_STORE_NAME: Option<String> = "NewCustomKeyStoreName", Value, [NAME_RULE];
        /// A new `kmsuser` password.
        key_store_password, KEY_STORE_PASSWORD: Option<SecretText> = "KeyStorePassword", Hidden, [PASSWORD_RULE];
        /// A related CloudHSM cluster.
        cloud_hsm_cluster_id, CLOUD_HSM_CLUSTER_ID: Option<String> = "CloudHsmClusterId", Value, [CLUSTER_ID_RULE];
        /// A new XKS proxy endpoint.
        xks_proxy_uri_endpoint, XKS_PROXY_URI_ENDPOINT: Option<String> = "XksProxyUriEndpoint", Value, [URI_RULE];
        /// A new XKS proxy path.
        xks_proxy_uri_path, XKS_PROXY_URI_PATH: Option<String> = "XksProxyUriPath", Value, [URI_RULE];
        /// A new VPC endpoint service.
        xks_proxy_vpc_endpoint_service_name, XKS_PROXY_VPC_ENDPOINT_SERVICE_NAME: Option<String> = "XksProxyVpcEndpointServiceName", Value, [VPC_SERVICE_RULE];
        /// A new VPC endpoint service owner.
        xks_proxy_vpc_endpoint_service_owner, XKS_PROXY_VPC_ENDPOINT_SERVICE_OWNER: Option<String> = "XksProxyVpcEndpointServiceOwner", Value, [ACCOUNT_RULE];
        /// A new proxy credential.
        xks_proxy_authentication_credential, XKS_PROXY_AUTHENTICATION_CREDENTIAL: Option<XksCredential> = "XksProxyAuthenticationCredential", Hidden, [];
        /// A new connectivity.
        xks_proxy_connectivity, XKS_PROXY_CONNECTIVITY: Option<String> = "XksProxyConnectivity", Value, [Rule::Enum(CONNECTIVITY)];
    }
}

/// `XksProxyConfiguration` of DescribeCustomKeyStores (no secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct XksProxyConfiguration {
    /// `PUBLIC_ENDPOINT` or `VPC_ENDPOINT_SERVICE`.
    pub connectivity: String,
    /// The credential's access key id.
    pub access_key_id: String,
    /// The endpoint.
    pub uri_endpoint: String,
    /// The path.
    pub uri_path: String,
    /// The VPC endpoint service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_service_name: Option<String>,
    /// Its owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_service_owner: Option<String>,
}

/// One store of DescribeCustomKeyStores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CustomKeyStoresListEntry {
    /// Its id (`cks-…`).
    pub custom_key_store_id: String,
    /// Its name.
    pub custom_key_store_name: String,
    /// `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`.
    pub custom_key_store_type: String,
    /// Its cluster (`AWS_CLOUDHSM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_hsm_cluster_id: Option<String>,
    /// Its trust anchor (`AWS_CLOUDHSM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_anchor_certificate: Option<String>,
    /// `CONNECTED`, `CONNECTING`, `FAILED`, `DISCONNECTED` or `DISCONNECTING`.
    pub connection_state: String,
    /// Why it failed (`FAILED`, and `DISCONNECTED` after a failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_error_code: Option<String>,
    /// When it was created (epoch seconds).
    pub creation_date: f64,
    /// The proxy (`EXTERNAL_KEY_STORE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xks_proxy_configuration: Option<XksProxyConfiguration>,
}

/// The answer of CreateCustomKeyStore.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateCustomKeyStoreResponse {
    /// The new store's id.
    pub custom_key_store_id: String,
}

/// The answer of DescribeCustomKeyStores.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCustomKeyStoresResponse {
    /// This page's stores.
    pub custom_key_stores: Vec<CustomKeyStoresListEntry>,
    /// Whether more pages follow.
    pub truncated: bool,
    /// The `Marker` of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

responses! {
    CreateCustomKeyStoreRequest => CreateCustomKeyStoreResponse,
    DescribeCustomKeyStoresRequest => DescribeCustomKeyStoresResponse,
    ConnectCustomKeyStoreRequest => super::EmptyResponse,
    DisconnectCustomKeyStoreRequest => super::EmptyResponse,
    DeleteCustomKeyStoreRequest => super::EmptyResponse,
    UpdateCustomKeyStoreRequest => super::EmptyResponse,
}
