//! `ebsim key|alias|grant|audit|clock|kms`: the KMS from the command line, embedded on the
//! data dir (holding its lock for the command) or through a running `ebsim kms serve` /
//! `--kms-endpoint`; and `ebsim kms serve`, the endpoint itself. One module per command.

pub(crate) mod alias;
pub(crate) mod audit;
pub(crate) mod clock;
pub(crate) mod grant;
pub(crate) mod import;
pub(crate) mod key;
pub(crate) mod serve;
pub(crate) mod sign;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::CliError;

/// A string field for a text column, `-` when absent.
fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// A KMS date (seconds since the epoch) as ISO 8601, `-` when absent.
fn date(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_string(), ebsim_kms::iso8601)
}

/// `KEY=VALUE` arguments as (key, value) pairs; `what` names them in the error.
fn pairs<'a>(list: &'a [String], what: &str) -> Result<Vec<(&'a str, &'a str)>, CliError> {
    list.iter()
        .map(|p| {
            p.split_once('=').ok_or_else(|| {
                CliError::InvalidArgument(format!("the {what} {p:?} is not KEY=VALUE"))
            })
        })
        .collect()
}

/// `KEY=VALUE` arguments as a map (encryption-context constraints).
fn pair_map(list: &[String], what: &str) -> Result<BTreeMap<String, String>, CliError> {
    Ok(pairs(list, what)?
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// A policy document from a file.
fn read_policy(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(CliError::io("read the policy file", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        let list = vec!["a=1".to_owned(), "b=x=y".to_owned(), "c=".to_owned()];
        assert_eq!(
            pairs(&list, "tag").ok(),
            Some(vec![("a", "1"), ("b", "x=y"), ("c", "")])
        );
        let e = pairs(&["nope".to_owned()], "tag").unwrap_err();
        assert!(matches!(e, CliError::InvalidArgument(_)), "{e:?}");
        assert!(e.to_string().contains("KEY=VALUE"), "{e}");
    }
}
