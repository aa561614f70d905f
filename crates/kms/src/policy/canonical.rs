//! Canonical printing: a document as normalized JSON (what the fuzz target round-trips).

use super::document::{Effect, PolicyDocument, Principals};
use super::principal::PolicyPrincipal;

impl PolicyDocument {
    /// The policy as canonical, pretty-printed JSON (principals normalized, single values
    /// written as lists, condition values as strings). Parsing it gives an equal document.
    pub fn to_json(&self) -> String {
        let q = quote;
        let list = |v: &mut Vec<String>| format!("[ {} ]", v.join(", "));
        let mut out = String::from("{\n");
        out.push_str(&format!("  \"Version\" : {},\n", q(&self.version)));
        if let Some(id) = &self.id {
            out.push_str(&format!("  \"Id\" : {},\n", q(id)));
        }
        out.push_str("  \"Statement\" : [");
        for (i, s) in self.statements.iter().enumerate() {
            let mut fields: Vec<String> = Vec::new();
            if let Some(sid) = &s.sid {
                fields.push(format!("\"Sid\" : {}", q(sid)));
            }
            let effect = match s.effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
            };
            fields.push(format!("\"Effect\" : \"{effect}\""));
            let principal_json = |ps: &[PolicyPrincipal]| {
                let mut aws = Vec::new();
                let mut svc = Vec::new();
                for p in ps {
                    match p {
                        PolicyPrincipal::Service(x) => svc.push(q(x)),
                        other => aws.push(q(other.as_str())),
                    }
                }
                let mut kinds = Vec::new();
                if !aws.is_empty() {
                    kinds.push(format!("\"AWS\" : {}", list(&mut aws)));
                }
                if !svc.is_empty() {
                    kinds.push(format!("\"Service\" : {}", list(&mut svc)));
                }
                format!("{{ {} }}", kinds.join(", "))
            };
            match &s.principals {
                Principals::Attached => {}
                Principals::Only(p, _) => {
                    fields.push(format!("\"Principal\" : {}", principal_json(p)))
                }
                Principals::AllBut(p, _) => {
                    fields.push(format!("\"NotPrincipal\" : {}", principal_json(p)));
                }
            }
            for (m, name) in [(&s.actions, "Action"), (&s.resources, "Resource")] {
                if let Some(m) = m {
                    let mut v: Vec<String> = m.raw.iter().map(|r| q(r)).collect();
                    let not = if m.negated { "Not" } else { "" };
                    fields.push(format!("\"{not}{name}\" : {}", list(&mut v)));
                }
            }
            if !s.conditions.is_empty() {
                let mut ops: Vec<(&str, Vec<String>)> = Vec::new();
                for c in &s.conditions {
                    let mut vals: Vec<String> = c.raw.iter().map(|r| q(r)).collect();
                    let entry = format!("{} : {}", q(&c.key), list(&mut vals));
                    match ops.iter_mut().find(|(n, _)| *n == c.op.name) {
                        Some((_, keys)) => keys.push(entry),
                        None => ops.push((&c.op.name, vec![entry])),
                    }
                }
                let ops: Vec<String> = ops
                    .into_iter()
                    .map(|(n, keys)| {
                        format!(
                            "      {} : {{\n        {}\n      }}",
                            q(n),
                            keys.join(",\n        ")
                        )
                    })
                    .collect();
                fields.push(format!("\"Condition\" : {{\n{}\n    }}", ops.join(",\n")));
            }
            out.push_str(if i == 0 { " {\n    " } else { ", {\n    " });
            out.push_str(&fields.join(",\n    "));
            out.push_str("\n  }");
        }
        out.push_str(" ]\n}");
        out
    }
}

/// A JSON string literal that stays within the allowed characters: anything above U+00FF
/// (possible only through `\u` escapes in the input) is written as an escape again.
fn quote(s: &str) -> String {
    let plain = serde_json::to_string(s).unwrap_or_default();
    if plain.chars().all(|c| c <= '\u{ff}') {
        return plain;
    }
    let mut out = String::with_capacity(plain.len() + 8);
    for c in plain.chars() {
        if c <= '\u{ff}' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}
