//! C ABI: the guest owner's launch session (`libsev_owner_session`) and attestation-report
//! verification.
//!
//! Flow: `libsev_owner_session_new` (after `libsev_chain_verify` accepted the platform's chain)
//! → `_godh` and `_blob` for LAUNCH_START → `_measure_update` with every byte the hypervisor
//! encrypts, in order (or `_set_launch_digest`) → `_verify_measurement` with LAUNCH_MEASURE's
//! 48 bytes → `_package_secret` for LAUNCH_SECRET → `_free`.

use super::{
    LastError, array_in, bytes_in, bytes_out, guard, into_handle, libsev_error, need, need_mut,
};
use crate::certs::sev::{SevCert, Usage};
use crate::error::Error;
use crate::owner::attestation::{REPORT_LEN, verify_report_with_key};
use crate::owner::measurement::MEASUREMENT_LEN;
use crate::owner::secret::{HEADER_LEN, wire_len};
use crate::owner::{FirmwareVersion, SecretOptions, Session};
use crate::status::{Command, Status, libsev_status};
use std::ffi::c_char;

/// `flags` bit for `libsev_owner_session_package_secret`: zero-pad a secret whose length is not
/// a multiple of 16 up to the next multiple (otherwise such a secret is refused with
/// `LIBSEV_STATUS_INVALID_LENGTH`).
pub const LIBSEV_SECRET_PAD: u32 = 1;
/// Size of the LAUNCH_SECRET packet header (`FLAGS ‖ IV ‖ MAC`).
pub const LIBSEV_SECRET_HEADER_LEN: usize = 52;
/// The largest secret one LAUNCH_SECRET can carry (after padding).
pub const LIBSEV_SECRET_MAX_LEN: usize = 0x5000;
/// Size of the GODH certificate.
pub const LIBSEV_GODH_CERT_LEN: usize = 2084;
/// Size of the session blob.
pub const LIBSEV_SESSION_BLOB_LEN: usize = 128;
/// Size of LAUNCH_MEASURE's output (`MEASURE[32] ‖ MNONCE[16]`).
pub const LIBSEV_MEASUREMENT_LEN: usize = 48;
/// Size of a legacy attestation report.
pub const LIBSEV_ATTESTATION_REPORT_LEN: usize = 208;

/// A guest owner's launch session: the ephemeral GODH key's certificate, the transport keys
/// TEK/TIK (secret; wiped when the handle is freed), the policy, the launch digest being built
/// and, after `_verify_measurement`, the verified measurement.
///
/// Thread safety: use a handle from one thread at a time; distinct handles are independent.
#[allow(non_camel_case_types)]
pub struct libsev_owner_session {
    session: Session,
    last: LastError,
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

fn last_of<'a>(s: *const libsev_owner_session) -> Option<&'a LastError> {
    need(s, "session").ok().map(|h| &h.last)
}

/// The session's last-error slot (for exports in sibling files).
pub(crate) fn last_of_pub<'a>(s: *const libsev_owner_session) -> Option<&'a LastError> {
    last_of(s)
}

/// The session behind a handle (for exports in sibling files); failures carry the owner
/// command.
pub(crate) fn owner_session_mut<'a>(
    s: *mut libsev_owner_session,
) -> crate::Result<&'a mut Session> {
    Ok(&mut need_mut(s, "session")?.session)
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
    guard(err, None, || {
        let out = need_mut(out, "out")?;
        let pdh = need(pdh, "pdh").and_then(|_| bytes_in(pdh, pdh_len, "pdh"))?;
        let cert = SevCert::from_bytes(pdh)
            .map_err(|e| Error::new(Status::LIBSEV_STATUS_INVALID_LENGTH, format!("pdh: {e}")))?;
        let session = Session::new(&cert, policy).map_err(owner_err)?;
        into_handle(
            libsev_owner_session {
                session,
                last: LastError::default(),
            },
            out,
        );
        Ok(())
    })
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
    guard(err, last_of(session), || {
        let h = need(session, "session")?;
        let godh = h.session.godh().map_err(owner_err)?;
        bytes_out(buf, len, out_len, godh.as_bytes())
    })
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
    guard(err, last_of(session), || {
        let h = need(session, "session")?;
        let blob = h.session.blob().map_err(owner_err)?;
        bytes_out(buf, len, out_len, blob)
    })
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
    guard(err, last_of(session), || {
        let h = need_mut(session, "session")?;
        let data = bytes_in(data, len, "data")?;
        h.session.measure_update(data).map_err(owner_err)
    })
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
    guard(err, last_of(session), || {
        let h = need_mut(session, "session")?;
        let d: [u8; 32] = array_in(digest, "digest")?;
        h.session.set_launch_digest(d).map_err(owner_err)
    })
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
    guard(err, last_of(session), || {
        let h = need(session, "session")?;
        super::array_out(digest_out, &h.session.launch_digest(), "digest_out")
    })
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
    guard(err, last_of(session), || {
        let h = need_mut(session, "session")?;
        let m: [u8; MEASUREMENT_LEN] = array_in(measurement, "measurement")?;
        let ver = FirmwareVersion::new(api_major, api_minor, build);
        let (expected, result) = match h.session.verify_measurement(ver, &m) {
            Ok(measure) => (Some(measure), Ok(())),
            Err(e) => (e.expected(), Err(owner_err(e.into()))),
        };
        if let (Some(x), false) = (expected, expected_out.is_null()) {
            super::array_out(expected_out, &x, "expected_out")?;
        }
        result
    })
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
    guard(err, last_of(session), || {
        let h = need(session, "session")?;
        if flags & !LIBSEV_SECRET_PAD != 0 {
            return Err(Error::arg(format!(
                "unknown flags {:#x} (only LIBSEV_SECRET_PAD is defined)",
                flags & !LIBSEV_SECRET_PAD
            )));
        }
        let options = SecretOptions {
            pad: flags & LIBSEV_SECRET_PAD != 0,
        };
        let secret = need(secret, "secret").and_then(|_| bytes_in(secret, secret_len, "secret"))?;
        need_mut(hdr_out, "hdr_out")?;
        let out_len = need_mut(trans_out_len, "trans_out_len")?;
        // The state check comes first: no size query succeeds before the measurement verified.
        h.session.require_measured().map_err(owner_err)?;
        let n = wire_len(secret.len(), options).map_err(owner_err)?;
        if trans_buf.is_null() || trans_len < n {
            *out_len = n;
            return Err(Error::new(
                Status::LIBSEV_STATUS_BUFFER_TOO_SMALL,
                format!(
                    "trans_buf too small: {n} bytes needed, {} given",
                    if trans_buf.is_null() { 0 } else { trans_len }
                ),
            ));
        }
        let packet = h
            .session
            .package_secret(secret, options)
            .map_err(owner_err)?;
        bytes_out(trans_buf, trans_len, out_len, &packet.ciphertext)?;
        super::array_out(hdr_out, &packet.header, "hdr_out")
    })
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
    guard(err, last_of(session), || {
        let h = need(session, "session")?;
        bytes_out(buf, len, out_len, &h.session.export_state())
    })
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
    guard(err, None, || {
        let out = need_mut(out, "out")?;
        let state = need(state, "state").and_then(|_| bytes_in(state, state_len, "state"))?;
        let session = Session::import_state(state).map_err(owner_err)?;
        into_handle(
            libsev_owner_session {
                session,
                last: LastError::default(),
            },
            out,
        );
        Ok(())
    })
}

/// Free a session (NULL is a no-op); its keys are wiped.
///
/// # Safety
/// `session` must be NULL or a handle from `_new`/`_import`, not freed before and not used
/// afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_free(session: *mut libsev_owner_session) {
    // SAFETY: the caller passes NULL or a handle made by into_handle, freed once.
    unsafe { super::free_handle(session) }
}

/// The message of the session's last failure ("" if none); valid until the next call on the
/// same handle. NULL `session` gives "".
///
/// # Safety
/// `session` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_owner_session_last_error(
    session: *const libsev_owner_session,
) -> *const c_char {
    match last_of(session) {
        Some(l) => l.as_ptr(),
        None => c"".as_ptr(),
    }
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
    guard(err, None, || {
        let report = need(report, "report").and_then(|_| bytes_in(report, report_len, "report"))?;
        let pek = need(pek_cert, "pek_cert")
            .and_then(|_| bytes_in(pek_cert, pek_cert_len, "pek_cert"))?;
        let out = need_mut(out, "out")?;
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
        *out = libsev_attestation_info {
            mnonce: a.mnonce,
            launch_digest: a.launch_digest,
            policy: a.policy,
        };
        Ok(())
    })
}

// The C constants are literals (cbindgen does not evaluate paths); tie them to the Rust ones.
const _: () = assert!(
    LIBSEV_SECRET_HEADER_LEN == HEADER_LEN
        && LIBSEV_SECRET_MAX_LEN == crate::owner::secret::MAX_SECRET_LEN
        && LIBSEV_GODH_CERT_LEN == crate::certs::sev::SIZE
        && LIBSEV_SESSION_BLOB_LEN == crate::owner::crypto::SESSION_BLOB_LEN
        && LIBSEV_MEASUREMENT_LEN == MEASUREMENT_LEN
        && LIBSEV_ATTESTATION_REPORT_LEN == REPORT_LEN
);

#[cfg(test)]
#[path = "owner_tests.rs"]
mod tests;
