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
    let (records, dropped) = if kms.is_http() {
        let mut req = json!({});
        if let Some(n) = args.limit {
            req["Limit"] = json!(n);
        }
        let out = kms.admin("ReadAudit", req)?;
        let dropped = Dropped {
            from_memory: out["Dropped"]["FromMemory"].as_u64().unwrap_or(0),
            from_disk: out["Dropped"]["FromDisk"].as_u64().unwrap_or(0),
        };
        (
            out["Records"].as_array().cloned().unwrap_or_default(),
            dropped,
        )
    } else {
        // The embedded KMS keeps its whole trail in DIR/audit/kms-audit.jsonl and its rotated
        // files (the in-memory ring only holds this process's calls). Only the root may read
        // it.
        kms.admin("GetClock", json!({}))?;
        let path = data_dir(global, DataDir::Existing)?
            .join("audit")
            .join("kms-audit.jsonl");
        let mut records = Vec::new();
        let rotated = (1..=ebsim_kms::ROTATE_KEEP)
            .rev()
            .map(|i| path.with_extension(format!("jsonl.{i}")));
        for file in rotated.chain(std::iter::once(path.clone())) {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && file != path => continue,
                Err(e) => return Err(CliError::io("read the audit trail", &file)(e)),
            };
            records.extend(
                text.lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
            );
        }
        let dropped = Dropped {
            from_memory: 0,
            from_disk: ebsim_kms::dropped_from_disk(&path),
        };
        (records, dropped)
    };
    if let Some(note) = dropped.note() {
        // Never inside the JSON Lines stream.
        if global.json {
            eprintln!("{note}");
        } else {
            outln!("{note}")?;
        }
    }
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

/// Records the trail's bounds dropped before the ones shown.
#[derive(Debug, Default, PartialEq, Eq)]
struct Dropped {
    /// Records that left the server's in-memory ring.
    from_memory: u64,
    /// Records rotated out of the on-disk trail.
    from_disk: u64,
}

impl Dropped {
    /// The line that says so, when any were dropped.
    fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.from_memory > 0 {
            parts.push(format!(
                "{} earlier records are no longer in the server's memory (it keeps the newest \
                 10,000, at most 64 MiB; the on-disk trail in DIR/audit/ has more)",
                self.from_memory
            ));
        }
        if self.from_disk > 0 {
            parts.push(format!(
                "{} records were dropped from the on-disk trail (its size is bounded: \
                 `ebsim kms serve --audit-max-size`)",
                self.from_disk
            ));
        }
        (!parts.is_empty()).then(|| format!("note: {}", parts.join("; ")))
    }
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

    #[test]
    fn dropped_records_are_noted_only_when_there_are_some() {
        assert_eq!(Dropped::default().note(), None);
        let n = Dropped {
            from_memory: 0,
            from_disk: 7,
        }
        .note()
        .unwrap_or_default();
        assert!(n.starts_with("note: 7 records were dropped"), "{n}");
        let n = Dropped {
            from_memory: 3,
            from_disk: 7,
        }
        .note()
        .unwrap_or_default();
        assert!(
            n.contains("3 earlier records") && n.contains("7 records"),
            "{n}"
        );
    }
}
