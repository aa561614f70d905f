//! Custom key stores in the KMS state (docs/kms.md, "Custom key stores"): a store's settings
//! and connection state, and what binds a key to its external key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// How long a store stays `CONNECTING` before it is `CONNECTED` (or `FAILED`): 60 seconds
/// of simulated time.
pub const CONNECT_SECONDS: f64 = 60.0;

/// A custom key store. ebsim keeps no `kmsuser` password and no proxy secret: nothing is
/// contacted, so nothing needs them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomKeyStore {
    /// `cks-` and 17 hex digits.
    pub id: String,
    pub name: String,
    pub account: String,
    pub region: String,
    /// `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`.
    pub store_type: String,
    pub created: f64,
    pub cloud_hsm_cluster_id: Option<String>,
    pub trust_anchor_certificate: Option<String>,
    #[serde(default)]
    pub xks: Option<XksSettings>,
    /// `DISCONNECTED`, `CONNECTING`, `CONNECTED` or `FAILED`.
    pub connection_state: String,
    /// When ConnectCustomKeyStore was called (while `CONNECTING`).
    pub connecting_since: Option<f64>,
    pub connection_error_code: Option<String>,
}

/// The proxy settings of an external key store, as recorded (never contacted).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct XksSettings {
    pub connectivity: String,
    pub uri_endpoint: String,
    pub uri_path: String,
    pub vpc_endpoint_service_name: Option<String>,
    pub vpc_endpoint_service_owner: Option<String>,
    pub access_key_id: String,
}

impl CustomKeyStore {
    /// When a `CONNECTING` store settles.
    pub fn settles_at(&self) -> Option<f64> {
        (self.connection_state == "CONNECTING")
            .then_some(self.connecting_since)
            .flatten()
            .map(|t| t + CONNECT_SECONDS)
    }

    /// The error code a connection attempt of this store ends with, if it fails: an XKS
    /// proxy under the reserved `.invalid` top-level domain (RFC 2606) is never reachable.
    pub fn connect_failure(&self) -> Option<&'static str> {
        let xks = self.xks.as_ref()?;
        let host = xks.uri_endpoint.trim_start_matches("https://");
        host.ends_with(".invalid")
            .then_some("XKS_PROXY_NOT_REACHABLE")
    }
}

/// What binds an `EXTERNAL_KEY_STORE` key to its external key: the id, and the key the
/// in-process proxy (`crate::xks`) holds for it (base64 in the 0600 state only).
#[derive(Serialize, Deserialize)]
pub struct XksBinding {
    pub key_id: String,
    #[serde(with = "key_b64")]
    pub key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for XksBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XksBinding")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl XksBinding {
    /// A new external key `key_id` (the in-process proxy makes its AES-256 key).
    pub fn generate(key_id: &str) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::Rng::fill_bytes(&mut rand::rng(), key.as_mut());
        Self {
            key_id: key_id.to_owned(),
            key,
        }
    }

    /// The in-process proxy of this key.
    pub fn proxy(&self) -> crate::xks::InProcessXks<'_> {
        crate::xks::InProcessXks {
            key_id: &self.key_id,
            key: &self.key,
        }
    }
}

mod key_b64 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(
        k: &Zeroizing<[u8; 32]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(B64.encode(k.as_ref()));
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Zeroizing<[u8; 32]>, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let bytes = Zeroizing::new(
            B64.decode(text.as_bytes())
                .map_err(|_| serde::de::Error::custom("external key is not base64"))?,
        );
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("external key is not 32 bytes"))?;
        Ok(Zeroizing::new(arr))
    }
}
