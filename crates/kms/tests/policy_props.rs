//! Property tests of policy evaluation against a naive reference evaluator, explicit-deny
//! precedence, and the canonical JSON round trip.

use ebsim_kms::policy::{ConditionValues, Decision, PolicyDocument, RequestContext};
use proptest::prelude::*;

const KEY: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Principals a statement may name (the last is a service principal).
const PRINCIPALS: &[&str] = &[
    "*",
    "arn:aws:iam::111122223333:root",
    "111122223333",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:role/R",
    "arn:aws:iam::444455556666:root",
    "ec2.amazonaws.com",
];

const CALLERS: &[&str] = &[
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:user/bob",
    "arn:aws:sts::111122223333:assumed-role/R/session",
    "arn:aws:sts::111122223333:assumed-role/S/session",
    "arn:aws:iam::444455556666:root",
    "arn:aws:iam::444455556666:user/carol",
    "ec2.amazonaws.com",
];

const ACTION_PATTERNS: &[&str] = &[
    "kms:*",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:*Key*",
    "KMS:decrypt",
    "kms:Re?ncrypt*",
    "*",
];

const ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:PutKeyPolicy",
    "kms:DescribeKey",
];

const VIA: &[&str] = &["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"];

#[derive(Debug, Clone)]
struct Stmt {
    sid: Option<u8>,
    deny: bool,
    principals: Vec<usize>,
    actions: Vec<usize>,
    not_action: bool,
    has_action: bool,
    has_resource: bool,
    /// (negated, values)
    via: Option<(bool, Vec<usize>)>,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        proptest::option::of(any::<u8>()),
        any::<bool>(),
        proptest::collection::vec(0..PRINCIPALS.len(), 1..3),
        proptest::collection::vec(0..ACTION_PATTERNS.len(), 1..3),
        any::<bool>(),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
        proptest::option::of((any::<bool>(), proptest::collection::vec(0..VIA.len(), 1..3))),
    )
        .prop_map(
            |(sid, deny, principals, actions, not_action, has_action, has_resource, via)| Stmt {
                sid,
                deny,
                principals,
                actions,
                not_action,
                has_action,
                has_resource,
                via,
            },
        )
}

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

fn render(stmts: &[Stmt]) -> String {
    let mut out = Vec::new();
    for (i, s) in stmts.iter().enumerate() {
        let mut f = Vec::new();
        if let Some(sid) = s.sid {
            // index keeps Sids unique
            f.push(format!("\"Sid\": \"S{i} {sid}\""));
        }
        f.push(format!(
            "\"Effect\": {}",
            q(if s.deny { "Deny" } else { "Allow" })
        ));
        let (aws, svc): (Vec<_>, Vec<_>) = s
            .principals
            .iter()
            .map(|&p| PRINCIPALS[p])
            .partition(|p| !p.ends_with(".com"));
        let mut kinds = Vec::new();
        if !aws.is_empty() {
            kinds.push(format!("\"AWS\": {}", list(aws.iter().map(|p| q(p)))));
        }
        if !svc.is_empty() {
            kinds.push(format!("\"Service\": {}", list(svc.iter().map(|p| q(p)))));
        }
        f.push(format!("\"Principal\": {{{}}}", kinds.join(", ")));
        if s.has_action {
            let name = if s.not_action { "NotAction" } else { "Action" };
            f.push(format!(
                "\"{name}\": {}",
                list(s.actions.iter().map(|&a| q(ACTION_PATTERNS[a])))
            ));
        }
        if s.has_resource {
            f.push("\"Resource\": \"*\"".into());
        }
        if let Some((neg, vals)) = &s.via {
            let op = if *neg {
                "StringNotEquals"
            } else {
                "StringEquals"
            };
            f.push(format!(
                "\"Condition\": {{\"{op}\": {{\"kms:ViaService\": {}}}}}",
                list(vals.iter().map(|&v| q(VIA[v])))
            ));
        }
        out.push(format!("{{{}}}", f.join(", ")));
    }
    format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [{}]}}",
        out.join(",\n")
    )
}

fn ref_glob(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => ref_glob(rest, t) || (!t.is_empty() && ref_glob(p, &t[1..])),
        Some(('?', rest)) => !t.is_empty() && ref_glob(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && ref_glob(rest, &t[1..]),
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Rel {
    None,
    Account,
    Direct,
}

fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}

fn ref_principal(p: &str, caller: &str) -> Rel {
    let p = if p.len() == 12 {
        "arn:aws:iam::111122223333:root"
    } else {
        p
    };
    if p == "*" || p == caller {
        return Rel::Direct;
    }
    if let Some(acct) = p
        .strip_suffix(":root")
        .and_then(|r| r.strip_prefix("arn:aws:iam::"))
    {
        return if account_of(caller) == Some(acct) {
            Rel::Account
        } else {
            Rel::None
        };
    }
    if let Some(role) = p.strip_prefix("arn:aws:iam::111122223333:role/")
        && caller.starts_with(&format!("arn:aws:sts::111122223333:assumed-role/{role}/"))
    {
        return Rel::Direct;
    }
    Rel::None
}

/// Naive evaluation of the generated grammar.
fn reference(stmts: &[Stmt], caller: &str, action: &str, via: Option<&str>) -> Decision {
    let mut allow = None;
    let mut delegated = None;
    for (i, s) in stmts.iter().enumerate() {
        if !s.has_action || !s.has_resource {
            continue;
        }
        let lc: Vec<char> = action.to_lowercase().chars().collect();
        let any = s.actions.iter().any(|&a| {
            ref_glob(
                &ACTION_PATTERNS[a]
                    .to_lowercase()
                    .chars()
                    .collect::<Vec<_>>(),
                &lc,
            )
        });
        if any == s.not_action {
            continue;
        }
        let rels: Vec<Rel> = s
            .principals
            .iter()
            .map(|&p| ref_principal(PRINCIPALS[p], caller))
            .collect();
        let rel = if rels.contains(&Rel::Direct) {
            Rel::Direct
        } else if rels.contains(&Rel::Account) {
            Rel::Account
        } else {
            continue;
        };
        if let Some((neg, vals)) = &s.via {
            let hit = via.is_some_and(|v| vals.iter().any(|&x| VIA[x] == v));
            let ok = if *neg { !hit } else { hit };
            if !ok {
                continue;
            }
        }
        let sid = s.sid.map(|x| format!("S{i} {x}"));
        if s.deny {
            return Decision::ExplicitDeny { sid };
        }
        if rel == Rel::Direct {
            allow.get_or_insert(sid);
        } else {
            delegated.get_or_insert(sid);
        }
    }
    match (allow, delegated) {
        (Some(sid), _) => Decision::Allow { sid },
        (None, Some(sid)) => Decision::DelegatedToIam { sid },
        _ => Decision::NotApplicable,
    }
}

fn conditions(via: Option<usize>) -> ConditionValues {
    let mut cv = ConditionValues::new();
    cv.insert("kms:CallerAccount", "111122223333");
    if let Some(v) = via {
        cv.insert("kms:ViaService", VIA[v]);
    }
    cv
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn evaluation_agrees_with_reference(
        stmts in proptest::collection::vec(stmt(), 1..6),
        caller in 0..CALLERS.len(),
        action in 0..ACTIONS.len(),
        via in proptest::option::of(0..VIA.len()),
    ) {
        let text = render(&stmts);
        let doc = PolicyDocument::parse_key_policy(&text).expect("generated policies are valid");
        let cv = conditions(via);
        let got = doc.evaluate(&RequestContext::new(CALLERS[caller], ACTIONS[action], KEY, &cv));
        let want = reference(&stmts, CALLERS[caller], ACTIONS[action], via.map(|v| VIA[v]));
        prop_assert_eq!(got, want, "{}", text);
    }

    #[test]
    fn explicit_deny_always_wins(
        stmts in proptest::collection::vec(stmt(), 0..5),
        at in 0usize..6,
        caller in 0..CALLERS.len(),
        action in 0..ACTIONS.len(),
        via in proptest::option::of(0..VIA.len()),
    ) {
        let mut stmts = stmts;
        // A Deny that matches this request: anyone, the exact action, no condition.
        let pattern = ACTION_PATTERNS.iter().position(|p| *p == "*").unwrap_or(0);
        let deny = Stmt {
            sid: Some(0), deny: true, principals: vec![0], actions: vec![pattern], not_action: false,
            has_action: true, has_resource: true, via: None,
        };
        stmts.insert(at.min(stmts.len()), deny);
        let doc = PolicyDocument::parse_key_policy(&render(&stmts)).expect("valid");
        let cv = conditions(via);
        let got = doc.evaluate(&RequestContext::new(CALLERS[caller], ACTIONS[action], KEY, &cv));
        prop_assert!(matches!(got, Decision::ExplicitDeny { .. }), "{:?}", got);
    }

    #[test]
    fn without_a_matching_allow_never_allow(
        stmts in proptest::collection::vec(stmt(), 1..5),
        caller in 0..CALLERS.len(),
        action in 0..ACTIONS.len(),
        via in proptest::option::of(0..VIA.len()),
    ) {
        // Turn every statement into a Deny, or drop its actions: nothing can allow.
        let stmts: Vec<Stmt> = stmts
            .into_iter()
            .map(|mut s| {
                if s.deny { s } else { s.has_action = false; s }
            })
            .collect();
        let doc = PolicyDocument::parse_key_policy(&render(&stmts)).expect("valid");
        let cv = conditions(via);
        let got = doc.evaluate(&RequestContext::new(CALLERS[caller], ACTIONS[action], KEY, &cv));
        prop_assert!(matches!(got, Decision::ExplicitDeny { .. } | Decision::NotApplicable), "{:?}", got);
    }

    #[test]
    fn canonical_json_round_trips(stmts in proptest::collection::vec(stmt(), 1..6)) {
        let doc = PolicyDocument::parse_key_policy(&render(&stmts)).expect("valid");
        let json = doc.to_json();
        let again = PolicyDocument::parse_key_policy(&json).expect("canonical JSON parses");
        prop_assert_eq!(&again, &doc);
        prop_assert_eq!(again.to_json(), json);
    }
}
