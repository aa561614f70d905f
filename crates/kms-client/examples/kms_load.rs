//! Load generator: Decrypt requests/s and latency percentiles against any AWS KMS endpoint
//! (`ebsim kms serve`, moto, …), through the ebsim HTTP client (SigV4-signed, keep-alive).
//!
//! Bounded in count and time; loopback only.
//!
//! ```text
//! cargo run --release -p ebsim-kms-client --example kms_load -- \
//!     --endpoint http://127.0.0.1:4599 --label ebsim --clients 1,8 --requests 20000 --seconds 10
//! ```
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ebsim_kms_client::{
    EncryptionContext, HttpConfig, Identity, KmsClient, RetryPolicy, StaticCredentials,
};

struct Args {
    endpoint: String,
    label: String,
    clients: Vec<usize>,
    requests: usize,
    seconds: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        endpoint: String::new(),
        label: "endpoint".into(),
        clients: vec![1, 8],
        requests: 20_000,
        seconds: 10.0,
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
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.endpoint.is_empty() {
        return Err("--endpoint URL is required".into());
    }
    let host = a.endpoint.trim_start_matches("http://");
    if !(host.starts_with("127.") || host.starts_with("[::1]") || host.starts_with("localhost")) {
        return Err("the load generator only targets loopback endpoints".into());
    }
    if a.requests == 0 || a.requests > 1_000_000 || !(0.1..=120.0).contains(&a.seconds) {
        return Err("--requests must be 1..=1000000 and --seconds 0.1..=120".into());
    }
    Ok(a)
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
    let config = HttpConfig::new(&args.endpoint)
        .map_err(|e| e.to_string())?
        .credentials(StaticCredentials::new("test", "test"))
        .region("us-west-2")
        .retry(RetryPolicy::none());
    let client = KmsClient::http(config).map_err(|e| e.to_string())?;
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
                    s.spawn(move || {
                        let mut lat = Vec::with_capacity(per_client);
                        let mut errors = 0usize;
                        while lat.len() + errors < per_client && Instant::now() < deadline {
                            let t = Instant::now();
                            match client.decrypt_data_key(&Identity::Default, blob, ctx) {
                                Ok(k) if k.len() == 64 => lat.push(t.elapsed()),
                                _ => errors += 1,
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
