//! IAM, STS and EC2 requests (AWS Query protocol, XML answers; docs/iam.md, docs/ec2.md): authenticated like
//! every request, with the errors of the Query protocol (`InvalidClientTokenId`,
//! `SignatureDoesNotMatch`, `ExpiredToken`), then answered by [`Backend::query`].

use std::time::SystemTime;

use bytes::Bytes;
use ebsim_iam::{QueryError, QueryRequest, QueryService, xml};
use ebsim_kms::Caller;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use zeroize::Zeroizing;

use crate::auth::{self, TokenError};
use crate::backend::Backend;
use crate::server::State;
use crate::sigv4::{self, AuthError};
use ebsim_kms::trust::NONCE_HEADER;
use ebsim_kms_api::{PRINCIPAL_HEADER, VIA_SERVICE_HEADER};

/// An XML answer; its buffer is wiped once written (CreateAccessKey and AssumeRole carry
/// secrets).
fn answer(status: u16, body: Vec<u8>, rid: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(crate::body::wiped_on_drop(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(xml::CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(rid) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

fn error(service: QueryService, e: &QueryError, rid: &str) -> Response<Full<Bytes>> {
    answer(e.status, xml::error(service, e, rid), rid)
}

/// The Query protocol's error for an authentication failure.
pub(crate) fn auth_error(e: &AuthError) -> QueryError {
    match e {
        AuthError::Missing => QueryError::new(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        ),
        AuthError::Incomplete(m) => QueryError::new("IncompleteSignature", 400, m.clone()),
        AuthError::UnknownAccessKey => QueryError::invalid_client_token_id(),
        AuthError::BadSignature => QueryError::new("SignatureDoesNotMatch", 403, e.to_string()),
        AuthError::BadScope(m) | AuthError::Expired(m) => {
            QueryError::new("SignatureDoesNotMatch", 403, m.clone())
        }
        AuthError::Replay(m) => QueryError::new("SignatureDoesNotMatch", 403, *m),
    }
}

fn token_error(e: TokenError) -> QueryError {
    match e {
        TokenError::Invalid => QueryError::invalid_client_token_id(),
        TokenError::Expired => QueryError::expired_token(),
    }
}

/// Authenticates a request of a service other than KMS (IAM, STS, EC2, WorkSpaces): the
/// caller it was made by, or the Query protocol's error (which the JSON services put in their
/// own envelope).
pub(crate) fn authenticate<B: Backend>(
    iam: bool,
    parts: &http::request::Parts,
    body: &[u8],
    state: &State<B>,
) -> Result<Caller, QueryError> {
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let backend = &state.backend;
    let mode = state.config.credentials;
    let mut session = None;
    let verified = sigv4::verify_with(
        parts.method.as_str(),
        path,
        &parts.headers,
        body,
        SystemTime::now(),
        |akid| auth::lookup(&**backend, mode, akid, &mut session),
    );
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return Err(auth_error(&e)),
    };
    if let Some(name) = sigv4::unsigned_required_header(&parts.headers, &verified) {
        let e = QueryError::new(
            "IncompleteSignature",
            400,
            format!(
                "The request signature does not cover the header '{name}': Content-Type and every x-amz-* and x-ebsim-* header must be signed."
            ),
        );
        return Err(e);
    }
    if let Err(e) = auth::check_token(&parts.headers, session.as_ref(), mode) {
        return Err(token_error(e));
    }
    // GetSessionToken's credentials cannot call IAM (without MFA, which ebsim does not model).
    if iam && session.as_ref().is_some_and(|s| s.from_session_token) {
        return Err(QueryError::invalid_client_token_id());
    }
    let signs_nonce = verified.signs(NONCE_HEADER);
    let (signed_at, region) = (verified.time, verified.region);
    let credential = verified.credential;
    let header = |name: &str| -> Result<Option<String>, ()> {
        match parts.headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(|s| Some(s.to_owned())).map_err(|_| ()),
        }
    };
    let (Ok(act_as), Ok(via)) = (header(PRINCIPAL_HEADER), header(VIA_SERVICE_HEADER)) else {
        return Err(QueryError::validation("x-ebsim-* headers must be ASCII."));
    };
    if (act_as.is_some() || via.is_some()) && !credential.is_service {
        let e = QueryError::access_denied(format!(
            "User: {} is not authorized to act for another principal or claim a forwarding service (x-ebsim-principal / x-ebsim-via-service)",
            credential.principal
        ));
        return Err(e);
    }
    if credential.is_service {
        let nonce = if signs_nonce {
            parts
                .headers
                .get(NONCE_HEADER)
                .and_then(|v| v.to_str().ok())
        } else {
            None
        };
        if let Err(e) = state.replay.check(nonce, signed_at, SystemTime::now()) {
            return Err(auth_error(&AuthError::Replay(e.message())));
        }
    }
    let mut caller =
        Caller::new(act_as.unwrap_or_else(|| credential.principal.clone())).in_region(region);
    if let Some(via) = via {
        caller = caller.via(via);
    }
    if let Some(s) = session {
        caller = caller.in_session(s.access_key_id);
    }
    Ok(caller)
}

/// Authenticates and answers one IAM, STS or EC2 request.
pub(crate) async fn handle<B: Backend>(
    service: QueryService,
    parts: &http::request::Parts,
    body: Zeroizing<Vec<u8>>,
    state: &State<B>,
    rid: &str,
) -> Response<Full<Bytes>> {
    let caller = match authenticate(service == QueryService::Iam, parts, &body, state) {
        Ok(c) => c,
        Err(e) => return error(service, &e, rid),
    };
    let request = match QueryRequest::parse(&body) {
        Ok(r) => r,
        Err(e) => return error(service, &e, rid),
    };
    let rid_owned = rid.to_owned();
    let result = if service == QueryService::Ec2 {
        let Some(ec2) = state.ec2.clone() else {
            return error(service, &QueryError::invalid_action(request.action()), rid);
        };
        tokio::task::spawn_blocking(move || ec2.handle(&caller, &request, &rid_owned))
            .await
            .unwrap_or_else(|_| Err(QueryError::new("InternalError", 500, "The request failed.")))
    } else {
        let backend = state.backend.clone();
        tokio::task::spawn_blocking(move || backend.query(&caller, service, &request, &rid_owned))
            .await
            .unwrap_or_else(|_| Err(QueryError::service_failure("The request failed.")))
    };
    match result {
        Ok(body) => answer(200, body, rid),
        Err(e) => error(service, &e, rid),
    }
}
