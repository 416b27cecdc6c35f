//! The platform and guest C ABI against libsev's firmware model, called from Rust exactly as a
//! C caller would: size queries, short buffers (nothing written, no state change), firmware
//! statuses passed through unchanged, handle lifetimes.

use super::*;
use crate::status::Command;
use crate::status::Status;
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ffi::CStr;
use std::ptr::{null, null_mut};

fn zero_err() -> libsev_error {
    libsev_error {
        status: 0,
        fw_error: 0,
        os_errno: 0,
        command: 0,
        message: [0; crate::ffi::LIBSEV_ERROR_MESSAGE_LEN],
    }
}

fn msg(e: &libsev_error) -> String {
    // SAFETY: the message is always NUL-terminated.
    unsafe { CStr::from_ptr(e.message.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn model() -> *mut libsev_platform {
    let seed = [0x5Au8; LIBSEV_MODEL_SEED_LEN];
    let mut cfg = std::mem::MaybeUninit::<libsev_model_config>::uninit();
    // SAFETY: writable config.
    let s = unsafe { libsev_model_config_init(cfg.as_mut_ptr()) };
    assert_eq!(s, Status::LIBSEV_STATUS_OK);
    // SAFETY: initialised above.
    let mut cfg = unsafe { cfg.assume_init() };
    cfg.seed = seed.as_ptr();
    let mut p = null_mut();
    let mut e = zero_err();
    // SAFETY: valid config (seed lives across the call), writable out and err.
    let s = unsafe { libsev_platform_new_emulated(&cfg, &mut p, &mut e) };
    assert_eq!(s, Status::LIBSEV_STATUS_OK, "{}", msg(&e));
    p
}

/// Page-aligned, zeroed guest memory.
struct Mem(*mut u8, Layout);
impl Mem {
    fn new(len: usize) -> Mem {
        let l = Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size.
        let p = unsafe { alloc_zeroed(l) };
        assert!(!p.is_null());
        Mem(p, l)
    }
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the allocation holds `size` initialised bytes.
        unsafe { std::slice::from_raw_parts_mut(self.0, self.1.size()) }
    }
}
impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { dealloc(self.0, self.1) }
    }
}

#[test]
fn platform_buffers_on_the_model() {
    let p = model();
    // SAFETY: (whole test) `p` is a live handle; every buffer is valid for its length.
    unsafe {
        assert!(libsev_platform_is_emulated(p));
        let mut n = 0usize;
        let mut e = zero_err();
        let s = libsev_platform_pek_csr(p, null_mut(), 0, &mut n, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_BUFFER_TOO_SMALL);
        assert_eq!(n, LIBSEV_SEV_CERT_LEN);
        assert_eq!(e.status, s as u32);
        let mut short = vec![0xEEu8; LIBSEV_SEV_CERT_LEN - 1];
        let s = libsev_platform_pek_csr(p, short.as_mut_ptr(), short.len(), &mut n, null_mut());
        assert_eq!(s, Status::LIBSEV_STATUS_BUFFER_TOO_SMALL);
        assert!(
            short.iter().all(|b| *b == 0xEE),
            "nothing written to a short buffer"
        );
        let mut csr = vec![0u8; 4096];
        n = 0;
        let s = libsev_platform_pek_csr(p, csr.as_mut_ptr(), csr.len(), &mut n, null_mut());
        assert_eq!(s, Status::LIBSEV_STATUS_OK);
        assert_eq!(n, LIBSEV_SEV_CERT_LEN);
        assert!(csr[..n].iter().any(|b| *b != 0));

        // PDH export: the chain buffer is short, so both sizes come back and nothing is
        // written to either buffer.
        let mut pdh = vec![0xEEu8; LIBSEV_SEV_CERT_LEN];
        let mut chain = vec![0xEEu8; LIBSEV_CERT_CHAIN_LEN - 1];
        let (mut pn, mut cn) = (0usize, 0usize);
        let s = libsev_platform_pdh_cert_export(
            p,
            pdh.as_mut_ptr(),
            pdh.len(),
            &mut pn,
            chain.as_mut_ptr(),
            chain.len(),
            &mut cn,
            null_mut(),
        );
        assert_eq!(s, Status::LIBSEV_STATUS_BUFFER_TOO_SMALL);
        assert_eq!((pn, cn), (LIBSEV_SEV_CERT_LEN, LIBSEV_CERT_CHAIN_LEN));
        assert!(pdh.iter().chain(&chain).all(|b| *b == 0xEE));
        chain.push(0xEE);
        let s = libsev_platform_pdh_cert_export(
            p,
            pdh.as_mut_ptr(),
            pdh.len(),
            &mut pn,
            chain.as_mut_ptr(),
            chain.len(),
            &mut cn,
            null_mut(),
        );
        assert_eq!(s, Status::LIBSEV_STATUS_OK);
        // The PDH is a certificate the owner side parses: usage PDH (0x1003).
        let cert = crate::certs::SevCert::from_bytes(&pdh).unwrap();
        assert_eq!(cert.usage(), 0x1003);

        let mut id = [0u8; 128];
        let s = libsev_platform_get_id(p, id.as_mut_ptr(), id.len(), &mut n, null_mut());
        assert_eq!(s, Status::LIBSEV_STATUS_OK);
        assert_eq!(n, LIBSEV_CHIP_ID_LEN);

        let mut st = libsev_platform_status_info::default();
        let s = libsev_platform_status(p, &mut st, null_mut());
        assert_eq!(s, Status::LIBSEV_STATUS_OK);
        assert_eq!(st.state, 1, "INIT (the driver initialised it for PEK_CSR)");
        assert_eq!((st.api_major, st.api_minor), (1, 55));
        libsev_platform_free(p);
    }
}

#[test]
fn launch_through_the_c_abi_on_the_model() {
    let p = model();
    let mut mem = Mem::new(8192);
    for (i, b) in mem.bytes().iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    let plain = mem.bytes().to_vec();
    // SAFETY: (whole test) live handles; `mem` is page-aligned memory of 8192 bytes that
    // outlives the guest; every other buffer is valid for its length.
    unsafe {
        let mut g = null_mut();
        let mut e = zero_err();
        assert_eq!(
            libsev_guest_new(p, &mut g, &mut e),
            Status::LIBSEV_STATUS_OK,
            "{}",
            msg(&e)
        );
        // The guest keeps the platform alive.
        libsev_platform_free(p);
        assert_eq!(libsev_guest_vm_fd(g), -1, "a model VM has no fd");
        assert_eq!(libsev_guest_init(g, null_mut()), Status::LIBSEV_STATUS_OK);
        let mut h = 0u32;
        let s = libsev_guest_launch_start(g, 0, 0, null(), 0, null(), 0, &mut h, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_OK, "{}", msg(&e));
        assert_ne!(h, 0);
        assert_eq!(libsev_guest_handle(g), h);
        let s = libsev_guest_register_region(g, mem.0, 8192, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_OK, "{}", msg(&e));

        // Alignment is the firmware's check, passed through with both channels.
        let s = libsev_guest_launch_update_data(g, mem.0, 17, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_FW_INVALID_LENGTH);
        assert_eq!((e.fw_error, e.os_errno), (4, libc::EIO));
        assert_eq!(e.command, Command::LIBSEV_CMD_LAUNCH_UPDATE_DATA as u32);
        assert_eq!(
            mem.bytes(),
            &plain[..],
            "a refused update leaves memory alone"
        );

        let s = libsev_guest_launch_update_data(g, mem.0, 8192, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_OK, "{}", msg(&e));
        assert_ne!(mem.bytes(), &plain[..], "encrypted in place");

        let mut st = libsev_guest_status_info::default();
        assert_eq!(
            libsev_guest_status(g, &mut st, null_mut()),
            Status::LIBSEV_STATUS_OK
        );
        assert_eq!((st.handle, st.policy, st.state), (h, 0, 1));

        // Measurement: a short buffer is a size query only; the guest stays in LUPDATE.
        let mut m = [0xEEu8; 48];
        let mut n = 0usize;
        let s = libsev_guest_launch_measure(g, m.as_mut_ptr(), 47, &mut n, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_BUFFER_TOO_SMALL);
        assert_eq!(n, 48);
        assert_eq!(m, [0xEE; 48]);
        assert_eq!(
            libsev_guest_status(g, &mut st, null_mut()),
            Status::LIBSEV_STATUS_OK
        );
        assert_eq!(st.state, 1, "still LUPDATE");
        let s = libsev_guest_launch_measure(g, m.as_mut_ptr(), 48, &mut n, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_OK, "{}", msg(&e));
        assert_eq!(n, 48);
        assert_ne!(m, [0xEE; 48]);
        assert_eq!(
            libsev_guest_status(g, &mut st, null_mut()),
            Status::LIBSEV_STATUS_OK
        );
        assert_eq!(st.state, 2, "LSECRET");
        // Measuring again is the firmware's state error.
        let s = libsev_guest_launch_measure(g, m.as_mut_ptr(), 48, &mut n, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_FW_INVALID_GUEST_STATE);
        assert!(msg(&e).contains("LAUNCH_MEASURE"), "{}", msg(&e));

        // Attestation report: size query, then the report with our nonce first.
        let nonce = [7u8; LIBSEV_MNONCE_LEN];
        let s = libsev_guest_attestation_report(g, nonce.as_ptr(), null_mut(), 0, &mut n, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_BUFFER_TOO_SMALL);
        assert_eq!(n, 208);
        let mut rep = vec![0u8; 256];
        let s = libsev_guest_attestation_report(
            g,
            nonce.as_ptr(),
            rep.as_mut_ptr(),
            rep.len(),
            &mut n,
            &mut e,
        );
        assert_eq!(s, Status::LIBSEV_STATUS_OK, "{}", msg(&e));
        assert_eq!(n, 208);
        assert_eq!(&rep[..16], &nonce);
        let s = libsev_guest_attestation_report(g, null(), rep.as_mut_ptr(), 256, &mut n, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);

        assert_eq!(
            libsev_guest_launch_finish(g, null_mut()),
            Status::LIBSEV_STATUS_OK
        );
        assert_eq!(
            libsev_guest_status(g, &mut st, null_mut()),
            Status::LIBSEV_STATUS_OK
        );
        assert_eq!(st.state, 3, "RUNNING");

        // Policy 0 allows debugging: the plaintext comes back.
        let mut out = [0u8; 64];
        let s = libsev_guest_dbg_decrypt(g, mem.0.add(4096), out.as_mut_ptr(), 64, &mut e);
        assert_eq!(s, Status::LIBSEV_STATUS_OK, "{}", msg(&e));
        assert_eq!(&out[..], &plain[4096..4160]);

        // SEND_START's size query; then short buffers of SEND_UPDATE_DATA are refused with
        // both sizes before anything is issued.
        let s = libsev_guest_send_start(
            g,
            null(),
            0,
            null(),
            0,
            null(),
            0,
            null_mut(),
            0,
            &mut n,
            null_mut(),
            &mut e,
        );
        assert_eq!(s, Status::LIBSEV_STATUS_BUFFER_TOO_SMALL, "{}", msg(&e));
        assert_eq!(n, 128);
        assert_eq!(
            libsev_guest_status(g, &mut st, null_mut()),
            Status::LIBSEV_STATUS_OK
        );
        assert_eq!(st.state, 3, "the size query leaves the guest RUNNING");

        assert_eq!(
            libsev_guest_unregister_region(g, mem.0, 8192, &mut e),
            Status::LIBSEV_STATUS_OK,
            "{}",
            msg(&e)
        );
        libsev_guest_free(g);
    }
}
