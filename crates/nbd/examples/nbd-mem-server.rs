//! Serves an in-memory block device over NBD, optionally through an XTS-AES-256 encrypting
//! adapter (a random key, sector tweaks as in ebsim volumes), for benchmarks and manual tests.
//!
//! ```text
//! cargo run --release -p ebsim-nbd --example nbd-mem-server -- \
//!     [--size 1GiB] [--sector-size 4096] [--encrypt] [--name disk] \
//!     [--listen 127.0.0.1:10809] [--unix PATH] [--workers N]
//! ```
//!
//! Prints `listening on ADDR` first; stops cleanly on SIGINT/SIGTERM.

use std::cell::RefCell;
use std::io;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::Arc;

use ebsim_io::{SectorSize, XtsEngine, XtsKey};
use ebsim_nbd::{BlockDevice, MemoryDevice, NbdServer, ServerConfig};
use rand::Rng;

/// Ciphertext in memory; plaintext only in the caller's buffers.
struct Encrypted {
    store: MemoryDevice,
    engine: XtsEngine,
    shift: u32,
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn io_err(e: ebsim_io::IoError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

impl BlockDevice for Encrypted {
    fn size(&self) -> u64 {
        self.store.size()
    }
    fn block_size(&self) -> u32 {
        self.store.block_size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.store.read_at(offset, buf)?;
        self.engine
            .decrypt_sectors(offset >> self.shift, buf)
            .map_err(io_err)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < data.len() {
                s.resize(data.len(), 0);
            }
            let buf = &mut s[..data.len()];
            buf.copy_from_slice(data);
            self.engine
                .encrypt_sectors(offset >> self.shift, buf)
                .map_err(io_err)?;
            self.store.write_at(offset, buf)
        })
    }
    fn write_at_mut(&self, offset: u64, data: &mut [u8]) -> io::Result<()> {
        // The server's receive buffer: encrypt it in place, no scratch copy.
        self.engine
            .encrypt_sectors(offset >> self.shift, data)
            .map_err(io_err)?;
        self.store.write_at(offset, data)
    }
    fn flush(&self) -> io::Result<()> {
        self.store.flush()
    }
    fn trim(&self, offset: u64, len: u64) -> io::Result<()> {
        self.store.trim(offset, len)
    }
    fn write_zeroes(&self, offset: u64, len: u64, _no_hole: bool) -> io::Result<()> {
        // A trimmed range holds zero bytes, which would decrypt to noise: write encrypted
        // zeros instead.
        let chunk = 1 << 20;
        let zeros = vec![0u8; chunk];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(chunk as u64) as usize;
            self.write_at(offset + done, &zeros[..n])?;
            done += n as u64;
        }
        Ok(())
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = [
        ("KiB", 1u64 << 10),
        ("MiB", 1 << 20),
        ("GiB", 1 << 30),
        ("TiB", 1 << 40),
    ]
    .iter()
    .find_map(|(suf, m)| s.strip_suffix(suf).map(|n| (n, *m)))
    .unwrap_or((s, 1));
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

fn usage(msg: &str) -> ! {
    eprintln!("nbd-mem-server: {msg}");
    eprintln!(
        "usage: nbd-mem-server [--size 1GiB] [--sector-size 4096] [--encrypt] [--name disk] \
         [--listen 127.0.0.1:10809] [--unix PATH] [--workers N]"
    );
    std::process::exit(2)
}

fn main() {
    let mut size = 1u64 << 30;
    let mut sector = 4096u32;
    let mut encrypt = false;
    let mut name = "disk".to_string();
    let mut listen = "127.0.0.1:10809".to_string();
    let mut unix: Option<String> = None;
    let mut config = ServerConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--size" => size = parse_size(&val()).unwrap_or_else(|| usage("bad --size")),
            "--sector-size" => {
                sector = val().parse().unwrap_or_else(|_| usage("bad --sector-size"))
            }
            "--encrypt" => encrypt = true,
            "--name" => name = val(),
            "--listen" => listen = val(),
            "--unix" => unix = Some(val()),
            "--workers" => {
                config = config.workers_per_connection(
                    val().parse().unwrap_or_else(|_| usage("bad --workers")),
                )
            }
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    let store = MemoryDevice::new(size, sector).unwrap_or_else(|e| usage(&e.to_string()));
    let dev: Arc<dyn BlockDevice> = if encrypt {
        let ss = SectorSize::new(u64::from(sector)).unwrap_or_else(|e| usage(&e.to_string()));
        let mut key = [0u8; 64];
        loop {
            rand::rng().fill_bytes(&mut key);
            if key[..32] != key[32..] {
                break;
            }
        }
        let key = XtsKey::from_slice(&key).unwrap_or_else(|e| usage(&e.to_string()));
        let engine = XtsEngine::new(&key, ss);
        eprintln!(
            "nbd-mem-server: encrypting with XTS-AES-256 ({} backend)",
            engine.backend()
        );
        Arc::new(Encrypted {
            store,
            engine,
            shift: sector.trailing_zeros(),
        })
    } else {
        Arc::new(store)
    };
    let server = Arc::new(
        NbdServer::with_config(vec![(name, dev)], config).unwrap_or_else(|e| usage(&e.to_string())),
    );
    let stop = server.shutdown_handle();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, stop.flag()) {
            usage(&format!("cannot handle signals: {e}"));
        }
    }
    let result = if let Some(path) = unix {
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).unwrap_or_else(|e| usage(&format!("bind {path}: {e}")));
        println!("listening on {path}");
        server.serve_unix(l)
    } else {
        let l =
            TcpListener::bind(&listen).unwrap_or_else(|e| usage(&format!("bind {listen}: {e}")));
        match l.local_addr() {
            Ok(a) => println!("listening on {a}"),
            Err(e) => usage(&e.to_string()),
        }
        server.serve_tcp(l)
    };
    if let Err(e) = result {
        eprintln!("nbd-mem-server: {e}");
        std::process::exit(1);
    }
}
