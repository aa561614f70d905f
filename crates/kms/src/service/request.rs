//! Reading request members: the general path's typed accessors, their errors, and paging.

use super::*;

/// Read access to a request's members, with the general path's type errors.
pub(super) trait Req {
    /// A string member (`None` when absent or null).
    fn opt_str(&self, name: &str) -> R<Option<&str>>;
    /// An integer member.
    fn opt_int(&self, name: &str) -> R<Option<i64>>;
    /// A boolean member (`false` when absent or null).
    fn opt_bool(&self, name: &str) -> R<bool>;
    /// A map-of-strings member (empty when absent or null).
    fn context(&self, name: &str) -> R<BTreeMap<String, String>>;
    /// A list-of-strings member.
    fn string_list(&self, name: &str) -> R<Option<Vec<String>>>;
}

impl Req for Map<String, Value> {
    fn opt_str(&self, name: &str) -> R<Option<&str>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ser(format!("STRING_VALUE can not be converted to {name}"))),
        }
    }

    fn opt_int(&self, name: &str) -> R<Option<i64>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ser(format!("Value for {name} is not an integer"))),
        }
    }

    fn opt_bool(&self, name: &str) -> R<bool> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ser(format!("Value for {name} is not a boolean"))),
        }
    }

    fn context(&self, name: &str) -> R<BTreeMap<String, String>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(ser(format!("{name} values must be strings"))),
                })
                .collect(),
            Some(_) => Err(ser(format!("{name} must be a map of strings"))),
        }
    }

    fn string_list(&self, name: &str) -> R<Option<Vec<String>>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| ser(format!("{name} must be a list of strings")))
                })
                .collect::<R<Vec<_>>>()
                .map(Some),
            Some(_) => Err(ser(format!("{name} must be a list"))),
        }
    }
}

pub(super) fn ser(msg: impl Into<String>) -> KmsError {
    err(ErrorType::SerializationException, msg)
}

pub(super) fn camel(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

pub(super) fn opt_str<'a, Q: Req + ?Sized>(req: &'a Q, name: &str) -> R<Option<&'a str>> {
    req.opt_str(name)
}

pub(super) fn req_str<'a, Q: Req + ?Sized>(req: &'a Q, name: &str) -> R<&'a str> {
    opt_str(req, name)?.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            camel(name)
        ))
    })
}

pub(super) fn opt_int<Q: Req + ?Sized>(req: &Q, name: &str) -> R<Option<i64>> {
    req.opt_int(name)
}

pub(super) fn opt_bool<Q: Req + ?Sized>(req: &Q, name: &str) -> R<bool> {
    req.opt_bool(name)
}

pub(super) fn range(name: &str, v: i64, lo: i64, hi: i64) -> R<()> {
    if v < lo {
        return Err(validation(format!(
            "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must have value greater than or equal to {lo}",
            camel(name)
        )));
    }
    if v > hi {
        return Err(validation(format!(
            "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must have value less than or equal to {hi}",
            camel(name)
        )));
    }
    Ok(())
}

pub(super) fn context_param<Q: Req + ?Sized>(req: &Q, name: &str) -> R<BTreeMap<String, String>> {
    req.context(name)
}

pub(super) fn string_list<Q: Req + ?Sized>(req: &Q, name: &str) -> R<Option<Vec<String>>> {
    req.string_list(name)
}

pub(super) fn page<T>(
    items: Vec<T>,
    req: &Map<String, Value>,
    max: i64,
    default: i64,
) -> R<(Vec<T>, Option<String>)> {
    let limit = opt_int(req, "Limit")?.unwrap_or(default);
    range("Limit", limit, 1, max)?;
    let start = match opt_str(req, "Marker")? {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| err(ErrorType::InvalidMarkerException, "Invalid marker."))?,
    };
    let total = items.len();
    let end = (start + limit as usize).min(total);
    let out: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    Ok((out, (end < total).then(|| end.to_string())))
}

/// One page of a listing (`Limit` from `default` up to `max`, `Marker`) as the response
/// `{member: [...], "Truncated": …, "NextMarker": …}`.
pub(super) fn list_page(
    items: Vec<Value>,
    req: &Map<String, Value>,
    max: i64,
    default: i64,
    member: &str,
) -> R<Value> {
    let (items, next) = page(items, req, max, default)?;
    let mut body = Map::new();
    body.insert(member.into(), Value::Array(items));
    Ok(paged(body, next))
}

/// One page of a listing for a typed request: `limit` (`default` when absent) checked
/// against the request's `Limit` spec, `marker` against its `Marker` spec; the page's items
/// and the next marker, if more follow.
pub(super) fn page_typed<T>(
    items: Vec<T>,
    (limit, limit_spec): (Option<i64>, &ebsim_kms_api::types::MemberSpec),
    (marker, marker_spec): (Option<&str>, &ebsim_kms_api::types::MemberSpec),
    default: i64,
) -> R<(Vec<T>, Option<String>)> {
    let limit = limit.unwrap_or(default);
    limit_spec.check_int(limit)?;
    let start = match marker {
        None => 0,
        Some(m) => {
            marker_spec.check_str(m)?;
            m.parse::<usize>()
                .map_err(|_| err(ErrorType::InvalidMarkerException, "Invalid marker."))?
        }
    };
    let total = items.len();
    let end = (start + limit as usize).min(total);
    let out: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    Ok((out, (end < total).then(|| end.to_string())))
}

fn paged(mut body: Map<String, Value>, next: Option<String>) -> Value {
    body.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        body.insert("NextMarker".into(), Value::String(n));
    }
    Value::Object(body)
}

/// A typed request read from its JSON members.
pub(super) fn parse<T: ebsim_kms_api::types::FromMembers>(req: &Map<String, Value>) -> R<T> {
    T::from_members(req)
}

/// A typed response as a JSON value.
pub(super) fn to_json<T: serde::Serialize>(v: T) -> R<Value> {
    serde_json::to_value(v).map_err(|e| internal(e.to_string()))
}
