//! The model's platform side through `/dev/sev` structs: state machine, identity, ownership
//! (PEK_CSR → sign → PEK_CERT_IMPORT), FACTORY_RESET, GET_ID, persistence in a state
//! directory and the seeded (reproducible) identity.

#[path = "model_common/mod.rs"]
mod common;

use common::*;
use p384::ecdsa::SigningKey;
use sev::certs::{Algo, SevCert, Usage};
use sev::model::{ModelConfig, ModelPlatform};
use sev::status::Status;
use sev::uapi::*;
use std::path::PathBuf;

fn status(p: &ModelPlatform) -> sev_user_data_status {
    let mut s = sev_user_data_status::default();
    assert_eq!(sev(p, sev_user_cmd::PLATFORM_STATUS, &mut s), (Ok(()), 0));
    s
}

fn csr(p: &ModelPlatform) -> Vec<u8> {
    let mut q = sev_user_data_pek_csr::default();
    assert_eq!(
        sev(p, sev_user_cmd::PEK_CSR, &mut q),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!({ q.length }, 0x824);
    let mut buf = vec![0u8; 0x824];
    q.address = buf.as_mut_ptr() as u64;
    assert_eq!(sev(p, sev_user_cmd::PEK_CSR, &mut q), (Ok(()), 0));
    buf
}

fn import(p: &ModelPlatform, pek: &[u8], oca: &[u8]) -> (Result<(), i32>, u32) {
    let mut i = sev_user_data_pek_cert_import {
        pek_cert_address: pek.as_ptr() as u64,
        pek_cert_len: pek.len() as u32,
        oca_cert_address: oca.as_ptr() as u64,
        oca_cert_len: oca.len() as u32,
    };
    sev(p, sev_user_cmd::PEK_CERT_IMPORT, &mut i)
}

/// An owner's OCA: key and self-signed certificate.
fn owner_oca() -> (SigningKey, SevCert) {
    let k = SigningKey::random(&mut rand_core::OsRng);
    let mut c = SevCert::new_p384(
        Usage::OCA,
        Algo::ECDSA_SHA256,
        (1, 0),
        &p384::PublicKey::from(k.verifying_key()),
    );
    c.sign_ecdsa(0, Usage::OCA, &k);
    (k, c)
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("libsev-model-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn state_machine_and_key_regeneration() {
    let p = platform(21);
    let s = status(&p);
    assert_eq!((s.state, { s.flags }, { s.guest_count }), (0, 0, 0));
    let c = p.config();
    assert_eq!(
        (s.api_major, s.api_minor, s.build),
        (c.api_major, c.api_minor, c.build)
    );

    // PDH_CERT_EXPORT initialises the platform (PSP driver) with CONFIG.ES.
    let (pdh1, chain1) = export(&p);
    let s = status(&p);
    assert_eq!((s.state, { s.flags }), (1, 0x100));
    // PDH_GEN: new PDH, same PEK.
    assert_eq!(sev0(&p, sev_user_cmd::PDH_GEN), (Ok(()), 0));
    let (pdh2, chain2) = export(&p);
    assert_ne!(pdh1, pdh2);
    assert_eq!(chain1, chain2);
    // PEK_GEN: new OCA, PEK and PDH; the CEK stays.
    assert_eq!(sev0(&p, sev_user_cmd::PEK_GEN), (Ok(()), 0));
    let (pdh3, chain3) = export(&p);
    assert_ne!(pdh3, pdh2);
    assert_ne!(chain3[..0x1048], chain2[..0x1048]);
    assert_eq!(chain3[0x1048..], chain2[0x1048..]);

    // WORKING: PEK_GEN and PEK_CERT_IMPORT refuse, FACTORY_RESET is EBUSY, PDH_GEN works.
    let vm = vm(&p);
    let (r, e, _) = launch_start(&p, &*vm, 0, None);
    assert_eq!((r, e), (Ok(()), 0));
    let s = status(&p);
    assert_eq!((s.state, { s.guest_count }), (2, 1));
    assert_eq!(
        sev0(&p, sev_user_cmd::PEK_GEN),
        (Err(EIO), st::INVALID_PLATFORM_STATE)
    );
    let c = csr(&p);
    assert_eq!(import(&p, &c, &c), (Err(EIO), st::INVALID_PLATFORM_STATE));
    assert_eq!(sev0(&p, sev_user_cmd::FACTORY_RESET).0, Err(libc::EBUSY));
    assert_eq!(sev0(&p, sev_user_cmd::PDH_GEN), (Ok(()), 0));
    // Dropping the VM decommissions the guest: back to INIT.
    drop(vm);
    assert_eq!(status(&p).state, 1);

    // FACTORY_RESET in INIT: SHUTDOWN then PLATFORM_RESET; the next INIT makes a new
    // identity, the chip (GET_ID, CEK) stays.
    let id_before = p.chip_id();
    assert_eq!(sev0(&p, sev_user_cmd::FACTORY_RESET), (Ok(()), 0));
    assert_eq!(status(&p).state, 0);
    let (pdh4, chain4) = export(&p);
    assert_ne!(pdh4, pdh3);
    assert_ne!(chain4[0x824..0x1048], chain3[0x824..0x1048]);
    assert_eq!(chain4[0x1048..], chain3[0x1048..]);
    assert_eq!(p.chip_id(), id_before);

    // Unknown commands are EINVAL without a firmware call; the SNP ones (9..=12) are handled
    // (src/tests/model_snp.rs): SNP_PLATFORM_STATUS into a NULL buffer is EFAULT.
    assert_eq!(sev0(&p, 9).0, Err(libc::EFAULT));
    assert_eq!(sev0(&p, 13).0, Err(libc::EINVAL));
    assert_eq!(sev0(&p, 77).0, Err(libc::EINVAL));
    // The deprecated GET_ID fills 128 bytes: socket 0, then zeros.
    let mut id = [0xEEu8; 128];
    let mut c = sev_issue_cmd {
        cmd: sev_user_cmd::GET_ID,
        data: id.as_mut_ptr() as u64,
        error: 0,
    };
    // SAFETY: a 128-byte buffer, as the command needs.
    assert!(unsafe { sev::transport::PlatformTransport::sev_issue_cmd(&*p, &mut c) }.is_ok());
    assert_eq!(id[..64], p.chip_id());
    assert_eq!(id[64..], [0u8; 64]);
}

#[test]
fn taking_ownership_with_csr_and_import() {
    let p = platform(22);
    let (_, chain0) = export(&p);
    let cek = SevCert::from_bytes(&chain0[0x1048..]).unwrap();
    let cek_pk = cek.check_body(Usage::CEK).unwrap();

    let c = csr(&p);
    let csr_cert = SevCert::from_bytes(&c).unwrap();
    assert_eq!(csr_cert.body(), &chain0[..0x414]);
    assert!(csr_cert.slot_is_empty(0) && csr_cert.slot_is_empty(1));

    let (oca_key, oca) = owner_oca();
    let mut signed = csr_cert.clone();
    signed.sign_ecdsa(0, Usage::OCA, &oca_key);

    // Bad imports first: each leaves the platform self-owned.
    assert_eq!(
        import(&p, &signed.as_bytes()[..0x823], oca.as_bytes()),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!(import(&p, signed.as_bytes(), &[]).0, Err(libc::EINVAL));
    let mut bad_oca = oca.as_bytes().to_vec();
    bad_oca[5] ^= 1; // body changed: the self-signature fails
    assert_eq!(
        import(&p, signed.as_bytes(), &bad_oca),
        (Err(EIO), st::BAD_SIGNATURE)
    );
    let (other_key, _) = owner_oca();
    let mut wrong_signer = csr_cert.clone();
    wrong_signer.sign_ecdsa(0, Usage::OCA, &other_key);
    assert_eq!(
        import(&p, wrong_signer.as_bytes(), oca.as_bytes()),
        (Err(EIO), st::BAD_SIGNATURE)
    );
    let mut other_body = csr_cert.clone().as_bytes().to_vec();
    other_body[5] ^= 1; // not the platform's PEK body
    let mut other_body = SevCert::from_bytes(&other_body).unwrap();
    other_body.sign_ecdsa(0, Usage::OCA, &oca_key);
    assert_eq!(
        import(&p, other_body.as_bytes(), oca.as_bytes()),
        (Err(EIO), st::INVALID_CERTIFICATE)
    );
    assert_eq!({ status(&p).flags } & 1, 0);

    // The real import: owned, the OCA is ours, the PEK carries our and the CEK's signature,
    // and a new PDH is signed by the PEK.
    assert_eq!(import(&p, signed.as_bytes(), oca.as_bytes()), (Ok(()), 0));
    assert_eq!({ status(&p).flags } & 1, 1);
    let (pdh, chain) = export(&p);
    assert_eq!(&chain[0x824..0x1048], oca.as_bytes());
    let pek = SevCert::from_bytes(&chain[..0x824]).unwrap();
    let oca_pk = oca.check_body(Usage::OCA).unwrap();
    pek.verify_ecdsa(Usage::OCA, &oca_pk).unwrap();
    pek.verify_ecdsa(Usage::CEK, &cek_pk).unwrap();
    let pek_pk = pek.check_body(Usage::PEK).unwrap();
    SevCert::from_bytes(&pdh)
        .unwrap()
        .verify_ecdsa(Usage::PEK, &pek_pk)
        .unwrap();
    assert_ne!(pdh, export(&platform(22)).0);

    // A second import: ALREADY_OWNED. PEK_GEN gives the platform back to itself.
    assert_eq!(
        import(&p, signed.as_bytes(), oca.as_bytes()),
        (Err(EIO), st::ALREADY_OWNED)
    );
    assert_eq!(sev0(&p, sev_user_cmd::PEK_GEN), (Ok(()), 0));
    assert_eq!({ status(&p).flags } & 1, 0);
}

#[test]
fn seeded_identity_is_reproducible() {
    let (a, b, c) = (platform(23), platform(23), platform(24));
    assert_eq!(a.chip_id(), b.chip_id());
    assert_ne!(a.chip_id(), c.chip_id());
    assert_eq!(export(&a), export(&b));
    assert_ne!(export(&a).0, export(&c).0);
    // Unseeded platforms are distinct chips.
    let (x, y) = (
        sev::model::open(ModelConfig::default()).unwrap(),
        sev::model::open(ModelConfig::default()).unwrap(),
    );
    assert_ne!(x.chip_id(), y.chip_id());
}

#[test]
fn state_dir_keeps_the_identity_across_platform_instances() {
    let dir = tempdir("persist");
    let cfg = ModelConfig {
        state_dir: Some(dir.clone()),
        ..ModelConfig::default()
    };
    let (id, pdh, chain) = {
        let p = sev::model::open(cfg.clone()).unwrap();
        let (pdh, chain) = export(&p);
        (p.chip_id(), pdh, chain)
    };
    let p2 = sev::model::open(cfg.clone()).unwrap();
    assert_eq!(status(&p2).state, 0, "a new process starts UNINIT");
    assert_eq!(p2.chip_id(), id);
    assert_eq!(export(&p2), (pdh.clone(), chain.clone()));
    // A change is saved; an interrupted later write (a stray temporary file) is harmless.
    assert_eq!(sev0(&p2, sev_user_cmd::PDH_GEN), (Ok(()), 0));
    let (pdh2, _) = export(&p2);
    drop(p2);
    std::fs::write(
        dir.join(".libsev-model-state.bin.tmp-999-0"),
        b"LIBSEVMS half-written",
    )
    .unwrap();
    let p3 = sev::model::open(cfg.clone()).unwrap();
    assert_eq!(export(&p3).0, pdh2);
    // FACTORY_RESET is persistent too (the chip stays).
    assert_eq!(sev0(&p3, sev_user_cmd::FACTORY_RESET), (Ok(()), 0));
    drop(p3);
    let p4 = sev::model::open(cfg.clone()).unwrap();
    assert_eq!(p4.chip_id(), id);
    assert_ne!(export(&p4).0, pdh2);
    drop(p4);

    // A damaged state file is reported with its path, never silently replaced.
    let file = dir.join("libsev-model-state.bin");
    let mut raw = std::fs::read(&file).unwrap();
    raw[100] ^= 0x10;
    std::fs::write(&file, &raw).unwrap();
    let e = sev::model::open(cfg.clone()).expect_err("corruption is detected");
    assert_eq!(e.status, Status::LIBSEV_STATUS_MODEL_STATE_CORRUPT);
    assert!(
        e.message.contains("libsev-model-state.bin"),
        "{}",
        e.message
    );
    assert_eq!(std::fs::read(&file).unwrap(), raw);
    std::fs::write(&file, b"").unwrap();
    let e = sev::model::open(cfg).err().unwrap();
    assert_eq!(e.status, Status::LIBSEV_STATUS_MODEL_STATE_CORRUPT);
    std::fs::remove_dir_all(&dir).unwrap();

    // A state "directory" that is a file is an I/O error.
    let f = tempdir("notadir");
    std::fs::write(&f, b"x").unwrap();
    let e = sev::model::open(ModelConfig {
        state_dir: Some(f.clone()),
        ..ModelConfig::default()
    })
    .err()
    .unwrap();
    assert_eq!(e.status, Status::LIBSEV_STATUS_MODEL_STATE_IO);
    std::fs::remove_file(&f).unwrap();
}

#[test]
fn env_spec_and_config_validation() {
    let c = ModelConfig::parse_env_spec("emulated").unwrap();
    assert!(c.state_dir.is_none());
    let c = ModelConfig::parse_env_spec("emulated:/some/dir").unwrap();
    assert_eq!(c.state_dir.unwrap(), PathBuf::from("/some/dir"));
    for bad in ["emulated:", "kvm", "emulatedx", ""] {
        let e = ModelConfig::parse_env_spec(bad).err().unwrap();
        assert_eq!(e.status, Status::LIBSEV_STATUS_MODEL_CONFIG, "{bad}");
    }
    let e = sev::model::open(ModelConfig {
        asids: 0,
        ..ModelConfig::default()
    })
    .err()
    .unwrap();
    assert_eq!(e.status, Status::LIBSEV_STATUS_MODEL_CONFIG);
}

#[test]
fn ownership_survives_a_restart_with_a_state_dir() {
    let dir = tempdir("owned");
    let cfg = ModelConfig {
        state_dir: Some(dir.clone()),
        ..ModelConfig::default()
    };
    let (oca, pdh) = {
        let p = sev::model::open(cfg.clone()).unwrap();
        let c = SevCert::from_bytes(&csr(&p)).unwrap();
        let (k, oca) = owner_oca();
        let mut signed = c;
        signed.sign_ecdsa(1, Usage::OCA, &k);
        assert_eq!(import(&p, signed.as_bytes(), oca.as_bytes()), (Ok(()), 0));
        (oca, export(&p).0)
    };
    let p = sev::model::open(cfg).unwrap();
    let (pdh2, chain) = export(&p);
    assert_eq!({ status(&p).flags } & 1, 1, "still externally owned");
    assert_eq!(pdh2, pdh);
    assert_eq!(&chain[0x824..0x1048], oca.as_bytes());
    // The CEK signature went into the slot the owner left free (slot 1 signed, slot 0 CEK).
    let pek = SevCert::from_bytes(&chain[..0x824]).unwrap();
    assert_eq!(pek.sig_slot(0).0, Usage::CEK);
    assert_eq!(pek.sig_slot(1).0, Usage::OCA);
    drop(p);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_state_save_keeps_the_old_identity() {
    let dir = tempdir("vanished");
    let p = sev::model::open(ModelConfig {
        state_dir: Some(dir.clone()),
        ..ModelConfig::default()
    })
    .unwrap();
    // The directory disappears before the first INIT has saved the new identity: the
    // firmware's NV write fails (HWERROR_PLATFORM) and the platform stays UNINIT.
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(sev0(&p, sev_user_cmd::PDH_GEN), (Err(EIO), 0x13));
    assert_eq!(status(&p).state, 0);
    std::fs::create_dir_all(&dir).unwrap();
    let (pdh, _) = export(&p);
    // Once INIT saved, a failed later save leaves the PDH as it was.
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(sev0(&p, sev_user_cmd::PDH_GEN), (Err(EIO), 0x13));
    assert_eq!(export(&p).0, pdh);
}
