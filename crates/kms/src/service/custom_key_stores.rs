//! Custom key stores, simulated (docs/kms.md, "Custom key stores"): Create, Describe, Update,
//! Delete, Connect and DisconnectCustomKeyStore; keys of origin `AWS_CLOUDHSM` and
//! `EXTERNAL_KEY_STORE` in them, `Unavailable` while their store is not connected; the
//! connection that settles 60 seconds (simulated) after ConnectCustomKeyStore.

use ebsim_kms_api::types::custom_key_stores::{
    ConnectCustomKeyStoreRequest, CreateCustomKeyStoreRequest, CreateCustomKeyStoreResponse,
    CustomKeyStoresListEntry, DeleteCustomKeyStoreRequest, DescribeCustomKeyStoresRequest,
    DescribeCustomKeyStoresResponse, DisconnectCustomKeyStoreRequest, UpdateCustomKeyStoreRequest,
    XksProxyConfiguration,
};
use ebsim_kms_api::types::{EmptyResponse, MemberSpec, Request as _, Rule};

use super::*;
use crate::custom_store_state::{CustomKeyStore, XksSettings};

/// Stores per account and region (AWS's quota, not adjustable).
const MAX_STORES: usize = 10;

fn not_found(id: &str) -> KmsError {
    err(
        ErrorType::CustomKeyStoreNotFoundException,
        format!("Custom key store {id} does not exist."),
    )
}

fn invalid_state(msg: impl Into<String>) -> KmsError {
    err(ErrorType::CustomKeyStoreInvalidStateException, msg)
}

/// `cluster-` and 11 to 16 of `[2-7a-zA-Z]`.
fn cluster_shaped(s: &str) -> bool {
    s.strip_prefix("cluster-").is_some_and(|r| {
        (11..=16).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b))
    })
}

/// `https://` and a host of `[a-zA-Z0-9.-]`.
fn endpoint_shaped(s: &str) -> bool {
    s.strip_prefix("https://").is_some_and(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    })
}

/// `/kms/xks/v<1-2 digits>`, optionally after a prefix of `[a-zA-Z0-9/_-]`.
fn path_shaped(s: &str) -> bool {
    let Some(at) = s.rfind("/kms/xks/v") else {
        return false;
    };
    let (prefix, version) = (&s[..at], &s[at + "/kms/xks/v".len()..]);
    (1..=2).contains(&version.len())
        && version.bytes().all(|b| b.is_ascii_digit())
        && (prefix.is_empty()
            || (prefix.starts_with('/')
                && prefix.len() > 1
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))))
}

fn pattern(spec: &MemberSpec, ok: bool, p: &'static str, v: &str) -> R<()> {
    if ok {
        Ok(())
    } else {
        Err(spec.violation(Rule::Pattern(p), v))
    }
}

/// The cluster of `key`'s store (`AWS_CLOUDHSM` keys).
pub(super) fn cluster_of(st: &State, key: &Key) -> Option<String> {
    let id = key.custom_key_store_id.as_deref()?;
    st.custom_key_stores.get(id)?.cloud_hsm_cluster_id.clone()
}

fn entry(s: &CustomKeyStore) -> CustomKeyStoresListEntry {
    CustomKeyStoresListEntry {
        custom_key_store_id: s.id.clone(),
        custom_key_store_name: s.name.clone(),
        custom_key_store_type: s.store_type.clone(),
        cloud_hsm_cluster_id: s.cloud_hsm_cluster_id.clone(),
        trust_anchor_certificate: s.trust_anchor_certificate.clone(),
        connection_state: s.connection_state.clone(),
        connection_error_code: s.connection_error_code.clone(),
        creation_date: s.created,
        xks_proxy_configuration: s.xks.as_ref().map(|x| XksProxyConfiguration {
            connectivity: x.connectivity.clone(),
            access_key_id: x.access_key_id.clone(),
            uri_endpoint: x.uri_endpoint.clone(),
            uri_path: x.uri_path.clone(),
            vpc_endpoint_service_name: x.vpc_endpoint_service_name.clone(),
            vpc_endpoint_service_owner: x.vpc_endpoint_service_owner.clone(),
        }),
    }
}

/// The checked XKS settings of a request (`old`: the store's, for UpdateCustomKeyStore).
struct XksAsk<'a> {
    endpoint: Option<&'a str>,
    path: Option<&'a str>,
    vpc_name: Option<&'a str>,
    vpc_owner: Option<&'a str>,
    credential: Option<&'a ebsim_kms_api::types::custom_key_stores::XksCredential>,
    connectivity: Option<&'a str>,
}

fn xks_settings(a: &XksAsk<'_>, old: Option<&XksSettings>) -> R<XksSettings> {
    type Q = CreateCustomKeyStoreRequest;
    let mut s = old.cloned().unwrap_or_default();
    if let Some(e) = a.endpoint {
        pattern(
            &Q::XKS_PROXY_URI_ENDPOINT,
            endpoint_shaped(e),
            "^https://[a-zA-Z0-9.-]+$",
            e,
        )?;
        s.uri_endpoint = e.to_owned();
    }
    if let Some(p) = a.path {
        pattern(
            &Q::XKS_PROXY_URI_PATH,
            path_shaped(p),
            "^(/[a-zA-Z0-9\\/_-]+/kms/xks/v\\d{1,2})$|^(/kms/xks/v\\d{1,2})$",
            p,
        )?;
        s.uri_path = p.to_owned();
    }
    if let Some(c) = a.connectivity {
        s.connectivity = c.to_owned();
    }
    if let Some(n) = a.vpc_name {
        s.vpc_endpoint_service_name = Some(n.to_owned());
    }
    if let Some(o) = a.vpc_owner {
        s.vpc_endpoint_service_owner = Some(o.to_owned());
    }
    if let Some(c) = a.credential {
        let id_ok = (20..=30).contains(&c.access_key_id.len())
            && c.access_key_id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
        let secret = c.raw_secret_access_key.as_str();
        let secret_ok = (43..=64).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b'='));
        if !id_ok || !secret_ok {
            return Err(validation(
                "XksProxyAuthenticationCredential needs an AccessKeyId of 20 to 30 of [A-Z2-7] and a RawSecretAccessKey of 43 to 64 of [a-zA-Z0-9/+=].",
            ));
        }
        s.access_key_id = c.access_key_id.clone();
    }
    let missing = |what: &str| {
        validation(format!(
            "{what} is required for an EXTERNAL_KEY_STORE custom key store."
        ))
    };
    if s.uri_endpoint.is_empty() {
        return Err(missing("XksProxyUriEndpoint"));
    }
    if s.uri_path.is_empty() {
        return Err(missing("XksProxyUriPath"));
    }
    if s.access_key_id.is_empty() {
        return Err(missing("XksProxyAuthenticationCredential"));
    }
    if s.connectivity.is_empty() {
        return Err(missing("XksProxyConnectivity"));
    }
    if s.connectivity == "VPC_ENDPOINT_SERVICE" && s.vpc_endpoint_service_name.is_none() {
        return Err(missing("XksProxyVpcEndpointServiceName"));
    }
    Ok(s)
}

impl Kms {
    /// Puts the new `key` of CreateKey (`req`) in the custom key store it names: its store
    /// must be the caller's, connected and of the type its `Origin` says; the key must be a
    /// symmetric, single-Region key; an `EXTERNAL_KEY_STORE` key names its external key
    /// (`XksKeyId`), which no other KMS key may use.
    pub(super) fn in_custom_key_store(
        &self,
        st: &State,
        caller: &Caller,
        req: &ebsim_kms_api::types::keys::CreateKeyRequest,
        key: &mut Key,
    ) -> R<()> {
        type Q = ebsim_kms_api::types::keys::CreateKeyRequest;
        let origin = req.origin.as_deref().unwrap_or("AWS_KMS");
        let Some(id) = req.custom_key_store_id.as_deref() else {
            return Err(validation(format!(
                "CustomKeyStoreId is required when Origin is {origin}."
            )));
        };
        Q::CUSTOM_KEY_STORE_ID.check_str(id)?;
        let store = self.own_store(st, caller, id)?;
        if origin != store.store_type {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                format!(
                    "Origin {origin} is not valid for custom key store {id} of type {}.",
                    store.store_type
                ),
            ));
        }
        if !key.is_symmetric() || key.multi_region.is_some() {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                "KMS keys in a custom key store must be symmetric encryption keys in one Region.",
            ));
        }
        if store.connection_state != "CONNECTED" {
            return Err(invalid_state(format!(
                "Custom key store {id} is {}; connect it first.",
                store.connection_state
            )));
        }
        if origin == "EXTERNAL_KEY_STORE" {
            let xks_id = req.xks_key_id.as_deref().ok_or_else(|| {
                validation("XksKeyId is required when Origin is EXTERNAL_KEY_STORE.")
            })?;
            Q::XKS_KEY_ID.check_str(xks_id)?;
            if st.keys.values().any(|k| {
                k.custom_key_store_id.as_deref() == Some(id)
                    && k.xks.as_ref().is_some_and(|x| x.key_id == xks_id)
            }) {
                return Err(err(
                    ErrorType::XksKeyAlreadyInUseException,
                    format!(
                        "External key {xks_id} is already associated with a KMS key in custom key store {id}."
                    ),
                ));
            }
            let binding = crate::custom_store_state::XksBinding::generate(xks_id);
            {
                use crate::xks::XksProxy as _;
                let proxy = binding.proxy();
                proxy.get_health_status().map_err(|_| {
                    invalid_state(format!(
                        "The proxy of custom key store {id} is not healthy."
                    ))
                })?;
                proxy.get_key_metadata(xks_id).map_err(|_| {
                    err(
                        ErrorType::XksKeyNotFoundException,
                        format!("External key {xks_id} does not exist."),
                    )
                })?;
            }
            key.xks = Some(binding);
        } else if req.xks_key_id.is_some() {
            return Err(validation(
                "XksKeyId is valid only with Origin EXTERNAL_KEY_STORE.",
            ));
        }
        key.origin = origin.to_owned();
        key.custom_key_store_id = Some(id.to_owned());
        Ok(())
    }

    /// The store `id` of the caller's account and region.
    fn own_store<'a>(&self, st: &'a State, caller: &Caller, id: &str) -> R<&'a CustomKeyStore> {
        let account = self.caller_account(caller);
        let region = self.region_of(caller);
        st.custom_key_stores
            .get(id)
            .filter(|s| s.account == account && region == *s.region)
            .ok_or_else(|| not_found(id))
    }

    /// Whether another store of the caller's account and region than `except` is named
    /// `name`.
    fn name_in_use(&self, st: &State, caller: &Caller, name: &str, except: &str) -> R<()> {
        let account = self.caller_account(caller);
        let region = self.region_of(caller);
        if st.custom_key_stores.values().any(|s| {
            s.name == name && s.id != except && s.account == account && region == *s.region
        }) {
            return Err(err(
                ErrorType::CustomKeyStoreNameInUseException,
                format!(
                    "A custom key store named {name} already exists in this account and Region."
                ),
            ));
        }
        Ok(())
    }

    /// Whether another store than `except` uses `cluster` or the proxy at `endpoint` + `path`.
    fn check_in_use(st: &State, s: &CustomKeyStore, except: &str) -> R<()> {
        for o in st.custom_key_stores.values().filter(|o| o.id != except) {
            if s.cloud_hsm_cluster_id.is_some() && o.cloud_hsm_cluster_id == s.cloud_hsm_cluster_id
            {
                return Err(err(
                    ErrorType::CloudHsmClusterInUseException,
                    format!(
                        "Cluster {} is already associated with custom key store {}.",
                        s.cloud_hsm_cluster_id.as_deref().unwrap_or_default(),
                        o.id
                    ),
                ));
            }
            if let (Some(a), Some(b)) = (&s.xks, &o.xks)
                && a.uri_endpoint == b.uri_endpoint
                && a.uri_path == b.uri_path
            {
                return Err(err(
                    ErrorType::XksProxyUriInUseException,
                    format!(
                        "The XKS proxy URI is already used by custom key store {}.",
                        o.id
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn create_custom_key_store(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &CreateCustomKeyStoreRequest,
        now: f64,
    ) -> R<CreateCustomKeyStoreResponse> {
        type Q = CreateCustomKeyStoreRequest;
        self.authorize_iam_only(st, caller, Q::OPERATION, "*")?;
        let name = Q::CUSTOM_KEY_STORE_NAME.check_present(req.custom_key_store_name.as_deref())?;
        Q::CUSTOM_KEY_STORE_NAME.check_str(name)?;
        let store_type = req
            .custom_key_store_type
            .as_deref()
            .unwrap_or("AWS_CLOUDHSM");
        Q::CUSTOM_KEY_STORE_TYPE.check_str(store_type)?;
        let mut store = CustomKeyStore {
            id: {
                let mut b = [0u8; 9];
                rand::Rng::fill_bytes(&mut rand::rng(), &mut b);
                format!("cks-{}", &hex::encode(b)[..17])
            },
            name: name.to_owned(),
            account: self.caller_account(caller).to_owned(),
            region: self.region_of(caller).as_str().to_owned(),
            store_type: store_type.to_owned(),
            created: now,
            cloud_hsm_cluster_id: None,
            trust_anchor_certificate: None,
            xks: None,
            connection_state: "DISCONNECTED".into(),
            connecting_since: None,
            connection_error_code: None,
        };
        if store_type == "AWS_CLOUDHSM" {
            let cluster = req.cloud_hsm_cluster_id.as_deref().ok_or_else(|| {
                validation("CloudHsmClusterId is required for an AWS_CLOUDHSM custom key store.")
            })?;
            Q::CLOUD_HSM_CLUSTER_ID.check_str(cluster)?;
            pattern(
                &Q::CLOUD_HSM_CLUSTER_ID,
                cluster_shaped(cluster),
                "cluster-[2-7a-zA-Z]{11,16}",
                cluster,
            )?;
            let anchor = req.trust_anchor_certificate.as_deref().ok_or_else(|| {
                validation(
                    "TrustAnchorCertificate is required for an AWS_CLOUDHSM custom key store.",
                )
            })?;
            Q::TRUST_ANCHOR_CERTIFICATE.check_str(anchor)?;
            let password = req.key_store_password.as_ref().ok_or_else(|| {
                validation("KeyStorePassword is required for an AWS_CLOUDHSM custom key store.")
            })?;
            Q::KEY_STORE_PASSWORD.check_str(password.expose())?;
            store.cloud_hsm_cluster_id = Some(cluster.to_owned());
            store.trust_anchor_certificate = Some(anchor.to_owned());
        } else {
            for (spec, v) in [
                (
                    &Q::XKS_PROXY_URI_ENDPOINT,
                    req.xks_proxy_uri_endpoint.as_deref(),
                ),
                (&Q::XKS_PROXY_URI_PATH, req.xks_proxy_uri_path.as_deref()),
                (
                    &Q::XKS_PROXY_VPC_ENDPOINT_SERVICE_NAME,
                    req.xks_proxy_vpc_endpoint_service_name.as_deref(),
                ),
                (
                    &Q::XKS_PROXY_VPC_ENDPOINT_SERVICE_OWNER,
                    req.xks_proxy_vpc_endpoint_service_owner.as_deref(),
                ),
                (
                    &Q::XKS_PROXY_CONNECTIVITY,
                    req.xks_proxy_connectivity.as_deref(),
                ),
            ] {
                if let Some(v) = v {
                    spec.check_str(v)?;
                }
            }
            store.xks = Some(xks_settings(
                &XksAsk {
                    endpoint: req.xks_proxy_uri_endpoint.as_deref(),
                    path: req.xks_proxy_uri_path.as_deref(),
                    vpc_name: req.xks_proxy_vpc_endpoint_service_name.as_deref(),
                    vpc_owner: req.xks_proxy_vpc_endpoint_service_owner.as_deref(),
                    credential: req.xks_proxy_authentication_credential.as_ref(),
                    connectivity: req.xks_proxy_connectivity.as_deref(),
                },
                None,
            )?);
        }
        self.name_in_use(st, caller, name, "")?;
        Self::check_in_use(st, &store, "")?;
        let in_region = st
            .custom_key_stores
            .values()
            .filter(|s| s.account == store.account && s.region == store.region)
            .count();
        if in_region >= MAX_STORES {
            return Err(err(
                ErrorType::LimitExceededException,
                format!(
                    "Account {} already has {MAX_STORES} custom key stores in {}.",
                    store.account, store.region
                ),
            ));
        }
        let id = store.id.clone();
        st.custom_key_stores.insert(id.clone(), store);
        Ok(CreateCustomKeyStoreResponse {
            custom_key_store_id: id,
        })
    }

    pub(super) fn describe_custom_key_stores(
        &self,
        st: &State,
        caller: &Caller,
        req: &DescribeCustomKeyStoresRequest,
    ) -> R<DescribeCustomKeyStoresResponse> {
        type Q = DescribeCustomKeyStoresRequest;
        self.authorize_iam_only(st, caller, Q::OPERATION, "*")?;
        let account = self.caller_account(caller);
        let region = self.region_of(caller);
        let mut stores: Vec<&CustomKeyStore> = st
            .custom_key_stores
            .values()
            .filter(|s| s.account == account && region == *s.region)
            .collect();
        stores.sort_by(|a, b| a.created.total_cmp(&b.created).then(a.id.cmp(&b.id)));
        if let Some(id) = req.custom_key_store_id.as_deref() {
            Q::CUSTOM_KEY_STORE_ID.check_str(id)?;
            stores.retain(|s| s.id == id);
            if stores.is_empty() {
                return Err(not_found(id));
            }
        }
        if let Some(name) = req.custom_key_store_name.as_deref() {
            Q::CUSTOM_KEY_STORE_NAME.check_str(name)?;
            stores.retain(|s| s.name == name);
            if stores.is_empty() {
                return Err(err(
                    ErrorType::CustomKeyStoreNotFoundException,
                    format!("Custom key store {name} does not exist."),
                ));
            }
        }
        let items: Vec<CustomKeyStoresListEntry> = stores.into_iter().map(entry).collect();
        let (custom_key_stores, next_marker) =
            page(items, req.limit, Ok(req.marker.as_deref()), &Q::LIMIT, 100)?;
        Ok(DescribeCustomKeyStoresResponse {
            custom_key_stores,
            truncated: next_marker.is_some(),
            next_marker,
        })
    }

    pub(super) fn connect_custom_key_store(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &ConnectCustomKeyStoreRequest,
        now: f64,
    ) -> R<EmptyResponse> {
        type Q = ConnectCustomKeyStoreRequest;
        self.authorize_iam_only(st, caller, Q::OPERATION, "*")?;
        let id = Q::CUSTOM_KEY_STORE_ID.check_present(req.custom_key_store_id.as_deref())?;
        let s = self.own_store(st, caller, id)?;
        match s.connection_state.as_str() {
            "CONNECTED" | "CONNECTING" => return Ok(EmptyResponse {}),
            "FAILED" => {
                return Err(invalid_state(format!(
                    "Custom key store {id} is FAILED; disconnect it before connecting it again."
                )));
            }
            _ => {}
        }
        if let Some(s) = st.custom_key_stores.get_mut(id) {
            s.connection_state = "CONNECTING".into();
            s.connecting_since = Some(now);
            s.connection_error_code = None;
        }
        Ok(EmptyResponse {})
    }

    pub(super) fn disconnect_custom_key_store(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &DisconnectCustomKeyStoreRequest,
    ) -> R<EmptyResponse> {
        type Q = DisconnectCustomKeyStoreRequest;
        self.authorize_iam_only(st, caller, Q::OPERATION, "*")?;
        let id = Q::CUSTOM_KEY_STORE_ID.check_present(req.custom_key_store_id.as_deref())?;
        let s = self.own_store(st, caller, id)?;
        if s.connection_state == "DISCONNECTED" {
            return Err(invalid_state(format!(
                "Custom key store {id} is already disconnected."
            )));
        }
        if let Some(s) = st.custom_key_stores.get_mut(id) {
            s.connection_state = "DISCONNECTED".into();
            s.connecting_since = None;
        }
        set_keys_available(st, id, false);
        Ok(EmptyResponse {})
    }

    pub(super) fn delete_custom_key_store(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &DeleteCustomKeyStoreRequest,
    ) -> R<EmptyResponse> {
        type Q = DeleteCustomKeyStoreRequest;
        self.authorize_iam_only(st, caller, Q::OPERATION, "*")?;
        let id = Q::CUSTOM_KEY_STORE_ID.check_present(req.custom_key_store_id.as_deref())?;
        let s = self.own_store(st, caller, id)?;
        if s.connection_state != "DISCONNECTED" {
            return Err(invalid_state(format!(
                "Custom key store {id} is {}; disconnect it before deleting it.",
                s.connection_state
            )));
        }
        if st
            .keys
            .values()
            .any(|k| k.custom_key_store_id.as_deref() == Some(id))
        {
            return Err(err(
                ErrorType::CustomKeyStoreHasCMKsException,
                format!("Custom key store {id} has KMS keys; delete them first."),
            ));
        }
        st.custom_key_stores.remove(id);
        Ok(EmptyResponse {})
    }

    pub(super) fn update_custom_key_store(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &UpdateCustomKeyStoreRequest,
    ) -> R<EmptyResponse> {
        type Q = UpdateCustomKeyStoreRequest;
        self.authorize_iam_only(st, caller, Q::OPERATION, "*")?;
        let id = Q::CUSTOM_KEY_STORE_ID.check_present(req.custom_key_store_id.as_deref())?;
        let mut s = self.own_store(st, caller, id)?.clone();
        if let Some(n) = req.new_custom_key_store_name.as_deref() {
            Q::NEW_CUSTOM_KEY_STORE_NAME.check_str(n)?;
            self.name_in_use(st, caller, n, id)?;
            s.name = n.to_owned();
        }
        let other_changes = req.key_store_password.is_some()
            || req.cloud_hsm_cluster_id.is_some()
            || req.xks_proxy_uri_endpoint.is_some()
            || req.xks_proxy_uri_path.is_some()
            || req.xks_proxy_vpc_endpoint_service_name.is_some()
            || req.xks_proxy_vpc_endpoint_service_owner.is_some()
            || req.xks_proxy_authentication_credential.is_some()
            || req.xks_proxy_connectivity.is_some();
        if other_changes && s.connection_state != "DISCONNECTED" {
            return Err(invalid_state(format!(
                "Custom key store {id} is {}; only its name can change until it is disconnected.",
                s.connection_state
            )));
        }
        if s.store_type == "AWS_CLOUDHSM" {
            if let Some(p) = req.key_store_password.as_ref() {
                Q::KEY_STORE_PASSWORD.check_str(p.expose())?;
            }
            if let Some(c) = req.cloud_hsm_cluster_id.as_deref() {
                Q::CLOUD_HSM_CLUSTER_ID.check_str(c)?;
                pattern(
                    &Q::CLOUD_HSM_CLUSTER_ID,
                    cluster_shaped(c),
                    "cluster-[2-7a-zA-Z]{11,16}",
                    c,
                )?;
                s.cloud_hsm_cluster_id = Some(c.to_owned());
            }
        } else if other_changes {
            s.xks = Some(xks_settings(
                &XksAsk {
                    endpoint: req.xks_proxy_uri_endpoint.as_deref(),
                    path: req.xks_proxy_uri_path.as_deref(),
                    vpc_name: req.xks_proxy_vpc_endpoint_service_name.as_deref(),
                    vpc_owner: req.xks_proxy_vpc_endpoint_service_owner.as_deref(),
                    credential: req.xks_proxy_authentication_credential.as_ref(),
                    connectivity: req.xks_proxy_connectivity.as_deref(),
                },
                s.xks.as_ref(),
            )?);
        }
        Self::check_in_use(st, &s, id)?;
        st.custom_key_stores.insert(id.to_owned(), s);
        Ok(EmptyResponse {})
    }

    /// Stores whose connection attempt has run its 60 simulated seconds become `CONNECTED`
    /// (their keys available again) or `FAILED`; whether any did.
    pub(super) fn settle_connections(st: &mut State, now: f64) -> bool {
        let due: Vec<String> = st
            .custom_key_stores
            .values()
            .filter(|s| s.settles_at().is_some_and(|t| t <= now))
            .map(|s| s.id.clone())
            .collect();
        for id in &due {
            let Some(s) = st.custom_key_stores.get_mut(id) else {
                continue;
            };
            s.connecting_since = None;
            match s.connect_failure() {
                Some(code) => {
                    s.connection_state = "FAILED".into();
                    s.connection_error_code = Some(code.into());
                }
                None => {
                    s.connection_state = "CONNECTED".into();
                    set_keys_available(st, id, true);
                }
            }
        }
        !due.is_empty()
    }
}

/// Makes the keys of store `id` available (their state before) or `Unavailable`.
fn set_keys_available(st: &mut State, id: &str, available: bool) {
    let slots: Vec<String> = st
        .keys
        .values()
        .filter(|k| k.custom_key_store_id.as_deref() == Some(id))
        .map(Key::slot)
        .collect();
    for slot in slots {
        let Some(k) = st.keys.get_mut(&slot) else {
            continue;
        };
        if available {
            if k.state == KeyState::Unavailable {
                k.state = k.available_state.take().unwrap_or(KeyState::Enabled);
            }
        } else if matches!(k.state, KeyState::Enabled | KeyState::Disabled) {
            k.available_state = Some(k.state);
            k.state = KeyState::Unavailable;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_models_patterns() {
        assert!(cluster_shaped("cluster-234abcdefgh"));
        assert!(!cluster_shaped("cluster-1bcdefghijk"));
        assert!(!cluster_shaped("cluster-abc"));
        assert!(endpoint_shaped("https://xks.example.com"));
        assert!(!endpoint_shaped("http://xks.example.com"));
        assert!(!endpoint_shaped("https://xks.example.com:443"));
        assert!(path_shaped("/kms/xks/v1"));
        assert!(path_shaped("/example/prefix/kms/xks/v1"));
        assert!(!path_shaped("/kms/xks/v"));
        assert!(!path_shaped("kms/xks/v1"));
        assert!(!path_shaped("/a b/kms/xks/v1"));
    }
}
