//! Custom key stores, simulated (docs/kms.md, "Custom key stores"): the connection states on
//! the simulated clock, keys refused while their store is not connected, external key store
//! keys encrypting through the in-process proxy, and the errors of clashing names, clusters
//! and proxies, deleting a store that is connected or has keys, and connecting one that is
//! gone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fails, kms, ok, root};
use ebsim_kms::{ErrorType, Kms};
use serde_json::{Value, json};

fn cloudhsm(kms: &Kms, name: &str, cluster: &str) -> String {
    ok(
        kms,
        &root(),
        "CreateCustomKeyStore",
        json!({"CustomKeyStoreName": name, "CloudHsmClusterId": cluster,
               "TrustAnchorCertificate": "-----BEGIN CERTIFICATE-----…", "KeyStorePassword": "kmsuser-pass"}),
    )["CustomKeyStoreId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn xks(kms: &Kms, name: &str, host: &str) -> String {
    ok(
        kms,
        &root(),
        "CreateCustomKeyStore",
        json!({"CustomKeyStoreName": name, "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
               "XksProxyUriEndpoint": format!("https://{host}"), "XksProxyUriPath": "/example/kms/xks/v1",
               "XksProxyConnectivity": "PUBLIC_ENDPOINT",
               "XksProxyAuthenticationCredential": {"AccessKeyId": "ABCDEFGHIJKLMNOPQRST",
                   "RawSecretAccessKey": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}}),
    )["CustomKeyStoreId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn store(kms: &Kms, id: &str) -> Value {
    ok(
        kms,
        &root(),
        "DescribeCustomKeyStores",
        json!({"CustomKeyStoreId": id}),
    )["CustomKeyStores"][0]
        .clone()
}

fn kind(kms: &Kms, op: &str, req: Value) -> ErrorType {
    fails(kms, &root(), op, req).error_type
}

#[test]
fn a_cloudhsm_store_connects_after_60_seconds_and_its_keys_follow_it() {
    let (kms, clock) = kms();
    let id = cloudhsm(&kms, "hsm", "cluster-234abcdefgh");
    assert!(id.starts_with("cks-") && id.len() == 21, "{id}");
    let s = store(&kms, &id);
    assert_eq!(s["ConnectionState"], "DISCONNECTED");
    assert_eq!(s["CloudHsmClusterId"], "cluster-234abcdefgh");
    let create = json!({"CustomKeyStoreId": id, "Origin": "AWS_CLOUDHSM"});
    assert_eq!(
        kind(&kms, "CreateKey", create.clone()),
        ErrorType::CustomKeyStoreInvalidStateException
    );
    ok(
        &kms,
        &root(),
        "ConnectCustomKeyStore",
        json!({"CustomKeyStoreId": id}),
    );
    assert_eq!(store(&kms, &id)["ConnectionState"], "CONNECTING");
    clock.advance(59.0);
    assert_eq!(store(&kms, &id)["ConnectionState"], "CONNECTING");
    clock.advance(1.0);
    assert_eq!(store(&kms, &id)["ConnectionState"], "CONNECTED");
    let m = ok(&kms, &root(), "CreateKey", create)["KeyMetadata"].clone();
    assert_eq!(m["Origin"], "AWS_CLOUDHSM");
    assert_eq!(m["CustomKeyStoreId"], id.as_str());
    assert_eq!(m["CloudHsmClusterId"], "cluster-234abcdefgh");
    assert!(m.get("CurrentKeyMaterialId").is_none());
    let key = m["KeyId"].as_str().unwrap().to_owned();
    let blob = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "AQID"}),
    )["CiphertextBlob"]
        .clone();
    assert_eq!(
        kind(
            &kms,
            "CreateKey",
            json!({"CustomKeyStoreId": id, "Origin": "AWS_CLOUDHSM", "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"})
        ),
        ErrorType::UnsupportedOperationException
    );
    assert_eq!(
        kind(&kms, "EnableKeyRotation", json!({"KeyId": key})),
        ErrorType::UnsupportedOperationException
    );
    // Disconnected: the key is Unavailable and refused, then back as it was.
    ok(
        &kms,
        &root(),
        "DisconnectCustomKeyStore",
        json!({"CustomKeyStoreId": id}),
    );
    let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": key}))["KeyMetadata"].clone();
    assert_eq!(d["KeyState"], "Unavailable");
    let e = fails(&kms, &root(), "Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(e.error_type, ErrorType::KMSInvalidStateException);
    assert_eq!(
        e.message,
        Some(format!("{} is unavailable.", d["Arn"].as_str().unwrap()))
    );
    ok(&kms, &root(), "DisableKey", json!({"KeyId": key}));
    ok(
        &kms,
        &root(),
        "TagResource",
        json!({"KeyId": key, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    );
    assert_eq!(
        kind(
            &kms,
            "DeleteCustomKeyStore",
            json!({"CustomKeyStoreId": id})
        ),
        ErrorType::CustomKeyStoreHasCMKsException
    );
    assert_eq!(
        kind(
            &kms,
            "DisconnectCustomKeyStore",
            json!({"CustomKeyStoreId": id})
        ),
        ErrorType::CustomKeyStoreInvalidStateException
    );
    ok(
        &kms,
        &root(),
        "ConnectCustomKeyStore",
        json!({"CustomKeyStoreId": id}),
    );
    clock.advance(61.0);
    let d = ok(&kms, &root(), "DescribeKey", json!({"KeyId": key}))["KeyMetadata"].clone();
    assert_eq!(
        d["KeyState"], "Disabled",
        "the DisableKey made while unavailable holds"
    );
    ok(&kms, &root(), "EnableKey", json!({"KeyId": key}));
    let p = ok(&kms, &root(), "Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(p["Plaintext"], "AQID");
}

#[test]
fn external_key_store_keys_go_through_the_proxy() {
    let (kms, clock) = kms();
    let id = xks(&kms, "xks", "xks.example.com");
    let s = store(&kms, &id);
    assert_eq!(s["CustomKeyStoreType"], "EXTERNAL_KEY_STORE");
    assert_eq!(
        s["XksProxyConfiguration"]["AccessKeyId"],
        "ABCDEFGHIJKLMNOPQRST"
    );
    assert!(
        !serde_json::to_string(&kms.audit_records())
            .unwrap()
            .contains("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"),
        "the proxy secret is in no record"
    );
    ok(
        &kms,
        &root(),
        "ConnectCustomKeyStore",
        json!({"CustomKeyStoreId": id}),
    );
    clock.advance(60.0);
    let create =
        |x: &str| json!({"CustomKeyStoreId": id, "Origin": "EXTERNAL_KEY_STORE", "XksKeyId": x});
    assert_eq!(
        kind(
            &kms,
            "CreateKey",
            json!({"CustomKeyStoreId": id, "Origin": "EXTERNAL_KEY_STORE"})
        ),
        ErrorType::ValidationException,
        "XksKeyId is required"
    );
    let m = ok(&kms, &root(), "CreateKey", create("ext-key-1"))["KeyMetadata"].clone();
    assert_eq!(m["XksKeyConfiguration"]["Id"], "ext-key-1");
    assert_eq!(
        kind(&kms, "CreateKey", create("ext-key-1")),
        ErrorType::XksKeyAlreadyInUseException
    );
    let key = m["KeyId"].as_str().unwrap().to_owned();
    let c = ok(
        &kms,
        &root(),
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "aGVsbG8=", "EncryptionContext": {"k": "v"}}),
    );
    let p = ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": c["CiphertextBlob"], "EncryptionContext": {"k": "v"}}),
    );
    assert_eq!(p["Plaintext"], "aGVsbG8=");
    let dk = ok(
        &kms,
        &root(),
        "GenerateDataKey",
        json!({"KeyId": key, "NumberOfBytes": 32}),
    );
    let back = ok(
        &kms,
        &root(),
        "Decrypt",
        json!({"CiphertextBlob": dk["CiphertextBlob"]}),
    );
    assert_eq!(back["Plaintext"], dk["Plaintext"]);
    // A proxy under .invalid is never reachable: FAILED with its error code.
    let bad = xks(&kms, "unreachable", "proxy.example.invalid");
    ok(
        &kms,
        &root(),
        "ConnectCustomKeyStore",
        json!({"CustomKeyStoreId": bad}),
    );
    clock.advance(60.0);
    let s = store(&kms, &bad);
    assert_eq!(s["ConnectionState"], "FAILED");
    assert_eq!(s["ConnectionErrorCode"], "XKS_PROXY_NOT_REACHABLE");
    assert_eq!(
        kind(
            &kms,
            "ConnectCustomKeyStore",
            json!({"CustomKeyStoreId": bad})
        ),
        ErrorType::CustomKeyStoreInvalidStateException,
        "a failed store is disconnected before it connects again"
    );
    ok(
        &kms,
        &root(),
        "DisconnectCustomKeyStore",
        json!({"CustomKeyStoreId": bad}),
    );
    ok(
        &kms,
        &root(),
        "DeleteCustomKeyStore",
        json!({"CustomKeyStoreId": bad}),
    );
    assert_eq!(
        kind(
            &kms,
            "ConnectCustomKeyStore",
            json!({"CustomKeyStoreId": bad})
        ),
        ErrorType::CustomKeyStoreNotFoundException,
        "a deleted store is gone"
    );
}

#[test]
fn clashes_and_bad_settings_change_nothing() {
    let (kms, _) = kms();
    let id = cloudhsm(&kms, "hsm", "cluster-234abcdefgh");
    let again = json!({"CustomKeyStoreName": "hsm", "CloudHsmClusterId": "cluster-765abcdefgh",
                       "TrustAnchorCertificate": "c", "KeyStorePassword": "kmsuser-pass"});
    assert_eq!(
        kind(&kms, "CreateCustomKeyStore", again),
        ErrorType::CustomKeyStoreNameInUseException
    );
    let same_cluster = json!({"CustomKeyStoreName": "other", "CloudHsmClusterId": "cluster-234abcdefgh",
                              "TrustAnchorCertificate": "c", "KeyStorePassword": "kmsuser-pass"});
    assert_eq!(
        kind(&kms, "CreateCustomKeyStore", same_cluster),
        ErrorType::CloudHsmClusterInUseException
    );
    for bad in [
        json!({"CustomKeyStoreName": "x", "CloudHsmClusterId": "cluster-1", "TrustAnchorCertificate": "c", "KeyStorePassword": "kmsuser-pass"}),
        json!({"CustomKeyStoreName": "x", "CloudHsmClusterId": "cluster-234abcdefgh1", "TrustAnchorCertificate": "c", "KeyStorePassword": "short"}),
        json!({"CustomKeyStoreName": "x", "CustomKeyStoreType": "EXTERNAL_KEY_STORE", "XksProxyUriEndpoint": "http://plain.example",
               "XksProxyUriPath": "/kms/xks/v1", "XksProxyConnectivity": "PUBLIC_ENDPOINT",
               "XksProxyAuthenticationCredential": {"AccessKeyId": "ABCDEFGHIJKLMNOPQRST", "RawSecretAccessKey": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}}),
        json!({"CustomKeyStoreName": "x", "CustomKeyStoreType": "EXTERNAL_KEY_STORE", "XksProxyUriEndpoint": "https://xks.example",
               "XksProxyUriPath": "/kms/xks/v1", "XksProxyConnectivity": "PUBLIC_ENDPOINT",
               "XksProxyAuthenticationCredential": {"AccessKeyId": "short", "RawSecretAccessKey": "x"}}),
    ] {
        assert_eq!(
            kind(&kms, "CreateCustomKeyStore", bad.clone()),
            ErrorType::ValidationException,
            "{bad}"
        );
    }
    let x1 = xks(&kms, "x1", "xks.example.com");
    assert_ne!(x1, id);
    let dup = json!({"CustomKeyStoreName": "x2", "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
        "XksProxyUriEndpoint": "https://xks.example.com", "XksProxyUriPath": "/example/kms/xks/v1",
        "XksProxyConnectivity": "PUBLIC_ENDPOINT",
        "XksProxyAuthenticationCredential": {"AccessKeyId": "ABCDEFGHIJKLMNOPQRST", "RawSecretAccessKey": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}});
    assert_eq!(
        kind(&kms, "CreateCustomKeyStore", dup),
        ErrorType::XksProxyUriInUseException
    );
    let all = ok(&kms, &root(), "DescribeCustomKeyStores", json!({}));
    assert_eq!(
        all["CustomKeyStores"].as_array().unwrap().len(),
        2,
        "nothing else was created"
    );
    // Update: a name clash is refused; other settings only while disconnected.
    assert_eq!(
        kind(
            &kms,
            "UpdateCustomKeyStore",
            json!({"CustomKeyStoreId": id, "NewCustomKeyStoreName": "x1"})
        ),
        ErrorType::CustomKeyStoreNameInUseException
    );
    ok(
        &kms,
        &root(),
        "ConnectCustomKeyStore",
        json!({"CustomKeyStoreId": id}),
    );
    ok(
        &kms,
        &root(),
        "UpdateCustomKeyStore",
        json!({"CustomKeyStoreId": id, "NewCustomKeyStoreName": "renamed"}),
    );
    assert_eq!(
        kind(
            &kms,
            "UpdateCustomKeyStore",
            json!({"CustomKeyStoreId": id, "KeyStorePassword": "another-pass"})
        ),
        ErrorType::CustomKeyStoreInvalidStateException
    );
    assert_eq!(
        kind(
            &kms,
            "DeleteCustomKeyStore",
            json!({"CustomKeyStoreId": id})
        ),
        ErrorType::CustomKeyStoreInvalidStateException,
        "a connected store is not deleted"
    );
    assert_eq!(store(&kms, &id)["CustomKeyStoreName"], "renamed");
    assert_eq!(
        kind(
            &kms,
            "DescribeCustomKeyStores",
            json!({"CustomKeyStoreId": "cks-00000000000000000"})
        ),
        ErrorType::CustomKeyStoreNotFoundException
    );
}

#[test]
fn the_audit_trail_records_store_calls_without_secrets() {
    let (kms, _) = kms();
    let id = cloudhsm(&kms, "audited", "cluster-234abcdefgh");
    ok(
        &kms,
        &root(),
        "ConnectCustomKeyStore",
        json!({"CustomKeyStoreId": id}),
    );
    ok(
        &kms,
        &root(),
        "UpdateCustomKeyStore",
        json!({"CustomKeyStoreId": id, "NewCustomKeyStoreName": "renamed"}),
    );
    let records = kms.audit_records();
    let text = serde_json::to_string(&records).unwrap();
    assert!(
        !text.contains("kmsuser-pass"),
        "no kmsuser password in the trail"
    );
    let create = records
        .iter()
        .find(|r| r["eventName"] == "CreateCustomKeyStore")
        .unwrap();
    assert_eq!(create["requestParameters"]["customKeyStoreName"], "audited");
    assert_eq!(
        create["requestParameters"]["cloudHsmClusterId"],
        "cluster-234abcdefgh"
    );
    assert!(
        create["requestParameters"]
            .get("keyStorePassword")
            .is_none()
    );
    let connect = records
        .iter()
        .find(|r| r["eventName"] == "ConnectCustomKeyStore")
        .unwrap();
    assert_eq!(
        connect["requestParameters"]["customKeyStoreId"],
        id.as_str()
    );
    assert_eq!(connect["readOnly"], false);
    let state = kms.admin_json(&root(), "ReadAudit", json!({})).unwrap();
    assert!(!state.to_string().contains("kmsuser-pass"));
}

/// Stores, their keys (with the external key of the in-process proxy) and multi-Region
/// replicas are persisted: a ciphertext made before a reopen decrypts after it.
#[test]
fn stores_and_replicas_survive_a_reopen() {
    use ebsim_kms::{Caller, KmsConfig, Region};
    let dir = tempfile::tempdir().unwrap();
    let east = Caller::new(common::ROOT).in_region(Region::parse("us-east-1").unwrap());
    let (store_id, xks_blob, mrk_blob) = {
        let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
        let id = xks(&kms, "persisted", "xks.example.com");
        ok(
            &kms,
            &root(),
            "ConnectCustomKeyStore",
            json!({"CustomKeyStoreId": id}),
        );
        kms.admin_json(&root(), "AdvanceClock", json!({"Days": 1}))
            .unwrap();
        let key = ok(
            &kms,
            &root(),
            "CreateKey",
            json!({"CustomKeyStoreId": id, "Origin": "EXTERNAL_KEY_STORE", "XksKeyId": "ext-9"}),
        )["KeyMetadata"]["KeyId"]
            .clone();
        let xb = ok(
            &kms,
            &root(),
            "Encrypt",
            json!({"KeyId": key, "Plaintext": "AQID"}),
        )["CiphertextBlob"]
            .clone();
        let mrk =
            ok(&kms, &root(), "CreateKey", json!({"MultiRegion": true}))["KeyMetadata"]["KeyId"]
                .clone();
        ok(
            &kms,
            &root(),
            "ReplicateKey",
            json!({"KeyId": mrk, "ReplicaRegion": "us-east-1"}),
        );
        let mb = ok(
            &kms,
            &root(),
            "Encrypt",
            json!({"KeyId": mrk, "Plaintext": "BAU="}),
        )["CiphertextBlob"]
            .clone();
        (id, xb, mb)
    };
    let kms = Kms::open(dir.path(), KmsConfig::default()).unwrap();
    assert_eq!(store(&kms, &store_id)["ConnectionState"], "CONNECTED");
    assert_eq!(
        ok(
            &kms,
            &root(),
            "Decrypt",
            json!({"CiphertextBlob": xks_blob})
        )["Plaintext"],
        "AQID"
    );
    assert_eq!(
        ok(&kms, &east, "Decrypt", json!({"CiphertextBlob": mrk_blob}))["Plaintext"],
        "BAU="
    );
}
