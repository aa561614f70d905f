//! Engine + block store, as volumes use them: `encrypt`/`decrypt` (the engine alone on the
//! same requests), `write`/`read` (the store runs the engine between the buffer and its
//! storage), `store_write`/`store_read` (the store alone) and the `memcpy` peer.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use ebsim_io::{BlockStore, FileStore, IoError, MemoryStore, MmapStore, XtsEngine};

use super::measure::{Context, Measured, Plan};
use super::{BenchArgs, Pattern, StoreKind};
use crate::CliError;
use crate::args::{KIB, MIB};

/// Stores up to this size are filled before reads are measured.
const PREFILL_MAX: u64 = 16 << 30;
/// The memcpy peer runs for stores up to this size (it needs as much memory again).
const MEMCPY_MAX: u64 = 4 << 30;

/// The store a run measures. A file store lives in a temporary directory that is removed
/// when the run ends, however it ends.
struct Store {
    store: Box<dyn BlockStore>,
    _dir: Option<tempfile::TempDir>,
}

fn open_store(args: &BenchArgs, bench_dir: PathBuf, size: u64) -> Result<Store, CliError> {
    let ss = args.sector_size;
    if args.store == StoreKind::Memory {
        return Ok(Store {
            store: Box::new(MemoryStore::new(ss, size >> ss.shift())?),
            _dir: None,
        });
    }
    std::fs::create_dir_all(&bench_dir).map_err(CliError::io("create", &bench_dir))?;
    let dir = tempfile::Builder::new()
        .prefix("bench-")
        .tempdir_in(&bench_dir)
        .map_err(CliError::io("create a temporary directory in", &bench_dir))?;
    let path = dir.path().join("data.img");
    let file = FileStore::create(&path, ss, size)?;
    let store: Box<dyn BlockStore> = if args.store == StoreKind::Mmap {
        drop(file);
        Box::new(MmapStore::open(&path, ss)?)
    } else {
        Box::new(file)
    };
    Ok(Store {
        store,
        _dir: Some(dir),
    })
}

/// Measures every store operation; `ctx.store` and `ctx.pattern` are set from `args`.
pub(super) fn run(
    ctx: &mut Context,
    engine: &XtsEngine,
    args: &BenchArgs,
    bench_dir: PathBuf,
    duration: Duration,
) -> Result<Vec<Measured>, CliError> {
    let ss = args.sector_size;
    let threads = ctx.threads;
    let random = args.pattern == Pattern::Random;
    let io_size = args.io_size.unwrap_or(if random { 4 * KIB } else { MIB });
    if io_size == 0 || !io_size.is_multiple_of(u64::from(ss.get())) || io_size > 64 * MIB {
        return Err(CliError::InvalidArgument(format!(
            "--io-size {io_size}: use a multiple of the sector size {ss} up to 64 MiB"
        )));
    }
    let per_thread = args.size / io_size / threads as u64;
    if per_thread == 0 {
        return Err(CliError::InvalidArgument(format!(
            "--size {} is too small for {threads} threads of {io_size}-byte requests",
            args.size
        )));
    }
    let size = per_thread * threads as u64 * io_size;
    let store = open_store(args, bench_dir, size)?;
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
        prefill(ctx, &*store.store, engine, size)?;
    }
    let store = &*store.store;
    let mut results = Vec::new();
    results.push(ctx.run(&plan("encrypt"), |first, buf| {
        engine.encrypt_sectors(first, buf)
    })?);
    results.push(ctx.run(&plan("decrypt"), |first, buf| {
        engine.decrypt_sectors(first, buf)
    })?);
    // As a volume does it: the store runs the engine between the buffer and its storage
    // (straight into and out of the map or memory, where the store can).
    let (encryptor, decryptor) = (engine.encryptor(), engine.decryptor());
    // Every request holds its range lock, as a volume's do.
    let locks = store.range_locks();
    let count = |buf: &[u8]| (buf.len() >> ss.shift()) as u64;
    results.push(ctx.run(&plan("write"), |first, buf| {
        store.write_sectors_via(&locks.write(first, count(buf)), first, buf, &encryptor)
    })?);
    results.push(ctx.run(&plan("read"), |first, buf| {
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
    results.push(ctx.run(&plan("store_write"), |first, buf| {
        store.write_sectors(&locks.write(first, count(buf)), first, buf)
    })?);
    results.push(ctx.run(&plan("store_read"), |first, buf| {
        store.read_sectors(&locks.read(first, count(buf)), first, buf)
    })?);
    if size <= MEMCPY_MAX {
        let mut dst = vec![1u8; size as usize];
        let share = (per_thread * io_size) as usize;
        let shares: Vec<Mutex<&mut [u8]>> = dst.chunks_mut(share).map(Mutex::new).collect();
        let sectors_per_share = (share >> ss.shift()) as u64;
        results.push(ctx.run(&plan("memcpy"), |first, buf| {
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
    Ok(results)
}

/// Writes the whole store once (not measured), so that reads find data.
fn prefill(
    ctx: &Context,
    store: &dyn BlockStore,
    engine: &XtsEngine,
    size: u64,
) -> Result<(), CliError> {
    ctx.pb.set_message("prefill");
    let ss = store.sector_size();
    let threads = ctx.pool.current_num_threads() as u64;
    let share = (size / threads) >> ss.shift() << ss.shift();
    let results: Vec<Result<(), IoError>> = ctx.pool.broadcast(|b| {
        let t = b.index() as u64;
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
            ctx.pb.inc(n as u64);
            pos += n as u64;
        }
        Ok(())
    });
    results.into_iter().collect::<Result<(), IoError>>()?;
    Ok(())
}
