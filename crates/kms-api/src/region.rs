//! AWS regions: the commercial (`aws`) partition's regions, each serving KMS.
//!
//! The list is botocore's `endpoints.json` at the version the test dependencies pin; the test
//! `regions_model` checks it against the vendored copy in `tests/data/endpoints-aws.json`.
//! A region has its own keys, aliases and grants (docs/kms.md, "Regions and accounts").

use std::fmt;
use std::str::FromStr;

use crate::id::IdError;

/// The regions of the `aws` partition, sorted.
pub const AWS_REGIONS: [&str; 34] = [
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// A region of the `aws` partition (copied freely: it borrows the static list).
///
/// ```
/// use ebsim_kms_api::Region;
/// let r: Region = "us-east-1".parse()?;
/// assert_eq!(r.as_str(), "us-east-1");
/// assert!("xx-fake-1".parse::<Region>().is_err());
/// assert_eq!(Region::default(), Region::US_WEST_2);
/// # Ok::<(), ebsim_kms_api::id::IdError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(&'static str);

impl Region {
    /// us-west-2, the default region.
    pub const US_WEST_2: Self = Self("us-west-2");

    /// The region named `name` (exactly, lowercase), if the partition has it.
    pub fn parse(name: &str) -> Option<Self> {
        AWS_REGIONS
            .binary_search(&name)
            .ok()
            .map(|i| Self(AWS_REGIONS[i]))
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Every region of the partition.
    pub fn all() -> impl Iterator<Item = Self> {
        AWS_REGIONS.iter().map(|r| Self(r))
    }
}

impl Default for Region {
    fn default() -> Self {
        Self::US_WEST_2
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for Region {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s).ok_or_else(|| IdError::new("region of the aws partition", s))
    }
}

impl AsRef<str> for Region {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl PartialEq<str> for Region {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl serde::Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Region {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_parsed_exactly() {
        assert!(AWS_REGIONS.windows(2).all(|w| w[0] < w[1]));
        for r in AWS_REGIONS {
            assert_eq!(Region::parse(r).map(Region::as_str), Some(r));
        }
        for bad in [
            "",
            "US-WEST-2",
            "us-west-2 ",
            "us-west-3",
            "cn-north-1",
            "aws-global",
        ] {
            assert!(Region::parse(bad).is_none(), "{bad}");
            assert!(bad.parse::<Region>().is_err());
        }
        let json = serde_json::to_string(&Region::US_WEST_2).unwrap_or_default();
        assert_eq!(json, "\"us-west-2\"");
        assert!(serde_json::from_str::<Region>("\"mars-1\"").is_err());
        assert_eq!(
            serde_json::from_str::<Region>("\"eu-west-1\"").ok(),
            Region::parse("eu-west-1")
        );
    }
}
