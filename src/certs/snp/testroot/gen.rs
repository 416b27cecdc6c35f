//! Regenerates libsev's TEST-ONLY SEV-SNP root (X.509 ARK and ASK, RSA-4096, RSASSA-PSS).
//!
//! Run once, by hand: `cargo run --release --example gen_snp_test_root -- src/certs/snp/testroot`
//! (declared in `Cargo.toml`). The output (ark.der, ask.der, ask-key.pk8) is checked in and
//! compiled into libsev. The ASK's private key is shipped on purpose: the firmware model
//! issues its chips' VCEKs with it, which is why the owner side refuses this root unless the
//! caller allows the test root.

use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::EncodePrivateKey;
use sev::certs::snp::SnpCert;
use sev::certs::snp::testroot::{ARK_NAME, ASK_NAME, CertSpec, build_cert};
use x509_cert::der::Any;
use x509_cert::der::asn1::{BitString, OctetString};
use x509_cert::ext::Extension;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

fn rsa_spki(k: &rsa::RsaPublicKey) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: sev::certs::snp::x509::OID_RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        subject_public_key: BitString::from_bytes(k.to_pkcs1_der().unwrap().as_bytes()).unwrap(),
    }
}

/// basicConstraints CA (with pathLen 0 for the ASK) and keyUsage keyCertSign+cRLSign.
fn ca_exts(path_len_zero: bool) -> Vec<Extension> {
    let bc = if path_len_zero {
        vec![0x30, 0x06, 0x01, 0x01, 0xFF, 0x02, 0x01, 0x00]
    } else {
        vec![0x30, 0x03, 0x01, 0x01, 0xFF]
    };
    vec![
        Extension {
            extn_id: "2.5.29.19".parse().unwrap(),
            critical: true,
            extn_value: OctetString::new(bc).unwrap(),
        },
        Extension {
            extn_id: "2.5.29.15".parse().unwrap(),
            critical: true,
            // BIT STRING keyCertSign (5) | cRLSign (6).
            extn_value: OctetString::new(vec![0x03, 0x02, 0x01, 0x06]).unwrap(),
        },
    ]
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: gen_snp_test_root OUT_DIR");
    let mut rng = rand_core::OsRng;
    eprintln!("generating two RSA-4096 keys (takes a while)...");
    let ark_key = rsa::RsaPrivateKey::new(&mut rng, 4096).expect("ARK key");
    let ask_key = rsa::RsaPrivateKey::new(&mut rng, 4096).expect("ASK key");
    let ark = build_cert(
        CertSpec {
            serial: &[0x01, 0x00, 0x00],
            issuer: ARK_NAME,
            subject: ARK_NAME,
            spki: rsa_spki(&ark_key.to_public_key()),
            extensions: ca_exts(false),
        },
        &ark_key,
    )
    .expect("ARK");
    let ask = build_cert(
        CertSpec {
            serial: &[0x01, 0x00, 0x01],
            issuer: ARK_NAME,
            subject: ASK_NAME,
            spki: rsa_spki(&ask_key.to_public_key()),
            extensions: ca_exts(true),
        },
        &ark_key,
    )
    .expect("ASK");
    let ark_c = SnpCert::from_der(&ark).expect("ARK parses");
    let ask_c = SnpCert::from_der(&ask).expect("ASK parses");
    ark_c.verify_signed_by(&ark_c).expect("ARK self-signature");
    ask_c.verify_signed_by(&ark_c).expect("ASK signature");
    std::fs::write(format!("{dir}/ark.der"), &ark).unwrap();
    std::fs::write(format!("{dir}/ask.der"), &ask).unwrap();
    let der = ask_key.to_pkcs8_der().expect("PKCS#8");
    std::fs::write(format!("{dir}/ask-key.pk8"), der.as_bytes()).unwrap();
    eprintln!("wrote {dir}/ark.der, ask.der, ask-key.pk8");
}
