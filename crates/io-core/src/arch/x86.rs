//! x86-64 kernels: AES-NI, VAES-256 and VAES-512.

use core::arch::x86_64::*;

use zeroize::Zeroize;

use crate::Backend;

/// Whether this CPU can run the backend.
pub(crate) fn is_available(backend: Backend) -> bool {
    let aesni = std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("sse2")
        && std::arch::is_x86_feature_detected!("sse4.1");
    match backend {
        Backend::AesNi => aesni,
        Backend::Vaes256 => {
            aesni
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("vaes")
                && std::arch::is_x86_feature_detected!("vpclmulqdq")
        }
        Backend::Vaes512 => {
            aesni
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("vaes")
                && std::arch::is_x86_feature_detected!("vpclmulqdq")
        }
        Backend::Soft => false,
    }
}

/// Expanded AES-256 round keys: encryption and decryption schedules of key1, encryption
/// schedule of key2, and the kernel they were made for. Zeroized on drop.
pub(crate) struct RoundKeys {
    enc: [[u8; 16]; 15],
    dec: [[u8; 16]; 15],
    tweak: [[u8; 16]; 15],
    backend: Backend,
}

impl Drop for RoundKeys {
    #[inline(never)]
    fn drop(&mut self) {
        self.enc.zeroize();
        self.dec.zeroize();
        self.tweak.zeroize();
    }
}

impl RoundKeys {
    /// Expands the keys for `backend`; `None` if this CPU cannot run it.
    pub(crate) fn new(backend: Backend, key1: &[u8; 32], key2: &[u8; 32]) -> Option<Box<Self>> {
        if backend == Backend::Soft || !is_available(backend) {
            return None;
        }
        let mut rk = Box::new(RoundKeys {
            enc: [[0; 16]; 15],
            dec: [[0; 16]; 15],
            tweak: [[0; 16]; 15],
            backend,
        });
        // SAFETY: every backend accepted above implies AES-NI and SSE4.1 (checked by
        // `is_available`), which is all `expand` needs.
        unsafe { expand(key1, key2, &mut rk) };
        Some(rk)
    }
}

/// Runs the kernel of `rk.backend` over `buf` (whole sectors of `ss` bytes, `ss` a multiple of
/// 512; sector numbers `first..first + buf.len() / ss` do not pass 2^64 - 1).
pub(crate) fn run(rk: &RoundKeys, encrypt: bool, first: u64, buf: &mut [u8], ss: usize) {
    debug_assert!(ss.is_multiple_of(512) && buf.len().is_multiple_of(ss));
    match rk.backend {
        // SAFETY: `RoundKeys` for this backend exist only if `is_available` said the CPU has
        // the features the kernel is compiled for (checked once in `RoundKeys::new`).
        Backend::Vaes512 => unsafe { vaes512(rk, encrypt, first, buf, ss) },
        // SAFETY: as above.
        Backend::Vaes256 => unsafe { vaes256(rk, encrypt, first, buf, ss) },
        // SAFETY: as above.
        Backend::AesNi => unsafe { aesni(rk, encrypt, first, buf, ss) },
        Backend::Soft => {}
    }
}

#[inline(always)]
fn load_keys(src: &[[u8; 16]; 15]) -> [__m128i; 15] {
    // The arrays are plain bytes; `_mm_loadu_si128` takes any alignment.
    // SAFETY: each pointer points at 16 readable bytes; SSE2 is baseline on x86-64.
    core::array::from_fn(|i| unsafe { _mm_loadu_si128(src[i].as_ptr().cast()) })
}

#[inline(always)]
fn store_keys(dst: &mut [[u8; 16]; 15], src: &[__m128i; 15]) {
    for (d, s) in dst.iter_mut().zip(src) {
        // SAFETY: `d` is 16 writable bytes; SSE2 is baseline on x86-64.
        unsafe { _mm_storeu_si128(d.as_mut_ptr().cast(), *s) };
    }
}

#[inline]
#[target_feature(enable = "aes,sse2")]
fn assist1(t1: __m128i, t2: __m128i) -> __m128i {
    let t2 = _mm_shuffle_epi32::<0xff>(t2);
    let mut t1 = t1;
    let mut t4 = _mm_slli_si128::<4>(t1);
    t1 = _mm_xor_si128(t1, t4);
    t4 = _mm_slli_si128::<4>(t4);
    t1 = _mm_xor_si128(t1, t4);
    t4 = _mm_slli_si128::<4>(t4);
    t1 = _mm_xor_si128(t1, t4);
    _mm_xor_si128(t1, t2)
}

#[inline]
#[target_feature(enable = "aes,sse2")]
fn assist2(t1: __m128i, t3: __m128i) -> __m128i {
    let t2 = _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0>(t1));
    let mut t3 = t3;
    let mut t4 = _mm_slli_si128::<4>(t3);
    t3 = _mm_xor_si128(t3, t4);
    t4 = _mm_slli_si128::<4>(t4);
    t3 = _mm_xor_si128(t3, t4);
    t4 = _mm_slli_si128::<4>(t4);
    t3 = _mm_xor_si128(t3, t4);
    _mm_xor_si128(t3, t2)
}

/// The AES-256 encryption key schedule (FIPS 197) with AESKEYGENASSIST.
#[target_feature(enable = "aes,sse2")]
fn expand_key(key: &[u8; 32]) -> [__m128i; 15] {
    let mut rk = [_mm_setzero_si128(); 15];
    // SAFETY: `key` is 32 readable bytes; both loads are unaligned 16-byte loads inside it.
    let (mut t1, mut t3) = unsafe {
        (
            _mm_loadu_si128(key.as_ptr().cast()),
            _mm_loadu_si128(key[16..].as_ptr().cast()),
        )
    };
    rk[0] = t1;
    rk[1] = t3;
    macro_rules! step {
        ($i:expr, $rcon:expr) => {
            t1 = assist1(t1, _mm_aeskeygenassist_si128::<$rcon>(t3));
            rk[$i] = t1;
            t3 = assist2(t1, t3);
            rk[$i + 1] = t3;
        };
    }
    step!(2, 0x01);
    step!(4, 0x02);
    step!(6, 0x04);
    step!(8, 0x08);
    step!(10, 0x10);
    step!(12, 0x20);
    rk[14] = assist1(t1, _mm_aeskeygenassist_si128::<0x40>(t3));
    rk
}

/// Fills the three schedules; the decryption one is the reversed encryption schedule with
/// InvMixColumns applied to the middle round keys (the "equivalent inverse cipher").
#[target_feature(enable = "aes,sse2")]
fn expand(key1: &[u8; 32], key2: &[u8; 32], out: &mut RoundKeys) {
    let mut enc = expand_key(key1);
    let mut tweak = expand_key(key2);
    let mut dec = [_mm_setzero_si128(); 15];
    dec[0] = enc[14];
    for i in 1..14 {
        dec[i] = _mm_aesimc_si128(enc[14 - i]);
    }
    dec[14] = enc[0];
    store_keys(&mut out.enc, &enc);
    store_keys(&mut out.dec, &dec);
    store_keys(&mut out.tweak, &tweak);
    for v in enc.iter_mut().chain(dec.iter_mut()).chain(tweak.iter_mut()) {
        *v = _mm_setzero_si128();
    }
}

/// Encrypts the initial tweak of sector `n`: AES-256(key2, n as 16-byte little-endian).
#[inline]
#[target_feature(enable = "aes,sse2")]
fn sector_tweak(tk: &[__m128i; 15], n: u64) -> __m128i {
    let mut t = _mm_xor_si128(_mm_set_epi64x(0, n as i64), tk[0]);
    for k in &tk[1..14] {
        t = _mm_aesenc_si128(t, *k);
    }
    _mm_aesenclast_si128(t, tk[14])
}

/// Multiplies a tweak by x in GF(2^128): shift the 128-bit little-endian value left by one,
/// carry bit 63 into bit 64, reduce bit 127 with 0x87.
#[inline]
#[target_feature(enable = "sse2")]
fn mul_x(t: __m128i) -> __m128i {
    let carries = _mm_shuffle_epi32::<0x13>(_mm_srai_epi32::<31>(t));
    let carries = _mm_and_si128(carries, _mm_set_epi32(0, 1, 0, 0x87));
    _mm_xor_si128(_mm_slli_epi64::<1>(t), carries)
}

/// AES-NI: 8 blocks in flight.
#[target_feature(enable = "aes,sse2,sse4.1")]
fn aesni(rk: &RoundKeys, encrypt: bool, first: u64, buf: &mut [u8], ss: usize) {
    let keys = load_keys(if encrypt { &rk.enc } else { &rk.dec });
    let tk = load_keys(&rk.tweak);
    let k0 = keys[0];
    let k14 = keys[14];
    for (i, sector) in buf.chunks_exact_mut(ss).enumerate() {
        let mut t = sector_tweak(&tk, first.wrapping_add(i as u64));
        for piece in sector.chunks_exact_mut(128) {
            let p = piece.as_mut_ptr().cast::<__m128i>();
            let mut tw = [_mm_setzero_si128(); 8];
            let mut d = [_mm_setzero_si128(); 8];
            for j in 0..8 {
                tw[j] = t;
                t = mul_x(t);
                // SAFETY: `piece` is 128 bytes, so block j (bytes 16j..16j+16) is inside it.
                let x = unsafe { _mm_loadu_si128(p.add(j)) };
                d[j] = _mm_xor_si128(x, _mm_xor_si128(tw[j], k0));
            }
            if encrypt {
                for k in &keys[1..14] {
                    for x in d.iter_mut() {
                        *x = _mm_aesenc_si128(*x, *k);
                    }
                }
                for j in 0..8 {
                    d[j] = _mm_aesenclast_si128(d[j], _mm_xor_si128(k14, tw[j]));
                }
            } else {
                for k in &keys[1..14] {
                    for x in d.iter_mut() {
                        *x = _mm_aesdec_si128(*x, *k);
                    }
                }
                for j in 0..8 {
                    d[j] = _mm_aesdeclast_si128(d[j], _mm_xor_si128(k14, tw[j]));
                }
            }
            for (j, x) in d.iter().enumerate() {
                // SAFETY: as for the load above.
                unsafe { _mm_storeu_si128(p.add(j), *x) };
            }
        }
    }
}

/// Four consecutive tweaks t, t·x, t·x², t·x³ as one 512-bit vector.
#[inline]
#[target_feature(enable = "avx512f,sse2")]
fn four_tweaks(t: __m128i) -> __m512i {
    let t1 = mul_x(t);
    let t2 = mul_x(t1);
    let t3 = mul_x(t2);
    let v = _mm512_castsi128_si512(t);
    let v = _mm512_inserti32x4::<1>(v, t1);
    let v = _mm512_inserti32x4::<2>(v, t2);
    _mm512_inserti32x4::<3>(v, t3)
}

/// Multiplies each 128-bit lane by x^k (1 <= k <= 56): shift left by k, carry the top k bits
/// of the low half into the high half, reduce the top k bits of the high half with a
/// carry-less multiply by 0x87.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,vpclmulqdq")]
fn mul_xk_512(t: __m512i, k: i32) -> __m512i {
    let poly = _mm512_set1_epi64(0x87);
    let carries = _mm512_srl_epi64(t, _mm_cvtsi32_si128(64 - k));
    let shifted = _mm512_sll_epi64(t, _mm_cvtsi32_si128(k));
    let reduced = _mm512_clmulepi64_epi128::<0x01>(carries, poly);
    _mm512_ternarylogic_epi64::<0x96>(shifted, _mm512_bslli_epi128::<8>(carries), reduced)
}

/// VAES-512: 4 vectors × 4 blocks = 16 blocks (256 bytes) per iteration, all round keys in
/// registers.
#[target_feature(enable = "avx512f,avx512bw,vaes,vpclmulqdq,aes,sse2,sse4.1")]
fn vaes512(rk: &RoundKeys, encrypt: bool, first: u64, buf: &mut [u8], ss: usize) {
    const W: usize = 4;
    let keys128 = load_keys(if encrypt { &rk.enc } else { &rk.dec });
    let tk = load_keys(&rk.tweak);
    let keys: [__m512i; 15] = core::array::from_fn(|i| _mm512_broadcast_i32x4(keys128[i]));
    let k0 = keys[0];
    let k14 = keys[14];
    for (i, sector) in buf.chunks_exact_mut(ss).enumerate() {
        let t = four_tweaks(sector_tweak(&tk, first.wrapping_add(i as u64)));
        let mut tw: [__m512i; W] = core::array::from_fn(|j| {
            if j == 0 {
                t
            } else {
                mul_xk_512(t, 4 * j as i32)
            }
        });
        let mut pieces = sector.chunks_exact_mut(64 * W).peekable();
        while let Some(piece) = pieces.next() {
            let p = piece.as_mut_ptr().cast::<__m512i>();
            let mut d: [__m512i; W] = core::array::from_fn(|j| {
                // SAFETY: `piece` is 64 * W bytes, so vector j (bytes 64j..64j+64) is inside it.
                let x = unsafe { _mm512_loadu_si512(p.add(j)) };
                _mm512_ternarylogic_epi64::<0x96>(x, tw[j], k0)
            });
            if encrypt {
                for k in &keys[1..14] {
                    for x in d.iter_mut() {
                        *x = _mm512_aesenc_epi128(*x, *k);
                    }
                }
                for j in 0..W {
                    d[j] = _mm512_aesenclast_epi128(d[j], _mm512_xor_si512(k14, tw[j]));
                }
            } else {
                for k in &keys[1..14] {
                    for x in d.iter_mut() {
                        *x = _mm512_aesdec_epi128(*x, *k);
                    }
                }
                for j in 0..W {
                    d[j] = _mm512_aesdeclast_epi128(d[j], _mm512_xor_si512(k14, tw[j]));
                }
            }
            for (j, x) in d.iter().enumerate() {
                // SAFETY: as for the load above.
                unsafe { _mm512_storeu_si512(p.add(j), *x) };
            }
            if pieces.peek().is_some() {
                for x in tw.iter_mut() {
                    *x = mul_xk_512(*x, 4 * W as i32);
                }
            }
        }
    }
}

/// Multiplies each 128-bit lane by x^k (1 <= k <= 56), as [`mul_xk_512`].
#[inline]
#[target_feature(enable = "avx2,vpclmulqdq")]
fn mul_xk_256(t: __m256i, k: i32) -> __m256i {
    let poly = _mm256_set1_epi64x(0x87);
    let carries = _mm256_srl_epi64(t, _mm_cvtsi32_si128(64 - k));
    let shifted = _mm256_sll_epi64(t, _mm_cvtsi32_si128(k));
    let reduced = _mm256_clmulepi64_epi128::<0x01>(carries, poly);
    _mm256_xor_si256(
        _mm256_xor_si256(shifted, _mm256_bslli_epi128::<8>(carries)),
        reduced,
    )
}

/// VAES-256: 8 vectors × 2 blocks = 16 blocks (256 bytes) per iteration.
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,sse2,sse4.1")]
fn vaes256(rk: &RoundKeys, encrypt: bool, first: u64, buf: &mut [u8], ss: usize) {
    const W: usize = 8;
    let keys128 = load_keys(if encrypt { &rk.enc } else { &rk.dec });
    let tk = load_keys(&rk.tweak);
    let keys: [__m256i; 15] = core::array::from_fn(|i| _mm256_broadcastsi128_si256(keys128[i]));
    let k0 = keys[0];
    let k14 = keys[14];
    for (i, sector) in buf.chunks_exact_mut(ss).enumerate() {
        let t0 = sector_tweak(&tk, first.wrapping_add(i as u64));
        let t = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(t0), mul_x(t0));
        let mut tw: [__m256i; W] = core::array::from_fn(|j| {
            if j == 0 {
                t
            } else {
                mul_xk_256(t, 2 * j as i32)
            }
        });
        let mut pieces = sector.chunks_exact_mut(32 * W).peekable();
        while let Some(piece) = pieces.next() {
            let p = piece.as_mut_ptr().cast::<__m256i>();
            let mut d: [__m256i; W] = core::array::from_fn(|j| {
                // SAFETY: `piece` is 32 * W bytes, so vector j (bytes 32j..32j+32) is inside it.
                let x = unsafe { _mm256_loadu_si256(p.add(j)) };
                _mm256_xor_si256(x, _mm256_xor_si256(tw[j], k0))
            });
            if encrypt {
                for k in &keys[1..14] {
                    for x in d.iter_mut() {
                        *x = _mm256_aesenc_epi128(*x, *k);
                    }
                }
                for j in 0..W {
                    d[j] = _mm256_aesenclast_epi128(d[j], _mm256_xor_si256(k14, tw[j]));
                }
            } else {
                for k in &keys[1..14] {
                    for x in d.iter_mut() {
                        *x = _mm256_aesdec_epi128(*x, *k);
                    }
                }
                for j in 0..W {
                    d[j] = _mm256_aesdeclast_epi128(d[j], _mm256_xor_si256(k14, tw[j]));
                }
            }
            for (j, x) in d.iter().enumerate() {
                // SAFETY: as for the load above.
                unsafe { _mm256_storeu_si256(p.add(j), *x) };
            }
            if pieces.peek().is_some() {
                for x in tw.iter_mut() {
                    *x = mul_xk_256(*x, 2 * W as i32);
                }
            }
        }
    }
}
