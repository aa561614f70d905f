//! The fuzzing entry point (see `fuzz/fuzz_targets/nbd_parsers.rs`).

use crate::internal as nbd;

/// Feeds `data` to every parser the server runs on client bytes: as a request header (and the
/// request check, which must only pass aligned, in-range requests), as an option header, as
/// `NBD_OPT_INFO`/`GO` and metadata-context data, and as a whole handshake. Panics only if an
/// invariant breaks.
pub fn fuzz_parsers(data: &[u8]) {
    if let Some(h) = data.first_chunk::<{ nbd::REQUEST_LEN }>()
        && let Ok(req) = nbd::parse_request_header(h)
    {
        for block_size in [512, 4096] {
            let geo = nbd::ExportGeometry {
                size: 1 << 30,
                block_size,
                read_only: data.len() % 2 == 1,
            };
            for (structured, block_status) in [(false, false), (true, false), (true, true)] {
                let session = nbd::Session {
                    structured,
                    block_status,
                };
                if let Ok(cmd) = nbd::check_request(&req, &geo, session) {
                    // Whatever passes must be aligned and inside the export.
                    let range = match cmd {
                        nbd::Command::Read { offset, length }
                        | nbd::Command::Write { offset, length, .. }
                        | nbd::Command::Trim { offset, length, .. }
                        | nbd::Command::WriteZeroes { offset, length, .. }
                        | nbd::Command::BlockStatus { offset, length, .. } => {
                            Some((offset, length))
                        }
                        _ => None,
                    };
                    if let Some((offset, length)) = range {
                        assert!(offset % u64::from(block_size) == 0);
                        assert!(u64::from(length) % u64::from(block_size) == 0);
                        assert!(offset + u64::from(length) <= geo.size);
                    }
                }
            }
        }
    }
    if let Some(h) = data.first_chunk::<{ nbd::OPTION_HEADER_LEN }>() {
        let _ = nbd::parse_option_header(h);
    }
    if let Ok(req) = nbd::parse_info_request(data) {
        assert!(req.name.len() <= nbd::MAX_STRING);
    }
    if let Ok(req) = nbd::parse_meta_request(data) {
        assert!(req.name.len() <= nbd::MAX_STRING);
        assert!(req.queries.iter().all(|q| q.len() <= nbd::MAX_STRING));
    }
    let exports = [
        nbd::ExportInfo {
            name: "vol-0123456789abcdef0".into(),
            geometry: nbd::ExportGeometry {
                size: 1 << 20,
                block_size: 512,
                read_only: false,
            },
        },
        nbd::ExportInfo {
            name: "b".into(),
            geometry: nbd::ExportGeometry {
                size: 1 << 30,
                block_size: 4096,
                read_only: true,
            },
        },
    ];
    let _ = nbd::negotiate(&mut &data[..], &mut std::io::sink(), &exports, &|| false);
    // With TLS offered or required, before and after STARTTLS.
    for policy in [
        crate::handshake::TlsPolicy::Optional,
        crate::handshake::TlsPolicy::Required,
    ] {
        let flags = nbd::ClientFlags {
            fixed_newstyle: true,
            no_zeroes: data.first().is_some_and(|b| b & 1 == 1),
        };
        for after_tls in [None, Some(flags)] {
            let _ = crate::handshake::negotiate_with(
                &mut &data[..],
                &mut std::io::sink(),
                &exports,
                &|| false,
                policy,
                after_tls,
            );
        }
    }
}
