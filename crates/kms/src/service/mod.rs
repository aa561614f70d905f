//! The service: request parsing, key resolution, authorization, the operations, the admin
//! operations, and the glue to the audit trail, the faults and the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use parking_lot::RwLock;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::api::{Caller, ErrorType, KmsError, Region};
use crate::audit::AuditLog;
use crate::blob;
use crate::blob::KeyMaterial;
use crate::clock::{Clock, SystemClock, iso8601};
use crate::fault::{FaultKind, Faults};
use crate::policy::{
    ConditionValues, Decision, MAX_POLICY_BYTES, PolicyDocument, aws_managed_key_policy,
    default_key_policy,
};
use crate::state::{
    Alias, Constraints, Grant, Key, KeyState, Material, Principal, Rotation, State,
};
use crate::store::{self, KmsOpenError, Store};
pub use ebsim_kms_api::Credential;

mod admin;
mod aliases;
mod asym;
mod asym_reencrypt;
mod authz;
mod backend;
mod crypto;
mod custom_key_stores;
mod dry_run;
mod grant_principals;
mod grants;
mod iam;
mod import;
mod key_policy;
mod keys;
mod lifecycle;
mod multi_region;
mod record;
mod request;
mod rotation;
mod states;
mod tags;
mod typed;

use dry_run::DryRunLegs;
use ebsim_kms_api::types::crypto::{
    DecryptRequest, GenerateDataKeyWithoutPlaintextRequest, ReEncryptRequest,
};

pub use admin::ADMIN_OPERATIONS;
use aliases::*;
use authz::*;
use backend::{wipe_plaintext, wiped_body};
pub use grants::GRANT_OPERATIONS;
use grants::*;
use keys::*;
use record::*;
use request::*;

const DAY: f64 = 86_400.0;
const STATE_FORMAT: u32 = 1;
/// RotateKeyOnDemand answers ConflictException when an automatic rotation is due this soon
/// (seconds).
const ROTATION_CONFLICT_WINDOW: f64 = 20.0 * 60.0;
/// Configuration of a KMS: account, region, clock, quotas.
#[derive(Debug, Clone)]
pub struct KmsConfig {
    account: String,
    region: Region,
    clock: Arc<dyn Clock>,
    key_quota: usize,
    grant_quota: usize,
    audit_trail_bytes: u64,
}

/// Customer managed keys per account and region (docs/kms.md, "Operations").
pub const KEY_QUOTA: usize = 100_000;
/// Grants per key (docs/kms.md, "Operations").
pub const GRANT_QUOTA: usize = 50_000;

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            account: ebsim_kms_api::id::DEFAULT_ACCOUNT.into(),
            region: Region::US_WEST_2,
            clock: Arc::new(SystemClock),
            key_quota: KEY_QUOTA,
            grant_quota: GRANT_QUOTA,
            audit_trail_bytes: crate::audit::TRAIL_BYTES,
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

    /// The default region: callers that name none call in it.
    #[must_use]
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
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

    /// The size of a data dir's on-disk audit trail (default [`crate::TRAIL_BYTES`], at least
    /// [`crate::MIN_TRAIL_BYTES`]): the oldest records are dropped beyond it, and counted.
    #[must_use]
    pub fn audit_trail_bytes(mut self, bytes: u64) -> Self {
        self.audit_trail_bytes = bytes;
        self
    }
}

/// The KMS service.
#[derive(Debug)]
pub struct Kms {
    config: KmsConfig,
    state: RwLock<State>,
    /// Simulated time (bits of an f64) at which a deletion or rotation falls due.
    next_due: AtomicU64,
    /// Whether the next persist must write a whole snapshot (the last one failed).
    snapshot_due: std::sync::atomic::AtomicBool,
    audit: AuditLog,
    faults: Faults,
    store: Option<Store>,
    service_key: Option<(String, Zeroizing<String>)>,
    root_keys: root_keys::RootKeys,
    /// The last audit timestamp formatted (whole second, text).
    time_text: parking_lot::Mutex<(i64, String)>,
    /// Key ARN → its last successful cryptographic use (GetKeyLastUsage; saved to
    /// `DIR/kms/key-last-usage.json` when the KMS closes, `lifecycle.rs`).
    /// FxHash: the keys are ARNs of keys this KMS made (random ids), and SipHash of an ARN
    /// was a tenth of the cost GetKeyLastUsage added to a Decrypt (docs/benchmarks.md).
    last_usage: parking_lot::Mutex<LastUsage>,
    /// Whether `last_usage` changed since it was loaded or saved.
    last_usage_dirty: std::sync::atomic::AtomicBool,
}

use ebsim_kms_api::types::asym::KeyLastUsage;

/// Key ARN → its last successful cryptographic use.
type LastUsage = rustc_hash::FxHashMap<String, KeyLastUsage>;

type R<T> = Result<T, KmsError>;

mod hot;
mod root_keys;

fn err(t: ErrorType, msg: impl Into<String>) -> KmsError {
    KmsError::new(t, msg)
}
fn validation(msg: impl Into<String>) -> KmsError {
    err(ErrorType::ValidationException, msg)
}
fn internal(msg: impl Into<String>) -> KmsError {
    err(ErrorType::KMSInternalException, msg)
}

/// One call: who makes it, which operation, its request, the simulated time, and whether it
/// is a dry run.
#[derive(Clone, Copy)]
struct Call<'a> {
    caller: &'a Caller,
    op: &'a str,
    req: &'a Map<String, Value>,
    now: f64,
    dry: bool,
}

/// What an operation contributes to its audit record.
#[derive(Debug, Default)]
struct Ev {
    key_arn: Option<String>,
    key_account: Option<String>,
    grant_id: Option<String>,
    sid: Option<String>,
    response: Option<Value>,
    /// The simulated time the call read, when the record's time cannot differ from it (the
    /// data plane changes no clock); otherwise the record reads the clock.
    now: Option<f64>,
}

impl Ev {
    fn key(&mut self, key: &Key) {
        self.key_arn = Some(key.arn.clone());
        self.key_account = Some(key.account.clone());
    }
}

/// The operations that take a `Recipient` (an attested Nitro enclave to answer to).
const TAKES_RECIPIENT: &[&str] = &[
    "Decrypt",
    "DeriveSharedSecret",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateRandom",
];

/// Whether `op` only reads the state (unknown operations are treated as writes).
fn read_only(op: &str) -> bool {
    crate::ops::operation(op).is_some_and(crate::ops::Operation::read_only)
}

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
            snapshot_due: std::sync::atomic::AtomicBool::new(false),
            audit: AuditLog::in_memory(),
            faults: Faults::default(),
            store: None,
            service_key: None,
            root_keys: root_keys::RootKeys::in_memory(),
            time_text: parking_lot::Mutex::new((i64::MIN, String::new())),
            last_usage: parking_lot::Mutex::default(),
            last_usage_dirty: std::sync::atomic::AtomicBool::new(false),
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
        let mut state = match store.read_state()? {
            None => State {
                format: STATE_FORMAT,
                ..State::default()
            },
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| KmsOpenError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?,
        };
        let journal = store.read_journal()?;
        crate::journal::replay(&mut state, &journal);
        state.rehydrate().map_err(|message| KmsOpenError::Corrupt {
            path: path.clone(),
            message,
        })?;
        if journal.is_empty() {
            crate::journal::forget_changes(&mut state);
        } else {
            // Fold the journal into a snapshot now: a torn last line goes with it.
            lifecycle::write_snapshot(&store, &mut state).map_err(|e| KmsOpenError::Io {
                path: store.state_path(),
                source: std::io::Error::other(e.to_string()),
            })?;
        }
        drop(journal);
        let cred_path = Self::service_credential_path(data_dir);
        let service_key = store::service_credential(&cred_path)?;
        let root_keys =
            root_keys::RootKeys::load(ebsim_data_dir::DataDir::new(data_dir).root_credentials())?;
        let audit_path = ebsim_data_dir::DataDir::new(data_dir).audit_log();
        if let Err(source) = ebsim_data_dir::end_torn_line(&audit_path) {
            return Err(KmsOpenError::Io {
                path: audit_path,
                source,
            });
        }
        let audit = AuditLog::with_trail_bytes(audit_path.clone(), config.audit_trail_bytes)
            .map_err(|source| KmsOpenError::Io {
                path: audit_path,
                source,
            })?;
        let kms = Kms {
            config,
            state: RwLock::new(state),
            next_due: AtomicU64::new(0f64.to_bits()),
            snapshot_due: std::sync::atomic::AtomicBool::new(false),
            audit,
            faults: Faults::default(),
            store: Some(store),
            service_key: Some(service_key),
            root_keys,
            time_text: parking_lot::Mutex::new((i64::MIN, String::new())),
            last_usage: parking_lot::Mutex::new(lifecycle::load_last_usage(data_dir)),
            last_usage_dirty: std::sync::atomic::AtomicBool::new(false),
        };
        Ok(kms)
    }

    /// What persisting the state has written since the KMS was opened (`None` for a KMS in
    /// memory).
    pub fn persist_stats(&self) -> Option<crate::PersistStats> {
        self.store.as_ref().map(Store::stats)
    }

    /// `DIR/kms/service-credential`.
    pub fn service_credential_path(data_dir: &Path) -> PathBuf {
        ebsim_data_dir::DataDir::new(data_dir).service_credential()
    }

    /// The default account.
    pub fn account_id(&self) -> &str {
        &self.config.account
    }

    /// The default region.
    pub fn region_name(&self) -> &str {
        self.config.region.as_str()
    }

    /// The region a call is made in: the caller's, else the default region.
    pub fn region_of(&self, caller: &Caller) -> Region {
        caller.region.unwrap_or(self.config.region)
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

    /// Whether a call of `operation` may block its thread: it persists state (the operation
    /// table), or an injected latency holds it. Servers run such calls off their async workers.
    pub fn may_block(&self, operation: &str) -> bool {
        crate::ops::operation(operation).is_none_or(|o| o.blocking) || self.faults.delays(operation)
    }

    /// The access key id of the data dir's service credential (`None` in memory).
    pub fn service_access_key_id(&self) -> Option<&str> {
        self.service_key.as_ref().map(|(id, _)| id.as_str())
    }

    /// The credential of an access key: `test` (the default account's root), IAM users and
    /// roles' active access keys (docs/iam.md), account roots' keys and the data dir's service
    /// credential. Session keys (`ASIA…`) are [`Kms::lookup_session`]'s.
    pub fn lookup_access_key(&self, access_key_id: &str) -> Option<Credential> {
        if access_key_id == ebsim_kms_api::BUILTIN_ACCESS_KEY {
            return Some(Credential {
                principal: self.root_arn(),
                secret: Zeroizing::new("test".into()),
                is_service: false,
            });
        }
        if let Some((id, secret)) = &self.service_key
            && id == access_key_id
        {
            return Some(Credential {
                principal: self.root_arn(),
                secret: secret.clone(),
                is_service: true,
            });
        }
        if let Some((account, secret)) = self.root_keys.lookup(access_key_id) {
            return Some(Credential {
                principal: format!("arn:aws:iam::{account}:root"),
                secret,
                is_service: false,
            });
        }
        let st = self.state.read();
        st.principals.values().find_map(|p| {
            p.access_keys
                .iter()
                .find(|k| k.id == access_key_id && k.status == crate::iam_state::KeyStatus::Active)
                .map(|k| Credential {
                    principal: p.arn.clone(),
                    secret: k.secret.clone(),
                    is_service: false,
                })
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
            Ok(v) => self.call_json(caller, operation, v).map(wiped_body),
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
        wipe_plaintext(req);
        result
    }

    fn run(&self, caller: &Caller, op: &str, req: &Map<String, Value>, ev: &mut Ev) -> R<Value> {
        self.faults.apply(op, || SystemClock.now())?;
        let now = self.now();
        self.maintain(now)?;
        // Answering to an attested enclave would change the answer (no plaintext in it):
        // refused rather than ignored (docs/kms.md).
        if req.contains_key("Recipient") && TAKES_RECIPIENT.contains(&op) {
            return Err(err(
                ErrorType::UnsupportedOperationException,
                "Recipient (an attested Nitro enclave) is not supported by this KMS.",
            ));
        }
        let dry_run = opt_bool(req, "DryRun")?;
        if dry_run && !crate::ops::operation(op).is_some_and(|o| o.dry_run && o.implemented) {
            return Err(validation("DryRun is not supported for this operation."));
        }
        let refs = [
            ("KeyId", op),
            ("DestinationKeyId", "ReEncryptTo"),
            ("SourceKeyId", "ReEncryptFrom"),
        ];
        for (name, action) in refs.into_iter().filter(|_| takes_alias(op)) {
            if let Some(k) = opt_str(req, name)? {
                self.ensure_managed(caller, &k, action, now)?;
            }
        }
        let out = if read_only(op) {
            let st = self.state.read();
            let cx = Call {
                caller,
                op,
                req,
                now,
                dry: dry_run,
            };
            self.read_op(&st, &cx, ev)?
        } else {
            let mut st = self.state.write();
            let cx = Call {
                caller,
                op,
                req,
                now,
                dry: dry_run,
            };
            if dry_run {
                // Run on the live state only up to the checks: the write ops stop before
                // changing anything when DryRun is set.
                self.write_op(&mut st, &cx, ev)?
            } else {
                let out = self.write_op(&mut st, &cx, ev)?;
                self.persist(&mut st)?;
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

    /// Runs an operation that only reads the state.
    fn read_op(&self, st: &State, cx: &Call<'_>, ev: &mut Ev) -> R<Value> {
        if let Some(out) = self.asym_op(st, cx, ev) {
            return out;
        }
        let Call {
            caller, op, req, ..
        } = *cx;
        match op {
            "Decrypt" => {
                let r: DecryptRequest = parse(req)?;
                if dry_run::ignores_ciphertext(r.dry_run, r.dry_run_modifiers.as_deref())? {
                    return self.dry_run_without_ciphertext(st, caller, op, DryRunLegs::of(&r), ev);
                }
                self.handle_decrypt(st, caller, &r, ev)
                    .map(|o| o.to_value())
            }
            "ReEncrypt" => {
                let r: ReEncryptRequest = parse(req)?;
                if dry_run::ignores_ciphertext(r.dry_run, r.dry_run_modifiers.as_deref())? {
                    return self.dry_run_without_ciphertext(st, caller, op, DryRunLegs::of(&r), ev);
                }
                self.handle_re_encrypt(st, caller, &r, ev)
                    .map(|o| o.to_value())
            }
            "DescribeKey" => self
                .describe_key(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "Encrypt" => self
                .handle_encrypt(st, caller, &parse(req)?, ev)
                .map(|o| o.to_value()),
            "GenerateDataKey" => self
                .handle_generate_data_key(st, caller, &parse(req)?, ev, true)
                .map(|o| o.to_value()),
            "GenerateDataKeyWithoutPlaintext" => self
                .handle_generate_data_key(
                    st,
                    caller,
                    &parse::<GenerateDataKeyWithoutPlaintextRequest>(req)?.into(),
                    ev,
                    false,
                )
                .map(|o| o.to_value()),
            "GenerateRandom" => self
                .handle_generate_random(st, caller, &parse(req)?)
                .and_then(to_json),
            "ListKeys" => self.list_keys(st, caller, &parse(req)?).and_then(to_json),
            "DescribeCustomKeyStores" => self
                .describe_custom_key_stores(st, caller, &parse(req)?)
                .and_then(to_json),
            "ListAliases" => self
                .list_aliases(st, caller, &parse_staged(req)?)
                .and_then(to_json),
            "ListGrants" => self
                .list_grants(st, caller, &parse_staged(req)?, ev)
                .and_then(to_json),
            "ListRetirableGrants" => self
                .list_retirable_grants(st, caller, &parse_staged(req)?)
                .and_then(to_json),
            "GetKeyPolicy" => self
                .get_key_policy(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "ListKeyPolicies" => self
                .list_key_policies(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "GetKeyRotationStatus" => self
                .get_key_rotation_status(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "ListKeyRotations" => self
                .list_key_rotations(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "ListResourceTags" => self
                .list_resource_tags(st, caller, &parse_staged(req)?, ev)
                .and_then(to_json),
            _ => Err(err(
                ErrorType::UnknownOperationException,
                format!("Unknown operation {op}"),
            )),
        }
    }

    /// Runs an operation that changes the state (which `run` then persists).
    fn write_op(&self, st: &mut State, cx: &Call<'_>, ev: &mut Ev) -> R<Value> {
        let Call {
            caller,
            op,
            req,
            now,
            dry,
        } = *cx;
        match op {
            "CreateKey" => self
                .create_key(st, caller, &parse_staged(req)?, ev, now)
                .and_then(to_json),
            "EnableKey" => self
                .enable_key(st, caller, &parse(req)?, ev, now)
                .and_then(to_json),
            "DisableKey" => self
                .disable_key(st, caller, &parse(req)?, ev, now)
                .and_then(to_json),
            "UpdateKeyDescription" => self
                .update_key_description(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "ScheduleKeyDeletion" => self
                .schedule_key_deletion(st, caller, &parse(req)?, ev, now)
                .and_then(to_json),
            "CancelKeyDeletion" => self
                .cancel_key_deletion(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "PutKeyPolicy" => self
                .put_key_policy(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "EnableKeyRotation" => self
                .enable_key_rotation(st, caller, &parse(req)?, ev, now)
                .and_then(to_json),
            "DisableKeyRotation" => self
                .disable_key_rotation(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "RotateKeyOnDemand" => self
                .rotate_key_on_demand(st, caller, &parse(req)?, ev, now)
                .and_then(to_json),
            "TagResource" => self
                .tag_resource(st, caller, &parse_staged(req)?, ev)
                .and_then(to_json),
            "UntagResource" => self
                .untag_resource(st, caller, &parse_staged(req)?, ev)
                .and_then(to_json),
            "CreateAlias" => self
                .create_alias(st, caller, &parse_staged(req)?, ev, now)
                .and_then(to_json),
            "UpdateAlias" => self
                .update_alias(st, caller, &parse_staged(req)?, ev, now)
                .and_then(to_json),
            "DeleteAlias" => self
                .delete_alias(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "CreateGrant" => self
                .create_grant(st, caller, &parse_staged(req)?, ev, now, dry)
                .and_then(to_json),
            "RetireGrant" => self
                .retire_grant(st, caller, &parse_staged(req)?, ev, dry)
                .and_then(to_json),
            "RevokeGrant" => self
                .revoke_grant(st, caller, &parse(req)?, ev, dry)
                .and_then(to_json),
            "GetParametersForImport" => self
                .get_parameters_for_import(st, caller, &parse(req)?, ev, now)
                .and_then(to_json),
            "ImportKeyMaterial" => self
                .import_key_material(st, caller, &parse(req)?, ev, now)
                .and_then(to_json),
            "CreateCustomKeyStore" => self
                .create_custom_key_store(st, caller, &parse(req)?, now)
                .and_then(to_json),
            "ConnectCustomKeyStore" => self
                .connect_custom_key_store(st, caller, &parse(req)?, now)
                .and_then(to_json),
            "DisconnectCustomKeyStore" => self
                .disconnect_custom_key_store(st, caller, &parse(req)?)
                .and_then(to_json),
            "DeleteCustomKeyStore" => self
                .delete_custom_key_store(st, caller, &parse(req)?)
                .and_then(to_json),
            "UpdateCustomKeyStore" => self
                .update_custom_key_store(st, caller, &parse(req)?)
                .and_then(to_json),
            "ReplicateKey" => self
                .replicate_key(st, caller, &parse_staged(req)?, ev, now)
                .and_then(to_json),
            "UpdatePrimaryRegion" => self
                .update_primary_region(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            "DeleteImportedKeyMaterial" => self
                .delete_imported_key_material(st, caller, &parse(req)?, ev)
                .and_then(to_json),
            _ => Err(err(
                ErrorType::UnknownOperationException,
                format!("Unknown operation {op}"),
            )),
        }
    }
}
