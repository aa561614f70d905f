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

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ebsim_io::{
    Backend, BlockStore, FileStore, IoError, MemoryStore, MmapStore, SectorSize, XtsEngine, XtsKey,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand::RngCore;

use crate::{CliError, GlobalArgs};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
/// Every how many operations one is timed for the latency percentiles.
const SAMPLE_EVERY: u64 = 8;
/// At most this many latency samples per thread and operation.
const MAX_SAMPLES: usize = 1 << 20;
/// Stores up to this size are filled before reads are measured.
const PREFILL_MAX: u64 = 16 << 30;
/// The memcpy peer runs for stores up to this size (it needs as much memory again).
const MEMCPY_MAX: u64 = 4 << 30;

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

fn parse_sector_size(s: &str) -> Result<SectorSize, String> {
    match s.trim().parse::<u64>() {
        Ok(512) => Ok(SectorSize::S512),
        Ok(4096) => Ok(SectorSize::S4096),
        _ => Err(format!("unsupported sector size {s}: use 512 or 4096")),
    }
}

/// Parses a size in bytes with an optional binary suffix (K/KiB, M/MiB, G/GiB, T/TiB).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected e.g. 4096, 64MiB, 8TiB"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => KIB,
        "m" | "mib" => MIB,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "invalid size {s:?}: use a suffix KiB, MiB, GiB or TiB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    Backend::ALL
        .into_iter()
        .find(|b| b.name().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
            format!("unknown backend {s:?}: use one of {}", names.join(", "))
        })
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 600.0 => Ok(x),
        _ => Err(format!(
            "invalid duration {s:?}: use seconds between 0 and 600"
        )),
    }
}

/// One measured operation.
#[derive(Debug, serde::Serialize)]
struct Measured {
    op: &'static str,
    sector_size: u32,
    io_size: u64,
    threads: usize,
    backend: &'static str,
    store: Option<&'static str>,
    pattern: Option<&'static str>,
    bytes: u64,
    ops: u64,
    seconds: f64,
    bytes_per_sec: f64,
    ops_per_sec: f64,
    p50_ns: u64,
    p99_ns: u64,
}

/// What every worker of one measured operation needs.
struct Plan {
    name: &'static str,
    io_size: usize,
    /// Requests per thread share (the share is `per_thread × io_size` bytes).
    per_thread: u64,
    sectors_per_io: u64,
    random: bool,
    duration: Duration,
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

struct Context {
    sector_size: SectorSize,
    threads: usize,
    backend: Backend,
    store: Option<&'static str>,
    pattern: Option<&'static str>,
}

impl Context {
    fn run<F>(
        &self,
        pool: &rayon::ThreadPool,
        plan: &Plan,
        pb: &ProgressBar,
        op: F,
    ) -> Result<Measured, CliError>
    where
        F: Fn(u64, &mut [u8]) -> Result<(), IoError> + Sync,
    {
        let (ops, seconds, samples) = measure(pool, plan, pb, op)?;
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

/// Removes the file store's temporary file when the run ends, however it ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn progress_bar() -> ProgressBar {
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

fn new_engine(sector_size: SectorSize, backend: Option<Backend>) -> Result<XtsEngine, CliError> {
    let mut bytes = [0u8; 64];
    loop {
        rand::rng().fill_bytes(&mut bytes);
        if bytes[..32] != bytes[32..] {
            break;
        }
    }
    let key = XtsKey::from_slice(&bytes)?;
    bytes.fill(0);
    Ok(match backend {
        Some(b) => XtsEngine::with_backend(&key, sector_size, b)?,
        None => XtsEngine::new(&key, sector_size),
    })
}

pub(crate) fn run(global: &GlobalArgs, args: &BenchArgs) -> Result<(), CliError> {
    let ss = args.sector_size;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 || threads > 1024 {
        return Err(CliError::Other(format!(
            "--threads {threads}: use 1 to 1024"
        )));
    }
    if args.compare_openssl {
        check_openssl()?;
    }
    let engine = new_engine(ss, args.backend)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("ebsim-bench-{i}"))
        .build()
        .map_err(|e| CliError::Other(format!("cannot start {threads} bench threads: {e}")))?;
    let duration = Duration::from_secs_f64(args.seconds);
    let pb = progress_bar();
    let mut results = Vec::new();
    let mut ctx = Context {
        sector_size: ss,
        threads,
        backend: engine.backend(),
        store: None,
        pattern: None,
    };

    if args.engine_only {
        for io_size in [ss.bytes(), MIB as usize] {
            for (name, decrypt) in [("encrypt", false), ("decrypt", true)] {
                let plan = Plan {
                    name,
                    io_size,
                    // Tweaks run on forever; the buffer is reused, as `openssl speed` does.
                    per_thread: 1 << 40,
                    sectors_per_io: (io_size / ss.bytes()) as u64,
                    random: false,
                    duration,
                };
                let engine = &engine;
                results.push(ctx.run(&pool, &plan, &pb, |first, buf| {
                    if decrypt {
                        engine.decrypt_sectors(first, buf)
                    } else {
                        engine.encrypt_sectors(first, buf)
                    }
                })?);
            }
        }
    } else {
        let random = args.pattern == Pattern::Random;
        let io_size = args.io_size.unwrap_or(if random { 4 * KIB } else { MIB });
        if io_size == 0 || !io_size.is_multiple_of(u64::from(ss.get())) || io_size > 64 * MIB {
            return Err(CliError::Other(format!(
                "--io-size {io_size}: use a multiple of the sector size {ss} up to 64 MiB"
            )));
        }
        let per_thread = args.size / io_size / threads as u64;
        if per_thread == 0 {
            return Err(CliError::Other(format!(
                "--size {} is too small for {threads} threads of {io_size}-byte requests",
                args.size
            )));
        }
        let size = per_thread * threads as u64 * io_size;
        let mut temp = None;
        let store: Box<dyn BlockStore> = match args.store {
            StoreKind::Memory => Box::new(MemoryStore::new(ss, size >> ss.shift())?),
            StoreKind::File | StoreKind::Mmap => {
                let dir = args
                    .dir
                    .clone()
                    .unwrap_or_else(|| global.data_dir().join("bench"));
                std::fs::create_dir_all(&dir).map_err(|e| {
                    CliError::Other(format!(
                        "cannot create the bench directory {}: {e}",
                        dir.display()
                    ))
                })?;
                let path = temp_path(&dir);
                let s = FileStore::create(&path, ss, size)?;
                temp = Some(TempFile(path.clone()));
                if args.store == StoreKind::Mmap {
                    drop(s);
                    Box::new(MmapStore::open(&path, ss)?)
                } else {
                    Box::new(s)
                }
            }
        };
        ctx.store = Some(match args.store {
            StoreKind::Memory => "memory",
            StoreKind::File => "file",
            StoreKind::Mmap => "mmap",
        });
        ctx.pattern = Some(if random { "random" } else { "seq" });
        let plan = |name| Plan {
            name,
            io_size: io_size as usize,
            per_thread,
            sectors_per_io: io_size >> ss.shift(),
            random,
            duration,
        };
        if size <= PREFILL_MAX {
            prefill(&pool, &*store, &engine, size, &pb)?;
        }
        let (engine, store) = (&engine, &*store);
        results.push(ctx.run(&pool, &plan("encrypt"), &pb, |first, buf| {
            engine.encrypt_sectors(first, buf)
        })?);
        results.push(ctx.run(&pool, &plan("decrypt"), &pb, |first, buf| {
            engine.decrypt_sectors(first, buf)
        })?);
        // As a volume does it: the store runs the engine between the buffer and its storage
        // (straight into and out of the map or memory, where the store can).
        let (encryptor, decryptor) = (engine.encryptor(), engine.decryptor());
        // Every request holds its range lock, as a volume's do.
        let locks = store.range_locks();
        let count = |buf: &[u8]| (buf.len() >> ss.shift()) as u64;
        results.push(ctx.run(&pool, &plan("write"), &pb, |first, buf| {
            store.write_sectors_via(&locks.write(first, count(buf)), first, buf, &encryptor)
        })?);
        results.push(ctx.run(&pool, &plan("read"), &pb, |first, buf| {
            let n = buf.len() >> ss.shift();
            let mut small = [false; 256];
            let mut large = Vec::new();
            let holes = if n <= small.len() {
                &mut small[..n]
            } else {
                large.resize(n, false);
                &mut large[..]
            };
            store.read_sectors_via(&locks.read(first, n as u64), first, buf, holes, &decryptor)
        })?);
        // The store alone, and its peer: the same copies into plain memory of the same size.
        results.push(ctx.run(&pool, &plan("store_write"), &pb, |first, buf| {
            store.write_sectors(&locks.write(first, count(buf)), first, buf)
        })?);
        results.push(ctx.run(&pool, &plan("store_read"), &pb, |first, buf| {
            store.read_sectors(&locks.read(first, count(buf)), first, buf)
        })?);
        if size <= MEMCPY_MAX {
            let mut dst = vec![1u8; size as usize];
            let share = (per_thread * io_size) as usize;
            let shares: Vec<Mutex<&mut [u8]>> = dst.chunks_mut(share).map(Mutex::new).collect();
            let sectors_per_share = (share >> ss.shift()) as u64;
            results.push(ctx.run(&pool, &plan("memcpy"), &pb, |first, buf| {
                let t = (first / sectors_per_share) as usize;
                let off = ((first % sectors_per_share) << ss.shift()) as usize;
                if let Some(m) = shares.get(t) {
                    let mut d = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if let Some(d) = d.get_mut(off..off + buf.len()) {
                        d.copy_from_slice(buf);
                    }
                }
                Ok(())
            })?);
        }
        drop(temp);
    }
    pb.finish_and_clear();

    let openssl = if args.compare_openssl {
        Some(run_openssl(ss)?)
    } else {
        None
    };
    // Our figure to set against OpenSSL's: encryption of one sector per call if measured,
    // else the first encrypt figure.
    let ours = results
        .iter()
        .find(|m| m.op == "encrypt" && m.io_size == u64::from(ss.get()))
        .or_else(|| results.iter().find(|m| m.op == "encrypt"));
    if global.json {
        let mut obj = serde_json::json!({
            "sector_size": ss.get(),
            "threads": threads,
            "backend": engine.backend().name(),
            "results": results,
        });
        if let (Some(o), Some(m)) = (openssl, ours) {
            obj["openssl"] = serde_json::json!({
                "command": openssl_args(ss).join(" "),
                "bytes_per_sec": o,
                "ours_bytes_per_sec": m.bytes_per_sec,
                "ours_threads": m.threads,
                "ratio": m.bytes_per_sec / o,
            });
        }
        outln!("{obj}")?;
    } else {
        print_table(&results, &ctx, args.engine_only)?;
        if let (Some(o), Some(m)) = (openssl, ours) {
            outln!(
                "openssl speed (1 thread, {ss}-byte calls): {:.2} GB/s; ours ({} thread{}, {}-byte calls): {:.2} GB/s = {:.2}x",
                o / 1e9,
                m.threads,
                if m.threads == 1 { "" } else { "s" },
                m.io_size,
                m.bytes_per_sec / 1e9,
                m.bytes_per_sec / o
            )?;
        }
    }
    Ok(())
}

fn temp_path(dir: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!("bench-{}-{nanos}.img", std::process::id()))
}

/// Writes the whole store once (not measured), so that reads find data.
fn prefill(
    pool: &rayon::ThreadPool,
    store: &dyn BlockStore,
    engine: &XtsEngine,
    size: u64,
    pb: &ProgressBar,
) -> Result<(), CliError> {
    pb.set_message("prefill");
    let ss = store.sector_size();
    let threads = pool.current_num_threads() as u64;
    let share = (size / threads) >> ss.shift() << ss.shift();
    let results: Vec<Result<(), IoError>> = pool.broadcast(|ctx| {
        let t = ctx.index() as u64;
        let start = t * share;
        let end = if t + 1 == threads {
            size
        } else {
            start + share
        };
        let mut buf = vec![0x5Au8; MIB as usize];
        let mut pos = start;
        while pos < end {
            let n = (end - pos).min(MIB) as usize;
            let first = pos >> ss.shift();
            engine.encrypt_sectors(first, &mut buf[..n])?;
            let held = store.range_locks().write(first, (n >> ss.shift()) as u64);
            store.write_sectors(&held, first, &buf[..n])?;
            pb.inc(n as u64);
            pos += n as u64;
        }
        Ok(())
    });
    results.into_iter().collect::<Result<(), IoError>>()?;
    Ok(())
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

fn print_table(results: &[Measured], ctx: &Context, engine_only: bool) -> Result<(), CliError> {
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
    Ok(())
}

fn openssl_args(ss: SectorSize) -> Vec<String> {
    [
        "openssl",
        "speed",
        "-seconds",
        "2",
        "-bytes",
        &ss.get().to_string(),
        "-evp",
        "aes-256-xts",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn check_openssl() -> Result<(), CliError> {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(_) => Err(CliError::Other(
            "`openssl version` failed; --compare-openssl needs a working openssl".into(),
        )),
        Err(e) => Err(CliError::Other(format!(
            "--compare-openssl needs the openssl command on PATH ({e}); install OpenSSL or drop the flag"
        ))),
    }
}

/// Runs `openssl speed` for one sector size and returns its bytes per second.
fn run_openssl(ss: SectorSize) -> Result<f64, CliError> {
    let args = openssl_args(ss);
    let out = Command::new(&args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| CliError::Other(format!("cannot run openssl: {e}")))?;
    if !out.status.success() {
        return Err(CliError::Other(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_openssl_speed(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
        CliError::Other(format!(
            "no aes-256-xts figure in the output of `{}`",
            args.join(" ")
        ))
    })
}

/// Finds the `aes-256-xts` row of `openssl speed` output and returns its last figure in
/// bytes per second (OpenSSL prints thousands of bytes per second, suffixed `k`).
fn parse_openssl_speed(out: &str) -> Option<f64> {
    out.lines().rev().find_map(|line| {
        let mut words = line.split_whitespace();
        let name = words.next()?;
        if !name.eq_ignore_ascii_case("aes-256-xts") {
            return None;
        }
        let last = words.last()?;
        let (num, mult) = match last.strip_suffix(['k', 'K']) {
            Some(n) => (n, 1000.0),
            None => (last, 1.0),
        };
        num.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .map(|x| x * mult)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("8 TiB"), Ok(8 << 40));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }

    #[test]
    fn openssl_output_is_parsed() {
        let out = "version: 3.0.19\nbuilt on: ...\nThe 'numbers' are in 1000s of bytes per second processed.\n\
                   type           4096 bytes\nAES-256-XTS    6512345.67k\n";
        assert_eq!(parse_openssl_speed(out), Some(6_512_345_670.0));
        let multi = "type 16 bytes 64 bytes\naes-256-xts 100.00k 200.50k\n";
        assert_eq!(parse_openssl_speed(multi), Some(200_500.0));
        assert_eq!(parse_openssl_speed("no figures here\n"), None);
        assert_eq!(parse_openssl_speed("aes-256-xts garbage\n"), None);
    }

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 51);
        assert_eq!(percentile(&v, 99), 100);
        assert_eq!(percentile(&[], 99), 0);
    }
}
