//! Payload memory: buffers reused across the connections of a server, and the bound on what
//! one connection holds at once.

use parking_lot::{Condvar, Mutex};

/// Reused payload buffers, shared by all connections of a server.
#[derive(Debug, Default)]
pub(crate) struct BufPool {
    bufs: Mutex<(Vec<Vec<u8>>, usize)>,
}

/// The pool keeps at most this many bytes of idle buffers.
const POOL_BYTES: usize = 256 << 20;

impl BufPool {
    /// A buffer of at least `len` bytes (contents unspecified).
    pub(crate) fn get(&self, len: usize) -> Vec<u8> {
        let taken = {
            let mut g = self.bufs.lock();
            let (bufs, bytes) = &mut *g;
            let pick = bufs
                .iter()
                .rposition(|b| b.len() >= len)
                .or(bufs.len().checked_sub(1));
            pick.map(|i| {
                let b = bufs.swap_remove(i);
                *bytes -= b.len();
                b
            })
        };
        let mut b = taken.unwrap_or_default();
        if b.len() < len {
            b.resize(len, 0);
        }
        b
    }

    /// Gives a buffer back (dropped if the pool is full).
    pub(crate) fn put(&self, b: Vec<u8>) {
        let mut g = self.bufs.lock();
        let (bufs, bytes) = &mut *g;
        if *bytes + b.len() <= POOL_BYTES {
            *bytes += b.len();
            bufs.push(b);
        }
    }
}

/// Bounds the payload bytes one connection holds at once (write payloads received, read
/// buffers being filled), so a client cannot make the server buffer without limit.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    used: Mutex<usize>,
    freed: Condvar,
}

/// At most this many payload bytes per connection (a single larger request still runs, alone).
const MAX_INFLIGHT_BYTES: usize = 64 << 20;

impl Budget {
    /// Waits until `bytes` more fit (or nothing else is held), then takes them.
    pub(crate) fn acquire(&self, bytes: usize) {
        let mut used = self.used.lock();
        while *used > 0 && *used + bytes > MAX_INFLIGHT_BYTES {
            self.freed.wait(&mut used);
        }
        *used += bytes;
    }

    /// Gives back `bytes` taken with [`Budget::acquire`].
    pub(crate) fn release(&self, bytes: usize) {
        let mut used = self.used.lock();
        *used -= bytes;
        self.freed.notify_all();
    }
}
