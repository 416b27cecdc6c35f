//! The guest owner's launch session (`sev-spec` §4.4): an ephemeral P-384 key certified as
//! the GODH certificate, fresh TEK/TIK/NONCE/WRAP_IV, and the 128-byte session blob for one
//! policy and one platform PDH. The same object then measures the launch, verifies the
//! firmware's measurement and packages the launch secret.
//!
//! Order of use: [`Session::new`] → hand [`Session::godh`] and [`Session::blob`] to the
//! hypervisor (LAUNCH_START) → [`Session::measure_update`] with every byte the hypervisor
//! encrypts (or [`Session::set_launch_digest`]) → [`Session::verify_measurement`] with
//! LAUNCH_MEASURE's output → [`Session::package_secret`] (refused with `INVALID_STATE` until a
//! measurement verified).
//!
//! Thread safety: a `Session` is `Send` but methods that change it take `&mut self`.

use super::crypto::{self, SESSION_BLOB_LEN, TransportKeys};
use super::measurement::{self, FirmwareVersion, LaunchDigest, MEASUREMENT_LEN, VerifyError};
use super::secret::{self, LaunchSecret, SecretOptions};
use crate::certs::chain::VerifiedChain;
use crate::certs::sev::{Algo, SevCert, Usage};
use crate::error::{Error, Result};
use crate::status::Status;
use p384::ecdsa::SigningKey;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Policy bits 6–15 are reserved and must be zero (§3).
pub const POLICY_RESERVED_MASK: u32 = 0xFFC0;

/// Where the launch digest comes from.
#[derive(Debug, Clone)]
enum DigestSource {
    /// Built here from `measure_update` calls.
    Running(LaunchDigest),
    /// Given whole by the caller.
    Fixed([u8; 32]),
}

/// A measurement that verified with this session.
#[derive(Debug, Clone, Copy)]
struct Verified {
    measure: [u8; 32],
    version: FirmwareVersion,
}

/// An owner launch session. Holds TEK and TIK (zeroized on drop); never prints them.
pub struct Session {
    pub(super) keys: TransportKeys,
    pub(super) policy: u32,
    pub(super) pdh_hash: [u8; 32],
    godh: Option<SevCert>,
    blob: Option<[u8; SESSION_BLOB_LEN]>,
    digest: DigestSource,
    verified: Option<Verified>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("policy", &format_args!("{:#x}", self.policy))
            .field("pdh_sha256", &crypto::hex(&self.pdh_hash))
            .field("has_godh", &self.godh.is_some())
            .field("verified", &self.verified.is_some())
            .finish_non_exhaustive()
    }
}

/// Reject policies the firmware would refuse anyway (reserved bits set).
pub fn check_policy(policy: u32) -> Result<()> {
    if policy & POLICY_RESERVED_MASK != 0 {
        return Err(Error::new(
            Status::LIBSEV_STATUS_INVALID_ARGUMENT,
            format!(
                "policy {policy:#010x} sets reserved bits 6-15 ({:#x}); the firmware would \
                 refuse it with POLICY_FAILURE",
                policy & POLICY_RESERVED_MASK
            ),
        ));
    }
    Ok(())
}

fn random16() -> Zeroizing<[u8; 16]> {
    let mut b = Zeroizing::new([0u8; 16]);
    OsRng.fill_bytes(&mut b[..]);
    b
}

impl Session {
    /// A new session for the platform whose PDH certificate is `pdh` (checked: version 1,
    /// usage PDH, algorithm ECDH_SHA256, a valid P-384 point). The PDH's signature is *not*
    /// checked here: verify the platform's chain first ([`Session::for_chain`] does both).
    pub fn new(pdh: &SevCert, policy: u32) -> Result<Self> {
        check_policy(policy)?;
        let pdh_key = pdh
            .check_body(Usage::PDH)
            .map_err(|e| Error::new(e.status(), format!("platform PDH certificate: {e}")))?;
        let godh_key = p384::SecretKey::random(&mut OsRng);
        let keys = TransportKeys {
            tek: *random16(),
            tik: *random16(),
        };
        let (nonce, wrap_iv) = (random16(), random16());
        let z = crypto::ecdh_z(&godh_key, &pdh_key);
        let blob = crypto::session_blob(&z[..], &nonce, &wrap_iv, &keys, policy);

        let mut godh = SevCert::new_p384(
            Usage::PDH,
            Algo::ECDH_SHA256,
            (pdh.api_major(), pdh.api_minor()),
            &godh_key.public_key(),
        );
        // Self-signed for form's sake; the firmware only sanity-checks the GODH.
        godh.sign_ecdsa(0, Usage::PDH, &SigningKey::from(&godh_key));

        Ok(Session {
            keys,
            policy,
            pdh_hash: Sha256::digest(pdh.as_bytes()).into(),
            godh: Some(godh),
            blob: Some(blob),
            digest: DigestSource::Running(LaunchDigest::new()),
            verified: None,
        })
    }

    /// A new session for the PDH of a verified chain.
    pub fn for_chain(chain: &VerifiedChain, policy: u32) -> Result<Self> {
        Self::new(&chain.pdh, policy)
    }

    /// A session restored from exported state (no GODH certificate or blob).
    pub(super) fn from_state(keys: TransportKeys, policy: u32, pdh_hash: [u8; 32]) -> Self {
        Session {
            keys,
            policy,
            pdh_hash,
            godh: None,
            blob: None,
            digest: DigestSource::Running(LaunchDigest::new()),
            verified: None,
        }
    }

    /// The transport keys, for tests that play the firmware's part.
    #[cfg(test)]
    pub(crate) fn keys_for_tests(&self) -> &TransportKeys {
        &self.keys
    }

    /// The guest policy this session was made for.
    pub fn policy(&self) -> u32 {
        self.policy
    }

    /// SHA-256 of the platform PDH certificate the session was made for.
    pub fn pdh_sha256(&self) -> [u8; 32] {
        self.pdh_hash
    }

    fn imported(what: &str) -> Error {
        Error::new(
            Status::LIBSEV_STATUS_INVALID_STATE,
            format!(
                "this session was imported from exported state, which does not hold the {what}; \
                 take it from the process that created the session"
            ),
        )
    }

    /// The owner's GODH certificate (2084 bytes) for LAUNCH_START.
    pub fn godh(&self) -> Result<&SevCert> {
        self.godh
            .as_ref()
            .ok_or_else(|| Self::imported("GODH certificate"))
    }

    /// The 128-byte session blob for LAUNCH_START.
    pub fn blob(&self) -> Result<&[u8; SESSION_BLOB_LEN]> {
        self.blob
            .as_ref()
            .ok_or_else(|| Self::imported("session blob"))
    }

    fn check_open(&self, what: &str) -> Result<()> {
        if self.verified.is_some() {
            return Err(Error::new(
                Status::LIBSEV_STATUS_INVALID_STATE,
                format!("{what}: the measurement was already verified; the digest is final"),
            ));
        }
        Ok(())
    }

    /// Feed the next bytes the hypervisor will pass to LAUNCH_UPDATE_DATA / _VMSA, in order.
    pub fn measure_update(&mut self, data: &[u8]) -> Result<()> {
        self.check_open("measure_update")?;
        match &mut self.digest {
            DigestSource::Running(d) => {
                d.update(data);
                Ok(())
            }
            DigestSource::Fixed(_) => Err(Error::new(
                Status::LIBSEV_STATUS_INVALID_STATE,
                "measure_update: the launch digest was set whole with set_launch_digest",
            )),
        }
    }

    /// Use a launch digest computed elsewhere instead of `measure_update` calls.
    pub fn set_launch_digest(&mut self, digest: [u8; 32]) -> Result<()> {
        self.check_open("set_launch_digest")?;
        self.digest = DigestSource::Fixed(digest);
        Ok(())
    }

    /// The launch digest so far.
    pub fn launch_digest(&self) -> [u8; 32] {
        match &self.digest {
            DigestSource::Running(d) => d.value(),
            DigestSource::Fixed(d) => *d,
        }
    }

    /// Verify LAUNCH_MEASURE's 48-byte output for firmware `version` against this session's
    /// TIK, policy and launch digest. On success the session may package secrets; on mismatch
    /// the error carries the expected MEASURE. May be retried (e.g. with the right version)
    /// until one succeeds.
    pub fn verify_measurement(
        &mut self,
        version: FirmwareVersion,
        measurement: &[u8; MEASUREMENT_LEN],
    ) -> std::result::Result<[u8; 32], VerifyError> {
        if let Some(v) = self.verified {
            return if v.version == version && measurement[..32] == v.measure {
                Ok(v.measure)
            } else {
                Err(Error::new(
                    Status::LIBSEV_STATUS_INVALID_STATE,
                    "verify_measurement: a different measurement already verified with this \
                     session",
                )
                .into())
            };
        }
        let digest = self.launch_digest();
        let measure = measurement::verify_measurement(
            &self.keys.tik,
            version,
            self.policy,
            &digest,
            measurement,
        )?;
        self.verified = Some(Verified { measure, version });
        Ok(measure)
    }

    /// `INVALID_STATE` unless a measurement verified with this session.
    pub fn require_measured(&self) -> Result<()> {
        if self.verified.is_none() {
            return Err(Error::new(
                Status::LIBSEV_STATUS_INVALID_STATE,
                "package_secret: no launch measurement has been verified with this session; \
                 a secret must only go to a guest whose measurement checked out",
            ));
        }
        Ok(())
    }

    /// Whether a measurement verified with this session.
    pub fn is_measured(&self) -> bool {
        self.verified.is_some()
    }

    /// Package a launch secret (encrypted with TEK, MAC'd with TIK and the verified MEASURE,
    /// fresh random IV). Only after [`Session::verify_measurement`] succeeded
    /// (`INVALID_STATE` otherwise). Length rules: see [`secret`].
    pub fn package_secret(&self, plaintext: &[u8], options: SecretOptions) -> Result<LaunchSecret> {
        self.require_measured()?;
        let v = self.verified.expect("checked above");
        let iv = random16();
        let measure = v.version.has_measure_context().then_some(&v.measure);
        secret::seal(&self.keys, &iv, plaintext, options, measure)
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
