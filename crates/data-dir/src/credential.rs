//! The service credential file, `DIR/kms/service-credential` (mode 0600):
//! `{"AccessKeyId": "...", "SecretAccessKey": "..."}`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::files::write_private_atomic;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct File<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
}

/// Why the service credential could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a credential.
    #[error(
        "{path} is not a service credential (a JSON object with AccessKeyId and SecretAccessKey)"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
    },
}

/// Reads the service credential: (access key id, secret). `Ok(None)` when there is none.
///
/// # Errors
/// [`CredentialError`] when the file exists but cannot be read or parsed.
pub fn read_service_credential(
    path: &Path,
) -> Result<Option<(String, Zeroizing<String>)>, CredentialError> {
    let bytes = match crate::read_regular(path, 64 << 10) {
        Ok(b) => Zeroizing::new(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CredentialError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let f: File<'_> = serde_json::from_slice(&bytes).map_err(|_| CredentialError::Malformed {
        path: path.to_owned(),
    })?;
    Ok(Some((
        f.access_key_id.to_owned(),
        Zeroizing::new(f.secret_access_key.to_owned()),
    )))
}

/// Writes the service credential (mode 0600, atomically).
///
/// # Errors
/// [`CredentialError::Io`].
pub fn write_service_credential(
    path: &Path,
    access_key_id: &str,
    secret: &str,
) -> Result<(), CredentialError> {
    let json = Zeroizing::new(
        serde_json::to_vec(&File {
            access_key_id,
            secret_access_key: secret,
        })
        .map_err(|_| CredentialError::Malformed {
            path: path.to_owned(),
        })?,
    );
    write_private_atomic(path, &json).map_err(|source| CredentialError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("service-credential");
        assert!(read_service_credential(&p).unwrap().is_none());
        write_service_credential(&p, "ASIAEXAMPLE", "s3cr3t").unwrap();
        let (id, secret) = read_service_credential(&p).unwrap().unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("ASIAEXAMPLE", "s3cr3t"));
        std::fs::write(&p, b"[1]").unwrap();
        assert!(matches!(
            read_service_credential(&p),
            Err(CredentialError::Malformed { .. })
        ));
    }
}
