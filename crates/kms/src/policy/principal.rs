//! Principals: validation of the forms a policy may name, and matching a caller against them.

/// One principal named in a statement's `Principal` (or `NotPrincipal`) element, normalized:
/// an account ID becomes `arn:aws:iam::<acct>:root`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyPrincipal {
    /// `"*"` or `{"AWS": "*"}`: anyone.
    Any,
    /// `{"AWS": "<arn>"}`: an account root, IAM user, IAM role, or STS session ARN.
    Aws(String),
    /// `{"Service": "<name>.amazonaws.com"}`.
    Service(String),
}

/// How a caller relates to a principal of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrincipalMatch {
    /// The principal names this caller (or anyone): the statement applies directly.
    Direct,
    /// The principal is the root of the caller's account and the caller is another principal
    /// of that account: a key policy delegates to the account's IAM policies.
    Account,
    /// No relation.
    None,
}

/// What the caller's ARN says about it, extracted once per evaluation without allocating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallerInfo<'a> {
    pub arn: &'a str,
    pub account: Option<&'a str>,
    pub is_root: bool,
    /// For `arn:aws:sts::A:assumed-role/ROLE/SESSION`: `ROLE`.
    pub assumed_role: Option<&'a str>,
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl<'a> CallerInfo<'a> {
    pub fn new(arn: &'a str) -> Self {
        match ebsim_kms_api::id::PrincipalArn::parse(arn) {
            Some(p) => Self {
                arn,
                account: Some(p.account()),
                is_root: p.kind() == ebsim_kms_api::id::PrincipalKind::Root,
                assumed_role: p.assumed_role(),
            },
            None => Self {
                arn,
                account: None,
                is_root: false,
                assumed_role: None,
            },
        }
    }
}

/// A principal compiled for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Matcher {
    Any,
    Root {
        account: String,
    },
    /// Matches the role itself and its sessions `arn:aws:sts::A:assumed-role/NAME/*`.
    Role {
        arn: String,
        account: String,
        name: String,
    },
    Exact(String),
    Service(String),
}

impl Matcher {
    pub fn new(p: &PolicyPrincipal) -> Self {
        match p {
            PolicyPrincipal::Any => Self::Any,
            PolicyPrincipal::Service(s) => Self::Service(s.to_ascii_lowercase()),
            PolicyPrincipal::Aws(arn) => {
                let mut it = arn.splitn(6, ':');
                let parts = (
                    it.next(),
                    it.next(),
                    it.next(),
                    it.next(),
                    it.next(),
                    it.next(),
                );
                match parts {
                    (_, _, Some("iam"), _, Some(acct), Some("root")) => Self::Root {
                        account: acct.to_owned(),
                    },
                    (_, _, Some("iam"), _, Some(acct), Some(res)) if res.starts_with("role/") => {
                        Self::Role {
                            arn: arn.clone(),
                            account: acct.to_owned(),
                            name: res.rsplit('/').next().unwrap_or_default().to_owned(),
                        }
                    }
                    _ => Self::Exact(arn.clone()),
                }
            }
        }
    }

    pub fn matches(&self, c: &CallerInfo<'_>) -> PrincipalMatch {
        let direct = match self {
            Self::Any => true,
            Self::Exact(arn) => c.arn == arn,
            Self::Service(s) => c.arn.eq_ignore_ascii_case(s),
            Self::Role { arn, account, name } => {
                c.arn == arn
                    || (c.account == Some(account.as_str())
                        && c.assumed_role == Some(name.as_str()))
            }
            Self::Root { account } => {
                if c.account != Some(account.as_str()) {
                    return PrincipalMatch::None;
                }
                if c.is_root {
                    return PrincipalMatch::Direct;
                }
                return PrincipalMatch::Account;
            }
        };
        if direct {
            PrincipalMatch::Direct
        } else {
            PrincipalMatch::None
        }
    }
}

impl PolicyPrincipal {
    /// How `caller` (a principal ARN, or a service principal such as `ec2.amazonaws.com`)
    /// relates to this principal. A role matches its own ARN and its assumed-role sessions
    /// (`arn:aws:iam::A:role/R` ↔ `arn:aws:sts::A:assumed-role/R/SESSION`); an account root
    /// matches the root directly and the other principals of the account as
    /// [`PrincipalMatch::Account`].
    pub fn matches(&self, caller: &str) -> PrincipalMatch {
        Matcher::new(self).matches(&CallerInfo::new(caller))
    }

    /// The principal as written in canonical JSON (`*` for [`PolicyPrincipal::Any`]).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Any => "*",
            Self::Aws(s) | Self::Service(s) => s,
        }
    }
}

fn valid_name_chars(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/:".contains(&b))
}

/// Validates and normalizes one `{"AWS": ...}` value. `Err` carries why.
pub(crate) fn parse_aws(v: &str) -> Result<PolicyPrincipal, String> {
    if v == "*" {
        return Ok(PolicyPrincipal::Any);
    }
    if is_account(v) {
        return Ok(PolicyPrincipal::Aws(format!("arn:aws:iam::{v}:root")));
    }
    let Some(ebsim_kms_api::id::Arn {
        partition,
        service: svc,
        region,
        account: acct,
        resource: res,
    }) = ebsim_kms_api::id::Arn::parse(v)
    else {
        return Err(format!(
            "`{v}` is neither `*`, a 12-digit account ID nor an ARN like \
             arn:aws:iam::111122223333:role/NAME"
        ));
    };
    if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err(format!("`{v}`: unknown partition `{partition}`"));
    }
    if !region.is_empty() {
        return Err(format!("`{v}`: IAM and STS ARNs have no Region"));
    }
    if !is_account(acct) {
        return Err(format!(
            "`{v}`: the account `{acct}` is not a 12-digit account ID"
        ));
    }
    let ok = match svc {
        "iam" => {
            res == "root"
                || ["user/", "role/"].iter().any(|p| {
                    res.strip_prefix(p).is_some_and(|n| {
                        valid_name_chars(n) && !n.ends_with('/') && !n.contains(':')
                    })
                })
        }
        "sts" => {
            res.strip_prefix("assumed-role/").is_some_and(|r| {
                r.split_once('/').is_some_and(|(role, session)| {
                    valid_name_chars(role) && valid_name_chars(session) && !session.contains('/')
                })
            }) || res
                .strip_prefix("federated-user/")
                .is_some_and(valid_name_chars)
        }
        _ => false,
    };
    if ok {
        Ok(PolicyPrincipal::Aws(v.to_owned()))
    } else if svc == "iam" && res.starts_with("group/") {
        Err(format!("`{v}`: IAM groups cannot be principals"))
    } else {
        Err(format!(
            "`{v}` is not an account root, IAM user, IAM role or assumed-role session ARN"
        ))
    }
}

/// Validates one `{"Service": ...}` value.
pub(crate) fn parse_service(v: &str) -> Result<PolicyPrincipal, String> {
    let host = v
        .strip_suffix(".amazonaws.com")
        .or_else(|| v.strip_suffix(".amazonaws.com.cn"));
    match host {
        Some(h)
            if !h.is_empty()
                && h.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                })
                && !h.starts_with(['.', '-']) =>
        {
            Ok(PolicyPrincipal::Service(v.to_owned()))
        }
        _ => Err(format!(
            "`{v}` is not a service principal like ec2.amazonaws.com"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_principal_forms() {
        assert_eq!(
            parse_aws("111122223333"),
            Ok(PolicyPrincipal::Aws(
                "arn:aws:iam::111122223333:root".into()
            ))
        );
        assert_eq!(parse_aws("*"), Ok(PolicyPrincipal::Any));
        for ok in [
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:role/path/Workato_EKM",
            "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-0123",
            "arn:aws-cn:iam::111122223333:role/x",
        ] {
            assert!(parse_aws(ok).is_ok(), "{ok}");
        }
        for bad in [
            "arn:aws:iam::TODO - ACCOUNTID:role/Workato_EKM",
            "arn:aws:iam::111122223333:group/admins",
            "arn:aws:iam::11112222333:root",
            "arn:aws:iam:us-west-2:111122223333:root",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a b",
            "alice",
            "arn:foo:iam::111122223333:root",
        ] {
            assert!(parse_aws(bad).is_err(), "{bad}");
        }
        assert!(
            parse_aws("arn:aws:iam::TODO - ACCOUNTID:role/Workato_EKM")
                .unwrap_err()
                .contains("12-digit")
        );
    }

    #[test]
    fn service_principal_forms() {
        assert!(parse_service("ec2.amazonaws.com").is_ok());
        assert!(parse_service("workspaces.us-west-2.amazonaws.com").is_ok());
        assert!(parse_service("EC2.amazonaws.com").is_err());
        assert!(parse_service("amazonaws.com").is_err());
        assert!(parse_service("evil.example.com").is_err());
    }

    #[test]
    fn matching() {
        let role = PolicyPrincipal::Aws("arn:aws:iam::111122223333:role/ops/Workato_EKM".into());
        assert_eq!(
            role.matches("arn:aws:iam::111122223333:role/ops/Workato_EKM"),
            PrincipalMatch::Direct
        );
        assert_eq!(
            role.matches("arn:aws:sts::111122223333:assumed-role/Workato_EKM/s1"),
            PrincipalMatch::Direct
        );
        assert_eq!(
            role.matches("arn:aws:sts::444455556666:assumed-role/Workato_EKM/s1"),
            PrincipalMatch::None
        );
        assert_eq!(
            role.matches("arn:aws:sts::111122223333:assumed-role/Other/s1"),
            PrincipalMatch::None
        );
        let root = PolicyPrincipal::Aws("arn:aws:iam::111122223333:root".into());
        assert_eq!(
            root.matches("arn:aws:iam::111122223333:root"),
            PrincipalMatch::Direct
        );
        assert_eq!(
            root.matches("arn:aws:iam::111122223333:user/bob"),
            PrincipalMatch::Account
        );
        assert_eq!(
            root.matches("arn:aws:sts::111122223333:assumed-role/R/s"),
            PrincipalMatch::Account
        );
        assert_eq!(
            root.matches("arn:aws:iam::444455556666:root"),
            PrincipalMatch::None
        );
        assert_eq!(root.matches("ec2.amazonaws.com"), PrincipalMatch::None);
        let svc = PolicyPrincipal::Service("ec2.amazonaws.com".into());
        assert_eq!(svc.matches("ec2.amazonaws.com"), PrincipalMatch::Direct);
        assert_eq!(
            svc.matches("arn:aws:iam::111122223333:root"),
            PrincipalMatch::None
        );
        assert_eq!(
            PolicyPrincipal::Any.matches("anything"),
            PrincipalMatch::Direct
        );
        let user = PolicyPrincipal::Aws("arn:aws:iam::111122223333:user/alice".into());
        assert_eq!(
            user.matches("arn:aws:iam::111122223333:user/alice"),
            PrincipalMatch::Direct
        );
        assert_eq!(
            user.matches("arn:aws:iam::111122223333:user/alic"),
            PrincipalMatch::None
        );
    }
}
