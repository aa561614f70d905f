//! Timing one operation on every thread of a pool: throughput over the run, latency
//! percentiles from every 8th call, and the progress spinner on a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ebsim_io::{Backend, IoError, SectorSize};
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;

use crate::CliError;

/// Every how many operations one is timed for the latency percentiles.
const SAMPLE_EVERY: u64 = 8;
/// At most this many latency samples per thread and operation.
const MAX_SAMPLES: usize = 1 << 20;

/// One measured operation.
#[derive(Debug, serde::Serialize)]
pub(super) struct Measured {
    pub(super) op: &'static str,
    pub(super) sector_size: u32,
    pub(super) io_size: u64,
    pub(super) threads: usize,
    pub(super) backend: &'static str,
    pub(super) store: Option<&'static str>,
    pub(super) pattern: Option<&'static str>,
    pub(super) bytes: u64,
    pub(super) ops: u64,
    pub(super) seconds: f64,
    pub(super) bytes_per_sec: f64,
    pub(super) ops_per_sec: f64,
    pub(super) p50_ns: u64,
    pub(super) p99_ns: u64,
}

/// What every worker of one measured operation needs.
pub(super) struct Plan {
    pub(super) name: &'static str,
    pub(super) io_size: usize,
    /// Requests per thread share (the share is `per_thread × io_size` bytes).
    pub(super) per_thread: u64,
    pub(super) sectors_per_io: u64,
    pub(super) random: bool,
    pub(super) duration: Duration,
}

/// Per-thread result.
struct Worker {
    ops: u64,
    samples: Vec<u64>,
    error: Option<IoError>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs `op(first_sector, buf)` on every thread of `pool` for `plan.duration`.
fn measure<F>(
    pool: &rayon::ThreadPool,
    plan: &Plan,
    pb: &ProgressBar,
    op: F,
) -> Result<(u64, f64, Vec<u64>), CliError>
where
    F: Fn(u64, &mut [u8]) -> Result<(), IoError> + Sync,
{
    pb.set_message(plan.name);
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let deadline = start + plan.duration;
    let workers: Vec<Worker> = pool.broadcast(|ctx| {
        let t = ctx.index() as u64;
        let mut buf = vec![0u8; plan.io_size];
        rand::rng().fill_bytes(&mut buf);
        let base = t * plan.per_thread;
        let mut rng = 0x5EED ^ t.wrapping_mul(0x1234_5678_9ABC);
        let mut w = Worker {
            ops: 0,
            samples: Vec::with_capacity(4096),
            error: None,
        };
        let mut k = 0u64;
        // The sequential position, wrapped by comparison: a division per call would cost as
        // much as a quarter of a 512-byte sector's encryption.
        let mut seq = 0u64;
        loop {
            let idx = if plan.random {
                splitmix(&mut rng) % plan.per_thread
            } else {
                let i = seq;
                seq += 1;
                if seq == plan.per_thread {
                    seq = 0;
                }
                i
            };
            let first = (base + idx) * plan.sectors_per_io;
            let timed = k.is_multiple_of(SAMPLE_EVERY);
            let r = if timed {
                let t0 = Instant::now();
                let r = op(first, &mut buf);
                let now = Instant::now();
                if w.samples.len() < MAX_SAMPLES {
                    w.samples.push((now - t0).as_nanos() as u64);
                }
                if k.is_multiple_of(64) {
                    pb.inc(64 * plan.io_size as u64);
                    if now >= deadline || stop.load(Ordering::Relaxed) {
                        k += 1;
                        w.ops = k;
                        if let Err(e) = r {
                            w.error = Some(e);
                        }
                        break;
                    }
                }
                r
            } else {
                op(first, &mut buf)
            };
            k += 1;
            if let Err(e) = r {
                stop.store(true, Ordering::Relaxed);
                w.ops = k;
                w.error = Some(e);
                break;
            }
        }
        w
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut ops = 0;
    let mut samples = Vec::new();
    for w in workers {
        if let Some(e) = w.error {
            return Err(e.into());
        }
        ops += w.ops;
        samples.extend(w.samples);
    }
    samples.sort_unstable();
    Ok((ops, elapsed, samples))
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// What the results of one run share: its settings, the pool and the spinner.
pub(super) struct Context {
    pub(super) sector_size: SectorSize,
    pub(super) threads: usize,
    pub(super) backend: Backend,
    pub(super) store: Option<&'static str>,
    pub(super) pattern: Option<&'static str>,
    pub(super) pool: rayon::ThreadPool,
    pub(super) pb: ProgressBar,
}

impl Context {
    /// Measures `op` as `plan` says.
    pub(super) fn run<F>(&self, plan: &Plan, op: F) -> Result<Measured, CliError>
    where
        F: Fn(u64, &mut [u8]) -> Result<(), IoError> + Sync,
    {
        let (ops, seconds, samples) = measure(&self.pool, plan, &self.pb, op)?;
        let bytes = ops * plan.io_size as u64;
        Ok(Measured {
            op: plan.name,
            sector_size: self.sector_size.get(),
            io_size: plan.io_size as u64,
            threads: self.threads,
            backend: self.backend.name(),
            store: self.store,
            pattern: self.pattern,
            bytes,
            ops,
            seconds,
            bytes_per_sec: bytes as f64 / seconds,
            ops_per_sec: ops as f64 / seconds,
            p50_ns: percentile(&samples, 50),
            p99_ns: percentile(&samples, 99),
        })
    }
}

/// A spinner with bytes and rate on a terminal's stderr, hidden elsewhere.
pub(super) fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg:8} {binary_bytes} {binary_bytes_per_sec} {elapsed}",
    ) {
        pb.set_style(style);
    }
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 51);
        assert_eq!(percentile(&v, 99), 100);
        assert_eq!(percentile(&[], 99), 0);
    }
}
