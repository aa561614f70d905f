//! `ebsim volume serve` under pressure: 80 idle connections from one address neither lock out
//! a client from another nor outlive their timeouts; a client that stops reading replies does
//! not keep SIGTERM from detaching the volume; `--unix` sockets are 0600.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ebsim_test_support::ebsim::Cli;
use ebsim_test_support::kms_double::served_data_dir;

mod common;
use common::{create_volume, qemu_io, start_serve, start_serve_logged, stop};

fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let src: SocketAddr = format!("{source}:0").parse().expect("source");
    s.bind(&src.into()).expect("bind source");
    s.connect(&to.into()).expect("connect");
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s
}

/// Reads until EOF (or a reset); fails if the server keeps the connection 30 s.
fn sees_eof(s: &mut TcpStream) {
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the server kept an idle connection open: {e}"),
        }
    }
}

/// Greeting, flags, `NBD_OPT_EXPORT_NAME` for the default export.
fn into_transmission(s: &mut TcpStream) {
    let mut g = [0u8; 18];
    s.read_exact(&mut g).expect("greeting");
    s.write_all(&3u32.to_be_bytes()).expect("flags");
    let mut opt = 0x4948_4156_454f_5054u64.to_be_bytes().to_vec();
    opt.extend_from_slice(&1u32.to_be_bytes());
    opt.extend_from_slice(&0u32.to_be_bytes());
    s.write_all(&opt).expect("option");
    let mut size_flags = [0u8; 10];
    s.read_exact(&mut size_flags).expect("export");
}

#[test]
fn idle_connections_from_one_address_neither_lock_out_others_nor_stay() {
    let (dir, _double, kms) = served_data_dir();
    let url = kms.url();
    let cli = Cli::new(dir.path()).kms_endpoint(&url);
    let vol = create_volume(&cli, dir.path(), "16MiB", "512");
    let serve = start_serve_logged(
        dir.path(),
        &url,
        &[
            &vol,
            "--listen",
            "127.0.0.1:0",
            "--handshake-timeout",
            "2",
            "--idle-timeout",
            "2",
        ],
    );
    let addr: SocketAddr = serve.addr.parse().expect("address");
    let uri = format!("nbd://{addr}/{vol}");
    qemu_io(&uri, &["write -P 0x3c 4096 8192".to_string()]);

    // 80 connections from 127.0.0.2: 8 in transmission, the rest silent.
    let mut idle: Vec<TcpStream> = Vec::new();
    for i in 0..80 {
        let mut s = connect_from("127.0.0.2", addr);
        if i < 8 {
            into_transmission(&mut s);
        }
        idle.push(s);
    }
    // A client from 127.0.0.1 is served meanwhile.
    let t = Instant::now();
    qemu_io(&uri, &["read -P 0x3c 4096 8192".to_string()]);
    assert!(t.elapsed() < Duration::from_secs(10));
    // Every one of the 80 sees EOF: refused at once, or closed by a timeout.
    for s in &mut idle {
        sees_eof(s);
    }
    let (status, stderr) = serve.stop_with_stderr();
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{stderr}");
    assert!(
        stderr.contains("connection refused: 16 connections from 127.0.0.2 already"),
        "{stderr}"
    );
    let stats = stderr
        .lines()
        .find(|l| l.contains("nbd: served"))
        .expect("stats line");
    assert!(stats.contains("refused=64 timed_out=16"), "{stats}");
    kms.shutdown().expect("kms shutdown");
}

#[test]
fn a_client_that_stops_reading_does_not_keep_the_volume_attached() {
    let (dir, _double, kms) = served_data_dir();
    let url = kms.url();
    let cli = Cli::new(dir.path()).kms_endpoint(&url);
    let vol = create_volume(&cli, dir.path(), "64MiB", "4096");
    let sock = dir.path().join("nbd.sock");
    let serve = start_serve(
        dir.path(),
        &url,
        &[
            &vol,
            "--listen",
            "127.0.0.1:0",
            "--unix",
            sock.to_str().expect("utf-8"),
            "--write-timeout",
            "2",
        ],
    );
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(&sock).expect("socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let addr: SocketAddr = serve.addr.parse().expect("address");
    let mut s = connect_from("127.0.0.1", addr);
    into_transmission(&mut s);
    // 16 reads of 32 MiB, and no reply read.
    for i in 0..16u64 {
        let mut r = 0x2560_9513u32.to_be_bytes().to_vec();
        r.extend_from_slice(&[0u8; 4]);
        r.extend_from_slice(&i.to_be_bytes());
        r.extend_from_slice(&((i % 2) * (32 << 20)).to_be_bytes());
        r.extend_from_slice(&(32u32 << 20).to_be_bytes());
        s.write_all(&r).expect("request");
    }
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    stop(serve);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // Detached: the lock is free, a one-shot command attaches.
    let out = dir.path().join("back.bin");
    cli.run(&[
        "volume",
        "read",
        &vol,
        "--length",
        "4096",
        "--output",
        out.to_str().expect("utf-8"),
    ])
    .expect("volume read after serve");
    drop(s);
    kms.shutdown().expect("kms shutdown");
}
