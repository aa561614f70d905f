//! The EC2 errors ebsim answers, as they go on the wire (code, status, message; docs/ec2.md,
//! "Errors"), built on the Query protocol's one error type.

use ebsim_iam::QueryError;

/// `InvalidParameterValue` (400).
pub fn invalid_value(message: impl Into<String>) -> QueryError {
    QueryError::new("InvalidParameterValue", 400, message)
}

/// `InvalidParameterCombination` (400).
pub fn invalid_combination(message: impl Into<String>) -> QueryError {
    QueryError::new("InvalidParameterCombination", 400, message)
}

/// `InvalidParameterDependency` (400).
pub fn invalid_dependency(message: impl Into<String>) -> QueryError {
    QueryError::new("InvalidParameterDependency", 400, message)
}

/// `MissingParameter` (400).
pub fn missing(message: impl Into<String>) -> QueryError {
    QueryError::new("MissingParameter", 400, message)
}

/// A malformed id (400) with its kind's code.
pub fn malformed(code: &'static str, message: impl Into<String>) -> QueryError {
    QueryError::new(code, 400, message)
}

/// `InvalidVolume.NotFound` (400).
pub fn volume_not_found(id: &str) -> QueryError {
    QueryError::new(
        "InvalidVolume.NotFound",
        400,
        format!("The volume '{id}' does not exist."),
    )
}

/// `InvalidInstanceID.NotFound` (400).
pub fn instance_not_found(id: &str) -> QueryError {
    QueryError::new(
        "InvalidInstanceID.NotFound",
        400,
        format!("The instance ID '{id}' does not exist"),
    )
}

/// `IncorrectState` (400).
pub fn incorrect_state(message: impl Into<String>) -> QueryError {
    QueryError::new("IncorrectState", 400, message)
}

/// `IncorrectInstanceState` (400).
pub fn incorrect_instance_state(message: impl Into<String>) -> QueryError {
    QueryError::new("IncorrectInstanceState", 400, message)
}

/// `VolumeInUse` (400).
pub fn volume_in_use(message: impl Into<String>) -> QueryError {
    QueryError::new("VolumeInUse", 400, message)
}

/// `UnauthorizedOperation` (403).
pub fn unauthorized(message: impl Into<String>) -> QueryError {
    QueryError::new("UnauthorizedOperation", 403, message)
}

/// `DryRunOperation` (412): the request was authorized and would have succeeded.
pub fn dry_run() -> QueryError {
    QueryError::new(
        "DryRunOperation",
        412,
        "Request would have succeeded, but DryRun flag is set.",
    )
}

/// `InternalError` (500).
pub fn internal(message: impl Into<String>) -> QueryError {
    QueryError::new("InternalError", 500, message)
}
