//! Access keys of account roots, for servers that accept only keys ebsim issued
//! (`kms serve --credentials strict`): one pair per account, generated on first use and kept
//! in `DIR/kms/root-credentials` (mode 0600, beside the service credential; a reset keeps
//! it). See docs/kms.md, "Identities and credentials".

use std::collections::BTreeMap;
use std::path::PathBuf;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::store::{KmsOpenError, new_access_key};

/// One account root's access key.
struct RootKey {
    access_key_id: String,
    secret: Zeroizing<String>,
}

/// The root access keys of every account that has one.
pub(super) struct RootKeys {
    /// `None` in memory.
    path: Option<PathBuf>,
    /// Account → key.
    keys: RwLock<BTreeMap<String, RootKey>>,
}

impl std::fmt::Debug for RootKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootKeys")
            .field("path", &self.path)
            .field("accounts", &self.keys.read().keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The file: `{"Accounts": {"111122223333": {"AccessKeyId": …, "SecretAccessKey": …}}}`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct File {
    accounts: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Entry {
    access_key_id: String,
    secret_access_key: String,
}

impl Drop for Entry {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret_access_key);
    }
}

/// Largest accepted file (a few thousand accounts).
const MAX_FILE: u64 = 1 << 20;

impl RootKeys {
    /// No keys, kept in memory.
    pub(super) fn in_memory() -> Self {
        Self {
            path: None,
            keys: RwLock::new(BTreeMap::new()),
        }
    }

    /// The keys of `path` (none when it does not exist).
    pub(super) fn load(path: PathBuf) -> Result<Self, KmsOpenError> {
        let io = |source| KmsOpenError::Io {
            path: path.clone(),
            source,
        };
        let corrupt = |message: String| KmsOpenError::Corrupt {
            path: path.clone(),
            message,
        };
        let mut keys = BTreeMap::new();
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
            Ok(m) if m.len() > MAX_FILE => {
                return Err(corrupt(format!("larger than {MAX_FILE} bytes")));
            }
            Ok(_) => {
                let bytes = Zeroizing::new(std::fs::read(&path).map_err(io)?);
                let file: File =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                for (account, e) in &file.accounts {
                    if account.parse::<ebsim_kms_api::id::AccountId>().is_err() {
                        return Err(corrupt(format!("'{account}' is not an account id")));
                    }
                    keys.insert(
                        account.clone(),
                        RootKey {
                            access_key_id: e.access_key_id.clone(),
                            secret: Zeroizing::new(e.secret_access_key.clone()),
                        },
                    );
                }
            }
        }
        Ok(Self {
            path: Some(path),
            keys: RwLock::new(keys),
        })
    }

    /// The account and secret of root access key `access_key_id`.
    pub(super) fn lookup(&self, access_key_id: &str) -> Option<(String, Zeroizing<String>)> {
        self.keys
            .read()
            .iter()
            .find(|(_, k)| k.access_key_id == access_key_id)
            .map(|(a, k)| (a.clone(), k.secret.clone()))
    }

    /// The root access key of `account`, generated (and saved) on first use.
    pub(super) fn get_or_create(
        &self,
        account: &str,
    ) -> std::io::Result<(String, Zeroizing<String>)> {
        let mut keys = self.keys.write();
        if let Some(k) = keys.get(account) {
            return Ok((k.access_key_id.clone(), k.secret.clone()));
        }
        let (access_key_id, secret) = new_access_key("AKIA");
        keys.insert(
            account.to_owned(),
            RootKey {
                access_key_id: access_key_id.clone(),
                secret: secret.clone(),
            },
        );
        if let Some(path) = &self.path {
            let file = File {
                accounts: keys
                    .iter()
                    .map(|(a, k)| {
                        (
                            a.clone(),
                            Entry {
                                access_key_id: k.access_key_id.clone(),
                                secret_access_key: k.secret.to_string(),
                            },
                        )
                    })
                    .collect(),
            };
            let json = Zeroizing::new(serde_json::to_vec(&file).map_err(std::io::Error::other)?);
            if let Err(e) = ebsim_data_dir::write_private_atomic(path, &json) {
                keys.remove(account);
                return Err(e);
            }
        }
        Ok((access_key_id, secret))
    }
}
