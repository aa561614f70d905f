//! What a server has done, counted as it goes: for logs at shutdown and for tests that check
//! what clients asked for (a sparse copy reads only the data).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of a server's work since it started (see [`crate::NbdServer::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections accepted and served.
    pub connections: u64,
    /// Connections refused (over a connection limit).
    pub refused: u64,
    /// Connections closed by a timeout (handshake, idle, or a stalled reply write).
    pub timed_out: u64,
    /// `NBD_CMD_READ` requests answered with data.
    pub reads: u64,
    /// Bytes of data sent in answer to reads.
    pub read_bytes: u64,
    /// `NBD_CMD_WRITE` requests done.
    pub writes: u64,
    /// Bytes of data written.
    pub written_bytes: u64,
    /// `NBD_CMD_BLOCK_STATUS` requests answered.
    pub block_status: u64,
}

impl std::fmt::Display for ServerStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connections={} refused={} timed_out={} reads={} read_bytes={} writes={} written_bytes={} block_status={}",
            self.connections,
            self.refused,
            self.timed_out,
            self.reads,
            self.read_bytes,
            self.writes,
            self.written_bytes,
            self.block_status
        )
    }
}

/// The live counters behind [`ServerStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) reads: AtomicU64,
    pub(crate) read_bytes: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) written_bytes: AtomicU64,
    pub(crate) block_status: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ServerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ServerStats {
            connections: get(&self.connections),
            refused: get(&self.refused),
            timed_out: get(&self.timed_out),
            reads: get(&self.reads),
            read_bytes: get(&self.read_bytes),
            writes: get(&self.writes),
            written_bytes: get(&self.written_bytes),
            block_status: get(&self.block_status),
        }
    }
}
