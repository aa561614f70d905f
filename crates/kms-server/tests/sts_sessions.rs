//! STS sessions over the wire: session tokens (missing, wrong, expired on the simulated
//! clock), durations and session policies; managed policies, pagination, and bad input that
//! changes nothing (docs/iam.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod iam_common;

use iam_common::*;

#[test]
fn session_tokens_are_required_checked_and_expire_on_the_simulated_clock() {
    let sim = start();
    let (alice, alice_arn) = sim.user("alice", &[]);
    let role = sim.iam(
        &root(),
        "CreateRole",
        &[
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", &trust(&alice_arn)),
            ("MaxSessionDuration", "7200"),
        ],
    );
    let role_arn = tag(&role, "Arn");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#;
    let r = sim.iam(
        &root(),
        "PutRolePolicy",
        &[
            ("RoleName", "r"),
            ("PolicyName", "l"),
            ("PolicyDocument", doc),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let session = assume(&sim, &alice, &role_arn, &[("DurationSeconds", "900")]).unwrap();
    let list = serde_json::json!({});
    assert_eq!(sim.kms(&session, "ListKeys", &list).status, 200);
    // Without its token, or with another: refused.
    let bare = Creds {
        token: None,
        ..session.clone()
    };
    assert_eq!(
        sim.kms(&bare, "ListKeys", &list).json()["__type"],
        "UnrecognizedClientException"
    );
    assert_eq!(
        code(&sim.sts(&bare, "GetCallerIdentity", &[]), 403),
        "InvalidClientTokenId"
    );
    let other = Creds {
        token: Some("bm90IHRoZSB0b2tlbg==".into()),
        ..session.clone()
    };
    assert_eq!(
        code(&sim.sts(&other, "GetCallerIdentity", &[]), 403),
        "InvalidClientTokenId"
    );
    // A token with a long-term key: refused.
    let stray = Creds {
        token: session.token.clone(),
        ..alice.clone()
    };
    assert_eq!(
        code(&sim.sts(&stray, "GetCallerIdentity", &[]), 403),
        "InvalidClientTokenId"
    );
    assert_eq!(
        sim.kms(&stray, "ListKeys", &list).json()["__type"],
        "UnrecognizedClientException"
    );
    // 899 seconds later it still works; at 900 it has expired.
    sim.clock.advance(899.0);
    assert_eq!(sim.kms(&session, "ListKeys", &list).status, 200);
    sim.clock.advance(1.0);
    let k = sim.kms(&session, "ListKeys", &list);
    assert_eq!(k.status, 400);
    assert_eq!(k.json()["__type"], "ExpiredTokenException");
    assert_eq!(
        code(&sim.sts(&session, "GetCallerIdentity", &[]), 403),
        "ExpiredToken"
    );
    // GetSessionToken: the user's own identity, refused by IAM.
    let r = sim.sts(&alice, "GetSessionToken", &[("DurationSeconds", "900")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let st = Creds {
        id: tag(&r, "AccessKeyId"),
        secret: tag(&r, "SecretAccessKey"),
        token: Some(tag(&r, "SessionToken")),
    };
    assert_eq!(
        tag(&sim.sts(&st, "GetCallerIdentity", &[]), "Arn"),
        alice_arn
    );
    assert_eq!(
        code(&sim.iam(&st, "GetUser", &[]), 403),
        "InvalidClientTokenId"
    );
    // Chained from GetSessionToken credentials: at most an hour.
    let chained = assume(&sim, &st, &role_arn, &[("DurationSeconds", "3601")])
        .err()
        .unwrap();
    assert_eq!(code(&chained, 400), "ValidationError");
    assert!(chained.body.contains("role chaining"), "{}", chained.body);
}

#[test]
fn durations_and_session_policies() {
    let sim = start();
    let (alice, alice_arn) = sim.user("alice", &[]);
    let r = sim.iam(
        &root(),
        "CreateRole",
        &[
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", &trust(&alice_arn)),
            ("MaxSessionDuration", "7200"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let role_arn = tag(&r, "Arn");
    assert_eq!(
        tag(
            &sim.iam(&root(), "GetRole", &[("RoleName", "r")]),
            "MaxSessionDuration"
        ),
        "7200"
    );
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}"#;
    assert_eq!(
        sim.iam(
            &root(),
            "PutRolePolicy",
            &[
                ("RoleName", "r"),
                ("PolicyName", "use"),
                ("PolicyDocument", doc)
            ]
        )
        .status,
        200
    );
    for (d, ok) in [
        ("899", false),
        ("900", true),
        ("7200", true),
        ("7201", false),
        ("43201", false),
    ] {
        let r = assume(&sim, &alice, &role_arn, &[("DurationSeconds", d)]);
        assert_eq!(r.is_ok(), ok, "{d}");
        if let Err(e) = r {
            assert_eq!(code(&e, 400), "ValidationError");
        }
    }
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "CreateRole",
                &[
                    ("RoleName", "r2"),
                    ("AssumeRolePolicyDocument", &trust(&alice_arn)),
                    ("MaxSessionDuration", "43201")
                ]
            ),
            400
        ),
        "ValidationError"
    );
    let key = sim.create_key();
    let blob = sim.encrypt(&key);
    // A session policy narrows the role to Decrypt.
    let only_decrypt = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#;
    let narrow = assume(&sim, &alice, &role_arn, &[("Policy", only_decrypt)]).unwrap();
    assert_eq!(
        sim.kms(
            &narrow,
            "Decrypt",
            &serde_json::json!({"CiphertextBlob": blob})
        )
        .status,
        200
    );
    let e = sim.kms(
        &narrow,
        "Encrypt",
        &serde_json::json!({"KeyId": key, "Plaintext": "aGk="}),
    );
    assert_eq!(e.json()["__type"], "AccessDeniedException");
    assert!(
        e.json()["Message"]
            .as_str()
            .unwrap()
            .contains("no session policy allows"),
        "{}",
        e.body
    );
    // It cannot widen it either: the role has no CreateKey.
    let wide = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    let widened = assume(&sim, &alice, &role_arn, &[("Policy", wide)]).unwrap();
    assert_eq!(
        sim.kms(&widened, "CreateKey", &serde_json::json!({}))
            .json()["__type"],
        "AccessDeniedException"
    );
    let full = assume(&sim, &alice, &role_arn, &[]).unwrap();
    assert_eq!(
        sim.kms(
            &full,
            "Encrypt",
            &serde_json::json!({"KeyId": key, "Plaintext": "aGk="})
        )
        .status,
        200
    );
    // A malformed session policy.
    assert_eq!(
        code(
            &assume(&sim, &alice, &role_arn, &[("Policy", "{")])
                .err()
                .unwrap(),
            400
        ),
        "MalformedPolicyDocument"
    );
}

#[test]
fn managed_policies_attach_detach_and_versions() {
    let sim = start();
    let (bob, _) = sim.user("bob", &[]);
    let list = serde_json::json!({});
    assert_eq!(
        sim.kms(&bob, "ListKeys", &list).json()["__type"],
        "AccessDeniedException"
    );
    let deny_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:ListKeys","Resource":"*"}]}"#;
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#;
    let r = sim.iam(
        &root(),
        "CreatePolicy",
        &[("PolicyName", "lister"), ("PolicyDocument", allow)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let arn = tag(&r, "Arn");
    assert_eq!(arn, "arn:aws:iam::111122223333:policy/lister");
    assert_eq!(tag(&r, "DefaultVersionId"), "v1");
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "CreatePolicy",
                &[("PolicyName", "LISTER"), ("PolicyDocument", allow)]
            ),
            409
        ),
        "EntityAlreadyExists"
    );
    assert_eq!(
        sim.iam(
            &root(),
            "AttachUserPolicy",
            &[("UserName", "bob"), ("PolicyArn", &arn)]
        )
        .status,
        200
    );
    assert_eq!(
        tag(
            &sim.iam(&root(), "GetPolicy", &[("PolicyArn", &arn)]),
            "AttachmentCount"
        ),
        "1"
    );
    assert_eq!(sim.kms(&bob, "ListKeys", &list).status, 200);
    let attached = sim.iam(&root(), "ListAttachedUserPolicies", &[("UserName", "bob")]);
    assert_eq!(tag(&attached, "PolicyArn"), arn);
    assert_eq!(
        code(
            &sim.iam(&root(), "DeletePolicy", &[("PolicyArn", &arn)]),
            409
        ),
        "DeleteConflict"
    );
    // A new default version takes effect for every holder.
    let v2 = sim.iam(
        &root(),
        "CreatePolicyVersion",
        &[
            ("PolicyArn", &arn),
            ("PolicyDocument", deny_all),
            ("SetAsDefault", "true"),
        ],
    );
    assert_eq!(tag(&v2, "VersionId"), "v2");
    assert_eq!(
        sim.kms(&bob, "ListKeys", &list).json()["__type"],
        "AccessDeniedException"
    );
    let v1 = sim.iam(
        &root(),
        "GetPolicyVersion",
        &[("PolicyArn", &arn), ("VersionId", "v1")],
    );
    assert_eq!(tag(&v1, "Document"), ebsim_iam::xml::encode_document(allow));
    assert_eq!(tag(&v1, "IsDefaultVersion"), "false");
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "GetPolicyVersion",
                &[("PolicyArn", &arn), ("VersionId", "v9")]
            ),
            404
        ),
        "NoSuchEntity"
    );
    assert_eq!(
        sim.iam(
            &root(),
            "DetachUserPolicy",
            &[("UserName", "bob"), ("PolicyArn", &arn)]
        )
        .status,
        200
    );
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "DetachUserPolicy",
                &[("UserName", "bob"), ("PolicyArn", &arn)]
            ),
            404
        ),
        "NoSuchEntity"
    );
    assert_eq!(
        sim.kms(&bob, "ListKeys", &list).json()["__type"],
        "AccessDeniedException"
    );
    // Two versions: DeletePolicy refuses until only the default one is left.
    assert_eq!(
        code(
            &sim.iam(&root(), "DeletePolicy", &[("PolicyArn", &arn)]),
            409
        ),
        "DeleteConflict"
    );
    assert_eq!(
        code(
            &sim.iam(&root(), "GetPolicy", &[("PolicyArn", "not-an-arn")]),
            400
        ),
        "ValidationError"
    );
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "AttachRolePolicy",
                &[("RoleName", "none"), ("PolicyArn", &arn)]
            ),
            404
        ),
        "NoSuchEntity"
    );
    let missing = "arn:aws:iam::111122223333:policy/missing";
    sim.iam(
        &root(),
        "CreateRole",
        &[
            ("RoleName", "x"),
            ("AssumeRolePolicyDocument", &trust("111122223333")),
        ],
    );
    assert_eq!(
        code(
            &sim.iam(
                &root(),
                "AttachRolePolicy",
                &[("RoleName", "x"), ("PolicyArn", missing)]
            ),
            404
        ),
        "NoSuchEntity"
    );
}

#[test]
fn pagination_over_150_users() {
    let sim = start();
    for i in 0..150 {
        let r = sim.iam(&root(), "CreateUser", &[("UserName", &format!("u{i:03}"))]);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut p = vec![("MaxItems", "40")];
        if let Some(m) = &marker {
            p.push(("Marker", m.as_str()));
        }
        let r = sim.iam(&root(), "ListUsers", &p);
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        names.extend(
            r.body
                .split("<UserName>")
                .skip(1)
                .map(|s| s.split('<').next().unwrap().to_owned()),
        );
        if tag(&r, "IsTruncated") == "false" {
            assert!(!r.body.contains("<Marker>"));
            break;
        }
        marker = Some(tag(&r, "Marker"));
    }
    assert_eq!(pages, 4);
    let expected: Vec<String> = (0..150).map(|i| format!("u{i:03}")).collect();
    assert_eq!(names, expected);
    assert_eq!(
        code(&sim.iam(&root(), "ListUsers", &[("MaxItems", "0")]), 400),
        "ValidationError"
    );
    assert_eq!(
        code(&sim.iam(&root(), "ListUsers", &[("MaxItems", "1001")]), 400),
        "ValidationError"
    );
}

#[test]
fn bad_input_gets_aws_codes_and_changes_nothing() {
    let sim = start();
    let (alice, alice_arn) = sim.user("alice", &[]);
    let before = sim.iam(&root(), "ListUsers", &[]).body;
    let roles_before = sim.iam(&root(), "ListRoles", &[]).body;
    let cases: Vec<(Response, u16, &str)> = vec![
        (sim.raw(&root(), "iam", b"Action=CreateUser&Version=2010-05-08&UserName=%zz"), 400, "MalformedQueryString"),
        (sim.raw(&root(), "iam", b"Action=CreateUser&Version=2010-05-08&UserName=%ff%fe"), 400, "MalformedQueryString"),
        (sim.raw(&root(), "iam", b"Action=CreateUser&Version=2010-05-08&UserName=a&UserName=b"), 400, "MalformedQueryString"),
        (sim.raw(&root(), "iam", b"Action=CreateUser&Version=2010-05-08&UserName=a%00b"), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", "bad name")]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", "a/b")]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", &"a".repeat(65))]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", "ok"), ("Path", "nopath")]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[]), 400, "ValidationError"),
        (sim.iam(&root(), "CreateUser", &[("UserName", "Alice")]), 409, "EntityAlreadyExists"),
        (sim.iam(&root(), "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", "{not json")]), 400, "MalformedPolicyDocument"),
        (sim.iam(&root(), "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Principal":{"AWS":"111122223333"}}]}"#)]), 400, "MalformedPolicyDocument"),
        (sim.iam(&root(), "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", &format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"{}\",\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{{\"AWS\":\"111122223333\"}}}}]}}", "a".repeat(2100)))]), 409, "LimitExceeded"),
        (sim.iam(&root(), "PutUserPolicy", &[("UserName", "alice"), ("PolicyName", "p"), ("PolicyDocument", r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":"*"}]}"#)]), 400, "MalformedPolicyDocument"),
        (sim.iam(&root(), "PutUserPolicy", &[("UserName", "alice"), ("PolicyName", "p"), ("PolicyDocument", &format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"kms:*","Resource":"*","Sid":"{}"}}]}}"#, "a".repeat(2100)))]), 409, "LimitExceeded"),
        (sim.iam(&root(), "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", &trust("arn:aws:iam::111122223333:user/nobody"))]), 400, "MalformedPolicyDocument"),
        (sim.iam(&root(), "UpdateAssumeRolePolicy", &[("RoleName", "missing"), ("PolicyDocument", &trust(&alice_arn))]), 404, "NoSuchEntity"),
        (sim.iam(&root(), "UpdateAccessKey", &[("UserName", "alice"), ("AccessKeyId", &alice.id), ("Status", "Paused")]), 400, "ValidationError"),
    ];
    for (r, status, want) in cases {
        assert_eq!(code(&r, status), want, "{}", r.body);
    }
    assert_eq!(
        sim.iam(&root(), "ListUsers", &[])
            .body
            .split("<RequestId>")
            .next(),
        before.split("<RequestId>").next()
    );
    assert_eq!(
        sim.iam(&root(), "ListRoles", &[])
            .body
            .split("<RequestId>")
            .next(),
        roles_before.split("<RequestId>").next()
    );
    // A trust policy naming a user that exists is taken; once the role exists, one naming a
    // user that does not is refused and the role keeps its trust policy.
    let ok = sim.iam(
        &root(),
        "CreateRole",
        &[
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", &trust(&alice_arn)),
        ],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let bad_trust = sim.iam(
        &root(),
        "UpdateAssumeRolePolicy",
        &[
            ("RoleName", "r"),
            (
                "PolicyDocument",
                &trust("arn:aws:iam::111122223333:role/ghost"),
            ),
        ],
    );
    assert_eq!(code(&bad_trust, 400), "MalformedPolicyDocument");
    assert!(
        bad_trust.body.contains("Invalid principal in policy"),
        "{}",
        bad_trust.body
    );
    let role = sim.iam(&root(), "GetRole", &[("RoleName", "r")]);
    assert_eq!(
        tag(&role, "AssumeRolePolicyDocument"),
        ebsim_iam::xml::encode_document(&trust(&alice_arn))
    );
    let policies = sim.iam(&root(), "ListUserPolicies", &[("UserName", "alice")]);
    assert!(
        policies.body.contains("<PolicyNames></PolicyNames>"),
        "{}",
        policies.body
    );
}
