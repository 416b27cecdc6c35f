//! Tests of the API layer: the kernel struct layouts it relies on, the length-query logic
//! against fake transports that behave like the kernel, `LIBSEV_PLATFORM` parsing, and the
//! real KVM path on this host (skipped at run time when `/dev/kvm` is absent).

use super::*;
use crate::status::{Command, Status, fw};
use crate::transport::kvm::{fd_is_open, probe_vm_fd};
use crate::transport::{Backend, Errno, PlatformTransport, VmTransport};
use crate::uapi::*;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

// ---- fakes that answer like the kernel ---------------------------------------------------

/// A `/dev/sev` that answers length queries the way the PSP driver does (EIO + fw 4 + the
/// length written back) and fills outputs with a recognisable pattern; or, with `fail_fw`,
/// fails every command with that firmware status.
struct FakePlatform {
    calls: AtomicUsize,
    fail_fw: u32,
}

fn pattern(tag: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(7) ^ tag).collect()
}

/// # Safety
/// `addr` must point to `data.len()` writable bytes.
unsafe fn put(addr: u64, data: &[u8]) {
    // SAFETY: forwarded contract.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, data.len()) };
}

impl PlatformTransport for FakePlatform {
    unsafe fn sev_issue_cmd(&self, cmd: &mut sev_issue_cmd) -> Result<(), Errno> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_fw != 0 {
            cmd.error = self.fail_fw;
            return Err(libc::EIO);
        }
        let data = cmd.data;
        match cmd.cmd {
            sev_user_cmd::PEK_CSR => {
                // SAFETY: the API passes a live sev_user_data_pek_csr for PEK_CSR.
                let d = unsafe { &mut *(data as *mut sev_user_data_pek_csr) };
                if d.address == 0 || (d.length as usize) < sizes::SEV_CERT {
                    d.length = sizes::SEV_CERT as u32;
                    cmd.error = fw::INVALID_LENGTH;
                    return Err(libc::EIO);
                }
                // SAFETY: address holds `length` >= 0x824 writable bytes.
                unsafe { put(d.address, &pattern(1, sizes::SEV_CERT)) };
                d.length = sizes::SEV_CERT as u32;
                Ok(())
            }
            sev_user_cmd::PDH_CERT_EXPORT => {
                // SAFETY: the API passes a live sev_user_data_pdh_cert_export.
                let d = unsafe { &mut *(data as *mut sev_user_data_pdh_cert_export) };
                if d.pdh_cert_address == 0
                    || d.cert_chain_address == 0
                    || (d.pdh_cert_len as usize) < sizes::SEV_CERT
                    || (d.cert_chain_len as usize) < sizes::CERT_CHAIN
                {
                    d.pdh_cert_len = sizes::SEV_CERT as u32;
                    d.cert_chain_len = sizes::CERT_CHAIN as u32;
                    cmd.error = fw::INVALID_LENGTH;
                    return Err(libc::EIO);
                }
                // SAFETY: both buffers are at least as long as written.
                unsafe {
                    put(d.pdh_cert_address, &pattern(2, sizes::SEV_CERT));
                    put(d.cert_chain_address, &pattern(3, sizes::CERT_CHAIN));
                }
                Ok(())
            }
            sev_user_cmd::GET_ID2 => {
                // SAFETY: the API passes a live sev_user_data_get_id2.
                let d = unsafe { &mut *(data as *mut sev_user_data_get_id2) };
                if d.address == 0 || (d.length as usize) < sizes::CHIP_ID {
                    d.length = sizes::CHIP_ID as u32;
                    cmd.error = fw::INVALID_LENGTH;
                    return Err(libc::EIO);
                }
                // SAFETY: address holds >= 64 writable bytes.
                unsafe { put(d.address, &pattern(4, sizes::CHIP_ID)) };
                d.length = sizes::CHIP_ID as u32;
                Ok(())
            }
            sev_user_cmd::PLATFORM_STATUS => {
                // SAFETY: the API passes a live sev_user_data_status.
                let d = unsafe { &mut *(data as *mut sev_user_data_status) };
                *d = sev_user_data_status {
                    api_major: 1,
                    api_minor: 55,
                    state: 2,
                    flags: 0x101,
                    build: 25,
                    guest_count: 3,
                };
                Ok(())
            }
            _ => Err(libc::EINVAL),
        }
    }
    fn sev_fd(&self) -> RawFd {
        42
    }
    fn backend(&self) -> Backend {
        Backend::Model
    }
    fn create_vm(self: Arc<Self>) -> Result<Box<dyn VmTransport>, Errno> {
        Ok(Box::new(FakeVm::default()))
    }
    fn attach_vm(self: Arc<Self>, _vm_fd: RawFd) -> Result<Box<dyn VmTransport>, Errno> {
        Ok(Box::new(FakeVm::default()))
    }
}

/// A VM that answers the guest length queries like KVM + firmware, and records each command
/// (id, sev_fd, and for LAUNCH_UPDATE_DATA the (uaddr, len) pair).
/// One recorded command: (id, sev_fd, uaddr, len).
type Rec = (u32, u32, u64, u32);

#[derive(Default)]
struct FakeVm {
    log: Arc<Mutex<Vec<Rec>>>,
    fail_fw: u32,
}

impl VmTransport for FakeVm {
    unsafe fn encrypt_op(&self, cmd: &mut kvm_sev_cmd) -> Result<(), Errno> {
        let mut rec = (cmd.id, cmd.sev_fd, 0u64, 0u32);
        let r = (|| {
            if self.fail_fw != 0 {
                cmd.error = self.fail_fw;
                return Err(libc::EIO);
            }
            match cmd.id {
                kvm_cmd::LAUNCH_MEASURE => {
                    // SAFETY: the API passes a live kvm_sev_launch_measure.
                    let d = unsafe { &mut *(cmd.data as *mut kvm_sev_launch_measure) };
                    rec.3 = d.len;
                    if d.len == 0 {
                        d.len = 48;
                        cmd.error = fw::INVALID_LENGTH;
                        return Err(libc::EIO);
                    }
                    // SAFETY: uaddr holds `len` >= 48 writable bytes.
                    unsafe { put(d.uaddr, &pattern(5, 48)) };
                    d.len = 48;
                    Ok(())
                }
                kvm_cmd::GET_ATTESTATION_REPORT => {
                    // SAFETY: the API passes a live kvm_sev_attestation_report.
                    let d = unsafe { &mut *(cmd.data as *mut kvm_sev_attestation_report) };
                    if d.len == 0 {
                        d.len = 0xD0;
                        cmd.error = fw::INVALID_LENGTH;
                        return Err(libc::EIO);
                    }
                    let mut rep = pattern(6, 0xD0);
                    rep[..16].copy_from_slice(&d.mnonce);
                    // SAFETY: uaddr holds >= 0xD0 writable bytes.
                    unsafe { put(d.uaddr, &rep) };
                    Ok(())
                }
                kvm_cmd::SEND_START => {
                    // SAFETY: the API passes a live kvm_sev_send_start.
                    let d = unsafe { &mut *(cmd.data as *mut kvm_sev_send_start) };
                    if d.session_len == 0 {
                        d.session_len = 128;
                        cmd.error = fw::INVALID_LENGTH;
                        return Err(libc::EIO);
                    }
                    // SAFETY: session holds >= 128 writable bytes.
                    unsafe { put(d.session_uaddr, &pattern(7, 128)) };
                    d.policy = 0x5;
                    Ok(())
                }
                kvm_cmd::SEND_UPDATE_DATA => {
                    // SAFETY: the API passes a live kvm_sev_send_update_data.
                    let d = unsafe { &mut *(cmd.data as *mut kvm_sev_send_update_data) };
                    if d.hdr_len == 0 || d.trans_len == 0 {
                        d.hdr_len = 52;
                        cmd.error = fw::INVALID_LENGTH;
                        return Err(libc::EIO);
                    }
                    // SAFETY: hdr holds >= 52 bytes, trans >= guest_len (checked below).
                    if d.trans_len < d.guest_len {
                        cmd.error = fw::INVALID_LENGTH;
                        return Err(libc::EIO);
                    }
                    // SAFETY: as above.
                    unsafe {
                        put(d.hdr_uaddr, &pattern(8, 52));
                        put(d.trans_uaddr, &pattern(9, d.guest_len as usize));
                    }
                    Ok(())
                }
                kvm_cmd::LAUNCH_UPDATE_DATA => {
                    // SAFETY: the API passes a live kvm_sev_launch_update_data; the fake does
                    // not touch the memory it names.
                    let d = unsafe { &*(cmd.data as *const kvm_sev_launch_update_data) };
                    rec.2 = d.uaddr;
                    rec.3 = d.len;
                    Ok(())
                }
                kvm_cmd::INIT => Ok(()),
                _ => Err(libc::EINVAL),
            }
        })();
        self.log.lock().unwrap().push(rec);
        r
    }
    unsafe fn register_region(&self, _region: &kvm_enc_region) -> Result<(), Errno> {
        Ok(())
    }
    fn unregister_region(&self, _region: &kvm_enc_region) -> Result<(), Errno> {
        Err(libc::EINVAL)
    }
    fn vm_fd(&self) -> RawFd {
        -1
    }
}

fn fake_platform(fail_fw: u32) -> (Platform, Arc<FakePlatform>) {
    let f = Arc::new(FakePlatform {
        calls: AtomicUsize::new(0),
        fail_fw,
    });
    (Platform::from_transport(f.clone()), f)
}

#[test]
fn platform_length_queries_take_two_calls_and_return_the_bytes() {
    let (p, f) = fake_platform(0);
    let csr = p.pek_csr().unwrap();
    assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    assert_eq!(csr, pattern(1, sizes::SEV_CERT));

    let (pdh, chain) = p.pdh_cert_export().unwrap();
    assert_eq!(f.calls.load(Ordering::SeqCst), 4);
    assert_eq!(pdh, pattern(2, sizes::SEV_CERT));
    assert_eq!(chain, pattern(3, sizes::CERT_CHAIN));

    let id = p.get_id().unwrap();
    assert_eq!(f.calls.load(Ordering::SeqCst), 6);
    assert_eq!(id, pattern(4, sizes::CHIP_ID));

    let st = p.status().unwrap();
    assert_eq!(
        st,
        PlatformStatus {
            api_major: 1,
            api_minor: 55,
            build: 25,
            state: 2,
            owned_externally: true,
            config_es: true,
            guest_count: 3,
        }
    );
}

#[test]
fn a_real_firmware_failure_on_the_query_is_reported_once() {
    let (p, f) = fake_platform(fw::INVALID_PLATFORM_STATE);
    let e = p.pek_csr().unwrap_err();
    assert_eq!(
        f.calls.load(Ordering::SeqCst),
        1,
        "no second call after a real failure"
    );
    assert_eq!(e.status, Status::LIBSEV_STATUS_FW_INVALID_PLATFORM_STATE);
    assert_eq!(e.os_errno, libc::EIO);
    assert_eq!(e.fw_error, 1);
    assert_eq!(e.command, Command::LIBSEV_CMD_PEK_CSR);
    assert!(
        e.message.contains("INVALID_PLATFORM_STATE"),
        "{}",
        e.message
    );
    // The same for a guest command.
    let (p, _) = fake_platform(0);
    let mut g = Guest::with_vm(
        &p,
        Box::new(FakeVm {
            fail_fw: fw::INVALID_PLATFORM_STATE,
            ..Default::default()
        }),
    );
    let e = g.launch_measure().unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_FW_INVALID_PLATFORM_STATE);
    assert_eq!((e.os_errno, e.fw_error), (libc::EIO, 1));
}

#[test]
fn outputs_of_known_size_take_one_call_and_short_buffers_only_the_query() {
    let (p, _) = fake_platform(0);
    let vm = FakeVm::default();
    let log = vm.log.clone();
    let mut g = Guest::with_vm(&p, Box::new(vm));

    // A short buffer: only the length query, nothing written.
    let mut short = [0xEEu8; 47];
    assert_eq!(
        g.launch_measure_into(&mut short).unwrap(),
        crate::api::Fetched::TooSmall(48)
    );
    assert_eq!(short, [0xEE; 47]);
    {
        let l = log.lock().unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].0, l[0].3), (kvm_cmd::LAUNCH_MEASURE, 0), "the query");
    }

    // Big enough: one call, straight into the buffer, with the output's own size.
    let mut big = [0u8; 100];
    assert_eq!(
        g.launch_measure_into(&mut big).unwrap(),
        crate::api::Fetched::Written(48)
    );
    assert_eq!(big[..48].to_vec(), pattern(5, 48));
    assert_eq!(big[48..], [0; 52], "nothing beyond the output");
    {
        let l = log.lock().unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!((l[1].0, l[1].3), (kvm_cmd::LAUNCH_MEASURE, 48));
        assert!(
            l.iter().all(|r| r.1 == 42),
            "sev_fd comes from the platform"
        );
    }
    let m = g.launch_measure().unwrap();
    assert_eq!(m.to_vec(), pattern(5, 48));
    assert_eq!(log.lock().unwrap().len(), 3, "one call");

    let nonce = [0xAB; 16];
    let rep = g.attestation_report(nonce).unwrap();
    assert_eq!(rep.len(), 0xD0);
    assert_eq!(&rep[..16], &nonce);
    assert_eq!(log.lock().unwrap().len(), 4, "one call");

    let (session, policy) = g.send_start(&[1; 8], &[2; 8], &[3; 8]).unwrap();
    assert_eq!(session, pattern(7, 128));
    assert_eq!(policy, 5);
    assert_eq!(log.lock().unwrap().len(), 5, "one call");

    let guest = [0u8; 64];
    let mut hdr = [0u8; 52];
    let mut trans = [0u8; 64];
    // SAFETY: `guest` is 64 readable bytes.
    unsafe { g.send_update_data(guest.as_ptr(), 64, &mut hdr, &mut trans) }.unwrap();
    assert_eq!(hdr.to_vec(), pattern(8, 52));
    assert_eq!(trans.to_vec(), pattern(9, 64));
    // SAFETY: as above.
    unsafe { g.send_update_data(guest.as_ptr(), 64, &mut hdr, &mut trans) }.unwrap();
    // query + 2 sends: the header length is queried once.
    assert_eq!(log.lock().unwrap().len(), 8);
    // A header buffer shorter than the header is refused before any call.
    let mut short_hdr = [0u8; 51];
    // SAFETY: as above.
    let e =
        unsafe { g.send_update_data(guest.as_ptr(), 64, &mut short_hdr, &mut trans) }.unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_BUFFER_TOO_SMALL);
    assert_eq!(log.lock().unwrap().len(), 8);
}

#[test]
fn obvious_caller_errors_are_refused_before_any_ioctl() {
    let (p, _) = fake_platform(0);
    let vm = FakeVm::default();
    let log = vm.log.clone();
    let mut g = Guest::with_vm(&p, Box::new(vm));
    // SAFETY: NULL is refused before use.
    let e = unsafe { g.launch_update_data(std::ptr::null_mut(), 16) }.unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    assert_eq!(e.command, Command::LIBSEV_CMD_LAUNCH_UPDATE_DATA);
    let mut dst = [0u8; 16];
    // SAFETY: NULL is refused before use.
    let e = unsafe { g.dbg_decrypt(std::ptr::null(), dst.as_mut_ptr(), 16) }.unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    assert!(log.lock().unwrap().is_empty());
    // Alignment is the firmware's business: an unaligned length reaches the transport.
    let mut buf = [0u8; 32];
    // SAFETY: 17 of the 32 bytes are named; the fake does not touch them anyway.
    unsafe { g.launch_update_data(buf.as_mut_ptr(), 17) }.unwrap();
    assert_eq!(log.lock().unwrap()[0].3, 17);
}

#[test]
fn zero_length_update_is_issued_and_large_ranges_are_split() {
    let (p, _) = fake_platform(0);
    let vm = FakeVm::default();
    let log = vm.log.clone();
    let mut g = Guest::with_vm(&p, Box::new(vm));
    let mut buf = [0u8; 16];
    // SAFETY: zero bytes named.
    unsafe { g.launch_update_data(buf.as_mut_ptr(), 0) }.unwrap();
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "len 0 still goes to the kernel"
    );
    if usize::BITS > 32 {
        log.lock().unwrap().clear();
        let len = (1usize << 32) + 48;
        // The range is checked mapped and writable before the first piece: reserve address
        // space for it (never touched, so never populated).
        // SAFETY: a fresh private anonymous mapping, unmapped below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        let base = base.cast::<u8>();
        // SAFETY: the fake VM records the (uaddr, len) pairs without touching the memory.
        unsafe { g.launch_update_data(base, len) }.unwrap();
        // SAFETY: the mapping made above.
        unsafe { libc::munmap(base.cast(), len) };
        let l = log.lock().unwrap();
        let pieces: Vec<(u64, u32)> = l.iter().map(|r| (r.2, r.3)).collect();
        let b = base as u64;
        assert_eq!(
            pieces,
            vec![(b, 1 << 31), (b + (1 << 31), 1 << 31), (b + (1 << 32), 48)]
        );
    }
}

#[test]
fn platform_env_values() {
    assert!(matches!(PlatformSpec::parse(None), Ok(PlatformSpec::Kvm)));
    assert!(matches!(
        PlatformSpec::parse(Some("kvm")),
        Ok(PlatformSpec::Kvm)
    ));
    assert!(matches!(
        PlatformSpec::parse(Some("")),
        Ok(PlatformSpec::Kvm)
    ));
    match PlatformSpec::parse(Some("emulated")).unwrap() {
        PlatformSpec::Emulated(c) => assert!(c.state_dir.is_none()),
        other => panic!("{other:?}"),
    }
    match PlatformSpec::parse(Some("emulated:some/dir")).unwrap() {
        PlatformSpec::Emulated(c) => {
            assert_eq!(
                c.state_dir.as_deref(),
                Some(std::path::Path::new("some/dir"))
            )
        }
        other => panic!("{other:?}"),
    }
    for bad in ["garbage", "KVM", "emulated:", "emulatedx"] {
        let e = PlatformSpec::parse(Some(bad)).unwrap_err();
        assert_eq!(e.status, Status::LIBSEV_STATUS_MODEL_CONFIG, "{bad}");
        assert!(
            e.message.contains("LIBSEV_PLATFORM"),
            "{bad}: {}",
            e.message
        );
    }
}

#[test]
fn kvm_without_sev_refuses_platform_commands_clearly() {
    let p = Platform::kvm_without_sev();
    assert_eq!(p.backend(), Backend::Kvm);
    let e = p.status().unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_NO_DEVICE);
    assert_eq!(e.os_errno, libc::ENODEV);
    assert_eq!(e.command, Command::LIBSEV_CMD_PLATFORM_STATUS);
    assert!(e.message.contains("without /dev/sev"), "{}", e.message);
    assert!(
        e.message.contains("LIBSEV_PLATFORM=emulated"),
        "{}",
        e.message
    );
}

#[test]
fn missing_dev_sev_gives_no_device_with_a_hint_and_no_fallback() {
    if std::path::Path::new("/dev/sev").exists() {
        eprintln!("SKIP: this host has /dev/sev; the absent-device path cannot be tested");
        return;
    }
    let e = Platform::kvm().unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_NO_DEVICE);
    assert_eq!(e.os_errno, libc::ENOENT);
    assert!(e.message.contains("/dev/sev"), "{}", e.message);
    assert!(
        e.message.contains("LIBSEV_PLATFORM=emulated"),
        "{}",
        e.message
    );
}

/// The real kernel: a VM from kvm-ioctls, attached (borrowed), `INIT` on a KVM without SEV.
#[test]
fn real_kvm_init_on_an_attached_vm_without_sev() {
    if !std::path::Path::new("/dev/kvm").exists() {
        eprintln!("SKIP: /dev/kvm is absent on this host");
        return;
    }
    let kvm = match kvm_ioctls::Kvm::new() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("SKIP: cannot open /dev/kvm: {e}");
            return;
        }
    };
    let vm = kvm.create_vm().expect("KVM_CREATE_VM");
    let fd = vm.as_raw_fd();
    if probe_vm_fd(fd).is_ok() {
        eprintln!("SKIP: this KVM has SEV enabled; the no-SEV path cannot be tested here");
        return;
    }
    let p = Platform::kvm_without_sev();
    let mut g = Guest::attach(&p, fd).expect("attach");
    assert_eq!(g.vm_fd(), fd);
    let e = g.init().unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_NO_SEV_SUPPORT);
    assert_eq!(e.os_errno, libc::ENOTTY);
    assert_eq!(e.fw_error, 0);
    assert_eq!(e.command, Command::LIBSEV_CMD_INIT);
    assert!(e.message.contains("no SEV support"), "{}", e.message);
    assert!(!g.is_initialized());
    // A later command gets the hint that INIT never succeeded.
    let e = g.status().unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_NO_SEV_SUPPORT);
    assert!(e.message.contains("call init"), "{}", e.message);
    assert!(fd_is_open(fd));
    drop(g);
    drop(p);
    assert!(fd_is_open(fd), "libsev closed the caller's VM fd");
    drop(vm);
}

/// The real kernel: libsev creates the VM itself.
#[test]
fn real_kvm_created_vm_without_sev() {
    if !std::path::Path::new("/dev/kvm").exists() {
        eprintln!("SKIP: /dev/kvm is absent on this host");
        return;
    }
    let p = Platform::kvm_without_sev();
    let mut g = match Guest::new(&p) {
        Ok(g) => g,
        Err(e) if e.status == Status::LIBSEV_STATUS_PERMISSION_DENIED => {
            eprintln!("SKIP: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let fd = g.vm_fd();
    assert!(fd_is_open(fd));
    if probe_vm_fd(fd).is_ok() {
        eprintln!("SKIP: this KVM has SEV enabled; the no-SEV path cannot be tested here");
        return;
    }
    let e = g.init().unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_NO_SEV_SUPPORT);
    assert_eq!((e.os_errno, e.fw_error), (libc::ENOTTY, 0));
    // LAUNCH_START needs /dev/sev: refused clearly before any ioctl.
    let e = g.launch_start(0, 0, None, None).unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_NO_DEVICE);
    assert!(e.message.contains("without /dev/sev"), "{}", e.message);
}
