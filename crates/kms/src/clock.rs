//! Time: an injectable clock. Simulated time is the clock's time plus an offset stored with
//! the KMS state (`AdvanceClock`), so rotation periods and deletion windows can be crossed in
//! a test or from the command line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of time, in seconds since the Unix epoch (fractional).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> f64;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    bits: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `epoch_seconds`.
    pub fn new(epoch_seconds: f64) -> Self {
        Self {
            bits: AtomicU64::new(epoch_seconds.to_bits()),
        }
    }

    /// Sets the time.
    pub fn set(&self, epoch_seconds: f64) {
        self.bits.store(epoch_seconds.to_bits(), Ordering::SeqCst);
    }

    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: f64) {
        let now = self.now();
        self.set(now + seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::SeqCst))
    }
}

/// ISO-8601 UTC (`2026-11-26T20:58:00Z`) for epoch seconds (whole seconds; clamped to the
/// years -9999..=9999).
pub fn iso8601(epoch_seconds: f64) -> String {
    let secs = if epoch_seconds.is_nan() {
        0
    } else {
        (epoch_seconds.floor() as i64).clamp(
            jiff::Timestamp::MIN.as_second(),
            jiff::Timestamp::MAX.as_second(),
        )
    };
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_known_instants() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_444_151_834.0), "2015-10-06T17:17:14Z");
        assert_eq!(iso8601(951_782_400.0), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(100.0);
        assert_eq!(c.now(), 100.0);
        c.advance(86_400.0);
        assert_eq!(c.now(), 86_500.0);
    }
}
