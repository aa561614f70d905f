//! XTS-AES-256 sector engine throughput.
//!
//! - `one call per sector`: each call encrypts (decrypts) one sector with its own tweak, the
//!   work `openssl speed -evp aes-256-xts -bytes N` does. Peers in the same group: OpenSSL
//!   (`--features openssl-bench`, the vendored current release) and `xts-mode`.
//! - `1 MiB runs`: one call per 1 MiB run of consecutive sectors, on the calling thread and
//!   spread over all cores (`_par`).
//! - `backends`: one call per sector on each backend this CPU can run.
//! - `one call per sector, fastest batch`: the ebsim and OpenSSL rows of `one call per sector`,
//!   but each criterion sample runs its iterations in batches of 64 calls and reports its
//!   fastest batch (scaled to the sample's iteration count). On a machine shared with other
//!   work, a plain sample mixes in whatever time slices the benchmark lost; the fastest batch of
//!   a sample is the uncontended speed, measured the same way for both peers.
//!
//! `cargo bench --features openssl-bench --bench engine -- 'one call per sector'`

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes::Aes256;
use aes::cipher::KeyInit;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ebsim_io::{Backend, SectorSize, XtsEngine, XtsKey};
use xts_mode::{Xts128, get_tweak_default};

const SECTOR_SIZES: [SectorSize; 2] = [SectorSize::S512, SectorSize::S4096];
const RUN: usize = 1 << 20;

fn key_bytes() -> Vec<u8> {
    (0..64u8)
        .map(|i| i.wrapping_mul(73).wrapping_add(11))
        .collect()
}

fn key() -> XtsKey {
    XtsKey::from_slice(&key_bytes()).expect("a valid 64-byte key")
}

fn xts_mode() -> Xts128<Aes256> {
    let k = key_bytes();
    Xts128::new(
        Aes256::new_from_slice(&k[..32]).expect("32 bytes"),
        Aes256::new_from_slice(&k[32..]).expect("32 bytes"),
    )
}

/// OpenSSL's EVP AES-256-XTS through one reused `CipherCtx`: the key is set once; each sector
/// only re-initialises the IV (`EVP_CipherInit_ex` with cipher and key NULL, which keeps the
/// expanded keys) and runs one in-place `EVP_CipherUpdate` — what `openssl speed -evp` times.
#[cfg(feature = "openssl-bench")]
struct OpenSsl {
    ctx: openssl::cipher_ctx::CipherCtx,
    encrypt: bool,
}

#[cfg(feature = "openssl-bench")]
impl OpenSsl {
    fn new(encrypt: bool) -> Self {
        let mut ctx = openssl::cipher_ctx::CipherCtx::new().expect("EVP_CIPHER_CTX");
        let cipher = openssl::cipher::Cipher::aes_256_xts();
        let k = key_bytes();
        if encrypt {
            ctx.encrypt_init(Some(cipher), Some(&k), Some(&[0u8; 16]))
                .expect("init");
        } else {
            ctx.decrypt_init(Some(cipher), Some(&k), Some(&[0u8; 16]))
                .expect("init");
        }
        Self { ctx, encrypt }
    }

    fn sector(&mut self, n: u64, buf: &mut [u8]) {
        let iv = u128::from(n).to_le_bytes();
        if self.encrypt {
            self.ctx.encrypt_init(None, None, Some(&iv)).expect("iv");
        } else {
            self.ctx.decrypt_init(None, None, Some(&iv)).expect("iv");
        }
        let len = buf.len();
        self.ctx.cipher_update_inplace(buf, len).expect("update");
    }
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_millis(700));
    g.measurement_time(Duration::from_secs(2));
    g
}

fn one_call_per_sector(c: &mut Criterion) {
    let key = key();
    let mut g = configure(c, "one call per sector");
    for ss in SECTOR_SIZES {
        let n = ss.bytes();
        g.throughput(Throughput::Bytes(n as u64));
        let engine = XtsEngine::new(&key, ss);
        let mut buf = vec![0x5au8; n];
        let mut sector = 0u64;
        for (op, encrypt) in [("encrypt", true), ("decrypt", false)] {
            g.bench_function(
                BenchmarkId::new(format!("{op}/ebsim-{}", engine.backend()), n),
                |b| {
                    b.iter(|| {
                        sector = sector.wrapping_add(1) & 0xffff_ffff;
                        let r = if encrypt {
                            engine.encrypt_sectors(sector, &mut buf)
                        } else {
                            engine.decrypt_sectors(sector, &mut buf)
                        };
                        r.expect("whole sector");
                        black_box(&buf);
                    })
                },
            );
            #[cfg(feature = "openssl-bench")]
            {
                let mut ossl = OpenSsl::new(encrypt);
                g.bench_function(BenchmarkId::new(format!("{op}/openssl"), n), |b| {
                    b.iter(|| {
                        sector = sector.wrapping_add(1) & 0xffff_ffff;
                        ossl.sector(sector, &mut buf);
                        black_box(&buf);
                    })
                });
            }
            let xts = xts_mode();
            g.bench_function(BenchmarkId::new(format!("{op}/xts-mode"), n), |b| {
                b.iter(|| {
                    sector = sector.wrapping_add(1) & 0xffff_ffff;
                    if encrypt {
                        xts.encrypt_sector(&mut buf, u128::from(sector).to_le_bytes().into());
                    } else {
                        xts.decrypt_sector(&mut buf, u128::from(sector).to_le_bytes().into());
                    }
                    black_box(&buf);
                })
            });
        }
    }
    g.finish();
}

/// Calls per timed batch in `one call per sector, fastest batch`.
const BATCH: u64 = 64;

/// Runs `f` `iters` times in batches of [`BATCH`] and returns the fastest batch's time scaled to
/// `iters` calls.
fn fastest_batch(iters: u64, mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..iters.div_ceil(BATCH) {
        let start = Instant::now();
        for _ in 0..BATCH {
            f();
        }
        best = best.min(start.elapsed());
    }
    best.mul_f64(iters as f64 / BATCH as f64)
}

fn one_call_per_sector_fastest_batch(c: &mut Criterion) {
    let key = key();
    let mut g = configure(c, "one call per sector, fastest batch");
    for ss in SECTOR_SIZES {
        let n = ss.bytes();
        g.throughput(Throughput::Bytes(n as u64));
        let engine = XtsEngine::new(&key, ss);
        let mut buf = vec![0x5au8; n];
        let mut sector = 0u64;
        for (op, encrypt) in [("encrypt", true), ("decrypt", false)] {
            g.bench_function(
                BenchmarkId::new(format!("{op}/ebsim-{}", engine.backend()), n),
                |b| {
                    b.iter_custom(|iters| {
                        fastest_batch(iters, || {
                            sector = sector.wrapping_add(1) & 0xffff_ffff;
                            let r = if encrypt {
                                engine.encrypt_sectors(sector, &mut buf)
                            } else {
                                engine.decrypt_sectors(sector, &mut buf)
                            };
                            r.expect("whole sector");
                            black_box(&buf);
                        })
                    })
                },
            );
            #[cfg(feature = "openssl-bench")]
            {
                let mut ossl = OpenSsl::new(encrypt);
                g.bench_function(BenchmarkId::new(format!("{op}/openssl"), n), |b| {
                    b.iter_custom(|iters| {
                        fastest_batch(iters, || {
                            sector = sector.wrapping_add(1) & 0xffff_ffff;
                            ossl.sector(sector, &mut buf);
                            black_box(&buf);
                        })
                    })
                });
            }
        }
    }
    g.finish();
}

fn runs(c: &mut Criterion) {
    let key = key();
    let mut g = configure(c, "1 MiB runs");
    g.throughput(Throughput::Bytes(RUN as u64));
    let mut buf = vec![0x33u8; RUN];
    for ss in SECTOR_SIZES {
        let engine = XtsEngine::new(&key, ss);
        let n = ss.bytes();
        g.bench_function(BenchmarkId::new("encrypt/one core", n), |b| {
            b.iter(|| {
                engine
                    .encrypt_sectors(1000, black_box(&mut buf))
                    .expect("aligned")
            })
        });
        g.bench_function(BenchmarkId::new("decrypt/one core", n), |b| {
            b.iter(|| {
                engine
                    .decrypt_sectors(1000, black_box(&mut buf))
                    .expect("aligned")
            })
        });
        g.bench_function(BenchmarkId::new("encrypt/all cores", n), |b| {
            b.iter(|| {
                engine
                    .encrypt_sectors_par(1000, black_box(&mut buf))
                    .expect("aligned")
            })
        });
        g.bench_function(BenchmarkId::new("decrypt/all cores", n), |b| {
            b.iter(|| {
                engine
                    .decrypt_sectors_par(1000, black_box(&mut buf))
                    .expect("aligned")
            })
        });
        let xts = xts_mode();
        g.bench_function(BenchmarkId::new("encrypt/xts-mode", n), |b| {
            b.iter(|| xts.encrypt_area(black_box(&mut buf), n, 1000, get_tweak_default))
        });
    }
    g.finish();
}

fn backends(c: &mut Criterion) {
    let key = key();
    let mut g = configure(c, "backends");
    for ss in SECTOR_SIZES {
        let n = ss.bytes();
        g.throughput(Throughput::Bytes(n as u64));
        let mut buf = vec![0x77u8; n];
        for backend in Backend::ALL.into_iter().filter(|b| b.is_available()) {
            let engine = XtsEngine::with_backend(&key, ss, backend).expect("available");
            let mut sector = 0u64;
            g.bench_function(BenchmarkId::new(format!("encrypt/{backend}"), n), |b| {
                b.iter(|| {
                    sector = sector.wrapping_add(1);
                    engine
                        .encrypt_sectors(sector, &mut buf)
                        .expect("whole sector");
                    black_box(&buf);
                })
            });
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    one_call_per_sector,
    one_call_per_sector_fastest_batch,
    runs,
    backends
);
criterion_main!(benches);
