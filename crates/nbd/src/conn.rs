//! One client connection: handshake, then the transmission phase with several requests in
//! flight: a few threads take turns at the socket (whichever holds the read lock reads one
//! request and its payload, lets go, and runs that request against the device itself), and
//! replies are written whole under one lock on the socket. A request is received, encrypted
//! and stored by one thread, with no hand-off between threads and while its payload is still
//! in that core's cache.

use std::io::{self, BufRead, BufReader, IoSlice, Read};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::accept::{self, Accepted};
use crate::buffers::{Budget, BufPool};
use crate::device::BlockDevice;
use crate::handshake::{ExportInfo, TlsPolicy, read_exact_or_eof};
use crate::proto::{
    self, Command, CommandType, Errno, ExportGeometry, ReplyType, RequestHeader, Session,
};
use crate::sock::{Sock, SockReader, is_timeout};
use crate::stats::Counters;
use crate::tls::TlsCreds;

/// What a connection needs from the server that accepted it. The server builds one and hands
/// each connection a counted reference to it; a connection sees nothing else of the server.
pub(crate) struct Context {
    /// The exports offered in the handshake; `devices[i]` serves `exports[i]`.
    pub(crate) exports: Vec<ExportInfo>,
    /// The devices behind the exports.
    pub(crate) devices: Vec<Arc<dyn BlockDevice>>,
    /// Payload buffers, shared by all connections.
    pub(crate) pool: BufPool,
    /// Set when the server shuts down.
    pub(crate) stop: Arc<AtomicBool>,
    /// Threads per connection ([`crate::ServerConfig::workers_per_connection`]).
    pub(crate) workers: usize,
    /// Log connections and errors (through `tracing`, target `ebsim_nbd`).
    pub(crate) log: bool,
    /// What the server has done.
    pub(crate) counters: Counters,
    /// How long a client may take over the handshake, stay idle, or leave a reply unread.
    pub(crate) timeouts: Timeouts,
    /// The server's TLS credentials, if it offers TLS.
    pub(crate) tls: Option<TlsCreds>,
    /// Whether TLS is off, offered, or required.
    pub(crate) tls_policy: TlsPolicy,
}

/// The time limits of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// From accepting the connection to the end of the handshake.
    pub(crate) handshake: Duration,
    /// With no request in flight, until the next request starts to arrive.
    pub(crate) idle: Duration,
    /// For one write of a reply to make progress.
    pub(crate) write: Duration,
}

impl Context {
    /// Whether the server is shutting down.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// State shared by the reader and the workers of one connection in transmission.
struct Transmission {
    sock: Arc<Sock>,
    device: Arc<dyn BlockDevice>,
    name: String,
    peer: String,
    structured: bool,
    session: Session,
    write_lock: Mutex<()>,
    dead: AtomicBool,
    reader: Mutex<Reader>,
    budget: Budget,
    ctx: Arc<Context>,
    logged: AtomicU32,
    /// Requests read and not yet answered.
    in_flight: AtomicUsize,
}

/// The read side of a connection, shared by its threads.
struct Reader {
    inner: BufReader<SockReader>,
    geometry: ExportGeometry,
    /// No more requests are read: the client left or disconnected, or broke the protocol.
    closed: bool,
}

/// One request, read whole.
struct Job {
    cookie: u64,
    command: Command,
    /// Payload bytes taken from the budget (released when the request is done).
    cost: usize,
    payload: Option<Vec<u8>>,
}

/// At most this many refused requests are logged per connection.
const MAX_LOGGED: u32 = 16;

impl Transmission {
    fn log(&self, what: std::fmt::Arguments<'_>) {
        if self.ctx.log && self.logged.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED {
            tracing::info!("nbd: {} ({}): {what}", self.peer, self.name);
        }
    }

    /// Writes a reply whole; false if the connection is dead or the write failed (the
    /// connection then ends).
    fn send(&self, bufs: &mut [IoSlice<'_>]) -> bool {
        if self.dead.load(Ordering::Relaxed) {
            return false;
        }
        let res = {
            let _g = self.write_lock.lock();
            self.sock.write_all_vectored(bufs)
        };
        let Err(e) = res else { return true };
        if !self.dead.swap(true, Ordering::Relaxed) {
            if is_timeout(&e) {
                Counters::add(&self.ctx.counters.timed_out, 1);
                self.log(format_args!(
                    "the client read nothing for {} s; closing",
                    self.ctx.timeouts.write.as_secs_f64()
                ));
            } else {
                self.log(format_args!("writing a reply failed: {e}"));
            }
        }
        // Wake the reader so that the connection ends.
        self.sock.shutdown(Shutdown::Both);
        false
    }

    fn reply_ok(&self, cookie: u64) {
        let h = proto::simple_reply(cookie, None);
        self.send(&mut [IoSlice::new(&h)]);
    }

    fn count_read(&self, sent: bool, len: usize) {
        if sent {
            let c = &self.ctx.counters;
            Counters::add(&c.reads, 1);
            Counters::add(&c.read_bytes, len as u64);
        }
    }

    /// An error reply; `read_offset` is the offset of a failed read (structured replies
    /// then carry it in an `NBD_REPLY_TYPE_ERROR_OFFSET` chunk).
    fn reply_err(&self, cookie: u64, errno: Errno, message: &str, read_offset: Option<u64>) {
        if self.structured {
            let chunk = proto::error_chunk(cookie, errno, message, read_offset);
            self.send(&mut [IoSlice::new(&chunk)]);
        } else {
            let h = proto::simple_reply(cookie, Some(errno));
            self.send(&mut [IoSlice::new(&h)]);
        }
    }

    fn reply_read(&self, cookie: u64, offset: u64, data: &[u8]) {
        if self.structured {
            if data.is_empty() {
                let h = proto::chunk_header(proto::REPLY_FLAG_DONE, ReplyType::None, cookie, 0);
                self.send(&mut [IoSlice::new(&h)]);
            } else {
                // data.len() <= MAX_PAYLOAD, checked by check_request.
                let h = proto::offset_data_header(cookie, offset, data.len() as u32);
                let sent = self.send(&mut [IoSlice::new(&h), IoSlice::new(data)]);
                self.count_read(sent, data.len());
            }
        } else {
            let h = proto::simple_reply(cookie, None);
            let sent = self.send(&mut [IoSlice::new(&h), IoSlice::new(data)]);
            self.count_read(sent, data.len());
        }
    }

    /// One `NBD_REPLY_TYPE_BLOCK_STATUS` chunk for `base:allocation`, from the device's
    /// extents clipped to the request (at least one extent; exactly one with `req_one`).
    fn reply_block_status(
        &self,
        cookie: u64,
        length: u32,
        req_one: bool,
        extents: &[crate::Extent],
    ) {
        let mut payload = proto::BASE_ALLOCATION_ID.to_be_bytes().to_vec();
        let mut covered = 0u32;
        for e in extents.iter().filter(|e| e.length > 0) {
            let n = e.length.min(length - covered);
            if n == 0 {
                break;
            }
            let flags = if e.hole { proto::STATE_HOLE } else { 0 }
                | if e.zero { proto::STATE_ZERO } else { 0 };
            payload.extend_from_slice(&n.to_be_bytes());
            payload.extend_from_slice(&flags.to_be_bytes());
            covered += n;
            if req_one || covered == length {
                break;
            }
        }
        if covered == 0 {
            // The device said nothing useful: the whole range is data.
            payload.extend_from_slice(&length.to_be_bytes());
            payload.extend_from_slice(&0u32.to_be_bytes());
        }
        // At most one descriptor per block of a 32-bit range: fits in u32.
        let h = proto::chunk_header(
            proto::REPLY_FLAG_DONE,
            ReplyType::BlockStatus,
            cookie,
            payload.len() as u32,
        );
        if self.send(&mut [IoSlice::new(&h), IoSlice::new(&payload)]) {
            Counters::add(&self.ctx.counters.block_status, 1);
        }
    }

    fn fail(&self, cookie: u64, what: &str, offset: u64, e: &io::Error, read: bool) {
        self.log(format_args!("{what} at offset {offset} failed: {e}"));
        self.reply_err(
            cookie,
            proto::errno_of(e),
            &format!("{what} failed"),
            read.then_some(offset),
        );
    }

    fn flush_after(&self, cookie: u64, fua: bool, what: &str, offset: u64, res: io::Result<()>) {
        match res.and_then(|()| if fua { self.device.flush() } else { Ok(()) }) {
            Ok(()) => self.reply_ok(cookie),
            Err(e) => self.fail(cookie, what, offset, &e, false),
        }
    }

    fn run(&self, job: Job) {
        let Job {
            cookie,
            command,
            cost: _,
            payload,
        } = job;
        let pool = &self.ctx.pool;
        match command {
            Command::Read { offset, length } => {
                let len = length as usize;
                let mut buf = pool.get(len);
                match self.device.read_at(offset, &mut buf[..len]) {
                    Ok(()) => self.reply_read(cookie, offset, &buf[..len]),
                    Err(e) => self.fail(cookie, "read", offset, &e, true),
                }
                pool.put(buf);
            }
            Command::Write {
                offset,
                length,
                fua,
            } => {
                let mut buf = payload.unwrap_or_default();
                let data = buf.get_mut(..length as usize).unwrap_or_default();
                let res = self.device.write_at_mut(offset, data);
                if res.is_ok() {
                    let c = &self.ctx.counters;
                    Counters::add(&c.writes, 1);
                    Counters::add(&c.written_bytes, u64::from(length));
                }
                self.flush_after(cookie, fua, "write", offset, res);
                pool.put(buf);
            }
            Command::Flush => self.flush_after(cookie, false, "flush", 0, self.device.flush()),
            Command::Trim {
                offset,
                length,
                fua,
            } => {
                let res = self.device.trim(offset, u64::from(length));
                self.flush_after(cookie, fua, "trim", offset, res);
            }
            Command::WriteZeroes {
                offset,
                length,
                fua,
                no_hole,
            } => {
                let res = self.device.write_zeroes(offset, u64::from(length), no_hole);
                self.flush_after(cookie, fua, "write zeroes", offset, res);
            }
            Command::BlockStatus {
                offset,
                length,
                req_one,
            } => match self.device.extents(offset, length) {
                Ok(extents) => self.reply_block_status(cookie, length, req_one, &extents),
                Err(e) => self.fail(cookie, "block status", offset, &e, false),
            },
            Command::Disconnect => {}
        }
    }

    /// Reads the next request under the read lock; `None` once no more are to be read (the
    /// reason, if worth logging, is logged here).
    fn next_job(&self) -> Option<Job> {
        let mut r = self.reader.lock();
        if r.closed {
            return None;
        }
        let r = &mut *r;
        match read_request(&mut r.inner, self, &r.geometry) {
            Ok(job) => {
                self.in_flight.fetch_add(1, Ordering::SeqCst);
                Some(job)
            }
            Err(reason) => {
                r.closed = true;
                if let Some(reason) = reason {
                    self.log(format_args!("{reason}"));
                }
                None
            }
        }
    }

    /// A connection thread: reads a request, runs it, and again, until reading stops.
    fn work(&self) {
        while let Some(job) = self.next_job() {
            let (cookie, cost) = (job.cookie, job.cost);
            let run = std::panic::AssertUnwindSafe(|| self.run(job));
            if std::panic::catch_unwind(run).is_err() {
                // A device bug must not leave the client waiting forever.
                self.log(format_args!("a request handler panicked"));
                self.reply_err(cookie, Errno::Io, "internal error", None);
            }
            self.budget.release(cost);
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Serves one accepted connection until the client leaves, breaks the protocol, or the
/// server shuts down (the server then shuts the socket's read side, which ends the loop).
pub(crate) fn serve(sock: Arc<Sock>, peer: String, ctx: Arc<Context>) {
    let Some(Accepted {
        sock,
        reader,
        export,
        session,
    }) = accept::handshake(sock, &peer, &ctx)
    else {
        return;
    };
    // Transmission: reads wait up to the idle limit (see `read_request`).
    sock.set_read_timeout(ctx.timeouts.idle);
    sock.set_write_timeout(ctx.timeouts.write);
    let info = &ctx.exports[export];
    let name = info.name.clone();
    if ctx.log {
        tracing::info!(
            "nbd: {peer}: connected to export {name}{}",
            match (session.structured, session.block_status) {
                (true, true) => " (structured replies, base:allocation)",
                (true, false) => " (structured replies)",
                _ => "",
            }
        );
    }
    let t = Arc::new(Transmission {
        sock: Arc::clone(&sock),
        device: Arc::clone(&ctx.devices[export]),
        name,
        peer,
        structured: session.structured,
        session,
        write_lock: Mutex::new(()),
        dead: AtomicBool::new(false),
        reader: Mutex::new(Reader {
            inner: reader,
            geometry: info.geometry,
            closed: false,
        }),
        budget: Budget::default(),
        ctx: Arc::clone(&ctx),
        logged: AtomicU32::new(0),
        in_flight: AtomicUsize::new(0),
    });

    // This thread is one of the connection's threads; the others are started here.
    let mut others = Vec::new();
    for i in 1..ctx.workers {
        let tw = Arc::clone(&t);
        match std::thread::Builder::new()
            .name(format!("nbd-worker-{i}"))
            .spawn(move || tw.work())
        {
            Ok(h) => others.push(h),
            Err(e) => t.log(format_args!("could not start a worker: {e}")),
        }
    }
    t.work();
    for h in others {
        let _ = h.join();
    }
    if ctx.log {
        tracing::info!("nbd: {} ({}): disconnected", t.peer, t.name);
    }
    sock.shutdown(Shutdown::Both);
}

/// Reads a write payload: what the buffered reader already holds, then the rest straight
/// from the socket into `buf` (no second copy through the reader's buffer).
fn read_payload<R: Read>(reader: &mut BufReader<R>, buf: &mut [u8]) -> io::Result<()> {
    let have = reader.buffer();
    let n = have.len().min(buf.len());
    buf[..n].copy_from_slice(&have[..n]);
    reader.consume(n);
    reader.get_mut().read_exact(&mut buf[n..])
}

/// Reads one request (and its payload) to hand to the caller. Requests that are refused
/// (misaligned, out of range, not allowed) are answered here and the next one is read.
/// `Err(None)` means the client is gone, disconnected, or the server is stopping;
/// `Err(Some(reason))` that reading failed or the client broke the protocol.
fn read_request<R: Read>(
    reader: &mut BufReader<R>,
    t: &Transmission,
    geo: &ExportGeometry,
) -> Result<Job, Option<String>> {
    loop {
        let mut hb = [0u8; proto::REQUEST_LEN];
        // Nothing arrived for the idle time: wait on while requests are in flight (the
        // client waits for them), close otherwise.
        match reader.fill_buf() {
            Err(e) if is_timeout(&e) => {
                if t.in_flight.load(Ordering::SeqCst) > 0 {
                    continue;
                }
                if t.dead.load(Ordering::Relaxed) || t.ctx.stopping() {
                    return Err(None);
                }
                Counters::add(&t.ctx.counters.timed_out, 1);
                return Err(Some(format!(
                    "idle for {} s; closing",
                    t.ctx.timeouts.idle.as_secs_f64()
                )));
            }
            _ => {}
        }
        match read_exact_or_eof(reader, &mut hb) {
            Ok(true) => {}
            Ok(false) => return Err(None),
            Err(_) if t.dead.load(Ordering::Relaxed) || t.ctx.stopping() => {
                return Err(None);
            }
            Err(e) => return Err(Some(format!("reading a request failed: {e}"))),
        }
        let hdr: RequestHeader = match proto::parse_request_header(&hb) {
            Ok(h) => h,
            Err(e) => return Err(Some(format!("closing connection: {e}"))),
        };
        let is_write = hdr.command == CommandType::Write;
        if is_write && hdr.length > proto::MAX_PAYLOAD {
            return Err(Some(format!(
                "closing connection: {}",
                proto::ProtocolError::PayloadTooLarge(hdr.length)
            )));
        }
        let cost = match hdr.command {
            CommandType::Read => hdr.length.min(proto::MAX_PAYLOAD) as usize,
            CommandType::Write => hdr.length as usize,
            _ => 0,
        };
        // Waits (holding the read lock) until requests in flight have given back enough.
        t.budget.acquire(cost);
        let payload = if is_write {
            let len = hdr.length as usize;
            let mut buf = t.ctx.pool.get(len);
            if let Err(e) = read_payload(reader, &mut buf[..len]) {
                t.ctx.pool.put(buf);
                t.budget.release(cost);
                return Err(Some(format!("reading a write payload failed: {e}")));
            }
            Some(buf)
        } else {
            None
        };
        match proto::check_request(&hdr, geo, t.session) {
            Err(refusal) => {
                t.log(format_args!(
                    "refused command {:?} (offset {}, length {}): {}",
                    hdr.command, hdr.offset, hdr.length, refusal.message
                ));
                t.reply_err(hdr.cookie, refusal.errno, refusal.message, None);
                if let Some(b) = payload {
                    t.ctx.pool.put(b);
                }
                t.budget.release(cost);
            }
            Ok(Command::Disconnect) => {
                t.budget.release(cost);
                return Err(None);
            }
            Ok(command) => {
                return Ok(Job {
                    cookie: hdr.cookie,
                    command,
                    cost,
                    payload,
                });
            }
        }
    }
}
