//! Volume types and their size, IOPS and throughput rules (docs/ec2.md, "Volume types").

use ebsim_iam::QueryError;

use crate::error::{invalid_combination, invalid_value};

/// What a volume type allows.
#[derive(Debug, Clone, Copy)]
struct TypeRule {
    name: &'static str,
    min_gib: u64,
    max_gib: u64,
    /// `(min, max, max per GiB, required)` when IOPS may be set.
    iops: Option<(u64, u64, u64, bool)>,
    /// `(min, max)` MiB/s when throughput may be set.
    throughput: Option<(u64, u64)>,
}

const TYPES: &[TypeRule] = &[
    TypeRule {
        name: "gp2",
        min_gib: 1,
        max_gib: 16_384,
        iops: None,
        throughput: None,
    },
    TypeRule {
        name: "gp3",
        min_gib: 1,
        max_gib: 65_536,
        iops: Some((3_000, 80_000, 500, false)),
        throughput: Some((125, 2_000)),
    },
    TypeRule {
        name: "io1",
        min_gib: 4,
        max_gib: 16_384,
        iops: Some((100, 64_000, 50, true)),
        throughput: None,
    },
    TypeRule {
        name: "io2",
        min_gib: 4,
        max_gib: 65_536,
        iops: Some((100, 256_000, 1_000, true)),
        throughput: None,
    },
    TypeRule {
        name: "st1",
        min_gib: 125,
        max_gib: 16_384,
        iops: None,
        throughput: None,
    },
    TypeRule {
        name: "sc1",
        min_gib: 125,
        max_gib: 16_384,
        iops: None,
        throughput: None,
    },
    TypeRule {
        name: "standard",
        min_gib: 1,
        max_gib: 1_024,
        iops: None,
        throughput: None,
    },
];

/// A checked volume configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// The type.
    pub volume_type: String,
    /// GiB.
    pub size_gib: u64,
    /// Provisioned or reported IOPS.
    pub iops: Option<u32>,
    /// MiB/s (gp3).
    pub throughput: Option<u32>,
}

/// Checks `size_gib`, `iops` and `throughput` against `volume_type` (gp2 when `None`) and
/// fills the defaults (gp3: 3,000 IOPS and 125 MiB/s; gp2 reports 3 IOPS per GiB, 100 to
/// 16,000).
///
/// # Errors
/// `InvalidParameterValue` for an unknown type or a value out of range;
/// `InvalidParameterCombination` for IOPS or throughput on a type that takes none.
pub fn check(
    volume_type: Option<&str>,
    size_gib: u64,
    iops: Option<u64>,
    throughput: Option<u64>,
) -> Result<VolumeSpec, QueryError> {
    let name = volume_type.unwrap_or("gp2");
    let rule = TYPES.iter().find(|t| t.name == name).ok_or_else(|| {
        invalid_value(format!(
            "Value ({}) for parameter volumeType is invalid. Valid types: gp2, gp3, io1, io2, st1, sc1, standard.",
            ebsim_iam::names::echo(name)
        ))
    })?;
    if size_gib < rule.min_gib {
        return Err(invalid_value(format!(
            "Volume of {size_gib}GiB is too small; minimum is {}GiB.",
            rule.min_gib
        )));
    }
    if size_gib > rule.max_gib {
        return Err(invalid_value(format!(
            "Volume of {size_gib}GiB is too large; maximum is {}GiB.",
            rule.max_gib
        )));
    }
    let iops = match (rule.iops, iops) {
        (None, Some(_)) => {
            return Err(invalid_combination(format!(
                "The parameter iops is not supported for {name} volumes."
            )));
        }
        (None, None) if name == "gp2" => Some((size_gib * 3).clamp(100, 16_000)),
        (None, None) => None,
        (Some((_, _, _, true)), None) => {
            return Err(crate::error::missing(format!(
                "The request must contain the parameter iops for {name} volumes."
            )));
        }
        (Some((min, _, _, false)), None) => Some(min),
        (Some((min, max, per_gib, _)), Some(n)) => {
            if !(min..=max).contains(&n) {
                return Err(invalid_value(format!(
                    "Volume iops of {n} is out of range for {name}: {min} to {max}."
                )));
            }
            if n > per_gib * size_gib {
                return Err(invalid_value(format!(
                    "Iops to volume size ratio of {} is too high; maximum is {per_gib}.",
                    n / size_gib.max(1)
                )));
            }
            Some(n)
        }
    };
    let throughput = match (rule.throughput, throughput) {
        (None, Some(_)) => {
            return Err(invalid_combination(format!(
                "The parameter throughput is not supported for {name} volumes."
            )));
        }
        (None, None) => None,
        (Some((min, _)), None) => Some(min),
        (Some((min, max)), Some(t)) => {
            if !(min..=max).contains(&t) {
                return Err(invalid_value(format!(
                    "Throughput of {t} MiB/s is out of range for {name}: {min} to {max}."
                )));
            }
            // At most 0.25 MiB/s per provisioned IOPS.
            if iops.is_some_and(|i| t * 4 > i) {
                return Err(invalid_value(format!(
                    "Throughput of {t} MiB/s is too high for {} IOPS; at most 0.25 MiB/s per IOPS.",
                    iops.unwrap_or(0)
                )));
            }
            Some(t)
        }
    };
    Ok(VolumeSpec {
        volume_type: name.to_owned(),
        size_gib,
        iops: iops.map(|n| n as u32),
        throughput: throughput.map(|n| n as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_per_type() {
        let gp2 = check(None, 4, None, None).expect("gp2");
        assert_eq!((gp2.volume_type.as_str(), gp2.iops), ("gp2", Some(100)));
        let gp3 = check(Some("gp3"), 10, None, None).expect("gp3");
        assert_eq!((gp3.iops, gp3.throughput), (Some(3000), Some(125)));
        assert_eq!(
            check(Some("gp2"), 10, Some(300), None).unwrap_err().code,
            "InvalidParameterCombination"
        );
        assert_eq!(
            check(Some("io1"), 10, None, None).unwrap_err().code,
            "MissingParameter"
        );
        assert_eq!(
            check(Some("io1"), 10, Some(501), None).unwrap_err().code,
            "InvalidParameterValue"
        );
        assert!(check(Some("io1"), 10, Some(500), None).is_ok());
        assert_eq!(
            check(Some("st1"), 10, None, None).unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(
            check(Some("standard"), 2000, None, None).unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(
            check(Some("io1"), 10, Some(100), Some(200))
                .unwrap_err()
                .code,
            "InvalidParameterCombination"
        );
        assert_eq!(
            check(Some("gp3"), 10, None, Some(1000)).unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(
            check(Some("nope"), 10, None, None).unwrap_err().code,
            "InvalidParameterValue"
        );
    }
}
