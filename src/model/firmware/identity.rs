//! The emulated chip's identity (`sev-spec` §2.5, §4.11, §4.12, §5): the chip-unique key and
//! its GET_ID value, the CEK derived from it, and the persistent OCA / PEK / PDH with their
//! certificates.

use crate::certs::{Algo, SevCert, Usage};
use crate::model::firmware::crypto::{ModelRng, kdf};
use p384::ecdsa::SigningKey;
use p384::elliptic_curve::ops::Reduce;
use p384::elliptic_curve::sec1::ToEncodedPoint;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The keys fixed by the chip: derived from the 32-byte chip seed (the model's "fuses").
pub(crate) struct Chip {
    /// GET_ID: the secp256k1 public point of the chip-unique key, X ‖ Y big-endian.
    pub(crate) id: [u8; 64],
    /// The chip endorsement key.
    pub(crate) cek: SigningKey,
}

impl Chip {
    /// Derive the chip from its seed. The chip-unique key (CUK) is a secp256k1 scalar from
    /// `KDF(seed, "libsev-model-chip-unique-key")`; the CEK follows the firmware's recipe
    /// (§4.12): `KDF(SHA-256(CUK), "sev-chip-endorsement-key", ∅, 48 + 16)`, the first
    /// 48 bytes reduced modulo the P-384 order.
    pub(crate) fn derive(seed: &[u8; 32]) -> Chip {
        let mut counter = 0u32;
        let cuk = loop {
            let mut b = Zeroizing::new([0u8; 32]);
            kdf(
                seed,
                b"libsev-model-chip-unique-key",
                &counter.to_le_bytes(),
                &mut b[..],
            );
            if let Ok(k) = k256::SecretKey::from_slice(&b[..]) {
                break k;
            }
            counter += 1;
        };
        let point = cuk.public_key().to_encoded_point(false);
        let mut id = [0u8; 64];
        id[..32].copy_from_slice(point.x().expect("uncompressed point"));
        id[32..].copy_from_slice(point.y().expect("uncompressed point"));

        let cuk_bytes = Zeroizing::new(cuk.to_bytes());
        let cek_seed = Zeroizing::new(Sha256::digest(&cuk_bytes[..]));
        let mut rdata = Zeroizing::new([0u8; 64]);
        kdf(
            &cek_seed[..],
            b"sev-chip-endorsement-key",
            &[],
            &mut rdata[..],
        );
        let scalar = <p384::Scalar as Reduce<p384::U384>>::reduce_bytes(
            p384::FieldBytes::from_slice(&rdata[..48]),
        );
        let nz = Option::from(p384::NonZeroScalar::new(scalar))
            .unwrap_or(p384::NonZeroScalar::from_uint(p384::U384::ONE).expect("1 is not zero"));
        Chip {
            id,
            cek: SigningKey::from(nz),
        }
    }

    /// The CEK certificate as PDH_CERT_EXPORT builds it: both signature slots empty.
    pub(crate) fn cek_cert(&self, api: (u8, u8)) -> SevCert {
        let pk = p384::PublicKey::from(self.cek.verifying_key());
        SevCert::new_p384(Usage::CEK, Algo::ECDSA_SHA256, api, &pk)
    }
}

/// The owner certificate authority: the platform's own (self-owned, key known) or an
/// external owner's (only the certificate).
#[derive(Clone)]
pub(crate) struct Oca {
    pub(crate) key: Option<SigningKey>,
    pub(crate) cert: SevCert,
}

/// The platform endorsement key.
#[derive(Clone)]
pub(crate) struct Pek {
    pub(crate) key: SigningKey,
    pub(crate) cert: SevCert,
}

/// The platform Diffie-Hellman key.
#[derive(Clone)]
pub(crate) struct Pdh {
    pub(crate) key: p384::SecretKey,
    pub(crate) cert: SevCert,
}

/// The persistent identity (survives SHUTDOWN, wiped by PLATFORM_RESET). `None` = absent;
/// INIT creates what is missing.
#[derive(Default, Clone)]
pub(crate) struct Identity {
    pub(crate) oca: Option<Oca>,
    pub(crate) pek: Option<Pek>,
    pub(crate) pdh: Option<Pdh>,
    /// Externally owned (PEK_CERT_IMPORT done).
    pub(crate) external: bool,
}

fn new_signing_key(rng: &mut ModelRng) -> SigningKey {
    SigningKey::random(rng)
}

/// A new self-signed OCA.
pub(crate) fn new_oca(rng: &mut ModelRng, api: (u8, u8)) -> Oca {
    let key = new_signing_key(rng);
    let pk = p384::PublicKey::from(key.verifying_key());
    let mut cert = SevCert::new_p384(Usage::OCA, Algo::ECDSA_SHA256, api, &pk);
    cert.sign_ecdsa(0, Usage::OCA, &key);
    Oca {
        key: Some(key),
        cert,
    }
}

/// A new PEK, signed by the OCA (slot 1) and the CEK (slot 2), as `sev_pek_generate` does.
pub(crate) fn new_pek(
    rng: &mut ModelRng,
    api: (u8, u8),
    oca: &SigningKey,
    cek: &SigningKey,
) -> Pek {
    let key = new_signing_key(rng);
    let pk = p384::PublicKey::from(key.verifying_key());
    let mut cert = SevCert::new_p384(Usage::PEK, Algo::ECDSA_SHA256, api, &pk);
    cert.sign_ecdsa(0, Usage::OCA, oca);
    cert.sign_ecdsa(1, Usage::CEK, cek);
    Pek { key, cert }
}

/// A new PDH (ECDH), signed by the PEK.
pub(crate) fn new_pdh(rng: &mut ModelRng, api: (u8, u8), pek: &SigningKey) -> Pdh {
    let key = p384::SecretKey::random(rng);
    let mut cert = SevCert::new_p384(Usage::PDH, Algo::ECDH_SHA256, api, &key.public_key());
    cert.sign_ecdsa(0, Usage::PEK, pek);
    Pdh { key, cert }
}

/// The PEK_CSR output: the current PEK body with both signature slots empty.
pub(crate) fn pek_csr(pek: &SevCert) -> SevCert {
    let mut c = pek.clone();
    c.clear_slot(0);
    c.clear_slot(1);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_is_a_function_of_its_seed() {
        let a = Chip::derive(&[5; 32]);
        let b = Chip::derive(&[5; 32]);
        let c = Chip::derive(&[6; 32]);
        assert_eq!(a.id, b.id);
        assert_eq!(a.cek.verifying_key(), b.cek.verifying_key());
        assert_ne!(a.id, c.id);
        assert_ne!(a.cek.verifying_key(), c.cek.verifying_key());
        // The id is a point on secp256k1.
        let mut sec1 = vec![4u8];
        sec1.extend_from_slice(&a.id);
        assert!(k256::PublicKey::from_sec1_bytes(&sec1).is_ok());
    }

    #[test]
    fn generated_chain_verifies() {
        let mut rng = ModelRng::new(Some(&[9; 32]));
        let chip = Chip::derive(&[1; 32]);
        let oca = new_oca(&mut rng, (1, 55));
        let pek = new_pek(&mut rng, (1, 55), oca.key.as_ref().unwrap(), &chip.cek);
        let pdh = new_pdh(&mut rng, (1, 55), &pek.key);
        let cek = chip.cek_cert((1, 55));
        let oca_pk = oca.cert.check_body(Usage::OCA).unwrap();
        let cek_pk = cek.check_body(Usage::CEK).unwrap();
        let pek_pk = pek.cert.check_body(Usage::PEK).unwrap();
        assert_eq!(
            pdh.cert.check_body(Usage::PDH).unwrap(),
            pdh.key.public_key()
        );
        oca.cert.verify_ecdsa(Usage::OCA, &oca_pk).unwrap();
        pek.cert.verify_ecdsa(Usage::OCA, &oca_pk).unwrap();
        pek.cert.verify_ecdsa(Usage::CEK, &cek_pk).unwrap();
        pdh.cert.verify_ecdsa(Usage::PEK, &pek_pk).unwrap();
        assert!(cek.slot_is_empty(0) && cek.slot_is_empty(1));
        let csr = pek_csr(&pek.cert);
        assert_eq!(csr.body(), pek.cert.body());
        assert!(csr.slot_is_empty(0) && csr.slot_is_empty(1));
    }
}
