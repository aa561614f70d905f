//! A writer killed at any moment never tears a sector: 100 times, a child process attached to
//! a volume writes random runs of sectors and is killed with SIGKILL at a random moment; after
//! each kill every sector must read back as one whole write (or as never written), never a mix
//! of two (docs/security.md, "Storage and the command line").

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use ebsim_io::SectorSize;
use ebsim_kms_client::{ClientError, EncryptionContext};
use ebsim_volume::{NewVolume, VolumeRoot};

const KEY: [u8; 64] = {
    let mut k = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        k[i] = (i as u8).wrapping_mul(29).wrapping_add(7);
        i += 1;
    }
    k
};
const WRAPPED: &[u8] = b"wrapped-by-a-stand-in";
const SECTOR: usize = 512;
const SIZE: u64 = 2 << 20;
const SECTORS: u64 = SIZE / SECTOR as u64;
const KILLS: usize = 100;
/// The longest run the child writes, in sectors (256 KiB).
const MAX_RUN: u64 = 512;
const CHILD_ENV: &str = "EBSIM_CRASH_CHILD_DIR";

fn unwrap(_: &[u8], _: &EncryptionContext) -> Result<Vec<u8>, ClientError> {
    Ok(KEY.to_vec())
}

/// xorshift64*: a small deterministic generator, for sector contents and for random runs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The plaintext of sector `sector` in write number `generation`: both numbers, then bytes
/// derived from them. A sector holding parts of two writes cannot match this for any one.
fn fill(sector: u64, generation: u64, out: &mut [u8]) {
    out[..8].copy_from_slice(&sector.to_le_bytes());
    out[8..16].copy_from_slice(&generation.to_le_bytes());
    // Cheap to make, so that the writer spends its time encrypting and storing.
    let v = Rng(sector.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ generation | 1)
        .next()
        .to_le_bytes();
    for chunk in out[16..].chunks_mut(8) {
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// Whether `got`, the plaintext read back from sector `sector`, is never written (zeros) or
/// one whole write of it.
fn whole(sector: u64, got: &[u8]) -> bool {
    if got.iter().all(|&b| b == 0) {
        return true;
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&got[8..16]);
    let mut want = vec![0u8; got.len()];
    fill(sector, u64::from_le_bytes(id), &mut want);
    want == got
}

/// The child: attaches the volume, says `ready`, then writes random runs until it is killed.
#[test]
#[ignore = "run by a_killed_writer_never_tears_a_sector in a child process"]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        panic!("{CHILD_ENV} is not set: this runs only as the child of the kill test");
    };
    let root = VolumeRoot::dir(&dir);
    let id =
        std::fs::read_to_string(std::path::Path::new(&dir).join("volume-id")).expect("volume id");
    let vol = root.attach_with(id.trim(), unwrap).expect("attach");
    let seed = std::process::id() as u64 ^ 0x5DEE_CE66_D1CE_4E5B;
    let mut rng = Rng(seed | 1);
    let mut generation = seed << 20;
    let mut buf = vec![0u8; (MAX_RUN as usize) * SECTOR];
    println!("ready");
    loop {
        let first = rng.next() % SECTORS;
        let count = 1 + rng.next() % MAX_RUN.min(SECTORS - first);
        let run = &mut buf[..count as usize * SECTOR];
        generation += 1;
        for (i, s) in run.chunks_mut(SECTOR).enumerate() {
            fill(first + i as u64, generation, s);
        }
        // Both write paths: a copy (write_at) and the caller's scratch (write_at_in_place).
        if generation.is_multiple_of(2) {
            vol.write_at(first * SECTOR as u64, run).expect("write");
        } else {
            vol.write_at_in_place(first * SECTOR as u64, run)
                .expect("write");
        }
    }
}

#[test]
fn a_killed_writer_never_tears_a_sector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = VolumeRoot::dir(dir.path());
    let id = ebsim_volume::new_volume_id();
    root.create(NewVolume {
        volume_id: id.clone(),
        size_bytes: SIZE,
        sector_size: SectorSize::S512,
        kms_key_arn: "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            .into(),
        wrapped_key: WRAPPED.to_vec(),
        context: EncryptionContext::ebs(&id).expect("valid id"),
        grant_id: None,
        grantee_principal: None,
        retiring_principal: None,
        owner: None,
    })
    .expect("create");
    std::fs::write(dir.path().join("volume-id"), &id).expect("write id");
    let exe = std::env::current_exe().expect("test binary");
    let mut rng = Rng(0x1234_5678_9ABC_DEF1 ^ u64::from(std::process::id()));
    let mut torn_total = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", "crash_child_writer", "--nocapture"])
            .env(CHILD_ENV, dir.path())
            // Every other writer uses the software backend, whose stores are spread over the
            // whole sector (the vector backends store a 512-byte sector in one burst), so that
            // a store path that could tear is caught often.
            .env(
                ebsim_io::BACKEND_ENV,
                if kill % 2 == 0 { "aes-crate" } else { "" },
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the writer");
        let mut ready = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        while !ready.contains("ready") {
            ready.clear();
            if out.read_line(&mut ready).expect("read") == 0 {
                panic!("the writer ended before it was ready");
            }
        }
        // A random moment: 2 to 40 ms into the writes.
        std::thread::sleep(Duration::from_micros(2_000 + rng.next() % 38_000));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "kill {kill}: the writer ended some other way: {status}"
        );
        let vol = root
            .attach_with(&id, unwrap)
            .expect("attach after the kill");
        let mut all = vec![0u8; SIZE as usize];
        vol.read_at(0, &mut all).expect("read");
        vol.detach().expect("detach");
        let torn: Vec<u64> = all
            .chunks(SECTOR)
            .enumerate()
            .map(|(i, s)| (i as u64, s))
            .filter(|(i, s)| !whole(*i, s))
            .map(|(i, _)| i)
            .collect();
        if !torn.is_empty() {
            let shown = &torn[..torn.len().min(8)];
            eprintln!("kill {kill}: {} torn sectors, from {shown:?}", torn.len());
        }
        torn_total += torn.len();
    }
    assert_eq!(
        torn_total, 0,
        "sectors held a mix of two writes after a kill"
    );
    // The writes did happen: most of the volume was written at least once.
    let vol = root.attach_with(&id, unwrap).expect("attach");
    let mut all = vec![0u8; SIZE as usize];
    vol.read_at(0, &mut all).expect("read");
    let written = all
        .chunks(SECTOR)
        .filter(|s| s.iter().any(|&b| b != 0))
        .count();
    assert!(written as u64 > SECTORS / 2, "{written} of {SECTORS}");
}
