//! NBD wire format, one module per kind of message: the greeting and its flags
//! ([`greeting`]), options and option replies ([`option`]), transmission requests
//! ([`request`]) and their replies ([`reply`]). Each holds its message's constants, the typed
//! enums of its numbered values (which keep values they do not know, see `wire_enum!`), and
//! pure parsers and encoders. Nothing here touches a socket, so every function can be fuzzed
//! on plain bytes.
//!
//! Layouts follow the NBD protocol document (`doc/proto.md` of the reference implementation):
//! all integers are big-endian.

use thiserror::Error;

#[macro_use]
mod macros;
mod greeting;
mod option;
mod reply;
mod request;

pub use greeting::*;
pub use option::*;
pub use reply::*;
pub use request::*;

/// Longest string (export name, metadata context query) the protocol allows.
pub const MAX_STRING: usize = 4096;

/// A malformed message from the client. The connection that sent it is closed (or the option
/// refused, where the protocol allows continuing).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A magic number was not the one the protocol requires here.
    #[error("bad magic {got:#x} (expected {expected:#x})")]
    BadMagic {
        /// What the protocol requires.
        expected: u64,
        /// What arrived.
        got: u64,
    },
    /// The client set handshake flags the server did not offer.
    #[error("unknown client flags {0:#x}")]
    UnknownClientFlags(u32),
    /// An option's data was inconsistent with its header.
    #[error("malformed option data")]
    MalformedOption,
    /// A request payload is larger than the server accepts.
    #[error("payload of {0} bytes exceeds the maximum of {MAX_PAYLOAD}")]
    PayloadTooLarge(u32),
}

/// The big-endian `u16` at `b[at..]` (the caller has checked the length).
fn be16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_be_bytes(a)
}

/// The big-endian `u32` at `b[at..]` (the caller has checked the length).
fn be32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

/// The big-endian `u64` at `b[at..]` (the caller has checked the length).
fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}
