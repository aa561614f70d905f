//! Finding a data dir's running `ebsim kms serve`, and trusting it only once it proves that
//! it holds the data dir (docs/formats.md, "The endpoint file and its proof").
//!
//! `DIR/kms/endpoint` names the server's URL, its pid and its process start time. A client
//! routes to it only when
//! 1. that process still runs with that start time and holds the lock on `DIR/kms/.lock`, and
//! 2. the server answers a fresh random challenge with the HMAC of it under the data dir's
//!    service secret (which only a process that can read the data dir has).
//!
//! Anything else means the file is stale (its server died without removing it) or planted:
//! the client warns once and uses the embedded KMS instead.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use ebsim_data_dir::EndpointRecord;
use ebsim_data_dir::{DataDir, holds_lock, process_start_time, read_endpoint};
use ebsim_kms_api::sign::AccessKey;
use ebsim_kms_api::trust::{
    CHALLENGE_PARAM, PING_BODY, PING_PATH, PROOF_HEADER, new_challenge, proof_matches,
};

use crate::http::{host_of, read_service_credential};

/// `DIR/kms/endpoint`: where `ebsim kms serve` publishes itself while it runs.
pub fn endpoint_file(dir: &Path) -> PathBuf {
    DataDir::new(dir).kms_endpoint()
}

/// `DIR/kms/.lock`: held by whichever process owns the data dir's KMS.
pub fn lock_file(dir: &Path) -> PathBuf {
    DataDir::new(dir).kms_lock()
}

/// `DIR/kms/service-credential`.
pub fn service_credential_file(dir: &Path) -> PathBuf {
    DataDir::new(dir).service_credential()
}

/// Why an endpoint file is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Untrusted {
    /// The file cannot be parsed.
    #[error("it is not an endpoint record")]
    Malformed,
    /// No process with that pid and start time runs.
    #[error("its server (pid {0}) is gone")]
    Gone(u32),
    /// The process does not hold the data dir's lock.
    #[error("its server (pid {0}) does not hold the data dir's lock")]
    NotLockHolder(u32),
    /// The data dir's service credential cannot be read.
    #[error("the data dir's service credential cannot be read")]
    NoCredential,
    /// No answer, or a wrong one, to the challenge.
    #[error("the server at {0} did not prove it holds the data dir")]
    NoProof(String),
}

/// Publishes `record` as `DIR/kms/endpoint` (mode 0600, atomically).
///
/// # Errors
/// When the file cannot be written.
pub fn publish_endpoint(dir: &Path, record: &EndpointRecord) -> std::io::Result<()> {
    ebsim_data_dir::publish_endpoint(&endpoint_file(dir), record)
}

/// Removes `DIR/kms/endpoint` if it still names `record`.
pub fn withdraw_endpoint(dir: &Path, record: &EndpointRecord) {
    ebsim_data_dir::withdraw_endpoint(&endpoint_file(dir), record);
}

/// Removes a stale `DIR/kms/endpoint`. Call only while holding the data dir's lock (then no
/// server of this data dir runs).
#[cfg(feature = "embedded")]
pub(crate) fn remove_stale_endpoint(dir: &Path) {
    ebsim_data_dir::remove_endpoint(&endpoint_file(dir));
}
/// The URL of the data dir's running server, once it has proved itself; `None` when there
/// is no endpoint file, or (with a `tracing` warning, once per process) when it is not
/// trusted.
pub fn running_server(dir: &Path) -> Option<String> {
    let path = endpoint_file(dir);
    if !path.exists() {
        return None;
    }
    match verify_endpoint(dir, Duration::from_millis(500)) {
        Ok(url) => Some(url),
        Err(why) => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!("ignoring {}: {why}; using the embedded KMS", path.display());
            }
            None
        }
    }
}

/// Checks the data dir's endpoint file: the process, its lock, then the challenge.
///
/// # Errors
/// Why the endpoint is not trusted.
pub fn verify_endpoint(dir: &Path, timeout: Duration) -> Result<String, Untrusted> {
    let record = read_endpoint(&endpoint_file(dir)).map_err(|_| Untrusted::Malformed)?;
    if process_start_time(record.pid) != Some(record.start_time) {
        return Err(Untrusted::Gone(record.pid));
    }
    if !holds_lock(&lock_file(dir), record.pid) {
        return Err(Untrusted::NotLockHolder(record.pid));
    }
    let credential = read_service_credential(&service_credential_file(dir))
        .map_err(|_| Untrusted::NoCredential)?;
    if challenge(&record.url, &credential, timeout) {
        Ok(record.url)
    } else {
        Err(Untrusted::NoProof(record.url))
    }
}

/// Sends a fresh challenge to `url` and checks the proof against the service credential.
fn challenge(url: &str, credential: &AccessKey, timeout: Duration) -> bool {
    let Ok(host) = host_of(url) else {
        return false;
    };
    let c = new_challenge();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .build()
        .into();
    let target = format!(
        "{}{PING_PATH}?{CHALLENGE_PARAM}={}",
        url.trim_end_matches('/'),
        hex::encode(c)
    );
    let Ok(mut resp) = agent.get(&target).header("host", &host).call() else {
        return false;
    };
    let proof = resp
        .headers()
        .get(PROOF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body_ok = resp
        .body_mut()
        .read_to_string()
        .is_ok_and(|b| b.len() <= 64 && b == PING_BODY);
    body_ok && proof.is_some_and(|p| proof_matches(credential.secret().as_bytes(), &host, &c, &p))
}
