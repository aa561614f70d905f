//! The HTTP/1.1 server: accept loop, per-connection timeouts, request handling, graceful
//! shutdown.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ebsim_kms::{Caller, ErrorType, KmsError};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use ebsim_kms::trust::{CHALLENGE_BYTES, CHALLENGE_PARAM, NONCE_HEADER, PROOF_HEADER};

use crate::auth;
use crate::backend::Backend;
use crate::sigv4::{self, AuthError};
use crate::trust::{ReplayGuard, host_names_server};
use crate::wire::{CONTENT_TYPE, WireError};
use ebsim_kms_api::{BUILTIN_ACCESS_KEY, CredentialMode};

pub use ebsim_kms::trust::{PING_BODY, PING_PATH};
pub use ebsim_kms_api::{PRINCIPAL_HEADER, VIA_SERVICE_HEADER};

/// How the server listens and how long it waits for slow clients.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Address to bind (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Allow binding a non-loopback address.
    pub allow_remote: bool,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Time a client has to send a complete request head; also how long an idle keep-alive
    /// connection stays open.
    pub header_read_timeout: Duration,
    /// Time a client has to send the request body once its head arrived.
    pub body_read_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Which access keys are accepted.
    pub credentials: CredentialMode,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4599)),
            allow_remote: false,
            max_body_bytes: 1 << 20,
            header_read_timeout: Duration::from_secs(20),
            body_read_timeout: Duration::from_secs(20),
            shutdown_grace: Duration::from_secs(10),
            credentials: CredentialMode::Default,
        }
    }
}

impl ServerConfig {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            ..Self::default()
        }
    }

    /// Allows (or not) a non-loopback listen address.
    #[must_use]
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// Sets which access keys are accepted.
    #[must_use]
    pub fn credentials(mut self, mode: CredentialMode) -> Self {
        self.credentials = mode;
        self
    }

    /// Sets the request body limit.
    #[must_use]
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Sets the header-read (and keep-alive idle) timeout and the body-read timeout.
    #[must_use]
    pub fn timeouts(mut self, header_read: Duration, body_read: Duration) -> Self {
        self.header_read_timeout = header_read;
        self.body_read_timeout = body_read;
        self
    }
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listen address is not loopback and `allow_remote` is off.
    #[error(
        "refusing to listen on non-loopback address {0}; pass --allow-remote to expose the KMS endpoint beyond this machine"
    )]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Another I/O failure (runtime creation, accept).
    #[error("KMS server I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A Query service served beside the KMS on the same port (EC2, `ebsim-ec2`): answers one
/// authenticated, decoded request with its XML body.
pub trait QueryHandler: Send + Sync + 'static {
    /// Answers `request`, made by `caller`, as the service's XML (`request_id` goes into it).
    ///
    /// # Errors
    /// The service's error, put on the wire in its envelope.
    fn handle(
        &self,
        caller: &Caller,
        request: &ebsim_iam::QueryRequest,
        request_id: &str,
    ) -> Result<Vec<u8>, ebsim_iam::QueryError>;
}

pub(crate) struct State<B> {
    pub(crate) backend: Arc<B>,
    /// The EC2 service, when the server has one.
    pub(crate) ec2: Option<Arc<dyn QueryHandler>>,
    /// The REST-JSON service (EBS direct), when the server has one.
    pub(crate) ebs: Option<Arc<dyn crate::rest::RestHandler>>,
    /// The JSON 1.1 services (WorkSpaces), by scope service name.
    pub(crate) json: Vec<Arc<dyn crate::json::JsonHandler>>,
    pub(crate) config: ServerConfig,
    /// Nonces of service-credential requests (refused when replayed or made before start).
    pub(crate) replay: ReplayGuard,
}

impl<B: std::fmt::Debug> std::fmt::Debug for KmsServer<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsServer")
            .field("listener", &self.listener)
            .field("backend", &self.backend)
            .field("ec2", &self.ec2.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A bound, not yet running KMS endpoint.
#[allow(missing_debug_implementations)]
pub struct KmsServer<B> {
    listener: StdTcpListener,
    backend: Arc<B>,
    ec2: Option<Arc<dyn QueryHandler>>,
    ebs: Option<Arc<dyn crate::rest::RestHandler>>,
    json: Vec<Arc<dyn crate::json::JsonHandler>>,
    config: ServerConfig,
    /// When the server bound its port: service-credential requests made earlier are refused.
    started: SystemTime,
}

impl<B: Backend> KmsServer<B> {
    /// Binds the listen address (refusing non-loopback addresses unless allowed).
    ///
    /// # Errors
    /// [`ServerError::NotLoopback`] or [`ServerError::Bind`].
    pub fn bind(backend: Arc<B>, config: ServerConfig) -> Result<Self, ServerError> {
        if !config.listen.ip().is_loopback() && !config.allow_remote {
            return Err(ServerError::NotLoopback(config.listen));
        }
        let listener = StdTcpListener::bind(config.listen).map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            backend,
            ec2: None,
            ebs: None,
            json: Vec::new(),
            config,
            started: SystemTime::now(),
        })
    }

    /// Serves EC2 (requests whose credential scope names `ec2`) with `handler`; without one
    /// they are answered `InvalidAction`.
    #[must_use]
    pub fn with_ec2(mut self, handler: Arc<dyn QueryHandler>) -> Self {
        self.ec2 = Some(handler);
        self
    }

    /// Serves a REST-JSON service (EBS direct: requests scoped to `handler.service()`).
    #[must_use]
    pub fn with_rest(mut self, handler: Arc<dyn crate::rest::RestHandler>) -> Self {
        self.ebs = Some(handler);
        self
    }

    /// Serves a JSON 1.1 service (WorkSpaces) for requests whose credential scope names
    /// [`crate::JsonHandler::scope`].
    #[must_use]
    pub fn with_json(mut self, handler: Arc<dyn crate::json::JsonHandler>) -> Self {
        self.json.push(handler);
        self
    }

    /// The address actually bound (with the port chosen for `:0`).
    ///
    /// # Errors
    /// When the socket cannot report its address.
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        Ok(self.listener.local_addr()?)
    }

    /// The endpoint URL clients use (`http://ADDR`).
    ///
    /// # Errors
    /// As [`KmsServer::local_addr`].
    pub fn url(&self) -> Result<String, ServerError> {
        Ok(format!("http://{}", self.local_addr()?))
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests
    /// finish (up to the grace period) and returns. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// When the listener cannot be registered with the runtime.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let listener = TcpListener::from_std(self.listener)?;
        let state = Arc::new(State {
            backend: self.backend,
            ec2: self.ec2,
            ebs: self.ebs,
            json: self.json,
            config: self.config,
            replay: ReplayGuard::new(self.started),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut conns = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = listener.accept() => {
                    // Accept errors (EMFILE, a reset before accept) are per connection.
                    let Ok((stream, peer)) = accepted else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let Ok(local) = stream.local_addr() else { continue };
                    let addrs = Addrs { peer, local };
                    conns.spawn(serve_connection(stream, addrs, state.clone(), stop_rx.clone()));
                }
            }
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let grace = state.config.shutdown_grace;
        let drained =
            tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            conns.abort_all();
        }
        Ok(())
    }

    /// Runs the server on its own runtime in a background thread.
    ///
    /// # Errors
    /// When the runtime cannot be built or the address reported.
    pub fn spawn(self) -> Result<ServerHandle, ServerError> {
        let addr = self.local_addr()?;
        let runtime = runtime()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ebsim-kms-server".into())
            .spawn(move || {
                runtime.block_on(self.run(async {
                    let _ = rx.await;
                }))
            })?;
        Ok(ServerHandle {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }
}

/// The multi-threaded runtime the server runs on (one worker per core, at least two).
///
/// # Errors
/// When the runtime cannot be built.
pub fn runtime() -> Result<tokio::runtime::Runtime, ServerError> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("ebsim-kms-worker")
        .enable_all()
        .build()?)
}

/// A server running in a background thread; stops (gracefully) on [`ServerHandle::shutdown`]
/// or drop.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL (`http://ADDR`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests and waits for the server thread.
    ///
    /// # Errors
    /// What the server loop returned.
    pub fn shutdown(mut self) -> Result<(), ServerError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServerError::Io(std::io::Error::other(
                "server thread panicked",
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// The two ends of a connection.
#[derive(Debug, Clone, Copy)]
struct Addrs {
    /// The client.
    peer: SocketAddr,
    /// The local address the client reached (what its `Host` header must name).
    local: SocketAddr,
}

async fn serve_connection<B: Backend>(
    stream: tokio::net::TcpStream,
    addrs: Addrs,
    state: Arc<State<B>>,
    mut stop: watch::Receiver<bool>,
) {
    let svc_state = state.clone();
    let service = service_fn(move |req| {
        let state = svc_state.clone();
        async move { Ok::<_, Infallible>(handle(req, addrs, &state).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.header_read_timeout)
        .keep_alive(true)
        // Response bodies are written from their own buffers (wiped when dropped,
        // crate::body), never copied into hyper's header buffer.
        .writev(true)
        .max_buf_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    if *stop.borrow() {
        conn.as_mut().graceful_shutdown();
    }
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn response(status: u16, body: Bytes, request_id: &str, close: bool) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if close {
        h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn error_response(e: &WireError, request_id: &str, close: bool) -> Response<Full<Bytes>> {
    response(e.status, e.body(), request_id, close)
}

fn request_id() -> String {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// `POST /ebsim/reset`: the admin operation `Reset` (the data dir back to a fresh one's
/// state), answered `{"status":"ok"}`; loopback clients only, signed by the default
/// account's root.
pub const RESET_PATH: &str = "/ebsim/reset";

/// What a reset answers.
const RESET_BODY: &[u8] = br#"{"status":"ok"}"#;

/// moto's reset path, answered as [`RESET_PATH`] under `--credentials any-as-root`.
pub const MOTO_RESET_PATH: &str = "/moto-api/reset";

/// Whether a POST to `path` is a reset (whatever its `X-Amz-Target`).
fn reset_route(path: &str, mode: CredentialMode) -> bool {
    path == RESET_PATH || (mode == CredentialMode::AnyAsRoot && path == MOTO_RESET_PATH)
}

#[derive(Clone, Copy)]
enum Target<'a> {
    Kms(&'a str),
    Admin(&'a str),
    /// [`RESET_PATH`].
    Reset,
}

async fn handle<B: Backend>(
    req: Request<Incoming>,
    addrs: Addrs,
    state: &State<B>,
) -> Response<Full<Bytes>> {
    let rid = request_id();
    let (parts, body) = req.into_parts();
    // The Host must name this server: a request addressed elsewhere (DNS rebinding, a
    // captured request replayed at another port) is refused before anything else.
    let host = parts
        .headers
        .get(http::header::HOST)
        .map(HeaderValue::to_str);
    let host = match host {
        Some(Ok(h)) if host_names_server(h, addrs.local) => h,
        _ => {
            let e = WireError::other(
                421,
                "MisdirectedRequestException",
                format!(
                    "The Host header must name this endpoint ({}, localhost or a loopback address with port {}).",
                    addrs.local,
                    addrs.local.port()
                ),
            );
            return error_response(&e, &rid, true);
        }
    };
    if parts.method == Method::GET && parts.uri.path() == PING_PATH {
        return ping(parts.uri.query(), host, state, &rid);
    }
    let rest = state
        .ebs
        .clone()
        .filter(|h| sigv4::scope_service(&parts.headers) == Some(h.service()));
    if parts.method != Method::POST && rest.is_none() {
        let e = WireError::new(
            ErrorType::UnknownOperationException,
            format!(
                "{} is not supported; KMS operations are POST /",
                parts.method
            ),
        );
        return error_response(&e, &rid, false);
    }
    // Refuse an oversized body before reading it.
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = if rest.is_some() {
        crate::rest::MAX_REST_BODY
    } else {
        state.config.max_body_bytes
    };
    let too_large = WireError::other(
        413,
        "RequestEntityTooLargeException",
        format!("Request body must not exceed {limit} bytes."),
    );
    if declared.is_some_and(|n| n > limit as u64) {
        return error_response(&too_large, &rid, true);
    }
    // The body may carry plaintext (Encrypt): it is read into a buffer of ours, wiped when
    // dropped (crate::body).
    let collected = tokio::time::timeout(
        state.config.body_read_timeout,
        crate::body::read(body, limit, declared),
    )
    .await;
    let body = match collected {
        Ok(Ok(b)) => b,
        Ok(Err(crate::body::BodyError::TooLarge)) => {
            return error_response(&too_large, &rid, true);
        }
        Ok(Err(crate::body::BodyError::Read)) => {
            let e = WireError::new(
                ErrorType::SerializationException,
                "Could not read the request body.",
            );
            return error_response(&e, &rid, true);
        }
        Err(_) => {
            let e = WireError::other(
                408,
                "RequestTimeoutException",
                "Timed out reading the request body.",
            );
            return error_response(&e, &rid, true);
        }
    };

    // One port for every API: the credential scope's service decides (docs/iam.md).
    if let Some(handler) = rest {
        return crate::rest::handle(handler, &parts, body, state, &rid).await;
    }
    let scope = sigv4::scope_service(&parts.headers);
    if let Some(h) = state.json.iter().find(|h| Some(h.scope()) == scope) {
        return crate::json::handle(h.clone(), &parts, body, state, &rid).await;
    }
    if let Some(service) =
        sigv4::scope_service(&parts.headers).and_then(ebsim_iam::QueryService::from_scope)
    {
        return crate::query::handle(service, &parts, body, state, &rid).await;
    }
    let target = parts
        .headers
        .get(ebsim_kms_api::TARGET_HEADER)
        .and_then(|v| v.to_str().ok());
    let target = match target.map(|t| t.split_once('.')) {
        // Authenticated below as every request is; the `Reset` admin operation then allows
        // the default account's root only.
        _ if reset_route(parts.uri.path(), state.config.credentials) => Target::Reset,
        Some(Some(("TrentService", op))) => Target::Kms(op),
        Some(Some(("EbsimAdmin", op))) => Target::Admin(op),
        _ => {
            let e = WireError::bare_unknown_operation();
            return error_response(&e, &rid, false);
        }
    };

    let path = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let backend = &state.backend;
    // Under any-as-root a reset may also come unsigned, as moto takes it: from the default
    // account's root.
    let unsigned_reset = matches!(target, Target::Reset)
        && state.config.credentials == CredentialMode::AnyAsRoot
        && !parts.headers.contains_key(http::header::AUTHORIZATION);
    let mut session = None;
    let verified = if unsigned_reset {
        Ok(sigv4::Verified {
            credential: auth::trusted_root(&**backend, BUILTIN_ACCESS_KEY),
            access_key_id: BUILTIN_ACCESS_KEY.to_owned(),
            region: ebsim_kms_api::Region::default(),
            service: "kms".to_owned(),
            signed_headers: String::new(),
            time: SystemTime::now(),
        })
    } else {
        sigv4::verify_with(
            parts.method.as_str(),
            path,
            &parts.headers,
            &body,
            SystemTime::now(),
            |akid| auth::lookup(&**backend, state.config.credentials, akid, &mut session),
        )
    };
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return error_response(&WireError::from(&e), &rid, false),
    };
    if let Err(e) = auth::check_token(&parts.headers, session.as_ref(), state.config.credentials) {
        return error_response(&WireError::from(e), &rid, false);
    }
    if !unsigned_reset
        && let Some(name) = sigv4::unsigned_required_header(&parts.headers, &verified)
    {
        let e = WireError::from(&AuthError::Incomplete(format!(
            "The request signature does not cover the header '{name}': X-Amz-Target, Content-Type and every x-amz-* and x-ebsim-* header must be signed."
        )));
        return error_response(&e, &rid, false);
    }
    if verified.service != "kms" {
        let e = WireError::from(&AuthError::BadScope(format!(
            "Credential should be scoped to correct service: 'kms'. Got '{}'.",
            verified.service
        )));
        return error_response(&e, &rid, false);
    }
    let signs_nonce = verified.signs(NONCE_HEADER);
    let signed_at = verified.time;
    let credential = verified.credential;
    let header = |name: &str| -> Result<Option<String>, ()> {
        match parts.headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(|s| Some(s.to_owned())).map_err(|_| ()),
        }
    };
    let (Ok(act_as), Ok(via)) = (header(PRINCIPAL_HEADER), header(VIA_SERVICE_HEADER)) else {
        let e = WireError::new(
            ErrorType::ValidationException,
            "x-ebsim-* headers must be ASCII.",
        );
        return error_response(&e, &rid, false);
    };
    if (act_as.is_some() || via.is_some()) && !credential.is_service {
        let e = WireError::new(
            ErrorType::AccessDeniedException,
            format!(
                "User: {} is not authorized to act for another principal or claim a forwarding service (x-ebsim-principal / x-ebsim-via-service)",
                credential.principal
            ),
        );
        return error_response(&e, &rid, false);
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
            let e = WireError::from(&AuthError::Replay(e.message()));
            return error_response(&e, &rid, false);
        }
    }
    let mut caller = Caller::new(act_as.unwrap_or_else(|| credential.principal.clone()))
        .in_region(verified.region);
    if let Some(via) = via {
        caller = caller.via(via);
    }
    if let Some(s) = session {
        caller = caller.in_session(s.access_key_id);
    }

    let result: Result<Vec<u8>, KmsError> = match target {
        // Operations that cannot block run on the worker (a thread hand-off would cost more
        // than they do); those that persist state or wait for an injected latency run on the
        // blocking pool, so that they never hold up another request.
        Target::Kms(op) if !backend.may_block(op) => backend.call(&caller, op, &body),
        Target::Kms(op) => {
            let backend = backend.clone();
            let op = op.to_owned();
            match tokio::task::spawn_blocking(move || backend.call(&caller, &op, &body)).await {
                Ok(r) => r,
                Err(_) => Err(KmsError::new(
                    ErrorType::KMSInternalException,
                    "operation failed",
                )),
            }
        }
        Target::Admin(_) | Target::Reset => {
            if !addrs.peer.ip().is_loopback() {
                let e = WireError::new(
                    ErrorType::AccessDeniedException,
                    "The ebsim admin API answers loopback clients only.",
                );
                return error_response(&e, &rid, false);
            }
            let backend = backend.clone();
            let (op, body) = match target {
                Target::Admin(op) => (op.to_owned(), body),
                _ => ("Reset".to_owned(), zeroize::Zeroizing::new(b"{}".to_vec())),
            };
            match tokio::task::spawn_blocking(move || backend.admin(&caller, &op, &body)).await {
                Ok(r) => r,
                Err(_) => Err(KmsError::new(
                    ErrorType::KMSInternalException,
                    "admin operation failed",
                )),
            }
        }
    };
    match result {
        Ok(_) if matches!(target, Target::Reset) => {
            response(200, Bytes::from_static(RESET_BODY), &rid, false)
        }
        // The answer may carry plaintext (Decrypt, GenerateDataKey): hyper gets a view of it,
        // wiped once written.
        Ok(out) => response(200, crate::body::wiped_on_drop(out), &rid, false),
        Err(e) => error_response(&WireError::from(&e), &rid, false),
    }
}

/// `GET /ebsim/ping[?challenge=HEX]`: `ebsim-kms`, with the endpoint proof of the challenge
/// for the `Host` the client addressed when the backend has a service credential.
fn ping<B: Backend>(
    query: Option<&str>,
    host: &str,
    state: &State<B>,
    rid: &str,
) -> Response<Full<Bytes>> {
    let challenge = query.into_iter().flat_map(|q| q.split('&')).find_map(|kv| {
        kv.strip_prefix(CHALLENGE_PARAM)
            .and_then(|v| v.strip_prefix('='))
    });
    let mut resp = response(200, Bytes::from_static(PING_BODY.as_bytes()), rid, false);
    let mut bytes = [0u8; CHALLENGE_BYTES];
    let Some(challenge) = challenge else {
        return resp;
    };
    if hex::decode_to_slice(challenge, &mut bytes).is_err() {
        let e = WireError::new(
            ErrorType::ValidationException,
            format!("The challenge must be {CHALLENGE_BYTES} bytes in hex."),
        );
        return error_response(&e, rid, false);
    }
    if let Some(proof) = state.backend.endpoint_proof(host, &bytes)
        && let Ok(v) = HeaderValue::from_str(&hex::encode(proof))
    {
        resp.headers_mut().insert(PROOF_HEADER, v);
    }
    resp
}

impl WireError {
    fn bare_unknown_operation() -> Self {
        Self {
            status: 400,
            type_name: ErrorType::UnknownOperationException.name(),
            message: None,
        }
    }
}
