//! The EBS direct APIs (REST-JSON, service `ebs`; docs/ebs-direct.md): routing of the six
//! operations, authorization of `ebs:ACTION` through the KMS's IAM policy engine, the errors
//! and tokens, and the pending snapshots being written. The operations are in `ops.rs`; the
//! blocks go through `ebsim_snapshot` (`SnapshotStore::start_direct`, `read_plain`).

mod ops;
mod tokens;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use ebsim_kms::Caller;
use ebsim_kms_api::Region;
use ebsim_kms_server::{RestHandler, RestRequest, RestResponse};
use ebsim_snapshot::{DirectWriter, SnapshotError};
use parking_lot::Mutex;

use crate::service::Ec2;

/// A snapshot being written through PutSnapshotBlock.
pub(crate) struct Pending {
    pub(crate) writer: Option<DirectWriter>,
    pub(crate) account: String,
    pub(crate) region: Region,
    /// StartSnapshot's `Timeout`: the snapshot ends in `error` if not completed by then.
    pub(crate) deadline: Instant,
}

/// What StartSnapshot's `ClientToken` remembers: the request it came with and its answer.
pub(crate) struct TokenUse {
    pub(crate) request: serde_json::Value,
    pub(crate) answer: Vec<u8>,
}

/// The EBS direct state of a server: the pending snapshots (in memory: a server that stops
/// leaves them in `error`, as their writer is gone) and the client tokens.
#[derive(Default)]
pub(crate) struct DirectState {
    pub(crate) pending: Mutex<HashMap<String, Arc<Mutex<Pending>>>>,
    pub(crate) tokens: Mutex<HashMap<(String, String), TokenUse>>,
}

/// An EBS direct error: code, status, message and `Reason`.
#[derive(Debug)]
pub(crate) struct EbsError {
    status: u16,
    code: &'static str,
    message: String,
    reason: Option<&'static str>,
}

impl EbsError {
    pub(crate) fn validation(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "ValidationException",
            message: message.into(),
            reason: Some(reason),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            code: "ResourceNotFoundException",
            message: message.into(),
            reason: Some("SNAPSHOT_NOT_FOUND"),
        }
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: 409,
            code: "ConflictException",
            message: message.into(),
            reason: None,
        }
    }

    pub(crate) fn access_denied(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: 403,
            code: "AccessDeniedException",
            message: message.into(),
            reason: Some(reason),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            code: "InternalServerException",
            message: message.into(),
            reason: None,
        }
    }

    fn response(&self) -> RestResponse {
        RestResponse::error(self.status, self.code, &self.message, self.reason)
    }
}

/// A snapshot engine error as EBS direct answers it.
impl From<SnapshotError> for EbsError {
    fn from(e: SnapshotError) -> Self {
        use ebsim_kms_api::ErrorType as T;
        match &e {
            SnapshotError::MalformedSnapshotId(_) => {
                Self::validation("INVALID_SNAPSHOT_ID", e.to_string())
            }
            SnapshotError::SnapshotNotFound(_) => Self::not_found(e.to_string()),
            SnapshotError::IncorrectState { .. } => {
                Self::validation("INVALID_SNAPSHOT_ID", e.to_string())
            }
            SnapshotError::InvalidParameter(m) => {
                Self::validation("INVALID_PARAMETER_VALUE", m.clone())
            }
            SnapshotError::Kms { source, .. } => match source.kms_error_type() {
                Some(T::AccessDeniedException) => {
                    Self::access_denied("DEPENDENCY_ACCESS_DENIED", e.to_string())
                }
                Some(T::NotFoundException) => Self {
                    status: 404,
                    code: "ResourceNotFoundException",
                    message: e.to_string(),
                    reason: Some("DEPENDENCY_RESOURCE_NOT_FOUND"),
                },
                Some(_) => Self::validation("INVALID_CUSTOMER_KEY", e.to_string()),
                None => Self::internal(e.to_string()),
            },
            _ if e.is_client_error() => Self::validation("INVALID_PARAMETER_VALUE", e.to_string()),
            _ => Self::internal(e.to_string()),
        }
    }
}

/// One EBS direct request in progress.
pub(crate) struct Req<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) account: String,
    pub(crate) region: Region,
    pub(crate) http: &'a RestRequest,
    /// The decoded query parameters.
    pub(crate) query: Vec<(String, String)>,
}

impl Req<'_> {
    /// A query parameter, decoded.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Result<Option<&str>, EbsError> {
        match self.http.headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(Some).map_err(|_| {
                EbsError::validation("INVALID_PARAMETER_VALUE", format!("{name} is not ASCII."))
            }),
        }
    }

    /// `arn:aws:ec2:REGION::snapshot/ID`, the resource of the `ebs:` actions.
    pub(crate) fn snapshot_arn(&self, id: &str) -> String {
        format!("arn:aws:ec2:{}::snapshot/{id}", self.region.as_str())
    }
}

/// The operation a method and path name, with its path parameters.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Start,
    Put(String, String),
    Complete(String),
    Get(String, String),
    List(String),
    Changed(String),
}

impl Route {
    pub(crate) fn parse(method: &http::Method, path: &str) -> Option<Self> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let s = |x: &str| x.to_owned();
        match (method.as_str(), parts.as_slice()) {
            ("POST", ["snapshots"]) => Some(Self::Start),
            ("POST", ["snapshots", "completion", id]) => Some(Self::Complete(s(id))),
            ("PUT", ["snapshots", id, "blocks", i]) => Some(Self::Put(s(id), s(i))),
            ("GET", ["snapshots", id, "blocks", i]) => Some(Self::Get(s(id), s(i))),
            ("GET", ["snapshots", id, "blocks"]) => Some(Self::List(s(id))),
            ("GET", ["snapshots", id, "changedblocks"]) => Some(Self::Changed(s(id))),
            _ => None,
        }
    }

    /// The IAM action (`ebs:…`).
    pub(crate) fn action(&self) -> &'static str {
        match self {
            Self::Start => "ebs:StartSnapshot",
            Self::Put(..) => "ebs:PutSnapshotBlock",
            Self::Complete(_) => "ebs:CompleteSnapshot",
            Self::Get(..) => "ebs:GetSnapshotBlock",
            Self::List(_) => "ebs:ListSnapshotBlocks",
            Self::Changed(_) => "ebs:ListChangedBlocks",
        }
    }

    fn snapshot(&self) -> Option<&str> {
        match self {
            Self::Start => None,
            Self::Put(id, _)
            | Self::Complete(id)
            | Self::Get(id, _)
            | Self::List(id)
            | Self::Changed(id) => Some(id),
        }
    }
}

/// The JSON answer of an operation.
pub(crate) fn json(status: u16, body: &serde_json::Value) -> RestResponse {
    RestResponse {
        status,
        headers: vec![("content-type", "application/json".to_owned())],
        body: body.to_string().into_bytes(),
    }
}

impl Ec2 {
    fn direct(&self, caller: &Caller, http: RestRequest) -> Result<RestResponse, EbsError> {
        let route = Route::parse(&http.method, &http.path).ok_or_else(|| {
            EbsError::validation(
                "INVALID_PARAMETER_VALUE",
                format!("No EBS direct operation is {} {}.", http.method, http.path),
            )
        })?;
        let query = form_urlencoded_pairs(&http.query)?;
        let req = Req {
            caller,
            account: self.kms.account_of(caller),
            region: caller.region.unwrap_or(self.default_region),
            http: &http,
            query,
        };
        let resource = route
            .snapshot()
            .map_or_else(|| req.snapshot_arn("*"), |id| req.snapshot_arn(id));
        self.kms
            .authorize_action(caller, route.action(), &resource)
            .map_err(|why| EbsError::access_denied("UNAUTHORIZED_ACCOUNT", why))?;
        self.reap_expired();
        match route {
            Route::Start => self.start_snapshot(&req),
            Route::Put(id, i) => self.put_snapshot_block(&req, &id, &i),
            Route::Complete(id) => self.complete_snapshot(&req, &id),
            Route::Get(id, i) => self.get_snapshot_block(&req, &id, &i),
            Route::List(id) => self.list_snapshot_blocks(&req, &id),
            Route::Changed(id) => self.list_changed_blocks(&req, &id),
        }
    }

    /// Ends in `error` every pending snapshot whose `Timeout` passed.
    fn reap_expired(&self) {
        let now = Instant::now();
        let expired: Vec<Arc<Mutex<Pending>>> = {
            let mut map = self.direct.pending.lock();
            let ids: Vec<String> = map
                .iter()
                .filter(|(_, p)| p.lock().deadline <= now)
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| map.remove(id)).collect()
        };
        for p in expired {
            if let Some(w) = p.lock().writer.take()
                && let Err(e) = w.fail("The snapshot was not completed within its Timeout.")
            {
                tracing::warn!("cannot end a timed-out snapshot: {e}");
            }
        }
    }
}

/// Decodes `a=b&c=d` (percent-encoded; a bare `+` stays `+`, as base64 tokens sent
/// unencoded need), bounded to 32 pairs.
fn form_urlencoded_pairs(q: &str) -> Result<Vec<(String, String)>, EbsError> {
    let mut out = Vec::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        if out.len() == 32 {
            return Err(EbsError::validation(
                "INVALID_PARAMETER_VALUE",
                "Too many query parameters.",
            ));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| {
                    EbsError::validation("INVALID_PARAMETER_VALUE", "A query value is not UTF-8.")
                })
        };
        out.push((dec(k)?, dec(v)?));
    }
    Ok(out)
}

impl RestHandler for Ec2 {
    fn service(&self) -> &'static str {
        "ebs"
    }

    fn allows_unsigned_payload(&self, method: &http::Method, path: &str) -> bool {
        matches!(Route::parse(method, path), Some(Route::Put(..)))
    }

    fn handle(&self, caller: &Caller, request: RestRequest, _request_id: &str) -> RestResponse {
        if caller.via_service.is_some() {
            return EbsError::access_denied(
                "UNAUTHORIZED_ACCOUNT",
                "A forwarding service cannot call EBS direct.",
            )
            .response();
        }
        self.direct(caller, request)
            .unwrap_or_else(|e| e.response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_every_operation_and_nothing_else() {
        let get = http::Method::GET;
        assert_eq!(
            Route::parse(&http::Method::POST, "/snapshots"),
            Some(Route::Start)
        );
        assert_eq!(
            Route::parse(&http::Method::PUT, "/snapshots/snap-1/blocks/3"),
            Some(Route::Put("snap-1".into(), "3".into()))
        );
        assert_eq!(
            Route::parse(&get, "/snapshots/snap-1/changedblocks"),
            Some(Route::Changed("snap-1".into()))
        );
        assert_eq!(Route::parse(&get, "/snapshots"), None);
        assert_eq!(
            Route::parse(&http::Method::DELETE, "/snapshots/x/blocks/1"),
            None
        );
        assert_eq!(
            Route::parse(&http::Method::POST, "/snapshots/completion/snap-1").map(|r| r.action()),
            Some("ebs:CompleteSnapshot")
        );
    }

    #[test]
    fn query_strings_decode_and_are_bounded() {
        let q = form_urlencoded_pairs("blockToken=AAA%3D&maxResults=100").expect("decodes");
        assert_eq!(q[0], ("blockToken".to_owned(), "AAA=".to_owned()));
        let raw = form_urlencoded_pairs("blockToken=a+b/c=").expect("decodes");
        assert_eq!(raw[0].1, "a+b/c=");
        let many = vec!["a=b"; 33].join("&");
        assert!(form_urlencoded_pairs(&many).is_err());
        assert!(form_urlencoded_pairs("a=%FF").is_err());
    }

    #[test]
    fn a_snapshot_not_completed_within_its_timeout_ends_in_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let kms = Arc::new(
            ebsim_kms::Kms::open(tmp.path(), ebsim_kms::KmsConfig::default()).expect("kms"),
        );
        let ec2 = Ec2::open(tmp.path(), kms, Region::default()).expect("ec2");
        let caller = Caller::new("arn:aws:iam::111122223333:root");
        let start = RestRequest {
            method: http::Method::POST,
            path: "/snapshots".into(),
            query: String::new(),
            headers: http::HeaderMap::new(),
            body: br#"{"VolumeSize": 1, "Timeout": 10}"#.to_vec(),
        };
        let r = RestHandler::handle(&ec2, &caller, start, "rid");
        assert_eq!(r.status, 201);
        let id: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        let id = id["SnapshotId"].as_str().expect("id").to_owned();
        let store =
            ebsim_snapshot::SnapshotStore::open(tmp.path(), ec2.client.clone(), Region::default())
                .expect("store");
        assert_eq!(
            store.describe(&id).expect("described").state,
            ebsim_snapshot::SnapshotState::Pending
        );
        ec2.reap_expired();
        assert!(ec2.direct.pending.lock().contains_key(&id), "not yet due");
        let p = ec2
            .direct
            .pending
            .lock()
            .get(&id)
            .cloned()
            .expect("pending");
        p.lock().deadline = Instant::now();
        ec2.reap_expired();
        assert!(!ec2.direct.pending.lock().contains_key(&id));
        let s = store.describe(&id).expect("described");
        assert_eq!(s.state, ebsim_snapshot::SnapshotState::Error);
        assert!(s.state_message.unwrap_or_default().contains("Timeout"));
    }
}
