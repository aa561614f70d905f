//! What `ebsim` logs on stderr: errors and warnings always; the NBD server's connection lines
//! and `volume serve`'s progress only with `-v` or RUST_LOG.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ebsim_test_support::ebsim::{Cli, Ebsim};
use ebsim_test_support::kms_double::served_data_dir;
use ebsim_test_support::process::Server;

/// Serves `vol` with `flags` (and `RUST_LOG` when given), opens one NBD connection (it reads
/// the server's greeting, then leaves), stops the server; returns what it wrote on stderr.
fn serve_once(dir: &Path, url: &str, vol: &str, flags: &[&str], rust_log: Option<&str>) -> String {
    let mut args = flags.to_vec();
    args.extend(["volume", "serve", vol, "--listen", "127.0.0.1:0"]);
    let mut command = Ebsim::new(env!("CARGO_BIN_EXE_ebsim"))
        .data_dir(dir)
        .kms_endpoint(url)
        .command(&args);
    command.stderr(Stdio::piped());
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    let server = Server::start(command);
    let mut conn = TcpStream::connect(&server.addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut greeting = [0u8; 8];
    conn.read_exact(&mut greeting).expect("greeting");
    assert_eq!(&greeting, b"NBDMAGIC");
    drop(conn);
    let (status, stderr) = server.stop_with_stderr();
    assert!(status.is_some_and(|s| s.success()), "{status:?}: {stderr}");
    stderr
}

#[test]
fn connection_lines_need_verbose_or_rust_log() {
    let (dir, _kms, server) = served_data_dir();
    let url = server.url();
    Cli::new(dir.path())
        .kms_endpoint(&url)
        .ok(&["volume", "create", "--size", "1MiB"]);
    let vol = std::fs::read_dir(dir.path().join("volumes"))
        .expect("volumes")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .next()
        .expect("a volume");

    let quiet = serve_once(dir.path(), &url, &vol, &[], None);
    assert!(quiet.is_empty(), "nothing but errors by default: {quiet:?}");

    let verbose = serve_once(dir.path(), &url, &vol, &["-v"], None);
    assert!(
        verbose.contains(&format!("info: nbd: exporting {vol}")),
        "{verbose}"
    );
    assert!(verbose.contains("connection accepted"), "{verbose}");
    assert!(verbose.contains("info: nbd: stopped"), "{verbose}");

    // RUST_LOG picks targets: the NBD server's own lines, not the CLI's.
    let nbd_only = serve_once(dir.path(), &url, &vol, &[], Some("ebsim_nbd=info"));
    assert!(nbd_only.contains("connection accepted"), "{nbd_only}");
    assert!(!nbd_only.contains("exporting"), "{nbd_only}");
}

#[test]
fn errors_print_as_one_error_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none");
    let out = Ebsim::new(env!("CARGO_BIN_EXE_ebsim"))
        .data_dir(&missing)
        .output(&["-v", "volume", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!("error: no data dir at {}\n", missing.display())
    );
}
