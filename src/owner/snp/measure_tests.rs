//! The known answers of `snp-spec` §6.2 and §6.5.

use super::*;
use crate::owner::testutil::unhex;
use crate::uapi::vmsa::signature_for_cpu_model;

fn fixture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/../shared/testdata/snp/measurement/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn h(s: &str) -> [u8; 48] {
    unhex(s).try_into().unwrap()
}

#[test]
fn page_info_chain_kats() {
    // §6.2
    let zero = [0u8; 48];
    let page = [0u8; 4096];
    let v1 = page_info_update(&zero, page_type::NORMAL, 0, Some(&page));
    assert_eq!(
        v1,
        h(
            "9d13634b6014bb21cf059b2dc694e7bff01a8a7137041100cd2b695f3d10fb687267b97808b27f8f471d943bc6f53a20"
        )
    );
    assert_eq!(
        page_info_update(&zero, page_type::ZERO, 0, None),
        h(
            "70c0ecaab9608f14ebf8ac6f0f07bcd8728f4e2ab30382b539b4de4de904ca9f8ebdf4b2cd3cd84dd996bd55dd794676"
        )
    );
    let v3 = page_info_update(&v1, page_type::ZERO, 0x1000, None);
    assert_eq!(
        v3,
        h(
            "3bb77aec4f0d90c147b6b7884b6bd5741994d2575305f89639c95186690d949261186702ef51f2fa7c0dd4c90f03ebfd"
        )
    );
    let v4 = page_info_update(&v3, page_type::SECRETS, 0x2000, None);
    assert_eq!(
        v4,
        h(
            "0a38dc4cdc203b86ee6a64ab9f7bcc0c1e0fa47144e1e4d6fad2ce24573ef7e100d1b91f1869bcea9cd1e3dffd42a075"
        )
    );
    let v5 = page_info_update(&v4, page_type::CPUID, 0x3000, None);
    assert_eq!(
        v5,
        h(
            "3bbf34c2d07995525f1135e5fd8fa00fa052f455911c6484ffbb3bbb0b64efa29f7d1bc9077fe600a08375e1097438a4"
        )
    );
    let v6 = page_info_update(&v5, page_type::UNMEASURED, 0x4000, None);
    assert_eq!(
        v6,
        h(
            "f33914b2b834895a05826067e93d3464b86c42f7ff2dacf165081dca9b15d2ec0b27d0d4cf3f6416465005f922f565b7"
        )
    );
    let vp: Vec<u8> = (0..4096).map(|i| (i % 256) as u8).collect();
    let v7 = page_info_update(&v6, page_type::VMSA, VMSA_GPA, Some(&vp));
    assert_eq!(
        v7,
        h(
            "b6d35bb9e768d41a29d958fd825ad550c00c1158c83ea695c3385a29ec9e50000688f61f3cce2d9eb996978a0bba3733"
        )
    );
}

fn digest(
    file: &str,
    vcpus: u32,
    vmm: VmmType,
    features: u64,
    boot: Option<DirectBoot<'_>>,
) -> [u8; 48] {
    let ovmf = fixture(file);
    snp_launch_digest(&SnpMeasureInputs {
        ovmf: &ovmf,
        vcpus,
        vcpu_signature: signature_for_cpu_model("EPYC-v4").unwrap(),
        vmm,
        guest_features: features,
        boot,
    })
    .unwrap()
}

const EMPTY: DirectBoot<'static> = DirectBoot {
    kernel: b"",
    initrd: b"",
    cmdline: None,
};

#[test]
fn snp_launch_digest_kats() {
    // §6.1 OVMF-only LD.
    assert_eq!(
        ovmf_digest(&fixture("ovmf_AmdSev_suffix.bin")).unwrap(),
        h(
            "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74"
        )
    );
    let amd = "ovmf_AmdSev_suffix.bin";
    let q = VmmType::Qemu;
    let append = DirectBoot {
        cmdline: Some(b"console=ttyS0 loglevel=7"),
        ..EMPTY
    };
    // (features 0x21, features 0x1) per §6.5 row.
    type Row<'a> = (
        &'a str,
        u32,
        VmmType,
        Option<DirectBoot<'a>>,
        &'a str,
        &'a str,
    );
    let rows: [Row<'_>; 7] = [
        (
            amd,
            1,
            q,
            Some(append),
            "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977",
            "6d287813eb5222d770f75005c664e34c204f385ce832cc2ce7d0d6f354454362f390ef83a92046c042e706363b4b08fa",
        ),
        (
            amd,
            1,
            q,
            Some(EMPTY),
            "329c8ce0972ae52343b64d34a434a86f245dfd74f5ed7aae15d22efc78fb9683632b9b50e4e1d7fa41179ef98a7ef198",
            "ddc5224521617a536ee7ce9dd6224d1b58a8d4fda1c741f3ac99fc4bfa04ba6e9fc98646d4a07a9079397fa3852819b5",
        ),
        (
            amd,
            1,
            q,
            None,
            "e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af9b63f6e8a1674dbf281a9278a4a2ebe0eed9f22adbcd0e2b",
            "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d",
        ),
        (
            amd,
            4,
            q,
            Some(EMPTY),
            "4953b1fb416fa874980e8442b3706d345926d5f38879134e00813c5d7abcbe78eafe7b422907be0b4698e2414a631942",
            "5061fffb019493a903613d56d54b94912a1a2f9e4502385f5c194616753720a92441310ba6c4933de877c36e23046ad5",
        ),
        (
            "ovmf_OvmfX64_suffix.bin",
            1,
            q,
            None,
            "28797ae0afaba4005a81e629acebfb59e6687949d6be44007cd5506823b0dd66f146aaae26ff291eed7b493d8a64c385",
            "da0296de8193586a5512078dcd719eccecbd87e2b825ad4148c44f665dc87df21e5b49e21523a9ad993afdb6a30b4005",
        ),
        (
            amd,
            1,
            VmmType::Ec2,
            Some(EMPTY),
            "0ce9ccc06bab55eebe8abc234f3df6514883977a68a591b71052498ab52b2f1aa415db338033946ef93aa8278c0d67fb",
            "0883bd0eeb716e65b7b977a321c278d1e51b33b5c655fab985443bbcc65c086b9c15e8a0bd8811050dec7e24964e5056",
        ),
        (
            amd,
            1,
            VmmType::Gce,
            Some(EMPTY),
            "",
            "5da7106cf14cf46b1725ebab123eb9e53bd46a1e9f400cd0c08e7827b04b688ea8b4e403c8404efed4397ea5d5d0722e",
        ),
    ];
    for (i, (file, vcpus, vmm, boot, f21, f1)) in rows.iter().enumerate() {
        if !f21.is_empty() {
            assert_eq!(
                digest(file, *vcpus, *vmm, 0x21, *boot),
                h(f21),
                "row {i}, features 0x21"
            );
        }
        assert_eq!(
            digest(file, *vcpus, *vmm, 0x1, *boot),
            h(f1),
            "row {i}, features 0x1"
        );
    }
    assert_eq!(
        digest(amd, 4, VmmType::Gce, 0x1, Some(EMPTY)),
        h(
            "5c5debf100fc339f90276e761ee1f1658d08922c3b20e2a2e6c7a6c3370b2452a15a00eae11886a93d6fd1e7ab81e29d"
        )
    );
}

#[test]
fn kernel_without_hashes_section_and_bad_inputs_are_refused() {
    let x64 = fixture("ovmf_OvmfX64_suffix.bin");
    let mut i = SnpMeasureInputs {
        ovmf: &x64,
        vcpus: 1,
        vcpu_signature: 0x00800F12,
        vmm: VmmType::Qemu,
        guest_features: 1,
        boot: Some(EMPTY),
    };
    assert_eq!(snp_launch_digest(&i), Err(MeasureError::NoKernelHashes));
    i.boot = None;
    i.vcpus = 0;
    assert_eq!(snp_launch_digest(&i), Err(MeasureError::Vcpus(0)));
    i.vcpus = 1;
    i.ovmf = &x64[..4000];
    assert!(snp_launch_digest(&i).is_err());
}
