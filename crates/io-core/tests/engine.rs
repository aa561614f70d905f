//! XTS engine: vectors on every backend, agreement with `xts-mode`, parallel = serial, round
//! trips, typed errors that leave the buffer alone.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use aes::Aes256;
use aes::cipher::KeyInit;
use ebsim_io::{Backend, IoError, SectorSize, XtsEngine, XtsKey};
use proptest::prelude::*;
use xts_mode::{Xts128, get_tweak_default};

/// The backends this CPU can run (always at least `AesCrate`).
fn backends() -> Vec<Backend> {
    let b: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect();
    assert!(b.contains(&Backend::AesCrate));
    b
}

fn key(seed: u8) -> XtsKey {
    let bytes: Vec<u8> = (0..64u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(seed))
        .collect();
    XtsKey::from_slice(&bytes).unwrap()
}

fn key_bytes(seed: u8) -> Vec<u8> {
    (0..64u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(seed))
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift).
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

/// The oracle: `xts-mode` with the plain64 tweak.
fn oracle(key: &[u8], ss: usize, first: u64, buf: &mut [u8], encrypt: bool) {
    let xts = Xts128::new(
        Aes256::new_from_slice(&key[..32]).unwrap(),
        Aes256::new_from_slice(&key[32..]).unwrap(),
    );
    if encrypt {
        xts.encrypt_area(buf, ss, u128::from(first), get_tweak_default);
    } else {
        xts.decrypt_area(buf, ss, u128::from(first), get_tweak_default);
    }
}

#[test]
fn vectors_pass_on_every_backend() {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("data/xts_aes256_vectors.json")).unwrap();
    let vectors = json["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 10);
    for backend in backends() {
        for v in vectors {
            let name = v["name"].as_str().unwrap();
            let ss = match &v["sector_size"] {
                serde_json::Value::String(s) => s.parse::<u64>().unwrap(),
                other => other.as_u64().unwrap(),
            };
            let sector: u64 = v["sector"].as_str().unwrap().parse().unwrap();
            let key =
                XtsKey::from_slice(&hex::decode(v["key"].as_str().unwrap()).unwrap()).unwrap();
            let pt = hex::decode(v["plaintext"].as_str().unwrap()).unwrap();
            let ct = hex::decode(v["ciphertext"].as_str().unwrap()).unwrap();
            let engine =
                XtsEngine::with_backend(&key, SectorSize::new(ss).unwrap(), backend).unwrap();
            assert_eq!(engine.backend(), backend);
            let mut buf = pt.clone();
            engine.encrypt_sectors(sector, &mut buf).unwrap();
            assert!(buf == ct, "{name}: encrypt mismatch on {backend}");
            engine.decrypt_sectors(sector, &mut buf).unwrap();
            assert!(buf == pt, "{name}: decrypt mismatch on {backend}");
        }
    }
}

/// Runs of odd lengths at sector numbers that exercise carries in the 128-bit tweak.
#[test]
fn matches_xts_mode_at_edge_sectors() {
    let kb = key_bytes(7);
    let key = XtsKey::from_slice(&kb).unwrap();
    let starts = [
        0u64,
        1,
        (1 << 32) - 2,
        1 << 32,
        u64::MAX - 100,
        u64::MAX - 16,
        u64::MAX,
    ];
    for backend in backends() {
        for ss in [SectorSize::S512, SectorSize::S4096] {
            let engine = XtsEngine::with_backend(&key, ss, backend).unwrap();
            for count in [1usize, 3, 17, 33, 101] {
                for &start in &starts {
                    if start.checked_add(count as u64 - 1).is_none() {
                        continue;
                    }
                    let pt = data(count * ss.bytes(), start ^ count as u64);
                    let mut want = pt.clone();
                    oracle(&kb, ss.bytes(), start, &mut want, true);
                    let mut got = pt.clone();
                    engine.encrypt_sectors(start, &mut got).unwrap();
                    assert!(got == want, "{backend} ss={ss} start={start} count={count}");
                    engine.decrypt_sectors(start, &mut got).unwrap();
                    assert!(
                        got == pt,
                        "{backend} ss={ss} start={start} count={count} decrypt"
                    );
                }
            }
        }
    }
}

#[test]
fn other_sector_sizes_match_xts_mode() {
    let kb = key_bytes(11);
    let key = XtsKey::from_slice(&kb).unwrap();
    for backend in backends() {
        for ss in [1024u64, 2048, 8192, 65536] {
            let engine =
                XtsEngine::with_backend(&key, SectorSize::new(ss).unwrap(), backend).unwrap();
            let pt = data(3 * ss as usize, ss);
            let mut want = pt.clone();
            oracle(&kb, ss as usize, 1 << 40, &mut want, true);
            let mut got = pt.clone();
            engine.encrypt_sectors(1 << 40, &mut got).unwrap();
            assert!(got == want, "{backend} ss={ss}");
        }
    }
}

#[test]
fn parallel_equals_serial() {
    let key = key(3);
    for backend in backends() {
        for ss in [SectorSize::S512, SectorSize::S4096] {
            let engine = XtsEngine::with_backend(&key, ss, backend).unwrap();
            // 1 MiB + 3 sectors: uneven pieces, well above the parallel threshold.
            let len = (1 << 20) + 3 * ss.bytes();
            let pt = data(len, 99);
            let start = u64::MAX - (len / ss.bytes()) as u64 + 1;
            let mut serial = pt.clone();
            engine.encrypt_sectors(start, &mut serial).unwrap();
            let mut par = pt.clone();
            engine.encrypt_sectors_par(start, &mut par).unwrap();
            assert!(serial == par, "{backend} ss={ss}");
            engine.decrypt_sectors_par(start, &mut par).unwrap();
            assert!(par == pt, "{backend} ss={ss} decrypt");
        }
    }
}

#[test]
fn out_of_place_equals_in_place() {
    let key = key(4);
    for backend in backends() {
        for ss in [
            SectorSize::S512,
            SectorSize::S4096,
            SectorSize::new(65536).unwrap(),
        ] {
            let engine = XtsEngine::with_backend(&key, ss, backend).unwrap();
            // Long enough for the parallel variants to split the run, and a misaligned source
            // (one byte into its allocation) so no kernel relies on alignment.
            let len = (1 << 20) + 2 * ss.bytes();
            let pt = data(len, 77);
            let mut src_store = vec![0u8; len + 1];
            src_store[1..].copy_from_slice(&pt);
            let src = &src_store[1..];
            let start = 1u64 << 40;
            let mut want = pt.clone();
            engine.encrypt_sectors(start, &mut want).unwrap();
            // Destinations at every alignment the kernels tell apart: 64 bytes (non-temporal
            // stores on every backend), 32, 16, and none.
            let mut dst_store = vec![0xEEu8; len + 128];
            let aligned = dst_store.as_ptr().align_offset(64);
            for skew in [0, 32, 16, 1] {
                let got = &mut dst_store[aligned + skew..aligned + skew + len];
                engine.encrypt_sectors_to(start, src, got).unwrap();
                assert!(*got == want[..], "{backend} ss={ss} skew={skew}");
            }
            let mut got_par = vec![0u8; len];
            engine
                .encrypt_sectors_to_par(start, src, &mut got_par)
                .unwrap();
            assert!(got_par == want, "{backend} ss={ss} par");
            let mut back = vec![0u8; len];
            engine.decrypt_sectors_to(start, &want, &mut back).unwrap();
            assert!(back == pt, "{backend} ss={ss} decrypt");
            back.fill(0);
            engine
                .decrypt_sectors_to_par(start, &want, &mut back)
                .unwrap();
            assert!(back == pt, "{backend} ss={ss} decrypt par");
        }
    }
}

#[test]
fn out_of_place_errors_write_nothing() {
    let key = key(6);
    for backend in backends() {
        let engine = XtsEngine::with_backend(&key, SectorSize::S512, backend).unwrap();
        let src = data(1024, 3);
        let mut dst = vec![0x11u8; 1536];
        for r in [
            engine.encrypt_sectors_to(0, &src, &mut dst),
            engine.decrypt_sectors_to_par(0, &src, &mut dst),
        ] {
            assert!(matches!(
                r,
                Err(IoError::LengthMismatch {
                    src_len: 1024,
                    dst_len: 1536
                })
            ));
        }
        let mut dst = vec![0x11u8; 1000];
        assert!(matches!(
            engine.encrypt_sectors_to(0, &src[..1000], &mut dst),
            Err(IoError::Misaligned { len: 1000, .. })
        ));
        let mut dst = vec![0x11u8; 1024];
        assert!(matches!(
            engine.decrypt_sectors_to(u64::MAX, &src, &mut dst),
            Err(IoError::SectorOverflow { count: 2, .. })
        ));
        assert!(dst.iter().all(|&b| b == 0x11), "{backend}");
    }
}

#[test]
fn backends_agree_with_each_other() {
    let key = key(5);
    let pt = data(64 * 4096, 5);
    let mut outputs = Vec::new();
    for backend in backends() {
        let engine = XtsEngine::with_backend(&key, SectorSize::S4096, backend).unwrap();
        let mut buf = pt.clone();
        engine.encrypt_sectors(12345, &mut buf).unwrap();
        assert!(buf != pt);
        outputs.push(buf);
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn errors_are_typed_and_leave_the_buffer_unchanged() {
    let key = key(1);
    for backend in backends() {
        let engine = XtsEngine::with_backend(&key, SectorSize::S512, backend).unwrap();
        let orig = data(1000, 1);
        let mut buf = orig.clone();
        for r in [
            engine.encrypt_sectors(0, &mut buf),
            engine.decrypt_sectors(0, &mut buf),
            engine.encrypt_sectors_par(0, &mut buf),
            engine.decrypt_sectors_par(0, &mut buf),
        ] {
            assert!(matches!(
                r,
                Err(IoError::Misaligned {
                    len: 1000,
                    sector_size: 512
                })
            ));
        }
        assert_eq!(buf, orig);

        let orig = data(1024, 2);
        let mut buf = orig.clone();
        let r = engine.encrypt_sectors(u64::MAX, &mut buf);
        assert!(matches!(
            r,
            Err(IoError::SectorOverflow {
                first: u64::MAX,
                count: 2
            })
        ));
        let r = engine.decrypt_sectors_par(u64::MAX - 1, &mut [0u8; 1536]);
        assert!(matches!(r, Err(IoError::SectorOverflow { count: 3, .. })));
        assert_eq!(buf, orig);
        // The last sector itself is fine; an empty run is fine anywhere.
        engine.encrypt_sectors(u64::MAX, &mut buf[..512]).unwrap();
        engine.encrypt_sectors(u64::MAX, &mut []).unwrap();
    }
    for len in [0usize, 32, 63, 65, 128] {
        assert!(
            matches!(XtsKey::from_slice(&vec![1u8; len]), Err(IoError::KeyLength(l)) if l == len)
        );
    }
    assert!(matches!(
        XtsKey::from_slice(&[9u8; 64]),
        Err(IoError::WeakKey)
    ));
}

#[test]
fn backend_names_round_trip_and_env_override() {
    for b in Backend::ALL {
        assert_eq!(Backend::from_name(b.name()), Some(b));
    }
    assert_eq!(Backend::from_name("rot13"), None);
    assert_eq!(
        Backend::from_name(" SOFT "),
        Some(Backend::AesCrate),
        "the old name"
    );
    assert!(Backend::detect().is_available());
    // `XtsEngine::new` reads `EBSIM_XTS_BACKEND`; check it in a child process so that this
    // process's environment stays untouched.
    let exe = std::env::current_exe().unwrap();
    for b in backends() {
        let out = std::process::Command::new(&exe)
            .args([
                "--exact",
                "env_child_reports_backend",
                "--nocapture",
                "--ignored",
            ])
            .env(ebsim_io::BACKEND_ENV, b.name())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains(&format!("backend={}", b.name())),
            "{stdout}"
        );
    }
}

/// Helper for `backend_names_round_trip_and_env_override`, run in a child process.
#[test]
#[ignore = "run by backend_names_round_trip_and_env_override in a child process"]
fn env_child_reports_backend() {
    let engine = XtsEngine::new(&key(4), SectorSize::S4096);
    println!("backend={}", engine.backend().name());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_runs_match_xts_mode(
        seed in any::<u64>(),
        start in prop_oneof![any::<u64>(), (u64::MAX - 64)..=u64::MAX, ((1u64 << 32) - 40)..((1u64 << 32) + 40)],
        count in 1usize..40,
        big in any::<bool>(),
    ) {
        let ss = if big { SectorSize::S4096 } else { SectorSize::S512 };
        let count = count.min((u64::MAX - start) as usize + 1);
        let kb = data(64, seed);
        prop_assume!(kb[..32] != kb[32..]);
        let key = XtsKey::from_slice(&kb).unwrap();
        let pt = data(count * ss.bytes(), seed.rotate_left(7));
        let mut want = pt.clone();
        oracle(&kb, ss.bytes(), start, &mut want, true);
        for backend in backends() {
            let engine = XtsEngine::with_backend(&key, ss, backend).unwrap();
            let mut got = pt.clone();
            engine.encrypt_sectors(start, &mut got).unwrap();
            prop_assert!(got == want, "{} start={} count={}", backend, start, count);
            engine.decrypt_sectors(start, &mut got).unwrap();
            prop_assert!(got == pt);
            let mut out = vec![0u8; pt.len()];
            engine.encrypt_sectors_to(start, &pt, &mut out).unwrap();
            prop_assert!(out == want, "{} out of place", backend);
        }
    }
}
