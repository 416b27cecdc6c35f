//! End to end: the guest owner's code (`sev::owner`, `sev::certs::chain`) against the built-in
//! firmware model through the safe API (`sev::api`). The owner side and the model implement
//! the session, measurement and secret formulas independently; these tests pass only if the
//! two agree byte for byte.

use sev::api::{Guest, Platform};
use sev::certs::chain::{Chain, Link, VerifiedChain, VerifyOptions};
use sev::certs::roots::RootKind;
use sev::model::ModelConfig;
use sev::owner::{FirmwareVersion, SecretOptions, Session, verify_report};
use sev::status::{Status, fw};

const ALLOW_TEST_ROOT: VerifyOptions = VerifyOptions {
    allow_test_root: true,
    supplied_root: None,
};

/// Page-aligned guest memory.
struct Mem {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Mem {
    fn new(len: usize) -> Mem {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Mem { ptr, layout }
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: `layout.size()` bytes allocated and initialised by alloc_zeroed.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

fn model() -> Platform {
    Platform::emulated(ModelConfig::default()).expect("model platform")
}

/// A guest initialised for SEV, and the platform's chain as a guest owner would obtain it:
/// PDH_CERT_EXPORT plus the KDS-signed CEK and ASK ‖ ARK.
fn guest_and_chain(p: &Platform) -> (Guest, Chain) {
    let mut g = Guest::new(p).expect("guest");
    g.init().expect("INIT");
    let (pdh, plat) = p.pdh_cert_export().expect("PDH_CERT_EXPORT");
    let m = p.model().expect("model");
    let chain = Chain::from_parts(&pdh, &plat, &m.amd_ask_ark())
        .and_then(|c| c.with_cek(&m.cek_signed()))
        .expect("chain layout");
    (g, chain)
}

fn version(p: &Platform) -> FirmwareVersion {
    let st = p.status().expect("PLATFORM_STATUS");
    FirmwareVersion::new(st.api_major, st.api_minor, st.build)
}

#[test]
fn models_chain_verifies_only_with_the_test_root_allowed() {
    let p = model();
    let (_g, chain) = guest_and_chain(&p);
    let r = chain.verify(VerifyOptions::default());
    for l in &r.links {
        assert!(l.result.is_ok(), "{}: {:?}", l.link.name(), l.result);
    }
    assert_eq!(r.root, RootKind::TestOnly);
    assert_eq!(
        r.check().unwrap_err().status,
        Status::LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED
    );
    let v = chain.verified(ALLOW_TEST_ROOT).unwrap();
    assert_eq!(v.root, RootKind::TestOnly);
    // The exported CEK alone is unsigned: the owner must use the key server's.
    let (pdh, plat) = p.pdh_cert_export().unwrap();
    let m = p.model().unwrap();
    let raw = Chain::from_parts(&pdh, &plat, &m.amd_ask_ark()).unwrap();
    let r = raw.verify(ALLOW_TEST_ROOT);
    assert_eq!(r.failed_link().unwrap().link, Link::CekByAsk);
}

/// The image byte at offset `i`.
fn image_byte(i: usize) -> u8 {
    (i * 31 % 251) as u8
}

/// LAUNCH_START with a fresh owner session, then LAUNCH_UPDATE_DATA over `mem` (in two calls)
/// while the owner measures the same plaintext.
fn launch(g: &mut Guest, chain: &VerifiedChain, policy: u32, mem: &mut Mem) -> Session {
    let mut s = Session::for_chain(chain, policy).unwrap();
    g.launch_start(
        policy,
        0,
        Some(s.godh().unwrap().as_bytes()),
        Some(s.blob().unwrap()),
    )
    .expect("LAUNCH_START accepts the owner's session");
    // The owner measures the plaintext the hypervisor is about to encrypt, in order.
    for (i, b) in mem.bytes_mut().iter_mut().enumerate() {
        *b = image_byte(i);
    }
    let half = mem.bytes().len() / 2;
    s.measure_update(&mem.bytes()[..half]).unwrap();
    s.measure_update(&mem.bytes()[half..]).unwrap();
    // SAFETY: the buffer is ours, mapped and not otherwise accessed during the calls.
    unsafe {
        g.launch_update_data(mem.ptr, half)
            .expect("LAUNCH_UPDATE_DATA");
        g.launch_update_data(mem.ptr.add(half), half)
            .expect("LAUNCH_UPDATE_DATA");
    }
    s
}

#[test]
fn owner_session_measurement_and_secret_against_the_model() {
    let p = model();
    let (mut g, chain) = guest_and_chain(&p);
    let v = chain.verified(ALLOW_TEST_ROOT).unwrap();
    let policy = 0; // NODBG clear, so the test can read the secret back with DBG_DECRYPT
    let mut mem = Mem::new(4 * 4096);
    let mut s = launch(&mut g, &v, policy, &mut mem);
    let image: Vec<u8> = (0..mem.bytes().len()).map(image_byte).collect();
    assert_ne!(mem.bytes(), &image[..], "the host sees only ciphertext");

    let m = g.launch_measure().expect("LAUNCH_MEASURE");
    let ver = version(&p);
    // A wrong version is a mismatch that reports the expected value.
    let wrong = FirmwareVersion::new(ver.major, ver.minor, ver.build.wrapping_add(1));
    let e = s.verify_measurement(wrong, &m).unwrap_err();
    assert_eq!(e.status(), Status::LIBSEV_STATUS_MEASUREMENT_MISMATCH);
    assert!(e.expected().is_some());
    s.verify_measurement(ver, &m)
        .expect("the model's measurement verifies");

    // The secret lands in guest memory, encrypted with the guest key.
    let secret: Vec<u8> = (0..64u8).map(|i| i ^ 0xA5).collect();
    let pkt = s.package_secret(&secret, SecretOptions::default()).unwrap();
    let target = 4096;
    // SAFETY: the target range is inside our buffer.
    unsafe {
        g.launch_secret(
            &pkt.header,
            mem.ptr.add(target),
            pkt.ciphertext.len(),
            &pkt.ciphertext,
        )
        .expect("LAUNCH_SECRET accepts the owner's packet");
    }
    assert_ne!(&mem.bytes()[target..target + 64], &secret[..]);
    let mut out = vec![0u8; 64];
    // SAFETY: both ranges are ours.
    unsafe { g.dbg_decrypt(mem.ptr.add(target), out.as_mut_ptr(), 64) }.expect("DBG_DECRYPT");
    assert_eq!(out, secret, "the secret arrived");

    // A tampered packet is refused by the firmware's MAC check.
    let mut bad = pkt.clone();
    bad.ciphertext[0] ^= 1;
    // SAFETY: as above.
    let e = unsafe { g.launch_secret(&bad.header, mem.ptr.add(target), 64, &bad.ciphertext) }
        .unwrap_err();
    assert_eq!(e.fw_error, fw::BAD_MEASUREMENT, "{}", e.message);

    // The attestation report verifies with the chain's PEK and carries our digest.
    let mnonce = [0x42u8; 16];
    let report = g.attestation_report(mnonce).expect("ATTESTATION");
    let a = verify_report(&report, &v).expect("report signed by the PEK");
    assert_eq!(a.mnonce, mnonce);
    assert_eq!(a.launch_digest, s.launch_digest());
    assert_eq!(a.policy, policy);

    g.launch_finish().expect("LAUNCH_FINISH");
}

#[test]
fn session_state_exported_to_another_process_still_verifies() {
    let p = model();
    let (mut g, chain) = guest_and_chain(&p);
    let v = chain.verified(ALLOW_TEST_ROOT).unwrap();
    let mut mem = Mem::new(4096);
    let s = launch(&mut g, &v, 0, &mut mem);
    let state = s.export_state();
    let digest = s.launch_digest();
    drop(s);
    let mut t = Session::import_state(&state).unwrap();
    t.set_launch_digest(digest).unwrap();
    let m = g.launch_measure().unwrap();
    t.verify_measurement(version(&p), &m).unwrap();
    let pkt = t
        .package_secret(b"exported-session", SecretOptions::default())
        .unwrap();
    // SAFETY: inside our buffer.
    unsafe { g.launch_secret(&pkt.header, mem.ptr, 16, &pkt.ciphertext) }.unwrap();
}

#[test]
fn a_session_for_another_platform_is_refused() {
    let a = model();
    let b = model();
    let (mut ga, _) = guest_and_chain(&a);
    let (_gb, chain_b) = guest_and_chain(&b);
    let vb = chain_b.verified(ALLOW_TEST_ROOT).unwrap();
    let s = Session::for_chain(&vb, 0).unwrap();
    let e = ga
        .launch_start(
            0,
            0,
            Some(s.godh().unwrap().as_bytes()),
            Some(s.blob().unwrap()),
        )
        .unwrap_err();
    assert_eq!(e.fw_error, fw::BAD_MEASUREMENT, "{}", e.message);
    assert_eq!(e.status, Status::LIBSEV_STATUS_FW_BAD_MEASUREMENT);
}

#[test]
fn a_session_for_another_policy_is_refused() {
    let p = model();
    let (mut g, chain) = guest_and_chain(&p);
    let v = chain.verified(ALLOW_TEST_ROOT).unwrap();
    let s = Session::for_chain(&v, 0x1).unwrap();
    let e = g
        .launch_start(
            0x0,
            0,
            Some(s.godh().unwrap().as_bytes()),
            Some(s.blob().unwrap()),
        )
        .unwrap_err();
    assert_eq!(e.fw_error, fw::BAD_MEASUREMENT, "{}", e.message);
}

#[test]
fn a_different_image_does_not_verify_and_gets_no_secret() {
    let p = model();
    let (mut g, chain) = guest_and_chain(&p);
    let v = chain.verified(ALLOW_TEST_ROOT).unwrap();
    let mut mem = Mem::new(4096);
    let mut s = launch(&mut g, &v, 0, &mut mem);
    // The owner expected one more byte than the hypervisor loaded.
    s.measure_update(&[0]).unwrap();
    let m = g.launch_measure().unwrap();
    let e = s.verify_measurement(version(&p), &m).unwrap_err();
    assert_eq!(e.status(), Status::LIBSEV_STATUS_MEASUREMENT_MISMATCH);
    assert_eq!(
        s.package_secret(&[0; 16], SecretOptions::default())
            .unwrap_err()
            .status,
        Status::LIBSEV_STATUS_INVALID_STATE
    );
}
