//! The `Condition` block: operators, compiled values, and the request's condition keys.

use super::glob::Pattern;

/// The condition keys of one request: a multi-valued map whose keys are case-insensitive
/// (`kms:ViaService`, `kms:CallerAccount`, `kms:EncryptionContext:<k>`,
/// `kms:EncryptionContextKeys`, `kms:GrantOperations`, …). Values are strings; booleans are
/// `"true"`/`"false"`, numbers and dates their decimal text.
///
/// A key inserted with [`ConditionValues::insert_many`] and no values is present with an empty
/// set, which the policy treats like a missing key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionValues {
    /// (lowercased key, values)
    entries: Vec<(String, Vec<String>)>,
    /// The key's own condition keys (`kms:KeyOrigin`, `kms:MultiRegion`,
    /// `kms:MultiRegionKeyType`), answered from fixed values without building entries: every
    /// call that names a key sets them ([`ConditionValues::set_key_facts`]).
    facts: [Option<&'static [String]>; 3],
}

/// The values the key's own condition keys can take.
const FACT_VALUES: [&str; 8] = [
    "AWS_KMS",
    "EXTERNAL",
    "AWS_CLOUDHSM",
    "EXTERNAL_KEY_STORE",
    "true",
    "false",
    "PRIMARY",
    "REPLICA",
];

/// `value` as a one-element slice with a static lifetime, if it is one of [`FACT_VALUES`].
fn fact(value: &str) -> Option<&'static [String]> {
    static FACTS: std::sync::LazyLock<Vec<[String; 1]>> =
        std::sync::LazyLock::new(|| FACT_VALUES.iter().map(|v| [(*v).to_owned()]).collect());
    let i = FACT_VALUES.iter().position(|v| *v == value)?;
    FACTS.get(i).map(|one| &one[..])
}

impl ConditionValues {
    /// An empty set of condition keys.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&mut self, key: &str) -> &mut Vec<String> {
        // Every call builds a dozen of these (docs/benchmarks.md, "Symmetric Decrypt"): an
        // ASCII key, the usual case, is compared and lowercased without Unicode tables.
        let found = if key.is_ascii() {
            self.entries
                .iter()
                .position(|(k, _)| k.eq_ignore_ascii_case(key))
        } else {
            let lc = key.to_lowercase();
            self.entries.iter().position(|(k, _)| *k == lc)
        };
        let idx = match found {
            Some(i) => i,
            None => {
                let lc = if key.is_ascii() {
                    key.to_ascii_lowercase()
                } else {
                    key.to_lowercase()
                };
                self.entries.push((lc, Vec::with_capacity(1)));
                self.entries.len() - 1
            }
        };
        &mut self.entries[idx].1
    }

    /// Adds one value to `key` (keeping any values it already has).
    pub fn insert(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.slot(key).push(value.into());
        self
    }

    /// Adds every value to `key`; the key is present afterwards even if `values` is empty.
    pub fn insert_many<I, V>(&mut self, key: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        let slot = self.slot(key);
        slot.extend(values.into_iter().map(Into::into));
        self
    }

    /// [`insert`](Self::insert) for building in one expression.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// [`insert_many`](Self::insert_many) for building in one expression.
    #[must_use]
    pub fn with_many<I, V>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.insert_many(key, values);
        self
    }

    /// The values of `key` (case-insensitive), if present.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        if key.chars().any(char::is_uppercase) {
            self.get_lc(&key.to_lowercase())
        } else {
            self.get_lc(key)
        }
    }

    /// Lookup with an already lowercased key (no allocation).
    pub(crate) fn get_lc(&self, key_lc: &str) -> Option<&[String]> {
        if let Some((_, v)) = self.entries.iter().find(|(k, _)| k == key_lc) {
            return Some(v.as_slice());
        }
        match key_lc {
            "kms:keyorigin" => self.facts[0],
            "kms:multiregion" => self.facts[1],
            "kms:multiregionkeytype" => self.facts[2],
            _ => None,
        }
    }

    /// Sets the key's own condition keys: `kms:KeyOrigin` = `origin`, `kms:MultiRegion` =
    /// whether `multi_region_type` is set, and `kms:MultiRegionKeyType` = it (`PRIMARY` or
    /// `REPLICA`). A value outside the fixed set is inserted as an ordinary entry.
    pub fn set_key_facts(&mut self, origin: &str, multi_region_type: Option<&str>) {
        let mr = if multi_region_type.is_some() {
            "true"
        } else {
            "false"
        };
        for (i, (key, value)) in [
            ("kms:KeyOrigin", Some(origin)),
            ("kms:MultiRegion", Some(mr)),
            ("kms:MultiRegionKeyType", multi_region_type),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(value) = value else { continue };
            match fact(value) {
                Some(f) => self.facts[i] = Some(f),
                None => {
                    self.insert(key, value);
                }
            }
        }
    }

    /// Every (lowercased key, values) pair, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// The comparison an operator makes (negation and qualifiers are separate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    Arn,
    Null,
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

const OPERATORS: &[(&str, OpKind, bool)] = &[
    ("StringEquals", OpKind::StringEquals, false),
    ("StringNotEquals", OpKind::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        OpKind::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        OpKind::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", OpKind::StringLike, false),
    ("StringNotLike", OpKind::StringLike, true),
    ("NumericEquals", OpKind::NumericEquals, false),
    ("NumericNotEquals", OpKind::NumericEquals, true),
    ("NumericLessThan", OpKind::NumericLessThan, false),
    (
        "NumericLessThanEquals",
        OpKind::NumericLessThanEquals,
        false,
    ),
    ("NumericGreaterThan", OpKind::NumericGreaterThan, false),
    (
        "NumericGreaterThanEquals",
        OpKind::NumericGreaterThanEquals,
        false,
    ),
    ("DateEquals", OpKind::DateEquals, false),
    ("DateNotEquals", OpKind::DateEquals, true),
    ("DateLessThan", OpKind::DateLessThan, false),
    ("DateLessThanEquals", OpKind::DateLessThanEquals, false),
    ("DateGreaterThan", OpKind::DateGreaterThan, false),
    (
        "DateGreaterThanEquals",
        OpKind::DateGreaterThanEquals,
        false,
    ),
    ("Bool", OpKind::Bool, false),
    ("ArnEquals", OpKind::Arn, false),
    ("ArnLike", OpKind::Arn, false),
    ("ArnNotEquals", OpKind::Arn, true),
    ("ArnNotLike", OpKind::Arn, true),
    ("Null", OpKind::Null, false),
];

/// A parsed operator name such as `ForAnyValue:StringNotLikeIfExists`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operator {
    pub kind: OpKind,
    pub negated: bool,
    pub if_exists: bool,
    pub set: SetQualifier,
    /// Canonical spelling, for `to_json`.
    pub name: String,
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

impl Operator {
    /// Parses an operator name (case-insensitive); `None` if unknown.
    pub fn parse(name: &str) -> Option<Self> {
        let (set, rest, set_name) = if let Some(r) = strip_prefix_ci(name, "ForAnyValue:") {
            (SetQualifier::ForAnyValue, r, "ForAnyValue:")
        } else if let Some(r) = strip_prefix_ci(name, "ForAllValues:") {
            (SetQualifier::ForAllValues, r, "ForAllValues:")
        } else {
            (SetQualifier::None, name, "")
        };
        let (base, if_exists) = match strip_suffix_ci(rest, "IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let &(canon, kind, negated) = OPERATORS
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(base))?;
        if kind == OpKind::Null && (if_exists || set != SetQualifier::None) {
            return None;
        }
        let name = format!(
            "{set_name}{canon}{}",
            if if_exists { "IfExists" } else { "" }
        );
        Some(Self {
            kind,
            negated,
            if_exists,
            set,
            name,
        })
    }
}

/// The policy's values for one condition key, compiled for the operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Exact(Vec<String>),
    /// Lowercased.
    IgnoreCase(Vec<String>),
    Like(Vec<Pattern>),
    Number(Vec<f64>),
    /// Seconds since the epoch.
    Date(Vec<f64>),
    Bool(Vec<bool>),
    Arn(Vec<ArnPattern>),
    Null(Vec<bool>),
}

/// Why a condition value does not fit its operator.
pub(crate) fn compile_values(kind: OpKind, raw: &[String]) -> Result<Values, String> {
    let bools = |what: &str| -> Result<Vec<bool>, String> {
        raw.iter()
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(format!("{what} needs `true` or `false`, not `{v}`")),
            })
            .collect()
    };
    Ok(match kind {
        OpKind::StringEquals => Values::Exact(raw.to_vec()),
        OpKind::StringEqualsIgnoreCase => {
            Values::IgnoreCase(raw.iter().map(|v| v.to_lowercase()).collect())
        }
        OpKind::StringLike => Values::Like(raw.iter().map(|v| Pattern::new(v, false)).collect()),
        OpKind::NumericEquals
        | OpKind::NumericLessThan
        | OpKind::NumericLessThanEquals
        | OpKind::NumericGreaterThan
        | OpKind::NumericGreaterThanEquals => Values::Number(
            raw.iter()
                .map(|v| parse_number(v).ok_or_else(|| format!("`{v}` is not a number")))
                .collect::<Result<_, _>>()?,
        ),
        OpKind::DateEquals
        | OpKind::DateLessThan
        | OpKind::DateLessThanEquals
        | OpKind::DateGreaterThan
        | OpKind::DateGreaterThanEquals => Values::Date(
            raw.iter()
                .map(|v| {
                    parse_date(v).ok_or_else(|| {
                        format!(
                            "`{v}` is not a date (use epoch seconds or ISO 8601 such as \
                             2026-01-31T12:00:00Z)"
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        OpKind::Bool => Values::Bool(bools("Bool")?),
        OpKind::Null => Values::Null(bools("Null")?),
        OpKind::Arn => Values::Arn(raw.iter().map(|v| ArnPattern::new(v)).collect()),
    })
}

/// An ARN pattern, matched component by component (`arn:partition:service:region:account:
/// resource`); each component may hold wildcards. A pattern that is not six components long
/// is matched against the whole value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    Components(Box<[Pattern; 6]>),
    Whole(Pattern),
}

impl ArnPattern {
    fn new(p: &str) -> Self {
        match ebsim_kms_api::id::split_arn(p) {
            Some(parts) => Self::Components(Box::new(parts.map(|c| Pattern::new(c, false)))),
            None => Self::Whole(Pattern::new(p, false)),
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Self::Whole(p) => p.matches(value),
            Self::Components(ps) => ebsim_kms_api::id::split_arn(value)
                .is_some_and(|parts| ps.iter().zip(parts).all(|(p, v)| p.matches(v))),
        }
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Epoch seconds, or ISO 8601: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z`, `±HH:MM`,
/// `±HHMM` or nothing (UTC).
pub(crate) fn parse_date(s: &str) -> Option<f64> {
    let s = s.trim();
    if !s.get(1..).unwrap_or_default().contains('-')
        && let Some(n) = parse_number(s)
    {
        return Some(n);
    }
    // With an offset: an instant. Without one: a civil date (and time) in UTC.
    let t = match s.parse::<jiff::Timestamp>() {
        Ok(t) => t,
        Err(_) => {
            let dt = s.parse::<jiff::civil::DateTime>().ok()?;
            jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()?
        }
    };
    Some(t.as_second() as f64 + f64::from(t.subsec_nanosecond()) / 1e9)
}

/// The prefix of the condition keys of one encryption-context pair, lowercased.
const CONTEXT_KEY: &str = "kms:encryptioncontext:";

/// One `Operator: { Key: values }` pair.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub op: Operator,
    /// As written (for `to_json`).
    pub key: String,
    pub key_lc: String,
    /// As written, stringified (for `to_json`).
    pub raw: Vec<String>,
    pub values: Values,
}

impl Condition {
    /// Whether one request value matches any of the policy's values.
    fn matches_one(&self, v: &str) -> bool {
        match &self.values {
            Values::Exact(ps) => ps.iter().any(|p| p == v),
            Values::IgnoreCase(ps) => {
                if v.is_ascii() {
                    ps.iter().any(|p| v.eq_ignore_ascii_case(p))
                } else {
                    let lc = v.to_lowercase();
                    ps.contains(&lc)
                }
            }
            Values::Like(ps) => ps.iter().any(|p| p.matches(v)),
            Values::Number(ps) => {
                parse_number(v).is_some_and(|x| ps.iter().any(|&p| cmp(self.op.kind, x, p)))
            }
            Values::Date(ps) => {
                parse_date(v).is_some_and(|x| ps.iter().any(|&p| cmp(self.op.kind, x, p)))
            }
            Values::Bool(ps) => {
                let x = if v.eq_ignore_ascii_case("true") {
                    true
                } else if v.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return false;
                };
                ps.contains(&x)
            }
            Values::Arn(ps) => ps.iter().any(|p| p.matches(v)),
            Values::Null(_) => false,
        }
    }

    /// Evaluates against the request's condition keys, as in an Allow statement
    /// ([`Condition::evaluate_in`]).
    #[cfg(test)]
    pub fn evaluate(&self, ctx: &ConditionValues) -> bool {
        self.evaluate_in(ctx, false)
    }

    /// Evaluates against the request's condition keys, in an Allow (`deny` false) or a Deny
    /// statement.
    ///
    /// Semantics (IAM): values of one key are ORed. A missing key (or an empty set) makes the
    /// condition false, except: `…IfExists` → true; `Null` tests presence; `ForAllValues:` →
    /// true; and a negated operator without a set qualifier (`StringNotEquals`,
    /// `ArnNotLike`, …) → true, as the IAM documentation specifies ("if the policy condition
    /// requires that the key is not matched … and the right key is not present, the
    /// condition is true"). One exception: a `kms:EncryptionContext:KEY` key has one value
    /// per context pair whose key matches KEY case-insensitively, and without a set
    /// qualifier an Allow's condition must hold for **every** such value, a Deny's for
    /// **any** (docs/kms.md, "Encryption context").
    pub fn evaluate_in(&self, ctx: &ConditionValues, deny: bool) -> bool {
        let present = ctx.get_lc(&self.key_lc).filter(|v| !v.is_empty());
        if let Values::Null(want) = &self.values {
            return want.iter().any(|&is_null| is_null != present.is_some());
        }
        let Some(vals) = present else {
            return self.op.if_exists
                || match self.op.set {
                    SetQualifier::ForAllValues => true,
                    SetQualifier::ForAnyValue => false,
                    SetQualifier::None => self.op.negated,
                };
        };
        let single = |v: &String| self.matches_one(v) != self.op.negated;
        match self.op.set {
            SetQualifier::None if vals.len() > 1 && self.key_lc.starts_with(CONTEXT_KEY) => {
                if deny {
                    vals.iter().any(single)
                } else {
                    vals.iter().all(single)
                }
            }
            SetQualifier::None => vals.iter().any(|v| self.matches_one(v)) != self.op.negated,
            SetQualifier::ForAnyValue => vals.iter().any(single),
            SetQualifier::ForAllValues => vals.iter().all(single),
        }
    }
}

fn cmp(kind: OpKind, x: f64, p: f64) -> bool {
    match kind {
        OpKind::NumericEquals | OpKind::DateEquals => x == p,
        OpKind::NumericLessThan | OpKind::DateLessThan => x < p,
        OpKind::NumericLessThanEquals | OpKind::DateLessThanEquals => x <= p,
        OpKind::NumericGreaterThan | OpKind::DateGreaterThan => x > p,
        OpKind::NumericGreaterThanEquals | OpKind::DateGreaterThanEquals => x >= p,
        _ => false,
    }
}

#[cfg(test)]
#[path = "condition_tests.rs"]
mod tests;
