//! `NBD_OPT_STARTTLS` with rustls clients and rcgen certificates: under "required", options
//! before TLS get `NBD_REP_ERR_TLS_REQD` (and `NBD_OPT_EXPORT_NAME` ends the connection); a
//! client with a certificate from the CA gets TLS and then the export; STARTTLS twice is
//! `NBD_REP_ERR_INVALID`; clients without a certificate, with one from another CA, or that
//! speak no TLS are refused and the server goes on serving; "optional" serves plaintext too;
//! without credentials STARTTLS is unsupported; bad credentials are a typed error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Running, mem};
use ebsim_nbd::{BlockDevice, NbdError, ServerConfig, TlsCreds};
use ebsim_test_support::tls::{Pki, make_pki};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
const OPT_EXPORT_NAME: u32 = 1;
const OPT_LIST: u32 = 3;
const OPT_STARTTLS: u32 = 5;
const OPT_GO: u32 = 7;
const REP_ACK: u32 = 1;
const REP_SERVER: u32 = 2;
const REP_INFO: u32 = 3;
const ERR_UNSUP: u32 = 0x8000_0001;
const ERR_INVALID: u32 = 0x8000_0003;
const ERR_TLS_REQD: u32 = 0x8000_0005;

fn server(pki: Option<&Pki>, required: bool) -> (Running, Arc<ebsim_nbd::MemoryDevice>) {
    let dev = mem(64 << 20, 512);
    let mut config = ServerConfig::default();
    if let Some(p) = pki {
        config = config.tls(TlsCreds::from_x509_dir(&p.server).expect("creds"), required);
    }
    let exports = vec![("disk".to_string(), Arc::clone(&dev) as Arc<dyn BlockDevice>)];
    (Running::start_with(exports, config), dev)
}

/// Connects, reads the greeting, sends the client flags.
fn connect(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut g = [0u8; 18];
    s.read_exact(&mut g).expect("greeting");
    assert_eq!(&g[..8], b"NBDMAGIC");
    s.write_all(&3u32.to_be_bytes()).expect("flags");
    s
}

fn send_option<W: Write>(w: &mut W, opt: u32, data: &[u8]) {
    let mut m = IHAVEOPT.to_be_bytes().to_vec();
    m.extend_from_slice(&opt.to_be_bytes());
    m.extend_from_slice(&(data.len() as u32).to_be_bytes());
    m.extend_from_slice(data);
    w.write_all(&m).expect("option");
    w.flush().expect("flush");
}

/// Reads one option reply: (type, data).
fn reply<R: Read>(r: &mut R, opt: u32) -> (u32, Vec<u8>) {
    let mut h = [0u8; 20];
    r.read_exact(&mut h).expect("option reply");
    assert_eq!(u32::from_be_bytes(h[8..12].try_into().unwrap()), opt);
    let ty = u32::from_be_bytes(h[12..16].try_into().unwrap());
    let len = u32::from_be_bytes(h[16..20].try_into().unwrap()) as usize;
    let mut d = vec![0u8; len];
    r.read_exact(&mut d).expect("reply data");
    (ty, d)
}

fn go_data(name: &str) -> Vec<u8> {
    let mut d = (name.len() as u32).to_be_bytes().to_vec();
    d.extend_from_slice(name.as_bytes());
    d.extend_from_slice(&0u16.to_be_bytes());
    d
}

/// A rustls client for the certificates in `dir` (ca-cert.pem, and client-cert.pem /
/// client-key.pem when present).
fn client_config(dir: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("ca-cert.pem")).expect("ca") {
        roots.add(c.expect("ca cert")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let cert = dir.join("client-cert.pem");
    let config = if cert.exists() {
        let chain = CertificateDer::pem_file_iter(&cert)
            .expect("cert")
            .collect::<Result<Vec<_>, _>>()
            .expect("certs");
        let key = PrivateKeyDer::from_pem_file(dir.join("client-key.pem")).expect("key");
        b.with_client_auth_cert(chain, key).expect("client auth")
    } else {
        b.with_no_client_auth()
    };
    Arc::new(config)
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// STARTTLS (acknowledged) and the TLS handshake with the certificates in `dir`.
fn start_tls(mut s: TcpStream, dir: &Path) -> std::io::Result<Tls> {
    send_option(&mut s, OPT_STARTTLS, &[]);
    assert_eq!(reply(&mut s, OPT_STARTTLS).0, REP_ACK);
    let name = ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(client_config(dir), name).expect("client");
    let mut tls = rustls::StreamOwned::new(conn, s);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    // TLS 1.3 reports a refused client certificate only on the first read after the
    // handshake: ask something to find out.
    send_option(&mut tls, OPT_LIST, &[]);
    let mut h = [0u8; 20];
    tls.read_exact(&mut h)?;
    let len = u32::from_be_bytes(h[16..20].try_into().unwrap()) as usize;
    let mut d = vec![0u8; len];
    tls.read_exact(&mut d)?;
    assert_eq!(
        u32::from_be_bytes(h[12..16].try_into().unwrap()),
        REP_SERVER
    );
    assert_eq!(reply(&mut tls, OPT_LIST).0, REP_ACK);
    Ok(tls)
}

/// `NBD_OPT_GO` for the default export, then a write and reads over `s`.
fn use_export<S: Read + Write>(s: &mut S) {
    send_option(s, OPT_GO, &go_data(""));
    loop {
        match reply(s, OPT_GO).0 {
            REP_INFO => {}
            REP_ACK => break,
            other => panic!("GO failed: {other:#x}"),
        }
    }
    let pattern: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    let request = |ty: u16, cookie: u64, offset: u64, len: u32| {
        let mut r = 0x2560_9513u32.to_be_bytes().to_vec();
        r.extend_from_slice(&0u16.to_be_bytes());
        r.extend_from_slice(&ty.to_be_bytes());
        r.extend_from_slice(&cookie.to_be_bytes());
        r.extend_from_slice(&offset.to_be_bytes());
        r.extend_from_slice(&len.to_be_bytes());
        r
    };
    let mut w = request(1, 7, 4096, pattern.len() as u32);
    w.extend_from_slice(&pattern);
    s.write_all(&w).expect("write");
    let mut simple = [0u8; 16];
    s.read_exact(&mut simple).expect("write reply");
    assert_eq!(&simple[4..8], &[0; 4], "write succeeded");
    // A 32 MiB read: many TLS records.
    s.write_all(&request(0, 8, 0, 32 << 20)).expect("read");
    s.read_exact(&mut simple).expect("read reply");
    assert_eq!(&simple[4..8], &[0; 4], "read succeeded");
    let mut data = vec![0u8; 32 << 20];
    s.read_exact(&mut data).expect("read data");
    assert!(data[4096..4096 + pattern.len()] == pattern[..]);
    assert!(data[..4096].iter().all(|&b| b == 0));
}

#[test]
fn required_tls_refuses_plaintext_and_serves_certified_clients() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(root.path());
    let (srv, _dev) = server(Some(&pki), true);

    // Before TLS: every option but STARTTLS and ABORT is refused with ERR_TLS_REQD.
    let mut s = connect(srv.addr);
    send_option(&mut s, OPT_LIST, &[]);
    assert_eq!(reply(&mut s, OPT_LIST).0, ERR_TLS_REQD);
    send_option(&mut s, OPT_GO, &go_data(""));
    assert_eq!(reply(&mut s, OPT_GO).0, ERR_TLS_REQD);
    // STARTTLS with data is invalid; then a real one.
    send_option(&mut s, OPT_STARTTLS, b"x");
    assert_eq!(reply(&mut s, OPT_STARTTLS).0, ERR_INVALID);
    let mut tls = start_tls(s, &pki.client).expect("TLS with a client certificate");
    // STARTTLS again, over TLS: invalid.
    send_option(&mut tls, OPT_STARTTLS, &[]);
    assert_eq!(reply(&mut tls, OPT_STARTTLS).0, ERR_INVALID);
    use_export(&mut tls);

    // EXPORT_NAME before TLS cannot be refused: the connection ends.
    let mut s = connect(srv.addr);
    send_option(&mut s, OPT_EXPORT_NAME, b"");
    let mut b = [0u8; 1];
    assert!(matches!(s.read(&mut b), Ok(0) | Err(_)));
    srv.stop().expect("stop");
}

#[test]
fn bad_tls_clients_are_refused_and_others_still_served() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(root.path());
    let (srv, _dev) = server(Some(&pki), true);
    // No client certificate, or one from another CA: the TLS handshake fails.
    for dir in [&pki.no_cert, &pki.rogue] {
        let s = connect(srv.addr);
        assert!(
            start_tls(s, dir).is_err(),
            "TLS accepted for {}",
            dir.display()
        );
    }
    // Not TLS at all after STARTTLS.
    let mut s = connect(srv.addr);
    send_option(&mut s, OPT_STARTTLS, &[]);
    assert_eq!(reply(&mut s, OPT_STARTTLS).0, REP_ACK);
    s.write_all(&[0x55; 64]).expect("garbage");
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    // The server still serves a good client.
    let mut tls = start_tls(connect(srv.addr), &pki.client).expect("good client");
    use_export(&mut tls);
    srv.stop().expect("stop");
}

#[test]
fn optional_tls_serves_both_and_no_creds_means_no_tls() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(root.path());
    let (srv, _dev) = server(Some(&pki), false);
    let mut plain = connect(srv.addr);
    use_export(&mut plain);
    let mut tls = start_tls(connect(srv.addr), &pki.client).expect("TLS");
    use_export(&mut tls);
    srv.stop().expect("stop");

    let (srv, _dev) = server(None, false);
    let mut s = connect(srv.addr);
    send_option(&mut s, OPT_STARTTLS, &[]);
    assert_eq!(reply(&mut s, OPT_STARTTLS).0, ERR_UNSUP);
    use_export(&mut s);
    srv.stop().expect("stop");
}

#[test]
fn bad_credentials_are_a_typed_error() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(root.path());
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let e = TlsCreds::from_x509_dir(&empty).expect_err("no files");
    assert!(
        matches!(&e, NbdError::TlsCreds { path, .. } if path.ends_with("ca-cert.pem")),
        "{e}"
    );
    // A key that does not belong to the certificate.
    std::fs::copy(
        pki.client.join("client-key.pem"),
        pki.server.join("server-key.pem"),
    )
    .expect("copy");
    let e = TlsCreds::from_x509_dir(&pki.server).expect_err("wrong key");
    assert!(
        matches!(&e, NbdError::TlsCreds { path, .. } if path.ends_with("server-key.pem")),
        "{e}"
    );
    // Not PEM.
    std::fs::write(pki.server.join("ca-cert.pem"), "not a certificate").expect("write");
    assert!(TlsCreds::from_x509_dir(&pki.server).is_err());
}
