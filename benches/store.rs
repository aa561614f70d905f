//! Block store throughput: sequential 1 MiB and random 4 KiB requests on the memory, file
//! (pread/pwrite) and mmap stores, alone and with XTS encryption through the engine, each
//! group with a memcpy peer doing the same copies into plain memory.
//!
//! `cargo bench --bench store` measures 1 GiB sequential runs; under `cargo test` (no
//! `--bench`) every function runs once on small sizes.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ebsim_io::{BlockStore, FileStore, MemoryStore, MmapStore, SectorSize, XtsEngine, XtsKey};
use rayon::prelude::*;

const MIB: usize = 1 << 20;
const SS: SectorSize = SectorSize::S4096;
/// Random 4 KiB requests per measured iteration.
const BATCH: usize = 4096;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn engine() -> XtsEngine {
    let key: Vec<u8> = (0u8..64).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
    XtsEngine::new(&XtsKey::from_slice(&key).expect("64-byte key"), SS)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(13) | 1).collect()
}

fn bench_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("bench dir");
    d
}

/// Random request-aligned sector numbers, the same for every function of a group.
fn offsets(num_requests: u64, per_request: u64) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..BATCH)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % num_requests) * per_request
        })
        .collect()
}

/// 1 GiB written then read in 1 MiB requests on every core: memory store vs memcpy.
fn seq_memory(c: &mut Criterion) {
    let size = if full() { 1 << 30 } else { 16 * MIB };
    let mut g = c.benchmark_group(format!("seq_write_read_{}MiB", size / MIB));
    g.throughput(Throughput::Bytes(2 * size as u64));
    g.sample_size(10);
    let src = pattern(size);
    let mut out = vec![0u8; size];

    let mut dst = vec![1u8; size];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.par_chunks_mut(MIB)
                .zip(src.par_chunks(MIB))
                .for_each(|(d, s)| d.copy_from_slice(s));
            out.par_chunks_mut(MIB)
                .zip(dst.par_chunks(MIB))
                .for_each(|(o, d)| o.copy_from_slice(d));
            black_box(&out);
        });
    });
    drop(dst);

    let store = MemoryStore::new(SS, (size / SS.bytes()) as u64).expect("memory store");
    // Every request holds its range lock, as volumes do.
    let locks = store.range_locks();
    let sectors = (MIB / SS.bytes()) as u64;
    g.bench_function("memory_store", |b| {
        b.iter(|| {
            src.par_chunks(MIB).enumerate().try_for_each(|(i, s)| {
                let first = i as u64 * sectors;
                store.write_sectors(&locks.write(first, sectors), first, s)
            })?;
            out.par_chunks_mut(MIB).enumerate().try_for_each(|(i, o)| {
                let first = i as u64 * sectors;
                store.read_sectors(&locks.read(first, sectors), first, o)
            })?;
            black_box(&out);
            Ok::<(), ebsim_io::IoError>(())
        });
    });
    g.finish();
}

/// Sequential 1 MiB requests with encryption: engine + store (memory and file) vs engine alone.
fn seq_engine_store(c: &mut Criterion) {
    let size = if full() { 64 * MIB } else { 4 * MIB };
    let mut g = c.benchmark_group(format!("seq_encrypted_{}MiB", size / MIB));
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10);
    let engine = engine();
    let sectors = (MIB / SS.bytes()) as u64;
    let mut buf = pattern(size);
    g.bench_function("encrypt_only", |b| {
        b.iter(|| {
            buf.par_chunks_mut(MIB)
                .enumerate()
                .try_for_each(|(i, s)| engine.encrypt_sectors(i as u64 * sectors, s))
        });
    });
    let dir = bench_dir();
    let file = FileStore::create(dir.join("seq.img"), SS, size as u64).expect("file store");
    let mapped = MmapStore::create(dir.join("seq-mapped.img"), SS, size as u64).expect("mmap");
    let mem = MemoryStore::new(SS, (size / SS.bytes()) as u64).expect("memory store");
    for (name, store) in [
        ("memory", &mem as &dyn BlockStore),
        ("file", &file),
        ("mmap", &mapped),
    ] {
        // Every request holds its range lock, as volumes do.
        let locks = store.range_locks();
        g.bench_function(BenchmarkId::new("encrypt_write", name), |b| {
            b.iter(|| {
                buf.par_chunks_mut(MIB).enumerate().try_for_each(|(i, s)| {
                    let first = i as u64 * sectors;
                    engine.encrypt_sectors(first, s)?;
                    store.write_sectors(&locks.write(first, sectors), first, s)
                })
            });
        });
        g.bench_function(BenchmarkId::new("read_decrypt", name), |b| {
            b.iter(|| {
                buf.par_chunks_mut(MIB).enumerate().try_for_each(|(i, s)| {
                    let first = i as u64 * sectors;
                    store.read_sectors(&locks.read(first, sectors), first, s)?;
                    engine.decrypt_sectors(first, s)
                })
            });
        });
        // As volumes do it: the store runs the engine between the buffer and its storage.
        let (enc, dec) = (engine.encryptor(), engine.decryptor());
        g.bench_function(BenchmarkId::new("write_via", name), |b| {
            b.iter(|| {
                buf.par_chunks_mut(MIB).enumerate().try_for_each(|(i, s)| {
                    let first = i as u64 * sectors;
                    store.write_sectors_via(&locks.write(first, sectors), first, s, &enc)
                })
            });
        });
        g.bench_function(BenchmarkId::new("read_via", name), |b| {
            b.iter(|| {
                buf.par_chunks_mut(MIB).enumerate().try_for_each(|(i, s)| {
                    let mut holes = [false; MIB / 4096];
                    let first = i as u64 * sectors;
                    store.read_sectors_via(&locks.read(first, sectors), first, s, &mut holes, &dec)
                })
            });
        });
    }
    g.finish();
    drop((file, mapped));
    let _ = std::fs::remove_dir_all(dir);
}

/// Random 4 KiB requests on one thread: stores alone and with encryption, vs memcpy.
fn random_4k(c: &mut Criterion) {
    let size = if full() { 1 << 30 } else { 16 * MIB };
    let mut g = c.benchmark_group(format!("random_4k_{}MiB", size / MIB));
    g.throughput(Throughput::Bytes((BATCH * 4096) as u64));
    let offs = offsets((size / 4096) as u64, 1);
    let mut buf = pattern(4096);

    let mut dst = vec![1u8; size];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            for &o in &offs {
                let o = o as usize * 4096;
                dst[o..o + 4096].copy_from_slice(&buf);
            }
            black_box(&dst);
        });
    });
    drop(dst);

    let dir = bench_dir();
    let fill = pattern(MIB);
    let mem = MemoryStore::new(SS, (size / 4096) as u64).expect("memory store");
    let file = FileStore::create(dir.join("random.img"), SS, size as u64).expect("file store");
    let mapped =
        MmapStore::create(dir.join("random-mapped.img"), SS, size as u64).expect("mmap store");
    for store in [&mem as &dyn BlockStore, &file, &mapped] {
        for i in 0..size / MIB {
            let first = (i * MIB / 4096) as u64;
            let held = store.range_locks().write(first, (MIB / 4096) as u64);
            store.write_sectors(&held, first, &fill).expect("prefill");
        }
    }
    let engine = engine();
    for (name, store) in [
        ("memory", &mem as &dyn BlockStore),
        ("file", &file),
        ("mmap", &mapped),
    ] {
        // Every request holds its range lock, as volumes do.
        let locks = store.range_locks();
        g.bench_function(BenchmarkId::new("write", name), |b| {
            b.iter(|| {
                offs.iter()
                    .try_for_each(|&o| store.write_sectors(&locks.write(o, 1), o, &buf))
            });
        });
        g.bench_function(BenchmarkId::new("read", name), |b| {
            b.iter(|| {
                offs.iter()
                    .try_for_each(|&o| store.read_sectors(&locks.read(o, 1), o, &mut buf))
            });
        });
        g.bench_function(BenchmarkId::new("encrypt_write", name), |b| {
            b.iter(|| {
                offs.iter().try_for_each(|&o| {
                    engine.encrypt_sectors(o, &mut buf)?;
                    store.write_sectors(&locks.write(o, 1), o, &buf)
                })
            });
        });
        g.bench_function(BenchmarkId::new("read_decrypt", name), |b| {
            b.iter(|| {
                offs.iter().try_for_each(|&o| {
                    store.read_sectors(&locks.read(o, 1), o, &mut buf)?;
                    engine.decrypt_sectors(o, &mut buf)
                })
            });
        });
        let (enc, dec) = (engine.encryptor(), engine.decryptor());
        g.bench_function(BenchmarkId::new("write_via", name), |b| {
            b.iter(|| {
                offs.iter().try_for_each(|&o| {
                    store.write_sectors_via(&locks.write(o, 1), o, &mut buf, &enc)
                })
            });
        });
        g.bench_function(BenchmarkId::new("read_via", name), |b| {
            b.iter(|| {
                offs.iter().try_for_each(|&o| {
                    let held = locks.read(o, 1);
                    store.read_sectors_via(&held, o, &mut buf, &mut [false], &dec)
                })
            });
        });
    }
    g.finish();
    drop((file, mapped));
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, seq_memory, random_4k, seq_engine_store);
criterion_main!(benches);
