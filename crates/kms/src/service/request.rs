//! Reading request members: the general path's typed accessors, their errors, and paging.

use ebsim_kms_api::types::{MemberSpec, Request};

use super::*;

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

pub(super) fn blob_param<Q: Req + ?Sized>(req: &Q, name: &str) -> R<Option<Zeroizing<Vec<u8>>>> {
    match opt_str(req, name)? {
        None => Ok(None),
        Some(s) => B64
            .decode(s)
            .map(|b| Some(Zeroizing::new(b)))
            .map_err(|_| ser(format!("Value for {name} is not valid base64"))),
    }
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
    window(items, limit, opt_str(req, "Marker")?)
}

/// The `limit` items from `marker` (an index; InvalidMarkerException otherwise), and the
/// marker of the next page.
fn window<T>(items: Vec<T>, limit: i64, marker: Option<&str>) -> R<(Vec<T>, Option<String>)> {
    let start = match marker {
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

fn paged(mut body: Map<String, Value>, next: Option<String>) -> Value {
    body.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        body.insert("NextMarker".into(), Value::String(n));
    }
    Value::Object(body)
}

/// [`page`] for a typed request: `limit` (default `default`) checked against `limit_spec`,
/// then `marker` (read after the limit is checked, as [`page`] reads it: its error, if any,
/// comes second).
pub(super) fn page_typed<T>(
    items: Vec<T>,
    limit: Option<i64>,
    marker: R<Option<&str>>,
    limit_spec: &MemberSpec,
    default: i64,
) -> R<(Vec<T>, Option<String>)> {
    let limit = limit.unwrap_or(default);
    limit_spec.check_int(limit)?;
    window(items, limit, marker?)
}

/// One page of a listing, for a typed response.
pub(super) struct Page<T> {
    /// The page's items.
    pub(super) items: Vec<T>,
    /// Where the next page starts, when there is one.
    pub(super) next_marker: Option<String>,
    /// Whether there is a next page.
    pub(super) truncated: bool,
}

/// [`list_page`] for a typed request and response.
pub(super) fn list_page_typed<T>(
    items: Vec<T>,
    limit: Option<i64>,
    marker: R<Option<&str>>,
    limit_spec: &MemberSpec,
    default: i64,
) -> R<Page<T>> {
    let (items, next_marker) = page_typed(items, limit, marker, limit_spec, default)?;
    Ok(Page {
        items,
        truncated: next_marker.is_some(),
        next_marker,
    })
}

/// A typed request read as the accessors above read the request: a member of the wrong JSON
/// type fails (SerializationException) only where the operation reads it
/// ([`Staged::get`]), so that the checks the operation makes before it still come first.
pub(super) struct Staged<T> {
    req: T,
    /// The members of the wrong type (read as absent), with their errors and their JSON.
    bad: Vec<(&'static str, KmsError, Value)>,
}

impl<T> std::ops::Deref for Staged<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.req
    }
}

impl<T> Staged<T> {
    /// The operation reads member `spec`, whose value is `v`: `v`, or the member's
    /// SerializationException.
    pub(super) fn get<V>(&self, spec: &MemberSpec, v: V) -> R<V> {
        match self.bad.iter().find(|(name, ..)| *name == spec.name) {
            Some((_, e, _)) => Err(e.clone()),
            None => Ok(v),
        }
    }

    /// The JSON of member `spec` when it is of the wrong type.
    pub(super) fn raw(&self, spec: &MemberSpec) -> Option<&Value> {
        self.bad
            .iter()
            .find(|(name, ..)| *name == spec.name)
            .map(|(.., v)| v)
    }
}

/// Reads a typed request whose members of the wrong type fail where the operation reads them.
pub(super) fn parse_staged<T: Request>(req: &Map<String, Value>) -> R<Staged<T>> {
    if let Ok(typed) = T::from_members(req) {
        return Ok(Staged {
            req: typed,
            bad: Vec::new(),
        });
    }
    let mut clean = req.clone();
    let mut bad = Vec::new();
    for spec in T::MEMBERS {
        if let Some(v) = req.get(spec.name) {
            let one: Map<String, Value> =
                std::iter::once((spec.name.to_owned(), v.clone())).collect();
            if let Err(e) = T::from_members(&one) {
                clean.remove(spec.name);
                bad.push((spec.name, e, v.clone()));
            }
        }
    }
    Ok(Staged {
        req: T::from_members(&clean)?,
        bad,
    })
}

pub(super) fn parse<T: ebsim_kms_api::types::FromMembers>(req: &Map<String, Value>) -> R<T> {
    T::from_members(req)
}

pub(super) fn to_json<T: serde::Serialize>(v: T) -> R<Value> {
    serde_json::to_value(v).map_err(|e| internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebsim_kms_api::types::grants::ListGrantsRequest;

    #[test]
    fn staged_members_fail_where_they_are_read() {
        type Q = ListGrantsRequest;
        let req = json!({"KeyId": "k", "GrantId": 5, "Limit": "x", "Marker": "2"});
        let Value::Object(req) = req else {
            unreachable!()
        };
        assert!(parse::<Q>(&req).is_err());
        let staged = parse_staged::<Q>(&req).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            staged.get(&Q::KEY_ID, staged.key_id.as_deref()).ok(),
            Some(Some("k"))
        );
        let msg = |r: R<()>| r.err().and_then(|e| e.message);
        assert_eq!(
            msg(staged.get(&Q::GRANT_ID, ())).as_deref(),
            Some("STRING_VALUE can not be converted to GrantId")
        );
        assert_eq!(staged.grant_id, None);
        assert_eq!(staged.raw(&Q::GRANT_ID), Some(&json!(5)));
        assert_eq!(
            msg(staged.get(&Q::LIMIT, ())).as_deref(),
            Some("Value for Limit is not an integer")
        );
        assert_eq!(
            staged.get(&Q::MARKER, staged.marker.as_deref()).ok(),
            Some(Some("2"))
        );
        assert_eq!(staged.raw(&Q::MARKER), None);
    }

    #[test]
    fn typed_pages_check_the_limit_before_the_marker() {
        let spec = ListGrantsRequest::LIMIT;
        let bad_marker = Err(ser("STRING_VALUE can not be converted to Marker"));
        let e = page_typed(vec![1, 2, 3], Some(0), bad_marker, &spec, 50).err();
        assert_eq!(
            e.map(|e| e.error_type),
            Some(ErrorType::ValidationException)
        );
        let p = list_page_typed(vec![1, 2, 3], Some(2), Ok(Some("1")), &spec, 50)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.items, p.next_marker, p.truncated),
            (vec![2, 3], None, false)
        );
        let p = list_page_typed(vec![1, 2, 3], Some(1), Ok(None), &spec, 50)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.items, p.next_marker, p.truncated),
            (vec![1], Some("1".to_string()), true)
        );
        let e = page_typed(vec![1], None, Ok(Some("x")), &spec, 50).err();
        assert_eq!(
            e.map(|e| e.error_type),
            Some(ErrorType::InvalidMarkerException)
        );
    }
}
