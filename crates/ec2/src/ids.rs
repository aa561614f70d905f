//! EC2 identifiers: one kind per prefix, one parser, one generator (docs/ec2.md,
//! "Identifiers"): `vol-`, `i-`, `r-`, `snap-` followed by 17 (or 8) lowercase hex digits.

use ebsim_iam::QueryError;

use crate::error::{invalid_value, malformed};

/// The kind of an EC2 identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `vol-…`
    Volume,
    /// `i-…`
    Instance,
    /// `r-…`
    Reservation,
    /// `snap-…`
    Snapshot,
}

impl IdKind {
    /// The prefix, dash included.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Volume => "vol-",
            Self::Instance => "i-",
            Self::Reservation => "r-",
            Self::Snapshot => "snap-",
        }
    }

    /// The code of a malformed id of this kind.
    fn malformed_code(self) -> &'static str {
        match self {
            Self::Volume => "InvalidVolumeID.Malformed",
            Self::Instance => "InvalidInstanceID.Malformed",
            Self::Reservation => "InvalidReservationID.Malformed",
            Self::Snapshot => "InvalidSnapshotID.Malformed",
        }
    }
}

/// Whether `s` is an id of `kind`.
pub fn is_id(kind: IdKind, s: &str) -> bool {
    s.strip_prefix(kind.prefix()).is_some_and(|hex| {
        (hex.len() == 17 || hex.len() == 8)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Checks that `s`, given as parameter `param`, is an id of `kind`.
///
/// # Errors
/// An id of another kind (`snap-…` where `vol-…` is needed): `InvalidParameterValue`
/// naming the expected prefix; anything else: `Invalid…ID.Malformed` (`Invalid id: "…"`).
pub fn parse(kind: IdKind, param: &str, s: &str) -> Result<String, QueryError> {
    if is_id(kind, s) {
        return Ok(s.to_owned());
    }
    let other = [
        IdKind::Volume,
        IdKind::Instance,
        IdKind::Reservation,
        IdKind::Snapshot,
    ]
    .into_iter()
    .any(|k| k != kind && is_id(k, s));
    if other {
        return Err(invalid_value(format!(
            "Value ({}) for parameter {param} is invalid. Expected: '{}...'.",
            ebsim_iam::names::echo(s),
            kind.prefix()
        )));
    }
    Err(malformed(
        kind.malformed_code(),
        format!("Invalid id: \"{}\"", ebsim_iam::names::echo(s)),
    ))
}

/// A new id of `kind`: its prefix and 17 lowercase hex digits from the OS random generator.
pub fn new_id(kind: IdKind) -> String {
    if kind == IdKind::Volume {
        return ebsim_volume::new_volume_id();
    }
    let n: u128 = rand::random();
    format!("{}{:017x}", kind.prefix(), n & ((1u128 << 68) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_by_kind() {
        let v = new_id(IdKind::Volume);
        let i = new_id(IdKind::Instance);
        assert!(
            is_id(IdKind::Volume, &v) && is_id(IdKind::Instance, &i),
            "{v} {i}"
        );
        assert_eq!(new_id(IdKind::Snapshot).len(), "snap-".len() + 17);
        assert!(parse(IdKind::Volume, "VolumeId", &v).is_ok());
        let wrong = parse(IdKind::Volume, "VolumeId", "snap-0123456789abcdef0").unwrap_err();
        assert_eq!(wrong.code, "InvalidParameterValue");
        assert!(wrong.message.contains("'vol-...'"), "{}", wrong.message);
        for bad in ["vol-XYZ", "vol-0123456789ABCDEF0", "", "vol-", "i-123"] {
            assert_eq!(
                parse(IdKind::Volume, "VolumeId", bad).unwrap_err().code,
                "InvalidVolumeID.Malformed",
                "{bad}"
            );
        }
        assert_eq!(
            parse(IdKind::Instance, "InstanceId", "i-1")
                .unwrap_err()
                .code,
            "InvalidInstanceID.Malformed"
        );
    }
}
