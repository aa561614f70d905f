//! The server against real NBD clients: qemu-img, qemu-io (qemu-utils), nbdinfo and nbdcopy
//! (libnbd-bin). The tools are installed by `.ci/install-deps`; a missing tool fails the test.
#![cfg(feature = "external-tools")]

mod common;

use std::process::Command;
use std::sync::Arc;

use common::{Running, contents, mem, run, run_ok};
use ebsim_nbd::{BlockDevice, NbdServer};
use rand::Rng;

/// (offset, length, pattern): aligned, unaligned across sector boundaries, at the very end.
fn patterns(size: u64) -> Vec<(u64, u64, u8)> {
    vec![
        (0, 512, 0x11),
        (1000, 3000, 0xab),
        (12188, 200, 0x5a),
        (65536 - 100, 8392, 0x3c),
        (size - 8192, 4096, 0xcd),
        (size - 700, 700, 0xef),
    ]
}

fn qemu_io_round_trip(block: u32) {
    let size = 8u64 << 20;
    let dev = mem(size, block);
    let srv = Running::start(vec![(
        "vol-qemu".into(),
        dev.clone() as Arc<dyn BlockDevice>,
    )]);
    let uri = srv.uri("vol-qemu");

    let info = run_ok(Command::new("qemu-img").args(["info", &uri]));
    assert!(
        info.contains(&format!("virtual size: 8 MiB ({size} bytes)")),
        "qemu-img info: {info}"
    );

    let mut write = Command::new("qemu-io");
    write.args(["-f", "raw", &uri]);
    for (off, len, pat) in patterns(size) {
        write.args(["-c", &format!("write -P {pat:#x} {off} {len}")]);
    }
    run_ok(&mut write);

    // Read back on a new connection, with qemu-io verifying the patterns.
    let mut read = Command::new("qemu-io");
    read.args(["-f", "raw", &uri]);
    for (off, len, pat) in patterns(size) {
        read.args(["-c", &format!("read -P {pat:#x} {off} {len}")]);
    }
    read.args(["-c", "read -P 0 4000 8188"]);
    let out = run_ok(&mut read);
    assert!(!out.contains("verification failed"), "{out}");

    // A wrong pattern is detected (the check above can fail).
    let bad = run(Command::new("qemu-io").args(["-f", "raw", &uri, "-c", "read -P 0xab 0 512"]));
    assert!(
        !bad.status.success()
            || String::from_utf8_lossy(&bad.stdout).contains("verification failed")
    );

    // The device holds exactly the patterns; nothing else was touched.
    let mut model = vec![0u8; size as usize];
    for (off, len, pat) in patterns(size) {
        model[off as usize..(off + len) as usize].fill(pat);
    }
    assert!(
        contents(&*dev) == model,
        "device content differs from what qemu-io wrote"
    );
    srv.stop().expect("clean shutdown");
}

#[test]
fn qemu_io_patterns_round_trip_512_byte_sectors() {
    qemu_io_round_trip(512);
}

#[test]
fn qemu_io_patterns_round_trip_4096_byte_sectors() {
    qemu_io_round_trip(4096);
}

#[test]
fn nbdinfo_reports_size_block_sizes_and_lists_exports() {
    let a: Arc<dyn BlockDevice> = mem(8 << 20, 4096);
    let b: Arc<dyn BlockDevice> = mem(4 << 20, 512);
    let srv = Running::start(vec![("vol-aaa".into(), a), ("vol-bbb".into(), b)]);

    let j: serde_json::Value = serde_json::from_str(&run_ok(
        Command::new("nbdinfo").args(["--json", &srv.uri("vol-bbb")]),
    ))
    .expect("nbdinfo json");
    let e = &j["exports"][0];
    assert_eq!(e["export-name"], "vol-bbb");
    assert_eq!(e["export-size"], 4 << 20);
    assert_eq!(e["block_size_minimum"], 512);
    assert_eq!(e["block_size_preferred"], 4096);
    assert_eq!(e["block_size_maximum"], 32 << 20);
    assert_eq!(e["can_multi_conn"], true);
    assert_eq!(e["can_flush"], true);
    assert_eq!(e["can_fua"], true);
    assert_eq!(e["can_trim"], true);
    assert_eq!(e["can_zero"], true);
    assert_eq!(e["is_read_only"], false);
    assert_eq!(j["structured"], true);

    // The empty name is the first export.
    let j: serde_json::Value = serde_json::from_str(&run_ok(
        Command::new("nbdinfo").args(["--json", &format!("nbd://{}", srv.addr)]),
    ))
    .expect("nbdinfo json");
    assert_eq!(j["exports"][0]["export-size"], 8 << 20);
    assert_eq!(j["exports"][0]["block_size_minimum"], 4096);

    let j: serde_json::Value = serde_json::from_str(&run_ok(Command::new("nbdinfo").args([
        "--json",
        "--list",
        &format!("nbd://{}", srv.addr),
    ])))
    .expect("nbdinfo --list json");
    let names: Vec<&str> = j["exports"]
        .as_array()
        .expect("exports")
        .iter()
        .filter_map(|e| e["export-name"].as_str())
        .collect();
    assert_eq!(names, ["vol-aaa", "vol-bbb"]);

    // An unknown export is refused.
    let out = run(Command::new("nbdinfo").args(["--json", &srv.uri("vol-nope")]));
    assert!(!out.status.success());
    srv.stop().expect("clean shutdown");
}

#[test]
fn nbdcopy_64_mib_in_and_out_is_byte_identical() {
    let size = 64u64 << 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src.bin");
    let back = dir.path().join("back.bin");
    let mut data = vec![0u8; size as usize];
    rand::rng().fill_bytes(&mut data);
    std::fs::write(&src, &data).expect("write source");

    let dev = mem(size, 4096);
    let srv = Running::start(vec![(
        "vol-copy".into(),
        dev.clone() as Arc<dyn BlockDevice>,
    )]);
    let uri = srv.uri("vol-copy");
    run_ok(Command::new("nbdcopy").arg(&src).arg(&uri));
    assert!(
        contents(&*dev) == data,
        "device differs from the copied file"
    );
    run_ok(Command::new("nbdcopy").arg(&uri).arg(&back));
    let got = std::fs::read(&back).expect("read copy");
    assert!(
        got == data,
        "file copied out differs from the one copied in"
    );
    srv.stop().expect("clean shutdown");
}

#[test]
fn unix_socket_export_serves_qemu_io_and_nbdinfo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nbd.sock");
    let dev = mem(4 << 20, 512);
    let server = Arc::new(
        NbdServer::new(vec![(
            "vol-unix".into(),
            dev.clone() as Arc<dyn BlockDevice>,
        )])
        .expect("server"),
    );
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind unix");
    let s = Arc::clone(&server);
    let t = std::thread::spawn(move || s.serve_unix(listener));
    let uri = format!("nbd+unix:///vol-unix?socket={}", path.display());

    let j: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new("nbdinfo").args(["--json", &uri])))
            .expect("json");
    assert_eq!(j["exports"][0]["export-size"], 4 << 20);
    run_ok(Command::new("qemu-io").args(["-f", "raw", &uri, "-c", "write -P 0x77 4096 8192"]));
    run_ok(Command::new("qemu-io").args(["-f", "raw", &uri, "-c", "read -P 0x77 4096 8192"]));
    let c = contents(&*dev);
    assert!(c[4096..12288].iter().all(|&b| b == 0x77) && c[..4096].iter().all(|&b| b == 0));
    server.shutdown();
    t.join().expect("thread").expect("clean shutdown");
}

#[test]
fn block_status_reports_holes_to_nbdinfo_qemu_img_and_nbdcopy() {
    let size = 8u64 << 20;
    let dev = mem(size, 512);
    dev.write_at(1 << 20, &[0xab; 4096]).expect("seed");
    dev.write_at(5 << 20, &[0x01; 512]).expect("seed");
    let srv = Running::start(vec![(
        "vol-sparse".into(),
        dev.clone() as Arc<dyn BlockDevice>,
    )]);
    let uri = srv.uri("vol-sparse");

    let map: serde_json::Value = serde_json::from_str(&run_ok(
        Command::new("nbdinfo").args(["--map", "--json", &uri]),
    ))
    .expect("nbdinfo --map json");
    let extents: Vec<(u64, u64, u64)> = map
        .as_array()
        .expect("extent list")
        .iter()
        .map(|e| {
            let f = |k: &str| e[k].as_u64().expect("number");
            (f("offset"), f("length"), f("type"))
        })
        .collect();
    assert_eq!(
        extents,
        [
            (0, 1 << 20, 3),
            (1 << 20, 4096, 0),
            ((1 << 20) + 4096, (4 << 20) - 4096, 3),
            (5 << 20, 512, 0),
            ((5 << 20) + 512, (3 << 20) - 512, 3),
        ]
    );

    let map: serde_json::Value = serde_json::from_str(&run_ok(Command::new("qemu-img").args([
        "map",
        "--output=json",
        &uri,
    ])))
    .expect("qemu-img map json");
    let data: Vec<(u64, u64)> = map
        .as_array()
        .expect("map")
        .iter()
        .filter(|e| e["data"] == true)
        .map(|e| {
            (
                e["start"].as_u64().expect("start"),
                e["length"].as_u64().expect("length"),
            )
        })
        .collect();
    assert_eq!(data, [(1 << 20, 4096), (5 << 20, 512)]);

    // Copying out skips the holes and still yields identical bytes.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.img");
    run_ok(Command::new("nbdcopy").arg(&uri).arg(&out));
    assert!(std::fs::read(&out).expect("copy") == contents(&*dev));
    srv.stop().expect("clean shutdown");
}
