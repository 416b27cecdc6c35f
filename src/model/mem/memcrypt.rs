//! Guest memory encryption in the model (design.md §2, sev-spec §4.12).
//!
//! Real hardware encrypts guest memory in the memory controller with a cipher nobody can
//! reproduce. The model uses AES-128 in XTS style with the address as tweak: the VEK is two
//! AES-128 keys (data key K1, tweak key K2); each 4 KiB page at address `P` has the tweak
//! `T = AES(K2, LE128(P))`, and the 16-byte block `j` of the page is
//! `C = AES(K1, M ⊕ T·αʲ) ⊕ T·αʲ` (multiplication in GF(2¹²⁸) as in IEEE 1619). So the
//! ciphertext depends on the key and on the address of every 16-byte granule, and every data
//! path works on 16-byte granules, as on real hardware. The address is the host virtual
//! address of the guest memory (the model has no physical addresses).
//!
//! LAUNCH_UPDATE_DATA must hash the plaintext (one SHA-256 chain, the bottleneck) and encrypt
//! it in place; [`measure_and_encrypt`] hashes on the calling thread while a second thread
//! encrypts the pages already hashed, a chunk behind.

use aes::Aes128;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::model::firmware::crypto::aes128_ctr;
#[cfg(target_arch = "x86_64")]
use crate::model::mem::memcrypt_ni::{self, Fuse, NiKey};
use cipher::{KeyIvInit, StreamCipher};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
use zeroize::Zeroizing;

/// The granule of the address tweak.
pub(crate) const PAGE: usize = 4096;
const BLOCKS_PER_PAGE: usize = PAGE / 16;

type Block = GenericArray<u8, aes::cipher::consts::U16>;

/// A guest's memory encryption key (VEK). The AES key schedules are wiped on drop (the `aes`
/// crate's `zeroize` feature; [`memcrypt_ni::NiKey`]'s own `Drop`).
pub(crate) struct Vek {
    data: Aes128,
    tweak: Aes128,
    /// AES-NI round keys (data, tweak) when the CPU has AES-NI.
    #[cfg(target_arch = "x86_64")]
    ni: Option<(NiKey, NiKey)>,
    /// Whether the fused migration pass may use 256-bit VAES (with `ni` only).
    #[cfg(target_arch = "x86_64")]
    vaes: bool,
}

impl std::fmt::Debug for Vek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vek(..)")
    }
}

#[inline(always)]
fn mul_alpha(t: u128) -> u128 {
    (t << 1) ^ ((((t as i128) >> 127) as u128) & 0x87)
}

#[inline(always)]
fn xor_tweaks(seg: &mut [u8], tweaks: &[u128]) {
    for (c, t) in seg.chunks_exact_mut(16).zip(tweaks) {
        let v = u128::from_le_bytes(c.try_into().expect("16 bytes")) ^ t;
        c.copy_from_slice(&v.to_le_bytes());
    }
}

fn as_blocks(seg: &mut [u8]) -> &mut [Block] {
    debug_assert_eq!(seg.len() % 16, 0);
    // SAFETY: `Block` is a `GenericArray<u8, U16>`: 16 bytes, alignment 1, no invalid bit
    // patterns; `seg.len()` is a multiple of 16, so the cast covers exactly `seg`, and the
    // returned borrow has the lifetime of the `&mut` it came from.
    unsafe { std::slice::from_raw_parts_mut(seg.as_mut_ptr().cast::<Block>(), seg.len() / 16) }
}

impl Vek {
    /// A VEK from 32 random bytes (K1 ‖ K2).
    pub(crate) fn from_bytes(k: &[u8; 32]) -> Vek {
        Vek {
            data: Aes128::new(GenericArray::from_slice(&k[..16])),
            tweak: Aes128::new(GenericArray::from_slice(&k[16..])),
            #[cfg(target_arch = "x86_64")]
            ni: memcrypt_ni::available().then(|| {
                let (k1, k2): (&[u8; 16], &[u8; 16]) = (
                    k[..16].try_into().expect("16 bytes"),
                    k[16..].try_into().expect("16 bytes"),
                );
                // SAFETY: `available()` checked AES-NI.
                unsafe { (NiKey::new(k1), NiKey::new(k2)) }
            }),
            #[cfg(target_arch = "x86_64")]
            vaes: memcrypt_ni::vaes_available(),
        }
    }

    /// The same key with AES-NI but without VAES (for equivalence tests).
    #[cfg(all(test, target_arch = "x86_64"))]
    fn no_vaes(k: &[u8; 32]) -> Vek {
        Vek {
            vaes: false,
            ..Vek::from_bytes(k)
        }
    }

    /// The same key without the AES-NI path (for equivalence tests).
    #[cfg(test)]
    fn portable(k: &[u8; 32]) -> Vek {
        Vek {
            #[cfg(target_arch = "x86_64")]
            ni: None,
            #[cfg(target_arch = "x86_64")]
            vaes: false,
            ..Vek::from_bytes(k)
        }
    }

    fn page_tweak(&self, page: u64) -> u128 {
        #[cfg(target_arch = "x86_64")]
        if let Some((_, t)) = &self.ni {
            // SAFETY: `ni` exists only when the CPU has AES-NI.
            return unsafe { t.encrypt_u128(page as u128) };
        }
        let mut b = Block::from((page as u128).to_le_bytes());
        self.tweak.encrypt_block(&mut b);
        u128::from_le_bytes(b.into())
    }

    /// XTS over the whole blocks of `seg`, in place, the first block with tweak `t`.
    fn xts_in_place(&self, t: u128, seg: &mut [u8], enc: bool) {
        #[cfg(target_arch = "x86_64")]
        if let Some((d, _)) = &self.ni {
            let p = seg.as_mut_ptr();
            // SAFETY: AES-NI is present; source and destination are the same `seg`.
            unsafe { d.xts(enc, p, p, seg.len() / 16, t) };
            return;
        }
        let mut tweaks = [0u128; BLOCKS_PER_PAGE];
        let mut t = t;
        for chunk in seg.chunks_mut(PAGE) {
            let nb = chunk.len() / 16;
            for tw in tweaks.iter_mut().take(nb) {
                *tw = t;
                t = mul_alpha(t);
            }
            xor_tweaks(chunk, &tweaks[..nb]);
            if enc {
                self.data.encrypt_blocks(as_blocks(chunk));
            } else {
                self.data.decrypt_blocks(as_blocks(chunk));
            }
            xor_tweaks(chunk, &tweaks[..nb]);
        }
    }

    /// XTS from `src` into `dst` (same length, whole blocks).
    fn xts_copy(&self, t: u128, src: &[u8], dst: &mut [u8], enc: bool) {
        #[cfg(target_arch = "x86_64")]
        if let Some((d, _)) = &self.ni {
            // SAFETY: AES-NI is present; `src` and `dst` are distinct borrows of equal length.
            unsafe { d.xts(enc, src.as_ptr(), dst.as_mut_ptr(), src.len() / 16, t) };
            return;
        }
        dst.copy_from_slice(src);
        self.xts_in_place(t, dst, enc);
    }

    /// The tweak of the block at guest address `a` (16-aligned).
    fn tweak_at(&self, a: u64) -> u128 {
        let mut t = self.page_tweak(a & !(PAGE as u64 - 1));
        for _ in 0..((a as usize) & (PAGE - 1)) / 16 {
            t = mul_alpha(t);
        }
        t
    }

    /// Encrypt (`enc`) or decrypt `buf` in place, `addr` being the guest address of `buf[0]`.
    /// Both must be multiples of 16 (the firmware checks before calling).
    pub(crate) fn crypt_in_place(&self, addr: u64, buf: &mut [u8], enc: bool) {
        assert!(
            addr % 16 == 0 && buf.len() % 16 == 0,
            "memory cipher works on 16-byte granules"
        );
        let mut off = 0usize;
        while off < buf.len() {
            let a = addr.wrapping_add(off as u64);
            let n = (PAGE - ((a as usize) & (PAGE - 1))).min(buf.len() - off);
            self.xts_in_place(self.tweak_at(a), &mut buf[off..off + n], enc);
            off += n;
        }
    }

    /// Like [`Vek::crypt_in_place`] but from `src` into `dst` (same length), `addr` being
    /// the guest address that gives the tweak (the source for decryption, the destination
    /// for encryption).
    pub(crate) fn crypt_copy(&self, addr: u64, src: &[u8], dst: &mut [u8], enc: bool) {
        assert!(
            src.len() == dst.len() && addr % 16 == 0 && src.len() % 16 == 0,
            "memory cipher works on 16-byte granules"
        );
        let mut off = 0usize;
        while off < src.len() {
            let a = addr.wrapping_add(off as u64);
            let n = (PAGE - ((a as usize) & (PAGE - 1))).min(src.len() - off);
            self.xts_copy(
                self.tweak_at(a),
                &src[off..off + n],
                &mut dst[off..off + n],
                enc,
            );
            off += n;
        }
    }

    /// SEND_UPDATE_DATA's cipher pass: `dst = AES-128-CTR(tek, iv)(XTS-decrypt(src))`,
    /// `addr` being the guest address of `src` (16-aligned; lengths equal, multiples of 16).
    /// With AES-NI one fused pass (each block read and written once; the guest plaintext
    /// never leaves the registers); otherwise [`Vek::crypt_copy`] then [`aes128_ctr`].
    pub(crate) fn decrypt_then_ctr(
        &self,
        addr: u64,
        src: &[u8],
        dst: &mut [u8],
        tek: &[u8; 16],
        iv: &[u8; 16],
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.ni.is_some() {
            return self.fused(addr, src, dst, tek, iv, Fuse::After);
        }
        self.crypt_copy(addr, src, dst, false);
        aes128_ctr(tek, iv, dst);
    }

    /// RECEIVE_UPDATE_DATA's cipher pass: `dst = XTS-encrypt(AES-128-CTR(tek, iv)(src))`,
    /// `addr` being the guest address of `dst`. With AES-NI one fused pass (the plaintext
    /// never leaves the registers); otherwise page by page through one wiped stack page.
    pub(crate) fn ctr_then_encrypt(
        &self,
        addr: u64,
        src: &[u8],
        dst: &mut [u8],
        tek: &[u8; 16],
        iv: &[u8; 16],
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.ni.is_some() {
            return self.fused(addr, src, dst, tek, iv, Fuse::Before);
        }
        assert!(src.len() == dst.len(), "equal lengths");
        let mut ctr = ctr::Ctr128BE::<Aes128>::new(tek.into(), iv.into());
        let mut page = Zeroizing::new([0u8; PAGE]);
        let mut off = 0usize;
        while off < src.len() {
            let a = addr.wrapping_add(off as u64);
            let n = (PAGE - ((a as usize) & (PAGE - 1))).min(src.len() - off);
            let plain = &mut page[..n];
            ctr.apply_keystream_b2b(&src[off..off + n], plain)
                .expect("equal lengths");
            self.crypt_copy(a, plain, &mut dst[off..off + n], true);
            off += n;
        }
    }

    /// The AES-NI pass of [`Vek::decrypt_then_ctr`] (`Fuse::After`, XTS decryption) and
    /// [`Vek::ctr_then_encrypt`] (`Fuse::Before`, XTS encryption), page by page for the
    /// tweak, the CTR counter running on across pages.
    #[cfg(target_arch = "x86_64")]
    fn fused(
        &self,
        addr: u64,
        src: &[u8],
        dst: &mut [u8],
        tek: &[u8; 16],
        iv: &[u8; 16],
        how: Fuse,
    ) {
        assert!(
            src.len() == dst.len() && addr % 16 == 0 && src.len() % 16 == 0,
            "memory cipher works on 16-byte granules"
        );
        let Some((d, _)) = &self.ni else {
            unreachable!("called with AES-NI keys only")
        };
        // Ask for every line of both ranges at once (a packet's guest page is usually cold:
        // streamed from memory, and the hardware prefetcher stops at page boundaries).
        prefetch(src);
        prefetch(dst);
        // SAFETY: `ni` exists only when the CPU has AES-NI.
        let ck = unsafe { NiKey::new(tek) };
        let vaes = self.vaes;
        let ctr0 = u128::from_be_bytes(*iv);
        let mut off = 0usize;
        while off < src.len() {
            let a = addr.wrapping_add(off as u64);
            let n = (PAGE - ((a as usize) & (PAGE - 1))).min(src.len() - off);
            let ctr = ctr0.wrapping_add((off / 16) as u128);
            let (s, o) = (&src[off..off + n], &mut dst[off..off + n]);
            let (enc, t, nb) = (how == Fuse::Before, self.tweak_at(a), n / 16);
            let (sp, op) = (s.as_ptr(), o.as_mut_ptr());
            if vaes {
                // SAFETY: AES-NI, AVX2 and VAES are present; `s` and `o` are distinct
                // borrows of `n` bytes.
                unsafe { d.xts_ctr_vaes(enc, t, &ck, ctr, how, sp, op, nb) };
            } else {
                // SAFETY: AES-NI is present; as above.
                unsafe { d.xts_ctr(enc, t, &ck, ctr, how, sp, op, nb) };
            }
            off += n;
        }
    }
}

/// Ask the CPU for every cache line of `b` at once (a hint: a no-op where there is no
/// prefetch instruction). For a cold 4 KiB packet the lines then arrive in parallel instead
/// of one by one as a sequential pass reaches them.
#[inline]
pub(crate) fn prefetch(b: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for off in (0..b.len()).step_by(64) {
        // SAFETY: prefetching never faults and reads nothing architecturally; the address
        // is inside `b`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(b.as_ptr().add(off).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = b;
}

/// Guest memory at a host address, as a slice.
///
/// # Safety
/// `[addr, addr + len)` must be mapped, writable memory of this process that nothing else
/// accesses while the slice lives (the transport's `encrypt_op` contract).
pub(crate) unsafe fn guest_mem<'a>(addr: u64, len: usize) -> &'a mut [u8] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: the caller guarantees the range is valid and exclusively ours.
    unsafe { std::slice::from_raw_parts_mut(addr as usize as *mut u8, len) }
}

/// Hash `data` into `ld`, prefetching a page ahead (the one serial SHA-256 chain is the
/// bottleneck of LAUNCH_UPDATE_DATA; streaming from memory loses speed without it).
fn hash_with_prefetch(ld: &mut Sha256, data: &[u8]) {
    for (i, page) in data.chunks(PAGE).enumerate() {
        #[cfg(target_arch = "x86_64")]
        if let Some(next) = data.get((i + 1) * PAGE..) {
            let p = next.as_ptr();
            for line in (0..next.len().min(PAGE)).step_by(64) {
                // SAFETY: a prefetch is only a hint and never faults; the address is inside
                // `next`, and SSE is part of the x86_64 baseline.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        p.add(line).cast(),
                    )
                };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
        ld.update(page);
    }
}

/// Below this size the launch update runs on the calling thread (page by page: hash, then
/// encrypt while the page is in L1).
const PIPELINE_MIN: usize = 4 << 20;
/// The hashing thread publishes its progress every `CHUNK` bytes.
const CHUNK: usize = 128 << 10;

/// LAUNCH_UPDATE_DATA's work: feed the plaintext of `[addr, addr + len)` into the launch
/// digest, in order, and encrypt it in place with the guest key.
///
/// # Safety
/// As [`guest_mem`]; `addr` and `len` are multiples of 16.
pub(crate) unsafe fn measure_and_encrypt(vek: &Vek, ld: &mut Sha256, addr: u64, len: usize) {
    let two_cores = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if len < PIPELINE_MIN || !two_cores {
        // SAFETY: the caller's contract.
        let mem = unsafe { guest_mem(addr, len) };
        let mut off = 0;
        while off < len {
            let a = addr + off as u64;
            let n = (PAGE - (a as usize & (PAGE - 1))).min(len - off);
            ld.update(&mem[off..off + n]);
            vek.crypt_in_place(a, &mut mem[off..off + n], true);
            off += n;
        }
        return;
    }
    // Pipeline: this thread hashes chunk by chunk and publishes how far it got; the helper
    // encrypts everything below that mark. The two never touch the same bytes at once: the
    // hasher reads [hashed, hashed + CHUNK) while the encrypter writes below `hashed`.
    let hashed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let encrypter = s.spawn(|| {
            let mut done = 0usize;
            while done < len {
                let upto = loop {
                    let h = hashed.load(Ordering::Acquire);
                    if h > done {
                        break h;
                    }
                    std::thread::park();
                };
                // SAFETY: [done, upto) is part of the caller's range and the hasher has
                // finished reading it (Acquire pairs with its Release store); nobody else
                // touches it.
                let mem = unsafe { guest_mem(addr + done as u64, upto - done) };
                vek.crypt_in_place(addr + done as u64, mem, true);
                done = upto;
            }
        });
        let waker = encrypter.thread().clone();
        let mut off = 0usize;
        while off < len {
            let n = CHUNK.min(len - off);
            // SAFETY: [off, off + n) is part of the caller's range and above everything the
            // encrypter may touch (it stops at the last published mark, which is `off`).
            let chunk = unsafe { guest_mem(addr + off as u64, n) };
            hash_with_prefetch(ld, chunk);
            off += n;
            hashed.store(off, Ordering::Release);
            waker.unpark();
        }
        encrypter
            .join()
            .expect("the encrypting thread does not panic");
    });
}

/// Above this size a debug or migration range is split over two threads.
const PARALLEL_MIN: usize = 8 << 20;

/// Encrypt (`enc`) plaintext at `src` into guest-key ciphertext at `dst`, or decrypt
/// ciphertext at `src` into plaintext at `dst`; the tweak address is `dst` when encrypting
/// and `src` when decrypting (the encrypted side). Large ranges use two threads.
///
/// # Safety
/// Both ranges must be valid memory of this process that nothing else accesses during the
/// call; `src`, `dst` and `len` are multiples of 16.
pub(crate) unsafe fn crypt_range(vek: &Vek, src: u64, dst: u64, len: usize, enc: bool) {
    let tweak = if enc { dst } else { src };
    let disjoint = src.saturating_add(len as u64) <= dst || dst.saturating_add(len as u64) <= src;
    if src != dst && !disjoint {
        // Overlapping ranges: read the whole source first.
        // SAFETY: the caller's contract; the slice is dropped before `dst` is written.
        let tmp = unsafe { guest_mem(src, len) }.to_vec();
        // SAFETY: the caller's contract.
        vek.crypt_copy(tweak, &tmp, unsafe { guest_mem(dst, len) }, enc);
        return;
    }
    let work = |off: usize, n: usize| {
        let t = tweak + off as u64;
        if src == dst {
            // SAFETY: the caller's contract; each thread gets a disjoint part.
            let m = unsafe { guest_mem(dst + off as u64, n) };
            vek.crypt_in_place(t, m, enc);
        } else {
            // SAFETY: as above; the source and destination do not overlap.
            let (s, d) = unsafe {
                (
                    &*guest_mem(src + off as u64, n),
                    guest_mem(dst + off as u64, n),
                )
            };
            vek.crypt_copy(t, s, d, enc);
        }
    };
    let two_cores = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if len >= PARALLEL_MIN && two_cores {
        let half = (len / 2) & !(PAGE - 1);
        std::thread::scope(|s| {
            s.spawn(|| work(0, half));
            work(half, len - half);
        });
    } else {
        work(0, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vek(seed: u8) -> Vek {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(i as u8);
        }
        Vek::from_bytes(&k)
    }

    #[test]
    fn xts_known_answer_ieee1619_vector_2() {
        // IEEE 1619 XTS-AES-128 vector 2: key1 = 11.., key2 = 22.., data unit 0x3333333333,
        // plaintext 44.. (32 bytes). Our page tweak is AES(K2, LE128(page address)), so the
        // vector's data-unit number stands in for the page address. Both code paths.
        let mut k = [0x11u8; 32];
        k[16..].fill(0x22);
        let want = "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0";
        for v in [Vek::from_bytes(&k), Vek::portable(&k)] {
            let mut buf = [0x44u8; 32];
            v.xts_in_place(v.page_tweak(0x3333333333), &mut buf, true);
            let got: String = buf.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, want);
            v.xts_in_place(v.page_tweak(0x3333333333), &mut buf, false);
            assert_eq!(buf, [0x44u8; 32]);
        }
    }

    #[test]
    fn accelerated_and_portable_paths_agree() {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = (i * 13 + 1) as u8;
        }
        let (fast, slow) = (Vek::from_bytes(&k), Vek::portable(&k));
        let plain: Vec<u8> = (0..3 * PAGE + 0x230).map(|i| (i * 31 + 7) as u8).collect();
        for addr in [0x7000u64, 0x7FF0, 0x12340] {
            let (mut a, mut b) = (plain.clone(), plain.clone());
            fast.crypt_in_place(addr, &mut a, true);
            slow.crypt_in_place(addr, &mut b, true);
            assert_eq!(a, b);
            let mut c = vec![0u8; plain.len()];
            fast.crypt_copy(addr, &a, &mut c, false);
            assert_eq!(c, plain);
            slow.crypt_copy(addr, &b, &mut c, false);
            assert_eq!(c, plain);
        }
    }

    #[test]
    fn fused_migration_passes_equal_the_separate_steps() {
        // decrypt_then_ctr = XTS-decrypt then CTR; ctr_then_encrypt = CTR then XTS-encrypt;
        // both the fused (AES-NI) and the portable paths, against steps done one by one
        // with the `ctr` crate, for ranges crossing pages and counters carrying over 64 bits.
        use cipher::{KeyIvInit, StreamCipher};
        let ctr_crate = |tek: &[u8; 16], iv: &[u8; 16], d: &mut [u8]| {
            ctr::Ctr128BE::<Aes128>::new(tek.into(), iv.into()).apply_keystream(d)
        };
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = (i * 29 + 5) as u8;
        }
        let (fast, slow) = (Vek::from_bytes(&k), Vek::portable(&k));
        #[cfg(target_arch = "x86_64")]
        let narrow = Vek::no_vaes(&k);
        #[cfg(not(target_arch = "x86_64"))]
        let narrow = Vek::portable(&k);
        let tek = [0x5Au8; 16];
        let mut carry = [0x11u8; 16];
        carry[8..].fill(0xFF);
        carry[15] = 0xF0;
        let data: Vec<u8> = (0..2 * PAGE + 0x150).map(|i| (i * 13 + 3) as u8).collect();
        for (addr, len) in [
            (0x9000u64, PAGE),
            (0x9FC0, 0x90),
            (0x1_2340, 2 * PAGE + 0x150),
        ] {
            for iv in [[7u8; 16], carry, [0xFF; 16]] {
                let src = &data[..len];
                let mut want = vec![0u8; len];
                slow.crypt_copy(addr, src, &mut want, false);
                ctr_crate(&tek, &iv, &mut want);
                let mut want_rx = src.to_vec();
                ctr_crate(&tek, &iv, &mut want_rx);
                slow.crypt_in_place(addr, &mut want_rx, true);
                for v in [&fast, &narrow, &slow] {
                    let mut out = vec![0u8; len];
                    v.decrypt_then_ctr(addr, src, &mut out, &tek, &iv);
                    assert_eq!(out, want, "send at {addr:#x}+{len:#x}");
                    let mut rx = vec![0u8; len];
                    v.ctr_then_encrypt(addr, src, &mut rx, &tek, &iv);
                    assert_eq!(rx, want_rx, "receive at {addr:#x}+{len:#x}");
                    // The receive pass undoes the send pass.
                    let mut back = vec![0u8; len];
                    v.ctr_then_encrypt(addr, &out, &mut back, &tek, &iv);
                    assert_eq!(back, src);
                }
            }
        }
    }

    #[test]
    fn ciphertext_depends_on_key_and_address_and_round_trips() {
        let v = vek(1);
        let plain: Vec<u8> = (0..3 * PAGE).map(|i| (i * 7) as u8).collect();
        let mut a = plain.clone();
        v.crypt_in_place(0x10000, &mut a, true);
        assert_ne!(a, plain);
        // Same plaintext at another address, or with another key: other ciphertext.
        let mut b = plain.clone();
        v.crypt_in_place(0x20000, &mut b, true);
        assert_ne!(a[..16], b[..16]);
        let mut c = plain.clone();
        vek(2).crypt_in_place(0x10000, &mut c, true);
        assert_ne!(a[..16], c[..16]);
        // Equal plaintext blocks within a page encrypt differently.
        let mut z = vec![0u8; 64];
        v.crypt_in_place(0x30000, &mut z, true);
        assert_ne!(z[..16], z[16..32]);
        // Decryption restores, also for a sub-range starting mid-page.
        let mut d = a.clone();
        v.crypt_in_place(0x10000, &mut d, false);
        assert_eq!(d, plain);
        let mut part = a[0x7F0..0x1810].to_vec();
        v.crypt_in_place(0x10000 + 0x7F0, &mut part, false);
        assert_eq!(part[..], plain[0x7F0..0x1810]);
        // Encrypting a sub-range equals the same bytes of the whole.
        let mut sub = plain[0x1230..0x2340].to_vec();
        v.crypt_in_place(0x11230, &mut sub, true);
        assert_eq!(sub[..], a[0x1230..0x2340]);
        // The copying variant agrees with the in-place one.
        let mut out = vec![0u8; plain.len() - 0x40];
        v.crypt_copy(0x10040, &plain[0x40..], &mut out, true);
        assert_eq!(out[..], a[0x40..]);
    }

    #[test]
    fn pipelined_launch_update_equals_the_serial_one() {
        let v = vek(3);
        let len = PIPELINE_MIN + 5 * CHUNK + 48;
        let plain: Vec<u8> = (0..len).map(|i| (i ^ (i >> 9)) as u8).collect();
        let mut mem = plain.clone();
        let addr = mem.as_mut_ptr() as u64;
        let mut ld = Sha256::new();
        let addr16 = addr.next_multiple_of(16);
        let skip = (addr16 - addr) as usize;
        let n = (len - skip) & !15;
        // SAFETY: the range lies inside `mem`, which nothing else touches.
        unsafe { measure_and_encrypt(&v, &mut ld, addr16, n) };
        assert_eq!(
            ld.finalize()[..],
            Sha256::digest(&plain[skip..skip + n])[..]
        );
        let mut expect = plain[skip..skip + n].to_vec();
        v.crypt_in_place(addr16, &mut expect, true);
        assert_eq!(mem[skip..skip + n], expect[..]);
        assert_eq!(mem[..skip], plain[..skip]);
        assert_eq!(mem[skip + n..], plain[skip + n..]);
    }
}
