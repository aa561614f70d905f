//! TagResource, UntagResource, ListResourceTags, and the tags CreateKey takes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::crypto::KEY_ID_RULE;
use super::{Echo, Member, MemberSpec, Rule, get, ser};
use crate::KmsError;

/// `Limit` of ListResourceTags: the service's 1 to 50 (the model allows 1,000).
pub const LIST_RESOURCE_TAGS_LIMIT_RULE: Rule = Rule::Range { min: 1, max: 50 };

/// A tag: a key of 1 to 128 characters and a value of up to 256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// The key (`aws:…` is reserved).
    pub tag_key: String,
    /// The value.
    pub tag_value: String,
}

impl Tag {
    /// The constraints of `TagKey` (of a tag, and of each `TagKeys` item of UntagResource).
    pub const TAG_KEY: MemberSpec = MemberSpec {
        name: "TagKey",
        echo: Echo::Hidden,
        rules: &[Rule::Required, Rule::LengthBetween { min: 1, max: 128 }],
    };
    /// The constraints of `TagValue`.
    pub const TAG_VALUE: MemberSpec = MemberSpec {
        name: "TagValue",
        echo: Echo::Hidden,
        rules: &[
            Rule::Required,
            Rule::Length {
                min: 0,
                max: Some(256),
            },
        ],
    };
}

impl Tag {
    /// One item of the tag list `list` (members other than `TagKey` and `TagValue` are
    /// ignored).
    ///
    /// # Errors
    /// SerializationException when the item is not an object with `TagKey` and `TagValue`
    /// strings.
    pub fn read_item(item: &Value, list: &str) -> Result<Self, KmsError> {
        match (
            item.get("TagKey").and_then(Value::as_str),
            item.get("TagValue").and_then(Value::as_str),
        ) {
            (Some(k), Some(v)) => Ok(Tag {
                tag_key: k.to_owned(),
                tag_value: v.to_owned(),
            }),
            _ => Err(ser(format!(
                "{list} must be objects with TagKey and TagValue strings"
            ))),
        }
    }
}

impl Member for Option<Vec<Tag>> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(None),
            Some(Value::Array(list)) => list
                .iter()
                .map(|t| Tag::read_item(t, name))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ser(format!("{name} must be a list"))),
        }
    }
}

request! {
    /// TagResource: adds tags to a key, or gives known keys new values.
    TagResourceRequest = "TagResource" {
        /// The key (key id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The tags (each key at most once; a key holds at most 50).
        tags, TAGS: Option<Vec<Tag>> = "Tags", Hidden, [Rule::Required];
    }

    /// UntagResource: removes tags from a key.
    UntagResourceRequest = "UntagResource" {
        /// The key (key id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// The tag keys to remove (each checked as [`Tag::TAG_KEY`]).
        tag_keys, TAG_KEYS: Option<Vec<String>> = "TagKeys", Hidden, [Rule::Required];
    }

    /// ListResourceTags: the tags of a key, in any key state.
    ListResourceTagsRequest = "ListResourceTags" {
        /// The key (key id or ARN).
        key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::Required, KEY_ID_RULE];
        /// Page size (default 50).
        limit, LIMIT: Option<i64> = "Limit", Value, [LIST_RESOURCE_TAGS_LIMIT_RULE];
        /// Where the previous page ended (its `NextMarker`).
        marker, MARKER: Option<String> = "Marker", Value, [];
    }
}

/// The answer of ListResourceTags.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsResponse {
    /// This page of tags.
    pub tags: Vec<Tag>,
    /// Where the next page starts, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether there is a next page.
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FromMembers;
    use serde_json::json;

    fn msg(e: KmsError) -> String {
        e.message.unwrap_or_default()
    }

    const V: &str = "1 validation error detected: ";

    #[test]
    fn messages() {
        assert_eq!(
            msg(Tag::TAG_KEY.check_str("").unwrap_err()),
            format!(
                "{V}Value at 'tagKey' failed to satisfy constraint: Member must have length between 1 and 128"
            )
        );
        assert!(Tag::TAG_KEY.check_str(&"k".repeat(128)).is_ok());
        assert_eq!(
            msg(Tag::TAG_VALUE.check_str(&"v".repeat(257)).unwrap_err()),
            format!(
                "{V}Value at 'tagValue' failed to satisfy constraint: Member must have length less than or equal to 256"
            )
        );
        assert!(Tag::TAG_VALUE.check_str("").is_ok());
        assert_eq!(
            msg(TagResourceRequest::TAGS
                .check_present(None::<&[Tag]>)
                .unwrap_err()),
            format!(
                "{V}Value null at 'tags' failed to satisfy constraint: Member must not be null"
            )
        );
        assert_eq!(
            msg(UntagResourceRequest::TAG_KEYS
                .check_present(None::<&[String]>)
                .unwrap_err()),
            format!(
                "{V}Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"
            )
        );
        assert_eq!(
            msg(ListResourceTagsRequest::LIMIT.check_int(51).unwrap_err()),
            format!(
                "{V}Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"
            )
        );
    }

    #[test]
    fn tags_read_like_the_service() {
        let read = |v: serde_json::Value| {
            let m = v.as_object().cloned().unwrap_or_default();
            TagResourceRequest::from_members(&m).map(|r| r.tags)
        };
        assert_eq!(
            read(json!({"Tags": [{"TagKey": "a", "TagValue": "b", "X": 1}]})).ok(),
            Some(Some(vec![Tag {
                tag_key: "a".into(),
                tag_value: "b".into()
            }]))
        );
        assert_eq!(read(json!({"Tags": null})).ok(), Some(None));
        assert_eq!(
            read(json!({"Tags": {}})).err().map(msg).as_deref(),
            Some("Tags must be a list")
        );
        for bad in [
            json!([{"TagKey": "a"}]),
            json!([1]),
            json!([{"TagKey": "a", "TagValue": null}]),
        ] {
            assert_eq!(
                read(json!({ "Tags": bad })).err().map(msg).as_deref(),
                Some("Tags must be objects with TagKey and TagValue strings")
            );
        }
    }
}

responses! {
    TagResourceRequest => super::EmptyResponse,
    UntagResourceRequest => super::EmptyResponse,
    ListResourceTagsRequest => ListResourceTagsResponse,
}
