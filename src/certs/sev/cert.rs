//! The SEV certificate (0x824 bytes; `sev-spec` §5.1–5.5).

use super::amd::AmdCert;
use crate::certs::{CertError, be_to_le, le_to_be};
use p384::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use p384::elliptic_curve::sec1::{EncodedPoint, FromEncodedPoint, ToEncodedPoint};
use sha2::{Digest, Sha256, Sha384};

/// Size of an SEV certificate.
pub const SIZE: usize = 0x824;
/// The signed part: VERSION through the end of PUBKEY.
pub const BODY: usize = 0x414;
const OFF_PUBKEY: usize = 0x10;
const OFF_SIG: [usize; 2] = [0x414, 0x61C];
const SIG_LEN: usize = 0x200;
/// Curve id of P-384 in the PUBKEY field.
pub const CURVE_P384: u32 = 2;

/// Key usage values (§5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage;
impl Usage {
    pub const ARK: u32 = 0x0000;
    pub const ASK: u32 = 0x0013;
    pub const INVALID: u32 = 0x1000;
    pub const OCA: u32 = 0x1001;
    pub const PEK: u32 = 0x1002;
    pub const PDH: u32 = 0x1003;
    pub const CEK: u32 = 0x1004;

    /// The usage's name, for messages.
    pub fn name(usage: u32) -> &'static str {
        match usage {
            Self::ARK => "ARK",
            Self::ASK => "ASK",
            Self::INVALID => "(empty)",
            Self::OCA => "OCA",
            Self::PEK => "PEK",
            Self::PDH => "PDH",
            Self::CEK => "CEK",
            _ => "unknown usage",
        }
    }
}

/// Algorithm values (§5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algo;
impl Algo {
    pub const INVALID: u32 = 0x000;
    pub const RSA_SHA256: u32 = 0x001;
    pub const ECDSA_SHA256: u32 = 0x002;
    pub const ECDH_SHA256: u32 = 0x003;
    pub const RSA_SHA384: u32 = 0x101;
    pub const ECDSA_SHA384: u32 = 0x102;
    pub const ECDH_SHA384: u32 = 0x103;
}

/// An SEV certificate, kept as its 0x824 wire bytes with typed accessors.
#[derive(Clone, PartialEq, Eq)]
pub struct SevCert {
    bytes: Box<[u8; SIZE]>,
}

impl std::fmt::Debug for SevCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SevCert")
            .field("usage", &Usage::name(self.usage()))
            .field("algo", &self.algo())
            .field("api", &(self.api_major(), self.api_minor()))
            .finish()
    }
}

fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn wr32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

impl SevCert {
    /// Parse the wire form. Only the size is checked here; [`SevCert::check_body`] and the
    /// verify functions check the contents.
    pub fn from_bytes(b: &[u8]) -> Result<Self, CertError> {
        let arr: [u8; SIZE] = b.try_into().map_err(|_| {
            CertError::Malformed(format!(
                "an SEV certificate is {SIZE} bytes, got {}",
                b.len()
            ))
        })?;
        Ok(SevCert {
            bytes: Box::new(arr),
        })
    }

    /// The wire form.
    pub fn as_bytes(&self) -> &[u8; SIZE] {
        &self.bytes
    }

    /// A new, unsigned certificate for a P-384 key (both signature slots empty).
    pub fn new_p384(usage: u32, algo: u32, api: (u8, u8), key: &p384::PublicKey) -> Self {
        let mut b = Box::new([0u8; SIZE]);
        wr32(&mut b[..], 0, 1);
        b[4] = api.0;
        b[5] = api.1;
        wr32(&mut b[..], 0x08, usage);
        wr32(&mut b[..], 0x0C, algo);
        wr32(&mut b[..], OFF_PUBKEY, CURVE_P384);
        let point = key.to_encoded_point(false);
        be_to_le(point.x().expect("uncompressed"), &mut b[0x14..0x14 + 72]);
        be_to_le(point.y().expect("uncompressed"), &mut b[0x5C..0x5C + 72]);
        for off in OFF_SIG {
            wr32(&mut b[..], off, Usage::INVALID);
            wr32(&mut b[..], off + 4, Algo::INVALID);
        }
        SevCert { bytes: b }
    }

    pub fn version(&self) -> u32 {
        rd32(&self.bytes[..], 0)
    }
    pub fn api_major(&self) -> u8 {
        self.bytes[4]
    }
    pub fn api_minor(&self) -> u8 {
        self.bytes[5]
    }
    pub fn usage(&self) -> u32 {
        rd32(&self.bytes[..], 0x08)
    }
    pub fn algo(&self) -> u32 {
        rd32(&self.bytes[..], 0x0C)
    }
    /// The signed bytes (0x000–0x413).
    pub fn body(&self) -> &[u8] {
        &self.bytes[..BODY]
    }
    /// `(usage, algo)` of signature slot 0 or 1.
    pub fn sig_slot(&self, slot: usize) -> (u32, u32) {
        let off = OFF_SIG[slot];
        (rd32(&self.bytes[..], off), rd32(&self.bytes[..], off + 4))
    }
    /// The raw 0x200-byte signature of slot 0 or 1.
    pub fn sig_bytes(&self, slot: usize) -> &[u8] {
        let off = OFF_SIG[slot] + 8;
        &self.bytes[off..off + SIG_LEN]
    }
    /// Whether a slot is empty (usage INVALID and algo 0).
    pub fn slot_is_empty(&self, slot: usize) -> bool {
        self.sig_slot(slot) == (Usage::INVALID, Algo::INVALID)
    }

    /// The P-384 public key, checking the curve id, the zero padding and that the point is on
    /// the curve.
    pub fn public_key(&self) -> Result<p384::PublicKey, CertError> {
        let curve = rd32(&self.bytes[..], OFF_PUBKEY);
        if curve != CURVE_P384 {
            return Err(CertError::BadKey(format!(
                "{} key: curve id {curve}, expected 2 (P-384)",
                Usage::name(self.usage())
            )));
        }
        let x = le_to_be(&self.bytes[0x14..0x14 + 72], 48);
        let y = le_to_be(&self.bytes[0x5C..0x5C + 72], 48);
        let (Some(x), Some(y)) = (x, y) else {
            return Err(CertError::BadKey("coordinate padding is not zero".into()));
        };
        let point = EncodedPoint::<p384::NistP384>::from_affine_coordinates(
            x.as_slice().into(),
            y.as_slice().into(),
            false,
        );
        Option::from(p384::PublicKey::from_encoded_point(&point)).ok_or_else(|| {
            CertError::BadKey(format!(
                "{} key: point is not on P-384",
                Usage::name(self.usage())
            ))
        })
    }

    /// The body checks every validator applies (version 1, known usage, the algorithm the
    /// usage needs, a valid P-384 key): §5.5 step 3 and the GODH sanity check of §4.4.
    pub fn check_body(&self, expected_usage: u32) -> Result<p384::PublicKey, CertError> {
        if self.version() != 1 {
            return Err(CertError::Malformed(format!(
                "{} certificate version {}, expected 1",
                Usage::name(expected_usage),
                self.version()
            )));
        }
        if self.usage() != expected_usage {
            return Err(CertError::Malformed(format!(
                "certificate usage {:#x} ({}), expected {:#x} ({})",
                self.usage(),
                Usage::name(self.usage()),
                expected_usage,
                Usage::name(expected_usage)
            )));
        }
        let want_algo = if expected_usage == Usage::PDH {
            Algo::ECDH_SHA256
        } else {
            Algo::ECDSA_SHA256
        };
        if self.algo() != want_algo {
            return Err(CertError::Malformed(format!(
                "{} key algorithm {:#x}, expected {:#x}",
                Usage::name(expected_usage),
                self.algo(),
                want_algo
            )));
        }
        self.public_key()
    }

    /// Sign the body with an ECDSA P-384 / SHA-256 key into `slot`.
    pub fn sign_ecdsa(&mut self, slot: usize, signer_usage: u32, key: &SigningKey) {
        let digest = Sha256::digest(self.body());
        let sig: Signature = key
            .sign_prehash(&digest)
            .expect("ECDSA signing of a 32-byte digest cannot fail");
        let off = OFF_SIG[slot];
        wr32(&mut self.bytes[..], off, signer_usage);
        wr32(&mut self.bytes[..], off + 4, Algo::ECDSA_SHA256);
        let s = &mut self.bytes[off + 8..off + 8 + SIG_LEN];
        s.fill(0);
        be_to_le(&sig.r().to_bytes(), &mut s[..72]);
        be_to_le(&sig.s().to_bytes(), &mut s[72..144]);
    }

    /// Put an RSA signature (big-endian octets, as RSASSA-PSS produces them) into `slot`.
    pub fn set_rsa_signature(&mut self, slot: usize, signer_usage: u32, algo: u32, sig_be: &[u8]) {
        let off = OFF_SIG[slot];
        wr32(&mut self.bytes[..], off, signer_usage);
        wr32(&mut self.bytes[..], off + 4, algo);
        be_to_le(sig_be, &mut self.bytes[off + 8..off + 8 + SIG_LEN]);
    }

    /// Copy signature slot `from_slot` of `other` into slot `to_slot` of this certificate.
    pub fn copy_slot_from(&mut self, to_slot: usize, other: &SevCert, from_slot: usize) {
        let (src, dst) = (OFF_SIG[from_slot], OFF_SIG[to_slot]);
        self.bytes[dst..dst + 8 + SIG_LEN].copy_from_slice(&other.bytes[src..src + 8 + SIG_LEN]);
    }

    /// Empty a signature slot.
    pub fn clear_slot(&mut self, slot: usize) {
        let off = OFF_SIG[slot];
        self.bytes[off..off + 8 + SIG_LEN].fill(0);
        wr32(&mut self.bytes[..], off, Usage::INVALID);
    }

    /// Slots whose (usage, algo) names this signer; a half-empty slot is malformed (§5.3).
    fn matching_slots(&self, usage: u32, algo: u32) -> Result<Vec<usize>, CertError> {
        let mut out = Vec::new();
        for slot in 0..2 {
            let (u, a) = self.sig_slot(slot);
            if (u == Usage::INVALID) != (a == Algo::INVALID) {
                return Err(CertError::BadSignature(format!(
                    "slot {} is half empty (usage {u:#x}, algo {a:#x})",
                    slot + 1
                )));
            }
            if u == usage && a == algo {
                out.push(slot);
            }
        }
        Ok(out)
    }

    /// Verify that an ECDSA P-384 key with `signer_usage` signed this certificate
    /// (ECDSA_SHA256). Succeeds if any slot naming the signer verifies (§5.5 step 2).
    pub fn verify_ecdsa(
        &self,
        signer_usage: u32,
        signer: &p384::PublicKey,
    ) -> Result<(), CertError> {
        let who = Usage::name(signer_usage).to_string();
        let slots = self.matching_slots(signer_usage, Algo::ECDSA_SHA256)?;
        if slots.is_empty() {
            return Err(CertError::NoSignatureBy(who));
        }
        let vk = VerifyingKey::from(signer);
        let digest = Sha256::digest(self.body());
        for slot in slots {
            let s = self.sig_bytes(slot);
            let (Some(r), Some(sv)) = (le_to_be(&s[..72], 48), le_to_be(&s[72..144], 48)) else {
                continue;
            };
            let Ok(sig) = Signature::from_scalars(
                *p384::FieldBytes::from_slice(&r),
                *p384::FieldBytes::from_slice(&sv),
            ) else {
                continue;
            };
            if vk.verify_prehash(&digest, &sig).is_ok() {
                return Ok(());
            }
        }
        Err(CertError::BadSignature(who))
    }

    /// Verify that the AMD signing key `ask` (RSA-PSS) signed this certificate: the CEK link.
    pub fn verify_by_ask(&self, ask: &AmdCert) -> Result<(), CertError> {
        let bits = ask.modulus_bits();
        let algos: &[u32] = if bits == 2048 {
            &[Algo::RSA_SHA256]
        } else {
            &[Algo::RSA_SHA384, Algo::RSA_SHA256]
        };
        let mut slots = Vec::new();
        for algo in algos {
            for slot in self.matching_slots(Usage::ASK, *algo)? {
                slots.push((slot, *algo));
            }
        }
        if slots.is_empty() {
            return Err(CertError::NoSignatureBy("ASK".into()));
        }
        let nbytes = bits as usize / 8;
        for (slot, algo) in slots {
            let Some(sig) = le_to_be(self.sig_bytes(slot), nbytes) else {
                continue;
            };
            let ok = if algo == Algo::RSA_SHA384 {
                ask.verify_pss::<Sha384>(self.body(), &sig)
            } else {
                ask.verify_pss::<Sha256>(self.body(), &sig)
            };
            if ok {
                return Ok(());
            }
        }
        Err(CertError::BadSignature("ASK".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p: &str) -> Vec<u8> {
        let path = format!("{}/../shared/testdata/sev/{p}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn real_rome_chain_signatures_verify() {
        let oca = SevCert::from_bytes(&data("rome/oca.cert")).unwrap();
        let pek = SevCert::from_bytes(&data("rome/pek.cert")).unwrap();
        let pdh = SevCert::from_bytes(&data("rome/pdh.cert")).unwrap();
        let cek = SevCert::from_bytes(&data("rome/cek.cert")).unwrap();
        let ask = AmdCert::from_bytes(&data("builtin/rome/ask.cert")).unwrap();
        let oca_key = oca.check_body(Usage::OCA).unwrap();
        let cek_key = cek.check_body(Usage::CEK).unwrap();
        let pek_key = pek.check_body(Usage::PEK).unwrap();
        pdh.check_body(Usage::PDH).unwrap();
        oca.verify_ecdsa(Usage::OCA, &oca_key).unwrap();
        pek.verify_ecdsa(Usage::OCA, &oca_key).unwrap();
        pek.verify_ecdsa(Usage::CEK, &cek_key).unwrap();
        pdh.verify_ecdsa(Usage::PEK, &pek_key).unwrap();
        cek.verify_by_ask(&ask).unwrap();
        // A flipped body byte breaks the signature.
        let mut bad = pdh.as_bytes().to_vec();
        bad[0x30] ^= 1;
        let bad = SevCert::from_bytes(&bad).unwrap();
        assert!(bad.verify_ecdsa(Usage::PEK, &pek_key).is_err());
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let sk = SigningKey::random(&mut rand_core::OsRng);
        let pk = p384::PublicKey::from(sk.verifying_key());
        let mut c = SevCert::new_p384(Usage::OCA, Algo::ECDSA_SHA256, (1, 55), &pk);
        c.sign_ecdsa(0, Usage::OCA, &sk);
        assert_eq!(c.check_body(Usage::OCA).unwrap(), pk);
        c.verify_ecdsa(Usage::OCA, &pk).unwrap();
        assert!(matches!(
            c.verify_ecdsa(Usage::PEK, &pk),
            Err(CertError::NoSignatureBy(_))
        ));
        let again = SevCert::from_bytes(c.as_bytes()).unwrap();
        assert_eq!(again, c);
    }
}
