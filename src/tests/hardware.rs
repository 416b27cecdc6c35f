//! A real AMD SEV host: the same launch the model tests run, through the KVM transport on
//! `/dev/sev` and an SEV-enabled KVM. On a host without them (CI, most machines) every test
//! here prints why it skips and returns; on an EPYC host with SEV enabled it runs for real.
//! The same checks also run on the firmware model, so their logic is exercised everywhere.

use sev::api::{Guest, Platform};
use sev::certs::{SevCert, Usage};
use sev::owner::{FirmwareVersion, Session};

/// `Some(reason)` when this host cannot run a real SEV launch.
fn no_sev_host() -> Option<String> {
    if !std::path::Path::new("/dev/sev").exists() {
        return Some("/dev/sev is absent (no AMD Secure Processor driver)".into());
    }
    if !std::path::Path::new("/dev/kvm").exists() {
        return Some("/dev/kvm is absent".into());
    }
    let platform = match Platform::kvm() {
        Ok(p) => p,
        Err(e) => return Some(format!("cannot open /dev/sev: {e}")),
    };
    let mut guest = match Guest::new(&platform) {
        Ok(g) => g,
        Err(e) => return Some(format!("cannot create a KVM VM: {e}")),
    };
    match guest.init() {
        Ok(()) => None,
        Err(e) => Some(format!(
            "KVM_SEV_INIT failed, so KVM has no usable SEV: {e}"
        )),
    }
}

/// Page-aligned guest memory.
struct Mem {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Mem {
    fn new(len: usize) -> Mem {
        let layout = std::alloc::Layout::from_size_align(len, 4096).expect("layout");
        // SAFETY: the size is not zero.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Mem { ptr, layout }
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

fn check_exported_chain(platform: &Platform) {
    let status = platform.status().expect("PLATFORM_STATUS");
    assert!(status.state <= 2, "platform state {}", status.state);
    let (pdh, chain) = platform.pdh_cert_export().expect("PDH_CERT_EXPORT");
    let pdh = SevCert::from_bytes(&pdh).expect("PDH");
    let pek = SevCert::from_bytes(&chain[..0x824]).expect("PEK");
    let oca = SevCert::from_bytes(&chain[0x824..0x1048]).expect("OCA");
    let oca_key = oca.check_body(Usage::OCA).expect("OCA body");
    oca.verify_ecdsa(Usage::OCA, &oca_key)
        .expect("OCA self-signature");
    pek.verify_ecdsa(Usage::OCA, &oca_key)
        .expect("PEK signed by the OCA");
    let pek_key = pek.check_body(Usage::PEK).expect("PEK body");
    pdh.verify_ecdsa(Usage::PEK, &pek_key)
        .expect("PDH signed by the PEK");
    assert_eq!(platform.get_id().expect("GET_ID").len() % 64, 0);
}

fn check_owner_launch(platform: &Platform) {
    let status = platform.status().expect("PLATFORM_STATUS");
    let (pdh, _chain) = platform.pdh_cert_export().expect("PDH_CERT_EXPORT");
    let pdh = SevCert::from_bytes(&pdh).expect("PDH");
    let policy = 0x0000_0001; // NODBG, as QEMU's default
    let mut owner = Session::new(&pdh, policy).expect("owner session");
    let godh = owner.godh().expect("GODH").as_bytes().to_vec();
    let blob = owner.blob().expect("blob").to_vec();

    let mut guest = Guest::new(platform).expect("VM");
    guest.init().expect("KVM_SEV_INIT");
    guest
        .launch_start(policy, 0, Some(&godh), Some(&blob))
        .expect("LAUNCH_START");
    let mem = Mem::new(64 * 1024);
    // SAFETY: `mem` is 64 KiB of writable memory owned by this test.
    let image = unsafe { std::slice::from_raw_parts_mut(mem.ptr, 64 * 1024) };
    for (i, b) in image.iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    owner.measure_update(image).expect("owner digest");
    // SAFETY: the range is this test's memory and nothing else touches it during the call.
    unsafe { guest.launch_update_data(mem.ptr, 64 * 1024) }.expect("LAUNCH_UPDATE_DATA");
    let measurement = guest.launch_measure().expect("LAUNCH_MEASURE");
    let version = FirmwareVersion {
        major: status.api_major,
        minor: status.api_minor,
        build: status.build,
    };
    owner
        .verify_measurement(version, &measurement)
        .expect("the owner verifies the real firmware's measurement");
    guest.launch_finish().expect("LAUNCH_FINISH");
    assert_eq!(guest.status().expect("GUEST_STATUS").state, 3, "RUNNING");
}

#[test]
fn real_platform_exports_a_chain_whose_signatures_verify() {
    if let Some(why) = no_sev_host() {
        eprintln!("SKIP: {why}");
        return;
    }
    check_exported_chain(&Platform::kvm().expect("open /dev/sev"));
}

#[test]
fn real_launch_with_an_owner_session_measures_and_finishes() {
    if let Some(why) = no_sev_host() {
        eprintln!("SKIP: {why}");
        return;
    }
    check_owner_launch(&Platform::kvm().expect("open /dev/sev"));
}

#[test]
fn the_same_checks_pass_on_the_firmware_model() {
    let platform = Platform::emulated(sev::model::ModelConfig::default()).expect("model");
    check_exported_chain(&platform);
    check_owner_launch(&platform);
}
