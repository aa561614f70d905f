//! Reading EC2 parameters with EC2's error codes (`InvalidParameterValue`,
//! `MissingParameter`), every value bounded.

use std::collections::BTreeMap;

use ebsim_iam::{QueryError, QueryRequest};

use crate::error::{invalid_value, missing};

/// A boolean (`true` / `false`), if present.
///
/// # Errors
/// `InvalidParameterValue` for anything else.
pub fn bool(req: &QueryRequest, name: &str) -> Result<Option<bool>, QueryError> {
    match req.get(name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(v) => Err(invalid_value(format!(
            "Value ({}) for parameter {name} is invalid. Expected: 'true' or 'false'.",
            ebsim_iam::names::echo(v)
        ))),
    }
}

/// An integer in `min..=max`, if present.
///
/// # Errors
/// `InvalidParameterValue`.
pub fn int(req: &QueryRequest, name: &str, min: u64, max: u64) -> Result<Option<u64>, QueryError> {
    let Some(raw) = req.get(name) else {
        return Ok(None);
    };
    let n: u64 = raw.parse().map_err(|_| {
        invalid_value(format!(
            "Value ({}) for parameter {name} is invalid. Expected an integer.",
            ebsim_iam::names::echo(raw)
        ))
    })?;
    if !(min..=max).contains(&n) {
        return Err(invalid_value(format!(
            "Value ({n}) for parameter {name} is invalid. Expected a value between {min} and {max}."
        )));
    }
    Ok(Some(n))
}

/// A string of at most `max` characters, if present.
///
/// # Errors
/// `InvalidParameterValue`.
pub fn text<'a>(
    req: &'a QueryRequest,
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, QueryError> {
    match req.get(name) {
        Some(v) if v.chars().count() > max => Err(invalid_value(format!(
            "Value for parameter {name} is longer than {max} characters."
        ))),
        other => Ok(other),
    }
}

/// A required string.
///
/// # Errors
/// `MissingParameter`, or as [`text`].
pub fn required<'a>(req: &'a QueryRequest, name: &str, max: usize) -> Result<&'a str, QueryError> {
    text(req, name, max)?
        .ok_or_else(|| missing(format!("The request must contain the parameter {name}")))
}

/// Tags a resource may have.
const MAX_TAGS: usize = 50;

/// The tags of `TagSpecification.N` for `resource_type` (`volume`, `instance`).
///
/// # Errors
/// `InvalidParameterValue` for another resource type, a bad key or value, or too many tags.
pub fn tags(
    req: &QueryRequest,
    resource_type: &str,
) -> Result<BTreeMap<String, String>, QueryError> {
    let mut out = BTreeMap::new();
    for n in req.ec2_indices("TagSpecification", 10)? {
        let rt = req
            .get(&format!("TagSpecification.{n}.ResourceType"))
            .unwrap_or("");
        if rt != resource_type {
            return Err(invalid_value(format!(
                "'{}' is not a valid taggable resource type for this operation.",
                ebsim_iam::names::echo(rt)
            )));
        }
        for m in req.ec2_indices(&format!("TagSpecification.{n}.Tag"), MAX_TAGS)? {
            let key = req
                .get(&format!("TagSpecification.{n}.Tag.{m}.Key"))
                .unwrap_or("");
            let value = req
                .get(&format!("TagSpecification.{n}.Tag.{m}.Value"))
                .unwrap_or("");
            if key.is_empty() || key.chars().count() > 128 || key.starts_with("aws:") {
                return Err(invalid_value(format!(
                    "Tag key '{}' is invalid: 1 to 128 characters, not starting with 'aws:'.",
                    ebsim_iam::names::echo(key)
                )));
            }
            if value.chars().count() > 256 {
                return Err(invalid_value("A tag value is longer than 256 characters."));
            }
            out.insert(key.to_owned(), value.to_owned());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(QueryError::new(
            "TagLimitExceeded",
            400,
            format!("A resource may have at most {MAX_TAGS} tags."),
        ));
    }
    Ok(out)
}
