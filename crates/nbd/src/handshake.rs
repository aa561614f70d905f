//! The fixed-newstyle handshake and option haggling, over any byte stream.

use std::io::{self, Read, Write};

use thiserror::Error;

use crate::proto::{self, ExportGeometry, ProtocolError, Session};

/// What the handshake needs to know about one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportInfo {
    /// The export's name (a volume id for `ebsim volume serve`).
    pub name: String,
    /// Size, block size, read-only.
    pub geometry: ExportGeometry,
}

/// How a handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The client chose export number `export` and entered the transmission phase.
    Transmission {
        /// Index into the export list.
        export: usize,
        /// What was negotiated (structured replies, block status).
        session: Session,
    },
    /// The client aborted (`NBD_OPT_ABORT`) or went away between options.
    Closed,
}

/// Why a handshake failed; the connection is closed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Reading from or writing to the client failed (includes a truncated message).
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The client broke the protocol.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// `NBD_OPT_EXPORT_NAME` named an export that does not exist (that option cannot fail
    /// gracefully).
    #[error("client asked for unknown export {0:?}")]
    UnknownExport(String),
    /// An option was too long to even skip.
    #[error("option of {0} bytes is too long")]
    OptionTooLong(u32),
}

/// Options up to this length are read and discarded when refused as too big; longer ones end
/// the connection after the refusal.
const MAX_SKIPPED_OPTION: u32 = 16 << 20;

/// The transmission flags of an export.
pub fn transmission_flags(geo: &ExportGeometry, structured: bool) -> u16 {
    let mut f = proto::TFLAG_HAS_FLAGS
        | proto::TFLAG_SEND_FLUSH
        | proto::TFLAG_SEND_FUA
        | proto::TFLAG_SEND_TRIM
        | proto::TFLAG_SEND_WRITE_ZEROES
        | proto::TFLAG_CAN_MULTI_CONN;
    if geo.read_only {
        f |= proto::TFLAG_READ_ONLY;
    }
    if structured {
        f |= proto::TFLAG_SEND_DF;
    }
    f
}

fn find_export(exports: &[ExportInfo], name: &[u8]) -> Option<usize> {
    if name.is_empty() {
        return (!exports.is_empty()).then_some(0);
    }
    exports.iter().position(|e| e.name.as_bytes() == name)
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` if the stream ended before the first byte.
pub(crate) fn read_exact_or_eof<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn info_reply(
    out: &mut Vec<u8>,
    option: u32,
    export: &ExportInfo,
    req: &proto::InfoRequest<'_>,
    structured: bool,
) {
    let geo = &export.geometry;
    let mut d = Vec::with_capacity(14);
    d.extend_from_slice(&proto::INFO_EXPORT.to_be_bytes());
    d.extend_from_slice(&geo.size.to_be_bytes());
    d.extend_from_slice(&transmission_flags(geo, structured).to_be_bytes());
    proto::put_option_reply(out, option, proto::REP_INFO, &d);
    // Sent whether asked or not: clients ignore information they did not request, and a
    // client that did ask must get it because the server enforces the minimum block size.
    d.clear();
    d.extend_from_slice(&proto::INFO_BLOCK_SIZE.to_be_bytes());
    d.extend_from_slice(&geo.block_size.to_be_bytes());
    d.extend_from_slice(&proto::PREFERRED_BLOCK.max(geo.block_size).to_be_bytes());
    d.extend_from_slice(&proto::MAX_PAYLOAD.to_be_bytes());
    proto::put_option_reply(out, option, proto::REP_INFO, &d);
    if req.wants(proto::INFO_NAME) {
        d.clear();
        d.extend_from_slice(&proto::INFO_NAME.to_be_bytes());
        d.extend_from_slice(export.name.as_bytes());
        proto::put_option_reply(out, option, proto::REP_INFO, &d);
    }
    proto::put_option_reply(out, option, proto::REP_ACK, &[]);
}

/// Runs the server side of the handshake: greeting, client flags, then options until the
/// client enters transmission (`NBD_OPT_GO` / `NBD_OPT_EXPORT_NAME`) or leaves.
///
/// Unsupported options get `NBD_REP_ERR_UNSUP` and the next option is read; malformed ones
/// `NBD_REP_ERR_INVALID`; over-long ones `NBD_REP_ERR_TOO_BIG`. While `shutting_down()` is
/// true, every option but `NBD_OPT_ABORT` gets `NBD_REP_ERR_SHUTDOWN`.
///
/// # Errors
/// [`HandshakeError`] when the connection must be closed.
pub fn negotiate<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    exports: &[ExportInfo],
    shutting_down: &dyn Fn() -> bool,
) -> Result<Outcome, HandshakeError> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&proto::NBDMAGIC.to_be_bytes());
    out.extend_from_slice(&proto::IHAVEOPT.to_be_bytes());
    out.extend_from_slice(&(proto::FLAG_FIXED_NEWSTYLE | proto::FLAG_NO_ZEROES).to_be_bytes());
    w.write_all(&out)?;
    w.flush()?;

    let mut cf = [0u8; 4];
    if !read_exact_or_eof(r, &mut cf)? {
        return Ok(Outcome::Closed);
    }
    let client = proto::parse_client_flags(cf)?;
    let mut structured = false;
    // The export for which `base:allocation` is selected, if any.
    let mut meta_export: Option<usize> = None;
    let session = |structured: bool, meta: Option<usize>, idx: usize| Session {
        structured,
        block_status: structured && meta == Some(idx),
    };

    loop {
        let mut hb = [0u8; proto::OPTION_HEADER_LEN];
        if !read_exact_or_eof(r, &mut hb)? {
            return Ok(Outcome::Closed);
        }
        let hdr = proto::parse_option_header(&hb)?;
        let opt = hdr.option;
        out.clear();
        if hdr.length > proto::MAX_OPTION_LEN {
            if hdr.length <= MAX_SKIPPED_OPTION {
                io::copy(&mut r.by_ref().take(u64::from(hdr.length)), &mut io::sink())?;
            }
            proto::put_option_reply(&mut out, opt, proto::REP_ERR_TOO_BIG, b"option too long");
            w.write_all(&out)?;
            w.flush()?;
            if hdr.length > MAX_SKIPPED_OPTION {
                return Err(HandshakeError::OptionTooLong(hdr.length));
            }
            continue;
        }
        let mut data = vec![0u8; hdr.length as usize];
        r.read_exact(&mut data)?;

        if shutting_down() && opt != proto::OPT_ABORT {
            if opt == proto::OPT_EXPORT_NAME {
                // Cannot be refused gracefully.
                return Ok(Outcome::Closed);
            }
            proto::put_option_reply(
                &mut out,
                opt,
                proto::REP_ERR_SHUTDOWN,
                b"server shutting down",
            );
            w.write_all(&out)?;
            w.flush()?;
            continue;
        }

        match opt {
            proto::OPT_EXPORT_NAME => {
                let Some(idx) = find_export(exports, &data) else {
                    return Err(HandshakeError::UnknownExport(
                        String::from_utf8_lossy(&data).into_owned(),
                    ));
                };
                let geo = &exports[idx].geometry;
                out.extend_from_slice(&geo.size.to_be_bytes());
                out.extend_from_slice(&transmission_flags(geo, structured).to_be_bytes());
                if !client.no_zeroes {
                    out.extend_from_slice(&[0u8; 124]);
                }
                w.write_all(&out)?;
                w.flush()?;
                return Ok(Outcome::Transmission {
                    export: idx,
                    session: session(structured, meta_export, idx),
                });
            }
            proto::OPT_ABORT => {
                proto::put_option_reply(&mut out, opt, proto::REP_ACK, &[]);
                // The client may already have gone; that is fine.
                let _ = w.write_all(&out).and_then(|()| w.flush());
                return Ok(Outcome::Closed);
            }
            proto::OPT_LIST => {
                if data.is_empty() {
                    for e in exports {
                        let mut d = Vec::with_capacity(4 + e.name.len());
                        d.extend_from_slice(&(e.name.len() as u32).to_be_bytes());
                        d.extend_from_slice(e.name.as_bytes());
                        proto::put_option_reply(&mut out, opt, proto::REP_SERVER, &d);
                    }
                    proto::put_option_reply(&mut out, opt, proto::REP_ACK, &[]);
                } else {
                    proto::put_option_reply(
                        &mut out,
                        opt,
                        proto::REP_ERR_INVALID,
                        b"NBD_OPT_LIST takes no data",
                    );
                }
            }
            proto::OPT_INFO | proto::OPT_GO => match proto::parse_info_request(&data) {
                Err(_) => proto::put_option_reply(
                    &mut out,
                    opt,
                    proto::REP_ERR_INVALID,
                    b"malformed NBD_OPT_INFO/GO data",
                ),
                Ok(req) => match find_export(exports, req.name) {
                    None => proto::put_option_reply(
                        &mut out,
                        opt,
                        proto::REP_ERR_UNKNOWN,
                        b"no such export",
                    ),
                    Some(idx) => {
                        info_reply(&mut out, opt, &exports[idx], &req, structured);
                        if opt == proto::OPT_GO {
                            w.write_all(&out)?;
                            w.flush()?;
                            return Ok(Outcome::Transmission {
                                export: idx,
                                session: session(structured, meta_export, idx),
                            });
                        }
                    }
                },
            },
            proto::OPT_STRUCTURED_REPLY => {
                if data.is_empty() {
                    structured = true;
                    proto::put_option_reply(&mut out, opt, proto::REP_ACK, &[]);
                } else {
                    proto::put_option_reply(
                        &mut out,
                        opt,
                        proto::REP_ERR_INVALID,
                        b"NBD_OPT_STRUCTURED_REPLY takes no data",
                    );
                }
            }
            proto::OPT_LIST_META_CONTEXT | proto::OPT_SET_META_CONTEXT => {
                let set = opt == proto::OPT_SET_META_CONTEXT;
                if set {
                    // Replaces the selection, even when the option fails.
                    meta_export = None;
                }
                match proto::parse_meta_request(&data) {
                    Err(_) => proto::put_option_reply(
                        &mut out,
                        opt,
                        proto::REP_ERR_INVALID,
                        b"malformed metadata context request",
                    ),
                    Ok(_) if set && !structured => proto::put_option_reply(
                        &mut out,
                        opt,
                        proto::REP_ERR_INVALID,
                        b"negotiate structured replies first",
                    ),
                    Ok(req) => match find_export(exports, req.name) {
                        None => proto::put_option_reply(
                            &mut out,
                            opt,
                            proto::REP_ERR_UNKNOWN,
                            b"no such export",
                        ),
                        Some(idx) => {
                            let base = proto::BASE_ALLOCATION.as_bytes();
                            let matches = if set {
                                req.queries.contains(&base)
                            } else {
                                req.queries.is_empty()
                                    || req.queries.iter().any(|q| *q == base || *q == b"base:")
                            };
                            if matches {
                                let id = if set { proto::BASE_ALLOCATION_ID } else { 0 };
                                let mut d = id.to_be_bytes().to_vec();
                                d.extend_from_slice(base);
                                proto::put_option_reply(&mut out, opt, proto::REP_META_CONTEXT, &d);
                                if set {
                                    meta_export = Some(idx);
                                }
                            }
                            proto::put_option_reply(&mut out, opt, proto::REP_ACK, &[]);
                        }
                    },
                }
            }
            _ => proto::put_option_reply(
                &mut out,
                opt,
                proto::REP_ERR_UNSUP,
                b"option not supported",
            ),
        }
        w.write_all(&out)?;
        w.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exports() -> Vec<ExportInfo> {
        vec![
            ExportInfo {
                name: "vol-a".into(),
                geometry: ExportGeometry {
                    size: 1 << 20,
                    block_size: 512,
                    read_only: false,
                },
            },
            ExportInfo {
                name: "vol-b".into(),
                geometry: ExportGeometry {
                    size: 2 << 20,
                    block_size: 4096,
                    read_only: true,
                },
            },
        ]
    }

    fn option(out: &mut Vec<u8>, opt: u32, data: &[u8]) {
        out.extend_from_slice(&proto::IHAVEOPT.to_be_bytes());
        out.extend_from_slice(&opt.to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
    }

    fn go_data(name: &str, infos: &[u16]) -> Vec<u8> {
        let mut d = (name.len() as u32).to_be_bytes().to_vec();
        d.extend_from_slice(name.as_bytes());
        d.extend_from_slice(&(infos.len() as u16).to_be_bytes());
        for i in infos {
            d.extend_from_slice(&i.to_be_bytes());
        }
        d
    }

    /// Splits server output after the 18-byte greeting into (option, reply type, data).
    fn replies(mut out: &[u8]) -> Vec<(u32, u32, Vec<u8>)> {
        out = &out[18..];
        let mut v = Vec::new();
        while out.len() >= 20 {
            let opt = u32::from_be_bytes(out[8..12].try_into().expect("4"));
            let ty = u32::from_be_bytes(out[12..16].try_into().expect("4"));
            let len = u32::from_be_bytes(out[16..20].try_into().expect("4")) as usize;
            v.push((opt, ty, out[20..20 + len].to_vec()));
            out = &out[20 + len..];
        }
        v
    }

    #[test]
    fn list_info_unsupported_then_go() {
        let mut input = 3u32.to_be_bytes().to_vec();
        option(&mut input, proto::OPT_LIST, &[]);
        option(&mut input, 42, b"whatever");
        option(&mut input, proto::OPT_STRUCTURED_REPLY, &[]);
        option(&mut input, proto::OPT_INFO, &go_data("nope", &[]));
        option(
            &mut input,
            proto::OPT_GO,
            &go_data("vol-b", &[proto::INFO_BLOCK_SIZE, proto::INFO_NAME]),
        );
        let mut out = Vec::new();
        let r =
            negotiate(&mut input.as_slice(), &mut out, &exports(), &|| false).expect("handshake");
        assert_eq!(
            r,
            Outcome::Transmission {
                export: 1,
                session: Session {
                    structured: true,
                    block_status: false
                }
            }
        );
        let reps = replies(&out);
        let types: Vec<u32> = reps.iter().map(|r| r.1).collect();
        assert_eq!(
            types,
            [
                proto::REP_SERVER,
                proto::REP_SERVER,
                proto::REP_ACK,
                proto::REP_ERR_UNSUP,
                proto::REP_ACK,
                proto::REP_ERR_UNKNOWN,
                proto::REP_INFO,
                proto::REP_INFO,
                proto::REP_INFO,
                proto::REP_ACK
            ]
        );
        assert_eq!(&reps[1].2[4..], b"vol-b");
        let export = &reps[6].2;
        assert_eq!(
            u64::from_be_bytes(export[2..10].try_into().expect("8")),
            2 << 20
        );
        let flags = u16::from_be_bytes(export[10..12].try_into().expect("2"));
        assert_ne!(flags & proto::TFLAG_READ_ONLY, 0);
        assert_ne!(flags & proto::TFLAG_SEND_DF, 0);
        let bs = &reps[7].2;
        assert_eq!(u32::from_be_bytes(bs[2..6].try_into().expect("4")), 4096);
        assert_eq!(
            u32::from_be_bytes(bs[10..14].try_into().expect("4")),
            proto::MAX_PAYLOAD
        );
        assert_eq!(&reps[8].2[2..], b"vol-b");
    }

    #[test]
    fn export_name_default_and_zeroes() {
        let mut input = 1u32.to_be_bytes().to_vec();
        option(&mut input, proto::OPT_EXPORT_NAME, b"");
        let mut out = Vec::new();
        let r =
            negotiate(&mut input.as_slice(), &mut out, &exports(), &|| false).expect("handshake");
        assert_eq!(
            r,
            Outcome::Transmission {
                export: 0,
                session: Session::default()
            }
        );
        assert_eq!(out.len(), 18 + 8 + 2 + 124);

        let mut input = 3u32.to_be_bytes().to_vec();
        option(&mut input, proto::OPT_EXPORT_NAME, b"missing");
        assert!(matches!(
            negotiate(&mut input.as_slice(), &mut Vec::new(), &exports(), &|| {
                false
            }),
            Err(HandshakeError::UnknownExport(_))
        ));
    }

    #[test]
    fn bad_input_is_refused_cleanly() {
        // Unknown client flag.
        let input = 8u32.to_be_bytes().to_vec();
        assert!(matches!(
            negotiate(&mut input.as_slice(), &mut Vec::new(), &exports(), &|| {
                false
            }),
            Err(HandshakeError::Protocol(ProtocolError::UnknownClientFlags(
                8
            )))
        ));
        // Bad option magic.
        let mut input = 1u32.to_be_bytes().to_vec();
        input.extend_from_slice(&[0u8; 16]);
        assert!(matches!(
            negotiate(&mut input.as_slice(), &mut Vec::new(), &exports(), &|| {
                false
            }),
            Err(HandshakeError::Protocol(ProtocolError::BadMagic { .. }))
        ));
        // Truncated option data.
        let mut input = 1u32.to_be_bytes().to_vec();
        option(&mut input, proto::OPT_GO, &go_data("vol-a", &[]));
        input.truncate(input.len() - 3);
        assert!(matches!(
            negotiate(&mut input.as_slice(), &mut Vec::new(), &exports(), &|| {
                false
            }),
            Err(HandshakeError::Io(_))
        ));
        // Malformed GO, data on LIST, a too-long option (skipped), then abort.
        let mut input = 1u32.to_be_bytes().to_vec();
        let mut bad = go_data("vol-a", &[1]);
        bad.push(0);
        option(&mut input, proto::OPT_GO, &bad);
        option(&mut input, proto::OPT_LIST, b"x");
        option(
            &mut input,
            99,
            &vec![0u8; proto::MAX_OPTION_LEN as usize + 1],
        );
        option(&mut input, proto::OPT_ABORT, &[]);
        let mut out = Vec::new();
        let r =
            negotiate(&mut input.as_slice(), &mut out, &exports(), &|| false).expect("handshake");
        assert_eq!(r, Outcome::Closed);
        let types: Vec<u32> = replies(&out).iter().map(|r| r.1).collect();
        assert_eq!(
            types,
            [
                proto::REP_ERR_INVALID,
                proto::REP_ERR_INVALID,
                proto::REP_ERR_TOO_BIG,
                proto::REP_ACK
            ]
        );
        // A length too long to skip ends the connection after the refusal.
        let mut input = 1u32.to_be_bytes().to_vec();
        input.extend_from_slice(&proto::IHAVEOPT.to_be_bytes());
        input.extend_from_slice(&proto::OPT_GO.to_be_bytes());
        input.extend_from_slice(&u32::MAX.to_be_bytes());
        let mut out = Vec::new();
        assert!(matches!(
            negotiate(&mut input.as_slice(), &mut out, &exports(), &|| false),
            Err(HandshakeError::OptionTooLong(u32::MAX))
        ));
        assert_eq!(replies(&out)[0].1, proto::REP_ERR_TOO_BIG);
    }

    #[test]
    fn shutdown_refuses_options() {
        let mut input = 1u32.to_be_bytes().to_vec();
        option(&mut input, proto::OPT_GO, &go_data("", &[]));
        option(&mut input, proto::OPT_ABORT, &[]);
        let mut out = Vec::new();
        let r =
            negotiate(&mut input.as_slice(), &mut out, &exports(), &|| true).expect("handshake");
        assert_eq!(r, Outcome::Closed);
        let types: Vec<u32> = replies(&out).iter().map(|r| r.1).collect();
        assert_eq!(types, [proto::REP_ERR_SHUTDOWN, proto::REP_ACK]);
    }

    /// Random mutations of a valid session never panic and never loop: every run ends with
    /// an outcome or an error.
    #[test]
    fn mutated_sessions_end_cleanly() {
        let mut valid = 3u32.to_be_bytes().to_vec();
        option(&mut valid, proto::OPT_STRUCTURED_REPLY, &[]);
        option(&mut valid, proto::OPT_LIST, &[]);
        option(&mut valid, proto::OPT_INFO, &go_data("vol-a", &[3, 1, 0]));
        option(&mut valid, proto::OPT_GO, &go_data("vol-b", &[3]));
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let mut input = valid.clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() % input.len() as u64) as usize;
                match next() % 3 {
                    0 => input[at] = next() as u8,
                    1 => input.truncate(at),
                    _ => input.insert(at, next() as u8),
                }
                if input.is_empty() {
                    break;
                }
            }
            let _ = negotiate(&mut input.as_slice(), &mut io::sink(), &exports(), &|| {
                false
            });
        }
    }

    fn meta_data(name: &str, queries: &[&str]) -> Vec<u8> {
        let mut d = (name.len() as u32).to_be_bytes().to_vec();
        d.extend_from_slice(name.as_bytes());
        d.extend_from_slice(&(queries.len() as u32).to_be_bytes());
        for q in queries {
            d.extend_from_slice(&(q.len() as u32).to_be_bytes());
            d.extend_from_slice(q.as_bytes());
        }
        d
    }

    #[test]
    fn base_allocation_is_listed_and_selected_per_export() {
        let mut input = 1u32.to_be_bytes().to_vec();
        // Selecting before structured replies is refused.
        option(
            &mut input,
            proto::OPT_SET_META_CONTEXT,
            &meta_data("vol-a", &["base:allocation"]),
        );
        option(&mut input, proto::OPT_STRUCTURED_REPLY, &[]);
        option(
            &mut input,
            proto::OPT_LIST_META_CONTEXT,
            &meta_data("vol-a", &[]),
        );
        option(
            &mut input,
            proto::OPT_LIST_META_CONTEXT,
            &meta_data("vol-a", &["qemu:x"]),
        );
        option(
            &mut input,
            proto::OPT_SET_META_CONTEXT,
            &meta_data("", &["x-y:z", "base:allocation"]),
        );
        option(&mut input, proto::OPT_GO, &go_data("vol-a", &[]));
        let mut out = Vec::new();
        let r =
            negotiate(&mut input.as_slice(), &mut out, &exports(), &|| false).expect("handshake");
        assert_eq!(
            r,
            Outcome::Transmission {
                export: 0,
                session: Session {
                    structured: true,
                    block_status: true
                }
            }
        );
        let reps = replies(&out);
        let types: Vec<u32> = reps.iter().map(|r| r.1).collect();
        assert_eq!(
            types,
            [
                proto::REP_ERR_INVALID,
                proto::REP_ACK,
                proto::REP_META_CONTEXT,
                proto::REP_ACK,
                proto::REP_ACK,
                proto::REP_META_CONTEXT,
                proto::REP_ACK,
                proto::REP_INFO,
                proto::REP_INFO,
                proto::REP_ACK
            ]
        );
        assert_eq!(&reps[5].2[..4], &proto::BASE_ALLOCATION_ID.to_be_bytes());
        assert_eq!(&reps[5].2[4..], proto::BASE_ALLOCATION.as_bytes());

        // Selected for one export, then GO to another: no block status.
        let mut input = 1u32.to_be_bytes().to_vec();
        option(&mut input, proto::OPT_STRUCTURED_REPLY, &[]);
        option(
            &mut input,
            proto::OPT_SET_META_CONTEXT,
            &meta_data("vol-a", &["base:allocation"]),
        );
        option(&mut input, proto::OPT_GO, &go_data("vol-b", &[]));
        let r = negotiate(&mut input.as_slice(), &mut Vec::new(), &exports(), &|| {
            false
        })
        .expect("handshake");
        assert_eq!(
            r,
            Outcome::Transmission {
                export: 1,
                session: Session {
                    structured: true,
                    block_status: false
                }
            }
        );
    }
}
