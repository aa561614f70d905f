//! IAM's rules for names, paths and lengths, with its `ValidationError` messages
//! (docs/iam.md, "Names").

use crate::error::QueryError;

/// How many characters of a refused value an error message echoes.
const ECHO_CHARS: usize = 128;

/// `value`, cut to a length an error message may echo.
pub fn echo(value: &str) -> String {
    match value.char_indices().nth(ECHO_CHARS) {
        Some((i, _)) => format!("{}...", &value[..i]),
        None => value.to_owned(),
    }
}

/// The member name an error names: the wire name with its first letter lowercased
/// (`UserName` → `userName`).
pub fn member_name(wire: &str) -> String {
    let base = wire.split('.').next().unwrap_or(wire);
    let mut c = base.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Checks `value` of parameter `wire` is `min..=max` characters long.
///
/// # Errors
/// `ValidationError` in AWS's form.
pub fn check_len(wire: &str, value: &str, min: usize, max: usize) -> Result<(), QueryError> {
    let n = value.chars().count();
    let member = member_name(wire);
    if n < min {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: Member must have length greater than or equal to {min}",
            echo(value)
        )));
    }
    if n > max {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}",
            echo(value)
        )));
    }
    Ok(())
}

/// Checks an IAM name (user, role, policy, session): `min..=max` characters of
/// `[\w+=,.@-]`.
///
/// # Errors
/// `ValidationError` in AWS's form.
pub fn check_name(wire: &str, value: &str, min: usize, max: usize) -> Result<(), QueryError> {
    check_len(wire, value, min, max)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+",
            echo(value),
            member_name(wire)
        )));
    }
    Ok(())
}

/// Checks an IAM path: `/`, or `/…/` of U+0021–U+007E, at most 512 characters.
///
/// # Errors
/// `ValidationError` in AWS's form.
pub fn check_path(wire: &str, value: &str) -> Result<(), QueryError> {
    check_len(wire, value, 1, 512)?;
    let ok = value.starts_with('/')
        && value.ends_with('/')
        && value.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c))
        && !value.contains("//");
    if !ok {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
            echo(value),
            member_name(wire)
        )));
    }
    Ok(())
}

/// Checks a policy document's characters (`[\u0009\u000A\u000D\u0020-\u00FF]`) and that it
/// is 1..=`max` characters.
///
/// # Errors
/// `ValidationError` for characters outside the set or an empty document;
/// `LimitExceeded` for one over `max` (the quota it names).
pub fn check_document(wire: &str, value: &str, max: usize, quota: &str) -> Result<(), QueryError> {
    check_len(wire, value, 1, 131_072)?;
    if !value
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
            member_name(wire)
        )));
    }
    let size = value.chars().filter(|c| !c.is_whitespace()).count();
    if size > max {
        return Err(QueryError::limit_exceeded(format!(
            "Cannot exceed quota for {quota}: {max}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern() {
        assert!(check_name("UserName", "bob.smith+ci@example_1=,-", 1, 64).is_ok());
        let e = check_name("UserName", "bob smith", 1, 64).expect_err("space");
        assert!(e.message.contains("at 'userName'"), "{}", e.message);
        assert!(check_name("UserName", &"a".repeat(65), 1, 64).is_err());
        assert!(check_name("UserName", "", 1, 64).is_err());
        assert!(check_name("RoleName", "r/x", 1, 64).is_err());
        assert!(check_name("UserName", "é", 1, 64).is_err());
    }

    #[test]
    fn paths() {
        assert!(check_path("Path", "/").is_ok());
        assert!(check_path("Path", "/a/b/").is_ok());
        for bad in ["", "a/", "/a", "/a b/", "//"] {
            assert!(check_path("Path", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn documents() {
        assert!(check_document("PolicyDocument", "{ }", 10, "X").is_ok());
        assert_eq!(
            check_document("PolicyDocument", &"a".repeat(11), 10, "PolicySize")
                .expect_err("size")
                .code,
            "LimitExceeded"
        );
        assert_eq!(
            check_document("PolicyDocument", "\u{100}", 10, "X")
                .expect_err("char")
                .code,
            "ValidationError"
        );
    }
}
