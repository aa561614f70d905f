//! `ebsim volume serve --tls-creds DIR` with real TLS clients: qemu-io with a
//! `tls-creds-x509` object and nbdinfo/nbdcopy with `nbds://` URIs and client certificates get
//! in; plaintext clients, clients without a certificate and clients with a certificate from
//! another CA are refused, and the server goes on serving. Certificates are made with rcgen.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use ebsim_test_support::ebsim::{Cli, ok};
use ebsim_test_support::kms_double::served_data_dir;
use ebsim_test_support::tls::make_pki;

mod common;
use common::{create_volume, start_serve, stop};

fn qemu_io_tls(addr: &str, vol: &str, creds: &Path, cmds: &[&str]) -> Output {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let mut c = Command::new("qemu-io");
    c.arg("--object").arg(format!(
        "tls-creds-x509,id=tls0,endpoint=client,dir={}",
        creds.display()
    ));
    c.arg("--image-opts").arg(format!(
        "driver=nbd,host={host},port={port},export={vol},tls-creds=tls0"
    ));
    for cmd in cmds {
        c.args(["-c", cmd]);
    }
    c.output().expect("qemu-io")
}

fn nbdinfo(uri: &str) -> Output {
    Command::new("nbdinfo")
        .args(["--json", uri])
        .output()
        .expect("nbdinfo")
}

#[test]
fn tls_clients_with_certificates_get_in_and_others_do_not() {
    let (dir, _double, kms) = served_data_dir();
    let url = kms.url();
    let cli = Cli::new(dir.path()).kms_endpoint(&url);
    let vol = create_volume(&cli, dir.path(), "16MiB", "512");
    let pki = make_pki(&dir.path().join("pki"));

    // Settings that make no sense are refused before anything is attached.
    let server = pki.server.to_str().expect("utf-8");
    for (args, msg) in [
        (vec!["--tls", "require"], "needs --tls-creds"),
        (vec!["--allow-remote"], "--allow-remote requires TLS"),
        (vec!["--tls", "off", "--tls-creds", server], "--tls off"),
    ] {
        let mut argv = vec!["volume", "serve", vol.as_str(), "--listen", "127.0.0.1:0"];
        argv.extend_from_slice(&args);
        let err = cli.run(&argv).expect_err("refused");
        assert!(err.to_string().contains(msg), "{args:?}: {err}");
    }
    let bad = dir.path().join("no-creds");
    std::fs::create_dir(&bad).expect("mkdir");
    let err = cli
        .run(&[
            "volume",
            "serve",
            &vol,
            "--tls-creds",
            bad.to_str().expect("utf-8"),
        ])
        .expect_err("missing credentials");
    assert!(err.to_string().contains("ca-cert.pem"), "{err}");

    // TLS is required once credentials are given.
    let serve = start_serve(
        dir.path(),
        &url,
        &[&vol, "--listen", "127.0.0.1:0", "--tls-creds", server],
    );
    let addr = serve.addr.clone();

    // Plaintext: refused.
    let plain = Command::new("qemu-io")
        .args([
            "-f",
            "raw",
            &format!("nbd://{addr}/{vol}"),
            "-c",
            "read 0 512",
        ])
        .output()
        .expect("qemu-io");
    assert!(!plain.status.success(), "plaintext qemu-io got in");

    // qemu-io over TLS with the client certificate.
    let out = qemu_io_tls(
        &addr,
        &vol,
        &pki.client,
        &["write -P 0x7e 65536 131072", "read -P 0x7e 65536 131072"],
    );
    let text = ok(&out, "qemu-io with TLS");
    assert!(!text.contains("verification failed"), "{text}");

    // nbdinfo and nbdcopy with nbds:// URIs.
    let uri = |creds: &Path| format!("nbds://{addr}/{vol}?tls-certificates={}", creds.display());
    let info: serde_json::Value =
        serde_json::from_str(&ok(&nbdinfo(&uri(&pki.client)), "nbdinfo nbds://")).expect("json");
    assert_eq!(info["exports"][0]["export-size"], 16u64 << 20);
    assert_eq!(info["TLS"], true, "{info}");
    let copy = dir.path().join("copy.img");
    ok(
        &Command::new("nbdcopy")
            .arg(uri(&pki.client))
            .arg(&copy)
            .output()
            .expect("nbdcopy"),
        "nbdcopy nbds://",
    );
    let data = std::fs::read(&copy).expect("copy");
    assert!(data[65536..65536 + 131_072].iter().all(|&b| b == 0x7e));
    assert!(data[..65536].iter().all(|&b| b == 0));

    // No client certificate, or one from another CA: refused.
    for creds in [&pki.no_cert, &pki.rogue] {
        let out = nbdinfo(&uri(creds));
        assert!(
            !out.status.success(),
            "nbdinfo got in with {}",
            creds.display()
        );
        let out = qemu_io_tls(&addr, &vol, creds, &["read 0 512"]);
        assert!(
            !out.status.success(),
            "qemu-io got in with {}",
            creds.display()
        );
    }
    // And the server still serves.
    ok(&nbdinfo(&uri(&pki.client)), "nbdinfo after refusals");
    stop(serve);

    // Optional: plaintext and TLS clients both get in.
    let serve = start_serve(
        dir.path(),
        &url,
        &[
            &vol,
            "--listen",
            "127.0.0.1:0",
            "--tls-creds",
            server,
            "--tls",
            "optional",
        ],
    );
    let addr = serve.addr.clone();
    ok(
        &nbdinfo(&format!("nbd://{addr}/{vol}")),
        "plaintext nbdinfo",
    );
    ok(
        &nbdinfo(&format!(
            "nbds://{addr}/{vol}?tls-certificates={}",
            pki.client.display()
        )),
        "TLS nbdinfo",
    );
    stop(serve);
    kms.shutdown().expect("kms shutdown");
}
