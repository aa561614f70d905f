//! The Query request decoder: a form-encoded body (`+` for spaces, `%XX` escapes) into its
//! parameters, bounded, strict UTF-8, every value XML-safe (docs/iam.md, "Requests").

use std::collections::BTreeMap;

use crate::error::QueryError;
use crate::names::{echo, member_name};

/// The largest Query body accepted.
pub const MAX_QUERY_BYTES: usize = 256 * 1024;
/// The most parameters one request may carry.
pub const MAX_PARAMS: usize = 1000;
/// The longest parameter name.
const MAX_NAME_BYTES: usize = 256;
/// `MaxItems` when a request names none.
pub const DEFAULT_MAX_ITEMS: usize = 100;
/// The most members a list parameter may have.
const MAX_LIST: usize = 100;

/// A decoded Query request: its `Action`, `Version` and other parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    action: String,
    params: BTreeMap<String, String>,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One form-encoded component decoded: `+` is a space, `%XX` a byte; the bytes must be UTF-8.
fn decode(raw: &[u8]) -> Result<String, QueryError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = raw
                    .get(i + 1)
                    .and_then(|&h| hex(h))
                    .zip(raw.get(i + 2).and_then(|&l| hex(l)))
                    .map(|(h, l)| h << 4 | l)
                    .ok_or_else(|| {
                        QueryError::malformed_query(
                            "The request body has a `%` not followed by two hex digits.",
                        )
                    })?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| QueryError::malformed_query("The request body does not decode to UTF-8."))
}

/// Whether `c` may appear in an XML 1.0 document (and so in a value echoed in a response).
fn xml_safe(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

impl QueryRequest {
    /// Decodes a form-encoded body.
    ///
    /// # Errors
    /// `MalformedQueryString` for a body over [`MAX_QUERY_BYTES`], more than [`MAX_PARAMS`]
    /// parameters, a bad escape, bytes that are not UTF-8 or a repeated parameter;
    /// `ValidationError` for a value with characters XML cannot carry; `MissingAction` when
    /// there is no `Action`.
    pub fn parse(body: &[u8]) -> Result<Self, QueryError> {
        if body.len() > MAX_QUERY_BYTES {
            return Err(QueryError::malformed_query(format!(
                "The request body must not exceed {MAX_QUERY_BYTES} bytes."
            )));
        }
        let mut params = BTreeMap::new();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            if params.len() == MAX_PARAMS {
                return Err(QueryError::malformed_query(format!(
                    "A request may carry at most {MAX_PARAMS} parameters."
                )));
            }
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let name = decode(name)?;
            if name.is_empty()
                || name.len() > MAX_NAME_BYTES
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
            {
                return Err(QueryError::malformed_query(format!(
                    "Parameter name '{}' is not valid.",
                    echo(&name)
                )));
            }
            let value = decode(value)?;
            if !value.chars().all(xml_safe) {
                return Err(QueryError::validation(format!(
                    "1 validation error detected: Value at '{}' contains characters that are not allowed.",
                    member_name(&name)
                )));
            }
            if params.insert(name, value).is_some() {
                return Err(QueryError::malformed_query(
                    "A parameter appears more than once in the request.",
                ));
            }
        }
        let action = params
            .remove("Action")
            .filter(|a| !a.is_empty())
            .ok_or_else(|| QueryError::new("MissingAction", 400, "Missing Action"))?;
        Ok(Self { action, params })
    }

    /// The `Action`.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The `Version`, if given.
    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }

    /// A parameter, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A parameter that must be present.
    ///
    /// # Errors
    /// `ValidationError` naming the member when it is absent.
    pub fn required(&self, name: &str) -> Result<&str, QueryError> {
        self.get(name).ok_or_else(|| {
            QueryError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                member_name(name)
            ))
        })
    }

    /// An integer parameter in `min..=max`, if present.
    ///
    /// # Errors
    /// `ValidationError` for a value that is not an integer or is out of range.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, QueryError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let member = member_name(name);
        let n: i64 = raw.parse().map_err(|_| {
            QueryError::validation(format!(
                "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: Member must be an integer",
                echo(raw)
            ))
        })?;
        if n < min {
            return Err(QueryError::validation(format!(
                "1 validation error detected: Value '{n}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
            )));
        }
        if n > max {
            return Err(QueryError::validation(format!(
                "1 validation error detected: Value '{n}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {max}"
            )));
        }
        Ok(Some(n))
    }

    /// A boolean parameter (`true` / `false`), if present.
    ///
    /// # Errors
    /// `ValidationError` for any other value.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, QueryError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(QueryError::validation(format!(
                "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: Member must be true or false",
                echo(v),
                member_name(name)
            ))),
        }
    }

    /// The members of list parameter `name` (`Name.member.1`, `Name.member.2`, …; `Name=`
    /// alone is the empty list). Members must be numbered from 1 without gaps.
    ///
    /// # Errors
    /// `ValidationError` for a gap or more than 100 members.
    pub fn list(&self, name: &str) -> Result<Vec<&str>, QueryError> {
        let prefix = format!("{name}.member.");
        let mut out = Vec::new();
        let count = self
            .params
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .count();
        if count > MAX_LIST {
            return Err(QueryError::validation(format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have at most {MAX_LIST} members",
                member_name(name)
            )));
        }
        for i in 1..=count {
            let v = self.get(&format!("{prefix}{i}")).ok_or_else(|| {
                QueryError::validation(format!(
                    "The members of '{}' must be numbered 1 to {count}.",
                    member_name(name)
                ))
            })?;
            out.push(v);
        }
        Ok(out)
    }

    /// The members of EC2 list parameter `name` (`Name.1`, `Name.2`, …; EC2 sends nothing
    /// for an empty list). Members must be numbered from 1 without gaps.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a gap or more than `max` members.
    pub fn ec2_list(&self, name: &str, max: usize) -> Result<Vec<&str>, QueryError> {
        let prefix = format!("{name}.");
        let count = self
            .params
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('.'))
            .count();
        if count > max {
            return Err(QueryError::new(
                "InvalidParameterValue",
                400,
                format!("The parameter {name} may have at most {max} members."),
            ));
        }
        (1..=count)
            .map(|i| {
                self.get(&format!("{prefix}{i}")).ok_or_else(|| {
                    QueryError::new(
                        "InvalidParameterValue",
                        400,
                        format!("The members of {name} must be numbered 1 to {count}."),
                    )
                })
            })
            .collect()
    }

    /// The numbers `N` of EC2 structure-list parameter `name` (`Name.N.Field…`), ascending;
    /// they must run from 1 without gaps.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a gap, a number that is not one, or more than `max`.
    pub fn ec2_indices(&self, name: &str, max: usize) -> Result<Vec<usize>, QueryError> {
        let prefix = format!("{name}.");
        let mut seen = std::collections::BTreeSet::new();
        for (k, _) in self
            .params
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            let n = k[prefix.len()..].split('.').next().unwrap_or("");
            let bad = || {
                QueryError::new(
                    "InvalidParameterValue",
                    400,
                    format!("The parameter {} is not valid.", echo(k)),
                )
            };
            let n: usize = n.parse().map_err(|_| bad())?;
            if n == 0 || n > max {
                return Err(bad());
            }
            seen.insert(n);
        }
        if seen.iter().copied().ne(1..=seen.len()) {
            return Err(QueryError::new(
                "InvalidParameterValue",
                400,
                format!("The members of {name} must be numbered from 1 without gaps."),
            ));
        }
        Ok(seen.into_iter().collect())
    }

    /// `MaxItems` (1–1000, default [`DEFAULT_MAX_ITEMS`]).
    ///
    /// # Errors
    /// `ValidationError` when out of range.
    pub fn max_items(&self) -> Result<usize, QueryError> {
        Ok(self
            .int("MaxItems", 1, 1000)?
            .map_or(DEFAULT_MAX_ITEMS, |n| n as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_escapes() {
        let q = QueryRequest::parse(
            b"Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%22a%22%3A+%22b%2Fc%25%22%7D&Description=a+b&Tags=",
        )
        .expect("parses");
        assert_eq!(q.action(), "CreateRole");
        assert_eq!(q.version(), Some("2010-05-08"));
        assert_eq!(q.get("AssumeRolePolicyDocument"), Some("{\"a\": \"b/c%\"}"));
        assert_eq!(q.get("Description"), Some("a b"));
        assert_eq!(q.list("Tags").expect("list"), Vec::<&str>::new());
    }

    #[test]
    fn lists_are_numbered_members() {
        let q = QueryRequest::parse(b"Action=X&A.member.2=b&A.member.1=a").expect("parses");
        assert_eq!(q.list("A").expect("list"), ["a", "b"]);
        let gap = QueryRequest::parse(b"Action=X&A.member.1=a&A.member.3=c").expect("parses");
        assert_eq!(gap.list("A").expect_err("gap").code, "ValidationError");
    }

    #[test]
    fn ec2_lists_are_flattened() {
        let q = QueryRequest::parse(
            b"Action=X&VolumeId.2=b&VolumeId.1=a&Filter.1.Name=status&Filter.1.Value.1=x&Filter.2.Name=y",
        )
        .expect("parses");
        assert_eq!(q.ec2_list("VolumeId", 10).expect("list"), ["a", "b"]);
        assert!(q.ec2_list("VolumeId", 1).is_err());
        assert_eq!(q.ec2_indices("Filter", 10).expect("indices"), [1, 2]);
        assert_eq!(q.ec2_list("Filter.1.Value", 10).expect("values"), ["x"]);
        let gap = QueryRequest::parse(b"Action=X&VolumeId.1=a&VolumeId.3=c").expect("parses");
        assert!(gap.ec2_list("VolumeId", 10).is_err());
        let bad = QueryRequest::parse(b"Action=X&Filter.x.Name=a").expect("parses");
        assert!(bad.ec2_indices("Filter", 10).is_err());
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for (body, code) in [
            (&b"Action=X&UserName=%zz"[..], "MalformedQueryString"),
            (b"Action=X&UserName=%e9", "MalformedQueryString"),
            (b"Action=X&Action=Y", "MalformedQueryString"),
            (b"Action=X&Bad%20Name=1", "MalformedQueryString"),
            (b"Action=X&UserName=a%01b", "ValidationError"),
            (b"Version=2010-05-08", "MissingAction"),
            (b"", "MissingAction"),
        ] {
            assert_eq!(
                QueryRequest::parse(body).expect_err("refused").code,
                code,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let many: Vec<u8> = (0..=MAX_PARAMS)
            .map(|i| format!("P{i}=1&"))
            .collect::<String>()
            .into_bytes();
        assert_eq!(
            QueryRequest::parse(&many).expect_err("too many").code,
            "MalformedQueryString"
        );
    }

    #[test]
    fn numbers_and_booleans_are_checked() {
        let q = QueryRequest::parse(b"Action=X&DurationSeconds=899&MaxItems=abc&Flag=True")
            .expect("parses");
        let e = q.int("DurationSeconds", 900, 43200).expect_err("range");
        assert!(e.message.contains("'durationSeconds'"), "{}", e.message);
        assert!(q.max_items().is_err());
        assert!(q.bool("Flag").is_err());
        assert_eq!(
            q.required("UserName").expect_err("absent").code,
            "ValidationError"
        );
    }
}
