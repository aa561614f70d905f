//! What the IAM and STS wire tests share: the real KMS (in memory, on a manual clock)
//! behind the server, Query and KMS calls signed as a given key, and readers of the answers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ebsim_kms::{Kms, KmsConfig, ManualClock};
use ebsim_kms_server::{KmsServer, ServerConfig, ServerHandle};
use ebsim_test_support::http::KmsRequest as Req;
pub use ebsim_test_support::http::Response;

pub struct Sim {
    pub kms: Arc<Kms>,
    pub clock: Arc<ManualClock>,
    pub server: ServerHandle,
}

/// Credentials: access key id, secret, session token.
#[derive(Clone)]
pub struct Creds {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

pub fn root() -> Creds {
    Creds {
        id: "test".into(),
        secret: "test".into(),
        token: None,
    }
}

pub fn start() -> Sim {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let clock = Arc::new(ManualClock::new(now));
    let kms = Arc::new(Kms::in_memory(KmsConfig::default().clock(clock.clone())));
    let server = KmsServer::bind(
        kms.clone(),
        ServerConfig::new("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap()
    .spawn()
    .unwrap();
    Sim { kms, clock, server }
}

pub fn form(params: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

impl Sim {
    /// A Query call of `service` (`iam`, `sts`) with a form body.
    pub fn query(&self, c: &Creds, service: &str, params: &[(&str, &str)]) -> Response {
        self.raw(c, service, form(params).as_bytes())
    }

    pub fn raw(&self, c: &Creds, service: &str, body: &[u8]) -> Response {
        let mut r = Req::new("", body);
        r.key = &c.id;
        r.secret = &c.secret;
        r.service = service;
        if let Some(t) = &c.token {
            r.extra = vec![("x-amz-security-token", t.as_str())];
        }
        r.send(self.server.addr())
    }

    pub fn iam(&self, c: &Creds, action: &str, params: &[(&str, &str)]) -> Response {
        let mut p = vec![("Action", action), ("Version", "2010-05-08")];
        p.extend_from_slice(params);
        self.query(c, "iam", &p)
    }

    pub fn sts(&self, c: &Creds, action: &str, params: &[(&str, &str)]) -> Response {
        let mut p = vec![("Action", action), ("Version", "2011-06-15")];
        p.extend_from_slice(params);
        self.query(c, "sts", &p)
    }

    pub fn kms(&self, c: &Creds, op: &str, body: &serde_json::Value) -> Response {
        let body = body.to_string();
        let target = format!("TrentService.{op}");
        let mut r = Req::new(&target, body.as_bytes());
        r.key = &c.id;
        r.secret = &c.secret;
        if let Some(t) = &c.token {
            r.extra = vec![("x-amz-security-token", t.as_str())];
        }
        r.send(self.server.addr())
    }

    /// A user with an access key and an inline policy allowing `actions` on every key.
    pub fn user(&self, name: &str, actions: &[&str]) -> (Creds, String) {
        let r = self.iam(&root(), "CreateUser", &[("UserName", name)]);
        assert_eq!(r.status, 200, "{}", r.body);
        let arn = tag(&r, "Arn");
        let k = self.iam(&root(), "CreateAccessKey", &[("UserName", name)]);
        assert_eq!(k.status, 200, "{}", k.body);
        if !actions.is_empty() {
            let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": "*"}]});
            let r = self.iam(
                &root(),
                "PutUserPolicy",
                &[
                    ("UserName", name),
                    ("PolicyName", "p"),
                    ("PolicyDocument", &doc.to_string()),
                ],
            );
            assert_eq!(r.status, 200, "{}", r.body);
        }
        (
            Creds {
                id: tag(&k, "AccessKeyId"),
                secret: tag(&k, "SecretAccessKey"),
                token: None,
            },
            arn,
        )
    }

    pub fn create_key(&self) -> String {
        let r = self.kms(&root(), "CreateKey", &serde_json::json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
    }

    pub fn encrypt(&self, key: &str) -> String {
        let r = self.kms(
            &root(),
            "Encrypt",
            &serde_json::json!({"KeyId": key, "Plaintext": "aGk="}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["CiphertextBlob"].as_str().unwrap().to_owned()
    }
}

/// The text of the first `<name>` element (the tests' responses are flat enough).
pub fn tag(r: &Response, name: &str) -> String {
    let open = format!("<{name}>");
    let start = r
        .body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {}", r.body))
        + open.len();
    let end = r.body[start..].find("</").unwrap() + start;
    r.body[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `<Code>` of an error answer, checked to be an XML error envelope with `status`.
pub fn code(r: &Response, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.body.contains("<ErrorResponse"), "{}", r.body);
    assert!(r.body.contains("<Type>Sender</Type>"), "{}", r.body);
    tag(r, "Code")
}

pub fn trust(principal: &str) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})
    .to_string()
}

pub fn assume(
    sim: &Sim,
    c: &Creds,
    role_arn: &str,
    extra: &[(&str, &str)],
) -> Result<Creds, Response> {
    let mut p = vec![("RoleArn", role_arn), ("RoleSessionName", "s1")];
    p.extend_from_slice(extra);
    let r = sim.sts(c, "AssumeRole", &p);
    if r.status != 200 {
        return Err(r);
    }
    Ok(Creds {
        id: tag(&r, "AccessKeyId"),
        secret: tag(&r, "SecretAccessKey"),
        token: Some(tag(&r, "SessionToken")),
    })
}
