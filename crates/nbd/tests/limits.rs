//! Connection limits and timeouts, with raw clients: connections beyond the per-peer and total
//! limits are refused (closed before the greeting) and counted; a slow or silent handshake, an
//! idle connection, and a client that reads no replies are disconnected; and such a client
//! cannot hold shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Running, mem};
use ebsim_nbd::{BlockDevice, ServerConfig};

const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
const REQUEST_MAGIC: u32 = 0x2560_9513;

/// Connects from `source` (an address of the loopback range).
fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let src: SocketAddr = format!("{source}:0").parse().expect("source");
    s.bind(&src.into()).expect("bind source");
    s.connect(&to.into()).expect("connect");
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s
}

/// Whether the server greets (true) or closes the connection at once (false).
fn greeted(s: &mut TcpStream) -> bool {
    let mut g = [0u8; 18];
    match s.read_exact(&mut g) {
        Ok(()) => {
            assert_eq!(&g[..8], b"NBDMAGIC");
            true
        }
        Err(_) => false,
    }
}

/// Reads until the server closes the connection; how long that took.
fn until_closed(s: &mut TcpStream) -> Duration {
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return t.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return t.elapsed(),
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

/// Greeting, client flags, `NBD_OPT_EXPORT_NAME` of the default export: in transmission.
fn handshake(s: &mut TcpStream) {
    assert!(greeted(s));
    s.write_all(&3u32.to_be_bytes()).expect("flags");
    let mut opt = IHAVEOPT.to_be_bytes().to_vec();
    opt.extend_from_slice(&1u32.to_be_bytes());
    opt.extend_from_slice(&0u32.to_be_bytes());
    s.write_all(&opt).expect("option");
    let mut size_flags = [0u8; 10];
    s.read_exact(&mut size_flags).expect("export");
}

fn read_request(cookie: u64, offset: u64, length: u32) -> Vec<u8> {
    let mut r = REQUEST_MAGIC.to_be_bytes().to_vec();
    r.extend_from_slice(&0u16.to_be_bytes());
    r.extend_from_slice(&0u16.to_be_bytes());
    r.extend_from_slice(&cookie.to_be_bytes());
    r.extend_from_slice(&offset.to_be_bytes());
    r.extend_from_slice(&length.to_be_bytes());
    r
}

/// Waits up to 5 s for `cond`.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(5), "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn disk() -> Vec<(String, Arc<dyn BlockDevice>)> {
    vec![("disk".into(), mem(64 << 20, 512) as Arc<dyn BlockDevice>)]
}

#[test]
fn connections_beyond_the_limits_are_refused() {
    let config = ServerConfig::default()
        .max_connections(3)
        .max_connections_per_peer(2);
    let srv = Running::start_with(disk(), config);
    let mut a = connect_from("127.0.0.1", srv.addr);
    let mut b = connect_from("127.0.0.1", srv.addr);
    assert!(greeted(&mut a) && greeted(&mut b));
    // A third from the same address: refused, while other addresses still get in.
    let mut c = connect_from("127.0.0.1", srv.addr);
    assert!(!greeted(&mut c), "third connection from one peer");
    let mut d = connect_from("127.0.0.2", srv.addr);
    assert!(greeted(&mut d));
    // The total limit.
    let mut e = connect_from("127.0.0.3", srv.addr);
    assert!(!greeted(&mut e), "connection beyond the total");
    // The refusal is counted when the server has closed the socket, which the client may
    // see first.
    eventually("both refusals counted", || srv.server.stats().refused == 2);
    assert_eq!(srv.server.active_connections(), 3);
    // A connection that ends frees its place.
    drop(a);
    eventually("the closed connection is forgotten", || {
        srv.server.active_connections() == 2
    });
    let mut f = connect_from("127.0.0.1", srv.addr);
    assert!(greeted(&mut f));
    srv.stop().expect("stop");
}

#[test]
fn slow_handshakes_and_idle_connections_are_closed() {
    let config = ServerConfig::default()
        .handshake_timeout(Duration::from_millis(400))
        .idle_timeout(Duration::from_millis(400));
    let srv = Running::start_with(disk(), config);
    // Silent after the greeting.
    let mut silent = connect_from("127.0.0.1", srv.addr);
    assert!(greeted(&mut silent));
    let waited = until_closed(&mut silent);
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // A byte at a time, never finishing: the handshake's time is a total, not per read.
    let mut slow = connect_from("127.0.0.1", srv.addr);
    assert!(greeted(&mut slow));
    let t = Instant::now();
    let mut closed = false;
    for b in 3u32.to_be_bytes().iter().chain(&IHAVEOPT.to_be_bytes()) {
        std::thread::sleep(Duration::from_millis(100));
        if slow.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        until_closed(&mut slow);
    }
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // In transmission, then idle.
    let mut idle = connect_from("127.0.0.1", srv.addr);
    handshake(&mut idle);
    idle.write_all(&read_request(1, 0, 4096)).expect("read");
    let mut reply = [0u8; 16 + 4096];
    idle.read_exact(&mut reply).expect("reply");
    let waited = until_closed(&mut idle);
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(srv.server.stats().timed_out, 3);
    // Others are served meanwhile and after.
    let mut ok = connect_from("127.0.0.1", srv.addr);
    handshake(&mut ok);
    ok.write_all(&read_request(2, 4096, 512)).expect("read");
    let mut reply = [0u8; 16 + 512];
    ok.read_exact(&mut reply).expect("reply");
    srv.stop().expect("stop");
}

/// Sends reads of 32 MiB and reads no reply.
fn stop_reading(srv: &Running) -> TcpStream {
    let mut s = connect_from("127.0.0.1", srv.addr);
    handshake(&mut s);
    for i in 0..16u64 {
        s.write_all(&read_request(i, (i % 2) * (32 << 20), 32 << 20))
            .expect("request");
    }
    s
}

#[test]
fn a_client_that_reads_nothing_is_disconnected() {
    let config = ServerConfig::default().write_timeout(Duration::from_millis(500));
    let srv = Running::start_with(disk(), config);
    let _s = stop_reading(&srv);
    eventually("the stalled connection is closed", || {
        srv.server.active_connections() == 0
    });
    assert_eq!(srv.server.stats().timed_out, 1);
    srv.stop().expect("stop");
}

#[test]
fn a_client_that_reads_nothing_cannot_hold_shutdown() {
    // The write timeout is long; shutdown is bounded anyway.
    let config = ServerConfig::default().write_timeout(Duration::from_secs(600));
    let srv = Running::start_with(disk(), config);
    let _s = stop_reading(&srv);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    srv.stop().expect("stop");
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
}
