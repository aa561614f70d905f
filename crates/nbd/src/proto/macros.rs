//! `wire_enum!`: an enum for a numbered wire value that keeps the numbers it does not know, as
//! rustls's `enum_builder!` does for TLS (a message with an unknown option or command is still
//! parsed, and refused by whoever knows what to answer).

/// Declares `pub enum $name` with one variant per known value plus `Unknown($uint)`, and
/// the conversions `From<$uint>` (never `Unknown` for a known value) and `From<$name> for
/// $uint`. Equality compares the numbers, so a hand-built `Unknown` of a known value still
/// equals its named variant.
macro_rules! wire_enum {
    (
        $(#[doc = $doc:literal])*
        #[repr($uint:ty)]
        pub enum $name:ident {
            $(
                $(#[doc = $vdoc:literal])*
                $var:ident => $val:literal
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                $var,
            )*
            /// A value this server does not know, kept as it arrived.
            Unknown($uint),
        }

        impl From<$uint> for $name {
            fn from(v: $uint) -> Self {
                match v {
                    $($val => Self::$var,)*
                    other => Self::Unknown(other),
                }
            }
        }

        impl From<$name> for $uint {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$var => $val,)*
                    $name::Unknown(other) => other,
                }
            }
        }

        impl $name {
            /// The value as it goes on the wire (big-endian).
            pub fn to_be_bytes(self) -> [u8; size_of::<$uint>()] {
                <$uint>::from(self).to_be_bytes()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                <$uint>::from(*self) == <$uint>::from(*other)
            }
        }

        impl Eq for $name {}
    };
}

#[cfg(test)]
mod tests {
    wire_enum! {
        /// A test enum.
        #[repr(u16)]
        pub enum Colour {
            /// Red.
            Red => 1,
            /// Blue.
            Blue => 0x8001,
        }
    }

    #[test]
    fn known_values_round_trip_and_unknown_ones_are_kept() {
        assert_eq!(Colour::from(1), Colour::Red);
        assert!(matches!(Colour::from(0x8001), Colour::Blue));
        assert!(matches!(Colour::from(2), Colour::Unknown(2)));
        assert_eq!(u16::from(Colour::Unknown(77)), 77);
        assert_eq!(u16::from(Colour::Blue), 0x8001);
        assert_eq!(Colour::Blue.to_be_bytes(), [0x80, 0x01]);
        // Equality is by number.
        assert_eq!(Colour::Unknown(1), Colour::Red);
        assert_ne!(Colour::Unknown(3), Colour::Red);
    }
}
