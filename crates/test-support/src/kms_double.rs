//! A small KMS double with just the semantics the control planes rely on: keys (symmetric or
//! not, enabled or not), grants (grantee, retiring principal, operations, an
//! EncryptionContextSubset constraint, child grants only by a grantee holding CreateGrant
//! with at least the parent's constraints), data keys bound to their exact context. The
//! account root and the listed admins are allowed everything through the key policy.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ebsim_kms::{Caller, ErrorType, KmsError};
use ebsim_kms_client::LocalKms;
use serde_json::{Value, json};

/// The account of every key and of the root.
pub const ACCOUNT: &str = "111122223333";

/// A grant the double holds.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Grant id.
    pub id: String,
    /// Key ARN.
    pub key: String,
    /// Grantee principal.
    pub grantee: String,
    /// Retiring principal.
    pub retiring: String,
    /// Operations it allows.
    pub ops: Vec<String>,
    /// Its EncryptionContextSubset constraint.
    pub subset: BTreeMap<String, String>,
    /// The principal that created it.
    pub created_by: String,
    /// Whether it was retired.
    pub retired: bool,
}

/// Everything the double knows; tests read and change it directly.
#[derive(Debug, Default)]
pub struct State {
    /// Key ARN → (key spec, enabled).
    pub keys: BTreeMap<String, (String, bool)>,
    /// Every grant, in creation order.
    pub grants: Vec<Grant>,
    /// Principals allowed everything besides the root.
    pub admins: Vec<String>,
    /// Every call: (operation, principal, via service).
    pub calls: Vec<(String, String, Option<String>)>,
    /// Key ARN → key policy (for the EKM checks).
    pub policies: BTreeMap<String, String>,
    /// What GetKeyRotationStatus answers.
    pub rotation: bool,
    /// Every call fails with KMSInternalException.
    pub outage: bool,
}

/// The KMS double (see the module documentation).
#[derive(Debug, Default)]
pub struct KmsDouble(pub Mutex<State>);

fn err(t: ErrorType, m: &str) -> KmsError {
    KmsError::new(t, m)
}

impl KmsDouble {
    /// Creates an enabled key of `spec`; returns its ARN.
    pub fn create_key(&self, spec: &str) -> String {
        let mut s = self.0.lock().expect("lock");
        let arn = format!(
            "arn:aws:kms:us-west-2:{ACCOUNT}:key/{:08x}-0000-4000-8000-000000000000",
            s.keys.len() + 1
        );
        s.keys.insert(arn.clone(), (spec.to_owned(), true));
        arn
    }

    /// Enables or disables a key.
    pub fn set_enabled(&self, arn: &str, enabled: bool) {
        if let Some(k) = self.0.lock().expect("lock").keys.get_mut(arn) {
            k.1 = enabled;
        }
    }

    /// Every grant so far.
    pub fn grants(&self) -> Vec<Grant> {
        self.0.lock().expect("lock").grants.clone()
    }

    fn resolve(s: &mut State, id: &str) -> Result<String, KmsError> {
        if let Some(alias) = id.strip_prefix("alias/") {
            let arn = format!(
                "arn:aws:kms:us-west-2:{ACCOUNT}:key/alias-{}",
                alias.replace('/', "-")
            );
            if alias.starts_with("aws/") {
                s.keys
                    .entry(arn.clone())
                    .or_insert(("SYMMETRIC_DEFAULT".into(), true));
            }
            return if s.keys.contains_key(&arn) {
                Ok(arn)
            } else {
                Err(err(ErrorType::NotFoundException, "no such alias"))
            };
        }
        if s.keys.contains_key(id) {
            Ok(id.to_owned())
        } else {
            Err(err(ErrorType::NotFoundException, "no such key"))
        }
    }

    fn policy_allows(s: &State, caller: &Caller, key: &str, op: &str) -> bool {
        let Some(text) = s.policies.get(key) else {
            return false;
        };
        let Ok(doc) = ebsim_kms::policy::PolicyDocument::parse_key_policy(text) else {
            return false;
        };
        let account = caller.principal.split(':').nth(4).unwrap_or_default();
        let cond = ebsim_kms::policy::ConditionValues::new().with("kms:CallerAccount", account);
        matches!(
            doc.allows(&caller.principal, &format!("kms:{op}"), key, &cond),
            ebsim_kms::policy::Decision::Allow { .. }
        )
    }

    fn privileged(s: &State, caller: &Caller) -> bool {
        caller.principal.ends_with(":root") || s.admins.contains(&caller.principal)
    }

    fn grant_allows(
        s: &State,
        caller: &Caller,
        key: &str,
        op: &str,
        ctx: &BTreeMap<String, String>,
    ) -> Option<String> {
        s.grants
            .iter()
            .find(|g| {
                !g.retired
                    && g.key == key
                    && g.grantee == caller.principal
                    && g.ops.iter().any(|o| o == op)
                    && g.subset.iter().all(|(k, v)| ctx.get(k) == Some(v))
            })
            .map(|g| g.id.clone())
    }
}

fn ctx_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

impl LocalKms for KmsDouble {
    /// STS AssumeRole only: any caller may assume any role (no trust policy is kept); the
    /// session is `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` and the call is recorded.
    fn query(
        &self,
        caller: &Caller,
        _service: ebsim_iam::QueryService,
        request: &ebsim_iam::QueryRequest,
        _request_id: &str,
    ) -> Result<Vec<u8>, ebsim_iam::QueryError> {
        if request.action() != "AssumeRole" {
            return Err(ebsim_iam::QueryError::invalid_action(request.action()));
        }
        let role = request.required("RoleArn")?;
        let session = request.required("RoleSessionName")?;
        let account = role.split(':').nth(4).unwrap_or_default();
        let name = role.rsplit('/').next().unwrap_or_default();
        self.0.lock().expect("lock").calls.push((
            "AssumeRole".to_owned(),
            caller.principal.clone(),
            None,
        ));
        Ok(format!(
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIADOUBLE</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROADOUBLE:{session}</AssumedRoleId><Arn>arn:aws:sts::{account}:assumed-role/{name}/{session}</Arn></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>"
        )
        .into_bytes())
    }

    fn call(&self, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        let req: Value = serde_json::from_slice(body)
            .map_err(|_| err(ErrorType::SerializationException, "json"))?;
        let mut s = self.0.lock().expect("lock");
        s.calls.push((
            op.to_owned(),
            caller.principal.clone(),
            caller.via_service.clone(),
        ));
        let denied = || err(ErrorType::AccessDeniedException, "not authorized");
        if s.outage {
            return Err(err(ErrorType::KMSInternalException, "outage"));
        }
        let out = match op {
            "DescribeKey" => {
                let arn = Self::resolve(&mut s, req["KeyId"].as_str().unwrap_or_default())?;
                if !Self::privileged(&s, caller) {
                    return Err(denied());
                }
                let (spec, enabled) = s.keys[&arn].clone();
                let usage = if spec == "SYMMETRIC_DEFAULT" {
                    "ENCRYPT_DECRYPT"
                } else {
                    "SIGN_VERIFY"
                };
                json!({"KeyMetadata": {"Arn": arn, "KeySpec": spec, "KeyUsage": usage,
                    "KeyState": if enabled { "Enabled" } else { "Disabled" }}})
            }
            "CreateGrant" => {
                let arn = Self::resolve(&mut s, req["KeyId"].as_str().unwrap_or_default())?;
                let subset = ctx_of(&req["Constraints"]["EncryptionContextSubset"]);
                let ops: Vec<String> = req["Operations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o.as_str().map(str::to_owned))
                    .collect();
                if !Self::privileged(&s, caller) {
                    // A child grant: the caller holds CreateGrant through a grant whose
                    // constraints the child keeps, and every operation it passes on.
                    let ok = s.grants.iter().any(|g| {
                        !g.retired
                            && g.key == arn
                            && g.grantee == caller.principal
                            && g.ops.iter().any(|o| o == "CreateGrant")
                            && g.subset.iter().all(|(k, v)| subset.get(k) == Some(v))
                            && ops.iter().all(|o| g.ops.contains(o))
                    });
                    if !ok {
                        return Err(denied());
                    }
                }
                let id = format!("{:064x}", s.grants.len() + 1);
                s.grants.push(Grant {
                    id: id.clone(),
                    key: arn,
                    grantee: req["GranteePrincipal"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    retiring: req["RetiringPrincipal"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    ops,
                    subset,
                    created_by: caller.principal.clone(),
                    retired: false,
                });
                json!({"GrantId": id, "GrantToken": "token"})
            }
            "RetireGrant" => {
                let id = req["GrantId"].as_str().unwrap_or_default();
                let p = caller.principal.clone();
                let g = s
                    .grants
                    .iter_mut()
                    .find(|g| g.id == id && !g.retired)
                    .ok_or_else(|| err(ErrorType::NotFoundException, "no such grant"))?;
                if g.retiring != p && g.grantee != p {
                    return Err(denied());
                }
                g.retired = true;
                json!({})
            }
            "GenerateDataKeyWithoutPlaintext" => {
                let arn = Self::resolve(&mut s, req["KeyId"].as_str().unwrap_or_default())?;
                let ctx = ctx_of(&req["EncryptionContext"]);
                if !s.keys[&arn].1 {
                    return Err(err(ErrorType::DisabledException, "disabled"));
                }
                if !Self::privileged(&s, caller)
                    && Self::grant_allows(&s, caller, &arn, op, &ctx).is_none()
                {
                    return Err(denied());
                }
                let n = req["NumberOfBytes"].as_u64().unwrap_or(32);
                let pt: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
                let record = json!({"k": arn, "c": ctx, "p": B64.encode(pt)});
                json!({"CiphertextBlob": B64.encode(record.to_string()), "KeyId": arn})
            }
            "GetKeyPolicy" => {
                let arn = Self::resolve(&mut s, req["KeyId"].as_str().unwrap_or_default())?;
                json!({"Policy": s.policies.get(&arn).cloned().unwrap_or_default(), "PolicyName": "default"})
            }
            "GetKeyRotationStatus" => json!({"KeyRotationEnabled": s.rotation}),
            "Encrypt" => {
                let arn = Self::resolve(&mut s, req["KeyId"].as_str().unwrap_or_default())?;
                if !Self::privileged(&s, caller) && !Self::policy_allows(&s, caller, &arn, op) {
                    return Err(denied());
                }
                let record = json!({"k": arn, "c": ctx_of(&req["EncryptionContext"]), "p": req["Plaintext"]});
                json!({"CiphertextBlob": B64.encode(record.to_string()), "KeyId": arn})
            }
            "Decrypt" => {
                let blob = B64
                    .decode(req["CiphertextBlob"].as_str().unwrap_or_default())
                    .map_err(|_| KmsError::invalid_ciphertext())?;
                let record: Value =
                    serde_json::from_slice(&blob).map_err(|_| KmsError::invalid_ciphertext())?;
                let arn = record["k"].as_str().unwrap_or_default().to_owned();
                let ctx = ctx_of(&req["EncryptionContext"]);
                if !s.keys.get(&arn).is_some_and(|k| k.1) {
                    return Err(err(ErrorType::DisabledException, "disabled"));
                }
                if !Self::privileged(&s, caller)
                    && Self::grant_allows(&s, caller, &arn, op, &ctx).is_none()
                    && !Self::policy_allows(&s, caller, &arn, op)
                {
                    return Err(denied());
                }
                if ctx_of(&record["c"]) != ctx {
                    return Err(KmsError::invalid_ciphertext());
                }
                json!({"Plaintext": record["p"], "KeyId": arn})
            }
            _ => return Err(KmsError::bare(ErrorType::UnknownOperationException)),
        };
        Ok(out.to_string().into_bytes())
    }

    fn admin(&self, _caller: &Caller, _op: &str, _body: &[u8]) -> Result<Vec<u8>, KmsError> {
        Err(KmsError::bare(ErrorType::UnknownOperationException))
    }
}

/// How the control planes reach the double.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    /// The client calls the double in process.
    InProcess,
    /// The client signs requests to an ebsim-kms-server in front of the double.
    Http,
}

#[derive(Debug)]
struct Served(std::sync::Arc<KmsDouble>);

impl ebsim_kms_server::Backend for Served {
    fn call(&self, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        LocalKms::call(&*self.0, caller, op, body)
    }
    fn admin(&self, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        LocalKms::admin(&*self.0, caller, op, body)
    }
    fn lookup_access_key(&self, id: &str) -> Option<ebsim_kms_server::ServerCredential> {
        let (principal, secret, is_service) = match id {
            "test" => ("arn:aws:iam::111122223333:root", "test", false),
            "svc" => (
                "arn:aws:iam::111122223333:role/ebsim-service",
                "svc-secret",
                true,
            ),
            _ => return None,
        };
        Some(ebsim_kms_server::ServerCredential {
            principal: principal.into(),
            secret: zeroize::Zeroizing::new(secret.into()),
            is_service,
        })
    }
}

/// A client for `kms` over `transport` (HTTP: an ebsim-kms-server on 127.0.0.1:0, kept
/// alive by the returned handle).
pub fn client(
    kms: &std::sync::Arc<KmsDouble>,
    transport: Transport,
) -> (
    ebsim_kms_client::KmsClient,
    Option<ebsim_kms_server::ServerHandle>,
) {
    use ebsim_kms_client::{AccessKey, HttpConfig, KmsClient, RetryPolicy};
    match transport {
        Transport::InProcess => (KmsClient::in_process(kms.clone()), None),
        Transport::Http => {
            let server = ebsim_kms_server::KmsServer::bind(
                std::sync::Arc::new(Served(kms.clone())),
                ebsim_kms_server::ServerConfig::new("127.0.0.1:0".parse().expect("addr")),
            )
            .expect("bind");
            let handle = server.spawn().expect("spawn");
            let config = HttpConfig::new(&handle.url())
                .expect("url")
                .credentials(AccessKey::new("test", "test"))
                .service_credentials(AccessKey::new("svc", "svc-secret"))
                .region("us-west-2")
                .retry(RetryPolicy {
                    max_attempts: 2,
                    base: std::time::Duration::from_millis(1),
                    cap: std::time::Duration::from_millis(5),
                });
            (KmsClient::http(config).expect("client"), Some(handle))
        }
    }
}

/// A data dir holding the double's service credential (`svc`), and the double behind an
/// HTTP endpoint (kept alive by the handle): what `ebsim --kms-endpoint URL` needs to act as
/// EBS and WorkSpaces for the volume and WorkSpace commands.
pub fn served_data_dir() -> (
    tempfile::TempDir,
    std::sync::Arc<KmsDouble>,
    ebsim_kms_server::ServerHandle,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let kms = std::sync::Arc::new(KmsDouble::default());
    let (_client, server) = client(&kms, Transport::Http);
    std::fs::create_dir_all(dir.path().join("kms")).expect("mkdir");
    std::fs::write(
        dir.path().join("kms/service-credential"),
        r#"{"AccessKeyId":"svc","SecretAccessKey":"svc-secret"}"#,
    )
    .expect("credential");
    (dir, kms, server.expect("server"))
}
