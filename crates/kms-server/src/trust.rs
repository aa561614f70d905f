//! The server's half of endpoint trust (docs/formats.md, "The endpoint file and its proof"):
//! the `Host` check and the replay guard for service-credential requests.

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use ebsim_kms::trust::Nonce;
use parking_lot::Mutex;

use crate::sigv4::MAX_SKEW;

/// Whether a `Host` header value names this server, as reached on the connection whose local
/// address is `local`: the port must be the one it listens on (80 when the value has none),
/// and the host `localhost`, the connection's local IP, or a loopback IP when the connection
/// came over loopback. A server listening on every address (`--allow-remote`) so answers for
/// whichever local address a client reached, and for no other name.
pub fn host_names_server(host: &str, local: SocketAddr) -> bool {
    let Some((name, port)) = split_host(host) else {
        return false;
    };
    if port != local.port() {
        return false;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => ip == local.ip() || (ip.is_loopback() && local.ip().is_loopback()),
        Err(_) => false,
    }
}

/// `name[:port]` or `[v6][:port]` → (name without brackets, port; 80 when absent).
fn split_host(host: &str) -> Option<(&str, u16)> {
    if host.is_empty() || host.len() > 255 {
        return None;
    }
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        match after {
            "" => (v6, None),
            p => (v6, Some(p.strip_prefix(':')?)),
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    let port = match port {
        None => 80,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    Some((name, port))
}

/// Why a service-credential request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceError {
    /// No nonce, a malformed one, or one outside the signed headers.
    Missing,
    /// Made before this server started (a request captured from an earlier server).
    BeforeStart,
    /// Made more than the SigV4 skew away from now.
    Expired,
    /// Seen before within the skew window.
    Replayed,
    /// Too many service-credential requests within the window to remember them all.
    Full,
}

impl NonceError {
    /// The message sent back.
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => {
                "Requests signed with the service credential must carry a signed x-ebsim-nonce header."
            }
            Self::BeforeStart => "The request was made before this server started.",
            Self::Expired => "The request's x-ebsim-nonce is more than 15 minutes from now.",
            Self::Replayed => "The request's x-ebsim-nonce was already used.",
            Self::Full => "Too many service-credential requests in the last 15 minutes.",
        }
    }
}

/// Remembers the nonces of service-credential requests for the SigV4 skew window.
#[derive(Debug)]
pub struct ReplayGuard {
    started: SystemTime,
    capacity: usize,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    set: HashSet<Nonce>,
    /// (nanoseconds after which the nonce's own time is out of the window, nonce), in
    /// insertion order; expiry is pruned from the front.
    order: VecDeque<(u128, Nonce)>,
}

/// Nonces remembered at most (about 100 bytes each): ~100 MiB for over 1,100 service
/// requests per second sustained over the window.
pub const REPLAY_CAPACITY: usize = 1 << 20;

impl ReplayGuard {
    /// A guard for a server that started at `started`.
    pub fn new(started: SystemTime) -> Self {
        Self::with_capacity(started, REPLAY_CAPACITY)
    }

    /// As [`ReplayGuard::new`], remembering at most `capacity` nonces.
    pub fn with_capacity(started: SystemTime, capacity: usize) -> Self {
        Self {
            started,
            capacity,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Checks a request's nonce (the `x-ebsim-nonce` value) and its `x-amz-date` time at
    /// wall-clock `now`, and remembers the nonce.
    ///
    /// # Errors
    /// A [`NonceError`] saying why the request is refused.
    pub fn check(
        &self,
        nonce: Option<&str>,
        amz_date: SystemTime,
        now: SystemTime,
    ) -> Result<(), NonceError> {
        let nonce = nonce.and_then(Nonce::parse).ok_or(NonceError::Missing)?;
        let made = nonce.time();
        // x-amz-date has whole seconds: compare it with the start's second.
        let start_second = secs(self.started);
        if made < self.started || secs(amz_date) < start_second {
            return Err(NonceError::BeforeStart);
        }
        let (a, b) = if made > now { (made, now) } else { (now, made) };
        if a.duration_since(b).unwrap_or_default() > MAX_SKEW {
            return Err(NonceError::Expired);
        }
        let now_nanos = nanos(now);
        let mut seen = self.seen.lock();
        while let Some(&(expiry, n)) = seen.order.front() {
            if expiry >= now_nanos {
                break;
            }
            seen.order.pop_front();
            seen.set.remove(&n);
        }
        if seen.set.contains(&nonce) {
            return Err(NonceError::Replayed);
        }
        if seen.set.len() >= self.capacity {
            return Err(NonceError::Full);
        }
        seen.set.insert(nonce);
        let expiry = nonce.unix_nanos.saturating_add(MAX_SKEW.as_nanos());
        seen.order.push_back((expiry, nonce));
        Ok(())
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ebsim_kms::trust::new_nonce;

    use super::*;

    #[test]
    fn host_must_name_this_server() {
        let lo: SocketAddr = "127.0.0.1:4599".parse().unwrap();
        for ok in [
            "127.0.0.1:4599",
            "localhost:4599",
            "LOCALHOST:4599",
            "[::1]:4599",
            "127.0.0.2:4599",
        ] {
            assert!(host_names_server(ok, lo), "{ok}");
        }
        for bad in [
            "127.0.0.1:4600",
            "127.0.0.1",
            "localhost",
            "evil.example:4599",
            "10.0.0.1:4599",
            "kms.us-west-2.amazonaws.com:4599",
            "127.0.0.1:",
            "127.0.0.1:45x9",
            "[::1",
            "[::1]4599",
            "",
        ] {
            assert!(!host_names_server(bad, lo), "{bad}");
        }
        // A remote-facing listener answers for the local address a client reached.
        let lan: SocketAddr = "192.0.2.7:4599".parse().unwrap();
        assert!(host_names_server("192.0.2.7:4599", lan));
        assert!(host_names_server("localhost:4599", lan));
        assert!(!host_names_server("127.0.0.1:4599", lan));
        assert!(!host_names_server("192.0.2.8:4599", lan));
        let v6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        assert!(host_names_server("[2001:db8::1]", v6));
        assert!(host_names_server("[2001:db8::1]:80", v6));
    }

    #[test]
    fn nonces_are_single_use_and_after_start() {
        let start = UNIX_EPOCH + Duration::new(1_800_000_000, 500_000_000);
        let guard = ReplayGuard::new(start);
        let now = start + Duration::from_secs(2);
        let n = new_nonce(now);
        assert_eq!(guard.check(Some(&n), now, now), Ok(()));
        assert_eq!(guard.check(Some(&n), now, now), Err(NonceError::Replayed));
        assert_eq!(
            guard.check(Some(&n), now, now + Duration::from_secs(60)),
            Err(NonceError::Replayed)
        );
        // Made before the start, even by half a second.
        let early = new_nonce(start - Duration::from_millis(1));
        assert_eq!(
            guard.check(Some(&early), now, now),
            Err(NonceError::BeforeStart)
        );
        // Dated before the start's second.
        assert_eq!(
            guard.check(Some(&new_nonce(now)), start - Duration::from_secs(1), now),
            Err(NonceError::BeforeStart)
        );
        let late = now + Duration::from_secs(16 * 60);
        assert_eq!(
            guard.check(Some(&new_nonce(late)), late, now),
            Err(NonceError::Expired)
        );
        for bad in [None, Some(""), Some("12-zz")] {
            assert_eq!(guard.check(bad, now, now), Err(NonceError::Missing));
        }
    }

    #[test]
    fn memory_is_bounded_and_expired_nonces_are_forgotten() {
        let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let guard = ReplayGuard::with_capacity(start, 3);
        let t0 = start + Duration::from_secs(1);
        for _ in 0..3 {
            assert_eq!(guard.check(Some(&new_nonce(t0)), t0, t0), Ok(()));
        }
        assert_eq!(
            guard.check(Some(&new_nonce(t0)), t0, t0),
            Err(NonceError::Full)
        );
        // Once the first three are out of the window, there is room again.
        let t1 = t0 + MAX_SKEW + Duration::from_secs(1);
        assert_eq!(guard.check(Some(&new_nonce(t1)), t1, t1), Ok(()));
        assert_eq!(guard.seen.lock().set.len(), 1);
    }
}
