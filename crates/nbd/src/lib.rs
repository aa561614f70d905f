//! An NBD (Network Block Device) server, exporting block devices — in ebsim, attached
//! encrypted volumes — to real block clients (`qemu-img`, `qemu-io`, `nbdinfo`, `nbdcopy`,
//! the Linux kernel's `nbd-client`).
//!
//! The protocol is written here from the NBD protocol document: fixed newstyle handshake
//! (`NBD_FLAG_FIXED_NEWSTYLE`, `NBD_FLAG_NO_ZEROES`); options `NBD_OPT_GO` and `NBD_OPT_INFO`
//! (with `NBD_INFO_EXPORT`, `NBD_INFO_BLOCK_SIZE`, `NBD_INFO_NAME`), `NBD_OPT_EXPORT_NAME`,
//! `NBD_OPT_LIST`, `NBD_OPT_ABORT`, `NBD_OPT_STRUCTURED_REPLY`, `NBD_OPT_LIST_META_CONTEXT` /
//! `NBD_OPT_SET_META_CONTEXT` (`base:allocation`), `NBD_OPT_STARTTLS` (rustls, with client
//! certificates; TLS optional or required, see [`TlsCreds`] and [`ServerConfig::tls`]), and
//! `NBD_REP_ERR_UNSUP` for the rest;
//! commands READ, WRITE (with FUA), FLUSH, TRIM, WRITE_ZEROES (with `NO_HOLE`), BLOCK_STATUS
//! and DISC.
//! Each connection keeps several requests in flight (a few threads take turns reading a
//! request from the socket, each runs the request it read, and replies are written whole with
//! one `writev` under a lock on the socket); all connections share one device object per
//! export, so `NBD_FLAG_CAN_MULTI_CONN` is advertised. Write payloads reach the device as the
//! buffer they were received into ([`BlockDevice::write_at_mut`]), so an encrypting device can
//! use it as scratch (encrypt in place, or straight from it into its storage) instead of
//! copying it.
//!
//! Every connection has time limits (handshake, idle, a reply write the client does not read)
//! and the server limits connections in total and per peer address ([`ServerConfig`]);
//! [`NbdServer::stats`] counts what it served.
//!
//! The minimum block size advertised is the device's sector size (preferred 4096, maximum
//! payload 32 MiB). Misaligned or out-of-range requests are refused with `EINVAL` (writes past
//! the end with `ENOSPC`) and never reach the device, whether or not the client asked for the
//! block sizes.
//!
//! ```
//! use std::net::TcpListener;
//! use std::sync::Arc;
//! use ebsim_nbd::{BlockDevice, MemoryDevice, NbdServer};
//!
//! let disk: Arc<dyn BlockDevice> = Arc::new(MemoryDevice::new(1 << 20, 512)?);
//! let server = Arc::new(NbdServer::new(vec![("disk".to_string(), disk)])?);
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let stop = server.shutdown_handle();
//! let s = Arc::clone(&server);
//! let t = std::thread::spawn(move || s.serve_tcp(listener));
//! // ... clients connect to the listener's address ...
//! stop.shutdown();
//! t.join().expect("server thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accept;
mod buffers;
mod conn;
mod device;
mod error;
mod fuzzing;
mod handshake;
mod proto;
mod server;
mod sock;
mod stats;
mod tls;

// The public interface is:
pub use device::{BlockDevice, Extent, MemoryDevice};
pub use error::NbdError;
pub use handshake::TlsPolicy;
pub use server::{NbdServer, ServerConfig, ShutdownHandle};
pub use stats::ServerStats;
pub use tls::{CA_CERT, SERVER_CERT, SERVER_KEY, TlsCreds};

/// The default NBD port.
pub const DEFAULT_PORT: u16 = 10809;

/// Parsers and wire constants, exposed for the fuzz targets. Not a stable API.
#[doc(hidden)]
pub mod internal {
    pub use crate::fuzzing::fuzz_parsers;
    pub use crate::handshake::{
        ExportInfo, HandshakeError, Outcome, negotiate, negotiate_with, transmission_flags,
    };
    pub use crate::proto::*;
}
