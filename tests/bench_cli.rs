//! `ebsim bench` from the outside: the JSON shape of small runs and its errors.

use std::path::PathBuf;
use std::process::Output;

use ebsim_test_support::ebsim::Ebsim;
use serde_json::Value;

fn ebsim(args: &[&str]) -> Output {
    Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).output(args)
}

fn json_run(args: &[&str]) -> Value {
    let out = ebsim(args);
    assert!(
        out.status.success(),
        "ebsim {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim().lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    serde_json::from_str(text.trim()).expect("stdout is JSON")
}

fn results(v: &Value) -> &Vec<Value> {
    v["results"].as_array().expect("results is an array")
}

fn check_entry(e: &Value, sector_size: u64, threads: u64) {
    assert_eq!(e["sector_size"].as_u64(), Some(sector_size), "{e}");
    assert_eq!(e["threads"].as_u64(), Some(threads), "{e}");
    for field in ["bytes_per_sec", "ops_per_sec"] {
        let x = e[field].as_f64().unwrap_or(0.0);
        assert!(x > 0.0, "{field} must be positive: {e}");
    }
    let p50 = e["p50_ns"].as_u64().expect("p50_ns");
    let p99 = e["p99_ns"].as_u64().expect("p99_ns");
    assert!(p50 > 0 && p50 <= p99, "{e}");
    assert!(
        e["backend"].is_string() && e["bytes"].as_u64().unwrap_or(0) > 0,
        "{e}"
    );
}

fn ops(v: &Value) -> Vec<&str> {
    results(v).iter().filter_map(|e| e["op"].as_str()).collect()
}

#[test]
fn store_run_prints_one_json_object_with_every_operation() {
    let v = json_run(&[
        "bench",
        "--json",
        "--size",
        "2MiB",
        "--threads",
        "2",
        "--seconds",
        "0.05",
        "--pattern",
        "random",
        "--sector-size",
        "512",
    ]);
    let ops = ops(&v);
    for op in [
        "encrypt",
        "decrypt",
        "write",
        "read",
        "store_write",
        "store_read",
        "memcpy",
    ] {
        assert!(ops.contains(&op), "{op} missing from {ops:?}");
    }
    for e in results(&v) {
        check_entry(e, 512, 2);
        assert_eq!(e["store"], "memory");
        assert_eq!(e["pattern"], "random");
        assert_eq!(e["io_size"].as_u64(), Some(4096));
    }
}

#[test]
fn file_store_runs_clean_up_their_files() {
    for kind in ["file", "mmap"] {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("bench-cli-{kind}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let dir_s = dir.to_string_lossy().into_owned();
        let v = json_run(&[
            "bench",
            "--json",
            "--store",
            kind,
            "--dir",
            &dir_s,
            "--size",
            "4MiB",
            "--threads",
            "1",
            "--seconds",
            "0.05",
        ]);
        for e in results(&v) {
            check_entry(e, 4096, 1);
            assert_eq!(e["store"], kind);
            assert_eq!(e["pattern"], "seq");
        }
        let left: Vec<_> = std::fs::read_dir(&dir).expect("bench dir exists").collect();
        assert!(
            left.is_empty(),
            "temporary store file left behind: {left:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn engine_only_measures_per_sector_calls_and_1mib_runs() {
    let v = json_run(&[
        "bench",
        "--engine-only",
        "--threads",
        "1",
        "--sector-size",
        "512",
        "--json",
        "--seconds",
        "0.05",
    ]);
    let r = results(&v);
    let sizes: Vec<(String, u64)> = r
        .iter()
        .map(|e| {
            (
                e["op"].as_str().unwrap_or("").to_owned(),
                e["io_size"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    for want in [
        ("encrypt", 512),
        ("decrypt", 512),
        ("encrypt", 1 << 20),
        ("decrypt", 1 << 20),
    ] {
        assert!(
            sizes.contains(&(want.0.to_owned(), want.1)),
            "{want:?} missing from {sizes:?}"
        );
    }
    for e in r {
        check_entry(e, 512, 1);
        assert!(e["store"].is_null(), "engine only: {e}");
    }
}

// Runs the `openssl` command.
#[cfg(feature = "external-tools")]
#[test]
fn compare_openssl_reports_its_figure_and_our_ratio() {
    let v = json_run(&[
        "bench",
        "--engine-only",
        "--threads",
        "1",
        "--json",
        "--seconds",
        "0.05",
        "--compare-openssl",
    ]);
    let o = &v["openssl"];
    let theirs = o["bytes_per_sec"].as_f64().unwrap_or(0.0);
    let ours = o["ours_bytes_per_sec"].as_f64().unwrap_or(0.0);
    assert!(theirs > 1e6, "openssl figure: {o}");
    let ratio = o["ratio"].as_f64().unwrap_or(0.0);
    assert!((ratio - ours / theirs).abs() < 1e-9, "{o}");
    assert!(
        o["command"].as_str().unwrap_or("").contains("-bytes 4096"),
        "{o}"
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let out = ebsim(&["bench", "--sector-size", "1000", "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unsupported sector size 1000: use 512 or 4096"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = ebsim(&["bench", "--size", "12 parsecs"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid size"));

    let out = ebsim(&[
        "bench",
        "--size",
        "4KiB",
        "--threads",
        "2",
        "--seconds",
        "0.05",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too small"));

    let out = ebsim(&["bench", "--io-size", "1000", "--seconds", "0.05"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("multiple of the sector size"));

    let out = ebsim(&["bench", "--backend", "quantum"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown backend"));
}
