//! C ABI for SEV-SNP, hypervisor side: the SNP guest handle (`libsev_snp_guest`) with
//! `KVM_SEV_INIT2` and the three `KVM_SEV_SNP_LAUNCH_*` commands, the `/dev/sev` SNP platform
//! commands, and the model-only helpers a test or demo needs (vCPU VMSAs, the guest's view of
//! its pages, the launch digest, a VLEK blob for the model chip).
//!
//! Flow (launch, as QEMU does it): `libsev_snp_guest_new` (or `_attach` to a VM created with
//! `KVM_X86_SNP_VM`) → `libsev_snp_guest_init2` → (KVM: guest_memfd, memory regions, private
//! attributes, vCPUs; model: `libsev_snp_guest_set_vmsa` per vCPU) →
//! `libsev_snp_launch_start` → `libsev_snp_launch_update` per range (firmware, OVMF metadata
//! sections as ZERO / SECRETS / CPUID / NORMAL pages) → `libsev_snp_launch_finish` (optional
//! ID block) → `libsev_snp_guest_free`.

use super::platform::libsev_platform;
use super::{
    LastError, array_in, array_out, bytes_in, guard, into_handle, libsev_error, need, need_mut,
};
use crate::api::snp::{SnpFinish, SnpGuest};
use crate::error::{Error, Result};
use crate::status::{Command, Status, libsev_status};
use crate::uapi::snp::{page_type, snp_sizes};
use std::ffi::{c_char, c_int};
use std::sync::{Mutex, MutexGuard};

/// Size of an SNP launch digest.
pub const LIBSEV_SNP_DIGEST_LEN: usize = 48;
/// Size of an SNP ID block.
pub const LIBSEV_SNP_ID_BLOCK_LEN: usize = 96;
/// Size of the SNP ID authentication information.
pub const LIBSEV_SNP_ID_AUTH_LEN: usize = 4096;
/// Size of LAUNCH_FINISH's host data.
pub const LIBSEV_SNP_HOST_DATA_LEN: usize = 32;
/// Size of LAUNCH_START's guest-OS-visible workarounds.
pub const LIBSEV_SNP_GOSVW_LEN: usize = 16;
/// Size of a VMSA and of a guest page.
pub const LIBSEV_SNP_PAGE_LEN: usize = 4096;
/// Size of a wrapped VLEK hash stick (SNP_VLEK_LOAD).
pub const LIBSEV_SNP_VLEK_WRAPPED_LEN: usize = 432;

/// SNP page type NORMAL (measured contents).
pub const LIBSEV_SNP_PAGE_NORMAL: u8 = 1;
/// SNP page type ZERO (no source data; measured as zero contents).
pub const LIBSEV_SNP_PAGE_ZERO: u8 = 3;
/// SNP page type UNMEASURED.
pub const LIBSEV_SNP_PAGE_UNMEASURED: u8 = 4;
/// SNP page type SECRETS (the firmware fills it: VMPCKs).
pub const LIBSEV_SNP_PAGE_SECRETS: u8 = 5;
/// SNP page type CPUID (validated; a refused page comes back corrected).
pub const LIBSEV_SNP_PAGE_CPUID: u8 = 6;

/// QEMU's default SNP guest policy: SMT allowed, reserved bit 17 set.
pub const LIBSEV_SNP_POLICY_DEFAULT: u64 = 0x30000;

/// One SEV-SNP guest: a KVM VM of type `KVM_X86_SNP_VM` (libsev's or the caller's) or a model
/// SNP VM, on a `libsev_platform`.
///
/// Thread safety: use a handle from one thread at a time (calls are serialised internally);
/// distinct guests are independent. A guest keeps its platform alive.
#[allow(non_camel_case_types)]
pub struct libsev_snp_guest {
    guest: Mutex<SnpGuest>,
    last: LastError,
}

/// `SNP_PLATFORM_STATUS` as `libsev_snp_platform_status` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct libsev_snp_platform_status_info {
    /// Firmware API major version.
    pub api_major: u8,
    /// Firmware API minor version.
    pub api_minor: u8,
    /// SNP state: 0 UNINIT, 1 INIT.
    pub state: u8,
    /// The RMP is initialised (1) or not (0).
    pub rmp_initialized: u8,
    /// Firmware build.
    pub build_id: u32,
    /// Reports mask the chip id (1) or not (0).
    pub mask_chip_id: u8,
    /// Reports are not signed with the VCEK (1) or are (0).
    pub mask_chip_key: u8,
    /// A VLEK is loaded (1) or not (0).
    pub vlek_en: u8,
    /// Reserved, 0.
    pub reserved: u8,
    /// Number of SNP guests.
    pub guest_count: u32,
    /// TCB_VERSION of the running firmware and microcode.
    pub current_tcb: u64,
    /// TCB_VERSION the VCEK is derived from.
    pub reported_tcb: u64,
}

fn last_of<'a>(g: *const libsev_snp_guest) -> Option<&'a LastError> {
    need(g, "guest").ok().map(|h| &h.last)
}

fn lock<'a>(g: *const libsev_snp_guest) -> Result<MutexGuard<'a, SnpGuest>> {
    let h: &'a libsev_snp_guest = need(g, "guest")?;
    Ok(h.guest.lock().unwrap_or_else(|e| e.into_inner()))
}

fn with_guest(
    g: *mut libsev_snp_guest,
    err: *mut libsev_error,
    f: impl FnOnce(&mut SnpGuest) -> Result<()>,
) -> libsev_status {
    guard(err, last_of(g), || f(&mut *lock(g)?))
}

fn new_handle(guest: SnpGuest, out: &mut *mut libsev_snp_guest) {
    into_handle(
        libsev_snp_guest {
            guest: Mutex::new(guest),
            last: LastError::default(),
        },
        out,
    );
}

fn model_only(what: &str) -> Error {
    Error::new(
        Status::LIBSEV_STATUS_INVALID_STATE,
        format!("{what} exists only on the firmware model (LIBSEV_PLATFORM=emulated)"),
    )
}

/// Create an SNP guest on a new VM: KVM platforms create a VM of type `KVM_X86_SNP_VM` on
/// `/dev/kvm` (owned, closed by `libsev_snp_guest_free`); model platforms a model SNP VM.
/// A host whose KVM has no SNP VM type gives `LIBSEV_STATUS_KERNEL_REJECTED` (`EINVAL`) with
/// that reason in the message. `*out` is set only on success.
///
/// # Safety
/// `platform` NULL or live; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_new(
    platform: *const libsev_platform,
    out: *mut *mut libsev_snp_guest,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, None, || {
        let p = need(platform, "platform")?;
        let out = need_mut(out, "out")?;
        new_handle(SnpGuest::new(&p.platform)?, out);
        Ok(())
    })
}

/// Create an SNP guest on the caller's VM fd (created with `KVM_X86_SNP_VM`); libsev never
/// closes it. `*out` is set only on success.
///
/// # Safety
/// `platform` NULL or live; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_attach(
    platform: *const libsev_platform,
    vm_fd: c_int,
    out: *mut *mut libsev_snp_guest,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, None, || {
        let p = need(platform, "platform")?;
        let out = need_mut(out, "out")?;
        new_handle(SnpGuest::attach(&p.platform, vm_fd)?, out);
        Ok(())
    })
}

/// Free an SNP guest (NULL is a no-op): the firmware decommissions it and its private memory
/// is wiped.
///
/// # Safety
/// `guest` NULL or a live handle, not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_free(guest: *mut libsev_snp_guest) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: per the contract, NULL or a live handle made by into_handle, freed once.
        unsafe { super::free_handle(guest) }
    }));
}

/// The message of the last failure on this guest ("" if none or NULL); valid until the next
/// failing call on the same handle.
///
/// # Safety
/// `guest` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_last_error(
    guest: *const libsev_snp_guest,
) -> *const c_char {
    match last_of(guest) {
        Some(l) => l.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// `KVM_SEV_INIT2` for the SNP VM: `vmsa_features` (DebugSwap = 0x20; SNPActive is implied)
/// and `ghcb_version` (0 = 2). Before any vCPU exists.
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_init2(
    guest: *mut libsev_snp_guest,
    vmsa_features: u64,
    ghcb_version: u16,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.init2(vmsa_features, ghcb_version))
}

/// Model only: vCPU `index`'s VMSA page (4096 bytes, what KVM builds from the vCPU's
/// registers; SEV_FEATURES at 0x3B0 is set by the model as KVM sets it). After init2 and
/// before `libsev_snp_launch_finish`. On KVM: `LIBSEV_STATUS_INVALID_STATE` (create vCPUs
/// with `KVM_CREATE_VCPU`).
///
/// # Safety
/// `guest` NULL or live; `vmsa` NULL or `len` readable bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_set_vmsa(
    guest: *mut libsev_snp_guest,
    index: u32,
    vmsa: *const u8,
    len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        need(vmsa, "vmsa")?;
        g.set_vcpu_vmsa(index, bytes_in(vmsa, len, "vmsa")?)
    })
}

/// `KVM_SEV_SNP_LAUNCH_START`: `policy` (reserved bit 17 must be set; see
/// `LIBSEV_SNP_POLICY_DEFAULT`) and `gosvw` (16 bytes, or NULL for zeros).
///
/// # Safety
/// `guest` NULL or live; `gosvw` NULL or 16 readable bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_launch_start(
    guest: *mut libsev_snp_guest,
    policy: u64,
    gosvw: *const u8,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let w = if gosvw.is_null() {
            [0; 16]
        } else {
            array_in::<16>(gosvw, "gosvw")?
        };
        g.launch_start(policy, w)
    })
}

/// `KVM_SEV_SNP_LAUNCH_UPDATE` of `[gpa, gpa + len)` with pages of `page_type`
/// (`LIBSEV_SNP_PAGE_*`) from `data` (NULL for ZERO pages). libsev repeats the ioctl while
/// KVM reports partial progress and checks the whole range was done. On failure the message
/// says how many bytes were launched. A CPUID page the firmware refuses
/// (`LIBSEV_STATUS_FW_INVALID_PARAM`) comes back corrected in `data`. On KVM the range must
/// be in a guest_memfd memslot and set private (`KVM_SET_MEMORY_ATTRIBUTES`) first.
///
/// # Safety
/// `guest` NULL or live; unless ZERO, `data` points to `len` readable (for CPUID writable)
/// bytes not used by others during the call; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_launch_update(
    guest: *mut libsev_snp_guest,
    gpa: u64,
    data: *mut u8,
    len: usize,
    page_type: u8,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        if page_type != LIBSEV_SNP_PAGE_ZERO && len != 0 && data.is_null() {
            return Err(Error::new(
                Status::LIBSEV_STATUS_NULL_ARGUMENT,
                format!(
                    "data is NULL but {len} bytes of {} pages are to be launched",
                    crate::uapi::snp::page_type::name(page_type)
                ),
            )
            .with_command(Command::LIBSEV_CMD_SNP_LAUNCH_UPDATE));
        }
        let uaddr = if page_type == LIBSEV_SNP_PAGE_ZERO {
            0
        } else {
            data as u64
        };
        // SAFETY: the caller guarantees `len` readable (CPUID: writable) bytes at `data`
        // unless the pages are ZERO, which read nothing.
        unsafe { g.launch_update_raw(gpa, uaddr, len as u64, page_type) }.map(|_| ())
    })
}

/// `KVM_SEV_SNP_LAUNCH_FINISH`: KVM launches every vCPU's VMSA, then the firmware verifies
/// the ID block when one is given (`id_block` 96 bytes and `id_auth` 4096 bytes, both or
/// neither; `auth_key_en` non-zero when the ID authentication carries an author key),
/// records `host_data` (32 bytes, NULL for zeros) and runs the guest. `vcek_disabled`
/// non-zero refuses VCEK-signed reports. Not repeatable: destroy the guest on failure.
///
/// # Safety
/// `guest` NULL or live; the buffers NULL or of the stated lengths; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_launch_finish(
    guest: *mut libsev_snp_guest,
    id_block: *const u8,
    id_block_len: usize,
    id_auth: *const u8,
    id_auth_len: usize,
    auth_key_en: c_int,
    vcek_disabled: c_int,
    host_data: *const u8,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let block = bytes_in(id_block, id_block_len, "id_block")?;
        let auth = bytes_in(id_auth, id_auth_len, "id_auth")?;
        if block.is_empty() != auth.is_empty() {
            return Err(Error::arg(
                "give both the ID block and the ID authentication information, or neither",
            )
            .with_command(Command::LIBSEV_CMD_SNP_LAUNCH_FINISH));
        }
        let hd = if host_data.is_null() {
            [0; 32]
        } else {
            array_in::<32>(host_data, "host_data")?
        };
        g.launch_finish(&SnpFinish {
            id_block: (!block.is_empty()).then_some((block, auth)),
            auth_key_en: auth_key_en != 0,
            vcek_disabled: vcek_disabled != 0,
            host_data: hd,
        })
    })
}

/// Model only (a testing aid): the guest's launch digest (48 bytes into `out`), which on
/// hardware reaches the owner only inside an attestation report.
///
/// # Safety
/// `guest` NULL or live; `out` NULL or 48 writable bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_model_measurement(
    guest: *mut libsev_snp_guest,
    out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        need_mut(out, "out")?;
        let (Some(m), Some(vm)) = (g.platform().model(), g.model_vm()) else {
            return Err(model_only("the launch digest of a guest"));
        };
        let ld = m.snp_measurement(vm).ok_or_else(|| {
            Error::new(
                Status::LIBSEV_STATUS_INVALID_STATE,
                "the guest has no launch context (call libsev_snp_launch_start first)",
            )
        })?;
        array_out(out, &ld, "out")
    })
}

/// Model only (a testing aid): the guest's own view of its launched private page at `gpa`
/// (4096 bytes into `out`), e.g. the secrets page the firmware filled. The host has no such
/// access on hardware.
///
/// # Safety
/// `guest` NULL or live; `out` NULL or 4096 writable bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_model_read_page(
    guest: *mut libsev_snp_guest,
    gpa: u64,
    out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        need_mut(out, "out")?;
        let vm = g
            .model_vm()
            .ok_or_else(|| model_only("reading guest memory"))?;
        let page = vm.guest_read_page(gpa & !0xFFF).ok_or_else(|| {
            Error::new(
                Status::LIBSEV_STATUS_INVALID_ARGUMENT,
                format!("no launched private page at GPA {gpa:#x}"),
            )
        })?;
        array_out(out, &page, "out")
    })
}

fn with_platform(
    platform: *const libsev_platform,
    err: *mut libsev_error,
    f: impl FnOnce(&crate::api::Platform) -> Result<()>,
) -> libsev_status {
    let last = need(platform, "platform").ok().map(|p| &p.last);
    guard(err, last, || f(&need(platform, "platform")?.platform))
}

/// `SNP_PLATFORM_STATUS` into `*out`.
///
/// # Safety
/// `platform` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_platform_status(
    platform: *const libsev_platform,
    out: *mut libsev_snp_platform_status_info,
    err: *mut libsev_error,
) -> libsev_status {
    with_platform(platform, err, |p| {
        need_mut(out, "out")?;
        let s = p.snp_status()?;
        *need_mut(out, "out")? = libsev_snp_platform_status_info {
            api_major: s.api_major,
            api_minor: s.api_minor,
            state: s.state,
            rmp_initialized: s.rmp_initialized as u8,
            build_id: s.build_id,
            mask_chip_id: s.mask_chip_id as u8,
            mask_chip_key: s.mask_chip_key as u8,
            vlek_en: s.vlek_en as u8,
            reserved: 0,
            guest_count: s.guest_count,
            current_tcb: s.current_tcb,
            reported_tcb: s.reported_tcb,
        };
        Ok(())
    })
}

/// `SNP_COMMIT`: the current firmware and TCB become the minimum (anti-rollback).
///
/// # Safety
/// `platform` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_commit(
    platform: *const libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    with_platform(platform, err, |p| p.snp_commit())
}

/// `SNP_SET_CONFIG`: the REPORTED_TCB (0 = the committed TCB; never above it) and whether
/// reports mask the chip id / are not signed with the VCEK.
///
/// # Safety
/// `platform` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_set_config(
    platform: *const libsev_platform,
    reported_tcb: u64,
    mask_chip_id: c_int,
    mask_chip_key: c_int,
    err: *mut libsev_error,
) -> libsev_status {
    with_platform(platform, err, |p| {
        p.snp_set_config(reported_tcb, mask_chip_id != 0, mask_chip_key != 0)
    })
}

/// `SNP_VLEK_LOAD` of a wrapped VLEK hash stick (432 bytes).
///
/// # Safety
/// `platform` NULL or live; `wrapped` NULL or `len` readable bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_vlek_load(
    platform: *const libsev_platform,
    wrapped: *const u8,
    len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_platform(platform, err, |p| {
        need(wrapped, "wrapped")?;
        p.snp_vlek_load(bytes_in(wrapped, len, "wrapped")?)
    })
}

/// Model only: a VLEK blob for `libsev_snp_vlek_load` on this model chip — 8 hash sticks
/// (384 bytes; the VLEK derives from the last) wrapped with the chip's model wrapping key and
/// bound to `tcb` (432 bytes into `out`).
///
/// # Safety
/// `platform` NULL or live; `sticks` NULL or 384 readable bytes; `out` NULL or 432 writable
/// bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_model_wrap_vlek(
    platform: *const libsev_platform,
    sticks: *const u8,
    tcb: u64,
    out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    with_platform(platform, err, |p| {
        let s = array_in::<0x180>(sticks, "sticks")?;
        need_mut(out, "out")?;
        let m = p
            .model()
            .ok_or_else(|| model_only("wrapping a VLEK for the chip"))?;
        array_out(out, &m.snp_wrap_vlek(&s, tcb), "out")
    })
}

const _: () = assert!(
    LIBSEV_SNP_ID_AUTH_LEN == snp_sizes::ID_AUTH
        && LIBSEV_SNP_ID_BLOCK_LEN == snp_sizes::ID_BLOCK
        && LIBSEV_SNP_PAGE_NORMAL == page_type::NORMAL
        && LIBSEV_SNP_PAGE_ZERO == page_type::ZERO
        && LIBSEV_SNP_PAGE_UNMEASURED == page_type::UNMEASURED
        && LIBSEV_SNP_PAGE_SECRETS == page_type::SECRETS
        && LIBSEV_SNP_PAGE_CPUID == page_type::CPUID
        && LIBSEV_SNP_POLICY_DEFAULT == crate::uapi::snp::policy::DEFAULT
);

/// Size of an SNP attestation report.
pub const LIBSEV_SNP_REPORT_LEN: usize = 0x4A0;

/// Model only: an attestation report as the guest obtains it — a MSG_REPORT_REQ with
/// `report_data` (64 bytes) and `vmpl`, encrypted with VMPCK0 from the guest's secrets page,
/// through KVM's guest request to the firmware, the response decrypted — written to `out`
/// (`LIBSEV_SNP_REPORT_LEN` bytes). Signed with ECDSA P-384 by the model chip's VCEK for its
/// REPORTED_TCB (or the loaded VLEK). A refusal inside the response (e.g. `vmpl` below 0's
/// VMPCK, no VLEK) is `LIBSEV_STATUS_FW_*` with that status; so is a failed command.
///
/// # Safety
/// `guest` NULL or live; `report_data` NULL or 64 readable bytes; `out` NULL or 1184 writable
/// bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_model_report(
    guest: *mut libsev_snp_guest,
    report_data: *const u8,
    vmpl: u32,
    out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let rd = array_in::<64>(report_data, "report_data")?;
        need_mut(out, "out")?;
        let vm = g
            .model_vm()
            .ok_or_else(|| model_only("a guest's attestation report"))?;
        let c = Command::LIBSEV_CMD_SNP_GUEST_REQUEST;
        let (status, report) = vm
            .guest_report(&rd, vmpl, 0, 0)
            .map_err(|fw| Error::from_command(c, libc::EIO, fw))?;
        if status != 0 {
            return Err(Error::from_command(c, libc::EIO, status));
        }
        array_out(out, &report, "out")
    })
}

/// Model only: the extended-report certificate table (24-byte entries with RFC 4122 GUIDs,
/// then DER certificates) a VMM hands its guests for this model chip: the test-only SNP root's
/// ARK and ASK and the chip's VCEK certificate for its REPORTED_TCB. Buffer rule: a NULL or
/// short `buf` gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the size in `*out_len`.
///
/// # Safety
/// `platform` NULL or live; `buf` NULL or `len` writable bytes; `out_len` writable; `err`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_model_cert_table(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_platform(platform, err, |p| {
        need_mut(out_len, "out_len")?;
        let m = p
            .model()
            .ok_or_else(|| model_only("the model chip's certificate table"))?;
        let t = m.snp_cert_table().map_err(|e| {
            Error::new(
                Status::LIBSEV_STATUS_INTERNAL,
                format!("issuing the model VCEK certificate: {e}"),
            )
        })?;
        super::bytes_out(buf, len, out_len, &t)
    })
}
