//! Snapshot ids: `snap-` followed by 17 lowercase hex digits (8-digit ids still parse), the one
//! type and the one parser of the project.

use std::fmt;
use std::str::FromStr;

use crate::SnapshotError;

/// A snapshot id, `snap-` + 17 (or, from older AWS accounts, 8) lowercase hex digits.
///
/// ```
/// use ebsim_snapshot::SnapshotId;
/// let id: SnapshotId = "snap-0123456789abcdef0".parse()?;
/// assert_eq!(id.as_str(), "snap-0123456789abcdef0");
/// assert!("vol-0123456789abcdef0".parse::<SnapshotId>().is_err());
/// assert!(SnapshotId::new().as_str().starts_with("snap-"));
/// # Ok::<(), ebsim_snapshot::SnapshotError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId(String);

impl SnapshotId {
    /// A new id: `snap-` + 17 lowercase hex digits from the OS random generator.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        use rand::RngExt as _;
        let mut rng = rand::rng();
        let mut s = String::from("snap-");
        for _ in 0..17 {
            let d: u32 = rng.random_range(0..16);
            s.push(char::from_digit(d, 16).unwrap_or('0'));
        }
        Self(s)
    }

    /// Parses an id.
    ///
    /// # Errors
    /// [`SnapshotError::MalformedSnapshotId`] (EC2's `InvalidSnapshotID.Malformed`) for
    /// anything else, a volume id included. The input is bounded: at most 64 characters are
    /// echoed in the error.
    pub fn parse(s: &str) -> Result<Self, SnapshotError> {
        if is_snapshot_id(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(SnapshotError::MalformedSnapshotId(
                s.chars().take(64).collect(),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is a snapshot id (`snap-` + 17 or 8 lowercase hex digits).
pub fn is_snapshot_id(s: &str) -> bool {
    s.strip_prefix("snap-").is_some_and(|hex| {
        (hex.len() == 17 || hex.len() == 8)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SnapshotId {
    type Err = SnapshotError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for SnapshotId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for SnapshotId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SnapshotId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_snapshot_ids() {
        assert!(SnapshotId::parse("snap-0123abcd").is_ok());
        assert!(SnapshotId::parse("snap-0123456789abcdef0").is_ok());
        for bad in [
            "",
            "snap-",
            "snap-0123456789ABCDEF0",
            "snap-0123456789abcdef",
            "vol-0123456789abcdef0",
            "snap-0123456789abcdef0 ",
            "snap-0123456789abcdefg",
        ] {
            let e = SnapshotId::parse(bad).expect_err(bad);
            assert_eq!(e.code(), "InvalidSnapshotID.Malformed", "{bad}");
        }
        let id = SnapshotId::new();
        assert_eq!(SnapshotId::parse(id.as_str()).ok(), Some(id));
    }
}
