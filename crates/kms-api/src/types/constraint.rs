//! The constraints of request members, declared next to each request type, and the AWS
//! validation messages generated from them (docs/kms.md, "Operations", Validation).
//!
//! A message reads `1 validation error detected: Value <v> at '<member>' failed to satisfy
//! constraint: Member must <rule>`. `<member>` is the wire name in camelCase; `<v>` is the
//! value in quotes, `null`, or nothing at all for members AWS does not echo (blobs, lists,
//! secrets, long text).

use crate::{ErrorType, KmsError};

/// One rule a member must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// Present and not null (botocore `required`).
    Required,
    /// Present and not null unless the named member is given instead (one of a pair, e.g.
    /// `GranteePrincipal` or `GranteeServicePrincipal`, docs/kms.md "Authorization"); the
    /// operation checks it, and a missing member reads `not be null (or give <other>)`.
    RequiredUnless(&'static str),
    /// Length (characters, bytes of a blob, items of a list) within `min..=max`; the message
    /// names the bound that failed (`greater than or equal to` / `less than or equal to`).
    Length {
        /// Lower bound.
        min: u64,
        /// Upper bound, if any.
        max: Option<u64>,
    },
    /// Length within `min..=max`; the message names both (`between MIN and MAX`).
    LengthBetween {
        /// Lower bound.
        min: u64,
        /// Upper bound.
        max: u64,
    },
    /// An integer within `min..=max`; the message names the bound that failed.
    Range {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
    },
    /// An integer within `min..=max` that the service enforces (narrower than the model's);
    /// the message names both (`value between MIN and MAX`).
    ServiceRange {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
    },
    /// One of these values.
    Enum(&'static [&'static str]),
    /// Every item of a list is one of these values.
    ItemEnum(&'static [&'static str]),
    /// Matches this regular expression (as AWS prints it; the check is [`Rule::check_pattern`]).
    Pattern(&'static str),
    /// A rule the service enforces beyond the model, checked by the operation; the text
    /// completes `Member must …` (e.g. `be default`).
    Service(&'static str),
}

/// Whether a failed member's value is echoed in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// `Value 'v' at …` (and `Value null at …` when missing).
    Value,
    /// `Value at …` (but `Value null at …` when missing): lists, secrets, long text.
    Hidden,
    /// `Value at …` even when missing: binary members.
    Blob,
}

/// A request member and its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberSpec {
    /// The wire name (`KeyId`).
    pub name: &'static str,
    /// Whether a failure echoes the value.
    pub echo: Echo,
    /// The rules, checked in order.
    pub rules: &'static [Rule],
}

/// The JSON shape of a member, for constraint checks.
pub(crate) enum Value<'a> {
    Str(&'a str),
    Int(i64),
    Len(usize),
    List(&'a [String]),
}

/// `1 validation error detected: …`.
pub fn message(member: &str, shown: Option<&str>, must: &str) -> String {
    let at = match shown {
        Some(v) => format!("Value {v} at"),
        None => "Value at".to_owned(),
    };
    format!(
        "1 validation error detected: {at} '{}' failed to satisfy constraint: Member must {must}",
        camel(member)
    )
}

/// A ValidationException with the generated message.
pub fn invalid(member: &str, shown: Option<&str>, must: &str) -> KmsError {
    KmsError::new(ErrorType::ValidationException, message(member, shown, must))
}

/// `KeyId` → `keyId`.
pub fn camel(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn bound(min: impl std::fmt::Display, max: impl std::fmt::Display, low: bool) -> String {
    if low {
        format!("greater than or equal to {min}")
    } else {
        format!("less than or equal to {max}")
    }
}

impl MemberSpec {
    fn shown(&self, v: &str) -> Option<String> {
        (self.echo == Echo::Value).then(|| format!("'{v}'"))
    }

    /// The error for a missing member, when it is required.
    ///
    /// # Errors
    /// `Member must not be null`.
    pub fn check_present<T>(&self, v: Option<T>) -> Result<T, KmsError> {
        v.ok_or_else(|| self.missing())
    }

    /// `Member must not be null`, naming the alternative member of a
    /// [`Rule::RequiredUnless`].
    fn missing(&self) -> KmsError {
        let shown = (self.echo != Echo::Blob).then_some("null");
        let other = self.rules.iter().find_map(|r| match r {
            Rule::RequiredUnless(other) => Some(*other),
            _ => None,
        });
        match other {
            Some(other) => invalid(self.name, shown, &format!("not be null (or give {other})")),
            None => invalid(self.name, shown, "not be null"),
        }
    }

    pub(crate) fn check(&self, v: &Value<'_>) -> Result<(), KmsError> {
        for rule in self.rules {
            self.check_rule(*rule, v)?;
        }
        Ok(())
    }

    /// Checks one string value against every rule.
    ///
    /// # Errors
    /// The ValidationException of the first rule it breaks.
    pub fn check_str(&self, v: &str) -> Result<(), KmsError> {
        self.check(&Value::Str(v))
    }

    /// Checks one integer value against every rule.
    ///
    /// # Errors
    /// The ValidationException of the first rule it breaks.
    pub fn check_int(&self, v: i64) -> Result<(), KmsError> {
        self.check(&Value::Int(v))
    }

    /// Checks a length (bytes of a blob, entries of a map) against every rule.
    ///
    /// # Errors
    /// The ValidationException of the first rule it breaks.
    pub fn check_len(&self, n: usize) -> Result<(), KmsError> {
        self.check(&Value::Len(n))
    }

    /// Checks a list of strings against every rule.
    ///
    /// # Errors
    /// The ValidationException of the first rule it breaks.
    pub fn check_list(&self, v: &[String]) -> Result<(), KmsError> {
        self.check(&Value::List(v))
    }

    fn check_rule(&self, rule: Rule, v: &Value<'_>) -> Result<(), KmsError> {
        let len = match v {
            Value::Str(s) => s.chars().count() as u64,
            Value::Len(n) => *n as u64,
            Value::List(l) => l.len() as u64,
            Value::Int(_) => 0,
        };
        let text = match v {
            Value::Str(s) => (*s).to_owned(),
            Value::Int(i) => i.to_string(),
            Value::List(l) => format!("[{}]", l.join(", ")),
            Value::Len(_) => String::new(),
        };
        let fail = |must: String| Err(invalid(self.name, self.shown(&text).as_deref(), &must));
        match rule {
            Rule::Required | Rule::RequiredUnless(_) => Ok(()),
            Rule::Length { min, max } => {
                if len < min || max.is_some_and(|m| len > m) {
                    let low = len < min;
                    return fail(format!("have length {}", bound(min, max.unwrap_or(0), low)));
                }
                Ok(())
            }
            Rule::LengthBetween { min, max } => {
                if len < min || len > max {
                    return fail(format!("have length between {min} and {max}"));
                }
                Ok(())
            }
            Rule::Range { min, max } => match v {
                Value::Int(i) if *i < min || *i > max => {
                    fail(format!("have value {}", bound(min, max, *i < min)))
                }
                _ => Ok(()),
            },
            Rule::ServiceRange { min, max } => match v {
                Value::Int(i) if *i < min || *i > max => {
                    fail(format!("have value between {min} and {max}"))
                }
                _ => Ok(()),
            },
            Rule::Enum(values) => match v {
                Value::Str(s) if !values.contains(s) => {
                    fail(format!("satisfy enum value set: [{}]", values.join(", ")))
                }
                _ => Ok(()),
            },
            Rule::ItemEnum(values) => match v {
                Value::List(l) => match l.iter().find(|i| !values.contains(&i.as_str())) {
                    Some(bad) => Err(invalid(
                        self.name,
                        self.shown(&format!("[{bad}]")).as_deref(),
                        &format!(
                            "satisfy constraint: [Member must satisfy enum value set: [{}]]",
                            values.join(", ")
                        ),
                    )),
                    None => Ok(()),
                },
                _ => Ok(()),
            },
            Rule::Service(_) => Ok(()),
            Rule::Pattern(p) => match v {
                Value::Str(s) if !Rule::check_pattern(p, s) => {
                    fail(format!("satisfy regular expression pattern: {p}"))
                }
                _ => Ok(()),
            },
        }
    }
}

impl MemberSpec {
    /// The ValidationException for `value` breaking `rule` (for rules an operation checks
    /// itself: [`Rule::Service`], or a pattern together with a service-side test).
    pub fn violation(&self, rule: Rule, value: &str) -> KmsError {
        let must = match rule {
            Rule::Required => "not be null".to_owned(),
            Rule::RequiredUnless(_) => return self.missing(),
            Rule::Pattern(p) => format!("satisfy regular expression pattern: {p}"),
            Rule::Enum(values) => format!("satisfy enum value set: [{}]", values.join(", ")),
            Rule::Service(text) => text.to_owned(),
            Rule::LengthBetween { min, max } => format!("have length between {min} and {max}"),
            Rule::ServiceRange { min, max } => format!("have value between {min} and {max}"),
            Rule::Length { .. } | Rule::Range { .. } | Rule::ItemEnum(_) => {
                return match self.check(&Value::Str(value)) {
                    Err(e) => e,
                    Ok(()) => invalid(self.name, self.shown(value).as_deref(), "be valid"),
                };
            }
        };
        invalid(self.name, self.shown(value).as_deref(), &must)
    }
}

impl Rule {
    /// Whether `s` matches `pattern`, for the patterns request types declare: a character
    /// class repeated (`^[…]+$`), with `\w` and ranges.
    pub fn check_pattern(pattern: &str, s: &str) -> bool {
        let Some(class) = pattern
            .strip_prefix("^[")
            .and_then(|p| p.strip_suffix("]+$"))
        else {
            // Declared patterns are all of that form (a test checks it).
            return false;
        };
        !s.is_empty() && s.chars().all(|c| class_contains(class, c))
    }
}

fn class_contains(class: &str, c: char) -> bool {
    let items: Vec<char> = class.chars().collect();
    let mut i = 0;
    while i < items.len() {
        if items[i] == '\\' && i + 1 < items.len() {
            let hit = match items[i + 1] {
                'w' => c.is_ascii_alphanumeric() || c == '_',
                's' => c.is_whitespace(),
                other => c == other,
            };
            if hit {
                return true;
            }
            i += 2;
        } else if i + 2 < items.len() && items[i + 1] == '-' {
            if (items[i]..=items[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
        } else {
            if items[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_ID: MemberSpec = MemberSpec {
        name: "KeyId",
        echo: Echo::Hidden,
        rules: &[Rule::Required, Rule::LengthBetween { min: 1, max: 2048 }],
    };
    const BLOB: MemberSpec = MemberSpec {
        name: "CiphertextBlob",
        echo: Echo::Blob,
        rules: &[Rule::Required],
    };

    #[test]
    fn messages_follow_the_declaration() {
        assert_eq!(
            KEY_ID.check_str("").unwrap_err().message.unwrap(),
            "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048"
        );
        assert_eq!(
            KEY_ID
                .check_present(None::<&str>)
                .unwrap_err()
                .message
                .unwrap(),
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            BLOB.check_present(None::<&str>)
                .unwrap_err()
                .message
                .unwrap(),
            "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"
        );
        let limit = MemberSpec {
            name: "Limit",
            echo: Echo::Value,
            rules: &[Rule::Range { min: 1, max: 1000 }],
        };
        assert_eq!(
            limit.check_int(0).unwrap_err().message.unwrap(),
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
        assert!(limit.check_int(1000).is_ok());
        assert!(
            limit
                .check_int(1001)
                .unwrap_err()
                .message
                .unwrap()
                .ends_with("less than or equal to 1000")
        );
    }

    #[test]
    fn patterns_are_character_classes() {
        let p = r"^[\w+=,.@:/-]+$";
        assert!(Rule::check_pattern(
            p,
            "arn:aws:iam::111122223333:role/a.b@c"
        ));
        assert!(!Rule::check_pattern(p, "has space"));
        assert!(!Rule::check_pattern(p, ""));
        assert!(Rule::check_pattern("^[a-zA-Z0-9:/_-]+$", "alias/x_y-z"));
        assert!(!Rule::check_pattern("^[a-zA-Z0-9:/_-]+$", "alias/x.y"));
    }
}
