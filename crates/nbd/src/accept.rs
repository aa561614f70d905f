//! The handshake of one accepted connection, under its time limit: the option haggling,
//! and TLS in the middle of it when the client asks (`NBD_OPT_STARTTLS`).

use std::io::BufReader;
use std::sync::Arc;
use std::time::Instant;

use crate::conn::Context;
use crate::handshake::{self, HandshakeError, Outcome};
use crate::proto::Session;
use crate::sock::{Sock, SockReader, is_timeout};
use crate::stats::Counters;
use crate::tls::TlsSock;

/// Capacity of a connection's buffered reader. Small: it holds request headers and small
/// payloads; large payloads are read from the socket straight into their own buffers.
pub(crate) const READER_CAPACITY: usize = 16 << 10;

/// A connection that finished its handshake: the socket to use from now on (TLS if it was
/// started), its reader, and the export and session chosen.
pub(crate) struct Accepted {
    pub(crate) sock: Arc<Sock>,
    pub(crate) reader: BufReader<SockReader>,
    pub(crate) export: usize,
    pub(crate) session: Session,
}

/// Runs the handshake on `sock`; `None` if the connection is to end (the reason is logged).
pub(crate) fn handshake(sock: Arc<Sock>, peer: &str, ctx: &Context) -> Option<Accepted> {
    let deadline = Instant::now() + ctx.timeouts.handshake;
    let mut sock = sock;
    let mut reader = BufReader::with_capacity(
        READER_CAPACITY,
        SockReader::new(Arc::clone(&sock), Some(deadline)),
    );
    // A handshake reply left unread counts against the handshake's time.
    sock.set_write_timeout(ctx.timeouts.handshake);
    let stop = || ctx.stopping();
    let mut after_tls = None;
    loop {
        let outcome = handshake::negotiate_with(
            &mut reader,
            &mut &*sock,
            &ctx.exports,
            &stop,
            ctx.tls_policy,
            after_tls,
        );
        match outcome {
            Ok(Outcome::Transmission { export, session }) => {
                reader.get_mut().set_deadline(None);
                return Some(Accepted {
                    sock,
                    reader,
                    export,
                    session,
                });
            }
            Ok(Outcome::Closed) => return None,
            Ok(Outcome::StartTls { client }) => {
                let creds = ctx.tls.as_ref()?;
                // Whatever the client sent after its STARTTLS is the start of its TLS handshake.
                let early = reader.buffer().to_vec();
                let plain = match sock.try_clone() {
                    Ok(p) => p,
                    Err(e) => {
                        log_failure(ctx, peer, &HandshakeError::Io(e));
                        return None;
                    }
                };
                let tls = match TlsSock::accept(plain, creds, &early, deadline) {
                    Ok(t) => t,
                    Err(e) => {
                        if ctx.log {
                            tracing::warn!("nbd: {peer}: TLS handshake failed: {e}");
                        }
                        if is_timeout(&e) {
                            Counters::add(&ctx.counters.timed_out, 1);
                        }
                        return None;
                    }
                };
                if ctx.log {
                    tracing::info!("nbd: {peer}: TLS on");
                }
                sock = Arc::new(Sock::Tls(Box::new(tls)));
                // The TLS handshake left the socket's write limit at what remained of the
                // deadline: back to the handshake's own limit for the replies to come.
                sock.set_write_timeout(ctx.timeouts.handshake);
                reader = BufReader::with_capacity(
                    READER_CAPACITY,
                    SockReader::new(Arc::clone(&sock), Some(deadline)),
                );
                after_tls = Some(client);
            }
            Err(e) => {
                log_failure(ctx, peer, &e);
                return None;
            }
        }
    }
}

fn log_failure(ctx: &Context, peer: &str, e: &HandshakeError) {
    if let HandshakeError::Io(io) = e
        && is_timeout(io)
    {
        Counters::add(&ctx.counters.timed_out, 1);
        if ctx.log {
            tracing::info!(
                "nbd: {peer}: handshake not done within {} s; closing",
                ctx.timeouts.handshake.as_secs_f64()
            );
        }
        return;
    }
    if ctx.log {
        tracing::info!("nbd: {peer}: handshake failed: {e}");
    }
}
