//! Encryption contexts: the additional authenticated data every data key is bound to.

use std::collections::BTreeMap;

/// Key of the EBS encryption-context pair: `{"aws:ebs:id": "<volume-id>"}`.
pub const EBS_CONTEXT_KEY: &str = "aws:ebs:id";
/// Key of the WorkSpaces pair: `"[<SID>]@[<directory-id>]"`.
pub const WORKSPACES_CONTEXT_KEY: &str = "aws:workspaces:sid-directoryid";

/// A malformed identifier given to an [`EncryptionContext`] constructor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// Not `vol-` followed by 8 or 17 lowercase hex digits.
    #[error("invalid volume id '{0}': expected vol- followed by 17 (or 8) lowercase hex digits")]
    VolumeId(String),
    /// Not `S-1-` followed by dash-separated numbers.
    #[error(
        "invalid user SID '{0}': expected S-1- followed by dash-separated numbers, e.g. S-1-5-21-1004336348-1177238915-682003330-512"
    )]
    Sid(String),
    /// Not `d-` followed by 8 to 63 lowercase hex digits.
    #[error("invalid directory id '{0}': expected d- followed by 8 to 63 lowercase hex digits")]
    DirectoryId(String),
}

/// An encryption context: a string map, matched exactly by KMS (case-sensitive, pair order
/// irrelevant). Serializes as a flat JSON object, as the KMS wire protocol sends it.
///
/// ```
/// use ebsim_kms_client::EncryptionContext;
/// let ctx = EncryptionContext::workspaces("vol-0123456789abcdef0", "S-1-5-21-1-2-3-1001", "d-926724a1b2")?;
/// assert_eq!(ctx.as_map()["aws:workspaces:sid-directoryid"], "[S-1-5-21-1-2-3-1001]@[d-926724a1b2]");
/// assert_eq!(ctx.as_map()["aws:ebs:id"], "vol-0123456789abcdef0");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// The context EBS uses for a volume: `{"aws:ebs:id": "<volume-id>"}`.
    ///
    /// # Errors
    /// [`ContextError::VolumeId`] for a malformed volume id.
    pub fn ebs(volume_id: &str) -> Result<Self, ContextError> {
        validate_volume_id(volume_id)?;
        Ok(Self(BTreeMap::from([(
            EBS_CONTEXT_KEY.to_owned(),
            volume_id.to_owned(),
        )])))
    }

    /// The context of a volume owned by a WorkSpace: the EBS pair plus
    /// `{"aws:workspaces:sid-directoryid": "[<SID>]@[<directory-id>]"}` (literal brackets).
    ///
    /// # Errors
    /// A [`ContextError`] naming the malformed identifier.
    pub fn workspaces(
        volume_id: &str,
        user_sid: &str,
        directory_id: &str,
    ) -> Result<Self, ContextError> {
        let mut ctx = Self::ebs(volume_id)?;
        validate_sid(user_sid)?;
        validate_directory_id(directory_id)?;
        ctx.0.insert(
            WORKSPACES_CONTEXT_KEY.to_owned(),
            format!("[{user_sid}]@[{directory_id}]"),
        );
        Ok(ctx)
    }

    /// Any map (as read back from a volume's metadata, or for tests).
    pub fn from_map(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }

    /// The pairs.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The pairs, owned.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    /// The value of one key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The context as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        )
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn validate_volume_id(id: &str) -> Result<(), ContextError> {
    match id.strip_prefix("vol-") {
        Some(hex) if (hex.len() == 17 || hex.len() == 8) && is_lower_hex(hex) => Ok(()),
        _ => Err(ContextError::VolumeId(id.to_owned())),
    }
}

fn validate_sid(sid: &str) -> Result<(), ContextError> {
    let ok = sid.strip_prefix("S-1-").is_some_and(|rest| {
        rest.split('-')
            .all(|n| !n.is_empty() && n.len() <= 10 && n.bytes().all(|b| b.is_ascii_digit()))
    });
    if ok {
        Ok(())
    } else {
        Err(ContextError::Sid(sid.to_owned()))
    }
}

fn validate_directory_id(id: &str) -> Result<(), ContextError> {
    match id.strip_prefix("d-") {
        Some(hex) if (8..=63).contains(&hex.len()) && is_lower_hex(hex) => Ok(()),
        _ => Err(ContextError::DirectoryId(id.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebs_context_shape() {
        let ctx = EncryptionContext::ebs("vol-0123456789abcdef0").expect("valid");
        assert_eq!(
            serde_json::to_string(&ctx).expect("json"),
            r#"{"aws:ebs:id":"vol-0123456789abcdef0"}"#
        );
        assert!(EncryptionContext::ebs("vol-01234567").is_ok());
        for bad in [
            "vol-0123456789ABCDEF0",
            "vol-0123",
            "volume-0123456789abcdef0",
            "vol-0123456789abcdefg",
            "",
        ] {
            assert_eq!(
                EncryptionContext::ebs(bad),
                Err(ContextError::VolumeId(bad.to_owned()))
            );
        }
    }

    #[test]
    fn workspaces_context_shape() {
        let ctx = EncryptionContext::workspaces(
            "vol-0123456789abcdef0",
            "S-1-5-21-1004336348-1177238915-682003330-512",
            "d-926724a1b2",
        )
        .expect("valid");
        let json = serde_json::to_value(&ctx).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "aws:ebs:id": "vol-0123456789abcdef0",
                "aws:workspaces:sid-directoryid": "[S-1-5-21-1004336348-1177238915-682003330-512]@[d-926724a1b2]"
            })
        );
        assert_eq!(ctx.to_json(), json);
        let back: EncryptionContext = serde_json::from_value(json).expect("parse");
        assert_eq!(back, ctx);
    }

    #[test]
    fn workspaces_context_validation() {
        let v = "vol-0123456789abcdef0";
        for bad in [
            "S-1",
            "S-1-",
            "S-2-5-21",
            "s-1-5",
            "S-1-5--21",
            "S-1-5-x",
            "[S-1-5]",
            "S-1-5-21]@[d-12345678",
        ] {
            assert_eq!(
                EncryptionContext::workspaces(v, bad, "d-12345678"),
                Err(ContextError::Sid(bad.to_owned())),
                "{bad}"
            );
        }
        let long = format!("d-{}", "a".repeat(64));
        for bad in [
            "d-1234567",
            "d-1234567G",
            "D-12345678",
            "12345678",
            long.as_str(),
        ] {
            assert_eq!(
                EncryptionContext::workspaces(v, "S-1-5-21-1", bad),
                Err(ContextError::DirectoryId(bad.to_owned())),
                "{bad}"
            );
        }
        let max = format!("d-{}", "f".repeat(63));
        assert!(EncryptionContext::workspaces(v, "S-1-5", &max).is_ok());
        assert!(matches!(
            EncryptionContext::workspaces("vol-x", "S-1-5", "d-12345678"),
            Err(ContextError::VolumeId(_))
        ));
    }
}
