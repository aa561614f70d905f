//! Fault injection: outages, throttling (token bucket) and added latency, per operation or
//! for every operation (`"*"`), switchable at run time.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;

use crate::api::{ErrorType, KmsError};

#[derive(Debug, Clone, Default)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: f64,
}

#[derive(Debug, Clone, Default)]
struct Fault {
    outage: Option<ErrorType>,
    throttle: Option<Bucket>,
    latency_ms: Option<u64>,
}

/// The faults in force.
#[derive(Debug, Default)]
pub struct Faults {
    map: Mutex<HashMap<String, Fault>>,
    active: std::sync::atomic::AtomicBool,
}

/// Which fault to set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// Every call fails with this error (KMSInternalException or DependencyTimeoutException).
    Outage(ErrorType),
    /// ThrottlingException above this many calls per second.
    Throttle(f64),
    /// Each call waits this long first.
    Latency(u64),
}

impl Faults {
    /// Sets a fault for `operation` (`"*"` for all).
    pub fn set(&self, operation: &str, kind: FaultKind, now: f64) {
        let mut map = self.map.lock();
        let f = map.entry(operation.to_string()).or_default();
        match kind {
            FaultKind::Outage(t) => f.outage = Some(t),
            FaultKind::Throttle(rate) => {
                f.throttle = Some(Bucket {
                    rate,
                    tokens: rate.max(1.0),
                    last: now,
                });
            }
            FaultKind::Latency(ms) => f.latency_ms = Some(ms),
        }
        self.active
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.map.lock().clear();
        self.active
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Whether a call of `operation` would wait for an injected latency.
    pub fn delays(&self, operation: &str) -> bool {
        if !self.active.load(std::sync::atomic::Ordering::Acquire) {
            return false;
        }
        let map = self.map.lock();
        ["*", operation]
            .iter()
            .any(|name| map.get(*name).is_some_and(|f| f.latency_ms.is_some()))
    }

    /// Applies the faults for one call (`now`: wall-clock seconds, read only when a fault is
    /// set).
    pub fn apply(&self, operation: &str, now: impl FnOnce() -> f64) -> Result<(), KmsError> {
        if !self.active.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        let now = now();
        let mut sleep = 0;
        let mut result = Ok(());
        {
            let mut map = self.map.lock();
            for name in ["*", operation] {
                let Some(f) = map.get_mut(name) else { continue };
                if let Some(ms) = f.latency_ms {
                    sleep += ms;
                }
                if result.is_ok()
                    && let Some(t) = f.outage
                {
                    result = Err(KmsError::new(
                        t,
                        "The request failed because of an injected outage.",
                    ));
                }
                if result.is_ok()
                    && let Some(b) = f.throttle.as_mut()
                {
                    b.tokens = (b.tokens + (now - b.last) * b.rate).min(b.rate.max(1.0));
                    b.last = now;
                    if b.tokens >= 1.0 {
                        b.tokens -= 1.0;
                    } else {
                        result = Err(KmsError::new(
                            ErrorType::ThrottlingException,
                            "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
                        ));
                    }
                }
            }
        }
        if sleep > 0 {
            std::thread::sleep(Duration::from_millis(sleep));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_refills_with_time() {
        let f = Faults::default();
        f.set("Decrypt", FaultKind::Throttle(2.0), 0.0);
        assert!(f.apply("Decrypt", || 0.0).is_ok());
        assert!(f.apply("Decrypt", || 0.0).is_ok());
        let e = f
            .apply("Decrypt", || 0.0)
            .expect_err("third call throttled");
        assert_eq!(e.error_type, ErrorType::ThrottlingException);
        assert!(
            f.apply("Encrypt", || 0.0).is_ok(),
            "other operations unaffected"
        );
        assert!(
            f.apply("Decrypt", || 1.0).is_ok(),
            "refilled after a second"
        );
        f.clear();
        for _ in 0..10 {
            assert!(f.apply("Decrypt", || 1.0).is_ok());
        }
    }

    #[test]
    fn latency_is_known_before_the_call() {
        let f = Faults::default();
        assert!(!f.delays("Decrypt"));
        f.set("Decrypt", FaultKind::Latency(5), 0.0);
        assert!(f.delays("Decrypt"));
        assert!(!f.delays("Encrypt"));
        f.set("*", FaultKind::Latency(5), 0.0);
        assert!(f.delays("Encrypt"));
        f.clear();
        assert!(!f.delays("Decrypt"));
    }

    #[test]
    fn outage_on_every_operation() {
        let f = Faults::default();
        f.set(
            "*",
            FaultKind::Outage(ErrorType::DependencyTimeoutException),
            0.0,
        );
        let e = f.apply("DescribeKey", || 0.0).expect_err("outage");
        assert_eq!(e.error_type, ErrorType::DependencyTimeoutException);
    }
}
