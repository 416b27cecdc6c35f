//! C ABI for SEV-ES: vCPUs of a guest, OVMF's tables, the kernel-hashes table a hypervisor
//! writes for measured direct boot, and the guest owner's expected SEV-ES launch digest.
//!
//! Hypervisor flow (the same code on the kernel and on the firmware model):
//! `libsev_guest_es_init` → `_launch_start` (policy with `LIBSEV_POLICY_ES`) →
//! `_launch_update_data` over the OVMF image (and over the hashes table from
//! `libsev_es_hash_table`, when booting a kernel directly) → create the vCPUs on the KVM VM fd,
//! set their reset registers (`libsev_vcpu_set_reset_state` does it as QEMU does), and pass
//! each to `libsev_guest_add_vcpu` in creation order → `_launch_update_vmsa` → `_launch_measure`.
//!
//! Owner flow: `libsev_es_launch_digest` from its own copy of the inputs, or
//! `libsev_owner_session_verify_es_launch`, which also verifies LAUNCH_MEASURE and on a
//! mismatch names the inputs it assumed.

use super::boundary;
use super::guest::{libsev_guest, with_guest};
use super::libsev_error;
use super::owner::{libsev_owner_session, with_session};
use crate::error::{Error, Result};
use crate::owner::es::ovmf::SectionType;
use crate::owner::es::{DirectBoot, EsLaunchInputs, Ovmf, es_launch_digest, padded_table};
use crate::owner::measurement::{FirmwareVersion, MEASUREMENT_LEN};
use crate::status::{Status, libsev_status};
use crate::uapi::vmsa::{self, KvmInit, VmmType};
use std::ffi::{c_char, c_int};

/// `libsev_es_launch.vmm`: QEMU/KVM (architectural reset, RDX = the vCPU model's signature).
pub const LIBSEV_VMM_QEMU: u32 = 0;
/// `libsev_es_launch.vmm`: Amazon EC2's reset state.
pub const LIBSEV_VMM_EC2: u32 = 1;
/// `libsev_es_launch.vmm`: Google Compute Engine's reset state.
pub const LIBSEV_VMM_GCE: u32 = 2;

/// `libsev_es_launch.init`: the VM was made with `KVM_SEV_ES_INIT` (QEMU's default for SEV-ES;
/// KVM writes no x87/SSE state into the VMSAs).
pub const LIBSEV_ES_PROFILE_ES_INIT: u32 = 0;
/// `libsev_es_launch.init`: the VM was made with `KVM_SEV_INIT2` (KVM copies the x87/SSE
/// reset state: FCW 0x37F, MXCSR 0x1F80; the profile the public measurement tools model).
pub const LIBSEV_ES_PROFILE_INIT2: u32 = 1;

/// Guest policy bit 2: the guest requires SEV-ES (`LAUNCH_START`'s `policy`).
pub const LIBSEV_POLICY_ES: u32 = 1 << 2;

/// Size of the kernel-hashes table `libsev_es_hash_table` produces.
pub const LIBSEV_ES_HASH_TABLE_LEN: usize = 176;
const _: () = assert!(LIBSEV_ES_HASH_TABLE_LEN == crate::owner::es::hashes::PADDED_TABLE_LEN);

/// Everything an SEV-ES launch digest depends on. Zero-initialise, then fill.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct libsev_es_launch {
    /// The firmware image exactly as the hypervisor measures it (e.g. `OVMF_CODE.fd`).
    pub ovmf: *const u8,
    pub ovmf_len: usize,
    /// Non-zero: measured direct boot (QEMU `kernel-hashes=on`): the 176-byte hashes table of
    /// `kernel`, `initrd` and `cmdline` is measured after the image. Zero: those are ignored.
    pub direct_boot: u32,
    /// The kernel file (NULL with length 0 for an empty one).
    pub kernel: *const u8,
    pub kernel_len: usize,
    /// The initrd (NULL with length 0 for none).
    pub initrd: *const u8,
    pub initrd_len: usize,
    /// The kernel command line, NUL-terminated, or NULL for none.
    pub cmdline: *const c_char,
    /// Number of vCPUs (1 … 4096).
    pub vcpus: u32,
    /// The vCPU model's CPUID(1).EAX signature; 0: take it from `cpu_model`.
    pub vcpu_signature: u32,
    /// A QEMU CPU model name (`"EPYC-v4"`, `"EPYC-Milan"`, `"EPYC-Genoa"`, …), used when
    /// `vcpu_signature` is 0. EC2 and GCE ignore the vCPU model; both may then be 0/NULL.
    pub cpu_model: *const c_char,
    /// `LIBSEV_VMM_QEMU`, `_EC2` or `_GCE`.
    pub vmm: u32,
    /// `LIBSEV_ES_PROFILE_ES_INIT` or `LIBSEV_ES_PROFILE_INIT2`.
    pub init: u32,
    /// SEV_FEATURES in the VMSAs: 0 unless the VM was made with `KVM_SEV_INIT2` and
    /// `vmsa_features` (e.g. 0x20 DebugSwap).
    pub sev_features: u64,
}

/// What `libsev_ovmf_info` reports about an OVMF image.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct libsev_ovmf_info {
    /// Guest-physical address of the image's first byte (it ends at 4 GiB).
    pub gpa: u64,
    /// The AP reset address from the SEV-ES reset block (never 0).
    pub sev_es_reset_addr: u32,
    /// 1 when the image supports measured direct boot (a usable hash-table area).
    pub has_hash_table: u32,
    pub hash_table_base: u32,
    pub hash_table_size: u32,
    /// The launch-secret area (0/0 when absent).
    pub secret_base: u32,
    pub secret_size: u32,
    /// 1 when the image has SEV metadata (SEV-SNP support); see `libsev_ovmf_metadata`.
    pub has_metadata: u32,
    /// Number of metadata sections.
    pub metadata_sections: u32,
}

/// One section of OVMF's SEV metadata.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct libsev_ovmf_section {
    pub gpa: u32,
    pub size: u32,
    /// 1 SNP_SEC_MEM, 2 SNP_SECRETS, 3 CPUID, 4 SVSM_CAA, 0x10 SNP_KERNEL_HASHES.
    pub kind: u32,
}

pub(super) fn vmm_of(v: u32) -> Result<VmmType> {
    match v {
        LIBSEV_VMM_QEMU => Ok(VmmType::Qemu),
        LIBSEV_VMM_EC2 => Ok(VmmType::Ec2),
        LIBSEV_VMM_GCE => Ok(VmmType::Gce),
        v => Err(Error::arg(format!(
            "vmm {v} is not LIBSEV_VMM_QEMU, _EC2 or _GCE"
        ))),
    }
}

fn init_of(v: u32) -> Result<KvmInit> {
    match v {
        LIBSEV_ES_PROFILE_ES_INIT => Ok(KvmInit::EsInit),
        LIBSEV_ES_PROFILE_INIT2 => Ok(KvmInit::Init2),
        v => Err(Error::arg(format!(
            "init {v} is not LIBSEV_ES_PROFILE_ES_INIT or _INIT2"
        ))),
    }
}

/// # Safety
/// `p` NULL or readable for `len` bytes.
unsafe fn image<'a>(p: *const u8, len: usize) -> Result<(&'a [u8], Ovmf)> {
    // SAFETY: forwarded contract.
    let img = unsafe { boundary::input(p, len, "ovmf") }?;
    let o = Ovmf::parse(img)
        .map_err(|e| Error::new(Status::LIBSEV_STATUS_BAD_FIRMWARE_IMAGE, e.to_string()))?;
    Ok((img, o))
}

/// # Safety
/// `p` NULL or NUL-terminated.
pub(super) unsafe fn opt_cstr<'a>(p: *const c_char, name: &str) -> Result<Option<&'a [u8]>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated (contract).
    Ok(Some(unsafe { boundary::string(p, name) }?.as_bytes()))
}

/// # Safety
/// `model` NULL or NUL-terminated.
pub(super) unsafe fn signature(sig: u32, model: *const c_char, vmm: VmmType) -> Result<u32> {
    if sig != 0 {
        return Ok(sig);
    }
    if model.is_null() {
        return if vmm == VmmType::Qemu {
            Err(Error::arg(
                "neither vcpu_signature nor cpu_model is given (the QEMU profile puts the vCPU \
                 model's signature in RDX)",
            ))
        } else {
            Ok(0)
        };
    }
    // SAFETY: non-NULL and NUL-terminated (contract).
    let name = unsafe { boundary::string(model, "cpu_model") }?;
    vmsa::signature_for_cpu_model(name).ok_or_else(|| {
        Error::arg(format!(
            "unknown CPU model \"{name}\" (known: EPYC, EPYC-v1…v4, EPYC-Rome…, EPYC-Milan…, \
             EPYC-Genoa…, EPYC-Turin…); give vcpu_signature instead"
        ))
    })
}

/// Read a `libsev_es_launch` into the Rust inputs.
///
/// # Safety
/// The pointers in `l` valid for their lengths, strings NUL-terminated.
unsafe fn inputs<'a>(l: &'a libsev_es_launch) -> Result<EsLaunchInputs<'a>> {
    // SAFETY: forwarded contract (the pointers of `l` valid for their lengths).
    let ovmf = unsafe { boundary::input(l.ovmf, l.ovmf_len, "ovmf") }?;
    let vmm = vmm_of(l.vmm)?;
    let boot = if l.direct_boot != 0 {
        Some(DirectBoot {
            // SAFETY: forwarded contract.
            kernel: unsafe { boundary::input(l.kernel, l.kernel_len, "kernel") }?,
            // SAFETY: forwarded contract.
            initrd: unsafe { boundary::input(l.initrd, l.initrd_len, "initrd") }?,
            // SAFETY: forwarded contract.
            cmdline: unsafe { opt_cstr(l.cmdline, "cmdline") }?,
        })
    } else {
        None
    };
    Ok(EsLaunchInputs {
        ovmf,
        boot,
        vcpus: l.vcpus,
        // SAFETY: forwarded contract.
        vcpu_signature: unsafe { signature(l.vcpu_signature, l.cpu_model, vmm) }?,
        vmm,
        init: init_of(l.init)?,
        sev_features: l.sev_features,
    })
}

/// The SEV-ES launch digest (SHA-256, 32 bytes into `digest_out`) the firmware reaches for
/// `launch`: the image, the hashes table if `direct_boot`, then one VMSA per vCPU as KVM
/// builds it from the VMM's reset state.
///
/// Statuses: `LIBSEV_STATUS_BAD_FIRMWARE_IMAGE` (no OVMF footer table or SEV-ES reset block;
/// `direct_boot` with an image that has no hash-table area), `LIBSEV_STATUS_INVALID_ARGUMENT`
/// (vCPU count, unknown CPU model or constant), `LIBSEV_STATUS_NULL_ARGUMENT`.
/// Thread safety: pure; any thread.
///
/// # Safety
/// `launch` NULL or a valid struct whose pointers are valid for their lengths (strings
/// NUL-terminated); `digest_out` 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_es_launch_digest(
    launch: *const libsev_es_launch,
    digest_out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented; the boundary checks NULLs first.
    unsafe {
        boundary::call(err, || {
            let l = boundary::reference(launch, "launch")?;
            boundary::need_out(digest_out, "digest_out")?;
            let d = es_launch_digest(&inputs(l)?)?;
            boundary::array_out(digest_out, &d, "digest_out")
        })
    }
}

/// The guest owner's check of an SEV-ES launch in one call: computes the expected launch
/// digest for `launch` (as `libsev_es_launch_digest`), makes it the session's digest and
/// verifies LAUNCH_MEASURE's 48 bytes (as `libsev_owner_session_verify_measurement`). On a
/// mismatch (`LIBSEV_STATUS_MEASUREMENT_MISMATCH`) the message names the inputs assumed
/// (image size, direct boot, vCPU count and signature, VMM, INIT profile, features), and
/// `expected_out` (NULL or 32 bytes) receives the expected MEASURE.
///
/// After a successful verification the session is final: the same inputs verify again,
/// others give `LIBSEV_STATUS_INVALID_STATE`. Thread safety: as the session (one thread at a
/// time).
///
/// # Safety
/// `session` NULL or a live handle; `launch` as for `libsev_es_launch_digest`;
/// `measurement` 48 readable bytes; `expected_out` NULL or 32 writable bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_owner_session_verify_es_launch(
    session: *mut libsev_owner_session,
    launch: *const libsev_es_launch,
    api_major: u8,
    api_minor: u8,
    build: u8,
    measurement: *const u8,
    expected_out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented; the boundary checks NULLs first.
    unsafe {
        with_session(session, err, |s| {
            let l = boundary::reference(launch, "launch")?;
            let m: [u8; MEASUREMENT_LEN] = boundary::array_in(measurement, "measurement")?;
            let i = inputs(l)?;
            let d = es_launch_digest(&i)?;
            // After a successful verification the digest is final: the same inputs may verify
            // again, others are refused (INVALID_STATE).
            if s.launch_digest() != d {
                s.set_launch_digest(d)?;
            }
            let ver = FirmwareVersion::new(api_major, api_minor, build);
            let (expected, result) = match s.verify_measurement(ver, &m) {
                Ok(x) => (Some(x), Ok(())),
                Err(e) => {
                    let x = e.expected();
                    let mut e: Error = e.into();
                    if e.status == Status::LIBSEV_STATUS_MEASUREMENT_MISMATCH {
                        e.message = format!(
                            "SEV-ES launch measurement does not match the launch the owner expects \
                         ({}): {}",
                            i.describe(),
                            e.message
                        );
                    }
                    (x, Err(e))
                }
            };
            if let (Some(x), false) = (expected, expected_out.is_null()) {
                boundary::array_out(expected_out, &x, "expected_out")?;
            }
            result
        })
    }
}

/// The CPUID(1).EAX signature of a QEMU CPU model name (e.g. `"EPYC-v4"` → 0x00800F12).
///
/// Statuses: `LIBSEV_STATUS_INVALID_ARGUMENT` (unknown name), `LIBSEV_STATUS_NULL_ARGUMENT`,
/// `LIBSEV_STATUS_INVALID_STRING`. Thread safety: any thread.
///
/// # Safety
/// `name` NULL or NUL-terminated; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_cpu_model_signature(
    name: *const c_char,
    out: *mut u32,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented; the boundary checks NULLs first.
    unsafe {
        boundary::call(err, || {
            boundary::string(name, "name")?;
            boundary::need_out(out, "out")?;
            boundary::write_out(out, signature(0, name, VmmType::Qemu)?, "out")
        })
    }
}

/// Parse an OVMF image's SEV tables into `*out`.
///
/// Statuses: `LIBSEV_STATUS_BAD_FIRMWARE_IMAGE` (no footer table, malformed table, no SEV-ES
/// reset block), `LIBSEV_STATUS_NULL_ARGUMENT`. Nothing is written on failure. Thread
/// safety: pure.
///
/// # Safety
/// `ovmf` readable for `ovmf_len`; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_ovmf_info_get(
    ovmf: *const u8,
    ovmf_len: usize,
    out: *mut libsev_ovmf_info,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented; the boundary checks NULLs first.
    unsafe {
        boundary::call(err, || {
            boundary::need_out(out, "out")?;
            let (_, o) = image(ovmf, ovmf_len)?;
            let ht = o.hash_table().ok();
            let secret = o
                .secret_area()
                .unwrap_or(crate::owner::es::Area { base: 0, size: 0 });
            let md = o.metadata().ok();
            let info = libsev_ovmf_info {
                gpa: o.gpa(),
                sev_es_reset_addr: o.sev_es_reset_addr(),
                has_hash_table: ht.is_some() as u32,
                hash_table_base: ht.map_or(0, |a| a.base),
                hash_table_size: ht.map_or(0, |a| a.size),
                secret_base: secret.base,
                secret_size: secret.size,
                has_metadata: md.is_some() as u32,
                metadata_sections: md.map_or(0, |m| m.len() as u32),
            };
            boundary::write_out(out, info, "out")
        })
    }
}

/// The SEV metadata sections of an OVMF image, in table order (what SEV-SNP launches).
/// Buffer rule: `*out_count` receives the number of sections; a NULL or short `sections`
/// gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` and writes nothing to it.
///
/// Statuses: `LIBSEV_STATUS_BAD_FIRMWARE_IMAGE` (as `libsev_ovmf_info_get`, or no/malformed
/// SEV metadata). Thread safety: pure.
///
/// # Safety
/// `ovmf` readable for `ovmf_len`; `sections` NULL or `count` writable entries; `out_count`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_ovmf_metadata(
    ovmf: *const u8,
    ovmf_len: usize,
    sections: *mut libsev_ovmf_section,
    count: usize,
    out_count: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented; the boundary checks NULLs first.
    unsafe {
        boundary::call(err, || {
            boundary::need_out(out_count, "out_count")?;
            let (_, o) = image(ovmf, ovmf_len)?;
            let md = o
                .metadata()
                .map_err(|e| Error::new(Status::LIBSEV_STATUS_BAD_FIRMWARE_IMAGE, e.to_string()))?;
            boundary::write_out(out_count, md.len(), "out_count")?;
            if sections.is_null() || count < md.len() {
                return Err(Error::new(
                    Status::LIBSEV_STATUS_BUFFER_TOO_SMALL,
                    format!(
                        "room for {} sections given, {} needed",
                        if sections.is_null() { 0 } else { count },
                        md.len()
                    ),
                ));
            }
            for (i, s) in md.iter().enumerate() {
                let v = libsev_ovmf_section {
                    gpa: s.gpa,
                    size: s.size,
                    kind: SectionType::raw(s.kind),
                };
                // SAFETY: `sections` has `count >= md.len()` writable entries (C contract).
                sections.add(i).write_unaligned(v);
            }
            Ok(())
        })
    }
}

/// For measured direct boot: QEMU's 176-byte kernel-hashes table for `kernel`, `initrd`
/// (NULL/0: empty) and `cmdline` (NULL: none), and in `*gpa_out` the guest-physical address
/// where OVMF expects it (the base of the image's hash-table area). The hypervisor writes the
/// table there in guest memory and measures exactly those bytes with LAUNCH_UPDATE_DATA after
/// the firmware image; the owner's `libsev_es_launch_digest` with `direct_boot` computes the
/// same bytes. Buffer rule on `(table, len, out_len)`.
///
/// Statuses: `LIBSEV_STATUS_BAD_FIRMWARE_IMAGE` (no OVMF tables, or no hash-table area:
/// the image does not support measured direct boot), `LIBSEV_STATUS_BUFFER_TOO_SMALL`.
/// Thread safety: pure.
///
/// # Safety
/// Input pointers readable for their lengths, `cmdline` NULL or NUL-terminated; `table` NULL
/// or `len` writable bytes; `out_len` writable; `gpa_out` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_es_hash_table(
    ovmf: *const u8,
    ovmf_len: usize,
    kernel: *const u8,
    kernel_len: usize,
    initrd: *const u8,
    initrd_len: usize,
    cmdline: *const c_char,
    table: *mut u8,
    len: usize,
    out_len: *mut usize,
    gpa_out: *mut u64,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented; the boundary checks NULLs first.
    unsafe {
        boundary::call(err, || {
            let (_, o) = image(ovmf, ovmf_len)?;
            let area = o
                .hash_table()
                .map_err(|e| Error::new(Status::LIBSEV_STATUS_BAD_FIRMWARE_IMAGE, e.to_string()))?;
            let boot = DirectBoot {
                kernel: boundary::input(kernel, kernel_len, "kernel")?,
                initrd: boundary::input(initrd, initrd_len, "initrd")?,
                cmdline: opt_cstr(cmdline, "cmdline")?,
            };
            boundary::Out::new(table, len, out_len, ("table", "out_len"))?
                .put(&padded_table(&boot))?;
            if !gpa_out.is_null() {
                // SAFETY: non-NULL and writable (C contract).
                gpa_out.write_unaligned(area.base as u64);
            }
            Ok(())
        })
    }
}

/// Tell libsev about a vCPU of this guest: `vcpu_fd` from `KVM_CREATE_VCPU` on the real KVM
/// VM, after its reset registers are set and before `libsev_guest_launch_update_vmsa`. Call
/// for every vCPU in creation order. On the kernel this only checks the fd (KVM already knows
/// its vCPUs); on the firmware model the registers are read from the KVM vCPU when
/// LAUNCH_UPDATE_VMSA runs, and its VMSA is built as KVM would. libsev never closes the fd.
///
/// Statuses: `LIBSEV_STATUS_BAD_FD` (not open), `LIBSEV_STATUS_INVALID_ARGUMENT` (not a KVM
/// vCPU, or added twice). Thread safety: as the guest.
///
/// # Safety
/// `guest` NULL or a live handle; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_add_vcpu(
    guest: *mut libsev_guest,
    vcpu_fd: c_int,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented.
    unsafe { with_guest(guest, err, |g| g.add_vcpu_fd(vcpu_fd)) }
}

/// For callers without KVM (firmware model only): add a vCPU whose registers are `vmm`'s reset
/// state for vCPU `vcpu_index` (0 = the boot CPU at 0xFFFFFFF0; others at `ap_reset_addr`,
/// OVMF's SEV-ES reset block from `libsev_ovmf_info_get`), RDX = `vcpu_signature`.
///
/// Statuses: `LIBSEV_STATUS_INVALID_STATE` (kernel transport: create real vCPUs),
/// `LIBSEV_STATUS_INVALID_ARGUMENT`. Thread safety: as the guest.
///
/// # Safety
/// `guest` NULL or a live handle; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_add_vcpu_reset(
    guest: *mut libsev_guest,
    vmm: u32,
    vcpu_signature: u32,
    vcpu_index: u32,
    ap_reset_addr: u32,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented.
    unsafe {
        with_guest(guest, err, |g| {
            let st = vmsa::reset_state(vmm_of(vmm)?, vcpu_signature, vcpu_index, ap_reset_addr);
            g.add_vcpu_state(&st)
        })
    }
}

/// A hypervisor helper: load `vmm`'s reset register state for vCPU `vcpu_index` into the KVM
/// vCPU `vcpu_fd` (`KVM_SET_REGS`, `_SREGS`, `_FPU`, `_XCRS`, `_DEBUGREGS`, `_MSRS`), as QEMU's
/// reset does for SEV-ES: the boot CPU at the reset vector, the others at `ap_reset_addr`,
/// RDX = `vcpu_signature`. Works on any KVM (SEV or not).
///
/// Statuses: `LIBSEV_STATUS_BAD_FD`, `LIBSEV_STATUS_INVALID_ARGUMENT` (not a vCPU; unknown
/// `vmm`), `LIBSEV_STATUS_OS_ERROR` (an ioctl failed). Thread safety: any thread (one vCPU
/// from one thread at a time, as KVM requires).
///
/// # Safety
/// `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_vcpu_set_reset_state(
    vcpu_fd: c_int,
    vmm: u32,
    vcpu_signature: u32,
    vcpu_index: u32,
    ap_reset_addr: u32,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: `err` as documented.
    unsafe {
        boundary::call(err, || {
            let st = vmsa::reset_state(vmm_of(vmm)?, vcpu_signature, vcpu_index, ap_reset_addr);
            crate::transport::vcpu::write_vcpu_state(vcpu_fd, &st).map_err(|e| {
                let status = match e {
                    libc::EBADF => Status::LIBSEV_STATUS_BAD_FD,
                    libc::EINVAL => Status::LIBSEV_STATUS_INVALID_ARGUMENT,
                    _ => Status::LIBSEV_STATUS_OS_ERROR,
                };
                let mut err = Error::new(
                    status,
                    format!(
                        "setting the reset registers of vCPU fd {vcpu_fd}: {}",
                        std::io::Error::from_raw_os_error(e)
                    ),
                );
                err.os_errno = e;
                err
            })
        })
    }
}

#[cfg(test)]
#[path = "es_tests.rs"]
mod tests;
