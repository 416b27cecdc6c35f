//! SEV-ES launch digests against snp-spec §6.3 (the measurement tools' KATs and the derived
//! ES_INIT ones).

use super::*;
use crate::owner::crypto::hex;
use crate::uapi::vmsa::signature_for_cpu_model;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/testdata/snp/measurement/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn inputs<'a>(ovmf: &'a [u8], kernel: bool, vcpus: u32, init: KvmInit) -> EsLaunchInputs<'a> {
    EsLaunchInputs {
        ovmf,
        // "kernel = /dev/null": empty kernel and initrd, no command line.
        boot: kernel.then(DirectBoot::default),
        vcpus,
        vcpu_signature: signature_for_cpu_model("EPYC-v4").unwrap(),
        vmm: VmmType::Qemu,
        init,
        sev_features: 0,
    }
}

#[test]
fn known_answers() {
    let img = fixture("ovmf_AmdSev_suffix.bin");
    let cases = [
        (
            true,
            1,
            KvmInit::Init2,
            "13810ae661ea11e2bb205621f582fee268f0367c8f97bc297b7fadef3e12002c",
        ),
        (
            true,
            4,
            KvmInit::Init2,
            "0dccbcaba8e90b261bd0d2e1863a2f9da714768b7b2a19363cd6ae35aa90de91",
        ),
        (
            false,
            1,
            KvmInit::Init2,
            "f9f0a62976a07b5d58302d0a0b86df8c0c35115054dda5a38764527a4636fa1f",
        ),
        (
            true,
            1,
            KvmInit::EsInit,
            "664f688c75cd5c08855ead4f11501ff967e29762d16c8d589b8e6d7b6c4daa36",
        ),
        (
            true,
            4,
            KvmInit::EsInit,
            "bfe06ed004ea18350152361ca8aa4860e807976ef67e756b4b9e5b724e0713c9",
        ),
        (
            false,
            1,
            KvmInit::EsInit,
            "663316335295bd37dd65dbc7e9982f2d12c0b827a3ddbfb1163ff46fb099d214",
        ),
        (
            false,
            4,
            KvmInit::EsInit,
            "6440a5ecad00a63db5758069d0c20c58e94f2b892f0dc10d53709224fb991436",
        ),
    ];
    for (kernel, vcpus, init, want) in cases {
        let i = inputs(&img, kernel, vcpus, init);
        assert_eq!(
            hex(&es_launch_digest(&i).unwrap()),
            want,
            "{}",
            i.describe()
        );
    }
}

#[test]
fn digest_equals_hash_of_the_pages() {
    let img = fixture("ovmf_AmdSev_suffix.bin");
    let i = inputs(&img, false, 3, KvmInit::Init2);
    let mut ld = LaunchDigest::new();
    ld.update(&img);
    for p in es_vmsa_pages(&i).unwrap() {
        ld.update(&p);
    }
    assert_eq!(ld.value(), es_launch_digest(&i).unwrap());
}

#[test]
fn refusals() {
    let x64 = fixture("ovmf_OvmfX64_suffix.bin");
    let e = es_launch_digest(&inputs(&x64, true, 1, KvmInit::Init2)).unwrap_err();
    assert!(e.message.contains("measured direct boot"), "{}", e.message);
    let e = es_launch_digest(&inputs(&x64, false, 0, KvmInit::Init2)).unwrap_err();
    assert!(e.message.contains("0 vCPUs"), "{}", e.message);
    let e = es_launch_digest(&inputs(&[0u8; 8192], false, 1, KvmInit::Init2)).unwrap_err();
    assert!(e.message.contains("footer table"), "{}", e.message);
    // Without a kernel the X64 fixture is fine.
    assert!(es_launch_digest(&inputs(&x64, false, 2, KvmInit::EsInit)).is_ok());
}

#[test]
fn every_input_changes_the_digest() {
    let img = fixture("ovmf_AmdSev_suffix.bin");
    let base = inputs(&img, true, 2, KvmInit::EsInit);
    let d0 = es_launch_digest(&base).unwrap();
    let variants = [
        EsLaunchInputs { vcpus: 3, ..base },
        EsLaunchInputs {
            vcpu_signature: signature_for_cpu_model("EPYC-Milan").unwrap(),
            ..base
        },
        EsLaunchInputs {
            vmm: VmmType::Ec2,
            ..base
        },
        EsLaunchInputs {
            vmm: VmmType::Gce,
            ..base
        },
        EsLaunchInputs {
            init: KvmInit::Init2,
            ..base
        },
        EsLaunchInputs {
            sev_features: 0x20,
            ..base
        },
        EsLaunchInputs { boot: None, ..base },
        EsLaunchInputs {
            boot: Some(DirectBoot {
                cmdline: Some(b"quiet"),
                ..Default::default()
            }),
            ..base
        },
    ];
    for v in variants {
        assert_ne!(es_launch_digest(&v).unwrap(), d0, "{}", v.describe());
    }
}
