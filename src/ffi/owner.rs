//! C ABI: the guest owner's launch session (`libsev_owner_session`) and attestation-report
//! verification.
//!
//! Flow: `libsev_owner_session_new` (after `libsev_chain_verify` accepted the platform's chain)
//! → `_godh` and `_blob` for LAUNCH_START → `_measure_update` with every byte the hypervisor
//! encrypts, in order (or `_set_launch_digest`) → `_verify_measurement` with LAUNCH_MEASURE's
//! 48 bytes → `_package_secret` for LAUNCH_SECRET → `_free`.

use super::boundary::{
    self, CHandle, Handle, Out, array_in, array_out, out_handle, required_input,
};
use super::libsev_error;
use crate::certs::sev::{SevCert, Usage};
use crate::error::{Error, Result};
use crate::owner::attestation::verify_report_with_key;
use crate::owner::secret::wire_len;
use crate::owner::{FirmwareVersion, SecretOptions, Session};
use crate::status::{Command, Status, libsev_status};
use crate::uapi::sizes;
use std::ffi::c_char;
use std::sync::Mutex;

/// `flags` bit for `libsev_owner_session_package_secret`: zero-pad a secret whose length is not
/// a multiple of 16 up to the next multiple (otherwise such a secret is refused with
/// `LIBSEV_STATUS_INVALID_LENGTH`).
pub const LIBSEV_SECRET_PAD: u32 = 1;
/// A guest owner's launch session: the ephemeral GODH key's certificate, the transport keys
/// TEK/TIK (secret; wiped when the handle is freed), the policy, the launch digest being built
/// and, after `_verify_measurement`, the verified measurement.
///
/// Thread safety: use a handle from one thread at a time; distinct handles are independent.
#[allow(non_camel_case_types)]
pub struct libsev_owner_session {
    h: Handle<Mutex<Session>>,
}

impl CHandle for libsev_owner_session {
    type Value = Mutex<Session>;
    const NAME: &'static str = "session";
    fn wrap(h: Handle<Mutex<Session>>) -> Self {
        libsev_owner_session { h }
    }
    fn handle(&self) -> &Handle<Mutex<Session>> {
        &self.h
    }
}

/// Run a call on the session under the C conventions.
///
/// # Safety
/// `s` NULL or a live session handle; `err` NULL or writable.
pub(crate) unsafe fn with_session(
    s: *const libsev_owner_session,
    err: *mut libsev_error,
    f: impl FnOnce(&mut Session) -> Result<()>,
) -> libsev_status {
    // SAFETY: forwarded contract.
    unsafe { boundary::on(s, err, |m| f(&mut *boundary::lock(m, "session")?)) }
}

/// The verified contents of a legacy attestation report.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct libsev_attestation_info {
    /// The MNONCE given to the ATTESTATION command (compare it with yours).
    pub mnonce: [u8; 16],
    /// The launch digest the firmware saved at LAUNCH_MEASURE.
    pub launch_digest: [u8; 32],
    /// The guest policy.
    pub policy: u32,
}

fn owner_err(e: Error) -> Error {
    e.with_command(Command::LIBSEV_CMD_OWNER)
}

/// Create a session for the platform whose PDH certificate (2084 bytes) is `pdh`, for guest
/// `policy`. The PDH is sanity-checked (version, usage PDH, ECDH algorithm, P-384 point),
/// not signature-checked: verify the chain with `libsev_chain_verify` first. Policy bits 6–15
/// must be 0 (`LIBSEV_STATUS_INVALID_ARGUMENT`). `*out` is set only on success.
///
/// # Safety
/// `pdh` must point to `pdh_len` readable bytes; `out` to a writable pointer; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_new(
    pdh: *const u8,
    pdh_len: usize,
    policy: u32,
    out: *mut *mut libsev_owner_session,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        boundary::call(err, || {
            let out = out_handle(out, "out")?;
            let pdh = required_input(pdh, pdh_len, "pdh")?;
            let cert = SevCert::from_bytes(pdh).map_err(|e| {
                Error::new(Status::LIBSEV_STATUS_INVALID_LENGTH, format!("pdh: {e}"))
            })?;
            out.put(Mutex::new(Session::new(&cert, policy).map_err(owner_err)?));
            Ok(())
        })
    }
}

/// Copy the owner's GODH certificate (2084 bytes) for LAUNCH_START into `buf`. Two-call size
/// query: a NULL or short `buf` gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the size in
/// `*out_len`. A session restored by `_import` has none (`LIBSEV_STATUS_INVALID_STATE`).
///
/// # Safety
/// `session` must be NULL or a live handle; `buf` NULL or `len` writable bytes; `out_len`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_godh(
    session: *const libsev_owner_session,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        with_session(session, err, |s| {
            let out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            out.put(s.godh().map_err(owner_err)?.as_bytes())
        })
    }
}

/// Copy the 128-byte session blob for LAUNCH_START into `buf` (same buffer rules as `_godh`).
///
/// # Safety
/// As for `libsev_owner_session_godh`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_blob(
    session: *const libsev_owner_session,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        with_session(session, err, |s| {
            let out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            out.put(s.blob().map_err(owner_err)?)
        })
    }
}

/// Add the next `len` bytes that the hypervisor passes to LAUNCH_UPDATE_DATA (or
/// LAUNCH_UPDATE_VMSA) to the expected launch digest, in the same order. `data` may be NULL
/// when `len` is 0. Refused (`LIBSEV_STATUS_INVALID_STATE`) after a measurement verified or
/// after `_set_launch_digest`.
///
/// # Safety
/// `session` NULL or a live handle not used by another thread; `data` readable for `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_measure_update(
    session: *mut libsev_owner_session,
    data: *const u8,
    len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        with_session(session, err, |s| {
            let data = boundary::input(data, len, "data")?;
            s.measure_update(data).map_err(owner_err)
        })
    }
}

/// Use a launch digest (SHA-256, 32 bytes) computed elsewhere instead of `_measure_update`.
///
/// # Safety
/// `session` NULL or a live handle not used by another thread; `digest` 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_set_launch_digest(
    session: *mut libsev_owner_session,
    digest: *const u8,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        with_session(session, err, |s| {
            let d: [u8; 32] = array_in(digest, "digest")?;
            s.set_launch_digest(d).map_err(owner_err)
        })
    }
}

/// Write the launch digest so far (32 bytes) to `digest_out`.
///
/// # Safety
/// `session` NULL or a live handle; `digest_out` 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_launch_digest(
    session: *const libsev_owner_session,
    digest_out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        with_session(session, err, |s| {
            array_out(digest_out, &s.launch_digest(), "digest_out")
        })
    }
}

/// Verify LAUNCH_MEASURE's output (`measurement`, 48 bytes: MEASURE ‖ MNONCE) made by firmware
/// API `api_major.api_minor`, build `build` (from PLATFORM_STATUS), against this session's TIK,
/// policy and launch digest. API versions before 0.17 use the older formula without the
/// version prefix.
///
/// `LIBSEV_STATUS_MEASUREMENT_MISMATCH` when it does not match. `expected_out` (may be NULL,
/// else 32 writable bytes) receives the expected MEASURE on success *and* on a mismatch (the
/// one exception to "nothing written on failure": it is the diagnosis). Verifying again after
/// success is allowed for the same measurement only (`LIBSEV_STATUS_INVALID_STATE` otherwise).
///
/// # Safety
/// `session` NULL or a live handle not used by another thread; `measurement` 48 readable
/// bytes; `expected_out` NULL or 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_verify_measurement(
    session: *mut libsev_owner_session,
    api_major: u8,
    api_minor: u8,
    build: u8,
    measurement: *const u8,
    expected_out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        with_session(session, err, |s| {
            let m: [u8; sizes::MEASUREMENT] = array_in(measurement, "measurement")?;
            let ver = FirmwareVersion::new(api_major, api_minor, build);
            let (expected, result) = match s.verify_measurement(ver, &m) {
                Ok(measure) => (Some(measure), Ok(())),
                Err(e) => (e.expected(), Err(owner_err(e.into()))),
            };
            if let (Some(x), false) = (expected, expected_out.is_null()) {
                array_out(expected_out, &x, "expected_out")?;
            }
            result
        })
    }
}

/// Package a launch secret for LAUNCH_SECRET: the 52-byte header into `hdr_out` and the
/// ciphertext into `trans_buf` (`*trans_out_len` = its length, which is also the `guest_len`
/// and `trans_len` to pass to the firmware). Fresh random IV each call.
///
/// Only after `_verify_measurement` succeeded (`LIBSEV_STATUS_INVALID_STATE` otherwise).
/// Lengths: `secret_len` must be > 0, a multiple of 16 and ≤ `LIBSEV_SECRET_MAX_LEN`, unless
/// `flags` has `LIBSEV_SECRET_PAD` (zero-pad to a multiple of 16; the padded length must still
/// fit); otherwise `LIBSEV_STATUS_INVALID_LENGTH`. A NULL or short `trans_buf` gives
/// `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the needed size in `*trans_out_len`. Nothing is
/// written to `hdr_out` or `trans_buf` on failure.
///
/// # Safety
/// `session` NULL or a live handle; `secret` readable for `secret_len`; `hdr_out` 52 writable
/// bytes; `trans_buf` NULL or `trans_len` writable bytes; `trans_out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_package_secret(
    session: *const libsev_owner_session,
    secret: *const u8,
    secret_len: usize,
    flags: u32,
    hdr_out: *mut u8,
    trans_buf: *mut u8,
    trans_len: usize,
    trans_out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        with_session(session, err, |s| {
            if flags & !LIBSEV_SECRET_PAD != 0 {
                return Err(Error::arg(format!(
                    "unknown flags {:#x} (only LIBSEV_SECRET_PAD is defined)",
                    flags & !LIBSEV_SECRET_PAD
                )));
            }
            let options = SecretOptions {
                pad: flags & LIBSEV_SECRET_PAD != 0,
            };
            let secret = required_input(secret, secret_len, "secret")?;
            boundary::need_out(hdr_out, "hdr_out")?;
            let out = Out::new(
                trans_buf,
                trans_len,
                trans_out_len,
                ("trans_buf", "trans_out_len"),
            )?;
            // The state check comes first: no size query succeeds before the measurement
            // verified; the length is checked before anything is sized by it.
            s.require_measured().map_err(owner_err)?;
            let n = wire_len(secret.len(), options).map_err(owner_err)?;
            if !out.fits(n) {
                return Err(out.too_small(n));
            }
            let packet = s.package_secret(secret, options).map_err(owner_err)?;
            out.put(&packet.ciphertext)?;
            array_out(hdr_out, &packet.header, "hdr_out")
        })
    }
}

/// Export the session's state (TEK, TIK, policy, PDH hash; versioned, with a checksum) so that
/// another process can `_import` it. **The bytes are SECRET**: whoever holds them can forge
/// measurements and read or forge this guest's launch secrets. Protect them like a private key
/// and wipe them after use. Buffer rules as for `_godh`.
///
/// # Safety
/// As for `libsev_owner_session_godh`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_export(
    session: *const libsev_owner_session,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        with_session(session, err, |s| {
            let out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            out.put(&s.export_state())
        })
    }
}

/// Restore a session from `_export` output. The restored session has no GODH certificate or
/// blob and an empty launch digest; it can measure, verify and package secrets. Damaged,
/// truncated or unknown-version state gives `LIBSEV_STATUS_BAD_STATE_BLOB`.
///
/// # Safety
/// `state` readable for `state_len`; `out` a writable pointer; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_import(
    state: *const u8,
    state_len: usize,
    out: *mut *mut libsev_owner_session,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        boundary::call(err, || {
            let out = out_handle(out, "out")?;
            let state = required_input(state, state_len, "state")?;
            out.put(Mutex::new(Session::import_state(state).map_err(owner_err)?));
            Ok(())
        })
    }
}

/// Free a session (NULL is a no-op); its keys are wiped.
///
/// # Safety
/// `session` must be NULL or a handle from `_new`/`_import`, not freed before and not used
/// afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_free(session: *mut libsev_owner_session) {
    // SAFETY: the caller passes NULL or a live handle, freed once.
    unsafe { boundary::free(session) }
}

/// The message of the session's last failure ("" if none, or for a NULL `session`). The text
/// belongs to the calling thread: it stays valid until this thread calls
/// `libsev_owner_session_last_error` on the same handle again, or the handle is freed. See
/// also `libsev_owner_session_last_error_copy`.
///
/// # Safety
/// `session` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_last_error(
    session: *const libsev_owner_session,
) -> *const c_char {
    // SAFETY: the caller passes NULL or a live handle.
    unsafe { boundary::last_error(session) }
}

/// Copy the message of the session's last failure, with its terminating NUL, into `buf`
/// under the buffer rule (as `libsev_platform_last_error_copy`). Never changes the last error.
///
/// # Safety
/// `session` NULL or live; `buf` NULL or writable for `len` bytes; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_last_error_copy(
    session: *const libsev_owner_session,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> libsev_status {
    // SAFETY: the pointers as documented.
    unsafe { boundary::last_error_copy(session, buf, len, out_len) }
}

/// Verify a legacy attestation report (208 bytes, from the ATTESTATION command) with the PEK
/// certificate (2084 bytes) of a chain that `libsev_chain_verify` accepted, and write its
/// contents to `out` (on success only). Failures: `LIBSEV_STATUS_INVALID_LENGTH`,
/// `LIBSEV_STATUS_BAD_CERTIFICATE` (not a usable PEK), `LIBSEV_STATUS_BAD_SIGNATURE`.
/// Compare `out->mnonce` with the nonce you sent and `out->launch_digest` with your expected
/// digest.
///
/// # Safety
/// `report` and `pek_cert` readable for their lengths; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_attestation_verify(
    report: *const u8,
    report_len: usize,
    pek_cert: *const u8,
    pek_cert_len: usize,
    out: *mut libsev_attestation_info,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access.
    unsafe {
        boundary::call(err, || {
            let report = required_input(report, report_len, "report")?;
            let pek = required_input(pek_cert, pek_cert_len, "pek_cert")?;
            boundary::need_out(out, "out")?;
            let pek = SevCert::from_bytes(pek).map_err(|e| {
                Error::new(
                    Status::LIBSEV_STATUS_INVALID_LENGTH,
                    format!("pek_cert: {e}"),
                )
            })?;
            let key = pek
                .check_body(Usage::PEK)
                .map_err(|e| owner_err(Error::new(e.status(), format!("pek_cert: {e}"))))?;
            let a = verify_report_with_key(report, &key).map_err(owner_err)?;
            let info = libsev_attestation_info {
                mnonce: a.mnonce,
                launch_digest: a.launch_digest,
                policy: a.policy,
            };
            boundary::write_out(out, info, "out")
        })
    }
}

#[cfg(test)]
#[path = "owner_tests.rs"]
mod tests;
