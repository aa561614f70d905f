//! A role's long-term key from a state written when the admin API could make one: it keeps
//! working until DeleteAccessKey deletes it (docs/iam.md); new roles get none.

use super::*;

const ROOT: &str = "arn:aws:iam::111122223333:root";
const ROLE: &str = "arn:aws:iam::111122223333:role/old";

fn iam(kms: &Kms, action: &str, params: &[(&str, &str)]) -> Q<Vec<u8>> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action);
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let req = QueryRequest::parse(form.finish().as_bytes())?;
    kms.query(&Caller::new(ROOT), QueryService::Iam, &req, "test")
}

#[test]
fn an_old_role_key_works_until_deleted() {
    let kms = Kms::in_memory(KmsConfig::default());
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    iam(
        &kms,
        "CreateRole",
        &[("RoleName", "old"), ("AssumeRolePolicyDocument", &trust)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        kms.state.read().principals[ROLE].access_keys.is_empty(),
        "a new role has no access key"
    );
    // As a state of an earlier ebsim holds it.
    if let Some(p) = kms.state.write().principals.get_mut(ROLE) {
        p.access_keys.push(AccessKey {
            id: "AKIAOLDROLEKEY000001".into(),
            secret: Zeroizing::new("old-secret".into()),
            status: KeyStatus::Active,
            created: 0.0,
        });
    }
    let cred = kms.lookup_access_key("AKIAOLDROLEKEY000001");
    assert_eq!(cred.map(|c| c.principal), Some(ROLE.to_owned()));
    iam(
        &kms,
        "DeleteAccessKey",
        &[("AccessKeyId", "AKIAOLDROLEKEY000001")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(kms.lookup_access_key("AKIAOLDROLEKEY000001").is_none());
}
