//! The firmware's cryptographic building blocks (`sev-spec` §4.1–4.3), written for the model
//! only: the guest-owner side has its own, so a shared mistake cannot hide.
//!
//! Also the model's random source: the OS generator, or a ChaCha20 stream seeded from
//! [`crate::model::ModelConfig::seed`] for reproducible runs.

use hmac::{Hmac, Mac};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, OsRng, RngCore, SeedableRng};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A 16-byte key (TEK, TIK, KEK, KIK, master secret), wiped on drop.
pub(crate) type Key16 = Zeroizing<[u8; 16]>;

/// NIST SP 800-108 counter-mode KDF with HMAC-SHA256 (§4.2):
/// `K_i = HMAC(key, LE32(i) ‖ label ‖ 0x00 ‖ context ‖ LE32(8·out.len()))`.
pub(crate) fn kdf(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let bits = (out.len() as u32) * 8;
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(&(i as u32 + 1).to_le_bytes());
        mac.update(label);
        mac.update(&[0]);
        mac.update(context);
        mac.update(&bits.to_le_bytes());
        let k = mac.finalize().into_bytes();
        chunk.copy_from_slice(&k[..chunk.len()]);
    }
}

/// A 16-byte KDF output.
pub(crate) fn kdf16(key: &[u8], label: &[u8], context: &[u8]) -> Key16 {
    let mut out = Zeroizing::new([0u8; 16]);
    kdf(key, label, context, &mut out[..]);
    out
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two MACs.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// AES-128-CTR in place: the 16-byte IV is the whole initial counter block, incremented as
/// one big-endian 128-bit integer (§4.1).
/// With AES-NI, eight blocks in flight (`memcrypt_ni`); otherwise the `ctr` crate.
pub(crate) fn aes128_ctr(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if crate::model::mem::memcrypt_ni::available() {
        return aes128_ctr_ni(key, iv, data);
    }
    aes128_ctr_portable(key, iv, data);
}

/// [`aes128_ctr`] with the `ctr` crate.
fn aes128_ctr_portable(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    use cipher::{KeyIvInit, StreamCipher};
    let mut c = ctr::Ctr128BE::<aes::Aes128>::new(key.into(), iv.into());
    c.apply_keystream(data);
}

/// [`aes128_ctr`] with AES-NI (the caller checked the CPU has it).
#[cfg(target_arch = "x86_64")]
fn aes128_ctr_ni(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    use crate::model::mem::memcrypt_ni::NiKey;
    let whole = data.len() / 16;
    let ctr = u128::from_be_bytes(*iv);
    // SAFETY: the caller checked AES-NI; `data` holds `whole` blocks (in place).
    let k = unsafe { NiKey::new(key) };
    let p = data.as_mut_ptr();
    // SAFETY: as above.
    unsafe { k.ctr(ctr, p, p, whole) };
    let tail = &mut data[whole * 16..];
    if !tail.is_empty() {
        let mut b = [0u8; 16];
        b[..tail.len()].copy_from_slice(tail);
        let q = b.as_mut_ptr();
        // SAFETY: one block in place in a 16-byte array.
        unsafe { k.ctr(ctr.wrapping_add(whole as u128), q, q, 1) };
        tail.copy_from_slice(&b[..tail.len()]);
    }
}

/// ECDH on P-384: the big-endian x-coordinate of `ours · theirs` (§4.3).
pub(crate) fn ecdh_x(ours: &p384::SecretKey, theirs: &p384::PublicKey) -> Zeroizing<[u8; 48]> {
    let shared = p384::ecdh::diffie_hellman(ours.to_nonzero_scalar(), theirs.as_affine());
    let mut z = Zeroizing::new([0u8; 48]);
    z.copy_from_slice(shared.raw_secret_bytes());
    z
}

/// The model's random source.
pub(crate) enum ModelRng {
    /// The operating system's generator.
    Os,
    /// A ChaCha20 stream from the configured seed (reproducible runs).
    Seeded(Box<ChaCha20Rng>),
}

impl ModelRng {
    /// The generator for a configuration: seeded when `seed` is given.
    pub(crate) fn new(seed: Option<&[u8; 32]>) -> Self {
        match seed {
            None => ModelRng::Os,
            Some(s) => {
                let mut k = Zeroizing::new([0u8; 32]);
                kdf(s, b"libsev-model-rng", &[], &mut k[..]);
                ModelRng::Seeded(Box::new(ChaCha20Rng::from_seed(*k)))
            }
        }
    }

    /// `N` random bytes.
    pub(crate) fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.fill_bytes(&mut b);
        b
    }
}

impl RngCore for ModelRng {
    fn next_u32(&mut self) -> u32 {
        match self {
            ModelRng::Os => OsRng.next_u32(),
            ModelRng::Seeded(r) => r.next_u32(),
        }
    }
    fn next_u64(&mut self) -> u64 {
        match self {
            ModelRng::Os => OsRng.next_u64(),
            ModelRng::Seeded(r) => r.next_u64(),
        }
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match self {
            ModelRng::Os => OsRng.fill_bytes(dest),
            ModelRng::Seeded(r) => r.fill_bytes(dest),
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for ModelRng {}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn kdf_known_answer() {
        // sev-spec §4.13 item 1.
        let k = kdf16(&[0u8; 16], b"sev-master-secret", &[0u8; 16]);
        assert_eq!(k[..], unhex("ab4d269fcc62bedb4511d56c386ce706")[..]);
        // A longer output is the counter-mode concatenation: its first block differs (L is
        // part of every HMAC input) and the second starts with counter 2.
        let mut long = [0u8; 48];
        kdf(&[0u8; 16], b"sev-master-secret", &[0u8; 16], &mut long);
        assert_ne!(long[..16], k[..]);
        let k2 = hmac(
            &[0u8; 16],
            &[
                &2u32.to_le_bytes(),
                b"sev-master-secret",
                &[0],
                &[0u8; 16],
                &384u32.to_le_bytes(),
            ],
        );
        assert_eq!(long[32..48], k2[..16]);
    }

    #[test]
    fn ctr_counter_carries_across_64_bits() {
        // The counter is one 128-bit big-endian integer: the block after ..FF|FF..FF is
        // ..01|00..00 (a 64-bit counter would wrap to ..FF|00..00).
        let key = [7u8; 16];
        let mut iv = [0u8; 16];
        iv[8..].fill(0xFF);
        let mut two = [0u8; 32];
        aes128_ctr(&key, &iv, &mut two);
        let mut next = [0u8; 16];
        next[7] = 1;
        let mut one = [0u8; 16];
        aes128_ctr(&key, &next, &mut one);
        assert_eq!(two[16..], one[..]);
    }

    #[test]
    fn ctr_known_answer_sp800_38a_f51_and_paths_agree() {
        // NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt).
        let key: [u8; 16] = unhex("2b7e151628aed2a6abf7158809cf4f3c")
            .try_into()
            .unwrap();
        let iv: [u8; 16] = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .try_into()
            .unwrap();
        let plain = unhex(concat!(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
        ));
        let want = unhex(concat!(
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff",
            "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
        ));
        let mut a = plain.clone();
        aes128_ctr(&key, &iv, &mut a);
        assert_eq!(a, want);
        let mut b = plain.clone();
        aes128_ctr_portable(&key, &iv, &mut b);
        assert_eq!(b, want);
        // Lengths around the eight-block batches and partial tails, counters that carry
        // across 64 bits and wrap at 2^128: the AES-NI path equals the `ctr` crate.
        #[cfg(target_arch = "x86_64")]
        if crate::model::mem::memcrypt_ni::available() {
            let data: Vec<u8> = (0..700).map(|i| (i * 37 + 11) as u8).collect();
            let mut ivs = [iv, [0xFF; 16], [0u8; 16]];
            ivs[2][8..].fill(0xFF);
            ivs[2][15] = 0xFA;
            for iv in ivs {
                for n in [0, 1, 15, 16, 17, 127, 128, 129, 255, 256, 300, 700] {
                    let (mut x, mut y) = (data[..n].to_vec(), data[..n].to_vec());
                    aes128_ctr_ni(&key, &iv, &mut x);
                    aes128_ctr_portable(&key, &iv, &mut y);
                    assert_eq!(x, y, "length {n}");
                }
            }
        }
    }

    #[test]
    fn seeded_rng_is_reproducible() {
        let a: [u8; 32] = ModelRng::new(Some(&[1; 32])).bytes();
        let b: [u8; 32] = ModelRng::new(Some(&[1; 32])).bytes();
        let c: [u8; 32] = ModelRng::new(Some(&[2; 32])).bytes();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(ct_eq(&a, &b) && !ct_eq(&a, &c) && !ct_eq(&a, &a[..31]));
    }
}
