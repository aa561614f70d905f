//! The error a policy document is rejected with: where, why, and what to do about it.

use crate::{ErrorType, KmsError};

/// Why a policy document was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// Larger than [`MAX_POLICY_BYTES`](super::MAX_POLICY_BYTES): KMS answers
    /// `LimitExceededException`, not `MalformedPolicyDocumentException`.
    TooLarge,
    /// A character outside tab, LF, CR and U+0020..U+00FF.
    InvalidCharacter,
    /// Not JSON (a missing comma, a comment, a trailing comma, …).
    Syntax,
    /// JSON, but not a policy: an unknown or missing element, a wrong type, a bad value.
    Grammar,
    /// A principal that is not `*`, an account, an IAM/STS ARN or a service principal.
    InvalidPrincipal,
}

/// A rejected policy document: the position (1-based line and column, in characters), the
/// reason, and a hint for the common mistakes.
///
/// [`PolicyError::error_type`] gives the KMS error the service answers with; `Display` gives
/// one sentence with the position and the hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{message} (line {line}, column {column}){}",
    hint.as_deref().map(|h| format!(" Hint: {h}")).unwrap_or_default()
)]
#[non_exhaustive]
pub struct PolicyError {
    /// The category (decides the KMS error type).
    pub kind: PolicyErrorKind,
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column (in characters) of the offending text.
    pub column: usize,
    /// What is wrong. For [`PolicyErrorKind::InvalidPrincipal`] this is exactly the service's
    /// `Policy contains a statement with one or more invalid principals.`
    pub message: String,
    /// How to fix it, when the mistake is a known one.
    pub hint: Option<String>,
}

/// The message KMS sends for any principal it does not accept.
pub const INVALID_PRINCIPALS_MESSAGE: &str =
    "Policy contains a statement with one or more invalid principals.";

impl PolicyError {
    pub(crate) fn at(
        text: &str,
        offset: usize,
        kind: PolicyErrorKind,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        let (line, column) = line_column(text, offset);
        Self {
            kind,
            line,
            column,
            message: message.into(),
            hint,
        }
    }

    /// The KMS error type this rejection is answered with: `LimitExceededException` for an
    /// oversized document, `MalformedPolicyDocumentException` for everything else.
    pub fn error_type(&self) -> ErrorType {
        match self.kind {
            PolicyErrorKind::TooLarge => ErrorType::LimitExceededException,
            _ => ErrorType::MalformedPolicyDocumentException,
        }
    }
}

impl From<&PolicyError> for KmsError {
    fn from(e: &PolicyError) -> Self {
        KmsError::new(e.error_type(), e.to_string())
    }
}

impl From<PolicyError> for KmsError {
    fn from(e: PolicyError) -> Self {
        KmsError::from(&e)
    }
}

/// 1-based line and character column of a byte offset (clamped to the text).
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Byte offset of a 1-based line and 1-based byte column (serde_json's convention).
pub(crate) fn offset_of(text: &str, line: usize, byte_column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    (start + byte_column.saturating_sub(1)).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_not_bytes() {
        let t = "ab\n\u{e9}x";
        assert_eq!(line_column(t, 0), (1, 1));
        assert_eq!(line_column(t, 3), (2, 1));
        assert_eq!(line_column(t, 5), (2, 2));
        assert_eq!(line_column(t, 4), (2, 1), "inside a character rounds down");
        assert_eq!(line_column(t, 99), (2, 3), "clamped to the end");
    }

    #[test]
    fn offset_of_inverts_serde_positions() {
        let t = "{\n  \"a\": x\n}";
        assert_eq!(offset_of(t, 2, 8), t.find('x').unwrap_or(0));
        assert_eq!(offset_of(t, 9, 1), t.len());
    }

    #[test]
    fn too_large_maps_to_limit_exceeded() {
        let e = PolicyError::at("x", 0, PolicyErrorKind::TooLarge, "too big", None);
        assert_eq!(e.error_type(), ErrorType::LimitExceededException);
        let e = PolicyError::at(
            "x",
            0,
            PolicyErrorKind::Syntax,
            "bad",
            Some("fix it".into()),
        );
        assert_eq!(e.error_type(), ErrorType::MalformedPolicyDocumentException);
        assert_eq!(e.to_string(), "bad (line 1, column 1) Hint: fix it");
        let k = KmsError::from(&e);
        assert_eq!(k.error_type, ErrorType::MalformedPolicyDocumentException);
        assert_eq!(
            k.message.as_deref(),
            Some("bad (line 1, column 1) Hint: fix it")
        );
    }
}
