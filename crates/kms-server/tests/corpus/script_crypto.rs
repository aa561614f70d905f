//! The data plane: Encrypt, Decrypt, GenerateDataKey(WithoutPlaintext), ReEncrypt,
//! GenerateRandom, on both request paths (typed and general), their refusals, DryRun, and
//! the AWS managed key through a forwarding service.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::harness::{Corpus, Who};
use crate::script_keys::Keys;

/// `hello`, base64.
pub const HELLO: &str = "aGVsbG8=";
/// The EBS forwarding service name.
pub const EC2: &str = "ec2.us-west-2.amazonaws.com";

pub fn run(c: &mut Corpus, k: &Keys) {
    let root = Who::Root;
    c.norm.keep(HELLO);
    for literal in ["AAAA", "", "%%%"] {
        c.norm.keep(literal);
    }
    let ctx = json!({"purpose": "corpus", "aws:ebs:id": "vol-0123456789abcdef0"});
    let blob = c.kms(
        "crypto/encrypt hello (typed path)",
        &root,
        "Encrypt",
        json!({"KeyId": k.a.id, "Plaintext": HELLO, "EncryptionContext": ctx}),
    )["CiphertextBlob"]
        .clone();
    c.kms(
        "crypto/encrypt hello (general path: a null member)",
        &root,
        "Encrypt",
        json!({"KeyId": "alias/corpus-a", "Plaintext": HELLO, "EncryptionAlgorithm": null}),
    );
    let odd = json!({"odd \"key\"\n": "tab\t \\ é ☃", "/slash": "</script>"});
    let odd_blob = c.kms(
        "crypto/encrypt with a context needing escapes",
        &root,
        "Encrypt",
        json!({"KeyId": k.a.arn, "Plaintext": HELLO, "EncryptionContext": odd, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    )["CiphertextBlob"]
        .clone();
    c.kms(
        "crypto/decrypt the escaped-context blob",
        &root,
        "Decrypt",
        json!({"CiphertextBlob": odd_blob, "EncryptionContext": odd}),
    );
    for (step, body) in [
        (
            "crypto/decrypt hello",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
        ),
        (
            "crypto/decrypt naming the key by alias",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": "alias/corpus-a"}),
        ),
        (
            "crypto/decrypt refused: other context",
            json!({"CiphertextBlob": blob, "EncryptionContext": {"purpose": "other"}}),
        ),
        (
            "crypto/decrypt refused: no context",
            json!({"CiphertextBlob": blob}),
        ),
        (
            "crypto/decrypt refused: another key named",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": k.b.id}),
        ),
        (
            "crypto/decrypt refused: named key does not exist",
            json!({"CiphertextBlob": blob, "KeyId": "alias/none"}),
        ),
        (
            "crypto/decrypt refused: junk blob",
            json!({"CiphertextBlob": "AAAA"}),
        ),
        (
            "crypto/decrypt refused: blob not base64",
            json!({"CiphertextBlob": "not base64!"}),
        ),
        (
            "crypto/decrypt refused: empty blob",
            json!({"CiphertextBlob": ""}),
        ),
        (
            "crypto/decrypt refused: blob over 6144 bytes",
            json!({"CiphertextBlob": b64(&[7u8; 6145])}),
        ),
        ("crypto/decrypt refused: no blob", json!({})),
        (
            "crypto/decrypt refused: RSA algorithm",
            json!({"CiphertextBlob": blob, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
        ),
        (
            "crypto/decrypt refused: unknown algorithm",
            json!({"CiphertextBlob": blob, "EncryptionAlgorithm": "AES_GCM"}),
        ),
        (
            "crypto/decrypt refused: context value not a string",
            json!({"CiphertextBlob": blob, "EncryptionContext": {"n": 1}}),
        ),
        (
            "crypto/decrypt refused: context not a map",
            json!({"CiphertextBlob": blob, "EncryptionContext": ["purpose"]}),
        ),
        (
            "crypto/decrypt refused: GrantTokens not a list",
            json!({"CiphertextBlob": blob, "GrantTokens": "t"}),
        ),
        (
            "crypto/decrypt refused: malformed grant token",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "GrantTokens": ["AQID"]}),
        ),
    ] {
        c.kms(step, &root, "Decrypt", body);
    }
    for (step, body) in [
        (
            "crypto/encrypt refused: no Plaintext",
            json!({"KeyId": k.a.id}),
        ),
        (
            "crypto/encrypt refused: empty Plaintext",
            json!({"KeyId": k.a.id, "Plaintext": ""}),
        ),
        (
            "crypto/encrypt refused: Plaintext over 4096 bytes",
            json!({"KeyId": k.a.id, "Plaintext": b64(&[1u8; 4097])}),
        ),
        (
            "crypto/encrypt refused: Plaintext not base64",
            json!({"KeyId": k.a.id, "Plaintext": "%%%"}),
        ),
        (
            "crypto/encrypt refused: RSA algorithm on a symmetric key",
            json!({"KeyId": k.a.id, "Plaintext": HELLO, "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
        ),
        (
            "crypto/encrypt refused: unknown algorithm",
            json!({"KeyId": k.a.id, "Plaintext": HELLO, "EncryptionAlgorithm": "ROT13"}),
        ),
        (
            "crypto/encrypt refused: RSA key",
            json!({"KeyId": k.rsa.id, "Plaintext": HELLO}),
        ),
        (
            "crypto/encrypt refused: HMAC key",
            json!({"KeyId": k.hmac.arn, "Plaintext": HELLO}),
        ),
        (
            "crypto/encrypt refused: no KeyId",
            json!({"Plaintext": HELLO}),
        ),
        (
            "crypto/encrypt refused: key does not exist",
            json!({"KeyId": "arn:aws:kms:us-west-2:111122223333:key/00000000-0000-4000-8000-000000000000", "Plaintext": HELLO}),
        ),
    ] {
        c.kms(step, &root, "Encrypt", body);
    }
    let dk = c.kms(
        "crypto/generate data key AES_256 with context",
        &root,
        "GenerateDataKey",
        json!({"KeyId": k.a.id, "KeySpec": "AES_256", "EncryptionContext": {"vol": "1"}}),
    );
    c.kms(
        "crypto/decrypt the data key",
        &root,
        "Decrypt",
        json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": {"vol": "1"}}),
    );
    for (step, body) in [
        (
            "crypto/generate data key AES_128",
            json!({"KeyId": k.a.id, "KeySpec": "AES_128"}),
        ),
        (
            "crypto/generate data key of 64 bytes",
            json!({"KeyId": "alias/corpus-a", "NumberOfBytes": 64}),
        ),
        (
            "crypto/generate data key refused: both KeySpec and NumberOfBytes",
            json!({"KeyId": k.a.id, "KeySpec": "AES_256", "NumberOfBytes": 32}),
        ),
        (
            "crypto/generate data key refused: neither",
            json!({"KeyId": k.a.id}),
        ),
        (
            "crypto/generate data key refused: KeySpec AES_512",
            json!({"KeyId": k.a.id, "KeySpec": "AES_512"}),
        ),
        (
            "crypto/generate data key refused: 0 bytes",
            json!({"KeyId": k.a.id, "NumberOfBytes": 0}),
        ),
        (
            "crypto/generate data key refused: 1025 bytes",
            json!({"KeyId": k.a.id, "NumberOfBytes": 1025}),
        ),
        (
            "crypto/generate data key refused: NumberOfBytes not an integer",
            json!({"KeyId": k.a.id, "NumberOfBytes": 32.5}),
        ),
        (
            "crypto/generate data key refused: HMAC key",
            json!({"KeyId": k.hmac.id, "NumberOfBytes": 32}),
        ),
    ] {
        c.kms(step, &root, "GenerateDataKey", body);
    }
    let wrapped = c.kms(
        "crypto/generate data key without plaintext",
        &root,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": k.a.arn, "NumberOfBytes": 32, "EncryptionContext": {"vol": "2"}}),
    );
    c.kms(
        "crypto/generate data key without plaintext refused: RSA key",
        &root,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": k.rsa.arn, "KeySpec": "AES_256"}),
    );
    c.kms(
        "crypto/decrypt the data key made without plaintext",
        &root,
        "Decrypt",
        json!({"CiphertextBlob": wrapped["CiphertextBlob"], "EncryptionContext": {"vol": "2"}}),
    );
    re_encrypt(c, k, &blob, &ctx);
    random(c);
    dry_run(c, k, &blob, &ctx);
    managed(c);
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn re_encrypt(c: &mut Corpus, k: &Keys, blob: &Value, ctx: &Value) {
    let root = Who::Root;
    let moved = c.kms(
        "crypto/re-encrypt hello from a to b",
        &root,
        "ReEncrypt",
        json!({"CiphertextBlob": blob, "SourceEncryptionContext": ctx, "DestinationKeyId": k.b.id,
               "DestinationEncryptionContext": {"moved": "yes"}}),
    );
    c.kms(
        "crypto/decrypt the re-encrypted hello",
        &root,
        "Decrypt",
        json!({"CiphertextBlob": moved["CiphertextBlob"], "EncryptionContext": {"moved": "yes"}}),
    );
    for (step, body) in [
        (
            "crypto/re-encrypt naming the source key",
            json!({"CiphertextBlob": blob, "SourceEncryptionContext": ctx, "SourceKeyId": k.a.arn,
                   "DestinationKeyId": "alias/corpus-a", "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        ),
        (
            "crypto/re-encrypt refused: wrong source key",
            json!({"CiphertextBlob": blob, "SourceEncryptionContext": ctx, "SourceKeyId": k.b.id, "DestinationKeyId": k.b.id}),
        ),
        (
            "crypto/re-encrypt refused: no destination",
            json!({"CiphertextBlob": blob, "SourceEncryptionContext": ctx}),
        ),
        (
            "crypto/re-encrypt refused: HMAC destination",
            json!({"CiphertextBlob": blob, "SourceEncryptionContext": ctx, "DestinationKeyId": k.hmac.id}),
        ),
        (
            "crypto/re-encrypt refused: wrong source context",
            json!({"CiphertextBlob": blob, "DestinationKeyId": k.b.id}),
        ),
        (
            "crypto/re-encrypt refused: unknown destination algorithm",
            json!({"CiphertextBlob": blob, "DestinationKeyId": k.b.id, "DestinationEncryptionAlgorithm": "X"}),
        ),
        (
            "crypto/re-encrypt refused: no blob",
            json!({"DestinationKeyId": k.b.id}),
        ),
    ] {
        c.kms(step, &root, "ReEncrypt", body);
    }
}

fn random(c: &mut Corpus) {
    let root = Who::Root;
    for (step, body) in [
        ("crypto/random 32 bytes", json!({"NumberOfBytes": 32})),
        ("crypto/random 1 byte", json!({"NumberOfBytes": 1})),
        (
            "crypto/random refused: 0 bytes",
            json!({"NumberOfBytes": 0}),
        ),
        (
            "crypto/random refused: 1025 bytes",
            json!({"NumberOfBytes": 1025}),
        ),
        ("crypto/random refused: no NumberOfBytes", json!({})),
    ] {
        c.kms(step, &root, "GenerateRandom", body);
    }
}

fn dry_run(c: &mut Corpus, k: &Keys, blob: &Value, ctx: &Value) {
    let root = Who::Root;
    let ignore = json!(["IGNORE_CIPHERTEXT"]);
    for (step, op, body) in [
        (
            "dryrun/encrypt",
            "Encrypt",
            json!({"KeyId": k.a.id, "Plaintext": HELLO, "DryRun": true}),
        ),
        (
            "dryrun/encrypt with DryRun false (runs)",
            "Encrypt",
            json!({"KeyId": k.a.id, "Plaintext": HELLO, "DryRun": false}),
        ),
        (
            "dryrun/decrypt",
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "DryRun": true}),
        ),
        (
            "dryrun/decrypt refused: junk blob is still checked",
            "Decrypt",
            json!({"CiphertextBlob": "AAAA", "DryRun": true}),
        ),
        (
            "dryrun/decrypt ignoring the ciphertext",
            "Decrypt",
            json!({"KeyId": k.a.id, "DryRun": true, "DryRunModifiers": ignore}),
        ),
        (
            "dryrun/decrypt ignoring the ciphertext refused: no KeyId",
            "Decrypt",
            json!({"DryRun": true, "DryRunModifiers": ignore}),
        ),
        (
            "dryrun/decrypt ignoring the ciphertext refused: HMAC key",
            "Decrypt",
            json!({"KeyId": k.hmac.id, "DryRun": true, "DryRunModifiers": ignore}),
        ),
        (
            "dryrun/decrypt refused: unknown modifier",
            "Decrypt",
            json!({"KeyId": k.a.id, "DryRun": true, "DryRunModifiers": ["SKIP"]}),
        ),
        (
            "dryrun/decrypt refused: modifiers not a list",
            "Decrypt",
            json!({"KeyId": k.a.id, "DryRun": true, "DryRunModifiers": "IGNORE_CIPHERTEXT"}),
        ),
        (
            "dryrun/decrypt refused: DryRun not a boolean",
            "Decrypt",
            json!({"CiphertextBlob": blob, "DryRun": "yes"}),
        ),
        (
            "dryrun/generate data key",
            "GenerateDataKey",
            json!({"KeyId": k.a.id, "NumberOfBytes": 32, "DryRun": true}),
        ),
        (
            "dryrun/generate data key without plaintext",
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": k.a.id, "KeySpec": "AES_256", "DryRun": true}),
        ),
        (
            "dryrun/re-encrypt",
            "ReEncrypt",
            json!({"CiphertextBlob": blob, "SourceEncryptionContext": ctx, "DestinationKeyId": k.b.id, "DryRun": true}),
        ),
        (
            "dryrun/re-encrypt ignoring the ciphertext",
            "ReEncrypt",
            json!({"SourceKeyId": k.a.id, "DestinationKeyId": k.b.id, "DryRun": true, "DryRunModifiers": ignore}),
        ),
        (
            "dryrun/re-encrypt ignoring the ciphertext refused: no DestinationKeyId",
            "ReEncrypt",
            json!({"SourceKeyId": k.a.id, "DryRun": true, "DryRunModifiers": ignore}),
        ),
        (
            "dryrun/create key refused: not supported",
            "CreateKey",
            json!({"DryRun": true}),
        ),
    ] {
        c.kms(step, &root, op, body);
    }
}

/// `alias/aws/ebs`: refused to direct callers, usable through EC2.
fn managed(c: &mut Corpus) {
    let ctx = json!({"aws:ebs:id": "vol-0aaaaaaaaaaaaaaaa"});
    c.kms(
        "managed/data key refused: direct call by the root",
        &Who::Root,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": "alias/aws/ebs", "NumberOfBytes": 64, "EncryptionContext": ctx}),
    );
    let via = Who::via(None, EC2);
    let w = c.kms(
        "managed/data key through ec2",
        &via,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": "alias/aws/ebs", "NumberOfBytes": 64, "EncryptionContext": ctx}),
    );
    c.kms(
        "managed/decrypt through ec2",
        &via,
        "Decrypt",
        json!({"CiphertextBlob": w["CiphertextBlob"], "EncryptionContext": ctx}),
    );
    c.kms(
        "managed/decrypt refused: direct call by the root",
        &Who::Root,
        "Decrypt",
        json!({"CiphertextBlob": w["CiphertextBlob"], "EncryptionContext": ctx}),
    );
}
