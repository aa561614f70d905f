//! Transmission requests: the request header, and the check every request passes before it
//! reaches a device.

use super::{Errno, ProtocolError, be16, be32, be64};

/// Magic of a transmission request.
pub const REQUEST_MAGIC: u32 = 0x2560_9513;
/// Size of a request header on the wire.
pub const REQUEST_LEN: usize = 28;
/// Largest READ/WRITE payload the server accepts (and advertises): 32 MiB.
pub const MAX_PAYLOAD: u32 = 32 << 20;

wire_enum! {
    /// A command (`NBD_CMD_*`).
    #[repr(u16)]
    pub enum CommandType {
        /// `NBD_CMD_READ`.
        Read => 0,
        /// `NBD_CMD_WRITE`.
        Write => 1,
        /// `NBD_CMD_DISC`.
        Disc => 2,
        /// `NBD_CMD_FLUSH`.
        Flush => 3,
        /// `NBD_CMD_TRIM`.
        Trim => 4,
        /// `NBD_CMD_WRITE_ZEROES`.
        WriteZeroes => 6,
        /// `NBD_CMD_BLOCK_STATUS`.
        BlockStatus => 7,
    }
}

// Command flags.
/// `NBD_CMD_FLAG_FUA`.
pub const CMD_FLAG_FUA: u16 = 1 << 0;
/// `NBD_CMD_FLAG_NO_HOLE`.
pub const CMD_FLAG_NO_HOLE: u16 = 1 << 1;
/// `NBD_CMD_FLAG_DF`.
pub const CMD_FLAG_DF: u16 = 1 << 2;
/// `NBD_CMD_FLAG_REQ_ONE`.
pub const CMD_FLAG_REQ_ONE: u16 = 1 << 3;

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
    /// The command.
    pub command: CommandType,
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
        command: CommandType::from(be16(b, 6)),
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
    /// The error value sent.
    pub errno: Errno,
    /// Short explanation (sent in structured error chunks, and logged).
    pub message: &'static str,
}

const fn refuse(errno: Errno, message: &'static str) -> Refusal {
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
    use CommandType as C;
    let structured = session.structured;
    let allowed = match req.command {
        C::BlockStatus if session.block_status => CMD_FLAG_FUA | CMD_FLAG_REQ_ONE,
        C::BlockStatus => {
            return Err(refuse(Errno::Inval, "no metadata context was negotiated"));
        }
        C::Read if structured => CMD_FLAG_FUA | CMD_FLAG_DF,
        C::WriteZeroes => CMD_FLAG_FUA | CMD_FLAG_NO_HOLE,
        C::Read | C::Write | C::Flush | C::Trim => CMD_FLAG_FUA,
        C::Disc => u16::MAX,
        C::Unknown(_) => return Err(refuse(Errno::Inval, "unknown command")),
    };
    if req.flags & !allowed != 0 {
        return Err(refuse(
            Errno::Inval,
            "command flag not supported for this command",
        ));
    }
    let fua = req.flags & CMD_FLAG_FUA != 0;
    let writes = matches!(req.command, C::Write | C::Trim | C::WriteZeroes);
    if writes && geo.read_only {
        return Err(refuse(Errno::Perm, "export is read-only"));
    }
    Ok(match req.command {
        C::Disc => Command::Disconnect,
        C::Flush => {
            if req.offset != 0 || req.length != 0 {
                return Err(refuse(Errno::Inval, "flush offset and length must be zero"));
            }
            Command::Flush
        }
        C::Read => {
            let (offset, length) = in_export(req, geo)?;
            if length > MAX_PAYLOAD {
                let errno = if structured {
                    Errno::Overflow
                } else {
                    Errno::Inval
                };
                return Err(refuse(errno, "read longer than the maximum payload"));
            }
            Command::Read { offset, length }
        }
        C::Write => {
            let (offset, length) = in_export(req, geo)?;
            Command::Write {
                offset,
                length,
                fua,
            }
        }
        C::Trim => {
            let (offset, length) = in_export(req, geo)?;
            Command::Trim {
                offset,
                length,
                fua,
            }
        }
        C::WriteZeroes => {
            let (offset, length) = in_export(req, geo)?;
            Command::WriteZeroes {
                offset,
                length,
                fua,
                no_hole: req.flags & CMD_FLAG_NO_HOLE != 0,
            }
        }
        C::BlockStatus => {
            let (offset, length) = in_export(req, geo)?;
            if length == 0 {
                return Err(refuse(Errno::Inval, "block status of an empty range"));
            }
            Command::BlockStatus {
                offset,
                length,
                req_one: req.flags & CMD_FLAG_REQ_ONE != 0,
            }
        }
        // Refused above; kept here so that the match stays exhaustive.
        C::Unknown(_) => return Err(refuse(Errno::Inval, "unknown command")),
    })
}

/// The request's range, if it is aligned to the minimum block size and inside the export
/// (a write past the end is `ENOSPC`, anything else there `EINVAL`).
fn in_export(req: &RequestHeader, geo: &ExportGeometry) -> Result<(u64, u32), Refusal> {
    let bs = u64::from(geo.block_size.max(1));
    if !req.offset.is_multiple_of(bs) || !u64::from(req.length).is_multiple_of(bs) {
        return Err(refuse(
            Errno::Inval,
            "request not aligned to the minimum block size",
        ));
    }
    let in_range = req
        .offset
        .checked_add(u64::from(req.length))
        .is_some_and(|end| end <= geo.size);
    if !in_range {
        let errno = match req.command {
            CommandType::Write | CommandType::WriteZeroes => Errno::NoSpc,
            _ => Errno::Inval,
        };
        return Err(refuse(errno, "request extends past the end of the export"));
    }
    Ok((req.offset, req.length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandType as C;

    fn req(command: CommandType, flags: u16, offset: u64, length: u32) -> RequestHeader {
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

    fn refused(r: RequestHeader, geo: &ExportGeometry, s: Session) -> Result<Command, Errno> {
        check_request(&r, geo, s).map_err(|e| e.errno)
    }

    #[test]
    fn request_header_round_trip_and_bad_magic() {
        let mut b = [0u8; REQUEST_LEN];
        b[0..4].copy_from_slice(&REQUEST_MAGIC.to_be_bytes());
        b[4..6].copy_from_slice(&CMD_FLAG_FUA.to_be_bytes());
        b[6..8].copy_from_slice(&1u16.to_be_bytes());
        b[8..16].copy_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        b[16..24].copy_from_slice(&8192u64.to_be_bytes());
        b[24..28].copy_from_slice(&4096u32.to_be_bytes());
        let h = parse_request_header(&b).expect("valid header");
        assert_eq!(
            h,
            RequestHeader {
                cookie: 0x1122_3344_5566_7788,
                ..req(C::Write, CMD_FLAG_FUA, 8192, 4096)
            }
        );
        // An unknown command is parsed, and kept.
        b[6..8].copy_from_slice(&99u16.to_be_bytes());
        let h = parse_request_header(&b).expect("valid header");
        assert!(matches!(h.command, C::Unknown(99)));
        b[0] ^= 1;
        assert!(matches!(
            parse_request_header(&b),
            Err(ProtocolError::BadMagic { .. })
        ));
    }

    #[test]
    fn request_checks_follow_the_error_rules() {
        assert_eq!(
            check_request(&req(C::Read, 0, 4096, 8192), &GEO, S0),
            Ok(Command::Read {
                offset: 4096,
                length: 8192
            })
        );
        assert_eq!(
            refused(req(C::Read, 0, 512, 4096), &GEO, S0),
            Err(Errno::Inval)
        );
        assert_eq!(
            refused(req(C::Read, 0, 0, 100), &GEO, S0),
            Err(Errno::Inval)
        );
        assert_eq!(
            refused(req(C::Read, 0, 1 << 20, 4096), &GEO, S0),
            Err(Errno::Inval)
        );
        assert_eq!(
            refused(req(C::Write, 0, 1 << 20, 4096), &GEO, S0),
            Err(Errno::NoSpc)
        );
        assert_eq!(
            refused(req(C::WriteZeroes, 0, u64::MAX - 4095, 8192), &GEO, S0),
            Err(Errno::NoSpc)
        );
        assert_eq!(
            refused(req(C::Trim, 0, (1 << 20) - 4096, 8192), &GEO, S0),
            Err(Errno::Inval)
        );
        assert_eq!(
            refused(req(C::Unknown(99), 0, 0, 0), &GEO, S0),
            Err(Errno::Inval)
        );
        assert_eq!(
            refused(req(C::Read, CMD_FLAG_DF, 0, 4096), &GEO, S0),
            Err(Errno::Inval)
        );
        assert!(check_request(&req(C::Read, CMD_FLAG_DF, 0, 4096), &GEO, S1).is_ok());
        assert_eq!(
            refused(req(C::Write, CMD_FLAG_NO_HOLE, 0, 4096), &GEO, S0),
            Err(Errno::Inval)
        );
        assert_eq!(
            check_request(
                &req(C::WriteZeroes, CMD_FLAG_NO_HOLE | CMD_FLAG_FUA, 0, 4096),
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
            check_request(&req(C::Flush, 0, 0, 0), &GEO, S0),
            Ok(Command::Flush)
        );
        assert_eq!(
            refused(req(C::Flush, 0, 0, 4096), &GEO, S0),
            Err(Errno::Inval)
        );
        assert_eq!(
            check_request(&req(C::Disc, 0, 0, 0), &GEO, S0),
            Ok(Command::Disconnect)
        );
        let ro = ExportGeometry {
            read_only: true,
            ..GEO
        };
        assert_eq!(
            refused(req(C::Write, 0, 0, 4096), &ro, S0),
            Err(Errno::Perm)
        );
        assert!(check_request(&req(C::Read, 0, 0, 4096), &ro, S0).is_ok());
        let big = ExportGeometry {
            size: 1 << 30,
            ..GEO
        };
        assert_eq!(
            refused(req(C::Read, 0, 0, MAX_PAYLOAD + 4096), &big, S0),
            Err(Errno::Inval)
        );
        assert_eq!(
            refused(req(C::Read, 0, 0, MAX_PAYLOAD + 4096), &big, S1),
            Err(Errno::Overflow)
        );
    }

    #[test]
    fn block_status_checks() {
        let bs = Session {
            structured: true,
            block_status: true,
        };
        assert_eq!(
            check_request(&req(C::BlockStatus, CMD_FLAG_REQ_ONE, 4096, 8192), &GEO, bs),
            Ok(Command::BlockStatus {
                offset: 4096,
                length: 8192,
                req_one: true
            })
        );
        assert_eq!(
            refused(req(C::BlockStatus, 0, 0, 4096), &GEO, S1),
            Err(Errno::Inval)
        );
        assert_eq!(
            refused(req(C::BlockStatus, 0, 0, 0), &GEO, bs),
            Err(Errno::Inval)
        );
        assert_eq!(
            refused(req(C::BlockStatus, 0, 1 << 20, 4096), &GEO, bs),
            Err(Errno::Inval)
        );
        assert_eq!(
            refused(req(C::BlockStatus, CMD_FLAG_DF, 0, 4096), &GEO, bs),
            Err(Errno::Inval)
        );
    }
}
