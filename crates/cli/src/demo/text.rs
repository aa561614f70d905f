//! The demo as text: at most 80 display columns a line, colour only on a terminal.

use super::report::{Block, Call, GrantInfo, Kind, Report, Section};

/// The width of every line.
pub(crate) const WIDTH: usize = 80;

/// Display columns of a line (every character the demo prints is one column wide).
pub(crate) fn columns(s: &str) -> usize {
    s.chars().count()
}

/// Splits `text` into lines of at most `width` characters, at spaces where possible.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_owned();
        while columns(&word) > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // Break a long word (an ARN, a path) after a `/` or `:` where one fits.
            let chars: Vec<char> = word.chars().collect();
            let cut = chars[..width]
                .iter()
                .rposition(|c| *c == '/' || *c == ':')
                .filter(|i| *i >= width / 2)
                .map_or(width, |i| i + 1);
            lines.push(chars[..cut].iter().collect());
            word = chars[cut..].iter().collect();
        }
        if line.is_empty() {
            line = word;
        } else if columns(&line) + 1 + columns(&word) <= width {
            line.push(' ');
            line.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut line, word));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A principal ARN without the `arn:aws:iam::` / `arn:aws:sts::` prefix (the account stays).
pub(crate) fn short_principal(p: &str) -> &str {
    p.strip_prefix("arn:aws:iam::")
        .or_else(|| p.strip_prefix("arn:aws:sts::"))
        .unwrap_or(p)
}

/// What an error code means, in one clause.
pub(crate) fn meaning(code: &str) -> &'static str {
    match code {
        "InvalidCiphertextException" => {
            "the encryption context differs from the one the data key was wrapped under, so the AAD check failed"
        }
        "DisabledException" => "the key is disabled",
        "AccessDeniedException" => "no key policy statement, IAM policy or grant allows it",
        "InvalidKeyUsageException" => "the key cannot be used for this operation",
        "MalformedPolicyDocumentException" => "the policy document is not valid",
        "NotFoundException" => "no such key or grant",
        "KMSInternalException" | "DependencyTimeoutException" => "KMS is having an outage",
        _ => "KMS refused the request",
    }
}

/// Builds the text, line by line.
pub(crate) struct Text {
    color: bool,
    out: String,
}

impl Text {
    pub(crate) fn new(color: bool) -> Self {
        Self {
            color,
            out: String::new(),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// `text` wrapped with `indent` spaces before every line.
    fn para(&mut self, indent: usize, text: &str) {
        for l in wrap(text, WIDTH - indent) {
            self.line(&format!("{:indent$}{l}", ""));
        }
    }

    /// A heading whose continuation lines align after `head`.
    fn heading(&mut self, head: &str, text: &str) {
        let w = columns(head);
        for (i, l) in wrap(text, WIDTH - w).iter().enumerate() {
            if i == 0 {
                let h = self.paint("1;36", head);
                self.line(&format!("{h}{l}"));
            } else {
                self.line(&format!("{:w$}{l}", ""));
            }
        }
    }

    fn table(&mut self, indent: usize, width: usize, rows: &[(String, String)]) {
        for (k, v) in rows {
            for (i, l) in wrap(v, WIDTH - indent - width).iter().enumerate() {
                let label = if i == 0 { k.as_str() } else { "" };
                self.line(&format!("{:indent$}{label:width$}{l}", ""));
            }
        }
    }

    fn grant(&mut self, g: &GrantInfo) {
        let constraint = if g.constraint.is_empty() {
            "none".to_owned()
        } else {
            let pairs: Vec<String> = g
                .constraint
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            format!(
                "the context {} {}",
                if g.constraint_exact {
                    "is exactly"
                } else {
                    "includes"
                },
                pairs.join(" and ")
            )
        };
        let rows = vec![
            ("new grant".to_owned(), g.grant_id.clone()),
            ("grantee".to_owned(), g.grantee.clone()),
            ("may call".to_owned(), g.operations.join(", ")),
            ("only when".to_owned(), constraint),
            (
                "retiring".to_owned(),
                g.retiring_principal
                    .clone()
                    .unwrap_or_else(|| "(none named)".into()),
            ),
            (
                "parent".to_owned(),
                g.parent.as_ref().map_or_else(
                    || "none: allowed by the caller's own permissions".to_owned(),
                    |p| format!("grant {p} (this one is its child)"),
                ),
            ),
        ];
        self.table(6, 10, &rows);
    }

    pub(crate) fn call(&mut self, c: &Call, tag: Option<u32>) {
        let status = if c.ok() {
            self.paint("32", "→ ok")
        } else {
            self.paint("31", &format!("→ {}", c.outcome))
        };
        let tag = tag.map(|n| format!("[step {n}] ")).unwrap_or_default();
        let op = self.paint("1", &c.operation);
        self.line(&format!("    {tag}{op} {status}"));
        self.para(6, &format!("as {}", short_principal(&c.principal)));
        if let Some(v) = &c.via {
            self.para(6, &format!("via {v}"));
        }
        if let Some(ctx) = &c.context {
            let rows: Vec<(String, String)> = ctx
                .iter()
                .enumerate()
                .map(|(i, (k, v))| {
                    (
                        if i == 0 { "context" } else { "" }.to_owned(),
                        format!("{k} = {v}"),
                    )
                })
                .collect();
            self.table(6, 8, &rows);
        }
        match (&c.decided_by, c.ok()) {
            (Some(d), true) => self.para(6, &format!("allowed by {d}")),
            (Some(d), false) => {
                self.para(6, &format!("authorized by {d},"));
                self.para(6, &format!("then refused: {}", meaning(&c.outcome)));
            }
            (None, false) => self.para(6, &format!("refused: {}", meaning(&c.outcome))),
            (None, true) => {}
        }
        if let Some(g) = &c.grant {
            self.grant(g);
        }
    }

    fn section(&mut self, s: &Section) {
        match s.kind {
            Kind::Step { n, of } => self.heading(&format!("Step {n}/{of} — "), &s.title),
            Kind::Lesson(n) => self.heading(&format!("Lesson {n} — "), &s.title),
            Kind::Setup => self.heading("Setup — ", &s.title),
            Kind::Intro | Kind::Notes => {
                if !s.title.is_empty() {
                    let t = self.paint("1", &s.title);
                    self.line(&t);
                }
            }
        }
        for b in &s.blocks {
            match b {
                Block::Text(t) => self.para(4, t),
                Block::Raw(lines) => {
                    for l in lines {
                        self.line(l);
                    }
                }
                Block::Table(w, rows) => self.table(4, *w, rows),
                Block::Call(c) => {
                    let own = s.step_of(c);
                    let tag = match s.kind {
                        Kind::Step { n, .. } if own != Some(n) || c.step.is_some() => own,
                        _ => None,
                    };
                    self.call(c, tag);
                }
            }
        }
        self.line("");
    }

    /// The whole report.
    pub(crate) fn report(mut self, r: &Report) -> String {
        let t = self.paint("1", &r.title);
        self.line(&t);
        for s in &r.sections {
            self.section(s);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_lines_within_width() {
        let text = "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/vol-0123456789abcdef0 and more words here";
        for l in wrap(text, 40) {
            assert!(columns(&l) <= 40, "{l}");
        }
        assert_eq!(wrap("a b c", 3), ["a b", "c"]);
    }
}
