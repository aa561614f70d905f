//! The errors of the Query services, as they go on the wire (code, HTTP status, message;
//! docs/iam.md, "Responses").

/// An IAM or STS error: its `<Code>`, HTTP status and `<Message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct QueryError {
    /// The `<Code>` (`NoSuchEntity`, `ValidationError`, …).
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The `<Message>`.
    pub message: String,
}

impl QueryError {
    /// An error of any code.
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
        }
    }

    /// `Sender` for client errors, `Receiver` for the service's own.
    pub fn fault(&self) -> &'static str {
        if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// `ValidationError` (400): a length, pattern or range violation.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationError", 400, message)
    }

    /// `NoSuchEntity` (404).
    pub fn no_such_entity(message: impl Into<String>) -> Self {
        Self::new("NoSuchEntity", 404, message)
    }

    /// `EntityAlreadyExists` (409).
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new("EntityAlreadyExists", 409, message)
    }

    /// `DeleteConflict` (409).
    pub fn delete_conflict(message: impl Into<String>) -> Self {
        Self::new("DeleteConflict", 409, message)
    }

    /// `LimitExceeded` (409).
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("LimitExceeded", 409, message)
    }

    /// `MalformedPolicyDocument` (400).
    pub fn malformed_policy(message: impl Into<String>) -> Self {
        Self::new("MalformedPolicyDocument", 400, message)
    }

    /// `InvalidInput` (400).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new("InvalidInput", 400, message)
    }

    /// `AccessDenied` (403).
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDenied", 403, message)
    }

    /// `InvalidAction` (400): an action the service does not have.
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            "InvalidAction",
            400,
            format!(
                "The action {} is not valid for this web service.",
                crate::names::echo(action)
            ),
        )
    }

    /// `InvalidClientTokenId` (403): an unknown, deleted or inactive access key, or a
    /// session key without its token (or a token without a session key).
    pub fn invalid_client_token_id() -> Self {
        Self::new(
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        )
    }

    /// `ExpiredToken` (403): session credentials past their expiration.
    pub fn expired_token() -> Self {
        Self::new(
            "ExpiredToken",
            403,
            "The security token included in the request is expired",
        )
    }

    /// `MalformedQueryString` (400): a body that is not a well-formed form encoding.
    pub fn malformed_query(message: impl Into<String>) -> Self {
        Self::new("MalformedQueryString", 400, message)
    }

    /// `ServiceFailure` (500).
    pub fn service_failure(message: impl Into<String>) -> Self {
        Self::new("ServiceFailure", 500, message)
    }
}
