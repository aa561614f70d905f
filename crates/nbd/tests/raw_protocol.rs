//! Bad and unusual input over a raw socket: truncated handshakes, bad magic, oversized
//! lengths, unknown options and commands, pipelined requests, structured replies. Each ends in
//! a clean error reply or a disconnect, never corrupts data, and the server keeps serving
//! other clients.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::{Counting, Running, contents, mem};
use ebsim_nbd::BlockDevice;
use ebsim_nbd::internal as p;

const SIZE: u64 = 1 << 20;
const NAME: &str = "vol-raw";

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

/// Reads the greeting and sends client flags.
fn greet(s: &mut TcpStream, client_flags: u32) {
    let mut g = [0u8; 18];
    s.read_exact(&mut g).expect("greeting");
    assert_eq!(be64(&g), p::NBDMAGIC);
    assert_eq!(be64(&g[8..]), p::IHAVEOPT);
    s.write_all(&client_flags.to_be_bytes()).expect("flags");
}

fn send_opt(s: &mut TcpStream, opt: impl Into<u32>, data: &[u8]) {
    let mut m = p::IHAVEOPT.to_be_bytes().to_vec();
    m.extend_from_slice(&opt.into().to_be_bytes());
    m.extend_from_slice(&(data.len() as u32).to_be_bytes());
    m.extend_from_slice(data);
    s.write_all(&m).expect("option");
}

/// Reads one option reply: (option, type, data).
fn read_rep(s: &mut TcpStream) -> (p::OptionType, p::OptionReplyType, Vec<u8>) {
    let mut h = [0u8; 20];
    s.read_exact(&mut h).expect("option reply");
    assert_eq!(be64(&h), p::OPTION_REPLY_MAGIC);
    let mut d = vec![0u8; be32(&h[16..]) as usize];
    s.read_exact(&mut d).expect("reply data");
    (be32(&h[8..]).into(), be32(&h[12..]).into(), d)
}

fn go_data(name: &str) -> Vec<u8> {
    let mut d = (name.len() as u32).to_be_bytes().to_vec();
    d.extend_from_slice(name.as_bytes());
    d.extend_from_slice(&1u16.to_be_bytes());
    d.extend_from_slice(&p::InfoType::BlockSize.to_be_bytes());
    d
}

/// NBD_OPT_GO; returns (size, transmission flags).
fn go(s: &mut TcpStream, name: &str) -> (u64, u16) {
    send_opt(s, p::OptionType::Go, &go_data(name));
    let mut export = None;
    loop {
        let (opt, ty, d) = read_rep(s);
        assert_eq!(opt, p::OptionType::Go);
        match ty {
            p::OptionReplyType::Info
                if p::InfoType::from(u16::from_be_bytes([d[0], d[1]])) == p::InfoType::Export =>
            {
                export = Some((be64(&d[2..]), u16::from_be_bytes([d[10], d[11]])));
            }
            p::OptionReplyType::Info => {}
            p::OptionReplyType::Ack => return export.expect("NBD_INFO_EXPORT before ACK"),
            other => panic!("GO failed with reply {other:?}"),
        }
    }
}

/// Connects and enters transmission.
fn open(addr: SocketAddr, structured: bool) -> TcpStream {
    let mut s = connect(addr);
    greet(&mut s, p::FLAG_C_FIXED_NEWSTYLE | p::FLAG_C_NO_ZEROES);
    if structured {
        send_opt(&mut s, p::OptionType::StructuredReply, &[]);
        assert_eq!(read_rep(&mut s).1, p::OptionReplyType::Ack);
    }
    let (size, _) = go(&mut s, NAME);
    assert_eq!(size, SIZE);
    s
}

fn request(
    s: &mut TcpStream,
    cmd: impl Into<u16>,
    flags: u16,
    cookie: u64,
    offset: u64,
    len: u32,
    payload: &[u8],
) {
    let mut m = Vec::with_capacity(28 + payload.len());
    m.extend_from_slice(&p::REQUEST_MAGIC.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&cmd.into().to_be_bytes());
    m.extend_from_slice(&cookie.to_be_bytes());
    m.extend_from_slice(&offset.to_be_bytes());
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(payload);
    s.write_all(&m).expect("request");
}

/// Reads a simple reply header: (error, none for success; cookie).
fn simple(s: &mut TcpStream) -> (Option<p::Errno>, u64) {
    let mut h = [0u8; 16];
    s.read_exact(&mut h).expect("simple reply");
    assert_eq!(be32(&h), p::SIMPLE_REPLY_MAGIC);
    let error = be32(&h[4..]);
    ((error != 0).then(|| error.into()), be64(&h[8..]))
}

/// Reads a structured chunk: (flags, type, cookie, payload).
fn chunk(s: &mut TcpStream) -> (u16, p::ReplyType, u64, Vec<u8>) {
    let mut h = [0u8; 20];
    s.read_exact(&mut h).expect("chunk");
    assert_eq!(be32(&h), p::STRUCTURED_REPLY_MAGIC);
    let mut d = vec![0u8; be32(&h[16..]) as usize];
    s.read_exact(&mut d).expect("chunk payload");
    (
        u16::from_be_bytes([h[4], h[5]]),
        u16::from_be_bytes([h[6], h[7]]).into(),
        be64(&h[8..]),
        d,
    )
}

/// The server closed the connection (EOF, or reset).
fn assert_closed(s: &mut TcpStream) {
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// A fresh client can still write and read.
fn assert_still_serves(addr: SocketAddr) {
    let mut s = open(addr, false);
    let data = vec![0x5au8; 4096];
    request(
        &mut s,
        p::CommandType::Write,
        0,
        1,
        SIZE - 4096,
        4096,
        &data,
    );
    assert_eq!(simple(&mut s), (None, 1));
    request(&mut s, p::CommandType::Read, 0, 2, SIZE - 4096, 4096, &[]);
    assert_eq!(simple(&mut s), (None, 2));
    let mut back = vec![0u8; 4096];
    s.read_exact(&mut back).expect("read data");
    assert_eq!(back, data);
    request(&mut s, p::CommandType::Disc, 0, 3, 0, 0, &[]);
    assert_closed(&mut s);
}

fn start(block: u32) -> (Running, Arc<ebsim_nbd::MemoryDevice>) {
    let dev = mem(SIZE, block);
    (
        Running::start(vec![(NAME.into(), dev.clone() as Arc<dyn BlockDevice>)]),
        dev,
    )
}

#[test]
fn truncated_handshakes_and_bad_magic_close_only_that_connection() {
    let (srv, _dev) = start(512);
    // Client flags cut short.
    let mut s = connect(srv.addr);
    let mut g = [0u8; 18];
    s.read_exact(&mut g).expect("greeting");
    s.write_all(&[0, 0]).expect("partial flags");
    drop(s);
    // Unknown client flags: the server must drop the connection.
    let mut s = connect(srv.addr);
    greet(&mut s, 0x80);
    assert_closed(&mut s);
    // Bad option magic.
    let mut s = connect(srv.addr);
    greet(&mut s, 1);
    s.write_all(&[0xffu8; 16]).expect("garbage");
    assert_closed(&mut s);
    // Option header cut short, then option data cut short.
    let mut s = connect(srv.addr);
    greet(&mut s, 1);
    s.write_all(&p::IHAVEOPT.to_be_bytes())
        .expect("half header");
    drop(s);
    let mut s = connect(srv.addr);
    greet(&mut s, 1);
    let mut m = p::IHAVEOPT.to_be_bytes().to_vec();
    m.extend_from_slice(&p::OptionType::Go.to_be_bytes());
    m.extend_from_slice(&100u32.to_be_bytes());
    m.extend_from_slice(&[1, 2, 3]);
    s.write_all(&m).expect("short data");
    drop(s);
    // Nothing at all.
    drop(connect(srv.addr));
    assert_still_serves(srv.addr);
    srv.stop().expect("clean shutdown");
}

#[test]
fn unknown_malformed_and_oversized_options_are_refused_then_go_works() {
    let (srv, _dev) = start(4096);
    let mut s = connect(srv.addr);
    greet(&mut s, 1);
    send_opt(&mut s, 99u32, b"unknown option data");
    assert_eq!(
        read_rep(&mut s),
        (
            p::OptionType::Unknown(99),
            p::OptionReplyType::ErrUnsup,
            b"option not supported".to_vec()
        )
    );
    send_opt(&mut s, p::OptionType::StartTls, &[]);
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::ErrUnsup);
    send_opt(&mut s, p::OptionType::List, b"x");
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::ErrInvalid);
    let mut bad = go_data(NAME);
    bad.truncate(bad.len() - 1);
    send_opt(&mut s, p::OptionType::Go, &bad);
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::ErrInvalid);
    send_opt(&mut s, p::OptionType::Info, &go_data("vol-none"));
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::ErrUnknown);
    send_opt(
        &mut s,
        7777u32,
        &vec![0u8; p::MAX_OPTION_LEN as usize + 1000],
    );
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::ErrTooBig);
    send_opt(&mut s, p::OptionType::List, &[]);
    let (_, ty, d) = read_rep(&mut s);
    assert_eq!(ty, p::OptionReplyType::Server);
    assert_eq!(&d[4..], NAME.as_bytes());
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::Ack);
    let (size, flags) = go(&mut s, NAME);
    assert_eq!(size, SIZE);
    assert_ne!(flags & p::TFLAG_CAN_MULTI_CONN, 0);
    request(&mut s, p::CommandType::Read, 0, 5, 0, 4096, &[]);
    assert_eq!(simple(&mut s), (None, 5));

    // An option length far too long to skip: refused, then the connection is closed.
    let mut s = connect(srv.addr);
    greet(&mut s, 1);
    let mut m = p::IHAVEOPT.to_be_bytes().to_vec();
    m.extend_from_slice(&p::OptionType::Go.to_be_bytes());
    m.extend_from_slice(&u32::MAX.to_be_bytes());
    s.write_all(&m).expect("header");
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::ErrTooBig);
    assert_closed(&mut s);

    // NBD_OPT_ABORT is acknowledged.
    let mut s = connect(srv.addr);
    greet(&mut s, 1);
    send_opt(&mut s, p::OptionType::Abort, &[]);
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::Ack);
    assert_closed(&mut s);
    assert_still_serves(srv.addr);
    srv.stop().expect("clean shutdown");
}

#[test]
fn bad_requests_get_errors_without_touching_data() {
    let (srv, dev) = start(4096);
    let mut s = open(srv.addr, false);
    let before = contents(&*dev);
    request(&mut s, 42u16, 0, 1, 0, 4096, &[]);
    assert_eq!(
        simple(&mut s),
        (Some(p::Errno::Inval), 1),
        "unknown command"
    );
    request(&mut s, p::CommandType::Read, 0, 2, 512, 4096, &[]);
    assert_eq!(
        simple(&mut s),
        (Some(p::Errno::Inval), 2),
        "misaligned read"
    );
    request(&mut s, p::CommandType::Read, 0, 3, SIZE, 4096, &[]);
    assert_eq!(
        simple(&mut s),
        (Some(p::Errno::Inval), 3),
        "read past the end"
    );
    request(&mut s, p::CommandType::Read, 1 << 9, 4, 0, 4096, &[]);
    assert_eq!(simple(&mut s), (Some(p::Errno::Inval), 4), "unknown flag");
    request(
        &mut s,
        p::CommandType::Write,
        0,
        5,
        SIZE,
        4096,
        &[0xee; 4096],
    );
    assert_eq!(
        simple(&mut s),
        (Some(p::Errno::NoSpc), 5),
        "write past the end"
    );
    request(
        &mut s,
        p::CommandType::Write,
        0,
        6,
        100,
        4096,
        &[0xee; 4096],
    );
    assert_eq!(
        simple(&mut s),
        (Some(p::Errno::Inval), 6),
        "misaligned write"
    );
    request(&mut s, p::CommandType::Write, 0, 7, 0, 1000, &[0xee; 1000]);
    assert_eq!(
        simple(&mut s),
        (Some(p::Errno::Inval), 7),
        "partial-sector write"
    );
    request(
        &mut s,
        p::CommandType::WriteZeroes,
        0,
        8,
        SIZE - 4096,
        8192,
        &[],
    );
    assert_eq!(
        simple(&mut s),
        (Some(p::Errno::NoSpc), 8),
        "zeroes past the end"
    );
    request(&mut s, p::CommandType::Trim, 0, 9, 2048, 4096, &[]);
    assert_eq!(
        simple(&mut s),
        (Some(p::Errno::Inval), 9),
        "misaligned trim"
    );
    assert!(
        contents(&*dev) == before,
        "a refused request changed the device"
    );
    // The connection still works after all that (write payloads were consumed).
    request(
        &mut s,
        p::CommandType::Write,
        0,
        10,
        8192,
        4096,
        &[0x42; 4096],
    );
    assert_eq!(simple(&mut s), (None, 10));
    assert!(contents(&*dev)[8192..12288].iter().all(|&b| b == 0x42));
    // A bad request magic ends the connection.
    s.write_all(&[0u8; 28]).expect("garbage request");
    assert_closed(&mut s);
    // So does a write longer than the maximum payload.
    let mut s = open(srv.addr, false);
    request(
        &mut s,
        p::CommandType::Write,
        0,
        11,
        0,
        p::MAX_PAYLOAD + 4096,
        &[],
    );
    assert_closed(&mut s);
    // And a request cut short.
    let mut s = open(srv.addr, false);
    s.write_all(&p::REQUEST_MAGIC.to_be_bytes())
        .expect("partial");
    drop(s);
    assert_still_serves(srv.addr);
    srv.stop().expect("clean shutdown");
}

#[test]
fn structured_replies_carry_data_and_error_chunks() {
    let (srv, dev) = start(512);
    dev.write_at(4096, &[0x99; 1024]).expect("seed");
    let mut s = open(srv.addr, true);
    request(
        &mut s,
        p::CommandType::Read,
        p::CMD_FLAG_DF,
        1,
        4096,
        1024,
        &[],
    );
    let (flags, ty, cookie, d) = chunk(&mut s);
    assert_eq!(
        (flags, ty, cookie),
        (p::REPLY_FLAG_DONE, p::ReplyType::OffsetData, 1)
    );
    assert_eq!(be64(&d), 4096);
    assert_eq!(&d[8..], &[0x99; 1024][..]);
    request(&mut s, p::CommandType::Read, 0, 2, 100, 512, &[]);
    let (flags, ty, cookie, d) = chunk(&mut s);
    assert_eq!(
        (flags, ty, cookie),
        (p::REPLY_FLAG_DONE, p::ReplyType::Error, 2)
    );
    assert_eq!(p::Errno::from(be32(&d)), p::Errno::Inval);
    let msg_len = u16::from_be_bytes([d[4], d[5]]) as usize;
    assert!(
        msg_len > 0 && d.len() == 6 + msg_len,
        "error chunk with a message"
    );
    request(&mut s, p::CommandType::Read, 0, 3, 0, 0, &[]);
    let (flags, ty, cookie, d) = chunk(&mut s);
    assert_eq!(
        (flags, ty, cookie, d.len()),
        (p::REPLY_FLAG_DONE, p::ReplyType::None, 3, 0)
    );
    // Non-read requests still get simple replies when they succeed.
    request(&mut s, p::CommandType::Flush, 0, 4, 0, 0, &[]);
    assert_eq!(simple(&mut s), (None, 4));
    request(&mut s, p::CommandType::Disc, 0, 5, 0, 0, &[]);
    assert_closed(&mut s);
    srv.stop().expect("clean shutdown");
}

#[test]
fn pipelined_requests_complete_with_matching_cookies() {
    let (srv, dev) = start(4096);
    let mut s = open(srv.addr, false);
    let n = 32u64;
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend_from_slice(&p::REQUEST_MAGIC.to_be_bytes());
        batch.extend_from_slice(&0u16.to_be_bytes());
        batch.extend_from_slice(&p::CommandType::Write.to_be_bytes());
        batch.extend_from_slice(&(1000 + i).to_be_bytes());
        batch.extend_from_slice(&(i * 8192).to_be_bytes());
        batch.extend_from_slice(&8192u32.to_be_bytes());
        batch.extend_from_slice(&[i as u8 + 1; 8192]);
    }
    s.write_all(&batch).expect("pipelined writes");
    let mut seen: Vec<u64> = (0..n)
        .map(|_| simple(&mut s))
        .map(|(e, c)| {
            assert_eq!(e, None);
            c
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1000..1000 + n).collect::<Vec<_>>());
    for i in 0..n {
        request(
            &mut s,
            p::CommandType::Read,
            0,
            2000 + i,
            i * 8192,
            8192,
            &[],
        );
    }
    for _ in 0..n {
        let (e, c) = simple(&mut s);
        assert_eq!(e, None);
        let mut d = vec![0u8; 8192];
        s.read_exact(&mut d).expect("data");
        let i = c - 2000;
        assert!(
            d.iter().all(|&b| b == i as u8 + 1),
            "read {i} returned the wrong data"
        );
    }
    let c = contents(&*dev);
    assert!(
        c[..(n * 8192) as usize]
            .chunks(8192)
            .enumerate()
            .all(|(i, ch)| ch.iter().all(|&b| b == i as u8 + 1))
    );
    srv.stop().expect("clean shutdown");
}

#[test]
fn fua_flush_trim_and_write_zeroes_reach_the_device() {
    let inner = mem(SIZE, 512);
    let dev = Counting::new(inner.clone());
    let srv = Running::start(vec![(NAME.into(), dev.clone() as Arc<dyn BlockDevice>)]);
    let mut s = open(srv.addr, false);
    request(
        &mut s,
        p::CommandType::Write,
        p::CMD_FLAG_FUA,
        1,
        0,
        8192,
        &[0xaa; 8192],
    );
    assert_eq!(simple(&mut s), (None, 1));
    assert_eq!(dev.flushes(), 1, "FUA write flushed");
    request(&mut s, p::CommandType::Flush, 0, 2, 0, 0, &[]);
    assert_eq!(simple(&mut s), (None, 2));
    assert_eq!(dev.flushes(), 2);
    request(
        &mut s,
        p::CommandType::WriteZeroes,
        p::CMD_FLAG_NO_HOLE,
        3,
        0,
        1024,
        &[],
    );
    assert_eq!(simple(&mut s), (None, 3));
    request(
        &mut s,
        p::CommandType::WriteZeroes,
        p::CMD_FLAG_FUA,
        4,
        1024,
        1024,
        &[],
    );
    assert_eq!(simple(&mut s), (None, 4));
    assert_eq!(dev.flushes(), 3);
    request(&mut s, p::CommandType::Trim, 0, 5, 2048, 512, &[]);
    assert_eq!(simple(&mut s), (None, 5));
    let c = contents(&*inner);
    assert!(c[..2560].iter().all(|&b| b == 0));
    assert!(c[2560..8192].iter().all(|&b| b == 0xaa));
    // Shutdown flushes once more, with the client still connected; the client sees EOF.
    let before = dev.flushes();
    srv.stop().expect("clean shutdown");
    assert_eq!(dev.flushes(), before + 1);
    assert_closed(&mut s);
}

/// Delays every write, so that requests are still running when shutdown starts; counts the
/// writes that have started.
struct Slow(Arc<ebsim_nbd::MemoryDevice>, std::sync::atomic::AtomicUsize);

impl BlockDevice for Slow {
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn block_size(&self) -> u32 {
        self.0.block_size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        self.0.write_at(offset, data)
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn trim(&self, offset: u64, len: u64) -> std::io::Result<()> {
        self.0.trim(offset, len)
    }
}

#[test]
fn shutdown_finishes_in_flight_requests_then_closes() {
    let inner = mem(SIZE, 4096);
    let slow = Arc::new(Slow(inner.clone(), Default::default()));
    let srv = Running::start(vec![(NAME.into(), slow.clone() as Arc<dyn BlockDevice>)]);
    let mut s = open(srv.addr, false);
    let mut batch = Vec::new();
    for i in 0..3u64 {
        batch.extend_from_slice(&p::REQUEST_MAGIC.to_be_bytes());
        batch.extend_from_slice(&0u16.to_be_bytes());
        batch.extend_from_slice(&p::CommandType::Write.to_be_bytes());
        batch.extend_from_slice(&i.to_be_bytes());
        batch.extend_from_slice(&(i * 65536).to_be_bytes());
        batch.extend_from_slice(&65536u32.to_be_bytes());
        batch.extend_from_slice(&[0x61; 65536]);
    }
    s.write_all(&batch).expect("writes");
    // Wait until the three writes are running in the device.
    let t0 = std::time::Instant::now();
    while slow.1.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "writes never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let addr = srv.addr;
    srv.stop().expect("clean shutdown");
    // Every in-flight write was answered, then the connection closed.
    let mut cookies: Vec<u64> = (0..3)
        .map(|_| simple(&mut s))
        .map(|(e, c)| {
            assert_eq!(e, None);
            c
        })
        .collect();
    cookies.sort_unstable();
    assert_eq!(cookies, [0, 1, 2]);
    assert_closed(&mut s);
    assert!(contents(&*inner)[..3 * 65536].iter().all(|&b| b == 0x61));
    assert!(
        TcpStream::connect(addr).is_err(),
        "listener closed after shutdown"
    );
}

#[test]
fn a_flushed_write_on_one_connection_is_visible_on_another() {
    let (srv, _dev) = start(512);
    let mut a = open(srv.addr, false);
    let mut b = open(srv.addr, true);
    request(
        &mut a,
        p::CommandType::Write,
        0,
        1,
        65536,
        4096,
        &[0x3e; 4096],
    );
    assert_eq!(simple(&mut a), (None, 1));
    request(&mut a, p::CommandType::Flush, 0, 2, 0, 0, &[]);
    assert_eq!(simple(&mut a), (None, 2));
    request(&mut b, p::CommandType::Read, 0, 3, 65536, 4096, &[]);
    let (_, ty, cookie, d) = chunk(&mut b);
    assert_eq!((ty, cookie), (p::ReplyType::OffsetData, 3));
    assert!(d[8..].iter().all(|&x| x == 0x3e));
    assert_eq!(srv.server.active_connections(), 2);
    srv.stop().expect("clean shutdown");
}

/// A device that panics on reads of its second block.
struct Buggy(Arc<ebsim_nbd::MemoryDevice>);

impl BlockDevice for Buggy {
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn block_size(&self) -> u32 {
        self.0.block_size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        assert!(offset != 512, "simulated device bug");
        self.0.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write_at(offset, data)
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn trim(&self, offset: u64, len: u64) -> std::io::Result<()> {
        self.0.trim(offset, len)
    }
}

#[test]
fn a_panicking_device_gets_an_eio_reply_and_the_connection_continues() {
    let srv = Running::start(vec![(
        NAME.into(),
        Arc::new(Buggy(mem(SIZE, 512))) as Arc<dyn BlockDevice>,
    )]);
    let mut s = open(srv.addr, false);
    request(&mut s, p::CommandType::Read, 0, 1, 512, 512, &[]);
    assert_eq!(simple(&mut s), (Some(p::Errno::Io), 1));
    request(&mut s, p::CommandType::Read, 0, 2, 0, 512, &[]);
    assert_eq!(simple(&mut s), (None, 2));
    let mut d = [0u8; 512];
    s.read_exact(&mut d).expect("data");
    srv.stop().expect("clean shutdown");
}

#[test]
fn block_status_chunks_follow_the_request() {
    let (srv, dev) = start(512);
    dev.write_at(8192, &[7; 1024]).expect("seed");
    let mut s = connect(srv.addr);
    greet(&mut s, 1);
    // Without a selected context, BLOCK_STATUS is refused.
    let mut plain = open(srv.addr, true);
    request(&mut plain, p::CommandType::BlockStatus, 0, 1, 0, 4096, &[]);
    let (_, ty, _, d) = chunk(&mut plain);
    assert_eq!(
        (ty, p::Errno::from(be32(&d))),
        (p::ReplyType::Error, p::Errno::Inval)
    );

    send_opt(&mut s, p::OptionType::StructuredReply, &[]);
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::Ack);
    let mut q = (NAME.len() as u32).to_be_bytes().to_vec();
    q.extend_from_slice(NAME.as_bytes());
    q.extend_from_slice(&1u32.to_be_bytes());
    q.extend_from_slice(&(p::BASE_ALLOCATION.len() as u32).to_be_bytes());
    q.extend_from_slice(p::BASE_ALLOCATION.as_bytes());
    send_opt(&mut s, p::OptionType::SetMetaContext, &q);
    let (_, ty, d) = read_rep(&mut s);
    assert_eq!(
        (ty, be32(&d)),
        (p::OptionReplyType::MetaContext, p::BASE_ALLOCATION_ID)
    );
    assert_eq!(read_rep(&mut s).1, p::OptionReplyType::Ack);
    go(&mut s, NAME);

    let descriptors = |d: &[u8]| -> Vec<(u32, u32)> {
        assert_eq!(be32(d), p::BASE_ALLOCATION_ID);
        d[4..].chunks(8).map(|c| (be32(c), be32(&c[4..]))).collect()
    };
    request(&mut s, p::CommandType::BlockStatus, 0, 2, 4096, 16384, &[]);
    let (flags, ty, cookie, d) = chunk(&mut s);
    assert_eq!(
        (flags, ty, cookie),
        (p::REPLY_FLAG_DONE, p::ReplyType::BlockStatus, 2)
    );
    let hz = p::STATE_HOLE | p::STATE_ZERO;
    assert_eq!(descriptors(&d), [(4096, hz), (1024, 0), (11264, hz)]);
    request(
        &mut s,
        p::CommandType::BlockStatus,
        p::CMD_FLAG_REQ_ONE,
        3,
        8192,
        16384,
        &[],
    );
    let (_, _, _, d) = chunk(&mut s);
    assert_eq!(descriptors(&d), [(1024, 0)]);
    srv.stop().expect("clean shutdown");
}
