//! JSON 1.1 services other than KMS served on the same port (WorkSpaces, docs/workspaces.md):
//! requests whose SigV4 scope names the service, authenticated as every request, answered
//! by a [`JsonHandler`], errors as `{"__type": …, "message": …}`.

use bytes::Bytes;
use ebsim_kms::Caller;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use zeroize::Zeroizing;

use crate::backend::Backend;
use crate::server::State;

/// A JSON 1.1 service's error: HTTP status, `__type`, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// The HTTP status.
    pub status: u16,
    /// The `__type` (`InvalidParameterValuesException`, …).
    pub code: String,
    /// The message.
    pub message: String,
}

impl JsonError {
    /// An error of `code` with status 400.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A JSON 1.1 service served beside the KMS on the same port (WorkSpaces): answers one
/// authenticated request of `X-Amz-Target: <prefix>.<operation>` with its JSON body.
pub trait JsonHandler: Send + Sync + 'static {
    /// The SigV4 scope service name it answers (`workspaces`).
    fn scope(&self) -> &'static str;
    /// The target prefix (`WorkspacesService`).
    fn target_prefix(&self) -> &'static str;
    /// Answers `operation` with `body`, made by `caller`.
    ///
    /// # Errors
    /// The service's error, put on the wire as `{"__type", "message"}`.
    fn handle(&self, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, JsonError>;
}

fn answer(status: u16, body: Vec<u8>, rid: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(v) = HeaderValue::from_str(rid) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

fn error(e: &JsonError, rid: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"__type": e.code, "message": e.message});
    answer(e.status, body.to_string().into_bytes(), rid)
}

/// Authenticates and answers one request for `handler`.
pub(crate) async fn handle<B: Backend>(
    handler: std::sync::Arc<dyn JsonHandler>,
    parts: &http::request::Parts,
    body: Zeroizing<Vec<u8>>,
    state: &State<B>,
    rid: &str,
) -> Response<Full<Bytes>> {
    let caller = match crate::query::authenticate(false, parts, &body, state) {
        Ok(c) => c,
        Err(e) => {
            // The JSON protocol's names for the Query protocol's authentication errors, as
            // KMS answers them (crate::wire).
            let code = match e.code {
                "MissingAuthenticationToken" | "IncompleteSignature" => {
                    "IncompleteSignatureException"
                }
                "InvalidClientTokenId" => "UnrecognizedClientException",
                "SignatureDoesNotMatch" => "InvalidSignatureException",
                "ExpiredToken" => "ExpiredTokenException",
                "AccessDenied" => "AccessDeniedException",
                "ValidationError" => "ValidationException",
                other => other,
            };
            let e = JsonError {
                status: e.status,
                code: code.to_owned(),
                message: e.message,
            };
            return error(&e, rid);
        }
    };
    let target = parts
        .headers
        .get(ebsim_kms_api::TARGET_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split_once('.'))
        .filter(|(prefix, _)| *prefix == handler.target_prefix())
        .map(|(_, op)| op.to_owned());
    let Some(op) = target else {
        return error(&JsonError::new("UnknownOperationException", ""), rid);
    };
    let out = tokio::task::spawn_blocking(move || handler.handle(&caller, &op, &body))
        .await
        .unwrap_or_else(|_| {
            Err(JsonError {
                status: 500,
                code: "InternalFailure".into(),
                message: "The request failed.".into(),
            })
        });
    match out {
        Ok(b) => answer(200, b, rid),
        Err(e) => error(&e, rid),
    }
}
