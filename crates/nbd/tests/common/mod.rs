//! Shared helpers: an in-process server on 127.0.0.1:0, external tools, a counting device.
#![allow(dead_code)]

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use ebsim_nbd::{BlockDevice, MemoryDevice, NbdError, NbdServer, ServerConfig};

/// A server running on a thread, stopped (and joined) on drop.
pub struct Running {
    pub addr: SocketAddr,
    pub server: Arc<NbdServer>,
    thread: Option<JoinHandle<Result<(), NbdError>>>,
}

impl Running {
    pub fn start(exports: Vec<(String, Arc<dyn BlockDevice>)>) -> Self {
        Self::start_with(exports, ServerConfig::default())
    }

    /// As [`Running::start`], with settings (3 threads per connection unless set otherwise).
    pub fn start_with(exports: Vec<(String, Arc<dyn BlockDevice>)>, config: ServerConfig) -> Self {
        let config = config.workers_per_connection(3);
        let server = Arc::new(NbdServer::with_config(exports, config).expect("server"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let s = Arc::clone(&server);
        let thread = Some(std::thread::spawn(move || s.serve_tcp(listener)));
        Self {
            addr,
            server,
            thread,
        }
    }

    pub fn uri(&self, export: &str) -> String {
        format!("nbd://{}/{export}", self.addr)
    }

    /// Shuts down and returns what `serve_tcp` returned.
    pub fn stop(mut self) -> Result<(), NbdError> {
        self.server.shutdown();
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("server thread")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.server.shutdown();
            let _ = t.join();
        }
    }
}

pub fn mem(size: u64, block: u32) -> Arc<MemoryDevice> {
    Arc::new(MemoryDevice::new(size, block).expect("device"))
}

/// Runs an external tool; a missing tool is a failure (CI installs them: .ci/install-deps).
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {:?} ({e}); install it with .ci/install-deps",
            cmd.get_program()
        )
    })
}

/// Runs a tool and requires success; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{:?} failed: {}\nstdout: {}\nstderr: {}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wraps a device and counts flushes.
pub struct Counting {
    pub inner: Arc<MemoryDevice>,
    pub flushes: AtomicUsize,
}

impl Counting {
    pub fn new(inner: Arc<MemoryDevice>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            flushes: AtomicUsize::new(0),
        })
    }
    pub fn flushes(&self) -> usize {
        self.flushes.load(Ordering::SeqCst)
    }
}

impl BlockDevice for Counting {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write_at(offset, data)
    }
    fn flush(&self) -> io::Result<()> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn trim(&self, offset: u64, len: u64) -> io::Result<()> {
        self.inner.trim(offset, len)
    }
}

/// The whole content of a device.
pub fn contents(dev: &dyn BlockDevice) -> Vec<u8> {
    let mut v = vec![0u8; dev.size() as usize];
    dev.read_at(0, &mut v).expect("read device");
    v
}
