//! Key policies and IAM identity policies through the public API: the documents from the
//! source material (the Workato EKM page and the WorkSpaces admin policy), each error shape,
//! and each evaluation rule.

use ebsim_kms::ErrorType;
use ebsim_kms::policy::{
    ConditionValues, Decision, INVALID_PRINCIPALS_MESSAGE, MAX_POLICY_BYTES, PolicyDocument,
    PolicyErrorKind, PolicyPrincipal, RequestContext, aws_managed_key_policy, default_key_policy,
};

const ACCT: &str = "111122223333";
const KEY_ARN: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ROOT: &str = "arn:aws:iam::111122223333:root";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

fn sid(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn eval(p: &PolicyDocument, principal: &str, action: &str, cv: &ConditionValues) -> Decision {
    p.evaluate(&RequestContext::new(principal, action, KEY_ARN, cv))
}

fn none() -> ConditionValues {
    ConditionValues::new()
}

/// The Workato page's two-statement example, verbatim except for the account placeholders.
const SEED_TWO_STATEMENTS: &str = r#"{
"Id": "key-consolepolicy-3",
"Version": "2012-10-17",
"Statement": [
{
"Sid": "Enable IAM User Permissions",
"Effect": "Allow",
"Principal": {
"AWS": "arn:aws:iam::TODO-ACCOUNTID:root"
},
"Action": "kms:*",
"Resource": "*"
}, /* Comma before next object */
{
"Sid": "Allow use of the key",
"Effect": "Allow",
"Principal": {
"AWS": "arn:aws:iam::TODO - ACCOUNTID:role/Workato_EKM"
},
"Action": [
"kms:Encrypt",
"kms:Decrypt"
],
"Resource": "*"
}
]
}"#;

fn seed_fixed() -> String {
    SEED_TWO_STATEMENTS
        .replace(" /* Comma before next object */", "")
        .replace("TODO-ACCOUNTID", ACCT)
        .replace("TODO - ACCOUNTID", ACCT)
}

#[test]
fn seed_example_with_comment_is_rejected_at_the_comment() {
    let e = PolicyDocument::parse_key_policy(SEED_TWO_STATEMENTS).unwrap_err();
    assert_eq!(e.kind, PolicyErrorKind::Syntax);
    assert_eq!(e.error_type(), ErrorType::MalformedPolicyDocumentException);
    assert_eq!((e.line, e.column), (13, 4), "{e}");
    assert!(e.message.contains("comment"), "{e}");
    assert!(e.hint.as_deref().unwrap_or("").contains("/* ... */"), "{e}");
    assert!(e.to_string().contains("line 13, column 4"), "{e}");
}

#[test]
fn line_comment_is_rejected_with_hint() {
    let text = seed_fixed().replace(
        "\"Version\": \"2012-10-17\",",
        "\"Version\": \"2012-10-17\", // v",
    );
    let e = PolicyDocument::parse_key_policy(&text).unwrap_err();
    assert_eq!((e.line, e.column), (3, 26), "{e}");
    assert!(e.hint.is_some());
}

#[test]
fn seed_example_placeholder_account_is_an_invalid_principal() {
    let text = SEED_TWO_STATEMENTS
        .replace(" /* Comma before next object */", "")
        .replace("TODO-ACCOUNTID", ACCT);
    let e = PolicyDocument::parse_key_policy(&text).unwrap_err();
    assert_eq!(e.kind, PolicyErrorKind::InvalidPrincipal);
    assert_eq!(e.message, INVALID_PRINCIPALS_MESSAGE);
    assert_eq!((e.line, e.column), (18, 8), "{e}");
    let hint = e.hint.unwrap_or_default();
    assert!(
        hint.contains("TODO - ACCOUNTID") && hint.contains("12-digit"),
        "{hint}"
    );
}

#[test]
fn seed_example_fixed_parses_and_evaluates() {
    let p = PolicyDocument::parse_key_policy(&seed_fixed()).unwrap();
    assert_eq!(p.id(), Some("key-consolepolicy-3"));
    assert_eq!(p.text(), seed_fixed(), "the text is kept as given");
    let session = "arn:aws:sts::111122223333:assumed-role/Workato_EKM/ekm-validate";
    let role = "arn:aws:iam::111122223333:role/Workato_EKM";
    for who in [session, role] {
        assert_eq!(
            eval(&p, who, "kms:Encrypt", &none()),
            Decision::Allow {
                sid: sid("Allow use of the key")
            }
        );
        assert_eq!(
            eval(&p, who, "KMS:decrypt", &none()),
            Decision::Allow {
                sid: sid("Allow use of the key")
            }
        );
    }
    // The role's session has no direct right to other actions; it is of the account, so the
    // root statement delegates to IAM.
    assert_eq!(
        eval(&p, session, "kms:ScheduleKeyDeletion", &none()),
        Decision::DelegatedToIam {
            sid: sid("Enable IAM User Permissions")
        }
    );
    assert_eq!(
        eval(&p, ROOT, "kms:PutKeyPolicy", &none()),
        Decision::Allow {
            sid: sid("Enable IAM User Permissions")
        }
    );
    assert_eq!(
        eval(
            &p,
            "arn:aws:sts::444455556666:assumed-role/Workato_EKM/x",
            "kms:Decrypt",
            &none()
        ),
        Decision::NotApplicable,
        "same role name in another account"
    );
    let principals: Vec<_> = p.principals().cloned().collect();
    assert_eq!(
        principals,
        vec![
            PolicyPrincipal::Aws(ROOT.into()),
            PolicyPrincipal::Aws(role.into())
        ]
    );
}

#[test]
fn missing_comma_between_statements_gets_a_hint() {
    let text = seed_fixed().replacen("},\n{", "}\n{", 1);
    let e = PolicyDocument::parse_key_policy(&text).unwrap_err();
    assert_eq!(e.kind, PolicyErrorKind::Syntax);
    assert_eq!((e.line, e.column), (14, 1), "{e}");
    let hint = e.hint.unwrap_or_default();
    assert!(
        hint.contains("comma") && hint.contains("line 13, column 1"),
        "{hint}"
    );
    assert!(hint.contains("every object except the last"), "{hint}");
}

#[test]
fn missing_comma_between_members_gets_a_hint() {
    let text = "{\"Version\": \"2012-10-17\"\n \"Statement\": []}";
    let e = PolicyDocument::parse_key_policy(text).unwrap_err();
    assert_eq!((e.line, e.column), (2, 2), "{e}");
    let hint = e.hint.unwrap_or_default();
    assert!(
        hint.contains("add a comma after the value ending at line 1, column 24"),
        "{hint}"
    );
    assert!(!hint.contains("Statement objects"), "{hint}");
}

#[test]
fn trailing_comma_gets_a_hint_at_the_comma() {
    let text = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
]}"#;
    let e = PolicyDocument::parse_key_policy(text).unwrap_err();
    assert_eq!((e.line, e.column), (2, 76), "{e}");
    assert!(e.message.contains("trailing comma"), "{e}");
    assert!(e.hint.unwrap_or_default().contains("remove the comma"));
}

#[test]
fn statement_outside_statement_array_gets_a_hint() {
    // A pasted statement as a sibling member of the document.
    let sibling = r#"{
  "Version": "2012-10-17",
  "Statement": [ {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"} ],
  {"Sid": "Allow use of the key", "Effect": "Allow"}
}"#;
    let e = PolicyDocument::parse_key_policy(sibling).unwrap_err();
    assert_eq!((e.line, e.column), (4, 3), "{e}");
    assert!(
        e.hint
            .unwrap_or_default()
            .contains("inside the `Statement` array")
    );

    // A pasted statement after the document.
    let after = r#"{"Version": "2012-10-17", "Statement": [ {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"} ]}
{"Sid": "x"}"#;
    let e = PolicyDocument::parse_key_policy(after).unwrap_err();
    assert_eq!((e.line, e.column), (2, 1), "{e}");
    assert!(
        e.hint
            .unwrap_or_default()
            .contains("inside the `Statement` array")
    );

    // Statement elements at the top level.
    let top = r#"{"Version": "2012-10-17",
 "Effect": "Allow", "Statement": [ {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"} ]}"#;
    let e = PolicyDocument::parse_key_policy(top).unwrap_err();
    assert_eq!(e.kind, PolicyErrorKind::Grammar);
    assert_eq!((e.line, e.column), (2, 2), "{e}");
    assert!(
        e.hint
            .unwrap_or_default()
            .contains("inside an object in the `Statement` array")
    );
}

#[test]
fn smart_quotes_and_other_characters_are_rejected() {
    let text = "{\"Version\": \u{201c}2012-10-17\u{201d}}";
    let e = PolicyDocument::parse_key_policy(text).unwrap_err();
    assert_eq!(e.kind, PolicyErrorKind::InvalidCharacter);
    assert_eq!((e.line, e.column), (1, 13));
    assert!(
        e.hint
            .unwrap_or_default()
            .contains("straight double quotes")
    );
    let e = PolicyDocument::parse_key_policy("{\"Sid\": \"\u{3042}\"}").unwrap_err();
    assert_eq!(e.kind, PolicyErrorKind::InvalidCharacter);
    assert!(e.message.contains("U+3042"), "{e}");
    // Latin-1 is fine.
    let ok = seed_fixed().replace("Allow use of the key", "Allow use of the key \u{e9}");
    assert!(PolicyDocument::parse_key_policy(&ok).is_ok());
}

#[test]
fn size_limit_is_its_own_kind() {
    let filler = " ".repeat(MAX_POLICY_BYTES);
    let text = format!("{}{filler}", seed_fixed());
    let e = PolicyDocument::parse_key_policy(&text).unwrap_err();
    assert_eq!(e.kind, PolicyErrorKind::TooLarge);
    assert_eq!(e.error_type(), ErrorType::LimitExceededException);
    let exact = format!(
        "{}{}",
        seed_fixed(),
        " ".repeat(MAX_POLICY_BYTES - seed_fixed().len())
    );
    assert!(
        PolicyDocument::parse_key_policy(&exact).is_ok(),
        "exactly the limit is accepted"
    );
}

#[test]
fn other_syntax_errors_have_positions() {
    for (text, line, col) in [
        ("", 1, 1),
        ("{\"Version\": \"2012-10-17\"", 1, 25),
        ("{'Version': 1}", 1, 2),
        ("{\"Version\": 2012-10-17}", 1, 17),
    ] {
        let e = PolicyDocument::parse_key_policy(text).unwrap_err();
        assert_eq!(e.kind, PolicyErrorKind::Syntax, "{text}");
        assert_eq!((e.line, e.column), (line, col), "{text}: {e}");
    }
}

fn grammar_err(text: &str) -> ebsim_kms::policy::PolicyError {
    PolicyDocument::parse_key_policy(text).expect_err("the document must be rejected")
}

#[test]
fn grammar_errors() {
    let stmt = |body: &str| format!(r#"{{"Version": "2012-10-17", "Statement": [{{{body}}}]}}"#);
    let cases = [
        (
            r#"{"Version": "2012-10-18", "Statement": []}"#.to_owned(),
            "Unsupported policy Version",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": []}"#.to_owned(),
            "at least one",
        ),
        (r#"{"Version": "2012-10-17"}"#.to_owned(), "no `Statement`"),
        (
            r#"{"Version": "2012-10-17", "Statement": "x"}"#.to_owned(),
            "object or a list",
        ),
        (
            r#"{"Version": "2012-10-17", "Statement": {}, "Foo": 1}"#.to_owned(),
            "Unknown policy element `Foo`",
        ),
        (r#"[1]"#.to_owned(), "must be a JSON object"),
        (
            stmt(r#""Effect": "allow", "Principal": "*", "Action": "kms:*", "Resource": "*""#),
            "Effect must be",
        ),
        (
            stmt(r#""Principal": "*", "Action": "kms:*", "Resource": "*""#),
            "no `Effect`",
        ),
        (
            stmt(r#""Effect": "Allow", "Action": "kms:*", "Resource": "*""#),
            "no `Principal`",
        ),
        (
            stmt(r#""Effect": "Allow", "Principal": "*", "Action": "Decrypt", "Resource": "*""#),
            "prefaced by a vendor",
        ),
        (
            stmt(r#""Effect": "Allow", "Principal": "*", "Action": [], "Resource": "*""#),
            "empty list",
        ),
        (
            stmt(
                r#""Effect": "Allow", "Principal": "*", "Action": "kms:*", "NotAction": "kms:X", "Resource": "*""#,
            ),
            "both `Action` and `NotAction`",
        ),
        (
            stmt(r#""Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "key/1""#),
            "must be `*` or an ARN",
        ),
        (
            stmt(
                r#""Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEqual": {"kms:X": "a"}}"#,
            ),
            "Unknown condition operator",
        ),
        (
            stmt(
                r#""Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": {"ViaService": "a"}}"#,
            ),
            "prefaced by a vendor",
        ),
        (
            stmt(
                r#""Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"NumericEquals": {"kms:X": "ten"}}"#,
            ),
            "not a number",
        ),
        (
            stmt(
                r#""Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": {"kms:X": null}}"#,
            ),
            "string, boolean or number",
        ),
        (
            stmt(
                r#""Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": {"kms:X": {}}}"#,
            ),
            "string, boolean or number",
        ),
        (
            stmt(
                r#""Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Version": "2012-10-17""#,
            ),
            "Unknown statement element `Version`",
        ),
    ];
    for (text, want) in cases {
        let e = grammar_err(&text);
        assert_eq!(e.kind, PolicyErrorKind::Grammar, "{text}: {e}");
        assert!(e.message.contains(want), "{text}: {e}");
        assert!(e.line >= 1 && e.column >= 1);
    }
    let dup = r#"{"Statement": [
 {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
 {"Sid": "A", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}"#;
    let e = grammar_err(dup);
    assert!(e.message.contains("Duplicate Sid"));
    assert_eq!((e.line, e.column), (3, 2));
}

#[test]
fn grammar_errors_point_at_the_offending_item() {
    let text = r#"{"Version": "2012-10-17", "Statement": [{
  "Effect": "Allow", "Principal": "*",
  "Action": ["kms:Decrypt",
             "Encrypt"],
  "Resource": "*"}]}"#;
    let e = grammar_err(text);
    assert_eq!((e.line, e.column), (4, 14), "{e}");
    let text = text.replace("\"Encrypt\"", "\"kms:Encrypt\"").replace(
        "\"Resource\": \"*\"",
        "\"Resource\": [\"*\", \"arn:aws:kms:us-west-2:111122223333:key/ 1234\", \"key/1234\"]",
    );
    let e = grammar_err(&text);
    assert_eq!((e.line, e.column), (5, 21), "{e}");
    assert!(e.message.contains("white space"), "{e}");
    let e = grammar_err(&text.replace("key/ 1234", "key/1234"));
    assert_eq!((e.line, e.column), (5, 68), "{e}");
    assert!(e.message.contains("`key/1234`"), "{e}");
}

#[test]
fn invalid_principals() {
    let with = |p: &str| {
        format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Principal": {p}, "Action": "kms:*", "Resource": "*"}}}}"#
        )
    };
    for p in [
        r#""arn:aws:iam::111122223333:root""#,
        r#"{"AWS": "arn:aws:iam::111122223333:group/admins"}"#,
        r#"{"AWS": []}"#,
        r#"{"AWS": ["111122223333", 5]}"#,
        r#"{"Federated": "cognito-identity.amazonaws.com"}"#,
        r#"{"Service": "ec2"}"#,
        r#"{}"#,
        r#"{"AWS": " arn:aws:iam::111122223333:root"}"#,
    ] {
        let e = grammar_err(&with(p));
        assert_eq!(e.kind, PolicyErrorKind::InvalidPrincipal, "{p}: {e}");
        assert_eq!(e.message, INVALID_PRINCIPALS_MESSAGE);
        assert!(e.hint.is_some());
    }
    let p = PolicyDocument::parse_key_policy(&with(
        r#"{"AWS": ["111122223333", "*"], "Service": "ec2.amazonaws.com"}"#,
    ))
    .expect("a valid key policy");
    let got: Vec<_> = p.principals().cloned().collect();
    assert_eq!(
        got,
        vec![
            PolicyPrincipal::Aws(ROOT.into()),
            PolicyPrincipal::Any,
            PolicyPrincipal::Service("ec2.amazonaws.com".into())
        ]
    );
}

#[test]
fn sid_rules_differ_between_key_and_identity_policies() {
    let text = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Allow use of the key", "Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}"#;
    let e = PolicyDocument::parse_identity_policy(text).unwrap_err();
    assert!(e.message.contains("letters and digits"), "{e}");
    let key = text.replace(
        r#""Effect": "Allow","#,
        r#""Effect": "Allow", "Principal": "*","#,
    );
    assert!(PolicyDocument::parse_key_policy(&key).is_ok());
    let e = PolicyDocument::parse_identity_policy(&key.replace("Allow use of the key", "UseKey"))
        .unwrap_err();
    assert_eq!(e.message, "Policy document should not specify a principal.");
}

/// The WorkSpaces admin identity policy from the source, as written.
const ADMIN_IAM_POLICY: &str = r#"{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" }, { "Effect": "Allow", "Action": [ "kms:ListAliases", "kms:ListKeys" ], "Resource": "*" } ] }"#;

#[test]
fn seed_admin_identity_policy() {
    let p = PolicyDocument::parse_identity_policy(ADMIN_IAM_POLICY).unwrap();
    let cv = none();
    let at = |action: &str, resource: &str| p.allows(ALICE, action, resource, &cv);
    assert_eq!(
        at("kms:CreateGrant", KEY_ARN),
        Decision::Allow { sid: None }
    );
    let other_key = "arn:aws:kms:us-west-2:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab";
    assert_eq!(at("kms:CreateGrant", other_key), Decision::NotApplicable);
    assert_eq!(at("kms:ListKeys", "*"), Decision::Allow { sid: None });
    assert_eq!(at("kms:ListAliases", "*"), Decision::Allow { sid: None });
    assert_eq!(at("kms:Decrypt", KEY_ARN), Decision::NotApplicable);
    // Identity policies apply to whoever they are attached to: the principal is not checked.
    assert_eq!(
        p.allows(
            "arn:aws:iam::444455556666:user/x",
            "kms:CreateGrant",
            KEY_ARN,
            &cv
        ),
        Decision::Allow { sid: None }
    );
    // The same policy is not a key policy (no Principal).
    let e = PolicyDocument::parse_key_policy(ADMIN_IAM_POLICY).unwrap_err();
    assert!(e.message.contains("no `Principal`"), "{e}");
}

#[test]
fn identity_policy_deny_and_conditions() {
    let p = PolicyDocument::parse_identity_policy(
        r#"{"Version": "2012-10-17", "Statement": [
          {"Sid": "UseKeys", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "arn:aws:kms:us-west-2:111122223333:key/*"},
          {"Sid": "OnlyThroughEc2", "Effect": "Deny", "Action": "kms:*", "Resource": "*",
           "Condition": {"StringNotEquals": {"kms:ViaService": "ec2.us-west-2.amazonaws.com"}}}]}"#,
    )
    .unwrap();
    let via = ConditionValues::new().with("kms:ViaService", "ec2.us-west-2.amazonaws.com");
    let d = p.allows(ALICE, "kms:Decrypt", KEY_ARN, &via);
    assert_eq!(
        d,
        Decision::Allow {
            sid: sid("UseKeys")
        }
    );
    assert_eq!(d.sid(), Some("UseKeys"));
    // No kms:ViaService at all: the negated operator is true on a missing key, so the Deny applies.
    let d = p.allows(ALICE, "kms:Decrypt", KEY_ARN, &none());
    assert_eq!(
        d,
        Decision::ExplicitDeny {
            sid: sid("OnlyThroughEc2")
        }
    );
    let other = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(
        p.allows(ALICE, "kms:Decrypt", other, &via),
        Decision::NotApplicable
    );
    assert_eq!(Decision::NotApplicable.sid(), None);
}

#[test]
fn default_key_policy_is_verbatim_and_delegates() {
    let text = default_key_policy(ACCT);
    let expected = "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}";
    assert_eq!(text, expected);
    let p = PolicyDocument::parse_key_policy(&text).unwrap();
    let s = sid("Enable IAM User Permissions");
    assert_eq!(
        eval(&p, ROOT, "kms:PutKeyPolicy", &none()),
        Decision::Allow { sid: s.clone() }
    );
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &none()),
        Decision::DelegatedToIam { sid: s }
    );
    assert_eq!(
        eval(&p, "arn:aws:iam::444455556666:root", "kms:Decrypt", &none()),
        Decision::NotApplicable
    );
}

#[test]
fn aws_managed_ebs_key_policy() {
    let text = aws_managed_key_policy("ebs", ACCT, "us-west-2").unwrap();
    assert!(text.contains("\"Id\" : \"auto-ebs-2\""));
    let p = PolicyDocument::parse_key_policy(&text).unwrap();
    assert_eq!(p.sids().count(), 2);
    let via = ConditionValues::new()
        .with("kms:CallerAccount", ACCT)
        .with("kms:ViaService", "ec2.us-west-2.amazonaws.com");
    let through = sid(
        "Allow access through EBS for all principals in the account that are authorized to use EBS",
    );
    for action in [
        "kms:Decrypt",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:CreateGrant",
        "kms:ReEncryptFrom",
    ] {
        assert_eq!(
            eval(&p, ALICE, action, &via),
            Decision::Allow {
                sid: through.clone()
            },
            "{action}"
        );
    }
    // Direct crypto on the managed key: only delegation for metadata, nothing for Decrypt.
    let direct = ConditionValues::new().with("kms:CallerAccount", ACCT);
    assert_eq!(
        eval(&p, ROOT, "kms:Decrypt", &direct),
        Decision::NotApplicable
    );
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &direct),
        Decision::NotApplicable
    );
    let meta = sid("Allow direct access to key metadata to the account");
    assert_eq!(
        eval(&p, ROOT, "kms:DescribeKey", &direct),
        Decision::Allow { sid: meta.clone() }
    );
    assert_eq!(
        eval(&p, ALICE, "kms:GetKeyPolicy", &direct),
        Decision::DelegatedToIam { sid: meta }
    );
    // Another account through EC2, and another Region's EC2, are refused.
    let foreign = ConditionValues::new()
        .with("kms:CallerAccount", "444455556666")
        .with("kms:ViaService", "ec2.us-west-2.amazonaws.com");
    assert_eq!(
        eval(
            &p,
            "arn:aws:iam::444455556666:user/x",
            "kms:Decrypt",
            &foreign
        ),
        Decision::NotApplicable
    );
    let other_region = ConditionValues::new()
        .with("kms:CallerAccount", ACCT)
        .with("kms:ViaService", "ec2.eu-west-1.amazonaws.com");
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &other_region),
        Decision::NotApplicable
    );
}

#[test]
fn aws_managed_workspaces_key_policy_allows_workspaces_and_ec2() {
    let text = aws_managed_key_policy("workspaces", ACCT, "us-west-2").unwrap();
    let p = PolicyDocument::parse_key_policy(&text).unwrap();
    assert_eq!(p.id(), Some("auto-workspaces-1"));
    for svc in [
        "workspaces.us-west-2.amazonaws.com",
        "ec2.us-west-2.amazonaws.com",
    ] {
        let cv = ConditionValues::new()
            .with("kms:CallerAccount", ACCT)
            .with("kms:ViaService", svc);
        assert!(
            matches!(
                eval(&p, ALICE, "kms:CreateGrant", &cv),
                Decision::Allow { .. }
            ),
            "{svc}"
        );
    }
    let cv = ConditionValues::new()
        .with("kms:CallerAccount", ACCT)
        .with("kms:ViaService", "rds.us-west-2.amazonaws.com");
    assert_eq!(eval(&p, ALICE, "kms:Decrypt", &cv), Decision::NotApplicable);
    assert_eq!(aws_managed_key_policy("s3", ACCT, "us-west-2"), None);
}

fn key_policy(statements: &str) -> PolicyDocument {
    PolicyDocument::parse_key_policy(&format!(
        r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#
    ))
    .expect("a valid key policy")
}

#[test]
fn explicit_deny_wins_over_allow_and_delegation() {
    let p = key_policy(
        r#"{"Sid": "All", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"},
           {"Sid": "NoDelete", "Effect": "Deny", "Principal": {"AWS": "111122223333"}, "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}"#,
    );
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &none()),
        Decision::Allow { sid: sid("All") }
    );
    // A Deny naming the account root applies to every principal of the account.
    assert_eq!(
        eval(&p, ALICE, "kms:ScheduleKeyDeletion", &none()),
        Decision::ExplicitDeny {
            sid: sid("NoDelete")
        }
    );
    assert_eq!(
        eval(&p, ROOT, "kms:ScheduleKeyDeletion", &none()),
        Decision::ExplicitDeny {
            sid: sid("NoDelete")
        }
    );
    assert_eq!(
        eval(
            &p,
            "arn:aws:iam::444455556666:root",
            "kms:ScheduleKeyDeletion",
            &none()
        ),
        Decision::Allow { sid: sid("All") }
    );
}

#[test]
fn direct_allow_beats_delegation_and_first_sid_is_reported() {
    let p = key_policy(
        r#"{"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"},
           {"Sid": "Alice1", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"}, "Action": "kms:Decrypt", "Resource": "*"},
           {"Sid": "Alice2", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"}, "Action": "kms:*", "Resource": "*"}"#,
    );
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &none()),
        Decision::Allow { sid: sid("Alice1") }
    );
    assert_eq!(
        eval(&p, ALICE, "kms:Encrypt", &none()),
        Decision::Allow { sid: sid("Alice2") }
    );
    assert_eq!(
        eval(
            &p,
            "arn:aws:iam::111122223333:user/bob",
            "kms:Encrypt",
            &none()
        ),
        Decision::DelegatedToIam { sid: sid("Root") }
    );
}

#[test]
fn not_action_not_resource_and_missing_elements() {
    let p = key_policy(
        r#"{"Sid": "NA", "Effect": "Allow", "Principal": "*", "NotAction": ["kms:Schedule*", "kms:Disable*"], "Resource": "*"},
           {"Sid": "NoAction", "Effect": "Deny", "Principal": "*", "Resource": "*"},
           {"Sid": "NoResource", "Effect": "Deny", "Principal": "*", "Action": "kms:*"}"#,
    );
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &none()),
        Decision::Allow { sid: sid("NA") }
    );
    assert_eq!(
        eval(&p, ALICE, "kms:ScheduleKeyDeletion", &none()),
        Decision::NotApplicable
    );
    assert_eq!(
        eval(&p, ALICE, "kms:disablekey", &none()),
        Decision::NotApplicable
    );
    let nr = key_policy(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "NotResource": "arn:aws:kms:*:*:key/1234abcd-*"}"#,
    );
    assert_eq!(
        eval(&nr, ALICE, "kms:Decrypt", &none()),
        Decision::NotApplicable
    );
    assert_eq!(
        nr.allows(
            ALICE,
            "kms:Decrypt",
            "arn:aws:kms:us-west-2:111122223333:key/ffff",
            &none()
        ),
        Decision::Allow { sid: None }
    );
}

#[test]
fn not_principal_excludes_direct_matches() {
    let p = key_policy(
        r#"{"Sid": "AllButAlice", "Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:role/Admin"]}, "Action": "kms:PutKeyPolicy", "Resource": "*"}"#,
    );
    assert_eq!(
        eval(&p, ALICE, "kms:PutKeyPolicy", &none()),
        Decision::NotApplicable
    );
    assert_eq!(
        eval(
            &p,
            "arn:aws:sts::111122223333:assumed-role/Admin/s",
            "kms:PutKeyPolicy",
            &none()
        ),
        Decision::NotApplicable
    );
    assert_eq!(
        eval(
            &p,
            "arn:aws:iam::111122223333:user/bob",
            "kms:PutKeyPolicy",
            &none()
        ),
        Decision::ExplicitDeny {
            sid: sid("AllButAlice")
        }
    );
}

#[test]
fn service_principal_and_conditions() {
    let p = key_policy(
        r#"{"Sid": "Svc", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:aws:ebs:id": ["vol-1", "vol-2"]},
                          "Bool": {"kms:GrantIsForAWSResource": true}}}"#,
    );
    let ok = ConditionValues::new()
        .with("KMS:ENCRYPTIONCONTEXT:AWS:EBS:ID", "vol-2")
        .with("kms:GrantIsForAWSResource", "true");
    assert_eq!(
        eval(&p, "ec2.amazonaws.com", "kms:Decrypt", &ok),
        Decision::Allow { sid: sid("Svc") }
    );
    assert_eq!(eval(&p, ALICE, "kms:Decrypt", &ok), Decision::NotApplicable);
    let wrong_vol = ConditionValues::new()
        .with("kms:EncryptionContext:aws:ebs:id", "vol-3")
        .with("kms:GrantIsForAWSResource", "true");
    assert_eq!(
        eval(&p, "ec2.amazonaws.com", "kms:Decrypt", &wrong_vol),
        Decision::NotApplicable
    );
    let no_bool = ConditionValues::new().with("kms:EncryptionContext:aws:ebs:id", "vol-1");
    assert_eq!(
        eval(&p, "ec2.amazonaws.com", "kms:Decrypt", &no_bool),
        Decision::NotApplicable,
        "keys are ANDed"
    );
}

#[test]
fn encryption_context_keys_with_set_operators() {
    let p = key_policy(
        r#"{"Sid": "OnlyKnownKeys", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["aws:ebs:id", "aws:workspaces:sid-directoryid"]},
                          "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:ebs:id"}}}"#,
    );
    let ws = ConditionValues::new().with_many(
        "kms:EncryptionContextKeys",
        ["aws:ebs:id", "aws:workspaces:sid-directoryid"],
    );
    assert!(matches!(
        eval(&p, ALICE, "kms:Decrypt", &ws),
        Decision::Allow { .. }
    ));
    let extra = ConditionValues::new().with_many("kms:EncryptionContextKeys", ["aws:ebs:id", "x"]);
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &extra),
        Decision::NotApplicable
    );
    let empty = ConditionValues::new();
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &empty),
        Decision::NotApplicable,
        "ForAnyValue is false on an empty set"
    );
}

#[test]
fn condition_values_may_be_numbers_and_bools() {
    let p = key_policy(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
            "Condition": {"NumericLessThanEquals": {"kms:X": 64}, "Bool": {"kms:B": [false]},
                          "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}"#,
    );
    let cv = ConditionValues::new()
        .with("kms:x", "64")
        .with("kms:b", "false")
        .with("aws:CurrentTime", "2026-11-26T20:00:00Z");
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &cv),
        Decision::Allow { sid: None }
    );
    let big = cv.clone().with("kms:X", "65");
    // multi-valued without a set operator: any value matching is enough
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &big),
        Decision::Allow { sid: None }
    );
    let only_big = ConditionValues::new()
        .with("kms:X", "65")
        .with("kms:b", "false")
        .with("aws:CurrentTime", "2026-11-26T20:00:00Z");
    assert_eq!(
        eval(&p, ALICE, "kms:Decrypt", &only_big),
        Decision::NotApplicable
    );
}

#[test]
fn to_json_round_trips_and_is_readable() {
    let p = PolicyDocument::parse_key_policy(&seed_fixed()).unwrap();
    let again = PolicyDocument::parse_key_policy(&p.to_json()).unwrap();
    assert_eq!(p, again);
    let m = PolicyDocument::parse_key_policy(
        &aws_managed_key_policy("workspaces", ACCT, "us-west-2").unwrap(),
    )
    .unwrap();
    let j = m.to_json();
    assert_eq!(PolicyDocument::parse_key_policy(&j).unwrap(), m);
    assert!(j.contains("\"StringEquals\" : {"), "{j}");
    let i = PolicyDocument::parse_identity_policy(ADMIN_IAM_POLICY).unwrap();
    assert_eq!(
        PolicyDocument::parse_identity_policy(&i.to_json()).unwrap(),
        i
    );
}

#[test]
fn escaped_characters_round_trip_and_duplicate_operators_are_rejected() {
    let p = key_policy(
        r#"{"Sid": "\u3042\ud83d\ude00\t", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}"#,
    );
    assert_eq!(p.sids().next(), Some(Some("\u{3042}\u{1f600}\t")));
    let j = p.to_json();
    assert!(j.is_ascii(), "{j}");
    assert_eq!(
        PolicyDocument::parse_key_policy(&j).expect("canonical JSON"),
        p
    );
    let e = grammar_err(
        r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
            "Condition": {"StringEquals": {"kms:A": "x"}, "stringequals": {"kms:A": "y"}}}}"#,
    );
    assert!(e.message.contains("appears twice"), "{e}");
    assert_eq!((e.line, e.column), (2, 59));
}

#[test]
fn errors_convert_to_kms_errors() {
    let e = PolicyDocument::parse_key_policy("{").unwrap_err();
    let k = ebsim_kms::KmsError::from(&e);
    assert_eq!(k.error_type, ErrorType::MalformedPolicyDocumentException);
    assert!(k.message.unwrap_or_default().contains("line 1, column 2"));
}
