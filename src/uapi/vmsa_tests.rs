//! VMSA construction against the known answers of the SEV-ES/SNP reference (§1.4, §6.3).

use super::*;
use crate::owner::crypto::hex;
use sha2::{Digest, Sha256, Sha384};

/// AP reset address of the reference OVMF fixtures (their SEV-ES reset block).
const FIXTURE_AP_RESET: u32 = 0x0080_B004;
const EPYC_V4: u32 = 0x0080_0F12;

fn init2(features: u64) -> VmsaParams {
    VmsaParams {
        init: KvmInit::Init2,
        sev_features: features,
    }
}

fn qemu_page(index: u32, params: &VmsaParams) -> [u8; VMSA_SIZE] {
    reset_vmsa(VmmType::Qemu, EPYC_V4, index, FIXTURE_AP_RESET, params)
}

#[test]
fn signatures_of_the_cpu_models() {
    assert_eq!(signature_for_cpu_model("EPYC-v4"), Some(0x0080_0F12));
    assert_eq!(signature_for_cpu_model("epyc"), Some(0x0080_0F12));
    assert_eq!(signature_for_cpu_model("EPYC-Rome"), Some(0x0083_0F10));
    assert_eq!(signature_for_cpu_model("EPYC-Milan"), Some(0x00A0_0F11));
    assert_eq!(signature_for_cpu_model("EPYC-Genoa"), Some(0x00A1_0F10));
    assert_eq!(signature_for_cpu_model("EPYC-Turin"), Some(0x00B0_0F00));
    assert_eq!(signature_for_cpu_model("Skylake-Server"), None);
    assert_eq!(cpu_signature(6, 0x55, 4), 0x0005_0654);
}

#[test]
fn qemu_reset_fields_match_the_reference_table() {
    let p = qemu_page(0, &init2(0));
    let seg = |o: usize| (get16(&p, o), get16(&p, o + 2), get64(&p, o + 8));
    assert_eq!(seg(off::CS), (0xF000, 0x9B, 0xFFFF_0000));
    for o in [off::ES, off::SS, off::DS, off::FS, off::GS] {
        assert_eq!(seg(o), (0, 0x93, 0));
    }
    assert_eq!(get16(&p, off::LDTR + 2), 0x82);
    assert_eq!(get16(&p, off::TR + 2), 0x8B);
    assert_eq!(get16(&p, off::GDTR + 2), 0);
    assert_eq!(
        u32::from_le_bytes(p[off::GDTR + 4..off::GDTR + 8].try_into().unwrap()),
        0xFFFF
    );
    assert_eq!(get64(&p, off::EFER), 0x1000);
    assert_eq!(get64(&p, off::CR4), 0x40);
    assert_eq!(get64(&p, off::CR0), 0x10);
    assert_eq!(get64(&p, off::DR7), 0x400);
    assert_eq!(get64(&p, off::DR6), 0xFFFF_0FF0);
    assert_eq!(get64(&p, off::RFLAGS), 2);
    assert_eq!(get64(&p, off::RIP), 0xFFF0);
    assert_eq!(get64(&p, off::G_PAT), 0x0007_0406_0007_0406);
    assert_eq!(get64(&p, off::RDX), EPYC_V4 as u64);
    assert_eq!(get64(&p, off::XCR0), 1);
    assert_eq!(get16(&p, off::X87_FCW), 0x37F);
    assert_eq!(p[off::MXCSR..off::MXCSR + 4], 0x1F80u32.to_le_bytes());
    assert!(p[VMSA_KERNEL_STRUCT_SIZE..].iter().all(|b| *b == 0));

    let ap = qemu_page(3, &init2(0));
    assert_eq!(get64(&ap, off::CS + 8), 0x0080_0000);
    assert_eq!(get64(&ap, off::RIP), 0xB004);
    // Only CS.base and RIP differ between the BSP and an AP.
    let diff: Vec<usize> = (0..VMSA_SIZE).filter(|i| p[*i] != ap[*i]).collect();
    assert!(
        diff.iter().all(
            |i| (off::CS + 8..off::CS + 16).contains(i) || (off::RIP..off::RIP + 8).contains(i)
        )
    );
}

#[test]
fn es_init_writes_no_fpu_state_init2_does() {
    let legacy = qemu_page(
        0,
        &VmsaParams {
            init: KvmInit::EsInit,
            sev_features: 0,
        },
    );
    let modern = qemu_page(0, &init2(0));
    assert!(
        legacy[off::X87_DP..VMSA_KERNEL_STRUCT_SIZE]
            .iter()
            .all(|b| *b == 0)
    );
    let diff: Vec<usize> = (0..VMSA_SIZE)
        .filter(|i| legacy[*i] != modern[*i])
        .collect();
    assert_eq!(
        diff,
        vec![off::MXCSR, off::MXCSR + 1, off::X87_FCW, off::X87_FCW + 1]
    );
}

#[test]
fn page_digests_match_the_known_answers() {
    // snp-spec §6.3: sev_features 0 (SHA-256 and SHA-384), 0x1 and 0x21 (SHA-384).
    let h256 = |p: &[u8; VMSA_SIZE]| hex(&Sha256::digest(p));
    let h384 = |p: &[u8; VMSA_SIZE]| hex(&Sha384::digest(p));
    assert_eq!(
        h256(&qemu_page(0, &init2(0))),
        "8295cef559b57130391d59605890ef93297720b48bef9a8c3c985b9c3fb0788c"
    );
    assert_eq!(
        h256(&qemu_page(1, &init2(0))),
        "7ff723da33f39dedbe8336bb697e0a2f76471690074d5902e1a8177cd5312c95"
    );
    let cases: [(u64, &str, &str); 3] = [
        (
            0,
            "69c94ea0886388820b7d37645642a46a4751bf5209f779d6a05337d11698a66cb6021b9aeacaad1bb92475944344f6f8",
            "a52df2d2d024af9fb93e90d37da535b16d44596692a50fba4d31e97eeb13c2eeba039c0c1e0b478316c233d9e97867dc",
        ),
        (
            0x1,
            "77920c4c629ff47e90c0e174fc1ad0eb6fa664f88cd4739488058a8c6cb1a77b3856f55378e9518d0da99452d51c553a",
            "8413b852790765a310d95867a8b00bfca3a802b5a80830044b45e253fe96222657e11e53fcf63eb0e0afd722385bf7b4",
        ),
        (
            0x21,
            "ae79efa6efbe1594a2717dfd42af495a0e4ed37b00e529a5fdf349bea04c3513962ffb0c74cf65b0d9a1857271833d6e",
            "180ef2675dc01615d31b3e84ef27a0a69d08bfbbb58ea4f6a0188f08884ab6407591ada42f99749ce9a406fb4e5d8355",
        ),
    ];
    for (features, bsp, ap) in cases {
        assert_eq!(
            h384(&qemu_page(0, &init2(features))),
            bsp,
            "BSP, features {features:#x}"
        );
        assert_eq!(
            h384(&qemu_page(1, &init2(features))),
            ap,
            "AP, features {features:#x}"
        );
    }
}

#[test]
fn ec2_and_gce_profiles_differ_where_the_reference_says() {
    let p = init2(0);
    let q = reset_vmsa(VmmType::Qemu, EPYC_V4, 0, FIXTURE_AP_RESET, &p);
    let e = reset_vmsa(VmmType::Ec2, EPYC_V4, 0, FIXTURE_AP_RESET, &p);
    let e_ap = reset_vmsa(VmmType::Ec2, EPYC_V4, 1, FIXTURE_AP_RESET, &p);
    let g = reset_vmsa(VmmType::Gce, EPYC_V4, 0, FIXTURE_AP_RESET, &p);
    assert_eq!(get16(&e, off::CS + 2), 0x9A);
    assert_eq!(get16(&e_ap, off::CS + 2), 0x9B);
    assert_eq!(get16(&e, off::SS + 2), 0x92);
    assert_eq!(get16(&e, off::TR + 2), 0x83);
    assert_eq!(get64(&e, off::RDX), 0x600);
    assert_eq!(get16(&e, off::X87_FCW), 0);
    assert_eq!(get64(&g, off::G_PAT), 0x70106);
    assert_eq!(get64(&g, off::RDX), 0x600);
    assert_eq!(get16(&g, off::X87_FCW), 0);
    assert_eq!(get16(&g, off::CS + 2), get16(&q, off::CS + 2));
    // EC2 and GCE ignore the vCPU model.
    let milan = signature_for_cpu_model("EPYC-Milan").unwrap();
    assert_eq!(g, reset_vmsa(VmmType::Gce, milan, 0, FIXTURE_AP_RESET, &p));
    assert_ne!(q, reset_vmsa(VmmType::Qemu, milan, 0, FIXTURE_AP_RESET, &p));
}

#[test]
fn kvm_refuses_debug_state() {
    let mut st = reset_state(VmmType::Qemu, EPYC_V4, 0, FIXTURE_AP_RESET);
    st.dr7 = 0x401;
    assert_eq!(build_vmsa(&st, &init2(0)), Err(VmsaError::Dr7(0x401)));
    st.dr7 = 0x400;
    st.guest_debug = true;
    assert_eq!(build_vmsa(&st, &init2(0)), Err(VmsaError::GuestDebug));
}

#[test]
fn kvm_transformations_and_fpu_packing() {
    let mut st = reset_state(VmmType::Qemu, EPYC_V4, 0, 0);
    st.cr0 = 0x8000_0011 | (1 << 30) | (1 << 29);
    st.efer = 0x500;
    st.ss.dpl = 3;
    st.cr2 = 0x1234;
    st.msrs.sysenter_eip = 0xFFFF_FFFF_8000_0000;
    for (i, r) in st.fpu.fpr.iter_mut().enumerate() {
        for (j, b) in r.iter_mut().enumerate() {
            *b = (i * 16 + j) as u8;
        }
    }
    st.fpu.ymm_hi[15] = [0xAB; 16];
    let p = build_vmsa(&st, &init2(0)).unwrap();
    assert_eq!(get64(&p, off::CR0), 0x8000_0011);
    assert_eq!(get64(&p, off::EFER), 0x1500);
    assert_eq!(p[off::CPL], 3);
    assert_eq!(get64(&p, off::CR2), 0, "CR2 reaches the VMCB only at VMRUN");
    assert_eq!(get64(&p, off::SYSENTER_EIP), 0x8000_0000);
    // ST(i) low 8 bytes at 8*i, high 2 bytes at 64 + 2*i.
    assert_eq!(p[off::FPREG_X87 + 8 * 2], 32);
    assert_eq!(p[off::FPREG_X87 + 8 * 2 + 7], 39);
    assert_eq!(p[off::FPREG_X87 + 64 + 2 * 2], 40);
    assert_eq!(p[off::FPREG_X87 + 64 + 2 * 2 + 1], 41);
    assert_eq!(
        p[off::FPREG_YMM + 16 * 15..off::FPREG_YMM + 256],
        [0xAB; 16]
    );
    // An unusable segment is not present in VMCB form.
    st.fs.unusable = true;
    let p = build_vmsa(&st, &init2(0)).unwrap();
    assert_eq!(get16(&p, off::FS + 2), 0x13);
}
