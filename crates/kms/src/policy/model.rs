//! The compiled policy: grammar validation from the positioned JSON tree, evaluation, and
//! canonical serialization.

use super::condition::{Condition, ConditionValues, Operator, compile_values};
use super::error::{INVALID_PRINCIPALS_MESSAGE, PolicyError, PolicyErrorKind};
use super::glob::Pattern;
use super::json::{self, Member, Node, Val};
use super::principal::{self, CallerInfo, Matcher, PolicyPrincipal, PrincipalMatch};

/// Largest accepted policy document, in bytes (KMS quota: 32 KiB).
pub const MAX_POLICY_BYTES: usize = 32_768;

/// Which kind of document was parsed (they differ in the `Principal` and `Sid` rules and in
/// what a match means).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyKind {
    /// A key policy (resource-based): every statement names a `Principal`.
    Key,
    /// An IAM identity policy: no `Principal`; it applies to the principal it is attached to.
    Identity,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Effect {
    /// `"Allow"`
    Allow,
    /// `"Deny"`
    Deny,
}

/// The outcome of evaluating one policy for one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Decision {
    /// A `Deny` statement matched: nothing else can allow the request.
    ExplicitDeny {
        /// The `Sid` of the first matching Deny statement.
        sid: Option<String>,
    },
    /// An `Allow` statement matched this principal directly.
    Allow {
        /// The `Sid` of the first matching Allow statement.
        sid: Option<String>,
    },
    /// Only a key-policy statement naming the caller's account root (`arn:aws:iam::A:root`)
    /// matched: the request is allowed if an IAM identity policy of the caller allows it.
    DelegatedToIam {
        /// The `Sid` of the delegating statement.
        sid: Option<String>,
    },
    /// No statement matched.
    NotApplicable,
}

impl Decision {
    /// The `Sid` of the deciding statement, if it has one (for the audit trail).
    pub fn sid(&self) -> Option<&str> {
        match self {
            Self::ExplicitDeny { sid } | Self::Allow { sid } | Self::DelegatedToIam { sid } => {
                sid.as_deref()
            }
            Self::NotApplicable => None,
        }
    }
}

/// One request as a policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The caller's ARN (`arn:aws:iam::111122223333:user/alice`,
    /// `arn:aws:sts::A:assumed-role/R/S`), or a service principal (`ec2.amazonaws.com`).
    pub principal: &'a str,
    /// The action, e.g. `kms:Decrypt` (matched case-insensitively).
    pub action: &'a str,
    /// The resource ARN (the key ARN for key operations).
    pub resource: &'a str,
    /// The request's condition keys.
    pub conditions: &'a ConditionValues,
}

impl<'a> RequestContext<'a> {
    /// Bundles the parts of a request.
    pub fn new(
        principal: &'a str,
        action: &'a str,
        resource: &'a str,
        conditions: &'a ConditionValues,
    ) -> Self {
        Self {
            principal,
            action,
            resource,
            conditions,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Principals {
    /// Identity policies.
    Attached,
    Only(Vec<PolicyPrincipal>, Vec<Matcher>),
    AllBut(Vec<PolicyPrincipal>, Vec<Matcher>),
}

/// `Action`/`NotAction`, `Resource`/`NotResource`.
#[derive(Debug, Clone, PartialEq)]
struct Matchers {
    negated: bool,
    raw: Vec<String>,
    patterns: Vec<Pattern>,
}

impl Matchers {
    fn matches(&self, s: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(s)) != self.negated
    }

    /// For folded (action) patterns and an already lowercased text.
    fn matches_lowercased(&self, s: &str) -> bool {
        self.patterns.iter().any(|p| p.matches_lowercased(s)) != self.negated
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    principals: Principals,
    /// `None`: no `Action`/`NotAction`: the statement never matches.
    actions: Option<Matchers>,
    /// `None`: no `Resource`/`NotResource`: the statement never matches.
    resources: Option<Matchers>,
    conditions: Vec<Condition>,
}

/// A parsed, validated and compiled policy document. Parse once, evaluate many times; the
/// text as given is kept for `GetKeyPolicy`.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    text: String,
    kind: PolicyKind,
    version: String,
    id: Option<String>,
    statements: Vec<Statement>,
}

impl PartialEq for PolicyDocument {
    /// Semantic equality: same kind, version, id and compiled statements (the text may differ).
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.version == other.version
            && self.id == other.id
            && self.statements == other.statements
    }
}

struct Ctx<'t> {
    text: &'t str,
    kind: PolicyKind,
}

impl Ctx<'_> {
    fn grammar(&self, pos: usize, msg: impl Into<String>, hint: Option<String>) -> PolicyError {
        PolicyError::at(self.text, pos, PolicyErrorKind::Grammar, msg, hint)
    }

    fn string<'n>(&self, n: &'n Node, what: &str) -> Result<&'n str, PolicyError> {
        match &n.val {
            Val::Str(s) => Ok(s),
            other => Err(self.grammar(
                n.pos,
                format!("{what} must be a string, not {}.", other.type_name()),
                None,
            )),
        }
    }

    /// A string or a non-empty list of strings.
    fn strings<'n>(&self, n: &'n Node, what: &str) -> Result<Vec<(&'n str, usize)>, PolicyError> {
        match &n.val {
            Val::Str(s) => Ok(vec![(s.as_str(), n.pos)]),
            Val::Arr(items) if !items.is_empty() => items
                .iter()
                .map(|i| self.string(i, what).map(|s| (s, i.pos)))
                .collect(),
            Val::Arr(_) => {
                Err(self.grammar(n.pos, format!("{what} must not be an empty list."), None))
            }
            other => Err(self.grammar(
                n.pos,
                format!(
                    "{what} must be a string or a list of strings, not {}.",
                    other.type_name()
                ),
                None,
            )),
        }
    }
}

fn check_characters(text: &str) -> Result<(), PolicyError> {
    for (i, c) in text.char_indices() {
        let ok = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}');
        if !ok {
            let hint = match c {
                '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2018}' | '\u{2019}' | '\u{ff02}' => {
                    Some(
                        "replace typographic (smart) quotes with straight double quotes `\"`; \
                          word processors and some web pages convert them"
                            .to_owned(),
                    )
                }
                '\u{ff0c}' => Some("replace the full-width comma with `,`".to_owned()),
                '\u{3000}' | '\u{a0}'..='\u{a0}' => {
                    Some("replace the full-width space with a normal space".to_owned())
                }
                '\u{feff}' => Some("remove the byte-order mark at the start".to_owned()),
                _ => None,
            };
            return Err(PolicyError::at(
                text,
                i,
                PolicyErrorKind::InvalidCharacter,
                format!(
                    "The policy contains the character U+{:04X}; only tab, LF, CR and \
                     U+0020..U+00FF are allowed.",
                    c as u32
                ),
                hint,
            ));
        }
    }
    Ok(())
}

const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl PolicyDocument {
    /// Parses a key policy. `Principal` is required in every statement; `Sid` may hold spaces.
    ///
    /// # Errors
    /// [`PolicyError`] with position and hint: [`PolicyErrorKind::TooLarge`] over
    /// [`MAX_POLICY_BYTES`], otherwise a MalformedPolicyDocument kind.
    pub fn parse_key_policy(text: &str) -> Result<Self, PolicyError> {
        Self::parse(text, PolicyKind::Key)
    }

    /// Parses an IAM identity policy. `Principal` is not allowed; `Sid` is alphanumeric.
    ///
    /// # Errors
    /// As [`PolicyDocument::parse_key_policy`].
    pub fn parse_identity_policy(text: &str) -> Result<Self, PolicyError> {
        Self::parse(text, PolicyKind::Identity)
    }

    /// Parses either kind.
    ///
    /// # Errors
    /// As [`PolicyDocument::parse_key_policy`].
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::at(
                text,
                MAX_POLICY_BYTES,
                PolicyErrorKind::TooLarge,
                format!(
                    "The policy is {} bytes; the limit is {MAX_POLICY_BYTES} bytes.",
                    text.len()
                ),
                None,
            ));
        }
        check_characters(text)?;
        let root = json::parse(text)?;
        let cx = Ctx { text, kind };
        let Val::Obj(members) = &root.val else {
            return Err(cx.grammar(
                root.pos,
                format!(
                    "The policy must be a JSON object, not {}.",
                    root.val.type_name()
                ),
                None,
            ));
        };
        let mut version = None;
        let mut id = None;
        let mut statement = None;
        for m in members {
            match m.key.as_str() {
                "Version" => {
                    let v = cx.string(&m.value, "Version")?;
                    if v != "2012-10-17" && v != "2008-10-17" {
                        return Err(cx.grammar(
                            m.value.pos,
                            format!("Unsupported policy Version `{v}`."),
                            Some("use \"Version\": \"2012-10-17\"".into()),
                        ));
                    }
                    version = Some(v.to_owned());
                }
                "Id" => id = Some(cx.string(&m.value, "Id")?.to_owned()),
                "Statement" => statement = Some(&m.value),
                k if STATEMENT_KEYS.contains(&k) => {
                    return Err(cx.grammar(
                        m.key_pos,
                        format!("`{k}` is a statement element but appears at the top level of the policy."),
                        Some("a statement's elements (Sid, Effect, Principal, Action, Resource, Condition) belong inside an object in the `Statement` array".into()),
                    ));
                }
                k => {
                    return Err(cx.grammar(
                        m.key_pos,
                        format!("Unknown policy element `{k}`."),
                        Some("the top level holds only Version, Id and Statement".into()),
                    ));
                }
            }
        }
        let Some(statement) = statement else {
            return Err(cx.grammar(
                root.pos,
                "The policy has no `Statement`.",
                Some("put the statements in \"Statement\": [ {...}, {...} ]".into()),
            ));
        };
        let stmt_nodes: Vec<&Node> = match &statement.val {
            Val::Obj(_) => vec![statement],
            Val::Arr(items) if !items.is_empty() => items.iter().collect(),
            Val::Arr(_) => {
                return Err(cx.grammar(
                    statement.pos,
                    "`Statement` must hold at least one statement.",
                    None,
                ));
            }
            other => {
                return Err(cx.grammar(
                    statement.pos,
                    format!(
                        "`Statement` must be an object or a list of objects, not {}.",
                        other.type_name()
                    ),
                    None,
                ));
            }
        };
        let mut statements = Vec::with_capacity(stmt_nodes.len());
        for n in stmt_nodes {
            let s = parse_statement(&cx, n)?;
            if let Some(sid) = &s.sid
                && statements
                    .iter()
                    .any(|o: &Statement| o.sid.as_ref() == Some(sid))
            {
                return Err(cx.grammar(
                    n.pos,
                    format!("Duplicate Sid `{sid}`."),
                    Some("statement IDs must be unique within a policy".into()),
                ));
            }
            statements.push(s);
        }
        Ok(Self {
            text: text.to_owned(),
            kind,
            version: version.unwrap_or_else(|| "2008-10-17".to_owned()),
            id,
            statements,
        })
    }

    /// The document exactly as given (what `GetKeyPolicy` returns).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Key or identity policy.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Id` element, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The `Version` (`2008-10-17` when the document has none, as IAM assumes).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The `Sid` of each statement, in order.
    pub fn sids(&self) -> impl Iterator<Item = Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref())
    }

    /// Every principal named in `Principal` or `NotPrincipal` elements (normalized), for
    /// validating that they exist.
    pub fn principals(&self) -> impl Iterator<Item = &PolicyPrincipal> {
        self.statements.iter().flat_map(|s| match &s.principals {
            Principals::Attached => [].iter(),
            Principals::Only(p, _) | Principals::AllBut(p, _) => p.iter(),
        })
    }

    /// Evaluates the policy for one request.
    ///
    /// A matching Deny wins over everything; then a directly matching Allow; then (key
    /// policies only) an Allow that names the caller's account root gives
    /// [`Decision::DelegatedToIam`]. A Deny naming an account root applies to every principal
    /// of that account. Identity policies apply to whoever they are attached to, so the
    /// principal is not checked. Statements without Action or Resource never match.
    pub fn evaluate(&self, req: &RequestContext<'_>) -> Decision {
        let caller = CallerInfo::new(req.principal);
        // Lowercase the action once (on the stack for the usual short ASCII names).
        let mut buf = [0u8; 96];
        let owned;
        let action: &str = match buf.get_mut(..req.action.len()) {
            Some(dst) if req.action.is_ascii() => {
                dst.copy_from_slice(req.action.as_bytes());
                dst.make_ascii_lowercase();
                std::str::from_utf8(dst).unwrap_or(req.action)
            }
            _ => {
                owned = req.action.to_lowercase();
                &owned
            }
        };
        let mut allow: Option<&Statement> = None;
        let mut delegated: Option<&Statement> = None;
        for s in &self.statements {
            let (Some(actions), Some(resources)) = (&s.actions, &s.resources) else {
                continue;
            };
            if !actions.matches_lowercased(action) || !resources.matches(req.resource) {
                continue;
            }
            let m = match &s.principals {
                Principals::Attached => PrincipalMatch::Direct,
                Principals::Only(_, ms) => ms.iter().fold(PrincipalMatch::None, |acc, m| {
                    match (acc, m.matches(&caller)) {
                        (PrincipalMatch::Direct, _) | (_, PrincipalMatch::Direct) => {
                            PrincipalMatch::Direct
                        }
                        (PrincipalMatch::Account, _) | (_, PrincipalMatch::Account) => {
                            PrincipalMatch::Account
                        }
                        _ => PrincipalMatch::None,
                    }
                }),
                Principals::AllBut(_, ms) => {
                    if ms
                        .iter()
                        .any(|m| m.matches(&caller) == PrincipalMatch::Direct)
                    {
                        PrincipalMatch::None
                    } else {
                        PrincipalMatch::Direct
                    }
                }
            };
            if m == PrincipalMatch::None {
                continue;
            }
            // Conditions last: they are the most expensive part.
            if !s.conditions.iter().all(|c| c.evaluate(req.conditions)) {
                continue;
            }
            match (s.effect, m) {
                (Effect::Deny, _) => return Decision::ExplicitDeny { sid: s.sid.clone() },
                (Effect::Allow, PrincipalMatch::Direct) => {
                    allow.get_or_insert(s);
                }
                (Effect::Allow, _) => {
                    delegated.get_or_insert(s);
                }
            }
        }
        match (allow, delegated) {
            (Some(s), _) => Decision::Allow { sid: s.sid.clone() },
            (None, Some(s)) => Decision::DelegatedToIam { sid: s.sid.clone() },
            (None, None) => Decision::NotApplicable,
        }
    }

    /// [`evaluate`](Self::evaluate) with the parts spelled out, for checks such as the
    /// lockout safety check ("would this policy still let the caller call kms:PutKeyPolicy?")
    /// and EKM key validation.
    pub fn allows(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        conditions: &ConditionValues,
    ) -> Decision {
        self.evaluate(&RequestContext {
            principal,
            action,
            resource,
            conditions,
        })
    }

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

fn parse_statement(cx: &Ctx<'_>, n: &Node) -> Result<Statement, PolicyError> {
    let Val::Obj(members) = &n.val else {
        return Err(cx.grammar(
            n.pos,
            format!("A statement must be an object, not {}.", n.val.type_name()),
            None,
        ));
    };
    let get = |k: &str| members.iter().find(|m| m.key == k);
    for m in members {
        if !STATEMENT_KEYS.contains(&m.key.as_str()) {
            let hint = if ["Version", "Id", "Statement"].contains(&m.key.as_str()) {
                Some(
                    "this element belongs at the top level of the policy, not inside a statement"
                        .into(),
                )
            } else {
                Some(format!(
                    "a statement may hold only {}",
                    STATEMENT_KEYS.join(", ")
                ))
            };
            return Err(cx.grammar(
                m.key_pos,
                format!("Unknown statement element `{}`.", m.key),
                hint,
            ));
        }
    }
    let sid = match get("Sid") {
        Some(m) => {
            let s = cx.string(&m.value, "Sid")?;
            if cx.kind == PolicyKind::Identity && !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(cx.grammar(
                    m.value.pos,
                    format!("Sid `{s}` is invalid: IAM policy statement IDs hold only letters and digits."),
                    None,
                ));
            }
            Some(s.to_owned())
        }
        None => None,
    };
    let effect = match get("Effect") {
        Some(m) => match cx.string(&m.value, "Effect")? {
            "Allow" => Effect::Allow,
            "Deny" => Effect::Deny,
            other => {
                return Err(cx.grammar(
                    m.value.pos,
                    format!("Effect must be `Allow` or `Deny`, not `{other}`."),
                    Some("the value is case-sensitive".into()),
                ));
            }
        },
        None => {
            return Err(cx.grammar(
                n.pos,
                "A statement has no `Effect`.",
                Some("add \"Effect\": \"Allow\" or \"Deny\"".into()),
            ));
        }
    };
    let principals = parse_principals(cx, n, get("Principal"), get("NotPrincipal"))?;
    let actions = matchers(
        cx,
        get("Action"),
        get("NotAction"),
        "Action",
        true,
        check_action,
    )?;
    let resources = matchers(
        cx,
        get("Resource"),
        get("NotResource"),
        "Resource",
        false,
        check_resource,
    )?;
    let conditions = match get("Condition") {
        Some(m) => parse_conditions(cx, &m.value)?,
        None => Vec::new(),
    };
    Ok(Statement {
        sid,
        effect,
        principals,
        actions,
        resources,
        conditions,
    })
}

/// (message, hint) for an invalid action.
fn check_action(raw: &str) -> Result<(), (String, String)> {
    let ok = raw == "*"
        || raw.split_once(':').is_some_and(|(vendor, name)| {
            !vendor.is_empty()
                && vendor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
        });
    if ok {
        Ok(())
    } else {
        Err((
            format!(
                "Action `{raw}` is invalid: actions/conditions must be prefaced by a vendor, \
                 e.g., iam, sdb, ec2, etc."
            ),
            "write actions as `kms:Decrypt`, `kms:GenerateDataKey*` or `kms:*`".into(),
        ))
    }
}

/// (message, hint) for an invalid resource.
fn check_resource(raw: &str) -> Result<(), (String, String)> {
    if raw.chars().any(char::is_whitespace) {
        Err((
            format!("Resource `{raw}` contains white space."),
            "remove the spaces: ARNs copied from a console often pick up extra ones".into(),
        ))
    } else if raw == "*" || (raw.starts_with("arn:") && raw.split(':').count() >= 6) {
        Ok(())
    } else {
        Err((
            format!("Resource `{raw}` must be `*` or an ARN."),
            "check the ARN for extra spaces or missing parts: \
             arn:aws:kms:REGION:ACCOUNT:key/KEY-ID"
                .into(),
        ))
    }
}

fn matchers(
    cx: &Ctx<'_>,
    pos: Option<&Member>,
    neg: Option<&Member>,
    what: &str,
    fold: bool,
    check: fn(&str) -> Result<(), (String, String)>,
) -> Result<Option<Matchers>, PolicyError> {
    let (m, negated) = match (pos, neg) {
        (Some(_), Some(n)) => {
            return Err(cx.grammar(
                n.key_pos,
                format!("A statement cannot hold both `{what}` and `Not{what}`."),
                None,
            ));
        }
        (Some(m), None) => (m, false),
        (None, Some(m)) => (m, true),
        (None, None) => return Ok(None),
    };
    let items = cx.strings(&m.value, what)?;
    for &(item, pos) in &items {
        check(item).map_err(|(msg, hint)| cx.grammar(pos, msg, Some(hint)))?;
    }
    let raw: Vec<String> = items.into_iter().map(|(s, _)| s.to_owned()).collect();
    let patterns = raw.iter().map(|s| Pattern::new(s, fold)).collect();
    Ok(Some(Matchers {
        negated,
        raw,
        patterns,
    }))
}

fn invalid_principal(cx: &Ctx<'_>, pos: usize, why: String) -> PolicyError {
    PolicyError::at(
        cx.text,
        pos,
        PolicyErrorKind::InvalidPrincipal,
        INVALID_PRINCIPALS_MESSAGE,
        Some(why),
    )
}

fn parse_principals(
    cx: &Ctx<'_>,
    stmt: &Node,
    principal: Option<&Member>,
    not_principal: Option<&Member>,
) -> Result<Principals, PolicyError> {
    if cx.kind == PolicyKind::Identity {
        if let Some(m) = principal.or(not_principal) {
            return Err(cx.grammar(
                m.key_pos,
                "Policy document should not specify a principal.",
                Some("an identity policy applies to the user or role it is attached to; `Principal` belongs in key policies".into()),
            ));
        }
        return Ok(Principals::Attached);
    }
    let (m, negated) = match (principal, not_principal) {
        (Some(_), Some(n)) => {
            return Err(cx.grammar(
                n.key_pos,
                "A statement cannot hold both `Principal` and `NotPrincipal`.",
                None,
            ));
        }
        (Some(m), None) => (m, false),
        (None, Some(m)) => (m, true),
        (None, None) => {
            return Err(cx.grammar(
                stmt.pos,
                "A key policy statement has no `Principal`.",
                Some("name who the statement is for, e.g. \"Principal\": {\"AWS\": \"arn:aws:iam::111122223333:root\"}".into()),
            ));
        }
    };
    let mut list = Vec::new();
    match &m.value.val {
        Val::Str(s) if s == "*" => list.push(PolicyPrincipal::Any),
        Val::Obj(kinds) if !kinds.is_empty() => {
            for k in kinds {
                let parse: fn(&str) -> Result<PolicyPrincipal, String> = match k.key.as_str() {
                    "AWS" => principal::parse_aws,
                    "Service" => principal::parse_service,
                    other => {
                        return Err(invalid_principal(
                            cx,
                            k.key_pos,
                            format!(
                                "principal type `{other}` is not supported here; use `AWS` or `Service`"
                            ),
                        ));
                    }
                };
                let values = match &k.value.val {
                    Val::Str(s) => vec![(s.as_str(), k.value.pos)],
                    Val::Arr(items) if !items.is_empty() => {
                        let mut v = Vec::new();
                        for i in items {
                            match &i.val {
                                Val::Str(s) => v.push((s.as_str(), i.pos)),
                                other => {
                                    return Err(invalid_principal(
                                        cx,
                                        i.pos,
                                        format!(
                                            "a principal must be a string, not {}",
                                            other.type_name()
                                        ),
                                    ));
                                }
                            }
                        }
                        v
                    }
                    other => {
                        return Err(invalid_principal(
                            cx,
                            k.value.pos,
                            format!(
                                "`{}` must be a string or a non-empty list of strings, not {}",
                                k.key,
                                other.type_name()
                            ),
                        ));
                    }
                };
                for (s, pos) in values {
                    list.push(parse(s).map_err(|why| invalid_principal(cx, pos, why))?);
                }
            }
        }
        other => {
            return Err(invalid_principal(
                cx,
                m.value.pos,
                format!(
                    "`Principal` must be \"*\" or an object such as {{\"AWS\": \"arn:aws:iam::111122223333:root\"}}, not {}",
                    match other {
                        Val::Str(s) => format!("the string `{s}`"),
                        v => v.type_name().to_owned(),
                    }
                ),
            ));
        }
    }
    let matchers = list.iter().map(Matcher::new).collect();
    Ok(if negated {
        Principals::AllBut(list, matchers)
    } else {
        Principals::Only(list, matchers)
    })
}

fn parse_conditions(cx: &Ctx<'_>, n: &Node) -> Result<Vec<Condition>, PolicyError> {
    let Val::Obj(ops) = &n.val else {
        return Err(cx.grammar(
            n.pos,
            format!("`Condition` must be an object, not {}.", n.val.type_name()),
            None,
        ));
    };
    let mut out = Vec::new();
    for op_m in ops {
        let Some(op) = Operator::parse(&op_m.key) else {
            return Err(cx.grammar(
                op_m.key_pos,
                format!("Unknown condition operator `{}`.", op_m.key),
                Some("supported: String*, Numeric*, Date*, Bool, Null, Arn*, with optional IfExists suffix and ForAnyValue:/ForAllValues: prefix".into()),
            ));
        };
        if out.iter().any(|c: &Condition| c.op.name == op.name) {
            return Err(cx.grammar(
                op_m.key_pos,
                format!(
                    "Condition operator `{}` appears twice (spelled differently).",
                    op.name
                ),
                Some("merge the two blocks into one".into()),
            ));
        }
        let Val::Obj(keys) = &op_m.value.val else {
            return Err(cx.grammar(
                op_m.value.pos,
                format!("`{}` must map condition keys to values, e.g. {{\"kms:ViaService\": \"ec2.us-west-2.amazonaws.com\"}}.", op_m.key),
                None,
            ));
        };
        if keys.is_empty() {
            return Err(cx.grammar(
                op_m.value.pos,
                format!("`{}` names no condition key.", op_m.key),
                None,
            ));
        }
        for k in keys {
            if !k
                .key
                .split_once(':')
                .is_some_and(|(v, rest)| !v.is_empty() && !rest.is_empty())
            {
                return Err(cx.grammar(
                    k.key_pos,
                    format!("Condition key `{}` is invalid: actions/conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", k.key),
                    Some("write condition keys as `kms:ViaService`, `kms:EncryptionContext:NAME`, `aws:SourceArn`".into()),
                ));
            }
            let items: Vec<&Node> = match &k.value.val {
                Val::Arr(items) if !items.is_empty() => items.iter().collect(),
                Val::Arr(_) => {
                    return Err(cx.grammar(
                        k.value.pos,
                        format!("Condition key `{}` has an empty list of values.", k.key),
                        None,
                    ));
                }
                _ => vec![&k.value],
            };
            let mut raw = Vec::with_capacity(items.len());
            for i in items {
                raw.push(match &i.val {
                    Val::Str(s) => s.clone(),
                    Val::Bool(b) => b.to_string(),
                    Val::Num(x) => x.clone(),
                    other => {
                        return Err(cx.grammar(
                            i.pos,
                            format!(
                                "A condition value must be a string, boolean or number, not {}.",
                                other.type_name()
                            ),
                            None,
                        ));
                    }
                });
            }
            let values = compile_values(op.kind, &raw).map_err(|why| {
                cx.grammar(
                    k.value.pos,
                    format!("Invalid value for `{}` in `{}`: {why}.", k.key, op.name),
                    None,
                )
            })?;
            out.push(Condition {
                op: op.clone(),
                key: k.key.clone(),
                key_lc: k.key.to_lowercase(),
                raw,
                values,
            });
        }
    }
    Ok(out)
}
