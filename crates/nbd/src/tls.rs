//! TLS for `NBD_OPT_STARTTLS` (rustls, ring provider): server credentials in qemu's x509
//! directory layout, the TLS handshake on an accepted socket, and a TLS stream that the
//! threads of one connection share as they share a plain socket (one reads requests while
//! others write replies).

use std::io::{self, IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rustls::ServerConnection;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::NbdError;
use crate::sock::Sock;

/// A server's TLS credentials: its certificate chain and key, and the CA that client
/// certificates must be signed by. Every TLS client must present such a certificate (as
/// qemu's `tls-creds-x509` with its default `verify-peer=on`).
#[derive(Clone)]
pub struct TlsCreds {
    config: Arc<rustls::ServerConfig>,
    dir: PathBuf,
}

impl std::fmt::Debug for TlsCreds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("TlsCreds")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The files of qemu's x509 credentials directory that the server reads.
pub const CA_CERT: &str = "ca-cert.pem";
/// The server's certificate (chain), PEM.
pub const SERVER_CERT: &str = "server-cert.pem";
/// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
pub const SERVER_KEY: &str = "server-key.pem";

impl TlsCreds {
    /// Loads `DIR/ca-cert.pem`, `DIR/server-cert.pem` and `DIR/server-key.pem` (qemu's
    /// `tls-creds-x509` layout).
    ///
    /// # Errors
    /// [`NbdError::TlsCreds`] naming the file and what is wrong with it.
    pub fn from_x509_dir(dir: impl AsRef<Path>) -> Result<Self, NbdError> {
        let dir = dir.as_ref();
        let bad = |file: &str, reason: String| NbdError::TlsCreds {
            path: dir.join(file),
            reason,
        };
        let certs = |file: &str| -> Result<Vec<CertificateDer<'static>>, NbdError> {
            let certs = CertificateDer::pem_file_iter(dir.join(file))
                .map_err(|e| bad(file, e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(file, e.to_string()))?;
            if certs.is_empty() {
                return Err(bad(file, "no certificate in the file".into()));
            }
            Ok(certs)
        };
        let ca = certs(CA_CERT)?;
        let chain = certs(SERVER_CERT)?;
        let key = PrivateKeyDer::from_pem_file(dir.join(SERVER_KEY))
            .map_err(|e| bad(SERVER_KEY, e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in ca {
            roots
                .add(c)
                .map_err(|e| bad(CA_CERT, format!("not a usable CA certificate: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| bad(CA_CERT, e.to_string()))?;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(SERVER_CERT, e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| bad(SERVER_KEY, format!("does not fit the certificate: {e}")))?;
        Ok(Self {
            config: Arc::new(config),
            dir: dir.to_path_buf(),
        })
    }
}

/// Plaintext is handed to rustls in pieces of this size, each sent before the next is
/// encrypted (bounded memory for 32 MiB replies).
const WRITE_PIECE: usize = 256 << 10;

/// A TLS session over a connected socket, shared by the threads of one connection: one
/// reads at a time (the connection's read lock), replies are written whole under the
/// connection's write lock. The session's state is locked only while bytes go in or out of
/// it, never while waiting on the socket.
pub(crate) struct TlsSock {
    inner: Sock,
    conn: Mutex<ServerConnection>,
    /// Held while TLS records are taken from the session and written to the socket, so that
    /// records from the reading side (alerts, tickets) and the writing side stay in order.
    tx: Mutex<()>,
    /// Ciphertext read from the socket and not yet taken by the session.
    pending: Mutex<Pending>,
}

/// A buffer of ciphertext: `buf[start..end]` is still to be given to the session.
struct Pending {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl std::fmt::Debug for TlsSock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSock")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl TlsSock {
    /// Runs the TLS handshake on `inner` (after the server acknowledged
    /// `NBD_OPT_STARTTLS`), by `deadline`; `early` is what was read from the socket already
    /// (the start of the client's TLS handshake, if it did not wait for the reply).
    ///
    /// # Errors
    /// A failed handshake (bad or missing client certificate, not TLS) or a timeout; the
    /// alert, if any, has been sent.
    pub(crate) fn accept(
        inner: Sock,
        creds: &TlsCreds,
        early: &[u8],
        deadline: Instant,
    ) -> io::Result<Self> {
        let mut conn = ServerConnection::new(Arc::clone(&creds.config)).map_err(tls_error)?;
        let mut early = early;
        while !early.is_empty() {
            if conn.read_tls(&mut early)? == 0 {
                break;
            }
            conn.process_new_packets().map_err(tls_error)?;
        }
        let mut io = DeadlineIo {
            sock: &inner,
            deadline,
        };
        while conn.is_handshaking() {
            match conn.complete_io(&mut io) {
                Ok(_) => {}
                Err(e) => {
                    // Send the alert that explains the failure, if there is one.
                    let _ = conn.write_tls(&mut io);
                    return Err(e);
                }
            }
        }
        // Replies are encrypted a piece at a time and each piece sent before the next
        // (`write_all_vectored`): the session's own buffer limit is not needed.
        conn.set_buffer_limit(None);
        Ok(Self {
            inner,
            conn: Mutex::new(conn),
            tx: Mutex::new(()),
            pending: Mutex::new(Pending {
                buf: vec![0u8; 32 << 10],
                start: 0,
                end: 0,
            }),
        })
    }

    pub(crate) fn inner(&self) -> &Sock {
        &self.inner
    }

    /// Sends whatever TLS records the session has ready.
    fn flush_records(&self) -> io::Result<()> {
        let _tx = self.tx.lock();
        let out = {
            let mut c = self.conn.lock();
            let mut out = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut out)?;
            }
            out
        };
        (&self.inner).write_all(&out)
    }

    /// Reads plaintext: what the session holds, else records from the socket. Only one
    /// thread reads at a time (the connection's read lock).
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.lock().reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // No plaintext: give the session more ciphertext (reading the socket, without
            // holding the session, when none is left over).
            let mut p = self.pending.lock();
            let p = &mut *p;
            if p.start == p.end {
                let n = (&self.inner).read(&mut p.buf)?;
                (p.start, p.end) = (0, n);
            }
            let mut c = self.conn.lock();
            // An empty slice tells the session that the socket is closed.
            let mut rest = &p.buf[p.start..p.end];
            let taken = c.read_tls(&mut rest)?;
            p.start += taken;
            if let Err(e) = c.process_new_packets() {
                drop(c);
                let _ = self.flush_records();
                return Err(tls_error(e));
            }
            let wants_write = c.wants_write();
            drop(c);
            if wants_write {
                self.flush_records()?;
            }
        }
    }

    /// Encrypts and sends all of `bufs`: a piece of at most [`WRITE_PIECE`] bytes at a time,
    /// each piece made into records across the buffers (a reply's header shares its first
    /// record with the data) and sent before the next is encrypted.
    pub(crate) fn write_all_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<()> {
        let _tx = self.tx.lock();
        let mut out = Vec::new();
        let (mut i, mut at) = (0, 0);
        while i < bufs.len() {
            // The next piece: up to WRITE_PIECE bytes from buffer i (offset at) on.
            let mut piece: Vec<&[u8]> = Vec::with_capacity(2);
            let mut len = 0;
            while i < bufs.len() && len < WRITE_PIECE {
                let rest = &bufs[i][at..];
                let n = rest.len().min(WRITE_PIECE - len);
                if n > 0 {
                    piece.push(&rest[..n]);
                }
                len += n;
                if n == rest.len() {
                    (i, at) = (i + 1, 0);
                } else {
                    at += n;
                }
            }
            out.clear();
            {
                let mut c = self.conn.lock();
                let mut slices: Vec<IoSlice<'_>> = piece.iter().map(|p| IoSlice::new(p)).collect();
                let mut slices = &mut slices[..];
                while !slices.is_empty() {
                    let n = c.writer().write_vectored(slices)?;
                    if n == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                    IoSlice::advance_slices(&mut slices, n);
                }
                while c.wants_write() {
                    c.write_tls(&mut out)?;
                }
            }
            (&self.inner).write_all(&out)?;
        }
        Ok(())
    }
}

/// The socket during the TLS handshake: every read and write waits at most until the
/// handshake's deadline.
struct DeadlineIo<'a> {
    sock: &'a Sock,
    deadline: Instant,
}

impl DeadlineIo<'_> {
    fn arm(&self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.sock.set_read_timeout(left);
        self.sock.set_write_timeout(left);
        Ok(())
    }
}

impl Read for DeadlineIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.sock.read(buf)
    }
}

impl Write for DeadlineIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        self.sock.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
