//! The HTTP transport: AWS KMS JSON 1.1 over HTTP/1.1 (keep-alive, pooled), signed with SigV4
//! by `ebsim_kms_api::sign`, with bounded retries.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ebsim_kms_api::Region;
use ebsim_kms_api::sign::{AccessKey, KmsPost, sign_post};
use ebsim_kms_api::{ErrorType, KmsError};
use rand::RngExt;
use zeroize::Zeroizing;

use crate::error::ClientError;

pub use ebsim_kms_api::trust::PING_PATH;
use ebsim_kms_api::trust::{NONCE_HEADER, PING_BODY, new_nonce};
pub use ebsim_kms_api::{PRINCIPAL_HEADER, VIA_SERVICE_HEADER};

/// Reads a data dir's service credential file (`{"AccessKeyId","SecretAccessKey"}`).
///
/// # Errors
/// [`ClientError::ServiceCredential`] when it cannot be read or parsed.
pub fn read_service_credential(path: &Path) -> Result<AccessKey, ClientError> {
    let err = |message: String| ClientError::ServiceCredential {
        path: path.to_owned(),
        message,
    };
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| err("not a JSON object".to_owned()))?;
    let field = |name: &str| {
        v.get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| err(format!("missing {name}")))
    };
    let id = field("AccessKeyId")?;
    let secret = Zeroizing::new(field("SecretAccessKey")?);
    Ok(AccessKey::new(id, secret.as_str()))
}

/// Retry policy: bounded exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts (1 = no retry).
    pub max_attempts: u32,
    /// Backoff base.
    pub base: Duration,
    /// Backoff cap.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base: Duration::from_millis(20),
            cap: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The sleep before retry number `retry` (1-based): uniform in `[0, min(cap, base·2^(retry-1))]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let ceiling = exp.min(self.cap);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// How to reach an HTTP KMS endpoint.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `http://127.0.0.1:4599`, `https://kms.us-west-2.amazonaws.com`, …
    pub endpoint: String,
    /// Region of the SigV4 credential scope.
    pub region: String,
    /// The credential requests with [`crate::Identity::Default`] are signed with.
    pub credentials: AccessKey,
    /// The data dir's service credential, used for `OnBehalfOf` / `Principal` identities.
    pub service_credentials: Option<AccessKey>,
    /// Where the service credential was looked for (for error messages).
    pub service_credential_path: Option<PathBuf>,
    /// When set, [`crate::Identity::Default`] acts as this principal (signed with the service
    /// credential), as `--as ARN` does.
    pub default_principal: Option<String>,
    /// When set (and no `default_principal`), [`crate::Identity::Default`] is signed with the
    /// service credential, acting as the server's default account root: how `ebsim` commands
    /// reach their own data dir's server when no access key is in the environment, under any
    /// credential mode.
    pub default_as_service: bool,
    /// Retries.
    pub retry: RetryPolicy,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Read (and write) timeout per request.
    pub read_timeout: Duration,
    /// Idle keep-alive connections kept for reuse.
    pub max_idle_connections: usize,
}

impl HttpConfig {
    /// An endpoint with credentials from the environment (default `test`/`test`) and the region
    /// from `AWS_REGION`/`AWS_DEFAULT_REGION`, else from a `kms.<region>.amazonaws.com` host,
    /// else `us-west-2`.
    ///
    /// # Errors
    /// [`ClientError::InvalidEndpoint`] unless the URL is `http://…` or `https://…`.
    pub fn new(endpoint: &str) -> Result<Self, ClientError> {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let (_, host) = split_endpoint(&endpoint)?;
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok()
            .filter(|r| !r.is_empty())
            .or_else(|| {
                let h = host.split(':').next().unwrap_or_default();
                h.strip_prefix("kms.")
                    .and_then(|r| r.split('.').next())
                    .filter(|r| !r.is_empty() && h.ends_with(".amazonaws.com"))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "us-west-2".to_owned());
        Ok(Self {
            endpoint,
            region,
            credentials: AccessKey::from_env(),
            service_credentials: None,
            service_credential_path: None,
            default_principal: None,
            default_as_service: false,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(30),
            max_idle_connections: 32,
        })
    }

    /// Uses these credentials for the default identity.
    #[must_use]
    pub fn credentials(mut self, credentials: AccessKey) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets the region.
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the service credential (for `OnBehalfOf` / `Principal` identities).
    #[must_use]
    pub fn service_credentials(mut self, credentials: AccessKey) -> Self {
        self.service_credentials = Some(credentials);
        self
    }

    /// Loads the data dir's service credential (`DIR/kms/service-credential`) if it exists.
    ///
    /// # Errors
    /// [`ClientError::ServiceCredential`] when the file exists but cannot be read.
    pub fn service_credential_from_data_dir(
        mut self,
        data_dir: &Path,
    ) -> Result<Self, ClientError> {
        let path = crate::discovery::service_credential_file(data_dir);
        if path.exists() {
            self.service_credentials = Some(read_service_credential(&path)?);
        }
        self.service_credential_path = Some(path);
        Ok(self)
    }

    /// Makes the default identity act as `principal` (signed with the service credential).
    #[must_use]
    pub fn default_principal(mut self, principal: Option<String>) -> Self {
        self.default_principal = principal;
        self
    }

    /// Signs the default identity with the service credential (see
    /// [`HttpConfig::default_as_service`]).
    #[must_use]
    pub fn default_as_service(mut self, yes: bool) -> Self {
        self.default_as_service = yes;
        self
    }

    /// Sets connect and read timeouts.
    #[must_use]
    pub fn timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self
    }
}

/// Splits `scheme://authority[/…]` into scheme and authority.
fn split_endpoint(endpoint: &str) -> Result<(&str, &str), ClientError> {
    let invalid = || ClientError::InvalidEndpoint(endpoint.to_owned());
    let (scheme, rest) = endpoint.split_once("://").ok_or_else(invalid)?;
    if scheme != "http" && scheme != "https" {
        return Err(invalid());
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(invalid());
    }
    Ok((scheme, authority))
}

/// Whether an endpoint answers the `ebsim kms serve` liveness probe.
pub fn ping(endpoint: &str, timeout: Duration) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .build()
        .into();
    match agent
        .get(&format!("{}{PING_PATH}", endpoint.trim_end_matches('/')))
        .call()
    {
        Ok(mut resp) => resp
            .body_mut()
            .read_to_string()
            .is_ok_and(|b| b == PING_BODY),
        Err(_) => false,
    }
}

/// The `Host` a request to `endpoint` carries: its authority without a default port.
///
/// # Errors
/// [`ClientError::InvalidEndpoint`] for a malformed endpoint URL.
pub(crate) fn host_of(endpoint: &str) -> Result<String, ClientError> {
    let (scheme, authority) = split_endpoint(endpoint.trim_end_matches('/'))?;
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    Ok(authority
        .strip_suffix(default_port)
        .unwrap_or(authority)
        .to_owned())
}

/// Who a request is signed as, and which x-ebsim-* headers it carries.
pub(crate) struct Signer<'a> {
    pub credentials: &'a AccessKey,
    pub principal: Option<&'a str>,
    pub via_service: Option<&'a str>,
    /// Signed with the data dir's service credential: carries a fresh signed nonce.
    pub service: bool,
    /// The region to sign for, instead of the configured one.
    pub region: Option<Region>,
}

pub(crate) struct HttpTransport {
    config: HttpConfig,
    agent: ureq::Agent,
    host: String,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("endpoint", &self.config.endpoint)
            .finish_non_exhaustive()
    }
}

impl HttpTransport {
    pub(crate) fn new(config: HttpConfig) -> Result<Self, ClientError> {
        let host = host_of(&config.endpoint)?;
        // Error statuses are responses (their bodies carry the KMS error); a redirect is
        // never followed but returned, as any other response.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(config.connect_timeout))
            .timeout_per_read(Some(config.read_timeout))
            .timeout_per_write(Some(config.read_timeout))
            .max_idle_connections(config.max_idle_connections)
            .max_idle_connections_per_host(config.max_idle_connections)
            .no_delay(true)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .user_agent(concat!("ebsim-kms-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Self {
            config,
            agent,
            host,
        })
    }

    pub(crate) fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// One signed POST with retries; returns the response body (zeroized on drop).
    pub(crate) fn post(
        &self,
        target: &str,
        body: &[u8],
        signer: &Signer<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        self.post_to(
            Some(target),
            ebsim_kms_api::sign::SIGNING_NAME,
            body,
            signer,
        )
    }

    /// One signed IAM or STS request (Query protocol: a form body, no `X-Amz-Target`, the
    /// scope naming `service`) with retries; an error answer becomes
    /// [`ClientError::Service`] with its `<Code>` and `<Message>`.
    pub(crate) fn post_query(
        &self,
        service: &str,
        body: &[u8],
        signer: &Signer<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        self.post_to(None, service, body, signer)
    }

    /// A JSON 1.1 request of another service on the same server (WorkSpaces).
    pub(crate) fn post_json(
        &self,
        service: &str,
        target: &str,
        body: &[u8],
        signer: &Signer<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        self.post_to(Some(target), service, body, signer)
    }

    fn post_to(
        &self,
        target: Option<&str>,
        service: &str,
        body: &[u8],
        signer: &Signer<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        let mut attempt = 1;
        loop {
            match self.post_once(target, service, body, signer) {
                Err(e) if e.is_retryable() && attempt < self.config.retry.max_attempts => {
                    std::thread::sleep(self.config.retry.backoff(attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn post_once(
        &self,
        target: Option<&str>,
        service: &str,
        body: &[u8],
        signer: &Signer<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        let endpoint = &self.config.endpoint;
        let mut extra: Vec<(&str, &str)> = Vec::with_capacity(3);
        if let Some(p) = signer.principal {
            extra.push((PRINCIPAL_HEADER, p));
        }
        if let Some(v) = signer.via_service {
            extra.push((VIA_SERVICE_HEADER, v));
        }
        let now = SystemTime::now();
        let nonce;
        if signer.service {
            nonce = new_nonce(now);
            extra.push((NONCE_HEADER, &nonce));
        }
        let post = KmsPost {
            headers: &extra,
            target,
            service,
            ..KmsPost::new(
                &self.host,
                "",
                body,
                match signer.region {
                    Some(r) => r.as_str(),
                    None => &self.config.region,
                },
            )
        };
        let headers =
            sign_post(&post, signer.credentials, now).map_err(|e| ClientError::Protocol {
                endpoint: endpoint.clone(),
                message: e.to_string(),
            })?;
        let mut req = self.agent.post(&format!("{endpoint}/"));
        for (name, value) in &headers {
            req = req.header(name, value);
        }
        match req.send(body) {
            Ok(resp) if resp.status().as_u16() < 400 => read_body(resp, endpoint),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = read_body(resp, endpoint)?;
                if target.is_none() {
                    return Err(parse_query_error(status, &body));
                }
                Err(parse_error(status, &body))
            }
            Err(t) => Err(ClientError::Transport {
                endpoint: endpoint.clone(),
                message: t.to_string(),
            }),
        }
    }
}

/// An IAM or STS error answer: its `<Code>` and `<Message>`.
fn parse_query_error(status: u16, body: &[u8]) -> ClientError {
    let leaves = ebsim_iam::xml::leaves(body).unwrap_or_default();
    let field = |name: &str| {
        leaves
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    ClientError::Service {
        status,
        type_name: field("Code").unwrap_or_else(|| status.to_string()),
        message: field("Message"),
    }
}

/// The most a response body may hold.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Reads a response body (at most [`MAX_RESPONSE_BYTES`]) into a buffer wiped on drop, in one
/// allocation of its `Content-Length`; growing it (no or a wrong length) copies it into a
/// larger buffer and wipes the old, so no partial copy of a plaintext is left in freed memory.
fn read_body(
    resp: ureq::http::Response<ureq::Body>,
    endpoint: &str,
) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    let declared = resp
        .headers()
        .get(ureq::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let transport = |e: std::io::Error| ClientError::Transport {
        endpoint: endpoint.to_owned(),
        message: e.to_string(),
    };
    // One byte more than declared, so that the end is seen without growing (a length beyond
    // 1 MiB is believed once the bytes arrive).
    let first = declared.map_or(512, |n| n.saturating_add(1)).min(1 << 20);
    let mut buf = Zeroizing::new(vec![0u8; first]);
    let mut len = 0;
    let mut reader = resp
        .into_body()
        .into_reader()
        .take(MAX_RESPONSE_BYTES as u64);
    loop {
        if len == buf.len() {
            let mut larger = Zeroizing::new(vec![0u8; buf.len() * 2]);
            larger[..len].copy_from_slice(&buf[..len]);
            buf = larger;
        }
        match reader.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(transport(e)),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// Turns an error response into a [`ClientError`], reading `__type` as botocore does.
pub(crate) fn parse_error(status: u16, body: &[u8]) -> ClientError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let raw_type = v
        .get("__type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let name = raw_type.rsplit('#').next().unwrap_or(raw_type);
    let name = name.split(':').next().unwrap_or(name);
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(serde_json::Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    match ErrorType::from_name(name) {
        Some(t) => ClientError::Kms(KmsError {
            error_type: t,
            message,
        }),
        None => ClientError::Service {
            status,
            type_name: if name.is_empty() {
                format!("HTTP{status}")
            } else {
                name.to_owned()
            },
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_full_jitter() {
        let p = RetryPolicy::default();
        for retry in 1..10 {
            let ceiling = (p.base * (1 << (retry - 1))).min(p.cap);
            for _ in 0..50 {
                assert!(p.backoff(retry) <= ceiling);
            }
        }
        // Jitter: not always the same value.
        let samples: std::collections::BTreeSet<_> = (0..20).map(|_| p.backoff(3)).collect();
        assert!(samples.len() > 1);
    }

    #[test]
    fn error_parsing_follows_botocore() {
        let e = parse_error(
            400,
            br#"{"__type":"AccessDeniedException","Message":"User: x"}"#,
        );
        assert_eq!(e.kms_error_type(), Some(ErrorType::AccessDeniedException));
        assert!(e.to_string().contains("User: x"));
        let e = parse_error(
            400,
            br#"{"__type":"com.amazonaws.kms#NotFoundException:http://x","message":"m"}"#,
        );
        assert_eq!(e.kms_error_type(), Some(ErrorType::NotFoundException));
        let e = parse_error(400, br#"{"__type":"InvalidCiphertextException"}"#);
        assert!(matches!(
            e,
            ClientError::Kms(KmsError {
                error_type: ErrorType::InvalidCiphertextException,
                message: None
            })
        ));
        let e = parse_error(
            403,
            br#"{"__type":"MissingAuthenticationTokenException","message":"m"}"#,
        );
        assert!(matches!(e, ClientError::Service { status: 403, .. }));
        let e = parse_error(502, b"<html>bad gateway</html>");
        assert!(matches!(e, ClientError::Service { status: 502, .. }));
        assert!(e.is_retryable());
    }

    #[test]
    fn endpoints_and_regions() {
        assert!(HttpConfig::new("ftp://x").is_err());
        assert!(HttpConfig::new("127.0.0.1:4599").is_err());
        assert!(HttpConfig::new("http://").is_err());
        let t =
            HttpTransport::new(HttpConfig::new("http://127.0.0.1:4599/").expect("ok")).expect("ok");
        assert_eq!(t.host, "127.0.0.1:4599");
        assert_eq!(t.config.endpoint, "http://127.0.0.1:4599");
        let t = HttpTransport::new(
            HttpConfig::new("https://kms.eu-west-1.amazonaws.com:443").expect("ok"),
        )
        .expect("ok");
        assert_eq!(t.host, "kms.eu-west-1.amazonaws.com");
    }
}
