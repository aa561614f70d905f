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

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ebsim_kms::trust::{
    CHALLENGE_PARAM, PING_BODY, PING_PATH, PROOF_HEADER, new_challenge, proof_matches,
};

use crate::http::{StaticCredentials, host_of};

/// `DIR/kms/endpoint`: where `ebsim kms serve` publishes itself while it runs.
pub fn endpoint_file(dir: &Path) -> PathBuf {
    dir.join("kms").join("endpoint")
}

/// `DIR/kms/.lock`: held by whichever process owns the data dir's KMS.
pub fn lock_file(dir: &Path) -> PathBuf {
    dir.join("kms").join(".lock")
}

/// `DIR/kms/service-credential`.
pub fn service_credential_file(dir: &Path) -> PathBuf {
    dir.join("kms").join("service-credential")
}

/// Largest endpoint file read.
const MAX_ENDPOINT_FILE: u64 = 4096;

/// What `DIR/kms/endpoint` says: the server's URL, pid and process start time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    /// `http://127.0.0.1:4599`.
    pub url: String,
    /// The server's process id.
    pub pid: u32,
    /// The server's start time, in clock ticks after boot (`/proc/PID/stat`, field 22).
    pub start_time: u64,
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

impl EndpointRecord {
    /// The record for a server at `url` running in this process.
    ///
    /// # Errors
    /// When this process's start time cannot be read.
    pub fn for_this_process(url: &str) -> std::io::Result<Self> {
        let pid = std::process::id();
        let start_time = process_start_time(pid)
            .ok_or_else(|| std::io::Error::other("cannot read this process's start time"))?;
        Ok(Self {
            url: url.to_owned(),
            pid,
            start_time,
        })
    }

    /// The file's text: the URL on the first line, then `pid N` and `start-time N`.
    pub fn render(&self) -> String {
        format!(
            "{}\npid {}\nstart-time {}\n",
            self.url, self.pid, self.start_time
        )
    }

    /// Parses [`EndpointRecord::render`]'s format.
    ///
    /// # Errors
    /// [`Untrusted::Malformed`] for anything else.
    pub fn parse(text: &str) -> Result<Self, Untrusted> {
        let mut lines = text.lines();
        let url = lines.next().map(str::trim).unwrap_or_default();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Untrusted::Malformed);
        }
        let (mut pid, mut start_time) = (None, None);
        for line in lines {
            match line.trim().split_once(' ') {
                Some(("pid", v)) => pid = v.trim().parse().ok(),
                Some(("start-time", v)) => start_time = v.trim().parse().ok(),
                _ => {}
            }
        }
        match (pid, start_time) {
            (Some(pid), Some(start_time)) if pid > 0 => Ok(Self {
                url: url.to_owned(),
                pid,
                start_time,
            }),
            _ => Err(Untrusted::Malformed),
        }
    }
}

/// Publishes `record` as `DIR/kms/endpoint` (mode 0600, atomically).
///
/// # Errors
/// When the file cannot be written.
pub fn publish_endpoint(dir: &Path, record: &EndpointRecord) -> std::io::Result<()> {
    let path = endpoint_file(dir);
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(record.render().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)
}

/// Removes `DIR/kms/endpoint` if it still names `record`.
pub fn withdraw_endpoint(dir: &Path, record: &EndpointRecord) {
    let path = endpoint_file(dir);
    if read_record(&path).is_ok_and(|r| r == *record) {
        let _ = std::fs::remove_file(path);
    }
}

/// Removes a stale `DIR/kms/endpoint`. Call only while holding the data dir's lock (then no
/// server of this data dir runs).
pub fn remove_stale_endpoint(dir: &Path) {
    let _ = std::fs::remove_file(endpoint_file(dir));
}

fn read_record(path: &Path) -> Result<EndpointRecord, Untrusted> {
    let f = std::fs::File::open(path).map_err(|_| Untrusted::Malformed)?;
    let mut text = String::new();
    f.take(MAX_ENDPOINT_FILE)
        .read_to_string(&mut text)
        .map_err(|_| Untrusted::Malformed)?;
    EndpointRecord::parse(&text)
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
    let record = read_record(&endpoint_file(dir))?;
    if process_start_time(record.pid) != Some(record.start_time) {
        return Err(Untrusted::Gone(record.pid));
    }
    if !holds_lock(&lock_file(dir), record.pid) {
        return Err(Untrusted::NotLockHolder(record.pid));
    }
    let credential = StaticCredentials::from_service_credential_file(&service_credential_file(dir))
        .map_err(|_| Untrusted::NoCredential)?;
    if challenge(&record.url, &credential, timeout) {
        Ok(record.url)
    } else {
        Err(Untrusted::NoProof(record.url))
    }
}

/// Sends a fresh challenge to `url` and checks the proof against the service credential.
fn challenge(url: &str, credential: &StaticCredentials, timeout: Duration) -> bool {
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
    body_ok && proof.is_some_and(|p| proof_matches(credential.secret_bytes(), &host, &c, &p))
}

/// A process's start time in clock ticks after boot (`/proc/PID/stat`, field 22).
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain anything: fields after
    // the last ')' start with field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` holds a `flock` write lock on `path` (`/proc/locks`).
fn holds_lock(path: &Path, pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    let ino = meta.ino().to_string();
    locks.lines().any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  WRITE 16069 fe:00:10011001 0 EOF"
        f.len() >= 6
            && f[1] == "FLOCK"
            && f[3] == "WRITE"
            && f[4] == pid.to_string()
            && f[5].rsplit(':').next() == Some(ino.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_malformed() {
        let r = EndpointRecord::for_this_process("http://127.0.0.1:4599").unwrap();
        assert_eq!(r.pid, std::process::id());
        assert_eq!(EndpointRecord::parse(&r.render()), Ok(r));
        for bad in [
            "",
            "http://127.0.0.1:4599\n",
            "http://127.0.0.1:4599\npid x\nstart-time 3\n",
            "http://127.0.0.1:4599\npid 0\nstart-time 3\n",
            "ftp://x\npid 1\nstart-time 3\n",
        ] {
            assert_eq!(
                EndpointRecord::parse(bad),
                Err(Untrusted::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn process_start_time_tells_processes_apart() {
        let me = process_start_time(std::process::id()).unwrap();
        assert_eq!(process_start_time(std::process::id()), Some(me));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let theirs = process_start_time(child.id());
        assert!(theirs.is_some_and(|t| t >= me));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(process_start_time(child.id()), None, "reaped");
    }

    #[test]
    fn the_lock_holder_is_found_in_proc_locks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let f = std::fs::File::create(&path).unwrap();
        assert!(!holds_lock(&path, std::process::id()));
        f.lock().unwrap();
        assert!(holds_lock(&path, std::process::id()));
        assert!(!holds_lock(&path, std::process::id() + 1));
        f.unlock().unwrap();
        assert!(!holds_lock(&path, std::process::id()));
    }
}
