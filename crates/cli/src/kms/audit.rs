//! `ebsim audit`: the KMS audit trail, one line per call (`--json`: JSON Lines).

use clap::Args;
use serde_json::{Value, json};

use super::s;
use crate::common::{DataDir, data_dir, kms_client};
use crate::{CliError, GlobalArgs};

/// `ebsim audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Show only the newest N records.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
}

/// One record as a line: time, operation, caller (and the service it came through), key,
/// outcome, and the grant or policy statement that allowed it.
fn line(r: &Value) -> String {
    let who = r["userIdentity"]["arn"]
        .as_str()
        .or(r["userIdentity"]["invokedBy"].as_str())
        .unwrap_or("-");
    let via = r["userIdentity"]["invokedBy"]
        .as_str()
        .filter(|_| r["userIdentity"]["arn"].is_string());
    let outcome = r["errorCode"].as_str().unwrap_or("OK");
    let by = match (
        r["additionalEventData"]["grantId"].as_str(),
        r["additionalEventData"]["policyStatementSid"].as_str(),
    ) {
        (Some(g), _) => format!(" (grant {}…)", g.get(..12).unwrap_or(g)),
        (None, Some(sid)) => format!(" (policy {sid:?})"),
        _ => String::new(),
    };
    format!(
        "{} {:<32} {}{} key={} -> {}{}",
        s(&r["eventTime"]),
        s(&r["eventName"]),
        who,
        via.map(|v| format!(" via {v}")).unwrap_or_default(),
        r["resources"][0]["ARN"].as_str().unwrap_or("-"),
        outcome,
        by
    )
}

/// Runs `ebsim audit`.
pub(crate) fn run(global: &GlobalArgs, args: &AuditArgs) -> Result<(), CliError> {
    let kms = kms_client(global, DataDir::Existing)?;
    let records = if kms.is_http() {
        let mut req = json!({});
        if let Some(n) = args.limit {
            req["Limit"] = json!(n);
        }
        let out = kms.admin("ReadAudit", req)?;
        out["Records"].as_array().cloned().unwrap_or_default()
    } else {
        // The embedded KMS keeps its whole trail in DIR/audit/kms-audit.jsonl (the in-memory
        // ring only holds this process's calls). Only the root may read it.
        kms.admin("GetClock", json!({}))?;
        let path = data_dir(global, DataDir::Existing)?
            .join("audit")
            .join("kms-audit.jsonl");
        let text =
            std::fs::read_to_string(&path).map_err(CliError::io("read the audit trail", &path))?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect()
    };
    let skip = args.limit.map_or(0, |n| {
        records
            .len()
            .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX))
    });
    for r in records.iter().skip(skip) {
        if global.json {
            outln!("{}", serde_json::to_string(r).unwrap_or_default())?;
        } else {
            outln!("{}", line(r))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_as_one_line() {
        let r = json!({
            "eventTime": "2026-01-01T00:00:00Z",
            "eventName": "Decrypt",
            "userIdentity": {"arn": "arn:aws:sts::111122223333:assumed-role/x/y", "invokedBy": "ec2.amazonaws.com"},
            "resources": [{"ARN": "arn:aws:kms:us-west-2:111122223333:key/k"}],
            "additionalEventData": {"grantId": "0123456789abcdef0123"},
        });
        let l = line(&r);
        assert!(l.contains(" via ec2.amazonaws.com"), "{l}");
        assert!(l.contains("-> OK (grant 0123456789ab…)"), "{l}");
        // A short or multi-byte grant id never splits a character.
        let r = json!({"eventName": "Decrypt", "additionalEventData": {"grantId": "aéééééé"}});
        assert!(line(&r).contains("(grant aéééééé…)"), "{}", line(&r));
        let r = json!({"eventName": "Encrypt", "errorCode": "AccessDeniedException"});
        assert!(
            line(&r).ends_with("-> AccessDeniedException"),
            "{}",
            line(&r)
        );
    }
}
