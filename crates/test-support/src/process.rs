//! Child processes of a test: servers that print `listening on ADDR` as their first line
//! (every ebsim server does), moto's server, and free loopback ports. Every server is stopped
//! when its guard drops, even when the test fails.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// SIGTERM, then up to `grace` for the process to exit; SIGKILL after that. Returns the exit
/// status when it exited by itself within the grace period.
pub fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + grace;
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

/// A running server process that printed `listening on ADDR` first.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// What followed `listening on ` on its first line (`127.0.0.1:4599`, or `unix:PATH`).
    pub addr: String,
}

impl Server {
    /// Spawns `command` with stdout piped (and drained after the first line, so the server
    /// never blocks on a full pipe) and waits up to 60 s for `listening on ADDR`.
    ///
    /// # Panics
    /// When the process cannot start or its first line is something else.
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut server = Self {
            child: Some(child),
            addr: String::new(),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{command:?} printed no first line within 60 s"));
        server.addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line is not 'listening on ADDR': {line:?}"))
            .trim()
            .to_owned();
        server
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Stops the server with SIGTERM and returns its exit status (`None` when it had to be
    /// killed after 20 s).
    pub fn stop(mut self) -> Option<ExitStatus> {
        self.child
            .take()
            .and_then(|mut c| terminate(&mut c, Duration::from_secs(20)))
    }

    /// Stops the server with SIGTERM; returns its exit status and everything it wrote on
    /// stderr, which the command given to [`Server::start`] must have piped.
    ///
    /// # Panics
    /// When stderr was not piped.
    pub fn stop_with_stderr(mut self) -> (Option<ExitStatus>, String) {
        let mut child = self.child.take().expect("a running server");
        let mut stderr = child.stderr.take().expect("stderr piped");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let status = terminate(&mut child, Duration::from_secs(20));
        (status, reader.join().unwrap_or_default())
    }

    /// Kills the server with SIGKILL (it cleans nothing up) and waits for it.
    pub fn kill(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c, Duration::from_secs(10));
        }
    }
}

/// A loopback port that refuses connections for as long as this guard lives: a TCP socket
/// bound to it but never listening. Nothing else can bind the port meanwhile, so a client
/// pointed at [`RefusingPort::url`] meets `ECONNREFUSED` even while other tests start servers
/// on ports the kernel hands out (a port released by [`free_port`] could be one of those).
#[derive(Debug)]
pub struct RefusingPort {
    /// Held, never read: it keeps the port bound.
    _socket: socket2::Socket,
    port: u16,
}

impl RefusingPort {
    /// Binds a fresh loopback port without listening on it.
    pub fn new() -> Self {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        socket.bind(&addr.into()).unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        Self {
            _socket: socket,
            port,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Default for RefusingPort {
    fn default() -> Self {
        Self::new()
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
#[derive(Debug)]
pub struct Moto {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it accepts connections.
    ///
    /// # Panics
    /// When moto does not start (it needs `moto[server]`, installed by `.ci/install-deps`).
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
            terminate(&mut c, Duration::from_secs(10));
        }
    }
}
