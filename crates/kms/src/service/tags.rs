//! Resource tags: CreateKey `Tags`, TagResource, UntagResource, ListResourceTags.
//!
//! Tag keys are 1..128 characters and values 0..256 (ValidationException otherwise); keys
//! beginning with `aws:` are reserved and a request may not name one key twice
//! (TagException); a key holds at most 50 tags (LimitExceededException). TagResource and
//! UntagResource need `kms:TagResource` / `kms:UntagResource` on the key and fail with
//! KMSInvalidStateException while the key is pending deletion; ListResourceTags works in
//! any state.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{Ev, Kms, R, err, list_page, ser, string_list, validation};
use crate::api::{Caller, ErrorType};
use crate::state::{Key, State};

/// Tags a key may hold.
pub(super) const MAX_TAGS: usize = 50;

fn check_tag_key(k: &str) -> R<()> {
    if k.is_empty() || k.chars().count() > 128 {
        return Err(validation(
            "1 validation error detected: Value at 'tagKey' failed to satisfy constraint: Member must have length between 1 and 128",
        ));
    }
    Ok(())
}

/// The `Tags` member of CreateKey / TagResource: `[{TagKey, TagValue}]`, validated.
pub(super) fn parse_tags(req: &Map<String, Value>) -> R<Vec<(String, String)>> {
    let list = match req.get("Tags") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(ser("Tags must be a list")),
    };
    let mut seen = BTreeSet::new();
    let mut tags = Vec::with_capacity(list.len());
    for t in list {
        let (Some(k), Some(v)) = (
            t.get("TagKey").and_then(Value::as_str),
            t.get("TagValue").and_then(Value::as_str),
        ) else {
            return Err(ser("Tags must be objects with TagKey and TagValue strings"));
        };
        check_tag_key(k)?;
        if v.chars().count() > 256 {
            return Err(validation(
                "1 validation error detected: Value at 'tagValue' failed to satisfy constraint: Member must have length less than or equal to 256",
            ));
        }
        if k.len() >= 4 && k[..4].eq_ignore_ascii_case("aws:") {
            return Err(err(
                ErrorType::TagException,
                format!("Tag keys beginning with aws: are reserved: {k}"),
            ));
        }
        if !seen.insert(k) {
            return Err(err(
                ErrorType::TagException,
                format!("The tag key {k} appears more than once in the request."),
            ));
        }
        tags.push((k.to_string(), v.to_string()));
    }
    Ok(tags)
}

/// Tags after adding `new` to `current` (a known key gets the new value).
fn merged(current: &[(String, String)], new: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out = current.to_vec();
    for (k, v) in new {
        match out.iter_mut().find(|(ok, _)| *ok == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

fn too_many(key: &Key) -> crate::api::KmsError {
    err(
        ErrorType::LimitExceededException,
        format!("The key {} would have more than {MAX_TAGS} tags.", key.arn),
    )
}

impl Kms {
    /// Checks the tags of a CreateKey request, including `kms:TagResource` (IAM) when there
    /// are any.
    pub(super) fn create_key_tags(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
    ) -> R<Vec<(String, String)>> {
        let tags = parse_tags(req)?;
        if tags.len() > MAX_TAGS {
            return Err(err(
                ErrorType::LimitExceededException,
                format!("A key can have at most {MAX_TAGS} tags."),
            ));
        }
        if !tags.is_empty() {
            self.authorize_iam_only(st, caller, "TagResource", "*")?;
        }
        Ok(tags)
    }

    /// TagResource and UntagResource.
    pub(super) fn tag_op(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let (id, tags) = {
            let key = self.managed_key(st, caller, super::req_str(req, "KeyId")?, op, ev)?;
            Self::check_state(op, key)?;
            let tags = if op == "TagResource" {
                if req.get("Tags").is_none_or(Value::is_null) {
                    return Err(validation(
                        "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
                    ));
                }
                let tags = merged(&key.tags, parse_tags(req)?);
                if tags.len() > MAX_TAGS {
                    return Err(too_many(key));
                }
                tags
            } else {
                let names = string_list(req, "TagKeys")?.ok_or_else(|| {
                    validation(
                        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
                    )
                })?;
                for n in &names {
                    check_tag_key(n)?;
                }
                key.tags
                    .iter()
                    .filter(|(k, _)| !names.contains(k))
                    .cloned()
                    .collect()
            };
            (key.id.clone(), tags)
        };
        if let Some(k) = st.keys.get_mut(&id) {
            k.tags = tags;
        }
        Ok(json!({}))
    }

    /// ListResourceTags (any key state; `Limit` 1..50, default 50).
    pub(super) fn list_resource_tags(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let key = self.managed_key(
            st,
            caller,
            super::req_str(req, "KeyId")?,
            "ListResourceTags",
            ev,
        )?;
        let tags: Vec<Value> = key
            .tags
            .iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
            .collect();
        list_page(tags, req, 50, 50, "Tags")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn tag_validation() {
        let ok = parse_tags(&req(json!({"Tags": [{"TagKey": "a", "TagValue": ""}]})));
        assert_eq!(ok.ok(), Some(vec![("a".to_string(), String::new())]));
        let kind = |v: Value| parse_tags(&req(v)).err().map(|e| e.error_type);
        assert_eq!(
            kind(json!({"Tags": [{"TagKey": "AWS:x", "TagValue": "1"}]})),
            Some(ErrorType::TagException)
        );
        assert_eq!(
            kind(
                json!({"Tags": [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}]})
            ),
            Some(ErrorType::TagException)
        );
        assert_eq!(
            kind(json!({"Tags": [{"TagKey": "", "TagValue": "1"}]})),
            Some(ErrorType::ValidationException)
        );
        assert_eq!(
            kind(json!({"Tags": [{"TagKey": "k".repeat(129), "TagValue": "1"}]})),
            Some(ErrorType::ValidationException)
        );
        assert_eq!(
            kind(json!({"Tags": [{"TagKey": "k", "TagValue": "v".repeat(257)}]})),
            Some(ErrorType::ValidationException)
        );
        assert_eq!(
            kind(json!({"Tags": [{"TagKey": "k"}]})),
            Some(ErrorType::SerializationException)
        );
    }

    #[test]
    fn merge_replaces_values_and_keeps_order() {
        let cur = vec![("a".to_string(), "1".to_string())];
        let out = merged(
            &cur,
            vec![
                ("b".to_string(), "2".to_string()),
                ("a".to_string(), "3".to_string()),
            ],
        );
        assert_eq!(
            out,
            vec![
                ("a".to_string(), "3".to_string()),
                ("b".to_string(), "2".to_string())
            ]
        );
    }
}
