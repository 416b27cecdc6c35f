//! C ABI: what this build of libsev offers (`libsev_has_feature`) and what the host offers
//! (`libsev_probe`: `/dev/kvm`, KVM's SEV support, `/dev/sev`).

use super::boundary;
use crate::status::libsev_status;
use crate::transport::kvm::{KVM_DEVICE, SEV_DEVICE, probe_vm_fd};
use std::ffi::c_char;

/// Size of `libsev_probe_item.reason`, including the terminating NUL.
pub const LIBSEV_PROBE_REASON_LEN: usize = 192;

/// Feature: the KVM transport (`/dev/kvm`, `/dev/sev`) is built in.
pub const LIBSEV_FEATURE_KVM_TRANSPORT: u32 = 1;
/// Feature: the built-in model of the SEV firmware is built in.
pub const LIBSEV_FEATURE_FIRMWARE_MODEL: u32 = 2;
/// Feature: the guest-owner side (chain verification, session, measurement, secret).
pub const LIBSEV_FEATURE_OWNER: u32 = 3;
/// Feature: the migration commands (SEND_*, RECEIVE_*).
pub const LIBSEV_FEATURE_MIGRATION: u32 = 4;
/// Feature: the model can keep its platform identity in a state directory.
pub const LIBSEV_FEATURE_STATE_DIR: u32 = 5;

/// One item of `libsev_probe`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct libsev_probe_item {
    /// Whether the item is usable.
    pub available: bool,
    /// The errno that made it unavailable (0 when available or not checked).
    pub os_errno: i32,
    /// A NUL-terminated sentence saying why.
    pub reason: [c_char; LIBSEV_PROBE_REASON_LEN],
}

/// What `libsev_probe` found on this host.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct libsev_probe_result {
    /// `/dev/kvm` exists and opens read-write.
    pub kvm: libsev_probe_item,
    /// KVM has SEV enabled (`KVM_MEMORY_ENCRYPT_OP` probe on a scratch VM).
    pub kvm_sev: libsev_probe_item,
    /// `/dev/sev` exists and opens read-write.
    pub sev_device: libsev_probe_item,
}

/// Whether an optional capability (`LIBSEV_FEATURE_*`) is built into this library. Unknown
/// values give false. Capabilities do not depend on the host: use `libsev_probe` for that.
#[unsafe(no_mangle)]
pub extern "C" fn libsev_has_feature(feature: u32) -> bool {
    boundary::value(false, || {
        matches!(
            feature,
            LIBSEV_FEATURE_KVM_TRANSPORT
                | LIBSEV_FEATURE_FIRMWARE_MODEL
                | LIBSEV_FEATURE_OWNER
                | LIBSEV_FEATURE_MIGRATION
                | LIBSEV_FEATURE_STATE_DIR
        )
    })
}

fn item(available: bool, os_errno: i32, reason: &str) -> libsev_probe_item {
    let mut r = [0 as c_char; LIBSEV_PROBE_REASON_LEN];
    for (d, s) in r
        .iter_mut()
        .zip(reason.bytes().take(LIBSEV_PROBE_REASON_LEN - 1))
    {
        *d = s as c_char;
    }
    libsev_probe_item {
        available,
        os_errno,
        reason: r,
    }
}

fn open_item(path: &str, e: &std::io::Error) -> libsev_probe_item {
    let errno = e.raw_os_error().unwrap_or(0);
    let why = match errno {
        libc::ENOENT => "absent",
        libc::EACCES | libc::EPERM => "permission denied (it needs read and write access)",
        _ => "cannot be opened",
    };
    item(false, errno, &format!("{path} {why}: {e}"))
}

/// What the host offers, item by item, with a reason for each: `/dev/kvm` (present and
/// openable read-write), KVM's SEV support (probed with `KVM_MEMORY_ENCRYPT_OP(NULL)` on a
/// scratch VM), `/dev/sev` (present and openable read-write). Nothing is kept open. The library
/// itself never needs any of them to load. `LIBSEV_STATUS_NULL_ARGUMENT` if `out` is NULL;
/// otherwise `LIBSEV_STATUS_OK` (absence is reported in the items, not as a failure).
///
/// # Safety
/// `out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_probe(out: *mut libsev_probe_result) -> libsev_status {
    // SAFETY: `out` as documented; the boundary checks NULL before writing.
    unsafe {
        boundary::call(std::ptr::null_mut(), || {
            boundary::need_out(out, "out")?;
            boundary::write_out(out, probe(), "out")
        })
    }
}

fn probe() -> libsev_probe_result {
    let rw = |p: &str| std::fs::OpenOptions::new().read(true).write(true).open(p);
    let (kvm, kvm_sev) = match kvm_ioctls::Kvm::new() {
        Err(e) => {
            let e = std::io::Error::from_raw_os_error(e.errno());
            (
                open_item(KVM_DEVICE, &e),
                item(false, 0, "not checked: /dev/kvm is not available"),
            )
        }
        Ok(k) => {
            let kvm = item(
                true,
                0,
                &format!("{KVM_DEVICE} opened (KVM API {})", k.get_api_version()),
            );
            let sev = match k.create_vm() {
                Err(e) => item(
                    false,
                    e.errno(),
                    &format!("not checked: KVM_CREATE_VM failed: {e}"),
                ),
                Ok(vm) => match probe_vm_fd(std::os::fd::AsRawFd::as_raw_fd(&vm)) {
                    Ok(()) => item(true, 0, "KVM has SEV enabled (KVM_MEMORY_ENCRYPT_OP)"),
                    Err(libc::EFAULT) => item(
                        true,
                        0,
                        "KVM has SEV enabled (an older kernel: the probe answered EFAULT)",
                    ),
                    Err(libc::ENOTTY) => item(
                        false,
                        libc::ENOTTY,
                        "KVM has no SEV support (ENOTTY): kvm_amd not loaded with sev=1, or no \
                         SEV-capable CPU",
                    ),
                    Err(e) => item(
                        false,
                        e,
                        &format!(
                            "the SEV probe failed: {}",
                            std::io::Error::from_raw_os_error(e)
                        ),
                    ),
                },
            };
            (kvm, sev)
        }
    };
    let sev_device = match rw(SEV_DEVICE) {
        Ok(_) => item(true, 0, "/dev/sev opened read-write"),
        Err(e) => open_item(SEV_DEVICE, &e),
    };
    libsev_probe_result {
        kvm,
        kvm_sev,
        sev_device,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn features_and_probe() {
        for f in [
            LIBSEV_FEATURE_KVM_TRANSPORT,
            LIBSEV_FEATURE_FIRMWARE_MODEL,
            LIBSEV_FEATURE_OWNER,
            LIBSEV_FEATURE_MIGRATION,
            LIBSEV_FEATURE_STATE_DIR,
        ] {
            assert!(libsev_has_feature(f), "{f}");
        }
        assert!(!libsev_has_feature(0));
        assert!(!libsev_has_feature(999));
        let r = probe();
        let reason = |i: &libsev_probe_item| {
            // SAFETY: item() always NUL-terminates.
            unsafe { CStr::from_ptr(i.reason.as_ptr()) }
                .to_string_lossy()
                .into_owned()
        };
        for i in [&r.kvm, &r.kvm_sev, &r.sev_device] {
            assert!(!reason(i).is_empty());
            assert!(i.available || i.os_errno != 0 || reason(i).starts_with("not checked"));
        }
        assert_eq!(r.kvm.available, kvm_ioctls::Kvm::new().is_ok());
        if !std::path::Path::new("/dev/sev").exists() {
            assert!(!r.sev_device.available);
            assert_eq!(r.sev_device.os_errno, libc::ENOENT);
            assert!(reason(&r.sev_device).contains("absent"));
        }
    }
}
