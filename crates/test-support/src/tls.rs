//! Certificates for TLS tests, made with rcgen: a CA, a server certificate for `localhost` and
//! `127.0.0.1`, a client certificate signed by the CA, and one signed by another CA, in
//! qemu's x509 directory layout (which libnbd's `tls-certificates` uses too).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The directories [`make_pki`] writes.
#[derive(Debug, Clone)]
pub struct Pki {
    /// `ca-cert.pem`, `server-cert.pem`, `server-key.pem`: for the server.
    pub server: PathBuf,
    /// `ca-cert.pem`, `client-cert.pem`, `client-key.pem`: a client the server accepts.
    pub client: PathBuf,
    /// The same files, the client certificate signed by another CA: a client the server
    /// refuses (it still trusts the server).
    pub rogue: PathBuf,
    /// Only `ca-cert.pem`: a client without a certificate.
    pub no_cert: PathBuf,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().expect("CA key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.distinguished_name.push(DnType::CommonName, name);
    let pem = p.self_signed(&key).expect("CA cert").pem();
    (p, key, pem)
}

fn leaf(
    names: &[&str],
    cn: &str,
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
    let mut p = CertificateParams::new(names).expect("params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![usage];
    let cert = p.signed_by(&key, issuer).expect("cert");
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write pem");
    }
}

/// Writes a fresh PKI under `root` (see [`Pki`]).
pub fn make_pki(root: &Path) -> Pki {
    let (ca_params, ca_key, ca_pem) = ca("ebsim test CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let (server_cert, server_key) = leaf(
        &["localhost", "127.0.0.1"],
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
        &issuer,
    );
    let (client_cert, client_key) =
        leaf(&[], "client", ExtendedKeyUsagePurpose::ClientAuth, &issuer);
    let (rogue_params, rogue_key, _) = ca("another CA");
    let rogue_issuer = Issuer::new(rogue_params, rogue_key);
    let (rogue_cert, rogue_key) = leaf(
        &[],
        "client",
        ExtendedKeyUsagePurpose::ClientAuth,
        &rogue_issuer,
    );
    let pki = Pki {
        server: root.join("server"),
        client: root.join("client"),
        rogue: root.join("rogue"),
        no_cert: root.join("no-cert"),
    };
    write(
        &pki.server,
        &[
            ("ca-cert.pem", &ca_pem),
            ("server-cert.pem", &server_cert),
            ("server-key.pem", &server_key),
        ],
    );
    write(
        &pki.client,
        &[
            ("ca-cert.pem", &ca_pem),
            ("client-cert.pem", &client_cert),
            ("client-key.pem", &client_key),
        ],
    );
    write(
        &pki.rogue,
        &[
            ("ca-cert.pem", &ca_pem),
            ("client-cert.pem", &rogue_cert),
            ("client-key.pem", &rogue_key),
        ],
    );
    write(&pki.no_cert, &[("ca-cert.pem", &ca_pem)]);
    pki
}
