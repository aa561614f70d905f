//! NBD wire format: constants, and pure parsers/encoders for the messages the server reads and
//! writes. Nothing here touches a socket, so every function can be fuzzed on plain bytes.
//!
//! Layouts follow the NBD protocol document (`doc/proto.md` of the reference implementation):
//! all integers are big-endian.

use thiserror::Error;

/// `NBDMAGIC`, sent first in every handshake.
pub const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
/// `IHAVEOPT`, the newstyle magic; also the magic of every client option.
pub const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
/// Magic of an option reply.
pub const OPTION_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
/// Magic of a transmission request.
pub const REQUEST_MAGIC: u32 = 0x2560_9513;
/// Magic of a simple reply.
pub const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;
/// Magic of a structured reply chunk.
pub const STRUCTURED_REPLY_MAGIC: u32 = 0x668e_33ef;

// Handshake flags (server).
/// The server speaks fixed newstyle.
pub const FLAG_FIXED_NEWSTYLE: u16 = 1 << 0;
/// The server can omit the 124 zero bytes after `NBD_OPT_EXPORT_NAME`.
pub const FLAG_NO_ZEROES: u16 = 1 << 1;
// Client flags.
/// The client speaks fixed newstyle.
pub const FLAG_C_FIXED_NEWSTYLE: u32 = 1 << 0;
/// The client does not want the 124 zero bytes.
pub const FLAG_C_NO_ZEROES: u32 = 1 << 1;

// Transmission flags.
/// Always set.
pub const TFLAG_HAS_FLAGS: u16 = 1 << 0;
/// The export is read-only.
pub const TFLAG_READ_ONLY: u16 = 1 << 1;
/// `NBD_CMD_FLUSH` is supported.
pub const TFLAG_SEND_FLUSH: u16 = 1 << 2;
/// `NBD_CMD_FLAG_FUA` is supported.
pub const TFLAG_SEND_FUA: u16 = 1 << 3;
/// `NBD_CMD_TRIM` is supported.
pub const TFLAG_SEND_TRIM: u16 = 1 << 5;
/// `NBD_CMD_WRITE_ZEROES` (and `NBD_CMD_FLAG_NO_HOLE`) is supported.
pub const TFLAG_SEND_WRITE_ZEROES: u16 = 1 << 6;
/// `NBD_CMD_FLAG_DF` is supported (structured replies only).
pub const TFLAG_SEND_DF: u16 = 1 << 7;
/// A flush on one connection is visible on all connections.
pub const TFLAG_CAN_MULTI_CONN: u16 = 1 << 8;

// Options.
/// `NBD_OPT_EXPORT_NAME`.
pub const OPT_EXPORT_NAME: u32 = 1;
/// `NBD_OPT_ABORT`.
pub const OPT_ABORT: u32 = 2;
/// `NBD_OPT_LIST`.
pub const OPT_LIST: u32 = 3;
/// `NBD_OPT_STARTTLS`.
pub const OPT_STARTTLS: u32 = 5;
/// `NBD_OPT_INFO`.
pub const OPT_INFO: u32 = 6;
/// `NBD_OPT_GO`.
pub const OPT_GO: u32 = 7;
/// `NBD_OPT_STRUCTURED_REPLY`.
pub const OPT_STRUCTURED_REPLY: u32 = 8;
/// `NBD_OPT_LIST_META_CONTEXT`.
pub const OPT_LIST_META_CONTEXT: u32 = 9;
/// `NBD_OPT_SET_META_CONTEXT`.
pub const OPT_SET_META_CONTEXT: u32 = 10;

// Option replies.
/// `NBD_REP_ACK`.
pub const REP_ACK: u32 = 1;
/// `NBD_REP_SERVER`.
pub const REP_SERVER: u32 = 2;
/// `NBD_REP_INFO`.
pub const REP_INFO: u32 = 3;
/// `NBD_REP_META_CONTEXT`.
pub const REP_META_CONTEXT: u32 = 4;
/// `NBD_REP_ERR_UNSUP`.
pub const REP_ERR_UNSUP: u32 = (1 << 31) + 1;
/// `NBD_REP_ERR_INVALID`.
pub const REP_ERR_INVALID: u32 = (1 << 31) + 3;
/// `NBD_REP_ERR_UNKNOWN`.
pub const REP_ERR_UNKNOWN: u32 = (1 << 31) + 6;
/// `NBD_REP_ERR_SHUTDOWN`.
pub const REP_ERR_SHUTDOWN: u32 = (1 << 31) + 7;
/// `NBD_REP_ERR_TOO_BIG`.
pub const REP_ERR_TOO_BIG: u32 = (1 << 31) + 9;

// Information types.
/// `NBD_INFO_EXPORT`.
pub const INFO_EXPORT: u16 = 0;
/// `NBD_INFO_NAME`.
pub const INFO_NAME: u16 = 1;
/// `NBD_INFO_DESCRIPTION`.
pub const INFO_DESCRIPTION: u16 = 2;
/// `NBD_INFO_BLOCK_SIZE`.
pub const INFO_BLOCK_SIZE: u16 = 3;

// Commands.
/// `NBD_CMD_READ`.
pub const CMD_READ: u16 = 0;
/// `NBD_CMD_WRITE`.
pub const CMD_WRITE: u16 = 1;
/// `NBD_CMD_DISC`.
pub const CMD_DISC: u16 = 2;
/// `NBD_CMD_FLUSH`.
pub const CMD_FLUSH: u16 = 3;
/// `NBD_CMD_TRIM`.
pub const CMD_TRIM: u16 = 4;
/// `NBD_CMD_WRITE_ZEROES`.
pub const CMD_WRITE_ZEROES: u16 = 6;
/// `NBD_CMD_BLOCK_STATUS`.
pub const CMD_BLOCK_STATUS: u16 = 7;

// Command flags.
/// `NBD_CMD_FLAG_FUA`.
pub const CMD_FLAG_FUA: u16 = 1 << 0;
/// `NBD_CMD_FLAG_NO_HOLE`.
pub const CMD_FLAG_NO_HOLE: u16 = 1 << 1;
/// `NBD_CMD_FLAG_DF`.
pub const CMD_FLAG_DF: u16 = 1 << 2;
/// `NBD_CMD_FLAG_REQ_ONE`.
pub const CMD_FLAG_REQ_ONE: u16 = 1 << 3;

// Structured reply chunk types and flags.
/// `NBD_REPLY_FLAG_DONE`.
pub const REPLY_FLAG_DONE: u16 = 1 << 0;
/// `NBD_REPLY_TYPE_NONE`.
pub const REPLY_TYPE_NONE: u16 = 0;
/// `NBD_REPLY_TYPE_OFFSET_DATA`.
pub const REPLY_TYPE_OFFSET_DATA: u16 = 1;
/// `NBD_REPLY_TYPE_BLOCK_STATUS`.
pub const REPLY_TYPE_BLOCK_STATUS: u16 = 5;
/// `NBD_REPLY_TYPE_ERROR`.
pub const REPLY_TYPE_ERROR: u16 = (1 << 15) + 1;
/// `NBD_REPLY_TYPE_ERROR_OFFSET`.
pub const REPLY_TYPE_ERROR_OFFSET: u16 = (1 << 15) + 2;

// Metadata contexts.
/// The one metadata context the server offers.
pub const BASE_ALLOCATION: &str = "base:allocation";
/// The id the server gives `base:allocation` when selected.
pub const BASE_ALLOCATION_ID: u32 = 1;
/// `NBD_STATE_HOLE` (`base:allocation`).
pub const STATE_HOLE: u32 = 1 << 0;
/// `NBD_STATE_ZERO` (`base:allocation`).
pub const STATE_ZERO: u32 = 1 << 1;

// Error values.
/// `NBD_EPERM`.
pub const EPERM: u32 = 1;
/// `NBD_EIO`.
pub const EIO: u32 = 5;
/// `NBD_ENOMEM`.
pub const ENOMEM: u32 = 12;
/// `NBD_EINVAL`.
pub const EINVAL: u32 = 22;
/// `NBD_ENOSPC`.
pub const ENOSPC: u32 = 28;
/// `NBD_EOVERFLOW`.
pub const EOVERFLOW: u32 = 75;
/// `NBD_ESHUTDOWN`.
pub const ESHUTDOWN: u32 = 108;

/// Largest READ/WRITE payload the server accepts (and advertises): 32 MiB.
pub const MAX_PAYLOAD: u32 = 32 << 20;
/// Preferred block size advertised (at least the export's minimum block size).
pub const PREFERRED_BLOCK: u32 = 4096;
/// Largest option payload the server reads; longer options are refused with
/// `NBD_REP_ERR_TOO_BIG`.
pub const MAX_OPTION_LEN: u32 = 64 << 10;
/// Longest string (export name) the protocol allows.
pub const MAX_STRING: usize = 4096;

/// Size of a request header on the wire.
pub const REQUEST_LEN: usize = 28;
/// Size of an option header on the wire.
pub const OPTION_HEADER_LEN: usize = 16;

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

fn be16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_be_bytes(a)
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

/// The client's reply to the server's handshake flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientFlags {
    /// The client speaks fixed newstyle.
    pub fixed_newstyle: bool,
    /// The client asked to omit the 124 zero bytes.
    pub no_zeroes: bool,
}

/// Parses the 32-bit client flags.
///
/// # Errors
/// [`ProtocolError::UnknownClientFlags`] if any bit other than the two the server offers is set.
pub fn parse_client_flags(b: [u8; 4]) -> Result<ClientFlags, ProtocolError> {
    let f = u32::from_be_bytes(b);
    if f & !(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES) != 0 {
        return Err(ProtocolError::UnknownClientFlags(f));
    }
    Ok(ClientFlags {
        fixed_newstyle: f & FLAG_C_FIXED_NEWSTYLE != 0,
        no_zeroes: f & FLAG_C_NO_ZEROES != 0,
    })
}

/// An option header: magic, option number, length of the data that follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionHeader {
    /// The option (`NBD_OPT_*`).
    pub option: u32,
    /// Length of the option data.
    pub length: u32,
}

/// Parses a 16-byte option header.
///
/// # Errors
/// [`ProtocolError::BadMagic`] unless the header starts with `IHAVEOPT`.
pub fn parse_option_header(b: &[u8; OPTION_HEADER_LEN]) -> Result<OptionHeader, ProtocolError> {
    let magic = be64(b, 0);
    if magic != IHAVEOPT {
        return Err(ProtocolError::BadMagic {
            expected: IHAVEOPT,
            got: magic,
        });
    }
    Ok(OptionHeader {
        option: be32(b, 8),
        length: be32(b, 12),
    })
}

/// The data of `NBD_OPT_INFO` / `NBD_OPT_GO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest<'a> {
    /// The export name (empty = the default export).
    pub name: &'a [u8],
    /// The information types requested.
    pub requests: Vec<u16>,
}

impl InfoRequest<'_> {
    /// Whether the client asked for `info`.
    pub fn wants(&self, info: u16) -> bool {
        self.requests.contains(&info)
    }
}

/// Parses the data of `NBD_OPT_INFO` / `NBD_OPT_GO`: name length, name, count, requests.
///
/// # Errors
/// [`ProtocolError::MalformedOption`] if the lengths do not add up to exactly `data.len()`
/// or the name is longer than the protocol allows.
pub fn parse_info_request(data: &[u8]) -> Result<InfoRequest<'_>, ProtocolError> {
    if data.len() < 6 {
        return Err(ProtocolError::MalformedOption);
    }
    let name_len = be32(data, 0) as usize;
    if name_len > MAX_STRING || name_len > data.len() - 6 {
        return Err(ProtocolError::MalformedOption);
    }
    let name = &data[4..4 + name_len];
    let rest = &data[4 + name_len..];
    let count = usize::from(be16(rest, 0));
    if rest.len() != 2 + 2 * count {
        return Err(ProtocolError::MalformedOption);
    }
    let requests = (0..count).map(|i| be16(rest, 2 + 2 * i)).collect();
    Ok(InfoRequest { name, requests })
}

/// The data of `NBD_OPT_LIST_META_CONTEXT` / `NBD_OPT_SET_META_CONTEXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaRequest<'a> {
    /// The export name (empty = the default export).
    pub name: &'a [u8],
    /// The queries (`namespace:leaf`).
    pub queries: Vec<&'a [u8]>,
}

fn take<'a>(d: &mut &'a [u8], n: usize) -> Result<&'a [u8], ProtocolError> {
    if d.len() < n {
        return Err(ProtocolError::MalformedOption);
    }
    let (a, b) = d.split_at(n);
    *d = b;
    Ok(a)
}

fn string<'a>(d: &mut &'a [u8]) -> Result<&'a [u8], ProtocolError> {
    let len = be32(take(d, 4)?, 0) as usize;
    if len > MAX_STRING {
        return Err(ProtocolError::MalformedOption);
    }
    take(d, len)
}

/// Parses the data of `NBD_OPT_LIST_META_CONTEXT` / `NBD_OPT_SET_META_CONTEXT`: name length,
/// name, query count, then each query's length and bytes.
///
/// # Errors
/// [`ProtocolError::MalformedOption`] if a length points past the data, strings are longer
/// than the protocol allows, or bytes are left over.
pub fn parse_meta_request(data: &[u8]) -> Result<MetaRequest<'_>, ProtocolError> {
    let mut d = data;
    let name = string(&mut d)?;
    let count = be32(take(&mut d, 4)?, 0) as usize;
    // Each query takes at least 4 bytes, which bounds the count by the data.
    if count > d.len() / 4 {
        return Err(ProtocolError::MalformedOption);
    }
    let queries = (0..count)
        .map(|_| string(&mut d))
        .collect::<Result<Vec<_>, _>>()?;
    if !d.is_empty() {
        return Err(ProtocolError::MalformedOption);
    }
    Ok(MetaRequest { name, queries })
}

/// What the client negotiated for the transmission phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Session {
    /// Structured replies (`NBD_OPT_STRUCTURED_REPLY`).
    pub structured: bool,
    /// The `base:allocation` context is selected for the export (`NBD_CMD_BLOCK_STATUS`).
    pub block_status: bool,
}

/// A transmission-phase request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    /// Command flags (`NBD_CMD_FLAG_*`).
    pub flags: u16,
    /// The command (`NBD_CMD_*`).
    pub command: u16,
    /// The client's opaque cookie, echoed in the reply.
    pub cookie: u64,
    /// Byte offset into the export.
    pub offset: u64,
    /// Length in bytes (of the payload for a write).
    pub length: u32,
}

/// Parses a 28-byte request header.
///
/// # Errors
/// [`ProtocolError::BadMagic`] unless it starts with `NBD_REQUEST_MAGIC`.
pub fn parse_request_header(b: &[u8; REQUEST_LEN]) -> Result<RequestHeader, ProtocolError> {
    let magic = be32(b, 0);
    if magic != REQUEST_MAGIC {
        return Err(ProtocolError::BadMagic {
            expected: u64::from(REQUEST_MAGIC),
            got: u64::from(magic),
        });
    }
    Ok(RequestHeader {
        flags: be16(b, 4),
        command: be16(b, 6),
        cookie: be64(b, 8),
        offset: be64(b, 16),
        length: be32(b, 24),
    })
}

/// What the server knows about an export when checking a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportGeometry {
    /// Size in bytes (a multiple of `block_size`).
    pub size: u64,
    /// Minimum block size: offsets and lengths must be multiples of it.
    pub block_size: u32,
    /// Writes are refused.
    pub read_only: bool,
}

/// A request that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Read `length` bytes at `offset`.
    Read {
        /// Byte offset.
        offset: u64,
        /// Byte count (at most [`MAX_PAYLOAD`]).
        length: u32,
    },
    /// Write the payload at `offset`; flush before replying if `fua`.
    Write {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: u32,
        /// Force unit access.
        fua: bool,
    },
    /// Persist every completed write.
    Flush,
    /// Discard a range.
    Trim {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: u32,
        /// Force unit access.
        fua: bool,
    },
    /// Make a range read as zeros.
    WriteZeroes {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: u32,
        /// Force unit access.
        fua: bool,
        /// The range must stay allocated (no hole).
        no_hole: bool,
    },
    /// Report allocation status (`base:allocation`) of a range.
    BlockStatus {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: u32,
        /// Only one extent wanted.
        req_one: bool,
    },
    /// The client disconnects.
    Disconnect,
}

/// Why a request is refused: an NBD error value and a message for the human at the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// `NBD_E*` value.
    pub errno: u32,
    /// Short explanation (sent in structured error chunks, and logged).
    pub message: &'static str,
}

const fn refuse(errno: u32, message: &'static str) -> Refusal {
    Refusal { errno, message }
}

/// Checks a request against the export and the negotiated options, per the protocol's error
/// rules: unknown commands or flags, misalignment and reads/trims past the end are `EINVAL`,
/// writes past the end `ENOSPC`, writes to a read-only export `EPERM`.
///
/// # Errors
/// The [`Refusal`] to send instead of executing the request.
pub fn check_request(
    req: &RequestHeader,
    geo: &ExportGeometry,
    session: Session,
) -> Result<Command, Refusal> {
    let structured = session.structured;
    let allowed = match req.command {
        CMD_BLOCK_STATUS if session.block_status => CMD_FLAG_FUA | CMD_FLAG_REQ_ONE,
        CMD_BLOCK_STATUS => return Err(refuse(EINVAL, "no metadata context was negotiated")),
        CMD_READ if structured => CMD_FLAG_FUA | CMD_FLAG_DF,
        CMD_WRITE_ZEROES => CMD_FLAG_FUA | CMD_FLAG_NO_HOLE,
        CMD_READ | CMD_WRITE | CMD_FLUSH | CMD_TRIM => CMD_FLAG_FUA,
        CMD_DISC => u16::MAX,
        _ => return Err(refuse(EINVAL, "unknown command")),
    };
    if req.flags & !allowed != 0 {
        return Err(refuse(
            EINVAL,
            "command flag not supported for this command",
        ));
    }
    let fua = req.flags & CMD_FLAG_FUA != 0;
    let writes = matches!(req.command, CMD_WRITE | CMD_TRIM | CMD_WRITE_ZEROES);
    if writes && geo.read_only {
        return Err(refuse(EPERM, "export is read-only"));
    }
    match req.command {
        CMD_DISC => return Ok(Command::Disconnect),
        CMD_FLUSH => {
            if req.offset != 0 || req.length != 0 {
                return Err(refuse(EINVAL, "flush offset and length must be zero"));
            }
            return Ok(Command::Flush);
        }
        _ => {}
    }
    let bs = u64::from(geo.block_size.max(1));
    if !req.offset.is_multiple_of(bs) || !u64::from(req.length).is_multiple_of(bs) {
        return Err(refuse(
            EINVAL,
            "request not aligned to the minimum block size",
        ));
    }
    let in_range = req
        .offset
        .checked_add(u64::from(req.length))
        .is_some_and(|end| end <= geo.size);
    if !in_range {
        return Err(match req.command {
            CMD_WRITE | CMD_WRITE_ZEROES => {
                refuse(ENOSPC, "request extends past the end of the export")
            }
            _ => refuse(EINVAL, "request extends past the end of the export"),
        });
    }
    let (offset, length) = (req.offset, req.length);
    Ok(match req.command {
        CMD_READ => {
            if length > MAX_PAYLOAD {
                let errno = if structured { EOVERFLOW } else { EINVAL };
                return Err(refuse(errno, "read longer than the maximum payload"));
            }
            Command::Read { offset, length }
        }
        CMD_WRITE => Command::Write {
            offset,
            length,
            fua,
        },
        CMD_TRIM => Command::Trim {
            offset,
            length,
            fua,
        },
        CMD_BLOCK_STATUS => {
            if length == 0 {
                return Err(refuse(EINVAL, "block status of an empty range"));
            }
            Command::BlockStatus {
                offset,
                length,
                req_one: req.flags & CMD_FLAG_REQ_ONE != 0,
            }
        }
        _ => Command::WriteZeroes {
            offset,
            length,
            fua,
            no_hole: req.flags & CMD_FLAG_NO_HOLE != 0,
        },
    })
}

/// Appends an option reply (header and data) to `out`.
pub fn put_option_reply(out: &mut Vec<u8>, option: u32, reply: u32, data: &[u8]) {
    out.extend_from_slice(&OPTION_REPLY_MAGIC.to_be_bytes());
    out.extend_from_slice(&option.to_be_bytes());
    out.extend_from_slice(&reply.to_be_bytes());
    // Option replies the server builds are small (names are capped at MAX_STRING).
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(data);
}

/// The 16-byte simple reply header.
pub fn simple_reply(cookie: u64, errno: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
    h[4..8].copy_from_slice(&errno.to_be_bytes());
    h[8..16].copy_from_slice(&cookie.to_be_bytes());
    h
}

/// The 20-byte structured reply chunk header.
pub fn chunk_header(flags: u16, kind: u16, cookie: u64, length: u32) -> [u8; 20] {
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
        REPLY_TYPE_OFFSET_DATA,
        cookie,
        length + 8,
    ));
    h[20..28].copy_from_slice(&offset.to_be_bytes());
    h
}

/// A complete final error chunk: `NBD_REPLY_TYPE_ERROR`, or `NBD_REPLY_TYPE_ERROR_OFFSET` when
/// `offset` is given.
pub fn error_chunk(cookie: u64, errno: u32, message: &str, offset: Option<u64>) -> Vec<u8> {
    let msg = &message.as_bytes()[..message.len().min(MAX_STRING)];
    let (kind, extra) = match offset {
        Some(_) => (REPLY_TYPE_ERROR_OFFSET, 8),
        None => (REPLY_TYPE_ERROR, 0),
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
pub fn errno_of(e: &std::io::Error) -> u32 {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem => EPERM,
        K::InvalidInput | K::Unsupported => EINVAL,
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => ENOSPC,
        K::OutOfMemory => ENOMEM,
        _ => match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EFBIG) => ENOSPC,
            Some(libc::EPERM) | Some(libc::EROFS) => EPERM,
            _ => EIO,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(command: u16, flags: u16, offset: u64, length: u32) -> RequestHeader {
        RequestHeader {
            flags,
            command,
            cookie: 7,
            offset,
            length,
        }
    }

    const S0: Session = Session {
        structured: false,
        block_status: false,
    };
    const S1: Session = Session {
        structured: true,
        block_status: false,
    };

    const GEO: ExportGeometry = ExportGeometry {
        size: 1 << 20,
        block_size: 4096,
        read_only: false,
    };

    #[test]
    fn request_header_round_trip_and_bad_magic() {
        let mut b = [0u8; REQUEST_LEN];
        b[0..4].copy_from_slice(&REQUEST_MAGIC.to_be_bytes());
        b[4..6].copy_from_slice(&CMD_FLAG_FUA.to_be_bytes());
        b[6..8].copy_from_slice(&CMD_WRITE.to_be_bytes());
        b[8..16].copy_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        b[16..24].copy_from_slice(&8192u64.to_be_bytes());
        b[24..28].copy_from_slice(&4096u32.to_be_bytes());
        let h = parse_request_header(&b).expect("valid header");
        assert_eq!(
            h,
            req(CMD_WRITE, CMD_FLAG_FUA, 8192, 4096).with_cookie(0x1122_3344_5566_7788)
        );
        b[0] ^= 1;
        assert!(matches!(
            parse_request_header(&b),
            Err(ProtocolError::BadMagic { .. })
        ));
    }

    impl RequestHeader {
        fn with_cookie(mut self, c: u64) -> Self {
            self.cookie = c;
            self
        }
    }

    #[test]
    fn client_flags() {
        assert_eq!(
            parse_client_flags(3u32.to_be_bytes()),
            Ok(ClientFlags {
                fixed_newstyle: true,
                no_zeroes: true
            })
        );
        assert_eq!(
            parse_client_flags(4u32.to_be_bytes()),
            Err(ProtocolError::UnknownClientFlags(4))
        );
    }

    #[test]
    fn info_request_parsing() {
        let mut d = Vec::new();
        d.extend_from_slice(&3u32.to_be_bytes());
        d.extend_from_slice(b"abc");
        d.extend_from_slice(&2u16.to_be_bytes());
        d.extend_from_slice(&INFO_BLOCK_SIZE.to_be_bytes());
        d.extend_from_slice(&INFO_NAME.to_be_bytes());
        let r = parse_info_request(&d).expect("valid");
        assert_eq!(r.name, b"abc");
        assert!(r.wants(INFO_BLOCK_SIZE) && r.wants(INFO_NAME) && !r.wants(INFO_DESCRIPTION));
        // One byte too many, one too few, a name length past the end.
        let mut long = d.clone();
        long.push(0);
        assert!(parse_info_request(&long).is_err());
        assert!(parse_info_request(&d[..d.len() - 1]).is_err());
        let mut bad = d.clone();
        bad[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_info_request(&bad).is_err());
        assert!(parse_info_request(&[0, 0, 0]).is_err());
    }

    #[test]
    fn request_checks_follow_the_error_rules() {
        assert_eq!(
            check_request(&req(CMD_READ, 0, 4096, 8192), &GEO, S0),
            Ok(Command::Read {
                offset: 4096,
                length: 8192
            })
        );
        assert_eq!(
            check_request(&req(CMD_READ, 0, 512, 4096), &GEO, S0).map_err(|r| r.errno),
            Err(EINVAL)
        );
        assert_eq!(
            check_request(&req(CMD_READ, 0, 0, 100), &GEO, S0).map_err(|r| r.errno),
            Err(EINVAL)
        );
        assert_eq!(
            check_request(&req(CMD_READ, 0, 1 << 20, 4096), &GEO, S0).map_err(|r| r.errno),
            Err(EINVAL)
        );
        assert_eq!(
            check_request(&req(CMD_WRITE, 0, 1 << 20, 4096), &GEO, S0).map_err(|r| r.errno),
            Err(ENOSPC)
        );
        assert_eq!(
            check_request(&req(CMD_WRITE_ZEROES, 0, u64::MAX - 4095, 8192), &GEO, S0)
                .map_err(|r| r.errno),
            Err(ENOSPC)
        );
        assert_eq!(
            check_request(&req(CMD_TRIM, 0, (1 << 20) - 4096, 8192), &GEO, S0).map_err(|r| r.errno),
            Err(EINVAL)
        );
        assert_eq!(
            check_request(&req(99, 0, 0, 0), &GEO, S0).map_err(|r| r.errno),
            Err(EINVAL)
        );
        assert_eq!(
            check_request(&req(CMD_READ, CMD_FLAG_DF, 0, 4096), &GEO, S0).map_err(|r| r.errno),
            Err(EINVAL)
        );
        assert!(check_request(&req(CMD_READ, CMD_FLAG_DF, 0, 4096), &GEO, S1).is_ok());
        assert_eq!(
            check_request(&req(CMD_WRITE, CMD_FLAG_NO_HOLE, 0, 4096), &GEO, S0)
                .map_err(|r| r.errno),
            Err(EINVAL)
        );
        assert_eq!(
            check_request(
                &req(CMD_WRITE_ZEROES, CMD_FLAG_NO_HOLE | CMD_FLAG_FUA, 0, 4096),
                &GEO,
                S0
            ),
            Ok(Command::WriteZeroes {
                offset: 0,
                length: 4096,
                fua: true,
                no_hole: true
            })
        );
        assert_eq!(
            check_request(&req(CMD_FLUSH, 0, 0, 0), &GEO, S0),
            Ok(Command::Flush)
        );
        assert_eq!(
            check_request(&req(CMD_FLUSH, 0, 0, 4096), &GEO, S0).map_err(|r| r.errno),
            Err(EINVAL)
        );
        let ro = ExportGeometry {
            read_only: true,
            ..GEO
        };
        assert_eq!(
            check_request(&req(CMD_WRITE, 0, 0, 4096), &ro, S0).map_err(|r| r.errno),
            Err(EPERM)
        );
        assert!(check_request(&req(CMD_READ, 0, 0, 4096), &ro, S0).is_ok());
        let big = ExportGeometry {
            size: 1 << 30,
            ..GEO
        };
        assert_eq!(
            check_request(&req(CMD_READ, 0, 0, MAX_PAYLOAD + 4096), &big, S0).map_err(|r| r.errno),
            Err(EINVAL)
        );
        assert_eq!(
            check_request(&req(CMD_READ, 0, 0, MAX_PAYLOAD + 4096), &big, S1).map_err(|r| r.errno),
            Err(EOVERFLOW)
        );
    }

    #[test]
    fn error_chunk_layout() {
        let c = error_chunk(9, EINVAL, "bad", Some(4096));
        assert_eq!(c.len(), 20 + 6 + 3 + 8);
        assert_eq!(be32(&c, 0), STRUCTURED_REPLY_MAGIC);
        assert_eq!(be16(&c, 4), REPLY_FLAG_DONE);
        assert_eq!(be16(&c, 6), REPLY_TYPE_ERROR_OFFSET);
        assert_eq!(be64(&c, 8), 9);
        assert_eq!(be32(&c, 16), 17);
        assert_eq!(be32(&c, 20), EINVAL);
        assert_eq!(be16(&c, 24), 3);
        assert_eq!(&c[26..29], b"bad");
        assert_eq!(be64(&c, 29), 4096);
    }

    #[test]
    fn io_errors_map_to_protocol_values() {
        use std::io::{Error, ErrorKind};
        assert_eq!(errno_of(&Error::from(ErrorKind::InvalidInput)), EINVAL);
        assert_eq!(errno_of(&Error::from_raw_os_error(libc::ENOSPC)), ENOSPC);
        assert_eq!(errno_of(&Error::from(ErrorKind::PermissionDenied)), EPERM);
        assert_eq!(errno_of(&Error::other("disk on fire")), EIO);
    }

    #[test]
    fn meta_requests_and_block_status_checks() {
        let mut d = Vec::new();
        d.extend_from_slice(&5u32.to_be_bytes());
        d.extend_from_slice(b"vol-a");
        d.extend_from_slice(&2u32.to_be_bytes());
        for q in [&b"base:allocation"[..], b"qemu:dirty-bitmap:x"] {
            d.extend_from_slice(&(q.len() as u32).to_be_bytes());
            d.extend_from_slice(q);
        }
        let r = parse_meta_request(&d).expect("valid");
        assert_eq!(r.name, b"vol-a");
        assert_eq!(r.queries, [&b"base:allocation"[..], b"qemu:dirty-bitmap:x"]);
        assert!(parse_meta_request(&d[..d.len() - 1]).is_err());
        let mut extra = d.clone();
        extra.push(0);
        assert!(parse_meta_request(&extra).is_err());
        let mut many = d[..9].to_vec();
        many.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_meta_request(&many).is_err());

        let bs = Session {
            structured: true,
            block_status: true,
        };
        assert_eq!(
            check_request(
                &req(CMD_BLOCK_STATUS, CMD_FLAG_REQ_ONE, 4096, 8192),
                &GEO,
                bs
            ),
            Ok(Command::BlockStatus {
                offset: 4096,
                length: 8192,
                req_one: true
            })
        );
        let refused = |r: RequestHeader, s| check_request(&r, &GEO, s).map_err(|e| e.errno);
        assert_eq!(refused(req(CMD_BLOCK_STATUS, 0, 0, 4096), S1), Err(EINVAL));
        assert_eq!(refused(req(CMD_BLOCK_STATUS, 0, 0, 0), bs), Err(EINVAL));
        assert_eq!(
            refused(req(CMD_BLOCK_STATUS, 0, 1 << 20, 4096), bs),
            Err(EINVAL)
        );
        assert_eq!(
            refused(req(CMD_BLOCK_STATUS, CMD_FLAG_DF, 0, 4096), bs),
            Err(EINVAL)
        );
    }
}
