//! SigV4 `Authorization` header and `x-amz-date` parsers of the KMS endpoint: never panic; a
//! parsed header's credential scope parts are non-empty and free of '/'; a parsed date
//! formats and parses back to itself.
#![no_main]

use ebsim_kms_server::sigv4::{format_amz_date, parse_amz_date, parse_authorization};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(h) = parse_authorization(text) {
        for part in [h.access_key_id, h.region, h.service] {
            assert!(!part.is_empty() && !part.contains('/'), "{text:?}");
        }
        assert!(!h.date.contains('/'), "{text:?}");
        assert!(!h.signature.is_empty() && !h.signed_headers.is_empty(), "{text:?}");
    }
    if let Ok(t) = parse_amz_date(text) {
        let formatted = format_amz_date(t);
        assert_eq!(parse_amz_date(&formatted).ok(), Some(t), "{text:?}");
    }
});
