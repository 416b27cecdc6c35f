//! Migration between two model platforms (SEND_* → RECEIVE_*), the SEV / DOMAIN / NOSEND
//! policy checks of SEND_START, and the attestation report, through the kernel structs.

#[path = "model_common/mod.rs"]
mod common;

use common::*;
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use sev::certs::{SevCert, Usage};
use sev::model::{ModelConfig, ModelPlatform};
use sev::transport::{PlatformTransport, VmTransport};
use sev::uapi::*;
use sha2::{Digest, Sha256};
use std::sync::Arc;

const SEV_BIT: u32 = 1 << 5;
const DOMAIN_BIT: u32 = 1 << 4;
const NOSEND: u32 = 1 << 3;

/// The target's certificates as the source host gets them: PDH, PEK ‖ OCA ‖ KDS-signed CEK,
/// ASK ‖ ARK.
fn target_certs(t: &ModelPlatform) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (pdh, mut chain) = export(t);
    chain[0x1048..].copy_from_slice(&t.cek_signed());
    (pdh, chain, t.amd_ask_ark())
}

fn send_start(
    p: &ModelPlatform,
    vm: &dyn VmTransport,
    certs: &(Vec<u8>, Vec<u8>, Vec<u8>),
) -> (Result<(), i32>, u32, Vec<u8>, u32) {
    let mut session = vec![0u8; 128];
    let mut s = kvm_sev_send_start {
        pdh_cert_uaddr: certs.0.as_ptr() as u64,
        pdh_cert_len: certs.0.len() as u32,
        plat_certs_uaddr: certs.1.as_ptr() as u64,
        plat_certs_len: certs.1.len() as u32,
        amd_certs_uaddr: certs.2.as_ptr() as u64,
        amd_certs_len: certs.2.len() as u32,
        session_uaddr: session.as_mut_ptr() as u64,
        session_len: 128,
        ..Default::default()
    };
    let (r, e) = op(vm, kvm_cmd::SEND_START, &mut s, p.sev_fd());
    (r, e, session, s.policy)
}

/// SEND_UPDATE_DATA of one range: (header, transport data).
fn send_page(p: &ModelPlatform, vm: &dyn VmTransport, guest: u64, len: u32) -> (Vec<u8>, Vec<u8>) {
    let mut hdr = vec![0u8; 52];
    let mut trans = vec![0u8; len as usize];
    let mut s = kvm_sev_send_update_data {
        hdr_uaddr: hdr.as_mut_ptr() as u64,
        hdr_len: 52,
        guest_uaddr: guest,
        guest_len: len,
        trans_uaddr: trans.as_mut_ptr() as u64,
        trans_len: len,
        ..Default::default()
    };
    assert_eq!(
        op(vm, kvm_cmd::SEND_UPDATE_DATA, &mut s, p.sev_fd()),
        (Ok(()), 0)
    );
    (hdr, trans)
}

fn receive_page(
    p: &ModelPlatform,
    vm: &dyn VmTransport,
    hdr: &[u8],
    trans: &[u8],
    guest: u64,
) -> (Result<(), i32>, u32) {
    let mut r = kvm_sev_receive_update_data {
        hdr_uaddr: hdr.as_ptr() as u64,
        hdr_len: hdr.len() as u32,
        guest_uaddr: guest,
        guest_len: trans.len() as u32,
        trans_uaddr: trans.as_ptr() as u64,
        trans_len: trans.len() as u32,
        ..Default::default()
    };
    op(vm, kvm_cmd::RECEIVE_UPDATE_DATA, &mut r, p.sev_fd())
}

fn receive_start(
    p: &ModelPlatform,
    vm: &dyn VmTransport,
    policy: u32,
    src_pdh: &[u8],
    session: &[u8],
) -> (Result<(), i32>, u32, u32) {
    let mut r = kvm_sev_receive_start {
        policy,
        pdh_uaddr: src_pdh.as_ptr() as u64,
        pdh_len: src_pdh.len() as u32,
        session_uaddr: session.as_ptr() as u64,
        session_len: session.len() as u32,
        ..Default::default()
    };
    let (res, e) = op(vm, kvm_cmd::RECEIVE_START, &mut r, p.sev_fd());
    (res, e, r.handle)
}

/// A running guest on `p` over `mem`, launched without a session.
fn running_guest(p: &Arc<ModelPlatform>, policy: u32, mem: &mut Mem) -> Box<dyn VmTransport> {
    let vm = vm(p);
    let (r, e, _) = launch_start(p, &*vm, policy, None);
    assert_eq!((r, e), (Ok(()), 0));
    let n = mem.bytes().len() as u32;
    assert_eq!(update(p, &*vm, mem.addr(), n), (Ok(()), 0));
    assert_eq!(measure(p, &*vm).1, 0);
    assert_eq!(finish(p, &*vm), (Ok(()), 0));
    vm
}

#[test]
fn migrate_a_guest_with_the_sev_policy() {
    let (s, t) = (platform(41), platform(42));
    let mut src_mem = Mem::new(4 * 4096);
    for (i, b) in src_mem.bytes().iter_mut().enumerate() {
        *b = (i / 7) as u8;
    }
    let plain = src_mem.bytes().to_vec();
    let policy = SEV_BIT;
    let svm = running_guest(&s, policy, &mut src_mem);

    // SEND_START: the session-length query, then the real thing.
    let mut q = kvm_sev_send_start::default();
    assert_eq!(
        op(&*svm, kvm_cmd::SEND_START, &mut q, s.sev_fd()),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!(q.session_len, 128);
    let certs = target_certs(&t);
    let (r, e, session, pol) = send_start(&s, &*svm, &certs);
    assert_eq!((r, e, pol), (Ok(()), 0, policy));

    // RECEIVE_START on the target with the source's PDH.
    let tvm = vm(&t);
    let (src_pdh, _) = export(&s);
    let (r, e, th) = receive_start(&t, &*tvm, policy, &src_pdh, &session);
    assert_eq!((r, e), (Ok(()), 0));
    assert_ne!(th, 0);

    // SEND_UPDATE_DATA length query: HDR_LEN only.
    let mut q = kvm_sev_send_update_data::default();
    assert_eq!(
        op(&*svm, kvm_cmd::SEND_UPDATE_DATA, &mut q, s.sev_fd()),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!((q.hdr_len, q.trans_len), (52, 0));
    // KVM's one-page rule.
    let mut q = kvm_sev_send_update_data {
        hdr_uaddr: 1,
        hdr_len: 52,
        guest_uaddr: src_mem.addr() + 16,
        guest_len: 4096,
        trans_uaddr: 1,
        trans_len: 4096,
        ..Default::default()
    };
    assert_eq!(
        op(&*svm, kvm_cmd::SEND_UPDATE_DATA, &mut q, s.sev_fd()),
        (Err(libc::EINVAL), 0)
    );

    let mut dst_mem = Mem::new(4 * 4096);
    for page in 0..4u64 {
        let (hdr, trans) = send_page(&s, &*svm, src_mem.addr() + page * 4096, 4096);
        assert_ne!(
            trans[..],
            plain[page as usize * 4096..][..4096],
            "sent encrypted"
        );
        if page == 1 {
            // A tampered packet is refused and writes nothing.
            let before = dst_mem.bytes().to_vec();
            let mut bad = trans.clone();
            bad[100] ^= 1;
            let at = dst_mem.addr() + 4096;
            assert_eq!(
                receive_page(&t, &*tvm, &hdr, &bad, at),
                (Err(EIO), st::BAD_MEASUREMENT)
            );
            let mut badh = hdr.clone();
            badh[10] ^= 1;
            assert_eq!(
                receive_page(&t, &*tvm, &badh, &trans, at),
                (Err(EIO), st::BAD_MEASUREMENT)
            );
            assert_eq!(dst_mem.bytes()[..], before[..]);
        }
        assert_eq!(
            receive_page(&t, &*tvm, &hdr, &trans, dst_mem.addr() + page * 4096),
            (Ok(()), 0)
        );
    }
    assert_eq!(
        op_raw(&*svm, kvm_cmd::SEND_FINISH, 0, s.sev_fd()),
        (Ok(()), 0)
    );
    assert_eq!(
        op_raw(&*tvm, kvm_cmd::RECEIVE_FINISH, 0, t.sev_fd()),
        (Ok(()), 0)
    );
    assert_eq!(status(&s, &*svm).2.state, 6, "source SENT");
    assert_eq!(status(&t, &*tvm).2.state, 3, "target RUNNING");

    // The target holds the guest under its own key and address.
    assert_ne!(dst_mem.bytes()[..], src_mem.bytes()[..]);
    let mut back = vec![0u8; plain.len()];
    assert_eq!(
        dbg(
            &t,
            &*tvm,
            true,
            dst_mem.addr(),
            back.as_mut_ptr() as u64,
            back.len() as u32
        ),
        (Ok(()), 0)
    );
    assert_eq!(back, plain);
}

#[test]
fn send_start_policy_checks() {
    let (s, t) = (platform(43), platform(44));
    let mut mem = Mem::new(4096);
    let certs = target_certs(&t);

    // NOSEND.
    let vm = running_guest(&s, NOSEND, &mut mem);
    assert_eq!(send_start(&s, &*vm, &certs).1, st::POLICY_FAILURE);
    drop(vm);

    // SEV: the chain must end at this firmware's ARK, and every link must verify.
    let vm = running_guest(&s, SEV_BIT, &mut mem);
    let rome = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/testdata/sev/rome/chain.bin"
    ))
    .unwrap();
    let mut other_root = certs.clone();
    other_root.2 = rome[4 * 0x824..].to_vec();
    assert_eq!(send_start(&s, &*vm, &other_root).1, st::INVALID_CERTIFICATE);
    let mut unsigned_cek = certs.clone();
    unsigned_cek.1 = export(&t).1;
    assert_eq!(
        send_start(&s, &*vm, &unsigned_cek).1,
        st::INVALID_CERTIFICATE
    );
    let mut bad_pdh = certs.clone();
    bad_pdh.0[5] ^= 1;
    assert_eq!(send_start(&s, &*vm, &bad_pdh).1, st::BAD_SIGNATURE);
    let mut short_amd = certs.clone();
    short_amd.2.truncate(3000);
    assert_eq!(send_start(&s, &*vm, &short_amd).1, st::INVALID_LENGTH);
    // A failed SEND_START leaves the guest RUNNING; SEND_CANCEL brings SUPDATE back.
    let (r, e, _, _) = send_start(&s, &*vm, &certs);
    assert_eq!((r, e), (Ok(()), 0));
    assert_eq!(status(&s, &*vm).2.state, 4);
    assert_eq!(
        op_raw(&*vm, kvm_cmd::SEND_CANCEL, 0, s.sev_fd()),
        (Ok(()), 0)
    );
    assert_eq!(status(&s, &*vm).2.state, 3);
    drop(vm);

    // SEV: the receiver's firmware must be at least the policy's API version.
    let old = sev::model::open(ModelConfig {
        seed: Some([45; 32]),
        api_minor: 40,
        ..ModelConfig::default()
    })
    .unwrap();
    let min = (55u32 << 24) | (1 << 16);
    let vm = running_guest(&s, SEV_BIT | min, &mut mem);
    assert_eq!(
        send_start(&s, &*vm, &target_certs(&old)).1,
        st::POLICY_FAILURE
    );
    assert_eq!(send_start(&s, &*vm, &certs).1, 0);
    drop(vm);

    // DOMAIN: another owner's platform is refused; this platform's own domain is accepted.
    let vm = running_guest(&s, DOMAIN_BIT, &mut mem);
    assert_eq!(send_start(&s, &*vm, &certs).1, st::POLICY_FAILURE);
    let (spdh, schain) = export(&s);
    assert_eq!(send_start(&s, &*vm, &(spdh, schain, vec![1u8; 16])).1, 0);
}

#[test]
fn attestation_report_is_signed_by_the_pek() {
    let p = platform(46);
    let vm = vm(&p);
    let mut mem = Mem::new(8192);
    mem.bytes().fill(0x61);
    let plain = mem.bytes().to_vec();
    let policy = 0x0001_0000; // API 1.0 minimum
    let (_s, _m) = {
        let (pdh, _) = export(&p);
        let s = owner_session(&pdh, policy);
        let (r, e, _) = launch_start(&p, &*vm, policy, Some(&s));
        assert_eq!((r, e), (Ok(()), 0));
        assert_eq!(update(&p, &*vm, mem.addr(), 8192), (Ok(()), 0));
        let (r, e, m) = measure(&p, &*vm);
        assert_eq!((r, e), (Ok(()), 0));
        (s, m)
    };
    let mnonce: [u8; 16] = rand16();
    let mut rep = [0xFFu8; 256];
    let mut a = kvm_sev_attestation_report {
        mnonce,
        uaddr: rep.as_mut_ptr() as u64,
        len: 256,
        ..Default::default()
    };
    assert_eq!(
        op(&*vm, kvm_cmd::GET_ATTESTATION_REPORT, &mut a, p.sev_fd()),
        (Ok(()), 0)
    );
    assert_eq!(a.len, 208);
    assert!(
        rep[208..].iter().all(|b| *b == 0),
        "KVM copies the whole (zeroed) buffer"
    );
    assert_eq!(rep[..16], mnonce);
    assert_eq!(rep[16..48], Sha256::digest(&plain)[..]);
    assert_eq!(rep[48..52], policy.to_le_bytes());
    assert_eq!(rep[52..56], 0x1002u32.to_le_bytes());
    assert_eq!(rep[56..60], 2u32.to_le_bytes());
    // ECDSA P-384 over SHA-256 of bytes 0..0x34, r and s little-endian, by the PEK.
    let (_, chain) = export(&p);
    let pek = SevCert::from_bytes(&chain[..0x824]).unwrap();
    let vk = p384::ecdsa::VerifyingKey::from(pek.check_body(Usage::PEK).unwrap());
    let be = |le: &[u8]| -> Vec<u8> { le[..48].iter().rev().copied().collect() };
    assert!(rep[0x40 + 48..0x88].iter().all(|b| *b == 0));
    let sig = p384::ecdsa::Signature::from_scalars(
        *p384::FieldBytes::from_slice(&be(&rep[0x40..0x88])),
        *p384::FieldBytes::from_slice(&be(&rep[0x88..0xD0])),
    )
    .unwrap();
    let digest = Sha256::digest(&rep[..0x34]);
    vk.verify_prehash(&digest, &sig).unwrap();
    let mut forged = rep;
    forged[20] ^= 1;
    assert!(
        vk.verify_prehash(&Sha256::digest(&forged[..0x34]), &sig)
            .is_err()
    );
    // Still available after LAUNCH_FINISH.
    assert_eq!(finish(&p, &*vm), (Ok(()), 0));
    assert_eq!(
        op(&*vm, kvm_cmd::GET_ATTESTATION_REPORT, &mut a, p.sev_fd()),
        (Ok(()), 0)
    );
}
