//! libsev's TEST-ONLY SEV-SNP root: an X.509 ARK and ASK (RSA-4096, RSASSA-PSS SHA-384 salt
//! 48, like AMD's), and a function that issues VCEK/VLEK certificates under it for the
//! firmware model's chips.
//!
//! The files next to this module were generated once by `gen.rs` (the `gen_snp_test_root`
//! example) and are compiled in. The ASK's private key is committed on purpose — it is public
//! test material, which is exactly why a chain ending at this root is refused unless the
//! caller allows the test root (`LIBSEV_VERIFY_ALLOW_TEST_ROOT`). libsev never generates
//! RSA-4096 keys at run time.

use super::x509::{OID_EC_PUBLIC_KEY, OID_SECP384R1, SnpCert, amd_oid};
use super::{SnpGeneration, Tcb};
use der::asn1::{BitString, Ia5StringRef, OctetString, UtcTime};
use der::{Any, Encode};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use sha2::{Digest, Sha384};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

const ARK_DER: &[u8] = include_bytes!("ark.der");
const ASK_DER: &[u8] = include_bytes!("ask.der");
const ASK_KEY_PK8: &[u8] = include_bytes!("ask-key.pk8");

/// Subject of the test ARK (RFC 4514 string form).
pub const ARK_NAME: &str = "CN=ARK-libsev-TEST,O=libsev TEST-ONLY SNP root,OU=Engineering";
/// Subject of the test ASK.
pub const ASK_NAME: &str = "CN=SEV-libsev-TEST,O=libsev TEST-ONLY SNP root,OU=Engineering";
/// Subject of a VCEK issued here.
pub const VCEK_NAME: &str = "CN=SEV-VCEK,O=libsev TEST-ONLY SNP root,OU=Engineering";
/// Subject of a VLEK issued here.
pub const VLEK_NAME: &str = "CN=SEV-VLEK,O=libsev TEST-ONLY SNP root,OU=Engineering";

/// Validity of every certificate of the test root: 2025-01-01 to 2049-12-31 (fixed, so that
/// issued certificates depend only on their inputs and the PSS salt).
pub const NOT_BEFORE: u64 = 1_735_689_600;
pub const NOT_AFTER: u64 = 2_524_521_600;

/// The test ARK.
pub fn ark() -> &'static SnpCert {
    static C: OnceLock<SnpCert> = OnceLock::new();
    C.get_or_init(|| SnpCert::from_der(ARK_DER).expect("compiled-in test ARK parses"))
}

/// The test ASK (signs the VCEKs and VLEKs issued here).
pub fn ask() -> &'static SnpCert {
    static C: OnceLock<SnpCert> = OnceLock::new();
    C.get_or_init(|| SnpCert::from_der(ASK_DER).expect("compiled-in test ASK parses"))
}

fn ask_key() -> &'static rsa::RsaPrivateKey {
    static K: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    K.get_or_init(|| {
        rsa::RsaPrivateKey::from_pkcs8_der(ASK_KEY_PK8).expect("compiled-in test ASK key parses")
    })
}

fn time(secs: u64) -> Time {
    Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(secs)).expect("before 2050"))
}

fn ext(oid: der::asn1::ObjectIdentifier, critical: bool, value: Vec<u8>) -> Extension {
    Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value).expect("extension value"),
    }
}

fn int_ext(oid: der::asn1::ObjectIdentifier, v: u64) -> Extension {
    ext(oid, false, v.to_der().expect("INTEGER"))
}

/// What [`build_cert`] puts in a certificate.
pub struct CertSpec<'a> {
    pub serial: &'a [u8],
    pub issuer: &'a str,
    pub subject: &'a str,
    pub spki: SubjectPublicKeyInfoOwned,
    pub extensions: Vec<Extension>,
}

/// Build and sign an X.509 v3 certificate with RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48).
/// Used by `gen.rs` for the ARK and ASK and by [`issue_vcek`]/[`issue_vlek`].
pub fn build_cert(spec: CertSpec<'_>, signer: &rsa::RsaPrivateKey) -> Result<Vec<u8>, String> {
    let alg: AlgorithmIdentifierOwned =
        rsa::pss::get_default_pss_signature_algo_id::<Sha384>().map_err(|e| e.to_string())?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(spec.serial).map_err(|e| e.to_string())?,
        signature: alg.clone(),
        issuer: Name::from_str(spec.issuer).map_err(|e| e.to_string())?,
        validity: Validity {
            not_before: time(NOT_BEFORE),
            not_after: time(NOT_AFTER),
        },
        subject: Name::from_str(spec.subject).map_err(|e| e.to_string())?,
        subject_public_key_info: spec.spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(spec.extensions),
    };
    let tbs_der = tbs.to_der().map_err(|e| e.to_string())?;
    let key = rsa::pss::BlindedSigningKey::<Sha384>::new(signer.clone());
    let sig = key.sign_with_rng(&mut rand_core::OsRng, &tbs_der).to_vec();
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg,
        signature: BitString::from_bytes(&sig).map_err(|e| e.to_string())?,
    }
    .to_der()
    .map_err(|e| e.to_string())
}

/// The SubjectPublicKeyInfo of a P-384 public key.
pub fn p384_spki(key: &p384::ecdsa::VerifyingKey) -> SubjectPublicKeyInfoOwned {
    let point = key.to_encoded_point(false);
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: OID_EC_PUBLIC_KEY,
            parameters: Some(Any::from(&OID_SECP384R1)),
        },
        subject_public_key: BitString::from_bytes(point.as_bytes()).expect("point"),
    }
}

fn tcb_extensions(generation: SnpGeneration, tcb: &Tcb) -> Vec<Extension> {
    let mut v = vec![
        int_ext(
            amd_oid::STRUCT_VERSION,
            if generation.turin_like() { 1 } else { 0 },
        ),
        ext(
            amd_oid::PRODUCT_NAME,
            false,
            Ia5StringRef::new(generation.product_name())
                .expect("ASCII")
                .to_der()
                .expect("IA5String"),
        ),
        int_ext(amd_oid::BL_SPL, tcb.bootloader.into()),
        int_ext(amd_oid::TEE_SPL, tcb.tee.into()),
        int_ext(amd_oid::SNP_SPL, tcb.snp.into()),
        int_ext(amd_oid::UCODE_SPL, tcb.microcode.into()),
    ];
    if generation.turin_like() {
        v.push(int_ext(amd_oid::FMC_SPL, tcb.fmc.unwrap_or(0).into()));
    }
    v
}

fn serial_for(key: &p384::ecdsa::VerifyingKey) -> [u8; 8] {
    let h = Sha384::digest(key.to_encoded_point(false).as_bytes());
    let mut s = [0u8; 8];
    s.copy_from_slice(&h[..8]);
    s[0] &= 0x7F;
    s[0] |= 0x01;
    s
}

/// Issue a VCEK certificate under the test root for a chip of `generation` with P-384 public
/// key `key`, chip id `chip_id` (the report's CHIP_ID: 64 bytes, or 8 on Turin — longer input
/// is refused) and the TCB it was derived for (`tcb.fmc` is used on Turin only).
/// Returns the DER certificate.
pub fn issue_vcek(
    generation: SnpGeneration,
    key: &p384::ecdsa::VerifyingKey,
    chip_id: &[u8],
    tcb: &Tcb,
) -> Result<Vec<u8>, String> {
    if chip_id.len() != generation.chip_id_len() {
        return Err(format!(
            "a {:?} chip id has {} bytes, not {}",
            generation,
            generation.chip_id_len(),
            chip_id.len()
        ));
    }
    let mut exts = tcb_extensions(generation, tcb);
    exts.push(ext(amd_oid::HW_ID, false, chip_id.to_vec()));
    build_cert(
        CertSpec {
            serial: &serial_for(key),
            issuer: ASK_NAME,
            subject: VCEK_NAME,
            spki: p384_spki(key),
            extensions: exts,
        },
        ask_key(),
    )
}

/// Issue a VLEK certificate under the test root (signed by the test ASK, which stands in for
/// AMD's ASVK) for `key`, the TCB and a cloud-provider id.
pub fn issue_vlek(
    generation: SnpGeneration,
    key: &p384::ecdsa::VerifyingKey,
    tcb: &Tcb,
    csp_id: &str,
) -> Result<Vec<u8>, String> {
    let mut exts = tcb_extensions(generation, tcb);
    let csp = Ia5StringRef::new(csp_id).map_err(|_| "cspID must be ASCII".to_string())?;
    exts.push(ext(
        amd_oid::CSP_ID,
        false,
        csp.to_der().map_err(|e| e.to_string())?,
    ));
    build_cert(
        CertSpec {
            serial: &serial_for(key),
            issuer: ASK_NAME,
            subject: VLEK_NAME,
            spki: p384_spki(key),
            extensions: exts,
        },
        ask_key(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::chain::{ChainError, ChainOptions, LeafKind, SnpRootKind, verify_chain};
    use super::*;

    fn key() -> p384::ecdsa::SigningKey {
        p384::ecdsa::SigningKey::from_slice(&[7u8; 48]).unwrap()
    }

    #[test]
    fn test_root_issues_vceks_that_verify_only_when_allowed() {
        assert!(ark().self_issued());
        ark().verify_signed_by(ark()).unwrap();
        ask().verify_signed_by(ark()).unwrap();
        let sk = key();
        for g in SnpGeneration::ALL {
            let tcb = Tcb {
                fmc: g.turin_like().then_some(2),
                bootloader: 3,
                tee: 4,
                snp: 5,
                microcode: 0x73,
            };
            let chip = vec![0xA5; g.chip_id_len()];
            let der = issue_vcek(g, sk.verifying_key(), &chip, &tcb).unwrap();
            let vcek = SnpCert::from_der(&der).unwrap();
            let e = verify_chain(ark(), ask(), &vcek, &ChainOptions::default()).unwrap_err();
            assert_eq!(e, ChainError::TestRootNotAllowed);
            let ok = ChainOptions {
                allow_test_root: true,
                ..Default::default()
            };
            let v = verify_chain(ark(), ask(), &vcek, &ok).unwrap();
            assert_eq!(v.root, SnpRootKind::TestOnly);
            assert_eq!(v.generation, g);
            assert_eq!(v.leaf_kind, LeafKind::Vcek);
            assert_eq!(v.tcb, tcb);
            assert_eq!(v.hw_id.as_deref(), Some(&chip[..]));
            assert_eq!(v.key(), sk.verifying_key());
            assert!(issue_vcek(g, sk.verifying_key(), &[0; 9], &tcb).is_err());
        }
        let vlek = issue_vlek(
            SnpGeneration::Genoa,
            sk.verifying_key(),
            &Tcb::default(),
            "csp",
        )
        .unwrap();
        let ok = ChainOptions {
            allow_test_root: true,
            ..Default::default()
        };
        let v = verify_chain(ark(), ask(), &SnpCert::from_der(&vlek).unwrap(), &ok).unwrap();
        assert_eq!(v.leaf_kind, LeafKind::Vlek);
        assert_eq!(v.leaf.amd.csp_id.as_deref(), Some("csp"));
    }

    #[test]
    fn test_root_is_not_amds() {
        for g in SnpGeneration::ALL {
            assert_ne!(ark().fingerprint(), g.snp_root().fingerprint);
        }
    }
}
