//! aws-sdk-kms, aws-sdk-iam and aws-sdk-sts, unchanged but for the endpoint and credentials,
//! against `ebsim::Simulator::serve` (the server of `ebsim serve`, in this process): a data
//! key made and decrypted, then a role created, assumed by a user, and its session decrypting
//! the same key, as the audit trail then shows.

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::primitives::Blob;
use aws_smithy_http_client::Builder;
use ebsim_workspaces::Simulator;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}]}"#;
const ASSUME: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
const DECRYPT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#;

struct Clients {
    kms: aws_sdk_kms::Client,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
}

/// The three clients on `url`, signing with `creds`, over plain HTTP (no TLS features).
fn clients(url: &str, region: &'static str, creds: Credentials) -> Clients {
    let http = Builder::new().build_http();
    let kms = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new(region))
        .credentials_provider(creds.clone())
        .http_client(http.clone())
        .build();
    let iam = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_sdk_iam::config::Region::new(region))
        .credentials_provider(creds.clone())
        .http_client(http.clone())
        .build();
    let sts = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_sdk_sts::config::Region::new(region))
        .credentials_provider(creds)
        .http_client(http)
        .build();
    Clients {
        kms: aws_sdk_kms::Client::from_conf(kms),
        iam: aws_sdk_iam::Client::from_conf(iam),
        sts: aws_sdk_sts::Client::from_conf(sts),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_sdk_against_the_simulator() {
    let sim = Simulator::in_memory();
    let endpoint = sim.serve().expect("served on a loopback port");
    let url = endpoint.url();
    let root = clients(
        &url,
        endpoint.region(),
        Credentials::new(
            endpoint.access_key_id(),
            endpoint.secret_access_key(),
            None,
            None,
            "ebsim",
        ),
    );

    // CreateKey -> GenerateDataKey -> Decrypt.
    let key = root.kms.create_key().send().await.expect("CreateKey");
    let key_arn = key
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("an ARN")
        .to_owned();
    let dk = root
        .kms
        .generate_data_key()
        .key_id(&key_arn)
        .number_of_bytes(64)
        .encryption_context("aws:ebs:id", "vol-0123456789abcdef0")
        .send()
        .await
        .expect("GenerateDataKey");
    let plaintext = dk.plaintext().expect("a plaintext").as_ref().to_vec();
    let blob = dk.ciphertext_blob().expect("a blob").clone();
    let back = root
        .kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("aws:ebs:id", "vol-0123456789abcdef0")
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(
        back.plaintext().expect("plaintext").as_ref(),
        plaintext.as_slice()
    );

    // CreateRole -> AssumeRole -> Decrypt as the role.
    root.iam
        .create_user()
        .user_name("alice")
        .send()
        .await
        .expect("CreateUser");
    let key_out = root
        .iam
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .expect("CreateAccessKey");
    let ak = key_out.access_key().expect("an access key");
    root.iam
        .put_user_policy()
        .user_name("alice")
        .policy_name("assume")
        .policy_document(ASSUME)
        .send()
        .await
        .expect("PutUserPolicy");
    let role = root
        .iam
        .create_role()
        .role_name("reader")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .expect("CreateRole");
    let role_arn = role.role().map(|r| r.arn().to_owned()).expect("a role");
    root.iam
        .put_role_policy()
        .role_name("reader")
        .policy_name("decrypt")
        .policy_document(DECRYPT)
        .send()
        .await
        .expect("PutRolePolicy");
    let alice = clients(
        &url,
        endpoint.region(),
        Credentials::new(
            ak.access_key_id(),
            ak.secret_access_key(),
            None,
            None,
            "ebsim",
        ),
    );
    let assumed = alice
        .sts
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("sdk")
        .duration_seconds(900)
        .send()
        .await
        .expect("AssumeRole");
    let c = assumed.credentials().expect("credentials");
    assert!(c.access_key_id().starts_with("ASIA"));
    let session = clients(
        &url,
        endpoint.region(),
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "ebsim",
        ),
    );
    let me = session
        .sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(
        me.arn(),
        Some("arn:aws:sts::111122223333:assumed-role/reader/sdk")
    );
    let as_role = session
        .kms
        .decrypt()
        .ciphertext_blob(blob)
        .encryption_context("aws:ebs:id", "vol-0123456789abcdef0")
        .send()
        .await
        .expect("Decrypt as the role");
    assert_eq!(
        as_role.plaintext().expect("plaintext").as_ref(),
        plaintext.as_slice()
    );
    // The role may decrypt, not encrypt.
    let refused = session
        .kms
        .encrypt()
        .key_id(&key_arn)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .expect_err("the role has no kms:Encrypt");
    assert_eq!(
        refused.into_service_error().meta().code(),
        Some("AccessDeniedException")
    );
    let trail = sim.audit_records().expect("audit trail");
    assert!(
        trail.iter().any(|r| r["eventName"] == "Decrypt"
            && r["userIdentity"]["arn"] == "arn:aws:sts::111122223333:assumed-role/reader/sdk"),
        "the session's Decrypt is in the trail"
    );
}
