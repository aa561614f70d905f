//! Starting and stopping the servers the KMS interop tests talk to: `ebsim kms serve` (the
//! built binary) and moto's server. Every server listens on loopback on a free port and is
//! stopped when its guard drops, even when the test fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Path of the built `ebsim` binary.
pub fn ebsim_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ebsim")
}

/// Runs `ebsim` with `args` on `data_dir`.
pub fn ebsim(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(ebsim_bin())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("EBSIM_KMS_ENDPOINT")
        .env_remove("EBSIM_PRINCIPAL")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("run ebsim")
}

fn terminate(child: &mut Child) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A running `ebsim kms serve`.
pub struct EbsimServer {
    child: Option<Child>,
    /// The bound address.
    pub addr: SocketAddr,
    /// `http://ADDR`.
    pub url: String,
    /// The data dir.
    pub data_dir: PathBuf,
}

impl EbsimServer {
    /// Starts `ebsim --data-dir DIR kms serve --listen 127.0.0.1:0` and waits for its
    /// `listening on ADDR` line.
    pub fn start(data_dir: &Path) -> Self {
        let mut child = Command::new(ebsim_bin())
            .arg("--data-dir")
            .arg(data_dir)
            .args(["kms", "serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ebsim kms serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut guard = Self {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            url: String::new(),
            data_dir: data_dir.to_owned(),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server printed its address");
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line is not 'listening on ADDR': {line:?}"))
            .trim()
            .parse::<SocketAddr>()
            .expect("address");
        assert!(addr.ip().is_loopback());
        guard.addr = addr;
        guard.url = format!("http://{addr}");
        guard
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub fn stop(mut self) -> Option<ExitStatus> {
        self.child.take().and_then(|mut c| terminate(&mut c))
    }
}

impl Drop for EbsimServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c);
        }
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running moto server (`python3 -m moto.server`).
pub struct Moto {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it accepts connections.
    pub fn start() -> Self {
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new("python3")
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("python3 -m moto.server must be installed (.ci/install-deps)");
            let mut moto = Self {
                child: Some(child),
                url: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Some(c) = moto.child.as_mut()
                    && let Ok(Some(status)) = c.try_wait()
                {
                    let mut err = String::new();
                    if let Some(mut s) = c.stderr.take() {
                        let _ = s.read_to_string(&mut err);
                    }
                    eprintln!("moto exited ({status}): {err}");
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    // Let moto print into a pipe nobody blocks on.
                    if let Some(mut s) = moto.child.as_mut().and_then(|c| c.stderr.take()) {
                        std::thread::spawn(move || std::io::copy(&mut s, &mut std::io::sink()));
                    }
                    return moto;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("moto server did not start (python3 -m moto.server, needs moto[server])");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c);
        }
    }
}
