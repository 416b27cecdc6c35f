//! The guest owner's own implementation of the SEV primitives of `sev-spec` §4.1–4.4: the
//! SP 800-108 KDF, the ECDH shared secret, AES-128-CTR, HMAC-SHA256 and the session-blob wrap.
//!
//! Deliberately independent of the firmware model (`crate::model`), which implements the
//! other side of the same formulas: a mistake shared by both would otherwise go unnoticed.

use aes::Aes128;
use cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

type HmacSha256 = Hmac<Sha256>;
type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// Size of the session blob (`sev_session_t`).
pub const SESSION_BLOB_LEN: usize = 0x80;

/// Labels of the KDF (§4.2).
pub const LABEL_MASTER: &[u8] = b"sev-master-secret";
pub const LABEL_KEK: &[u8] = b"sev-kek";
pub const LABEL_KIK: &[u8] = b"sev-kik";

/// The launch transport keys, TEK (encryption) and TIK (integrity). Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct TransportKeys {
    pub tek: [u8; 16],
    pub tik: [u8; 16],
}

impl std::fmt::Debug for TransportKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransportKeys(<secret>)")
    }
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// NIST SP 800-108 counter-mode KDF with HMAC-SHA256 (§4.2): block `i` (from 1) is
/// `HMAC(key, LE32(i) ‖ label ‖ 0x00 ‖ context ‖ LE32(8·out.len()))`; `context` is omitted
/// when empty. Fills `out`.
pub fn kdf(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let bits = u32::try_from(out.len() * 8).expect("KDF output length fits in 32 bits");
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let counter = u32::try_from(i + 1).expect("block counter");
        let mut block = hmac_sha256(
            key,
            &[
                &counter.to_le_bytes(),
                label,
                &[0u8],
                context,
                &bits.to_le_bytes(),
            ],
        );
        chunk.copy_from_slice(&block[..chunk.len()]);
        block.zeroize();
    }
}

/// A 16-byte KDF output.
pub fn kdf16(key: &[u8], label: &[u8], context: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut out = Zeroizing::new([0u8; 16]);
    kdf(key, label, context, &mut out[..]);
    out
}

/// AES-128-CTR in place; the IV is the full initial 128-bit counter block, incremented
/// big-endian (§4.1).
pub fn aes128_ctr(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    let mut c = Aes128Ctr::new(key.into(), iv.into());
    c.apply_keystream(data);
}

/// The ECDH shared secret Z: the big-endian x-coordinate (48 bytes) of `secret · peer` (§4.3).
pub fn ecdh_z(secret: &p384::SecretKey, peer: &p384::PublicKey) -> Zeroizing<[u8; 48]> {
    let shared = p384::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
    let mut z = Zeroizing::new([0u8; 48]);
    z.copy_from_slice(shared.raw_secret_bytes());
    z
}

/// Build the 128-byte session blob (§4.4) from the shared secret `z`:
/// `NONCE ‖ WRAP_TK ‖ WRAP_IV ‖ WRAP_MAC ‖ POLICY_MAC`.
pub fn session_blob(
    z: &[u8],
    nonce: &[u8; 16],
    wrap_iv: &[u8; 16],
    keys: &TransportKeys,
    policy: u32,
) -> [u8; SESSION_BLOB_LEN] {
    let master = kdf16(z, LABEL_MASTER, nonce);
    let kek = kdf16(&master[..], LABEL_KEK, &[]);
    let kik = kdf16(&master[..], LABEL_KIK, &[]);
    let mut wrap_tk = Zeroizing::new([0u8; 32]);
    wrap_tk[..16].copy_from_slice(&keys.tek);
    wrap_tk[16..].copy_from_slice(&keys.tik);
    aes128_ctr(&kek, wrap_iv, &mut wrap_tk[..]);
    let wrap_mac = hmac_sha256(&kik[..], &[&wrap_tk[..]]);
    let policy_mac = hmac_sha256(&keys.tik, &[&policy.to_le_bytes()]);
    let mut blob = [0u8; SESSION_BLOB_LEN];
    blob[0x00..0x10].copy_from_slice(nonce);
    blob[0x10..0x30].copy_from_slice(&wrap_tk[..]);
    blob[0x30..0x40].copy_from_slice(wrap_iv);
    blob[0x40..0x60].copy_from_slice(&wrap_mac);
    blob[0x60..0x80].copy_from_slice(&policy_mac);
    blob
}

/// Lower-case hex, for messages and tests.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::testutil::{kat, unhex};

    #[test]
    fn kdf_known_answer() {
        let v = kat("crate-session-vectors.txt");
        let out = kdf16(
            &unhex(&v["kdf_key"]),
            v["kdf_label"].as_bytes(),
            &unhex(&v["kdf_context"]),
        );
        assert_eq!(hex(&out[..]), v["kdf_out_16"]);
        // sev-spec §4.13 item 1, spelled out independently of the file.
        let out = kdf16(&[0; 16], b"sev-master-secret", &[0; 16]);
        assert_eq!(hex(&out[..]), "ab4d269fcc62bedb4511d56c386ce706");
    }

    #[test]
    fn kdf_longer_outputs_chain_blocks() {
        let mut long = [0u8; 48];
        kdf(b"k", b"label", b"ctx", &mut long);
        // Block 1 of a 48-byte request differs from a 16-byte request (L is in the input),
        // and block 2 is not a copy of block 1.
        let short = kdf16(b"k", b"label", b"ctx");
        assert_ne!(&long[..16], &short[..]);
        assert_ne!(&long[..16], &long[32..48]);
        let b2 = hmac_sha256(
            b"k",
            &[
                &2u32.to_le_bytes(),
                b"label",
                &[0],
                b"ctx",
                &384u32.to_le_bytes(),
            ],
        );
        assert_eq!(&long[32..48], &b2[..16]);
    }

    #[test]
    fn session_wrap_known_answer() {
        let v = kat("crate-session-vectors.txt");
        let arr = |k: &str| -> [u8; 16] { unhex(&v[k]).try_into().unwrap() };
        let keys = TransportKeys {
            tek: arr("wrap_tek"),
            tik: arr("wrap_tik"),
        };
        let blob = session_blob(
            &unhex(&v["wrap_z"]),
            &arr("wrap_nonce"),
            &arr("wrap_iv"),
            &keys,
            0,
        );
        assert_eq!(hex(&blob[0x10..0x30]), v["wrap_tk"]);
        assert_eq!(hex(&blob[0x40..0x60]), v["wrap_mac"]);
        assert_eq!(hex(&blob[0x60..0x80]), v["policy_mac"]);
        // The intermediate keys of sev-spec §4.13 item 2.
        let master = kdf16(&[0; 16], LABEL_MASTER, &[0; 16]);
        assert_eq!(
            hex(&kdf16(&master[..], LABEL_KEK, &[])[..]),
            "b6abfbfb75ea1ea74ed8750b8afdb973"
        );
        assert_eq!(
            hex(&kdf16(&master[..], LABEL_KIK, &[])[..]),
            "53b524bf5669a363f365c864acba8572"
        );
    }

    #[test]
    fn ctr_increments_the_whole_block_big_endian() {
        // An IV of all 0xFF must wrap to zero in the next block (128-bit counter).
        let key = [7u8; 16];
        let mut a = [0u8; 32];
        aes128_ctr(&key, &[0xFF; 16], &mut a);
        let mut b = [0u8; 16];
        aes128_ctr(&key, &[0; 16], &mut b);
        assert_eq!(&a[16..], &b[..]);
    }

    #[test]
    fn ecdh_is_symmetric_and_48_bytes() {
        let a = p384::SecretKey::random(&mut rand_core::OsRng);
        let b = p384::SecretKey::random(&mut rand_core::OsRng);
        let z1 = ecdh_z(&a, &b.public_key());
        let z2 = ecdh_z(&b, &a.public_key());
        assert_eq!(*z1, *z2);
        // Z is the x-coordinate of a·B.
        use p384::elliptic_curve::sec1::ToEncodedPoint;
        let p = (b.public_key().to_projective() * *a.to_nonzero_scalar()).to_affine();
        assert_eq!(p.to_encoded_point(false).x().unwrap().as_slice(), &z1[..]);
    }
}
