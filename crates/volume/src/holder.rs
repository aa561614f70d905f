//! The copy service of the process that holds a volume's attach lock: other processes of the
//! same user (a snapshot being taken) read the volume's stored bytes through it, under the
//! holder's range locks, so that the copy is crash-consistent while writes go on
//! (docs/formats.md, "Snapshots").
//!
//! The holder listens on `DIR/volumes/<id>/copy.sock` (a Unix socket in the volume's 0700
//! directory, so only the data dir's owner can reach it). Each request is 17 bytes: an
//! operation (1 = read stored bytes, 2 = allocated ranges), a byte offset and a length (both
//! u64 little-endian). Each answer starts with a status byte (0 = ok, 1 = error) and a u64
//! length, then that many bytes: the data, 16-byte `(offset, len)` pairs, or an error message.

use std::io::{Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::metadata::VolumeMetadata;
use crate::{CiphertextAccess, VolumeError, VolumeRoot};

/// The socket's name in the volume's directory.
pub const COPY_SOCKET: &str = "copy.sock";
/// The longest read one request may ask for (1 MiB).
const MAX_READ: u64 = 1 << 20;
/// The most ranges one allocation answer may hold.
const MAX_RANGES: u64 = 1 << 20;
const OP_READ: u8 = 1;
const OP_ALLOC: u8 = 2;
const TIMEOUT: Duration = Duration::from_secs(30);

/// A running copy service; dropping it stops it and removes the socket.
pub struct CopyService {
    stop: Arc<AtomicBool>,
    path: PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for CopyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyService")
            .field("path", &self.path)
            .finish()
    }
}

impl CopyService {
    /// Serves `source` (a volume this process holds attached) on its volume's socket.
    ///
    /// # Errors
    /// The root is in memory (no socket), or the socket cannot be bound (a path too long for
    /// a Unix socket, a file-system error).
    pub fn start(
        root: &VolumeRoot,
        source: Arc<dyn CiphertextAccess>,
    ) -> Result<Self, VolumeError> {
        let id = source.meta().volume_id.clone();
        let Some(dir) = root.volume_dir(&id) else {
            return Err(VolumeError::fs(
                "cannot serve copies of",
                PathBuf::from(&id),
                std::io::Error::other("an in-memory volume has no socket"),
            ));
        };
        let path = dir.join(COPY_SOCKET);
        // We hold the volume's lock: a socket left here is a dead holder's.
        let _ = std::fs::remove_file(&path);
        let listener =
            UnixListener::bind(&path).map_err(|e| VolumeError::fs("cannot listen on", &path, e))?;
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        listener
            .set_nonblocking(true)
            .map_err(|e| VolumeError::fs("cannot listen on", &path, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("copy service {id}"))
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            let source = source.clone();
                            let _ = std::thread::Builder::new()
                                .name("copy connection".into())
                                .spawn(move || serve(conn, source.as_ref()));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
            .map_err(|e| VolumeError::fs("cannot start the copy service of", &path, e))?;
        Ok(Self {
            stop,
            path,
            thread: Some(thread),
        })
    }
}

impl Drop for CopyService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn answer(conn: &mut UnixStream, result: Result<Vec<u8>, String>) -> std::io::Result<()> {
    let (status, body) = match result {
        Ok(b) => (0u8, b),
        Err(m) => (1u8, m.into_bytes()),
    };
    let mut head = [0u8; 9];
    head[0] = status;
    head[1..].copy_from_slice(&(body.len() as u64).to_le_bytes());
    conn.write_all(&head)?;
    conn.write_all(&body)
}

fn serve(mut conn: UnixStream, source: &dyn CiphertextAccess) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(300)));
    let _ = conn.set_write_timeout(Some(TIMEOUT));
    let mut req = [0u8; 17];
    while conn.read_exact(&mut req).is_ok() {
        let offset = u64::from_le_bytes(req[1..9].try_into().unwrap_or_default());
        let len = u64::from_le_bytes(req[9..17].try_into().unwrap_or_default());
        let result = match req[0] {
            OP_READ if len <= MAX_READ => {
                let mut buf = vec![0u8; len as usize];
                source
                    .read_stored(offset, &mut buf)
                    .map(|()| buf)
                    .map_err(|e| e.to_string())
            }
            OP_READ => Err(format!("a read of {len} bytes is over {MAX_READ}")),
            OP_ALLOC => source
                .allocated(offset, len)
                .map_err(|e| e.to_string())
                .and_then(|runs| {
                    if runs.len() as u64 > MAX_RANGES {
                        return Err("too many allocated ranges".to_owned());
                    }
                    Ok(runs
                        .iter()
                        .flat_map(|(o, l)| o.to_le_bytes().into_iter().chain(l.to_le_bytes()))
                        .collect())
                }),
            op => Err(format!("unknown operation {op}")),
        };
        if answer(&mut conn, result).is_err() {
            return;
        }
    }
}

/// A volume held attached by another process, read through that process's copy service.
pub struct HeldVolume {
    meta: VolumeMetadata,
    conn: Mutex<UnixStream>,
}

impl std::fmt::Debug for HeldVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldVolume")
            .field("volume_id", &self.meta.volume_id)
            .finish_non_exhaustive()
    }
}

impl HeldVolume {
    fn call(&self, op: u8, offset: u64, len: u64, max: u64) -> Result<Vec<u8>, VolumeError> {
        let fail = |e: std::io::Error| {
            VolumeError::fs(
                "cannot copy through the holder of",
                PathBuf::from(&self.meta.volume_id),
                e,
            )
        };
        let mut conn = self.conn.lock();
        let mut req = [0u8; 17];
        req[0] = op;
        req[1..9].copy_from_slice(&offset.to_le_bytes());
        req[9..17].copy_from_slice(&len.to_le_bytes());
        conn.write_all(&req).map_err(fail)?;
        let mut head = [0u8; 9];
        conn.read_exact(&mut head).map_err(fail)?;
        let n = u64::from_le_bytes(head[1..].try_into().unwrap_or_default());
        if n > max {
            return Err(fail(std::io::Error::other("an answer over its bound")));
        }
        let mut body = vec![0u8; n as usize];
        conn.read_exact(&mut body).map_err(fail)?;
        if head[0] != 0 {
            return Err(fail(std::io::Error::other(
                String::from_utf8_lossy(&body).into_owned(),
            )));
        }
        Ok(body)
    }
}

impl CiphertextAccess for HeldVolume {
    fn meta(&self) -> &VolumeMetadata {
        &self.meta
    }

    fn allocated(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, VolumeError> {
        let body = self.call(OP_ALLOC, offset, len, MAX_RANGES * 16)?;
        Ok(body
            .chunks_exact(16)
            .map(|c| {
                let o = u64::from_le_bytes(c[..8].try_into().unwrap_or_default());
                let l = u64::from_le_bytes(c[8..].try_into().unwrap_or_default());
                (o, l)
            })
            .collect())
    }

    fn read_stored(&self, offset: u64, buf: &mut [u8]) -> Result<(), VolumeError> {
        let body = self.call(OP_READ, offset, buf.len() as u64, MAX_READ)?;
        if body.len() != buf.len() {
            return Err(VolumeError::fs(
                "cannot copy through the holder of",
                PathBuf::from(&self.meta.volume_id),
                std::io::Error::other("a short answer"),
            ));
        }
        buf.copy_from_slice(&body);
        Ok(())
    }
}

impl VolumeRoot {
    /// Connects to the copy service of the process holding `volume_id` attached.
    ///
    /// # Errors
    /// [`VolumeError::NotFound`], or [`VolumeError::InUse`] when no holder serves copies
    /// (a process that holds the volume without a copy service, such as a one-shot write).
    pub fn connect_holder(&self, volume_id: &str) -> Result<HeldVolume, VolumeError> {
        let meta = self.load(volume_id)?;
        let Some(dir) = self.volume_dir(volume_id) else {
            return Err(VolumeError::InUse(volume_id.to_owned()));
        };
        let conn = UnixStream::connect(dir.join(COPY_SOCKET))
            .map_err(|_| VolumeError::InUse(volume_id.to_owned()))?;
        let _ = conn.set_read_timeout(Some(TIMEOUT));
        let _ = conn.set_write_timeout(Some(TIMEOUT));
        Ok(HeldVolume {
            meta,
            conn: Mutex::new(conn),
        })
    }
}
