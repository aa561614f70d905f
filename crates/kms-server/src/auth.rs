//! Which credential signs a request: the access keys a server accepts under its credential
//! mode (docs/kms.md, "Identities and credentials"), STS session keys with their tokens, and the error
//! each protocol answers a refused token with (docs/iam.md, "Temporary credentials").

use ebsim_kms_api::{BUILTIN_ACCESS_KEY, CredentialMode};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::backend::{Backend, ServerCredential as Credential};
use crate::sigv4;

/// The header carrying a session token.
pub(crate) const TOKEN_HEADER: &str = "x-amz-security-token";

/// The session of the access key that signed a request.
pub(crate) struct SessionSigner {
    /// The temporary access key id.
    pub access_key_id: String,
    token: Zeroizing<String>,
    expired: bool,
    /// Whether GetSessionToken issued it.
    pub from_session_token: bool,
}

/// Why a request's session token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// A session key without its token (or with another), or a token without a session key.
    Invalid,
    /// The session has expired on the simulated clock.
    Expired,
}

/// What the server accepts of access key `akid` under `mode`; a session key's session is
/// left in `session` for [`check_token`].
pub(crate) fn lookup<B: Backend + ?Sized>(
    backend: &B,
    mode: CredentialMode,
    akid: &str,
    session: &mut Option<SessionSigner>,
) -> sigv4::Lookup<Credential> {
    use sigv4::Lookup;
    if let Some(s) = backend.lookup_session(akid) {
        *session = Some(SessionSigner {
            access_key_id: akid.to_owned(),
            token: s.token,
            expired: s.expired,
            from_session_token: s.from_session_token,
        });
        return Lookup::Verify(s.credential);
    }
    let builtin = akid == BUILTIN_ACCESS_KEY;
    match mode {
        CredentialMode::Strict if builtin => Lookup::Unknown,
        // The built-in key's secret is not checked either: clients bring their own habits.
        CredentialMode::AnyAsRoot if builtin => Lookup::Trust(trusted_root(backend, akid)),
        _ => match backend.lookup_access_key(akid) {
            Some(c) => Lookup::Verify(c),
            None if mode == CredentialMode::AnyAsRoot => Lookup::Trust(trusted_root(backend, akid)),
            None => Lookup::Unknown,
        },
    }
}

/// The root an unknown access key acts as under `any-as-root`: the account an id of exactly
/// 12 digits names, else the default account.
pub(crate) fn trusted_root<B: Backend + ?Sized>(backend: &B, akid: &str) -> Credential {
    let account = if akid.len() == 12 && akid.bytes().all(|b| b.is_ascii_digit()) {
        akid.to_owned()
    } else {
        backend.default_account()
    };
    Credential {
        principal: format!("arn:aws:iam::{account}:root"),
        secret: zeroize::Zeroizing::new(String::new()),
        is_service: false,
    }
}

/// Checks the session token of a verified request: a session key needs its own token and an
/// unexpired session; a key ebsim issued that is not a session key takes no token (under
/// `any-as-root`, where clients bring their own habits, a stray token is ignored).
pub(crate) fn check_token(
    headers: &http::HeaderMap,
    session: Option<&SessionSigner>,
    mode: CredentialMode,
) -> Result<(), TokenError> {
    let token = headers.get(TOKEN_HEADER).map(http::HeaderValue::as_bytes);
    match (session, token) {
        (None, None) => Ok(()),
        (None, Some(_)) if mode == CredentialMode::AnyAsRoot => Ok(()),
        (None, Some(_)) | (Some(_), None) => Err(TokenError::Invalid),
        (Some(s), Some(t)) => {
            if !bool::from(t.ct_eq(s.token.as_bytes())) {
                Err(TokenError::Invalid)
            } else if s.expired {
                Err(TokenError::Expired)
            } else {
                Ok(())
            }
        }
    }
}
