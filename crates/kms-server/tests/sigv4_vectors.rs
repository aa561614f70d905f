//! The verifier against AWS's published SigV4 test-suite vectors (tests/data/sigv4/SOURCE.md):
//! every signed request verifies, and any change to it (signature, secret, a signed header,
//! the body, the date) is refused.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ebsim_kms_server::sigv4::{self, AuthError, SigningSecret, parse_amz_date};
use http::{HeaderMap, HeaderName, HeaderValue};

const VECTORS: &[&str] = &[
    "get-vanilla",
    "get-vanilla-query-order-key-case",
    "get-header-key-duplicate",
    "get-header-value-trim",
    "get-vanilla-with-session-token",
    "post-vanilla",
    "post-vanilla-query",
    "post-header-key-case",
    "post-x-www-form-urlencoded",
];

struct Secret(&'static str);
impl SigningSecret for Secret {
    fn secret(&self) -> &str {
        self.0
    }
}

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

struct Vector {
    method: String,
    target: String,
    headers: HeaderMap,
    body: Vec<u8>,
    now: SystemTime,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigv4")
}

fn load(name: &str) -> Vector {
    let text = std::fs::read_to_string(dir().join(name).join("header-signed-request.txt")).unwrap();
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let mut parts = request_line.splitn(3, ' ');
    let method = parts.next().unwrap().to_owned();
    let target = parts.next().unwrap().to_owned();
    let mut headers = HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(':').unwrap();
        headers.append(
            HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
            HeaderValue::from_str(v.trim_start()).unwrap(),
        );
    }
    let mut body = body.as_bytes().to_vec();
    if let Some(len) = headers.get("content-length") {
        body.truncate(len.to_str().unwrap().parse().unwrap());
    } else {
        body.clear();
    }
    let ctx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join(name).join("context.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ctx["credentials"]["secret_access_key"], SECRET);
    let ts = ctx["timestamp"].as_str().unwrap().replace(['-', ':'], "");
    let now = parse_amz_date(&ts).unwrap();
    Vector {
        method,
        target,
        headers,
        body,
        now,
    }
}

fn check(v: &Vector, now: SystemTime, secret: &'static str) -> Result<String, AuthError> {
    sigv4::verify(&v.method, &v.target, &v.headers, &v.body, now, |akid| {
        (akid == "AKIDEXAMPLE").then_some(Secret(secret))
    })
    .map(|ok| format!("{}/{}/{}", ok.access_key_id, ok.region, ok.service))
}

#[test]
fn published_vectors_verify() {
    for name in VECTORS {
        let v = load(name);
        assert_eq!(
            check(&v, v.now, SECRET),
            Ok("AKIDEXAMPLE/us-east-1/service".to_owned()),
            "vector {name}"
        );
    }
}

#[test]
fn wrong_secret_is_a_bad_signature() {
    for name in VECTORS {
        let v = load(name);
        assert_eq!(
            check(&v, v.now, "not-the-secret"),
            Err(AuthError::BadSignature),
            "{name}"
        );
    }
}

#[test]
fn tampered_signature_is_refused() {
    for name in VECTORS {
        let mut v = load(name);
        let auth = v
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let last = auth.chars().last().unwrap();
        let flipped = if last == '0' { '1' } else { '0' };
        let tampered = format!("{}{flipped}", &auth[..auth.len() - 1]);
        v.headers
            .insert("authorization", HeaderValue::from_str(&tampered).unwrap());
        assert_eq!(
            check(&v, v.now, SECRET),
            Err(AuthError::BadSignature),
            "{name}"
        );
    }
}

#[test]
fn tampered_signed_header_or_body_is_refused() {
    let mut v = load("post-x-www-form-urlencoded");
    v.body = b"Param1=value2".to_vec();
    assert_eq!(check(&v, v.now, SECRET), Err(AuthError::BadSignature));

    let mut v = load("get-header-value-trim");
    v.headers
        .insert("my-header1", HeaderValue::from_static("value2"));
    assert_eq!(check(&v, v.now, SECRET), Err(AuthError::BadSignature));

    let mut v = load("get-vanilla");
    v.headers
        .insert("host", HeaderValue::from_static("evil.example.com"));
    assert_eq!(check(&v, v.now, SECRET), Err(AuthError::BadSignature));

    // An unsigned header may change freely.
    let mut v = load("get-vanilla");
    v.headers
        .insert("user-agent", HeaderValue::from_static("anything"));
    assert!(check(&v, v.now, SECRET).is_ok());

    // A signed header that is missing from the request.
    let mut v = load("get-header-value-trim");
    v.headers.remove("my-header2");
    assert_eq!(check(&v, v.now, SECRET), Err(AuthError::BadSignature));
}

#[test]
fn skewed_requests_are_refused_by_wall_clock() {
    let v = load("get-vanilla");
    assert!(check(&v, v.now + Duration::from_secs(14 * 60), SECRET).is_ok());
    assert!(matches!(
        check(&v, v.now + Duration::from_secs(16 * 60), SECRET),
        Err(AuthError::Expired(m)) if m.contains("Signature expired")
    ));
    assert!(matches!(
        check(&v, v.now - Duration::from_secs(16 * 60), SECRET),
        Err(AuthError::Expired(m)) if m.contains("not yet current")
    ));
    // Against today's clock the 2015 vector is long expired.
    assert!(matches!(
        check(&v, SystemTime::now(), SECRET),
        Err(AuthError::Expired(_))
    ));
}

#[test]
fn unknown_key_and_missing_auth() {
    let mut v = load("get-vanilla");
    let auth = v
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace("AKIDEXAMPLE", "AKIDOTHER");
    v.headers
        .insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert_eq!(check(&v, v.now, SECRET), Err(AuthError::UnknownAccessKey));

    let mut v = load("get-vanilla");
    v.headers.remove("authorization");
    assert_eq!(check(&v, v.now, SECRET), Err(AuthError::Missing));

    let mut v = load("get-vanilla");
    v.headers.remove("x-amz-date");
    assert!(matches!(
        check(&v, v.now, SECRET),
        Err(AuthError::Incomplete(_))
    ));

    // Credential scope date differing from x-amz-date.
    let mut v = load("get-vanilla");
    let auth = v
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace("/20150830/", "/20150831/");
    v.headers
        .insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert!(matches!(
        check(&v, v.now, SECRET),
        Err(AuthError::BadScope(_))
    ));
}
