//! What the server exports: the [`BlockDevice`] trait, and an in-memory implementation.

use std::io;

use parking_lot::RwLock;

use crate::NbdError;

/// A block device the server can export.
///
/// The server only ever calls the I/O methods with whole blocks: `offset` and the length are
/// multiples of [`BlockDevice::block_size`] and the range lies inside [`BlockDevice::size`].
/// Methods are called concurrently from several threads (several requests in flight, several
/// connections), so implementations synchronise internally.
pub trait BlockDevice: Send + Sync {
    /// Size in bytes; a multiple of the block size.
    fn size(&self) -> u64;

    /// The sector size: a power of two from 512 to 65536. Advertised to clients as the
    /// minimum block size; requests that are not multiples of it are refused with `EINVAL`.
    fn block_size(&self) -> u32;

    /// Fills `buf` with the bytes at `offset`.
    ///
    /// # Errors
    /// Any failure of the underlying storage; the client gets the matching NBD error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Writes `data` at `offset`.
    ///
    /// # Errors
    /// As [`BlockDevice::read_at`].
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Writes `data` at `offset`, free to use `data` as scratch space: afterwards its contents
    /// are unspecified. The server calls this for `NBD_CMD_WRITE` with the buffer it received
    /// the payload into, so a device that transforms data on the way (an encrypting volume)
    /// can do it in place instead of in a copy. The default calls [`BlockDevice::write_at`].
    ///
    /// # Errors
    /// As [`BlockDevice::read_at`].
    fn write_at_mut(&self, offset: u64, data: &mut [u8]) -> io::Result<()> {
        self.write_at(offset, data)
    }

    /// Makes every completed write durable.
    ///
    /// # Errors
    /// As [`BlockDevice::read_at`].
    fn flush(&self) -> io::Result<()>;

    /// Discards a range. Afterwards the range must read as zeros (every ebsim store turns a
    /// trimmed range into a hole that reads as zeros).
    ///
    /// # Errors
    /// As [`BlockDevice::read_at`].
    fn trim(&self, offset: u64, len: u64) -> io::Result<()>;

    /// Makes a range read as zeros. With `no_hole`, the range must stay allocated, so the
    /// default writes zero blocks; otherwise it trims.
    ///
    /// # Errors
    /// As [`BlockDevice::read_at`].
    fn write_zeroes(&self, offset: u64, len: u64, no_hole: bool) -> io::Result<()> {
        if !no_hole {
            return self.trim(offset, len);
        }
        let zeros = vec![0u8; ZERO_CHUNK.min(usize::try_from(len).unwrap_or(ZERO_CHUNK))];
        let mut done = 0u64;
        while done < len {
            let n = usize::try_from(len - done).map_or(zeros.len(), |r| r.min(zeros.len()));
            self.write_at(offset + done, &zeros[..n])?;
            done += n as u64;
        }
        Ok(())
    }

    /// Whether the export refuses writes.
    fn is_read_only(&self) -> bool {
        false
    }

    /// Allocation status of `[offset, offset + len)` for `NBD_CMD_BLOCK_STATUS`
    /// (`base:allocation`): consecutive extents from `offset`, covering at least a first part
    /// of the range. The default reports the whole range as allocated data, which is always
    /// correct; devices that know their holes can let clients skip them.
    ///
    /// # Errors
    /// As [`BlockDevice::read_at`].
    fn extents(&self, offset: u64, len: u32) -> io::Result<Vec<Extent>> {
        let _ = offset;
        Ok(vec![Extent {
            length: len,
            hole: false,
            zero: false,
        }])
    }
}

/// A run of blocks with one allocation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Length in bytes (a multiple of the block size).
    pub length: u32,
    /// Not allocated (`NBD_STATE_HOLE`).
    pub hole: bool,
    /// Reads as zeros (`NBD_STATE_ZERO`).
    pub zero: bool,
}

/// Size of the zero buffer the default [`BlockDevice::write_zeroes`] writes from.
const ZERO_CHUNK: usize = 1 << 20;

/// Bytes per lock stripe of [`MemoryDevice`].
const STRIPE: usize = 1 << 20;

/// A block device held in memory (for tests and benchmarks); requests to different 1 MiB
/// stripes proceed in parallel.
pub struct MemoryDevice {
    size: u64,
    block_size: u32,
    stripes: Vec<RwLock<Vec<u8>>>,
}

impl std::fmt::Debug for MemoryDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDevice")
            .field("size", &self.size)
            .field("block_size", &self.block_size)
            .finish_non_exhaustive()
    }
}

impl MemoryDevice {
    /// A zero-filled device of `size` bytes with `block_size`-byte sectors.
    ///
    /// # Errors
    /// [`NbdError::BadBlockSize`] unless `block_size` is a power of two in 512..=65536;
    /// [`NbdError::BadSize`] unless `size` is a multiple of it and fits in memory.
    pub fn new(size: u64, block_size: u32) -> Result<Self, NbdError> {
        check_geometry(size, block_size)?;
        let total = usize::try_from(size).map_err(|_| NbdError::BadSize { size, block_size })?;
        let stripes = (0..total.div_ceil(STRIPE))
            .map(|i| RwLock::new(vec![0u8; STRIPE.min(total - i * STRIPE)]))
            .collect();
        Ok(Self {
            size,
            block_size,
            stripes,
        })
    }

    /// Calls `f(stripe_index, offset_in_stripe, range_in_request)` for each stripe piece of
    /// `[offset, offset + len)`.
    fn pieces(offset: u64, len: usize, mut f: impl FnMut(usize, usize, std::ops::Range<usize>)) {
        let mut done = 0usize;
        while done < len {
            let pos = offset as usize + done;
            let (idx, within) = (pos / STRIPE, pos % STRIPE);
            let n = (STRIPE - within).min(len - done);
            f(idx, within, done..done + n);
            done += n;
        }
    }

    fn check(&self, offset: u64, len: u64) -> io::Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range past the end of the device",
            )),
        }
    }
}

impl BlockDevice for MemoryDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.check(offset, buf.len() as u64)?;
        Self::pieces(offset, buf.len(), |i, at, r| {
            let s = self.stripes[i].read();
            let n = r.len();
            buf[r].copy_from_slice(&s[at..at + n]);
        });
        Ok(())
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check(offset, data.len() as u64)?;
        Self::pieces(offset, data.len(), |i, at, r| {
            let mut s = self.stripes[i].write();
            let n = r.len();
            s[at..at + n].copy_from_slice(&data[r]);
        });
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    fn extents(&self, offset: u64, len: u32) -> io::Result<Vec<Extent>> {
        self.check(offset, u64::from(len))?;
        // All-zero blocks are reported as holes that read as zeros.
        let bs = self.block_size as usize;
        let mut out: Vec<Extent> = Vec::new();
        Self::pieces(offset, len as usize, |i, at, r| {
            let s = self.stripes[i].read();
            for block in s[at..at + r.len()].chunks(bs) {
                let zero = is_zero(block);
                match out.last_mut() {
                    Some(e) if e.zero == zero => e.length += block.len() as u32,
                    _ => out.push(Extent {
                        length: block.len() as u32,
                        hole: zero,
                        zero,
                    }),
                }
            }
        });
        Ok(out)
    }

    fn trim(&self, offset: u64, len: u64) -> io::Result<()> {
        self.check(offset, len)?;
        // In range of an in-memory buffer, so it fits in usize.
        let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        Self::pieces(offset, len, |i, at, r| {
            self.stripes[i].write()[at..at + r.len()].fill(0);
        });
        Ok(())
    }
}

/// Whether `b` is all zero bytes (stops at the first non-zero 16-byte word).
fn is_zero(b: &[u8]) -> bool {
    let words = b.chunks_exact(16);
    let tail = words.remainder();
    words
        .map(|w| u128::from_ne_bytes(w.try_into().unwrap_or([1; 16])))
        .all(|w| w == 0)
        && tail.iter().all(|&x| x == 0)
}

/// Validates a device's geometry.
pub(crate) fn check_geometry(size: u64, block_size: u32) -> Result<(), NbdError> {
    if !block_size.is_power_of_two() || !(512..=65536).contains(&block_size) {
        return Err(NbdError::BadBlockSize(block_size));
    }
    if !size.is_multiple_of(u64::from(block_size)) {
        return Err(NbdError::BadSize { size, block_size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_device_round_trips_across_stripes() {
        let dev = MemoryDevice::new(3 << 20, 512).expect("device");
        let data: Vec<u8> = (0..(STRIPE + 4096)).map(|i| (i % 251) as u8).collect();
        let off = (STRIPE - 2048) as u64;
        dev.write_at(off, &data).expect("write");
        let mut back = vec![0u8; data.len()];
        dev.read_at(off, &mut back).expect("read");
        assert_eq!(back, data);
        dev.write_zeroes(off, 4096, true).expect("zero");
        dev.read_at(off, &mut back).expect("read");
        assert!(back[..4096].iter().all(|&b| b == 0));
        assert_eq!(back[4096..], data[4096..]);
        dev.trim(off + 4096, 4096).expect("trim");
        dev.read_at(off, &mut back).expect("read");
        assert!(back[..8192].iter().all(|&b| b == 0));
        assert!(dev.read_at(3 << 20, &mut [0u8; 512]).is_err());
        let e = dev.extents(off, 4 * 4096).expect("extents");
        assert_eq!(
            e,
            [
                Extent {
                    length: 8192,
                    hole: true,
                    zero: true
                },
                Extent {
                    length: 8192,
                    hole: false,
                    zero: false
                }
            ]
        );
        assert!(dev.write_at(u64::MAX - 511, &[0u8; 512]).is_err());
    }

    #[test]
    fn geometry_is_validated() {
        assert!(matches!(
            MemoryDevice::new(4096, 1000),
            Err(NbdError::BadBlockSize(1000))
        ));
        assert!(matches!(
            MemoryDevice::new(4097, 512),
            Err(NbdError::BadSize { .. })
        ));
        assert!(matches!(
            MemoryDevice::new(4096, 256),
            Err(NbdError::BadBlockSize(256))
        ));
    }
}
