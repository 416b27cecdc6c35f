//! Sizes fixed by the firmware: the one source every layer takes them from.

/// An SEV certificate (PDH, PEK, OCA, CEK, GODH).
pub const SEV_CERT: usize = 0x824;
/// PEK ‖ OCA ‖ CEK, as PDH_CERT_EXPORT returns it.
pub const CERT_CHAIN: usize = 3 * SEV_CERT;
/// The launch session blob.
pub const SESSION: usize = 0x80;
/// LAUNCH_MEASURE output: MEASURE[32] ‖ MNONCE[16].
pub const MEASUREMENT: usize = 48;
/// Packet header of LAUNCH_SECRET and SEND/RECEIVE_UPDATE_DATA.
pub const PACKET_HEADER: usize = 52;
/// The legacy attestation report.
pub const ATTESTATION_REPORT: usize = 0xD0;
/// GET_ID output for one socket.
pub const CHIP_ID: usize = 64;
