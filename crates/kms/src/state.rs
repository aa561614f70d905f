//! The KMS state: keys with their material versions, aliases, grants, IAM principals. It is
//! serialized whole to `DIR/kms/state.json` (mode 0600; key material and IAM secrets are in
//! it, base64, protected only by the file's permissions).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::asym::{PrivateKey, Spec};
use crate::blob::KeyMaterial;
use crate::policy::PolicyDocument;
pub use crate::tracked::Tracked;

pub use crate::key_slots::{MRK_PREFIX, MultiRegionRole, id_bytes, slot_of, wire_id};
pub use ebsim_kms_api::KeyState;

/// One version of key material.
#[derive(Debug, Serialize, Deserialize)]
pub struct Material {
    /// 64 lowercase hex.
    pub id: String,
    #[serde(skip)]
    pub id_bytes: [u8; 32],
    pub created: f64,
    /// `None` for the original material, else `AUTOMATIC` / `ON_DEMAND`.
    pub rotation_type: Option<String>,
    /// The material (written `""` while imported material is expired or deleted).
    #[serde(with = "material_b64")]
    pub secret: MaterialSecret,
    /// What was imported with it (keys of origin `EXTERNAL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<crate::import_state::ImportedMaterial>,
}

/// The secret of one material version: absent while imported material is expired or
/// deleted (the key is then `PendingImport` and nothing seals or opens with it).
#[derive(Debug)]
pub struct MaterialSecret(Option<KeyMaterial>);

impl MaterialSecret {
    /// Present material.
    pub fn new(m: KeyMaterial) -> Self {
        Self(Some(m))
    }

    /// No material.
    pub fn absent() -> Self {
        Self(None)
    }

    /// A copy of the material's bytes (for a multi-Region replica).
    pub fn bytes(&self) -> Option<Zeroizing<Vec<u8>>> {
        self.0.as_ref().map(|m| Zeroizing::new(m.expose().to_vec()))
    }

    /// Whether the material is present.
    pub fn is_present(&self) -> bool {
        self.0.is_some()
    }

    /// [`KeyMaterial::seal`]; `None` without material.
    pub fn seal(
        &self,
        key_id: &[u8; 16],
        material_id: &[u8; 32],
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Option<Vec<u8>> {
        self.0
            .as_ref()?
            .seal(key_id, material_id, plaintext, context)
    }

    /// [`KeyMaterial::open`]; `None` without material.
    pub fn open(
        &self,
        blob: &crate::blob::ParsedBlob<'_>,
        context: &BTreeMap<String, String>,
    ) -> Option<Zeroizing<Vec<u8>>> {
        self.0.as_ref()?.open(blob, context)
    }
}

mod material_b64 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(m: &MaterialSecret, s: S) -> Result<S::Ok, S::Error> {
        match &m.0 {
            Some(m) => {
                let text = Zeroizing::new(B64.encode(m.expose()));
                s.serialize_str(&text)
            }
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<MaterialSecret, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        if text.is_empty() {
            return Ok(MaterialSecret::absent());
        }
        let bytes = Zeroizing::new(
            B64.decode(text.as_bytes())
                .map_err(|_| serde::de::Error::custom("key material is not base64"))?,
        );
        KeyMaterial::from_slice(&bytes)
            .map(MaterialSecret::new)
            .ok_or_else(|| serde::de::Error::custom("key material is not 32 bytes"))
    }
}

impl Material {
    /// Whether this is imported material waiting for RotateKeyOnDemand.
    pub fn is_pending_rotation(&self) -> bool {
        self.import.as_ref().is_some_and(|i| i.pending_rotation)
    }

    pub fn generate(now: f64, rotation_type: Option<&str>) -> Self {
        let mut id_bytes = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut id_bytes);
        Self {
            id: hex::encode(id_bytes),
            id_bytes,
            created: now,
            rotation_type: rotation_type.map(str::to_string),
            secret: MaterialSecret::new(KeyMaterial::generate()),
            import: None,
        }
    }
}

/// Grant constraints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraints {
    pub subset: Option<BTreeMap<String, String>>,
    pub equals: Option<BTreeMap<String, String>>,
}

/// Whether every pair of `ctx` whose key equals `key` case-insensitively has the value
/// `value`, and there is at least one (the strict reading of case-variant context keys,
/// docs/kms.md, "Encryption context").
fn requires(ctx: &BTreeMap<String, String>, key: &str, value: &str) -> bool {
    let mut found = false;
    for (k, v) in ctx {
        if k.eq_ignore_ascii_case(key) {
            if v != value {
                return false;
            }
            found = true;
        }
    }
    found
}

/// Whether `m` has a pair whose key equals `key` case-insensitively and whose value is
/// `value`.
fn has_pair(m: &BTreeMap<String, String>, key: &str, value: &str) -> bool {
    m.iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(key) && v == value)
}

impl Constraints {
    pub fn is_empty(&self) -> bool {
        self.subset.is_none() && self.equals.is_none()
    }

    /// Whether a request context meets the constraints: keys compared case-insensitively,
    /// values exactly, and a constraint pair holds only if **every** context pair whose key
    /// matches it has its value (so `{tenant: bob, TENANT: alice}` does not meet
    /// `tenant: bob`). Under `EncryptionContextEquals` every context pair must also match a
    /// constraint pair.
    pub fn allows(&self, ctx: &BTreeMap<String, String>) -> bool {
        if let Some(sub) = &self.subset
            && !sub.iter().all(|(k, v)| requires(ctx, k, v))
        {
            return false;
        }
        if let Some(eq) = &self.equals
            && (!eq.iter().all(|(k, v)| requires(ctx, k, v))
                || !ctx.iter().all(|(k, v)| has_pair(eq, k, v)))
        {
            return false;
        }
        true
    }

    /// Whether `self` (a child's constraints) implies `parent`: every context the child
    /// allows, the parent allows.
    pub fn at_least_as_strict_as(&self, parent: &Constraints) -> bool {
        if let Some(peq) = &parent.equals {
            let Some(ceq) = &self.equals else {
                return false;
            };
            if !Constraints::same_map(ceq, peq) {
                return false;
            }
        }
        if let Some(psub) = &parent.subset {
            // Each pair the parent requires, the child requires too.
            let covered =
                |m: &BTreeMap<String, String>| psub.iter().all(|(k, v)| has_pair(m, k, v));
            let ok = self.subset.as_ref().is_some_and(covered)
                || self.equals.as_ref().is_some_and(covered);
            if !ok {
                return false;
            }
        }
        true
    }

    /// The same pairs, keys compared case-insensitively.
    fn same_map(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
        a.iter().all(|(k, v)| has_pair(b, k, v)) && b.iter().all(|(k, v)| has_pair(a, k, v))
    }
}

/// A grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub grant_id: String,
    pub name: Option<String>,
    pub created: f64,
    pub grantee: String,
    pub retiring: Option<String>,
    pub issuing_account: String,
    pub operations: Vec<String>,
    pub constraints: Constraints,
    /// The grant this one was created through (child grants).
    pub parent: Option<String>,
}

/// Rotation settings of a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rotation {
    pub period_days: u32,
    pub next: f64,
}

/// A KMS key.
#[derive(Debug, Serialize, Deserialize)]
pub struct Key {
    pub id: String,
    #[serde(skip)]
    pub id_bytes: [u8; 16],
    pub arn: String,
    pub account: String,
    pub region: String,
    pub created: f64,
    pub description: String,
    pub key_usage: String,
    pub key_spec: String,
    pub origin: String,
    pub aws_managed: bool,
    pub state: KeyState,
    pub deletion_date: Option<f64>,
    pub pending_window_days: Option<u32>,
    pub policy_text: String,
    #[serde(skip)]
    pub policy: Option<Arc<PolicyDocument>>,
    pub materials: Vec<Material>,
    pub rotation: Option<Rotation>,
    pub on_demand_rotations: u32,
    pub grants: Vec<Grant>,
    pub tags: Vec<(String, String)>,
    /// The private key of an asymmetric key, or the secret of an HMAC key (base64 in the
    /// state; `crate::asym`).
    #[serde(default, skip_serializing_if = "KeySecret::is_none")]
    pub secret: KeySecret,
    /// Import parameters and the expiry of imported material (keys of origin `EXTERNAL`,
    /// docs/kms.md, "Imported key material").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<crate::import_state::KeyImport>,
    /// The role of a multi-Region key (`None` for a single-Region key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<MultiRegionRole>,
    /// The custom key store of an `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_key_store_id: Option<String>,
    /// The external key of an `EXTERNAL_KEY_STORE` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xks: Option<crate::custom_store_state::XksBinding>,
    /// The state an `Unavailable` key returns to when its store is connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_state: Option<KeyState>,
}

/// The material of an asymmetric or HMAC key, as read (`Stored`, until
/// [`State::rehydrate`] parses it) or ready to use.
#[derive(Default)]
pub enum KeySecret {
    /// A symmetric key (its material is in [`Key::materials`]).
    #[default]
    None,
    /// The bytes read from the state, not yet parsed.
    Stored(Zeroizing<Vec<u8>>),
    /// Parsed.
    Ready(Box<PrivateKey>),
}

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Stored(_) => "Stored(..)",
            Self::Ready(_) => "Ready(..)",
        })
    }
}

impl KeySecret {
    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }

    /// The parsed material.
    pub fn ready(&self) -> Option<&PrivateKey> {
        match self {
            Self::Ready(k) => Some(k),
            _ => None,
        }
    }
}

impl Serialize for KeySecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes: &[u8] = match self {
            Self::None => &[],
            Self::Stored(b) => b,
            Self::Ready(k) => k.stored(),
        };
        let text = Zeroizing::new(B64.encode(bytes));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for KeySecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let bytes = B64
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("key secret is not base64"))?;
        Ok(Self::Stored(Zeroizing::new(bytes)))
    }
}

impl Key {
    /// The key's map key in [`State::keys`] ([`slot_of`]).
    pub fn slot(&self) -> String {
        slot_of(&self.id, &self.region)
    }

    pub fn is_symmetric(&self) -> bool {
        self.key_spec == "SYMMETRIC_DEFAULT"
    }

    /// The material new ciphertext is sealed with: the last one, except imported material
    /// still pending rotation.
    pub fn current_material(&self) -> Option<&Material> {
        self.materials
            .iter()
            .rev()
            .find(|m| !m.is_pending_rotation())
    }

    /// Whether the key is of origin `EXTERNAL`.
    pub fn is_external(&self) -> bool {
        self.origin == "EXTERNAL"
    }

    /// Whether an `EXTERNAL` key lacks material it needs: none imported yet, or one of its
    /// materials (other than one pending rotation) expired or deleted.
    pub fn missing_material(&self) -> bool {
        if !self.is_external() {
            return false;
        }
        if self.is_symmetric() {
            self.materials.is_empty()
                || self
                    .materials
                    .iter()
                    .any(|m| !m.is_pending_rotation() && !m.secret.is_present())
        } else {
            self.secret.is_none()
        }
    }
}

/// An alias.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    pub arn: String,
    pub target_key_id: String,
    pub created: f64,
    pub updated: f64,
}

/// An IAM user or role known to the simulator (docs/iam.md).
#[derive(Debug, Serialize, Deserialize)]
pub struct Principal {
    pub arn: String,
    /// `user` or `role`.
    pub kind: String,
    pub account: String,
    /// The name (the last part of the ARN); empty in a state written before it was kept.
    #[serde(default)]
    pub name: String,
    #[serde(default = "root_path")]
    pub path: String,
    /// `AIDA…` or `AROA…`.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub created: f64,
    /// The one access key of a principal made before keys were kept as a list: moved into
    /// `access_keys` when the state is read, never written.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access_key_id: String,
    #[serde(
        default,
        with = "secret_string",
        skip_serializing_if = "secret_string::is_empty"
    )]
    pub secret: Zeroizing<String>,
    #[serde(default)]
    pub access_keys: Vec<crate::iam_state::AccessKey>,
    /// Inline policies: name → document.
    pub policies: BTreeMap<String, String>,
    /// Attached managed policies (ARNs).
    #[serde(default)]
    pub attached: Vec<String>,
    /// A role's trust policy (AssumeRolePolicyDocument).
    #[serde(default)]
    pub trust_policy: Option<String>,
    /// A role's longest session, seconds.
    #[serde(default = "default_max_session")]
    pub max_session_duration: u32,
    #[serde(default)]
    pub description: Option<String>,
    /// The inline and attached policies, compiled.
    #[serde(skip)]
    pub compiled: Vec<Arc<PolicyDocument>>,
    /// The trust policy, compiled.
    #[serde(skip)]
    pub trust: Option<Arc<PolicyDocument>>,
}

fn root_path() -> String {
    "/".to_owned()
}

fn default_max_session() -> u32 {
    3600
}

impl Principal {
    /// A user or role (`kind`) with no key and no policy; the name is the ARN's last part.
    pub fn new(arn: String, kind: &str, account: String, created: f64) -> Self {
        let name = arn.rsplit('/').next().unwrap_or_default().to_owned();
        let path = arn
            .split_once(&format!(":{kind}"))
            .map(|(_, rest)| rest[..rest.len() - name.len()].to_owned())
            .filter(|p| p.starts_with('/'))
            .unwrap_or_else(root_path);
        Self {
            id: crate::iam_state::unique_id(if kind == "role" { "AROA" } else { "AIDA" }),
            arn,
            kind: kind.to_owned(),
            account,
            name,
            path,
            created,
            access_key_id: String::new(),
            secret: Zeroizing::new(String::new()),
            access_keys: Vec::new(),
            policies: BTreeMap::new(),
            attached: Vec::new(),
            trust_policy: None,
            max_session_duration: default_max_session(),
            description: None,
            compiled: Vec::new(),
            trust: None,
        }
    }

    /// Recompiles the inline policies, the default versions of the attached ones (from
    /// `managed`) and the trust policy.
    pub fn compile(
        &mut self,
        managed: &BTreeMap<String, crate::iam_state::ManagedPolicy>,
    ) -> Result<(), String> {
        let mut compiled = Vec::with_capacity(self.policies.len() + self.attached.len());
        for t in self.policies.values() {
            compiled
                .push(Arc::new(PolicyDocument::parse_identity_policy(t).map_err(
                    |e| format!("identity policy of {}: {e}", self.arn),
                )?));
        }
        for arn in &self.attached {
            if let Some(doc) = managed.get(arn).and_then(|m| m.compiled.clone()) {
                compiled.push(doc);
            }
        }
        self.compiled = compiled;
        self.trust = match &self.trust_policy {
            Some(t) => Some(Arc::new(
                PolicyDocument::parse(t, crate::policy::PolicyKind::Trust)
                    .map_err(|e| format!("trust policy of {}: {e}", self.arn))?,
            )),
            None => None,
        };
        Ok(())
    }

    /// Completes a principal read from a state written before the IAM API: its name, id,
    /// and its one access key moved into the list.
    fn upgrade(&mut self) {
        if self.name.is_empty() {
            self.name = self.arn.rsplit('/').next().unwrap_or_default().to_owned();
        }
        if self.id.is_empty() {
            let prefix = if self.kind == "role" { "AROA" } else { "AIDA" };
            self.id = crate::iam_state::derived_id(prefix, &self.arn);
        }
        if !self.access_key_id.is_empty() {
            self.access_keys.push(crate::iam_state::AccessKey {
                id: std::mem::take(&mut self.access_key_id),
                secret: std::mem::take(&mut self.secret),
                status: crate::iam_state::KeyStatus::Active,
                created: self.created,
            });
        }
    }
}

pub(crate) mod secret_string {
    use super::*;

    pub fn is_empty(m: &Zeroizing<String>) -> bool {
        m.is_empty()
    }

    pub fn serialize<S: serde::Serializer>(m: &Zeroizing<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Zeroizing<String>, D::Error> {
        Ok(Zeroizing::new(String::deserialize(d)?))
    }
}

/// The whole state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    /// Which snapshot this is: the journal's lines of this generation follow it
    /// (docs/formats.md, "The KMS journal"). 0 in a state written before the journal.
    #[serde(default)]
    pub generation: u64,
    /// Key id → key.
    pub keys: Tracked<Key>,
    /// Alias ARN → alias.
    pub aliases: Tracked<Alias>,
    /// IAM principal ARN → principal.
    pub principals: Tracked<Principal>,
    /// Customer managed policy ARN → policy.
    #[serde(default)]
    pub managed_policies: Tracked<crate::iam_state::ManagedPolicy>,
    /// Session access key id (`ASIA…`) → session.
    #[serde(default)]
    pub sessions: Tracked<crate::iam_state::Session>,
    /// Custom key store id → store.
    #[serde(default)]
    pub custom_key_stores: Tracked<crate::custom_store_state::CustomKeyStore>,
    /// Simulated time offset, seconds: finite, 0 ..= [`MAX_CLOCK_OFFSET`]. A state written
    /// before the bound (an offset saved as `null` after an overflow, or beyond the bound)
    /// opens with the offset brought back into it.
    #[serde(deserialize_with = "bounded_offset")]
    pub clock_offset: f64,
}

/// The furthest simulated time may run ahead of the wall clock: 100 years of 365 days.
pub const MAX_CLOCK_OFFSET: f64 = 100.0 * 365.0 * 86_400.0;

fn bounded_offset<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = Option::<f64>::deserialize(d)?.unwrap_or(0.0);
    Ok(if v.is_finite() {
        v.clamp(0.0, MAX_CLOCK_OFFSET)
    } else {
        0.0
    })
}

impl State {
    /// The key of `region` a ciphertext blob names by its 16 key id bytes: a key with that
    /// UUID, or the multi-Region key of that region whose id has those bytes.
    pub fn blob_key(&self, id: &[u8; 16], region: ebsim_kms_api::Region) -> Option<&Key> {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let uuid: &str = uuid::Uuid::from_bytes(*id)
            .hyphenated()
            .encode_lower(&mut text);
        if let Some(k) = self.keys.get(uuid).filter(|k| region == *k.region) {
            return Some(k);
        }
        let mrk = slot_of(&format!("{MRK_PREFIX}{}", hex::encode(id)), region.as_str());
        self.keys.get(&mrk)
    }

    /// Rebuilds what is not serialized (compiled policies, id bytes). Errors name what is
    /// wrong.
    pub fn rehydrate(&mut self) -> Result<(), String> {
        for key in self.keys.values_mut_all() {
            key.id_bytes = id_bytes(&key.id).ok_or_else(|| format!("bad key id {}", key.id))?;
            let doc = PolicyDocument::parse_key_policy(&key.policy_text)
                .map_err(|e| format!("key policy of {}: {e}", key.arn))?;
            key.policy = Some(Arc::new(doc));
            if let KeySecret::Stored(bytes) = &key.secret {
                let spec = Spec::parse(&key.key_spec).ok_or_else(|| {
                    format!("key {} has material but spec {}", key.arn, key.key_spec)
                })?;
                let agreement = key.key_usage == "KEY_AGREEMENT";
                let parsed = PrivateKey::from_stored(spec, agreement, bytes.clone())
                    .map_err(|_| format!("the key material of {} does not parse", key.arn))?;
                key.secret = KeySecret::Ready(Box::new(parsed));
            }
            for m in &mut key.materials {
                let bytes = hex::decode(&m.id).map_err(|_| format!("bad material id {}", m.id))?;
                m.id_bytes = bytes
                    .try_into()
                    .map_err(|_| format!("bad material id {}", m.id))?;
            }
        }
        for m in self.managed_policies.values_mut_all() {
            m.compile()?;
        }
        let managed: &BTreeMap<String, crate::iam_state::ManagedPolicy> = &self.managed_policies;
        for p in self.principals.values_mut_all() {
            p.upgrade();
            p.compile(managed)?;
        }
        for s in self.sessions.values_mut_all() {
            s.compiled = match &s.policy {
                Some(t) => Some(Arc::new(
                    PolicyDocument::parse_identity_policy(t)
                        .map_err(|e| format!("session policy of {}: {e}", s.principal))?,
                )),
                None => None,
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_principal_of_an_earlier_state_keeps_its_key() {
        let text = r#"{"arn":"arn:aws:iam::111122223333:role/app","kind":"role","account":"111122223333","access_key_id":"AKIAOLDOLDOLDOLDOLD1","secret":"s3cr3t","policies":{}}"#;
        let mut p: Principal = serde_json::from_str(text).expect("an earlier principal reads");
        p.upgrade();
        assert_eq!(p.name, "app");
        assert_eq!(p.path, "/");
        assert_eq!(p.max_session_duration, 3600);
        assert!(p.id.starts_with("AROA") && p.id.len() == 21, "{}", p.id);
        assert_eq!(p.access_keys.len(), 1);
        assert_eq!(p.access_keys[0].id, "AKIAOLDOLDOLDOLDOLD1");
        assert_eq!(p.access_keys[0].secret.as_str(), "s3cr3t");
        // Written back in the new shape only, with the same id each time it is read.
        let again = serde_json::to_string(&p).expect("serializes");
        assert!(!again.contains("\"access_key_id\""), "{again}");
        let mut q: Principal = serde_json::from_str(text).expect("reads");
        q.upgrade();
        assert_eq!(q.id, p.id);
    }

    #[test]
    fn subset_and_equals() {
        let sub = Constraints {
            subset: Some(m(&[("aws:ebs:id", "vol-1")])),
            equals: None,
        };
        assert!(sub.allows(&m(&[("aws:ebs:id", "vol-1"), ("x", "y")])));
        assert!(
            sub.allows(&m(&[("AWS:EBS:ID", "vol-1")])),
            "keys are case-insensitive"
        );
        assert!(
            !sub.allows(&m(&[("aws:ebs:id", "VOL-1")])),
            "values are exact"
        );
        assert!(!sub.allows(&m(&[])));
        assert!(
            !sub.allows(&m(&[("aws:ebs:id", "vol-1"), ("AWS:EBS:ID", "vol-2")])),
            "every case variant of a constrained key must have its value"
        );
        assert!(sub.allows(&m(&[("aws:ebs:id", "vol-1"), ("AWS:EBS:ID", "vol-1")])));
        let eq = Constraints {
            subset: None,
            equals: Some(m(&[("a", "1")])),
        };
        assert!(eq.allows(&m(&[("a", "1")])));
        assert!(!eq.allows(&m(&[("a", "1"), ("b", "2")])));
        assert!(!eq.allows(&m(&[("a", "1"), ("A", "2")])));
        assert!(eq.allows(&m(&[("A", "1")])));
    }

    #[test]
    fn a_child_on_a_case_variant_key_is_no_looser_than_its_parent() {
        let parent = Constraints {
            subset: Some(m(&[("aws:ebs:id", "vol-1")])),
            equals: None,
        };
        let child = Constraints {
            subset: Some(m(&[("AWS:EBS:ID", "vol-1")])),
            equals: None,
        };
        assert!(child.at_least_as_strict_as(&parent));
        // A context with both spellings: neither allows it unless both have the value.
        let mixed = m(&[("aws:ebs:id", "vol-2"), ("AWS:EBS:ID", "vol-1")]);
        assert!(!child.allows(&mixed) && !parent.allows(&mixed));
        let other = Constraints {
            subset: Some(m(&[("AWS:EBS:ID", "vol-2")])),
            equals: None,
        };
        assert!(!other.at_least_as_strict_as(&parent));
    }

    #[test]
    fn child_strictness() {
        let parent = Constraints {
            subset: Some(m(&[("w", "1")])),
            equals: None,
        };
        let child = Constraints {
            subset: Some(m(&[("w", "1"), ("v", "2")])),
            equals: None,
        };
        assert!(child.at_least_as_strict_as(&parent));
        let eq_child = Constraints {
            subset: None,
            equals: Some(m(&[("w", "1")])),
        };
        assert!(eq_child.at_least_as_strict_as(&parent));
        assert!(!Constraints::default().at_least_as_strict_as(&parent));
        assert!(
            !parent.at_least_as_strict_as(&eq_child),
            "Equals cannot become Subset"
        );
    }
}
