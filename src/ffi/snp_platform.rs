//! C ABI for the SEV-SNP platform commands through `/dev/sev` (`SNP_PLATFORM_STATUS`,
//! `SNP_COMMIT`, `SNP_SET_CONFIG`, `SNP_VLEK_LOAD`) and the model chip's helpers a test or
//! demo needs (a wrapped VLEK for it, its extended-report certificate table).

use super::boundary::{self, Out, write_out};
use super::libsev_error;
use super::platform::libsev_platform;
use super::snp::{LIBSEV_SNP_VLEK_STICKS_LEN, model_only};
use crate::api::Platform;
use crate::error::{Error, Result};
use crate::model::ModelPlatform;
use crate::status::{Status, libsev_status};
use std::ffi::c_int;

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

/// The model behind a platform, or `INVALID_STATE` saying `what` exists only on the model.
fn model_of<'a>(p: &'a Platform, what: &str) -> Result<&'a std::sync::Arc<ModelPlatform>> {
    p.model().ok_or_else(|| model_only(what))
}

/// `SNP_PLATFORM_STATUS` into `*out` (written only on success).
///
/// # Safety
/// `platform` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_platform_status(
    platform: *const libsev_platform,
    out: *mut libsev_snp_platform_status_info,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers are as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access (the same holds in every export here).
    unsafe {
        boundary::on(platform, err, |p| {
            boundary::need_out(out, "out")?;
            let s = p.snp_status()?;
            let info = libsev_snp_platform_status_info {
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
            write_out(out, info, "out")
        })
    }
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
    // SAFETY: see libsev_snp_platform_status.
    unsafe { boundary::on(platform, err, Platform::snp_commit) }
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
    // SAFETY: see libsev_snp_platform_status.
    unsafe {
        boundary::on(platform, err, |p| {
            p.snp_set_config(reported_tcb, mask_chip_id != 0, mask_chip_key != 0)
        })
    }
}

/// `SNP_VLEK_LOAD` of a wrapped VLEK hash stick (`LIBSEV_SNP_VLEK_WRAPPED_LEN` bytes).
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
    // SAFETY: see libsev_snp_platform_status.
    unsafe {
        boundary::on(platform, err, |p| {
            p.snp_vlek_load(boundary::required_input(wrapped, len, "wrapped")?)
        })
    }
}

/// Model only: a VLEK blob for `libsev_snp_vlek_load` on this model chip — 8 hash sticks
/// (`LIBSEV_SNP_VLEK_STICKS_LEN` bytes; the VLEK derives from the last) wrapped with the
/// chip's model wrapping key and bound to `tcb` (`LIBSEV_SNP_VLEK_WRAPPED_LEN` bytes into
/// `out`).
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
    // SAFETY: see libsev_snp_platform_status.
    unsafe {
        boundary::on(platform, err, |p| {
            let s: [u8; LIBSEV_SNP_VLEK_STICKS_LEN] = boundary::array_in(sticks, "sticks")?;
            boundary::need_out(out, "out")?;
            let m = model_of(p, "wrapping a VLEK for the chip")?;
            boundary::array_out(out, &m.snp_wrap_vlek(&s, tcb), "out")
        })
    }
}

/// Model only: the extended-report certificate table (24-byte entries with RFC 4122 GUIDs,
/// then DER certificates) a VMM hands its guests for this model chip: the test-only SNP root's
/// ARK and ASK and the chip's VCEK certificate for its REPORTED_TCB. Buffer rule: a NULL or
/// short `buf` gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the size in `*out_len`.
///
/// # Safety
/// `platform` NULL or live; `buf` NULL or `len` writable bytes; `out_len` NULL or writable;
/// `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_model_cert_table(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_snp_platform_status.
    unsafe {
        boundary::on(platform, err, |p| {
            let out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            let m = model_of(p, "the model chip's certificate table")?;
            let t = m.snp_cert_table().map_err(|e| {
                Error::new(
                    Status::LIBSEV_STATUS_INTERNAL,
                    format!("issuing the model VCEK certificate: {e}"),
                )
            })?;
            out.put(&t)
        })
    }
}
