//! A connected client socket, TCP or Unix, plain or TLS, shared by the threads of one
//! connection.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::tls::TlsSock;

/// A connected client socket.
#[derive(Debug)]
pub(crate) enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// TLS over a TCP or Unix socket (after `NBD_OPT_STARTTLS`).
    Tls(Box<TlsSock>),
}

impl Sock {
    pub(crate) fn shutdown(&self, how: Shutdown) {
        // Errors only mean the socket is already closed.
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(how),
            Sock::Unix(s) => s.shutdown(how),
            Sock::Tls(t) => {
                t.inner().shutdown(how);
                Ok(())
            }
        };
    }

    /// A second handle on the same plain socket (for a TLS session over it).
    pub(crate) fn try_clone(&self) -> io::Result<Sock> {
        match self {
            Sock::Tcp(s) => s.try_clone().map(Sock::Tcp),
            Sock::Unix(s) => s.try_clone().map(Sock::Unix),
            Sock::Tls(_) => Err(io::Error::other("TLS already started")),
        }
    }

    /// Sets how long a read may wait (`SO_RCVTIMEO`); a wait that long fails with
    /// [`is_timeout`].
    pub(crate) fn set_read_timeout(&self, t: Duration) {
        // Zero would mean "no limit" to the socket: use the smallest limit instead.
        let t = t.max(Duration::from_millis(1));
        let _ = match self {
            Sock::Tcp(s) => s.set_read_timeout(Some(t)),
            Sock::Unix(s) => s.set_read_timeout(Some(t)),
            Sock::Tls(s) => {
                s.inner().set_read_timeout(t);
                Ok(())
            }
        };
    }

    /// Sets how long a write may wait for the client to make room (`SO_SNDTIMEO`).
    pub(crate) fn set_write_timeout(&self, t: Duration) {
        let t = t.max(Duration::from_millis(1));
        let _ = match self {
            Sock::Tcp(s) => s.set_write_timeout(Some(t)),
            Sock::Unix(s) => s.set_write_timeout(Some(t)),
            Sock::Tls(s) => {
                s.inner().set_write_timeout(t);
                Ok(())
            }
        };
    }

    /// Writes all of `bufs`, coping with partial writes.
    pub(crate) fn write_all_vectored(&self, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        if let Sock::Tls(t) = self {
            return t.write_all_vectored(bufs);
        }
        let mut w = self;
        while !bufs.is_empty() {
            match w.write_vectored(bufs) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Read for &Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Sock::Tcp(s) => (&*s).read(buf),
            Sock::Unix(s) => (&*s).read(buf),
            Sock::Tls(t) => t.read(buf),
        }
    }
}

impl Write for &Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Sock::Tcp(s) => (&*s).write(buf),
            Sock::Unix(s) => (&*s).write(buf),
            Sock::Tls(t) => t
                .write_all_vectored(&[IoSlice::new(buf)])
                .map(|()| buf.len()),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match *self {
            Sock::Tcp(s) => (&*s).write_vectored(bufs),
            Sock::Unix(s) => (&*s).write_vectored(bufs),
            Sock::Tls(t) => t
                .write_all_vectored(bufs)
                .map(|()| bufs.iter().map(|b| b.len()).sum()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether an error is a socket timeout (`SO_RCVTIMEO` / `SO_SNDTIMEO` ran out).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Owned read half, for a buffered reader; with a deadline, every read waits at most until
/// then (and fails with a timeout after it).
pub(crate) struct SockReader {
    sock: Arc<Sock>,
    deadline: Option<Instant>,
}

impl SockReader {
    pub(crate) fn new(sock: Arc<Sock>, deadline: Option<Instant>) -> Self {
        Self { sock, deadline }
    }

    /// Sets or clears the deadline (clearing leaves the socket's read timeout as it is).
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }
}

impl Read for SockReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(d) = self.deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.sock.set_read_timeout(left);
        }
        (&*self.sock).read(buf)
    }
}
