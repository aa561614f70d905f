//! The volume's own read/write path against the engine + store it is built on.
//!
//! Group `volume_io`: for 4 KiB and 1 MiB requests, `engine+store/*` encrypts a buffer with
//! the XTS engine (`encrypt_sectors_par`, the call the volume makes: rayon fan-out for long
//! runs) and writes it to a `MemoryStore` (reads: store read, then decrypt), and `volume/*`
//! does the same request through `AttachedVolume::{write_at, read_at}` (sector locks, hole
//! handling). Target: volume ≥ 0.9× the
//! engine+store throughput at both sizes (compare the two lines of the same size).
//!
//! Group `attach`: `kms_in_process` is a whole attach as EBS does it — Decrypt of the wrapped
//! key by the in-process KMS as the EC2 infrastructure session through the volume's grant
//! (policy and grant checks, AES-GCM unwrap, audit record), then lock, metadata and the XTS
//! key schedule — followed by a detach. Target: p50 < 50 µs. `in_memory_without_kms` is the
//! same without the KMS round trip.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ebsim_io::{BlockStore, MemoryStore, SectorSize, XtsEngine, XtsKey};
use ebsim_kms_client::{ClientError, EncryptionContext};
use ebsim_volume::{NewVolume, VolumeRoot, new_volume_id};

const SIZE: u64 = 64 << 20;

fn key() -> Vec<u8> {
    (0u8..64)
        .map(|i| i.wrapping_mul(73).wrapping_add(5))
        .collect()
}

fn new_volume(root: &VolumeRoot) -> String {
    let id = new_volume_id();
    root.create(NewVolume {
        volume_id: id.clone(),
        size_bytes: SIZE,
        sector_size: SectorSize::S4096,
        kms_key_arn: "arn:aws:kms:us-west-2:111122223333:key/bench".into(),
        wrapped_key: vec![1; 16],
        context: EncryptionContext::ebs(&id).unwrap_or_default(),
        grant_id: None,
        grantee_principal: None,
        retiring_principal: None,
        owner: None,
    })
    .unwrap_or_else(|e| panic!("create: {e}"));
    id
}

fn volume_io(c: &mut Criterion) {
    let xts = XtsKey::from_slice(&key()).unwrap_or_else(|e| panic!("{e}"));
    let engine = XtsEngine::new(&xts, SectorSize::S4096);
    let store = MemoryStore::new(SectorSize::S4096, SIZE / 4096).unwrap_or_else(|e| panic!("{e}"));
    let root = VolumeRoot::in_memory();
    let id = new_volume(&root);
    let vol = root
        .attach_with(&id, |_, _| Ok::<_, ClientError>(key()))
        .unwrap_or_else(|e| panic!("attach: {e}"));

    let mut g = c.benchmark_group("volume_io");
    for len in [4096usize, 1 << 20] {
        g.throughput(Throughput::Bytes(len as u64));
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8 | 1).collect();
        let sectors = (SIZE as usize / len) as u64;
        let mut n = 0u64;
        g.bench_with_input(BenchmarkId::new("engine+store/write", len), &len, |b, _| {
            let mut buf = vec![0u8; len];
            b.iter(|| {
                n = (n + 1) % sectors;
                let first = n * (len as u64 / 4096);
                buf.copy_from_slice(&data);
                engine
                    .encrypt_sectors_par(first, &mut buf)
                    .unwrap_or_else(|e| panic!("{e}"));
                let held = store.range_locks().write(first, len as u64 / 4096);
                store
                    .write_sectors(&held, first, &buf)
                    .unwrap_or_else(|e| panic!("{e}"));
            });
        });
        g.bench_with_input(BenchmarkId::new("volume/write", len), &len, |b, _| {
            b.iter(|| {
                n = (n + 1) % sectors;
                vol.write_at(n * len as u64, black_box(&data))
                    .unwrap_or_else(|e| panic!("{e}"));
            });
        });
        g.bench_with_input(BenchmarkId::new("engine+store/read", len), &len, |b, _| {
            let mut buf = vec![0u8; len];
            b.iter(|| {
                n = (n + 1) % sectors;
                let first = n * (len as u64 / 4096);
                let held = store.range_locks().read(first, len as u64 / 4096);
                store
                    .read_sectors(&held, first, &mut buf)
                    .unwrap_or_else(|e| panic!("{e}"));
                engine
                    .decrypt_sectors_par(first, &mut buf)
                    .unwrap_or_else(|e| panic!("{e}"));
                black_box(&buf);
            });
        });
        g.bench_with_input(BenchmarkId::new("volume/read", len), &len, |b, _| {
            let mut buf = vec![0u8; len];
            b.iter(|| {
                n = (n + 1) % sectors;
                vol.read_at(n * len as u64, &mut buf)
                    .unwrap_or_else(|e| panic!("{e}"));
                black_box(&buf);
            });
        });
    }
    g.finish();
}

fn attach(c: &mut Criterion) {
    let root = VolumeRoot::in_memory();
    let id = new_volume(&root);
    c.bench_function("attach/in_memory_without_kms", |b| {
        b.iter(|| {
            let v = root
                .attach_with(&id, |_, _| Ok::<_, ClientError>(key()))
                .unwrap_or_else(|e| panic!("attach: {e}"));
            v.detach().unwrap_or_else(|e| panic!("detach: {e}"));
        });
    });
}

fn attach_kms(c: &mut Criterion) {
    let sim = ebsim::Simulator::in_memory();
    let meta = sim
        .ebs()
        .create_volume(&ebsim::CreateVolumeRequest::new(1 << 20))
        .unwrap_or_else(|e| panic!("create: {e}"));
    c.bench_function("attach/kms_in_process", |b| {
        b.iter(|| {
            let v = sim
                .ebs()
                .attach(&meta.volume_id)
                .unwrap_or_else(|e| panic!("attach: {e}"));
            v.detach().unwrap_or_else(|e| panic!("detach: {e}"));
        });
    });
}

criterion_group!(benches, volume_io, attach, attach_kms);
criterion_main!(benches);
