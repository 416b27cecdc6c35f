//! SNP launches on the firmware model through the safe API (the kernel structs underneath):
//! the launch digest over an OVMF fixture against `sev-spec` SNP §6.1 known answers, the
//! secrets page as the firmware fills it, CPUID pages that pass and fail, ID blocks, and
//! every refusal of the launch commands with the kernel's errno and the firmware's status.

use p384::ecdsa::{Signature, SigningKey, signature::Signer};
use sev::api::Platform;
use sev::api::snp::{SnpFinish, SnpGuest};
use sev::model::ModelConfig;
use sev::model::snp::{CpuidEntry, cpuid_page, host_cpuid_entries, measure};
use sev::status::Status;
use sev::uapi::snp::{id_auth, page_type, policy, secrets};
use sha2::{Digest, Sha384};

fn platform(seed: u8) -> Platform {
    Platform::emulated(ModelConfig {
        seed: Some([seed; 32]),
        ..ModelConfig::default()
    })
    .unwrap()
}

fn guest(p: &Platform) -> SnpGuest {
    let mut g = SnpGuest::new(p).unwrap();
    g.init2(0, 0).unwrap();
    g
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn testdata(name: &str) -> Option<Vec<u8>> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/snp/measurement");
    std::fs::read(dir.join(name)).ok()
}

fn ld(p: &Platform, g: &SnpGuest) -> Vec<u8> {
    p.model()
        .unwrap()
        .snp_measurement(g.model_vm().unwrap())
        .unwrap()
        .to_vec()
}

/// The kernel-hashes table of §6.4 (kernel and initrd empty, no command line).
fn hashes_page() -> Vec<u8> {
    let t = hex(concat!(
        "06d63894224fc94cb479a793d411fd21a800",
        "d82dd09720bd944caa78e7714d36ab2a3200",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "31f7ba442f3ad74b9af141e29169781d3200",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "3794e74dd2ab7f42b835d5b172d2045b3200",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "0000000000000000"
    ));
    assert_eq!(t.len(), 176);
    let mut page = vec![0u8; 4096];
    page[0xC00..0xC00 + 176].copy_from_slice(&t);
    page
}

/// `sev-spec` SNP §6.1: the OVMF-only LD and the LD after each metadata section of
/// `ovmf_AmdSev_suffix.bin`, launched through KVM's LAUNCH_UPDATE on the model.
#[test]
fn ovmf_fixture_launch_digest_known_answers() {
    let Some(mut ovmf) = testdata("ovmf_AmdSev_suffix.bin") else {
        eprintln!("skipping: ../shared/testdata/snp/measurement/ovmf_AmdSev_suffix.bin is absent");
        return;
    };
    let p = platform(1);
    let mut g = guest(&p);
    g.launch_start(policy::DEFAULT, [0; 16]).unwrap();
    let base = (1u64 << 32) - ovmf.len() as u64;
    g.launch_update(base, &mut ovmf, page_type::NORMAL).unwrap();
    assert_eq!(
        ld(&p, &g),
        hex(
            "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74"
        )
    );
    let steps: [(u64, u64, u8, &str); 7] = [
        (
            0x800000,
            0x9000,
            page_type::ZERO,
            "411a1360ae4001ab44e1c8a5f14115068566f56b565be90042aa16cc26de1492ef3025f10b7cdd14911ae69aaea7881a",
        ),
        (
            0x80A000,
            0x3000,
            page_type::ZERO,
            "e0b2ff7ad80630d6c56ba3d43c7dd1cccca220d9cc60092fe69e5f31a6ab4e9537aa477497f03636ae29b18630df8477",
        ),
        (
            0x80D000,
            0x1000,
            page_type::SECRETS,
            "230c05427474c0649ea31849fe3144dbbef0921570105732b69ff5463dee1fe8612dee2db0866719377099718ecb46d8",
        ),
        (
            0x80E000,
            0x1000,
            page_type::CPUID,
            "17af371be37e5a8f0f3d83cd4195cfb47b60caabf8c209e6c68ab44d6484381a057812c0760811d53f47b522a16e5574",
        ),
        (
            0x80F000,
            0x1000,
            page_type::ZERO,
            "1de7f0d81360fb802b5e2a7327f58ed1a2c9d1947a2e3cf0ae34184e6e1b4cb102da9ac69f421cded3105d12d523e4e9",
        ),
        (
            0x810000,
            0x1000,
            page_type::NORMAL,
            "af02d935c664de41ded8e486c6b06c3b701b33685dfc651de17397f3a6425a48a188482d8d56729663212c1efc17aa87",
        ),
        (
            0x811000,
            0xF000,
            page_type::ZERO,
            "09048f370bff1a29414c64f73db9cacdd1bc0dd523da79b048c495e713448bc72cf1c17ba0ed88c96c84237d6572c158",
        ),
    ];
    for (gpa, size, t, want) in steps {
        match t {
            page_type::ZERO => {
                g.launch_update_zero(gpa, size).unwrap();
            }
            page_type::CPUID => {
                let mut c = cpuid_page(&host_cpuid_entries()).unwrap().to_vec();
                g.launch_update(gpa, &mut c, t).unwrap();
            }
            page_type::NORMAL => {
                g.launch_update(gpa, &mut hashes_page(), t).unwrap();
            }
            _ => {
                let mut s = vec![0u8; size as usize];
                g.launch_update(gpa, &mut s, t).unwrap();
            }
        }
        assert_eq!(ld(&p, &g), hex(want), "after section at {gpa:#x}");
    }
    // §6.5 (1 vCPU, kernel = /dev/null, no append, EPYC-v4): the final digest with KVM's
    // VMSA for features 0x1 and 0x21, on two more guests launched the same way.
    for (features, want) in [
        (
            0u64,
            "ddc5224521617a536ee7ce9dd6224d1b58a8d4fda1c741f3ac99fc4bfa04ba6e9fc98646d4a07a9079397fa3852819b5",
        ),
        (
            0x20,
            "329c8ce0972ae52343b64d34a434a86f245dfd74f5ed7aae15d22efc78fb9683632b9b50e4e1d7fa41179ef98a7ef198",
        ),
    ] {
        let mut h = SnpGuest::new(&p).unwrap();
        h.init2(features, 0).unwrap();
        h.launch_start(policy::DEFAULT, [0; 16]).unwrap();
        let mut img = testdata("ovmf_AmdSev_suffix.bin").unwrap();
        h.launch_update(base, &mut img, page_type::NORMAL).unwrap();
        for (gpa, size, t, _) in steps {
            match t {
                page_type::NORMAL => h.launch_update(gpa, &mut hashes_page(), t).map(|_| ()),
                page_type::ZERO => h.launch_update_zero(gpa, size).map(|_| ()),
                _ => h
                    .launch_update(gpa, &mut vec![0u8; size as usize], t)
                    .map(|_| ()),
            }
            .unwrap();
        }
        use sev::uapi::vmsa::{KvmInit, VmmType, VmsaParams, reset_vmsa};
        let params = VmsaParams {
            init: KvmInit::Init2,
            sev_features: features | 1,
        };
        let v = reset_vmsa(VmmType::Qemu, 0x0080_0F12, 0, 0x0080_B004, &params);
        h.set_vcpu_vmsa(0, &v).unwrap();
        h.launch_finish(&SnpFinish::default()).unwrap();
        assert_eq!(ld(&p, &h), hex(want), "features {:#x}", features | 1);
    }
    // The secrets page as the firmware fills it: version 3, fresh VMPCKs, TSC factor.
    let vm = g.model_vm().unwrap();
    let s = vm.guest_read_page(0x80D000).unwrap();
    assert_eq!(u32::from_le_bytes(s[0..4].try_into().unwrap()), 3);
    let vmpck0 = &s[secrets::VMPCK0..secrets::VMPCK0 + 32];
    assert_ne!(vmpck0, &[0u8; 32][..]);
    assert_ne!(vmpck0, &s[secrets::VMPCK0 + 32..secrets::VMPCK0 + 64]);
    assert_eq!(u32::from_le_bytes(s[0x160..0x164].try_into().unwrap()), 200);
    // A VMSA per vCPU at LAUNCH_FINISH, measured at 0xFFFFFFFFF000 after everything else.
    let before: [u8; 48] = ld(&p, &g).try_into().unwrap();
    let mut vmsa = [0u8; 4096];
    vmsa[0x3B0] = 1;
    vmsa[0x2F0] = 0x55; // TSC field: measured as zero
    g.model_vm().unwrap().set_vcpu_vmsa(0, &vmsa).unwrap();
    g.launch_finish(&SnpFinish::default()).unwrap();
    vmsa[0x2F0] = 0;
    let want = measure::update(&before, page_type::VMSA, 0xFFFF_FFFF_F000, &vmsa);
    assert_eq!(ld(&p, &g), want.to_vec());
}

fn errno_fw(e: &sev::Error) -> (i32, u32) {
    (e.os_errno, e.fw_error)
}

#[test]
fn launch_refusals_have_the_kernels_errno_and_the_firmwares_status() {
    let p = platform(2);
    let mut g = guest(&p);
    // Out of order: UPDATE/FINISH before START are KVM's EINVAL.
    let e = g.launch_update_zero(0, 4096).unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EINVAL, 0));
    let e = g.launch_finish(&SnpFinish::default()).unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EINVAL, 0));
    // Policy: reserved bit 17 clear, MIGRATE_MA, bits >= 21 are KVM's EINVAL; SMT clear on an
    // SMT platform and an ABI above the firmware's are the firmware's POLICY_FAILURE.
    for bad in [
        0x10000u64,
        policy::DEFAULT | policy::MIGRATE_MA,
        policy::DEFAULT | 1 << 21,
    ] {
        let e = g.launch_start(bad, [0; 16]).unwrap_err();
        assert_eq!(errno_fw(&e), (libc::EINVAL, 0), "policy {bad:#x}");
    }
    let e = g.launch_start(policy::RSVD_MBO, [0; 16]).unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EIO, 0x07));
    assert_eq!(e.status, Status::LIBSEV_STATUS_FW_POLICY_FAILURE);
    let e = g
        .launch_start(policy::DEFAULT | 2 << 8, [0; 16])
        .unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EIO, 0x07));
    assert!(e.message.contains("POLICY_FAILURE"), "{}", e.message);
    // A failed START leaves no context: a good one still works, a second one is EINVAL.
    g.launch_start(policy::DEFAULT | 1 << 8 | 55, [0; 16])
        .unwrap();
    let e = g.launch_start(policy::DEFAULT, [0; 16]).unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EINVAL, 0));
    // Length not a page multiple; bad type; VMSA through UPDATE.
    let mut buf = vec![0u8; 8192];
    // SAFETY: buf is a live 8192-byte buffer.
    let e = unsafe { g.launch_update_raw(0, buf.as_mut_ptr() as u64, 100, page_type::NORMAL) }
        .unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EINVAL, 0));
    for t in [0u8, page_type::VMSA, 7] {
        let e = g.launch_update(0, &mut buf, t).unwrap_err();
        assert_eq!(errno_fw(&e), (libc::EINVAL, 0), "type {t}");
    }
    // Overlapping ranges: the second launch of a page is EIO with firmware status 0, and the
    // pages before it in the same call are launched (partial progress, written back).
    g.launch_update(0x1000, &mut buf[..4096], page_type::NORMAL)
        .unwrap();
    let before = ld(&p, &g);
    let e = g
        .launch_update(0x1000, &mut buf, page_type::NORMAL)
        .unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EIO, 0));
    assert!(e.message.contains("already launched"), "{}", e.message);
    assert_eq!(ld(&p, &g), before, "a refused page changes nothing");
    let e = g
        .launch_update(0x0, &mut buf, page_type::NORMAL)
        .unwrap_err();
    assert!(
        e.message.contains("4096 of 8192"),
        "partial progress reported: {}",
        e.message
    );
    assert_ne!(ld(&p, &g), before, "the first page was launched");
    // GFN beyond the memslot.
    let e = g.launch_update_zero(1 << 60, 4096).unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EINVAL, 0));
    // A malformed CPUID page: INVALID_PARAM, corrected page written back, LD unchanged, and
    // the same page (now corrected) then passes.
    let mut entries = host_cpuid_entries();
    entries[2].ebx = u32::MAX; // leaf 7: bits this CPU lacks
    entries.push(CpuidEntry {
        eax_in: 0xFFF0,
        eax: 1,
        ..Default::default()
    });
    let mut c = cpuid_page(&entries).unwrap().to_vec();
    let sent = c.clone();
    let before = ld(&p, &g);
    let e = g
        .launch_update(0x9000, &mut c, page_type::CPUID)
        .unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EIO, 0x16));
    assert_ne!(c, sent, "the corrected CPUID page came back");
    let last = 16 + (entries.len() - 1) * 48;
    assert_eq!(
        &c[last + 24..last + 40],
        &[0u8; 16][..],
        "the unknown leaf zeroed"
    );
    assert_eq!(ld(&p, &g), before);
    g.launch_update(0x9000, &mut c, page_type::CPUID).unwrap();
    // Legacy commands on an SNP VM are EPERM.
    let mut legacy = SnpGuest::new(&p).unwrap();
    legacy.init2(0, 0).unwrap();
    let e = legacy.init2(0, 0).unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EPERM, 0));
    // FINISH, then everything is refused: UPDATE by the firmware (INVALID_GUEST_STATE), a
    // second FINISH too, VMSAs can no longer be set.
    g.launch_finish(&SnpFinish::default()).unwrap();
    let e = g.launch_update_zero(0x20000, 4096).unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EIO, 0x02));
    let e = g.launch_finish(&SnpFinish::default()).unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EIO, 0x02));
    // Unknown VMSA features and non-zero INIT2 flags.
    let mut h = SnpGuest::new(&p).unwrap();
    assert_eq!(
        errno_fw(&h.init2(1 << 3, 0).unwrap_err()),
        (libc::EINVAL, 0)
    );
    assert_eq!(
        errno_fw(&h.launch_start(policy::DEFAULT, [0; 16]).unwrap_err()),
        (libc::ENOTTY, 0)
    );
}

/// Little-endian 72-byte field of a 48-byte big-endian value.
fn le72(be: &[u8]) -> [u8; 72] {
    let mut o = [0u8; 72];
    for (i, b) in be.iter().rev().enumerate() {
        o[i] = *b;
    }
    o
}

fn key_struct(k: &SigningKey) -> Vec<u8> {
    let pt = k.verifying_key().to_encoded_point(false);
    let mut s = vec![0u8; id_auth::KEY_LEN];
    s[0..4].copy_from_slice(&id_auth::CURVE_P384.to_le_bytes());
    s[4..76].copy_from_slice(&le72(pt.x().unwrap()));
    s[0x4C..0x4C + 72].copy_from_slice(&le72(pt.y().unwrap()));
    s
}

fn sig_struct(sig: &Signature) -> Vec<u8> {
    let (r, s) = sig.split_bytes();
    let mut o = vec![0u8; id_auth::SIG_LEN];
    o[..72].copy_from_slice(&le72(&r));
    o[0x48..0x48 + 72].copy_from_slice(&le72(&s));
    o
}

#[test]
fn id_block_signed_by_the_owner_is_accepted_and_forgeries_refused() {
    let idk = SigningKey::from_slice(&[7u8; 48]).unwrap();
    let ak = SigningKey::from_slice(&[9u8; 48]).unwrap();
    let run = |tamper: Option<usize>, auth_key_en: bool| {
        let p = platform(3);
        let mut g = guest(&p);
        g.launch_start(policy::DEFAULT, [0; 16]).unwrap();
        let mut page = vec![0xA5u8; 4096];
        g.launch_update(0x100000, &mut page, page_type::NORMAL)
            .unwrap();
        let digest = ld(&p, &g);
        let mut block = vec![0u8; 96];
        block[..48].copy_from_slice(&digest);
        block[0x50] = 1;
        block[0x58..0x60].copy_from_slice(&policy::DEFAULT.to_le_bytes());
        let mut auth = vec![0u8; 4096];
        auth[0..4].copy_from_slice(&1u32.to_le_bytes());
        auth[4..8].copy_from_slice(&1u32.to_le_bytes());
        let sig: Signature = idk.sign(&block);
        auth[id_auth::ID_BLOCK_SIG..id_auth::ID_BLOCK_SIG + 0x200]
            .copy_from_slice(&sig_struct(&sig));
        let ks = key_struct(&idk);
        auth[id_auth::ID_KEY..id_auth::ID_KEY + 0x404].copy_from_slice(&ks);
        let ksig: Signature = ak.sign(&ks);
        auth[id_auth::ID_KEY_SIG..id_auth::ID_KEY_SIG + 0x200].copy_from_slice(&sig_struct(&ksig));
        auth[id_auth::AUTHOR_KEY..id_auth::AUTHOR_KEY + 0x404].copy_from_slice(&key_struct(&ak));
        if let Some(off) = tamper {
            auth[off] ^= 1;
        }
        let r = g.launch_finish(&SnpFinish {
            id_block: Some((&block, &auth)),
            auth_key_en,
            host_data: [0x11; 32],
            ..Default::default()
        });
        (r, Sha384::digest(&ks))
    };
    let (r, _) = run(None, true);
    r.unwrap();
    run(None, false).0.unwrap();
    for off in [
        id_auth::ID_BLOCK_SIG + 3,
        id_auth::ID_KEY_SIG + 0x50,
        id_auth::AUTHOR_KEY + 10,
    ] {
        let e = run(Some(off), true).0.unwrap_err();
        assert_eq!(errno_fw(&e), (libc::EIO, 0x0A), "tampered byte {off:#x}");
        assert_eq!(e.status, Status::LIBSEV_STATUS_FW_BAD_SIGNATURE);
    }
    // A forged author signature does not matter when the author key is not enabled.
    run(Some(id_auth::ID_KEY_SIG + 0x50), false).0.unwrap();
}

#[test]
fn snp_platform_commands() {
    let p = platform(4);
    let s = p.snp_status().unwrap();
    assert_eq!((s.api_major, s.api_minor, s.state), (1, 55, 1));
    assert_eq!(s.current_tcb, s.reported_tcb);
    assert!(!s.vlek_en);
    // SET_CONFIG: a TCB above the committed one is INVALID_PARAM; a lower one is reported.
    let tcb = s.reported_tcb;
    let e = p.snp_set_config(tcb + (1 << 56), false, false).unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EIO, 0x16));
    let lower = tcb - (1 << 56);
    p.snp_set_config(lower, true, false).unwrap();
    let s = p.snp_status().unwrap();
    assert_eq!((s.reported_tcb, s.mask_chip_id), (lower, true));
    // COMMIT clears the config TCB.
    p.snp_commit().unwrap();
    assert_eq!(p.snp_status().unwrap().reported_tcb, tcb);
    // VLEK_LOAD: a blob wrapped for this chip and its REPORTED_TCB loads; another TCB is
    // BAD_SVN; a flipped byte BAD_MEASUREMENT; a short blob is refused before the kernel.
    let m = p.model().unwrap();
    let sticks = [0x42u8; 0x180];
    let e = p
        .snp_vlek_load(&m.snp_wrap_vlek(&sticks, tcb + 1))
        .unwrap_err();
    assert_eq!(errno_fw(&e), (libc::EIO, 0x21));
    let mut bad = m.snp_wrap_vlek(&sticks, tcb);
    bad[0x20] ^= 1;
    assert_eq!(
        errno_fw(&p.snp_vlek_load(&bad).unwrap_err()),
        (libc::EIO, 0x0B)
    );
    assert_eq!(
        p.snp_vlek_load(&[0u8; 10]).unwrap_err().status,
        Status::LIBSEV_STATUS_INVALID_LENGTH
    );
    p.snp_vlek_load(&m.snp_wrap_vlek(&sticks, tcb)).unwrap();
    assert!(p.snp_status().unwrap().vlek_en);
    // A wrapped VLEK from another chip does not unwrap here.
    let other = platform(5);
    let foreign = other.model().unwrap().snp_wrap_vlek(&sticks, tcb);
    assert_eq!(
        errno_fw(&p.snp_vlek_load(&foreign).unwrap_err()),
        (libc::EIO, 0x0B)
    );
}

/// On this host KVM has no SEV: creating an SNP VM through the KVM transport fails, and the
/// test says why; where KVM offers SNP, the VM is initialised.
#[test]
fn kvm_transport_snp_vm_or_the_reason_it_is_missing() {
    if !std::path::Path::new("/dev/kvm").exists() {
        eprintln!("skipping: /dev/kvm is absent");
        return;
    }
    let p = Platform::kvm_without_sev();
    match SnpGuest::new(&p) {
        Err(e) => {
            eprintln!("skipping the KVM SNP launch: {}", e.message);
            assert!(
                matches!(
                    e.os_errno,
                    libc::EINVAL | libc::ENOTTY | libc::EACCES | libc::ENOENT
                ),
                "{e:?}"
            );
            assert!(e.message.contains("KVM_X86_SNP_VM"), "{}", e.message);
        }
        Ok(mut g) => match g.init2(0, 0) {
            Ok(()) => eprintln!("KVM created and initialised an SNP VM"),
            Err(e) => eprintln!("skipping the KVM SNP launch: INIT2 refused: {}", e.message),
        },
    }
}

/// `sev-spec` SNP §4.1–§4.5: a report as the guest obtains it (its request encrypted with
/// VMPCK0 from the secrets page), signed by the model VCEK for the REPORTED_TCB, with the
/// launch's measurement, host data, policy and ID digests; the message path's refusals.
#[test]
fn attestation_report_through_the_guest_message_path() {
    use p384::ecdsa::signature::Verifier;
    use sev::model::snp::guestmsg::{MSG_REPORT_REQ, seal};
    let p = platform(6);
    let mut g = guest(&p);
    g.launch_start(policy::DEFAULT, [0; 16]).unwrap();
    let mut page = vec![0u8; 4096];
    g.launch_update(0x2000, &mut page, page_type::SECRETS)
        .unwrap();
    let mut code = vec![0x90u8; 8192];
    g.launch_update(0x10000, &mut code, page_type::NORMAL)
        .unwrap();
    let vm = g.model_vm().unwrap();
    // Before LAUNCH_FINISH: INVALID_GUEST_STATE.
    assert_eq!(vm.guest_report(&[1; 64], 0, 0, 0).unwrap_err(), 0x02);
    g.launch_finish(&SnpFinish {
        host_data: [0x33; 32],
        ..Default::default()
    })
    .unwrap();
    let vm = g.model_vm().unwrap();
    let m = p.model().unwrap();
    let (status, r) = vm.guest_report(&[0xAB; 64], 1, 0, 0).unwrap();
    assert_eq!(status, 0);
    assert_eq!(r.len(), 0x4A0);
    let u32_at = |o: usize| u32::from_le_bytes(r[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(r[o..o + 8].try_into().unwrap());
    assert_eq!((u32_at(0), u32_at(0x30), u32_at(0x34)), (2, 1, 1));
    assert_eq!(u64_at(0x08), policy::DEFAULT);
    assert_eq!(&r[0x50..0x90], &[0xAB; 64][..]);
    assert_eq!(r[0x90..0xC0].to_vec(), ld(&p, &g));
    assert_eq!(&r[0xC0..0xE0], &[0x33; 32][..]);
    assert_eq!(u64_at(0x180), m.snp_reported_tcb());
    assert_eq!(&r[0x1A0..0x1E0], &m.chip_id()[..]);
    assert_eq!(u32_at(0x48) >> 2 & 7, 0, "signed by the VCEK");
    let be = |o: usize| -> [u8; 48] { std::array::from_fn(|i| r[o + 47 - i]) };
    let sig = Signature::from_scalars(be(0x2A0), be(0x2E8)).unwrap();
    m.snp_vcek_public(m.snp_reported_tcb())
        .verify(&r[..0x2A0], &sig)
        .expect("VCEK signature");
    let mut t = r.clone();
    t[0x90] ^= 1;
    assert!(
        m.snp_vcek_public(m.snp_reported_tcb())
            .verify(&t[..0x2A0], &sig)
            .is_err()
    );
    // Payload-level refusals come back in the response's STATUS: VMPL below the VMPCK, a VLEK
    // that is not loaded.
    assert_eq!(vm.guest_report(&[0; 64], 0, 1, 0).unwrap().0, 0x16);
    assert_eq!(vm.guest_report(&[0; 64], 0, 0, 2).unwrap().0, 0x27);
    // Command-level: a replayed sequence number is AEAD_OFLOW, a forged tag BAD_MEASUREMENT.
    let s = vm.guest_read_page(0x2000).unwrap();
    let key: [u8; 32] = s[0x20..0x40].try_into().unwrap();
    let mut req = [0u8; 4096];
    let msg = seal(&key, 1, MSG_REPORT_REQ, 0, &[0u8; 0x60]);
    req[..msg.len()].copy_from_slice(&msg);
    assert_eq!(vm.guest_request(&req).unwrap_err(), 0x1D);
    req[0] ^= 1;
    assert_eq!(vm.guest_request(&req).unwrap_err(), 0x0B);
    // SNP_SET_CONFIG with MASK_CHIP_KEY: unsigned (SIGNING_KEY 7), and MASK_CHIP_ID zeroes it.
    p.snp_set_config(0, true, true).unwrap();
    let (status, r) = vm.guest_report(&[0; 64], 0, 0, 0).unwrap();
    assert_eq!(status, 0);
    assert_eq!(
        u32::from_le_bytes(r[0x48..0x4C].try_into().unwrap()) >> 2 & 7,
        7
    );
    assert!(r[0x2A0..].iter().all(|b| *b == 0) && r[0x1A0..0x1E0].iter().all(|b| *b == 0));
}

/// The extended report's certificate table: ARK ← ASK ← VCEK of the test-only SNP root, the
/// VCEK certified for the REPORTED_TCB and the chip id, and the model's report verifies under
/// it (the owner side's chain and signature checks).
#[test]
fn certificate_table_chains_to_the_test_root_and_verifies_the_report() {
    use sev::certs::snp::SnpCert;
    use sev::certs::snp::chain::{ChainOptions, verify_chain};
    use sev::owner::snp::certtable::{CertKind, parse};
    use sev::owner::snp::report::Report;
    use sev::owner::snp::verify::verify_signature;
    let p = platform(8);
    let mut g = guest(&p);
    g.launch_start(policy::DEFAULT, [0; 16]).unwrap();
    g.launch_update(0x3000, &mut vec![0u8; 4096], page_type::SECRETS)
        .unwrap();
    g.launch_finish(&SnpFinish::default()).unwrap();
    let (status, r) = g
        .model_vm()
        .unwrap()
        .guest_report(&[9; 64], 0, 0, 0)
        .unwrap();
    assert_eq!(status, 0);
    let table = p.model().unwrap().snp_cert_table().unwrap();
    let certs = parse(&table).unwrap();
    let get =
        |k: CertKind| SnpCert::from_der(&certs.iter().find(|(c, _)| *c == k).unwrap().1).unwrap();
    let (ark, ask, vcek) = (get(CertKind::Ark), get(CertKind::Ask), get(CertKind::Vcek));
    let opts = ChainOptions {
        allow_test_root: true,
        ..Default::default()
    };
    let chain = verify_chain(&ark, &ask, &vcek, &opts).expect("VCEK chains to the test root");
    let report = Report::parse(&r).unwrap();
    assert!(
        verify_signature(&report, chain.key()),
        "the report verifies with the certified VCEK"
    );
    assert!(
        verify_chain(&ark, &ask, &vcek, &ChainOptions::default()).is_err(),
        "test root refused unless allowed"
    );
}
