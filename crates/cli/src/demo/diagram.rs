//! The sequence diagram of a demo run, drawn from its calls: lifelines, request and reply
//! arrows, a labelled band per step and lesson, notes, and a legend. Mermaid text, and SVG laid
//! out in one monospace font (DejaVu Sans Mono) whose advance width is known, so that every text
//! box can be computed and checked against the others.

use std::fmt::Write as _;

use super::report::{Call, Kind, Report, Section};

/// The font every text of the SVG uses.
pub(crate) const FONT: &str = "DejaVu Sans Mono";
/// Its size in pixels.
pub(crate) const FONT_SIZE: f64 = 12.0;
/// DejaVu Sans Mono's advance width (1233 of 2048 units per em, every glyph, bold too).
pub(crate) const ADVANCE: f64 = FONT_SIZE * 1233.0 / 2048.0;
/// Ascent and descent of a text line above and below its baseline.
#[cfg(test)]
const ASCENT: f64 = FONT_SIZE * 0.93;
#[cfg(test)]
const DESCENT: f64 = FONT_SIZE * 0.24;
const COLUMN: f64 = 260.0;
const MARGIN: f64 = 110.0;
const ROW: f64 = 22.0;
const TOP: f64 = 60.0;
const HEAD: f64 = 8.0;

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

/// What comes back to the caller worth an arrow: an error, a wrapped or a plaintext key.
pub(crate) fn reply(c: &Call) -> Option<String> {
    if !c.ok() {
        return Some(format!("✗ {}", c.outcome));
    }
    match c.operation.as_str() {
        "GenerateDataKeyWithoutPlaintext" => Some("wrapped data key".into()),
        "Decrypt" if c.principal.contains("aws:ec2-infrastructure") => {
            Some("plaintext data key, to EBS only".into())
        }
        "Decrypt" => Some("plaintext".into()),
        "Encrypt" => Some("ciphertext".into()),
        _ => None,
    }
}

/// The label of a section's band.
pub(crate) fn band_label(s: &Section) -> Option<String> {
    match s.kind {
        Kind::Step { n, .. } => {
            let other = s.all_calls().filter_map(|c| c.step).find(|m| *m != n);
            Some(match other {
                Some(m) => format!("Steps {}–{}", m.min(n), m.max(n)),
                None => format!("Step {n}"),
            })
        }
        Kind::Lesson(n) => Some(format!("Lesson {n}")),
        Kind::Setup => Some("Setup".into()),
        Kind::Intro | Kind::Notes => None,
    }
}

/// One thing drawn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// A text; `x` is its left edge.
    Text {
        x: f64,
        y: f64,
        text: String,
        bold: bool,
        color: &'static str,
        /// What it labels: `participant`, `arrow`, `band`, `note`, `legend`.
        role: &'static str,
    },
    /// An arrow from `x1` to `x2` (its head at `x2`).
    Arrow {
        x1: f64,
        x2: f64,
        y: f64,
        dashed: bool,
        color: &'static str,
    },
    /// A rectangle (participant box, band, note box).
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: &'static str,
        stroke: &'static str,
    },
    /// The background of the `index`-th band (a step or lesson), across the picture.
    Band {
        index: usize,
        y: f64,
        w: f64,
        h: f64,
        fill: &'static str,
    },
    /// A lifeline.
    Line { x: f64, y1: f64, y2: f64 },
}

#[cfg(test)]
/// The box a text occupies: (left, top, right, bottom).
pub(crate) fn text_box(x: f64, y: f64, text: &str) -> (f64, f64, f64, f64) {
    let w = text.chars().count() as f64 * ADVANCE;
    (x, y - ASCENT, x + w, y + DESCENT)
}

#[cfg(test)]
/// The box of an arrowhead at `x2` on `y`, pointing away from `x1`.
pub(crate) fn head_box(x1: f64, x2: f64, y: f64) -> (f64, f64, f64, f64) {
    if x2 >= x1 {
        (x2 - HEAD, y - HEAD / 2.0, x2, y + HEAD / 2.0)
    } else {
        (x2, y - HEAD / 2.0, x2 + HEAD, y + HEAD / 2.0)
    }
}

/// Lays out the diagram of a run: its items and its size.
pub(crate) fn layout(r: &Report) -> (Vec<Item>, f64, f64) {
    let ps = participants(r);
    let x = |p: &str| MARGIN + COLUMN * ps.iter().position(|q| *q == p).unwrap_or(0) as f64;
    let kms = x("KMS");
    let width = kms + MARGIN;
    let mut items = Vec::new();
    let mut y = TOP;
    let mut shade = false;
    let mut bands = 0;
    for s in &r.sections {
        let Some(label) = band_label(s) else {
            continue;
        };
        let top = y;
        let mut band = Vec::new();
        y += ROW;
        band.push(Item::Text {
            x: 6.0,
            y: y - 6.0,
            text: label.clone(),
            bold: true,
            color: "#223",
            role: "band",
        });
        let mut nx = 6.0 + (label.chars().count() as f64 + 2.0) * ADVANCE;
        for n in &s.notes {
            let w = n.chars().count() as f64 * ADVANCE + 10.0;
            band.push(Item::Rect {
                x: nx,
                y: y - ROW + 3.0,
                w,
                h: ROW - 5.0,
                fill: "#fff6c8",
                stroke: "#a90",
            });
            band.push(Item::Text {
                x: nx + 5.0,
                y: y - 6.0,
                text: n.clone(),
                bold: false,
                color: "#640",
                role: "note",
            });
            nx += w + 8.0;
        }
        for c in s.all_calls() {
            let a = x(actor(r, c));
            y += ROW;
            let color = if c.ok() { "#000" } else { "#b00" };
            band.push(Item::Arrow {
                x1: a,
                x2: kms,
                y,
                dashed: false,
                color: "#000",
            });
            band.push(Item::Text {
                x: a + 8.0,
                y: y - 4.0,
                text: c.operation.clone(),
                bold: false,
                color: "#000",
                role: "arrow",
            });
            if let Some(back) = reply(c) {
                y += ROW;
                band.push(Item::Arrow {
                    x1: kms,
                    x2: a,
                    y,
                    dashed: true,
                    color,
                });
                let w = back.chars().count() as f64 * ADVANCE;
                band.push(Item::Text {
                    x: kms - 8.0 - w,
                    y: y - 4.0,
                    text: back,
                    bold: false,
                    color,
                    role: "arrow",
                });
            }
        }
        y += 6.0;
        items.push(Item::Band {
            index: bands,
            y: top + 2.0,
            w: width - 4.0,
            h: y - top - 2.0,
            fill: if shade { "#f2f4fb" } else { "#fbfbf2" },
        });
        bands += 1;
        shade = !shade;
        items.extend(band);
    }
    let bottom = y + 10.0;
    for p in ps {
        let px = x(p);
        let w = p.chars().count() as f64 * ADVANCE + 20.0;
        items.push(Item::Line {
            x: px,
            y1: 40.0,
            y2: bottom,
        });
        items.push(Item::Rect {
            x: px - w / 2.0,
            y: 12.0,
            w,
            h: 28.0,
            fill: "#eef",
            stroke: "#335",
        });
        items.push(Item::Text {
            x: px - w / 2.0 + 10.0,
            y: 31.0,
            text: (*p).to_owned(),
            bold: true,
            color: "#000",
            role: "participant",
        });
    }
    // The legend.
    let mut ly = bottom + 24.0;
    let legend: [(&str, bool, &'static str); 3] = [
        ("a call to KMS", false, "#000"),
        (
            "what comes back: a wrapped or plaintext data key",
            true,
            "#000",
        ),
        ("an error KMS answered", true, "#b00"),
    ];
    items.push(Item::Text {
        x: 6.0,
        y: ly,
        text: "Legend".into(),
        bold: true,
        color: "#000",
        role: "legend",
    });
    for (text, dashed, color) in legend {
        ly += ROW;
        items.push(Item::Arrow {
            x1: 12.0,
            x2: 72.0,
            y: ly - 4.0,
            dashed,
            color,
        });
        items.push(Item::Text {
            x: 84.0,
            y: ly,
            text: text.into(),
            bold: false,
            color,
            role: "legend",
        });
    }
    ly += ROW;
    items.push(Item::Rect {
        x: 12.0,
        y: ly - 13.0,
        w: 60.0,
        h: 17.0,
        fill: "#fff6c8",
        stroke: "#a90",
    });
    items.push(Item::Text {
        x: 84.0,
        y: ly,
        text: if r.story == "ekm" {
            "an event: what happened without a KMS call of its own"
        } else {
            "an event: the key disabled, a reboot, a rotation, the terminate"
        }
        .into(),
        bold: false,
        color: "#000",
        role: "legend",
    });
    ly += ROW;
    items.push(Item::Text {
        x: 6.0,
        y: ly,
        text: if r.story == "ekm" {
            "Vendor app calls as its role in the vendor's account; bands are steps and lessons"
        } else {
            "EBS (EC2) is the EC2 infrastructure that serves volumes; bands are steps and lessons"
        }
        .into(),
        bold: false,
        color: "#000",
        role: "legend",
    });
    (items, width, ly + 14.0)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An arrowhead marker of `color`, [`HEAD`] pixels long, its tip at the line's end.
fn marker(id: &str, color: &str) -> String {
    let half = HEAD / 2.0;
    format!(
        "<marker id=\"{id}\" markerWidth=\"{HEAD}\" markerHeight=\"{HEAD}\" refX=\"{HEAD}\" refY=\"{half}\" orient=\"auto\" markerUnits=\"userSpaceOnUse\"><path d=\"M0,0 L{HEAD},{half} L0,{HEAD} z\" fill=\"{color}\"/></marker>"
    )
}

/// SVG sequence diagram of a run.
pub(crate) fn svg(r: &Report) -> String {
    let (items, width, height) = layout(r);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"{FONT}\" font-size=\"{FONT_SIZE}\">\n\
         <defs>{}{}</defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        marker("h", "#000"),
        marker("e", "#b00"),
    );
    for it in &items {
        let _ = match it {
            Item::Rect {
                x,
                y,
                w,
                h,
                fill,
                stroke,
            } => writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\"/>"
            ),
            Item::Band {
                index,
                y,
                w,
                h,
                fill,
            } => writeln!(
                s,
                "<rect id=\"band-{index}\" class=\"band\" x=\"2.0\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"3\" fill=\"{fill}\" stroke=\"#ccd\"/>"
            ),
            Item::Line { x, y1, y2 } => writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{y1:.1}\" x2=\"{x:.1}\" y2=\"{y2:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>"
            ),
            Item::Arrow {
                x1,
                x2,
                y,
                dashed,
                color,
            } => writeln!(
                s,
                "<line x1=\"{x1:.1}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\" stroke=\"{color}\"{} marker-end=\"url(#{})\"/>",
                if *dashed {
                    " stroke-dasharray=\"6 3\""
                } else {
                    ""
                },
                if *color == "#b00" { "e" } else { "h" }
            ),
            Item::Text {
                x,
                y,
                text,
                bold,
                color,
                ..
            } => writeln!(
                s,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" fill=\"{color}\"{}>{}</text>",
                if *bold { " font-weight=\"bold\"" } else { "" },
                xml_escape(text)
            ),
        };
    }
    s.push_str("</svg>\n");
    s
}

/// Mermaid id of a participant.
fn mermaid_id(p: &str) -> String {
    p.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Mermaid sequence diagram of a run.
pub(crate) fn mermaid(r: &Report) -> String {
    let ps = participants(r);
    let mut s = String::from("sequenceDiagram\n");
    for p in ps {
        let _ = writeln!(s, "    participant {} as {p}", mermaid_id(p));
    }
    let (first, last) = (mermaid_id(ps[0]), mermaid_id(ps[ps.len() - 1]));
    for sec in &r.sections {
        let Some(label) = band_label(sec) else {
            continue;
        };
        let _ = writeln!(s, "    rect rgba(200, 200, 255, 0.15)");
        let _ = writeln!(s, "    Note over {first},{last}: {label}");
        for n in &sec.notes {
            let _ = writeln!(s, "    Note over {last}: {n}");
        }
        for c in sec.all_calls() {
            let a = mermaid_id(actor(r, c));
            let _ = writeln!(s, "    {a}->>{last}: {}", c.operation);
            if let Some(back) = reply(c) {
                let _ = writeln!(s, "    {last}-->>{a}: {back}");
            }
        }
        let _ = writeln!(s, "    end");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::report::{Call, Kind, Section};
    use super::*;

    fn call(seq: usize, op: &str, principal: &str, via: Option<&str>, outcome: &str) -> Call {
        Call {
            seq,
            operation: op.into(),
            principal: principal.into(),
            via: via.map(str::to_owned),
            context: None,
            decided_by: None,
            outcome: outcome.into(),
            grant: None,
            step: None,
        }
    }

    /// A run with the longest labels the demo draws, in every band kind.
    fn sample() -> Report {
        let ec2 =
            "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/vol-0123456789abcdef0";
        let ws =
            "arn:aws:sts::111122223333:assumed-role/aws:workspaces-infrastructure/ws-0123456789";
        let admin = "arn:aws:iam::111122223333:user/WorkSpacesAdmin";
        let mut r = Report {
            story: "workspaces",
            ..Report::default()
        };
        let mut setup = Section::new(Kind::Setup, "setup");
        setup.calls([call(
            0,
            "CreateGrant",
            admin,
            Some("workspaces.amazonaws.com"),
            "AccessDeniedException",
        )]);
        let mut s3 = Section::new(Kind::Step { n: 3, of: 9 }, "s3");
        let mut g = call(1, "CreateGrant", ws, Some("ec2.amazonaws.com"), "ok");
        g.step = Some(2);
        s3.calls([
            g,
            call(
                2,
                "GenerateDataKeyWithoutPlaintext",
                ws,
                Some("ec2.amazonaws.com"),
                "ok",
            ),
        ]);
        let mut l2 = Section::new(Kind::Lesson(2), "l2");
        l2.notes.push("key disabled".into());
        l2.notes.push("reboot".into());
        l2.calls([
            call(
                3,
                "DisableKey",
                "arn:aws:iam::111122223333:root",
                None,
                "ok",
            ),
            call(4, "Decrypt", ec2, None, "DisabledException"),
            call(5, "Decrypt", ec2, None, "InvalidCiphertextException"),
            call(6, "Decrypt", ec2, None, "ok"),
            call(
                7,
                "GenerateDataKeyWithoutPlaintext",
                "arn:aws:iam::111122223333:root",
                None,
                "InvalidKeyUsageException",
            ),
        ]);
        let mut s9 = Section::new(Kind::Step { n: 9, of: 9 }, "s9");
        s9.notes.push("terminate".into());
        r.sections = vec![setup, s3, l2, s9];
        r
    }

    fn overlaps(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
        a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
    }

    #[test]
    fn no_text_overlaps_text_a_lifeline_label_or_an_arrowhead() {
        for story in ["workspaces", "ekm"] {
            let mut r = sample();
            r.story = story;
            let (items, width, height) = layout(&r);
            let texts: Vec<(f64, f64, f64, f64, &str)> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Text { x, y, text, .. } => {
                        let b = text_box(*x, *y, text);
                        Some((b.0, b.1, b.2, b.3, text.as_str()))
                    }
                    _ => None,
                })
                .collect();
            let arrow_labels: Vec<(f64, f64, &str)> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Text {
                        x,
                        y,
                        text,
                        role: "arrow",
                        ..
                    } => {
                        let b = text_box(*x, *y, text);
                        Some((b.0, b.2, text.as_str()))
                    }
                    _ => None,
                })
                .collect();
            let heads: Vec<(f64, f64, f64, f64)> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Arrow { x1, x2, y, .. } => Some(head_box(*x1, *x2, *y)),
                    _ => None,
                })
                .collect();
            assert!(texts.len() > 20 && heads.len() > 10);
            for (i, a) in texts.iter().enumerate() {
                let ab = (a.0, a.1, a.2, a.3);
                assert!(
                    a.0 >= 0.0 && a.2 <= width && a.3 <= height,
                    "{} leaves the picture",
                    a.4
                );
                for b in &texts[i + 1..] {
                    assert!(
                        !overlaps(ab, (b.0, b.1, b.2, b.3)),
                        "{:?} overlaps {:?}",
                        a.4,
                        b.4
                    );
                }
                for h in &heads {
                    assert!(
                        !overlaps(ab, *h),
                        "{:?} overlaps an arrowhead at {h:?}",
                        a.4
                    );
                }
            }
            // Labels of arrows to KMS end before the KMS lifeline.
            let kms = MARGIN + COLUMN * (participants(&r).len() - 1) as f64;
            for (left, right, text) in &arrow_labels {
                assert!(
                    *right <= kms - 4.0 && *left >= MARGIN,
                    "{text} runs past a lifeline"
                );
            }
        }
    }

    #[test]
    fn the_svg_names_its_font_and_draws_replies_bands_notes_and_a_legend() {
        let s = svg(&sample());
        assert!(s.contains("font-family=\"DejaVu Sans Mono\""));
        assert_eq!(s.matches("stroke-dasharray=\"6 3\"").count(), 1 + 5 + 2);
        for t in [
            "Setup",
            "Steps 2–3",
            "Lesson 2",
            "Step 9",
            "key disabled",
            "reboot",
            "terminate",
            "wrapped data key",
            "plaintext data key, to EBS only",
            "✗ DisabledException",
            "Legend",
        ] {
            assert!(s.contains(&format!(">{t}</text>")), "{t}");
        }
        let m = mermaid(&sample());
        assert!(m.contains("EBSEC2->>KMS: Decrypt\n    KMS-->>EBSEC2: ✗ DisabledException"));
        assert!(
            m.contains("Note over Admin,KMS: Lesson 2")
                && m.contains("Note over KMS: key disabled")
        );
    }
}
