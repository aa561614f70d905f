//! The listening server: accept loops for TCP and Unix sockets, a thread per connection, and
//! graceful shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, Shutdown, TcpListener};
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::NbdError;
use crate::buffers::BufPool;
use crate::conn::{self, Context, Timeouts};
use crate::device::{BlockDevice, check_geometry};
use crate::handshake::{ExportInfo, TlsPolicy};
use crate::proto::{ExportGeometry, MAX_STRING};
use crate::sock::Sock;
use crate::stats::{Counters, ServerStats};
use crate::tls::TlsCreds;

/// Server settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Threads per connection (default: twice the number of CPUs, from 4 to 16). They take
    /// turns reading a request from the socket and each runs the request it read, so this is
    /// also how many requests of one connection run at once. (Payload memory is bounded
    /// separately: 64 MiB per connection.)
    pub workers_per_connection: usize,
    /// Connections served at once; more are refused: closed at once, and logged
    /// (default 256).
    pub max_connections: usize,
    /// Connections served at once from one peer IP address (TCP); more from that address
    /// are refused (default 16).
    pub max_connections_per_peer: usize,
    /// Time from accepting a connection to the end of its handshake; a client that takes
    /// longer is disconnected (default 10 s).
    pub handshake_timeout: Duration,
    /// Time a connection may stay idle (no request arriving, none in flight) before it is
    /// closed (default 300 s).
    pub idle_timeout: Duration,
    /// Time one write of a reply may wait for the client to read; a client that reads nothing
    /// for that long is disconnected (default 30 s).
    pub write_timeout: Duration,
    /// Log connections, refusals and errors through `tracing` (target `ebsim_nbd`; default
    /// true). Never logs data.
    pub log: bool,
    /// TLS credentials; TLS is offered (`NBD_OPT_STARTTLS`) when set (default: none).
    pub tls: Option<TlsCreds>,
    /// Whether TLS is required before anything else, or only offered (ignored without
    /// [`ServerConfig::tls`]).
    pub tls_required: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            // More threads than CPUs: while some wait on the socket, others have work.
            workers_per_connection: (2 * cpus).clamp(4, 16),
            max_connections: 256,
            max_connections_per_peer: 16,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(30),
            log: true,
            tls: None,
            tls_required: false,
        }
    }
}

impl ServerConfig {
    /// Sets [`ServerConfig::workers_per_connection`].
    pub fn workers_per_connection(mut self, n: usize) -> Self {
        self.workers_per_connection = n.max(1);
        self
    }

    /// Sets [`ServerConfig::max_connections`].
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets [`ServerConfig::max_connections_per_peer`].
    pub fn max_connections_per_peer(mut self, n: usize) -> Self {
        self.max_connections_per_peer = n;
        self
    }

    /// Sets [`ServerConfig::handshake_timeout`].
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// Sets [`ServerConfig::idle_timeout`].
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.idle_timeout = t;
        self
    }

    /// Sets [`ServerConfig::write_timeout`].
    pub fn write_timeout(mut self, t: Duration) -> Self {
        self.write_timeout = t;
        self
    }

    /// Offers TLS with `creds`; with `required`, nothing but TLS is served.
    pub fn tls(mut self, creds: TlsCreds, required: bool) -> Self {
        self.tls = Some(creds);
        self.tls_required = required;
        self
    }

    /// Sets [`ServerConfig::log`].
    pub fn log(mut self, on: bool) -> Self {
        self.log = on;
        self
    }
}

/// What the accept loops and the connection threads share. Connections get only `ctx`.
struct Shared {
    ctx: Arc<Context>,
    max_connections: usize,
    max_per_peer: usize,
    conns: Mutex<Conns>,
    idle: Condvar,
    next_id: AtomicU64,
    /// Refusals logged in the current second, and when that second began.
    refusals_logged: Mutex<(Instant, u32)>,
}

/// The connections being served.
#[derive(Default)]
struct Conns {
    socks: HashMap<u64, Arc<Sock>>,
    /// Connections per peer IP address (TCP only).
    per_peer: HashMap<IpAddr, usize>,
}

/// At most this many refused connections are logged per second (the rest are counted).
const MAX_REFUSALS_LOGGED: u32 = 10;

/// After shutdown starts, connections get this long to answer the requests they hold; then
/// their sockets are closed both ways, so that a reply no client reads cannot hold shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// An NBD server exporting block devices (fixed newstyle handshake; `NBD_OPT_GO`/`INFO`/
/// `EXPORT_NAME`/`LIST`/`ABORT`/`STRUCTURED_REPLY`; READ, WRITE with FUA, FLUSH, TRIM,
/// WRITE_ZEROES, DISC; several requests in flight per connection, several connections).
///
/// ```no_run
/// use std::net::TcpListener;
/// use std::sync::Arc;
/// use ebsim_nbd::{BlockDevice, MemoryDevice, NbdServer};
///
/// let disk: Arc<dyn BlockDevice> = Arc::new(MemoryDevice::new(64 << 20, 4096)?);
/// let server = NbdServer::new(vec![("disk".to_string(), disk)])?;
/// let stop = server.shutdown_handle();
/// // Elsewhere (a signal handler, another thread): stop.shutdown();
/// server.serve_tcp(TcpListener::bind("127.0.0.1:10809")?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct NbdServer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NbdServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sh = &self.shared;
        f.debug_struct("NbdServer")
            .field("exports", &sh.ctx.exports)
            .field("workers_per_connection", &sh.ctx.workers)
            .field("max_connections", &sh.max_connections)
            .field("max_connections_per_peer", &sh.max_per_peer)
            .field("timeouts", &sh.ctx.timeouts)
            .field("log", &sh.ctx.log)
            .finish_non_exhaustive()
    }
}

/// Stops a running [`NbdServer`]: no new connections, in-flight requests finish, devices are
/// flushed, then `serve_*` returns.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
}

impl ShutdownHandle {
    /// Asks the server to shut down (returns at once; `serve_*` returns when done).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// The flag behind the handle, for `signal_hook::flag::register`: setting it to true
    /// shuts the server down.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }
}

/// How often an idle accept loop checks for shutdown.
const ACCEPT_POLL: Duration = Duration::from_millis(5);

impl NbdServer {
    /// A server for `exports`, named (the first is also the default export, reached with an
    /// empty name), with the default [`ServerConfig`].
    ///
    /// # Errors
    /// [`NbdError::NoExports`], [`NbdError::BadExportName`] (empty, longer than 4096 bytes,
    /// or containing NUL), [`NbdError::DuplicateExport`], or a device with a bad geometry.
    pub fn new(exports: Vec<(String, Arc<dyn BlockDevice>)>) -> Result<Self, NbdError> {
        Self::with_config(exports, ServerConfig::default())
    }

    /// As [`NbdServer::new`], with settings.
    ///
    /// # Errors
    /// As [`NbdServer::new`].
    pub fn with_config(
        exports: Vec<(String, Arc<dyn BlockDevice>)>,
        config: ServerConfig,
    ) -> Result<Self, NbdError> {
        if exports.is_empty() {
            return Err(NbdError::NoExports);
        }
        let mut infos: Vec<ExportInfo> = Vec::with_capacity(exports.len());
        let mut devices = Vec::with_capacity(exports.len());
        for (name, dev) in exports {
            if name.is_empty() || name.len() > MAX_STRING || name.contains('\0') {
                return Err(NbdError::BadExportName(name));
            }
            if infos.iter().any(|i| i.name == name) {
                return Err(NbdError::DuplicateExport(name));
            }
            let (size, block_size) = (dev.size(), dev.block_size());
            check_geometry(size, block_size)?;
            let geometry = ExportGeometry {
                size,
                block_size,
                read_only: dev.is_read_only(),
            };
            infos.push(ExportInfo { name, geometry });
            devices.push(dev);
        }
        let ctx = Context {
            exports: infos,
            devices,
            pool: BufPool::default(),
            stop: Arc::new(AtomicBool::new(false)),
            workers: config.workers_per_connection.max(1),
            log: config.log,
            counters: Counters::default(),
            timeouts: Timeouts {
                handshake: config.handshake_timeout,
                idle: config.idle_timeout,
                write: config.write_timeout,
            },
            tls_policy: match (&config.tls, config.tls_required) {
                (None, _) => TlsPolicy::Off,
                (Some(_), false) => TlsPolicy::Optional,
                (Some(_), true) => TlsPolicy::Required,
            },
            tls: config.tls,
        };
        Ok(Self {
            shared: Arc::new(Shared {
                ctx: Arc::new(ctx),
                max_connections: config.max_connections,
                max_per_peer: config.max_connections_per_peer,
                conns: Mutex::new(Conns::default()),
                idle: Condvar::new(),
                next_id: AtomicU64::new(0),
                refusals_logged: Mutex::new((Instant::now(), 0)),
            }),
        })
    }

    /// The export names, in order.
    pub fn export_names(&self) -> Vec<String> {
        self.shared
            .ctx
            .exports
            .iter()
            .map(|i| i.name.clone())
            .collect()
    }

    /// A handle that shuts the server down.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: Arc::clone(&self.shared.ctx.stop),
        }
    }

    /// Shuts the server down (see [`ShutdownHandle::shutdown`]).
    pub fn shutdown(&self) {
        self.shared.ctx.stop.store(true, Ordering::SeqCst);
    }

    /// Number of connections being served.
    pub fn active_connections(&self) -> usize {
        self.shared.conns.lock().socks.len()
    }

    /// What the server has done so far.
    pub fn stats(&self) -> ServerStats {
        self.shared.ctx.counters.snapshot()
    }

    /// Accepts TCP connections until shutdown, then waits for the connections to finish their
    /// in-flight requests and flushes every device.
    ///
    /// # Errors
    /// [`NbdError::Io`] if the listener fails; [`NbdError::Flush`] if a final flush fails.
    pub fn serve_tcp(&self, listener: TcpListener) -> Result<(), NbdError> {
        listener.set_nonblocking(true)?;
        self.accept_loop(|| {
            listener.accept().map(|(s, addr)| {
                let _ = s.set_nonblocking(false);
                let _ = s.set_nodelay(true);
                (Sock::Tcp(s), addr.to_string(), Some(addr.ip()))
            })
        })
    }

    /// As [`NbdServer::serve_tcp`], on a Unix socket.
    ///
    /// # Errors
    /// As [`NbdServer::serve_tcp`].
    pub fn serve_unix(&self, listener: UnixListener) -> Result<(), NbdError> {
        listener.set_nonblocking(true)?;
        self.accept_loop(|| {
            listener.accept().map(|(s, _)| {
                let _ = s.set_nonblocking(false);
                let id = self.shared.next_id.load(Ordering::Relaxed);
                (Sock::Unix(s), format!("unix#{id}"), None)
            })
        })
    }

    fn accept_loop(
        &self,
        mut accept: impl FnMut() -> std::io::Result<(Sock, String, Option<IpAddr>)>,
    ) -> Result<(), NbdError> {
        let sh = &self.shared;
        while !sh.ctx.stop.load(Ordering::SeqCst) {
            match accept() {
                Ok((sock, peer, ip)) => self.spawn(sock, peer, ip),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(ACCEPT_POLL)
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::Interrupted
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => {
                    // Out of descriptors or similar: report, back off, keep serving.
                    if sh.ctx.log {
                        tracing::warn!("nbd: accept failed: {e}");
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        self.finish()
    }

    /// Logs a refused connection (at most [`MAX_REFUSALS_LOGGED`] a second) and counts it.
    fn refuse(&self, sock: &Sock, peer: &str, why: std::fmt::Arguments<'_>) {
        let sh = &self.shared;
        // Counted before the peer can see the close.
        Counters::add(&sh.ctx.counters.refused, 1);
        sock.shutdown(Shutdown::Both);
        if !sh.ctx.log {
            return;
        }
        let mut l = sh.refusals_logged.lock();
        if l.0.elapsed() >= Duration::from_secs(1) {
            *l = (Instant::now(), 0);
        }
        l.1 += 1;
        if l.1 <= MAX_REFUSALS_LOGGED {
            tracing::warn!("nbd: {peer}: connection refused: {why}");
        }
    }

    fn spawn(&self, sock: Sock, peer: String, ip: Option<IpAddr>) {
        let sh = &self.shared;
        let sock = Arc::new(sock);
        let id = sh.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut conns = sh.conns.lock();
            let n = conns.socks.len();
            if n >= sh.max_connections {
                drop(conns);
                return self.refuse(&sock, &peer, format_args!("{n} connections already"));
            }
            if let Some(ip) = ip {
                let from_peer = conns.per_peer.get(&ip).copied().unwrap_or(0);
                if from_peer >= sh.max_per_peer {
                    drop(conns);
                    return self.refuse(
                        &sock,
                        &peer,
                        format_args!("{from_peer} connections from {ip} already"),
                    );
                }
                *conns.per_peer.entry(ip).or_insert(0) += 1;
            }
            conns.socks.insert(id, Arc::clone(&sock));
        }
        Counters::add(&sh.ctx.counters.connections, 1);
        if sh.ctx.log {
            tracing::info!("nbd: {peer}: connection accepted");
        }
        let shared = Arc::clone(sh);
        let sock2 = Arc::clone(&sock);
        let spawned = std::thread::Builder::new()
            .name(format!("nbd-conn-{id}"))
            .spawn(move || {
                conn::serve(sock2, peer, Arc::clone(&shared.ctx));
                shared.forget(id, ip);
            });
        if let Err(e) = spawned {
            if sh.ctx.log {
                tracing::warn!("nbd: could not start a connection thread: {e}");
            }
            sock.shutdown(Shutdown::Both);
            sh.forget(id, ip);
        }
    }

    /// Ends every connection's reading, waits for in-flight requests (closing the sockets of
    /// connections that have not finished after [`SHUTDOWN_GRACE`]: their remaining replies
    /// are dropped, but every request already received still runs), flushes the devices.
    fn finish(&self) -> Result<(), NbdError> {
        let sh = &self.shared;
        {
            let mut conns = sh.conns.lock();
            for s in conns.socks.values() {
                s.shutdown(Shutdown::Read);
            }
            let grace = Instant::now() + SHUTDOWN_GRACE;
            while !conns.socks.is_empty() {
                if sh.idle.wait_until(&mut conns, grace).timed_out() {
                    break;
                }
            }
            if !conns.socks.is_empty() && sh.ctx.log {
                tracing::warn!(
                    "nbd: {} connections still busy after {} s; closing them",
                    conns.socks.len(),
                    SHUTDOWN_GRACE.as_secs()
                );
            }
            for s in conns.socks.values() {
                s.shutdown(Shutdown::Both);
            }
            while !conns.socks.is_empty() {
                sh.idle.wait(&mut conns);
            }
        }
        for (info, dev) in sh.ctx.exports.iter().zip(&sh.ctx.devices) {
            dev.flush().map_err(|source| NbdError::Flush {
                export: info.name.clone(),
                source,
            })?;
        }
        if sh.ctx.log {
            tracing::info!("nbd: server stopped; devices flushed");
        }
        Ok(())
    }
}

impl Shared {
    /// Removes a finished connection.
    fn forget(&self, id: u64, ip: Option<IpAddr>) {
        let mut conns = self.conns.lock();
        conns.socks.remove(&id);
        if let Some(ip) = ip
            && let Some(n) = conns.per_peer.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                conns.per_peer.remove(&ip);
            }
        }
        self.idle.notify_all();
    }
}
