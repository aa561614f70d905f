//! No plaintext a KMS server returned lingers in its memory (docs/kms.md, "Plaintext in
//! memory").
//!
//! The defect this guards against: after two Decrypts of volume keys, the base64 text of
//! their plaintexts could still be found in the memory of `ebsim kms serve` thousands of
//! requests later (response buffers freed without being wiped). The test starts the server as
//! a child process, asks it for data keys (GenerateDataKey, then Decrypt of each blob twice),
//! sends 2,000 other requests, then reads every writable mapping of the server through
//! `/proc/PID/mem` and looks for each plaintext, raw and base64.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ebsim_test_support::ebsim::Ebsim;
use ebsim_test_support::http::KmsRequest;
use serde_json::{Value, json};

/// Requests sent after the plaintexts were returned.
const LATER_REQUESTS: usize = 2_000;
/// The time those requests may take (the test fails beyond it rather than run on).
const LATER_BUDGET: Duration = Duration::from_secs(240);

fn call(addr: SocketAddr, op: &str, body: &Value) -> Value {
    let body = serde_json::to_vec(body).unwrap();
    let target = format!("TrentService.{op}");
    let resp = KmsRequest::new(&target, &body).send(addr);
    assert_eq!(resp.status, 200, "{op}: {}", resp.body);
    resp.json()
}

/// A plaintext the server returned: its raw bytes and its base64 text.
struct Secret {
    what: String,
    raw: Vec<u8>,
    b64: String,
}

/// One readable, writable mapping of a process: start, end, and its line in `maps`.
struct Region {
    start: u64,
    end: u64,
    line: String,
}

fn writable_regions(pid: u32) -> Vec<Region> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/maps of the server: {e}"));
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (range, perms) = (fields.next()?, fields.next()?);
            // Only memory the process can write can hold a copy it made; [vvar]/[vsyscall]
            // are the kernel's.
            if !perms.starts_with("rw") || line.ends_with("[vvar]") || line.ends_with("[vsyscall]")
            {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some(Region {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                line: line.to_owned(),
            })
        })
        .collect()
}

/// Every position of each needle in `hay` (needles of at least 2 bytes), as (needle index,
/// offset). A table of first bytes keeps this fast in an unoptimized test build.
fn find_all(hay: &[u8], needles: &[&[u8]]) -> Vec<(usize, usize)> {
    let mut first = [false; 256];
    for n in needles {
        first[usize::from(n[0])] = true;
    }
    let mut found = Vec::new();
    for (i, &b) in hay.iter().enumerate() {
        if !first[usize::from(b)] {
            continue;
        }
        for (k, n) in needles.iter().enumerate() {
            if hay[i..].starts_with(n) {
                found.push((k, i));
            }
        }
    }
    found
}

#[test]
fn returned_plaintexts_do_not_linger_in_server_memory() {
    let dir = tempfile::tempdir().unwrap();
    let ebsim = Ebsim::new(env!("CARGO_BIN_EXE_ebsim")).data_dir(dir.path());
    let server = ebsim.serve(&["kms", "serve", "--listen", "127.0.0.1:0"]);
    let addr: SocketAddr = server.addr.parse().unwrap();
    let pid = server.id();

    let key = call(addr, "CreateKey", &json!({}));
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let ctx = json!({"aws:ebs:id": "vol-0123456789abcdef0"});

    // Volume keys, as GenerateDataKey returns them and Decrypt unwraps them (twice, as two
    // attaches would): two on the data-plane path, one on the general path (a request with
    // `DryRun: false` takes it).
    let mut secrets = Vec::new();
    for (i, extra) in [
        json!({"KeySpec": "AES_256"}),
        json!({"NumberOfBytes": 64}),
        json!({"KeySpec": "AES_256", "DryRun": false}),
    ]
    .into_iter()
    .enumerate()
    {
        let general = extra.get("DryRun").is_some();
        let mut req = json!({"KeyId": arn, "EncryptionContext": ctx});
        let with = |mut req: Value| {
            if general {
                req["DryRun"] = json!(false);
            }
            req
        };
        req.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let gdk = call(addr, "GenerateDataKey", &req);
        let b64 = gdk["Plaintext"].as_str().unwrap().to_owned();
        let blob = gdk["CiphertextBlob"].as_str().unwrap().to_owned();
        for _ in 0..2 {
            let dec = call(
                addr,
                "Decrypt",
                &with(json!({"CiphertextBlob": blob, "EncryptionContext": ctx})),
            );
            assert_eq!(dec["Plaintext"].as_str(), Some(b64.as_str()));
        }
        let raw = B64.decode(&b64).unwrap();
        secrets.push(Secret {
            what: format!(
                "data key {i} ({} bytes, {} path)",
                raw.len(),
                if general { "general" } else { "data-plane" }
            ),
            raw,
            b64,
        });
    }
    // Random bytes (the general path), then sent back as the plaintext of an Encrypt.
    let random = call(addr, "GenerateRandom", &json!({"NumberOfBytes": 32}));
    let b64 = random["Plaintext"].as_str().unwrap().to_owned();
    call(addr, "Encrypt", &json!({"KeyId": arn, "Plaintext": b64}));
    secrets.push(Secret {
        what: "GenerateRandom's bytes, also an Encrypt's plaintext".to_owned(),
        raw: B64.decode(&b64).unwrap(),
        b64,
    });

    // Later traffic: each on its own connection, as separate `ebsim` commands make it.
    let started = Instant::now();
    for i in 0..LATER_REQUESTS {
        assert!(
            started.elapsed() < LATER_BUDGET,
            "only {i} of {LATER_REQUESTS} later requests within {LATER_BUDGET:?}"
        );
        match i % 3 {
            0 => call(
                addr,
                "GenerateDataKeyWithoutPlaintext",
                &json!({"KeyId": arn, "KeySpec": "AES_256", "EncryptionContext": ctx}),
            ),
            1 => call(addr, "DescribeKey", &json!({"KeyId": arn})),
            _ => call(addr, "ListKeys", &json!({})),
        };
    }

    // Scan the server's writable memory (the search itself first checked on known bytes).
    assert_eq!(
        find_all(b"xabcxxab\0abc", &[b"abc", b"ab\0"]),
        vec![(0, 1), (1, 6), (0, 9)]
    );
    let regions = writable_regions(pid);
    assert!(
        !regions.is_empty(),
        "no writable mapping in /proc/{pid}/maps"
    );
    let mut mem = File::open(format!("/proc/{pid}/mem")).unwrap_or_else(|e| {
        panic!(
            "cannot open /proc/{pid}/mem of the server ({e}); the test needs ptrace read access \
             to its own child (kernel.yama.ptrace_scope <= 1, same user)"
        )
    });
    let mut needles: Vec<&[u8]> = Vec::new();
    let mut names = Vec::new();
    for s in &secrets {
        needles.push(&s.raw);
        names.push(format!("{}, raw", s.what));
        needles.push(s.b64.as_bytes());
        names.push(format!("{}, base64", s.what));
    }
    let (mut scanned, mut unreadable) = (0u64, Vec::new());
    let mut hits = Vec::new();
    for r in &regions {
        let mut buf = vec![0u8; usize::try_from(r.end - r.start).unwrap()];
        let read = mem
            .seek(SeekFrom::Start(r.start))
            .and_then(|_| mem.read_exact(&mut buf));
        if let Err(e) = read {
            // A thread that ended meanwhile took its stack with it; anything else unreadable
            // fails the test.
            if writable_regions(pid).iter().any(|now| now.line == r.line) {
                unreadable.push(format!("{} ({e})", r.line));
            }
            continue;
        }
        scanned += buf.len() as u64;
        for (k, off) in find_all(&buf, &needles) {
            hits.push(format!(
                "{} at {:#x} in {}",
                names[k],
                r.start + off as u64,
                r.line
            ));
        }
    }
    assert!(
        unreadable.is_empty(),
        "writable mappings of the server that could not be read: {unreadable:?}"
    );
    // A scan that read nothing would find nothing.
    assert!(
        scanned > 1 << 20,
        "only {scanned} bytes of the server's memory read"
    );
    drop(server);
    assert!(
        hits.is_empty(),
        "{} copies of returned plaintexts in the server's memory ({scanned} bytes of writable \
         memory scanned) after {LATER_REQUESTS} later requests:\n{}",
        hits.len(),
        hits.join("\n")
    );
}
