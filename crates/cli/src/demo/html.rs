//! `ebsim demo --html FILE`: one self-contained page (no network) that walks through the run:
//! the diagram with the current step's band highlighted, and that step's text and calls
//! (principal, context, and the statement or grant that decided each); next/previous by
//! buttons or keys (→/← or j/k, Home/End); the glossary on hover.

use std::fmt::Write as _;

use super::diagram::{band_label, svg};
use super::glossary::GLOSSARY;
use super::report::{Block, Call, Kind, Report, Section};
use super::text::short_principal;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `text` escaped, with the first use of each glossary term explained on hover.
fn with_terms(text: &str) -> String {
    let mut out = esc(text);
    for (term, meaning) in GLOSSARY {
        let t = esc(term);
        let Some(at) = find_word(&out, &t) else {
            continue;
        };
        out.replace_range(
            at..at + t.len(),
            &format!("<abbr class=\"term\" title=\"{}\">{t}</abbr>", esc(meaning)),
        );
    }
    out
}

/// Where `word` first occurs in `s` as a whole word, outside the tags (and their attributes)
/// and outside the terms already explained.
fn find_word(s: &str, word: &str) -> Option<usize> {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-');
    s.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = &s[..i];
        let in_tag = before.rfind('<') > before.rfind('>');
        let in_term = before.rfind("<abbr") > before.rfind("</abbr>");
        !in_tag
            && !in_term
            && !is_word(before.chars().next_back())
            && !is_word(s[i + word.len()..].chars().next())
    })
}

/// A section's heading, its words explained on hover.
fn heading(s: &Section) -> String {
    let head = match s.kind {
        Kind::Step { n, of } => format!("Step {n}/{of} — "),
        Kind::Lesson(n) => format!("Lesson {n} — "),
        Kind::Setup => "Setup — ".to_owned(),
        Kind::Intro | Kind::Notes => String::new(),
    };
    format!("{}{}", esc(&head), with_terms(&s.title))
}

fn call_row(out: &mut String, c: &Call, tag: Option<u32>) {
    let context = c
        .context
        .as_ref()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{} = {}", esc(k), esc(v)))
                .collect::<Vec<_>>()
                .join("<br>")
        })
        .unwrap_or_default();
    let decided = match (&c.decided_by, c.ok()) {
        (Some(d), true) => esc(d),
        (Some(d), false) => format!("authorized by {}, then refused", esc(d)),
        (None, _) => "nothing allowed it".to_owned(),
    };
    let _ = write!(
        out,
        "<tr class=\"call {}\" data-operation=\"{op}\"><td>{}{op}</td><td class=\"principal\">{}</td><td>{}</td><td class=\"context\">{context}</td><td class=\"decided\">{decided}</td><td class=\"outcome\">{}</td></tr>",
        if c.ok() { "ok" } else { "error" },
        tag.map(|n| format!("<span class=\"tag\">step {n}</span> "))
            .unwrap_or_default(),
        esc(short_principal(&c.principal)),
        esc(c.via.as_deref().unwrap_or("")),
        esc(&c.outcome),
        op = esc(&c.operation),
    );
    if let Some(g) = &c.grant {
        let constraint: Vec<String> = g
            .constraint
            .iter()
            .map(|(k, v)| format!("{} = {}", esc(k), esc(v)))
            .collect();
        let _ = write!(
            out,
            "<tr class=\"grant\"><td></td><td colspan=\"5\"><abbr class=\"term\" title=\"{}\">grant</abbr> <code>{}</code><br>grantee {}<br>may call {}<br>only when the context includes {}<br>retiring {}<br>parent {}</td></tr>",
            esc(GLOSSARY
                .iter()
                .find(|(t, _)| *t == "grant")
                .map_or("", |(_, m)| m)),
            esc(&g.grant_id),
            esc(&g.grantee),
            esc(&g.operations.join(", ")),
            constraint.join(" and "),
            esc(g.retiring_principal.as_deref().unwrap_or("(none)")),
            g.parent.as_deref().map_or_else(
                || "none".to_owned(),
                |p| format!("<code>{}</code> (its child)", esc(p))
            ),
        );
    }
}

fn blocks(out: &mut String, s: &Section) {
    let mut calls = String::new();
    for b in &s.blocks {
        match b {
            Block::Text(t) => {
                let _ = write!(out, "<p>{}</p>", with_terms(t));
            }
            Block::Raw(lines) => {
                let _ = write!(out, "<pre>{}</pre>", esc(&lines.join("\n")));
            }
            Block::Table(_, rows) => {
                out.push_str("<table class=\"kv\">");
                for (k, v) in rows {
                    let _ = write!(
                        out,
                        "<tr><th>{}</th><td>{}</td></tr>",
                        esc(k),
                        with_terms(v)
                    );
                }
                out.push_str("</table>");
            }
            Block::Call(c) => {
                let tag = match s.kind {
                    Kind::Step { .. } if c.step.is_some() => c.step,
                    _ => None,
                };
                call_row(&mut calls, c, tag);
            }
        }
    }
    if !calls.is_empty() {
        let _ = write!(
            out,
            "<table class=\"calls\"><thead><tr><th>call</th><th>as</th><th>via</th><th>context</th><th>decided by</th><th>outcome</th></tr></thead><tbody>{calls}</tbody></table>"
        );
    }
}

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;margin:0;display:flex;height:100vh}\
#diagram{flex:0 0 52%;overflow:auto;border-right:1px solid #ccd}\
#diagram svg{width:100%;height:auto}\
#walk{flex:1;overflow:auto;padding:0 1.2em}\
nav{position:sticky;top:0;background:#fff;padding:.6em 0;border-bottom:1px solid #ddd}\
.band.current{fill:#ffe7c2;stroke:#d60;stroke-width:3}\
h1{font-size:1.2em}h2{font-size:1.05em}\
table{border-collapse:collapse;font-size:13px;margin:.5em 0}\
table.calls{table-layout:fixed;width:100%}\
table.calls th:nth-child(1){width:17%}table.calls th:nth-child(2){width:24%}\
table.calls th:nth-child(3){width:12%}table.calls th:nth-child(4){width:22%}\
table.calls th:nth-child(5){width:15%}table.calls th:nth-child(6){width:10%}\
td{overflow-wrap:anywhere}.decided{font-size:12px}\
td,th{border:1px solid #ddd;padding:3px 5px;vertical-align:top;text-align:left}\
tr.error td.outcome{color:#b00;font-weight:bold}\
.principal,.context,code{font-family:'DejaVu Sans Mono',monospace;font-size:12px;word-break:break-all}\
abbr.term{text-decoration:underline dotted;cursor:help}\
pre{background:#f6f6f6;padding:.5em;overflow:auto}\
.tag{background:#eef;border-radius:3px;padding:0 3px;font-size:11px}";

const SCRIPT: &str = "const stops=[...document.querySelectorAll('section.stop')];let at=0;\
function show(n){at=Math.max(0,Math.min(stops.length-1,n));\
stops.forEach((s,k)=>{s.hidden=k!==at;s.classList.toggle('current',k===at);});\
const band=stops[at].dataset.band;\
document.querySelectorAll('#diagram .band').forEach(b=>b.classList.toggle('current',b.id==='band-'+band));\
const b=document.getElementById('band-'+band);if(b&&b.scrollIntoView){b.scrollIntoView({block:'center'});}\
document.getElementById('pos').textContent=(at+1)+' / '+stops.length;\
document.getElementById('walk').scrollTop=0;}\
document.addEventListener('keydown',e=>{\
if(e.key==='ArrowRight'||e.key==='j'||e.key==='PageDown'){show(at+1);e.preventDefault();}\
else if(e.key==='ArrowLeft'||e.key==='k'||e.key==='PageUp'){show(at-1);e.preventDefault();}\
else if(e.key==='Home'){show(0);e.preventDefault();}\
else if(e.key==='End'){show(stops.length-1);e.preventDefault();}});\
document.getElementById('prev').onclick=()=>show(at-1);\
document.getElementById('next').onclick=()=>show(at+1);show(0);";

/// The page.
pub(crate) fn page(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body><div id=\"diagram\">{}</div><div id=\"walk\"><nav><button id=\"prev\" title=\"previous (←, k)\">← previous</button> <span id=\"pos\"></span> <button id=\"next\" title=\"next (→, j)\">next →</button> <small>keys: → ← j k Home End</small></nav><h1>{}</h1>",
        esc(&r.title),
        svg(r),
        esc(&r.title)
    );
    let mut band = 0;
    for s in &r.sections {
        if band_label(s).is_none() {
            continue;
        }
        let _ = write!(
            out,
            "<section class=\"stop\" id=\"stop-{band}\" data-band=\"{band}\"><h2>{}</h2>",
            heading(s)
        );
        blocks(&mut out, s);
        out.push_str("</section>");
        band += 1;
    }
    for s in r.sections.iter().filter(|s| s.kind == Kind::Intro) {
        let _ = write!(out, "<details open><summary>{}</summary>", esc(&s.title));
        blocks(&mut out, s);
        out.push_str("</details>");
    }
    out.push_str("<details id=\"glossary\"><summary>Words used here</summary><dl>");
    for (t, m) in GLOSSARY {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(t), esc(m));
    }
    let _ = writeln!(
        out,
        "</dl></details></div><script>{SCRIPT}</script></body></html>"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glossary_terms_are_explained_once_per_text_and_never_inside_words() {
        let t = with_terms("a grant and a child grant, grants, via ec2 <x>, an encryption context");
        assert_eq!(t.matches("<abbr").count(), 4, "{t}");
        assert!(t.contains(">encryption context</abbr>"), "{t}");
        assert!(t.contains("&lt;x&gt;"));
        assert!(t.contains(">child grant</abbr>") && t.contains(">via</abbr>"));
        assert!(!t.contains(">grant</abbr>s"));
    }
}
