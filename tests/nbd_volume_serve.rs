//! `ebsim volume serve` end to end, with real NBD clients (qemu-io, nbdinfo, nbdcopy) against
//! the built binary and a KMS endpoint (an ebsim-kms-server on 127.0.0.1:0 in front of the
//! grant-aware KMS double of the control-plane tests): data written through NBD survives a
//! stop and a new serve, `data.img` holds ciphertext (never the pattern), and the volume is
//! detached (lock released) when the server stops on SIGTERM.
#![cfg(feature = "external-tools")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ebsim_test_support::ebsim::{Cli, ok};
use ebsim_test_support::kms_double::served_data_dir;

mod common;
use common::{create_volume, qemu_io, start_serve, stop};

#[test]
fn served_volume_keeps_data_across_restarts_and_stores_ciphertext() {
    let (dir, _double, kms) = served_data_dir();
    let url = kms.url();
    let cli = Cli::new(dir.path()).kms_endpoint(&url);
    let vol = create_volume(&cli, dir.path(), "16MiB", "512");
    let size: u64 = 16 << 20;
    let writes = [
        (122_880u64, 4096u64, 0xa5u8),
        (1000, 3000, 0xab),
        (size - 8192, 4096, 0xcd),
        (size - 700, 700, 0xef),
    ];

    let serve = start_serve(dir.path(), &url, &[&vol, "--listen", "127.0.0.1:0"]);
    let uri = format!("nbd://{}/{vol}", serve.addr);
    let info: serde_json::Value = serde_json::from_str(&ok(
        &Command::new("nbdinfo")
            .args(["--json", &uri])
            .output()
            .expect("nbdinfo"),
        "nbdinfo",
    ))
    .expect("json");
    assert_eq!(info["exports"][0]["export-size"], size);
    assert_eq!(info["exports"][0]["block_size_minimum"], 512);
    // The volume is attached (locked) while served.
    let out = dir.path().join("busy.bin");
    let busy = cli.run(&[
        "volume",
        "read",
        &vol,
        "--length",
        "512",
        "--output",
        out.to_str().expect("utf-8"),
    ]);
    let err = busy.expect_err("a second attach must fail while the volume is served");
    assert!(err.to_string().contains("in use"), "{err}");
    assert!(
        matches!(&err, ebsim::cli::CliError::InUse { volume_id } if *volume_id == vol),
        "{err:?}"
    );
    let w: Vec<String> = writes
        .iter()
        .map(|(o, l, p)| format!("write -P {p:#x} {o} {l}"))
        .collect();
    qemu_io(&uri, &w);
    stop(serve);

    // data.img holds ciphertext: no 64-byte run of any pattern byte.
    let img =
        std::fs::read(dir.path().join("volumes").join(&vol).join("data.img")).expect("data.img");
    assert_eq!(img.len() as u64, size);
    for (_, _, p) in writes {
        assert!(
            !img.windows(64).any(|w| w.iter().all(|&b| b == p)),
            "pattern {p:#x} in plaintext on disk"
        );
    }
    assert!(
        img[122_880..126_976].iter().any(|&b| b != 0),
        "written sectors are not holes"
    );

    // Serve again (over a Unix socket this time): the data is still there.
    let sock = dir.path().join("nbd.sock");
    let serve = start_serve(
        dir.path(),
        &url,
        &[&vol, "--unix", sock.to_str().expect("utf-8 path")],
    );
    assert_eq!(serve.addr, format!("unix:{}", sock.display()));
    let uri = format!("nbd+unix:///{vol}?socket={}", sock.display());
    let mut r: Vec<String> = writes
        .iter()
        .map(|(o, l, p)| format!("read -P {p:#x} {o} {l}"))
        .collect();
    r.push("read -P 0 8192 65536".into());
    qemu_io(&uri, &r);
    // nbdcopy out: the whole volume, byte for byte what was written.
    let out = dir.path().join("copy.img");
    ok(
        &Command::new("nbdcopy")
            .arg(&uri)
            .arg(&out)
            .output()
            .expect("nbdcopy"),
        "nbdcopy",
    );
    let copy = std::fs::read(&out).expect("copy");
    let mut model = vec![0u8; size as usize];
    for (o, l, p) in writes {
        model[o as usize..(o + l) as usize].fill(p);
    }
    assert!(
        copy == model,
        "copied-out volume differs from what was written"
    );
    stop(serve);
    assert!(!sock.exists(), "socket file removed on stop");

    // Detached: a one-shot read attaches again and sees the data.
    let back = dir.path().join("back.bin");
    cli.run(&[
        "volume",
        "read",
        &vol,
        "--offset",
        "1000",
        "--length",
        "3000",
        "--output",
        back.to_str().expect("utf-8"),
    ])
    .expect("volume read after serve");
    assert_eq!(std::fs::read(&back).expect("back"), vec![0xab; 3000]);
    kms.shutdown().expect("kms shutdown");
}
