//! Grant principals given as AWS service principals (docs/kms.md, "Authorization"):
//! `GranteeServicePrincipal` / `RetiringServicePrincipal` beside `GranteePrincipal` /
//! `RetiringPrincipal` (exactly one of each pair where the pair is required, at most one
//! otherwise), the `GranteeServicePrincipal` filter of ListGrants, and the service-principal
//! members of a grant list entry.

use serde_json::{Map, Value};

use super::{R, camel, opt_str, validation};

/// `<service>.amazonaws.com` or `<service>.<region>.amazonaws.com`, lowercase.
pub(super) fn is_service_principal(p: &str) -> bool {
    !p.starts_with("arn:")
        && p.len() <= 256
        && p.strip_suffix(".amazonaws.com").is_some_and(|svc| {
            !svc.is_empty()
                && !svc.starts_with(['.', '-'])
                && svc
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
        })
}

/// The principal a request names through `name` or `service_name`: exactly one of them when
/// `required`, at most one otherwise. A service principal must look like one.
pub(super) fn one_of<'a>(
    req: &'a Map<String, Value>,
    name: &str,
    service_name: &str,
    required: bool,
) -> R<Option<&'a str>> {
    match (opt_str(req, name)?, opt_str(req, service_name)?) {
        (Some(_), Some(_)) => Err(validation(format!(
            "You can specify either {name} or {service_name}, but not both."
        ))),
        (None, None) if required => Err(validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null (or give {service_name})",
            camel(name)
        ))),
        (None, None) => Ok(None),
        (Some(p), None) => Ok(Some(p)),
        (None, Some(s)) if is_service_principal(s) => Ok(Some(s)),
        (None, Some(s)) => Err(validation(format!(
            "1 validation error detected: Value '{s}' at '{}' failed to satisfy constraint: Member must be an AWS service principal such as dynamodb.us-west-2.amazonaws.com",
            camel(service_name)
        ))),
    }
}

/// Adds `GranteeServicePrincipal` / `RetiringServicePrincipal` to a grant list entry whose
/// principals are services.
pub(super) fn add_service_members(entry: &mut Map<String, Value>) {
    for (name, service_name) in [
        ("GranteePrincipal", "GranteeServicePrincipal"),
        ("RetiringPrincipal", "RetiringServicePrincipal"),
    ] {
        if let Some(p) = entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|p| is_service_principal(p))
        {
            let p = Value::String(p.to_string());
            entry.insert(service_name.into(), p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_principal_forms() {
        for p in ["ec2.amazonaws.com", "dynamodb.us-west-2.amazonaws.com"] {
            assert!(is_service_principal(p), "{p}");
        }
        for p in [
            "amazonaws.com",
            ".amazonaws.com",
            "EC2.amazonaws.com",
            "arn:aws:iam::111122223333:root",
            "ec2.example.com",
            "ec2 .amazonaws.com",
        ] {
            assert!(!is_service_principal(p), "{p}");
        }
    }

    #[test]
    fn exactly_one_of_a_pair() {
        let req = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let both =
            req(json!({"GranteePrincipal": "a", "GranteeServicePrincipal": "ec2.amazonaws.com"}));
        assert!(one_of(&both, "GranteePrincipal", "GranteeServicePrincipal", true).is_err());
        let none = req(json!({}));
        assert!(one_of(&none, "GranteePrincipal", "GranteeServicePrincipal", true).is_err());
        assert_eq!(
            one_of(
                &none,
                "RetiringPrincipal",
                "RetiringServicePrincipal",
                false
            )
            .ok(),
            Some(None)
        );
        let svc = req(json!({"GranteeServicePrincipal": "ec2.amazonaws.com"}));
        assert_eq!(
            one_of(&svc, "GranteePrincipal", "GranteeServicePrincipal", true).ok(),
            Some(Some("ec2.amazonaws.com"))
        );
        let bad = req(json!({"GranteeServicePrincipal": "arn:aws:iam::111122223333:root"}));
        assert!(one_of(&bad, "GranteePrincipal", "GranteeServicePrincipal", true).is_err());
    }
}
