//! Report verification end to end with the test root: a report signed like the firmware
//! signs it, each field changed (and re-signed) is refused naming that field, every byte of
//! the signature and of the signed region flipped is refused.

use super::report::{FIELDS, REPORT_LEN, SIGNED_LEN};
use super::*;
use crate::certs::snp::{SnpGeneration, Tcb, testroot};
use p384::ecdsa::SigningKey;
use p384::ecdsa::signature::hazmat::PrehashSigner;
use sha2::{Digest, Sha384};

fn vcek_key() -> SigningKey {
    SigningKey::from_slice(&[0x42; 48]).unwrap()
}

const TCB: Tcb = Tcb {
    fmc: None,
    bootloader: 3,
    tee: 0,
    snp: 8,
    microcode: 0x73,
};

fn tcb(g: SnpGeneration) -> Tcb {
    Tcb {
        fmc: g.turin_like().then_some(1),
        ..TCB
    }
}

fn chip(g: SnpGeneration) -> Vec<u8> {
    (1..=g.chip_id_len() as u8).collect()
}

/// Sign bytes 0..0x2A0 into the signature field, as the firmware does.
pub(crate) fn sign_report(b: &mut [u8], key: &SigningKey) {
    let d = Sha384::digest(&b[..SIGNED_LEN]);
    let sig: p384::ecdsa::Signature = key.sign_prehash(&d).unwrap();
    let (r, s) = sig.split_bytes();
    b[SIGNED_LEN..].fill(0);
    for (i, x) in r.iter().rev().enumerate() {
        b[0x2A0 + i] = *x;
    }
    for (i, x) in s.iter().rev().enumerate() {
        b[0x2E8 + i] = *x;
    }
}

fn report(g: SnpGeneration, version: u32) -> Vec<u8> {
    let mut b = vec![0u8; REPORT_LEN];
    let t = tcb(g).to_u64(g).to_le_bytes();
    b[0..4].copy_from_slice(&version.to_le_bytes());
    b[0x04] = 2; // guest svn
    b[0x08..0x10].copy_from_slice(&0x30000u64.to_le_bytes());
    b[0x10..0x20].fill(0xF1);
    b[0x20..0x30].fill(0x11);
    b[0x34] = 1;
    b[0x38..0x40].copy_from_slice(&t);
    b[0x40] = 1; // SMT
    b[0x48] = 1; // author key enabled, VCEK
    b[0x50..0x90].fill(0xDA);
    b[0x90..0xC0].fill(0x3E);
    b[0xC0..0xE0].fill(0x40);
    b[0xE0..0x110].fill(0x1D);
    b[0x110..0x140].fill(0xA0);
    b[0x140..0x160].fill(0x77);
    b[0x160..0x180].fill(0xFF);
    b[0x180..0x188].copy_from_slice(&t);
    if version >= 3 {
        let (f, m) = match g {
            SnpGeneration::Milan => (0x19, 0x01),
            SnpGeneration::Genoa => (0x19, 0x11),
            SnpGeneration::Turin => (0x1A, 0x02),
        };
        b[0x188] = f;
        b[0x189] = m;
        b[0x18A] = 1;
    }
    b[0x1A0..0x1A0 + g.chip_id_len()].copy_from_slice(&chip(g));
    b[0x1E0..0x1E8].copy_from_slice(&t);
    b[0x1E8..0x1EB].copy_from_slice(&[4, 55, 1]);
    b[0x1EC..0x1EF].copy_from_slice(&[4, 55, 1]);
    b[0x1F0..0x1F8].copy_from_slice(&t);
    sign_report(&mut b, &vcek_key());
    b
}

fn policy() -> ReportPolicy {
    ReportPolicy {
        measurement: Some([0x3E; 48]),
        host_data: Some([0x40; 32]),
        id_key_digest: Some([0x1D; 48]),
        author_key_digest: Some([0xA0; 48]),
        family_id: Some([0xF1; 16]),
        image_id: Some([0x11; 16]),
        min_guest_svn: Some(2),
        report_data: Some([0xDA; 64]),
        vmpl: Some(0),
        policy_required: 0x30000,
        policy_allowed: Some(0x30000),
        platform_info_required: 1,
        platform_info_allowed: Some(1),
        min_tcb: Some(tcb(SnpGeneration::Milan)),
        min_launch_tcb: Some(tcb(SnpGeneration::Milan)),
        min_firmware: Some(FwVersion {
            major: 1,
            minor: 55,
            build: 4,
        }),
        report_id: Some([0x77; 32]),
        report_id_ma: Some([0xFF; 32]),
        allow_provisional_firmware: false,
        allow_masked_chip_id: false,
    }
}

fn chain(g: SnpGeneration) -> (SnpCert, ChainOptions) {
    let der = testroot::issue_vcek(g, vcek_key().verifying_key(), &chip(g), &tcb(g)).unwrap();
    (
        SnpCert::from_der(&der).unwrap(),
        ChainOptions {
            allow_test_root: true,
            ..Default::default()
        },
    )
}

fn run(b: &[u8], g: SnpGeneration, p: &ReportPolicy) -> Result<Verdict, AttestError> {
    let (vcek, o) = chain(g);
    let mut p = p.clone();
    if let Some(t) = p.min_tcb.as_mut() {
        t.fmc = g.turin_like().then_some(1);
    }
    if let Some(t) = p.min_launch_tcb.as_mut() {
        t.fmc = g.turin_like().then_some(1);
    }
    verify_attestation(b, testroot::ark(), testroot::ask(), &vcek, &o, &p).map(|(_, _, v)| v)
}

#[test]
fn genuine_reports_pass_every_check_for_each_generation_and_version() {
    for g in SnpGeneration::ALL {
        for version in [2, 3, 5] {
            let v = run(&report(g, version), g, &policy()).unwrap();
            assert!(v.ok(), "{g:?} v{version}: {}", v.summary());
        }
    }
}

#[test]
fn test_root_refused_unless_allowed() {
    let g = SnpGeneration::Genoa;
    let (vcek, _) = chain(g);
    let e = verify_attestation(
        &report(g, 2),
        testroot::ark(),
        testroot::ask(),
        &vcek,
        &ChainOptions::default(),
        &policy(),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        AttestError::Chain(ChainError::TestRootNotAllowed)
    ));
}

/// Change one field to a value the policy does not accept, re-sign (so only that field is
/// wrong), and check that exactly the expected checks fail.
#[test]
fn every_field_tamper_is_refused_naming_the_field() {
    let g = SnpGeneration::Milan;
    let cases: &[(&str, usize, &[u8], &[Check])] = &[
        ("guest_svn", 0x04, &[1], &[Check::GuestSvn]),
        ("policy", 0x0A, &[0x0B], &[Check::Policy]),
        ("family_id", 0x10, &[0], &[Check::FamilyId]),
        ("image_id", 0x2F, &[0], &[Check::ImageId]),
        ("vmpl", 0x30, &[1], &[Check::Vmpl]),
        ("signature_algo", 0x34, &[2], &[Check::SignatureAlgo]),
        (
            "current_tcb",
            0x3F,
            &[0x10],
            &[Check::CurrentTcb, Check::CommittedTcb],
        ),
        ("platform_info", 0x40, &[3], &[Check::PlatformInfo]),
        ("key_info signing key", 0x48, &[1 | 4], &[Check::SigningKey]),
        ("key_info author", 0x48, &[0], &[Check::AuthorKeyDigest]),
        ("report_data", 0x8F, &[0], &[Check::ReportData]),
        ("measurement", 0x90, &[0], &[Check::Measurement]),
        ("host_data", 0xDF, &[0], &[Check::HostData]),
        ("id_key_digest", 0xE0, &[0], &[Check::IdKeyDigest]),
        ("author_key_digest", 0x13F, &[0], &[Check::AuthorKeyDigest]),
        ("report_id", 0x140, &[0], &[Check::ReportId]),
        ("report_id_ma", 0x17F, &[0], &[Check::ReportIdMa]),
        ("reported_tcb", 0x180, &[4], &[Check::ReportedTcb]),
        (
            "reported_tcb low",
            0x180,
            &[2],
            &[Check::ReportedTcb, Check::MinimumTcb],
        ),
        ("chip_id", 0x1A0, &[0xEE], &[Check::ChipId]),
        ("chip_id masked", 0x1A0, &[0; 64], &[Check::ChipId]),
        ("committed_tcb", 0x1E7, &[0x72], &[Check::CommittedTcb]),
        (
            "current_version",
            0x1E8,
            &[3],
            &[Check::CommittedTcb, Check::FirmwareVersion],
        ),
        ("committed_version", 0x1EE, &[2], &[Check::CommittedTcb]),
        ("launch_tcb", 0x1F7, &[0x72], &[Check::LaunchTcb]),
    ];
    for (name, off, bytes, want) in cases {
        let mut b = report(g, 2);
        b[*off..*off + bytes.len()].copy_from_slice(bytes);
        sign_report(&mut b, &vcek_key());
        let v = run(&b, g, &policy()).unwrap();
        let want_bits = want.iter().fold(0, |a, c| a | *c as u64);
        assert_eq!(v.failed, want_bits, "{name}: {}", v.summary());
        for c in *want {
            assert!(v.summary().contains(c.name()), "{name}: {}", v.summary());
        }
        // Not re-signed: the signature check fails too.
        let mut unsigned = report(g, 2);
        unsigned[*off..*off + bytes.len()].copy_from_slice(bytes);
        let v = run(&unsigned, g, &policy()).unwrap();
        assert!(v.failed(Check::Signature), "{name}");
    }
    // The generation field (v3 CPUID) names the generation.
    let mut b = report(g, 3);
    b[0x188] = 0x1A;
    sign_report(&mut b, &vcek_key());
    let v = run(&b, g, &policy()).unwrap();
    assert!(v.failed(Check::Generation), "{}", v.summary());
    // Every field listed in FIELDS is covered by the signature.
    for (name, off, _len) in FIELDS {
        let mut b = report(g, 5);
        b[*off] ^= 0x01;
        match run(&b, g, &policy()) {
            Ok(v) => assert!(v.failed(Check::Signature), "{name}"),
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn every_signature_byte_and_signed_byte_flip_is_refused() {
    let g = SnpGeneration::Turin;
    let good = report(g, 3);
    let (vcek, o) = chain(g);
    let cv = crate::certs::snp::verify_chain(testroot::ark(), testroot::ask(), &vcek, &o).unwrap();
    for i in 0..REPORT_LEN {
        let mut b = good.clone();
        b[i] ^= 0x01;
        match Report::parse(&b) {
            // Reserved bytes and signature padding are refused when parsing.
            Err(_) => {}
            Ok(r) => assert!(
                !verify::verify_signature(&r, cv.key()),
                "byte {i:#x} flipped still verifies"
            ),
        }
    }
    let r = Report::parse(&good).unwrap();
    assert!(verify::verify_signature(&r, cv.key()));
    assert!(!verify::verify_signature(
        &r,
        SigningKey::from_slice(&[9; 48]).unwrap().verifying_key()
    ));
}
