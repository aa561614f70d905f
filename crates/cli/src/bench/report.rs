//! What `ebsim bench` prints: a table (with OpenSSL's figure set against ours), or one JSON
//! object with `--json`.

use super::measure::{Context, Measured};
use super::openssl::openssl_args;
use crate::CliError;
use crate::args::{KIB, MIB};

/// Our figure to set against OpenSSL's: encryption of one sector per call if measured, else
/// the first encrypt figure.
fn ours<'a>(results: &'a [Measured], ctx: &Context) -> Option<&'a Measured> {
    let sector = u64::from(ctx.sector_size.get());
    results
        .iter()
        .find(|m| m.op == "encrypt" && m.io_size == sector)
        .or_else(|| results.iter().find(|m| m.op == "encrypt"))
}

/// Prints the run as one JSON object on one line.
pub(super) fn print_json(
    results: &[Measured],
    ctx: &Context,
    openssl: Option<f64>,
) -> Result<(), CliError> {
    let mut obj = serde_json::json!({
        "sector_size": ctx.sector_size.get(),
        "threads": ctx.threads,
        "backend": ctx.backend.name(),
        "results": results,
    });
    if let (Some(o), Some(m)) = (openssl, ours(results, ctx)) {
        obj["openssl"] = serde_json::json!({
            "command": openssl_args(ctx.sector_size).join(" "),
            "bytes_per_sec": o,
            "ours_bytes_per_sec": m.bytes_per_sec,
            "ours_threads": m.threads,
            "ratio": m.bytes_per_sec / o,
        });
    }
    outln!("{obj}")
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= MIB && n.is_multiple_of(MIB) => format!("{} MiB", n / MIB),
        n if n >= KIB && n.is_multiple_of(KIB) => format!("{} KiB", n / KIB),
        n => format!("{n} B"),
    }
}

fn human_ns(ns: u64) -> String {
    match ns {
        ns if ns >= 10_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        ns if ns >= 10_000 => format!("{:.1} us", ns as f64 / 1e3),
        ns => format!("{ns} ns"),
    }
}

/// Prints the run as a table, then OpenSSL's figure next to ours.
pub(super) fn print_table(
    results: &[Measured],
    ctx: &Context,
    engine_only: bool,
    openssl: Option<f64>,
) -> Result<(), CliError> {
    outln!(
        "ebsim bench: {} sector {}, {} thread{}, backend {}",
        if engine_only {
            "engine only,"
        } else {
            "engine + store,"
        },
        ctx.sector_size,
        ctx.threads,
        if ctx.threads == 1 { "" } else { "s" },
        ctx.backend
    )?;
    if let (Some(store), Some(pattern)) = (ctx.store, ctx.pattern) {
        outln!("store {store}, pattern {pattern}")?;
    }
    outln!(
        "{:<11} {:>8} {:>9} {:>12} {:>10} {:>10}",
        "op",
        "io size",
        "GB/s",
        "IOPS",
        "p50",
        "p99"
    )?;
    for m in results {
        outln!(
            "{:<11} {:>8} {:>9.2} {:>12.0} {:>10} {:>10}",
            m.op,
            human_bytes(m.io_size),
            m.bytes_per_sec / 1e9,
            m.ops_per_sec,
            human_ns(m.p50_ns),
            human_ns(m.p99_ns)
        )?;
    }
    if let (Some(o), Some(m)) = (openssl, ours(results, ctx)) {
        outln!(
            "openssl speed (1 thread, {}-byte calls): {:.2} GB/s; ours ({} thread{}, {}-byte calls): {:.2} GB/s = {:.2}x",
            ctx.sector_size,
            o / 1e9,
            m.threads,
            if m.threads == 1 { "" } else { "s" },
            m.io_size,
            m.bytes_per_sec / 1e9,
            m.bytes_per_sec / o
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_latencies_read_naturally() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(4096), "4 KiB");
        assert_eq!(human_bytes(1 << 20), "1 MiB");
        assert_eq!(human_bytes(1000), "1000 B");
        assert_eq!(human_ns(900), "900 ns");
        assert_eq!(human_ns(12_345), "12.3 us");
        assert_eq!(human_ns(25_000_000), "25.0 ms");
    }
}
