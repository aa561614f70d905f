//! The recording harness: a real `Kms` on a fixed clock and a data dir, behind the HTTP
//! server on loopback; a raw HTTP/1.1 client that signs like an AWS SDK; one recorded step
//! per request (request, response, the audit records it appended).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ebsim_kms::trust::{NONCE_HEADER, endpoint_proof, new_nonce};
use ebsim_kms::{Kms, KmsConfig, ManualClock};
use ebsim_kms_api::sign::{AccessKey, KmsPost, sign_post};
use ebsim_kms_api::{PRINCIPAL_HEADER, VIA_SERVICE_HEADER};
use ebsim_kms_server::{KmsServer, ServerConfig, ServerHandle};
use serde_json::{Map, Value, json};

use crate::normalize::{Normalizer, collapse_runs, key_number, member_order};

/// Simulated time the KMS starts at (2027-01-15T08:00:00Z); it moves only by AdvanceClock.
pub const CLOCK_START: f64 = 1_800_000_000.0;
/// Customer managed keys an account may have in the corpus KMS.
pub const KEY_QUOTA: usize = 24;
/// Grants a key may have in the corpus KMS.
pub const GRANT_QUOTA: usize = 6;
/// Largest request body the corpus server accepts.
pub const MAX_BODY: usize = 64 * 1024;
/// Request strings longer than this are recorded abbreviated.
const LONG: usize = 512;

/// Who signs a request.
#[derive(Debug, Clone)]
pub enum Who {
    /// The built-in `test`/`test` credential: the default account's root.
    Root,
    /// An IAM user with an access key (IAM CreateUser and CreateAccessKey).
    Iam {
        label: String,
        akid: String,
        secret: String,
    },
    /// The data dir's service credential (with a fresh signed nonce), acting for
    /// `principal` and claiming `via` when given.
    Service {
        principal: Option<String>,
        via: Option<String>,
    },
}

impl Who {
    /// The service credential acting for `principal`.
    pub fn acting(principal: &str) -> Who {
        Who::Service {
            principal: Some(principal.to_owned()),
            via: None,
        }
    }

    /// The service credential acting for `principal` (or itself) through `via`.
    pub fn via(principal: Option<&str>, via: &str) -> Who {
        Who::Service {
            principal: principal.map(str::to_owned),
            via: Some(via.to_owned()),
        }
    }

    fn describe(&self) -> Value {
        match self {
            Who::Root => json!("root (test/test)"),
            Who::Iam { label, .. } => json!(label),
            Who::Service { principal, via } => {
                let mut m = Map::new();
                m.insert("credential".into(), json!("service"));
                if let Some(p) = principal {
                    m.insert("x-ebsim-principal".into(), json!(p));
                }
                if let Some(v) = via {
                    m.insert("x-ebsim-via-service".into(), json!(v));
                }
                Value::Object(m)
            }
        }
    }
}

/// A request as it goes on the wire.
#[derive(Debug, Clone)]
pub struct Wire {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// A `Content-Length` to declare instead of the body's (the body is then not sent).
    pub declared_len: Option<usize>,
}

impl Wire {
    /// Replaces (or adds) a header.
    pub fn set(&mut self, name: &str, value: &[u8]) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_vec()));
    }

    /// A header's value.
    pub fn get(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// The headers of `post` as the wire carries them: signed with `credential` (access key id,
/// secret) at `time` as the client signs (SigV4, every header), or unsigned without one.
pub fn post_headers(
    post: &KmsPost<'_>,
    credential: Option<(&str, &str)>,
    time: SystemTime,
) -> Vec<(String, Vec<u8>)> {
    let headers = match credential {
        Some((akid, secret)) => {
            sign_post(post, &AccessKey::new(akid, secret), time).expect("sign the request")
        }
        None => post.unsigned_headers(),
    };
    headers
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect()
}

/// Sends one request on a fresh connection and reads one response.
pub fn exchange(addr: SocketAddr, w: &Wire) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect to the corpus server");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = format!("{} {} HTTP/1.1\r\n", w.method, w.path).into_bytes();
    for (k, v) in &w.headers {
        head.extend_from_slice(k.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(v);
        head.extend_from_slice(b"\r\n");
    }
    if w.method != "GET" {
        let len = w.declared_len.unwrap_or(w.body.len());
        head.extend_from_slice(format!("content-length: {len}\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    if w.declared_len.is_none() {
        head.extend_from_slice(&w.body);
    }
    s.write_all(&head).expect("send request");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk).expect("read response head");
        assert!(n > 0, "connection closed before a response head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    match len {
        Some(len) => {
            while body.len() < len {
                let n = s.read(&mut chunk).expect("read response body");
                assert!(n > 0, "connection closed inside a response body");
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(len);
        }
        None => {
            let _ = s.read_to_end(&mut body);
        }
    }
    Resp {
        status,
        headers,
        body,
    }
}

struct Step {
    name: String,
    request: Value,
    response: Value,
    /// The audit records the request appended, as kept in memory.
    audit: Vec<Value>,
}

/// The recording session.
pub struct Corpus {
    kms: Option<Arc<Kms>>,
    server: Option<ServerHandle>,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    pub norm: Normalizer,
    steps: Vec<Step>,
    names: BTreeSet<String>,
    audit_seen: usize,
    service: (String, String),
    /// Wall-clock time just before the server bound its port.
    pub before_start: SystemTime,
}

impl Corpus {
    /// Opens a KMS on a fresh data dir with the fixed clock and starts the server.
    pub fn start() -> Corpus {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(CLOCK_START));
        let config = KmsConfig::default()
            .clock(clock)
            .key_quota(KEY_QUOTA)
            .grant_quota(GRANT_QUOTA);
        let kms = Arc::new(Kms::open(dir.path(), config).expect("open the KMS"));
        let cred_text = std::fs::read_to_string(Kms::service_credential_path(dir.path()))
            .expect("service credential");
        let cred: Value = serde_json::from_str(&cred_text).expect("credential JSON");
        let service = (
            cred["AccessKeyId"].as_str().unwrap_or_default().to_owned(),
            cred["SecretAccessKey"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        let before_start = SystemTime::now();
        let config =
            ServerConfig::new("127.0.0.1:0".parse().expect("addr")).max_body_bytes(MAX_BODY);
        let server = KmsServer::bind(kms.clone(), config)
            .expect("bind")
            .spawn()
            .expect("spawn");
        let addr = server.addr();
        let mut norm = Normalizer::default();
        norm.name(&service.0, "<service-akid>");
        norm.name(&service.1, "<service-secret>");
        norm.substitute(&addr.to_string(), "<server-addr>");
        norm.substitute(&format!("port {}", addr.port()), "port <port>");
        Corpus {
            kms: Some(kms),
            server: Some(server),
            addr,
            dir,
            norm,
            steps: Vec::new(),
            names: BTreeSet::new(),
            audit_seen: 0,
            service,
            before_start,
        }
    }

    /// The service credential: (access key id, secret).
    pub fn service_key(&self) -> (String, String) {
        self.service.clone()
    }

    /// A signed POST of `body` to `target` as `who`, Host naming the server.
    pub fn signed(&self, who: &Who, target: &str, body: &[u8]) -> Wire {
        let mut extra: Vec<(&str, &str)> = Vec::new();
        let nonce;
        let (akid, secret) = match who {
            Who::Root => ("test", "test"),
            Who::Iam { akid, secret, .. } => (akid.as_str(), secret.as_str()),
            Who::Service { principal, via } => {
                nonce = new_nonce(SystemTime::now());
                extra.push((NONCE_HEADER, &nonce));
                if let Some(p) = principal {
                    extra.push((PRINCIPAL_HEADER, p));
                }
                if let Some(v) = via {
                    extra.push((VIA_SERVICE_HEADER, v));
                }
                (self.service.0.as_str(), self.service.1.as_str())
            }
        };
        let host = self.addr.to_string();
        let post = KmsPost {
            headers: &extra,
            ..KmsPost::new(&host, target, body, "us-west-2")
        };
        let headers = post_headers(&post, Some((akid, secret)), SystemTime::now());
        Wire {
            method: "POST",
            path: "/".into(),
            headers,
            body: body.to_vec(),
            declared_len: None,
        }
    }

    /// A KMS operation (`TrentService.<op>`) with a JSON body; returns the response body.
    pub fn kms(&mut self, step: &str, who: &Who, op: &str, body: Value) -> Value {
        let bytes = serde_json::to_vec(&body).expect("request JSON");
        self.call(step, who, &format!("TrentService.{op}"), &bytes)
    }

    /// An IAM action made in process as `principal`, not a step of the corpus (the corpus
    /// pins the KMS endpoint; IAM over the wire is tested by `iam_sts.rs`): the answer's
    /// leaf elements. Panics if the action fails.
    pub fn iam(
        &self,
        principal: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action);
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let kms = self.kms.as_ref().expect("running");
        let out = ebsim_iam::QueryRequest::parse(form.finish().as_bytes())
            .and_then(|req| {
                kms.query(
                    &ebsim_kms::Caller::new(principal),
                    ebsim_iam::QueryService::Iam,
                    &req,
                    "corpus",
                )
            })
            .unwrap_or_else(|e| panic!("{action} {params:?}: {e}"));
        ebsim_iam::xml::leaves(&out).expect("IAM answer")
    }

    /// An admin operation (`EbsimAdmin.<op>`) with a JSON body.
    pub fn admin(&mut self, step: &str, who: &Who, op: &str, body: Value) -> Value {
        let bytes = serde_json::to_vec(&body).expect("request JSON");
        self.call(step, who, &format!("EbsimAdmin.{op}"), &bytes)
    }

    /// Any target with a raw body, signed as `who`.
    pub fn call(&mut self, step: &str, who: &Who, target: &str, body: &[u8]) -> Value {
        let wire = self.signed(who, target, body);
        let resp = exchange(self.addr, &wire);
        let request = json!({
            "target": target,
            "credential": who.describe(),
            "body": self.request_body(body),
        });
        let op = target.split_once('.').map(|(_, op)| op.to_owned());
        self.record(step, request, &resp, op.as_deref(), None);
        resp.json()
    }

    /// A hand-made request, described by `request` in the record; `proof` is the (host,
    /// challenge) an `x-ebsim-proof` in the answer must prove.
    pub fn wire(
        &mut self,
        step: &str,
        request: Value,
        wire: &Wire,
        proof: Option<(&str, &[u8])>,
    ) -> Resp {
        let resp = exchange(self.addr, wire);
        let mut request = self.norm.value(&request);
        if let Value::Object(m) = &mut request {
            m.insert("method".into(), json!(wire.method));
            m.insert("path".into(), json!(self.norm.text(&wire.path)));
            if !wire.body.is_empty() && wire.declared_len.is_none() {
                m.insert("body".into(), self.request_body(&wire.body));
            }
        }
        self.record(step, request, &resp, None, proof);
        resp
    }

    fn request_body(&mut self, body: &[u8]) -> Value {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                let v = self.norm.value(&v);
                abbreviate(v)
            }
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                abbreviate(Value::String(self.norm.text(&text)))
            }
        }
    }

    fn record(
        &mut self,
        step: &str,
        request: Value,
        resp: &Resp,
        op: Option<&str>,
        proof: Option<(&str, &[u8])>,
    ) {
        assert!(
            self.names.insert(step.to_owned()),
            "duplicate step name {step}"
        );
        let mut response = Map::new();
        response.insert("status".into(), json!(resp.status));
        response.insert("headers".into(), self.response_headers(resp, proof));
        match serde_json::from_slice::<Value>(&resp.body) {
            Ok(raw) => {
                self.check_listed_keys_known(op, &raw);
                let canonical = serde_json::to_vec(&raw).unwrap_or_default();
                let mut body = self.norm.value(&raw);
                unordered_listing(op, &raw, &mut body, &mut response);
                response.insert("body".into(), body);
                if canonical != resp.body {
                    let text = String::from_utf8_lossy(&resp.body);
                    response.insert("body_raw".into(), json!(self.norm.raw(&text)));
                }
            }
            Err(_) => {
                let text = String::from_utf8_lossy(&resp.body);
                response.insert("body_text".into(), json!(self.norm.text(&text)));
            }
        }
        let records = self.kms.as_ref().expect("running").audit_records();
        let audit: Vec<Value> = records[self.audit_seen..].to_vec();
        self.audit_seen = records.len();
        for r in &audit {
            // Gives first-seen values their placeholders in step order.
            self.norm.value(r);
        }
        self.steps.push(Step {
            name: step.to_owned(),
            request,
            response: Value::Object(response),
            audit,
        });
    }

    /// The entries of an unordered listing are recorded in placeholder order, so each of
    /// their keys must have been seen (and numbered) before.
    fn check_listed_keys_known(&self, op: Option<&str>, raw: &Value) {
        let member = match op {
            Some("ListKeys") => "Keys",
            Some("ListRetirableGrants") => "Grants",
            _ => return,
        };
        for e in raw[member].as_array().into_iter().flatten() {
            let k = e["KeyId"].as_str().unwrap_or_default();
            let id = k.rsplit('/').next().unwrap_or(k);
            assert!(
                self.norm.known(id).is_some(),
                "{op:?} lists key {id}, which no earlier step showed: describe it first"
            );
        }
    }

    fn response_headers(&mut self, resp: &Resp, proof: Option<(&str, &[u8])>) -> Value {
        let mut h = Map::new();
        for (k, v) in &resp.headers {
            let v = match k.as_str() {
                "content-type" | "connection" => json!(v),
                "x-amzn-requestid" => {
                    let uuid4 = v.len() == 36 && v.as_bytes()[14] == b'4';
                    json!(if uuid4 { "<uuid-v4>" } else { v.as_str() })
                }
                "x-ebsim-proof" => {
                    let ok = proof.is_some_and(|(host, challenge)| {
                        let secret = self.service.1.as_bytes();
                        *v == hex::encode(endpoint_proof(secret, host, challenge))
                    });
                    json!(if ok {
                        "<valid proof for the Host asked>"
                    } else {
                        "<INVALID proof>"
                    })
                }
                _ => continue,
            };
            h.insert(k.clone(), v);
        }
        Value::Object(h)
    }

    /// Stops the server and the KMS, then renders every step, with each audit record as
    /// the line the KMS wrote to its audit file, and the on-disk files.
    pub fn finish(mut self) -> Vec<String> {
        if let Some(server) = self.server.take() {
            server.shutdown().expect("server shutdown");
        }
        let kms = self.kms.take().expect("running");
        let kms = Arc::try_unwrap(kms).unwrap_or_else(|_| panic!("the server kept the KMS"));
        drop(kms); // flushes the audit file
        let data = self.dir.path().to_path_buf();
        let audit_text = read(&data.join("audit").join("kms-audit.jsonl"));
        let lines: Vec<&str> = audit_text.lines().collect();
        let total: usize = self.steps.iter().map(|s| s.audit.len()).sum();
        assert_eq!(lines.len(), total, "audit file lines vs records in memory");
        let mut out = Vec::with_capacity(self.steps.len() + 3);
        let mut next = 0;
        let steps = std::mem::take(&mut self.steps);
        for s in steps {
            let mut audit = Vec::new();
            for rec in &s.audit {
                let line = lines[next];
                next += 1;
                let parsed: Value = serde_json::from_str(line).expect("audit line is JSON");
                assert_eq!(
                    &parsed, rec,
                    "audit file line {next} vs the record in memory"
                );
                audit.push(json!(self.norm.raw(line)));
            }
            let step = json!({"step": s.name, "request": s.request, "response": s.response, "audit": audit});
            out.push(step.to_string());
        }
        out.extend(self.on_disk(&data, lines.len()));
        out
    }

    /// The files the run left in the data dir: names, modes, normalised content and
    /// member order.
    fn on_disk(&mut self, data: &Path, audit_lines: usize) -> Vec<String> {
        let listing = |dir: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .expect("read dir")
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let mode = |p: &Path| {
            let m = std::fs::metadata(p).expect("metadata").permissions().mode();
            format!("{:o}", m & 0o777)
        };
        let state_path = data.join("kms").join("state.json");
        let state_text = read(&state_path);
        let state: Value = serde_json::from_str(&state_text).expect("state JSON");
        let maps = [
            "keys",
            "aliases",
            "principals",
            "policies",
            "subset",
            "equals",
        ];
        let state_entry = json!({
            "step": "~ on disk: kms/state.json",
            "mode": mode(&state_path),
            "member_order": member_order(&state_text, &maps),
            "content": self.norm.value(&state),
        });
        let cred_path = Kms::service_credential_path(data);
        let cred_text = read(&cred_path);
        let cred: Value = serde_json::from_str(&cred_text).expect("credential JSON");
        let cred_entry = json!({
            "step": "~ on disk: kms/service-credential",
            "mode": mode(&cred_path),
            "member_order": member_order(&cred_text, &[]),
            "content": self.norm.value(&cred),
        });
        let dirs_entry = json!({
            "step": "~ on disk: files",
            "kms": listing(&data.join("kms")),
            "audit": listing(&data.join("audit")),
            "audit_lines": audit_lines,
        });
        vec![
            dirs_entry.to_string(),
            state_entry.to_string(),
            cred_entry.to_string(),
        ]
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Request strings with long runs collapsed; still long ones (oversized plaintexts)
/// recorded by length and head.
fn abbreviate(v: Value) -> Value {
    match v {
        Value::String(s) => {
            let short = collapse_runs(&s);
            if short.len() > LONG {
                let head: String = short.chars().take(48).collect();
                Value::String(format!("<{} bytes: {head}…>", s.len()))
            } else {
                Value::String(short)
            }
        }
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, abbreviate(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(abbreviate).collect()),
        other => other,
    }
}

/// ListKeys and ListRetirableGrants list in the order of the (random) key ids: the record
/// keeps the entries in placeholder order and states whether the listing was in key-id
/// order.
fn unordered_listing(
    op: Option<&str>,
    raw: &Value,
    body: &mut Value,
    response: &mut Map<String, Value>,
) {
    let (member, flag) = match op {
        Some("ListKeys") => ("Keys", "listed_in_key_id_order"),
        Some("ListRetirableGrants") => ("Grants", "listed_in_key_id_order"),
        _ => return,
    };
    let Some(raw_items) = raw[member].as_array() else {
        return;
    };
    let id = |e: &Value| -> String {
        let k = e["KeyId"].as_str().unwrap_or_default();
        k.rsplit('/').next().unwrap_or(k).to_owned()
    };
    let in_order = raw_items.windows(2).all(|w| id(&w[0]) <= id(&w[1]));
    if let Some(items) = body[member].as_array_mut() {
        items.sort_by_key(|e| key_number(e["KeyId"].as_str().unwrap_or_default()));
    }
    response.insert(flag.into(), json!(in_order));
}
