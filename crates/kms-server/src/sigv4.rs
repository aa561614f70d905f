//! SigV4 verification of received requests.
//!
//! The canonical request is never built here: the received request is re-signed with
//! `aws-sigv4` (the headers named in its `SignedHeaders`, its `x-amz-date`, the region and
//! service of its credential scope, the secret looked up for its access key) and the two
//! signatures are compared in constant time.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use ebsim_kms_api::Region;
use subtle::ConstantTimeEq;

/// The clock skew SigV4 tolerates between a request's `x-amz-date` and the wall clock.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why a request failed authentication. Each maps to the AWS error the real service sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header at all.
    #[error("Missing Authentication Token")]
    Missing,
    /// An `Authorization` header (or `x-amz-date`) that cannot be parsed.
    #[error("{0}")]
    Incomplete(String),
    /// The access key is not known.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// The signature does not match.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    BadSignature,
    /// The credential scope is wrong (date or service).
    #[error("{0}")]
    BadScope(String),
    /// The request's `x-amz-date` is more than 15 minutes from the wall clock.
    #[error("{0}")]
    Expired(String),
    /// A service-credential request without a fresh nonce (a replay, or one made before the
    /// server started).
    #[error("{0}")]
    Replay(&'static str),
}

/// A credential that can verify signatures: the secret for an access key.
pub trait SigningSecret {
    /// The secret access key.
    fn secret(&self) -> &str;
}

/// The parsed `Authorization` header of a SigV4 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader<'a> {
    /// The access key id of the credential scope.
    pub access_key_id: &'a str,
    /// `YYYYMMDD` of the credential scope.
    pub date: &'a str,
    /// The region of the credential scope.
    pub region: &'a str,
    /// The service of the credential scope.
    pub service: &'a str,
    /// The signed header names, as sent (`host;x-amz-date`).
    pub signed_headers: &'a str,
    /// The hex signature.
    pub signature: &'a str,
}

/// Parses `AWS4-HMAC-SHA256 Credential=…/…/…/…/aws4_request, SignedHeaders=…, Signature=…`.
///
/// # Errors
/// [`AuthError::Incomplete`] naming what is missing or malformed.
pub fn parse_authorization(value: &str) -> Result<AuthorizationHeader<'_>, AuthError> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256").ok_or_else(|| {
        AuthError::Incomplete(
            "Only the AWS4-HMAC-SHA256 authorization scheme is supported.".to_owned(),
        )
    })?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((key, val)) = part.split_once('=') else {
            return Err(AuthError::Incomplete(format!(
                "Authorization header parameter '{part}' is not of the form key=value."
            )));
        };
        match key.trim() {
            "Credential" => credential = Some(val.trim()),
            "SignedHeaders" => signed_headers = Some(val.trim()),
            "Signature" => signature = Some(val.trim()),
            _ => {}
        }
    }
    let mut missing = String::new();
    for (name, v) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if v.is_none_or(str::is_empty) {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(AuthError::Incomplete(missing.trim_end().to_owned()));
    };
    if !missing.is_empty() {
        return Err(AuthError::Incomplete(missing.trim_end().to_owned()));
    }
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = parts[..] else {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped to a valid region and service, and end with aws4_request: '{credential}'."
        )));
    };
    if access_key_id.is_empty() || region.is_empty() || service.is_empty() {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped to a valid region and service: '{credential}'."
        )));
    }
    Ok(AuthorizationHeader {
        access_key_id,
        date,
        region,
        service,
        signed_headers,
        signature,
    })
}

/// The service of a request's credential scope (`kms`, `iam`, `sts`), if its
/// `Authorization` header parses.
pub fn scope_service(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    parse_authorization(value).ok().map(|a| a.service)
}

/// Parses an ISO-8601 basic `YYYYMMDDTHHMMSSZ` date (the `x-amz-date` format).
///
/// # Errors
/// [`AuthError::Incomplete`] when the value is not in that exact format.
pub fn parse_amz_date(value: &str) -> Result<SystemTime, AuthError> {
    let bad = || {
        AuthError::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    };
    // Exactly `YYYYMMDDTHHMMSSZ`, digits where digits belong, from 1970 on.
    let b = value.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && value.get(..4).is_some_and(|y| y >= "1970");
    if !shape_ok {
        return Err(bad());
    }
    let t = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", value)
        .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt))
        .map_err(|_| bad())?;
    // From 1970 on (checked above), so the seconds are not negative.
    let secs = u64::try_from(t.as_second()).map_err(|_| bad())?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Formats a time as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// A request whose signature checked out.
#[derive(Debug)]
pub struct Verified<C> {
    /// The credential that signed it.
    pub credential: C,
    /// The access key id.
    pub access_key_id: String,
    /// The region of the credential scope (one of the partition's).
    pub region: Region,
    /// The service of the credential scope.
    pub service: String,
    /// The `SignedHeaders` of the request (`host;x-amz-date;…`).
    pub signed_headers: String,
    /// The request's `x-amz-date`.
    pub time: SystemTime,
}

impl<C> Verified<C> {
    /// Whether the signature covers the header `name` (lowercase).
    pub fn signs(&self, name: &str) -> bool {
        self.signed_headers.split(';').any(|h| h == name)
    }
}

/// Verifies the SigV4 signature of a received request.
///
/// `path_and_query` is the request target as received (`/`, `/?a=b`); `headers` every header
/// of the request; `now` the wall clock (requests more than [`MAX_SKEW`] away are refused);
/// `lookup` finds the credential for an access key id.
///
/// # Errors
/// An [`AuthError`] saying why the request is not authentic.
pub fn verify<C: SigningSecret>(
    method: &str,
    path_and_query: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    now: SystemTime,
    lookup: impl FnOnce(&str) -> Option<C>,
) -> Result<Verified<C>, AuthError> {
    verify_with(method, path_and_query, headers, body, now, |akid| {
        lookup(akid).map_or(Lookup::Unknown, Lookup::Verify)
    })
}

/// The first header of `headers` that a server requires to be signed and `verified` does not
/// cover: `X-Amz-Target` (the operation), `Content-Type`, and every `x-amz-*` and `x-ebsim-*`
/// header, so that a captured request cannot be re-aimed at another operation or identity.
/// `x-ebsim-nonce` is left to the replay guard, which requires it signed on the requests it
/// matters for (the service credential's) and answers with its own message.
pub fn unsigned_required_header<'h, C>(
    headers: &'h http::HeaderMap,
    verified: &Verified<C>,
) -> Option<&'h str> {
    headers.keys().map(http::HeaderName::as_str).find(|name| {
        (*name == "content-type" || name.starts_with("x-amz-") || name.starts_with("x-ebsim-"))
            && *name != ebsim_kms_api::trust::NONCE_HEADER
            && !verified.signs(name)
    })
}

/// What a server knows of an access key.
#[derive(Debug)]
pub enum Lookup<C> {
    /// A key it issued: the signature is verified with its secret.
    Verify(C),
    /// A key it accepts without knowing its secret: everything but the signature is checked.
    Trust(C),
    /// A key it does not accept.
    Unknown,
}

/// [`verify`], where `lookup` may also trust a key whose secret the server does not know
/// (`kms serve --credentials any-as-root`): the header, the date, the skew, the signed
/// headers and the scope are checked as for any request, the signature is not.
///
/// # Errors
/// As [`verify`].
pub fn verify_with<C: SigningSecret>(
    method: &str,
    path_and_query: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    now: SystemTime,
    lookup: impl FnOnce(&str) -> Lookup<C>,
) -> Result<Verified<C>, AuthError> {
    verify_payload(method, path_and_query, headers, body, false, now, lookup)
}

/// The `X-Amz-Content-SHA256` value of a request whose payload is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// [`verify_with`], accepting `X-Amz-Content-SHA256: UNSIGNED-PAYLOAD` (the literal is then
/// the canonical request's payload line) when `allow_unsigned` — EBS direct's
/// PutSnapshotBlock only (docs/ebs-direct.md, "Signing"). Any other value of that header must
/// be the SHA-256 of `body`.
///
/// # Errors
/// As [`verify`]; [`AuthError::Incomplete`] for an unsigned payload where it is not allowed.
#[allow(clippy::too_many_arguments)]
pub fn verify_payload<C: SigningSecret>(
    method: &str,
    path_and_query: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    allow_unsigned: bool,
    now: SystemTime,
    lookup: impl FnOnce(&str) -> Lookup<C>,
) -> Result<Verified<C>, AuthError> {
    let unsigned = match headers.get("x-amz-content-sha256").map(|v| v.to_str()) {
        None => false,
        Some(Ok(UNSIGNED_PAYLOAD)) if allow_unsigned => true,
        Some(Ok(UNSIGNED_PAYLOAD)) => {
            return Err(AuthError::Incomplete(
                "UNSIGNED-PAYLOAD is accepted for PutSnapshotBlock only: this request must sign its payload's SHA-256.".to_owned(),
            ));
        }
        Some(Ok(h)) => {
            use sha2::Digest as _;
            if !h.eq_ignore_ascii_case(&hex::encode(sha2::Sha256::digest(body))) {
                return Err(AuthError::BadSignature);
            }
            false
        }
        Some(Err(_)) => return Err(AuthError::BadSignature),
    };
    let Some(auth) = headers.get(http::header::AUTHORIZATION) else {
        return Err(AuthError::Missing);
    };
    let auth = auth
        .to_str()
        .map_err(|_| AuthError::Incomplete("The Authorization header is not ASCII.".to_owned()))?;
    let auth = parse_authorization(auth)?;
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AuthError::Incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                    .to_owned(),
            )
        })?;
    let time = parse_amz_date(amz_date)?;
    if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
        return Err(AuthError::BadScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            amz_date.get(..8).unwrap_or(amz_date)
        )));
    }
    check_skew(time, now)?;
    // Checked before the access key: an unknown region is refused whoever signs.
    let region = Region::parse(auth.region).ok_or_else(|| {
        AuthError::BadScope("Credential should be scoped to a valid region.".to_owned())
    })?;

    let names: Vec<&str> = auth.signed_headers.split(';').collect();
    if !names.contains(&"host") || !names.contains(&"x-amz-date") {
        return Err(AuthError::Incomplete(
            "The SignedHeaders of the Authorization header must include 'host' and 'x-amz-date'."
                .to_owned(),
        ));
    }
    let mut signed: Vec<(&str, &str)> = Vec::with_capacity(names.len() + 1);
    for name in &names {
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(AuthError::Incomplete(format!(
                "Invalid SignedHeaders entry '{name}': header names must be lowercase."
            )));
        }
        let mut found = false;
        for value in headers.get_all(*name) {
            let value = value.to_str().map_err(|_| AuthError::BadSignature)?;
            signed.push((name, value));
            found = true;
        }
        if !found {
            return Err(AuthError::BadSignature);
        }
    }

    let credential = match lookup(auth.access_key_id) {
        Lookup::Verify(c) => c,
        Lookup::Trust(credential) => {
            return Ok(Verified {
                credential,
                access_key_id: auth.access_key_id.to_owned(),
                region,
                service: auth.service.to_owned(),
                signed_headers: auth.signed_headers.to_owned(),
                time,
            });
        }
        Lookup::Unknown => return Err(AuthError::UnknownAccessKey),
    };
    let identity: Identity = Credentials::new(
        auth.access_key_id,
        credential.secret(),
        None,
        None,
        "ebsim-kms-server",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    let params = SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(auth.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|_| AuthError::BadSignature)?
        .into();
    let request = SignableRequest::new(
        method,
        path_and_query,
        signed.into_iter(),
        if unsigned {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(body)
        },
    )
    .map_err(|_| AuthError::BadSignature)?;
    let output = sign(request, &params).map_err(|_| AuthError::BadSignature)?;
    let expected = output.signature().as_bytes();
    if expected.ct_eq(auth.signature.as_bytes()).into() {
        Ok(Verified {
            credential,
            access_key_id: auth.access_key_id.to_owned(),
            region,
            service: auth.service.to_owned(),
            signed_headers: auth.signed_headers.to_owned(),
            time,
        })
    } else {
        Err(AuthError::BadSignature)
    }
}

fn check_skew(time: SystemTime, now: SystemTime) -> Result<(), AuthError> {
    match time.duration_since(now) {
        Ok(ahead) if ahead > MAX_SKEW => Err(AuthError::Expired(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            format_amz_date(time),
            format_amz_date(now + MAX_SKEW),
            format_amz_date(now)
        ))),
        Ok(_) => Ok(()),
        Err(e) if e.duration() > MAX_SKEW => Err(AuthError::Expired(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            format_amz_date(time),
            format_amz_date(now - MAX_SKEW),
            format_amz_date(now)
        ))),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn amz_date_round_trips() {
        for s in [
            "20150830T123600Z",
            "19700101T000000Z",
            "20240229T235959Z",
            "20261126T200000Z",
        ] {
            let t = parse_amz_date(s).expect("valid date");
            assert_eq!(format_amz_date(t), s);
        }
        assert_eq!(
            parse_amz_date("20150830T123600Z").expect("valid"),
            UNIX_EPOCH + Duration::from_secs(1_440_938_160)
        );
        for bad in [
            "",
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20151330T123600Z",
            "2015083xT123600Z",
        ] {
            assert!(
                matches!(parse_amz_date(bad), Err(AuthError::Incomplete(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn authorization_parsing() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .expect("parses");
        assert_eq!(a.access_key_id, "AKID");
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.service, "kms");
        assert_eq!(a.signed_headers, "host;x-amz-date");
        assert_eq!(a.signature, "abc");
        for bad in [
            "Basic dXNlcjpwYXNz",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kms/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/aws4_request, SignedHeaders=host, Signature=a",
            "AWS4-HMAC-SHA256 garbage",
        ] {
            assert!(
                matches!(parse_authorization(bad), Err(AuthError::Incomplete(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn skew_is_checked_both_ways() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(check_skew(now - Duration::from_secs(14 * 60), now).is_ok());
        assert!(check_skew(now + Duration::from_secs(14 * 60), now).is_ok());
        assert!(
            matches!(check_skew(now - Duration::from_secs(16 * 60), now), Err(AuthError::Expired(m)) if m.starts_with("Signature expired"))
        );
        assert!(
            matches!(check_skew(now + Duration::from_secs(16 * 60), now), Err(AuthError::Expired(m)) if m.starts_with("Signature not yet current"))
        );
    }

    struct Secret;
    impl SigningSecret for Secret {
        fn secret(&self) -> &str {
            "secret"
        }
    }

    /// A PUT signed as botocore signs PutSnapshotBlock: `X-Amz-Content-SHA256` carries
    /// `content_sha256` and, when `unsigned`, the canonical payload line is UNSIGNED-PAYLOAD.
    fn signed_put(
        body: &[u8],
        content_sha256: &str,
        unsigned: bool,
    ) -> (http::HeaderMap, SystemTime) {
        let now = SystemTime::now();
        let date = format_amz_date(now);
        let pairs = [
            ("host", "127.0.0.1:1"),
            ("x-amz-content-sha256", content_sha256),
            ("x-amz-date", date.as_str()),
        ];
        let identity: Identity = Credentials::new("AKID", "secret", None, None, "t").into();
        let mut settings = SigningSettings::default();
        settings.excluded_headers = None;
        let params = SigningParams::builder()
            .identity(&identity)
            .region("us-west-2")
            .name("ebs")
            .time(now)
            .settings(settings)
            .build()
            .expect("params")
            .into();
        let payload = if unsigned {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(body)
        };
        let request =
            SignableRequest::new("PUT", "/snapshots/s/blocks/1", pairs.into_iter(), payload)
                .expect("signable");
        let signature = sign(request, &params)
            .expect("signed")
            .signature()
            .to_owned();
        let mut headers = http::HeaderMap::new();
        for (k, v) in pairs {
            headers.insert(k, v.parse().expect("value"));
        }
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKID/{}/us-west-2/ebs/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}",
            &date[..8]
        );
        headers.insert(http::header::AUTHORIZATION, auth.parse().expect("value"));
        (headers, now)
    }

    #[test]
    fn unsigned_payload_only_where_allowed() {
        let body = b"block";
        let verify = |h: &http::HeaderMap, now, allow| {
            verify_payload("PUT", "/snapshots/s/blocks/1", h, body, allow, now, |_| {
                Lookup::Verify(Secret)
            })
        };
        let (h, now) = signed_put(body, UNSIGNED_PAYLOAD, true);
        assert!(verify(&h, now, true).is_ok());
        assert!(
            matches!(verify(&h, now, false), Err(AuthError::Incomplete(m)) if m.contains("PutSnapshotBlock"))
        );
        // A payload hash in the header must be the body's.
        use sha2::Digest as _;
        let good = hex::encode(sha2::Sha256::digest(body));
        let (h, now) = signed_put(body, &good, false);
        assert!(verify(&h, now, false).is_ok());
        let other = hex::encode(sha2::Sha256::digest(b"other"));
        let (h, now) = signed_put(body, &other, false);
        assert!(matches!(
            verify(&h, now, true),
            Err(AuthError::BadSignature)
        ));
    }
}
