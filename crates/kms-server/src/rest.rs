//! REST-JSON services (EBS direct, docs/ebs-direct.md): authenticated like every request, with
//! the REST-JSON protocol's authentication errors (`UnrecognizedClientException`,
//! `InvalidSignatureException`, `ExpiredTokenException`), then answered by a [`RestHandler`].
//! `X-Amz-Content-SHA256: UNSIGNED-PAYLOAD` is accepted only where the handler allows it.

use std::time::SystemTime;

use bytes::Bytes;
use ebsim_kms::Caller;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use zeroize::Zeroizing;

use crate::auth::{self, TokenError};
use crate::backend::Backend;
use crate::server::State;
use crate::sigv4::{self, AuthError};

/// The largest request body a REST-JSON service reads: one 512 KiB EBS block.
pub const MAX_REST_BODY: usize = 512 * 1024;

/// One authenticated request of a REST-JSON service.
#[derive(Debug)]
pub struct RestRequest {
    /// The method.
    pub method: http::Method,
    /// The path, percent-encoded as received.
    pub path: String,
    /// The query string, percent-encoded as received (empty when none).
    pub query: String,
    /// Every header.
    pub headers: http::HeaderMap,
    /// The body (at most [`MAX_REST_BODY`] bytes).
    pub body: Vec<u8>,
}

/// A REST-JSON answer.
#[derive(Debug)]
pub struct RestResponse {
    /// The HTTP status.
    pub status: u16,
    /// Extra headers (the content type is one of them when there is a body).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RestResponse {
    /// An error in the REST-JSON envelope: `x-amzn-ErrorType` and
    /// `{"__type", "message", "Reason"}`.
    pub fn error(status: u16, code: &str, message: &str, reason: Option<&str>) -> Self {
        let message: String = message.chars().take(256).collect();
        let mut body = serde_json::json!({ "__type": code, "Message": message });
        if let Some(r) = reason {
            body["Reason"] = serde_json::Value::from(r);
        }
        Self {
            status,
            headers: vec![
                ("x-amzn-errortype", code.to_owned()),
                ("content-type", "application/json".to_owned()),
            ],
            body: body.to_string().into_bytes(),
        }
    }
}

/// A REST-JSON service served beside the KMS on the same port, chosen by the SigV4 scope's
/// service (EBS direct, `ebsim-ec2`).
pub trait RestHandler: Send + Sync + 'static {
    /// The credential scope service it answers (`ebs`).
    fn service(&self) -> &'static str;
    /// Whether `method path` may send `UNSIGNED-PAYLOAD` (PutSnapshotBlock only).
    fn allows_unsigned_payload(&self, method: &http::Method, path: &str) -> bool;
    /// Answers one authenticated request made by `caller`.
    fn handle(&self, caller: &Caller, request: RestRequest, request_id: &str) -> RestResponse;
}

fn auth_error(e: &AuthError) -> RestResponse {
    let (status, code) = match e {
        AuthError::Missing => (403, "MissingAuthenticationTokenException"),
        AuthError::Incomplete(_) => (400, "IncompleteSignatureException"),
        AuthError::UnknownAccessKey => (400, "UnrecognizedClientException"),
        AuthError::BadSignature
        | AuthError::BadScope(_)
        | AuthError::Expired(_)
        | AuthError::Replay(_) => (400, "InvalidSignatureException"),
    };
    let message = match e {
        AuthError::UnknownAccessKey => {
            "The security token included in the request is invalid.".to_owned()
        }
        other => other.to_string(),
    };
    RestResponse::error(status, code, &message, None)
}

pub(crate) fn to_http(r: RestResponse, rid: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(r.body)));
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    for (name, value) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(rid) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// Authenticates and answers one REST-JSON request.
pub(crate) async fn handle<B: Backend>(
    handler: std::sync::Arc<dyn RestHandler>,
    parts: &http::request::Parts,
    body: Zeroizing<Vec<u8>>,
    state: &State<B>,
    rid: &str,
) -> Response<Full<Bytes>> {
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let mode = state.config.credentials;
    let mut session = None;
    let unsigned_ok = handler.allows_unsigned_payload(&parts.method, parts.uri.path());
    let verified = sigv4::verify_payload(
        parts.method.as_str(),
        path_and_query,
        &parts.headers,
        &body,
        unsigned_ok,
        SystemTime::now(),
        |akid| auth::lookup(&*state.backend, mode, akid, &mut session),
    );
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return to_http(auth_error(&e), rid),
    };
    if let Some(name) = sigv4::unsigned_required_header(&parts.headers, &verified) {
        let e = RestResponse::error(
            400,
            "IncompleteSignatureException",
            &format!("The request signature does not cover the header '{name}'."),
            None,
        );
        return to_http(e, rid);
    }
    if let Err(e) = auth::check_token(&parts.headers, session.as_ref(), mode) {
        let e = match e {
            TokenError::Invalid => auth_error(&AuthError::UnknownAccessKey),
            TokenError::Expired => RestResponse::error(
                400,
                "ExpiredTokenException",
                "The security token included in the request is expired",
                None,
            ),
        };
        return to_http(e, rid);
    }
    if verified.credential.is_service {
        // The service credential acts for others through the KMS protocol only.
        let e = RestResponse::error(
            403,
            "AccessDeniedException",
            "The service credential cannot call this service.",
            Some("UNAUTHORIZED_ACCOUNT"),
        );
        return to_http(e, rid);
    }
    let mut caller = Caller::new(verified.credential.principal.clone()).in_region(verified.region);
    if let Some(s) = session {
        caller = caller.in_session(s.access_key_id);
    }
    let request = RestRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers.clone(),
        body: body.to_vec(),
    };
    let rid_owned = rid.to_owned();
    let answer = tokio::task::spawn_blocking(move || handler.handle(&caller, request, &rid_owned))
        .await
        .unwrap_or_else(|_| {
            RestResponse::error(500, "InternalServerException", "The request failed.", None)
        });
    to_http(answer, rid)
}
