//! The memory cipher of `memcrypt.rs` with AES-NI on x86_64: the tweak XOR, the ten AES
//! rounds and the second tweak XOR fused per batch of eight blocks held in registers, so a
//! page is read and written once. Chosen at run time when the CPU has AES-NI; the portable
//! path (the `aes` crate) gives the same bytes and is the fallback.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

/// Expanded AES-128 round keys for encryption and decryption (wiped on drop).
pub(crate) struct NiKey {
    enc: [__m128i; 11],
    dec: [__m128i; 11],
}

impl Drop for NiKey {
    fn drop(&mut self) {
        for k in self.enc.iter_mut().chain(self.dec.iter_mut()) {
            // SAFETY: writing a valid value to our own field; volatile so the wipe is kept.
            unsafe { std::ptr::write_volatile(k, std::mem::zeroed()) };
        }
    }
}

/// Whether this CPU can use [`NiKey`].
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("sse2")
}

#[target_feature(enable = "aes,sse2")]
fn expand_step(k: __m128i, assist: __m128i) -> __m128i {
    let a = _mm_shuffle_epi32::<0xFF>(assist);
    let mut k = k;
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    _mm_xor_si128(k, a)
}

macro_rules! round_key {
    ($k:expr, $rcon:literal) => {
        expand_step($k, _mm_aeskeygenassist_si128::<$rcon>($k))
    };
}

/// Multiply a tweak (a little-endian 128-bit integer in the register) by α in GF(2¹²⁸).
#[inline]
#[target_feature(enable = "sse2")]
fn mul_alpha(t: __m128i) -> __m128i {
    let carry = _mm_shuffle_epi32::<0x93>(_mm_srai_epi32::<31>(t));
    let carry = _mm_and_si128(carry, _mm_set_epi32(1, 1, 1, 0x87));
    _mm_xor_si128(_mm_slli_epi32::<1>(t), carry)
}

impl NiKey {
    /// Expand a key.
    ///
    /// # Safety
    /// The CPU must have AES-NI ([`available`]).
    #[target_feature(enable = "aes,sse2")]
    pub(crate) unsafe fn new(key: &[u8; 16]) -> NiKey {
        // SAFETY: a 16-byte read from a 16-byte array (unaligned load).
        let k0 = unsafe { _mm_loadu_si128(key.as_ptr().cast()) };
        let k1 = round_key!(k0, 0x01);
        let k2 = round_key!(k1, 0x02);
        let k3 = round_key!(k2, 0x04);
        let k4 = round_key!(k3, 0x08);
        let k5 = round_key!(k4, 0x10);
        let k6 = round_key!(k5, 0x20);
        let k7 = round_key!(k6, 0x40);
        let k8 = round_key!(k7, 0x80);
        let k9 = round_key!(k8, 0x1B);
        let k10 = round_key!(k9, 0x36);
        let enc = [k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10];
        let mut dec = [k10; 11];
        for i in 1..10 {
            dec[i] = _mm_aesimc_si128(enc[10 - i]);
        }
        dec[10] = k0;
        NiKey { enc, dec }
    }

    /// Encrypt one block (the page tweak), as little-endian u128.
    ///
    /// # Safety
    /// The CPU must have AES-NI.
    #[target_feature(enable = "aes,sse2")]
    pub(crate) unsafe fn encrypt_u128(&self, v: u128) -> u128 {
        let b = v.to_le_bytes();
        // SAFETY: 16-byte unaligned load from a 16-byte array.
        let mut x = _mm_xor_si128(unsafe { _mm_loadu_si128(b.as_ptr().cast()) }, self.enc[0]);
        for k in &self.enc[1..10] {
            x = _mm_aesenc_si128(x, *k);
        }
        x = _mm_aesenclast_si128(x, self.enc[10]);
        let mut out = [0u8; 16];
        // SAFETY: 16-byte unaligned store into a 16-byte array.
        unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), x) };
        u128::from_le_bytes(out)
    }

    /// XTS over `nb` consecutive blocks from `src` to `dst` (which may be equal), the first
    /// with tweak `t`: `C = E(P ⊕ T) ⊕ T`, then `T ← T·α`.
    ///
    /// # Safety
    /// The CPU must have AES-NI; `src` and `dst` are valid for `16 · nb` bytes and either
    /// equal or non-overlapping.
    #[target_feature(enable = "aes,sse2")]
    pub(crate) unsafe fn xts(&self, enc: bool, src: *const u8, dst: *mut u8, nb: usize, t: u128) {
        let tb = t.to_le_bytes();
        // SAFETY: 16-byte unaligned load from a 16-byte array.
        let mut t = unsafe { _mm_loadu_si128(tb.as_ptr().cast()) };
        let keys = if enc { &self.enc } else { &self.dec };
        let mut i = 0usize;
        while i + 8 <= nb {
            let mut tw = [t; 8];
            for j in 1..8 {
                tw[j] = mul_alpha(tw[j - 1]);
            }
            t = mul_alpha(tw[7]);
            let mut b = [t; 8];
            for j in 0..8 {
                // SAFETY: block i + j is inside the caller's source range.
                let x = unsafe { _mm_loadu_si128(src.add((i + j) * 16).cast()) };
                b[j] = _mm_xor_si128(_mm_xor_si128(x, tw[j]), keys[0]);
            }
            for k in &keys[1..10] {
                for x in b.iter_mut() {
                    *x = if enc {
                        _mm_aesenc_si128(*x, *k)
                    } else {
                        _mm_aesdec_si128(*x, *k)
                    };
                }
            }
            for j in 0..8 {
                let x = if enc {
                    _mm_aesenclast_si128(b[j], keys[10])
                } else {
                    _mm_aesdeclast_si128(b[j], keys[10])
                };
                // SAFETY: block i + j is inside the caller's destination range; all eight
                // source blocks were loaded above, so src == dst is fine.
                unsafe { _mm_storeu_si128(dst.add((i + j) * 16).cast(), _mm_xor_si128(x, tw[j])) };
            }
            i += 8;
        }
        while i < nb {
            // SAFETY: block i is inside both ranges.
            let x = unsafe { _mm_loadu_si128(src.add(i * 16).cast()) };
            let mut x = _mm_xor_si128(_mm_xor_si128(x, t), keys[0]);
            for k in &keys[1..10] {
                x = if enc {
                    _mm_aesenc_si128(x, *k)
                } else {
                    _mm_aesdec_si128(x, *k)
                };
            }
            x = if enc {
                _mm_aesenclast_si128(x, keys[10])
            } else {
                _mm_aesdeclast_si128(x, keys[10])
            };
            // SAFETY: as above.
            unsafe { _mm_storeu_si128(dst.add(i * 16).cast(), _mm_xor_si128(x, t)) };
            t = mul_alpha(t);
            i += 1;
        }
    }
}

/// The counter block `c` as the register holding its 16 big-endian bytes (AES-CTR counts
/// the whole block as one big-endian 128-bit integer).
#[inline]
#[target_feature(enable = "sse2")]
fn be_block(c: u128) -> __m128i {
    _mm_set_epi64x(
        (c as u64).swap_bytes() as i64,
        ((c >> 64) as u64).swap_bytes() as i64,
    )
}

/// Where the CTR keystream goes in a fused pass (see [`NiKey::xts_ctr`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fuse {
    /// `dst = XTS(src) ⊕ KS` (SEND_UPDATE_DATA: guest-key decryption, then the TEK).
    After,
    /// `dst = XTS(src ⊕ KS)` (RECEIVE_UPDATE_DATA: TEK decryption, then the guest key).
    Before,
}

impl NiKey {
    /// The ten AES rounds (with the whitening) over eight blocks in registers.
    #[inline]
    #[target_feature(enable = "aes,sse2")]
    fn crypt8(&self, enc: bool, mut b: [__m128i; 8]) -> [__m128i; 8] {
        let keys = if enc { &self.enc } else { &self.dec };
        for x in b.iter_mut() {
            *x = _mm_xor_si128(*x, keys[0]);
        }
        for k in &keys[1..10] {
            for x in b.iter_mut() {
                *x = if enc {
                    _mm_aesenc_si128(*x, *k)
                } else {
                    _mm_aesdec_si128(*x, *k)
                };
            }
        }
        for x in b.iter_mut() {
            *x = if enc {
                _mm_aesenclast_si128(*x, keys[10])
            } else {
                _mm_aesdeclast_si128(*x, keys[10])
            };
        }
        b
    }

    /// The ten AES rounds over one block.
    #[inline]
    #[target_feature(enable = "aes,sse2")]
    fn crypt1(&self, enc: bool, x: __m128i) -> __m128i {
        let keys = if enc { &self.enc } else { &self.dec };
        let mut x = _mm_xor_si128(x, keys[0]);
        for k in &keys[1..10] {
            x = if enc {
                _mm_aesenc_si128(x, *k)
            } else {
                _mm_aesdec_si128(x, *k)
            };
        }
        if enc {
            _mm_aesenclast_si128(x, keys[10])
        } else {
            _mm_aesdeclast_si128(x, keys[10])
        }
    }

    /// AES-128-CTR with this key from counter block `ctr` (big-endian, whole block counted)
    /// over `nb` blocks from `src` to `dst` (which may be equal), eight blocks in flight.
    ///
    /// # Safety
    /// The CPU must have AES-NI; `src` and `dst` are valid for `16 · nb` bytes and either
    /// equal or non-overlapping.
    #[target_feature(enable = "aes,sse2")]
    pub(crate) unsafe fn ctr(&self, ctr: u128, src: *const u8, dst: *mut u8, nb: usize) {
        let mut i = 0usize;
        while i + 8 <= nb {
            let mut c = [_mm_setzero_si128(); 8];
            for (j, x) in c.iter_mut().enumerate() {
                *x = be_block(ctr.wrapping_add((i + j) as u128));
            }
            let ks = self.crypt8(true, c);
            for (j, k) in ks.iter().enumerate() {
                // SAFETY: block i + j is inside both of the caller's ranges; each block is
                // loaded before its own store, so src == dst is fine.
                unsafe {
                    let x = _mm_loadu_si128(src.add((i + j) * 16).cast());
                    _mm_storeu_si128(dst.add((i + j) * 16).cast(), _mm_xor_si128(x, *k));
                }
            }
            i += 8;
        }
        while i < nb {
            let k = self.crypt1(true, be_block(ctr.wrapping_add(i as u128)));
            // SAFETY: block i is inside both ranges.
            unsafe {
                let x = _mm_loadu_si128(src.add(i * 16).cast());
                _mm_storeu_si128(dst.add(i * 16).cast(), _mm_xor_si128(x, k));
            }
            i += 1;
        }
    }

    /// One pass over `nb` blocks: XTS with this key (`enc`, first tweak `t`, as in
    /// [`NiKey::xts`]) fused with AES-128-CTR under `ck` from counter block `ctr`, the
    /// keystream applied after or before the XTS step (`how`). Each block is read once and
    /// written once; the intermediate (the guest plaintext) stays in registers. Returns the
    /// tweak of the block after the last.
    ///
    /// # Safety
    /// The CPU must have AES-NI; `src` and `dst` are valid for `16 · nb` bytes and either
    /// equal or non-overlapping.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "aes,sse2")]
    pub(crate) unsafe fn xts_ctr(
        &self,
        enc: bool,
        t: u128,
        ck: &NiKey,
        ctr: u128,
        how: Fuse,
        src: *const u8,
        dst: *mut u8,
        nb: usize,
    ) -> u128 {
        let tb = t.to_le_bytes();
        // SAFETY: 16-byte unaligned load from a 16-byte array.
        let mut t = unsafe { _mm_loadu_si128(tb.as_ptr().cast()) };
        let mut i = 0usize;
        while i + 8 <= nb {
            let mut c = [_mm_setzero_si128(); 8];
            for (j, x) in c.iter_mut().enumerate() {
                *x = be_block(ctr.wrapping_add((i + j) as u128));
            }
            let ks = ck.crypt8(true, c);
            let mut tw = [t; 8];
            for j in 1..8 {
                tw[j] = mul_alpha(tw[j - 1]);
            }
            t = mul_alpha(tw[7]);
            let mut b = [t; 8];
            for j in 0..8 {
                // SAFETY: block i + j is inside the caller's source range.
                let mut x = unsafe { _mm_loadu_si128(src.add((i + j) * 16).cast()) };
                if how == Fuse::Before {
                    x = _mm_xor_si128(x, ks[j]);
                }
                b[j] = _mm_xor_si128(x, tw[j]);
            }
            let b = self.crypt8(enc, b);
            for j in 0..8 {
                let mut x = _mm_xor_si128(b[j], tw[j]);
                if how == Fuse::After {
                    x = _mm_xor_si128(x, ks[j]);
                }
                // SAFETY: block i + j is inside the caller's destination range; all eight
                // source blocks were loaded above, so src == dst is fine.
                unsafe { _mm_storeu_si128(dst.add((i + j) * 16).cast(), x) };
            }
            i += 8;
        }
        while i < nb {
            let k = ck.crypt1(true, be_block(ctr.wrapping_add(i as u128)));
            // SAFETY: block i is inside both ranges.
            let mut x = unsafe { _mm_loadu_si128(src.add(i * 16).cast()) };
            if how == Fuse::Before {
                x = _mm_xor_si128(x, k);
            }
            x = _mm_xor_si128(self.crypt1(enc, _mm_xor_si128(x, t)), t);
            if how == Fuse::After {
                x = _mm_xor_si128(x, k);
            }
            // SAFETY: as above.
            unsafe { _mm_storeu_si128(dst.add(i * 16).cast(), x) };
            t = mul_alpha(t);
            i += 1;
        }
        let mut tb = [0u8; 16];
        // SAFETY: 16-byte unaligned store into a 16-byte array.
        unsafe { _mm_storeu_si128(tb.as_mut_ptr().cast(), t) };
        u128::from_le_bytes(tb)
    }
}

/// Whether this CPU has 256-bit VAES (two AES blocks per instruction) next to AES-NI.
pub(crate) fn vaes_available() -> bool {
    available()
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("vaes")
}

/// Two blocks (`lo` at the lower address) in one 256-bit register.
#[inline]
#[target_feature(enable = "avx2")]
fn pair(lo: __m128i, hi: __m128i) -> __m256i {
    _mm256_set_m128i(hi, lo)
}

/// One 256-bit VAES instruction (`op` is `vaesenc`, `vaesdec`, `vaesenclast` or
/// `vaesdeclast`) on two blocks with the round keys in `k`. Written as inline assembly: the
/// VAES intrinsics are newer than this crate's minimum Rust.
macro_rules! vaes {
    ($op:literal, $x:expr, $k:expr) => {{
        let mut x: __m256i = $x;
        let k: __m256i = $k;
        // SAFETY: the caller runs only on a CPU with VAES (`vaes_available`); the
        // instruction reads and writes only these registers.
        unsafe {
            std::arch::asm!(
                concat!($op, " {x}, {x}, {k}"),
                x = inout(ymm_reg) x,
                k = in(ymm_reg) k,
                options(pure, nomem, nostack, preserves_flags)
            )
        };
        x
    }};
}

/// The ten AES rounds (with the whitening) over eight register pairs: sixteen blocks.
///
/// # Safety
/// The CPU must have VAES and AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn crypt16(keys: &[__m256i; 11], enc: bool, mut b: [__m256i; 8]) -> [__m256i; 8] {
    for x in b.iter_mut() {
        *x = _mm256_xor_si256(*x, keys[0]);
    }
    for k in &keys[1..10] {
        for x in b.iter_mut() {
            *x = if enc {
                vaes!("vaesenc", *x, *k)
            } else {
                vaes!("vaesdec", *x, *k)
            };
        }
    }
    for x in b.iter_mut() {
        *x = if enc {
            vaes!("vaesenclast", *x, keys[10])
        } else {
            vaes!("vaesdeclast", *x, keys[10])
        };
    }
    b
}

impl NiKey {
    /// Round keys in both halves of 256-bit registers.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn wide(keys: &[__m128i; 11]) -> [__m256i; 11] {
        keys.map(|k| _mm256_broadcastsi128_si256(k))
    }

    /// [`NiKey::xts_ctr`] with VAES: sixteen blocks per step (two per instruction), the
    /// rest of the range (under sixteen blocks) by [`NiKey::xts_ctr`]. Same bytes, same
    /// returned tweak.
    ///
    /// # Safety
    /// The CPU must have AES-NI, AVX2 and VAES ([`vaes_available`]); `src` and `dst` are
    /// valid for `16 · nb` bytes and either equal or non-overlapping.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "aes,sse2,avx2")]
    pub(crate) unsafe fn xts_ctr_vaes(
        &self,
        enc: bool,
        t: u128,
        ck: &NiKey,
        ctr: u128,
        how: Fuse,
        src: *const u8,
        dst: *mut u8,
        nb: usize,
    ) -> u128 {
        let keys = Self::wide(if enc { &self.enc } else { &self.dec });
        let ckeys = Self::wide(&ck.enc);
        let tb = t.to_le_bytes();
        // SAFETY: 16-byte unaligned load from a 16-byte array.
        let mut t1 = unsafe { _mm_loadu_si128(tb.as_ptr().cast()) };
        let mut i = 0usize;
        while i + 16 <= nb {
            let mut c = [_mm256_setzero_si256(); 8];
            for (j, x) in c.iter_mut().enumerate() {
                let n = ctr.wrapping_add((i + 2 * j) as u128);
                *x = pair(be_block(n), be_block(n.wrapping_add(1)));
            }
            // SAFETY: the caller's contract (VAES is present).
            let ks = unsafe { crypt16(&ckeys, true, c) };
            let mut tw = [_mm256_setzero_si256(); 8];
            for x in tw.iter_mut() {
                let t2 = mul_alpha(t1);
                *x = pair(t1, t2);
                t1 = mul_alpha(t2);
            }
            let mut b = [_mm256_setzero_si256(); 8];
            for j in 0..8 {
                // SAFETY: blocks i + 2j and i + 2j + 1 are inside the caller's source range.
                let mut x = unsafe { _mm256_loadu_si256(src.add((i + 2 * j) * 16).cast()) };
                if how == Fuse::Before {
                    x = _mm256_xor_si256(x, ks[j]);
                }
                b[j] = _mm256_xor_si256(x, tw[j]);
            }
            // SAFETY: as above.
            let b = unsafe { crypt16(&keys, enc, b) };
            for j in 0..8 {
                let mut x = _mm256_xor_si256(b[j], tw[j]);
                if how == Fuse::After {
                    x = _mm256_xor_si256(x, ks[j]);
                }
                // SAFETY: inside the caller's destination range; all sixteen source blocks
                // were loaded above, so src == dst is fine.
                unsafe { _mm256_storeu_si256(dst.add((i + 2 * j) * 16).cast(), x) };
            }
            i += 16;
        }
        let mut tb = [0u8; 16];
        // SAFETY: 16-byte unaligned store into a 16-byte array.
        unsafe { _mm_storeu_si128(tb.as_mut_ptr().cast(), t1) };
        let t = u128::from_le_bytes(tb);
        if i == nb {
            return t;
        }
        // SAFETY: the rest of the caller's ranges; AES-NI is present.
        unsafe {
            self.xts_ctr(
                enc,
                t,
                ck,
                ctr.wrapping_add(i as u128),
                how,
                src.add(i * 16),
                dst.add(i * 16),
                nb - i,
            )
        }
    }
}
