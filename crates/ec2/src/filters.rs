//! `Filter.N.Name` / `Filter.N.Value.M` (docs/ec2.md, "Filters"): values ORed, filters
//! ANDed, `*` and `?` wildcards, case-sensitive; an unknown name is `InvalidParameterValue`;
//! and `MaxResults` / `NextToken` pagination.

use ebsim_iam::{QueryError, QueryRequest};

use crate::error::invalid_value;

/// Filters one request may carry.
const MAX_FILTERS: usize = 50;
/// Values one filter may carry.
const MAX_VALUES: usize = 200;
/// The longest filter value.
const MAX_VALUE_CHARS: usize = 255;

/// One filter: a name and the values any of which must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// `status`, `tag:Name`, …
    pub name: String,
    /// The patterns.
    pub values: Vec<String>,
}

/// The filters of `req`, their names checked against `known` (`tag:KEY` is always known).
///
/// # Errors
/// `InvalidParameterValue` for an unknown name, a filter without values, or a bound.
pub fn parse(req: &QueryRequest, known: &[&str]) -> Result<Vec<Filter>, QueryError> {
    let mut out = Vec::new();
    for n in req.ec2_indices("Filter", MAX_FILTERS)? {
        let name = req
            .get(&format!("Filter.{n}.Name"))
            .ok_or_else(|| invalid_value(format!("Filter.{n}.Name is missing.")))?;
        let tag = name.strip_prefix("tag:").is_some_and(|k| !k.is_empty());
        if !tag && !known.contains(&name) {
            return Err(invalid_value(format!(
                "The filter '{}' is invalid",
                ebsim_iam::names::echo(name)
            )));
        }
        let values = req.ec2_list(&format!("Filter.{n}.Value"), MAX_VALUES)?;
        if values.is_empty() {
            return Err(invalid_value(format!(
                "The filter '{name}' needs at least one value."
            )));
        }
        if values.iter().any(|v| v.chars().count() > MAX_VALUE_CHARS) {
            return Err(invalid_value(format!(
                "A value of filter '{name}' is longer than {MAX_VALUE_CHARS} characters."
            )));
        }
        out.push(Filter {
            name: name.to_owned(),
            values: values.into_iter().map(str::to_owned).collect(),
        });
    }
    Ok(out)
}

/// Whether `text` matches `pattern` (`*` any run, `?` any one character).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether every filter matches: `field(name)` gives the values an object has for a filter
/// name (none: it does not match).
pub fn matches(filters: &[Filter], field: impl Fn(&str) -> Vec<String>) -> bool {
    filters.iter().all(|f| {
        let have = field(&f.name);
        f.values.iter().any(|p| have.iter().any(|h| wildcard(p, h)))
    })
}

/// `MaxResults` (within `min..=max`) and `NextToken` of a listing; `MaxResults` cannot be
/// combined with ids.
///
/// # Errors
/// `InvalidParameterValue` / `InvalidParameterCombination`.
pub fn page_params(
    req: &QueryRequest,
    min: i64,
    max: i64,
    with_ids: bool,
) -> Result<(Option<usize>, Option<String>), QueryError> {
    let max_results = match req.get("MaxResults") {
        None => None,
        Some(raw) => {
            let n: i64 = raw.parse().map_err(|_| {
                invalid_value(format!(
                    "Value ( {} ) for parameter maxResults is invalid. Expecting a number.",
                    ebsim_iam::names::echo(raw)
                ))
            })?;
            if !(min..=max).contains(&n) {
                return Err(invalid_value(format!(
                    "Value ( {n} ) for parameter maxResults is invalid. Expecting a value between {min} and {max}."
                )));
            }
            Some(n as usize)
        }
    };
    if max_results.is_some() && with_ids {
        return Err(crate::error::invalid_combination(
            "The parameter MaxResults cannot be used with the parameter VolumeId or InstanceId",
        ));
    }
    let token = req.get("NextToken").map(str::to_owned);
    if let Some(t) = &token
        && !crate::ids::is_id(crate::ids::IdKind::Volume, t)
        && !crate::ids::is_id(crate::ids::IdKind::Instance, t)
        && !crate::ids::is_id(crate::ids::IdKind::Snapshot, t)
    {
        return Err(invalid_value(format!(
            "The token '{}' is invalid.",
            ebsim_iam::names::echo(t)
        )));
    }
    Ok((max_results, token))
}

/// A page of `items` (sorted by id) from the id `token`, at most `max`; the next token.
pub fn page<T>(
    items: Vec<(String, T)>,
    max: Option<usize>,
    token: Option<&str>,
) -> (Vec<T>, Option<String>) {
    let mut out = Vec::new();
    let mut next = None;
    for (id, item) in items
        .into_iter()
        .skip_while(|(id, _)| token.is_some_and(|t| id.as_str() < t))
    {
        if max.is_some_and(|m| out.len() == m) {
            next = Some(id);
            break;
        }
        out.push(item);
    }
    (out, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("a*c", "abbc"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "abbc"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("Abc", "abc"));
    }

    #[test]
    fn filters_parse_and_match() {
        let q = QueryRequest::parse(
            b"Action=DescribeVolumes&Filter.1.Name=status&Filter.1.Value.1=available&Filter.1.Value.2=in-use&Filter.2.Name=tag:Name&Filter.2.Value.1=web*",
        )
        .expect("parses");
        let f = parse(&q, &["status"]).expect("filters");
        let with = |status: &str| {
            let status = status.to_owned();
            move |n: &str| match n {
                "status" => vec![status.clone()],
                "tag:Name" => vec!["web-1".to_owned()],
                _ => vec![],
            }
        };
        assert!(matches(&f, with("in-use")));
        assert!(!matches(&f, with("error")));
        let unknown =
            QueryRequest::parse(b"Action=X&Filter.1.Name=colour&Filter.1.Value.1=x").expect("q");
        assert_eq!(
            parse(&unknown, &["status"]).unwrap_err().code,
            "InvalidParameterValue"
        );
    }

    #[test]
    fn pages_follow_tokens() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("vol-{i:017x}"), i)).collect();
        let (first, next) = page(items.clone(), Some(2), None);
        assert_eq!(first, [0, 1]);
        let (second, next) = page(items.clone(), Some(2), next.as_deref());
        assert_eq!(second, [2, 3]);
        let (third, next) = page(items, Some(2), next.as_deref());
        assert_eq!((third, next), (vec![4], None));
    }
}
