//! KMS requests over HTTP as the AWS SDKs make them: JSON 1.1 bodies, `X-Amz-Target`, and a
//! SigV4 signature over every header the request carries (`ebsim_kms_api::sign`, as the
//! client signs).

use std::net::SocketAddr;
use std::time::SystemTime;

use ebsim_kms_api::sign::{AccessKey, KmsPost, sign_post};
use serde_json::Value;

/// A KMS request to sign: `POST /` with `X-Amz-Target: TARGET`.
#[derive(Debug, Clone)]
pub struct KmsRequest<'a> {
    /// The `Host` header (default: the address the request is sent to).
    pub host: Option<String>,
    /// `TrentService.<Operation>` (or anything, to test refusals).
    pub target: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// Access key id (default `test`).
    pub key: &'a str,
    /// Secret access key (default `test`).
    pub secret: &'a str,
    /// Signing time (default now).
    pub time: SystemTime,
    /// Region of the credential scope (default `us-west-2`).
    pub region: &'a str,
    /// Service of the credential scope (default `kms`).
    pub service: &'a str,
    /// More headers, signed with the rest.
    pub extra: Vec<(&'a str, &'a str)>,
}

impl<'a> KmsRequest<'a> {
    /// A request signed as the account root (`test`/`test`), now.
    pub fn new(target: &'a str, body: &'a [u8]) -> Self {
        Self {
            host: None,
            target,
            body,
            key: "test",
            secret: "test",
            time: SystemTime::now(),
            region: "us-west-2",
            service: "kms",
            extra: Vec::new(),
        }
    }

    /// What is signed: the request to `addr` (`Host` naming it unless [`KmsRequest::host`]).
    fn post<'r>(&'r self, addr: &'r str) -> KmsPost<'r> {
        KmsPost {
            headers: &self.extra,
            service: self.service,
            ..KmsPost::new(
                self.host.as_deref().unwrap_or(addr),
                self.target,
                self.body,
                self.region,
            )
        }
    }

    /// The request's headers for `addr`, unsigned.
    pub fn headers(&self, addr: SocketAddr) -> Vec<(String, String)> {
        self.post(&addr.to_string()).unsigned_headers()
    }

    /// The request's headers with the SigV4 ones (`authorization`, `x-amz-date`, …) added.
    ///
    /// # Panics
    /// When the request cannot be signed (a header value not valid in HTTP).
    pub fn signed_headers(&self, addr: SocketAddr) -> Vec<(String, String)> {
        let key = AccessKey::new(self.key, self.secret);
        sign_post(&self.post(&addr.to_string()), &key, self.time).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Signs and sends the request to `addr`.
    ///
    /// # Panics
    /// On a transport failure.
    pub fn send(&self, addr: SocketAddr) -> Response {
        post(addr, &self.signed_headers(addr), self.body).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// An HTTP response: status, headers, body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers (names in lower case).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Response {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`{}` when empty).
    ///
    /// # Panics
    /// When the body is not JSON.
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Object(serde_json::Map::new());
        }
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {:?}", self.body))
    }
}

/// An agent for which every status is a response, and redirects are returned, not followed.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .build()
        .into()
}

fn response(
    r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Response, std::io::Error> {
    let mut r = r.map_err(|e| std::io::Error::other(e.to_string()))?;
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = r
        .body_mut()
        .read_to_string()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// `POST /` to `addr` with exactly these headers (say, a captured request, replayed); any
/// status is a response.
///
/// # Errors
/// A transport failure (the connection refused or closed under the upload).
pub fn post(
    addr: SocketAddr,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Response, std::io::Error> {
    let mut req = agent().post(&format!("http://{addr}/"));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    response(req.send(body))
}

/// `GET PATH` (with its query) from `addr`; any status is a response.
///
/// # Errors
/// A transport failure.
pub fn get(addr: SocketAddr, path_and_query: &str) -> Result<Response, std::io::Error> {
    response(
        agent()
            .get(&format!("http://{addr}{path_and_query}"))
            .call(),
    )
}
