//! [`KmsClient`]: one interface over the in-process and the HTTP transport.

use std::path::Path;
use std::sync::Arc;
#[cfg(feature = "embedded")]
use std::time::{Duration, Instant};

#[cfg(feature = "embedded")]
use ebsim_kms::{Kms, KmsConfig, KmsOpenError};
use ebsim_kms_api::types::crypto::{DecryptRequest, GenerateDataKeyWithoutPlaintextRequest};
use ebsim_kms_api::types::{Blob, Call};
use ebsim_kms_api::{Caller, ErrorType, KmsError, Region};
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
#[cfg(feature = "embedded")]
use crate::discovery::remove_stale_endpoint;
use crate::discovery::running_server;
use crate::error::ClientError;
use crate::http::{HttpConfig, HttpTransport, Signer};
use crate::key::{DataKey, WrappedKey};
use ebsim_kms_api::sign::AccessKey;

/// Number of bytes of a volume data key (XTS-AES-256: key1 ‖ key2).
pub const VOLUME_KEY_BYTES: u32 = 64;

/// Who a call is made as.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Identity {
    /// The client's own principal: the account root, `--as ARN`, or whoever the HTTP
    /// credential belongs to.
    Default,
    /// A service forwarding the caller's request (`kms:ViaService`), e.g. EBS calling
    /// GenerateDataKeyWithoutPlaintext for the principal that called CreateVolume.
    OnBehalfOf {
        /// The principal whose request is forwarded.
        principal: String,
        /// The forwarding service, e.g. `ec2.us-west-2.amazonaws.com`.
        via_service: String,
    },
    /// The service acting as a principal of its own, e.g.
    /// `arn:aws:sts::ACCT:assumed-role/aws:ec2-infrastructure/i-0123`.
    Principal(String),
    /// A session STS issued (AssumeRole, docs/iam.md): calls are signed with its temporary
    /// credentials and token, and the session's expiry and policies apply to them.
    Session(Box<SessionIdentity>),
}

/// The temporary credentials of a session and the principal they act as
/// (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`); see [`KmsClient::assume_role`].
#[derive(Debug, Clone)]
pub struct SessionIdentity {
    /// The session's principal.
    pub principal: String,
    /// Its `ASIA…` access key, secret and session token.
    pub credentials: AccessKey,
    /// When it expires (ISO 8601, simulated time).
    pub expiration: String,
}

impl PartialEq for SessionIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.principal == other.principal
            && self.credentials.access_key_id == other.credentials.access_key_id
    }
}

impl Eq for SessionIdentity {}

/// A KMS living in this process (the `ebsim-kms` service, or a test double): the one backend
/// trait of `ebsim-kms-api`.
pub use ebsim_kms_api::Backend as LocalKms;

pub use ebsim_kms_api::id::DEFAULT_ROOT;

#[derive(Debug)]
enum Transport {
    InProcess {
        kms: Arc<dyn LocalKms>,
        principal: String,
    },
    Http(Box<HttpTransport>),
}

/// The KMS client EBS uses. Cheap to clone; all clones share the transport (and, for the
/// embedded KMS, the data dir's lock, released when the last clone is dropped).
#[derive(Debug, Clone)]
pub struct KmsClient {
    transport: Arc<Transport>,
    /// The region calls are made in (`None`: the KMS's own, or the HTTP configuration's).
    region: Option<Region>,
}

impl KmsClient {
    /// Calls the KMS directly, as the default account's root.
    pub fn in_process<K: LocalKms>(kms: Arc<K>) -> Self {
        Self::in_process_as(kms, DEFAULT_ROOT)
    }

    /// Calls the KMS directly, with [`Identity::Default`] being `principal`.
    pub fn in_process_as<K: LocalKms>(kms: Arc<K>, principal: impl Into<String>) -> Self {
        Self {
            transport: Arc::new(Transport::InProcess {
                kms,
                principal: principal.into(),
            }),
            region: None,
        }
    }

    /// Talks to an HTTP endpoint (`ebsim kms serve`, real AWS KMS, or another emulator).
    ///
    /// # Errors
    /// [`ClientError::InvalidEndpoint`] for a malformed endpoint URL.
    pub fn http(config: HttpConfig) -> Result<Self, ClientError> {
        Ok(Self {
            transport: Arc::new(Transport::Http(Box::new(HttpTransport::new(config)?))),
            region: None,
        })
    }

    /// The client for a data dir, as every `ebsim` command gets it: an explicit `endpoint`
    /// (`--kms-endpoint`, `EBSIM_KMS_ENDPOINT`) → HTTP; else, when `DIR/kms/endpoint` names a
    /// running `ebsim kms serve` → HTTP to it; else the embedded KMS, opened with its lock
    /// held while the client (or any clone) lives. `principal` (`--as`) is the default
    /// identity (the account root when `None`); over HTTP it is carried with the data dir's
    /// service credential.
    ///
    /// Without the `embedded` feature there is no embedded KMS: a data dir with no running
    /// server is an error.
    ///
    /// # Errors
    /// [`ClientError::Open`] when the embedded KMS cannot be opened (e.g. another process
    /// holds it and no server answers), or an HTTP configuration error.
    #[cfg(feature = "embedded")]
    pub fn for_data_dir(
        dir: &Path,
        principal: Option<String>,
        endpoint: Option<String>,
    ) -> Result<Self, ClientError> {
        // A server that is starting holds the lock before it publishes its endpoint.
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Some(client) = Self::routed(dir, principal.clone(), endpoint.clone())? {
                return Ok(client);
            }
            match Kms::open(dir, KmsConfig::default()) {
                Ok(kms) => {
                    // The lock is ours: whatever endpoint file is left names no server.
                    remove_stale_endpoint(dir);
                    let principal = principal.unwrap_or_else(|| kms.root_arn());
                    return Ok(Self::in_process_as(Arc::new(kms), principal));
                }
                Err(KmsOpenError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(ClientError::Open {
                        dir: dir.to_owned(),
                        message: e.to_string(),
                    });
                }
            }
        }
    }

    /// As the `embedded` build's `for_data_dir`, for a client built without the embedded KMS:
    /// an explicit endpoint or a running server, else [`ClientError::Open`].
    ///
    /// # Errors
    /// [`ClientError::Open`] when no server runs; an HTTP configuration error.
    #[cfg(not(feature = "embedded"))]
    pub fn for_data_dir(
        dir: &Path,
        principal: Option<String>,
        endpoint: Option<String>,
    ) -> Result<Self, ClientError> {
        Self::routed(dir, principal, endpoint)?.ok_or_else(|| ClientError::Open {
            dir: dir.to_owned(),
            message: "no KMS server runs on it, and this build has no embedded KMS (the \
                      `embedded` feature of ebsim-kms-client)"
                .to_owned(),
        })
    }

    /// The HTTP client a data dir's commands use when they do not embed the KMS: for an
    /// explicit `endpoint`, or for the running `ebsim kms serve` named in `DIR/kms/endpoint`
    /// (when it answers). `None` when neither applies. `principal` (`--as`) becomes the
    /// default identity, carried with the data dir's service credential.
    ///
    /// # Errors
    /// An invalid endpoint URL or an unreadable service credential.
    pub fn routed(
        dir: &Path,
        principal: Option<String>,
        endpoint: Option<String>,
    ) -> Result<Option<Self>, ClientError> {
        if let Some(url) = endpoint {
            return Self::http_for_dir(dir, principal, &url, false).map(Some);
        }
        match running_server(dir) {
            Some(url) => Self::http_for_dir(dir, principal, &url, true).map(Some),
            None => Ok(None),
        }
    }

    fn http_for_dir(
        dir: &Path,
        principal: Option<String>,
        endpoint: &str,
        own_server: bool,
    ) -> Result<Self, ClientError> {
        // Without an access key in the environment, the data dir's own server is reached
        // with its service credential, which every credential mode accepts.
        let own_server =
            own_server && std::env::var_os("AWS_ACCESS_KEY_ID").is_none_or(|v| v.is_empty());
        let config = HttpConfig::new(endpoint)?
            .service_credential_from_data_dir(dir)?
            .default_principal(principal)
            .default_as_service(own_server);
        Self::http(config)
    }

    /// The same client (sharing its transport), calling in `region`: in process, the
    /// caller's region; over HTTP, the region of each request's credential scope.
    #[must_use]
    pub fn in_region(&self, region: Region) -> Self {
        Self {
            transport: Arc::clone(&self.transport),
            region: Some(region),
        }
    }

    /// The region set with [`KmsClient::in_region`], if any.
    pub fn region(&self) -> Option<Region> {
        self.region
    }

    /// Whether calls go over HTTP.
    pub fn is_http(&self) -> bool {
        matches!(*self.transport, Transport::Http(_))
    }

    /// The HTTP endpoint, when the client talks HTTP.
    pub fn endpoint(&self) -> Option<&str> {
        match &*self.transport {
            Transport::Http(t) => Some(&t.config().endpoint),
            Transport::InProcess { .. } => None,
        }
    }

    /// Any KMS operation, by its AWS name, with the AWS JSON request and response shapes.
    ///
    /// # Errors
    /// [`ClientError::Kms`] with the KMS error, or a transport error.
    pub fn call(
        &self,
        identity: &Identity,
        operation: &str,
        request: serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let body =
            ebsim_kms_api::to_wiped_vec(&request).map_err(|e| protocol(self, e.to_string()))?;
        let out = self.call_raw(identity, operation, &body)?;
        parse_json(self, &out)
    }

    /// Any KMS operation with raw JSON bodies; the response is zeroized on drop.
    ///
    /// # Errors
    /// As [`KmsClient::call`].
    pub fn call_raw(
        &self,
        identity: &Identity,
        operation: &str,
        body: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        match &*self.transport {
            Transport::InProcess { kms, principal } => {
                let caller = caller_for(identity, principal, self.region);
                let mut out = Zeroizing::new(kms.call(&caller, operation, body)?);
                if out.is_empty() {
                    out.extend_from_slice(b"{}");
                }
                Ok(out)
            }
            Transport::Http(t) => {
                let signer = signer_for(t, identity, self.region)?;
                let mut out = t.post(&format!("TrentService.{operation}"), body, &signer)?;
                if out.is_empty() {
                    out.extend_from_slice(b"{}");
                }
                Ok(out)
            }
        }
    }

    /// An IAM or STS action (Query protocol; docs/iam.md) as the client's own principal:
    /// `params` besides `Action` and `Version`; the answer's leaf elements in document order
    /// (`(name, text)`, one pair per list member).
    ///
    /// # Errors
    /// [`ClientError::Service`] with the IAM or STS error code and message; as
    /// [`KmsClient::call`] otherwise.
    pub fn query(
        &self,
        service: ebsim_iam::QueryService,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, ClientError> {
        self.query_as(&Identity::Default, service, action, params)
    }

    /// [`KmsClient::query`] as `identity`: e.g. the root of another account
    /// (`Identity::Principal`), as the CLI's `--account` and the demo's vendor account act.
    ///
    /// # Errors
    /// As [`KmsClient::query`].
    pub fn query_as(
        &self,
        identity: &Identity,
        service: ebsim_iam::QueryService,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, ClientError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action);
        form.append_pair("Version", service.version());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let body = Zeroizing::new(form.finish().into_bytes());
        let out = match &*self.transport {
            Transport::InProcess { kms, principal } => {
                let caller = caller_for(identity, principal, self.region);
                let request = ebsim_iam::QueryRequest::parse(&body).map_err(query_error)?;
                Zeroizing::new(
                    kms.query(&caller, service, &request, "in-process")
                        .map_err(query_error)?,
                )
            }
            Transport::Http(t) => {
                let signer = signer_for(t, identity, self.region)?;
                t.post_query(service.name(), &body, &signer)?
            }
        };
        ebsim_iam::xml::leaves(&out).map_err(|message| protocol(self, message))
    }

    /// A JSON 1.1 call of another service the server answers (WorkSpaces,
    /// docs/workspaces.md): `X-Amz-Target: target`, credential scope `service`, as
    /// `identity`; the answer's JSON. Over HTTP only.
    ///
    /// # Errors
    /// [`ClientError::Service`] with the service's `__type` and message; a protocol error for
    /// the in-process transport.
    pub fn json_call_as(
        &self,
        identity: &Identity,
        service: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let bytes = body.to_string().into_bytes();
        match &*self.transport {
            Transport::Http(t) => {
                let signer = signer_for(t, identity, self.region)?;
                let out = t.post_json(service, target, &bytes, &signer)?;
                parse_json(self, &out)
            }
            #[allow(unreachable_patterns)]
            _ => Err(protocol(
                self,
                format!("{service} is served over HTTP only"),
            )),
        }
    }

    /// STS AssumeRole as `identity` (docs/iam.md): the role's trust policy decides, and the
    /// answer is the session as an [`Identity`] to make calls as.
    ///
    /// # Errors
    /// As [`KmsClient::query`]: e.g. `AccessDenied` when the trust policy does not name the
    /// caller, `NoSuchEntity` for a role that does not exist.
    pub fn assume_role(
        &self,
        identity: &Identity,
        role_arn: &str,
        session_name: &str,
    ) -> Result<Identity, ClientError> {
        let out = self.query_as(
            identity,
            ebsim_iam::QueryService::Sts,
            "AssumeRole",
            &[("RoleArn", role_arn), ("RoleSessionName", session_name)],
        )?;
        let leaf = |name: &str| {
            out.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| protocol(self, format!("AssumeRole answered without {name}")))
        };
        let principal = out
            .iter()
            .rfind(|(k, _)| k == "Arn")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| protocol(self, "AssumeRole answered without Arn".to_owned()))?;
        let credentials = AccessKey::new(leaf("AccessKeyId")?, leaf("SecretAccessKey")?.as_str())
            .with_session_token(leaf("SessionToken")?);
        Ok(Identity::Session(Box::new(SessionIdentity {
            principal,
            credentials,
            expiration: leaf("Expiration")?,
        })))
    }

    /// An admin operation (clock, faults, root credentials, audit reads), allowed to the
    /// account root only: `AdvanceClock`, `GetClock`, `SetFault`, `ClearFaults`,
    /// `GetRootCredentials`, `ReadAudit`,
    /// `Reset`, `SaveState`, `RestoreState`, `ListStates`, `DeleteState`.
    ///
    /// # Errors
    /// As [`KmsClient::call`].
    pub fn admin(
        &self,
        operation: &str,
        request: serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let body = serde_json::to_vec(&request).map_err(|e| protocol(self, e.to_string()))?;
        let out = match &*self.transport {
            Transport::InProcess { kms, principal } => {
                let mut out = Zeroizing::new(kms.admin(
                    &caller_for(&Identity::Default, principal, self.region),
                    operation,
                    &body,
                )?);
                if out.is_empty() {
                    out.extend_from_slice(b"{}");
                }
                out
            }
            Transport::Http(t) => {
                let signer = if t.config().default_as_service {
                    Signer {
                        credentials: service_credentials(t)?,
                        principal: None,
                        via_service: None,
                        service: true,
                        region: self.region,
                    }
                } else {
                    Signer {
                        credentials: &t.config().credentials,
                        principal: None,
                        via_service: None,
                        service: false,
                        region: self.region,
                    }
                };
                let mut out = t.post(&format!("EbsimAdmin.{operation}"), &body, &signer)?;
                if out.is_empty() {
                    out.extend_from_slice(b"{}");
                }
                out
            }
        };
        parse_json(self, &out)
    }

    /// Any implemented operation, typed: the request and response types of
    /// `ebsim_kms_api::types` (`client.send(&identity, &DecryptRequest { … })`).
    ///
    /// # Errors
    /// As [`KmsClient::call`]; [`ClientError::Protocol`] for a response of the wrong shape.
    pub fn send<T: Call>(
        &self,
        identity: &Identity,
        request: &T,
    ) -> Result<T::Response, ClientError> {
        // The request may carry plaintext (Encrypt): written in one allocation, wiped.
        let body =
            ebsim_kms_api::to_wiped_vec(request).map_err(|e| protocol(self, e.to_string()))?;
        let out = self.call_raw(identity, T::OPERATION, &body)?;
        serde_json::from_slice(&out).map_err(|_| {
            protocol(
                self,
                format!("{} returned a response of the wrong shape", T::OPERATION),
            )
        })
    }

    /// GenerateDataKeyWithoutPlaintext with `NumberOfBytes: 64` under `context`: a new volume
    /// data key, wrapped.
    ///
    /// # Errors
    /// As [`KmsClient::send`].
    pub fn generate_wrapped_data_key(
        &self,
        identity: &Identity,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, ClientError> {
        let out = self.send(
            identity,
            &GenerateDataKeyWithoutPlaintextRequest {
                key_id: Some(key_id.to_owned()),
                number_of_bytes: Some(VOLUME_KEY_BYTES as i64),
                encryption_context: Some(context.as_map().clone()),
                ..Default::default()
            },
        )?;
        Ok(WrappedKey {
            ciphertext_blob: out.ciphertext_blob.0,
            key_arn: out.key_id,
        })
    }

    /// Decrypt of a wrapped data key under `context`; the plaintext comes back zeroizing.
    ///
    /// # Errors
    /// `InvalidCiphertextException` (as [`ClientError::Kms`]) for a wrong context or a
    /// corrupt blob; otherwise as [`KmsClient::send`].
    pub fn decrypt_data_key(
        &self,
        identity: &Identity,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<DataKey, ClientError> {
        self.decrypt_data_key_with(identity, ciphertext_blob, context, None)
    }

    /// As [`KmsClient::decrypt_data_key`], also naming the key that must have wrapped it
    /// (`KeyId`; a different key gives `IncorrectKeyException`).
    ///
    /// # Errors
    /// As [`KmsClient::decrypt_data_key`].
    pub fn decrypt_data_key_with(
        &self,
        identity: &Identity,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        key_id: Option<&str>,
    ) -> Result<DataKey, ClientError> {
        let out = self.send(
            identity,
            &DecryptRequest {
                ciphertext_blob: Some(Blob(ciphertext_blob.to_vec())),
                encryption_context: Some(context.as_map().clone()),
                key_id: key_id.map(str::to_owned),
                ..Default::default()
            },
        )?;
        Ok(DataKey::new(out.plaintext.0))
    }
}

fn query_error(e: ebsim_iam::QueryError) -> ClientError {
    ClientError::Service {
        status: e.status,
        type_name: e.code.to_owned(),
        message: Some(e.message),
    }
}

fn caller_for(identity: &Identity, default_principal: &str, region: Option<Region>) -> Caller {
    let caller = match identity {
        Identity::Default => Caller::new(default_principal),
        Identity::OnBehalfOf {
            principal,
            via_service,
        } => Caller::new(principal.clone()).via(via_service.clone()),
        Identity::Principal(p) => Caller::new(p.clone()),
        Identity::Session(s) => {
            Caller::new(s.principal.clone()).in_session(s.credentials.access_key_id.clone())
        }
    };
    match region {
        Some(r) => caller.in_region(r),
        None => caller,
    }
}

/// How a request as `identity` is signed: with the client's own credential for its own
/// principal, else with the service credential naming the principal it acts as.
fn signer_for<'a>(
    t: &'a HttpTransport,
    identity: &'a Identity,
    region: Option<Region>,
) -> Result<Signer<'a>, ClientError> {
    let (principal, via_service) = match identity {
        Identity::Default => match &t.config().default_principal {
            None if !t.config().default_as_service => {
                return Ok(Signer {
                    credentials: &t.config().credentials,
                    principal: None,
                    via_service: None,
                    service: false,
                    region,
                });
            }
            p => (p.as_deref(), None),
        },
        Identity::OnBehalfOf {
            principal,
            via_service,
        } => (Some(principal.as_str()), Some(via_service.as_str())),
        Identity::Principal(p) => (Some(p.as_str()), None),
        Identity::Session(s) => {
            return Ok(Signer {
                credentials: &s.credentials,
                principal: None,
                via_service: None,
                service: false,
                region,
            });
        }
    };
    Ok(Signer {
        credentials: service_credentials(t)?,
        principal,
        via_service,
        service: true,
        region,
    })
}

fn service_credentials(t: &HttpTransport) -> Result<&ebsim_kms_api::sign::AccessKey, ClientError> {
    t.config()
        .service_credentials
        .as_ref()
        .ok_or_else(|| ClientError::NoServiceCredential {
            path: t.config().service_credential_path.clone(),
        })
}

fn protocol(client: &KmsClient, message: String) -> ClientError {
    ClientError::Protocol {
        endpoint: client.endpoint().unwrap_or("embedded KMS").to_owned(),
        message,
    }
}

fn parse_json(client: &KmsClient, body: &[u8]) -> Result<serde_json::Value, ClientError> {
    serde_json::from_slice(body).map_err(|_| protocol(client, "response is not JSON".into()))
}

/// Whether an error is `error_type`.
pub fn is_kms_error(e: &ClientError, error_type: ErrorType) -> bool {
    matches!(e, ClientError::Kms(KmsError { error_type: t, .. }) if *t == error_type)
}
