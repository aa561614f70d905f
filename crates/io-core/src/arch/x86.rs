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
        Backend::AesCrate => false,
    }
}

/// Expanded AES-256 round keys: encryption and decryption schedules of key1, encryption
/// schedule of key2, and the kernel they were made for. Zeroized on drop. Aligned so that no
/// round key straddles a cache line.
#[repr(C, align(64))]
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
        if backend == Backend::AesCrate || !is_available(backend) {
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

/// Where a kernel reads and writes: `len` bytes at `src` in, the same number at `dst` out.
/// `src == dst` is in place; otherwise the two ranges do not overlap. Built only by [`run`] and
/// [`run_to`] from Rust slices, which guarantee both.
#[derive(Clone, Copy)]
struct Span {
    src: *const u8,
    dst: *mut u8,
    len: usize,
}

/// Runs the kernel of `rk.backend` over `buf` in place (whole sectors of `1 << shift` bytes,
/// at least 512; sector numbers `first..first + (buf.len() >> shift)` do not pass 2^64 - 1).
pub(crate) fn run(rk: &RoundKeys, encrypt: bool, first: u64, buf: &mut [u8], shift: u32) {
    let dst = buf.as_mut_ptr();
    let span = Span {
        src: dst,
        dst,
        len: buf.len(),
    };
    // SAFETY: `buf` is valid for reads and writes of `buf.len()` bytes, in place.
    unsafe { run_span(rk, encrypt, first, span, shift, false) }
}

/// Runs the kernel of `rk.backend` from `src` into `dst` (as [`run`]; only the first
/// `min(src.len(), dst.len())` bytes are used, the engine passes equal lengths). With
/// `stream`, the output is written with non-temporal stores, which bypass the cache (for
/// output nothing reads again soon, such as pages of storage), where `dst` is aligned for them.
pub(crate) fn run_to(
    rk: &RoundKeys,
    encrypt: bool,
    first: u64,
    src: &[u8],
    dst: &mut [u8],
    shift: u32,
    stream: bool,
) {
    let span = Span {
        src: src.as_ptr(),
        dst: dst.as_mut_ptr(),
        len: src.len().min(dst.len()),
    };
    // SAFETY: `src` is a shared slice and `dst` an exclusive one, so they cannot overlap; both
    // are valid for `span.len` bytes.
    unsafe { run_span(rk, encrypt, first, span, shift, stream) }
}

/// # Safety
/// `span.src` must be valid for reads and `span.dst` for writes of `span.len` bytes, and the
/// two ranges must be the same or disjoint.
unsafe fn run_span(
    rk: &RoundKeys,
    encrypt: bool,
    first: u64,
    span: Span,
    shift: u32,
    stream: bool,
) {
    debug_assert!(shift >= 9 && span.len.is_multiple_of(1 << shift));
    let span = Span {
        // Whole sectors only, whatever the caller passed.
        len: span.len & !((1usize << shift) - 1),
        ..span
    };
    let ss = 1usize << shift;
    // Non-temporal stores need the destination aligned to the vector width (sectors are
    // multiples of 512 bytes, so every later vector is aligned too).
    let width = match rk.backend {
        Backend::Vaes512 => 64,
        Backend::Vaes256 => 32,
        _ => 16,
    };
    let stream = stream && (span.dst as usize).is_multiple_of(width);
    // SAFETY: (every arm) `RoundKeys` for this backend exist only if `is_available` said the
    // CPU has the features the kernel is compiled for (checked once in `RoundKeys::new`); the
    // span is valid as this function's caller guarantees, and with `stream` its destination is
    // aligned as the streaming kernels need.
    unsafe {
        match (rk.backend, encrypt, stream) {
            (Backend::Vaes512, true, false) => vaes512::<true, false>(rk, first, span, shift),
            (Backend::Vaes512, false, false) => vaes512::<false, false>(rk, first, span, shift),
            (Backend::Vaes512, true, true) => vaes512::<true, true>(rk, first, span, shift),
            (Backend::Vaes512, false, true) => vaes512::<false, true>(rk, first, span, shift),
            (Backend::Vaes256, true, false) => vaes256::<true, false>(rk, first, span, shift),
            (Backend::Vaes256, false, false) => vaes256::<false, false>(rk, first, span, shift),
            (Backend::Vaes256, true, true) => vaes256::<true, true>(rk, first, span, shift),
            (Backend::Vaes256, false, true) => vaes256::<false, true>(rk, first, span, shift),
            (Backend::AesNi, _, false) => aesni::<false>(rk, encrypt, first, span, ss),
            (Backend::AesNi, _, true) => aesni::<true>(rk, encrypt, first, span, ss),
            (Backend::AesCrate, _, _) => {}
        }
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
fn sector_tweak(tk: &[[u8; 16]; 15], n: u64) -> __m128i {
    let tk = load_keys(tk);
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

/// AES-NI: 8 blocks in flight. `NT` writes the output with non-temporal stores.
///
/// # Safety
/// As [`run_span`]; the CPU must support the enabled features.
#[target_feature(enable = "aes,sse2,sse4.1")]
unsafe fn aesni<const NT: bool>(rk: &RoundKeys, encrypt: bool, first: u64, span: Span, ss: usize) {
    let keys = load_keys(if encrypt { &rk.enc } else { &rk.dec });
    let k0 = keys[0];
    let k14 = keys[14];
    for i in 0..span.len / ss {
        let mut t = sector_tweak(&rk.tweak, first.wrapping_add(i as u64));
        for piece in 0..ss / 128 {
            let at = i * ss + piece * 128;
            // SAFETY: `at + 128 <= span.len`: the 128 bytes are inside both ranges.
            let (src, dst) = unsafe {
                (
                    span.src.add(at).cast::<__m128i>(),
                    span.dst.add(at).cast::<__m128i>(),
                )
            };
            let mut tw = [_mm_setzero_si128(); 8];
            let mut d = [_mm_setzero_si128(); 8];
            for j in 0..8 {
                tw[j] = t;
                t = mul_x(t);
                // SAFETY: block j (bytes 16j..16j+16) is inside the 128 bytes at `src`.
                let x = unsafe { _mm_loadu_si128(src.add(j)) };
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
                // SAFETY: block j is inside the 128 bytes at `dst` (16-byte aligned with `NT`);
                // all 8 blocks were loaded above, so writing in place cannot clobber unread
                // input.
                unsafe {
                    if NT {
                        _mm_stream_si128(dst.add(j), *x);
                    } else {
                        _mm_storeu_si128(dst.add(j), *x);
                    }
                }
            }
        }
    }
    if NT {
        // Non-temporal stores are weakly ordered: fence them before anything that follows
        // (such as the release of the lock under which another thread will read the data).
        _mm_sfence();
    }
}

/// Shift counts that turn a tweak broadcast to four lanes into the tweaks of blocks
/// `4j..4j + 4` (lane i gets x^(4j + i)), one count per 64-bit half.
#[inline]
#[target_feature(enable = "avx512f")]
fn lane_shifts(j: i64) -> __m512i {
    let k = 4 * j;
    _mm512_set_epi64(k + 3, k + 3, k + 2, k + 2, k + 1, k + 1, k, k)
}

/// Multiplies 128-bit lane i of `t` by x^(k_i) (0 <= k_i <= 63, `k` holds k_i in both halves of
/// the lane): shift left, carry the top bits of the low half into the high half, reduce the top
/// bits of the high half with a carry-less multiply by 0x87. Used once per sector.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,vpclmulqdq")]
fn mul_xk_var_512(t: __m512i, k: __m512i, poly: __m512i) -> __m512i {
    let shifted = _mm512_sllv_epi64(t, k);
    let carries = _mm512_srlv_epi64(t, _mm512_sub_epi64(_mm512_set1_epi64(64), k));
    let reduced = _mm512_clmulepi64_epi128::<0x01>(carries, poly);
    _mm512_ternarylogic_epi64::<0x96>(shifted, _mm512_bslli_epi128::<8>(carries), reduced)
}

/// Multiplies each 128-bit lane by x^(8·B) (1 <= B <= 7): shift the lane left by B bytes and
/// reduce the B bytes shifted out with a carry-less multiply by 0x87. Byte shifts and
/// VPCLMULQDQ run on port 5, so the tweak chain does not take issue slots from VAES on port 0
/// (512-bit bit shifts would).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,vpclmulqdq")]
fn mul_x8b_512<const B: i32, const R: i32>(t: __m512i, poly: __m512i) -> __m512i {
    debug_assert_eq!(B + R, 16);
    let out = _mm512_bsrli_epi128::<R>(t);
    let reduced = _mm512_clmulepi64_epi128::<0x00>(out, poly);
    _mm512_xor_si512(_mm512_bslli_epi128::<B>(t), reduced)
}

/// XTS over the `N` 512-bit vectors at `src` with tweaks `tw`: load, XOR tweak and round key
/// 0, 13 rounds interleaved over the vectors, last round with the tweak folded into its key,
/// store at `dst` (with non-temporal stores if `NT`). Returns the last vector written.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `N * 64` bytes, the same or disjoint;
/// with `NT`, `dst` must be 64-byte aligned; the CPU must support the enabled features.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,vaes")]
unsafe fn xts_vectors_512<const ENC: bool, const N: usize, const NT: bool>(
    keys: &[__m512i; 15],
    src: *const __m512i,
    dst: *mut __m512i,
    tw: &[__m512i; N],
) -> __m512i {
    let mut d: [__m512i; N] = core::array::from_fn(|j| {
        // SAFETY: the caller guarantees `N * 64` readable bytes at `src`; vector j is inside.
        let x = unsafe { _mm512_loadu_si512(src.add(j)) };
        _mm512_ternarylogic_epi64::<0x96>(x, tw[j], keys[0])
    });
    for k in &keys[1..14] {
        for x in d.iter_mut() {
            *x = if ENC {
                _mm512_aesenc_epi128(*x, *k)
            } else {
                _mm512_aesdec_epi128(*x, *k)
            };
        }
    }
    for j in 0..N {
        let last = _mm512_xor_si512(keys[14], tw[j]);
        let x = if ENC {
            _mm512_aesenclast_epi128(d[j], last)
        } else {
            _mm512_aesdeclast_epi128(d[j], last)
        };
        // SAFETY: the caller guarantees `N * 64` writable bytes at `dst` (64-byte aligned with
        // `NT`); all N vectors were loaded above, so writing in place cannot clobber unread
        // input.
        unsafe {
            if NT {
                _mm512_stream_si512(dst.add(j).cast(), x);
            } else {
                _mm512_storeu_si512(dst.add(j), x);
            }
        }
        d[j] = x;
    }
    d[N - 1]
}

/// VAES-512: 4 vectors × 4 blocks = 16 blocks (256 bytes) per iteration, all round keys in
/// registers, tweaks advanced by x^16 per vector and iteration with port-5 operations only.
/// `ENC` selects encryption or decryption at compile time, `NT` non-temporal stores.
///
/// The encrypted sector number (14 dependent AES rounds, ~45 cycles) gates all of a sector's
/// work, and the out-of-order core runs the oldest ready instruction first, so that chain would
/// only start once the previous sector's VAES work has drained and leave the VAES unit idle for
/// its whole latency. Two measures fill that gap:
/// - within a run, the next sector's tweak is encrypted at the start of the current sector;
/// - the last two vectors of each sector are made to depend (through an XOR under an all-zero
///   mask, which changes no value) on the two vectors before them. That final pair then runs as
///   two dependent chains that use two of every three VAES slots, and the third slot goes to
///   the next call's tweak encryption instead of a bubble (one call per sector: ~960 -> ~915
///   cycles per 4 KiB, the VAES bound being 910).
///
/// # Safety
/// As [`run_span`]; the CPU must support the enabled features.
#[target_feature(enable = "avx512f,avx512bw,vaes,vpclmulqdq,aes,sse2,sse4.1")]
unsafe fn vaes512<const ENC: bool, const NT: bool>(
    rk: &RoundKeys,
    first: u64,
    span: Span,
    shift: u32,
) {
    const W: usize = 4;
    let keys128 = load_keys(if ENC { &rk.enc } else { &rk.dec });
    let keys: [__m512i; 15] = core::array::from_fn(|i| _mm512_broadcast_i32x4(keys128[i]));
    let poly = _mm512_set1_epi64(0x87);
    let s0 = lane_shifts(0);
    let s1 = lane_shifts(1);
    let ss = 1usize << shift;
    let sectors = span.len >> shift;
    let mut next = sector_tweak(&rk.tweak, first);
    for i in 0..sectors {
        // SAFETY: sector i (bytes `i << shift` to `(i + 1) << shift`) is inside both ranges.
        let (src, dst) = unsafe {
            (
                span.src.add(i << shift).cast::<__m512i>(),
                span.dst.add(i << shift).cast::<__m512i>(),
            )
        };
        let t = _mm512_broadcast_i32x4(next);
        if i + 1 < sectors {
            next = sector_tweak(&rk.tweak, first.wrapping_add(i as u64 + 1));
        }
        // Tweaks of blocks 0-3, 4-7, 8-11, 12-15.
        let t0 = mul_xk_var_512(t, s0, poly);
        let t1 = mul_xk_var_512(t, s1, poly);
        let mut tw: [__m512i; W] = [
            t0,
            t1,
            mul_x8b_512::<1, 15>(t0, poly),
            mul_x8b_512::<1, 15>(t1, poly),
        ];
        // The sector's 64-byte vectors, all but the last W of them W at a time.
        let body = ss / 64 - W;
        let mut v = 0;
        while v < body {
            // SAFETY: vectors v..v + W are inside the sector; the features are enabled on
            // this function.
            unsafe { xts_vectors_512::<ENC, W, NT>(&keys, src.add(v), dst.add(v), &tw) };
            for x in tw.iter_mut() {
                *x = mul_x8b_512::<2, 14>(*x, poly);
            }
            v += W;
        }
        let [a, b, c, d] = tw;
        // SAFETY: vectors `body..body + 2` are inside the sector (a sector is at least
        // 512 bytes = 8 vectors).
        let out =
            unsafe { xts_vectors_512::<ENC, 2, NT>(&keys, src.add(body), dst.add(body), &[a, b]) };
        // An all-zero mask the compiler cannot see through: the XORs leave `c` and `d` as they
        // are but make them wait for `out`.
        let zero: __mmask8 = core::hint::black_box(0);
        let c = _mm512_mask_xor_epi64(c, zero, c, out);
        let d = _mm512_mask_xor_epi64(d, zero, d, out);
        // SAFETY: vectors `body + 2..body + 4`, the last two of the sector.
        unsafe {
            xts_vectors_512::<ENC, 2, NT>(&keys, src.add(body + 2), dst.add(body + 2), &[c, d])
        };
    }
    if NT {
        // Non-temporal stores are weakly ordered: fence them before anything that follows
        // (such as the release of the lock under which another thread will read the data).
        _mm_sfence();
    }
}

/// Multiplies each 128-bit lane by x^k (1 <= k <= 56): shift left by k, carry the top k bits
/// of the low half into the high half, reduce the top k bits of the high half with a
/// carry-less multiply by 0x87.
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

/// Multiplies each 128-bit lane by x^16 with byte shifts and a carry-less multiply, as
/// [`mul_x8b_512`].
#[inline]
#[target_feature(enable = "avx2,vpclmulqdq")]
fn mul_x16_256(t: __m256i, poly: __m256i) -> __m256i {
    let out = _mm256_bsrli_epi128::<14>(t);
    let reduced = _mm256_clmulepi64_epi128::<0x00>(out, poly);
    _mm256_xor_si256(_mm256_bslli_epi128::<2>(t), reduced)
}

/// VAES-256: 8 vectors × 2 blocks = 16 blocks (256 bytes) per iteration; tweaks advanced by
/// x^16 per vector and iteration with byte shifts and VPCLMULQDQ, the next sector's tweak
/// encrypted ahead (see [`vaes512`]). `ENC` selects encryption or decryption at compile time,
/// `NT` non-temporal stores.
///
/// # Safety
/// As [`run_span`]; the CPU must support the enabled features.
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,sse2,sse4.1")]
unsafe fn vaes256<const ENC: bool, const NT: bool>(
    rk: &RoundKeys,
    first: u64,
    span: Span,
    shift: u32,
) {
    const W: usize = 8;
    let keys128 = load_keys(if ENC { &rk.enc } else { &rk.dec });
    let keys: [__m256i; 15] = core::array::from_fn(|i| _mm256_broadcastsi128_si256(keys128[i]));
    let k0 = keys[0];
    let k14 = keys[14];
    let poly = _mm256_set1_epi64x(0x87);
    let ss = 1usize << shift;
    let sectors = span.len >> shift;
    let mut next = sector_tweak(&rk.tweak, first);
    for i in 0..sectors {
        let t0 = next;
        if i + 1 < sectors {
            next = sector_tweak(&rk.tweak, first.wrapping_add(i as u64 + 1));
        }
        let t = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(t0), mul_x(t0));
        let mut tw: [__m256i; W] = core::array::from_fn(|j| {
            if j == 0 {
                t
            } else {
                mul_xk_256(t, 2 * j as i32)
            }
        });
        for piece in 0..ss / (32 * W) {
            let at = (i << shift) + piece * 32 * W;
            // SAFETY: `at + 32 * W <= span.len`: the piece is inside both ranges.
            let (src, dst) = unsafe {
                (
                    span.src.add(at).cast::<__m256i>(),
                    span.dst.add(at).cast::<__m256i>(),
                )
            };
            let mut d: [__m256i; W] = core::array::from_fn(|j| {
                // SAFETY: vector j (bytes 32j..32j+32) is inside the piece at `src`.
                let x = unsafe { _mm256_loadu_si256(src.add(j)) };
                _mm256_xor_si256(x, _mm256_xor_si256(tw[j], k0))
            });
            for k in &keys[1..14] {
                for x in d.iter_mut() {
                    *x = if ENC {
                        _mm256_aesenc_epi128(*x, *k)
                    } else {
                        _mm256_aesdec_epi128(*x, *k)
                    };
                }
            }
            for j in 0..W {
                let last = _mm256_xor_si256(k14, tw[j]);
                d[j] = if ENC {
                    _mm256_aesenclast_epi128(d[j], last)
                } else {
                    _mm256_aesdeclast_epi128(d[j], last)
                };
            }
            for (j, x) in d.iter().enumerate() {
                // SAFETY: vector j is inside the piece at `dst` (32-byte aligned with `NT`);
                // the whole piece was loaded above, so writing in place cannot clobber unread
                // input.
                unsafe {
                    if NT {
                        _mm256_stream_si256(dst.add(j), *x);
                    } else {
                        _mm256_storeu_si256(dst.add(j), *x);
                    }
                }
            }
            for x in tw.iter_mut() {
                *x = mul_x16_256(*x, poly);
            }
        }
    }
    if NT {
        // Non-temporal stores are weakly ordered: fence them before anything that follows
        // (such as the release of the lock under which another thread will read the data).
        _mm_sfence();
    }
}

/// Copies `src` into `dst` (equal lengths; the engine's callers pass them) with non-temporal
/// stores, which bypass the cache, for bytes headed to storage that nothing reads again soon;
/// ends with a store fence. Where `dst` is not 16-byte aligned, a plain copy.
pub(crate) fn copy_stream(dst: &mut [u8], src: &[u8]) {
    let len = src.len().min(dst.len());
    let head = dst.as_ptr().align_offset(16);
    if head != 0 || len < 64 {
        dst[..len].copy_from_slice(&src[..len]);
        return;
    }
    let whole = len & !63;
    // SAFETY: `dst` is valid for writes and `src` for reads of `whole <= len` bytes (both
    // slices are at least `len` long), they cannot overlap (one shared, one exclusive
    // borrow), `dst` is 16-byte aligned (checked above) as `_mm_stream_si128` requires, and
    // SSE2 is part of x86-64. Unaligned loads have no alignment requirement.
    unsafe { stream_64(dst.as_mut_ptr(), src.as_ptr(), whole) };
    dst[whole..len].copy_from_slice(&src[whole..len]);
}

/// # Safety
/// `dst` must be valid for writes and 16-byte aligned, `src` valid for reads, of `len` bytes
/// (a multiple of 64), and the ranges must not overlap.
#[target_feature(enable = "sse2")]
unsafe fn stream_64(dst: *mut u8, src: *const u8, len: usize) {
    let mut i = 0;
    while i < len {
        // SAFETY: `i + 64 <= len`, so the four 16-byte loads and stores stay inside the
        // ranges the caller vouched for; `dst + i` stays 16-byte aligned.
        unsafe {
            let s = src.add(i).cast::<__m128i>();
            let d = dst.add(i).cast::<__m128i>();
            let a = _mm_loadu_si128(s);
            let b = _mm_loadu_si128(s.add(1));
            let c = _mm_loadu_si128(s.add(2));
            let e = _mm_loadu_si128(s.add(3));
            _mm_stream_si128(d, a);
            _mm_stream_si128(d.add(1), b);
            _mm_stream_si128(d.add(2), c);
            _mm_stream_si128(d.add(3), e);
        }
        i += 64;
    }
    _mm_sfence();
}
