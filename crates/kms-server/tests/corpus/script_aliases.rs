//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases, their refusals, and the
//! quota of 50 aliases per key.

use serde_json::json;

use crate::harness::{Corpus, Who};
use crate::script_access::OTHER_ROOT;
use crate::script_keys::{Keys, key_of};

pub fn run(c: &mut Corpus, k: &Keys, alice: &Who, bob: &Who) {
    let root = Who::Root;
    for (step, who, op, body) in [
        (
            "aliases/create alias/corpus-b",
            &root,
            "CreateAlias",
            json!({"AliasName": "alias/corpus-b", "TargetKeyId": k.b.arn}),
        ),
        (
            "aliases/bob creates alias/bob-1",
            bob,
            "CreateAlias",
            json!({"AliasName": "alias/bob-1", "TargetKeyId": k.b.id}),
        ),
        (
            "aliases/alice create refused: no identity policy",
            alice,
            "CreateAlias",
            json!({"AliasName": "alias/alice-1", "TargetKeyId": k.b.id}),
        ),
        (
            "aliases/create refused: no AliasName",
            &root,
            "CreateAlias",
            json!({"TargetKeyId": k.b.id}),
        ),
        (
            "aliases/create refused: no alias/ prefix",
            &root,
            "CreateAlias",
            json!({"AliasName": "corpus", "TargetKeyId": k.b.id}),
        ),
        (
            "aliases/create refused: bad characters",
            &root,
            "CreateAlias",
            json!({"AliasName": "alias/a b", "TargetKeyId": k.b.id}),
        ),
        (
            "aliases/create refused: only the prefix",
            &root,
            "CreateAlias",
            json!({"AliasName": "alias/", "TargetKeyId": k.b.id}),
        ),
        (
            "aliases/create refused: alias/aws/ is reserved",
            &root,
            "CreateAlias",
            json!({"AliasName": "alias/aws/mine", "TargetKeyId": k.b.id}),
        ),
        (
            "aliases/create refused: exists",
            &root,
            "CreateAlias",
            json!({"AliasName": "alias/corpus-b", "TargetKeyId": k.b.id}),
        ),
        (
            "aliases/create refused: no TargetKeyId",
            &root,
            "CreateAlias",
            json!({"AliasName": "alias/new"}),
        ),
        (
            "aliases/create refused: target is an alias",
            &root,
            "CreateAlias",
            json!({"AliasName": "alias/new", "TargetKeyId": "alias/corpus-a"}),
        ),
        (
            "aliases/create refused: target does not exist",
            &root,
            "CreateAlias",
            json!({"AliasName": "alias/new", "TargetKeyId": "00000000-0000-4000-8000-000000000000"}),
        ),
        (
            "aliases/update alias/corpus-b to a",
            &root,
            "UpdateAlias",
            json!({"AliasName": "alias/corpus-b", "TargetKeyId": k.a.id}),
        ),
        (
            "aliases/update refused: no such alias",
            &root,
            "UpdateAlias",
            json!({"AliasName": "alias/none", "TargetKeyId": k.a.id}),
        ),
        ("aliases/list", &root, "ListAliases", json!({})),
        (
            "aliases/list for key a",
            &root,
            "ListAliases",
            json!({"KeyId": k.a.arn}),
        ),
        (
            "aliases/list, two per page",
            &root,
            "ListAliases",
            json!({"Limit": 2}),
        ),
        (
            "aliases/list, page from marker 2",
            &root,
            "ListAliases",
            json!({"Limit": 2, "Marker": "2"}),
        ),
        (
            "aliases/list refused: alias as KeyId",
            &root,
            "ListAliases",
            json!({"KeyId": "alias/corpus-a"}),
        ),
        (
            "aliases/list refused: Limit 101",
            &root,
            "ListAliases",
            json!({"Limit": 101}),
        ),
        (
            "aliases/delete alias/corpus-b",
            &root,
            "DeleteAlias",
            json!({"AliasName": "alias/corpus-b"}),
        ),
        (
            "aliases/delete refused: no such alias",
            &root,
            "DeleteAlias",
            json!({"AliasName": "alias/corpus-b"}),
        ),
        (
            "aliases/bob delete refused: no identity policy",
            bob,
            "DeleteAlias",
            json!({"AliasName": "alias/bob-1"}),
        ),
    ] {
        c.kms(step, who, op, body);
    }
    // Fifty aliases per key, in the other account (so that the default account's listings
    // stay short).
    let other = Who::acting(OTHER_ROOT);
    let target = key_of(
        "aliases/other account creates the alias quota key",
        &c.kms(
            "aliases/other account creates the alias quota key",
            &other,
            "CreateKey",
            json!({}),
        ),
    );
    for i in 0..50 {
        c.kms(
            &format!("aliases/quota alias {} of 50", i + 1),
            &other,
            "CreateAlias",
            json!({"AliasName": format!("alias/q{i:02}"), "TargetKeyId": target.id}),
        );
    }
    c.kms(
        "aliases/quota refused: a 51st alias",
        &other,
        "CreateAlias",
        json!({"AliasName": "alias/q50", "TargetKeyId": target.arn}),
    );
    c.kms(
        "aliases/quota: re-pointing one of the 50 at its key",
        &other,
        "UpdateAlias",
        json!({"AliasName": "alias/q00", "TargetKeyId": target.id}),
    );
}
