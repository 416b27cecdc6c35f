//! C ABI for SEV-SNP, hypervisor side: the SNP guest handle (`libsev_snp_guest`) with
//! `KVM_SEV_INIT2` and the three `KVM_SEV_SNP_LAUNCH_*` commands. The `/dev/sev` SNP platform
//! commands and the model-only helpers sit beside it (`snp_platform`).
//!
//! Flow (launch, as QEMU does it): `libsev_snp_guest_new` (or `_attach` to a VM created with
//! `KVM_X86_SNP_VM`) → `libsev_snp_guest_init2` → (KVM: guest_memfd, memory regions, private
//! attributes, vCPUs; model: `libsev_snp_guest_set_vmsa` per vCPU) →
//! `libsev_snp_launch_start` → `libsev_snp_launch_update` per range (firmware, OVMF metadata
//! sections as ZERO / SECRETS / CPUID / NORMAL pages) → `libsev_snp_launch_finish` (optional
//! ID block) → `libsev_snp_guest_free`.

use super::boundary::{self, CHandle, Handle};
use super::libsev_error;
use super::platform::{libsev_platform, new_on_platform};
use crate::api::snp::{SnpFinish, SnpGuest};
use crate::error::{Error, Result};
use crate::status::{Command, Status, libsev_status};
use crate::uapi::snp::{page_type, snp_sizes};
use std::ffi::{c_char, c_int};
use std::sync::Mutex;

/// Size of an SNP launch digest (the report's MEASUREMENT).
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
/// Size of the hash sticks `libsev_snp_model_wrap_vlek` wraps.
pub const LIBSEV_SNP_VLEK_STICKS_LEN: usize = 384;
/// Size of an SNP attestation report.
pub const LIBSEV_SNP_REPORT_LEN: usize = 0x4A0;
/// Size of a report's REPORT_DATA (the guest's nonce or key binding).
pub const LIBSEV_SNP_REPORT_DATA_LEN: usize = 64;

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

const _: () = assert!(
    LIBSEV_SNP_ID_AUTH_LEN == snp_sizes::ID_AUTH
        && LIBSEV_SNP_ID_BLOCK_LEN == snp_sizes::ID_BLOCK
        && LIBSEV_SNP_GOSVW_LEN == snp_sizes::GOSVW
        && LIBSEV_SNP_VLEK_WRAPPED_LEN == snp_sizes::VLEK_WRAPPED
        && LIBSEV_SNP_PAGE_NORMAL == page_type::NORMAL
        && LIBSEV_SNP_PAGE_ZERO == page_type::ZERO
        && LIBSEV_SNP_PAGE_UNMEASURED == page_type::UNMEASURED
        && LIBSEV_SNP_PAGE_SECRETS == page_type::SECRETS
        && LIBSEV_SNP_PAGE_CPUID == page_type::CPUID
        && LIBSEV_SNP_POLICY_DEFAULT == crate::uapi::snp::policy::DEFAULT
);

/// One SEV-SNP guest: a KVM VM of type `KVM_X86_SNP_VM` (libsev's or the caller's) or a model
/// SNP VM, on a `libsev_platform`.
///
/// Thread safety: use a handle from one thread at a time (calls are serialised internally);
/// distinct guests are independent. A guest keeps its platform alive.
#[allow(non_camel_case_types)]
pub struct libsev_snp_guest {
    h: Handle<Mutex<SnpGuest>>,
}

impl CHandle for libsev_snp_guest {
    type Value = Mutex<SnpGuest>;
    const NAME: &'static str = "guest";
    fn wrap(h: Handle<Mutex<SnpGuest>>) -> Self {
        libsev_snp_guest { h }
    }
    fn handle(&self) -> &Handle<Mutex<SnpGuest>> {
        &self.h
    }
}

/// Run a command on the SNP guest under the C conventions.
///
/// # Safety
/// `g` NULL or a live SNP guest handle; `err` NULL or writable.
pub(crate) unsafe fn with_snp_guest(
    g: *const libsev_snp_guest,
    err: *mut libsev_error,
    f: impl FnOnce(&mut SnpGuest) -> Result<()>,
) -> libsev_status {
    // SAFETY: forwarded contract.
    unsafe { boundary::on(g, err, |m| f(&mut *boundary::lock(m, "guest")?)) }
}

pub(super) fn model_only(what: &str) -> Error {
    Error::new(
        Status::LIBSEV_STATUS_INVALID_STATE,
        format!("{what} exists only on the firmware model (a model platform)"),
    )
}

/// The model VM of a guest, or `INVALID_STATE` saying `what` exists only on the model.
fn model_vm<'a>(g: &'a SnpGuest, what: &str) -> Result<&'a crate::model::snp::SnpVm> {
    g.model_vm().ok_or_else(|| model_only(what))
}

/// Create an SNP guest on a new VM: KVM platforms create a VM of type `KVM_X86_SNP_VM` on
/// `/dev/kvm` (owned, closed by `libsev_snp_guest_free`); model platforms a model SNP VM.
/// A host whose KVM has no SNP VM type gives `LIBSEV_STATUS_KERNEL_REJECTED` (`EINVAL`) or
/// `LIBSEV_STATUS_NO_SEV_SUPPORT` (`ENOTTY`) with that reason in the message. `*out` is set only on success.
///
/// # Safety
/// `platform` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_new(
    platform: *const libsev_platform,
    out: *mut *mut libsev_snp_guest,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers are as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access (the same holds in every SNP export).
    unsafe { new_on_platform(platform, out, err, |p| Ok(Mutex::new(SnpGuest::new(p)?))) }
}

/// Create an SNP guest on the caller's VM fd (created with `KVM_X86_SNP_VM`); libsev never
/// closes it. `*out` is set only on success. Statuses as `libsev_guest_attach`.
///
/// # Safety
/// `platform` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_attach(
    platform: *const libsev_platform,
    vm_fd: c_int,
    out: *mut *mut libsev_snp_guest,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_snp_guest_new.
    unsafe {
        new_on_platform(platform, out, err, |p| {
            Ok(Mutex::new(SnpGuest::attach(p, vm_fd)?))
        })
    }
}

/// Free an SNP guest (NULL is a no-op): the firmware decommissions it and its private memory
/// is wiped. A caller's VM fd is left open.
///
/// # Safety
/// `guest` NULL or a handle from `libsev_snp_guest_new`/`_attach`, not yet freed, and not in
/// use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_free(guest: *mut libsev_snp_guest) {
    // SAFETY: see libsev_snp_guest_new.
    unsafe { boundary::free(guest) }
}

/// The message of the last failure on this guest ("" if none or NULL), with the lifetime of
/// `libsev_guest_last_error`'s.
///
/// # Safety
/// `guest` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_last_error(
    guest: *const libsev_snp_guest,
) -> *const c_char {
    // SAFETY: see libsev_snp_guest_new.
    unsafe { boundary::last_error(guest) }
}

/// Copy the message of the guest's last failure, with its NUL, into `buf` under the buffer
/// rule (as `libsev_guest_last_error_copy`).
///
/// # Safety
/// `guest` NULL or live; `buf` NULL or writable for `len` bytes; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_last_error_copy(
    guest: *const libsev_snp_guest,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> libsev_status {
    // SAFETY: see libsev_snp_guest_new.
    unsafe { boundary::last_error_copy(guest, buf, len, out_len) }
}

/// The guest's VM fd (-1 for a model VM without one, or for NULL).
///
/// # Safety
/// `guest` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_vm_fd(guest: *const libsev_snp_guest) -> c_int {
    // SAFETY: see libsev_snp_guest_new.
    unsafe { boundary::query(guest, -1, |m| Ok(boundary::lock(m, "guest")?.vm_fd())) }
}

/// `KVM_SEV_INIT2` for the SNP VM: `vmsa_features` (DebugSwap = 0x20; SNPActive is implied)
/// and `ghcb_version` (0 = 2). Before any vCPU exists. KVM (and the model) answer unknown
/// features or a GHCB version above 2 with `EINVAL` (`LIBSEV_STATUS_KERNEL_REJECTED`), and a
/// second call on the initialised SNP guest with `EPERM` (`LIBSEV_STATUS_PERMISSION_DENIED`).
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
    // SAFETY: see libsev_snp_guest_new.
    unsafe { with_snp_guest(guest, err, |g| g.init2(vmsa_features, ghcb_version)) }
}

/// Model only: vCPU `index`'s VMSA page (`LIBSEV_SNP_PAGE_LEN` bytes, what KVM builds from the
/// vCPU's registers; SEV_FEATURES at 0x3B0 is set by the model as KVM sets it). After init2
/// and before `libsev_snp_launch_finish`. On KVM: `LIBSEV_STATUS_INVALID_STATE` (create vCPUs
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
    // SAFETY: see libsev_snp_guest_new.
    unsafe {
        with_snp_guest(guest, err, |g| {
            g.set_vcpu_vmsa(index, boundary::required_input(vmsa, len, "vmsa")?)
        })
    }
}

/// Model only (callers without KVM): vCPU `vcpu_index` with `vmm`'s reset register state
/// (`LIBSEV_VMM_*`; the boot CPU at 0xFFFFFFF0, the others at `ap_reset_addr`, OVMF's SEV-ES
/// reset block from `libsev_ovmf_info_get`; RDX = `vcpu_signature`), its VMSA built as KVM
/// builds it after `libsev_snp_guest_init2` with this guest's `vmsa_features`. After init2 and
/// before `libsev_snp_launch_finish`; vCPUs are launched in index order. On KVM:
/// `LIBSEV_STATUS_INVALID_STATE` (create vCPUs with `KVM_CREATE_VCPU` and load their
/// registers, e.g. with `libsev_vcpu_set_reset_state`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_guest_add_vcpu_reset(
    guest: *mut libsev_snp_guest,
    vmm: u32,
    vcpu_signature: u32,
    vcpu_index: u32,
    ap_reset_addr: u32,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_snp_guest_new.
    unsafe {
        with_snp_guest(guest, err, |g| {
            let vmm = super::es::vmm_of(vmm)?;
            g.set_vcpu_reset(vmm, vcpu_signature, vcpu_index, ap_reset_addr)
        })
    }
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
    // SAFETY: see libsev_snp_guest_new.
    unsafe {
        with_snp_guest(guest, err, |g| {
            let w = if gosvw.is_null() {
                [0; LIBSEV_SNP_GOSVW_LEN]
            } else {
                boundary::array_in(gosvw, "gosvw")?
            };
            g.launch_start(policy, w)
        })
    }
}

/// `KVM_SEV_SNP_LAUNCH_UPDATE` of `[gpa, gpa + len)` with pages of `page_type`
/// (`LIBSEV_SNP_PAGE_*`) from `data` (NULL for ZERO pages). libsev repeats the ioctl while
/// KVM reports partial progress and checks the whole range was done. On failure the message
/// says how many bytes were launched. A CPUID page the firmware refuses
/// (`LIBSEV_STATUS_FW_INVALID_PARAM`) comes back corrected in `data`. On KVM the range must
/// be in a guest_memfd memslot and set private (`KVM_SET_MEMORY_ATTRIBUTES`) first.
///
/// `gpa` not 4 KiB aligned: `LIBSEV_STATUS_UNALIGNED`; `len` beyond any buffer of this
/// process (for a page type with data): `LIBSEV_STATUS_INVALID_LENGTH` (both before the
/// kernel); `len` not a multiple of 4096 or a page type KVM does not know: `EINVAL` from KVM
/// (and the model); `len` 0 does nothing. As KVM, the model answers `EIO` with firmware
/// status 0 (`LIBSEV_STATUS_OS_ERROR`) for a page it cannot populate: one the guest already
/// launched (an overlapping range) or a source page that cannot be read; pages before it in
/// the same call stay launched (the message says how many). A range that would take the
/// guest beyond the private memory the model may hold (half of this machine's memory, at
/// least 1 GiB) is refused as a whole with the same `EIO`. CPUID pages are launched one ioctl
/// each, so a refused page is reported even inside a longer range (it comes back corrected
/// where the buffer is writable).
///
/// # Safety
/// `guest` NULL or live; unless ZERO, `data` NULL or `len` readable (for CPUID writable)
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
    // SAFETY: see libsev_snp_guest_new; `data` goes to the kernel (or the model, which reads
    // it as the kernel does, fault-safe) as an address, never dereferenced here.
    unsafe {
        with_snp_guest(guest, err, |g| {
            let zero = page_type == LIBSEV_SNP_PAGE_ZERO;
            if !zero && len != 0 && data.is_null() {
                return Err(Error::new(
                    Status::LIBSEV_STATUS_NULL_ARGUMENT,
                    format!(
                        "data is NULL but {len} bytes of {} pages are to be launched",
                        page_type::name(page_type)
                    ),
                )
                .with_command(Command::LIBSEV_CMD_SNP_LAUNCH_UPDATE));
            }
            if !zero {
                boundary::buffer_len(len, "data")?;
            }
            let uaddr = if zero { 0 } else { data as u64 };
            g.launch_update_raw(gpa, uaddr, len as u64, page_type)
                .map(|_| ())
        })
    }
}

/// `KVM_SEV_SNP_LAUNCH_FINISH`: KVM launches every vCPU's VMSA, then the firmware verifies
/// the ID block when one is given (`id_block` 96 bytes and `id_auth` 4096 bytes, both or
/// neither; `auth_key_en` non-zero when the ID authentication carries an author key),
/// records `host_data` (32 bytes, NULL for zeros) and runs the guest. `vcek_disabled`
/// non-zero refuses VCEK-signed reports. A forged ID block is
/// `LIBSEV_STATUS_FW_BAD_SIGNATURE`, a digest or policy that differs from the launch's
/// `LIBSEV_STATUS_FW_BAD_MEASUREMENT` / `_FW_POLICY_FAILURE`. Not repeatable (KVM launches the
/// VMSAs before the firmware checks the ID block): free the guest after a failure.
///
/// # Safety
/// `guest` NULL or live; the buffers NULL or of the stated lengths; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
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
    // SAFETY: see libsev_snp_guest_new.
    unsafe {
        with_snp_guest(guest, err, |g| {
            let block = boundary::input(id_block, id_block_len, "id_block")?;
            let auth = boundary::input(id_auth, id_auth_len, "id_auth")?;
            if block.is_empty() != auth.is_empty() {
                return Err(Error::arg(
                    "give both the ID block and the ID authentication information, or neither",
                )
                .with_command(Command::LIBSEV_CMD_SNP_LAUNCH_FINISH));
            }
            let hd = if host_data.is_null() {
                [0; LIBSEV_SNP_HOST_DATA_LEN]
            } else {
                boundary::array_in(host_data, "host_data")?
            };
            g.launch_finish(&SnpFinish {
                id_block: (!block.is_empty()).then_some((block, auth)),
                auth_key_en: auth_key_en != 0,
                vcek_disabled: vcek_disabled != 0,
                host_data: hd,
            })
        })
    }
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
    // SAFETY: see libsev_snp_guest_new.
    unsafe {
        with_snp_guest(guest, err, |g| {
            boundary::need_out(out, "out")?;
            let (Some(m), Some(vm)) = (g.platform().model(), g.model_vm()) else {
                return Err(model_only("the launch digest of a guest"));
            };
            let ld = m.snp_measurement(vm).ok_or_else(|| {
                Error::new(
                    Status::LIBSEV_STATUS_INVALID_STATE,
                    "the guest has no launch context (call libsev_snp_launch_start first)",
                )
            })?;
            boundary::array_out(out, &ld, "out")
        })
    }
}

/// Model only (a testing aid): the guest's own view of its launched private page at `gpa`
/// (4 KiB aligned, else `LIBSEV_STATUS_UNALIGNED`; 4096 bytes into `out`), e.g. the secrets page the firmware filled. The host has no such
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
    // SAFETY: see libsev_snp_guest_new.
    unsafe {
        with_snp_guest(guest, err, |g| {
            boundary::need_out(out, "out")?;
            let vm = model_vm(g, "reading guest memory")?;
            if gpa & 0xFFF != 0 {
                return Err(Error::new(
                    Status::LIBSEV_STATUS_UNALIGNED,
                    format!("GPA {gpa:#x} is not 4 KiB aligned"),
                ));
            }
            let page = vm
                .guest_read_page(gpa)
                .ok_or_else(|| Error::arg(format!("no launched private page at GPA {gpa:#x}")))?;
            boundary::array_out(out, &page, "out")
        })
    }
}

/// A guest request's outcome as the guest sees it: the failed command's firmware status, or
/// the response's STATUS, becomes `LIBSEV_STATUS_FW_*` (KVM's EIO with that status).
fn guest_answer<T>(r: std::result::Result<(u32, T), u32>) -> Result<T> {
    let c = Command::LIBSEV_CMD_SNP_GUEST_REQUEST;
    match r {
        Err(fw) | Ok((fw @ 1.., _)) => Err(Error::from_command(c, libc::EIO, fw)),
        Ok((_, v)) => Ok(v),
    }
}

/// Model only: an attestation report as the guest obtains it — a MSG_REPORT_REQ with
/// `report_data` (64 bytes) and `vmpl`, encrypted with VMPCK0 from the guest's secrets page,
/// through KVM's guest request to the firmware, the response decrypted — written to `out`
/// (`LIBSEV_SNP_REPORT_LEN` bytes). Signed with ECDSA P-384 by the model chip's VCEK for its
/// REPORTED_TCB, or by the loaded VLEK (KEY_SEL 0: the VLEK if loaded, else the VCEK); with
/// `SNP_SET_CONFIG`'s `mask_chip_key` and no VLEK the report comes back unsigned (zero
/// signature, KEY_INFO signing key 7), as the firmware returns it. A refusal inside the
/// response (the VCEK disabled at launch finish and no VLEK: `LIBSEV_STATUS_FW_INVALID_KEY`)
/// is `LIBSEV_STATUS_FW_*` with that status; so is a
/// failed command (a guest whose launch is not finished: `LIBSEV_STATUS_FW_INVALID_GUEST_STATE`;
/// no secrets page: `_FW_INVALID_PARAM`). As firmware 1.55.25, a `vmpl` above 3 is not
/// refused: the report carries it (an owner checks VMPL with `LIBSEV_SNP_EXPECT_VMPL`).
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
    // SAFETY: see libsev_snp_guest_new.
    unsafe {
        with_snp_guest(guest, err, |g| {
            let rd: [u8; LIBSEV_SNP_REPORT_DATA_LEN] =
                boundary::array_in(report_data, "report_data")?;
            boundary::need_out(out, "out")?;
            let vm = model_vm(g, "a guest's attestation report")?;
            let report = guest_answer(vm.guest_report(&rd, vmpl, 0, 0))?;
            boundary::array_out(out, &report, "out")
        })
    }
}

// --- derived keys (MSG_KEY_REQ) --------------------------------------------------------------

/// Size of a key derived with `libsev_snp_guest_model_derived_key`.
pub const LIBSEV_SNP_DERIVED_KEY_LEN: usize = 32;
/// `key_select` bit 0 (ROOT_KEY_SELECT): derive from the guest's VMRK (random per guest, made
/// at launch start) instead of the chip's VCEK or the loaded VLEK.
pub const LIBSEV_SNP_KEY_ROOT_VMRK: u32 = 1;
/// `key_select` bits 1-2 (KEY_SEL) = 1: derive from the VCEK only. KEY_SEL 0 (neither bit)
/// takes the VLEK if one is loaded, else the VCEK; 3 is refused.
pub const LIBSEV_SNP_KEY_SEL_VCEK: u32 = 1 << 1;
/// `key_select` bits 1-2 (KEY_SEL) = 2: derive from the loaded VLEK only.
pub const LIBSEV_SNP_KEY_SEL_VLEK: u32 = 2 << 1;
/// `guest_field_select`: mix in the guest policy.
pub const LIBSEV_SNP_GFS_POLICY: u64 = 1 << 0;
/// `guest_field_select`: mix in the ID block's IMAGE_ID.
pub const LIBSEV_SNP_GFS_IMAGE_ID: u64 = 1 << 1;
/// `guest_field_select`: mix in the ID block's FAMILY_ID.
pub const LIBSEV_SNP_GFS_FAMILY_ID: u64 = 1 << 2;
/// `guest_field_select`: mix in the launch measurement.
pub const LIBSEV_SNP_GFS_MEASUREMENT: u64 = 1 << 3;
/// `guest_field_select`: mix in `guest_svn` (at most the ID block's GUEST_SVN).
pub const LIBSEV_SNP_GFS_GUEST_SVN: u64 = 1 << 4;
/// `guest_field_select`: mix in `tcb_version` (no component above the committed TCB); the
/// VCEK root is then the one for that TCB.
pub const LIBSEV_SNP_GFS_TCB_VERSION: u64 = 1 << 5;

const _: () = {
    use crate::model::snp::guestmsg::{DERIVED_KEY_LEN, gfs, key_select};
    assert!(
        LIBSEV_SNP_DERIVED_KEY_LEN == DERIVED_KEY_LEN
            && LIBSEV_SNP_KEY_ROOT_VMRK == key_select::ROOT_VMRK
            && LIBSEV_SNP_KEY_SEL_VCEK == key_select::KEY_SEL_VCEK
            && LIBSEV_SNP_KEY_SEL_VLEK == key_select::KEY_SEL_VLEK
            && LIBSEV_SNP_GFS_POLICY == gfs::POLICY
            && LIBSEV_SNP_GFS_IMAGE_ID == gfs::IMAGE_ID
            && LIBSEV_SNP_GFS_FAMILY_ID == gfs::FAMILY_ID
            && LIBSEV_SNP_GFS_MEASUREMENT == gfs::MEASUREMENT
            && LIBSEV_SNP_GFS_GUEST_SVN == gfs::GUEST_SVN
            && LIBSEV_SNP_GFS_TCB_VERSION == gfs::TCB_VERSION
    );
};

/// Model only: a key derived as the guest obtains it — a MSG_KEY_REQ with `key_select`
/// (`LIBSEV_SNP_KEY_ROOT_VMRK`, or 0 / `LIBSEV_SNP_KEY_SEL_*` for the chip's VCEK or the
/// loaded VLEK; KEY_SEL is not looked at with the VMRK root), `guest_field_select`
/// (`LIBSEV_SNP_GFS_*`: the guest fields mixed into the key; `vmpl`, HOST_DATA and the ID
/// block's key digest always are), `vmpl`, `guest_svn` and `tcb_version` (these two only
/// checked and mixed in when selected), encrypted with VMPCK0 from the guest's secrets page,
/// through KVM's guest request to the firmware, the response decrypted — written to `out`
/// (`LIBSEV_SNP_DERIVED_KEY_LEN` bytes). The same request on the same guest fields and chip
/// gives the same key; keys are only consistent inside one model chip (its seed), not those
/// of real hardware.
///
/// A refusal inside the response is `LIBSEV_STATUS_FW_*` with that status, checked in this
/// order: `_FW_INVALID_PARAM` for reserved `key_select` bits; `_FW_INVALID_KEY` for a
/// VCEK/VLEK root while `SNP_SET_CONFIG` masks the chip key, KEY_SEL 3, the VLEK without one
/// loaded, or the VCEK disabled at launch finish (KEY_SEL 1, or 0 without a VLEK);
/// `_FW_INVALID_PARAM` for unknown `guest_field_select` bits, a selected `tcb_version` with a
/// component above the committed TCB (or reserved bytes set), or a selected `guest_svn` above
/// the ID block's (0 without an ID block). A failed command is `LIBSEV_STATUS_FW_*` too (no
/// secrets page, e.g. before LAUNCH_START: `_FW_INVALID_PARAM`; a launch not finished:
/// `_FW_INVALID_GUEST_STATE`). `out` is written only on success.
///
/// # Safety
/// `guest` NULL or live; `out` NULL or 32 writable bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_snp_guest_model_derived_key(
    guest: *mut libsev_snp_guest,
    key_select: u32,
    guest_field_select: u64,
    vmpl: u32,
    guest_svn: u32,
    tcb_version: u64,
    out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_snp_guest_new.
    unsafe {
        with_snp_guest(guest, err, |g| {
            boundary::need_out(out, "out")?;
            let vm = model_vm(g, "a guest's derived key")?;
            let r = vm.guest_key(
                key_select,
                guest_field_select,
                vmpl,
                guest_svn,
                tcb_version,
                0,
            );
            let key = zeroize::Zeroizing::new(guest_answer(r)?);
            boundary::array_out(out, &key[..], "out")
        })
    }
}
