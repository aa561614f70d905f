//! Properties of the Query decoder and the XML encoder: any bytes are decoded or refused
//! with a typed error (never a panic), any form-encoded value comes back as it was, and any
//! text the encoder writes reads back the same (docs/iam.md, "Requests", "Responses").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ebsim_iam::{QueryRequest, QueryService, xml};
use proptest::prelude::*;

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| {
                s.bytes()
                    .map(|b| match b {
                        b' ' => "+".to_owned(),
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect::<String>()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

proptest! {
    #[test]
    fn any_bytes_decode_or_are_refused(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        match QueryRequest::parse(&body) {
            Ok(r) => prop_assert!(!r.action().is_empty()),
            Err(e) => prop_assert!(e.status == 400 && !e.message.is_empty()),
        }
    }

    #[test]
    fn encoded_values_come_back(value in "[\\t\\n\\r\\u{20}-\\u{7e}\\u{a0}-\\u{2fff}]{0,200}") {
        let body = form(&[("Action", "PutUserPolicy"), ("PolicyDocument", &value)]);
        let r = QueryRequest::parse(&body).expect("well-formed");
        prop_assert_eq!(r.get("PolicyDocument"), Some(value.as_str()));
    }

    #[test]
    fn written_text_reads_back(text in "[\\t\\n\\u{20}-\\u{7e}\\u{a0}-\\u{2fff}]{0,200}") {
        let body = xml::response(QueryService::Iam, "GetUser", "r", |w| {
            w.open("User");
            w.text("UserName", &text);
            w.close("User");
        });
        let leaves = xml::leaves(&body).expect("well-formed XML");
        let got = leaves.iter().find(|(k, _)| k == "UserName").map(|(_, v)| v.as_str());
        // XML normalizes a carriage return to a line feed; none is written here.
        prop_assert_eq!(got, Some(text.as_str()));
    }
}
