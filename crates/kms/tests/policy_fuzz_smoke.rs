//! Fuzz smoke run inside the normal test suite: replays the committed corpus of the
//! `policy_parser` fuzz target (fuzz/seeds/policy_parser) and a few thousand deterministic
//! mutations of it through the same entry point the fuzz target calls. The entry point panics
//! on a bug (a parser panic, or canonical JSON that does not parse back to an equal
//! document). The full coverage-guided run is `cargo fuzz run policy_parser` (fuzz/README.md).

use std::path::PathBuf;

use ebsim_kms::policy::internal::fuzz_policy_parser;
use ebsim_kms::policy::{PolicyDocument, PolicyKind};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/policy_parser");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&p).expect("readable corpus file"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_replays_and_holds_valid_and_invalid_documents() {
    let files = corpus();
    assert!(files.len() >= 10, "corpus has {} files", files.len());
    let mut valid = 0;
    for (name, data) in &files {
        fuzz_policy_parser(data);
        let text = String::from_utf8_lossy(data);
        let ok = PolicyDocument::parse(&text, PolicyKind::Key).is_ok()
            || PolicyDocument::parse(&text, PolicyKind::Identity).is_ok();
        let expect_ok = ![
            "with_comment",
            "missing_comma",
            "trailing_comma",
            "smart_quotes",
            "outside",
        ]
        .iter()
        .any(|bad| name.contains(bad));
        assert_eq!(ok, expect_ok, "{name}");
        valid += usize::from(ok);
    }
    assert!(valid >= 5);
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    ",",
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    "/*",
    "//",
    "*",
    "?",
    "\\u00e9",
    "\\ud83d\\ude00",
    "null",
    "true",
    "1e999",
    "-0",
    "\"kms:*\"",
    "\u{201c}",
    "\u{e9}",
    "\"Principal\"",
    "\"Condition\"",
    "{\"ForAllValues:StringLike\": {\"kms:EncryptionContextKeys\": [\"a*\", 1, false]}}",
    "{\"AWS\": [\"111122223333\", \"*\"]}",
    "\"DateEquals\"",
    "\"2026-02-30T25:61:61+99:99\"",
    "\"NotAction\"",
    "\"Statement\"",
    "\\",
    "\t",
    "\r\n",
];

/// Replacement contents for string literals: keeps the syntax, changes the meaning.
const VALUES: &[&str] = &[
    "Allow",
    "Deny",
    "*",
    "kms:*",
    "kms:Re?ncrypt*",
    "KMS:DECRYPT",
    "111122223333",
    "arn:aws:iam::111122223333:role/a/b",
    "arn:aws:sts::111122223333:assumed-role/R/s",
    "ec2.amazonaws.com",
    "2008-10-17",
    "StringNotLikeIfExists",
    "ForAnyValue:ArnLike",
    "kms:EncryptionContext:Dept",
    "Sid with spaces",
    "",
    "\\u0041\\n",
    "arn:aws:kms:*:*:key/*",
];

/// Replaces the contents of a random string literal (found naively: between two quotes).
fn replace_string(rng: &mut Rng, data: &mut Vec<u8>) {
    let quotes: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'"')
        .map(|(i, _)| i)
        .collect();
    if quotes.len() < 2 {
        return;
    }
    // Pairs of quotes whose next non-blank byte is not `:`: values, not member names.
    let values: Vec<(usize, usize)> = quotes
        .chunks_exact(2)
        .map(|c| (c[0], c[1]))
        .filter(|&(_, close)| {
            data[close + 1..].iter().find(|b| !b.is_ascii_whitespace()) != Some(&b':')
        })
        .collect();
    if values.is_empty() {
        return;
    }
    let (open, close) = values[rng.below(values.len())];
    let v = VALUES[rng.below(VALUES.len())].as_bytes();
    data.splice(open + 1..close, v.iter().copied());
}

fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    if rng.below(2) == 0 {
        for _ in 0..1 + rng.below(2) {
            replace_string(rng, data);
        }
        return;
    }
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, t.iter().copied());
            }
            3 if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + 1 + rng.below(64)).min(data.len());
                let chunk = data[start..end].to_vec();
                data.splice(at..at, chunk);
            }
            4 => data.truncate(at),
            _ => {
                let i = rng.below(data.len() + 1);
                data.insert(i, rng.below(256) as u8);
            }
        }
    }
}

#[test]
fn mutated_corpus_never_panics_and_round_trips() {
    let files = corpus();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..5_000 {
        let (_, base) = &files[rng.below(files.len())];
        let mut data = base.clone();
        mutate(&mut rng, &mut data);
        fuzz_policy_parser(&data);
        let text = String::from_utf8_lossy(&data);
        accepted += usize::from(
            PolicyDocument::parse(&text, PolicyKind::Key).is_ok()
                || PolicyDocument::parse(&text, PolicyKind::Identity).is_ok(),
        );
    }
    // The round-trip check only runs on accepted documents: make sure there are many.
    assert!(
        accepted > 250,
        "only {accepted} of 5000 mutants were valid policies"
    );
    eprintln!("{accepted} of 5000 mutants were valid policies");
}
