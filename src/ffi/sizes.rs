//! The sizes the C API names, in one place. The header needs literals (cbindgen does not
//! evaluate paths), so each is written once here and tied at compile time to the crate's
//! single source of sizes (`uapi::sizes`, and the owner's and certificates' own constants,
//! which are tied to it in turn). The rest of `ffi` uses `uapi::sizes`, not these.

use crate::uapi::sizes;

/// Size of an SEV certificate (PDH, PEK, OCA, CEK, GODH): 2084 bytes.
pub const LIBSEV_SEV_CERT_LEN: usize = 2084;
/// Size of the chain `PEK ‖ OCA ‖ CEK` that PDH_CERT_EXPORT returns: 6252 bytes.
pub const LIBSEV_CERT_CHAIN_LEN: usize = 6252;
/// Size of one socket's chip id from GET_ID (the output may hold one per socket).
pub const LIBSEV_CHIP_ID_LEN: usize = 64;
/// Size of the GODH certificate (an SEV certificate).
pub const LIBSEV_GODH_CERT_LEN: usize = LIBSEV_SEV_CERT_LEN;
/// Size of the session blob (LAUNCH_START's input, SEND_START's output).
pub const LIBSEV_SESSION_BLOB_LEN: usize = 128;
/// Size of LAUNCH_MEASURE's output (`MEASURE[32] ‖ MNONCE[16]`).
pub const LIBSEV_MEASUREMENT_LEN: usize = 48;
/// Size of the `mnonce` argument of `libsev_guest_attestation_report`.
pub const LIBSEV_MNONCE_LEN: usize = 16;
/// Size of a legacy attestation report.
pub const LIBSEV_ATTESTATION_REPORT_LEN: usize = 208;
/// Size of a packet header (`FLAGS ‖ IV ‖ MAC`) of LAUNCH_SECRET and of the migration
/// packets (SEND_UPDATE_DATA, RECEIVE_UPDATE_DATA).
pub const LIBSEV_SECRET_HEADER_LEN: usize = 52;
/// The largest secret one LAUNCH_SECRET can carry (after padding).
pub const LIBSEV_SECRET_MAX_LEN: usize = 0x5000;
/// Size of a launch digest (SHA-256).
pub const LIBSEV_LAUNCH_DIGEST_LEN: usize = 32;

const _: () = assert!(
    LIBSEV_SEV_CERT_LEN == sizes::SEV_CERT
        && LIBSEV_SEV_CERT_LEN == crate::certs::sev::SIZE
        && LIBSEV_CERT_CHAIN_LEN == sizes::CERT_CHAIN
        && LIBSEV_CHIP_ID_LEN == sizes::CHIP_ID
        && LIBSEV_SESSION_BLOB_LEN == sizes::SESSION
        && LIBSEV_SESSION_BLOB_LEN == crate::owner::crypto::SESSION_BLOB_LEN
        && LIBSEV_MEASUREMENT_LEN == sizes::MEASUREMENT
        && LIBSEV_MEASUREMENT_LEN == crate::owner::measurement::MEASUREMENT_LEN
        && LIBSEV_ATTESTATION_REPORT_LEN == sizes::ATTESTATION_REPORT
        && LIBSEV_ATTESTATION_REPORT_LEN == crate::owner::attestation::REPORT_LEN
        && LIBSEV_SECRET_HEADER_LEN == sizes::PACKET_HEADER
        && LIBSEV_SECRET_HEADER_LEN == crate::owner::secret::HEADER_LEN
        && LIBSEV_SECRET_MAX_LEN == crate::owner::secret::MAX_SECRET_LEN
);
