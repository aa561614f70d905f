//! The EBS direct APIs in process (docs/ebs-direct.md): a snapshot written, completed, listed
//! and read; every bad input answered with AWS's code and `Reason`, the snapshot left as it was;
//! encryption outcomes with encryption by default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine as _;
use ebsim_ec2::Ec2;
use ebsim_kms::{Caller, Kms, KmsConfig};
use ebsim_kms_api::Region;
use ebsim_kms_server::{RestHandler, RestRequest, RestResponse};
use serde_json::{Value, json};
use sha2::Digest as _;

const ROOT: &str = "arn:aws:iam::111122223333:root";
const BLOCK: usize = 524_288;

struct Fixture {
    _tmp: tempfile::TempDir,
    ec2: Ec2,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let kms = Arc::new(Kms::open(tmp.path(), KmsConfig::default()).unwrap());
    let ec2 = Ec2::open(tmp.path(), kms, Region::default()).unwrap();
    Fixture { _tmp: tmp, ec2 }
}

fn b64sha(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(data))
}

impl Fixture {
    fn call(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> RestResponse {
        let mut h = http::HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let req = RestRequest {
            method: method.parse().unwrap(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: h,
            body,
        };
        RestHandler::handle(&self.ec2, &Caller::new(ROOT), req, "rid")
    }

    fn json(&self, method: &str, path: &str, query: &str, body: Value) -> (u16, Value) {
        let r = self.call(method, path, query, &[], body.to_string().into_bytes());
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    fn put(
        &self,
        sid: &str,
        index: &str,
        data: &[u8],
        checksum: &str,
        length: usize,
    ) -> RestResponse {
        self.call(
            "PUT",
            &format!("/snapshots/{sid}/blocks/{index}"),
            "",
            &[
                ("x-amz-data-length", length.to_string()),
                ("x-amz-checksum", checksum.to_owned()),
                ("x-amz-checksum-algorithm", "SHA256".to_owned()),
            ],
            data.to_vec(),
        )
    }

    fn complete(&self, sid: &str, count: u64, checksum: Option<String>) -> RestResponse {
        let mut h = vec![("x-amz-changedblockscount", count.to_string())];
        if let Some(c) = checksum {
            h.push(("x-amz-checksum", c));
            h.push(("x-amz-checksum-algorithm", "SHA256".to_owned()));
            h.push(("x-amz-checksum-aggregation-method", "LINEAR".to_owned()));
        }
        self.call(
            "POST",
            &format!("/snapshots/completion/{sid}"),
            "",
            &h,
            Vec::new(),
        )
    }

    fn listed(&self, sid: &str) -> Vec<u64> {
        let (status, v) = self.json("GET", &format!("/snapshots/{sid}/blocks"), "", Value::Null);
        assert_eq!(status, 200, "{v}");
        v["Blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["BlockIndex"].as_u64().unwrap())
            .collect()
    }
}

fn error(r: &RestResponse) -> (u16, String, String) {
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let code = r
        .headers
        .iter()
        .find(|(k, _)| *k == "x-amzn-errortype")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert_eq!(v["__type"], code.as_str());
    (
        r.status,
        code,
        v["Reason"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn written_completed_and_read_with_every_bad_input_refused() {
    let f = fixture();
    let (status, s) = f.json(
        "POST",
        "/snapshots",
        "",
        json!({"VolumeSize": 1, "Encrypted": true}),
    );
    assert_eq!(status, 201, "{s}");
    let sid = s["SnapshotId"].as_str().unwrap().to_owned();
    assert_eq!(s["Status"], "pending");
    assert_eq!(s["SseType"], "sse-ebs");
    let a: Vec<u8> = (0..BLOCK).map(|i| (i % 13) as u8 + 1).collect();
    let b: Vec<u8> = (0..BLOCK).map(|i| (i % 17) as u8 + 1).collect();
    assert_eq!(f.put(&sid, "0", &a, &b64sha(&a), BLOCK).status, 201);
    assert_eq!(f.put(&sid, "2047", &b, &b64sha(&b), BLOCK).status, 201);

    let bad = [
        (
            f.put(&sid, "1", &a, &b64sha(&b), BLOCK),
            400,
            "ValidationException",
            "INVALID_PARAMETER_VALUE",
        ),
        (
            f.put(&sid, "2048", &a, &b64sha(&a), BLOCK),
            400,
            "ValidationException",
            "INVALID_BLOCK",
        ),
        (
            f.put(&sid, "x", &a, &b64sha(&a), BLOCK),
            400,
            "ValidationException",
            "INVALID_BLOCK",
        ),
        (
            f.put(&sid, "1", &a[..4096], &b64sha(&a[..4096]), 4096),
            400,
            "ValidationException",
            "INVALID_PARAMETER_VALUE",
        ),
        (
            f.put(&sid, "1", &a, &b64sha(&a), 4096),
            400,
            "ValidationException",
            "INVALID_PARAMETER_VALUE",
        ),
        (
            f.put(&sid, "1", &a, "not base64!", BLOCK),
            400,
            "ValidationException",
            "INVALID_PARAMETER_VALUE",
        ),
        (
            f.put("snap-0123456789abcdef0", "1", &a, &b64sha(&a), BLOCK),
            404,
            "ResourceNotFoundException",
            "SNAPSHOT_NOT_FOUND",
        ),
        (
            f.put("vol-0123456789abcdef0", "1", &a, &b64sha(&a), BLOCK),
            400,
            "ValidationException",
            "INVALID_SNAPSHOT_ID",
        ),
        (
            f.complete(&sid, 1, None),
            400,
            "ValidationException",
            "INVALID_PARAMETER_VALUE",
        ),
        (
            f.complete(&sid, 2, Some(b64sha(b"x"))),
            400,
            "ValidationException",
            "INVALID_PARAMETER_VALUE",
        ),
    ];
    for (i, (r, status, code, reason)) in bad.iter().enumerate() {
        assert_eq!(
            error(r),
            (*status, (*code).to_owned(), (*reason).to_owned()),
            "case {i}"
        );
    }
    // The LINEAR aggregate: SHA-256 of the raw digests in index order.
    let mut digests = sha2::Sha256::digest(&a).to_vec();
    digests.extend_from_slice(&sha2::Sha256::digest(&b));
    let linear = b64sha(&digests);
    let done = f.complete(&sid, 2, Some(linear));
    assert_eq!(done.status, 202);
    assert_eq!(f.listed(&sid), [0, 2047], "only the good blocks");
    let r = f.put(&sid, "1", &a, &b64sha(&a), BLOCK);
    assert_eq!(
        error(&r),
        (
            400,
            "ValidationException".into(),
            "INVALID_SNAPSHOT_ID".into()
        )
    );
    assert_eq!(f.listed(&sid), [0, 2047], "nothing changed");

    let (_, list) = f.json("GET", &format!("/snapshots/{sid}/blocks"), "", Value::Null);
    let token = list["Blocks"][1]["BlockToken"].as_str().unwrap();
    let enc: String = url_encode(token);
    let got = f.call(
        "GET",
        &format!("/snapshots/{sid}/blocks/2047"),
        &format!("blockToken={enc}"),
        &[],
        Vec::new(),
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b);
    assert!(got.headers.contains(&("x-amz-checksum", b64sha(&b))));
    let wrong = f.call(
        "GET",
        &format!("/snapshots/{sid}/blocks/0"),
        &format!("blockToken={enc}"),
        &[],
        Vec::new(),
    );
    assert_eq!(error(&wrong).2, "INVALID_BLOCK_TOKEN");
}

fn url_encode(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[test]
fn encryption_by_default_and_client_tokens() {
    let f = fixture();
    let (_, plain) = f.json("POST", "/snapshots", "", json!({"VolumeSize": 1}));
    assert_eq!(plain["SseType"], "none");
    assert!(plain.get("KmsKeyArn").is_none());
    let (status, child) = f.json(
        "POST",
        "/snapshots",
        "",
        json!({"VolumeSize": 1, "ParentSnapshotId": plain["SnapshotId"], "Encrypted": true}),
    );
    assert_eq!(status, 400, "{child}");
    let enable =
        ebsim_iam::QueryRequest::parse(b"Action=EnableEbsEncryptionByDefault&Version=2016-11-15")
            .unwrap();
    f.ec2.handle(&Caller::new(ROOT), &enable, "rid").unwrap();
    let (status, on) = f.json("POST", "/snapshots", "", json!({"VolumeSize": 1}));
    assert_eq!(status, 201, "{on}");
    assert_eq!(on["SseType"], "sse-ebs");
    let (status, refused) = f.json(
        "POST",
        "/snapshots",
        "",
        json!({"VolumeSize": 1, "Encrypted": false}),
    );
    assert_eq!(status, 400, "{refused}");
    let body = json!({"VolumeSize": 2, "ClientToken": "t"});
    let (_, first) = f.json("POST", "/snapshots", "", body.clone());
    let (_, again) = f.json("POST", "/snapshots", "", body);
    assert_eq!(first["SnapshotId"], again["SnapshotId"]);
    let (status, _) = f.json(
        "POST",
        "/snapshots",
        "",
        json!({"VolumeSize": 3, "ClientToken": "t"}),
    );
    assert_eq!(status, 409);
}
