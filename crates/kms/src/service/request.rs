//! Reading request members: the general path's typed accessors, their errors, and paging.

use ebsim_kms_api::types::{Member, MemberSpec, Request};

use super::*;

pub(super) fn ser(msg: impl Into<String>) -> KmsError {
    err(ErrorType::SerializationException, msg)
}

/// A string member of any request (`None` when absent or null).
pub(super) fn opt_str(req: &Map<String, Value>, name: &str) -> R<Option<String>> {
    <Option<String> as Member>::read(req, name)
}

/// A boolean member of any request (`false` when absent or null).
pub(super) fn opt_bool(req: &Map<String, Value>, name: &str) -> R<bool> {
    <bool as Member>::read(req, name)
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

/// One page of a listing: `limit` (default `default`) checked against `limit_spec`, then
/// `marker` (a member of the wrong type reports its error only after the limit is checked).
pub(super) fn page<T>(
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

/// One page of a listing, with its next marker and whether it is truncated.
pub(super) fn list_page<T>(
    items: Vec<T>,
    limit: Option<i64>,
    marker: R<Option<&str>>,
    limit_spec: &MemberSpec,
    default: i64,
) -> R<Page<T>> {
    let (items, next_marker) = page(items, limit, marker, limit_spec, default)?;
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

    /// The first SerializationException among the members other than `later` (which the
    /// operation reads further on): what reading the whole request up front answers.
    pub(super) fn check_except(&self, later: &[&MemberSpec]) -> R<()> {
        match self
            .bad
            .iter()
            .find(|(name, ..)| !later.iter().any(|l| l.name == *name))
        {
            Some((_, e, _)) => Err(e.clone()),
            None => Ok(()),
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

/// A typed request read from its JSON members.
pub(super) fn parse<T: ebsim_kms_api::types::FromMembers>(req: &Map<String, Value>) -> R<T> {
    T::from_members(req)
}

/// A typed response as a JSON value.
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
        let e = page(vec![1, 2, 3], Some(0), bad_marker, &spec, 50).err();
        assert_eq!(
            e.map(|e| e.error_type),
            Some(ErrorType::ValidationException)
        );
        let p = list_page(vec![1, 2, 3], Some(2), Ok(Some("1")), &spec, 50)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.items, p.next_marker, p.truncated),
            (vec![2, 3], None, false)
        );
        let p = list_page(vec![1, 2, 3], Some(1), Ok(None), &spec, 50)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.items, p.next_marker, p.truncated),
            (vec![1], Some("1".to_string()), true)
        );
        let e = page(vec![1], None, Ok(Some("x")), &spec, 50).err();
        assert_eq!(
            e.map(|e| e.error_type),
            Some(ErrorType::InvalidMarkerException)
        );
    }
}
