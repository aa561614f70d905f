//! Tests of the `Condition` block and the request's condition keys.

use super::*;

#[test]
fn key_facts_answer_like_entries() {
    let mut cv = ConditionValues::new();
    cv.set_key_facts("EXTERNAL", Some("REPLICA"));
    assert_eq!(cv.get("kms:KeyOrigin"), Some(&["EXTERNAL".to_owned()][..]));
    assert_eq!(cv.get("kms:MultiRegion"), Some(&["true".to_owned()][..]));
    assert_eq!(
        cv.get("kms:MultiRegionKeyType"),
        Some(&["REPLICA".to_owned()][..])
    );
    let mut single = ConditionValues::new();
    single.set_key_facts("AWS_KMS", None);
    assert_eq!(
        single.get("kms:multiregion"),
        Some(&["false".to_owned()][..])
    );
    assert_eq!(single.get("kms:MultiRegionKeyType"), None);
    // A value outside the fixed set still answers.
    let mut odd = ConditionValues::new();
    odd.set_key_facts("SOMETHING_NEW", None);
    assert_eq!(
        odd.get("kms:KeyOrigin"),
        Some(&["SOMETHING_NEW".to_owned()][..])
    );
    // A condition over them decides as over inserted values.
    let c = cond("StringEquals", "kms:KeyOrigin", &["EXTERNAL"]);
    assert!(c.evaluate(&cv));
    assert!(!c.evaluate(&single));
}

#[test]
fn keys_are_one_entry_whatever_their_case_ascii_or_not() {
    let mut cv = ConditionValues::new();
    cv.insert("kms:KeyOrigin", "AWS_KMS");
    cv.insert("KMS:KEYORIGIN", "EXTERNAL");
    cv.insert("kms:EncryptionContext:Ärger", "a");
    cv.insert("kms:encryptioncontext:ärger", "b");
    // U+212A KELVIN SIGN lowercases to an ASCII `k`.
    cv.insert("\u{212A}ms:CallerAccount", "1");
    cv.insert("kms:calleraccount", "2");
    assert_eq!(cv.iter().count(), 3);
    assert_eq!(
        cv.get("kms:keyorigin"),
        Some(&["AWS_KMS".to_owned(), "EXTERNAL".to_owned()][..])
    );
    assert_eq!(
        cv.get("KMS:ENCRYPTIONCONTEXT:ÄRGER").map(<[String]>::len),
        Some(2)
    );
    assert_eq!(cv.get("kms:CallerAccount").map(<[String]>::len), Some(2));
}

fn cond(op: &str, key: &str, vals: &[&str]) -> Condition {
    let op = Operator::parse(op).unwrap();
    let raw: Vec<String> = vals.iter().map(|s| s.to_string()).collect();
    let values = compile_values(op.kind, &raw).unwrap();
    Condition {
        op,
        key: key.into(),
        key_lc: key.to_lowercase(),
        raw,
        values,
    }
}

#[test]
fn operator_names_parse_with_qualifiers() {
    let o = Operator::parse("forallvalues:stringnotlikeifexists").unwrap();
    assert_eq!(o.kind, OpKind::StringLike);
    assert!(o.negated && o.if_exists);
    assert_eq!(o.set, SetQualifier::ForAllValues);
    assert_eq!(o.name, "ForAllValues:StringNotLikeIfExists");
    assert!(Operator::parse("StringEqual").is_none());
    assert!(Operator::parse("NullIfExists").is_none());
    assert!(Operator::parse("IpAddress").is_none());
}

#[test]
fn condition_values_are_case_insensitive_and_multi_valued() {
    let mut cv = ConditionValues::new();
    cv.insert("kms:EncryptionContext:Dept", "IT")
        .insert("KMS:ViaService", "a");
    cv.insert_many("kms:EncryptionContextKeys", ["a", "b"]);
    cv.insert("kms:encryptioncontextkeys", "c");
    assert_eq!(
        cv.get("KMS:ENCRYPTIONCONTEXT:dept"),
        Some(&["IT".to_string()][..])
    );
    assert_eq!(
        cv.get("kms:EncryptionContextKeys").map(<[String]>::len),
        Some(3)
    );
    assert_eq!(cv.get("kms:Nothing"), None);
}

#[test]
fn string_operators() {
    let cv = ConditionValues::new().with("kms:ViaService", "ec2.us-west-2.amazonaws.com");
    assert!(
        cond(
            "StringEquals",
            "KMS:VIASERVICE",
            &["x", "ec2.us-west-2.amazonaws.com"]
        )
        .evaluate(&cv)
    );
    assert!(
        !cond(
            "StringEquals",
            "kms:ViaService",
            &["EC2.us-west-2.amazonaws.com"]
        )
        .evaluate(&cv)
    );
    assert!(
        cond(
            "StringEqualsIgnoreCase",
            "kms:ViaService",
            &["EC2.US-WEST-2.amazonaws.com"]
        )
        .evaluate(&cv)
    );
    assert!(
        !cond(
            "StringNotEqualsIgnoreCase",
            "kms:ViaService",
            &["EC2.US-WEST-2.amazonaws.com"]
        )
        .evaluate(&cv)
    );
    assert!(cond("StringLike", "kms:ViaService", &["ec2.*.amazonaws.com"]).evaluate(&cv));
    assert!(!cond("StringNotLike", "kms:ViaService", &["ec2.*"]).evaluate(&cv));
    assert!(
        cond(
            "StringNotEquals",
            "kms:ViaService",
            &["rds.us-west-2.amazonaws.com"]
        )
        .evaluate(&cv)
    );
    assert!(
        !cond(
            "StringNotEquals",
            "kms:ViaService",
            &["x", "ec2.us-west-2.amazonaws.com"]
        )
        .evaluate(&cv)
    );
}

#[test]
fn missing_keys() {
    let cv = ConditionValues::new().with_many("kms:EncryptionContextKeys", Vec::<String>::new());
    assert!(!cond("StringEquals", "kms:ViaService", &["a"]).evaluate(&cv));
    assert!(cond("StringEqualsIfExists", "kms:ViaService", &["a"]).evaluate(&cv));
    assert!(cond("StringNotEquals", "kms:ViaService", &["a"]).evaluate(&cv));
    assert!(cond("Null", "kms:ViaService", &["true"]).evaluate(&cv));
    assert!(!cond("Null", "kms:ViaService", &["false"]).evaluate(&cv));
    // present but empty is missing
    assert!(
        cond(
            "ForAllValues:StringEquals",
            "kms:EncryptionContextKeys",
            &["a"]
        )
        .evaluate(&cv)
    );
    assert!(
        !cond(
            "ForAnyValue:StringEquals",
            "kms:EncryptionContextKeys",
            &["a"]
        )
        .evaluate(&cv)
    );
    assert!(cond("Null", "kms:EncryptionContextKeys", &["true"]).evaluate(&cv));
}

#[test]
fn set_qualifiers() {
    let cv = ConditionValues::new().with_many("kms:GrantOperations", ["Decrypt", "Encrypt"]);
    let k = "kms:GrantOperations";
    assert!(
        cond(
            "ForAllValues:StringEquals",
            k,
            &["Decrypt", "Encrypt", "RetireGrant"]
        )
        .evaluate(&cv)
    );
    assert!(!cond("ForAllValues:StringEquals", k, &["Decrypt"]).evaluate(&cv));
    assert!(cond("ForAnyValue:StringEquals", k, &["Decrypt"]).evaluate(&cv));
    assert!(!cond("ForAnyValue:StringEquals", k, &["Sign"]).evaluate(&cv));
    assert!(cond("ForAnyValue:StringNotEquals", k, &["Decrypt"]).evaluate(&cv));
    assert!(!cond("ForAllValues:StringNotEquals", k, &["Decrypt"]).evaluate(&cv));
}

#[test]
fn case_variant_context_keys_hold_for_every_pair_in_allow_and_any_in_deny() {
    // {tenant: bob, TENANT: alice}: two values under one (case-insensitive) key.
    let cv = ConditionValues::new()
        .with("kms:EncryptionContext:tenant", "bob")
        .with("kms:EncryptionContext:TENANT", "alice");
    let k = "kms:EncryptionContext:tenant";
    let allow_bob = cond("StringEquals", k, &["bob"]);
    assert!(!allow_bob.evaluate_in(&cv, false), "alice is not bob");
    assert!(
        allow_bob.evaluate_in(&cv, true),
        "a Deny applies on any pair"
    );
    let deny_not_alice = cond("StringNotEquals", k, &["alice"]);
    assert!(deny_not_alice.evaluate_in(&cv, true), "bob is not alice");
    assert!(!deny_not_alice.evaluate_in(&cv, false));
    // One value: as before, whatever the statement.
    let one = ConditionValues::new().with(k, "bob");
    for deny in [false, true] {
        assert!(allow_bob.evaluate_in(&one, deny));
        assert!(deny_not_alice.evaluate_in(&one, deny));
    }
    // Other multi-valued keys keep IAM's any-value reading.
    let keys = ConditionValues::new().with_many("kms:EncryptionContextKeys", ["a", "b"]);
    assert!(cond("StringEquals", "kms:EncryptionContextKeys", &["a"]).evaluate_in(&keys, false));
}

#[test]
fn bool_numeric_date_arn() {
    let cv = ConditionValues::new()
        .with("kms:GrantIsForAWSResource", "true")
        .with("n", "10")
        .with("aws:CurrentTime", "2026-11-26T20:00:00Z")
        .with(
            "aws:SourceArn",
            "arn:aws:ec2:us-west-2:111122223333:volume/vol-1",
        );
    assert!(cond("Bool", "kms:GrantIsForAWSResource", &["True"]).evaluate(&cv));
    assert!(!cond("Bool", "kms:GrantIsForAWSResource", &["false"]).evaluate(&cv));
    assert!(cond("NumericLessThan", "n", &["11"]).evaluate(&cv));
    assert!(!cond("NumericLessThan", "n", &["10"]).evaluate(&cv));
    assert!(cond("NumericLessThanEquals", "n", &["10.0"]).evaluate(&cv));
    assert!(cond("NumericGreaterThan", "n", &["9.5"]).evaluate(&cv));
    assert!(cond("NumericGreaterThanEquals", "n", &["10"]).evaluate(&cv));
    assert!(cond("NumericNotEquals", "n", &["3"]).evaluate(&cv));
    assert!(cond("DateLessThan", "aws:CurrentTime", &["2027-01-01"]).evaluate(&cv));
    assert!(cond("DateGreaterThan", "aws:CurrentTime", &["1764100000"]).evaluate(&cv));
    assert!(
        cond(
            "DateEquals",
            "aws:CurrentTime",
            &["2026-11-26T21:00:00+01:00"]
        )
        .evaluate(&cv)
    );
    assert!(
        cond(
            "ArnLike",
            "aws:SourceArn",
            &["arn:aws:ec2:*:111122223333:volume/*"]
        )
        .evaluate(&cv)
    );
    assert!(
        cond(
            "ArnEquals",
            "aws:SourceArn",
            &["arn:aws:ec2:us-west-2:111122223333:volume/vol-1"]
        )
        .evaluate(&cv)
    );
    assert!(
        !cond(
            "ArnLike",
            "aws:SourceArn",
            &["arn:aws:ec2:*:444455556666:*"]
        )
        .evaluate(&cv)
    );
    assert!(cond("ArnNotLike", "aws:SourceArn", &["arn:aws:s3:::*"]).evaluate(&cv));
}

#[test]
fn value_validation() {
    assert!(compile_values(OpKind::NumericEquals, &["x".into()]).is_err());
    assert!(compile_values(OpKind::Bool, &["yes".into()]).is_err());
    assert!(compile_values(OpKind::DateEquals, &["2026-13-01".into()]).is_err());
    assert!(compile_values(OpKind::DateEquals, &["2026-02-01T10:00:00.5Z".into()]).is_ok());
}

#[test]
fn dates() {
    assert_eq!(parse_date("1970-01-01"), Some(0.0));
    assert_eq!(parse_date("1970-01-02T00:00:01Z"), Some(86_401.0));
    assert_eq!(parse_date("2000-03-01T00:00:00Z"), Some(951_868_800.0));
    assert_eq!(parse_date("1970-01-01T01:00:00+0100"), Some(0.0));
    assert_eq!(parse_date("1234"), Some(1234.0));
    assert_eq!(parse_date("2026-01-01Tx"), None);
    assert_eq!(parse_date("yesterday"), None);
}
