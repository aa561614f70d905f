//! How a client and a running `ebsim kms serve` come to trust each other (docs/formats.md,
//! "The endpoint file and its proof").
//!
//! - The server proves it can read the data dir: a client sends a fresh random challenge to
//!   [`PING_PATH`] and the server answers with [`endpoint_proof`], an HMAC of the challenge
//!   and of the `Host` the client addressed, keyed with the data dir's service secret.
//! - Requests signed with the service credential carry a signed [`NONCE_HEADER`]: the time
//!   the client made it (nanoseconds) and 128 random bits. The server refuses a nonce it has
//!   seen, and one made before it started, so a captured request cannot be replayed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Liveness probe and challenge path of `ebsim kms serve` (`GET`).
pub const PING_PATH: &str = "/ebsim/ping";
/// Body of a successful ping.
pub const PING_BODY: &str = "ebsim-kms";
/// Query parameter of [`PING_PATH`] carrying the client's challenge (hex).
pub const CHALLENGE_PARAM: &str = "challenge";
/// Response header carrying the server's proof (hex of [`endpoint_proof`]).
pub const PROOF_HEADER: &str = "x-ebsim-proof";
/// Bytes of a challenge.
pub const CHALLENGE_BYTES: usize = 32;
/// Signed request header of every request made with the service credential.
pub const NONCE_HEADER: &str = "x-ebsim-nonce";

const PROOF_LABEL: &[u8] = b"ebsim-kms endpoint proof v1\0";

/// A fresh random challenge.
pub fn new_challenge() -> [u8; CHALLENGE_BYTES] {
    let mut c = [0u8; CHALLENGE_BYTES];
    rand::rng().fill_bytes(&mut c);
    c
}

/// HMAC-SHA256 under the service secret of the label, the `Host` the client addressed and
/// the challenge. Binding the host keeps a server from relaying another server's proof: each
/// server answers only for a `Host` that names itself.
pub fn endpoint_proof(service_secret: &[u8], host: &str, challenge: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(service_secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(PROOF_LABEL);
    mac.update(&(host.len() as u64).to_be_bytes());
    mac.update(host.as_bytes());
    mac.update(challenge);
    mac.finalize().into_bytes().into()
}

/// Whether `proof_hex` is the proof for this secret, host and challenge (constant time).
pub fn proof_matches(service_secret: &[u8], host: &str, challenge: &[u8], proof_hex: &str) -> bool {
    let Ok(given) = hex::decode(proof_hex.trim()) else {
        return false;
    };
    let expected = endpoint_proof(service_secret, host, challenge);
    given.len() == expected.len() && bool::from(expected.ct_eq(&given[..]))
}

/// A nonce for a request made at `now`: `<unix nanoseconds>-<32 hex digits>`.
pub fn new_nonce(now: SystemTime) -> String {
    let nanos = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut random = [0u8; 16];
    rand::rng().fill_bytes(&mut random);
    format!("{nanos}-{}", hex::encode(random))
}

/// A parsed nonce: when it was made, and its random part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce {
    /// Nanoseconds since the Unix epoch when the client made it.
    pub unix_nanos: u128,
    /// The random part.
    pub random: [u8; 16],
}

impl Nonce {
    /// Parses `<unix nanoseconds>-<32 hex digits>`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (nanos, random_hex) = text.split_once('-')?;
        if nanos.is_empty() || nanos.len() > 20 || !nanos.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if random_hex.len() != 32 {
            return None;
        }
        let mut random = [0u8; 16];
        hex::decode_to_slice(random_hex, &mut random).ok()?;
        Some(Self {
            unix_nanos: nanos.parse().ok()?,
            random,
        })
    }

    /// When the client made it.
    pub fn time(&self) -> SystemTime {
        let secs = u64::try_from(self.unix_nanos / 1_000_000_000).unwrap_or(u64::MAX);
        // Below 10^9, so it fits.
        let sub = (self.unix_nanos % 1_000_000_000) as u32;
        UNIX_EPOCH
            .checked_add(Duration::new(secs, sub))
            .unwrap_or(UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_binds_secret_host_and_challenge() {
        let c = new_challenge();
        let p = hex::encode(endpoint_proof(b"secret", "127.0.0.1:4599", &c));
        assert!(proof_matches(b"secret", "127.0.0.1:4599", &c, &p));
        assert!(!proof_matches(b"other", "127.0.0.1:4599", &c, &p));
        assert!(!proof_matches(b"secret", "127.0.0.1:4600", &c, &p));
        assert!(!proof_matches(
            b"secret",
            "127.0.0.1:4599",
            &new_challenge(),
            &p
        ));
        assert!(!proof_matches(b"secret", "127.0.0.1:4599", &c, "zz"));
        assert!(!proof_matches(b"secret", "127.0.0.1:4599", &c, ""));
    }

    #[test]
    fn nonces_round_trip_and_reject_garbage() {
        let now = UNIX_EPOCH + Duration::new(1_800_000_000, 123_456_789);
        let text = new_nonce(now);
        let n = Nonce::parse(&text).expect("parses");
        assert_eq!(n.time(), now);
        assert_ne!(
            Nonce::parse(&new_nonce(now)),
            Some(n),
            "random part differs"
        );
        for bad in [
            "",
            "-",
            "123",
            "123-",
            "x23-00000000000000000000000000000000",
            "123-0000000000000000000000000000000",
            "123-000000000000000000000000000000000",
            "123-0000000000000000000000000000000g",
            "999999999999999999999-00000000000000000000000000000000",
        ] {
            assert_eq!(Nonce::parse(bad), None, "{bad}");
        }
    }
}
