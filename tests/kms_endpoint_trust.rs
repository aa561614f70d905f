//! A client trusts the server named in `DIR/kms/endpoint` only once it proves that it holds
//! the data dir (docs/formats.md, "The endpoint file and its proof").
//!
//! The defect this guards against: after `ebsim kms serve` died without removing its
//! endpoint file, any local user could bind the port, answer the ping, and from then on hand
//! the owner's next `volume write` a data key of their choosing and receive the owner's
//! Decrypt requests, signed with the data dir's service credential.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::process::Server;

fn ebsim(dir: &Path) -> Ebsim {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir)
}

fn ok(out: Output, what: &str) -> (String, String) {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ebsim kms serve --listen 127.0.0.1:0`, with the address it printed, once it has
/// published its endpoint file (right after its first line).
fn kms_serve(dir: &Path) -> (Server, SocketAddr) {
    let server = ebsim(dir).serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let addr = server.addr.parse().expect("address");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dir.join("kms/endpoint").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    (server, addr)
}

/// An impostor on `addr`: answers every request with `200 ebsim-kms` (and a made-up proof)
/// and logs each request line it received.
fn impostor(addr: SocketAddr) -> Arc<Mutex<Vec<String>>> {
    let listener = TcpListener::bind(addr).expect("bind the dead server's port");
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || answer(stream, &seen));
        }
    });
    log
}

fn answer(stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some((name, value)) = h.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length.min(1 << 20)];
        let _ = reader.read_exact(&mut body);
        seen.lock().unwrap().push(request_line.trim().to_owned());
        let proof = "00".repeat(32);
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nx-ebsim-proof: {proof}\r\n\r\nebsim-kms"
        );
    }
}

#[test]
fn a_dead_servers_port_taken_by_an_impostor_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = kms_serve(dir.path());
    ok(
        ebsim(dir.path()).output(&["volume", "create", "--size", "1MiB"]),
        "volume create through the server",
    );
    let vol = std::fs::read_dir(dir.path().join("volumes"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();

    // kill -9: the endpoint file stays behind, naming a port anyone may now bind.
    server.kill();
    assert!(dir.path().join("kms/endpoint").exists());
    let log = impostor(addr);

    let input = dir.path().join("in.bin");
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(&input, &data).unwrap();
    let (_, stderr) = ok(
        ebsim(dir.path()).output(&[
            "volume",
            "write",
            &vol,
            "--offset",
            "4096",
            "--input",
            input.to_str().unwrap(),
        ]),
        "volume write with a stale endpoint file",
    );
    // One warning line (a `tracing` warning, whatever its format), naming what was ignored.
    let lower = stderr.to_lowercase();
    let warnings: Vec<&str> = lower.lines().filter(|l| l.contains("warn")).collect();
    assert_eq!(warnings.len(), 1, "warned once: {stderr}");
    assert!(
        warnings[0].contains("ignoring")
            && warnings[0].contains("kms/endpoint")
            && warnings[0].contains("embedded kms"),
        "{stderr}"
    );
    // The embedded KMS took the lock and removed the stale file.
    assert!(!dir.path().join("kms/endpoint").exists());

    let output = dir.path().join("out.bin");
    ok(
        ebsim(dir.path()).output(&[
            "volume",
            "read",
            &vol,
            "--offset",
            "4096",
            "--length",
            "20000",
            "--output",
            output.to_str().unwrap(),
        ]),
        "volume read",
    );
    assert_eq!(std::fs::read(&output).unwrap(), data);

    // The impostor saw nothing but pings (the pid and lock checks stop the client before
    // it even sends a challenge): no KMS request, no service-credential signature.
    let seen = log.lock().unwrap().clone();
    assert!(
        seen.iter().all(|l| l.starts_with("GET /ebsim/ping")),
        "{seen:?}"
    );
}

#[test]
fn a_live_server_is_used_and_its_endpoint_file_withdrawn_on_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = kms_serve(dir.path());
    let text = std::fs::read_to_string(dir.path().join("kms/endpoint")).unwrap();
    assert_eq!(text.lines().next(), Some(format!("http://{addr}").as_str()));
    assert!(text.contains(&format!("pid {}", server.id())), "{text}");
    // Routed to the server (the embedded KMS could not take the lock it holds).
    let (stdout, stderr) = ok(
        ebsim(dir.path()).output(&["key", "create", "--description", "routed"]),
        "key create through the server",
    );
    assert!(!stderr.to_lowercase().contains("warn"), "{stderr}");
    assert!(stdout.contains("arn:aws:kms:"), "{stdout}");
    // SIGTERM: a clean stop removes the file.
    let status = server.stop();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(!dir.path().join("kms/endpoint").exists());
}
