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
//! `--credentials long-term` signs as an IAM user with its own access key (`AKIA…`) and
//! `--credentials session` as a session of a role that user assumed (`ASIA…` with a session
//! token), both allowed Decrypt by an identity policy; by default the requests sign as the
//! account root (`test`). The users, roles and sessions are made through IAM and STS on the
//! endpoint itself.
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
    credentials: Creds,
}

/// Who the Decrypt requests sign as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Creds {
    /// `test`: the account root.
    Root,
    /// An IAM user's access key.
    LongTerm,
    /// A session of a role the user assumed.
    Session,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        endpoint: String::new(),
        label: "endpoint".into(),
        clients: vec![1, 8],
        requests: 20_000,
        seconds: 10.0,
        via_client: false,
        credentials: Creds::Root,
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
            "--credentials" => {
                a.credentials = match val()?.as_str() {
                    "root" => Creds::Root,
                    "long-term" => Creds::LongTerm,
                    "session" => Creds::Session,
                    other => {
                        return Err(format!(
                            "unknown --credentials {other} (root, long-term, session)"
                        ));
                    }
                }
            }
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
    fn new(endpoint: &str, blob: &[u8], ctx: &EncryptionContext, key: AccessKey) -> Self {
        let body = serde_json::to_vec(&serde_json::json!({
            "CiphertextBlob": base64::engine::general_purpose::STANDARD.encode(blob),
            "EncryptionContext": ctx,
        }))
        .unwrap_or_default();
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

/// A user allowed Decrypt, and its access key, made through IAM as the root; for
/// [`Creds::Session`], a role the user assumes, and the session's credentials.
fn signer(endpoint: &str, creds: Creds) -> Result<AccessKey, String> {
    use ebsim_iam::QueryService::{Iam, Sts};
    let http = |key: AccessKey| -> Result<KmsClient, String> {
        let config = HttpConfig::new(endpoint)
            .map_err(|e| e.to_string())?
            .credentials(key)
            .region("us-west-2")
            .retry(RetryPolicy::none());
        KmsClient::http(config).map_err(|e| e.to_string())
    };
    let field = |leaves: &[(String, String)], name: &str| {
        leaves
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or(format!("no {name} in the answer"))
    };
    if creds == Creds::Root {
        return Ok(AccessKey::new("test", "test"));
    }
    let root = http(AccessKey::new("test", "test"))?;
    let name = format!("load-{}", std::process::id());
    let q = |c: &KmsClient, svc, action: &str, params: &[(&str, &str)]| {
        c.query(svc, action, params)
            .map_err(|e| format!("{action}: {e}"))
    };
    let user = q(&root, Iam, "CreateUser", &[("UserName", &name)])?;
    let decrypt = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Decrypt","sts:AssumeRole"],"Resource":"*"}]}"#;
    q(
        &root,
        Iam,
        "PutUserPolicy",
        &[
            ("UserName", &name),
            ("PolicyName", "load"),
            ("PolicyDocument", decrypt),
        ],
    )?;
    let key = q(&root, Iam, "CreateAccessKey", &[("UserName", &name)])?;
    let user_key = AccessKey::new(field(&key, "AccessKeyId")?, field(&key, "SecretAccessKey")?);
    if creds == Creds::LongTerm {
        return Ok(user_key);
    }
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole"}}]}}"#,
        field(&user, "Arn")?
    );
    let role = q(
        &root,
        Iam,
        "CreateRole",
        &[
            ("RoleName", &name),
            ("AssumeRolePolicyDocument", &trust),
            ("MaxSessionDuration", "43200"),
        ],
    )?;
    q(
        &root,
        Iam,
        "PutRolePolicy",
        &[
            ("RoleName", &name),
            ("PolicyName", "load"),
            ("PolicyDocument", decrypt),
        ],
    )?;
    let out = q(
        &http(user_key)?,
        Sts,
        "AssumeRole",
        &[
            ("RoleArn", &field(&role, "Arn")?),
            ("RoleSessionName", "load"),
            ("DurationSeconds", "43200"),
        ],
    )?;
    Ok(
        AccessKey::new(field(&out, "AccessKeyId")?, field(&out, "SecretAccessKey")?)
            .with_session_token(field(&out, "SessionToken")?),
    )
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
    let key = if args.endpoint == "embedded" {
        AccessKey::new("test", "test")
    } else {
        signer(&args.endpoint, args.credentials)?
    };
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
                    let key = key.clone();
                    s.spawn(move || {
                        let mut lat = Vec::with_capacity(per_client);
                        let mut errors = 0usize;
                        let mut raw = (!via_client && endpoint != "embedded")
                            .then(|| RawConn::new(endpoint, blob, ctx, key));
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
