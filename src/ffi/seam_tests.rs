//! C handles over a transport of the test's own, under the model VM:
//!
//! * the firmware calls the model receives for each C call: outputs of known size are fetched
//!   by one call straight into the caller's buffer (the length query only for a NULL or short
//!   buffer), and each migration packet costs exactly one SEND_UPDATE_DATA, written into the
//!   caller's buffers (a transport that counts what crosses the seam);
//! * a panic below a C call is caught, and the handle is poisoned and says so (a transport
//!   that panics).

use super::boundary::{CHandle, Handle};
use super::*;
use crate::api::Guest;
use crate::status::Status;
use crate::transport::{Errno, VmTransport};
use crate::uapi::{kvm_cmd, kvm_enc_region, kvm_sev_cmd, sizes};
use std::collections::BTreeMap;
use std::ptr::{null, null_mut};
use std::sync::{Arc, Mutex};

/// Counts the commands (by id) that reach the model.
struct Counting {
    inner: Box<dyn VmTransport>,
    calls: Arc<Mutex<BTreeMap<u32, usize>>>,
}

impl VmTransport for Counting {
    unsafe fn encrypt_op(&self, cmd: &mut kvm_sev_cmd) -> Result<(), Errno> {
        *self.calls.lock().unwrap().entry(cmd.id).or_insert(0) += 1;
        // SAFETY: forwarded contract.
        unsafe { self.inner.encrypt_op(cmd) }
    }
    unsafe fn register_region(&self, region: &kvm_enc_region) -> Result<(), Errno> {
        // SAFETY: forwarded contract.
        unsafe { self.inner.register_region(region) }
    }
    fn unregister_region(&self, region: &kvm_enc_region) -> Result<(), Errno> {
        self.inner.unregister_region(region)
    }
    fn vm_fd(&self) -> std::os::fd::RawFd {
        self.inner.vm_fd()
    }
}

struct Counted {
    calls: Arc<Mutex<BTreeMap<u32, usize>>>,
}

impl Counted {
    /// Calls of `id` since the last look.
    fn take(&self, id: u32) -> usize {
        self.calls.lock().unwrap().remove(&id).unwrap_or(0)
    }
    fn total(&self) -> usize {
        self.calls.lock().unwrap().values().sum()
    }
}

fn err0() -> libsev_error {
    // SAFETY: plain data; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// A guest handle on platform `p` whose model VM is wrapped by `wrap`.
fn guest_over(
    p: *const libsev_platform,
    wrap: impl FnOnce(Box<dyn VmTransport>) -> Box<dyn VmTransport>,
) -> *mut libsev_guest {
    // SAFETY: a live platform handle.
    let platform = unsafe { boundary::handle_value(p) }.unwrap();
    let vm = platform.transport().clone().create_vm().unwrap();
    let g = Guest::with_vm(platform, wrap(vm));
    Box::into_raw(Box::new(libsev_guest::wrap(Handle::new(Mutex::new(g)))))
}

/// A guest handle on a counting model VM of platform `p`.
fn counted_guest(p: *const libsev_platform) -> (*mut libsev_guest, Counted) {
    let calls = Arc::new(Mutex::new(BTreeMap::new()));
    let c = calls.clone();
    let g = guest_over(p, |inner| Box::new(Counting { inner, calls: c }));
    (g, Counted { calls })
}

/// Panics on GUEST_STATUS (a bug below the boundary, as far as the boundary can tell).
struct Panicking(Box<dyn VmTransport>);

impl VmTransport for Panicking {
    unsafe fn encrypt_op(&self, cmd: &mut kvm_sev_cmd) -> Result<(), Errno> {
        assert_ne!(cmd.id, kvm_cmd::GUEST_STATUS, "a bug in the seam");
        // SAFETY: forwarded contract.
        unsafe { self.0.encrypt_op(cmd) }
    }
    unsafe fn register_region(&self, region: &kvm_enc_region) -> Result<(), Errno> {
        // SAFETY: forwarded contract.
        unsafe { self.0.register_region(region) }
    }
    fn unregister_region(&self, region: &kvm_enc_region) -> Result<(), Errno> {
        self.0.unregister_region(region)
    }
    fn vm_fd(&self) -> std::os::fd::RawFd {
        self.0.vm_fd()
    }
}

#[test]
fn a_panic_is_caught_and_poisons_the_handle() {
    let mut e = err0();
    let mut p = null_mut();
    // SAFETY: every pointer passed below is live.
    unsafe {
        assert_eq!(
            libsev_platform_new_emulated(null(), &mut p, &mut e),
            Status::LIBSEV_STATUS_OK
        );
        let g = guest_over(p, |inner| Box::new(Panicking(inner)));
        assert_eq!(libsev_guest_init(g, &mut e), Status::LIBSEV_STATUS_OK);
        let mut st = libsev_guest_status_info::default();
        let s = libsev_guest_status(g, &mut st, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_INTERNAL);
        let msg = std::ffi::CStr::from_ptr(e.message.as_ptr()).to_string_lossy();
        assert!(
            msg.contains("caught panic") && msg.contains("a bug in the seam"),
            "{msg}"
        );
        // Every later call is refused with a clear status instead of running on a state the
        // panic may have left half-changed; queries give their documented defaults.
        let s = libsev_guest_launch_finish(g, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_INVALID_STATE);
        let msg = std::ffi::CStr::from_ptr(e.message.as_ptr()).to_string_lossy();
        assert!(
            msg.contains("unusable") && msg.contains("panicked"),
            "{msg}"
        );
        assert_eq!(e.command, crate::status::Command::LIBSEV_CMD_NONE as u32);
        assert_eq!(libsev_guest_handle(g), 0);
        assert_eq!(libsev_guest_vm_fd(g), -1);
        let last = std::ffi::CStr::from_ptr(libsev_guest_last_error(g)).to_string_lossy();
        assert!(last.contains("unusable"), "{last}");
        // The platform is another handle: unaffected.
        let mut ps = libsev_platform_status_info::default();
        assert_eq!(
            libsev_platform_status(p, &mut ps, &mut e),
            Status::LIBSEV_STATUS_OK
        );
        libsev_guest_free(g);
        libsev_platform_free(p);
    }
}

/// Page-aligned memory from mmap.
struct Mem(*mut u8, usize);
impl Mem {
    fn new(len: usize) -> Mem {
        // SAFETY: an anonymous private mapping.
        let p = unsafe {
            libc::mmap(
                null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        Mem(p.cast(), len)
    }
}
impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: mapped in `new`.
        unsafe { libc::munmap(self.0.cast(), self.1) };
    }
}

#[test]
fn one_firmware_call_per_output_and_per_packet() {
    const PAGE: usize = 4096;
    let mut e = err0();
    let mut p = null_mut();
    // SAFETY: every pointer passed below is live and sized as given.
    unsafe {
        assert_eq!(
            libsev_platform_new_emulated(null(), &mut p, &mut e),
            Status::LIBSEV_STATUS_OK
        );
        let (g, c) = counted_guest(p);
        let mem = Mem::new(16 * PAGE);
        let ok = Status::LIBSEV_STATUS_OK;
        let small = Status::LIBSEV_STATUS_BUFFER_TOO_SMALL;
        assert_eq!(libsev_guest_init(g, &mut e), ok);
        let s = libsev_guest_launch_start(g, 0, 0, null(), 0, null(), 0, null_mut(), &mut e);
        assert_eq!(s, ok);
        assert_eq!(libsev_guest_register_region(g, mem.0, mem.1, &mut e), ok);
        assert_eq!(libsev_guest_launch_update_data(g, mem.0, mem.1, &mut e), ok);
        assert_eq!(c.take(kvm_cmd::LAUNCH_UPDATE_DATA), 1);

        // LAUNCH_MEASURE: NULL and short buffers cost the query only, the guest stays in
        // LUPDATE; a big enough buffer costs one call.
        let mut n = 0usize;
        let mut m = [0xEEu8; 64];
        let s = libsev_guest_launch_measure(g, null_mut(), 0, &mut n, &mut e);
        assert_eq!((s, n), (small, sizes::MEASUREMENT));
        let s = libsev_guest_launch_measure(g, m.as_mut_ptr(), 47, &mut n, &mut e);
        assert_eq!((s, n), (small, sizes::MEASUREMENT));
        assert_eq!(m, [0xEE; 64], "nothing written on failure");
        assert_eq!(c.take(kvm_cmd::LAUNCH_MEASURE), 2, "two queries");
        let s = libsev_guest_launch_measure(g, m.as_mut_ptr(), m.len(), &mut n, &mut e);
        assert_eq!((s, n), (ok, sizes::MEASUREMENT));
        assert_eq!(c.take(kvm_cmd::LAUNCH_MEASURE), 1, "one call, no query");
        assert_eq!(m[48..], [0xEE; 16], "only the measurement is written");
        assert_ne!(m[..48], [0xEE; 48]);
        assert_eq!(libsev_guest_launch_finish(g, &mut e), ok);

        // GET_ATTESTATION_REPORT: the same shape.
        let nonce = [7u8; 16];
        let mut r = vec![0u8; 4096];
        let id = kvm_cmd::GET_ATTESTATION_REPORT;
        let s = libsev_guest_attestation_report(g, nonce.as_ptr(), null_mut(), 0, &mut n, &mut e);
        assert_eq!((s, n, c.take(id)), (small, sizes::ATTESTATION_REPORT, 1));
        let s = libsev_guest_attestation_report(
            g,
            nonce.as_ptr(),
            r.as_mut_ptr(),
            r.len(),
            &mut n,
            &mut e,
        );
        assert_eq!((s, n, c.take(id)), (ok, sizes::ATTESTATION_REPORT, 1));
        assert_eq!(r[..16], nonce);

        // SEND_START to this same platform.
        let (mut pdh, mut chain) = (vec![0u8; sizes::SEV_CERT], vec![0u8; sizes::CERT_CHAIN]);
        let (mut a, mut b) = (0usize, 0usize);
        let s = libsev_platform_pdh_cert_export(
            p,
            pdh.as_mut_ptr(),
            pdh.len(),
            &mut a,
            chain.as_mut_ptr(),
            chain.len(),
            &mut b,
            &mut e,
        );
        assert_eq!(s, ok);
        let cek = chain.as_mut_ptr().add(2 * sizes::SEV_CERT);
        assert_eq!(
            libsev_platform_emulated_cek(p, cek, sizes::SEV_CERT, &mut a, &mut e),
            ok
        );
        let mut amd = vec![0u8; 8192];
        let s = libsev_platform_emulated_ask_ark(p, amd.as_mut_ptr(), amd.len(), &mut a, &mut e);
        assert_eq!(s, ok);
        amd.truncate(a);
        let send_start = |buf: *mut u8, len: usize, n: &mut usize, e: &mut libsev_error| {
            libsev_guest_send_start(
                g,
                pdh.as_ptr(),
                pdh.len(),
                chain.as_ptr(),
                chain.len(),
                amd.as_ptr(),
                amd.len(),
                buf,
                len,
                n,
                null_mut(),
                e,
            )
        };
        let id = kvm_cmd::SEND_START;
        assert_eq!(send_start(null_mut(), 0, &mut n, &mut e), small);
        assert_eq!((n, c.take(id)), (sizes::SESSION, 1));
        let mut session = [0u8; 200];
        assert_eq!(send_start(session.as_mut_ptr(), 200, &mut n, &mut e), ok);
        assert_eq!((n, c.take(id)), (sizes::SESSION, 1));

        // SEND_UPDATE_DATA: the header length is asked once per guest, then one call per
        // packet, written into the caller's buffers.
        let mut hdr = [0u8; 52];
        let mut trans = vec![0xEEu8; PAGE + 16];
        for i in 0..8 {
            let s = libsev_guest_send_update_data(
                g,
                mem.0.add(i * PAGE),
                PAGE,
                hdr.as_mut_ptr(),
                hdr.len(),
                &mut a,
                trans.as_mut_ptr(),
                trans.len(),
                &mut b,
                &mut e,
            );
            assert_eq!((s, a, b), (ok, 52, PAGE));
        }
        let id = kvm_cmd::SEND_UPDATE_DATA;
        assert_eq!(
            c.take(id),
            1 + 8,
            "one header query, then one call per packet"
        );
        assert_eq!(
            trans[PAGE..],
            [0xEE; 16],
            "nothing beyond the packet is written"
        );
        for id in [kvm_cmd::INIT, kvm_cmd::LAUNCH_START, kvm_cmd::LAUNCH_FINISH] {
            assert_eq!(c.take(id), 1);
        }
        assert_eq!(c.total(), 0, "no other command was issued");
        libsev_guest_free(g);
        libsev_platform_free(p);
    }
}
