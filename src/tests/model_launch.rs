//! A whole SEV launch against the firmware model, through the kernel structs, with every
//! owner-side value (certificate checks, session, expected measurement, secret packet)
//! computed in the test from the formulas of sev-spec §4.

#[path = "model_common/mod.rs"]
mod common;

use common::*;
use sev::certs::{AmdCert, SevCert, Usage};
use sev::transport::PlatformTransport;

use sev::uapi::*;
use sha2::{Digest, Sha256};

const MIB: usize = 1 << 20;

#[test]
fn full_launch_with_session_measure_secret_debug_and_finish() {
    let p = platform(11);

    // The length query of PDH_CERT_EXPORT: EIO, INVALID_LENGTH, both lengths written.
    let mut q = sev_user_data_pdh_cert_export::default();
    let (r, e) = sev(&p, sev_user_cmd::PDH_CERT_EXPORT, &mut q);
    assert_eq!((r, e), (Err(EIO), st::INVALID_LENGTH));
    let (pl, cl) = (q.pdh_cert_len, q.cert_chain_len);
    assert_eq!((pl, cl), (0x824, 0x186C));
    let (pdh_b, chain) = export(&p);

    // The platform chain: PDH ← PEK ← (OCA, CEK), CEK ← ASK ← ARK, with src/certs.
    let pdh = SevCert::from_bytes(&pdh_b).unwrap();
    let pek = SevCert::from_bytes(&chain[..0x824]).unwrap();
    let oca = SevCert::from_bytes(&chain[0x824..0x1048]).unwrap();
    let cek = SevCert::from_bytes(&chain[0x1048..]).unwrap();
    assert!(
        cek.slot_is_empty(0) && cek.slot_is_empty(1),
        "the FW's CEK is unsigned"
    );
    let oca_pk = oca.check_body(Usage::OCA).unwrap();
    let pek_pk = pek.check_body(Usage::PEK).unwrap();
    let cek_pk = cek.check_body(Usage::CEK).unwrap();
    pdh.check_body(Usage::PDH).unwrap();
    oca.verify_ecdsa(Usage::OCA, &oca_pk).unwrap();
    pek.verify_ecdsa(Usage::OCA, &oca_pk).unwrap();
    pek.verify_ecdsa(Usage::CEK, &cek_pk).unwrap();
    pdh.verify_ecdsa(Usage::PEK, &pek_pk).unwrap();
    let kds_cek = SevCert::from_bytes(&p.cek_signed()).unwrap();
    assert_eq!(kds_cek.body(), cek.body());
    let (ask, ark) = AmdCert::parse_ask_ark(&p.amd_ask_ark()).unwrap();
    ark.verify_signed_by(&ark).unwrap();
    ask.verify_signed_by(&ark).unwrap();
    kds_cek.verify_by_ask(&ask).unwrap();
    assert_eq!(kds_cek.sig_slot(0), (Usage::ASK, 0x101));

    // GET_ID2 names this chip (query first).
    let mut id = [0u8; 64];
    let mut g = sev_user_data_get_id2::default();
    assert_eq!(
        sev(&p, sev_user_cmd::GET_ID2, &mut g),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!({ g.length }, 64);
    g.address = id.as_mut_ptr() as u64;
    assert_eq!(sev(&p, sev_user_cmd::GET_ID2, &mut g), (Ok(()), 0));
    assert_eq!(id, p.chip_id());
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&id);
    assert!(
        k256::PublicKey::from_sec1_bytes(&sec1).is_ok(),
        "a secp256k1 point"
    );

    // The owner's session, then the launch.
    let policy = 0u32;
    let s = owner_session(&pdh_b, policy);
    let vm = vm(&p);
    let (r, e, handle) = launch_start(&p, &*vm, policy, Some(&s));
    assert_eq!((r, e), (Ok(()), 0));
    assert_ne!(handle, 0);

    // 16 MiB image, encrypted in place.
    let mut mem = Mem::new(16 * MIB);
    for (i, b) in mem.bytes().iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2654435761).to_le_bytes()[1];
    }
    let plain = mem.bytes().to_vec();
    let region = kvm_enc_region {
        addr: mem.addr(),
        size: plain.len() as u64,
    };
    // SAFETY: `mem` stays mapped until the region is unregistered below.
    unsafe { vm.register_region(&region) }.unwrap();
    assert_eq!(
        update(&p, &*vm, mem.addr(), plain.len() as u32),
        (Ok(()), 0)
    );
    let cipher = mem.bytes().to_vec();
    assert_ne!(cipher[..4096], plain[..4096]);
    let same = cipher
        .chunks(16)
        .zip(plain.chunks(16))
        .filter(|(a, b)| a == b)
        .count();
    assert!(same < 4, "{same} granules stayed plaintext");

    // LAUNCH_MEASURE: the query, then the value, checked against the formula.
    let mut mq = kvm_sev_launch_measure::default();
    let (r, e) = op(&*vm, kvm_cmd::LAUNCH_MEASURE, &mut mq, p.sev_fd());
    assert_eq!((r, e, mq.len), (Err(EIO), st::INVALID_LENGTH, 48));
    let (r, e, m) = measure(&p, &*vm);
    assert_eq!((r, e), (Ok(()), 0));
    let ld: [u8; 32] = Sha256::digest(&plain).into();
    let want = expected_measure(&s.tik, api(&p), policy, &ld, &m[32..]);
    assert_eq!(
        m[..32],
        want,
        "LAUNCH_MEASURE differs from the independent computation"
    );

    // LAUNCH_SECRET into the image, then read back with DBG_DECRYPT.
    let payload: Vec<u8> = (0..64u8).map(|i| i ^ 0x5A).collect();
    let (hdr, ct) = secret_packet(&s, &m[..32], &payload);
    let at = mem.addr() + 0x3000;
    assert_eq!(secret(&p, &*vm, &hdr, &ct, at), (Ok(()), 0));
    let in_mem = mem.bytes()[0x3000..0x3040].to_vec();
    assert_ne!(in_mem, payload, "the secret is stored encrypted");
    let mut out = [0u8; 64];
    assert_eq!(
        dbg(&p, &*vm, true, at, out.as_mut_ptr() as u64, 64),
        (Ok(()), 0)
    );
    assert_eq!(out[..], payload[..]);
    // The rest of the image decrypts to the original plaintext (unaligned ask, too).
    let mut back = vec![0u8; 8192 + 5];
    assert_eq!(
        dbg(
            &p,
            &*vm,
            true,
            mem.addr() + 0x10003,
            back.as_mut_ptr() as u64,
            back.len() as u32
        ),
        (Ok(()), 0)
    );
    assert_eq!(back[..], plain[0x10003..0x10003 + 8192 + 5]);

    // LAUNCH_FINISH → RUNNING.
    assert_eq!(finish(&p, &*vm), (Ok(()), 0));
    let (r, e, gs) = status(&p, &*vm);
    assert_eq!((r, e), (Ok(()), 0));
    assert_eq!((gs.handle, gs.policy, gs.state), (handle, policy, 3));
    vm.unregister_region(&region).unwrap();
}

#[test]
fn launch_without_session_uses_zero_keys_and_nodbg_refuses_debug() {
    let p = platform(12);
    let vm = vm(&p);
    let policy = 0x1; // NODBG
    let (r, e, _) = launch_start(&p, &*vm, policy, None);
    assert_eq!((r, e), (Ok(()), 0));
    let mut mem = Mem::new(64 * 1024);
    mem.bytes().fill(0xAB);
    let plain = mem.bytes().to_vec();
    assert_eq!(
        update(&p, &*vm, mem.addr(), plain.len() as u32),
        (Ok(()), 0)
    );
    let (r, e, m) = measure(&p, &*vm);
    assert_eq!((r, e), (Ok(()), 0));
    // No session: TIK is all-zero (sev-spec §8 item 4).
    let ld: [u8; 32] = Sha256::digest(&plain).into();
    let want = expected_measure(&[0; 16], api(&p), policy, &ld, &m[32..]);
    assert_eq!(m[..32], want);
    let mut out = [0u8; 32];
    for dec in [true, false] {
        assert_eq!(
            dbg(&p, &*vm, dec, mem.addr(), out.as_mut_ptr() as u64, 32),
            (Err(EIO), st::POLICY_FAILURE)
        );
    }
    assert_eq!(out, [0; 32]);
}

#[test]
fn debug_encrypt_round_trips_aligned_and_unaligned() {
    let p = platform(13);
    let vm = vm(&p);
    let (r, e, _) = launch_start(&p, &*vm, 0, None);
    assert_eq!((r, e), (Ok(()), 0));
    let mut mem = Mem::new(3 * 4096);
    assert_eq!(update(&p, &*vm, mem.addr(), 3 * 4096), (Ok(()), 0));
    // Aligned: write 4 KiB of plaintext across a page boundary, read it back.
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    let at = mem.addr() + 0x800;
    assert_eq!(
        dbg(&p, &*vm, false, data.as_ptr() as u64, at, 4096),
        (Ok(()), 0)
    );
    assert_ne!(mem.bytes()[0x800..0x1800], data[..]);
    let mut back = vec![0u8; 4096];
    assert_eq!(
        dbg(&p, &*vm, true, at, back.as_mut_ptr() as u64, 4096),
        (Ok(()), 0)
    );
    assert_eq!(back, data);
    // Unaligned destination and length inside one granule span: read-modify-write keeps
    // the neighbours.
    let patch = b"hello";
    let at2 = mem.addr() + 0x2003;
    assert_eq!(
        dbg(
            &p,
            &*vm,
            false,
            patch.as_ptr() as u64,
            at2,
            patch.len() as u32
        ),
        (Ok(()), 0)
    );
    let mut around = [0u8; 32];
    assert_eq!(
        dbg(
            &p,
            &*vm,
            true,
            mem.addr() + 0x2000,
            around.as_mut_ptr() as u64,
            32
        ),
        (Ok(()), 0)
    );
    assert_eq!(&around[3..8], patch);
    assert_eq!(around[..3], [0, 0, 0]);
    assert!(around[8..].iter().all(|b| *b == 0));
    // KVM's read-modify-write re-encrypts round_up(size, 16) bytes from the rounded-down
    // destination, so 16 bytes at offset 8 only get their first 8 bytes written — the model
    // reproduces what KVM does.
    let sixteen = [0xA5u8; 16];
    let at3 = mem.addr() + 0x2108;
    assert_eq!(
        dbg(&p, &*vm, false, sixteen.as_ptr() as u64, at3, 16),
        (Ok(()), 0)
    );
    let mut got = [0u8; 32];
    assert_eq!(
        dbg(
            &p,
            &*vm,
            true,
            mem.addr() + 0x2100,
            got.as_mut_ptr() as u64,
            32
        ),
        (Ok(()), 0)
    );
    assert_eq!(got[8..16], [0xA5; 8]);
    assert_eq!(got[16..24], [0; 8]);
}

#[test]
fn eight_threads_launch_their_own_guests_in_parallel() {
    let p = platform(14);
    std::thread::scope(|sc| {
        for t in 0..8u8 {
            let p = p.clone();
            sc.spawn(move || {
                let vm = vm(&p);
                let mut mem = Mem::new(MIB);
                mem.bytes().fill(t);
                let plain = mem.bytes().to_vec();
                let (s, m) = launch_to_lsecret(&p, &*vm, 0, &mut mem);
                let ld: [u8; 32] = Sha256::digest(&plain).into();
                let want = expected_measure(&s.tik, api(&p), 0, &ld, &m[32..]);
                assert_eq!(m[..32], want, "thread {t}");
                assert_eq!(finish(&p, &*vm), (Ok(()), 0));
                assert_eq!(status(&p, &*vm).2.state, 3);
            });
        }
    });
    // Every VM was dropped: its guest decommissioned, the platform back in INIT.
    let mut ps = sev_user_data_status::default();
    assert_eq!(sev(&p, sev_user_cmd::PLATFORM_STATUS, &mut ps), (Ok(()), 0));
    assert_eq!((ps.state, { ps.guest_count }), (1, 0));
}
