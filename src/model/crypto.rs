//! The firmware's cryptographic building blocks (`sev-spec` §4.1–4.3), written for the model
//! only: the guest-owner side has its own, so a shared mistake cannot hide.
//!
//! Also the model's random source: the OS generator, or a ChaCha20 stream seeded from
//! [`super::ModelConfig::seed`] for reproducible runs.

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
pub(crate) fn aes128_ctr(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    use cipher::{KeyIvInit, StreamCipher};
    let mut c = ctr::Ctr128BE::<aes::Aes128>::new(key.into(), iv.into());
    c.apply_keystream(data);
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
    fn seeded_rng_is_reproducible() {
        let a: [u8; 32] = ModelRng::new(Some(&[1; 32])).bytes();
        let b: [u8; 32] = ModelRng::new(Some(&[1; 32])).bytes();
        let c: [u8; 32] = ModelRng::new(Some(&[2; 32])).bytes();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(ct_eq(&a, &b) && !ct_eq(&a, &c) && !ct_eq(&a, &a[..31]));
    }
}
