//! The client side of SigV4 (feature `sign`): the one client credential, [`AccessKey`], and
//! the one signer of KMS requests, [`sign_post`], which signs an AWS JSON 1.1 `POST /` as the
//! AWS SDKs do (every header it carries is signed; no `x-amz-content-sha256`). The HTTP
//! client, its load example and the tests all sign with it; the server verifies what it
//! signs (docs/architecture.md, "KMS: AWS JSON 1.1 with SigV4").
//!
//! ```
//! use std::time::SystemTime;
//! use ebsim_kms_api::sign::{AccessKey, KmsPost, sign_post};
//!
//! let key = AccessKey::new("test", "test");
//! let body = br#"{"KeyId":"alias/ebs"}"#;
//! let post = KmsPost::new("127.0.0.1:4599", "TrentService.DescribeKey", body, "us-west-2");
//! let headers = sign_post(&post, &key, SystemTime::now())?;
//! assert!(headers.iter().any(|(k, v)| k == "authorization" && v.starts_with("AWS4-HMAC-SHA256 ")));
//! # Ok::<(), ebsim_kms_api::sign::SignError>(())
//! ```

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use zeroize::Zeroizing;

use crate::{CONTENT_TYPE, TARGET_HEADER};

/// The signing name of KMS: the service of a KMS request's credential scope.
pub const SIGNING_NAME: &str = "kms";

/// An access key: the credential a client signs requests with. The secret (and the session
/// token, if any) is zeroized on drop and never printed.
pub struct AccessKey {
    /// The access key id.
    pub access_key_id: String,
    secret: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
}

impl AccessKey {
    /// An access key id and its secret access key.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret: Zeroizing::new(secret_access_key.into()),
            session_token: None,
        }
    }

    /// With a session token (sent and signed as `x-amz-security-token`), for temporary AWS
    /// credentials.
    #[must_use]
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(Zeroizing::new(token.into()));
        self
    }

    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), default
    /// `test` / `test`.
    pub fn from_env() -> Self {
        let id = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".to_owned());
        let secret = Zeroizing::new(
            std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
        );
        let key = Self::new(id, secret.as_str());
        match std::env::var("AWS_SESSION_TOKEN") {
            Ok(t) if !t.is_empty() => key.with_session_token(t),
            _ => key,
        }
    }

    /// The secret access key.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl Clone for AccessKey {
    fn clone(&self) -> Self {
        Self {
            access_key_id: self.access_key_id.clone(),
            secret: self.secret.clone(),
            session_token: self.session_token.clone(),
        }
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("has_session_token", &self.session_token.is_some())
            .finish_non_exhaustive()
    }
}

/// A KMS request to sign: `POST /` with an AWS JSON 1.1 body, its `Host`, its
/// `X-Amz-Target` and any more headers, and the credential scope it is signed for.
#[derive(Clone, Copy)]
pub struct KmsPost<'a> {
    /// The `Host` header: the endpoint's authority, without a default port.
    pub host: &'a str,
    /// The `X-Amz-Target` header, `TrentService.<Operation>` (or `EbsimAdmin.<Operation>`);
    /// `None` sends none, as only a test of the server's refusals would.
    pub target: Option<&'a str>,
    /// More headers (the `x-ebsim-*` ones), sent after the others and signed with them.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
    /// The region of the credential scope.
    pub region: &'a str,
    /// The service of the credential scope ([`SIGNING_NAME`] but in tests of refusals).
    pub service: &'a str,
}

impl<'a> KmsPost<'a> {
    /// `POST /` of `body` to `host` with `X-Amz-Target: target`, scoped to `region` and KMS.
    pub fn new(host: &'a str, target: &'a str, body: &'a [u8], region: &'a str) -> Self {
        Self {
            host,
            target: Some(target),
            headers: &[],
            body,
            region,
            service: SIGNING_NAME,
        }
    }

    /// The request's headers before signing, in the order they are sent: `host`,
    /// `content-type`, `x-amz-target`, then [`KmsPost::headers`].
    pub fn unsigned_headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::with_capacity(3 + self.headers.len());
        headers.push(("host".to_owned(), self.host.to_owned()));
        headers.push(("content-type".to_owned(), CONTENT_TYPE.to_owned()));
        if let Some(target) = self.target {
            headers.push((TARGET_HEADER.to_owned(), target.to_owned()));
        }
        headers.extend(
            self.headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        headers
    }
}

impl std::fmt::Debug for KmsPost<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may carry a plaintext: only its length is printed.
        f.debug_struct("KmsPost")
            .field("host", &self.host)
            .field("target", &self.target)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("region", &self.region)
            .field("service", &self.service)
            .finish()
    }
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The signing parameters were refused.
    #[error("invalid SigV4 signing parameters: {0}")]
    Params(String),
    /// The request could not be signed (a header name or value not valid in HTTP).
    #[error("cannot sign the request: {0}")]
    Request(String),
}

/// Signs `post` with `key` at `time` (SigV4, every header signed) and returns every header to
/// send, in order: [`KmsPost::unsigned_headers`], then `x-amz-date`, `x-amz-security-token`
/// (with a session token) and `authorization`.
///
/// # Errors
/// [`SignError`] when the request cannot be signed.
pub fn sign_post(
    post: &KmsPost<'_>,
    key: &AccessKey,
    time: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    let mut headers = post.unsigned_headers();
    let identity = Credentials::new(
        key.access_key_id.as_str(),
        key.secret.as_str(),
        key.session_token.as_ref().map(|t| t.as_str().to_owned()),
        None,
        "ebsim-kms-api",
    )
    .into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(post.region)
        .name(post.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError::Params(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        "/",
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(post.body),
    )
    .map_err(|e| SignError::Request(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| SignError::Request(e.to_string()))?
        .into_parts();
    headers.extend(
        instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const BODY: &[u8] = br#"{"KeyId":"alias/ebs"}"#;

    /// 2027-01-15T08:00:00Z.
    fn time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    // The expected values were computed independently with botocore 1.43
    // (`botocore.auth.SigV4Auth(Credentials(...), "kms", "us-west-2").add_auth(request)` on
    // `POST http://127.0.0.1:4599/` with the same headers, body and time).

    #[test]
    fn signs_as_botocore_does() -> Result<(), SignError> {
        let key = AccessKey::new("AKIDEXAMPLE", SECRET);
        let post = KmsPost::new(
            "127.0.0.1:4599",
            "TrentService.DescribeKey",
            BODY,
            "us-west-2",
        );
        let headers = sign_post(&post, &key, time())?;
        let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "host",
                "content-type",
                "x-amz-target",
                "x-amz-date",
                "authorization"
            ]
        );
        assert_eq!(header(&headers, "host"), Some("127.0.0.1:4599"));
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/x-amz-json-1.1")
        );
        assert_eq!(
            header(&headers, "x-amz-target"),
            Some("TrentService.DescribeKey")
        );
        assert_eq!(header(&headers, "x-amz-date"), Some("20270115T080000Z"));
        assert_eq!(
            header(&headers, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20270115/us-west-2/kms/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
                 Signature=73553af73c04b01c4e21998c794958fc66400a3940fffd98e3939a4709bd4a8f"
            )
        );
        Ok(())
    }

    #[test]
    fn signs_more_headers_and_the_session_token() -> Result<(), SignError> {
        let key = AccessKey::new("AKIDEXAMPLE", SECRET).with_session_token("SESSIONTOKEN");
        let extra = [
            (
                crate::PRINCIPAL_HEADER,
                "arn:aws:iam::111122223333:user/alice",
            ),
            (crate::VIA_SERVICE_HEADER, "ec2.us-west-2.amazonaws.com"),
        ];
        let post = KmsPost {
            headers: &extra,
            ..KmsPost::new(
                "127.0.0.1:4599",
                "TrentService.DescribeKey",
                BODY,
                "us-west-2",
            )
        };
        let headers = sign_post(&post, &key, time())?;
        assert_eq!(
            headers
                .get(3..5)
                .map(|h| h.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>()),
            Some(vec!["x-ebsim-principal", "x-ebsim-via-service"])
        );
        assert_eq!(
            header(&headers, "x-amz-security-token"),
            Some("SESSIONTOKEN")
        );
        assert_eq!(
            header(&headers, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20270115/us-west-2/kms/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target;\
                 x-ebsim-principal;x-ebsim-via-service, \
                 Signature=702a91753871b7054f26f923ea8254af86196667cd41c4becccc6d53bc2f98d1"
            )
        );
        Ok(())
    }

    #[test]
    fn the_signature_covers_the_body_and_the_scope() -> Result<(), SignError> {
        let key = AccessKey::new("AKIDEXAMPLE", SECRET);
        let post = KmsPost::new(
            "127.0.0.1:4599",
            "TrentService.DescribeKey",
            BODY,
            "us-west-2",
        );
        let auth = |post: &KmsPost<'_>| -> Result<Option<String>, SignError> {
            let headers = sign_post(post, &key, time())?;
            Ok(header(&headers, "authorization").map(str::to_owned))
        };
        let base = auth(&post)?;
        let other_body = KmsPost {
            body: b"{}",
            ..post
        };
        let other_service = KmsPost {
            service: "s3",
            ..post
        };
        assert_ne!(auth(&other_body)?, base);
        assert!(auth(&other_service)?.is_some_and(|a| a.contains("/us-west-2/s3/aws4_request")));
        // Without a target, there is no x-amz-target to send or sign.
        let no_target = KmsPost {
            target: None,
            ..post
        };
        let headers = sign_post(&no_target, &key, time())?;
        assert_eq!(header(&headers, "x-amz-target"), None);
        assert!(
            header(&headers, "authorization")
                .is_some_and(|a| a.contains("SignedHeaders=content-type;host;x-amz-date,"))
        );
        Ok(())
    }

    #[test]
    fn an_unsignable_header_is_an_error() {
        let key = AccessKey::new("AKIDEXAMPLE", SECRET);
        let extra = [("x-ebsim-principal", "line\nbreak")];
        let post = KmsPost {
            headers: &extra,
            ..KmsPost::new(
                "127.0.0.1:4599",
                "TrentService.DescribeKey",
                BODY,
                "us-west-2",
            )
        };
        assert!(matches!(
            sign_post(&post, &key, time()),
            Err(SignError::Request(_))
        ));
    }

    #[test]
    fn secrets_are_never_printed() {
        let key = AccessKey::new("AKIDEXAMPLE", SECRET).with_session_token("SESSIONTOKEN");
        let printed = format!("{key:?} {:?}", key.clone());
        assert!(printed.contains("AKIDEXAMPLE"));
        assert!(!printed.contains(SECRET));
        assert!(!printed.contains("SESSIONTOKEN"));
        assert_eq!(key.clone().secret(), SECRET);
        let post = KmsPost::new(
            "h",
            "TrentService.Encrypt",
            b"{\"Plaintext\":\"c2VjcmV0\"}",
            "r",
        );
        assert!(!format!("{post:?}").contains("c2VjcmV0"));
    }
}
