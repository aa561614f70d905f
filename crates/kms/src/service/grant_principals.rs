//! Grant principals given as AWS service principals (docs/kms.md, "Authorization"):
//! `GranteeServicePrincipal` / `RetiringServicePrincipal` beside `GranteePrincipal` /
//! `RetiringPrincipal` (exactly one of each pair where the pair is required, at most one
//! otherwise), the `GranteeServicePrincipal` filter of ListGrants, and the service-principal
//! members of a grant list entry.

use ebsim_kms_api::types::grants::SERVICE_PRINCIPAL_RULE;
use ebsim_kms_api::types::{MemberSpec, Rule};

use super::{R, validation};

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

/// The principal a request names through the member of `spec` or that of `service_spec`:
/// exactly one of them when `spec` has [`Rule::RequiredUnless`], at most one otherwise. A
/// service principal must look like one.
pub(super) fn one_of<'a>(
    principal: Option<&'a str>,
    service: Option<&'a str>,
    spec: &MemberSpec,
    service_spec: &MemberSpec,
) -> R<Option<&'a str>> {
    let required = spec
        .rules
        .iter()
        .any(|r| matches!(r, Rule::RequiredUnless(_)));
    match (principal, service) {
        (Some(_), Some(_)) => Err(validation(format!(
            "You can specify either {} or {}, but not both.",
            spec.name, service_spec.name
        ))),
        (None, None) if required => spec.check_present(None),
        (None, None) => Ok(None),
        (Some(p), None) => Ok(Some(p)),
        (None, Some(s)) if is_service_principal(s) => Ok(Some(s)),
        (None, Some(s)) => Err(service_spec.violation(SERVICE_PRINCIPAL_RULE, s)),
    }
}

/// A grant list entry's `GranteeServicePrincipal` / `RetiringServicePrincipal`: the
/// principal again, when it is a service.
pub(super) fn service_member(principal: &str) -> Option<String> {
    is_service_principal(principal).then(|| principal.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebsim_kms_api::types::grants::CreateGrantRequest;

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
        let (g, gs) = (
            &CreateGrantRequest::GRANTEE_PRINCIPAL,
            &CreateGrantRequest::GRANTEE_SERVICE_PRINCIPAL,
        );
        let (r, rs) = (
            &CreateGrantRequest::RETIRING_PRINCIPAL,
            &CreateGrantRequest::RETIRING_SERVICE_PRINCIPAL,
        );
        assert!(one_of(Some("a"), Some("ec2.amazonaws.com"), g, gs).is_err());
        assert!(one_of(None, None, g, gs).is_err());
        assert_eq!(one_of(None, None, r, rs).ok(), Some(None));
        assert_eq!(
            one_of(None, Some("ec2.amazonaws.com"), g, gs).ok(),
            Some(Some("ec2.amazonaws.com"))
        );
        assert!(one_of(None, Some("arn:aws:iam::111122223333:root"), g, gs).is_err());
    }

    #[test]
    fn messages() {
        let (g, gs) = (
            &CreateGrantRequest::GRANTEE_PRINCIPAL,
            &CreateGrantRequest::GRANTEE_SERVICE_PRINCIPAL,
        );
        let msg = |r: R<Option<&str>>| r.err().and_then(|e| e.message);
        assert_eq!(
            msg(one_of(Some("a"), Some("ec2.amazonaws.com"), g, gs)).as_deref(),
            Some(
                "You can specify either GranteePrincipal or GranteeServicePrincipal, but not both."
            )
        );
        assert_eq!(
            msg(one_of(None, None, g, gs)).as_deref(),
            Some(
                "1 validation error detected: Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null (or give GranteeServicePrincipal)"
            )
        );
        assert_eq!(
            msg(one_of(None, Some("ec2"), g, gs)).as_deref(),
            Some(
                "1 validation error detected: Value 'ec2' at 'granteeServicePrincipal' failed to satisfy constraint: Member must be an AWS service principal such as dynamodb.us-west-2.amazonaws.com"
            )
        );
    }
}
