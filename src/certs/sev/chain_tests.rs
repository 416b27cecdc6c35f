//! Tests of chain verification against the real Naples and Rome chains and synthetic chains
//! under the model's test-only root.

use super::*;
use crate::certs::roots::Generation;
use crate::certs::sev::Algo;
use p384::ecdsa::SigningKey;

fn data(p: &str) -> Vec<u8> {
    let path = format!("{}/../shared/testdata/sev/{p}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ask_ark(g: &str) -> Vec<u8> {
    let mut v = data(&format!("builtin/{g}/ask.cert"));
    v.extend(data(&format!("builtin/{g}/ark.cert")));
    v
}

fn assert_all_ok(r: &ChainReport, what: &str) {
    for l in &r.links {
        assert!(
            l.result.is_ok(),
            "{what}: {} failed: {:?}",
            l.link.name(),
            l.result
        );
    }
}

#[test]
fn real_chains_verify_in_every_layout() {
    for (g, gen_) in [("naples", Generation::Naples), ("rome", Generation::Rome)] {
        let full = Chain::from_full(&data(&format!("{g}/chain.bin"))).unwrap();
        let sev_chain =
            Chain::from_sev_chain(&data(&format!("{g}/sev-chain.bin")), &ask_ark(g)).unwrap();
        let mut plat = data(&format!("{g}/pek.cert"));
        plat.extend(data(&format!("{g}/oca.cert")));
        plat.extend(data(&format!("{g}/cek.cert")));
        let parts = Chain::from_parts(&data(&format!("{g}/pdh.cert")), &plat, &ask_ark(g)).unwrap();
        for (what, c) in [
            ("chain.bin", full),
            ("sev-chain.bin", sev_chain),
            ("parts", parts),
        ] {
            let r = c.verify(VerifyOptions::default());
            assert_all_ok(&r, &format!("{g} {what}"));
            assert_eq!(r.links.len(), 7);
            assert_eq!(r.root, RootKind::Amd(gen_), "{g} {what}");
            assert!(r.failed_link().is_none());
            r.check().unwrap();
            let v = c.verified(VerifyOptions::default()).unwrap();
            assert_eq!(v.root, RootKind::Amd(gen_));
            assert_eq!(v.pdh.as_bytes()[..], data(&format!("{g}/pdh.cert"))[..]);
        }
    }
}

#[test]
fn serialization_round_trips() {
    for g in ["naples", "rome"] {
        let bytes = data(&format!("{g}/chain.bin"));
        let c = Chain::from_full(&bytes).unwrap();
        assert_eq!(c.to_bytes(), bytes);
    }
}

/// Offsets inside a signed region of `len` bytes: first, last, the structure's fields and a
/// spread in between.
fn spread(len: usize, fields: &[usize]) -> Vec<usize> {
    let mut v: Vec<usize> = fields.iter().copied().filter(|o| *o < len).collect();
    v.extend([0, 1, len / 3, len / 2, 2 * len / 3, len - 2, len - 1]);
    let mut x = 0x9e37_79b9u32;
    for _ in 0..8 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push(x as usize % len);
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Flip one byte at each chosen offset of each signed region of `chain.bin`; verification must
/// fail at exactly the link that certifies the damaged certificate, with every link closer to
/// the root still passing.
fn flips_name_the_right_link(g: &str) {
    let bytes = data(&format!("{g}/chain.bin"));
    let base = Chain::from_full(&bytes).unwrap();
    let sev_fields = [
        4,
        5,
        6,
        7,
        8,
        0xC,
        0x10,
        0x14,
        0x14 + 47,
        0x14 + 48,
        0x5C,
        0x5C + 47,
        0x5C + 71,
        0xA4,
        0x300,
        0x413,
    ];
    let mut regions: Vec<(usize, usize, Link, &str)> = vec![
        (0, sev::BODY, Link::PdhByPek, "PDH"),
        (sev::SIZE, sev::BODY, Link::PekByOca, "PEK"),
        (2 * sev::SIZE, sev::BODY, Link::OcaSelf, "OCA"),
        (3 * sev::SIZE, sev::BODY, Link::CekByAsk, "CEK"),
    ];
    let ask = base.amd.ask.as_ref().unwrap();
    let ark = base.amd.ark.as_ref().unwrap();
    let ask_off = 4 * sev::SIZE;
    let ark_off = ask_off + ask.as_bytes().len();
    regions.push((ask_off, ask.signed_bytes().len(), Link::AskByArk, "ASK"));
    regions.push((ark_off, ark.signed_bytes().len(), Link::ArkSelf, "ARK"));
    let mut checked = 0;
    for (start, len, want, what) in regions {
        let amd_fields = [
            4,
            0x14,
            0x24,
            0x28,
            0x37,
            0x38,
            0x39,
            0x3C,
            0x3D,
            0x40,
            len / 2 - 1,
        ];
        let fields: &[usize] = if what.starts_with('A') {
            &amd_fields
        } else {
            &sev_fields
        };
        for off in spread(len, fields) {
            for mask in [0x01u8, 0x80] {
                let mut b = bytes.clone();
                b[start + off] ^= mask;
                let c = match Chain::from_full(&b) {
                    Ok(c) => c,
                    Err(e) => panic!("{g} {what}+{off:#x}: whole chain rejected: {e}"),
                };
                let r = c.verify(VerifyOptions::default());
                let failed = r
                    .failed_link()
                    .unwrap_or_else(|| panic!("{g} {what}+{off:#x} ^{mask:#x}: verified"));
                assert_eq!(
                    failed.link, want,
                    "{g} {what}+{off:#x} ^{mask:#x}: {:?}",
                    failed.result
                );
                assert!(r.check().is_err());
                checked += 1;
            }
        }
    }
    assert!(checked > 150, "{checked}");
}

#[test]
fn naples_byte_flips_name_the_right_link() {
    flips_name_the_right_link("naples");
}

#[test]
fn rome_byte_flips_name_the_right_link() {
    flips_name_the_right_link("rome");
}

#[test]
fn other_generations_ask_ark_fails_at_the_cek() {
    for (g, others) in [
        ("naples", ["rome", "milan", "genoa", "turin"]),
        ("rome", ["naples", "milan", "genoa", "turin"]),
    ] {
        for other in others {
            let c = Chain::from_sev_chain(&data(&format!("{g}/sev-chain.bin")), &ask_ark(other))
                .unwrap();
            let r = c.verify(VerifyOptions::default());
            let f = r.failed_link().expect("must fail");
            assert_eq!(f.link, Link::CekByAsk, "{g} with {other}: {:?}", f.result);
            // The AMD part itself is fine and identified; only the CEK link breaks.
            assert!(r.link(Link::ArkSelf).result.is_ok());
            assert!(r.link(Link::AskByArk).result.is_ok());
            assert!(matches!(r.root, RootKind::Amd(x) if x.name() == other));
            let e = r.check().unwrap_err();
            // A Rome CEK carries an RSA-SHA384 slot that a 2048-bit (Naples) ASK cannot have
            // made; every other pairing has a matching slot whose signature does not verify.
            let want = if g == "rome" && other == "naples" {
                Status::LIBSEV_STATUS_CHAIN_BROKEN
            } else {
                Status::LIBSEV_STATUS_BAD_SIGNATURE
            };
            assert_eq!(e.status, want, "{g} with {other}: {}", e.message);
            assert!(e.message.contains("CEK signed by ASK"), "{}", e.message);
        }
    }
}

#[test]
fn unsigned_cek_from_pdh_cert_export_is_replaced_by_the_kds_one() {
    let real = data("rome/cek.cert");
    let mut unsigned = SevCert::from_bytes(&real).unwrap();
    unsigned.clear_slot(0);
    let mut plat = data("rome/pek.cert");
    plat.extend(data("rome/oca.cert"));
    plat.extend(unsigned.as_bytes());
    let c = Chain::from_parts(&data("rome/pdh.cert"), &plat, &ask_ark("rome")).unwrap();
    let r = c.verify(VerifyOptions::default());
    assert_eq!(r.failed_link().unwrap().link, Link::CekByAsk);
    assert_eq!(
        r.check().unwrap_err().status,
        Status::LIBSEV_STATUS_CHAIN_BROKEN
    );
    let c = c.with_cek(&real).unwrap();
    c.verify(VerifyOptions::default()).check().unwrap();
}

#[test]
fn wrong_sizes_are_length_errors() {
    let sc = data("rome/sev-chain.bin");
    let aa = ask_ark("rome");
    let e = Chain::from_sev_chain(&sc[1..], &aa).unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_LENGTH);
    let e = Chain::from_sev_chain(&sc, &aa[..aa.len() - 1]).unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_LENGTH);
    let e = Chain::from_full(&sc).unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_LENGTH);
    let e = Chain::from_parts(&sc[..100], &sc[sev::SIZE..], &aa).unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_LENGTH);
    let c = Chain::from_full(&data("rome/chain.bin")).unwrap();
    assert!(c.with_cek(&sc[..10]).is_err());
}

#[test]
fn certificates_in_the_wrong_position_are_malformed() {
    // PDH and PEK swapped.
    let pdh = data("rome/pdh.cert");
    let mut plat = pdh.clone();
    plat.extend(data("rome/oca.cert"));
    plat.extend(data("rome/cek.cert"));
    let c = Chain::from_parts(&data("rome/pek.cert"), &plat, &ask_ark("rome")).unwrap();
    let r = c.verify(VerifyOptions::default());
    let f = r.failed_link().unwrap();
    assert_eq!(f.link, Link::PekByOca);
    assert!(matches!(&f.result, Err(CertError::Malformed(m)) if m.contains("usage")));
    // ARK and ASK swapped: both halves parse, neither verifies as what it claims.
    let mut swapped = data("builtin/rome/ark.cert");
    swapped.extend(data("builtin/rome/ask.cert"));
    let c = Chain::from_sev_chain(&data("rome/sev-chain.bin"), &swapped).unwrap();
    let r = c.verify(VerifyOptions::default());
    assert_eq!(r.failed_link().unwrap().link, Link::ArkSelf);
    assert_eq!(r.root, RootKind::Unknown);
}

#[test]
fn half_empty_signature_slot_is_reported() {
    let mut pdh = data("rome/pdh.cert");
    // Slot 2 of the PDH is empty (0x1000, 0); give it an algorithm but no usage.
    pdh[0x620] = 2;
    let mut plat = data("rome/pek.cert");
    plat.extend(data("rome/oca.cert"));
    plat.extend(data("rome/cek.cert"));
    let c = Chain::from_parts(&pdh, &plat, &ask_ark("rome")).unwrap();
    let r = c.verify(VerifyOptions::default());
    let f = r.failed_link().unwrap();
    assert_eq!(f.link, Link::PdhByPek);
    assert!(matches!(&f.result, Err(CertError::BadSignature(m)) if m.contains("half empty")));
}

/// A synthetic platform chain certified by the given ASK (key) and ARK.
fn synthetic(ask: &AmdCert, ask_key: &rsa::RsaPrivateKey, ark: &AmdCert) -> Chain {
    let mut rng = rand_core::OsRng;
    let cek_k = SigningKey::random(&mut rng);
    let oca_k = SigningKey::random(&mut rng);
    let pek_k = SigningKey::random(&mut rng);
    let pdh_k = p384::SecretKey::random(&mut rng);
    let pk = |k: &SigningKey| p384::PublicKey::from(k.verifying_key());
    let mut cek = SevCert::new_p384(Usage::CEK, Algo::ECDSA_SHA256, (0, 14), &pk(&cek_k));
    let sig = AmdCert::sign_sev_body(ask_key, cek.body()).unwrap();
    let algo = if ask.modulus_bits() == 2048 {
        Algo::RSA_SHA256
    } else {
        Algo::RSA_SHA384
    };
    cek.set_rsa_signature(0, Usage::ASK, algo, &sig);
    let mut oca = SevCert::new_p384(Usage::OCA, Algo::ECDSA_SHA256, (1, 55), &pk(&oca_k));
    oca.sign_ecdsa(0, Usage::OCA, &oca_k);
    let mut pek = SevCert::new_p384(Usage::PEK, Algo::ECDSA_SHA256, (1, 55), &pk(&pek_k));
    pek.sign_ecdsa(0, Usage::OCA, &oca_k);
    pek.sign_ecdsa(1, Usage::CEK, &cek_k);
    let mut pdh = SevCert::new_p384(Usage::PDH, Algo::ECDH_SHA256, (1, 55), &pdh_k.public_key());
    pdh.sign_ecdsa(0, Usage::PEK, &pek_k);
    let mut aa = ask.as_bytes().to_vec();
    aa.extend_from_slice(ark.as_bytes());
    let mut plat = pek.as_bytes().to_vec();
    plat.extend_from_slice(oca.as_bytes());
    plat.extend_from_slice(cek.as_bytes());
    Chain::from_parts(pdh.as_bytes(), &plat, &aa).unwrap()
}

fn test_root() -> (AmdCert, rsa::RsaPrivateKey, AmdCert) {
    use rsa::pkcs8::DecodePrivateKey;
    let t = &crate::certs::sev::test_root::ASK_KEY_PKCS8;
    let key = rsa::RsaPrivateKey::from_pkcs8_der(t).unwrap();
    let ask = AmdCert::from_bytes(crate::certs::sev::test_root::ASK_CERT).unwrap();
    let ark = AmdCert::from_bytes(crate::certs::sev::test_root::ARK_CERT).unwrap();
    (ask, key, ark)
}

#[test]
fn test_root_is_rejected_unless_allowed() {
    let (ask, key, ark) = test_root();
    let c = synthetic(&ask, &key, &ark);
    let r = c.verify(VerifyOptions::default());
    assert_all_ok(&r, "test-root chain");
    assert_eq!(r.root, RootKind::TestOnly);
    let e = r.check().unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED);
    assert!(c.verified(VerifyOptions::default()).is_err());
    let allow = VerifyOptions {
        allow_test_root: true,
    };
    let v = c.verified(allow).unwrap();
    assert_eq!(v.root, RootKind::TestOnly);
    // The flag does not weaken anything else: a broken link still fails.
    let mut b = c.to_bytes();
    b[0x100] ^= 1;
    let r = Chain::from_full(&b).unwrap().verify(allow);
    assert_eq!(r.failed_link().unwrap().link, Link::PdhByPek);
    assert!(r.check().is_err());
}

#[test]
fn unknown_self_signed_root_is_refused() {
    let mut rng = rand_core::OsRng;
    let ark_key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let ask_key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let ark = AmdCert::build(
        USAGE_ARK,
        *b"not-an-AMD-root!",
        &ark_key.to_public_key(),
        None,
        Some(&ark_key),
    )
    .unwrap();
    let ask = AmdCert::build(
        USAGE_ASK,
        *b"not-an-AMD-ask!!",
        &ask_key.to_public_key(),
        Some((&ark, &ark_key)),
        None,
    )
    .unwrap();
    let c = synthetic(&ask, &ask_key, &ark);
    for allow_test_root in [false, true] {
        let r = c.verify(VerifyOptions { allow_test_root });
        assert_all_ok(&r, "self-made root");
        assert_eq!(r.root, RootKind::Unknown);
        assert_eq!(
            r.check().unwrap_err().status,
            Status::LIBSEV_STATUS_UNKNOWN_ROOT
        );
    }
    // An AMD ARK's key id on this key does not help.
    let mut b = c.amd.as_bytes().to_vec();
    let ark_off = ask.as_bytes().len();
    b[ark_off + 4..ark_off + 20].copy_from_slice(&Generation::Naples.root().ark_key_id);
    let amd = AmdPair::parse(&b).unwrap();
    assert_eq!(
        roots::identify(amd.ark.as_ref().unwrap()),
        RootKind::Unknown
    );
}
