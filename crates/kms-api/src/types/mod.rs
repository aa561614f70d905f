//! Typed requests and responses of the KMS operations ebsim implements, with AWS's member
//! names (docs/kms.md, "Typed API").
//!
//! Each request type is declared once with `request!`: its members, their
//! wire names and their constraints. The declaration gives the type serde's `Serialize` and
//! `Deserialize` (clients, the data-plane fast path), [`FromMembers`] (the service's general
//! path, with AWS's SerializationException messages), and [`Request::MEMBERS`] (the
//! constraints, from which the validation messages are generated, and which a test compares
//! with botocore's model).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::{ErrorType, KmsError};

pub mod constraint;
#[macro_use]
mod macros;
pub mod aliases;
pub mod asym;
pub mod crypto;
pub mod custom_key_stores;
pub mod grants;
pub mod import;
pub mod keys;
pub mod multi_region;
pub mod policy;
pub mod rotation;
pub mod tags;

pub use constraint::{Echo, MemberSpec, Rule};
pub use macros::WireField;

/// Every request type's operation and members (a test compares them with botocore's model).
pub const ALL: &[(&str, &[MemberSpec])] = &[
    entry::<crypto::EncryptRequest>(),
    entry::<crypto::DecryptRequest>(),
    entry::<crypto::GenerateDataKeyRequest>(),
    entry::<crypto::GenerateDataKeyWithoutPlaintextRequest>(),
    entry::<crypto::ReEncryptRequest>(),
    entry::<crypto::GenerateRandomRequest>(),
    entry::<keys::CreateKeyRequest>(),
    entry::<keys::DescribeKeyRequest>(),
    entry::<keys::EnableKeyRequest>(),
    entry::<keys::DisableKeyRequest>(),
    entry::<keys::UpdateKeyDescriptionRequest>(),
    entry::<keys::ScheduleKeyDeletionRequest>(),
    entry::<keys::CancelKeyDeletionRequest>(),
    entry::<keys::ListKeysRequest>(),
    entry::<rotation::EnableKeyRotationRequest>(),
    entry::<rotation::DisableKeyRotationRequest>(),
    entry::<rotation::GetKeyRotationStatusRequest>(),
    entry::<rotation::RotateKeyOnDemandRequest>(),
    entry::<rotation::ListKeyRotationsRequest>(),
    entry::<policy::GetKeyPolicyRequest>(),
    entry::<policy::PutKeyPolicyRequest>(),
    entry::<policy::ListKeyPoliciesRequest>(),
    entry::<aliases::CreateAliasRequest>(),
    entry::<aliases::UpdateAliasRequest>(),
    entry::<aliases::DeleteAliasRequest>(),
    entry::<aliases::ListAliasesRequest>(),
    entry::<grants::CreateGrantRequest>(),
    entry::<grants::ListGrantsRequest>(),
    entry::<grants::ListRetirableGrantsRequest>(),
    entry::<grants::RetireGrantRequest>(),
    entry::<grants::RevokeGrantRequest>(),
    entry::<tags::TagResourceRequest>(),
    entry::<tags::UntagResourceRequest>(),
    entry::<tags::ListResourceTagsRequest>(),
    entry::<asym::SignRequest>(),
    entry::<asym::VerifyRequest>(),
    entry::<asym::GetPublicKeyRequest>(),
    entry::<asym::GenerateMacRequest>(),
    entry::<asym::VerifyMacRequest>(),
    entry::<asym::DeriveSharedSecretRequest>(),
    entry::<asym::GenerateDataKeyPairRequest>(),
    entry::<asym::GenerateDataKeyPairWithoutPlaintextRequest>(),
    entry::<asym::GetKeyLastUsageRequest>(),
    entry::<import::GetParametersForImportRequest>(),
    entry::<import::ImportKeyMaterialRequest>(),
    entry::<import::DeleteImportedKeyMaterialRequest>(),
    entry::<multi_region::ReplicateKeyRequest>(),
    entry::<multi_region::UpdatePrimaryRegionRequest>(),
    entry::<custom_key_stores::CreateCustomKeyStoreRequest>(),
    entry::<custom_key_stores::DescribeCustomKeyStoresRequest>(),
    entry::<custom_key_stores::ConnectCustomKeyStoreRequest>(),
    entry::<custom_key_stores::DisconnectCustomKeyStoreRequest>(),
    entry::<custom_key_stores::DeleteCustomKeyStoreRequest>(),
    entry::<custom_key_stores::UpdateCustomKeyStoreRequest>(),
];

const fn entry<R: Request>() -> (&'static str, &'static [MemberSpec]) {
    (R::OPERATION, R::MEMBERS)
}

/// A request type: its operation and its members' constraints.
pub trait Request: FromMembers + Members + Serialize {
    /// The operation's wire name.
    const OPERATION: &'static str;
    /// Every member, with its constraints.
    const MEMBERS: &'static [MemberSpec];
}

/// A present member's value, borrowed (for audit records; binary members are `Opaque`).
#[derive(Debug, Clone, Copy)]
pub enum MemberRef<'a> {
    /// A string.
    Str(&'a str),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A number that need not be whole (a timestamp, epoch seconds).
    Number(f64),
    /// A map of strings.
    Map(&'a StringMap),
    /// A list of strings.
    List(&'a [String]),
    /// A binary or structured member (never copied into audit records).
    Opaque,
}

/// Visiting the present members of a typed request, in declaration order.
pub trait Members {
    /// Calls `f` with each present member's wire name and value.
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'static str, MemberRef<'a>));
}

/// A field's [`MemberRef`], `None` when absent.
pub trait AsMemberRef {
    /// The value, if present.
    fn member_ref(&self) -> Option<MemberRef<'_>>;
}

impl AsMemberRef for Option<String> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.as_deref().map(MemberRef::Str)
    }
}
impl AsMemberRef for Option<i64> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.map(MemberRef::Int)
    }
}
impl AsMemberRef for Option<f64> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.map(MemberRef::Number)
    }
}
impl AsMemberRef for bool {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.then_some(MemberRef::Bool(true))
    }
}
impl AsMemberRef for Option<bool> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.map(MemberRef::Bool)
    }
}
impl AsMemberRef for StringMap {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        (!self.is_empty()).then_some(MemberRef::Map(self))
    }
}
impl AsMemberRef for Option<StringMap> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.as_ref().map(MemberRef::Map)
    }
}
impl AsMemberRef for Option<Vec<String>> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.as_deref().map(MemberRef::List)
    }
}
impl AsMemberRef for Option<Blob> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.as_ref().map(|_| MemberRef::Opaque)
    }
}
impl AsMemberRef for Option<grants::GrantConstraints> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.as_ref().map(|_| MemberRef::Opaque)
    }
}
impl AsMemberRef for Option<Vec<tags::Tag>> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.as_ref().map(|_| MemberRef::Opaque)
    }
}
impl AsMemberRef for Option<SecretBlob> {
    fn member_ref(&self) -> Option<MemberRef<'_>> {
        self.as_ref().map(|_| MemberRef::Opaque)
    }
}

/// A request and the response type of its operation.
pub trait Call: Request {
    /// The response.
    type Response: Serialize + serde::de::DeserializeOwned;
}

/// The response of operations that answer an empty object (`{}`): EnableKey, CreateAlias,
/// RetireGrant, TagResource and the like.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EmptyResponse {}

/// Reading a request from its JSON members, with the SerializationException AWS answers
/// when a member has the wrong JSON type.
pub trait FromMembers: Sized {
    /// Reads the members this type has (others are ignored).
    ///
    /// # Errors
    /// SerializationException naming the first member of the wrong type.
    fn from_members(members: &Map<String, Value>) -> Result<Self, KmsError>;
}

/// One member's type on the wire.
pub trait Member: Sized {
    /// Reads member `name` (absent and `null` are the same).
    ///
    /// # Errors
    /// SerializationException when the member has the wrong JSON type.
    fn read(members: &Map<String, Value>, name: &str) -> Result<Self, KmsError>;
}

fn ser(msg: String) -> KmsError {
    KmsError::new(ErrorType::SerializationException, msg)
}

fn get<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name).filter(|v| !v.is_null())
}

impl Member for Option<String> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ser(format!("STRING_VALUE can not be converted to {name}"))),
        }
    }
}

impl Member for Option<i64> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        get(m, name)
            .map(|v| {
                v.as_i64()
                    .ok_or_else(|| ser(format!("Value for {name} is not an integer")))
            })
            .transpose()
    }
}

impl Member for Option<f64> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        get(m, name)
            .map(|v| {
                v.as_f64()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| ser(format!("Value for {name} is not a timestamp")))
            })
            .transpose()
    }
}

impl Member for bool {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ser(format!("Value for {name} is not a boolean"))),
        }
    }
}

impl Member for Option<bool> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ser(format!("Value for {name} is not a boolean"))),
        }
    }
}

/// A map of strings (an encryption context); empty when absent.
pub type StringMap = BTreeMap<String, String>;

impl Member for StringMap {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(o)) => o
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(ser(format!("{name} values must be strings"))),
                })
                .collect(),
            Some(_) => Err(ser(format!("{name} must be a map of strings"))),
        }
    }
}

impl Member for Option<StringMap> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        Ok(match get(m, name) {
            None => None,
            Some(_) => Some(StringMap::read(m, name)?),
        })
    }
}

impl Member for Option<Vec<String>> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| ser(format!("{name} must be a list of strings")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ser(format!("{name} must be a list"))),
        }
    }
}

fn decode(name: &str, s: &str) -> Result<Vec<u8>, KmsError> {
    B64.decode(s)
        .map_err(|_| ser(format!("Value for {name} is not valid base64")))
}

/// A binary member (base64 on the wire): ciphertexts, which are not secret.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Vec<u8>);

impl Member for Option<Blob> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        Option::<String>::read(m, name)?
            .map(|s| decode(name, &s).map(Blob))
            .transpose()
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        B64.decode(s.as_bytes())
            .map(Blob)
            .map_err(serde::de::Error::custom)
    }
}

/// A secret binary member (plaintexts, data keys): zeroized on drop, never printed, not
/// `Clone`.
#[derive(PartialEq, Eq, Default)]
pub struct SecretBlob(pub Zeroizing<Vec<u8>>);

impl SecretBlob {
    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBlob({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for SecretBlob {
    fn from(v: Vec<u8>) -> Self {
        Self(Zeroizing::new(v))
    }
}

impl Member for Option<SecretBlob> {
    fn read(m: &Map<String, Value>, name: &str) -> Result<Self, KmsError> {
        match get(m, name) {
            None => Ok(None),
            Some(Value::String(s)) => decode(name, s).map(|b| Some(SecretBlob::from(b))),
            Some(_) => Err(ser(format!("STRING_VALUE can not be converted to {name}"))),
        }
    }
}

impl Serialize for SecretBlob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(B64.encode(&*self.0));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for SecretBlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        B64.decode(s.as_bytes())
            .map(SecretBlob::from)
            .map_err(serde::de::Error::custom)
    }
}

/// A request member that is a JSON structure (`Constraints`, a tag): it reads through
/// serde; a member that is not an object is the SerializationException `not_object`, an
/// object of the wrong shape `bad_shape`.
#[allow(dead_code)]
pub(crate) fn read_structure<T: serde::de::DeserializeOwned>(
    m: &Map<String, Value>,
    name: &str,
    not_object: &str,
    bad_shape: &str,
) -> Result<Option<T>, KmsError> {
    match get(m, name) {
        None => Ok(None),
        Some(v @ Value::Object(_)) => T::deserialize(v)
            .map(Some)
            .map_err(|_| ser(bad_shape.into())),
        Some(_) => Err(ser(not_object.into())),
    }
}
