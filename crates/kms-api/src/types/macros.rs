//! `request!`: one declaration per request type.

use serde::{Deserialize, Deserializer};

/// How a request member behaves under serde: absent members are not written, and a `null`
/// does not deserialize (the service then reads the request on its general path, where
/// `null` means absent, exactly as AWS reads it).
pub trait WireField: Sized {
    /// Deserializes a present, non-null member.
    ///
    /// # Errors
    /// The deserializer's, for `null` or the wrong type.
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
    /// Whether the member is left out when serializing.
    fn is_absent(&self) -> bool;
}

impl<T: for<'de> Deserialize<'de>> WireField for Option<T> {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Some)
    }
    fn is_absent(&self) -> bool {
        self.is_none()
    }
}

impl WireField for bool {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bool::deserialize(d)
    }
    fn is_absent(&self) -> bool {
        !*self
    }
}

impl WireField for super::StringMap {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::StringMap::deserialize(d)
    }
    fn is_absent(&self) -> bool {
        self.is_empty()
    }
}

/// Declares request types (used inside this crate only):
///
/// ```text
/// request! {
///     /// Doc.
///     DecryptRequest = "Decrypt" {
///         /// Doc.
///         key_id, KEY_ID: Option<String> = "KeyId", Hidden, [Rule::LengthBetween { min: 1, max: 2048 }];
///     }
/// }
/// ```
///
/// Each member names its field, the associated constant holding its [`MemberSpec`]
/// (`DecryptRequest::KEY_ID`), its type, its wire name, whether a failure echoes its value,
/// and its rules.
///
/// [`MemberSpec`]: crate::types::MemberSpec
macro_rules! request {
    ($(
        $(#[$meta:meta])*
        $name:ident = $op:literal {
            $(
                $(#[$fmeta:meta])*
                $field:ident, $spec:ident : $ty:ty = $wire:literal, $echo:ident, [$($rule:expr),* $(,)?];
            )*
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(
                    rename = $wire,
                    default,
                    skip_serializing_if = "crate::types::WireField::is_absent",
                    deserialize_with = "crate::types::WireField::de"
                )]
                pub $field: $ty,
            )*
        }

        impl $name {
            $(
                #[doc = concat!("The constraints of `", $wire, "`.")]
                pub const $spec: crate::types::MemberSpec = crate::types::MemberSpec {
                    name: $wire,
                    echo: crate::types::Echo::$echo,
                    rules: &[$($rule),*],
                };
            )*
        }

        impl crate::types::FromMembers for $name {
            fn from_members(
                members: &serde_json::Map<String, serde_json::Value>,
            ) -> Result<Self, crate::KmsError> {
                Ok(Self {
                    $($field: <$ty as crate::types::Member>::read(members, $wire)?,)*
                })
            }
        }

        impl crate::types::Members for $name {
            fn visit<'a>(&'a self, f: &mut dyn FnMut(&'static str, crate::types::MemberRef<'a>)) {
                $(
                    if let Some(v) = crate::types::AsMemberRef::member_ref(&self.$field) {
                        f($wire, v);
                    }
                )*
            }
        }

        impl crate::types::Request for $name {
            const OPERATION: &'static str = $op;
            const MEMBERS: &'static [crate::types::MemberSpec] = &[$(Self::$spec),*];
        }
    )*};
}

/// Pairs request types with their response types.
macro_rules! responses {
    ($($req:ty => $resp:ty),* $(,)?) => {
        $(impl crate::types::Call for $req {
            type Response = $resp;
        })*
    };
}
