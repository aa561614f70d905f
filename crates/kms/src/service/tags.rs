//! Resource tags: CreateKey `Tags`, TagResource, UntagResource, ListResourceTags.
//!
//! Tag keys are 1..128 characters and values 0..256 (ValidationException otherwise); keys
//! beginning with `aws:` are reserved and a request may not name one key twice
//! (TagException); a key holds at most 50 tags (LimitExceededException). TagResource and
//! UntagResource need `kms:TagResource` / `kms:UntagResource` on the key and fail with
//! KMSInvalidStateException while the key is pending deletion; ListResourceTags works in
//! any state.

use std::collections::BTreeSet;

use ebsim_kms_api::types::tags::{
    ListResourceTagsRequest, ListResourceTagsResponse, Tag, TagResourceRequest,
    UntagResourceRequest,
};
use ebsim_kms_api::types::{EmptyResponse, Member as _, Request as _};
use serde_json::{Map, Value};

use super::{Ev, Kms, R, Staged, err, list_page};
use crate::api::{Caller, ErrorType};
use crate::state::{Key, State};

/// Tags a key may hold.
pub(super) const MAX_TAGS: usize = 50;

/// Validates the `Tags` member of CreateKey / TagResource (each key once, none reserved) as
/// `(key, value)` pairs; none when absent.
pub(super) fn parse_tags_list(tags: Option<&[Tag]>) -> R<Vec<(String, String)>> {
    let list = tags.unwrap_or_default();
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(list.len());
    for t in list {
        check_tag(t, &mut seen)?;
        out.push((t.tag_key.clone(), t.tag_value.clone()));
    }
    Ok(out)
}

/// One tag's rules, and its key not among the keys `seen` before it (which it joins).
fn check_tag(t: &Tag, seen: &mut BTreeSet<String>) -> R<()> {
    let (k, v) = (t.tag_key.as_str(), t.tag_value.as_str());
    Tag::TAG_KEY.check_str(k)?;
    Tag::TAG_VALUE.check_str(v)?;
    if k.len() >= 4 && k[..4].eq_ignore_ascii_case("aws:") {
        return Err(err(
            ErrorType::TagException,
            format!("Tag keys beginning with aws: are reserved: {k}"),
        ));
    }
    if !seen.insert(k.to_owned()) {
        return Err(err(
            ErrorType::TagException,
            format!("The tag key {k} appears more than once in the request."),
        ));
    }
    Ok(())
}

/// Reads and validates a `Tags` member one tag at a time, as the service always has: a tag
/// that breaks a rule is reported before a malformed tag after it.
pub(super) fn parse_tags_in_order(tags: Option<&Value>) -> R<Vec<(String, String)>> {
    let Some(Value::Array(list)) = tags else {
        let m: Map<String, Value> = tags
            .map(|v| ("Tags".to_owned(), v.clone()))
            .into_iter()
            .collect();
        return parse_tags_list(Option::<Vec<Tag>>::read(&m, "Tags")?.as_deref());
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let t = Tag::read_item(item, "Tags")?;
        check_tag(&t, &mut seen)?;
        out.push((t.tag_key, t.tag_value));
    }
    Ok(out)
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
    /// The validated tags of a new key ([`parse_tags_list`] for a typed CreateKey
    /// request): at most 50, and `kms:TagResource` (IAM) when there are any.
    pub(super) fn new_key_tags(
        &self,
        st: &State,
        caller: &Caller,
        tags: Vec<(String, String)>,
    ) -> R<Vec<(String, String)>> {
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

    /// TagResource.
    pub(super) fn tag_resource(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Staged<TagResourceRequest>,
        ev: &mut Ev,
    ) -> R<EmptyResponse> {
        type Q = TagResourceRequest;
        let (id, tags) = {
            let key_id = req.get(&Q::KEY_ID, req.key_id.as_deref())?;
            let key = self.managed_key_ref(st, caller, key_id, &Q::KEY_ID, Q::OPERATION, ev)?;
            Self::check_state(Q::OPERATION, key)?;
            let new = match req.get(&Q::TAGS, req.tags.as_deref()) {
                Ok(new) => parse_tags_list(Some(Q::TAGS.check_present(new)?))?,
                // A malformed tag: the tags before it are checked first.
                Err(e) => return Err(parse_tags_in_order(req.raw(&Q::TAGS)).err().unwrap_or(e)),
            };
            let tags = merged(&key.tags, new);
            if tags.len() > MAX_TAGS {
                return Err(too_many(key));
            }
            (key.slot(), tags)
        };
        if let Some(k) = st.keys.get_mut(&id) {
            k.tags = tags;
        }
        Ok(EmptyResponse {})
    }

    /// UntagResource.
    pub(super) fn untag_resource(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Staged<UntagResourceRequest>,
        ev: &mut Ev,
    ) -> R<EmptyResponse> {
        type Q = UntagResourceRequest;
        let (id, tags) = {
            let key_id = req.get(&Q::KEY_ID, req.key_id.as_deref())?;
            let key = self.managed_key_ref(st, caller, key_id, &Q::KEY_ID, Q::OPERATION, ev)?;
            Self::check_state(Q::OPERATION, key)?;
            let names = req.get(&Q::TAG_KEYS, req.tag_keys.as_deref())?;
            let names = Q::TAG_KEYS.check_present(names)?;
            for n in names {
                Tag::TAG_KEY.check_str(n)?;
            }
            let tags: Vec<(String, String)> = key
                .tags
                .iter()
                .filter(|(k, _)| !names.contains(k))
                .cloned()
                .collect();
            (key.slot(), tags)
        };
        if let Some(k) = st.keys.get_mut(&id) {
            k.tags = tags;
        }
        Ok(EmptyResponse {})
    }

    /// ListResourceTags (any key state; `Limit` 1..50, default 50).
    pub(super) fn list_resource_tags(
        &self,
        st: &State,
        caller: &Caller,
        req: &Staged<ListResourceTagsRequest>,
        ev: &mut Ev,
    ) -> R<ListResourceTagsResponse> {
        type Q = ListResourceTagsRequest;
        let key_id = req.get(&Q::KEY_ID, req.key_id.as_deref())?;
        let key = self.managed_key_ref(st, caller, key_id, &Q::KEY_ID, Q::OPERATION, ev)?;
        let tags: Vec<Tag> = key
            .tags
            .iter()
            .map(|(k, v)| Tag {
                tag_key: k.clone(),
                tag_value: v.clone(),
            })
            .collect();
        let page = list_page(
            tags,
            req.get(&Q::LIMIT, req.limit)?,
            req.get(&Q::MARKER, req.marker.as_deref()),
            &Q::LIMIT,
            50,
        )?;
        Ok(ListResourceTagsResponse {
            tags: page.items,
            next_marker: page.next_marker,
            truncated: page.truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn parse_tags(req: &Map<String, Value>) -> R<Vec<(String, String)>> {
        parse_tags_in_order(req.get("Tags"))
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
        assert_eq!(
            kind(json!({"Tags": [{"TagKey": "", "TagValue": "1"}, {"TagKey": "k"}]})),
            Some(ErrorType::ValidationException)
        );
        assert_eq!(
            kind(json!({"Tags": {}})),
            Some(ErrorType::SerializationException)
        );
        assert_eq!(kind(json!({"Tags": null})), None);
        let typed = |k: &str, v: &str| Tag {
            tag_key: k.into(),
            tag_value: v.into(),
        };
        let msg = |tags: &[Tag]| parse_tags_list(Some(tags)).err().and_then(|e| e.message);
        assert_eq!(
            msg(&[typed("", "1")]).as_deref(),
            Some(
                "1 validation error detected: Value at 'tagKey' failed to satisfy constraint: Member must have length between 1 and 128"
            )
        );
        assert_eq!(
            msg(&[typed("k", &"v".repeat(257))]).as_deref(),
            Some(
                "1 validation error detected: Value at 'tagValue' failed to satisfy constraint: Member must have length less than or equal to 256"
            )
        );
        assert_eq!(
            msg(&[typed("a", "1"), typed("a", "2")]).as_deref(),
            Some("The tag key a appears more than once in the request.")
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
