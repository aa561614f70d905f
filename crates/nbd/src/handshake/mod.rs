//! The fixed-newstyle handshake and option haggling, over any byte stream: [`negotiate`]
//! reads options and hands each to one method of `options::Negotiation`, which answers it.

use std::io::{self, Read, Write};

use thiserror::Error;

use crate::proto::{self, ClientFlags, ExportGeometry, OptionType, ProtocolError, Session};

mod options;

use options::{Negotiation, Step};

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
    /// The server acknowledged `NBD_OPT_STARTTLS`: the TLS handshake comes next, then the
    /// option haggling goes on over TLS ([`negotiate_with`] with `after_tls`).
    StartTls {
        /// The client's flags from before TLS.
        client: ClientFlags,
    },
}

/// Whether the handshake offers TLS (`NBD_OPT_STARTTLS`), and whether it insists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// No TLS: `NBD_OPT_STARTTLS` is refused with `NBD_REP_ERR_UNSUP`.
    #[default]
    Off,
    /// TLS if the client asks for it; plaintext otherwise.
    Optional,
    /// Nothing but `NBD_OPT_STARTTLS` and `NBD_OPT_ABORT` before TLS: other options get
    /// `NBD_REP_ERR_TLS_REQD` (and `NBD_OPT_EXPORT_NAME`, which cannot be refused, ends the
    /// connection).
    Required,
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
    /// `NBD_OPT_EXPORT_NAME` before TLS where TLS is required (that option cannot be refused).
    #[error("client asked for an export without TLS, which is required")]
    TlsRequired,
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
    negotiate_with(r, w, exports, shutting_down, TlsPolicy::Off, None)
}

/// As [`negotiate`], offering TLS by `tls`. Without `after_tls`, it starts with the greeting;
/// it ends with [`Outcome::StartTls`] when the client's `NBD_OPT_STARTTLS` was acknowledged.
/// With `after_tls` (the client's flags), it goes on with the options over TLS, as the NBD
/// protocol says: no new greeting, and nothing negotiated before TLS is kept.
///
/// # Errors
/// As [`negotiate`].
pub fn negotiate_with<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    exports: &[ExportInfo],
    shutting_down: &dyn Fn() -> bool,
    tls: TlsPolicy,
    after_tls: Option<ClientFlags>,
) -> Result<Outcome, HandshakeError> {
    let client = match after_tls {
        Some(c) => c,
        None => {
            let mut greeting = Vec::with_capacity(18);
            greeting.extend_from_slice(&proto::NBDMAGIC.to_be_bytes());
            greeting.extend_from_slice(&proto::IHAVEOPT.to_be_bytes());
            greeting.extend_from_slice(
                &(proto::FLAG_FIXED_NEWSTYLE | proto::FLAG_NO_ZEROES).to_be_bytes(),
            );
            w.write_all(&greeting)?;
            w.flush()?;
            let mut cf = [0u8; 4];
            if !read_exact_or_eof(r, &mut cf)? {
                return Ok(Outcome::Closed);
            }
            proto::parse_client_flags(cf)?
        }
    };
    let mut n = Negotiation::new(exports, client, tls, after_tls.is_some());
    loop {
        let mut hb = [0u8; proto::OPTION_HEADER_LEN];
        if !read_exact_or_eof(r, &mut hb)? {
            return Ok(Outcome::Closed);
        }
        let hdr = proto::parse_option_header(&hb)?;
        n.out.clear();
        let step = if hdr.length > proto::MAX_OPTION_LEN {
            n.too_big(r, hdr.option, hdr.length)?
        } else {
            let mut data = vec![0u8; hdr.length as usize];
            r.read_exact(&mut data)?;
            if shutting_down() && hdr.option != OptionType::Abort {
                n.shutting_down(hdr.option)
            } else {
                n.option(hdr.option, &data)?
            }
        };
        let sent = w.write_all(&n.out).and_then(|()| w.flush());
        match step {
            Step::Next => sent?,
            Step::Done(outcome) => return Ok(sent.map(|()| outcome)?),
            Step::Fail(e) => return Err(sent.err().map_or(e, HandshakeError::Io)),
            // The client may already have gone; that is fine.
            Step::Abort => return Ok(Outcome::Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{InfoType, OptionReplyType as Rep};

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

    fn option(out: &mut Vec<u8>, opt: impl Into<u32>, data: &[u8]) {
        out.extend_from_slice(&proto::IHAVEOPT.to_be_bytes());
        out.extend_from_slice(&opt.into().to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
    }

    fn go_data(name: &str, infos: &[InfoType]) -> Vec<u8> {
        let mut d = (name.len() as u32).to_be_bytes().to_vec();
        d.extend_from_slice(name.as_bytes());
        d.extend_from_slice(&(infos.len() as u16).to_be_bytes());
        for i in infos {
            d.extend_from_slice(&i.to_be_bytes());
        }
        d
    }

    /// Splits server output after the 18-byte greeting into (option, reply type, data).
    fn replies(mut out: &[u8]) -> Vec<(OptionType, Rep, Vec<u8>)> {
        out = &out[18..];
        let mut v = Vec::new();
        while out.len() >= 20 {
            let opt = u32::from_be_bytes(out[8..12].try_into().expect("4"));
            let ty = u32::from_be_bytes(out[12..16].try_into().expect("4"));
            let len = u32::from_be_bytes(out[16..20].try_into().expect("4")) as usize;
            v.push((opt.into(), ty.into(), out[20..20 + len].to_vec()));
            out = &out[20 + len..];
        }
        v
    }

    #[test]
    fn list_info_unsupported_then_go() {
        let mut input = 3u32.to_be_bytes().to_vec();
        option(&mut input, OptionType::List, &[]);
        option(&mut input, 42u32, b"whatever");
        option(&mut input, OptionType::StructuredReply, &[]);
        option(&mut input, OptionType::Info, &go_data("nope", &[]));
        option(
            &mut input,
            OptionType::Go,
            &go_data("vol-b", &[InfoType::BlockSize, InfoType::Name]),
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
        let types: Vec<Rep> = reps.iter().map(|r| r.1).collect();
        assert_eq!(
            types,
            [
                Rep::Server,
                Rep::Server,
                Rep::Ack,
                Rep::ErrUnsup,
                Rep::Ack,
                Rep::ErrUnknown,
                Rep::Info,
                Rep::Info,
                Rep::Info,
                Rep::Ack
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
        option(&mut input, OptionType::ExportName, b"");
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
        option(&mut input, OptionType::ExportName, b"missing");
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
        option(&mut input, OptionType::Go, &go_data("vol-a", &[]));
        input.truncate(input.len() - 3);
        assert!(matches!(
            negotiate(&mut input.as_slice(), &mut Vec::new(), &exports(), &|| {
                false
            }),
            Err(HandshakeError::Io(_))
        ));
        // Malformed GO, data on LIST, a too-long option (skipped), then abort.
        let mut input = 1u32.to_be_bytes().to_vec();
        let mut bad = go_data("vol-a", &[InfoType::Name]);
        bad.push(0);
        option(&mut input, OptionType::Go, &bad);
        option(&mut input, OptionType::List, b"x");
        option(
            &mut input,
            99u32,
            &vec![0u8; proto::MAX_OPTION_LEN as usize + 1],
        );
        option(&mut input, OptionType::Abort, &[]);
        let mut out = Vec::new();
        let r =
            negotiate(&mut input.as_slice(), &mut out, &exports(), &|| false).expect("handshake");
        assert_eq!(r, Outcome::Closed);
        let types: Vec<Rep> = replies(&out).iter().map(|r| r.1).collect();
        assert_eq!(
            types,
            [Rep::ErrInvalid, Rep::ErrInvalid, Rep::ErrTooBig, Rep::Ack]
        );
        // A length too long to skip ends the connection after the refusal.
        let mut input = 1u32.to_be_bytes().to_vec();
        input.extend_from_slice(&proto::IHAVEOPT.to_be_bytes());
        input.extend_from_slice(&OptionType::Go.to_be_bytes());
        input.extend_from_slice(&u32::MAX.to_be_bytes());
        let mut out = Vec::new();
        assert!(matches!(
            negotiate(&mut input.as_slice(), &mut out, &exports(), &|| false),
            Err(HandshakeError::OptionTooLong(u32::MAX))
        ));
        assert_eq!(replies(&out)[0].1, Rep::ErrTooBig);
    }

    #[test]
    fn shutdown_refuses_options() {
        let mut input = 1u32.to_be_bytes().to_vec();
        option(&mut input, OptionType::Go, &go_data("", &[]));
        option(&mut input, OptionType::Abort, &[]);
        let mut out = Vec::new();
        let r =
            negotiate(&mut input.as_slice(), &mut out, &exports(), &|| true).expect("handshake");
        assert_eq!(r, Outcome::Closed);
        let types: Vec<Rep> = replies(&out).iter().map(|r| r.1).collect();
        assert_eq!(types, [Rep::ErrShutdown, Rep::Ack]);
    }

    /// Random mutations of a valid session never panic and never loop: every run ends with
    /// an outcome or an error.
    #[test]
    fn mutated_sessions_end_cleanly() {
        let mut valid = 3u32.to_be_bytes().to_vec();
        option(&mut valid, OptionType::StructuredReply, &[]);
        option(&mut valid, OptionType::List, &[]);
        option(
            &mut valid,
            OptionType::Info,
            &go_data(
                "vol-a",
                &[InfoType::BlockSize, InfoType::Name, InfoType::Export],
            ),
        );
        option(
            &mut valid,
            OptionType::Go,
            &go_data("vol-b", &[InfoType::BlockSize]),
        );
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
            OptionType::SetMetaContext,
            &meta_data("vol-a", &["base:allocation"]),
        );
        option(&mut input, OptionType::StructuredReply, &[]);
        option(
            &mut input,
            OptionType::ListMetaContext,
            &meta_data("vol-a", &[]),
        );
        option(
            &mut input,
            OptionType::ListMetaContext,
            &meta_data("vol-a", &["qemu:x"]),
        );
        option(
            &mut input,
            OptionType::SetMetaContext,
            &meta_data("", &["x-y:z", "base:allocation"]),
        );
        option(&mut input, OptionType::Go, &go_data("vol-a", &[]));
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
        let types: Vec<Rep> = reps.iter().map(|r| r.1).collect();
        assert_eq!(
            types,
            [
                Rep::ErrInvalid,
                Rep::Ack,
                Rep::MetaContext,
                Rep::Ack,
                Rep::Ack,
                Rep::MetaContext,
                Rep::Ack,
                Rep::Info,
                Rep::Info,
                Rep::Ack
            ]
        );
        assert_eq!(&reps[5].2[..4], &proto::BASE_ALLOCATION_ID.to_be_bytes());
        assert_eq!(&reps[5].2[4..], proto::BASE_ALLOCATION.as_bytes());

        // Selected for one export, then GO to another: no block status.
        let mut input = 1u32.to_be_bytes().to_vec();
        option(&mut input, OptionType::StructuredReply, &[]);
        option(
            &mut input,
            OptionType::SetMetaContext,
            &meta_data("vol-a", &["base:allocation"]),
        );
        option(&mut input, OptionType::Go, &go_data("vol-b", &[]));
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
