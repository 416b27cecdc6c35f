//! AMD's ARK / ASK certificate format (`sev-spec` §5.6), RSA-PSS.

use crate::certs::{CertError, be_to_le, le_to_be};
use rsa::BigUint;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use sha2::{Sha256, Sha384};

const HEADER: usize = 0x40;

/// Key usage of an ARK.
pub const USAGE_ARK: u32 = 0x00;
/// Key usage of an ASK.
pub const USAGE_ASK: u32 = 0x13;

/// An AMD root (ARK) or signing (ASK) certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct AmdCert {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for AmdCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmdCert")
            .field("usage", &self.key_usage())
            .field("key_id", &hex(&self.key_id()))
            .field("bits", &self.modulus_bits())
            .finish()
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

impl AmdCert {
    /// Parse one certificate occupying exactly `b`.
    pub fn from_bytes(b: &[u8]) -> Result<Self, CertError> {
        let (c, used) = Self::parse_prefix(b, None)?;
        if used != b.len() {
            return Err(CertError::Malformed(format!(
                "AMD certificate is {used} bytes but {} were given",
                b.len()
            )));
        }
        Ok(c)
    }

    /// Parse a certificate at the start of `b` and return it with its length. The signature
    /// is as long as the signer's modulus; for a self-signed key (or when `signer_bits` is
    /// `None`) it is this key's own modulus size.
    pub fn parse_prefix(b: &[u8], signer_bits: Option<u32>) -> Result<(Self, usize), CertError> {
        if b.len() < HEADER {
            return Err(CertError::Malformed(format!(
                "AMD certificate shorter than its {HEADER}-byte header ({} bytes)",
                b.len()
            )));
        }
        let version = rd32(b, 0);
        if version != 1 {
            return Err(CertError::Malformed(format!(
                "AMD certificate version {version}, expected 1"
            )));
        }
        let exp_bits = rd32(b, 0x38);
        let mod_bits = rd32(b, 0x3C);
        for (what, bits) in [("public exponent", exp_bits), ("modulus", mod_bits)] {
            if bits != 2048 && bits != 4096 {
                return Err(CertError::Malformed(format!(
                    "AMD certificate {what} size {bits} bits (2048 or 4096 expected)"
                )));
            }
        }
        let sig_bits = signer_bits.unwrap_or(mod_bits);
        let len = HEADER + (exp_bits / 8 + mod_bits / 8 + sig_bits / 8) as usize;
        if b.len() < len {
            return Err(CertError::Malformed(format!(
                "AMD certificate truncated: {} of {len} bytes",
                b.len()
            )));
        }
        Ok((
            AmdCert {
                bytes: b[..len].to_vec(),
            },
            len,
        ))
    }

    /// Split AMD's `ASK ‖ ARK` file (as the key server serves it) into its two certificates.
    pub fn parse_ask_ark(b: &[u8]) -> Result<(AmdCert, AmdCert), CertError> {
        // The ASK's signature is as long as the ARK's modulus; try the sizes that occur.
        for ark_bits in [4096u32, 2048] {
            let Ok((ask, used)) = Self::parse_prefix(b, Some(ark_bits)) else {
                continue;
            };
            if let Ok(ark) = Self::from_bytes(&b[used..]) {
                if ark.modulus_bits() == ark_bits {
                    return Ok((ask, ark));
                }
            }
        }
        Err(CertError::Malformed(format!(
            "{} bytes are not an ASK followed by an ARK",
            b.len()
        )))
    }

    /// Build and sign a certificate. `signer` is `None` for a self-signed root.
    pub fn build(
        key_usage: u32,
        key_id: [u8; 16],
        key: &rsa::RsaPublicKey,
        signer: Option<(&AmdCert, &rsa::RsaPrivateKey)>,
        self_key: Option<&rsa::RsaPrivateKey>,
    ) -> Result<Self, CertError> {
        use rsa::traits::PublicKeyParts;
        let bits = (key.size() * 8) as u32;
        let nbytes = key.size();
        let (certifying_id, signer_key) = match (signer, self_key) {
            (Some((cert, k)), _) => (cert.key_id(), k),
            (None, Some(k)) => (key_id, k),
            (None, None) => return Err(CertError::BadKey("no signing key".into())),
        };
        let signer_bits = (signer_key.size() * 8) as u32;
        let mut b = vec![0u8; HEADER + 2 * nbytes];
        b[0..4].copy_from_slice(&1u32.to_le_bytes());
        b[4..20].copy_from_slice(&key_id);
        b[20..36].copy_from_slice(&certifying_id);
        b[0x24..0x28].copy_from_slice(&key_usage.to_le_bytes());
        b[0x38..0x3C].copy_from_slice(&bits.to_le_bytes());
        b[0x3C..0x40].copy_from_slice(&bits.to_le_bytes());
        be_to_le(&key.e().to_bytes_be(), &mut b[HEADER..HEADER + nbytes]);
        be_to_le(&key.n().to_bytes_be(), &mut b[HEADER + nbytes..]);
        let sig = pss_sign(signer_key, signer_bits, &b)?;
        let mut sig_le = vec![0u8; signer_bits as usize / 8];
        be_to_le(&sig, &mut sig_le);
        b.extend_from_slice(&sig_le);
        Ok(AmdCert { bytes: b })
    }

    /// The wire form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn key_id(&self) -> [u8; 16] {
        self.bytes[4..20].try_into().expect("16 bytes")
    }
    pub fn certifying_id(&self) -> [u8; 16] {
        self.bytes[20..36].try_into().expect("16 bytes")
    }
    pub fn key_usage(&self) -> u32 {
        rd32(&self.bytes, 0x24)
    }
    pub fn modulus_bits(&self) -> u32 {
        rd32(&self.bytes, 0x3C)
    }
    fn exp_bytes(&self) -> usize {
        rd32(&self.bytes, 0x38) as usize / 8
    }
    /// Header ‖ PUB_EXP ‖ MODULUS: the signed bytes, also hashed to pin a root.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.bytes[..HEADER + self.exp_bytes() + self.modulus_bits() as usize / 8]
    }
    /// The signature field (little-endian, as stored).
    pub fn signature_le(&self) -> &[u8] {
        &self.bytes[self.signed_bytes().len()..]
    }

    /// The RSA public key.
    pub fn public_key(&self) -> Result<rsa::RsaPublicKey, CertError> {
        let eb = self.exp_bytes();
        let mb = self.modulus_bits() as usize / 8;
        let e = le_to_be(&self.bytes[HEADER..HEADER + eb], eb).expect("exact length");
        let n = le_to_be(&self.bytes[HEADER + eb..HEADER + eb + mb], mb).expect("exact length");
        rsa::RsaPublicKey::new_with_max_size(
            BigUint::from_bytes_be(&n),
            BigUint::from_bytes_be(&e),
            4096,
        )
        .map_err(|e| CertError::BadKey(format!("RSA key: {e}")))
    }

    /// Verify an RSASSA-PSS signature (big-endian octets) by this key over `msg`, with MGF1 of
    /// the same hash and salt length = hash length.
    pub fn verify_pss<D>(&self, msg: &[u8], sig_be: &[u8]) -> bool
    where
        D: sha2::Digest
            + rsa::sha2::digest::FixedOutputReset
            + rsa::sha2::digest::core_api::BlockSizeUser,
    {
        let Ok(key) = self.public_key() else {
            return false;
        };
        let Ok(sig) = rsa::pss::Signature::try_from(sig_be) else {
            return false;
        };
        rsa::pss::VerifyingKey::<D>::new(key)
            .verify(msg, &sig)
            .is_ok()
    }

    /// Verify that `signer` signed this certificate (`signer` = self for the ARK): certifying
    /// id, then the PSS signature with SHA-256 for 2048-bit signers and SHA-384 for 4096-bit.
    pub fn verify_signed_by(&self, signer: &AmdCert) -> Result<(), CertError> {
        if self.certifying_id() != signer.key_id() {
            return Err(CertError::NoSignatureBy(format!(
                "key {} (certifying id is {})",
                hex(&signer.key_id()),
                hex(&self.certifying_id())
            )));
        }
        let sbits = signer.modulus_bits();
        let sig_le = self.signature_le();
        let Some(sig) =
            le_to_be(sig_le, sbits as usize / 8).filter(|_| sig_le.len() * 8 == sbits as usize)
        else {
            return Err(CertError::Malformed(format!(
                "signature is {} bytes, the signer's key is {sbits} bits",
                sig_le.len()
            )));
        };
        let ok = if sbits == 2048 {
            signer.verify_pss::<Sha256>(self.signed_bytes(), &sig)
        } else {
            signer.verify_pss::<Sha384>(self.signed_bytes(), &sig)
        };
        if ok {
            Ok(())
        } else {
            Err(CertError::BadSignature(format!(
                "AMD key {}",
                hex(&signer.key_id())
            )))
        }
    }

    /// Sign `msg` as this key would sign an SEV certificate (RSA-PSS, hash by key size).
    pub fn sign_sev_body(key: &rsa::RsaPrivateKey, msg: &[u8]) -> Result<Vec<u8>, CertError> {
        use rsa::traits::PublicKeyParts;
        pss_sign(key, (key.size() * 8) as u32, msg)
    }
}

fn pss_sign(key: &rsa::RsaPrivateKey, bits: u32, msg: &[u8]) -> Result<Vec<u8>, CertError> {
    let mut rng = rand_core::OsRng;
    let sig = if bits == 2048 {
        rsa::pss::SigningKey::<Sha256>::new(key.clone())
            .try_sign_with_rng(&mut rng, msg)
            .map(|s| s.to_vec())
    } else {
        rsa::pss::SigningKey::<Sha384>::new(key.clone())
            .try_sign_with_rng(&mut rng, msg)
            .map(|s| s.to_vec())
    };
    sig.map_err(|e| CertError::BadKey(format!("RSA-PSS signing: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p: &str) -> Vec<u8> {
        let path = format!("{}/../shared/testdata/sev/{p}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn every_real_ark_and_ask_verifies() {
        for g in ["naples", "rome", "milan", "genoa", "turin"] {
            let ark = AmdCert::from_bytes(&data(&format!("builtin/{g}/ark.cert"))).unwrap();
            let ask = AmdCert::from_bytes(&data(&format!("builtin/{g}/ask.cert"))).unwrap();
            assert_eq!(ark.key_usage(), USAGE_ARK, "{g}");
            assert_eq!(ask.key_usage(), USAGE_ASK, "{g}");
            ark.verify_signed_by(&ark)
                .unwrap_or_else(|e| panic!("{g} ARK: {e}"));
            ask.verify_signed_by(&ark)
                .unwrap_or_else(|e| panic!("{g} ASK: {e}"));
        }
    }

    #[test]
    fn chain_file_splits_into_ask_and_ark() {
        let chain = data("rome/chain.bin");
        let tail = &chain[4 * crate::certs::sev::cert::SIZE..];
        let (ask, ark) = AmdCert::parse_ask_ark(tail).unwrap();
        assert_eq!(ask.key_usage(), USAGE_ASK);
        assert_eq!(ark.key_usage(), USAGE_ARK);
        ask.verify_signed_by(&ark).unwrap();
        let naples = data("naples/chain.bin");
        let (ask, ark) =
            AmdCert::parse_ask_ark(&naples[4 * crate::certs::sev::cert::SIZE..]).unwrap();
        assert_eq!(ark.modulus_bits(), 2048);
        ask.verify_signed_by(&ark).unwrap();
    }
}
