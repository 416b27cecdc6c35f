//! Every refusal of the model's guest commands: KVM's errnos (before the firmware runs,
//! `error` untouched) and the firmware's statuses in the firmware's check order, with
//! "nothing written on failure" checked where the command writes.

#[path = "model_common/mod.rs"]
mod common;

use common::*;
use sev::model::ModelConfig;
use sev::transport::PlatformTransport;
use sev::uapi::*;

const ENOTTY: i32 = libc::ENOTTY;
const EINVAL: i32 = libc::EINVAL;

#[test]
fn kvm_refuses_before_init_twice_and_unknown_ids() {
    let p = platform(31);
    let vm = p.clone().create_vm().unwrap();
    let fd = p.sev_fd();
    let mut dummy = [0u8; 128];
    let d = dummy.as_mut_ptr() as u64;
    for id in [
        kvm_cmd::LAUNCH_START,
        kvm_cmd::LAUNCH_UPDATE_DATA,
        kvm_cmd::LAUNCH_MEASURE,
        kvm_cmd::LAUNCH_SECRET,
        kvm_cmd::LAUNCH_FINISH,
        kvm_cmd::GUEST_STATUS,
        kvm_cmd::DBG_DECRYPT,
        kvm_cmd::GET_ATTESTATION_REPORT,
        kvm_cmd::SEND_START,
        kvm_cmd::RECEIVE_START,
        kvm_cmd::RECEIVE_FINISH,
        kvm_cmd::LAUNCH_UPDATE_VMSA,
    ] {
        assert_eq!(op_raw(&*vm, id, d, fd), (Err(ENOTTY), 0), "id {id}");
    }
    // RECEIVE_UPDATE_DATA on a non-SEV VM is EINVAL (KVM's own quirk).
    assert_eq!(
        op_raw(&*vm, kvm_cmd::RECEIVE_UPDATE_DATA, d, fd),
        (Err(EINVAL), 0)
    );
    let r = kvm_enc_region { addr: d, size: 128 };
    // SAFETY: `dummy` outlives the call; the region is not kept (the call fails).
    assert_eq!(unsafe { vm.register_region(&r) }, Err(ENOTTY));
    for id in [10, 14, 19, 23, 99] {
        assert_eq!(op_raw(&*vm, id, d, fd), (Err(EINVAL), 0), "id {id}");
    }
    assert_eq!(op_raw(&*vm, 100, d, fd), (Err(ENOTTY), 0));

    // INIT, then INIT again (any flavour): EINVAL.
    assert_eq!(op_raw(&*vm, kvm_cmd::INIT, 0, -1), (Ok(()), 0));
    assert_eq!(op_raw(&*vm, kvm_cmd::INIT, 0, -1), (Err(EINVAL), 0));
    let mut i2 = kvm_sev_init::default();
    assert_eq!(op(&*vm, kvm_cmd::INIT2, &mut i2, -1), (Err(EINVAL), 0));
    // Typed VMs: INIT2 needs an SEV type and valid fields; legacy INIT refuses SEV types.
    let t2 = sev::model::ModelPlatform::create_vm_of_type(&p, 2).unwrap();
    assert_eq!(op_raw(&t2, kvm_cmd::INIT, 0, -1), (Err(EINVAL), 0));
    let mut bad = kvm_sev_init {
        flags: 1,
        ..Default::default()
    };
    assert_eq!(op(&t2, kvm_cmd::INIT2, &mut bad, -1), (Err(EINVAL), 0));
    let mut bad = kvm_sev_init {
        ghcb_version: 1,
        ..Default::default()
    };
    assert_eq!(op(&t2, kvm_cmd::INIT2, &mut bad, -1), (Err(EINVAL), 0));
    assert_eq!(op(&t2, kvm_cmd::INIT2, &mut i2, -1), (Ok(()), 0));
    let t0 = sev::model::ModelPlatform::create_vm_of_type(&p, 0).unwrap();
    assert_eq!(op(&t0, kvm_cmd::INIT2, &mut i2, -1), (Err(EINVAL), 0));
    assert!(sev::model::ModelPlatform::create_vm_of_type(&p, 5).is_err());

    // After INIT but before LAUNCH_START no /dev/sev fd is stored: EBADF.
    let mut mem = Mem::new(4096);
    assert_eq!(update(&p, &*vm, mem.addr(), 4096), (Err(libc::EBADF), 0));
    // LAUNCH_START through a wrong sev_fd: EBADF.
    let mut ls = kvm_sev_launch_start::default();
    assert_eq!(
        op(&*vm, kvm_cmd::LAUNCH_START, &mut ls, fd + 1000),
        (Err(libc::EBADF), 0)
    );
    // A bad struct pointer: EFAULT.
    assert_eq!(
        op_raw(&*vm, kvm_cmd::LAUNCH_START, 8, fd),
        (Err(libc::EFAULT), 0)
    );
    let _ = mem.bytes();
}

#[test]
fn launch_start_session_checks_in_firmware_order() {
    let p = platform(32);
    let (pdh, _) = export(&p);
    let fd = p.sev_fd();
    let vm = vm(&p);
    let ok = owner_session(&pdh, 0);

    let start_h = |handle: u32, cert: &[u8], blob: &[u8], policy: u32| {
        let mut ls = kvm_sev_launch_start {
            handle,
            policy,
            dh_uaddr: cert.as_ptr() as u64,
            dh_len: cert.len() as u32,
            session_uaddr: blob.as_ptr() as u64,
            session_len: blob.len() as u32,
            ..Default::default()
        };
        let (r, e) = op(&*vm, kvm_cmd::LAUNCH_START, &mut ls, fd);
        if r.is_err() {
            assert_eq!(ls.handle, handle, "a failed LAUNCH_START returns no handle");
        } else {
            assert_ne!(ls.handle, 0);
        }
        (r, e)
    };
    let start = |cert: &[u8], blob: &[u8], policy: u32| start_h(0, cert, blob, policy);
    // KVM: blobs above 16 KiB never reach the firmware.
    let big = vec![0u8; 0x4001];
    assert_eq!(start(&big, &ok.blob, 0), (Err(EINVAL), 0));
    // A DH certificate without a session, or with a short one: INVALID_LENGTH.
    let mut ls = kvm_sev_launch_start {
        dh_uaddr: ok.godh_cert.as_ptr() as u64,
        dh_len: 0x824,
        ..Default::default()
    };
    assert_eq!(
        op(&*vm, kvm_cmd::LAUNCH_START, &mut ls, fd),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!(
        start(&ok.godh_cert, &ok.blob[..127], 0),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!(
        start(&ok.godh_cert[..0x823], &ok.blob, 0),
        (Err(EIO), st::INVALID_LENGTH)
    );
    // GODH sanity: wrong usage, wrong algorithm, point off the curve.
    for (off, v) in [(0x08usize, 0x02u8), (0x0C, 0x02), (0x14, 0x01)] {
        let mut c = ok.godh_cert.clone();
        c[off] ^= v;
        assert_eq!(
            start(&c, &ok.blob, 0),
            (Err(EIO), st::INVALID_CERTIFICATE),
            "offset {off:#x}"
        );
    }
    // NONCE, wrapped keys, WRAP_IV, WRAP_MAC, POLICY_MAC and the policy are all bound.
    for off in [0x00usize, 0x10, 0x2F, 0x30, 0x40, 0x5F, 0x60, 0x7F] {
        let mut b = ok.blob.clone();
        b[off] ^= 0x01;
        assert_eq!(
            start(&ok.godh_cert, &b, 0),
            (Err(EIO), st::BAD_MEASUREMENT),
            "offset {off:#x}"
        );
    }
    assert_eq!(
        start(&ok.godh_cert, &ok.blob, 1),
        (Err(EIO), st::BAD_MEASUREMENT)
    );
    // With valid MACs: a policy asking for a newer API, or with reserved bits: POLICY_FAILURE.
    let c = p.config();
    let newer = ((c.api_minor as u32 + 1) << 24) | ((c.api_major as u32) << 16);
    let s = owner_session(&pdh, newer);
    assert_eq!(
        start(&s.godh_cert, &s.blob, newer),
        (Err(EIO), st::POLICY_FAILURE)
    );
    let s = owner_session(&pdh, 1 << 6);
    assert_eq!(
        start(&s.godh_cert, &s.blob, 1 << 6),
        (Err(EIO), st::POLICY_FAILURE)
    );
    // Without a session the policy is not checked at all (sev-spec §8 item 4).
    let vm2 = sev::transport::PlatformTransport::create_vm(p.clone()).unwrap();
    assert_eq!(op_raw(&*vm2, kvm_cmd::INIT, 0, -1), (Ok(()), 0));
    let (r, e, h) = launch_start(&p, &*vm2, (1 << 6) | newer, None);
    assert_eq!((r, e), (Ok(()), 0));
    assert_ne!(h, 0);
    // Key sharing is checked after the session: an unknown handle is INVALID_GUEST.
    assert_eq!(
        start_h(0xDEAD, &ok.godh_cert, &ok.blob, 0),
        (Err(EIO), st::INVALID_GUEST)
    );
    // And the good session works.
    assert_eq!(start(&ok.godh_cert, &ok.blob, 0), (Ok(()), 0));
}

#[test]
fn key_sharing_rules() {
    let p = platform(33);
    let a = vm(&p);
    let (r, e, ha) = launch_start(&p, &*a, 0, None);
    assert_eq!((r, e), (Ok(()), 0));
    let share = |handle: u32, policy: u32| {
        let v = vm(&p);
        let mut ls = kvm_sev_launch_start {
            handle,
            policy,
            ..Default::default()
        };
        let (r, e) = op(&*v, kvm_cmd::LAUNCH_START, &mut ls, p.sev_fd());
        (r, e, v)
    };
    assert_eq!(share(ha + 100, 0).1, st::INVALID_GUEST);
    assert_eq!(share(ha, 1).1, st::POLICY_FAILURE, "policies differ");
    let (r, e, b) = share(ha, 0);
    assert_eq!((r, e), (Ok(()), 0));
    // Shared key: memory encrypted by A at an address decrypts under B.
    let mut mem = Mem::new(4096);
    mem.bytes().fill(0x3C);
    assert_eq!(update(&p, &*a, mem.addr(), 4096), (Ok(()), 0));
    let mut out = [0u8; 32];
    assert_eq!(
        dbg(&p, &*b, true, mem.addr(), out.as_mut_ptr() as u64, 32),
        (Ok(()), 0)
    );
    assert_eq!(out, [0x3C; 32]);
    // NOKS forbids sharing.
    let c = vm(&p);
    let (r, e, hc) = launch_start(&p, &*c, 2, None);
    assert_eq!((r, e), (Ok(()), 0));
    assert_eq!(share(hc, 2).1, st::POLICY_FAILURE);
}

#[test]
fn wrong_guest_state_for_each_command() {
    let p = platform(34);
    let vm = vm(&p);
    let mut mem = Mem::new(8192);
    let (s, m) = launch_to_lsecret(&p, &*vm, 0, &mut mem);
    let fd = p.sev_fd();
    // LSECRET: no more LAUNCH_UPDATE_DATA or LAUNCH_MEASURE, no SEND_START, no
    // RECEIVE_FINISH / SEND_FINISH / SEND_CANCEL.
    assert_eq!(
        update(&p, &*vm, mem.addr(), 16),
        (Err(EIO), st::INVALID_GUEST_STATE)
    );
    assert_eq!(measure(&p, &*vm).1, st::INVALID_GUEST_STATE);
    let mut q = kvm_sev_send_start::default();
    // The session length is checked before the state (query → INVALID_LENGTH)...
    assert_eq!(
        op(&*vm, kvm_cmd::SEND_START, &mut q, fd),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!(q.session_len, 128);
    for id in [
        kvm_cmd::RECEIVE_FINISH,
        kvm_cmd::SEND_FINISH,
        kvm_cmd::SEND_CANCEL,
    ] {
        assert_eq!(
            op_raw(&*vm, id, 0, fd),
            (Err(EIO), st::INVALID_GUEST_STATE),
            "id {id}"
        );
    }
    // ... LAUNCH_FINISH, then no more LAUNCH_SECRET or LAUNCH_FINISH.
    assert_eq!(finish(&p, &*vm), (Ok(()), 0));
    let (hdr, ct) = secret_packet(&s, &m[..32], &[7u8; 32]);
    assert_eq!(
        secret(&p, &*vm, &hdr, &ct, mem.addr()),
        (Err(EIO), st::INVALID_GUEST_STATE)
    );
    assert_eq!(finish(&p, &*vm), (Err(EIO), st::INVALID_GUEST_STATE));
    assert_eq!(
        update(&p, &*vm, mem.addr(), 16),
        (Err(EIO), st::INVALID_GUEST_STATE)
    );

    // LUPDATE: no secret, no finish, no attestation.
    let v2 = common::vm(&p);
    let (r, e, _) = launch_start(&p, &*v2, 0, None);
    assert_eq!((r, e), (Ok(()), 0));
    assert_eq!(
        secret(&p, &*v2, &hdr, &ct, mem.addr()),
        (Err(EIO), st::INVALID_GUEST_STATE)
    );
    assert_eq!(finish(&p, &*v2), (Err(EIO), st::INVALID_GUEST_STATE));
    let mut rep = [0u8; 208];
    let mut a = kvm_sev_attestation_report {
        uaddr: rep.as_mut_ptr() as u64,
        len: 208,
        ..Default::default()
    };
    assert_eq!(
        op(&*v2, kvm_cmd::GET_ATTESTATION_REPORT, &mut a, fd),
        (Err(EIO), st::INVALID_GUEST_STATE)
    );
    assert_eq!(rep, [0u8; 208]);
}

#[test]
fn lengths_alignment_and_bad_addresses() {
    let p = platform(35);
    let vm = vm(&p);
    let (r, e, _) = launch_start(&p, &*vm, 0, None);
    assert_eq!((r, e), (Ok(()), 0));
    let mut mem = Mem::new(8192);
    mem.bytes().fill(9);
    let a = mem.addr();
    assert_eq!(update(&p, &*vm, a + 8, 32), (Err(EIO), st::INVALID_ADDRESS));
    assert_eq!(update(&p, &*vm, a, 15), (Err(EIO), st::INVALID_LENGTH));
    assert_eq!(update(&p, &*vm, a, 0), (Err(EINVAL), 0));
    assert_eq!(
        update(&p, &*vm, 0x1000, 4096),
        (Err(libc::ENOMEM), 0),
        "unmapped"
    );
    assert!(
        mem.bytes().iter().all(|b| *b == 9),
        "nothing encrypted on failure"
    );

    // LAUNCH_MEASURE: a short buffer fails with INVALID_LENGTH and KVM writes nothing back;
    // above 16 KiB KVM refuses.
    let mut out = [0u8; 48];
    let mut m = kvm_sev_launch_measure {
        uaddr: out.as_mut_ptr() as u64,
        len: 10,
        ..Default::default()
    };
    assert_eq!(
        op(&*vm, kvm_cmd::LAUNCH_MEASURE, &mut m, p.sev_fd()),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!(m.len, 10);
    m.len = 0x4001;
    assert_eq!(
        op(&*vm, kvm_cmd::LAUNCH_MEASURE, &mut m, p.sev_fd()),
        (Err(EINVAL), 0)
    );

    // DBG: KVM's argument checks.
    assert_eq!(
        dbg(&p, &*vm, true, a, out.as_mut_ptr() as u64, 0),
        (Err(EINVAL), 0)
    );
    assert_eq!(dbg(&p, &*vm, true, a, 0, 16), (Err(EINVAL), 0));
    assert_eq!(
        dbg(&p, &*vm, true, u64::MAX - 8, out.as_mut_ptr() as u64, 16),
        (Err(EINVAL), 0)
    );

    // Regions: an unknown range cannot be unregistered.
    let r = kvm_enc_region {
        addr: a,
        size: 8192,
    };
    // SAFETY: `mem` outlives the registration.
    unsafe { vm.register_region(&r) }.unwrap();
    assert_eq!(
        vm.unregister_region(&kvm_enc_region {
            addr: a,
            size: 4096
        }),
        Err(EINVAL)
    );
    assert_eq!(vm.unregister_region(&r), Ok(()));
    assert_eq!(vm.unregister_region(&r), Err(EINVAL));
    let zero = kvm_enc_region { addr: a, size: 0 };
    // SAFETY: nothing is kept.
    assert_eq!(unsafe { vm.register_region(&zero) }, Err(EINVAL));
}

#[test]
fn launch_secret_refusals_write_nothing() {
    let p = platform(36);
    let vm = vm(&p);
    let mut mem = Mem::new(8192);
    let (s, m) = launch_to_lsecret(&p, &*vm, 0, &mut mem);
    let before = mem.bytes().to_vec();
    let at = mem.addr() + 0x100;
    let payload = [0x42u8; 64];
    let (hdr, ct) = secret_packet(&s, &m[..32], &payload);

    let mut bad_mac = hdr.clone();
    bad_mac[30] ^= 1;
    assert_eq!(
        secret(&p, &*vm, &bad_mac, &ct, at),
        (Err(EIO), st::BAD_MEASUREMENT)
    );
    let mut bad_ct = ct.clone();
    bad_ct[0] ^= 1;
    assert_eq!(
        secret(&p, &*vm, &hdr, &bad_ct, at),
        (Err(EIO), st::BAD_MEASUREMENT)
    );
    // Bound to this launch's measurement.
    let (h2, c2) = secret_packet(&s, &[0u8; 32], &payload);
    assert_eq!(
        secret(&p, &*vm, &h2, &c2, at),
        (Err(EIO), st::BAD_MEASUREMENT)
    );
    assert_eq!(
        secret(&p, &*vm, &hdr[..51], &ct, at),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!(
        secret(&p, &*vm, &hdr, &ct, at + 8),
        (Err(EIO), st::INVALID_ADDRESS)
    );
    let mut s2 = kvm_sev_launch_secret {
        hdr_uaddr: hdr.as_ptr() as u64,
        hdr_len: 52,
        guest_uaddr: at,
        guest_len: 48,
        trans_uaddr: ct.as_ptr() as u64,
        trans_len: 64,
        ..Default::default()
    };
    assert_eq!(
        op(&*vm, kvm_cmd::LAUNCH_SECRET, &mut s2, p.sev_fd()),
        (Err(EIO), st::INVALID_LENGTH)
    );
    // A COMPRESSED packet with a valid MAC: UNSUPPORTED.
    let iv = rand16();
    let n = 64u32.to_le_bytes();
    let mac = hmac_sha256(
        &s.tik,
        &[&[1], &1u32.to_le_bytes(), &iv, &n, &n, &ct, &m[..32]],
    );
    let mut comp = 1u32.to_le_bytes().to_vec();
    comp.extend_from_slice(&iv);
    comp.extend_from_slice(&mac);
    assert_eq!(
        secret(&p, &*vm, &comp, &ct, at),
        (Err(EIO), st::UNSUPPORTED)
    );
    assert_eq!(mem.bytes()[..], before[..], "no refusal wrote guest memory");
    assert_eq!(secret(&p, &*vm, &hdr, &ct, at), (Ok(()), 0));
    assert_ne!(mem.bytes()[..], before[..]);
}

#[test]
fn running_out_of_asids_is_resource_limit() {
    let p = sev::model::open(ModelConfig {
        seed: Some([37; 32]),
        asids: 2,
        ..ModelConfig::default()
    })
    .unwrap();
    let a = vm(&p);
    let b = vm(&p);
    let c = vm(&p);
    assert_eq!(launch_start(&p, &*a, 0, None).1, 0);
    assert_eq!(launch_start(&p, &*b, 0, None).1, 0);
    let (r, e, h) = launch_start(&p, &*c, 0, None);
    assert_eq!((r, e, h), (Err(EIO), st::RESOURCE_LIMIT, 0));
    // A destroyed VM frees its slot and (after a flush) its ASID.
    drop(a);
    let (r, e, h) = launch_start(&p, &*c, 0, None);
    assert_eq!((r, e), (Ok(()), 0));
    assert_ne!(h, 0);
    drop((b, c));
    for _ in 0..5 {
        let v = vm(&p);
        assert_eq!(launch_start(&p, &*v, 0, None).1, 0);
    }
}

#[test]
fn guest_status_before_launch_and_attestation_query() {
    let p = platform(38);
    let vm = vm(&p);
    // No LAUNCH_START yet: no stored /dev/sev fd.
    assert_eq!(status(&p, &*vm).0, Err(libc::EBADF));
    let mut mem = Mem::new(4096);
    let _ = launch_to_lsecret(&p, &*vm, 0, &mut mem);
    let mut a = kvm_sev_attestation_report::default();
    assert_eq!(
        op(&*vm, kvm_cmd::GET_ATTESTATION_REPORT, &mut a, p.sev_fd()),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!(a.len, 208);
    let mut buf = [0u8; 100];
    a.uaddr = buf.as_mut_ptr() as u64;
    a.len = 100;
    assert_eq!(
        op(&*vm, kvm_cmd::GET_ATTESTATION_REPORT, &mut a, p.sev_fd()),
        (Err(EIO), st::INVALID_LENGTH)
    );
    assert_eq!(
        a.len, 100,
        "KVM writes back nothing on a failed non-query call"
    );
    assert_eq!(buf, [0u8; 100]);
}

#[test]
fn a_second_launch_start_on_one_vm_finds_its_asid_owned() {
    let p = platform(39);
    let vm = vm(&p);
    let (r, e, h1) = launch_start(&p, &*vm, 0, None);
    assert_eq!((r, e), (Ok(()), 0));
    // KVM issues LAUNCH_START, then ACTIVATE with the VM's one ASID, which the first guest
    // holds: ASID_OWNED, and the new guest is decommissioned again.
    let (r, e, h2) = launch_start(&p, &*vm, 0, None);
    assert_eq!((r, e, h2), (Err(EIO), 0x0C, 0));
    let mut s = sev_user_data_status::default();
    assert_eq!(sev(&p, sev_user_cmd::PLATFORM_STATUS, &mut s), (Ok(()), 0));
    assert_eq!({ s.guest_count }, 1);
    assert_eq!(status(&p, &*vm).2.handle, h1);
}
