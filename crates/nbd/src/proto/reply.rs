//! Replies to transmission requests: simple replies and structured reply chunks, the
//! `base:allocation` states of a block status reply, and the NBD error values.

use super::MAX_STRING;

/// Magic of a simple reply.
pub const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;
/// Magic of a structured reply chunk.
pub const STRUCTURED_REPLY_MAGIC: u32 = 0x668e_33ef;

/// `NBD_REPLY_FLAG_DONE`: the last chunk of a structured reply.
pub const REPLY_FLAG_DONE: u16 = 1 << 0;

wire_enum! {
    /// The type of a structured reply chunk (`NBD_REPLY_TYPE_*`); errors have bit 15 set.
    #[repr(u16)]
    pub enum ReplyType {
        /// `NBD_REPLY_TYPE_NONE`.
        None => 0,
        /// `NBD_REPLY_TYPE_OFFSET_DATA`.
        OffsetData => 1,
        /// `NBD_REPLY_TYPE_BLOCK_STATUS`.
        BlockStatus => 5,
        /// `NBD_REPLY_TYPE_ERROR` (2^15 + 1).
        Error => 0x8001,
        /// `NBD_REPLY_TYPE_ERROR_OFFSET` (2^15 + 2).
        ErrorOffset => 0x8002,
    }
}

/// `NBD_STATE_HOLE` (`base:allocation`).
pub const STATE_HOLE: u32 = 1 << 0;
/// `NBD_STATE_ZERO` (`base:allocation`).
pub const STATE_ZERO: u32 = 1 << 1;

wire_enum! {
    /// An error value of a reply (`NBD_E*`; zero, success, is not one of them).
    #[repr(u32)]
    pub enum Errno {
        /// `NBD_EPERM`.
        Perm => 1,
        /// `NBD_EIO`.
        Io => 5,
        /// `NBD_ENOMEM`.
        NoMem => 12,
        /// `NBD_EINVAL`.
        Inval => 22,
        /// `NBD_ENOSPC`.
        NoSpc => 28,
        /// `NBD_EOVERFLOW`.
        Overflow => 75,
        /// `NBD_ESHUTDOWN`.
        Shutdown => 108,
    }
}

/// The 16-byte simple reply header: success (`None`) or an error.
pub fn simple_reply(cookie: u64, error: Option<Errno>) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
    h[4..8].copy_from_slice(&error.map_or(0, u32::from).to_be_bytes());
    h[8..16].copy_from_slice(&cookie.to_be_bytes());
    h
}

/// The 20-byte structured reply chunk header.
pub fn chunk_header(flags: u16, kind: ReplyType, cookie: u64, length: u32) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0..4].copy_from_slice(&STRUCTURED_REPLY_MAGIC.to_be_bytes());
    h[4..6].copy_from_slice(&flags.to_be_bytes());
    h[6..8].copy_from_slice(&kind.to_be_bytes());
    h[8..16].copy_from_slice(&cookie.to_be_bytes());
    h[16..20].copy_from_slice(&length.to_be_bytes());
    h
}

/// Header of a final `NBD_REPLY_TYPE_OFFSET_DATA` chunk carrying `length` data bytes read at
/// `offset`: the 20-byte chunk header followed by the 8-byte offset.
pub fn offset_data_header(cookie: u64, offset: u64, length: u32) -> [u8; 28] {
    let mut h = [0u8; 28];
    h[..20].copy_from_slice(&chunk_header(
        REPLY_FLAG_DONE,
        ReplyType::OffsetData,
        cookie,
        length + 8,
    ));
    h[20..28].copy_from_slice(&offset.to_be_bytes());
    h
}

/// A complete final error chunk: `NBD_REPLY_TYPE_ERROR`, or `NBD_REPLY_TYPE_ERROR_OFFSET` when
/// `offset` is given.
pub fn error_chunk(cookie: u64, errno: Errno, message: &str, offset: Option<u64>) -> Vec<u8> {
    let msg = &message.as_bytes()[..message.len().min(MAX_STRING)];
    let (kind, extra) = match offset {
        Some(_) => (ReplyType::ErrorOffset, 8),
        None => (ReplyType::Error, 0),
    };
    // msg is at most MAX_STRING bytes, so these conversions cannot truncate.
    let msg_len = u16::try_from(msg.len()).unwrap_or(u16::MAX);
    let len = 6 + u32::from(msg_len) + extra;
    let mut out = Vec::with_capacity(20 + len as usize);
    out.extend_from_slice(&chunk_header(REPLY_FLAG_DONE, kind, cookie, len));
    out.extend_from_slice(&errno.to_be_bytes());
    out.extend_from_slice(&msg_len.to_be_bytes());
    out.extend_from_slice(msg);
    if let Some(off) = offset {
        out.extend_from_slice(&off.to_be_bytes());
    }
    out
}

/// Maps an I/O error from a device to the NBD error value the protocol prescribes.
pub fn errno_of(e: &std::io::Error) -> Errno {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem => Errno::Perm,
        K::InvalidInput | K::Unsupported => Errno::Inval,
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => Errno::NoSpc,
        K::OutOfMemory => Errno::NoMem,
        _ => match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EFBIG) => Errno::NoSpc,
            Some(libc::EPERM) | Some(libc::EROFS) => Errno::Perm,
            _ => Errno::Io,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::{be16, be32, be64};
    use super::*;

    #[test]
    fn error_chunk_layout() {
        let c = error_chunk(9, Errno::Inval, "bad", Some(4096));
        assert_eq!(c.len(), 20 + 6 + 3 + 8);
        assert_eq!(be32(&c, 0), STRUCTURED_REPLY_MAGIC);
        assert_eq!(be16(&c, 4), REPLY_FLAG_DONE);
        assert_eq!(be16(&c, 6), 0x8002);
        assert_eq!(be64(&c, 8), 9);
        assert_eq!(be32(&c, 16), 17);
        assert_eq!(be32(&c, 20), 22);
        assert_eq!(be16(&c, 24), 3);
        assert_eq!(&c[26..29], b"bad");
        assert_eq!(be64(&c, 29), 4096);
    }

    #[test]
    fn simple_replies_carry_zero_or_the_error() {
        let ok = simple_reply(5, None);
        assert_eq!(be32(&ok, 0), SIMPLE_REPLY_MAGIC);
        assert_eq!((be32(&ok, 4), be64(&ok, 8)), (0, 5));
        let err = simple_reply(6, Some(Errno::NoSpc));
        assert_eq!((be32(&err, 4), be64(&err, 8)), (28, 6));
    }

    #[test]
    fn io_errors_map_to_protocol_values() {
        use std::io::{Error, ErrorKind};
        assert_eq!(
            errno_of(&Error::from(ErrorKind::InvalidInput)),
            Errno::Inval
        );
        assert_eq!(
            errno_of(&Error::from_raw_os_error(libc::ENOSPC)),
            Errno::NoSpc
        );
        assert_eq!(
            errno_of(&Error::from(ErrorKind::PermissionDenied)),
            Errno::Perm
        );
        assert_eq!(errno_of(&Error::other("disk on fire")), Errno::Io);
    }
}
