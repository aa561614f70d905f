//! Block status through `ebsim volume serve`: on a 1 TiB volume holding 1 MiB, `nbdinfo --map`
//! and `qemu-img map` see data only where it was written, and holes again after a discard or
//! a write of zeros that may punch holes; `nbdcopy` of the volume reads only the data, as the
//! bytes the server sent show (its stats line at shutdown).
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ebsim_test_support::ebsim::{Cli, ok};
use ebsim_test_support::kms_double::served_data_dir;

mod common;
use common::{create_volume, qemu_io, start_serve_logged};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// What a map shows besides holes: data, and stored ranges that read as zeros, each as merged
/// (start, length) extents.
#[derive(Debug, Default, PartialEq, Eq)]
struct Map {
    data: Vec<(u64, u64)>,
    zero: Vec<(u64, u64)>,
}

/// The map `qemu-img map` reports (its "data" means stored).
fn qemu_img_map(uri: &str) -> Map {
    let out = ok(
        &Command::new("qemu-img")
            .args(["map", "--output=json", "-f", "raw", uri])
            .output()
            .expect("qemu-img"),
        "qemu-img map",
    );
    let json: serde_json::Value = serde_json::from_str(&out).expect("qemu-img map json");
    let mut map = Map::default();
    let mut total = 0;
    for e in json.as_array().expect("array") {
        let (start, length) = (e["start"].as_u64().unwrap(), e["length"].as_u64().unwrap());
        assert_eq!(start, total, "extents are consecutive: {out}");
        total += length;
        match (e["data"].as_bool().unwrap(), e["zero"].as_bool().unwrap()) {
            (true, false) => merge(&mut map.data, start, length),
            (true, true) => merge(&mut map.zero, start, length),
            (false, true) => {}
            (false, false) => panic!("a hole must read as zeros: {e}"),
        }
    }
    assert_eq!(total, TIB, "the map covers the volume");
    map
}

/// The map `nbdinfo --map` reports.
fn nbdinfo_map(uri: &str) -> Map {
    let out = ok(
        &Command::new("nbdinfo")
            .args(["--map", uri])
            .output()
            .expect("nbdinfo"),
        "nbdinfo --map",
    );
    // Lines: OFFSET LENGTH TYPE DESCRIPTION; TYPE 0 is data, 2 zeros, 3 a hole of zeros.
    let mut map = Map::default();
    let mut total = 0;
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (start, length, ty): (u64, u64, u32) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
        );
        assert_eq!(start, total, "extents are consecutive: {out}");
        total += length;
        match ty {
            0 => merge(&mut map.data, start, length),
            2 => merge(&mut map.zero, start, length),
            3 => {}
            _ => panic!("unexpected extent type in {line:?}"),
        }
    }
    assert_eq!(total, TIB, "the map covers the volume");
    map
}

/// A map of data only.
fn data(extents: &[(u64, u64)]) -> Map {
    Map {
        data: extents.to_vec(),
        zero: Vec::new(),
    }
}

fn merge(v: &mut Vec<(u64, u64)>, start: u64, length: u64) {
    match v.last_mut() {
        Some((s, l)) if *s + *l == start => *l += length,
        _ => v.push((start, length)),
    }
}

/// The `key=value` figure of the server's stats line.
fn stat(stderr: &str, key: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("nbd: served connections="))
        .unwrap_or_else(|| panic!("no stats line in:\n{stderr}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

#[test]
fn holes_are_reported_and_skipped_on_a_sparse_terabyte() {
    let (dir, _double, kms) = served_data_dir();
    let url = kms.url();
    let cli = Cli::new(dir.path()).kms_endpoint(&url);
    let vol = create_volume(&cli, dir.path(), "1TiB", "512");
    let serve = start_serve_logged(dir.path(), &url, &[&vol, "--listen", "127.0.0.1:0"]);
    let uri = format!("nbd://{}/{vol}", serve.addr);

    // Nothing written: one hole.
    assert_eq!(qemu_img_map(&uri), data(&[]));
    assert_eq!(nbdinfo_map(&uri), data(&[]));

    // 1 MiB of data at 256 GiB, and 64 KiB at 1 GiB.
    let at = 256 * GIB;
    qemu_io(
        &uri,
        &[
            format!("write -P 0x5a {at} {MIB}"),
            format!("write -P 0x11 {GIB} 65536"),
        ],
    );
    let want = data(&[(GIB, 65536), (at, MIB)]);
    assert_eq!(qemu_img_map(&uri), want);
    assert_eq!(nbdinfo_map(&uri), want);

    // nbdcopy to nowhere: only the data is read.
    ok(
        &Command::new("nbdcopy")
            .args([uri.as_str(), "null:"])
            .output()
            .expect("nbdcopy"),
        "nbdcopy",
    );

    // Discard half of the MiB, write zeros that may punch holes over the rest: holes again,
    // reading as zeros. The 64 KiB stay.
    qemu_io(
        &uri,
        &[
            format!("discard {at} {}", MIB / 2),
            format!("write -z -u {} {}", at + MIB / 2, MIB / 2),
            format!("read -P 0 {at} {MIB}"),
            format!("read -P 0x11 {GIB} 65536"),
        ],
    );
    assert_eq!(qemu_img_map(&uri), data(&[(GIB, 65536)]));
    assert_eq!(nbdinfo_map(&uri), data(&[(GIB, 65536)]));

    // One 512-byte sector in a page of its own: data.img gets a whole 4 KiB block, whose
    // other seven sectors are stored zeros. They are reported as zeros, not as data, and not
    // as a hole (they have storage).
    let one = 2 * GIB;
    qemu_io(&uri, &[format!("write -P 0x22 {one} 512")]);
    let want = Map {
        data: vec![(GIB, 65536), (one, 512)],
        zero: vec![(one + 512, 3584)],
    };
    assert_eq!(qemu_img_map(&uri), want);
    assert_eq!(nbdinfo_map(&uri), want);

    let (status, stderr) = serve.stop_with_stderr();
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{stderr}");
    // Bytes of read data the server sent: the copy's MiB + 64 KiB (and qemu-io's reads,
    // 1 MiB + 64 KiB), nothing of the terabyte of holes.
    eprintln!(
        "{}",
        stderr
            .lines()
            .filter(|l| l.contains("nbd: served"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let sent = stat(&stderr, "read_bytes");
    let data = MIB + 65536;
    assert!(
        (2 * data..=2 * data + MIB).contains(&sent),
        "the server sent {sent} bytes of read data; expected about {}",
        2 * data
    );
    assert!(stat(&stderr, "block_status") > 0);

    // data.img holds no more than the 64 KiB (and file-system blocks around it).
    use std::os::unix::fs::MetadataExt;
    let img = dir.path().join("volumes").join(&vol).join("data.img");
    let used = std::fs::metadata(&img).expect("data.img").blocks() * 512;
    assert!(used <= MIB, "data.img uses {used} bytes of disk");
    kms.shutdown().expect("kms shutdown");
}
