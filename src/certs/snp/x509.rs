//! One SEV-SNP X.509 certificate: AMD's ARK, ASK/ASVK (RSA-4096) or VCEK/VLEK (ECDSA P-384
//! key), each signed with RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48) (`snp-spec` §4.7).
//!
//! Parsing is strict DER (the `x509-cert` crate) but lenient where AMD's certificates need it:
//! VCEK serial number 0 is accepted. The signed bytes are taken from the certificate as
//! received, never re-encoded.

use super::super::CertError;
use der::asn1::{Ia5StringRef, ObjectIdentifier};
use der::{Decode, Encode, Reader, SliceReader};
use rsa::pkcs1::{DecodeRsaPublicKey, RsaPssParams, TrailerField};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha384};
use std::ops::Range;
use x509_cert::Certificate;

/// RSASSA-PSS (RFC 4055).
pub const OID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// rsaEncryption (an RSA public key).
pub const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// MGF1.
pub const OID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
/// SHA-384.
pub const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// id-ecPublicKey.
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp384r1 (P-384).
pub const OID_SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// commonName.
pub const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// AMD's VCEK/VLEK extension arc 1.3.6.1.4.1.3704.1.
pub mod amd_oid {
    use der::asn1::ObjectIdentifier;
    pub const STRUCT_VERSION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.1");
    pub const PRODUCT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.2");
    pub const BL_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
    pub const TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
    pub const SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
    pub const UCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
    pub const FMC_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
    pub const HW_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");
    pub const CSP_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.5");
    /// The SPL arc 1.3.6.1.4.1.3704.1.3 (spl_4..spl_7 are reserved components).
    pub const SPL_ARC: &[u32] = &[1, 3, 6, 1, 4, 1, 3704, 1, 3];
}

/// The subject public key of an SNP certificate.
#[derive(Debug, Clone)]
pub enum SnpKey {
    /// ARK, ASK, ASVK.
    Rsa(rsa::RsaPublicKey),
    /// VCEK, VLEK.
    P384(p384::ecdsa::VerifyingKey),
}

/// AMD's VCEK/VLEK extensions (absent ones are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AmdExtensions {
    pub struct_version: Option<u64>,
    pub product_name: Option<String>,
    pub bootloader: Option<u8>,
    pub tee: Option<u8>,
    pub snp: Option<u8>,
    pub microcode: Option<u8>,
    pub fmc: Option<u8>,
    /// The chip id (raw extension value: 64 bytes before Turin, 8 on Turin).
    pub hw_id: Option<Vec<u8>>,
    /// The cloud provider's id (VLEK only).
    pub csp_id: Option<String>,
}

/// A parsed SNP certificate.
#[derive(Debug, Clone)]
pub struct SnpCert {
    der: Vec<u8>,
    tbs: Range<usize>,
    issuer_der: Vec<u8>,
    subject_der: Vec<u8>,
    /// The subject's commonName ("ARK-Turin", "SEV-Turin", "SEV-VCEK", ...).
    pub subject_cn: String,
    /// The issuer's commonName.
    pub issuer_cn: String,
    /// The subject public key.
    pub key: SnpKey,
    /// Validity, seconds since the Unix epoch.
    pub not_before: u64,
    pub not_after: u64,
    /// AMD's extensions (all `None` for ARK/ASK).
    pub amd: AmdExtensions,
    signature: Vec<u8>,
    /// The outer signature algorithm is RSASSA-PSS with SHA-384/MGF1-SHA-384/salt 48 and the
    /// TBS copy of the algorithm is identical (checked at parse time; the reason otherwise).
    pss_problem: Option<String>,
}

fn bad(msg: impl Into<String>) -> CertError {
    CertError::Malformed(msg.into())
}

/// The byte range of the first element (the TBSCertificate) inside the outer SEQUENCE.
fn tbs_range(der: &[u8]) -> Result<Range<usize>, CertError> {
    let mut r = SliceReader::new(der).map_err(|e| bad(format!("DER: {e}")))?;
    let outer = der::Header::decode(&mut r).map_err(|e| bad(format!("outer header: {e}")))?;
    let start: usize = r.position().try_into().map_err(|_| bad("offset"))?;
    let inner = der::Header::decode(&mut r).map_err(|e| bad(format!("TBS header: {e}")))?;
    let hdr_end: usize = r.position().try_into().map_err(|_| bad("offset"))?;
    let len: usize = inner.length.try_into().map_err(|_| bad("TBS length"))?;
    let outer_len: usize = outer.length.try_into().map_err(|_| bad("length"))?;
    let end = hdr_end
        .checked_add(len)
        .filter(|e| *e <= start + outer_len)
        .ok_or_else(|| bad("TBS longer than the certificate"))?;
    Ok(start..end)
}

fn common_name(name: &x509_cert::name::Name) -> String {
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == OID_CN {
                if let Ok(s) = atv.value.decode_as::<der::asn1::Utf8StringRef>() {
                    return s.as_str().to_string();
                }
                if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef>() {
                    return s.as_str().to_string();
                }
                if let Ok(s) = atv.value.decode_as::<Ia5StringRef>() {
                    return s.as_str().to_string();
                }
            }
        }
    }
    String::new()
}

fn time_secs(t: &x509_cert::time::Time) -> u64 {
    t.to_unix_duration().as_secs()
}

/// Check that an AlgorithmIdentifier is RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48,
/// trailer 1.
fn check_pss(alg: &spki::AlgorithmIdentifierOwned) -> Result<(), String> {
    if alg.oid != OID_RSASSA_PSS {
        return Err(format!("signature algorithm {} is not RSASSA-PSS", alg.oid));
    }
    let params = alg
        .parameters
        .as_ref()
        .ok_or("RSASSA-PSS without parameters (SHA-1 defaults)")?;
    let p: RsaPssParams = params
        .decode_as()
        .map_err(|e| format!("RSASSA-PSS parameters: {e}"))?;
    if p.hash.oid != OID_SHA384 {
        return Err(format!("PSS hash {} is not SHA-384", p.hash.oid));
    }
    if p.mask_gen.oid != OID_MGF1
        || p.mask_gen.parameters.as_ref().map(|h| h.oid) != Some(OID_SHA384)
    {
        return Err("PSS mask generation is not MGF1 with SHA-384".into());
    }
    if p.salt_len != 48 {
        return Err(format!("PSS salt length {} is not 48", p.salt_len));
    }
    if p.trailer_field != TrailerField::BC {
        return Err("PSS trailer field is not 1".into());
    }
    Ok(())
}

fn ext_u8(value: &[u8], what: &str) -> Result<u8, CertError> {
    let v = u64::from_der(value).map_err(|e| bad(format!("extension {what}: {e}")))?;
    u8::try_from(v).map_err(|_| bad(format!("extension {what}: {v} does not fit a byte")))
}

impl SnpCert {
    /// Parse a DER certificate (the whole buffer must be one certificate).
    pub fn from_der(der: &[u8]) -> Result<SnpCert, CertError> {
        let cert = Certificate::from_der(der).map_err(|e| bad(format!("X.509: {e}")))?;
        let tbs = tbs_range(der)?;
        let t = &cert.tbs_certificate;
        if t.version != x509_cert::certificate::Version::V3 {
            return Err(bad("not an X.509 v3 certificate"));
        }
        let spki = &t.subject_public_key_info;
        let raw_key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| bad("public key bit string has unused bits"))?;
        let key = if spki.algorithm.oid == OID_RSA_ENCRYPTION {
            let k = rsa::RsaPublicKey::from_pkcs1_der(raw_key)
                .map_err(|e| CertError::BadKey(format!("RSA key: {e}")))?;
            SnpKey::Rsa(k)
        } else if spki.algorithm.oid == OID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            if curve != Some(OID_SECP384R1) {
                return Err(CertError::BadKey("EC key is not on P-384".into()));
            }
            let k = p384::ecdsa::VerifyingKey::from_sec1_bytes(raw_key)
                .map_err(|_| CertError::BadKey("P-384 point is not on the curve".into()))?;
            SnpKey::P384(k)
        } else {
            return Err(CertError::BadKey(format!(
                "unsupported key algorithm {}",
                spki.algorithm.oid
            )));
        };
        let pss_problem = check_pss(&cert.signature_algorithm).err().or_else(|| {
            (t.signature != cert.signature_algorithm)
                .then(|| "the TBS signature algorithm differs from the outer one".to_string())
        });
        let signature = cert
            .signature
            .as_bytes()
            .ok_or_else(|| bad("signature bit string has unused bits"))?
            .to_vec();
        let mut amd = AmdExtensions::default();
        for ext in t.extensions.iter().flatten() {
            let v = ext.extn_value.as_bytes();
            let oid = ext.extn_id;
            if oid == amd_oid::STRUCT_VERSION {
                amd.struct_version =
                    Some(u64::from_der(v).map_err(|e| bad(format!("structVersion: {e}")))?);
            } else if oid == amd_oid::PRODUCT_NAME {
                let s = Ia5StringRef::from_der(v).map_err(|e| bad(format!("productName: {e}")))?;
                amd.product_name = Some(s.as_str().to_string());
            } else if oid == amd_oid::BL_SPL {
                amd.bootloader = Some(ext_u8(v, "blSPL")?);
            } else if oid == amd_oid::TEE_SPL {
                amd.tee = Some(ext_u8(v, "teeSPL")?);
            } else if oid == amd_oid::SNP_SPL {
                amd.snp = Some(ext_u8(v, "snpSPL")?);
            } else if oid == amd_oid::UCODE_SPL {
                amd.microcode = Some(ext_u8(v, "ucodeSPL")?);
            } else if oid == amd_oid::FMC_SPL {
                amd.fmc = Some(ext_u8(v, "fmcSPL")?);
            } else if oid == amd_oid::HW_ID {
                amd.hw_id = Some(v.to_vec());
            } else if oid == amd_oid::CSP_ID {
                let s = Ia5StringRef::from_der(v).map_err(|e| bad(format!("cspID: {e}")))?;
                amd.csp_id = Some(s.as_str().to_string());
            }
        }
        Ok(SnpCert {
            der: der.to_vec(),
            tbs,
            issuer_der: t.issuer.to_der().map_err(|e| bad(format!("issuer: {e}")))?,
            subject_der: t
                .subject
                .to_der()
                .map_err(|e| bad(format!("subject: {e}")))?,
            subject_cn: common_name(&t.subject),
            issuer_cn: common_name(&t.issuer),
            key,
            not_before: time_secs(&t.validity.not_before),
            not_after: time_secs(&t.validity.not_after),
            amd,
            signature,
            pss_problem,
        })
    }

    /// Every certificate of a PEM text, in order ("-----BEGIN CERTIFICATE-----" blocks).
    pub fn from_pem_all(text: &[u8]) -> Result<Vec<SnpCert>, CertError> {
        let text = std::str::from_utf8(text).map_err(|_| bad("PEM is not text"))?;
        let mut out = Vec::new();
        let mut rest = text;
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
        const END: &str = "-----END CERTIFICATE-----";
        while let Some(b) = rest.find(BEGIN) {
            let body = &rest[b + BEGIN.len()..];
            let e = body
                .find(END)
                .ok_or_else(|| bad("PEM block without END line"))?;
            out.push(SnpCert::from_der(&base64_decode(&body[..e])?)?);
            rest = &body[e + END.len()..];
        }
        if out.is_empty() {
            return Err(bad("no PEM certificate block"));
        }
        Ok(out)
    }

    /// One certificate in DER or PEM form (the first PEM block).
    pub fn from_der_or_pem(bytes: &[u8]) -> Result<SnpCert, CertError> {
        if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            let mut all = SnpCert::from_pem_all(bytes)?;
            if all.len() != 1 {
                return Err(bad(format!(
                    "{} PEM certificates where one was expected",
                    all.len()
                )));
            }
            return Ok(all.remove(0));
        }
        SnpCert::from_der(bytes)
    }

    /// The certificate as DER.
    pub fn as_der(&self) -> &[u8] {
        &self.der
    }

    /// The signed TBSCertificate bytes.
    pub fn tbs_bytes(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// SHA-384 of the DER (how roots are pinned).
    pub fn fingerprint(&self) -> [u8; 48] {
        Sha384::digest(&self.der).into()
    }

    /// Whether the issuer name equals the subject name (a self-issued certificate).
    pub fn self_issued(&self) -> bool {
        self.issuer_der == self.subject_der
    }

    /// The P-384 key (VCEK/VLEK), if that is what the certificate holds.
    pub fn p384_key(&self) -> Option<&p384::ecdsa::VerifyingKey> {
        match &self.key {
            SnpKey::P384(k) => Some(k),
            SnpKey::Rsa(_) => None,
        }
    }

    /// Check that `issuer` signed this certificate: names chain, issuer holds an RSA key,
    /// RSASSA-PSS SHA-384/MGF1-SHA-384/salt 48 over the TBS bytes.
    pub fn verify_signed_by(&self, issuer: &SnpCert) -> Result<(), CertError> {
        if self.issuer_der != issuer.subject_der {
            return Err(CertError::NoSignatureBy(format!(
                "{} (this certificate names '{}' as its issuer)",
                describe(issuer),
                self.issuer_cn
            )));
        }
        if let Some(p) = &self.pss_problem {
            return Err(bad(format!("{}: {p}", describe(self))));
        }
        let SnpKey::Rsa(k) = &issuer.key else {
            return Err(CertError::BadKey(format!(
                "{} has no RSA key to sign with",
                describe(issuer)
            )));
        };
        if self.signature.len() != k.size() {
            return Err(CertError::BadSignature(format!(
                "{} (signature of {} bytes for a {}-byte key)",
                describe(issuer),
                self.signature.len(),
                k.size()
            )));
        }
        let vk = rsa::pss::VerifyingKey::<Sha384>::new(k.clone());
        let sig = rsa::pss::Signature::try_from(self.signature.as_slice())
            .map_err(|_| CertError::BadSignature(describe(issuer)))?;
        use rsa::signature::Verifier;
        vk.verify(self.tbs_bytes(), &sig)
            .map_err(|_| CertError::BadSignature(describe(issuer)))
    }
}

/// "ASK 'SEV-Turin'" style description for messages.
pub fn describe(c: &SnpCert) -> String {
    format!("certificate '{}'", c.subject_cn)
}

fn base64_decode(s: &str) -> Result<Vec<u8>, CertError> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut pad = false;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return Err(bad(format!("PEM: invalid base64 character {c:#04x}"))),
        };
        if pad {
            return Err(bad("PEM: data after base64 padding"));
        }
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) fn shared(path: &str) -> Vec<u8> {
    let p = format!(
        "{}/../shared/testdata/snp/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amd_turin_vcek_extensions() {
        let v = SnpCert::from_der(&shared("turin/vcek.der")).unwrap();
        assert_eq!(v.subject_cn, "SEV-VCEK");
        assert_eq!(v.issuer_cn, "SEV-Turin");
        assert!(v.p384_key().is_some());
        assert_eq!(v.amd.struct_version, Some(1));
        assert_eq!(v.amd.product_name.as_deref(), Some("Turin"));
        assert_eq!(v.amd.fmc, Some(0));
        assert_eq!(v.amd.microcode, Some(9));
        assert_eq!(
            v.amd.hw_id.as_deref(),
            Some(&[0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d][..])
        );
    }

    #[test]
    fn amd_roots_self_sign_and_sign_their_asks() {
        for g in ["milan", "genoa", "turin"] {
            let ark = &SnpCert::from_pem_all(&shared(&format!("builtin/{g}/ark.pem"))).unwrap()[0];
            let ask = &SnpCert::from_pem_all(&shared(&format!("builtin/{g}/ask.pem"))).unwrap()[0];
            assert!(ark.self_issued(), "{g}");
            ark.verify_signed_by(ark).unwrap();
            ask.verify_signed_by(ark).unwrap();
            assert!(matches!(ark.key, SnpKey::Rsa(ref k) if k.size() == 512));
        }
    }

    #[test]
    fn every_truncation_of_a_certificate_is_refused() {
        let der = shared("turin/vcek.der");
        for n in 0..der.len() {
            assert!(SnpCert::from_der(&der[..n]).is_err(), "length {n}");
        }
        let mut longer = der.clone();
        longer.push(0);
        assert!(SnpCert::from_der(&longer).is_err());
    }
}
