//! `ebsim bench`: throughput and latency of the XTS engine alone and of engine + block store.
//!
//! Store runs report `encrypt`/`decrypt` (engine alone on the same requests), `write`
//! (encrypt into the store) and `read` (decrypt out of it), as volumes do it: the store runs
//! the engine between the request buffer and its storage, one pass where it can (the mmap and
//! memory stores; the file store encrypts in place, then writes), the store alone (`store_write`,
//! `store_read`) and a `memcpy` peer copying the same requests into plain memory of the same
//! size, so ratios come from one run.
//!
//! Each measured operation runs on a dedicated rayon pool of `--threads` threads for about
//! `--seconds`; every thread works on its own share of the range. Latency percentiles come
//! from timing every 8th operation, so the clock does not dominate short operations.

mod engine;
mod measure;
mod openssl;
mod report;
mod store;

use std::path::PathBuf;
use std::time::Duration;

use ebsim_io::{Backend, SectorSize};

use crate::args::{parse_backend, parse_sector_size, parse_size};
use crate::{CliError, GlobalArgs};

/// Access pattern of the store benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pattern {
    /// Consecutive requests, each thread walking its own share of the range.
    Seq,
    /// Uniformly random request-aligned offsets within each thread's share.
    Random,
}

/// Which block store to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// Sparse in-memory store.
    Memory,
    /// Sparse file in a temporary directory (under the data dir, or `--dir`), read and
    /// written through a shared memory map, as attached volumes do.
    Mmap,
    /// The same sparse file, read and written with pread/pwrite (one system call per request).
    File,
}

/// Arguments of `ebsim bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Sector size in bytes: 512 or 4096.
    #[arg(long, default_value = "4096", value_name = "BYTES", value_parser = parse_sector_size)]
    pub sector_size: SectorSize,
    /// Bytes of the store the run covers (suffixes KiB, MiB, GiB, TiB). The store is filled
    /// before reads are measured when it is at most 16 GiB.
    #[arg(long, default_value = "256MiB", value_name = "SIZE", value_parser = parse_size)]
    pub size: u64,
    /// Bytes per request (default: 4 KiB for random I/O, 1 MiB for sequential).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub io_size: Option<u64>,
    /// Worker threads (default: every core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Access pattern.
    #[arg(long, value_enum, default_value_t = Pattern::Seq)]
    pub pattern: Pattern,
    /// Block store to measure.
    #[arg(long, value_enum, default_value_t = StoreKind::Memory)]
    pub store: StoreKind,
    /// Directory for the file store's temporary file (default: `<data dir>/bench`).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Force an engine backend (vaes512, vaes256, aesni, aes-crate) instead of the fastest one.
    #[arg(long, value_name = "NAME", value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// Measure the engine alone: one call per sector, each with its own tweak (the work of
    /// `openssl speed -evp aes-256-xts -bytes SECTOR`), then 1 MiB runs.
    #[arg(long)]
    pub engine_only: bool,
    /// Seconds each operation is measured for.
    #[arg(long, default_value_t = 0.5, value_name = "SECONDS", value_parser = parse_seconds)]
    pub seconds: f64,
    /// Also run `openssl speed -seconds 2 -bytes SECTOR -evp aes-256-xts` and print its figure
    /// next to ours.
    #[arg(long)]
    pub compare_openssl: bool,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 600.0 => Ok(x),
        _ => Err(format!(
            "invalid duration {s:?}: use seconds between 0 and 600"
        )),
    }
}

/// Runs `ebsim bench`.
pub(crate) fn run(global: &GlobalArgs, args: &BenchArgs) -> Result<(), CliError> {
    let ss = args.sector_size;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 || threads > 1024 {
        return Err(CliError::InvalidArgument(format!(
            "--threads {threads}: use 1 to 1024"
        )));
    }
    if args.compare_openssl {
        openssl::check_openssl()?;
    }
    let engine = engine::new_engine(ss, args.backend)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("ebsim-bench-{i}"))
        .build()
        .map_err(CliError::Threads)?;
    let duration = Duration::from_secs_f64(args.seconds);
    let mut ctx = measure::Context {
        sector_size: ss,
        threads,
        backend: engine.backend(),
        store: None,
        pattern: None,
        pool,
        pb: measure::progress_bar(),
    };
    let results = if args.engine_only {
        engine::run(&ctx, &engine, duration)?
    } else {
        let bench_dir = args
            .dir
            .clone()
            .unwrap_or_else(|| global.data_dir().join("bench"));
        store::run(&mut ctx, &engine, args, bench_dir, duration)?
    };
    ctx.pb.finish_and_clear();

    let openssl = if args.compare_openssl {
        Some(openssl::run_openssl(ss)?)
    } else {
        None
    };
    if global.json {
        report::print_json(&results, &ctx, openssl)
    } else {
        report::print_table(&results, &ctx, args.engine_only, openssl)
    }
}
