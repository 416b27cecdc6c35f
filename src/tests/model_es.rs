//! SEV-ES launches on the firmware model with real KVM vCPUs (this host's `/dev/kvm`, which
//! needs no SEV): the hypervisor side sets each vCPU's reset registers with KVM ioctls and
//! hands the vCPU fds to libsev; the owner side computes the expected digest independently
//! from the same inputs (image, vCPU count, CPU model, VMM, INIT profile). They must agree.
//! Tests that need `/dev/kvm` or Debian's OVMF skip at run time, saying why.

use sev::api::{Guest, Platform};
use sev::model::ModelConfig;
use sev::owner::Session;
use sev::owner::es::{DirectBoot, EsLaunchInputs, Ovmf, es_launch_digest, padded_table};
use sev::owner::measurement::{FirmwareVersion, LaunchDigest};
use sev::status::{Status, fw};
use sev::transport::vcpu::write_vcpu_state;
use sev::uapi::vmsa::{KvmInit, VmmType, reset_state, signature_for_cpu_model};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const POLICY_ES: u32 = 1 << 2;
const OVMF_IMAGES: [&str; 2] = [
    "/usr/share/OVMF/OVMF_CODE.fd",
    "/usr/share/OVMF/OVMF_CODE_4M.fd",
];
const KVM_CREATE_VM: u64 = 0xAE01;
const KVM_CREATE_VCPU: u64 = 0xAE41;

/// A real KVM VM (no SEV) with `n` vCPUs.
struct KvmVm {
    _kvm: OwnedFd,
    _vm: OwnedFd,
    vcpus: Vec<OwnedFd>,
}

fn kvm_vm(n: usize) -> Option<KvmVm> {
    let kvm = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(f) => OwnedFd::from(f),
        Err(e) => {
            eprintln!("skipping: /dev/kvm cannot be opened ({e}); the test needs real vCPUs");
            return None;
        }
    };
    // SAFETY: KVM_CREATE_VM takes the VM type as its argument and returns a new fd.
    let vm = unsafe { libc::ioctl(kvm.as_raw_fd(), KVM_CREATE_VM as _, 0) };
    if vm < 0 {
        eprintln!(
            "skipping: KVM_CREATE_VM failed: {}",
            std::io::Error::last_os_error()
        );
        return None;
    }
    // SAFETY: a new fd we own.
    let vm = unsafe { OwnedFd::from_raw_fd(vm) };
    let vcpus = (0..n)
        .map(|i| {
            // SAFETY: KVM_CREATE_VCPU takes the vCPU id and returns a new fd.
            let fd = unsafe { libc::ioctl(vm.as_raw_fd(), KVM_CREATE_VCPU as _, i) };
            assert!(
                fd >= 0,
                "KVM_CREATE_VCPU {i}: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: a new fd we own.
            unsafe { OwnedFd::from_raw_fd(fd) }
        })
        .collect();
    Some(KvmVm {
        _kvm: kvm,
        _vm: vm,
        vcpus,
    })
}

fn ovmf_images() -> Vec<(&'static str, Vec<u8>)> {
    let v: Vec<_> = OVMF_IMAGES
        .iter()
        .filter_map(|p| std::fs::read(p).ok().map(|b| (*p, b)))
        .collect();
    if v.is_empty() {
        eprintln!("skipping: Debian's OVMF (package ovmf) is not installed");
    }
    v
}

/// Guest memory for the firmware image (page aligned).
struct Mem(Vec<u8>, usize);

impl Mem {
    fn with(data: &[u8]) -> Mem {
        let mut v = vec![0u8; data.len() + 4096];
        let off = v.as_ptr().align_offset(4096);
        v[off..off + data.len()].copy_from_slice(data);
        Mem(v, off)
    }
    fn ptr(&mut self) -> *mut u8 {
        // SAFETY: `off` is within the vector.
        unsafe { self.0.as_mut_ptr().add(self.1) }
    }
}

fn model() -> Platform {
    Platform::emulated(ModelConfig::default()).expect("model platform")
}

/// An SEV-ES guest made as QEMU makes it: `KVM_SEV_ES_INIT` on a default VM, or
/// `KVM_SEV_INIT2` on a `KVM_X86_SEV_ES_VM` (type 3) with `vmsa_features`.
fn es_guest(p: &Platform, init: KvmInit, vmsa_features: u64) -> Guest {
    match init {
        KvmInit::EsInit => {
            let mut g = Guest::new(p).unwrap();
            g.es_init().unwrap();
            g
        }
        KvmInit::Init2 => {
            let vm = p.model().unwrap().create_vm_of_type(3).unwrap();
            let mut g = Guest::with_vm(p, Box::new(vm));
            g.init2(vmsa_features, 0).unwrap();
            g
        }
    }
}

fn version(p: &Platform) -> FirmwareVersion {
    let st = p.status().expect("PLATFORM_STATUS");
    FirmwareVersion::new(st.api_major, st.api_minor, st.build)
}

/// The hypervisor's side of one launch: INIT, LAUNCH_START without a session, the image, the
/// vCPUs (registers set through KVM, fds handed to libsev), LAUNCH_UPDATE_VMSA, MEASURE.
/// Returns the 48-byte measurement and the launch digest the model reports in ATTESTATION.
fn hypervisor_launch(
    p: &Platform,
    image: &[u8],
    vcpus: &[OwnedFd],
    sig: u32,
    vmm: VmmType,
    init: KvmInit,
) -> [u8; 32] {
    let ovmf = Ovmf::parse(image).unwrap();
    let mut g = es_guest(p, init, 0);
    g.launch_start(POLICY_ES, 0, None, None).unwrap();
    let mut mem = Mem::with(image);
    // SAFETY: our buffer, not otherwise used during the call.
    unsafe { g.launch_update_data(mem.ptr(), image.len()) }.unwrap();
    for (i, fd) in vcpus.iter().enumerate() {
        let st = reset_state(vmm, sig, i as u32, ovmf.sev_es_reset_addr());
        write_vcpu_state(fd.as_raw_fd(), &st).unwrap();
        g.add_vcpu_fd(fd.as_raw_fd()).unwrap();
    }
    g.launch_update_vmsa().unwrap();
    g.launch_measure().unwrap();
    let r = g.attestation_report([0; 16]).unwrap();
    // The report carries the launch digest at offset 0x10 (sev-spec §4.10).
    r[0x10..0x30].try_into().unwrap()
}

#[test]
fn owner_digest_agrees_with_the_model_for_debian_ovmf() {
    let images = ovmf_images();
    if images.is_empty() {
        return;
    }
    let Some(kvm) = kvm_vm(64) else { return };
    let p = model();
    let models = ["EPYC-v4", "EPYC-Milan", "EPYC-Genoa"];
    let vmms = [VmmType::Qemu, VmmType::Ec2, VmmType::Gce];
    let mut checked = 0;
    for (path, image) in &images {
        // Every vCPU count 1–64; CPU model and VMM cycle so that every pair appears.
        for n in 1..=64usize {
            let model = models[n % 3];
            let vmm = vmms[(n / 3) % 3];
            let sig = signature_for_cpu_model(model).unwrap();
            let init = if n % 2 == 0 {
                KvmInit::EsInit
            } else {
                KvmInit::Init2
            };
            let got = hypervisor_launch(&p, image, &kvm.vcpus[..n], sig, vmm, init);
            let want = es_launch_digest(&EsLaunchInputs {
                ovmf: image,
                boot: None,
                vcpus: n as u32,
                vcpu_signature: sig,
                vmm,
                init,
                sev_features: 0,
            })
            .unwrap();
            assert_eq!(
                got,
                want,
                "{path}, {n} vCPUs, {model}, {}, {init:?}",
                vmm.name()
            );
            checked += 1;
        }
    }
    eprintln!("{checked} SEV-ES launches on the model matched the owner's digest");
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/testdata/snp/measurement/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// vCPUs for a launch: real KVM vCPUs with their registers set, or (without /dev/kvm) the
/// register-state variant.
fn add_vcpus(g: &mut Guest, kvm: Option<&KvmVm>, n: usize, sig: u32, reset: u32) {
    for i in 0..n {
        let st = reset_state(VmmType::Qemu, sig, i as u32, reset);
        match kvm {
            Some(k) => {
                let fd: RawFd = k.vcpus[i].as_raw_fd();
                write_vcpu_state(fd, &st).unwrap();
                g.add_vcpu_fd(fd).unwrap();
            }
            None => g.add_vcpu_state(&st).unwrap(),
        }
    }
}

/// An owner session over the model's verified chain.
fn session(p: &Platform, policy: u32) -> Session {
    use sev::certs::chain::{Chain, VerifyOptions};
    let (pdh, plat) = p.pdh_cert_export().unwrap();
    let m = p.model().unwrap();
    let chain = Chain::from_parts(&pdh, &plat, &m.amd_ask_ark())
        .and_then(|c| c.with_cek(&m.cek_signed()))
        .unwrap();
    let v = chain
        .verified(VerifyOptions {
            allow_test_root: true,
        })
        .unwrap();
    Session::for_chain(&v, policy).unwrap()
}

#[test]
fn measured_direct_boot_launch_verifies_and_takes_a_secret() {
    let image = fixture("ovmf_AmdSev_suffix.bin");
    let ovmf = Ovmf::parse(&image).unwrap();
    let kvm = kvm_vm(4);
    let p = model();
    let sig = signature_for_cpu_model("EPYC-Milan").unwrap();
    let mut s = session(&p, POLICY_ES);
    let mut g = es_guest(&p, KvmInit::Init2, 0);
    g.launch_start(
        POLICY_ES,
        0,
        Some(s.godh().unwrap().as_bytes()),
        Some(s.blob().unwrap()),
    )
    .unwrap();
    // The hypervisor: the image, then the hashes table (the page is guest memory too).
    let boot = DirectBoot {
        kernel: b"not really a bzImage",
        initrd: b"initrd bytes",
        cmdline: Some(b"console=ttyS0"),
    };
    let mut mem = Mem::with(&image);
    // SAFETY: our buffer.
    unsafe { g.launch_update_data(mem.ptr(), image.len()) }.unwrap();
    let table = padded_table(&boot);
    let mut tmem = Mem::with(&table);
    // SAFETY: our buffer.
    unsafe { g.launch_update_data(tmem.ptr(), table.len()) }.unwrap();
    add_vcpus(&mut g, kvm.as_ref(), 4, sig, ovmf.sev_es_reset_addr());
    g.launch_update_vmsa().unwrap();
    let m = g.launch_measure().unwrap();

    // The owner, from its own copy of the inputs.
    let inputs = EsLaunchInputs {
        ovmf: &image,
        boot: Some(boot),
        vcpus: 4,
        vcpu_signature: sig,
        vmm: VmmType::Qemu,
        init: KvmInit::Init2,
        sev_features: 0,
    };
    // A wrong vCPU count or model is a mismatch.
    for wrong in [
        EsLaunchInputs { vcpus: 3, ..inputs },
        EsLaunchInputs {
            vcpu_signature: signature_for_cpu_model("EPYC-Genoa").unwrap(),
            ..inputs
        },
        EsLaunchInputs {
            init: KvmInit::EsInit,
            ..inputs
        },
    ] {
        s.set_launch_digest(es_launch_digest(&wrong).unwrap())
            .unwrap();
        let e = s.verify_measurement(version(&p), &m).unwrap_err();
        assert_eq!(e.status(), Status::LIBSEV_STATUS_MEASUREMENT_MISMATCH);
    }
    s.set_launch_digest(es_launch_digest(&inputs).unwrap())
        .unwrap();
    s.verify_measurement(version(&p), &m)
        .expect("the owner's SEV-ES digest matches the model's launch");

    // The secret, into the hashes-table page's tail, read back with DBG_DECRYPT.
    let secret = *b"disk-key=0123456789abcdef0123456";
    let pkt = s
        .package_secret(&secret, sev::owner::SecretOptions::default())
        .unwrap();
    let at = mem.ptr();
    // SAFETY: inside our buffer.
    unsafe { g.launch_secret(&pkt.header, at, pkt.ciphertext.len(), &pkt.ciphertext) }.unwrap();
    let mut back = [0u8; 32];
    // SAFETY: our buffers.
    unsafe { g.dbg_decrypt(at, back.as_mut_ptr(), 32) }.unwrap();
    assert_eq!(back, secret);
    g.launch_finish().unwrap();
}

#[test]
fn refusals_in_kvm_and_firmware_order() {
    let image = fixture("ovmf_OvmfX64_suffix.bin");
    let ovmf = Ovmf::parse(&image).unwrap();
    let reset = ovmf.sev_es_reset_addr();
    let kvm = kvm_vm(2);
    let p = model();
    let sig = signature_for_cpu_model("EPYC-v4").unwrap();

    // LAUNCH_UPDATE_VMSA on a plain SEV VM: ENOTTY from KVM.
    let mut g = Guest::new(&p).unwrap();
    g.init().unwrap();
    g.launch_start(0, 0, None, None).unwrap();
    let e = g.launch_update_vmsa().unwrap_err();
    assert_eq!(e.os_errno, libc::ENOTTY, "{}", e.message);

    // ES policy on a VM made with KVM_SEV_INIT, and plain policy on KVM_SEV_ES_INIT: the
    // ASID comes from the other range, ACTIVATE refuses it (LAUNCH_START fails, the guest is
    // decommissioned).
    let mut g = Guest::new(&p).unwrap();
    g.init().unwrap();
    let e = g.launch_start(POLICY_ES, 0, None, None).unwrap_err();
    assert_eq!(e.fw_error, fw::INVALID_ASID, "{}", e.message);
    let mut g = Guest::new(&p).unwrap();
    g.es_init().unwrap();
    let e = g.launch_start(0, 0, None, None).unwrap_err();
    assert_eq!(e.fw_error, fw::INVALID_ASID, "{}", e.message);

    // A second LAUNCH_UPDATE_VMSA: the vCPUs' state is protected already (EINVAL).
    let mut g = es_guest(&p, KvmInit::EsInit, 0);
    g.launch_start(POLICY_ES, 0, None, None).unwrap();
    let mut mem = Mem::with(&image);
    // SAFETY: our buffer.
    unsafe { g.launch_update_data(mem.ptr(), image.len()) }.unwrap();
    add_vcpus(&mut g, kvm.as_ref(), 2, sig, reset);
    g.launch_update_vmsa().unwrap();
    let e = g.launch_update_vmsa().unwrap_err();
    assert_eq!(e.os_errno, libc::EINVAL, "{}", e.message);
    // LAUNCH_UPDATE_VMSA after LAUNCH_MEASURE: the firmware's guest state check.
    g.launch_measure().unwrap();
    let mut g2 = es_guest(&p, KvmInit::EsInit, 0);
    g2.launch_start(POLICY_ES, 0, None, None).unwrap();
    g2.add_vcpu_state(&reset_state(VmmType::Qemu, sig, 0, reset))
        .unwrap();
    g2.launch_measure().unwrap();
    let e = g2.launch_update_vmsa().unwrap_err();
    assert_eq!(e.fw_error, fw::INVALID_GUEST_STATE, "{}", e.message);

    // Armed breakpoints: KVM refuses to encrypt the VMSA.
    let mut g = es_guest(&p, KvmInit::EsInit, 0);
    g.launch_start(POLICY_ES, 0, None, None).unwrap();
    let mut st = reset_state(VmmType::Qemu, sig, 0, reset);
    st.dr7 = 0x401;
    g.add_vcpu_state(&st).unwrap();
    let e = g.launch_update_vmsa().unwrap_err();
    assert_eq!(e.os_errno, libc::EINVAL, "{}", e.message);

    // VMSA before any data: the firmware accepts it, but the digest then covers the VMSA
    // first, so the owner's expected launch (data, then VMSAs) does not verify.
    let mut g = es_guest(&p, KvmInit::EsInit, 0);
    g.launch_start(POLICY_ES, 0, None, None).unwrap();
    add_vcpus(&mut g, kvm.as_ref(), 1, sig, reset);
    g.launch_update_vmsa().unwrap();
    let mut mem = Mem::with(&image);
    // SAFETY: our buffer.
    unsafe { g.launch_update_data(mem.ptr(), image.len()) }.unwrap();
    g.launch_measure().unwrap();
    let r = g.attestation_report([0; 16]).unwrap();
    let inputs = EsLaunchInputs {
        ovmf: &image,
        boot: None,
        vcpus: 1,
        vcpu_signature: sig,
        vmm: VmmType::Qemu,
        init: KvmInit::EsInit,
        sev_features: 0,
    };
    assert_ne!(r[0x10..0x30], es_launch_digest(&inputs).unwrap());
    let mut reordered = LaunchDigest::new();
    for page in sev::owner::es::es_vmsa_pages(&inputs).unwrap() {
        reordered.update(&page);
    }
    reordered.update(&image);
    assert_eq!(r[0x10..0x30], reordered.value());

    // vCPU fds: not a vCPU, added twice.
    let mut g = es_guest(&p, KvmInit::EsInit, 0);
    let null = std::fs::File::open("/dev/null").unwrap();
    let e = g.add_vcpu_fd(null.as_raw_fd()).unwrap_err();
    assert_eq!(
        e.status,
        Status::LIBSEV_STATUS_INVALID_ARGUMENT,
        "{}",
        e.message
    );
    let e = g.add_vcpu_fd(-1).unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_BAD_FD, "{}", e.message);
    if let Some(k) = &kvm {
        g.add_vcpu_fd(k.vcpus[0].as_raw_fd()).unwrap();
        let e = g.add_vcpu_fd(k.vcpus[0].as_raw_fd()).unwrap_err();
        assert!(e.message.contains("added already"), "{}", e.message);
    }
}

#[test]
fn init2_vmsa_features_reach_the_vmsa_and_unsupported_ones_are_refused() {
    let image = fixture("ovmf_AmdSev_suffix.bin");
    let ovmf = Ovmf::parse(&image).unwrap();
    let p = model();
    let sig = signature_for_cpu_model("EPYC-v4").unwrap();
    // Only DebugSwap (bit 5) is supported by the model's KVM.
    let vm = p.model().unwrap().create_vm_of_type(3).unwrap();
    let mut g = Guest::with_vm(&p, Box::new(vm));
    let e = g.init2(1 << 7, 0).unwrap_err();
    assert_eq!(e.os_errno, libc::EINVAL, "{}", e.message);
    let mut g = es_guest(&p, KvmInit::Init2, 0x20);
    g.launch_start(POLICY_ES, 0, None, None).unwrap();
    let mut mem = Mem::with(&image);
    // SAFETY: our buffer.
    unsafe { g.launch_update_data(mem.ptr(), image.len()) }.unwrap();
    for i in 0..2 {
        g.add_vcpu_state(&reset_state(
            VmmType::Qemu,
            sig,
            i,
            ovmf.sev_es_reset_addr(),
        ))
        .unwrap();
    }
    g.launch_update_vmsa().unwrap();
    g.launch_measure().unwrap();
    let r = g.attestation_report([0; 16]).unwrap();
    let inputs = EsLaunchInputs {
        ovmf: &image,
        boot: None,
        vcpus: 2,
        vcpu_signature: sig,
        vmm: VmmType::Qemu,
        init: KvmInit::Init2,
        sev_features: 0x20,
    };
    assert_eq!(r[0x10..0x30], es_launch_digest(&inputs).unwrap());
}

#[test]
fn reset_registers_round_trip_through_real_kvm() {
    let Some(kvm) = kvm_vm(2) else { return };
    for vmm in [VmmType::Qemu, VmmType::Ec2, VmmType::Gce] {
        for i in 0..2 {
            let st = reset_state(vmm, 0x00A1_0F10, i, 0x0080_B004);
            let fd = kvm.vcpus[i as usize].as_raw_fd();
            write_vcpu_state(fd, &st).unwrap();
            let back = sev::transport::vcpu::read_vcpu_state(fd).unwrap();
            assert_eq!(back, st, "{} vCPU {i}", vmm.name());
        }
    }
}
