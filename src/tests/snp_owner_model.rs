//! The owner's expected SNP measurement against the firmware model's launch digest: Debian's
//! OVMF (`/usr/share/OVMF/OVMF_CODE.fd`, package `ovmf`) launched the way each VMM profile
//! launches it (QEMU, EC2, GCE), for 1 to 64 vCPUs and three CPU models, with and without
//! DebugSwap, and the model's digest equals `snp_launch_digest` every time. An ID block signed
//! over the expected digest is accepted by the model's SNP_LAUNCH_FINISH.

use p384::ecdsa::SigningKey;
use sev::api::Platform;
use sev::api::snp::{SnpFinish, SnpGuest};
use sev::model::ModelConfig;
use sev::model::snp::{cpuid_page, host_cpuid_entries};
use sev::owner::es::{Ovmf, SectionType};
use sev::owner::snp::idblock::{IdBlock, sign};
use sev::owner::snp::measure::{SnpMeasureInputs, snp_launch_digest};
use sev::uapi::snp::{page_type, policy};
use sev::uapi::vmsa::{KvmInit, VmmType, VmsaParams, reset_vmsa, signature_for_cpu_model};

const OVMF: &str = "/usr/share/OVMF/OVMF_CODE.fd";

fn ovmf() -> Option<Vec<u8>> {
    match std::fs::read(OVMF) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("skipping: {OVMF}: {e} (install the ovmf package)");
            None
        }
    }
}

/// Launch `image` on the model as `vmm` does (QEMU's order: OVMF, metadata sections, VMSAs at
/// LAUNCH_FINISH) and return the model's launch digest.
fn model_launch(
    image: &[u8],
    vcpus: u32,
    signature: u32,
    vmm: VmmType,
    features: u64,
    id: Option<(&[u8], &[u8])>,
) -> Result<[u8; 48], sev::Error> {
    let p = Platform::emulated(ModelConfig {
        seed: Some([7; 32]),
        ..ModelConfig::default()
    })
    .unwrap();
    let mut g = SnpGuest::new(&p).unwrap();
    g.init2(features & !1, 0).unwrap();
    g.launch_start(policy::DEFAULT, [0; 16]).unwrap();
    let mut img = image.to_vec();
    g.launch_update((1u64 << 32) - img.len() as u64, &mut img, page_type::NORMAL)
        .unwrap();
    let o = Ovmf::parse(image).unwrap();
    let mut deferred = Vec::new();
    for s in o.metadata().unwrap() {
        let (gpa, size) = (s.gpa as u64, s.size as u64);
        match s.kind {
            SectionType::SnpSecMem if vmm == VmmType::Gce => {
                let mut z = vec![0u8; size as usize];
                g.launch_update(gpa, &mut z, page_type::UNMEASURED).unwrap();
            }
            SectionType::SnpSecrets => {
                let mut z = vec![0u8; size as usize];
                g.launch_update(gpa, &mut z, page_type::SECRETS).unwrap();
            }
            SectionType::Cpuid if vmm == VmmType::Ec2 => deferred.push(gpa),
            SectionType::Cpuid => {
                let mut c = cpuid_page(&host_cpuid_entries()).unwrap().to_vec();
                g.launch_update(gpa, &mut c, page_type::CPUID).unwrap();
            }
            _ => {
                g.launch_update_zero(gpa, size).unwrap();
            }
        }
    }
    for gpa in deferred {
        let mut c = cpuid_page(&host_cpuid_entries()).unwrap().to_vec();
        g.launch_update(gpa, &mut c, page_type::CPUID).unwrap();
    }
    let params = VmsaParams {
        init: KvmInit::Init2,
        sev_features: features | 1,
    };
    for i in 0..vcpus {
        let v = reset_vmsa(vmm, signature, i, o.sev_es_reset_addr(), &params);
        g.set_vcpu_vmsa(i, &v).unwrap();
    }
    g.launch_finish(&SnpFinish {
        id_block: id,
        auth_key_en: id.is_some(),
        ..SnpFinish::default()
    })?;
    Ok(p.model()
        .unwrap()
        .snp_measurement(g.model_vm().unwrap())
        .unwrap())
}

fn expected(image: &[u8], vcpus: u32, signature: u32, vmm: VmmType, features: u64) -> [u8; 48] {
    snp_launch_digest(&SnpMeasureInputs {
        ovmf: image,
        vcpus,
        vcpu_signature: signature,
        vmm,
        guest_features: features,
        boot: None,
    })
    .unwrap()
}

#[test]
fn expected_measurement_equals_the_models_launch_digest() {
    let Some(image) = ovmf() else { return };
    let models = ["EPYC-v4", "EPYC-Milan", "EPYC-Genoa"];
    let mut launches = 0;
    for vmm in [VmmType::Qemu, VmmType::Ec2, VmmType::Gce] {
        for m in models {
            let sig = signature_for_cpu_model(m).unwrap();
            for vcpus in [1, 2, 5, 64] {
                for features in [0x1, 0x21] {
                    let want = expected(&image, vcpus, sig, vmm, features);
                    let got = model_launch(&image, vcpus, sig, vmm, features, None).unwrap();
                    assert_eq!(
                        got,
                        want,
                        "{} {m} {vcpus} vCPUs features {features:#x}",
                        vmm.name()
                    );
                    launches += 1;
                }
            }
        }
    }
    // Every vCPU count from 1 to 64 (QEMU, EPYC-Milan).
    let sig = signature_for_cpu_model("EPYC-Milan").unwrap();
    for vcpus in 1..=64 {
        let want = expected(&image, vcpus, sig, VmmType::Qemu, 1);
        assert_eq!(
            model_launch(&image, vcpus, sig, VmmType::Qemu, 1, None).unwrap(),
            want,
            "{vcpus} vCPUs"
        );
        launches += 1;
    }
    eprintln!("{launches} model launches of {OVMF} matched the expected measurement");
}

#[test]
fn id_block_over_the_expected_measurement_is_accepted_and_a_wrong_one_refused() {
    let Some(image) = ovmf() else { return };
    let sig = signature_for_cpu_model("EPYC-Genoa").unwrap();
    let ld = expected(&image, 4, sig, VmmType::Qemu, 1);
    let idk = SigningKey::from_slice(&[3; 48]).unwrap();
    let ak = SigningKey::from_slice(&[4; 48]).unwrap();
    let block = IdBlock {
        ld,
        family_id: [1; 16],
        image_id: [2; 16],
        version: 1,
        guest_svn: 7,
        policy: policy::DEFAULT,
    };
    let m = sign(&block, &idk, Some(&ak));
    let got = model_launch(
        &image,
        4,
        sig,
        VmmType::Qemu,
        1,
        Some((&m.id_block, &m.id_auth[..])),
    );
    assert_eq!(got.unwrap(), ld);
    // The same ID block for 5 vCPUs: the firmware refuses the launch (BAD_MEASUREMENT).
    let e = model_launch(
        &image,
        5,
        sig,
        VmmType::Qemu,
        1,
        Some((&m.id_block, &m.id_auth[..])),
    )
    .unwrap_err();
    assert_eq!(e.fw_error, 0x0B, "{e}");
}
