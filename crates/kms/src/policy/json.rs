//! JSON with positions.
//!
//! serde_json checks the syntax (and gives line and column for syntax errors); this module
//! then walks the same, already valid, text once more to build a tree that remembers where
//! each value starts, so that grammar errors can point at the offending element too. It also
//! turns serde_json's syntax errors into messages with hints for the usual hand-editing
//! mistakes (missing comma between statements, comments, trailing commas, a statement pasted
//! outside `Statement`).

use super::error::{PolicyError, PolicyErrorKind, offset_of};

/// A JSON value and the byte offset where it starts.
#[derive(Debug)]
pub(crate) struct Node {
    pub pos: usize,
    pub val: Val,
}

#[derive(Debug)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    /// The number as written.
    Num(String),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<Member>),
}

#[derive(Debug)]
pub(crate) struct Member {
    pub key: String,
    pub key_pos: usize,
    pub value: Node,
}

impl Val {
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "a boolean",
            Val::Num(_) => "a number",
            Val::Str(_) => "a string",
            Val::Arr(_) => "an array",
            Val::Obj(_) => "an object",
        }
    }
}

/// Parses `text` into a positioned tree; syntax errors come back with position and hint.
pub(crate) fn parse(text: &str) -> Result<Node, PolicyError> {
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(diagnose(text, &e));
    }
    let mut w = Walker {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    w.ws();
    let node = w.value()?;
    Ok(node)
}

struct Walker<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl Walker<'_> {
    fn err(&self, pos: usize, msg: String) -> PolicyError {
        PolicyError::at(self.text, pos, PolicyErrorKind::Syntax, msg, None)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Result<Node, PolicyError> {
        let pos = self.i;
        let val = match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let mut members: Vec<Member> = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let key_pos = self.i;
                        let key = self.string()?;
                        if members.iter().any(|m| m.key == key) {
                            return Err(PolicyError::at(
                                self.text,
                                key_pos,
                                PolicyErrorKind::Grammar,
                                format!("Duplicate key `{key}` in one object."),
                                Some("each element may appear once; merge the two".into()),
                            ));
                        }
                        self.ws();
                        self.expect(b':')?;
                        self.ws();
                        let value = self.value()?;
                        members.push(Member {
                            key,
                            key_pos,
                            value,
                        });
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err(self.i, "expected `,` or `}`".into())),
                        }
                    }
                }
                Val::Obj(members)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        items.push(self.value()?);
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err(self.i, "expected `,` or `]`".into())),
                        }
                    }
                }
                Val::Arr(items)
            }
            Some(b'"') => Val::Str(self.string()?),
            Some(b't') => self.literal("true", Val::Bool(true))?,
            Some(b'f') => self.literal("false", Val::Bool(false))?,
            Some(b'n') => self.literal("null", Val::Null)?,
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.i += 1;
                }
                Val::Num(self.text.get(start..self.i).unwrap_or_default().to_owned())
            }
            _ => return Err(self.err(self.i, "expected a value".into())),
        };
        Ok(Node { pos, val })
    }

    fn expect(&mut self, c: u8) -> Result<(), PolicyError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(self.i, format!("expected `{}`", c as char)))
        }
    }

    fn literal(&mut self, word: &str, v: Val) -> Result<Val, PolicyError> {
        if self.b.get(self.i..self.i + word.len()) == Some(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err(self.i, "expected a value".into()))
        }
    }

    fn string(&mut self) -> Result<String, PolicyError> {
        let start = self.i;
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            match self.peek() {
                Some(b'\\') => {
                    escaped = true;
                    self.i += 2;
                }
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(_) => self.i += 1,
                None => return Err(self.err(start, "unterminated string".into())),
            }
        }
        let raw = self.text.get(start..self.i).unwrap_or_default();
        if escaped {
            serde_json::from_str::<String>(raw)
                .map_err(|_| self.err(start, "invalid string escape".into()))
        } else {
            Ok(raw.get(1..raw.len() - 1).unwrap_or_default().to_owned())
        }
    }
}

/// Where the comments are, if any: byte offsets of `/*` or `//` outside strings.
fn find_comment(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else if c == b'"' {
            in_str = true;
        } else if (c == b'/' && matches!(b.get(i + 1), Some(b'*' | b'/'))) || c == b'#' {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The last non-whitespace byte before `offset`, with its position.
fn prev_token(text: &str, offset: usize) -> Option<(usize, u8)> {
    let b = text.as_bytes();
    let mut i = offset.min(b.len());
    while i > 0 {
        i -= 1;
        if !matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            return Some((i, b[i]));
        }
    }
    None
}

fn position(text: &str, offset: usize) -> String {
    let (l, c) = super::error::line_column(text, offset);
    format!("line {l}, column {c}")
}

/// Turns a serde_json syntax error into a positioned error with a hint.
fn diagnose(text: &str, e: &serde_json::Error) -> PolicyError {
    let full = e.to_string();
    // serde_json appends " at line L column C"; keep only the reason.
    let reason = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(r, _)| r);
    let err_off = if e.classify() == serde_json::error::Category::Eof {
        text.len()
    } else {
        offset_of(text, e.line(), e.column().max(1))
    };
    let at = |off: usize, msg: String, hint: Option<String>| {
        PolicyError::at(text, off, PolicyErrorKind::Syntax, msg, hint)
    };
    if text.trim().is_empty() {
        return at(0, "The policy document is empty.".into(), None);
    }
    if let Some(c) = find_comment(text) {
        return at(
            c,
            "The policy is not valid JSON: JSON has no comments.".into(),
            Some(
                "remove the comment (`/* ... */`, `//` or `#`) here; example policies often \
                 carry one, e.g. `/* Comma before next object */`"
                    .into(),
            ),
        );
    }
    let cur = text.as_bytes().get(err_off).copied();
    let prev = prev_token(text, err_off);
    let msg = format!("The policy is not valid JSON: {reason}.");
    match (cur, prev) {
        (Some(c @ (b'{' | b'"' | b'[')), Some((p, prev @ (b'}' | b']' | b'"'))))
            if !reason.contains("trailing char") =>
        {
            let mut hint = format!(
                "add a comma after the value ending at {}",
                position(text, p)
            );
            if c == b'{' && prev == b'}' {
                hint.push_str(
                    "; with several Statement objects, every object except the last needs a \
                     comma after its closing `}`",
                );
            }
            at(err_off, msg, Some(hint))
        }
        (Some(b'}' | b']'), Some((p, b','))) => at(
            p,
            "The policy is not valid JSON: trailing comma.".into(),
            Some(format!(
                "remove the comma at {}; the last element of an object or array takes no comma",
                position(text, p)
            )),
        ),
        (Some(b'{'), Some((_, b','))) => at(
            err_off,
            msg,
            Some(
                "this object stands where a member name belongs; put statement objects inside \
                 the `Statement` array: \"Statement\": [ {...}, {...} ]"
                    .into(),
            ),
        ),
        (Some(_), _) if reason.contains("trailing characters") => at(
            err_off,
            msg,
            Some(
                "there is more text after the policy's closing `}`; a statement belongs inside \
                 the `Statement` array, not after the document"
                    .into(),
            ),
        ),
        (Some(b'\''), _) => at(
            err_off,
            msg,
            Some("JSON strings use double quotes `\"`, not `'`".into()),
        ),
        (None, _) => at(
            text.len(),
            msg,
            Some("the document ends early: check that every `{` and `[` is closed".into()),
        ),
        _ => at(err_off, msg, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: &Node) -> &[Member] {
        match &n.val {
            Val::Obj(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn walker_records_positions_and_decodes_strings() {
        let t = "{\"a\" : [1, \"x\\u00e9\\n\", true, null, -2.5e3],\n \"b\": {}}";
        let n = parse(t).unwrap();
        let m = members(&n);
        assert_eq!(m[0].key, "a");
        assert_eq!(m[0].key_pos, 1);
        let Val::Arr(items) = &m[0].value.val else {
            panic!("array")
        };
        assert!(matches!(&items[0].val, Val::Num(s) if s == "1"));
        assert!(matches!(&items[1].val, Val::Str(s) if s == "x\u{e9}\n"));
        assert!(matches!(items[2].val, Val::Bool(true)));
        assert!(matches!(items[3].val, Val::Null));
        assert!(matches!(&items[4].val, Val::Num(s) if s == "-2.5e3"));
        assert_eq!(m[1].key_pos, t.find("\"b\"").unwrap());
    }

    #[test]
    fn duplicate_keys_are_rejected_at_the_second_key() {
        let e = parse("{\"a\": 1,\n \"a\": 2}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 2));
        assert!(e.message.contains("Duplicate key `a`"), "{e}");
    }

    #[test]
    fn find_comment_ignores_slashes_in_strings() {
        assert_eq!(find_comment("{\"a\": \"http://x/*y\"}"), None);
        assert_eq!(find_comment("{\"a\": \"\\\"\" /* c */}"), Some(11));
        assert_eq!(find_comment("{} // c"), Some(3));
    }
}
