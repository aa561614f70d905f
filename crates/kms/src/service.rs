//! The service: request parsing, key resolution, authorization, the operations, the admin
//! operations, and the glue to the audit trail, the faults and the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use parking_lot::RwLock;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::api::{Caller, ErrorType, KmsError};
use crate::audit::AuditLog;
use crate::blob;
use crate::clock::{Clock, SystemClock, iso8601};
use crate::fault::{FaultKind, Faults};
use crate::jsonw;
use crate::policy::{
    ConditionValues, Decision, MAX_POLICY_BYTES, PolicyDocument, aws_managed_key_policy,
    default_key_policy,
};
use crate::state::{
    Alias, Constraints, Grant, Key, KeyState, Material, Principal, Rotation, State,
};
use crate::store::{self, KmsOpenError, Store};

mod dry_run;
mod grant_principals;
mod tags;

const DAY: f64 = 86_400.0;
const STATE_FORMAT: u32 = 1;
/// RotateKeyOnDemand answers ConflictException when an automatic rotation is due this soon
/// (seconds).
const ROTATION_CONFLICT_WINDOW: f64 = 20.0 * 60.0;
/// Operations a grant may allow (KMS-REFERENCE §6.1).
pub const GRANT_OPERATIONS: [&str; 17] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
];
const MANAGED: [(&str, &str, &str); 2] = [
    (
        "alias/aws/ebs",
        "ebs",
        "Default key that protects my EBS volumes when no other key is defined",
    ),
    (
        "alias/aws/workspaces",
        "workspaces",
        "Default key that protects my WorkSpaces when no other key is defined",
    ),
];

/// Configuration of a KMS: account, region, clock, quotas.
#[derive(Debug, Clone)]
pub struct KmsConfig {
    account: String,
    region: String,
    clock: Arc<dyn Clock>,
    key_quota: usize,
    grant_quota: usize,
}

/// Customer managed keys per account and region (KMS-REFERENCE §3).
pub const KEY_QUOTA: usize = 100_000;
/// Grants per key (KMS-REFERENCE §3).
pub const GRANT_QUOTA: usize = 50_000;

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            account: "111122223333".into(),
            region: "us-west-2".into(),
            clock: Arc::new(SystemClock),
            key_quota: KEY_QUOTA,
            grant_quota: GRANT_QUOTA,
        }
    }
}

impl KmsConfig {
    /// The default account (bare key ids and the built-in `test` credential resolve here).
    #[must_use]
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }

    /// The region.
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// The clock (simulated time = this clock + the stored offset).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Customer managed keys an account may have (default [`KEY_QUOTA`]); CreateKey beyond
    /// it answers LimitExceededException.
    #[must_use]
    pub fn key_quota(mut self, keys: usize) -> Self {
        self.key_quota = keys;
        self
    }

    /// Grants a key may have (default [`GRANT_QUOTA`]); CreateGrant beyond it answers
    /// LimitExceededException.
    #[must_use]
    pub fn grant_quota(mut self, grants: usize) -> Self {
        self.grant_quota = grants;
        self
    }
}

/// A secret string: zeroized on drop, never printed.
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// The secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(..)")
    }
}

/// A credential for SigV4 verification.
#[derive(Debug)]
#[non_exhaustive]
pub struct Credential {
    /// The principal ARN the credential signs as.
    pub principal: String,
    /// The secret access key.
    pub secret: SecretString,
    /// Whether this is the data dir's service credential (may act for other principals).
    pub is_service: bool,
}

/// The KMS service.
#[derive(Debug)]
pub struct Kms {
    config: KmsConfig,
    state: RwLock<State>,
    /// Simulated time (bits of an f64) at which a deletion or rotation falls due.
    next_due: AtomicU64,
    audit: AuditLog,
    faults: Faults,
    store: Option<Store>,
    service_key: Option<(String, Zeroizing<String>)>,
    /// The last audit timestamp formatted (whole second, text).
    time_text: parking_lot::Mutex<(i64, String)>,
}

type R<T> = Result<T, KmsError>;

mod hot;
use hot::Req;

fn err(t: ErrorType, msg: impl Into<String>) -> KmsError {
    KmsError::new(t, msg)
}
fn validation(msg: impl Into<String>) -> KmsError {
    err(ErrorType::ValidationException, msg)
}
fn internal(msg: impl Into<String>) -> KmsError {
    err(ErrorType::KMSInternalException, msg)
}

/// What an operation contributes to its audit record.
#[derive(Debug, Default)]
struct Ev {
    key_arn: Option<String>,
    key_account: Option<String>,
    grant_id: Option<String>,
    sid: Option<String>,
    response: Option<Value>,
}

impl Ev {
    fn key(&mut self, key: &Key) {
        self.key_arn = Some(key.arn.clone());
        self.key_account = Some(key.account.clone());
    }
}

/// The result of authorization.
#[derive(Debug, Default)]
struct Authz {
    sid: Option<String>,
    grant_id: Option<String>,
    /// The grant through which CreateGrant was allowed (child-grant rule).
    via_grant: Option<Grant>,
}

enum Iam {
    Deny,
    Allow,
    None,
}

/// Which `KeyId` forms an operation accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Forms {
    All,
    IdOrArn,
}

// ---------------------------------------------------------------------------------------
// request helpers

fn ser(msg: impl Into<String>) -> KmsError {
    err(ErrorType::SerializationException, msg)
}

fn camel(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn opt_str<'a, Q: Req + ?Sized>(req: &'a Q, name: &str) -> R<Option<&'a str>> {
    req.opt_str(name)
}

fn req_str<'a, Q: Req + ?Sized>(req: &'a Q, name: &str) -> R<&'a str> {
    opt_str(req, name)?.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            camel(name)
        ))
    })
}

fn opt_int<Q: Req + ?Sized>(req: &Q, name: &str) -> R<Option<i64>> {
    req.opt_int(name)
}

fn opt_bool<Q: Req + ?Sized>(req: &Q, name: &str) -> R<bool> {
    req.opt_bool(name)
}

fn range(name: &str, v: i64, lo: i64, hi: i64) -> R<()> {
    if v < lo {
        return Err(validation(format!(
            "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must have value greater than or equal to {lo}",
            camel(name)
        )));
    }
    if v > hi {
        return Err(validation(format!(
            "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must have value less than or equal to {hi}",
            camel(name)
        )));
    }
    Ok(())
}

fn blob_param<Q: Req + ?Sized>(req: &Q, name: &str) -> R<Option<Zeroizing<Vec<u8>>>> {
    match opt_str(req, name)? {
        None => Ok(None),
        Some(s) => B64
            .decode(s)
            .map(|b| Some(Zeroizing::new(b)))
            .map_err(|_| ser(format!("Value for {name} is not valid base64"))),
    }
}

fn context_param<Q: Req + ?Sized>(req: &Q, name: &str) -> R<BTreeMap<String, String>> {
    req.context(name)
}

fn string_list<Q: Req + ?Sized>(req: &Q, name: &str) -> R<Option<Vec<String>>> {
    req.string_list(name)
}

/// Grant token: base64url (no padding) of `0x01 ‖ grant id (32 bytes) ‖ 16 random bytes`.
fn new_grant_token(grant_id: &str) -> String {
    let mut raw = vec![1u8];
    raw.extend(hex::decode(grant_id).unwrap_or_default());
    let mut nonce = [0u8; 16];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut nonce);
    raw.extend_from_slice(&nonce);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn parse_grant_token(token: &str) -> R<String> {
    let bad = || {
        err(
            ErrorType::InvalidGrantTokenException,
            "Invalid grant token.",
        )
    };
    if token.is_empty() || token.len() > 8192 {
        return Err(bad());
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    if raw.len() != 49 || raw[0] != 1 {
        return Err(bad());
    }
    Ok(hex::encode(&raw[1..33]))
}

fn check_grant_tokens<Q: Req + ?Sized>(req: &Q) -> R<()> {
    if let Some(tokens) = string_list(req, "GrantTokens")? {
        if tokens.len() > 10 {
            return Err(validation(
                "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10",
            ));
        }
        for t in &tokens {
            parse_grant_token(t)?;
        }
    }
    Ok(())
}

fn is_grant_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn valid_alias_chars(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/:_-".contains(&b))
}

/// `arn:aws:sts::A:assumed-role/R/S` → `arn:aws:iam::A:role/R`.
fn identity_arn(principal: &str) -> Option<String> {
    let rest = principal.strip_prefix("arn:aws:sts::")?;
    let (account, res) = rest.split_once(':')?;
    let role = res.strip_prefix("assumed-role/")?.split('/').next()?;
    let mut arn = String::with_capacity(24 + account.len() + role.len());
    arn.push_str("arn:aws:iam::");
    arn.push_str(account);
    arn.push_str(":role/");
    arn.push_str(role);
    Some(arn)
}

fn is_root(principal: &str) -> bool {
    principal.starts_with("arn:aws:iam::") && principal.ends_with(":root")
}

/// The 12-digit account of an ARN (its fifth `:`-separated field), as [`Caller::account`].
fn principal_account(principal: &str) -> Option<&str> {
    let b = principal.as_bytes();
    let (mut colons, mut start, mut end) = (0, None, b.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b':' {
            colons += 1;
            if colons == 4 {
                start = Some(i + 1);
            } else if colons == 5 {
                end = i;
                break;
            }
        }
    }
    let account = principal.get(start?..end)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// `kms:ACTION` (without formatting for the data-plane actions).
fn kms_action(action: &str) -> std::borrow::Cow<'static, str> {
    std::borrow::Cow::Borrowed(match action {
        "Decrypt" => "kms:Decrypt",
        "Encrypt" => "kms:Encrypt",
        "GenerateDataKey" => "kms:GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext" => "kms:GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom" => "kms:ReEncryptFrom",
        "ReEncryptTo" => "kms:ReEncryptTo",
        "DescribeKey" => "kms:DescribeKey",
        _ => return std::borrow::Cow::Owned(format!("kms:{action}")),
    })
}

/// `<acct>:aws:ec2-infrastructure:<id>` (the form EC2 sends) → the session ARN.
fn normalize_grantee(p: &str) -> String {
    let parts: Vec<&str> = p.split(':').collect();
    if parts.len() == 4
        && principal_account(&format!("arn:aws:iam::{}:root", parts[0])).is_some()
        && parts[1] == "aws"
    {
        return format!(
            "arn:aws:sts::{}:assumed-role/aws:{}/{}",
            parts[0], parts[2], parts[3]
        );
    }
    p.to_string()
}

fn valid_principal_id(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 256
        && p.chars()
            .all(|c| c.is_alphanumeric() || "_+=,.@:/-".contains(c))
}

fn key_usage_for_spec(spec: &str) -> Option<&'static [&'static str]> {
    Some(match spec {
        "SYMMETRIC_DEFAULT" => &["ENCRYPT_DECRYPT"],
        "RSA_2048" | "RSA_3072" | "RSA_4096" => &["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
        "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" | "ECC_SECG_P256K1" => {
            &["SIGN_VERIFY", "KEY_AGREEMENT"]
        }
        "ECC_NIST_EDWARDS25519" | "ML_DSA_44" | "ML_DSA_65" | "ML_DSA_87" => &["SIGN_VERIFY"],
        "SM2" => &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"],
        "HMAC_224" | "HMAC_256" | "HMAC_384" | "HMAC_512" => &["GENERATE_VERIFY_MAC"],
        _ => return None,
    })
}

/// Whether a grant operation suits a key.
fn grant_op_fits(op: &str, key: &Key) -> bool {
    if matches!(op, "CreateGrant" | "RetireGrant" | "DescribeKey") {
        return true;
    }
    let allowed: &[&str] = match (key.is_symmetric(), key.key_usage.as_str()) {
        (true, _) => &[
            "Encrypt",
            "Decrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
        ],
        (false, "ENCRYPT_DECRYPT") => &[
            "Encrypt",
            "Decrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GetPublicKey",
        ],
        (false, "SIGN_VERIFY") => &["Sign", "Verify", "GetPublicKey"],
        (false, "GENERATE_VERIFY_MAC") => &["GenerateMac", "VerifyMac"],
        (false, "KEY_AGREEMENT") => &["DeriveSharedSecret", "GetPublicKey"],
        _ => &[],
    };
    allowed.contains(&op)
}

fn read_only(op: &str) -> bool {
    matches!(
        op,
        "Decrypt"
            | "Encrypt"
            | "GenerateDataKey"
            | "GenerateDataKeyWithoutPlaintext"
            | "ReEncrypt"
            | "GenerateRandom"
            | "DescribeKey"
            | "ListKeys"
            | "ListAliases"
            | "ListGrants"
            | "ListRetirableGrants"
            | "GetKeyPolicy"
            | "GetKeyRotationStatus"
            | "ListKeyRotations"
            | "ListResourceTags"
            | "ListKeyPolicies"
    )
}

fn page<T>(
    items: Vec<T>,
    req: &Map<String, Value>,
    max: i64,
    default: i64,
) -> R<(Vec<T>, Option<String>)> {
    let limit = opt_int(req, "Limit")?.unwrap_or(default);
    range("Limit", limit, 1, max)?;
    let start = match opt_str(req, "Marker")? {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| err(ErrorType::InvalidMarkerException, "Invalid marker."))?,
    };
    let total = items.len();
    let end = (start + limit as usize).min(total);
    let out: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    Ok((out, (end < total).then(|| end.to_string())))
}

fn paged(mut body: Map<String, Value>, next: Option<String>) -> Value {
    body.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        body.insert("NextMarker".into(), Value::String(n));
    }
    Value::Object(body)
}

// ---------------------------------------------------------------------------------------

impl Kms {
    /// A KMS keeping its state in memory only (tests).
    pub fn in_memory(config: KmsConfig) -> Kms {
        Kms {
            config,
            state: RwLock::new(State {
                format: STATE_FORMAT,
                ..State::default()
            }),
            next_due: AtomicU64::new(f64::INFINITY.to_bits()),
            audit: AuditLog::in_memory(),
            faults: Faults::default(),
            store: None,
            service_key: None,
            time_text: parking_lot::Mutex::new((i64::MIN, String::new())),
        }
    }

    /// Opens (creating on first use) the KMS of a data dir, holding an exclusive lock on
    /// `DIR/kms/` for the life of the value.
    ///
    /// # Errors
    /// [`KmsOpenError::Locked`] when another process has it open; I/O and corrupt-state
    /// errors otherwise.
    pub fn open(data_dir: &Path, config: KmsConfig) -> Result<Kms, KmsOpenError> {
        let store = Store::open(data_dir)?;
        let path = store.state_path();
        let state = match store.read_state()? {
            None => State {
                format: STATE_FORMAT,
                ..State::default()
            },
            Some(bytes) => {
                let mut st: State =
                    serde_json::from_slice(&bytes).map_err(|e| KmsOpenError::Corrupt {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                st.rehydrate().map_err(|message| KmsOpenError::Corrupt {
                    path: path.clone(),
                    message,
                })?;
                st
            }
        };
        let cred_path = Self::service_credential_path(data_dir);
        let service_key = store::service_credential(&cred_path)?;
        let audit_path = data_dir.join("audit").join("kms-audit.jsonl");
        if let Err(source) = store::end_torn_line(&audit_path) {
            return Err(KmsOpenError::Io {
                path: audit_path,
                source,
            });
        }
        let audit = AuditLog::with_file(audit_path.clone()).map_err(|source| KmsOpenError::Io {
            path: audit_path,
            source,
        })?;
        let kms = Kms {
            config,
            state: RwLock::new(state),
            next_due: AtomicU64::new(0f64.to_bits()),
            audit,
            faults: Faults::default(),
            store: Some(store),
            service_key: Some(service_key),
            time_text: parking_lot::Mutex::new((i64::MIN, String::new())),
        };
        Ok(kms)
    }

    /// `DIR/kms/service-credential`.
    pub fn service_credential_path(data_dir: &Path) -> PathBuf {
        data_dir.join("kms").join("service-credential")
    }

    /// The default account.
    pub fn account_id(&self) -> &str {
        &self.config.account
    }

    /// The region.
    pub fn region_name(&self) -> &str {
        &self.config.region
    }

    /// The account root's ARN.
    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.config.account)
    }

    /// Simulated time, epoch seconds.
    pub fn now(&self) -> f64 {
        self.config.clock.now() + self.state.read().clock_offset
    }

    /// The audit records kept in memory, oldest first.
    pub fn audit_records(&self) -> Vec<Value> {
        self.audit.records(None)
    }

    /// Whether `principal` is the root of an account or an IAM user/role known to this KMS.
    pub fn is_known_principal(&self, principal: &str) -> bool {
        is_root(principal)
            || self.state.read().principals.contains_key(principal)
            || identity_arn(principal).is_some()
    }

    /// The access key id of the data dir's service credential (`None` in memory).
    pub fn service_access_key_id(&self) -> Option<&str> {
        self.service_key.as_ref().map(|(id, _)| id.as_str())
    }

    /// The credential of an access key: `test` (the default account's root), IAM users and
    /// roles created through the admin operations, and the data dir's service credential.
    pub fn lookup_access_key(&self, access_key_id: &str) -> Option<Credential> {
        if access_key_id == "test" {
            return Some(Credential {
                principal: self.root_arn(),
                secret: SecretString(Zeroizing::new("test".into())),
                is_service: false,
            });
        }
        if let Some((id, secret)) = &self.service_key
            && id == access_key_id
        {
            return Some(Credential {
                principal: self.root_arn(),
                secret: SecretString(secret.clone()),
                is_service: true,
            });
        }
        let st = self.state.read();
        st.principals
            .values()
            .find(|p| p.access_key_id == access_key_id)
            .map(|p| Credential {
                principal: p.arn.clone(),
                secret: SecretString(p.secret.clone()),
                is_service: false,
            })
    }

    /// Every KMS operation by its AWS name, AWS JSON 1.1 bodies.
    ///
    /// # Errors
    /// The KMS error, as the service would answer it.
    pub fn call(
        &self,
        caller: &Caller,
        operation: &str,
        request_json: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        if let Some(answer) = self.call_hot(caller, operation, request_json) {
            return answer;
        }
        let body: &[u8] = if request_json.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            request_json
        };
        let parsed: R<Value> = serde_json::from_slice::<Value>(body)
            .map_err(|e| ser(format!("Malformed request body: {e}")))
            .and_then(|v| {
                if v.is_object() {
                    Ok(v)
                } else {
                    Err(ser("The request body must be a JSON object"))
                }
            });
        match parsed {
            Ok(v) => self
                .call_json(caller, operation, v)
                .map(|out| serde_json::to_vec(&out).unwrap_or_else(|_| b"{}".to_vec())),
            Err(e) => {
                self.record(
                    caller,
                    operation,
                    AuditParams::Map(&Map::new()),
                    &Ev::default(),
                    Some(&e),
                );
                Err(e)
            }
        }
    }

    /// [`Kms::call`] with parsed JSON.
    ///
    /// # Errors
    /// The KMS error.
    pub fn call_json(
        &self,
        caller: &Caller,
        operation: &str,
        request: Value,
    ) -> Result<Value, KmsError> {
        let Value::Object(req) = request else {
            return Err(ser("The request body must be a JSON object"));
        };
        let mut ev = Ev::default();
        let result = self.run(caller, operation, &req, &mut ev);
        self.record(
            caller,
            operation,
            AuditParams::Map(&req),
            &ev,
            result.as_ref().err(),
        );
        result
    }

    fn run(&self, caller: &Caller, op: &str, req: &Map<String, Value>, ev: &mut Ev) -> R<Value> {
        self.faults.apply(op, SystemClock.now())?;
        let now = self.now();
        self.maintain(now)?;
        let dry_run = opt_bool(req, "DryRun")?;
        if dry_run && !dry_run::accepts_dry_run(op) {
            return Err(validation("DryRun is not supported for this operation."));
        }
        for name in ["KeyId", "DestinationKeyId", "SourceKeyId"] {
            if let Some(k) = opt_str(req, name)? {
                self.ensure_managed(caller, k, now)?;
            }
        }
        let out = if read_only(op) {
            let st = self.state.read();
            self.read_op(&st, caller, op, req, ev, now)?
        } else {
            let mut st = self.state.write();
            if dry_run {
                // Run on the live state only up to the checks: the write ops stop before
                // changing anything when DryRun is set.
                self.write_op(&mut st, caller, op, req, ev, now, true)?
            } else {
                let out = self.write_op(&mut st, caller, op, req, ev, now, false)?;
                self.persist(&st)?;
                self.update_due(&st);
                out
            }
        };
        if dry_run {
            return Err(err(
                ErrorType::DryRunOperationException,
                "The request would have succeeded, but the DryRun option is set.",
            ));
        }
        Ok(out)
    }

    fn persist(&self, st: &State) -> R<()> {
        if let Some(store) = &self.store {
            let bytes = Zeroizing::new(
                serde_json::to_vec(st)
                    .map_err(|_| internal("The KMS state could not be saved."))?,
            );
            store
                .write_state(&bytes)
                .map_err(|e| internal(format!("The KMS state could not be saved: {e}")))?;
            self.audit.flush();
        }
        Ok(())
    }

    fn update_due(&self, st: &State) {
        let mut due = f64::INFINITY;
        for k in st.keys.values() {
            if let Some(d) = k.deletion_date {
                due = due.min(d);
            }
            if let Some(r) = &k.rotation
                && k.state == KeyState::Enabled
            {
                due = due.min(r.next);
            }
        }
        self.next_due.store(due.to_bits(), Ordering::Release);
    }

    /// Deletes keys whose window has passed and rotates keys whose period has passed.
    fn maintain(&self, now: f64) -> R<()> {
        if now < f64::from_bits(self.next_due.load(Ordering::Acquire)) {
            return Ok(());
        }
        let mut st = self.state.write();
        let mut changed = false;
        let doomed: Vec<String> = st
            .keys
            .values()
            .filter(|k| k.deletion_date.is_some_and(|d| d <= now))
            .map(|k| k.id.clone())
            .collect();
        for id in doomed {
            st.keys.remove(&id);
            st.aliases.retain(|_, a| a.target_key_id != id);
            changed = true;
        }
        for key in st.keys.values_mut() {
            if key.state != KeyState::Enabled {
                continue;
            }
            let Some(rot) = key.rotation.clone() else {
                continue;
            };
            let mut next = rot.next;
            while next <= now {
                key.materials
                    .push(Material::generate(next, Some("AUTOMATIC")));
                next += f64::from(rot.period_days) * DAY;
                changed = true;
            }
            if let Some(r) = key.rotation.as_mut() {
                r.next = next;
            }
        }
        if changed {
            self.persist(&st)?;
        }
        self.update_due(&st);
        Ok(())
    }

    fn caller_account<'a>(&'a self, caller: &'a Caller) -> &'a str {
        principal_account(&caller.principal).unwrap_or(&self.config.account)
    }

    /// Creates the AWS managed key an `alias/aws/ebs` or `alias/aws/workspaces` reference
    /// names, the first time it is used.
    fn ensure_managed(&self, caller: &Caller, key_ref: &str, now: f64) -> R<()> {
        let region = &self.config.region;
        let (account, name) = if let Some(rest) = key_ref.strip_prefix("arn:aws:kms:") {
            let mut p = rest.splitn(3, ':');
            let (Some(r), Some(a), Some(res)) = (p.next(), p.next(), p.next()) else {
                return Ok(());
            };
            if r != region {
                return Ok(());
            }
            (a.to_string(), res.to_string())
        } else {
            (self.caller_account(caller).to_string(), key_ref.to_string())
        };
        let Some((alias, service, description)) = MANAGED.iter().find(|m| m.0 == name) else {
            return Ok(());
        };
        let alias_arn = format!("arn:aws:kms:{region}:{account}:{alias}");
        if self.state.read().aliases.contains_key(&alias_arn) {
            return Ok(());
        }
        let mut st = self.state.write();
        if st.aliases.contains_key(&alias_arn) {
            return Ok(());
        }
        let policy = aws_managed_key_policy(service, &account, region)
            .ok_or_else(|| internal("No managed key policy for this service."))?;
        let doc = PolicyDocument::parse_key_policy(&policy).map_err(KmsError::from)?;
        let mut key = self.new_key(
            &account,
            now,
            description,
            "SYMMETRIC_DEFAULT",
            "ENCRYPT_DECRYPT",
            policy,
            doc,
        );
        key.aws_managed = true;
        key.rotation = Some(Rotation {
            period_days: 365,
            next: now + 365.0 * DAY,
        });
        let id = key.id.clone();
        st.keys.insert(id.clone(), key);
        st.aliases.insert(
            alias_arn.clone(),
            Alias {
                name: (*alias).to_string(),
                arn: alias_arn,
                target_key_id: id,
                created: now,
                updated: now,
            },
        );
        self.persist(&st)?;
        self.update_due(&st);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn new_key(
        &self,
        account: &str,
        now: f64,
        description: &str,
        spec: &str,
        usage: &str,
        policy_text: String,
        policy: PolicyDocument,
    ) -> Key {
        let uuid = uuid::Uuid::new_v4();
        let id = uuid.hyphenated().to_string();
        let symmetric = spec == "SYMMETRIC_DEFAULT";
        Key {
            arn: format!("arn:aws:kms:{}:{account}:key/{id}", self.config.region),
            id,
            id_bytes: *uuid.as_bytes(),
            account: account.to_string(),
            region: self.config.region.clone(),
            created: now,
            description: description.to_string(),
            key_usage: usage.to_string(),
            key_spec: spec.to_string(),
            origin: "AWS_KMS".into(),
            aws_managed: false,
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            policy_text,
            policy: Some(Arc::new(policy)),
            materials: if symmetric {
                vec![Material::generate(now, None)]
            } else {
                Vec::new()
            },
            rotation: None,
            on_demand_rotations: 0,
            grants: Vec::new(),
            tags: Vec::new(),
        }
    }

    // -----------------------------------------------------------------------------------
    // resolution

    /// Resolves a `KeyId` to the key's id (the map key).
    fn resolve_id(&self, st: &State, caller: &Caller, key_ref: &str, forms: Forms) -> R<String> {
        let region = &self.config.region;
        let not_found = |arn: &str| {
            err(
                ErrorType::NotFoundException,
                format!("Key '{arn}' does not exist"),
            )
        };
        let alias_unsupported = || {
            err(
                ErrorType::InvalidArnException,
                "Key Aliases are not supported for this operation",
            )
        };
        if key_ref.is_empty() || key_ref.len() > 2048 {
            return Err(validation(
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048",
            ));
        }
        let (account, resource) = if let Some(rest) = key_ref.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if parts.len() != 5
                || !matches!(parts[0], "aws" | "aws-cn" | "aws-us-gov")
                || parts[1] != "kms"
            {
                return Err(err(
                    ErrorType::NotFoundException,
                    format!("Invalid arn {key_ref}"),
                ));
            }
            if parts[2] != region {
                return Err(err(
                    ErrorType::NotFoundException,
                    format!("Invalid arn {}", parts[2]),
                ));
            }
            (parts[3].to_string(), parts[4].to_string())
        } else {
            (self.caller_account(caller).to_string(), key_ref.to_string())
        };
        if resource.starts_with("alias/") {
            if forms != Forms::All {
                return Err(alias_unsupported());
            }
            let arn = format!("arn:aws:kms:{region}:{account}:{resource}");
            return st
                .aliases
                .get(&arn)
                .map(|a| a.target_key_id.clone())
                .ok_or_else(|| {
                    err(
                        ErrorType::NotFoundException,
                        format!("Alias {arn} is not found."),
                    )
                });
        }
        let is_arn = key_ref.starts_with("arn:");
        if is_arn && !resource.starts_with("key/") {
            return Err(err(
                ErrorType::NotFoundException,
                format!("Invalid arn {key_ref}"),
            ));
        }
        // `key/<id>` is a form only inside an ARN.
        let id = if is_arn {
            resource.strip_prefix("key/").unwrap_or(&resource)
        } else {
            resource.as_str()
        };
        if uuid::Uuid::parse_str(id).is_err() || id.len() != 36 {
            return Err(err(
                ErrorType::NotFoundException,
                format!("Invalid keyId '{key_ref}'"),
            ));
        }
        let arn = format!("arn:aws:kms:{region}:{account}:key/{id}");
        match st.keys.get(id) {
            Some(k) if k.account == account => Ok(k.id.clone()),
            _ => Err(not_found(&arn)),
        }
    }

    fn key<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        key_ref: &str,
        forms: Forms,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        let id = self.resolve_id(st, caller, key_ref, forms)?;
        let key = st.keys.get(&id).ok_or_else(|| internal("key vanished"))?;
        ev.key(key);
        Ok(key)
    }

    // -----------------------------------------------------------------------------------
    // authorization

    fn base_conditions(&self, caller: &Caller) -> ConditionValues {
        let mut cv = ConditionValues::new();
        if let Some(a) = principal_account(&caller.principal) {
            cv.insert("kms:CallerAccount", a);
        }
        cv.insert(
            "aws:PrincipalArn",
            identity_arn(&caller.principal).unwrap_or_else(|| caller.principal.clone()),
        );
        if let Some(v) = &caller.via_service {
            cv.insert("kms:ViaService", v.clone());
        }
        cv
    }

    fn context_conditions(cv: &mut ConditionValues, ctx: &BTreeMap<String, String>) {
        let mut name = String::with_capacity(64);
        for (k, v) in ctx {
            name.clear();
            name.push_str("kms:EncryptionContext:");
            name.push_str(k);
            cv.insert(&name, v.clone());
        }
        cv.insert_many("kms:EncryptionContextKeys", ctx.keys().cloned());
    }

    fn iam(
        &self,
        st: &State,
        principal: &str,
        action: &str,
        resource: &str,
        cv: &ConditionValues,
    ) -> Iam {
        if st.principals.is_empty() {
            return Iam::None;
        }
        let arn = identity_arn(principal);
        let Some(p) = st.principals.get(arn.as_deref().unwrap_or(principal)) else {
            return Iam::None;
        };
        let mut allowed = false;
        for doc in &p.compiled {
            match doc.allows(principal, action, resource, cv) {
                Decision::ExplicitDeny { .. } => return Iam::Deny,
                Decision::Allow { .. } | Decision::DelegatedToIam { .. } => allowed = true,
                _ => {}
            }
        }
        if allowed { Iam::Allow } else { Iam::None }
    }

    fn denied(principal: &str, action: &str, resource: &str, why: &str) -> KmsError {
        err(
            ErrorType::AccessDeniedException,
            format!(
                "User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"
            ),
        )
    }

    /// Key policy + IAM + grants for `action` (`"Decrypt"`) on `key`.
    #[allow(clippy::too_many_arguments)]
    fn authorize(
        &self,
        st: &State,
        caller: &Caller,
        action: &str,
        key: &Key,
        cv: &ConditionValues,
        grant_ctx: Option<&BTreeMap<String, String>>,
        grant_op: bool,
    ) -> R<Authz> {
        let p = caller.principal.as_str();
        let full = kms_action(action);
        let policy = key
            .policy
            .as_ref()
            .ok_or_else(|| internal("key policy missing"))?;
        let decision = policy.allows(p, &full, &key.arn, cv);
        if matches!(decision, Decision::ExplicitDeny { .. }) {
            return Err(Self::denied(
                p,
                &full,
                &key.arn,
                "with an explicit deny in a resource-based policy",
            ));
        }
        let iam = self.iam(st, p, &full, &key.arn, cv);
        if matches!(iam, Iam::Deny) {
            return Err(Self::denied(
                p,
                &full,
                &key.arn,
                "with an explicit deny in an identity-based policy",
            ));
        }
        let same_account = principal_account(p) == Some(key.account.as_str());
        let root = is_root(p);
        let mut missing_identity = false;
        match &decision {
            Decision::Allow { sid } => {
                if same_account || root || matches!(iam, Iam::Allow) {
                    return Ok(Authz {
                        sid: sid.clone(),
                        ..Authz::default()
                    });
                }
                missing_identity = true;
            }
            Decision::DelegatedToIam { sid } if root || matches!(iam, Iam::Allow) => {
                return Ok(Authz {
                    sid: sid.clone(),
                    ..Authz::default()
                });
            }
            _ => {}
        }
        if grant_op {
            let empty = BTreeMap::new();
            let ctx = grant_ctx.unwrap_or(&empty);
            let normalized;
            let grantee = if p.contains(":assumed-role/") || p.starts_with("arn:") {
                p
            } else {
                normalized = normalize_grantee(p);
                normalized.as_str()
            };
            for g in &key.grants {
                if g.grantee == grantee
                    && g.operations.iter().any(|o| o == action)
                    && (grant_ctx.is_none() || g.constraints.allows(ctx))
                {
                    return Ok(Authz {
                        grant_id: Some(g.grant_id.clone()),
                        via_grant: (action == "CreateGrant").then(|| g.clone()),
                        ..Authz::default()
                    });
                }
            }
        }
        let why = if missing_identity {
            format!("because no identity-based policy allows the {full} action")
        } else {
            format!("because no resource-based policy allows the {full} action")
        };
        Err(Self::denied(p, &full, &key.arn, &why))
    }

    /// IAM-only actions: the root of an account may; others need an identity policy.
    fn authorize_iam_only(
        &self,
        st: &State,
        caller: &Caller,
        action: &str,
        resource: &str,
    ) -> R<()> {
        let p = caller.principal.as_str();
        let full = format!("kms:{action}");
        let cv = self.base_conditions(caller);
        match self.iam(st, p, &full, resource, &cv) {
            Iam::Deny => Err(Self::denied(
                p,
                &full,
                resource,
                "with an explicit deny in an identity-based policy",
            )),
            Iam::Allow => Ok(()),
            Iam::None if is_root(p) => Ok(()),
            Iam::None => Err(Self::denied(
                p,
                &full,
                resource,
                &format!("because no identity-based policy allows the {full} action"),
            )),
        }
    }

    fn check_usable(key: &Key) -> R<()> {
        match key.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(err(
                ErrorType::DisabledException,
                format!("{} is disabled.", key.arn),
            )),
            KeyState::PendingDeletion => Err(err(
                ErrorType::KMSInvalidStateException,
                format!("{} is pending deletion.", key.arn),
            )),
        }
    }

    /// Resolves and checks the `TargetKeyId` of CreateAlias/UpdateAlias: authorized for `op`,
    /// not pending deletion, and customer managed. Returns the key id.
    fn alias_target(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
        op: &str,
        ev: &mut Ev,
    ) -> R<String> {
        let key = self.key_access(
            st,
            caller,
            req,
            "TargetKeyId",
            Forms::IdOrArn,
            op,
            None,
            false,
            ev,
        )?;
        Self::check_not_pending(key)?;
        if key.aws_managed {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                "Aliases cannot point to AWS managed keys.",
            ));
        }
        Ok(key.id.clone())
    }

    /// LimitExceededException when `target` already has 50 aliases other than `alias_arn`.
    fn check_alias_quota(st: &State, target: &str, alias_arn: &str) -> R<()> {
        let n = st
            .aliases
            .values()
            .filter(|a| a.target_key_id == target && a.arn != alias_arn)
            .count();
        if n >= 50 {
            let key_arn = st.keys.get(target).map(|k| k.arn.as_str()).unwrap_or("");
            return Err(err(
                ErrorType::LimitExceededException,
                format!("The key {key_arn} already has 50 aliases."),
            ));
        }
        Ok(())
    }

    fn check_not_pending(key: &Key) -> R<()> {
        if key.state == KeyState::PendingDeletion {
            return Err(err(
                ErrorType::KMSInvalidStateException,
                format!("{} is pending deletion.", key.arn),
            ));
        }
        Ok(())
    }

    fn check_symmetric(key: &Key, op: &str) -> R<()> {
        if !key.is_symmetric() {
            return Err(err(
                ErrorType::InvalidKeyUsageException,
                format!(
                    "{} key usage is {} which is not valid for {op}.",
                    key.arn, key.key_usage
                ),
            ));
        }
        Ok(())
    }

    /// Everything a key-scoped operation needs: resolve, authorize, state.
    #[allow(clippy::too_many_arguments)]
    fn key_access<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        param: &str,
        forms: Forms,
        action: &str,
        ctx: Option<&BTreeMap<String, String>>,
        grant_op: bool,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        let key = self.key(st, caller, req_str(req, param)?, forms, ev)?;
        let mut cv = self.base_conditions(caller);
        if let Some(c) = ctx {
            Self::context_conditions(&mut cv, c);
        }
        let a = self.authorize(st, caller, action, key, &cv, ctx, grant_op)?;
        ev.grant_id.clone_from(&a.grant_id);
        ev.sid.clone_from(&a.sid);
        Ok(key)
    }

    /// The key a key-management operation names in `KeyId` (key id or ARN, no alias),
    /// authorized for `action` by the key policy and IAM policies (grants never allow
    /// management operations).
    fn managed_key<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        action: &str,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        self.key_access(
            st,
            caller,
            req,
            "KeyId",
            Forms::IdOrArn,
            action,
            None,
            false,
            ev,
        )
    }

    /// The key a cryptographic or describing operation names in `KeyId` (any form, aliases
    /// included), authorized for `action` by policy or by a grant, with the encryption context
    /// (if the operation takes one) as condition keys.
    fn used_key<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        action: &str,
        ctx: Option<&BTreeMap<String, String>>,
        ev: &mut Ev,
    ) -> R<&'a Key> {
        self.key_access(st, caller, req, "KeyId", Forms::All, action, ctx, true, ev)
    }

    // -----------------------------------------------------------------------------------
    // operations

    fn read_op(
        &self,
        st: &State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
    ) -> R<Value> {
        match op {
            "Decrypt" | "ReEncrypt" if dry_run::ignores_ciphertext(req)? => {
                self.dry_run_without_ciphertext(st, caller, op, req, ev)
            }
            "DescribeKey" => {
                check_grant_tokens(req)?;
                let key = self.used_key(st, caller, req, "DescribeKey", None, ev)?;
                Ok(json!({ "KeyMetadata": key_metadata(key) }))
            }
            "Encrypt" => self.encrypt(st, caller, req, ev).map(|o| o.to_value()),
            "Decrypt" => self.decrypt(st, caller, req, ev).map(|o| o.to_value()),
            "GenerateDataKey" => self
                .generate_data_key(st, caller, req, ev, true)
                .map(|o| o.to_value()),
            "GenerateDataKeyWithoutPlaintext" => self
                .generate_data_key(st, caller, req, ev, false)
                .map(|o| o.to_value()),
            "ReEncrypt" => self.re_encrypt(st, caller, req, ev).map(|o| o.to_value()),
            "GenerateRandom" => {
                self.authorize_iam_only(st, caller, "GenerateRandom", "*")?;
                let n = opt_int(req, "NumberOfBytes")?
                    .ok_or_else(|| validation("NumberOfBytes is required."))?;
                range("NumberOfBytes", n, 1, 1024)?;
                let mut bytes = Zeroizing::new(vec![0u8; n as usize]);
                rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
                Ok(json!({ "Plaintext": B64.encode(&*bytes) }))
            }
            "ListKeys" => {
                self.authorize_iam_only(st, caller, "ListKeys", "*")?;
                let account = self.caller_account(caller);
                let keys: Vec<Value> = st
                    .keys
                    .values()
                    .filter(|k| k.account == account)
                    .map(|k| json!({"KeyId": k.id, "KeyArn": k.arn}))
                    .collect();
                let (keys, next) = page(keys, req, 1000, 100)?;
                let mut body = Map::new();
                body.insert("Keys".into(), Value::Array(keys));
                Ok(paged(body, next))
            }
            "ListAliases" => {
                self.authorize_iam_only(st, caller, "ListAliases", "*")?;
                let account = self.caller_account(caller).to_string();
                let filter = match opt_str(req, "KeyId")? {
                    Some(k) => Some(self.resolve_id(st, caller, k, Forms::IdOrArn)?),
                    None => None,
                };
                let prefix = format!("arn:aws:kms:{}:{account}:", self.config.region);
                let mut items: Vec<Value> = st
                    .aliases
                    .values()
                    .filter(|a| a.arn.starts_with(&prefix))
                    .filter(|a| filter.as_ref().is_none_or(|f| *f == a.target_key_id))
                    .map(|a| {
                        json!({"AliasName": a.name, "AliasArn": a.arn, "TargetKeyId": a.target_key_id,
                               "CreationDate": a.created, "LastUpdatedDate": a.updated})
                    })
                    .collect();
                if filter.is_none() {
                    for (name, _, _) in MANAGED {
                        let arn = format!("{prefix}{name}");
                        if !st.aliases.contains_key(&arn) {
                            items.push(json!({"AliasName": name, "AliasArn": arn}));
                        }
                    }
                }
                let (items, next) = page(items, req, 100, 50)?;
                let mut body = Map::new();
                body.insert("Aliases".into(), Value::Array(items));
                Ok(paged(body, next))
            }
            "ListGrants" => {
                let key = self.managed_key(st, caller, req, "ListGrants", ev)?;
                let gid = opt_str(req, "GrantId")?;
                if let Some(g) = gid
                    && !is_grant_id(g)
                {
                    return Err(err(ErrorType::InvalidGrantIdException, "Invalid grant ID."));
                }
                let grantee = grant_principals::one_of(
                    req,
                    "GranteePrincipal",
                    "GranteeServicePrincipal",
                    false,
                )?
                .map(normalize_grantee);
                let items: Vec<Value> = key
                    .grants
                    .iter()
                    .filter(|g| gid.is_none_or(|i| i == g.grant_id))
                    .filter(|g| grantee.as_ref().is_none_or(|p| *p == g.grantee))
                    .map(|g| grant_entry(key, g))
                    .collect();
                let (items, next) = page(items, req, 100, 50)?;
                let mut body = Map::new();
                body.insert("Grants".into(), Value::Array(items));
                Ok(paged(body, next))
            }
            "ListRetirableGrants" => {
                let rp = grant_principals::one_of(
                    req,
                    "RetiringPrincipal",
                    "RetiringServicePrincipal",
                    true,
                )?
                .unwrap_or_default();
                self.authorize_iam_only(st, caller, "ListRetirableGrants", "*")?;
                let rp = normalize_grantee(rp);
                let items: Vec<Value> = st
                    .keys
                    .values()
                    .flat_map(|k| k.grants.iter().map(move |g| (k, g)))
                    .filter(|(_, g)| g.retiring.as_deref() == Some(rp.as_str()))
                    .map(|(k, g)| grant_entry(k, g))
                    .collect();
                let (items, next) = page(items, req, 100, 50)?;
                let mut body = Map::new();
                body.insert("Grants".into(), Value::Array(items));
                Ok(paged(body, next))
            }
            "GetKeyPolicy" => {
                let name = opt_str(req, "PolicyName")?.unwrap_or("default");
                let key = self.managed_key(st, caller, req, "GetKeyPolicy", ev)?;
                if name != "default" {
                    return Err(err(
                        ErrorType::NotFoundException,
                        format!("Policy {name} does not exist"),
                    ));
                }
                Ok(json!({"Policy": key.policy_text, "PolicyName": "default"}))
            }
            "ListKeyPolicies" => {
                self.managed_key(st, caller, req, "ListKeyPolicies", ev)?;
                Ok(json!({"PolicyNames": ["default"], "Truncated": false}))
            }
            "GetKeyRotationStatus" => {
                let key = self.managed_key(st, caller, req, "GetKeyRotationStatus", ev)?;
                rotation_eligible(key)?;
                let mut out = Map::new();
                out.insert("KeyId".into(), json!(key.arn));
                match (&key.rotation, key.state) {
                    (Some(r), s) if s != KeyState::PendingDeletion => {
                        out.insert("KeyRotationEnabled".into(), json!(true));
                        out.insert("RotationPeriodInDays".into(), json!(r.period_days));
                        out.insert("NextRotationDate".into(), json!(r.next));
                    }
                    _ => {
                        out.insert("KeyRotationEnabled".into(), json!(false));
                    }
                }
                Ok(Value::Object(out))
            }
            "ListKeyRotations" => {
                let key = self.managed_key(st, caller, req, "ListKeyRotations", ev)?;
                rotation_eligible(key)?;
                let all = match opt_str(req, "IncludeKeyMaterial")? {
                    None | Some("ROTATIONS_ONLY") => false,
                    Some("ALL_KEY_MATERIAL") => true,
                    Some(_) => {
                        return Err(validation(
                            "1 validation error detected: Value at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]",
                        ));
                    }
                };
                let last = key.materials.len().saturating_sub(1);
                let items: Vec<Value> = key
                    .materials
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| all || m.rotation_type.is_some())
                    .map(|(i, m)| {
                        let mut e = json!({"KeyId": key.arn, "KeyMaterialId": m.id,
                            "KeyMaterialState": if i == last {"CURRENT"} else {"NON_CURRENT"}});
                        if let (Some(t), Value::Object(o)) = (&m.rotation_type, &mut e) {
                            o.insert("RotationDate".into(), json!(m.created));
                            o.insert("RotationType".into(), json!(t));
                        }
                        e
                    })
                    .collect();
                let (items, next) = page(items, req, 1000, 100)?;
                let mut body = Map::new();
                body.insert("Rotations".into(), Value::Array(items));
                Ok(paged(body, next))
            }
            "ListResourceTags" => self.list_resource_tags(st, caller, req, ev),
            _ => {
                let _ = now;
                Err(err(
                    ErrorType::UnknownOperationException,
                    format!("Unknown operation {op}"),
                ))
            }
        }
    }

    fn encrypt<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        ev: &mut Ev,
    ) -> R<hot::EncryptOut<'s>> {
        check_grant_tokens(req)?;
        let ctx = context_param(req, "EncryptionContext")?;
        let plaintext = blob_param(req, "Plaintext")?.ok_or_else(|| {
            validation("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must not be null")
        })?;
        if plaintext.is_empty() || plaintext.len() > 4096 {
            return Err(validation(format!(
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length {}",
                if plaintext.is_empty() {
                    "greater than or equal to 1"
                } else {
                    "less than or equal to 4096"
                }
            )));
        }
        check_algorithm(req, "EncryptionAlgorithm")?;
        let key = self.used_key(st, caller, req, "Encrypt", Some(&ctx), ev)?;
        Self::check_usable(key)?;
        Self::check_symmetric(key, "Encrypt")?;
        let (blob, material_id) = seal(key, &plaintext, &ctx)?;
        Ok(hot::EncryptOut {
            blob,
            key,
            material_id,
        })
    }

    fn generate_data_key<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        ev: &mut Ev,
        with_plaintext: bool,
    ) -> R<hot::DataKeyOut<'s>> {
        check_grant_tokens(req)?;
        let ctx = context_param(req, "EncryptionContext")?;
        let spec = opt_str(req, "KeySpec")?;
        let n = opt_int(req, "NumberOfBytes")?;
        let len = match (spec, n) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(validation(
                    "Please specify either number of bytes or key spec.",
                ));
            }
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (Some(_), None) => {
                return Err(validation(
                    "1 validation error detected: Value at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]",
                ));
            }
            (None, Some(n)) => {
                range("NumberOfBytes", n, 1, 1024)?;
                n as usize
            }
        };
        let action = if with_plaintext {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        };
        let key = self.used_key(st, caller, req, action, Some(&ctx), ev)?;
        Self::check_usable(key)?;
        Self::check_symmetric(key, action)?;
        let mut data_key = Zeroizing::new(vec![0u8; len]);
        rand::Rng::fill_bytes(&mut rand::rng(), &mut data_key);
        let (blob, material_id) = seal(key, &data_key, &ctx)?;
        Ok(hot::DataKeyOut {
            blob,
            key,
            material_id,
            plaintext: with_plaintext.then_some(data_key),
        })
    }

    /// Opens a blob for `action` (`Decrypt` / `ReEncryptFrom`): returns the key, the
    /// plaintext and the material id.
    #[allow(clippy::too_many_arguments)]
    fn open_blob<'a>(
        &self,
        st: &'a State,
        caller: &Caller,
        blob_bytes: &[u8],
        key_param: Option<&str>,
        ctx: &BTreeMap<String, String>,
        action: &str,
        ev: &mut Ev,
    ) -> R<(&'a Key, Zeroizing<Vec<u8>>, &'a str)> {
        let parsed = blob::parse(blob_bytes).ok_or_else(KmsError::invalid_ciphertext)?;
        let id = parsed.key_id_string();
        let asked = match key_param {
            Some(k) => Some(self.resolve_id(st, caller, k, Forms::All)?),
            None => None,
        };
        let key = st.keys.get(&id).ok_or_else(|| {
            err(ErrorType::AccessDeniedException, "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.")
        })?;
        ev.key(key);
        let mut cv = self.base_conditions(caller);
        Self::context_conditions(&mut cv, ctx);
        let a = self.authorize(st, caller, action, key, &cv, Some(ctx), true)?;
        ev.grant_id = a.grant_id;
        ev.sid = a.sid;
        Self::check_usable(key)?;
        Self::check_symmetric(key, "Decrypt")?;
        if asked.is_some_and(|a| a != key.id) {
            return Err(err(
                ErrorType::IncorrectKeyException,
                "The key ID in the request does not identify a CMK that can perform this operation.",
            ));
        }
        let m = key
            .materials
            .iter()
            .find(|m| m.id_bytes == parsed.material_id)
            .ok_or_else(KmsError::invalid_ciphertext)?;
        let plaintext = m
            .secret
            .open(&parsed, ctx)
            .ok_or_else(KmsError::invalid_ciphertext)?;
        Ok((key, plaintext, m.id.as_str()))
    }

    fn decrypt<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        ev: &mut Ev,
    ) -> R<hot::DecryptOut<'s>> {
        check_grant_tokens(req)?;
        let ctx = context_param(req, "EncryptionContext")?;
        check_algorithm(req, "EncryptionAlgorithm")?;
        let blob_bytes = blob_param(req, "CiphertextBlob")?.ok_or_else(|| {
            validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
        })?;
        if blob_bytes.is_empty() || blob_bytes.len() > 6144 {
            return Err(validation(
                "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144",
            ));
        }
        let (key, plaintext, material_id) = self.open_blob(
            st,
            caller,
            &blob_bytes,
            opt_str(req, "KeyId")?,
            &ctx,
            "Decrypt",
            ev,
        )?;
        Ok(hot::DecryptOut {
            key,
            plaintext,
            material_id,
        })
    }

    fn re_encrypt<'s>(
        &self,
        st: &'s State,
        caller: &Caller,
        req: &(impl Req + ?Sized),
        ev: &mut Ev,
    ) -> R<hot::ReEncryptOut<'s>> {
        check_grant_tokens(req)?;
        let src_ctx = context_param(req, "SourceEncryptionContext")?;
        let dst_ctx = context_param(req, "DestinationEncryptionContext")?;
        check_algorithm(req, "SourceEncryptionAlgorithm")?;
        check_algorithm(req, "DestinationEncryptionAlgorithm")?;
        let blob_bytes = blob_param(req, "CiphertextBlob")?.ok_or_else(|| {
            validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
        })?;
        if blob_bytes.is_empty() || blob_bytes.len() > 6144 {
            return Err(validation(
                "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144",
            ));
        }
        let dst_ref = req_str(req, "DestinationKeyId")?;
        let (src, plaintext, src_m) = self.open_blob(
            st,
            caller,
            &blob_bytes,
            opt_str(req, "SourceKeyId")?,
            &src_ctx,
            "ReEncryptFrom",
            ev,
        )?;
        let mut ev2 = Ev::default();
        let dst = self.key(st, caller, dst_ref, Forms::All, &mut ev2)?;
        let mut cv = self.base_conditions(caller);
        Self::context_conditions(&mut cv, &dst_ctx);
        self.authorize(st, caller, "ReEncryptTo", dst, &cv, Some(&dst_ctx), true)?;
        Self::check_usable(dst)?;
        Self::check_symmetric(dst, "ReEncrypt")?;
        let (blob, dst_m) = seal(dst, &plaintext, &dst_ctx)?;
        Ok(hot::ReEncryptOut {
            blob,
            src,
            dst,
            src_material_id: src_m,
            dst_material_id: dst_m,
        })
    }

    /// Checks a policy for CreateKey/PutKeyPolicy: size, grammar, lockout safety.
    fn check_new_policy(
        &self,
        st: &State,
        caller: &Caller,
        text: &str,
        key_arn: &str,
        bypass: bool,
    ) -> R<PolicyDocument> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(err(
                ErrorType::LimitExceededException,
                format!(
                    "The key policy is {} bytes, more than the {MAX_POLICY_BYTES}-byte limit.",
                    text.len()
                ),
            ));
        }
        let doc = PolicyDocument::parse_key_policy(text).map_err(KmsError::from)?;
        if !bypass {
            let p = caller.principal.as_str();
            let cv = self.base_conditions(caller);
            let ok = match doc.allows(p, "kms:PutKeyPolicy", key_arn, &cv) {
                Decision::Allow { .. } => {
                    !matches!(self.iam(st, p, "kms:PutKeyPolicy", key_arn, &cv), Iam::Deny)
                }
                Decision::DelegatedToIam { .. } => {
                    is_root(p)
                        || matches!(
                            self.iam(st, p, "kms:PutKeyPolicy", key_arn, &cv),
                            Iam::Allow
                        )
                }
                _ => false,
            };
            if !ok {
                return Err(err(
                    ErrorType::MalformedPolicyDocumentException,
                    "The new key policy will not allow you to update the key policy in the future.",
                ));
            }
        }
        Ok(doc)
    }

    #[allow(clippy::too_many_arguments)]
    fn write_op(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
        dry: bool,
    ) -> R<Value> {
        match op {
            "CreateKey" => self.create_key(st, caller, req, ev, now),
            "EnableKey" | "DisableKey" => {
                let id = {
                    let key = self.managed_key(st, caller, req, op, ev)?;
                    Self::check_not_pending(key)?;
                    key.id.clone()
                };
                if let Some(k) = st.keys.get_mut(&id) {
                    // Automatic rotations that fell due while the key was disabled happen
                    // once, now (KMS-REFERENCE §7), not once per missed period.
                    if op == "EnableKey"
                        && k.state == KeyState::Disabled
                        && let Some(r) = k.rotation.as_mut()
                        && r.next < now
                    {
                        r.next = now;
                    }
                    k.state = if op == "EnableKey" {
                        KeyState::Enabled
                    } else {
                        KeyState::Disabled
                    };
                }
                Ok(json!({}))
            }
            "UpdateKeyDescription" => {
                let d = req_str(req, "Description")?;
                if d.len() > 8192 {
                    return Err(validation(
                        "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
                    ));
                }
                let id = {
                    let key = self.managed_key(st, caller, req, op, ev)?;
                    Self::check_not_pending(key)?;
                    key.id.clone()
                };
                if let Some(k) = st.keys.get_mut(&id) {
                    k.description = d.to_string();
                }
                Ok(json!({}))
            }
            "ScheduleKeyDeletion" => {
                let days = opt_int(req, "PendingWindowInDays")?.unwrap_or(30);
                let id = {
                    let key = self.managed_key(st, caller, req, op, ev)?;
                    if key.aws_managed {
                        return Err(err(
                            ErrorType::UnsupportedOperationException,
                            format!("{} is an AWS managed key.", key.arn),
                        ));
                    }
                    Self::check_not_pending(key)?;
                    key.id.clone()
                };
                if !(7..=30).contains(&days) {
                    return Err(validation(format!(
                        "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
                    )));
                }
                let k = st
                    .keys
                    .get_mut(&id)
                    .ok_or_else(|| internal("key vanished"))?;
                let date = now + days as f64 * DAY;
                k.state = KeyState::PendingDeletion;
                k.deletion_date = Some(date);
                k.pending_window_days = Some(days as u32);
                Ok(
                    json!({"KeyId": k.arn, "DeletionDate": date, "KeyState": "PendingDeletion", "PendingWindowInDays": days}),
                )
            }
            "CancelKeyDeletion" => {
                let id = {
                    let key = self.managed_key(st, caller, req, op, ev)?;
                    if key.state != KeyState::PendingDeletion {
                        return Err(err(
                            ErrorType::KMSInvalidStateException,
                            format!("{} is not pending deletion.", key.arn),
                        ));
                    }
                    key.id.clone()
                };
                let k = st
                    .keys
                    .get_mut(&id)
                    .ok_or_else(|| internal("key vanished"))?;
                k.state = KeyState::Disabled;
                k.deletion_date = None;
                k.pending_window_days = None;
                Ok(json!({"KeyId": k.arn}))
            }
            "PutKeyPolicy" => {
                let name = opt_str(req, "PolicyName")?.unwrap_or("default");
                let text = req_str(req, "Policy")?;
                let bypass = opt_bool(req, "BypassPolicyLockoutSafetyCheck")?;
                let (id, arn) = {
                    let key = self.managed_key(st, caller, req, op, ev)?;
                    (key.id.clone(), key.arn.clone())
                };
                if name != "default" {
                    return Err(validation(
                        "1 validation error detected: Value at 'policyName' failed to satisfy constraint: Member must be default",
                    ));
                }
                let doc = self.check_new_policy(st, caller, text, &arn, bypass)?;
                let k = st
                    .keys
                    .get_mut(&id)
                    .ok_or_else(|| internal("key vanished"))?;
                k.policy_text = text.to_string();
                k.policy = Some(Arc::new(doc));
                Ok(json!({}))
            }
            "EnableKeyRotation" | "DisableKeyRotation" => {
                let period = opt_int(req, "RotationPeriodInDays")?;
                let id = {
                    let key = self.managed_key(st, caller, req, op, ev)?;
                    rotation_eligible(key)?;
                    Self::check_usable(key)?;
                    if key.aws_managed {
                        return Err(err(
                            ErrorType::UnsupportedOperationException,
                            format!("{} is an AWS managed key.", key.arn),
                        ));
                    }
                    key.id.clone()
                };
                if op == "EnableKeyRotation" {
                    let period = period.unwrap_or(365);
                    range("RotationPeriodInDays", period, 90, 2560)?;
                    let k = st
                        .keys
                        .get_mut(&id)
                        .ok_or_else(|| internal("key vanished"))?;
                    let anchor = k.materials.last().map_or(now, |m| m.created).max(now);
                    k.rotation = Some(Rotation {
                        period_days: period as u32,
                        next: anchor + period as f64 * DAY,
                    });
                } else if let Some(k) = st.keys.get_mut(&id) {
                    k.rotation = None;
                }
                Ok(json!({}))
            }
            "RotateKeyOnDemand" => {
                let id = {
                    let key = self.managed_key(st, caller, req, op, ev)?;
                    rotation_eligible(key)?;
                    if key.aws_managed {
                        return Err(err(
                            ErrorType::UnsupportedOperationException,
                            format!("{} is an AWS managed key.", key.arn),
                        ));
                    }
                    Self::check_usable(key)?;
                    if let Some(r) = &key.rotation
                        && r.next - now <= ROTATION_CONFLICT_WINDOW
                    {
                        return Err(err(
                            ErrorType::ConflictException,
                            format!(
                                "An automatic rotation of {} is due within 20 minutes; try the on-demand rotation later.",
                                key.arn
                            ),
                        ));
                    }
                    if key.on_demand_rotations >= 25 {
                        return Err(err(
                            ErrorType::LimitExceededException,
                            format!(
                                "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                                key.arn
                            ),
                        ));
                    }
                    key.id.clone()
                };
                let k = st
                    .keys
                    .get_mut(&id)
                    .ok_or_else(|| internal("key vanished"))?;
                k.materials.push(Material::generate(now, Some("ON_DEMAND")));
                k.on_demand_rotations += 1;
                Ok(json!({"KeyId": k.arn}))
            }
            "TagResource" | "UntagResource" => self.tag_op(st, caller, op, req, ev),
            "CreateAlias" | "UpdateAlias" => self.alias_op(st, caller, op, req, ev, now),
            "DeleteAlias" => self.alias_op(st, caller, op, req, ev, now),
            "CreateGrant" => self.create_grant(st, caller, req, ev, now, dry),
            "RetireGrant" => self.retire_grant(st, caller, req, ev, dry),
            "RevokeGrant" => {
                let gid = req_str(req, "GrantId")?;
                let id = {
                    let key = self.managed_key(st, caller, req, op, ev)?;
                    key.id.clone()
                };
                if !is_grant_id(gid) {
                    return Err(err(ErrorType::InvalidGrantIdException, "Invalid grant ID."));
                }
                let k = st
                    .keys
                    .get_mut(&id)
                    .ok_or_else(|| internal("key vanished"))?;
                let pos = k
                    .grants
                    .iter()
                    .position(|g| g.grant_id == gid)
                    .ok_or_else(|| {
                        err(
                            ErrorType::NotFoundException,
                            format!("Grant ID {gid} not found"),
                        )
                    })?;
                ev.grant_id = Some(gid.to_string());
                if !dry {
                    k.grants.remove(pos);
                }
                Ok(json!({}))
            }
            _ => Err(err(
                ErrorType::UnknownOperationException,
                format!("Unknown operation {op}"),
            )),
        }
    }

    fn create_key(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
    ) -> R<Value> {
        self.authorize_iam_only(st, caller, "CreateKey", "*")?;
        let description = opt_str(req, "Description")?.unwrap_or("");
        if description.len() > 8192 {
            return Err(validation(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
            ));
        }
        let spec = match (
            opt_str(req, "KeySpec")?,
            opt_str(req, "CustomerMasterKeySpec")?,
        ) {
            (Some(a), Some(b)) if a != b => {
                return Err(validation(
                    "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.",
                ));
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => "SYMMETRIC_DEFAULT",
        };
        let usages = key_usage_for_spec(spec).ok_or_else(|| {
            validation(format!("1 validation error detected: Value '{spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, ECC_NIST_EDWARDS25519, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87]"))
        })?;
        let usage = match opt_str(req, "KeyUsage")? {
            Some(u) => u,
            None if spec == "SYMMETRIC_DEFAULT" => "ENCRYPT_DECRYPT",
            None => {
                return Err(validation(
                    "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
                ));
            }
        };
        if !usages.contains(&usage) {
            return Err(validation(format!(
                "KeyUsage {usage} is not compatible with KeySpec {spec}."
            )));
        }
        match opt_str(req, "Origin")? {
            None | Some("AWS_KMS") => {}
            Some(o @ ("EXTERNAL" | "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE")) => {
                return Err(err(
                    ErrorType::UnsupportedOperationException,
                    format!("Origin {o} is not supported by this KMS."),
                ));
            }
            Some(o) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{o}' at 'origin' failed to satisfy constraint: Member must satisfy enum value set: [AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE]"
                )));
            }
        }
        if opt_bool(req, "MultiRegion")? {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                "Multi-Region keys are not supported by this KMS.",
            ));
        }
        let tags = self.create_key_tags(st, caller, req)?;
        let account = self.caller_account(caller).to_string();
        let owned = st
            .keys
            .values()
            .filter(|k| k.account == account && !k.aws_managed)
            .count();
        if owned >= self.config.key_quota {
            return Err(err(
                ErrorType::LimitExceededException,
                format!(
                    "The account {account} already has {} customer managed keys in {}.",
                    self.config.key_quota, self.config.region
                ),
            ));
        }
        let bypass = opt_bool(req, "BypassPolicyLockoutSafetyCheck")?;
        let uuid_probe = format!("arn:aws:kms:{}:{account}:key/*", self.config.region);
        let (text, doc) = match opt_str(req, "Policy")? {
            Some(t) => (
                t.to_string(),
                self.check_new_policy(st, caller, t, &uuid_probe, bypass)?,
            ),
            None => {
                let t = default_key_policy(&account);
                let d = PolicyDocument::parse_key_policy(&t).map_err(KmsError::from)?;
                (t, d)
            }
        };
        let mut key = self.new_key(&account, now, description, spec, usage, text, doc);
        key.tags = tags;
        ev.key(&key);
        let meta = key_metadata(&key);
        ev.response = Some(json!({"keyMetadata": {"keyId": key.id, "arn": key.arn}}));
        st.keys.insert(key.id.clone(), key);
        Ok(json!({ "KeyMetadata": meta }))
    }

    fn alias_op(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
    ) -> R<Value> {
        let name = req_str(req, "AliasName")?;
        if !name.starts_with("alias/") {
            return Err(validation(
                "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
            ));
        }
        if !valid_alias_chars(name) || name.len() <= "alias/".len() {
            return Err(validation(format!(
                "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
            )));
        }
        if name.starts_with("alias/aws/") {
            return Err(err(
                ErrorType::InvalidAliasNameException,
                format!(
                    "Alias names starting with alias/aws/ are reserved for AWS managed keys: {name}"
                ),
            ));
        }
        let account = self.caller_account(caller).to_string();
        let alias_arn = format!("arn:aws:kms:{}:{account}:{name}", self.config.region);
        let p = caller.principal.as_str();
        // IAM permission on the alias (the root has it implicitly).
        let cv = self.base_conditions(caller);
        let full = format!("kms:{op}");
        match self.iam(st, p, &full, &alias_arn, &cv) {
            Iam::Deny => {
                return Err(Self::denied(
                    p,
                    &full,
                    &alias_arn,
                    "with an explicit deny in an identity-based policy",
                ));
            }
            Iam::None if !is_root(p) => {
                return Err(Self::denied(
                    p,
                    &full,
                    &alias_arn,
                    &format!("because no identity-based policy allows the {full} action"),
                ));
            }
            _ => {}
        }
        let existing = st.aliases.get(&alias_arn).cloned();
        match op {
            "CreateAlias" => {
                if existing.is_some() {
                    return Err(err(
                        ErrorType::AlreadyExistsException,
                        format!("An alias with the name {alias_arn} already exists"),
                    ));
                }
                let target = self.alias_target(st, caller, req, op, ev)?;
                Self::check_alias_quota(st, &target, &alias_arn)?;
                st.aliases.insert(
                    alias_arn.clone(),
                    Alias {
                        name: name.into(),
                        arn: alias_arn,
                        target_key_id: target,
                        created: now,
                        updated: now,
                    },
                );
            }
            "UpdateAlias" => {
                let old = existing.ok_or_else(|| {
                    err(
                        ErrorType::NotFoundException,
                        format!("Alias {alias_arn} is not found."),
                    )
                })?;
                let target = self.alias_target(st, caller, req, op, ev)?;
                Self::check_alias_quota(st, &target, &alias_arn)?;
                if let Some(old_key) = st.keys.get(&old.target_key_id) {
                    self.authorize(st, caller, op, old_key, &cv, None, false)?;
                }
                if let Some(a) = st.aliases.get_mut(&alias_arn) {
                    a.target_key_id = target;
                    a.updated = now;
                }
            }
            _ => {
                let old = existing.ok_or_else(|| {
                    err(
                        ErrorType::NotFoundException,
                        format!("Alias {alias_arn} is not found."),
                    )
                })?;
                if let Some(k) = st.keys.get(&old.target_key_id) {
                    ev.key(k);
                    self.authorize(st, caller, op, k, &cv, None, false)?;
                }
                st.aliases.remove(&alias_arn);
            }
        }
        Ok(json!({}))
    }

    fn create_grant(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
        now: f64,
        dry: bool,
    ) -> R<Value> {
        check_grant_tokens(req)?;
        let grantee =
            grant_principals::one_of(req, "GranteePrincipal", "GranteeServicePrincipal", true)?
                .unwrap_or_default();
        if !valid_principal_id(grantee) {
            return Err(validation(format!(
                "1 validation error detected: Value '{grantee}' at 'granteePrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
            )));
        }
        let retiring =
            grant_principals::one_of(req, "RetiringPrincipal", "RetiringServicePrincipal", false)?;
        if let Some(r) = retiring
            && !valid_principal_id(r)
        {
            return Err(validation(format!(
                "1 validation error detected: Value '{r}' at 'retiringPrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
            )));
        }
        let ops = string_list(req, "Operations")?.ok_or_else(|| {
            validation("1 validation error detected: Value null at 'operations' failed to satisfy constraint: Member must not be null")
        })?;
        if ops.is_empty() {
            return Err(validation(
                "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        for o in &ops {
            if !GRANT_OPERATIONS.contains(&o.as_str()) {
                return Err(validation(format!(
                    "1 validation error detected: Value '[{o}]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                    GRANT_OPERATIONS.join(", ")
                )));
            }
        }
        let constraints = match req.get("Constraints") {
            None | Some(Value::Null) => Constraints::default(),
            Some(Value::Object(c)) => {
                let subset = if c.contains_key("EncryptionContextSubset") {
                    Some(context_param(c, "EncryptionContextSubset")?)
                } else {
                    None
                };
                let equals = if c.contains_key("EncryptionContextEquals") {
                    Some(context_param(c, "EncryptionContextEquals")?)
                } else {
                    None
                };
                for m in subset.iter().chain(equals.iter()) {
                    if m.len() > 8 || m.values().any(|v| v.chars().count() > 384) {
                        return Err(validation(
                            "A grant constraint holds at most 8 pairs and each value at most 384 characters.",
                        ));
                    }
                }
                Constraints { subset, equals }
            }
            Some(_) => return Err(ser("Constraints must be an object")),
        };
        let name = opt_str(req, "Name")?;
        if let Some(n) = name
            && !valid_alias_chars(n)
        {
            return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
            )));
        }
        let grantee_n = normalize_grantee(grantee);
        let retiring_n = retiring.map(normalize_grantee);
        let key_ref = req_str(req, "KeyId")?;
        let key = self.key(st, caller, key_ref, Forms::IdOrArn, ev)?;
        let mut cv = self.base_conditions(caller);
        cv.insert_many("kms:GrantOperations", ops.iter().cloned());
        cv.insert("kms:GranteePrincipal", grantee.to_string());
        if let Some(r) = retiring {
            cv.insert("kms:RetiringPrincipal", r.to_string());
        }
        cv.insert(
            "kms:GrantIsForAWSResource",
            if caller.via_service.is_some() {
                "true"
            } else {
                "false"
            },
        );
        if constraints.subset.is_some() {
            cv.insert("kms:GrantConstraintType", "EncryptionContextSubset");
        }
        if constraints.equals.is_some() {
            cv.insert("kms:GrantConstraintType", "EncryptionContextEquals");
        }
        let a = self.authorize(st, caller, "CreateGrant", key, &cv, None, true)?;
        ev.sid.clone_from(&a.sid);
        ev.grant_id.clone_from(&a.grant_id);
        if let Some(parent) = &a.via_grant
            && (!ops.iter().all(|o| parent.operations.contains(o))
                || !constraints.at_least_as_strict_as(&parent.constraints))
        {
            return Err(Self::denied(
                &caller.principal,
                "kms:CreateGrant",
                &key.arn,
                "because a grant can only create child grants with a subset of its operations and equal or stricter constraints",
            ));
        }
        Self::check_usable(key)?;
        for o in &ops {
            if !grant_op_fits(o, key) {
                return Err(validation(format!(
                    "Grant operation {o} is not valid for key {} of spec {}.",
                    key.arn, key.key_spec
                )));
            }
        }
        let (key_id, key_arn) = (key.id.clone(), key.arn.clone());
        let mut ops_sorted = ops.clone();
        ops_sorted.sort();
        ops_sorted.dedup();
        let same = key.grants.iter().find(|g| {
            name.is_some()
                && g.name.as_deref() == name
                && g.grantee == grantee_n
                && g.retiring == retiring_n
                && g.operations == ops_sorted
                && g.constraints == constraints
        });
        let grant_id = match same {
            Some(g) => g.grant_id.clone(),
            // A retry of an existing named grant adds nothing, so only new grants count.
            None if key.grants.len() >= self.config.grant_quota => {
                return Err(err(
                    ErrorType::LimitExceededException,
                    format!(
                        "The key {key_arn} already has {} grants.",
                        self.config.grant_quota
                    ),
                ));
            }
            None => {
                let mut raw = [0u8; 32];
                rand::Rng::fill_bytes(&mut rand::rng(), &mut raw);
                let gid = hex::encode(raw);
                if !dry {
                    let g = Grant {
                        grant_id: gid.clone(),
                        name: name.map(str::to_string),
                        created: now,
                        grantee: grantee_n,
                        retiring: retiring_n,
                        issuing_account: key.account.clone(),
                        operations: ops_sorted,
                        constraints,
                        parent: a.grant_id.clone(),
                    };
                    if let Some(k) = st.keys.get_mut(&key_id) {
                        k.grants.push(g);
                    }
                }
                gid
            }
        };
        ev.response = Some(json!({"grantId": grant_id, "keyId": key_arn}));
        Ok(json!({"GrantToken": new_grant_token(&grant_id), "GrantId": grant_id}))
    }

    fn retire_grant(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
        dry: bool,
    ) -> R<Value> {
        let (key_id, grant_id) = match opt_str(req, "GrantToken")? {
            Some(t) => {
                let gid = parse_grant_token(t)?;
                let key = st
                    .keys
                    .values()
                    .find(|k| k.grants.iter().any(|g| g.grant_id == gid))
                    .ok_or_else(|| {
                        err(
                            ErrorType::InvalidGrantTokenException,
                            "The grant token refers to a grant that does not exist.",
                        )
                    })?;
                (key.id.clone(), gid)
            }
            None => {
                let key_ref = req_str(req, "KeyId")?;
                let gid = req_str(req, "GrantId")?;
                if !key_ref.starts_with("arn:") {
                    return Err(err(
                        ErrorType::InvalidArnException,
                        format!("Invalid arn {key_ref}: RetireGrant needs the key ARN"),
                    ));
                }
                let id = self.resolve_id(st, caller, key_ref, Forms::IdOrArn)?;
                if !is_grant_id(gid) {
                    return Err(err(ErrorType::InvalidGrantIdException, "Invalid grant ID."));
                }
                (id, gid.to_string())
            }
        };
        let key = st
            .keys
            .get(&key_id)
            .ok_or_else(|| internal("key vanished"))?;
        ev.key(key);
        ev.grant_id = Some(grant_id.clone());
        let grant = key
            .grants
            .iter()
            .find(|g| g.grant_id == grant_id)
            .ok_or_else(|| {
                err(
                    ErrorType::NotFoundException,
                    format!("Grant ID {grant_id} not found"),
                )
            })?;
        let p = caller.principal.as_str();
        let cv = self.base_conditions(caller);
        let iam = self.iam(st, p, "kms:RetireGrant", &key.arn, &cv);
        if matches!(iam, Iam::Deny) {
            return Err(Self::denied(
                p,
                "kms:RetireGrant",
                &key.arn,
                "with an explicit deny in an identity-based policy",
            ));
        }
        let caller_acct = caller.account();
        let allowed = grant.retiring.as_deref() == Some(p)
            || (grant.grantee == p && grant.operations.iter().any(|o| o == "RetireGrant"))
            || (is_root(p) && caller_acct == Some(grant.issuing_account.as_str()))
            || (matches!(iam, Iam::Allow)
                && (caller_acct == Some(grant.issuing_account.as_str())
                    || grant
                        .retiring
                        .as_deref()
                        .is_some_and(|r| is_root(r) && principal_account(r) == caller_acct)));
        if !allowed {
            return Err(Self::denied(
                p,
                "kms:RetireGrant",
                &key.arn,
                "because the grant does not allow this principal to retire it",
            ));
        }
        if !dry && let Some(k) = st.keys.get_mut(&key_id) {
            k.grants.retain(|g| g.grant_id != grant_id);
        }
        Ok(json!({}))
    }

    // -----------------------------------------------------------------------------------
    // audit

    /// Appends the simulated time as a JSON string (formatted once per second).
    fn push_event_time(&self, out: &mut String) {
        let now = self.now();
        let secs = now.floor() as i64;
        let mut cache = self.time_text.lock();
        if cache.0 != secs {
            *cache = (secs, iso8601(now));
        }
        jsonw::str(out, &cache.1);
    }

    /// Appends the CloudTrail-shaped record of a call to the audit trail.
    fn record(
        &self,
        caller: &Caller,
        op: &str,
        params: AuditParams<'_>,
        ev: &Ev,
        error: Option<&KmsError>,
    ) {
        let p = caller.principal.as_str();
        let kind = if is_root(p) {
            "Root"
        } else if p.contains(":assumed-role/") {
            "AssumedRole"
        } else if p.starts_with("arn:aws:iam::") {
            "IAMUser"
        } else {
            "AWSService"
        };
        let service = caller
            .via_service
            .as_deref()
            .map(|v| format!("{}.amazonaws.com", v.split('.').next().unwrap_or(v)));
        let service_principal = kind == "AWSService";
        let mut ids = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut ids);
        let uuid = |out: &mut String, b: &[u8]| {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            jsonw::str(
                out,
                uuid::Builder::from_random_bytes(a)
                    .into_uuid()
                    .hyphenated()
                    .encode_lower(&mut text),
            );
        };
        let mut out = self.audit.buffer();
        let o = &mut out;
        o.push_str("{\"eventVersion\":\"1.08\",\"userIdentity\":{");
        jsonw::str_member(o, "type", kind);
        if !service_principal {
            o.push(',');
            jsonw::str_member(o, "arn", p);
            if let Some(account) = principal_account(p) {
                o.push(',');
                jsonw::str_member(o, "accountId", account);
            }
        }
        let invoked_by = if service_principal {
            Some(p)
        } else {
            service.as_deref()
        };
        if let Some(by) = invoked_by {
            o.push(',');
            jsonw::str_member(o, "invokedBy", by);
        }
        o.push_str("},\"eventTime\":");
        self.push_event_time(o);
        o.push_str(",\"eventSource\":\"kms.amazonaws.com\",");
        jsonw::str_member(o, "eventName", op);
        o.push(',');
        jsonw::str_member(o, "awsRegion", &self.config.region);
        o.push(',');
        jsonw::str_member(
            o,
            "sourceIPAddress",
            service.as_deref().unwrap_or("127.0.0.1"),
        );
        o.push(',');
        jsonw::str_member(o, "userAgent", service.as_deref().unwrap_or("ebsim"));
        o.push_str(",\"requestParameters\":");
        params.write(o);
        o.push_str(",\"responseElements\":");
        match (&ev.response, error) {
            (Some(v), None) => jsonw::value(o, v),
            _ => o.push_str("null"),
        }
        if ev.grant_id.is_some() || ev.sid.is_some() {
            o.push_str(",\"additionalEventData\":{");
            if let Some(g) = &ev.grant_id {
                jsonw::str_member(o, "grantId", g);
            }
            if let Some(sid) = &ev.sid {
                if ev.grant_id.is_some() {
                    o.push(',');
                }
                jsonw::str_member(o, "policyStatementSid", sid);
            }
            o.push('}');
        }
        if let Some(e) = error {
            o.push(',');
            jsonw::str_member(o, "errorCode", e.error_type.name());
            o.push(',');
            jsonw::str_member(o, "errorMessage", e.message.as_deref().unwrap_or(""));
        }
        o.push_str(",\"requestID\":");
        uuid(o, &ids[..16]);
        o.push_str(",\"eventID\":");
        uuid(o, &ids[16..]);
        o.push_str(",\"readOnly\":");
        jsonw::bool(o, read_only(op));
        if let Some(arn) = &ev.key_arn {
            o.push_str(",\"resources\":[{");
            jsonw::str_member(o, "ARN", arn);
            o.push_str(",\"accountId\":");
            match &ev.key_account {
                Some(a) => jsonw::str(o, a),
                None => o.push_str("null"),
            }
            o.push_str(",\"type\":\"AWS::KMS::Key\"}]");
        }
        o.push_str(",\"eventType\":\"AwsApiCall\",\"managementEvent\":true,");
        jsonw::str_member(
            o,
            "recipientAccountId",
            ev.key_account.as_deref().unwrap_or(&self.config.account),
        );
        o.push_str(",\"eventCategory\":\"Management\"}");
        self.audit.record(out);
    }

    // -----------------------------------------------------------------------------------
    // admin

    /// Operations KMS has no wire operation for (clock, faults, IAM, audit), allowed to an
    /// account root only.
    ///
    /// # Errors
    /// AccessDeniedException for anyone but a root; ValidationException for bad input.
    pub fn admin(
        &self,
        caller: &Caller,
        operation: &str,
        request_json: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let body: &[u8] = if request_json.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            request_json
        };
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ser(format!("Malformed request body: {e}")))?;
        self.admin_json(caller, operation, v)
            .map(|out| serde_json::to_vec(&out).unwrap_or_else(|_| b"{}".to_vec()))
    }

    /// [`Kms::admin`] with parsed JSON.
    ///
    /// # Errors
    /// As [`Kms::admin`].
    pub fn admin_json(
        &self,
        caller: &Caller,
        operation: &str,
        request: Value,
    ) -> Result<Value, KmsError> {
        if !is_root(&caller.principal) || caller.via_service.is_some() {
            return Err(err(
                ErrorType::AccessDeniedException,
                format!(
                    "User: {} is not authorized to perform: ebsim:{operation} (admin operations are for an account root)",
                    caller.principal
                ),
            ));
        }
        let Value::Object(req) = request else {
            return Err(ser("The request body must be a JSON object"));
        };
        match operation {
            "AdvanceClock" => {
                let days = req
                    .get("Days")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| validation("Days (a number) is required."))?;
                if !days.is_finite() || days < 0.0 {
                    return Err(validation("Days must be a non-negative number."));
                }
                {
                    let mut st = self.state.write();
                    st.clock_offset += days * DAY;
                    self.persist(&st)?;
                }
                self.maintain(self.now())?;
                Ok(self.clock_json())
            }
            "GetClock" => Ok(self.clock_json()),
            "SetFault" => {
                let op = req
                    .get("Operation")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        validation("Operation is required (\"*\" or an operation name).")
                    })?;
                let kind = match req.get("Kind").and_then(Value::as_str) {
                    Some("outage") => {
                        let t = match req.get("ErrorType").and_then(Value::as_str) {
                            None => ErrorType::KMSInternalException,
                            Some(n) => match ErrorType::from_name(n) {
                                Some(
                                    t @ (ErrorType::KMSInternalException
                                    | ErrorType::DependencyTimeoutException),
                                ) => t,
                                _ => {
                                    return Err(validation(
                                        "ErrorType must be KMSInternalException or DependencyTimeoutException.",
                                    ));
                                }
                            },
                        };
                        FaultKind::Outage(t)
                    }
                    Some("throttle") => {
                        let r = req
                            .get("RatePerSecond")
                            .and_then(Value::as_f64)
                            .ok_or_else(|| validation("RatePerSecond is required for throttle."))?;
                        if !(r.is_finite() && r > 0.0) {
                            return Err(validation("RatePerSecond must be positive."));
                        }
                        FaultKind::Throttle(r)
                    }
                    Some("latency") => {
                        let ms = req
                            .get("LatencyMs")
                            .and_then(Value::as_u64)
                            .ok_or_else(|| validation("LatencyMs is required for latency."))?;
                        if ms > 60_000 {
                            return Err(validation("LatencyMs must be at most 60000."));
                        }
                        FaultKind::Latency(ms)
                    }
                    _ => return Err(validation("Kind must be outage, throttle or latency.")),
                };
                self.faults.set(op, kind, SystemClock.now());
                Ok(json!({}))
            }
            "ClearFaults" => {
                self.faults.clear();
                Ok(json!({}))
            }
            "CreateUser" | "CreateRole" => {
                let (field, kind) = if operation == "CreateUser" {
                    ("UserName", "user")
                } else {
                    ("RoleName", "role")
                };
                let name = req
                    .get(field)
                    .and_then(Value::as_str)
                    .ok_or_else(|| validation(format!("{field} is required.")))?;
                if name.is_empty()
                    || name.len() > 64
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
                {
                    return Err(validation(format!(
                        "{field} must be 1..64 characters of [A-Za-z0-9+=,.@_-]."
                    )));
                }
                let account = req
                    .get("AccountId")
                    .and_then(Value::as_str)
                    .unwrap_or(&self.config.account)
                    .to_string();
                if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(validation("AccountId must be 12 digits."));
                }
                let arn = format!("arn:aws:iam::{account}:{kind}/{name}");
                let mut st = self.state.write();
                if st.principals.contains_key(&arn) {
                    return Err(err(
                        ErrorType::AlreadyExistsException,
                        format!("{arn} already exists."),
                    ));
                }
                let (id, secret) = store::new_access_key("AKIA");
                let out =
                    json!({"Arn": arn, "AccessKeyId": id, "SecretAccessKey": secret.as_str()});
                st.principals.insert(
                    arn.clone(),
                    Principal {
                        arn,
                        kind: kind.into(),
                        account,
                        access_key_id: id,
                        secret,
                        policies: BTreeMap::new(),
                        compiled: Vec::new(),
                    },
                );
                self.persist(&st)?;
                Ok(out)
            }
            "PutPrincipalPolicy" => {
                let arn = req
                    .get("PrincipalArn")
                    .and_then(Value::as_str)
                    .ok_or_else(|| validation("PrincipalArn is required."))?;
                let name = req
                    .get("PolicyName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| validation("PolicyName is required."))?;
                let text = match req.get("PolicyDocument") {
                    Some(Value::String(s)) => s.clone(),
                    Some(v @ Value::Object(_)) => v.to_string(),
                    _ => return Err(validation("PolicyDocument is required.")),
                };
                let doc = PolicyDocument::parse_identity_policy(&text).map_err(KmsError::from)?;
                let mut st = self.state.write();
                let p = st.principals.get_mut(arn).ok_or_else(|| {
                    err(
                        ErrorType::NotFoundException,
                        format!("No IAM user or role {arn}."),
                    )
                })?;
                p.policies.insert(name.to_string(), text);
                let _ = doc;
                p.compiled = p
                    .policies
                    .values()
                    .filter_map(|t| PolicyDocument::parse_identity_policy(t).ok().map(Arc::new))
                    .collect();
                self.persist(&st)?;
                Ok(json!({}))
            }
            "ListPrincipals" => {
                let st = self.state.read();
                let list: Vec<Value> = st.principals.values().map(|p| json!({"Arn": p.arn, "Type": p.kind, "AccountId": p.account, "AccessKeyId": p.access_key_id, "PolicyNames": p.policies.keys().collect::<Vec<_>>()})).collect();
                Ok(json!({"Principals": list}))
            }
            "ReadAudit" => {
                let limit = req.get("Limit").and_then(Value::as_u64).map(|n| n as usize);
                Ok(json!({"Records": self.audit.records(limit)}))
            }
            _ => Err(err(
                ErrorType::UnknownOperationException,
                format!("Unknown admin operation {operation}"),
            )),
        }
    }

    fn clock_json(&self) -> Value {
        let now = self.now();
        json!({"OffsetSeconds": self.state.read().clock_offset, "Now": now, "NowIso": iso8601(now)})
    }
}

fn camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (camel(k), v.clone())).collect()),
        other => other.clone(),
    }
}

fn check_algorithm<Q: Req + ?Sized>(req: &Q, name: &str) -> R<()> {
    match opt_str(req, name)? {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => Err(err(
            ErrorType::InvalidKeyUsageException,
            format!("The encryption algorithm {a} is not valid for a symmetric key."),
        )),
        Some(a) => Err(validation(format!(
            "1 validation error detected: Value '{a}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
            camel(name)
        ))),
    }
}

fn rotation_eligible(key: &Key) -> R<()> {
    if !key.is_symmetric() {
        return Err(KmsError::bare(ErrorType::UnsupportedOperationException));
    }
    Ok(())
}

fn seal<'k>(
    key: &'k Key,
    plaintext: &[u8],
    ctx: &BTreeMap<String, String>,
) -> R<(Vec<u8>, &'k str)> {
    let m = key
        .current_material()
        .ok_or_else(|| internal("The key has no key material."))?;
    let blob = m
        .secret
        .seal(&key.id_bytes, &m.id_bytes, plaintext, ctx)
        .ok_or_else(|| internal("Encryption failed."))?;
    Ok((blob, m.id.as_str()))
}

fn key_metadata(k: &Key) -> Value {
    let mut m = Map::new();
    m.insert("AWSAccountId".into(), json!(k.account));
    m.insert("KeyId".into(), json!(k.id));
    m.insert("Arn".into(), json!(k.arn));
    m.insert("CreationDate".into(), json!(k.created));
    m.insert("Enabled".into(), json!(k.state == KeyState::Enabled));
    m.insert("Description".into(), json!(k.description));
    m.insert("KeyUsage".into(), json!(k.key_usage));
    m.insert("KeyState".into(), json!(k.state.name()));
    if let Some(d) = k.deletion_date {
        m.insert("DeletionDate".into(), json!(d));
        if let Some(w) = k.pending_window_days {
            m.insert("PendingDeletionWindowInDays".into(), json!(w));
        }
    }
    m.insert("Origin".into(), json!(k.origin));
    m.insert(
        "KeyManager".into(),
        json!(if k.aws_managed { "AWS" } else { "CUSTOMER" }),
    );
    m.insert("CustomerMasterKeySpec".into(), json!(k.key_spec));
    m.insert("KeySpec".into(), json!(k.key_spec));
    match k.key_usage.as_str() {
        "ENCRYPT_DECRYPT" => {
            let algs: &[&str] = if k.is_symmetric() {
                &["SYMMETRIC_DEFAULT"]
            } else if k.key_spec == "SM2" {
                &["SM2PKE"]
            } else {
                &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
            };
            m.insert("EncryptionAlgorithms".into(), json!(algs));
        }
        "GENERATE_VERIFY_MAC" => {
            let alg = format!("HMAC_SHA_{}", k.key_spec.trim_start_matches("HMAC_"));
            m.insert("MacAlgorithms".into(), json!([alg]));
        }
        "SIGN_VERIFY" => {
            let algs: Vec<&str> = match k.key_spec.as_str() {
                s if s.starts_with("RSA_") => vec![
                    "RSASSA_PSS_SHA_256",
                    "RSASSA_PSS_SHA_384",
                    "RSASSA_PSS_SHA_512",
                    "RSASSA_PKCS1_V1_5_SHA_256",
                    "RSASSA_PKCS1_V1_5_SHA_384",
                    "RSASSA_PKCS1_V1_5_SHA_512",
                ],
                "ECC_NIST_P256" | "ECC_SECG_P256K1" => vec!["ECDSA_SHA_256"],
                "ECC_NIST_P384" => vec!["ECDSA_SHA_384"],
                "ECC_NIST_P521" => vec!["ECDSA_SHA_512"],
                "ECC_NIST_EDWARDS25519" => vec!["ED25519_SHA_512", "ED25519_PH_SHA_512"],
                "SM2" => vec!["SM2DSA"],
                _ => vec!["ML_DSA_SHAKE_256"],
            };
            m.insert("SigningAlgorithms".into(), json!(algs));
        }
        "KEY_AGREEMENT" => {
            m.insert("KeyAgreementAlgorithms".into(), json!(["ECDH"]));
        }
        _ => {}
    }
    m.insert("MultiRegion".into(), json!(false));
    if let Some(mat) = k.current_material() {
        m.insert("CurrentKeyMaterialId".into(), json!(mat.id));
    }
    Value::Object(m)
}

fn grant_entry(key: &Key, g: &Grant) -> Value {
    let mut e = Map::new();
    e.insert("KeyId".into(), json!(key.arn));
    e.insert("GrantId".into(), json!(g.grant_id));
    if let Some(n) = &g.name {
        e.insert("Name".into(), json!(n));
    }
    e.insert("CreationDate".into(), json!(g.created));
    e.insert("GranteePrincipal".into(), json!(g.grantee));
    if let Some(r) = &g.retiring {
        e.insert("RetiringPrincipal".into(), json!(r));
    }
    e.insert(
        "IssuingAccount".into(),
        json!(format!("arn:aws:iam::{}:root", g.issuing_account)),
    );
    e.insert("Operations".into(), json!(g.operations));
    if !g.constraints.is_empty() {
        let mut c = Map::new();
        if let Some(s) = &g.constraints.subset {
            c.insert("EncryptionContextSubset".into(), json!(s));
        }
        if let Some(s) = &g.constraints.equals {
            c.insert("EncryptionContextEquals".into(), json!(s));
        }
        e.insert("Constraints".into(), Value::Object(c));
    }
    grant_principals::add_service_members(&mut e);
    Value::Object(e)
}

/// Hooks for fuzzing and tests.
pub(crate) fn fuzz_blob(data: &[u8]) {
    if let Some(p) = blob::parse(data) {
        let _ = (p.key_id_string(), p.material_id_string());
        let m = blob::KeyMaterial::generate();
        assert!(
            m.open(&p, &BTreeMap::new()).is_none(),
            "a random key must not open a blob"
        );
    }
}

/// Request members copied into audit records (never plaintext, blobs, tokens or policies).
const AUDITED_PARAMS: [&str; 32] = [
    "KeyId",
    "EncryptionContext",
    "NumberOfBytes",
    "KeySpec",
    "KeyUsage",
    "Description",
    "GranteePrincipal",
    "RetiringPrincipal",
    "Operations",
    "Constraints",
    "Name",
    "AliasName",
    "TargetKeyId",
    "GrantId",
    "PendingWindowInDays",
    "RotationPeriodInDays",
    "SourceKeyId",
    "DestinationKeyId",
    "SourceEncryptionContext",
    "DestinationEncryptionContext",
    "EncryptionAlgorithm",
    "PolicyName",
    "Limit",
    "IncludeKeyMaterial",
    "BypassPolicyLockoutSafetyCheck",
    "Origin",
    "CustomerMasterKeySpec",
    "DryRun",
    "Tags",
    "TagKeys",
    "GranteeServicePrincipal",
    "RetiringServicePrincipal",
];

/// The request members an audit record copies.
enum AuditParams<'a> {
    /// A general request: the members named in [`AUDITED_PARAMS`].
    Map(&'a Map<String, Value>),
    /// A typed data-plane request.
    Hot(&'a hot::HotReq<'a>),
}

impl AuditParams<'_> {
    /// Writes `requestParameters`: the audited members in name order, names in camelCase;
    /// `null` when there are none.
    fn write(&self, out: &mut String) {
        let req = match self {
            Self::Hot(h) => return h.write_audit_params(out),
            Self::Map(m) => m,
        };
        let mut first = true;
        for (name, v) in req
            .iter()
            .filter(|(k, _)| AUDITED_PARAMS.contains(&k.as_str()))
        {
            out.push(if first { '{' } else { ',' });
            first = false;
            jsonw::str(out, &camel(name));
            out.push(':');
            if name == "Constraints" {
                jsonw::value(out, &camel_keys(v));
            } else {
                jsonw::value(out, v);
            }
        }
        if first {
            out.push_str("null");
        } else {
            out.push('}');
        }
    }
}
