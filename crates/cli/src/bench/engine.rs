//! The engine alone: one call per sector, each with its own tweak (the work of `openssl
//! speed -evp aes-256-xts -bytes SECTOR`), then 1 MiB runs; and the engine every run uses.

use std::time::Duration;

use ebsim_io::{Backend, SectorSize, XtsEngine, XtsKey};
use rand::Rng;

use super::measure::{Context, Measured, Plan};
use crate::CliError;
use crate::args::MIB;

/// An engine under a fresh random key (its two halves differ, as XTS requires).
pub(super) fn new_engine(
    sector_size: SectorSize,
    backend: Option<Backend>,
) -> Result<XtsEngine, CliError> {
    let mut bytes = [0u8; 64];
    loop {
        rand::rng().fill_bytes(&mut bytes);
        if bytes[..32] != bytes[32..] {
            break;
        }
    }
    let key = XtsKey::from_slice(&bytes)?;
    bytes.fill(0);
    Ok(match backend {
        Some(b) => XtsEngine::with_backend(&key, sector_size, b)?,
        None => XtsEngine::new(&key, sector_size),
    })
}

/// Encrypts and decrypts one sector per call, then 1 MiB per call.
pub(super) fn run(
    ctx: &Context,
    engine: &XtsEngine,
    duration: Duration,
) -> Result<Vec<Measured>, CliError> {
    let ss = ctx.sector_size;
    let mut results = Vec::new();
    for io_size in [ss.bytes(), MIB as usize] {
        for (name, decrypt) in [("encrypt", false), ("decrypt", true)] {
            let plan = Plan {
                name,
                io_size,
                // Tweaks run on forever; the buffer is reused, as `openssl speed` does.
                per_thread: 1 << 40,
                sectors_per_io: (io_size / ss.bytes()) as u64,
                random: false,
                duration,
            };
            results.push(ctx.run(&plan, |first, buf| {
                if decrypt {
                    engine.decrypt_sectors(first, buf)
                } else {
                    engine.encrypt_sectors(first, buf)
                }
            })?);
        }
    }
    Ok(results)
}
