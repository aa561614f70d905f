//! The answers to each option of the handshake: one method of [`Negotiation`] per option.

use std::io::{self, Read};

use super::{
    ExportInfo, HandshakeError, MAX_SKIPPED_OPTION, Outcome, TlsPolicy, transmission_flags,
};
use crate::proto::{
    self, ClientFlags, InfoRequest, InfoType, OptionReplyType as Rep, OptionType, Session,
};

/// What to do after answering an option (the answer is in [`Negotiation::out`]).
#[derive(Debug)]
pub(super) enum Step {
    /// Send the answer, read the next option.
    Next,
    /// Send the answer, and the handshake is over.
    Done(Outcome),
    /// Try to send the answer (the client may be gone), and close.
    Abort,
    /// Send the answer, then end the connection with this error.
    Fail(HandshakeError),
}

/// The state of one handshake between options, and the answers to each option.
#[derive(Debug)]
pub(super) struct Negotiation<'a> {
    exports: &'a [ExportInfo],
    client: ClientFlags,
    /// `NBD_OPT_STRUCTURED_REPLY` was accepted.
    structured: bool,
    /// The export for which `base:allocation` is selected, if any.
    meta_export: Option<usize>,
    /// Whether TLS is offered or required.
    tls: TlsPolicy,
    /// TLS is on (the options are read over it).
    tls_active: bool,
    /// The replies to the current option.
    pub(super) out: Vec<u8>,
}

impl<'a> Negotiation<'a> {
    pub(super) fn new(
        exports: &'a [ExportInfo],
        client: ClientFlags,
        tls: TlsPolicy,
        tls_active: bool,
    ) -> Self {
        Self {
            exports,
            client,
            structured: false,
            meta_export: None,
            tls,
            tls_active,
            out: Vec::with_capacity(256),
        }
    }

    fn reply(&mut self, opt: OptionType, rep: Rep, data: &[u8]) {
        proto::put_option_reply(&mut self.out, opt, rep, data);
    }

    fn find_export(&self, name: &[u8]) -> Option<usize> {
        if name.is_empty() {
            return (!self.exports.is_empty()).then_some(0);
        }
        self.exports.iter().position(|e| e.name.as_bytes() == name)
    }

    /// The transmission phase on export `idx`, with what was negotiated so far.
    fn enter(&self, idx: usize) -> Step {
        Step::Done(Outcome::Transmission {
            export: idx,
            session: Session {
                structured: self.structured,
                block_status: self.structured && self.meta_export == Some(idx),
            },
        })
    }

    /// Answers one option.
    pub(super) fn option(&mut self, opt: OptionType, data: &[u8]) -> Result<Step, HandshakeError> {
        if self.tls == TlsPolicy::Required
            && !self.tls_active
            && !matches!(opt, OptionType::StartTls | OptionType::Abort)
        {
            if opt == OptionType::ExportName {
                return Err(HandshakeError::TlsRequired);
            }
            self.reply(
                opt,
                Rep::ErrTlsReqd,
                b"TLS is required: NBD_OPT_STARTTLS first",
            );
            return Ok(Step::Next);
        }
        Ok(match opt {
            OptionType::ExportName => return self.export_name(data),
            OptionType::Abort => self.abort(),
            OptionType::List => self.list(data),
            OptionType::Info => self.info(data),
            OptionType::Go => self.go(data),
            OptionType::StructuredReply => self.structured_reply(data),
            OptionType::ListMetaContext => self.list_meta_context(data),
            OptionType::SetMetaContext => self.set_meta_context(data),
            OptionType::StartTls => self.start_tls(data),
            OptionType::Unknown(_) => self.unsupported(opt),
        })
    }

    /// `NBD_OPT_STARTTLS`: acknowledged where TLS is offered and not yet on; the TLS
    /// handshake follows.
    fn start_tls(&mut self, data: &[u8]) -> Step {
        let opt = OptionType::StartTls;
        if self.tls == TlsPolicy::Off {
            self.reply(opt, Rep::ErrUnsup, b"TLS is not configured");
        } else if self.tls_active {
            self.reply(opt, Rep::ErrInvalid, b"TLS is already on");
        } else if !data.is_empty() {
            self.reply(opt, Rep::ErrInvalid, b"NBD_OPT_STARTTLS takes no data");
        } else {
            self.reply(opt, Rep::Ack, &[]);
            return Step::Done(Outcome::StartTls {
                client: self.client,
            });
        }
        Step::Next
    }

    /// An option longer than [`proto::MAX_OPTION_LEN`]: skipped if it is not absurdly long,
    /// and refused with `NBD_REP_ERR_TOO_BIG`.
    pub(super) fn too_big<R: Read>(
        &mut self,
        r: &mut R,
        opt: OptionType,
        length: u32,
    ) -> io::Result<Step> {
        if length <= MAX_SKIPPED_OPTION {
            io::copy(&mut r.by_ref().take(u64::from(length)), &mut io::sink())?;
        }
        self.reply(opt, Rep::ErrTooBig, b"option too long");
        if length > MAX_SKIPPED_OPTION {
            // Refused, then the connection ends: the option's data was not read.
            return Ok(Step::Fail(HandshakeError::OptionTooLong(length)));
        }
        Ok(Step::Next)
    }

    /// Any option but `NBD_OPT_ABORT` while the server shuts down.
    pub(super) fn shutting_down(&mut self, opt: OptionType) -> Step {
        if opt == OptionType::ExportName {
            // Cannot be refused gracefully.
            return Step::Done(Outcome::Closed);
        }
        self.reply(opt, Rep::ErrShutdown, b"server shutting down");
        Step::Next
    }

    /// `NBD_OPT_EXPORT_NAME`: the export's size and flags, then transmission. An unknown
    /// name cannot be refused: the connection ends.
    fn export_name(&mut self, name: &[u8]) -> Result<Step, HandshakeError> {
        let Some(idx) = self.find_export(name) else {
            return Err(HandshakeError::UnknownExport(
                String::from_utf8_lossy(name).into_owned(),
            ));
        };
        let geo = self.exports[idx].geometry;
        self.out.extend_from_slice(&geo.size.to_be_bytes());
        self.out
            .extend_from_slice(&transmission_flags(&geo, self.structured).to_be_bytes());
        if !self.client.no_zeroes {
            self.out.extend_from_slice(&[0u8; 124]);
        }
        Ok(self.enter(idx))
    }

    /// `NBD_OPT_ABORT`: acknowledged, then the connection closes.
    fn abort(&mut self) -> Step {
        self.reply(OptionType::Abort, Rep::Ack, &[]);
        Step::Abort
    }

    /// `NBD_OPT_LIST`: one `NBD_REP_SERVER` per export.
    fn list(&mut self, data: &[u8]) -> Step {
        let opt = OptionType::List;
        if !data.is_empty() {
            self.reply(opt, Rep::ErrInvalid, b"NBD_OPT_LIST takes no data");
            return Step::Next;
        }
        for e in self.exports {
            let mut d = Vec::with_capacity(4 + e.name.len());
            // Export names are at most MAX_STRING bytes (checked by the server).
            d.extend_from_slice(&(e.name.len() as u32).to_be_bytes());
            d.extend_from_slice(e.name.as_bytes());
            proto::put_option_reply(&mut self.out, opt, Rep::Server, &d);
        }
        self.reply(opt, Rep::Ack, &[]);
        Step::Next
    }

    /// `NBD_OPT_INFO`: what `NBD_OPT_GO` would answer, without entering transmission.
    fn info(&mut self, data: &[u8]) -> Step {
        self.describe(OptionType::Info, data);
        Step::Next
    }

    /// `NBD_OPT_GO`: the export's information, then transmission.
    fn go(&mut self, data: &[u8]) -> Step {
        match self.describe(OptionType::Go, data) {
            Some(idx) => self.enter(idx),
            None => Step::Next,
        }
    }

    /// The answer to `NBD_OPT_INFO` / `NBD_OPT_GO`; the export's index if it was found.
    fn describe(&mut self, opt: OptionType, data: &[u8]) -> Option<usize> {
        let Ok(req) = proto::parse_info_request(data) else {
            self.reply(opt, Rep::ErrInvalid, b"malformed NBD_OPT_INFO/GO data");
            return None;
        };
        let Some(idx) = self.find_export(req.name) else {
            self.reply(opt, Rep::ErrUnknown, b"no such export");
            return None;
        };
        self.info_replies(opt, idx, &req);
        Some(idx)
    }

    /// The `NBD_REP_INFO` replies for export `idx`, then `NBD_REP_ACK`.
    fn info_replies(&mut self, opt: OptionType, idx: usize, req: &InfoRequest<'_>) {
        let export = &self.exports[idx];
        let geo = &export.geometry;
        let mut d = Vec::with_capacity(14);
        d.extend_from_slice(&InfoType::Export.to_be_bytes());
        d.extend_from_slice(&geo.size.to_be_bytes());
        d.extend_from_slice(&transmission_flags(geo, self.structured).to_be_bytes());
        proto::put_option_reply(&mut self.out, opt, Rep::Info, &d);
        // Sent whether asked or not: clients ignore information they did not request, and a
        // client that did ask must get it because the server enforces the minimum block size.
        d.clear();
        d.extend_from_slice(&InfoType::BlockSize.to_be_bytes());
        d.extend_from_slice(&geo.block_size.to_be_bytes());
        d.extend_from_slice(&proto::PREFERRED_BLOCK.max(geo.block_size).to_be_bytes());
        d.extend_from_slice(&proto::MAX_PAYLOAD.to_be_bytes());
        proto::put_option_reply(&mut self.out, opt, Rep::Info, &d);
        if req.wants(InfoType::Name) {
            d.clear();
            d.extend_from_slice(&InfoType::Name.to_be_bytes());
            d.extend_from_slice(export.name.as_bytes());
            proto::put_option_reply(&mut self.out, opt, Rep::Info, &d);
        }
        self.reply(opt, Rep::Ack, &[]);
    }

    /// `NBD_OPT_STRUCTURED_REPLY`: accepted.
    fn structured_reply(&mut self, data: &[u8]) -> Step {
        let opt = OptionType::StructuredReply;
        if data.is_empty() {
            self.structured = true;
            self.reply(opt, Rep::Ack, &[]);
        } else {
            self.reply(
                opt,
                Rep::ErrInvalid,
                b"NBD_OPT_STRUCTURED_REPLY takes no data",
            );
        }
        Step::Next
    }

    /// `NBD_OPT_LIST_META_CONTEXT`: `base:allocation` if the queries match it (no query
    /// matches everything; `base:` matches the namespace).
    fn list_meta_context(&mut self, data: &[u8]) -> Step {
        let opt = OptionType::ListMetaContext;
        let Some((_, queries)) = self.meta_target(opt, data, false) else {
            return Step::Next;
        };
        let base = proto::BASE_ALLOCATION.as_bytes();
        if queries.is_empty() || queries.iter().any(|q| *q == base || *q == b"base:") {
            self.meta_context_reply(opt, 0);
        }
        self.reply(opt, Rep::Ack, &[]);
        Step::Next
    }

    /// `NBD_OPT_SET_META_CONTEXT`: selects `base:allocation` for the export if asked for by
    /// name. Replaces the selection, even when the option fails.
    fn set_meta_context(&mut self, data: &[u8]) -> Step {
        let opt = OptionType::SetMetaContext;
        self.meta_export = None;
        let Some((idx, queries)) = self.meta_target(opt, data, true) else {
            return Step::Next;
        };
        if queries.contains(&proto::BASE_ALLOCATION.as_bytes()) {
            self.meta_context_reply(opt, proto::BASE_ALLOCATION_ID);
            self.meta_export = Some(idx);
        }
        self.reply(opt, Rep::Ack, &[]);
        Step::Next
    }

    /// Parses a metadata context request and finds its export (refusing it before
    /// structured replies if `needs_structured`); answers and gives `None` if that fails.
    fn meta_target<'d>(
        &mut self,
        opt: OptionType,
        data: &'d [u8],
        needs_structured: bool,
    ) -> Option<(usize, Vec<&'d [u8]>)> {
        let Ok(req) = proto::parse_meta_request(data) else {
            self.reply(opt, Rep::ErrInvalid, b"malformed metadata context request");
            return None;
        };
        if needs_structured && !self.structured {
            self.reply(opt, Rep::ErrInvalid, b"negotiate structured replies first");
            return None;
        }
        let Some(idx) = self.find_export(req.name) else {
            self.reply(opt, Rep::ErrUnknown, b"no such export");
            return None;
        };
        Some((idx, req.queries))
    }

    /// One `NBD_REP_META_CONTEXT` naming `base:allocation` with context id `id`.
    fn meta_context_reply(&mut self, opt: OptionType, id: u32) {
        let mut d = id.to_be_bytes().to_vec();
        d.extend_from_slice(proto::BASE_ALLOCATION.as_bytes());
        self.reply(opt, Rep::MetaContext, &d);
    }

    /// Any option the server does not support.
    fn unsupported(&mut self, opt: OptionType) -> Step {
        self.reply(opt, Rep::ErrUnsup, b"option not supported");
        Step::Next
    }
}
