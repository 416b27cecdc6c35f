//! Tests of the platform and guest handles through the C ABI: NULLs, kernel platforms without
//! SEV, attach, and the buffer rule.

use super::*;
use crate::status::Status;
use crate::transport::kvm::fd_is_open;
use std::ffi::CStr;
use std::os::fd::AsRawFd;
use std::ptr::{null, null_mut};

fn new_err() -> libsev_error {
    zero_err()
}

fn msg(e: &libsev_error) -> String {
    // SAFETY: the boundary always NUL-terminates the message.
    unsafe { CStr::from_ptr(e.message.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn zero_err() -> libsev_error {
    libsev_error {
        status: 0,
        fw_error: 0,
        os_errno: 0,
        command: 0,
        message: [0; crate::ffi::LIBSEV_ERROR_MESSAGE_LEN],
    }
}

#[test]
fn null_handles_and_arguments() {
    let mut e = zero_err();
    // SAFETY: NULL guest is refused before use.
    let s = unsafe { libsev_guest_init(null_mut(), &mut e) };
    assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    assert_eq!(e.status, s as u32);
    let mut n = 0usize;
    // SAFETY: as above.
    let s = unsafe { libsev_guest_launch_measure(null_mut(), null_mut(), 0, &mut n, null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    let mut g = null_mut();
    // SAFETY: NULL platform is refused.
    let s = unsafe { libsev_guest_new(null(), &mut g, null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    assert!(g.is_null(), "*out untouched on failure");
    // SAFETY: NULL is accepted by these.
    unsafe {
        libsev_guest_free(null_mut());
        assert_eq!(libsev_guest_vm_fd(null()), -1);
        assert_eq!(libsev_guest_handle(null()), 0);
        assert_eq!(CStr::from_ptr(libsev_guest_last_error(null())), c"");
    }
}

#[test]
fn attach_a_bad_fd_and_the_platform_may_go_first() {
    let mut p = null_mut();
    // SAFETY: valid out pointer.
    let s = unsafe { libsev_platform_open_kvm_without_sev(&mut p, null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_OK);
    let mut g = null_mut();
    let mut e = zero_err();
    // SAFETY: live platform; i32::MAX is never an open fd.
    let s = unsafe { libsev_guest_attach(p, i32::MAX, &mut g, &mut e) };
    assert_eq!(s, Status::LIBSEV_STATUS_BAD_FD);
    assert_eq!(e.os_errno, libc::EBADF);
    assert!(g.is_null());
    // SAFETY: live platform.
    let s = unsafe { libsev_guest_attach(p, -5, &mut g, null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_INVALID_ARGUMENT);

    // A non-KVM fd attaches (the kernel decides at the first command), and the guest
    // outlives its platform.
    let f = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: live platform, open fd.
    let s = unsafe { libsev_guest_attach(p, f.as_raw_fd(), &mut g, null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_OK);
    // SAFETY: freed once; the guest holds its own reference.
    unsafe { libsev_platform_free(p) };
    // SAFETY: live guest.
    assert_eq!(unsafe { libsev_guest_vm_fd(g) }, f.as_raw_fd());
    let mut e = zero_err();
    // SAFETY: live guest.
    let s = unsafe { libsev_guest_init(g, &mut e) };
    assert_eq!(
        s,
        Status::LIBSEV_STATUS_NO_SEV_SUPPORT,
        "/dev/null answers ENOTTY"
    );
    assert_eq!((e.os_errno, e.fw_error), (libc::ENOTTY, 0));
    // Short buffer for the measurement: the query itself fails here (no SEV), so the
    // failure is reported and nothing is written.
    let mut buf = [0xAAu8; 4];
    let mut n = 999usize;
    // SAFETY: live guest, 4 writable bytes.
    let s = unsafe { libsev_guest_launch_measure(g, buf.as_mut_ptr(), 4, &mut n, null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_NO_SEV_SUPPORT);
    assert_eq!(buf, [0xAA; 4]);
    // SAFETY: live guest.
    let last = unsafe { CStr::from_ptr(libsev_guest_last_error(g)) };
    assert!(
        last.to_str().unwrap().contains("LAUNCH_MEASURE"),
        "{last:?}"
    );
    // SAFETY: freed once.
    unsafe { libsev_guest_free(g) };
    assert!(fd_is_open(f.as_raw_fd()), "the caller's fd stays open");
}

#[test]
fn null_arguments_are_refused() {
    let mut e = new_err();
    // SAFETY: NULL out is refused before use.
    let s = unsafe { libsev_platform_open_kvm_without_sev(null_mut(), &mut e) };
    assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    assert_eq!(e.status, Status::LIBSEV_STATUS_NULL_ARGUMENT as u32);
    assert!(msg(&e).contains("out"), "{}", msg(&e));
    let mut n = 0usize;
    // SAFETY: NULL platform is refused before use.
    let s = unsafe { libsev_platform_pek_csr(null(), null_mut(), 0, &mut n, null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    // SAFETY: NULL is refused.
    let s = unsafe { libsev_model_config_init(null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    // SAFETY: NULL is refused.
    let s = unsafe { libsev_probe(null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    // SAFETY: NULL handles are accepted by these.
    unsafe {
        libsev_platform_free(null_mut());
        assert!(!libsev_platform_is_emulated(null()));
        assert_eq!(CStr::from_ptr(libsev_platform_last_error(null())), c"");
    }
}

#[test]
fn without_sev_reports_no_device_and_keeps_the_message() {
    let mut p = null_mut();
    // SAFETY: valid out pointer.
    let s = unsafe { libsev_platform_open_kvm_without_sev(&mut p, null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_OK);
    let mut e = new_err();
    let mut st = libsev_platform_status_info {
        guest_count: 77,
        ..Default::default()
    };
    // SAFETY: live handle, writable outputs.
    let s = unsafe { libsev_platform_status(p, &mut st, &mut e) };
    assert_eq!(s, Status::LIBSEV_STATUS_NO_DEVICE);
    assert_eq!(e.os_errno, libc::ENODEV);
    assert_eq!(
        e.command,
        crate::status::Command::LIBSEV_CMD_PLATFORM_STATUS as u32
    );
    assert_eq!(st.guest_count, 77, "nothing written on failure");
    // SAFETY: live handle.
    let last = unsafe { CStr::from_ptr(libsev_platform_last_error(p)) };
    assert!(last.to_str().unwrap().contains("without /dev/sev"));
    // The buffer call fails with the same status and leaves the buffer alone.
    let mut buf = [0xEEu8; 8];
    let mut n = 123usize;
    // SAFETY: live handle, 8 writable bytes, writable out_len.
    let s = unsafe { libsev_platform_pek_csr(p, buf.as_mut_ptr(), 8, &mut n, null_mut()) };
    assert_eq!(s, Status::LIBSEV_STATUS_NO_DEVICE);
    assert_eq!(buf, [0xEE; 8]);
    // SAFETY: live handle, freed once.
    unsafe { libsev_platform_free(p) };
}
