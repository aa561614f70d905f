//! Load generator: Decrypt requests/s and latency percentiles against any AWS KMS endpoint
//! (`ebsim kms serve`, moto, …). Each request is SigV4-signed (`ebsim_kms_api::sign`) and sent over a
//! keep-alive connection per client thread by a minimal HTTP/1.1 writer, so that the load
//! generator takes as little of the shared CPU as it can; `--via-client` sends the same
//! requests through the ebsim HTTP client (`KmsClient`) instead.
//!
//! Bounded in count and time; loopback only. `--endpoint embedded` measures the KMS in this
//! process instead (the same calls without HTTP), which tells the KMS's own cost apart from
//! the wire's.
//!
//! ```text
//! cargo run --release -p ebsim-kms-client --example kms_load -- \
//!     --endpoint http://127.0.0.1:4599 --label ebsim --clients 1,8 --requests 20000 --seconds 10
//! ```
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use ebsim_kms_api::sign::{KmsPost, sign_post};

use ebsim_kms_client::{
    AccessKey, EncryptionContext, HttpConfig, Identity, KmsClient, RetryPolicy,
};

struct Args {
    endpoint: String,
    label: String,
    clients: Vec<usize>,
    requests: usize,
    seconds: f64,
    via_client: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        endpoint: String::new(),
        label: "endpoint".into(),
        clients: vec![1, 8],
        requests: 20_000,
        seconds: 10.0,
        via_client: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoint" => a.endpoint = val()?,
            "--label" => a.label = val()?,
            "--clients" => {
                a.clients = val()?
                    .split(',')
                    .map(|s| s.parse().map_err(|_| format!("bad client count {s}")))
                    .collect::<Result<_, _>>()?;
            }
            "--requests" => a.requests = val()?.parse().map_err(|_| "bad --requests")?,
            "--seconds" => a.seconds = val()?.parse().map_err(|_| "bad --seconds")?,
            "--via-client" => a.via_client = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.endpoint.is_empty() {
        return Err("--endpoint URL is required".into());
    }
    let host = a.endpoint.trim_start_matches("http://");
    let loopback =
        host.starts_with("127.") || host.starts_with("[::1]") || host.starts_with("localhost");
    if !(loopback || a.endpoint == "embedded") {
        return Err("the load generator only targets loopback endpoints".into());
    }
    if a.requests == 0 || a.requests > 1_000_000 || !(0.1..=120.0).contains(&a.seconds) {
        return Err("--requests must be 1..=1000000 and --seconds 0.1..=120".into());
    }
    Ok(a)
}

/// One keep-alive HTTP/1.1 connection sending signed Decrypt requests.
struct RawConn {
    addr: String,
    reader: Option<BufReader<TcpStream>>,
    key: AccessKey,
    body: Vec<u8>,
}

impl RawConn {
    fn new(endpoint: &str, blob: &[u8], ctx: &EncryptionContext) -> Self {
        let body = serde_json::to_vec(&serde_json::json!({
            "CiphertextBlob": base64::engine::general_purpose::STANDARD.encode(blob),
            "EncryptionContext": ctx,
        }))
        .unwrap_or_default();
        let key = AccessKey::new("test", "test");
        let addr = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        Self {
            addr,
            reader: None,
            key,
            body,
        }
    }

    /// Sends one Decrypt and reads the answer; `Ok(true)` for a 200 with a plaintext.
    fn decrypt(&mut self) -> std::io::Result<bool> {
        let post = KmsPost::new(&self.addr, "TrentService.Decrypt", &self.body, "us-west-2");
        let headers =
            sign_post(&post, &self.key, SystemTime::now()).map_err(std::io::Error::other)?;
        let mut req = Vec::with_capacity(1024 + self.body.len());
        req.extend_from_slice(b"POST / HTTP/1.1\r\n");
        for (k, v) in &headers {
            req.extend_from_slice(k.as_bytes());
            req.extend_from_slice(b": ");
            req.extend_from_slice(v.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes());
        req.extend_from_slice(&self.body);
        if self.reader.is_none() {
            let s = TcpStream::connect(&self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            self.reader = Some(BufReader::new(s));
        }
        let Some(reader) = self.reader.as_mut() else {
            return Ok(false);
        };
        reader.get_mut().write_all(&req)?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let ok = line.split(' ').nth(1) == Some("200");
        let keep_alive = line.starts_with("HTTP/1.1");
        let (mut len, mut close) = (None, !keep_alive);
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse::<usize>().ok();
            } else if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let mut body = Vec::new();
        match len {
            Some(n) => {
                body.resize(n, 0);
                reader.read_exact(&mut body)?;
            }
            None => {
                reader.read_to_end(&mut body)?;
                close = true;
            }
        }
        if close {
            self.reader = None;
        }
        Ok(ok && body.windows(11).any(|w| w == b"\"Plaintext\""))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let client = if args.endpoint == "embedded" {
        KmsClient::in_process(std::sync::Arc::new(ebsim_kms::Kms::in_memory(
            ebsim_kms::KmsConfig::default(),
        )))
    } else {
        let config = HttpConfig::new(&args.endpoint)
            .map_err(|e| e.to_string())?
            .credentials(AccessKey::new("test", "test"))
            .region("us-west-2")
            .retry(RetryPolicy::none());
        KmsClient::http(config).map_err(|e| e.to_string())?
    };
    let key = client
        .call(
            &Identity::Default,
            "CreateKey",
            serde_json::json!({"Description": "load"}),
        )
        .map_err(|e| format!("CreateKey: {e}"))?;
    let key_id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .ok_or("CreateKey returned no KeyId")?
        .to_owned();
    let ctx = EncryptionContext::ebs("vol-0123456789abcdef0").map_err(|e| e.to_string())?;
    let wrapped = client
        .generate_wrapped_data_key(&Identity::Default, &key_id, &ctx)
        .map_err(|e| format!("GenerateDataKeyWithoutPlaintext: {e}"))?;
    // Warm up connections and caches.
    for _ in 0..50 {
        client
            .decrypt_data_key(&Identity::Default, &wrapped.ciphertext_blob, &ctx)
            .map_err(|e| format!("Decrypt: {e}"))?;
    }
    for &clients in &args.clients {
        let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
        let per_client = args.requests.div_ceil(clients);
        let start = Instant::now();
        let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..clients)
                .map(|_| {
                    let client = client.clone();
                    let (blob, ctx) = (&wrapped.ciphertext_blob, &ctx);
                    let (via_client, endpoint) = (args.via_client, args.endpoint.as_str());
                    s.spawn(move || {
                        let mut lat = Vec::with_capacity(per_client);
                        let mut errors = 0usize;
                        let mut raw = (!via_client && endpoint != "embedded")
                            .then(|| RawConn::new(endpoint, blob, ctx));
                        while lat.len() + errors < per_client && Instant::now() < deadline {
                            let t = Instant::now();
                            let ok = match raw.as_mut() {
                                Some(conn) => conn.decrypt().unwrap_or_else(|_| {
                                    conn.reader = None;
                                    false
                                }),
                                None => client
                                    .decrypt_data_key(&Identity::Default, blob, ctx)
                                    .is_ok_and(|k| k.len() == 64),
                            };
                            if ok {
                                lat.push(t.elapsed());
                            } else {
                                errors += 1;
                            }
                        }
                        (lat, errors)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let elapsed = start.elapsed();
        let errors: usize = results.iter().map(|r| r.1).sum();
        let mut lat: Vec<Duration> = results.into_iter().flat_map(|r| r.0).collect();
        lat.sort_unstable();
        let rate = lat.len() as f64 / elapsed.as_secs_f64();
        println!(
            "{{\"label\":\"{}\",\"clients\":{clients},\"requests\":{},\"errors\":{errors},\"seconds\":{:.3},\"decrypt_per_s\":{:.0},\"p50_us\":{},\"p99_us\":{}}}",
            args.label,
            lat.len(),
            elapsed.as_secs_f64(),
            rate,
            percentile(&lat, 0.50).as_micros(),
            percentile(&lat, 0.99).as_micros(),
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kms_load: {e}");
            ExitCode::FAILURE
        }
    }
}
