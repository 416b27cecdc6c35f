//! Export and import of an owner session's state, for owners that create the session in one
//! process and verify the measurement / package the secret in another.
//!
//! **The exported bytes are SECRET**: they contain TEK and TIK, which let anyone who holds them
//! forge measurements and read or forge launch secrets for that guest. Store them like a
//! private key and wipe them after import. The checksum detects damage, not tampering.
//!
//! Format, version 1 (112 bytes, little-endian integers):
//!
//! | off | size | field |
//! | --- | --- | --- |
//! | 0x00 | 8 | magic `"LSEVOWNR"` |
//! | 0x08 | 2 | format version (1) |
//! | 0x0A | 2 | reserved (0) |
//! | 0x0C | 4 | guest policy |
//! | 0x10 | 16 | TEK |
//! | 0x20 | 16 | TIK |
//! | 0x30 | 32 | SHA-256 of the platform PDH certificate the session was made for |
//! | 0x50 | 32 | SHA-256 of bytes 0x00–0x4F |
//!
//! Not exported: the GODH certificate and session blob (they were handed to the hypervisor
//! already), the launch digest and any verification result (the importing process measures and
//! verifies itself).

use super::crypto::TransportKeys;
use super::session::{Session, check_policy};
use crate::error::{Error, Result};
use crate::status::Status;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Magic at the start of exported owner state.
pub const STATE_MAGIC: [u8; 8] = *b"LSEVOWNR";
/// The current format version.
pub const STATE_VERSION: u16 = 1;
/// Size of version-1 state.
pub const STATE_LEN: usize = 0x70;
const BODY: usize = 0x50;

fn bad(msg: impl Into<String>) -> Error {
    Error::new(Status::LIBSEV_STATUS_BAD_STATE_BLOB, msg)
}

impl Session {
    /// Export the session's secret state (see the module documentation: SECRET material).
    pub fn export_state(&self) -> Zeroizing<Vec<u8>> {
        let mut b = Zeroizing::new(vec![0u8; STATE_LEN]);
        b[0..8].copy_from_slice(&STATE_MAGIC);
        b[8..10].copy_from_slice(&STATE_VERSION.to_le_bytes());
        b[0x0C..0x10].copy_from_slice(&self.policy.to_le_bytes());
        b[0x10..0x20].copy_from_slice(&self.keys.tek);
        b[0x20..0x30].copy_from_slice(&self.keys.tik);
        b[0x30..0x50].copy_from_slice(&self.pdh_hash);
        let sum = Sha256::digest(&b[..BODY]);
        b[BODY..].copy_from_slice(&sum);
        b
    }

    /// Restore a session from [`Session::export_state`] output. Any damage, an unknown
    /// version or a wrong size is `BAD_STATE_BLOB`.
    pub fn import_state(b: &[u8]) -> Result<Session> {
        if b.len() < 10 || b[0..8] != STATE_MAGIC {
            return Err(bad(
                "not exported libsev owner-session state (magic \"LSEVOWNR\" missing)",
            ));
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        if version != STATE_VERSION {
            return Err(bad(format!(
                "owner-session state format version {version} is not supported (this libsev \
                 reads version {STATE_VERSION})"
            )));
        }
        if b.len() != STATE_LEN {
            return Err(bad(format!(
                "owner-session state is {} bytes, version {STATE_VERSION} has {STATE_LEN}",
                b.len()
            )));
        }
        let sum = Sha256::digest(&b[..BODY]);
        if !bool::from(sum.as_slice().ct_eq(&b[BODY..])) {
            return Err(bad("owner-session state is damaged (checksum mismatch)"));
        }
        if b[0x0A..0x0C] != [0, 0] {
            return Err(bad("owner-session state has non-zero reserved bytes"));
        }
        let policy = u32::from_le_bytes(b[0x0C..0x10].try_into().expect("4 bytes"));
        check_policy(policy).map_err(|e| bad(format!("owner-session state: {}", e.message)))?;
        let keys = TransportKeys {
            tek: b[0x10..0x20].try_into().expect("16 bytes"),
            tik: b[0x20..0x30].try_into().expect("16 bytes"),
        };
        let pdh_hash = b[0x30..0x50].try_into().expect("32 bytes");
        Ok(Session::from_state(keys, policy, pdh_hash))
    }
}
