//! The endpoint record of a running `ebsim kms serve` (docs/formats.md, "The endpoint file
//! and its proof"), and the process checks a client makes before it trusts one.

use std::io::Read;
use std::path::Path;

use crate::files::write_private_atomic;

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

/// An endpoint file that is not an endpoint record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an endpoint record")]
pub struct MalformedRecord;

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

    /// Parses [`EndpointRecord::render`]'s format (lines it does not know are ignored).
    ///
    /// # Errors
    /// [`MalformedRecord`] for anything else.
    pub fn parse(text: &str) -> Result<Self, MalformedRecord> {
        let mut lines = text.lines();
        let url = lines.next().map(str::trim).unwrap_or_default();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(MalformedRecord);
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
            _ => Err(MalformedRecord),
        }
    }
}

/// Publishes `record` at `path` (mode 0600, atomically).
///
/// # Errors
/// When the file cannot be written.
pub fn publish_endpoint(path: &Path, record: &EndpointRecord) -> std::io::Result<()> {
    write_private_atomic(path, record.render().as_bytes())
}

/// Reads the record at `path` (at most 4 KiB).
///
/// # Errors
/// [`MalformedRecord`] when it is missing, unreadable or not a record.
pub fn read_endpoint(path: &Path) -> Result<EndpointRecord, MalformedRecord> {
    let f = crate::open_regular(path, std::fs::OpenOptions::new().read(true))
        .map_err(|_| MalformedRecord)?;
    let mut text = String::new();
    f.take(MAX_ENDPOINT_FILE)
        .read_to_string(&mut text)
        .map_err(|_| MalformedRecord)?;
    EndpointRecord::parse(&text)
}

/// Removes the record at `path` if it still names `record`.
pub fn withdraw_endpoint(path: &Path, record: &EndpointRecord) {
    if read_endpoint(path).is_ok_and(|r| r == *record) {
        let _ = std::fs::remove_file(path);
    }
}

/// Removes the record at `path` whatever it says. Call only while holding the data dir's KMS
/// lock (then no server of this data dir runs).
pub fn remove_endpoint(path: &Path) {
    let _ = std::fs::remove_file(path);
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
pub fn holds_lock(path: &Path, pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    let ino = meta.ino().to_string();
    let pid = pid.to_string();
    locks.lines().any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  WRITE 16069 fe:00:10011001 0 EOF"
        f.len() >= 6
            && f[1] == "FLOCK"
            && f[3] == "WRITE"
            && f[4] == pid
            && f[5].rsplit(':').next() == Some(ino.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::ExclusiveLock;

    #[test]
    fn records_round_trip_and_garbage_is_malformed() {
        let r = EndpointRecord::for_this_process("http://127.0.0.1:4599").unwrap();
        assert_eq!(r.pid, std::process::id());
        assert_eq!(EndpointRecord::parse(&r.render()), Ok(r.clone()));
        for bad in [
            "",
            "http://127.0.0.1:4599\n",
            "http://127.0.0.1:4599\npid x\nstart-time 3\n",
            "http://127.0.0.1:4599\npid 0\nstart-time 3\n",
            "ftp://x\npid 1\nstart-time 3\n",
        ] {
            assert_eq!(EndpointRecord::parse(bad), Err(MalformedRecord), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("endpoint");
        publish_endpoint(&p, &r).unwrap();
        assert_eq!(read_endpoint(&p), Ok(r.clone()));
        let other = EndpointRecord {
            pid: r.pid + 1,
            ..r.clone()
        };
        withdraw_endpoint(&p, &other);
        assert!(p.exists(), "names another server");
        withdraw_endpoint(&p, &r);
        assert!(!p.exists());
    }

    #[test]
    fn process_start_time_tells_processes_apart() {
        let me = process_start_time(std::process::id()).unwrap();
        assert_eq!(process_start_time(std::process::id()), Some(me));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(process_start_time(child.id()).is_some_and(|t| t >= me));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(process_start_time(child.id()), None, "reaped");
    }

    #[test]
    fn the_lock_holder_is_found_in_proc_locks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        std::fs::File::create(&path).unwrap();
        assert!(!holds_lock(&path, std::process::id()));
        let lock = ExclusiveLock::try_acquire(&path).unwrap();
        assert!(holds_lock(&path, std::process::id()));
        assert!(!holds_lock(&path, std::process::id() + 1));
        drop(lock);
        assert!(!holds_lock(&path, std::process::id()));
    }
}
