//! The expected launch measurement (`sev-spec` §4.5, §4.6).
//!
//! * [`LaunchDigest`]: SHA-256 over every byte the hypervisor hands to LAUNCH_UPDATE_DATA (and
//!   LAUNCH_UPDATE_VMSA), in command order — one running hash, so how the data is split into
//!   calls does not matter.
//! * [`expected_measure`]: `HMAC-SHA256(TIK, 0x04 ‖ API_MAJOR ‖ API_MINOR ‖ BUILD ‖
//!   LE32(policy) ‖ LD ‖ MNONCE)`; firmware older than API 0.17 omitted the
//!   `0x04 ‖ version ‖ build` prefix.
//! * [`verify_measurement`]: compares in constant time and, on mismatch, returns the expected
//!   value with the error.

use super::crypto::{hex, hmac_sha256};
use crate::error::Error;
use crate::status::Status;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Size of LAUNCH_MEASURE's output: `MEASURE[32] ‖ MNONCE[16]`.
pub const MEASUREMENT_LEN: usize = 48;
/// The context byte of the measurement MAC (`SEV_CHANNEL_CTX_MEASURE`).
pub const CTX_MEASURE: u8 = 0x04;

/// The firmware version a measurement was made with (PLATFORM_STATUS's API major/minor and
/// build).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FirmwareVersion {
    pub major: u8,
    pub minor: u8,
    pub build: u8,
}

impl FirmwareVersion {
    pub const fn new(major: u8, minor: u8, build: u8) -> Self {
        FirmwareVersion {
            major,
            minor,
            build,
        }
    }

    /// Whether this firmware prefixes the measurement MAC with `0x04 ‖ version ‖ build` and
    /// appends MEASURE to the LAUNCH_SECRET MAC (API ≥ 0.17).
    pub fn has_measure_context(&self) -> bool {
        (self.major, self.minor) >= (0, 17)
    }
}

impl std::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{} build {}", self.major, self.minor, self.build)
    }
}

/// The running launch digest: SHA-256 of everything measured so far.
#[derive(Clone, Default)]
pub struct LaunchDigest(Sha256);

impl std::fmt::Debug for LaunchDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LaunchDigest")
    }
}

impl LaunchDigest {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next bytes the hypervisor encrypts (LAUNCH_UPDATE_DATA / _VMSA), in order.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything fed so far (the builder stays usable).
    pub fn value(&self) -> [u8; 32] {
        self.0.clone().finalize().into()
    }
}

/// LAUNCH_MEASURE's 48-byte output, split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    pub measure: [u8; 32],
    pub mnonce: [u8; 16],
}

impl Measurement {
    pub fn from_bytes(b: &[u8; MEASUREMENT_LEN]) -> Self {
        Measurement {
            measure: b[..32].try_into().expect("32 bytes"),
            mnonce: b[32..].try_into().expect("16 bytes"),
        }
    }

    pub fn to_bytes(&self) -> [u8; MEASUREMENT_LEN] {
        let mut b = [0u8; MEASUREMENT_LEN];
        b[..32].copy_from_slice(&self.measure);
        b[32..].copy_from_slice(&self.mnonce);
        b
    }
}

/// The MEASURE the firmware must report for these inputs.
pub fn expected_measure(
    tik: &[u8; 16],
    version: FirmwareVersion,
    policy: u32,
    digest: &[u8; 32],
    mnonce: &[u8; 16],
) -> [u8; 32] {
    let prefix = [CTX_MEASURE, version.major, version.minor, version.build];
    let prefix: &[u8] = if version.has_measure_context() {
        &prefix
    } else {
        &[]
    };
    hmac_sha256(tik, &[prefix, &policy.to_le_bytes(), digest, mnonce])
}

/// Why a measurement was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VerifyError {
    /// The firmware's MEASURE differs from the expected one.
    #[error(
        "launch measurement mismatch: expected {} for firmware {version}, policy {policy:#x}, \
         launch digest {}; the firmware reported {}",
        hex(expected),
        hex(digest),
        hex(reported)
    )]
    Mismatch {
        expected: [u8; 32],
        reported: [u8; 32],
        version: FirmwareVersion,
        policy: u32,
        digest: [u8; 32],
    },
    /// Any other failure (e.g. the session is in the wrong state).
    #[error(transparent)]
    Other(#[from] Error),
}

impl VerifyError {
    /// The libsev status (`MEASUREMENT_MISMATCH` for a mismatch).
    pub fn status(&self) -> Status {
        match self {
            VerifyError::Mismatch { .. } => Status::LIBSEV_STATUS_MEASUREMENT_MISMATCH,
            VerifyError::Other(e) => e.status,
        }
    }

    /// The expected MEASURE, when the failure is a mismatch.
    pub fn expected(&self) -> Option<[u8; 32]> {
        match self {
            VerifyError::Mismatch { expected, .. } => Some(*expected),
            VerifyError::Other(_) => None,
        }
    }
}

impl From<VerifyError> for Error {
    fn from(e: VerifyError) -> Error {
        match e {
            VerifyError::Other(e) => e,
            m => Error::new(m.status(), m.to_string()),
        }
    }
}

/// Check a LAUNCH_MEASURE output against the expected value (constant-time comparison).
/// Returns the verified MEASURE.
pub fn verify_measurement(
    tik: &[u8; 16],
    version: FirmwareVersion,
    policy: u32,
    digest: &[u8; 32],
    measurement: &[u8; MEASUREMENT_LEN],
) -> Result<[u8; 32], VerifyError> {
    let m = Measurement::from_bytes(measurement);
    let expected = expected_measure(tik, version, policy, digest, &m.mnonce);
    if bool::from(expected.ct_eq(&m.measure)) {
        Ok(m.measure)
    } else {
        Err(VerifyError::Mismatch {
            expected,
            reported: m.measure,
            version,
            policy,
            digest: *digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::testutil::{b64, kat, unhex};

    #[test]
    fn crate_vector_from_the_kat_file() {
        let v = kat("crate-session-vectors.txt");
        let tik: [u8; 16] = unhex(&v["msr_tik"]).try_into().unwrap();
        let digest: [u8; 32] = unhex(&v["msr_digest"]).try_into().unwrap();
        let mnonce: [u8; 16] = unhex(&v["msr_mnonce"]).try_into().unwrap();
        assert_eq!(v["msr_build"], "0.18.15");
        let ver = FirmwareVersion::new(0, 18, 15);
        let m = expected_measure(&tik, ver, 0, &digest, &mnonce);
        assert_eq!(hex(&m), v["msr_measure"]);
        // The empty launch digest is SHA-256("").
        assert_eq!(LaunchDigest::new().value(), digest);
    }

    #[test]
    fn crate_measurement_files_verify() {
        let dir = format!("{}/../shared/testdata/sev/kat", env!("CARGO_MANIFEST_DIR"));
        let blob = std::fs::read(format!("{dir}/crate-measurement.bin")).unwrap();
        let digest_hex = std::fs::read_to_string(format!("{dir}/crate-digest.hex")).unwrap();
        let st = kat("crate-measurement.state");
        let tik: [u8; 16] = unhex(&st["tik"]).try_into().unwrap();
        let policy = u32::from_str_radix(st["policy"].trim_start_matches("0x"), 16).unwrap();
        let digest: [u8; 32] = unhex(digest_hex.trim()).try_into().unwrap();
        let blob: [u8; 48] = blob.try_into().unwrap();
        let ver = FirmwareVersion::new(0, 18, 15);
        let m = verify_measurement(&tik, ver, policy, &digest, &blob).unwrap();
        assert_eq!(m[..], blob[..32]);
        // Any other build, policy, digest or a flipped MNONCE byte fails, with the expected
        // value attached.
        let wrong = [
            (FirmwareVersion::new(0, 18, 16), policy, digest, blob),
            (ver, policy | 1, digest, blob),
            (ver, policy, [0u8; 32], blob),
            (ver, policy, digest, {
                let mut b = blob;
                b[47] ^= 1;
                b
            }),
        ];
        for (v, p, d, b) in wrong {
            let e = verify_measurement(&tik, v, p, &d, &b).unwrap_err();
            assert_eq!(e.status(), Status::LIBSEV_STATUS_MEASUREMENT_MISMATCH);
            let mn: [u8; 16] = b[32..].try_into().unwrap();
            assert_eq!(e.expected(), Some(expected_measure(&tik, v, p, &d, &mn)));
            let err: Error = e.into();
            assert!(err.message.contains("mismatch"), "{}", err.message);
        }
    }

    #[test]
    fn sevctl_vector_api_1_40() {
        // sev-spec §4.13 item 4 (virtee/sevctl tests/measurementbuild.rs).
        let tik: [u8; 16] = unhex("3569cf61a32a602b87185ac6e0f55913")
            .try_into()
            .unwrap();
        let mnonce: [u8; 16] = b64("wxP6tRHCFrFQWxsuqZA8QA==").try_into().unwrap();
        let digest: [u8; 32] = b64("xkvRAfyaSizgonxAjZIAkR8TmolUabBKQKb6KJCDDSM=")
            .try_into()
            .unwrap();
        let want = b64("lswbxWxI9gckya16JQvdFtpYmNO4b+3inAPpqsgoBI4=");
        let m = expected_measure(
            &tik,
            FirmwareVersion::new(1, 40, 40),
            0x03,
            &digest,
            &mnonce,
        );
        assert_eq!(m[..], want[..]);
    }

    #[test]
    fn api_before_0_17_has_no_prefix() {
        let tik = [9u8; 16];
        let d = [1u8; 32];
        let n = [2u8; 16];
        let old = expected_measure(&tik, FirmwareVersion::new(0, 16, 3), 5, &d, &n);
        let manual = hmac_sha256(&tik, &[&5u32.to_le_bytes(), &d, &n]);
        assert_eq!(old, manual);
        // The build does not enter an old measurement at all.
        assert_eq!(
            old,
            expected_measure(&tik, FirmwareVersion::new(0, 16, 99), 5, &d, &n)
        );
        let new = expected_measure(&tik, FirmwareVersion::new(0, 17, 3), 5, &d, &n);
        let manual = hmac_sha256(&tik, &[&[4, 0, 17, 3], &5u32.to_le_bytes(), &d, &n]);
        assert_eq!(new, manual);
        assert!(!FirmwareVersion::new(0, 16, 0).has_measure_context());
        assert!(FirmwareVersion::new(0, 17, 0).has_measure_context());
        assert!(FirmwareVersion::new(1, 0, 0).has_measure_context());
    }

    #[test]
    fn digest_is_independent_of_how_data_is_split() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut a = LaunchDigest::new();
        a.update(&data);
        let mut b = LaunchDigest::new();
        for c in data.chunks(4096 + 17) {
            b.update(c);
        }
        assert_eq!(a.value(), b.value());
        let want: [u8; 32] = Sha256::digest(&data).into();
        assert_eq!(a.value(), want);
    }
}
