//! Helpers shared by the `volume serve` tests: volumes in a served data dir, `volume serve`
//! itself, and qemu-io.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

use ebsim_test_support::ebsim::{Cli, Ebsim, ok};
use ebsim_test_support::process::Server;

/// Creates a volume and returns its id (the data dir must hold no other volume).
pub fn create_volume(cli: &Cli, dir: &Path, size: &str, sector: &str) -> String {
    cli.ok(&["volume", "create", "--size", size, "--sector-size", sector]);
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("volumes"))
        .expect("volumes dir")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    assert_eq!(ids.len(), 1);
    ids.pop().expect("one volume")
}

/// `ebsim volume serve ARGS…` on the data dir, through the KMS endpoint.
pub fn start_serve(dir: &Path, url: &str, args: &[&str]) -> Server {
    let mut argv = vec!["volume", "serve"];
    argv.extend_from_slice(args);
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim"))
        .data_dir(dir)
        .kms_endpoint(url)
        .serve(&argv)
}

/// As [`start_serve`], with `-v` and stderr piped, for [`Server::stop_with_stderr`].
pub fn start_serve_logged(dir: &Path, url: &str, args: &[&str]) -> Server {
    let mut argv = vec!["-v", "volume", "serve"];
    argv.extend_from_slice(args);
    let mut c = Ebsim::new(env!("CARGO_BIN_EXE_ebsim"))
        .data_dir(dir)
        .kms_endpoint(url)
        .command(&argv);
    c.stderr(Stdio::piped());
    Server::start(c)
}

/// SIGTERM: the exit must be clean and prompt.
pub fn stop(serve: Server) {
    let status = serve.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "volume serve did not stop cleanly on SIGTERM: {status:?}"
    );
}

/// Runs qemu-io on a raw NBD URI with `-c` commands; returns its output.
pub fn qemu_io(uri: &str, cmds: &[String]) -> String {
    let mut c = Command::new("qemu-io");
    c.args(["-f", "raw", uri]);
    for cmd in cmds {
        c.args(["-c", cmd]);
    }
    let out = ok(
        &c.output().expect("qemu-io (installed by .ci/install-deps)"),
        "qemu-io",
    );
    assert!(!out.contains("verification failed"), "{out}");
    out
}
