//! The option haggling phase: option headers and the data of the options the server
//! understands, and the option replies it sends.

use super::{IHAVEOPT, MAX_STRING, ProtocolError, be16, be32, be64};

/// Size of an option header on the wire.
pub const OPTION_HEADER_LEN: usize = 16;
/// Largest option payload the server reads; longer options are refused with
/// [`OptionReplyType::ErrTooBig`].
pub const MAX_OPTION_LEN: u32 = 64 << 10;
/// Magic of an option reply.
pub const OPTION_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
/// Preferred block size advertised in `NBD_INFO_BLOCK_SIZE` (at least the export's minimum
/// block size).
pub const PREFERRED_BLOCK: u32 = 4096;

wire_enum! {
    /// An option the client sends (`NBD_OPT_*`).
    #[repr(u32)]
    pub enum OptionType {
        /// `NBD_OPT_EXPORT_NAME`.
        ExportName => 1,
        /// `NBD_OPT_ABORT`.
        Abort => 2,
        /// `NBD_OPT_LIST`.
        List => 3,
        /// `NBD_OPT_STARTTLS`.
        StartTls => 5,
        /// `NBD_OPT_INFO`.
        Info => 6,
        /// `NBD_OPT_GO`.
        Go => 7,
        /// `NBD_OPT_STRUCTURED_REPLY`.
        StructuredReply => 8,
        /// `NBD_OPT_LIST_META_CONTEXT`.
        ListMetaContext => 9,
        /// `NBD_OPT_SET_META_CONTEXT`.
        SetMetaContext => 10,
    }
}

wire_enum! {
    /// The type of an option reply (`NBD_REP_*`); errors have bit 31 set.
    #[repr(u32)]
    pub enum OptionReplyType {
        /// `NBD_REP_ACK`.
        Ack => 1,
        /// `NBD_REP_SERVER`.
        Server => 2,
        /// `NBD_REP_INFO`.
        Info => 3,
        /// `NBD_REP_META_CONTEXT`.
        MetaContext => 4,
        /// `NBD_REP_ERR_UNSUP` (2^31 + 1).
        ErrUnsup => 0x8000_0001,
        /// `NBD_REP_ERR_INVALID` (2^31 + 3).
        ErrInvalid => 0x8000_0003,
        /// `NBD_REP_ERR_TLS_REQD` (2^31 + 5).
        ErrTlsReqd => 0x8000_0005,
        /// `NBD_REP_ERR_UNKNOWN` (2^31 + 6).
        ErrUnknown => 0x8000_0006,
        /// `NBD_REP_ERR_SHUTDOWN` (2^31 + 7).
        ErrShutdown => 0x8000_0007,
        /// `NBD_REP_ERR_TOO_BIG` (2^31 + 9).
        ErrTooBig => 0x8000_0009,
    }
}

wire_enum! {
    /// An information type of `NBD_OPT_INFO` / `NBD_OPT_GO` (`NBD_INFO_*`).
    #[repr(u16)]
    pub enum InfoType {
        /// `NBD_INFO_EXPORT`.
        Export => 0,
        /// `NBD_INFO_NAME`.
        Name => 1,
        /// `NBD_INFO_DESCRIPTION`.
        Description => 2,
        /// `NBD_INFO_BLOCK_SIZE`.
        BlockSize => 3,
    }
}

// Metadata contexts.
/// The one metadata context the server offers.
pub const BASE_ALLOCATION: &str = "base:allocation";
/// The id the server gives `base:allocation` when selected.
pub const BASE_ALLOCATION_ID: u32 = 1;

/// An option header: magic, option number, length of the data that follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionHeader {
    /// The option.
    pub option: OptionType,
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
        option: OptionType::from(be32(b, 8)),
        length: be32(b, 12),
    })
}

/// The data of `NBD_OPT_INFO` / `NBD_OPT_GO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest<'a> {
    /// The export name (empty = the default export).
    pub name: &'a [u8],
    /// The information types requested.
    pub requests: Vec<InfoType>,
}

impl InfoRequest<'_> {
    /// Whether the client asked for `info`.
    pub fn wants(&self, info: InfoType) -> bool {
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
    let requests = (0..count)
        .map(|i| InfoType::from(be16(rest, 2 + 2 * i)))
        .collect();
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

/// Appends an option reply (header and data) to `out`.
pub fn put_option_reply(
    out: &mut Vec<u8>,
    option: OptionType,
    reply: OptionReplyType,
    data: &[u8],
) {
    out.extend_from_slice(&OPTION_REPLY_MAGIC.to_be_bytes());
    out.extend_from_slice(&option.to_be_bytes());
    out.extend_from_slice(&reply.to_be_bytes());
    // Option replies the server builds are small (names are capped at MAX_STRING).
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_header_keeps_unknown_options() {
        let mut b = [0u8; OPTION_HEADER_LEN];
        b[..8].copy_from_slice(&IHAVEOPT.to_be_bytes());
        b[8..12].copy_from_slice(&7u32.to_be_bytes());
        b[12..].copy_from_slice(&5u32.to_be_bytes());
        let h = parse_option_header(&b).expect("valid");
        assert_eq!((h.option, h.length), (OptionType::Go, 5));
        b[8..12].copy_from_slice(&42u32.to_be_bytes());
        let h = parse_option_header(&b).expect("valid");
        assert!(matches!(h.option, OptionType::Unknown(42)));
        b[0] ^= 1;
        assert!(matches!(
            parse_option_header(&b),
            Err(ProtocolError::BadMagic { .. })
        ));
    }

    #[test]
    fn info_request_parsing() {
        let mut d = Vec::new();
        d.extend_from_slice(&3u32.to_be_bytes());
        d.extend_from_slice(b"abc");
        d.extend_from_slice(&3u16.to_be_bytes());
        d.extend_from_slice(&InfoType::BlockSize.to_be_bytes());
        d.extend_from_slice(&InfoType::Name.to_be_bytes());
        d.extend_from_slice(&0x1234u16.to_be_bytes());
        let r = parse_info_request(&d).expect("valid");
        assert_eq!(r.name, b"abc");
        assert!(r.wants(InfoType::BlockSize) && r.wants(InfoType::Name));
        assert!(!r.wants(InfoType::Description));
        assert_eq!(r.requests[2], InfoType::Unknown(0x1234));
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
    fn meta_request_parsing() {
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
    }

    #[test]
    fn option_reply_layout() {
        let mut out = Vec::new();
        put_option_reply(
            &mut out,
            OptionType::Unknown(99),
            OptionReplyType::ErrUnsup,
            b"no",
        );
        assert_eq!(out.len(), 20 + 2);
        assert_eq!(be64(&out, 0), OPTION_REPLY_MAGIC);
        assert_eq!(be32(&out, 8), 99);
        assert_eq!(be32(&out, 12), 0x8000_0001);
        assert_eq!(be32(&out, 16), 2);
        assert_eq!(&out[20..], b"no");
    }
}
