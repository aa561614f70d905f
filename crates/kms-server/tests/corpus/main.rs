//! The recorded behaviour corpus of the KMS endpoint: a fixed script of requests, sent over
//! HTTP (SigV4-signed, as an AWS SDK does) to the real `ebsim_kms::Kms` on a fixed clock
//! and a fresh data dir, with each request's response and the audit records it appended
//! normalised and compared byte for byte with `tests/data/corpus.jsonl`.
//!
//! The file pins what a redesign of the KMS core must not change: every wire response
//! (status, `__type`, message, body members and their number formats), every audit record
//! (as the line written to `DIR/audit/kms-audit.jsonl`, member order included), the
//! endpoint-trust refusals of the HTTP layer, and the format of `kms/state.json` and
//! `kms/service-credential` (content, member order, file modes).
//!
//! - Replay (the default): `cargo test -p ebsim-kms-server --test corpus` runs the script
//!   against the current code and fails at the first step whose normalised record differs,
//!   showing both records.
//! - Re-record (after an intended behaviour change, reviewed in the diff of the data file):
//!   `EBSIM_RECORD_CORPUS=1 cargo test -p ebsim-kms-server --test corpus`.
//!
//! One JSON object per line, members sorted: `step` (a unique name), `request` (target,
//! credential, body), `response` (status, selected headers, body), `audit` (the records
//! the request appended). Generated values are replaced by placeholders (see
//! `normalize.rs`); the simulated clock starts at a fixed instant and moves only through
//! `EbsimAdmin.AdvanceClock`, so times stay as recorded. SigV4 itself checks the wall clock,
//! which is independent of the KMS clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;
mod normalize;
mod script_access;
mod script_admin;
mod script_aliases;
mod script_crypto;
mod script_keys;
mod script_trust;

use std::path::PathBuf;

use harness::Corpus;

/// Steps the corpus must have at least.
const MIN_STEPS: usize = 300;

fn corpus_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join("corpus.jsonl")
}

/// Runs the whole script on a fresh KMS and server; one rendered line per step.
fn run() -> Vec<String> {
    let mut c = Corpus::start();
    let keys = script_keys::run(&mut c);
    script_crypto::run(&mut c, &keys);
    script_access::run(&mut c, &keys);
    script_admin::run(&mut c, &keys);
    script_trust::run(&mut c);
    c.finish()
}

#[test]
fn kms_behaviour_matches_the_recorded_corpus() {
    let lines = run();
    assert!(
        lines.len() >= MIN_STEPS,
        "the corpus has {} steps, fewer than {MIN_STEPS}",
        lines.len()
    );
    let text = lines.join("\n") + "\n";
    let path = corpus_path();
    if std::env::var_os("EBSIM_RECORD_CORPUS").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(path.parent().expect("data dir")).expect("create data dir");
        std::fs::write(&path, &text).expect("write the corpus");
        eprintln!("recorded {} steps to {}", lines.len(), path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; record it with EBSIM_RECORD_CORPUS=1 cargo test -p ebsim-kms-server --test corpus",
            path.display()
        )
    });
    if expected == text {
        return;
    }
    let want: Vec<&str> = expected.lines().collect();
    for (i, (w, g)) in want.iter().zip(&lines).enumerate() {
        if w != g {
            panic!("{}", describe_difference(i, w, g));
        }
    }
    panic!(
        "the corpus has {} steps, the current code produced {} (the first {} agree); last recorded: {}",
        want.len(),
        lines.len(),
        want.len().min(lines.len()),
        want.last().map(|l| step_name(l)).unwrap_or_default()
    );
}

fn step_name(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v["step"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "<unparsable line>".to_owned())
}

/// Both records of the first differing step: the members that differ, pretty-printed.
fn describe_difference(index: usize, want: &str, got: &str) -> String {
    let parse = |l: &str| serde_json::from_str::<serde_json::Value>(l).unwrap_or_default();
    let (w, g) = (parse(want), parse(got));
    let mut out = format!(
        "corpus step {} ({:?}) differs from the recording (line {} of {}):\n",
        index + 1,
        step_name(want),
        index + 1,
        corpus_path().display()
    );
    if step_name(want) != step_name(got) {
        out.push_str(&format!(
            "the current run has step {:?} here\n",
            step_name(got)
        ));
    }
    for part in [
        "request",
        "response",
        "audit",
        "content",
        "member_order",
        "mode",
    ] {
        if w[part] != g[part] {
            let pretty = |v: &serde_json::Value| {
                let s = serde_json::to_string_pretty(v).unwrap_or_default();
                if s.len() > 6000 {
                    format!("{}\n… ({} bytes)", &s[..floor(&s, 6000)], s.len())
                } else {
                    s
                }
            };
            out.push_str(&format!(
                "--- recorded {part}:\n{}\n+++ current {part}:\n{}\n",
                pretty(&w[part]),
                pretty(&g[part])
            ));
        }
    }
    let at = want
        .bytes()
        .zip(got.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let ctx = |s: &str| {
        let lo = floor(s, at.saturating_sub(120));
        let hi = floor(s, (at + 120).min(s.len()));
        s[lo..hi].to_owned()
    };
    out.push_str(&format!(
        "first differing byte at {at}:\n  recorded: …{}…\n  current:  …{}…\n",
        ctx(want),
        ctx(got)
    ));
    out
}

/// The largest char boundary of `s` at or below `i`.
fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
