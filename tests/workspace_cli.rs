//! `ebsim directory …` and `ebsim workspace …` as a front of the WorkSpaces API: in this
//! process without a server, through `ebsim serve` when one runs (docs/workspaces.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn flow(e: &Ebsim, user: &str) {
    let d = e.ok(&["directory", "create", "corp.example.com", "--register"]);
    let d = d.trim();
    let sid = e.ok(&["directory", "add-user", d, user]);
    assert!(sid.trim().starts_with("S-1-5-21-"), "{sid}");
    // A second user of the same name (any case) is refused.
    let out = e.output(&["directory", "add-user", d, &user.to_uppercase()]);
    assert_eq!(out.status.code(), Some(1));
    let w = json(&e.ok(&[
        "--json",
        "workspace",
        "launch",
        "--user",
        user,
        "--directory",
        d,
    ]));
    assert_eq!(w["State"], "AVAILABLE", "{w}");
    let id = w["WorkspaceId"].as_str().unwrap().to_owned();
    // The same user again: AWS's code, nothing made.
    let out = e.output(&["workspace", "launch", "--user", user, "--directory", d]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ResourceExists.WorkSpace"), "{err}");
    let out = e.output(&[
        "workspace",
        "launch",
        "--user",
        user,
        "--directory",
        "d-0123456789",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ResourceNotFound.Directory"));
    let out = e.output(&[
        "workspace",
        "launch",
        "--user",
        user,
        "--directory",
        d,
        "--bundle",
        "wsb-nosuchbundle",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ResourceNotFound.Bundle"));
    let list = json(&e.ok(&["--json", "workspace", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let state = |args: &[&str]| json(&e.ok(args))["State"].as_str().unwrap().to_owned();
    assert_eq!(state(&["--json", "workspace", "stop", &id]), "STOPPED");
    let out = e.output(&["workspace", "reboot", &id]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidResourceState"));
    assert_eq!(state(&["--json", "workspace", "start", &id]), "AVAILABLE");
    assert_eq!(state(&["--json", "workspace", "reboot", &id]), "AVAILABLE");
    assert_eq!(state(&["--json", "workspace", "rebuild", &id]), "AVAILABLE");
    assert_eq!(
        state(&["--json", "workspace", "terminate", &id]),
        "TERMINATED"
    );
    let dirs = json(&e.ok(&["--json", "directory", "list"]));
    assert!(
        dirs.as_array()
            .unwrap()
            .iter()
            .any(|x| x["directory_id"] == d),
        "{dirs}"
    );
    // Bad directory input: refused with exit 1, nothing changed.
    for args in [
        &["directory", "add-user", d, "eve", "--sid", "not-a-sid"][..],
        &["directory", "add-user", "d-0123456789", "eve"],
        &["directory", "add-user", "nope", "eve"],
        &["directory", "add-user", d, ""],
        &["directory", "create", "bad name!"],
    ] {
        let out = e.output(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    assert_eq!(json(&e.ok(&["--json", "directory", "list"])), dirs);
}

#[test]
fn workspaces_in_process() {
    let tmp = tempfile::tempdir().unwrap();
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(tmp.path().join("data"));
    flow(&e, "alice");
}

#[test]
fn workspaces_through_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let e = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(&data);
    let server = e.serve(&["serve", "--listen", "127.0.0.1:0"]);
    flow(&e, "bob");
    // The server made the calls: its audit trail names WorkSpaces' CreateGrant.
    let trail = e.ok(&["--json", "audit"]);
    assert!(trail.contains("workspaces.amazonaws.com"), "{trail}");
    assert!(server.stop().unwrap().success());
}
