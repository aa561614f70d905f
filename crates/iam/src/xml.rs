//! The one XML encoder of the Query services (quick-xml): the `<ActionResponse>` envelope
//! with its `<ActionResult>` and `<ResponseMetadata>`, the `<ErrorResponse>` envelope, and the
//! URL encoding of policy documents in responses (docs/iam.md, "Responses").

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::error::QueryError;
use crate::ops::QueryService;

/// The content type of every response.
pub const CONTENT_TYPE: &str = "text/xml";

/// Builds the elements of a response.
pub struct XmlWriter {
    w: Writer<Vec<u8>>,
}

impl std::fmt::Debug for XmlWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlWriter").finish_non_exhaustive()
    }
}

impl XmlWriter {
    fn new() -> Self {
        let mut w = Writer::new(Vec::with_capacity(512));
        // Writing to a Vec cannot fail.
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        Self { w }
    }

    fn start(&mut self, name: &str, namespace: Option<&str>) {
        let mut e = BytesStart::new(name);
        if let Some(ns) = namespace {
            e.push_attribute(("xmlns", ns));
        }
        let _ = self.w.write_event(Event::Start(e));
    }

    /// Opens element `name`.
    pub fn open(&mut self, name: &str) {
        self.start(name, None);
    }

    /// Closes element `name`.
    pub fn close(&mut self, name: &str) {
        let _ = self.w.write_event(Event::End(BytesEnd::new(name)));
    }

    /// `<name>text</name>`, the text escaped.
    pub fn text(&mut self, name: &str, text: &str) {
        self.open(name);
        let _ = self.w.write_event(Event::Text(BytesText::new(text)));
        self.close(name);
    }

    /// Escaped text inside the element open now (a list member that is a string).
    pub fn text_only(&mut self, text: &str) {
        let _ = self.w.write_event(Event::Text(BytesText::new(text)));
    }

    /// [`XmlWriter::text`] when `text` is present.
    pub fn opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.text(name, t);
        }
    }

    /// A boolean, as botocore reads it (`true` / `false`).
    pub fn bool(&mut self, name: &str, b: bool) {
        self.text(name, if b { "true" } else { "false" });
    }

    /// A number.
    pub fn num(&mut self, name: &str, n: impl std::fmt::Display) {
        self.text(name, &n.to_string());
    }

    /// A policy document, URL-encoded as IAM sends every document.
    pub fn document(&mut self, name: &str, doc: &str) {
        self.text(name, &encode_document(doc));
    }

    /// `<name><member>…</member>…</name>`, each member written by `each`.
    pub fn list<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) {
        self.open(name);
        for item in items {
            self.open("member");
            each(self, item);
            self.close("member");
        }
        self.close(name);
    }

    /// EC2's list: `<name><item>…</item>…</name>`, each item written by `each`.
    pub fn items<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) {
        self.open(name);
        for item in items {
            self.open("item");
            each(self, item);
            self.close("item");
        }
        self.close(name);
    }

    /// `IsTruncated`, and `Marker` when truncated (docs/iam.md, "Pagination").
    pub fn page(&mut self, next_marker: Option<&str>) {
        self.bool("IsTruncated", next_marker.is_some());
        self.opt("Marker", next_marker);
    }

    fn finish(self) -> Vec<u8> {
        self.w.into_inner()
    }
}

/// Every byte but `A–Z a–z 0–9 - _ . ~` escaped (RFC 3986), as IAM encodes documents.
const DOCUMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A policy document as IAM sends it: URL-encoded.
pub fn encode_document(doc: &str) -> String {
    utf8_percent_encode(doc, DOCUMENT).to_string()
}

/// The response to `action`: `<ActionResponse xmlns=…><ActionResult>…</ActionResult>
/// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></ActionResponse>`. The
/// Result element is always sent (botocore needs it even when empty).
///
/// EC2 has no Result wrapper and no `ResponseMetadata`: `<ActionResponse xmlns=…>
/// <requestId>…</requestId>…</ActionResponse>`, the members direct children.
pub fn response(
    service: QueryService,
    action: &str,
    request_id: &str,
    body: impl FnOnce(&mut XmlWriter),
) -> Vec<u8> {
    let mut w = XmlWriter::new();
    let root = format!("{action}Response");
    if service == QueryService::Ec2 {
        w.start(&root, Some(service.namespace()));
        w.text("requestId", request_id);
        body(&mut w);
        w.close(&root);
        return w.finish();
    }
    let result = format!("{action}Result");
    w.start(&root, Some(service.namespace()));
    w.open(&result);
    body(&mut w);
    w.close(&result);
    w.open("ResponseMetadata");
    w.text("RequestId", request_id);
    w.close("ResponseMetadata");
    w.close(&root);
    w.finish()
}

/// The error envelope: `<ErrorResponse xmlns=…><Error><Type>Sender</Type><Code>…</Code>
/// <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>`.
///
/// EC2's: `<Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors>
/// <RequestID>…</RequestID></Response>`.
pub fn error(service: QueryService, e: &QueryError, request_id: &str) -> Vec<u8> {
    let mut w = XmlWriter::new();
    if service == QueryService::Ec2 {
        w.open("Response");
        w.open("Errors");
        w.open("Error");
        w.text("Code", e.code);
        w.text("Message", &e.message);
        w.close("Error");
        w.close("Errors");
        w.text("RequestID", request_id);
        w.close("Response");
        return w.finish();
    }
    w.start("ErrorResponse", Some(service.namespace()));
    w.open("Error");
    w.text("Type", e.fault());
    w.text("Code", e.code);
    w.text("Message", &e.message);
    w.close("Error");
    w.text("RequestId", request_id);
    w.close("ErrorResponse");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_url_encoded() {
        assert_eq!(
            encode_document("{\"Version\": \"2012-10-17\", \"a\": \"%3A~\"}"),
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22a%22%3A%20%22%253A~%22%7D"
        );
    }

    #[test]
    fn error_envelope() {
        let body = error(
            QueryService::Sts,
            &QueryError::invalid_client_token_id(),
            "r-1",
        );
        let text = String::from_utf8(body).expect("UTF-8");
        assert!(text.contains(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
        ), "{text}");
        assert!(text.ends_with("<RequestId>r-1</RequestId></ErrorResponse>"));
    }

    #[test]
    fn ec2_envelopes() {
        let body = response(QueryService::Ec2, "DeleteVolume", "r-2", |w| {
            w.bool("return", true);
            w.items("volumeSet", ["a"], |w, v| w.text("volumeId", v));
        });
        let text = String::from_utf8(body).expect("UTF-8");
        assert!(text.contains("<DeleteVolumeResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r-2</requestId><return>true</return><volumeSet><item><volumeId>a</volumeId></item></volumeSet></DeleteVolumeResponse>"), "{text}");
        let body = error(
            QueryService::Ec2,
            &QueryError::new("IncorrectState", 400, "a<b"),
            "r-3",
        );
        let text = String::from_utf8(body).expect("UTF-8");
        assert!(text.ends_with("<Response><Errors><Error><Code>IncorrectState</Code><Message>a&lt;b</Message></Error></Errors><RequestID>r-3</RequestID></Response>"), "{text}");
    }

    #[test]
    fn empty_result_is_sent_and_text_escaped() {
        let body = response(QueryService::Iam, "DeleteUser", "r", |_| {});
        let text = String::from_utf8(body).expect("UTF-8");
        assert!(
            text.contains("<DeleteUserResult></DeleteUserResult>"),
            "{text}"
        );
        let body = response(QueryService::Iam, "X", "r", |w| {
            w.list("Users", ["<a>", "b&c"], |w, u| w.text("UserName", u));
            w.page(None);
        });
        let text = String::from_utf8(body).expect("UTF-8");
        assert!(text.contains("<Users><member><UserName>&lt;a&gt;</UserName></member><member><UserName>b&amp;c</UserName></member></Users><IsTruncated>false</IsTruncated></XResult>"), "{text}");
    }
}

/// The leaf elements of a response, in document order: `(name, text)` with the text
/// unescaped (a client's reading of an answer; lists give one pair per member).
///
/// # Errors
/// A message when the body is not well-formed XML.
pub fn leaves(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    use quick_xml::Reader;
    let mut reader = Reader::from_reader(body);
    let mut out = Vec::new();
    let mut open: Option<String> = None;
    let mut text = String::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                open = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                text.clear();
            }
            Event::Text(t) => {
                let raw = t.decode().map_err(|e| e.to_string())?;
                text.push_str(&quick_xml::escape::unescape(&raw).map_err(|e| e.to_string())?);
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| e.to_string())?;
                let c = match &*name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                text.extend(c);
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if open.as_deref() == Some(name.as_str()) {
                    out.push((name, std::mem::take(&mut text)));
                }
                open = None;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn leaves_round_trip_what_response_writes() {
        let body = response(QueryService::Iam, "ListUsers", "r", |w| {
            w.list("Users", ["a&b", "<c>"], |w, u| w.text("UserName", u));
            w.page(Some("m\"1"));
        });
        let got = leaves(&body).expect("well-formed");
        let names: Vec<&str> = got
            .iter()
            .filter(|(k, _)| k == "UserName")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(names, ["a&b", "<c>"]);
        assert!(got.contains(&("Marker".to_owned(), "m\"1".to_owned())));
        assert!(got.contains(&("RequestId".to_owned(), "r".to_owned())));
        assert!(leaves(b"<a><b>x</a>").is_err());
    }
}
