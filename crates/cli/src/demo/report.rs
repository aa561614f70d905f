//! What a demo run found: sections (setup, steps, lessons) holding text and the KMS calls read
//! back from the audit trail, printed as text (80 columns) or as one JSON object.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

/// One KMS call as read from its audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Call {
    /// Position in the trail of the run (0 is the first record).
    pub seq: usize,
    pub operation: String,
    pub principal: String,
    pub via: Option<String>,
    pub context: Option<BTreeMap<String, String>>,
    /// What allowed the call: `key policy statement "SID"` or `grant ID`.
    pub decided_by: Option<String>,
    /// `ok`, or the error code KMS answered.
    pub outcome: String,
    /// The grant a CreateGrant made, in full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantInfo>,
    /// The step this call belongs to, when it is shown among another step's calls.
    #[serde(skip)]
    pub step: Option<u32>,
}

/// A grant as its CreateGrant record describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GrantInfo {
    pub grant_id: String,
    pub name: Option<String>,
    pub grantee: String,
    pub operations: Vec<String>,
    /// `encryptionContextSubset` or `encryptionContextEquals` pairs.
    pub constraint: BTreeMap<String, String>,
    /// Whether the constraint must match exactly (`Equals`) or be included (`Subset`).
    pub constraint_exact: bool,
    pub retiring_principal: Option<String>,
    /// The grant through which this one was made (its parent), if any.
    pub parent: Option<String>,
}

pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

impl Call {
    pub(crate) fn from_record(seq: usize, r: &Value) -> Self {
        let operation = str_at(r, &["eventName"]).unwrap_or("?").to_owned();
        let principal = str_at(r, &["userIdentity", "arn"])
            .or_else(|| str_at(r, &["userIdentity", "principalId"]))
            .unwrap_or("?")
            .to_owned();
        let via = str_at(r, &["userIdentity", "invokedBy"])
            .or_else(|| str_at(r, &["additionalEventData", "viaService"]))
            .map(str::to_owned);
        let params = r.get("requestParameters");
        let context = Some(string_map(params.and_then(|p| p.get("encryptionContext"))))
            .filter(|m| !m.is_empty());
        let extra = r.get("additionalEventData");
        let by_grant = extra.and_then(|a| {
            ["grantId", "authorizingGrantId"]
                .iter()
                .find_map(|k| a.get(*k).and_then(Value::as_str))
        });
        let decided_by = by_grant.map(|g| format!("grant {g}")).or_else(|| {
            extra
                .and_then(|a| a.get("policyStatementSid"))
                .and_then(Value::as_str)
                .map(|s| format!("key policy statement \"{s}\""))
        });
        let outcome = str_at(r, &["errorCode"]).unwrap_or("ok").to_owned();
        let grant = (operation == "CreateGrant" && outcome == "ok")
            .then(|| {
                let p = params?;
                let c = p.get("constraints");
                let exact = c.and_then(|c| c.get("encryptionContextEquals"));
                Some(GrantInfo {
                    grant_id: str_at(r, &["responseElements", "grantId"])?.to_owned(),
                    name: str_at(p, &["name"]).map(str::to_owned),
                    grantee: str_at(p, &["granteePrincipal"])?.to_owned(),
                    operations: p
                        .get("operations")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                    constraint: string_map(
                        exact.or_else(|| c.and_then(|c| c.get("encryptionContextSubset"))),
                    ),
                    constraint_exact: exact.is_some(),
                    retiring_principal: str_at(p, &["retiringPrincipal"]).map(str::to_owned),
                    parent: by_grant.map(str::to_owned),
                })
            })
            .flatten();
        Self {
            seq,
            operation,
            principal,
            via,
            context,
            decided_by,
            outcome,
            grant,
            step: None,
        }
    }

    pub(crate) fn ok(&self) -> bool {
        self.outcome == "ok"
    }

    /// The JSON form of `--json`.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "operation": self.operation,
            "principal": self.principal,
            "via": self.via,
            "context": self.context,
            "decided_by": self.decided_by,
            "outcome": self.outcome,
        });
        if let Some(g) = &self.grant {
            v["grant"] = serde_json::to_value(g).unwrap_or_default();
        }
        v
    }
}

/// Where a section stands in the story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Text before the steps (who is who).
    Intro,
    /// The set-up: key, policies, a refused launch.
    Setup,
    /// Step `n` of `of`.
    Step { n: u32, of: u32 },
    /// Lesson `n`.
    Lesson(u32),
    /// Text after the story (the volumes, the glossary).
    Notes,
}

/// One piece of a section.
#[derive(Debug, Clone)]
pub(crate) enum Block {
    /// A paragraph, wrapped to the width.
    Text(String),
    /// Lines printed at column 0 exactly as they are (JSON to copy); at most 80 columns.
    Raw(Vec<String>),
    /// Label/value lines (the label column is `width` wide; values wrap).
    Table(usize, Vec<(String, String)>),
    /// A KMS call.
    Call(Box<Call>),
}

/// A step, a lesson, the setup or a note.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub kind: Kind,
    pub title: String,
    pub blocks: Vec<Block>,
    /// What the lesson showed: an error code or `ok`.
    pub outcome: Option<String>,
    /// Short labels for the diagram (notes such as "key disabled").
    pub notes: Vec<String>,
}

impl Section {
    pub(crate) fn new(kind: Kind, title: impl Into<String>) -> Self {
        Self {
            kind,
            title: title.into(),
            blocks: Vec::new(),
            outcome: None,
            notes: Vec::new(),
        }
    }

    pub(crate) fn text(&mut self, t: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Text(t.into()));
        self
    }

    pub(crate) fn raw(&mut self, lines: Vec<String>) -> &mut Self {
        self.blocks.push(Block::Raw(lines));
        self
    }

    pub(crate) fn table(&mut self, width: usize, rows: Vec<(String, String)>) -> &mut Self {
        self.blocks.push(Block::Table(width, rows));
        self
    }

    pub(crate) fn calls(&mut self, calls: impl IntoIterator<Item = Call>) -> &mut Self {
        self.blocks
            .extend(calls.into_iter().map(|c| Block::Call(Box::new(c))));
        self
    }

    pub(crate) fn all_calls(&self) -> impl Iterator<Item = &Call> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Call(c) => Some(&**c),
            _ => None,
        })
    }

    /// The step a call of this section belongs to.
    pub(crate) fn step_of(&self, c: &Call) -> Option<u32> {
        match self.kind {
            Kind::Step { n, .. } => Some(c.step.unwrap_or(n)),
            _ => None,
        }
    }
}

/// A whole demo run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    pub story: &'static str,
    pub title: String,
    pub sections: Vec<Section>,
    /// Facts a script wants (key ARN, WorkSpace id, volumes …).
    pub facts: serde_json::Map<String, Value>,
}

impl Report {
    /// The JSON object of `--json`: setup, steps (grouped by the step each call belongs to)
    /// and lessons, each with its calls.
    pub(crate) fn to_json(&self) -> Value {
        let mut steps: BTreeMap<u32, (String, Option<String>, Vec<Value>)> = BTreeMap::new();
        let mut lessons = Vec::new();
        let mut setup = Vec::new();
        for s in &self.sections {
            match s.kind {
                Kind::Step { n, .. } => {
                    let e = steps.entry(n).or_default();
                    e.0.clone_from(&s.title);
                    e.1.clone_from(&s.outcome);
                    for c in s.all_calls() {
                        let k = s.step_of(c).unwrap_or(n);
                        steps.entry(k).or_default().2.push(c.to_json());
                    }
                }
                Kind::Lesson(n) => lessons.push(json!({
                    "number": n,
                    "title": s.title,
                    "outcome": s.outcome,
                    "calls": s.all_calls().map(Call::to_json).collect::<Vec<_>>(),
                })),
                Kind::Setup => setup.push(json!({
                    "title": s.title,
                    "outcome": s.outcome,
                    "calls": s.all_calls().map(Call::to_json).collect::<Vec<_>>(),
                })),
                Kind::Intro | Kind::Notes => {}
            }
        }
        let mut v = json!({
            "story": self.story,
            "title": self.title,
            "setup": setup,
            "steps": steps.into_iter().map(|(n, (title, outcome, calls))| json!({
                "number": n, "title": title, "outcome": outcome, "calls": calls,
            })).collect::<Vec<_>>(),
            "lessons": lessons,
        });
        for (k, x) in &self.facts {
            v[k] = x.clone();
        }
        v
    }
}
