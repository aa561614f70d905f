//! Parsing: grammar validation from the positioned JSON tree into a compiled document.

use super::condition::{Condition, Operator, compile_values};
use super::document::{
    Effect, MAX_POLICY_BYTES, Matchers, PolicyDocument, PolicyKind, Principals, Statement,
};
use super::error::{INVALID_PRINCIPALS_MESSAGE, PolicyError, PolicyErrorKind};
use super::glob::Pattern;
use super::json::{self, Member, Node, Val};
use super::principal::{self, Matcher, PolicyPrincipal};

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
    if cx.kind == PolicyKind::Trust
        && let Some(m) = get("Resource").or(get("NotResource"))
    {
        return Err(cx.grammar(
            m.key_pos,
            "Has prohibited field Resource.",
            Some("a trust policy is about the role that holds it: leave `Resource` out".into()),
        ));
    }
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
