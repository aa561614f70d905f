//! The one place where errors become wire responses (`__type`, message, HTTP status).

use bytes::Bytes;
use ebsim_kms::{ErrorType, KmsError};

use crate::sigv4::AuthError;

/// The JSON 1.1 content type of every KMS request and response.
pub use ebsim_kms_api::CONTENT_TYPE;

/// An error as it goes on the wire: status, `__type`, and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// HTTP status.
    pub status: u16,
    /// The `__type`.
    pub type_name: &'static str,
    /// The message, if any.
    pub message: Option<String>,
}

impl WireError {
    /// An error of a KMS error type with a message.
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self::from(&KmsError::new(error_type, message))
    }

    /// An error that is not one of the KMS error types (e.g. `RequestEntityTooLarge`).
    pub fn other(status: u16, type_name: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            type_name,
            message: Some(message.into()),
        }
    }

    /// The JSON body: `{"__type": …, "message": …}`, with `Message` for
    /// `AccessDeniedException` and no message at all when there is none.
    pub fn body(&self) -> Bytes {
        let mut obj = serde_json::Map::new();
        obj.insert("__type".to_owned(), self.type_name.into());
        if let Some(m) = &self.message {
            let key = if self.type_name == ErrorType::AccessDeniedException.name() {
                "Message"
            } else {
                "message"
            };
            obj.insert(key.to_owned(), m.as_str().into());
        }
        Bytes::from(serde_json::Value::Object(obj).to_string())
    }
}

impl From<&KmsError> for WireError {
    fn from(e: &KmsError) -> Self {
        let message = if e.error_type == ErrorType::InvalidCiphertextException {
            None
        } else {
            e.message.clone()
        };
        Self {
            status: e.error_type.http_status(),
            type_name: e.error_type.name(),
            message,
        }
    }
}

impl From<crate::auth::TokenError> for WireError {
    fn from(e: crate::auth::TokenError) -> Self {
        match e {
            crate::auth::TokenError::Invalid => Self::new(
                ErrorType::UnrecognizedClientException,
                "The security token included in the request is invalid.",
            ),
            crate::auth::TokenError::Expired => Self::other(
                400,
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ),
        }
    }
}

impl From<&AuthError> for WireError {
    fn from(e: &AuthError) -> Self {
        let t = match e {
            AuthError::Missing | AuthError::Incomplete(_) => {
                ErrorType::IncompleteSignatureException
            }
            AuthError::UnknownAccessKey => ErrorType::UnrecognizedClientException,
            AuthError::BadSignature
            | AuthError::BadScope(_)
            | AuthError::Expired(_)
            | AuthError::Replay(_) => ErrorType::InvalidSignatureException,
        };
        Self::new(t, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(e: &WireError) -> serde_json::Value {
        serde_json::from_slice(&e.body()).expect("valid JSON")
    }

    #[test]
    fn access_denied_uses_capital_message() {
        let e = WireError::from(&KmsError::new(ErrorType::AccessDeniedException, "User: x"));
        assert_eq!(e.status, 400);
        assert_eq!(
            json(&e),
            serde_json::json!({"__type": "AccessDeniedException", "Message": "User: x"})
        );
    }

    #[test]
    fn invalid_ciphertext_has_no_message() {
        let e = WireError::from(&KmsError::new(
            ErrorType::InvalidCiphertextException,
            "leak",
        ));
        assert_eq!(
            json(&e),
            serde_json::json!({"__type": "InvalidCiphertextException"})
        );
    }

    #[test]
    fn statuses_follow_error_type() {
        for t in ErrorType::ALL {
            let e = WireError::from(&KmsError::new(t, "m"));
            assert_eq!(e.status, t.http_status());
            assert_eq!(json(&e)["__type"], t.name());
        }
        assert_eq!(
            WireError::new(ErrorType::KMSInternalException, "x").status,
            500
        );
        assert_eq!(
            WireError::new(ErrorType::NotFoundException, "x").status,
            400
        );
    }

    #[test]
    fn auth_errors_map_to_aws_types() {
        assert_eq!(
            WireError::from(&AuthError::UnknownAccessKey).type_name,
            "UnrecognizedClientException"
        );
        assert_eq!(
            WireError::from(&AuthError::BadSignature).type_name,
            "InvalidSignatureException"
        );
        assert_eq!(
            WireError::from(&AuthError::Expired("x".into())).type_name,
            "InvalidSignatureException"
        );
        assert_eq!(
            WireError::from(&AuthError::Missing).type_name,
            "IncompleteSignatureException"
        );
    }
}
