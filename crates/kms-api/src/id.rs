//! Identifiers, each with one type and one parser, all built on [`split_arn`].

use std::fmt;
use std::str::FromStr;

/// The default account.
pub const DEFAULT_ACCOUNT: &str = "111122223333";
/// The default region.
pub const DEFAULT_REGION: &str = "us-west-2";
/// The default account's root principal.
pub const DEFAULT_ROOT: &str = "arn:aws:iam::111122223333:root";

/// The six `:`-separated components of an ARN-shaped string (`arn`, partition, service,
/// region, account, resource); the resource keeps any further colons. `None` with fewer than
/// five colons.
pub fn split_arn(s: &str) -> Option<[&str; 6]> {
    // Five colons by a byte scan (the authorization hot path calls this per request).
    let mut cuts = [0usize; 5];
    let mut n = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b':' {
            cuts[n] = i;
            n += 1;
            if n == 5 {
                break;
            }
        }
    }
    if n < 5 {
        return None;
    }
    Some([
        s.get(..cuts[0])?,
        s.get(cuts[0] + 1..cuts[1])?,
        s.get(cuts[1] + 1..cuts[2])?,
        s.get(cuts[2] + 1..cuts[3])?,
        s.get(cuts[3] + 1..cuts[4])?,
        s.get(cuts[4] + 1..)?,
    ])
}

/// The 12-digit account in the fifth `:`-separated field of an ARN (the field may end the
/// string).
pub fn arn_account(s: &str) -> Option<&str> {
    // A byte scan, as in `split_arn`: asked several times per authorized request.
    let b = s.as_bytes();
    let mut colons = 0;
    let start = b.iter().position(|&c| {
        colons += usize::from(c == b':');
        colons == 4
    })? + 1;
    let len = b[start..]
        .iter()
        .position(|&c| c == b':')
        .unwrap_or(b.len() - start);
    let account = s.get(start..start + len)?;
    is_account(account).then_some(account)
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A parsed ARN, borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    /// `kms`, `iam`, `sts`, …
    pub service: &'a str,
    /// Empty for global services.
    pub region: &'a str,
    /// The account (not checked here).
    pub account: &'a str,
    /// `key/…`, `alias/…`, `root`, `role/…`, …
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parses `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
    pub fn parse(s: &'a str) -> Option<Self> {
        let [arn, partition, service, region, account, resource] = split_arn(s)?;
        (arn == "arn").then_some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// Why an identifier did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {what}")]
pub struct IdError {
    what: &'static str,
    value: String,
}

impl IdError {
    pub(crate) fn new(what: &'static str, value: &str) -> Self {
        Self {
            what,
            value: value.chars().take(256).collect(),
        }
    }
}

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let check: fn(&str) -> bool = $check;
                if check(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdError::new($what, s))
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A 12-digit AWS account id.
    AccountId,
    "account id",
    is_account
);
string_id!(
    /// A key id: a UUID in its 36-character hyphenated form.
    KeyId,
    "key id",
    |s| s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
);
string_id!(
    /// An alias name: `alias/` and 1..=250 letters, digits, `/`, `_` or `-`.
    AliasName,
    "alias name",
    |s| {
        s.len() <= 256
            && s.strip_prefix("alias/").is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
            })
    }
);
string_id!(
    /// A grant id: 64 lowercase hex digits.
    GrantId,
    "grant id",
    |s| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
);

impl AccountId {
    /// The default account.
    pub fn default_account() -> Self {
        Self(DEFAULT_ACCOUNT.to_owned())
    }

    /// `arn:aws:iam::ACCOUNT:root`.
    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.0)
    }
}

impl AliasName {
    /// Whether the alias is reserved for AWS managed keys (`alias/aws/…`).
    pub fn is_aws_reserved(&self) -> bool {
        self.0.starts_with("alias/aws/")
    }
}

/// The ARN of a KMS key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyArn {
    partition: String,
    region: String,
    account: AccountId,
    key_id: KeyId,
}

impl KeyArn {
    /// The ARN of `key_id` in `region` and `account` (partition `aws`).
    pub fn new(region: &str, account: AccountId, key_id: KeyId) -> Self {
        Self {
            partition: "aws".to_owned(),
            region: region.to_owned(),
            account,
            key_id,
        }
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The key id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }
}

impl FromStr for KeyArn {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::new("key ARN", s);
        let a = Arn::parse(s)
            .filter(|a| a.service == "kms")
            .ok_or_else(bad)?;
        let key_id = a.resource.strip_prefix("key/").ok_or_else(bad)?;
        Ok(Self {
            partition: a.partition.to_owned(),
            region: a.region.to_owned(),
            account: a.account.parse().map_err(|_| bad())?,
            key_id: key_id.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for KeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:kms:{}:{}:key/{}",
            self.partition, self.region, self.account, self.key_id
        )
    }
}

/// The ARN of an alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AliasArn {
    partition: String,
    region: String,
    account: AccountId,
    name: AliasName,
}

impl AliasArn {
    /// The ARN of alias `name` in `region` and `account` (partition `aws`).
    pub fn new(region: &str, account: AccountId, name: AliasName) -> Self {
        Self {
            partition: "aws".to_owned(),
            region: region.to_owned(),
            account,
            name,
        }
    }

    /// The alias name.
    pub fn name(&self) -> &AliasName {
        &self.name
    }

    /// The account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }
}

impl FromStr for AliasArn {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::new("alias ARN", s);
        let a = Arn::parse(s)
            .filter(|a| a.service == "kms")
            .ok_or_else(bad)?;
        Ok(Self {
            partition: a.partition.to_owned(),
            region: a.region.to_owned(),
            account: a.account.parse().map_err(|_| bad())?,
            name: a.resource.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for AliasArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:kms:{}:{}:{}",
            self.partition, self.region, self.account, self.name
        )
    }
}

/// What kind of principal an IAM or STS ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// `arn:aws:iam::ACCOUNT:root`.
    Root,
    /// `arn:aws:iam::ACCOUNT:user/…`.
    User,
    /// `arn:aws:iam::ACCOUNT:role/…`.
    Role,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumedRole,
    /// Another IAM or STS resource.
    Other,
}

/// The ARN of an IAM or STS principal, borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalArn<'a> {
    arn: &'a str,
    account: &'a str,
    kind: PrincipalKind,
    /// For an assumed-role session: the role's name.
    role: Option<&'a str>,
}

impl<'a> PrincipalArn<'a> {
    /// Parses `arn:PARTITION:(iam|sts)::ACCOUNT:RESOURCE` with a 12-digit account.
    pub fn parse(arn: &'a str) -> Option<Self> {
        let a = Arn::parse(arn)?;
        if !matches!(a.service, "iam" | "sts") || !a.region.is_empty() || !is_account(a.account) {
            return None;
        }
        let (kind, role) = match (a.service, a.resource) {
            ("iam", "root") => (PrincipalKind::Root, None),
            ("iam", r) if r.starts_with("user/") => (PrincipalKind::User, None),
            ("iam", r) if r.starts_with("role/") => (PrincipalKind::Role, None),
            ("sts", r) => match r.strip_prefix("assumed-role/") {
                Some(rest) => (
                    PrincipalKind::AssumedRole,
                    Some(rest.split('/').next().unwrap_or(rest)),
                ),
                None => (PrincipalKind::Other, None),
            },
            _ => (PrincipalKind::Other, None),
        };
        Some(Self {
            arn,
            account: a.account,
            kind,
            role,
        })
    }

    /// The ARN.
    pub fn as_str(&self) -> &'a str {
        self.arn
    }

    /// The 12-digit account.
    pub fn account(&self) -> &'a str {
        self.account
    }

    /// The kind.
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// For an assumed-role session: the role's name.
    pub fn assumed_role(&self) -> Option<&'a str> {
        self.role
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn the_one_splitter() {
        assert_eq!(
            split_arn("arn:aws:iam::111122223333:role/a:b"),
            Some(["arn", "aws", "iam", "", "111122223333", "role/a:b"])
        );
        assert_eq!(split_arn("arn:aws:iam::111122223333"), None);
        assert_eq!(split_arn(""), None);
        assert_eq!(Arn::parse("nra:aws:iam::111122223333:root"), None);
        assert_eq!(arn_account("a:b:c:d:111122223333"), Some("111122223333"));
        assert_eq!(arn_account("a:b:c:d:11112222333"), None);
        assert_eq!(arn_account("a:b:c:111122223333"), None);
        assert_eq!(
            arn_account("a:b:c:d:111122223333:x:y"),
            Some("111122223333")
        );
        assert_eq!(arn_account("a:b:c:d:111122223333x"), None);
        assert_eq!(arn_account("a:b:c:d:"), None);
        assert_eq!(arn_account("::::"), None);
        assert_eq!(arn_account(""), None);
        // The same answer as a split on ':' for every string of a small alphabet.
        let alphabet = [":", "1", "a", "123456789012", "é"];
        let mut s = String::new();
        for n in 0..(5usize.pow(7)) {
            s.clear();
            let mut m = n;
            for _ in 0..7 {
                s.push_str(alphabet[m % 5]);
                m /= 5;
            }
            let reference = s
                .split(':')
                .nth(4)
                .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(arn_account(&s), reference, "{s}");
        }
    }

    #[test]
    fn key_and_alias_arns_round_trip() {
        let k: KeyArn = KEY.parse().unwrap();
        assert_eq!(k.to_string(), KEY);
        assert_eq!(k.region(), "us-west-2");
        assert_eq!(k.key_id().as_str(), "1234abcd-12ab-34cd-56ef-1234567890ab");
        for bad in [
            "arn:aws:kms:us-west-2:111122223333:key/nope",
            "arn:aws:kms:us-west-2:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:s3:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-west-2:111122223333:alias/x",
        ] {
            assert!(bad.parse::<KeyArn>().is_err(), "{bad}");
        }
        let a: AliasArn = "arn:aws:kms:us-west-2:111122223333:alias/aws/ebs"
            .parse()
            .unwrap();
        assert!(a.name().is_aws_reserved());
        assert_eq!(
            a.to_string(),
            "arn:aws:kms:us-west-2:111122223333:alias/aws/ebs"
        );
        assert!("alias/".parse::<AliasName>().is_err());
        assert!("alias/a b".parse::<AliasName>().is_err());
        assert!("key/x".parse::<AliasName>().is_err());
    }

    #[test]
    fn principals() {
        let p = PrincipalArn::parse(DEFAULT_ROOT).unwrap();
        assert_eq!(
            (p.kind(), p.account()),
            (PrincipalKind::Root, DEFAULT_ACCOUNT)
        );
        let s = PrincipalArn::parse("arn:aws:sts::111122223333:assumed-role/R/s").unwrap();
        assert_eq!(s.kind(), PrincipalKind::AssumedRole);
        assert_eq!(s.assumed_role(), Some("R"));
        assert!(PrincipalArn::parse("arn:aws:iam::1111:root").is_none());
        assert!(PrincipalArn::parse("arn:aws:kms:us-west-2:111122223333:key/x").is_none());
        assert_eq!(AccountId::default_account().root_arn(), DEFAULT_ROOT);
        assert!("a".repeat(64).parse::<GrantId>().is_ok());
        assert!("A".repeat(64).parse::<GrantId>().is_err());
    }
}
