//! The HTTP layer before the KMS: the Host check, the ping and its proof, methods, targets,
//! body size, SigV4 (every refusal), the x-ebsim-* headers, and the service credential's
//! nonces (missing, unsigned, malformed, replayed, before the start, out of the window).

use std::time::{Duration, SystemTime};

use ebsim_kms::trust::{new_challenge, new_nonce};
use ebsim_kms_api::sign::KmsPost;
use serde_json::{Value, json};

use crate::harness::{Corpus, MAX_BODY, Who, Wire, post_headers};
use crate::script_access::user;

const LIST: &str = "TrentService.ListAliases";
const BODY: &[u8] = b"{\"Limit\": 1}";

/// How to build a request.
struct Build {
    host: String,
    target: Option<&'static str>,
    body: Vec<u8>,
    credential: (String, String),
    scope: (&'static str, &'static str),
    time: SystemTime,
    /// Headers signed along with host, content-type and x-amz-target.
    signed: Vec<(String, String)>,
    sign: bool,
}

impl Build {
    fn new(c: &Corpus) -> Build {
        Build {
            host: c.addr.to_string(),
            target: Some(LIST),
            body: BODY.to_vec(),
            credential: ("test".into(), "test".into()),
            scope: ("us-west-2", "kms"),
            time: SystemTime::now(),
            signed: Vec::new(),
            sign: true,
        }
    }

    fn service(c: &Corpus) -> Build {
        let mut b = Build::new(c);
        b.credential = c.service_key();
        b.signed
            .push(("x-ebsim-nonce".into(), new_nonce(SystemTime::now())));
        b
    }

    fn wire(&self) -> Wire {
        let signed: Vec<(&str, &str)> = self
            .signed
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let post = KmsPost {
            host: &self.host,
            target: self.target,
            headers: &signed,
            body: &self.body,
            region: self.scope.0,
            service: self.scope.1,
        };
        let credential = (self.credential.0.as_str(), self.credential.1.as_str());
        let headers = post_headers(&post, self.sign.then_some(credential), self.time);
        Wire {
            method: "POST",
            path: "/".into(),
            headers,
            body: self.body.clone(),
            declared_len: None,
        }
    }
}

/// A change to a signed request's Authorization header.
type Edit = fn(&str) -> String;

fn case(what: &str) -> Value {
    json!({"case": what})
}

pub fn run(c: &mut Corpus) {
    hosts_and_ping(c);
    methods_targets_and_size(c);
    signatures(c);
    headers_and_nonces(c);
}

fn hosts_and_ping(c: &mut Corpus) {
    let port = c.addr.port();
    for (what, host) in [
        (
            "Host: 127.0.0.1 with another port",
            Some(format!("127.0.0.1:{}", port.wrapping_add(1).max(1))),
        ),
        (
            "Host: evil.example with the server's port",
            Some(format!("evil.example:{port}")),
        ),
        (
            "Host: localhost without a port",
            Some("localhost".to_owned()),
        ),
        (
            "Host: the AWS endpoint name",
            Some("kms.us-west-2.amazonaws.com".to_owned()),
        ),
        ("no Host header", None),
    ] {
        let mut b = Build::new(c);
        let missing = host.is_none();
        if let Some(h) = host {
            b.host = h;
        }
        let mut w = b.wire();
        if missing {
            w.headers.retain(|(k, _)| k != "host");
        }
        c.wire(&format!("trust/refused: {what}"), case(what), &w, None);
    }
    for (what, host) in [
        (
            "Host: localhost with the server's port",
            format!("localhost:{port}"),
        ),
        (
            "Host: [::1] with the server's port",
            format!("[::1]:{port}"),
        ),
        (
            "Host: 127.0.0.2 with the server's port",
            format!("127.0.0.2:{port}"),
        ),
    ] {
        let mut b = Build::new(c);
        b.host = host;
        c.wire(
            &format!("trust/accepted: {what}"),
            case(what),
            &b.wire(),
            None,
        );
    }
    let ping = |host: Option<String>, path: String| Wire {
        method: "GET",
        path,
        headers: host
            .into_iter()
            .map(|h| ("host".to_owned(), h.into_bytes()))
            .collect(),
        body: Vec::new(),
        declared_len: None,
    };
    let addr = c.addr.to_string();
    c.wire(
        "ping/without a challenge",
        case("GET /ebsim/ping"),
        &ping(Some(addr.clone()), "/ebsim/ping".into()),
        None,
    );
    let challenge = new_challenge();
    let hex = hex::encode(challenge);
    c.norm.name(&hex, "<challenge>");
    c.wire(
        "ping/with a challenge",
        case("GET /ebsim/ping?challenge=HEX"),
        &ping(Some(addr.clone()), format!("/ebsim/ping?challenge={hex}")),
        Some((&addr, &challenge)),
    );
    let localhost = format!("localhost:{port}");
    let challenge = new_challenge();
    let hex = hex::encode(challenge);
    c.norm.name(&hex, "<challenge 2>");
    c.wire(
        "ping/with a challenge, Host localhost",
        case("GET /ebsim/ping?challenge=HEX with Host localhost:PORT (the proof binds this Host)"),
        &ping(
            Some(localhost.clone()),
            format!("/ebsim/ping?x=1&challenge={hex}"),
        ),
        Some((&localhost, &challenge)),
    );
    for (step, path) in [
        (
            "ping/refused: challenge not hex",
            "/ebsim/ping?challenge=zz",
        ),
        (
            "ping/refused: challenge too short",
            "/ebsim/ping?challenge=abcd",
        ),
    ] {
        c.wire(
            step,
            case(path),
            &ping(Some(addr.clone()), path.into()),
            None,
        );
    }
    c.wire(
        "ping/refused: Host naming another endpoint",
        case("GET /ebsim/ping with Host evil.example:PORT"),
        &ping(Some(format!("evil.example:{port}")), "/ebsim/ping".into()),
        None,
    );
}

fn methods_targets_and_size(c: &mut Corpus) {
    let addr = c.addr.to_string();
    for method in ["GET", "PUT"] {
        let w = Wire {
            method,
            path: "/".into(),
            headers: vec![("host".into(), addr.clone().into_bytes())],
            body: Vec::new(),
            declared_len: None,
        };
        c.wire(
            &format!("trust/refused: {method} /"),
            case(&format!("{method} /")),
            &w,
            None,
        );
    }
    let mut big = Build::new(c).wire();
    big.declared_len = Some(MAX_BODY + 1);
    c.wire(
        "trust/refused: declared body over the limit",
        case("POST / with Content-Length one over the limit (body not sent)"),
        &big,
        None,
    );
    for (what, target) in [
        ("no X-Amz-Target", None),
        (
            "X-Amz-Target of another service",
            Some("DynamoDB_20120810.ListTables"),
        ),
        ("X-Amz-Target without an operation", Some("TrentService")),
    ] {
        let mut b = Build::new(c);
        b.target = target;
        c.wire(
            &format!("trust/refused: {what}"),
            case(what),
            &b.wire(),
            None,
        );
    }
}

fn signatures(c: &mut Corpus) {
    // Messages quote the credential scope's date, which is the wall clock's.
    let today = ebsim_kms_server::sigv4::format_amz_date(SystemTime::now());
    let day = &today[..8];
    c.norm.substitute(&format!("/{day}/"), "/<amz-day>/");
    c.norm.substitute(&format!("'{day}'"), "'<amz-day>'");
    let unsigned = {
        let mut b = Build::new(c);
        b.sign = false;
        b.wire()
    };
    c.wire(
        "sigv4/refused: no Authorization",
        case("unsigned"),
        &unsigned,
        None,
    );
    let edits: [(&str, Edit); 6] = [
        ("Authorization of another scheme", |_| {
            "Basic dGVzdDp0ZXN0".to_owned()
        }),
        ("Authorization without a Signature", |a| {
            a.split(", Signature=").next().unwrap_or(a).to_owned()
        }),
        ("Credential without a service", |a| {
            a.replace("/us-west-2/kms/", "/us-west-2/")
        }),
        ("SignedHeaders without host", |a| a.replace(";host;", ";")),
        ("an upper-case SignedHeaders entry", |a| {
            a.replace(";host;", ";host;X-Extra;")
        }),
        ("SignedHeaders naming an absent header", |a| {
            a.replace(";host;", ";host;x-absent;")
        }),
    ];
    for (what, edit) in edits {
        let mut w = Build::new(c).wire();
        let auth = w.get("authorization").expect("signed");
        w.set("authorization", edit(&auth).as_bytes());
        c.wire(&format!("sigv4/refused: {what}"), case(what), &w, None);
    }
    let mut w = Build::new(c).wire();
    w.headers.retain(|(k, _)| k != "x-amz-date");
    c.wire(
        "sigv4/refused: no X-Amz-Date",
        case("no X-Amz-Date"),
        &w,
        None,
    );
    let mut w = Build::new(c).wire();
    w.set("x-amz-date", b"2027-01-15T08:00:00Z");
    c.wire(
        "sigv4/refused: X-Amz-Date not basic ISO-8601",
        case("X-Amz-Date 2027-01-15T08:00:00Z"),
        &w,
        None,
    );
    let mut w = Build::new(c).wire();
    let date = w.get("x-amz-date").expect("dated");
    let day = &date[..8];
    let auth = w.get("authorization").expect("signed");
    w.set(
        "authorization",
        auth.replace(&format!("/{day}/"), "/20000101/").as_bytes(),
    );
    c.wire(
        "sigv4/refused: scope date differs from X-Amz-Date",
        case("Credential scope date 20000101"),
        &w,
        None,
    );
    for (what, time) in [
        (
            "signed 20 minutes ago",
            SystemTime::now() - Duration::from_secs(20 * 60),
        ),
        (
            "signed 20 minutes ahead",
            SystemTime::now() + Duration::from_secs(20 * 60),
        ),
    ] {
        let mut b = Build::new(c);
        b.time = time;
        c.wire(
            &format!("sigv4/refused: {what}"),
            case(what),
            &b.wire(),
            None,
        );
    }
    let mut b = Build::new(c);
    b.credential = ("AKIAUNKNOWNUNKNOWN00".into(), "x".into());
    c.wire(
        "sigv4/refused: unknown access key",
        case("access key AKIAUNKNOWNUNKNOWN00"),
        &b.wire(),
        None,
    );
    let mut b = Build::new(c);
    b.credential.1 = "wrong".into();
    c.wire(
        "sigv4/refused: wrong secret",
        case("test credential, wrong secret"),
        &b.wire(),
        None,
    );
    let mut w = Build::new(c).wire();
    w.body = b"{\"Limit\": 2}".to_vec();
    c.wire(
        "sigv4/refused: body changed after signing",
        case("signed {\"Limit\": 1}, sent {\"Limit\": 2}"),
        &w,
        None,
    );
    let mut b = Build::new(c);
    b.scope = ("us-west-2", "s3");
    c.wire(
        "sigv4/refused: scoped to s3",
        case("credential scope us-west-2/s3"),
        &b.wire(),
        None,
    );
    let mut b = Build::new(c);
    b.scope = ("eu-west-1", "kms");
    c.wire(
        "sigv4/accepted: scoped to another region (its own aliases)",
        case("credential scope eu-west-1/kms"),
        &b.wire(),
        None,
    );
    let mut b = Build::new(c);
    b.scope = ("xx-fake-1", "kms");
    c.wire(
        "sigv4/refused: a region outside the partition",
        case("credential scope xx-fake-1/kms"),
        &b.wire(),
        None,
    );
    let mut b = Build::new(c);
    b.scope = ("US-WEST-2", "kms");
    c.wire(
        "sigv4/refused: a region in capitals",
        case("credential scope US-WEST-2/kms"),
        &b.wire(),
        None,
    );
}

fn headers_and_nonces(c: &mut Corpus) {
    let mut b = Build::new(c);
    b.signed.push((
        "x-ebsim-principal".into(),
        "arn:aws:iam::111122223333:user/alice".into(),
    ));
    c.wire(
        "trust/refused: x-ebsim-principal from the root credential",
        case("test credential with a signed x-ebsim-principal"),
        &b.wire(),
        None,
    );
    let trudy = user(c, "trudy");
    let Who::Iam { akid, secret, .. } = &trudy else {
        unreachable!("user() returns an IAM credential")
    };
    let mut b = Build::new(c);
    b.credential = (akid.clone(), secret.clone());
    b.signed.push((
        "x-ebsim-via-service".into(),
        "ec2.us-west-2.amazonaws.com".into(),
    ));
    c.wire(
        "trust/refused: x-ebsim-via-service from an IAM user",
        case("iam user trudy with a signed x-ebsim-via-service"),
        &b.wire(),
        None,
    );
    let mut w = Build::new(c).wire();
    w.headers.push((
        "x-ebsim-principal".into(),
        b"arn:aws:iam::111122223333:user/\xc3\xa9".to_vec(),
    ));
    c.wire(
        "sigv4/refused: an x-ebsim-principal the signature does not cover (not ASCII either)",
        case("test credential, an unsigned non-ASCII x-ebsim-principal"),
        &w,
        None,
    );
    // A captured request re-aimed at another operation: X-Amz-Target added after signing.
    let mut b = Build::new(c);
    b.target = None;
    let mut w = b.wire();
    w.headers
        .push(("x-amz-target".into(), b"TrentService.CreateKey".to_vec()));
    c.wire(
        "sigv4/refused: an X-Amz-Target the signature does not cover",
        case("test credential, x-amz-target added after signing"),
        &w,
        None,
    );
    let mut b = Build::service(c);
    b.signed.clear();
    c.wire(
        "nonce/refused: service credential without a nonce",
        case("service credential, no x-ebsim-nonce"),
        &b.wire(),
        None,
    );
    let mut b = Build::service(c);
    b.signed.clear();
    let mut w = b.wire();
    w.headers.push((
        "x-ebsim-nonce".into(),
        new_nonce(SystemTime::now()).into_bytes(),
    ));
    c.wire(
        "nonce/refused: nonce outside the signature",
        case("service credential, unsigned x-ebsim-nonce"),
        &w,
        None,
    );
    let mut b = Build::service(c);
    b.signed = vec![("x-ebsim-nonce".into(), "12-zz".into())];
    c.wire(
        "nonce/refused: malformed nonce",
        case("service credential, x-ebsim-nonce 12-zz"),
        &b.wire(),
        None,
    );
    let captured = Build::service(c).wire();
    c.wire(
        "nonce/a fresh signed nonce",
        case("service credential, fresh signed nonce"),
        &captured,
        None,
    );
    c.wire(
        "nonce/refused: the same request replayed",
        case("the previous request, byte for byte"),
        &captured,
        None,
    );
    let mut b = Build::service(c);
    b.signed = vec![(
        "x-ebsim-nonce".into(),
        new_nonce(c.before_start - Duration::from_secs(1)),
    )];
    c.wire(
        "nonce/refused: nonce made before the server started",
        case("nonce a second before the server started"),
        &b.wire(),
        None,
    );
    let mut b = Build::service(c);
    b.time = c.before_start - Duration::from_secs(2);
    c.wire(
        "nonce/refused: signed before the server started",
        case("X-Amz-Date two seconds before the server started"),
        &b.wire(),
        None,
    );
    let mut b = Build::service(c);
    b.signed = vec![(
        "x-ebsim-nonce".into(),
        new_nonce(SystemTime::now() + Duration::from_secs(16 * 60)),
    )];
    c.wire(
        "nonce/refused: nonce 16 minutes ahead",
        case("nonce made 16 minutes from now"),
        &b.wire(),
        None,
    );
    let mut b = Build::service(c);
    b.signed.push((
        "x-ebsim-principal".into(),
        "arn:aws:iam::111122223333:user/alice".into(),
    ));
    b.signed.push((
        "x-ebsim-via-service".into(),
        "ec2.us-west-2.amazonaws.com".into(),
    ));
    c.wire(
        "nonce/service acting for alice through ec2",
        case("service credential for alice via ec2"),
        &b.wire(),
        None,
    );
}
