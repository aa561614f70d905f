//! The sequence diagram of a demo run, drawn from its calls: Mermaid text and SVG.

use std::fmt::Write as _;

use super::report::{Call, Kind, Report};

/// The lifelines of a story, left to right; the last is KMS.
pub(crate) fn participants(r: &Report) -> &'static [&'static str] {
    if r.story == "ekm" {
        &["Customer", "Vendor app", "KMS"]
    } else {
        &["Admin", "WorkSpaces", "EBS (EC2)", "KMS"]
    }
}

/// The lifeline that made a call.
pub(crate) fn actor(r: &Report, c: &Call) -> &'static str {
    if r.story == "ekm" {
        return if c.principal.contains(":assumed-role/") {
            "Vendor app"
        } else {
            "Customer"
        };
    }
    let via_ec2 = c.via.as_deref().is_some_and(|v| v.starts_with("ec2"));
    if c.principal.contains("aws:ec2-infrastructure") || via_ec2 {
        "EBS (EC2)"
    } else if c.principal.contains("aws:workspaces-infrastructure")
        || c.via
            .as_deref()
            .is_some_and(|v| v.starts_with("workspaces"))
    {
        "WorkSpaces"
    } else {
        "Admin"
    }
}

/// Mermaid id of a participant.
fn mermaid_id(p: &str) -> String {
    p.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Mermaid sequence diagram of a run.
pub(crate) fn mermaid(r: &Report) -> String {
    let mut s = String::from("sequenceDiagram\n");
    for p in participants(r) {
        let _ = writeln!(s, "    participant {} as {p}", mermaid_id(p));
    }
    for sec in &r.sections {
        let label = match sec.kind {
            Kind::Step { n, .. } => format!("Step {n}"),
            Kind::Lesson(n) => format!("Lesson {n}"),
            Kind::Setup => "Setup".into(),
            _ => continue,
        };
        if sec.all_calls().next().is_none() && sec.notes.is_empty() {
            continue;
        }
        let _ = writeln!(s, "    rect rgba(200, 200, 255, 0.15)");
        let _ = writeln!(
            s,
            "    Note over {},KMS: {label}",
            mermaid_id(participants(r)[0])
        );
        for n in &sec.notes {
            let _ = writeln!(s, "    Note over KMS: {n}");
        }
        for c in sec.all_calls() {
            let a = mermaid_id(actor(r, c));
            let _ = writeln!(s, "    {a}->>KMS: {}", c.operation);
            if let Some(reply) = reply(c) {
                let _ = writeln!(s, "    KMS-->>{a}: {reply}");
            }
        }
        let _ = writeln!(s, "    end");
    }
    s
}

/// What comes back to the caller worth an arrow: an error, a wrapped or a plaintext key.
pub(crate) fn reply(c: &Call) -> Option<String> {
    if !c.ok() {
        return Some(c.outcome.clone());
    }
    match c.operation.as_str() {
        "GenerateDataKeyWithoutPlaintext" => Some("wrapped data key".into()),
        "Decrypt" => Some("plaintext data key".into()),
        "Encrypt" => Some("ciphertext".into()),
        "CreateGrant" => Some("grant id".into()),
        _ => None,
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// SVG sequence diagram of a run.
pub(crate) fn svg(r: &Report) -> String {
    let ps = participants(r);
    let col = 180;
    let x = |p: &str| 90 + col * ps.iter().position(|q| *q == p).unwrap_or(0);
    let row = 26;
    let top = 60;
    let calls = r.calls();
    let height = top + row * (calls.len() + 1) + 20;
    let width = 90 * 2 + col * (ps.len() - 1);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"DejaVu Sans Mono\" font-size=\"12\">\n\
         <defs><marker id=\"a\" markerWidth=\"8\" markerHeight=\"8\" refX=\"8\" refY=\"4\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for p in ps {
        let px = x(p);
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"10\" width=\"120\" height=\"28\" rx=\"4\" fill=\"#eef\" stroke=\"#335\"/><text x=\"{px}\" y=\"29\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\n<line x1=\"{px}\" y1=\"38\" x2=\"{px}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
            px - 60,
            xml_escape(p),
            height - 10
        );
    }
    for (i, c) in calls.iter().enumerate() {
        let y = top + row * i;
        let (x1, x2) = (x(actor(r, c)), x("KMS"));
        let colour = if c.ok() { "#000" } else { "#b00" };
        let label = if c.ok() {
            c.operation.clone()
        } else {
            format!("{} ✗ {}", c.operation, c.outcome)
        };
        let _ = writeln!(
            s,
            "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{colour}\" marker-end=\"url(#a)\"/><text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
            x2 - 2,
            x1 + 6,
            y - 4,
            xml_escape(&label)
        );
    }
    s.push_str("</svg>\n");
    s
}
