//! Hand-written XTS-AES-256 kernels. One of the two modules of the crate with `unsafe` code
//! (intrinsics and raw pointers, in `x86`); the other is `store::sys` (system calls and views
//! of the file map). The crate denies `unsafe` everywhere else.
//!
//! On x86-64 there are three kernels, picked once when an engine is created:
//! - `Vaes512`: AVX-512 VAES, 4 × 512-bit vectors = 16 blocks per iteration, tweaks in vector
//!   form advanced with VPCLMULQDQ;
//! - `Vaes256`: AVX2 VAES, 8 × 256-bit vectors = 16 blocks per iteration, the same tweak scheme;
//! - `AesNi`: AES-NI, 8 × 128-bit blocks per iteration, tweaks by shift/XOR doubling.
//!
//! Each kernel XORs the tweak and round key 0 into the data in one operation, runs the rounds
//! and folds the outgoing tweak XOR into the last round key (`aesenclast(x, k ^ t)` equals
//! `aesenclast(x, k) ^ t`), so the data is read and written once. Each kernel works in place or
//! from one buffer into another (say, from a network receive buffer straight into a mapped
//! file), which saves a copy. Other targets have no kernels here and use `Backend::AesCrate`
//! (the `aes` crate).

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{RoundKeys, copy_stream, is_available, run, run_to};

#[cfg(not(target_arch = "x86_64"))]
mod portable {
    use crate::Backend;

    /// No hand-written kernels on this target.
    pub(crate) enum RoundKeys {}

    impl RoundKeys {
        pub(crate) fn new(_: Backend, _: &[u8; 32], _: &[u8; 32]) -> Option<Box<Self>> {
            None
        }
    }

    pub(crate) fn is_available(_: Backend) -> bool {
        false
    }

    pub(crate) fn run(rk: &RoundKeys, _: bool, _: u64, _: &mut [u8], _: u32) {
        match *rk {}
    }

    pub(crate) fn run_to(rk: &RoundKeys, _: bool, _: u64, _: &[u8], _: &mut [u8], _: u32, _: bool) {
        match *rk {}
    }

    /// A plain copy (no non-temporal stores on this target).
    pub(crate) fn copy_stream(dst: &mut [u8], src: &[u8]) {
        let len = src.len().min(dst.len());
        dst[..len].copy_from_slice(&src[..len]);
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) use portable::{RoundKeys, copy_stream, is_available, run, run_to};
