//! Replays the committed seed corpus of the `nbd_parsers` fuzz target (fuzz/seeds/nbd_parsers)
//! and deterministic mutations of it through the same entry point, as an ordinary test.

use std::path::Path;

use ebsim_nbd::internal::fuzz_parsers;

#[test]
fn corpus_and_mutations_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/nbd_parsers");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("seed corpus")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("seed"))
        .collect();
    seeds.sort();
    assert!(
        seeds.len() >= 5,
        "seed corpus missing from {}",
        dir.display()
    );
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in &seeds {
        fuzz_parsers(seed);
        for _ in 0..600 {
            let mut m = seed.clone();
            for _ in 0..(next() % 4 + 1) {
                if m.is_empty() {
                    m.push(next() as u8);
                }
                let at = (next() % m.len() as u64) as usize;
                match next() % 4 {
                    0 => m[at] = next() as u8,
                    1 => m.truncate(at),
                    2 => m.insert(at, next() as u8),
                    _ => m[at] ^= 1 << (next() % 8),
                }
            }
            fuzz_parsers(&m);
        }
    }
}
