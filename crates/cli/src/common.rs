//! What the commands share: the data dir in force, the KMS client and simulator over it, one
//! `paginate()` for the KMS list operations, and JSON output.

use std::path::PathBuf;

use ebsim_kms_client::{Identity, KmsClient};
use ebsim_workspaces::Simulator;
use serde_json::{Value, json};

use crate::{CliError, GlobalArgs};

/// Whether a command may create the data dir (DESIGN: a command that only reads or uses
/// existing state fails with "no data dir at …"; commands that create things create it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataDir {
    /// The data dir must exist.
    Existing,
    /// The command creates things: the data dir is created if missing.
    Create,
}

/// The data dir in force, created or checked as `need` says.
pub(crate) fn data_dir(global: &GlobalArgs, need: DataDir) -> Result<PathBuf, CliError> {
    let dir = global.data_dir();
    match need {
        DataDir::Create if dir.is_dir() => {}
        DataDir::Create => {
            // One level only: a mistyped path is not made from nothing, at any depth.
            let parent = match dir.parent() {
                Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
                Some(p) => p.to_path_buf(),
                None => PathBuf::from("/"),
            };
            if !parent.is_dir() {
                return Err(CliError::NoDataDirParent { path: dir, parent });
            }
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(CliError::io("create the data dir", &dir))?;
        }
        DataDir::Existing if !dir.is_dir() => return Err(CliError::NoDataDir { path: dir }),
        DataDir::Existing => {}
    }
    Ok(dir)
}

/// The KMS client of a command: `--kms-endpoint`, else a running `ebsim kms serve` on the
/// data dir, else the embedded KMS; `--as` is the default principal. With `--kms-endpoint`
/// the data dir is optional (it only supplies the service credential when it exists).
pub(crate) fn kms_client(global: &GlobalArgs, need: DataDir) -> Result<KmsClient, CliError> {
    let dir = if global.kms_endpoint.is_some() && need == DataDir::Existing {
        global.data_dir()
    } else {
        data_dir(global, need)?
    };
    // `--account` acts as that account's root, unless `--as` names a principal.
    let principal = global
        .as_principal
        .clone()
        .or_else(|| global.account.as_ref().map(|a| a.root_arn()));
    let client = KmsClient::for_data_dir(&dir, principal, global.kms_endpoint.clone())?;
    Ok(match global.region {
        Some(r) => client.in_region(r),
        None => client,
    })
}

/// The simulator (EBS and WorkSpaces control planes) over the data dir, whose volumes and
/// WorkSpace records live there.
pub(crate) fn simulator(global: &GlobalArgs, need: DataDir) -> Result<Simulator, CliError> {
    let dir = data_dir(global, need)?;
    Ok(Simulator::with_client(
        kms_client(global, need)?,
        Some(&dir),
    ))
}

/// Calls a KMS list operation page by page (`Marker` from each page's `NextMarker` while
/// `Truncated`) and returns the items of every page under `items`.
///
/// # Errors
/// The KMS error of any page, or [`CliError::Pagination`] when a page repeats the marker
/// it was asked with (a server that would never end the listing).
pub(crate) fn paginate(
    kms: &KmsClient,
    operation: &'static str,
    request: &Value,
    items: &str,
) -> Result<Vec<Value>, CliError> {
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = request.clone();
        if let Some(m) = &marker {
            req["Marker"] = json!(m);
        }
        let page = kms.call(&Identity::Default, operation, req)?;
        all.extend(page[items].as_array().into_iter().flatten().cloned());
        match page["NextMarker"].as_str() {
            Some(next) if page["Truncated"] == json!(true) => {
                if marker.as_deref() == Some(next) {
                    return Err(CliError::Pagination {
                        operation,
                        marker: next.to_owned(),
                    });
                }
                marker = Some(next.to_owned());
            }
            _ => return Ok(all),
        }
    }
}

/// Prints a value as pretty JSON.
pub(crate) fn print_json(v: &Value) -> Result<(), CliError> {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use ebsim_kms::{Caller, KmsError};
    use ebsim_kms_client::LocalKms;

    use super::*;

    /// Answers a list operation with `pages` pages of two items each, recording the markers
    /// it was asked with; with `stuck`, every page says it is truncated at marker "1".
    #[derive(Debug, Default)]
    struct Pages {
        pages: usize,
        stuck: bool,
        asked: Mutex<Vec<Option<String>>>,
    }

    impl LocalKms for Pages {
        fn call(&self, _: &Caller, _: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
            let req: Value = serde_json::from_slice(body).unwrap_or_default();
            let marker = req["Marker"].as_str().map(str::to_owned);
            let page: usize = marker.as_deref().map_or(0, |m| m.parse().unwrap_or(0));
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(marker);
            }
            let items = json!([format!("{page}a"), format!("{page}b")]);
            let out = if self.stuck {
                json!({"Items": items, "Truncated": true, "NextMarker": "1"})
            } else if page + 1 < self.pages {
                json!({"Items": items, "Truncated": true, "NextMarker": (page + 1).to_string()})
            } else {
                json!({"Items": items, "Truncated": false})
            };
            Ok(out.to_string().into_bytes())
        }

        fn admin(&self, _: &Caller, _: &str, _: &[u8]) -> Result<Vec<u8>, KmsError> {
            Ok(b"{}".to_vec())
        }
    }

    #[test]
    fn paginate_follows_next_marker_to_the_last_page() {
        let kms = Arc::new(Pages {
            pages: 3,
            ..Pages::default()
        });
        let client = KmsClient::in_process(kms.clone());
        let all = paginate(&client, "ListThings", &json!({"Limit": 2}), "Items")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            all,
            json!(["0a", "0b", "1a", "1b", "2a", "2b"])
                .as_array()
                .cloned()
                .unwrap_or_default()
        );
        let asked = kms.asked.lock().map(|a| a.clone()).unwrap_or_default();
        assert_eq!(
            asked,
            vec![None, Some("1".to_owned()), Some("2".to_owned())]
        );
    }

    #[test]
    fn a_repeated_marker_is_an_error_not_a_loop() {
        let kms = Arc::new(Pages {
            stuck: true,
            ..Pages::default()
        });
        let client = KmsClient::in_process(kms);
        let e = paginate(&client, "ListThings", &json!({}), "Items").unwrap_err();
        assert!(
            matches!(&e, CliError::Pagination { operation: "ListThings", marker } if marker == "1"),
            "{e:?}"
        );
    }
}
