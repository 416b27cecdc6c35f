//! The legacy guest context the firmware keeps per handle (state, policy, keys, digest) and
//! its small types. The firmware's guest table holds these; the commands that change them are
//! in `guest.rs`. Kept apart so the firmware core and the guest commands do not depend on
//! each other in a circle.

use crate::model::firmware::sev::channel::Channel;
use crate::model::mem::memcrypt::Vek;
use sha2::Sha256;
use std::sync::{Arc, Mutex};

/// Guest states (`sev_guest.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GState {
    /// Free slot (also: a context that was decommissioned while someone held it).
    Uninit = 0,
    LUpdate = 1,
    LSecret = 2,
    Running = 3,
    SUpdate = 4,
    RUpdate = 5,
    Sent = 6,
}

/// Activation (orthogonal to the state, §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    Inactive,
    /// Key loaded and ASID reserved, not yet runnable (before LAUNCH/RECEIVE_FINISH).
    Pending,
    Active,
}

/// Guest policy bits (§3).
pub(crate) mod policy {
    pub(crate) const NODBG: u32 = 1 << 0;
    pub(crate) const NOKS: u32 = 1 << 1;
    pub(crate) const ES: u32 = 1 << 2;
    pub(crate) const NOSEND: u32 = 1 << 3;
    pub(crate) const DOMAIN: u32 = 1 << 4;
    pub(crate) const SEV: u32 = 1 << 5;
    /// Bits 6–15.
    pub(crate) const RESERVED: u32 = 0xFFC0;

    /// The minimum firmware API version `(major, minor)` the policy asks for.
    pub(crate) fn api(p: u32) -> (u8, u8) {
        ((p >> 16) as u8, (p >> 24) as u8)
    }
}

/// A guest context.
pub(crate) struct Guest {
    pub(crate) state: GState,
    pub(crate) policy: u32,
    pub(crate) act: Act,
    pub(crate) asid: u32,
    /// Shared between guests that share a key (LAUNCH_START with a handle).
    pub(crate) vek: Arc<Vek>,
    /// The running launch digest (LAUNCH_START → LAUNCH_MEASURE).
    pub(crate) ld_ctx: Option<Sha256>,
    /// The launch digest saved at LAUNCH_MEASURE, for ATTESTATION.
    pub(crate) ld: Option<[u8; 32]>,
    pub(crate) ch: Channel,
    /// SEV-ES: the VMSAs launched so far (`firmware/es`).
    pub(crate) es: crate::model::firmware::es::EsVcpus,
}

/// A guest context behind its own lock.
pub(crate) type GuestCell = Mutex<Guest>;

impl Guest {
    /// Forget everything (DECOMMISSION, SHUTDOWN); the channel keys are wiped.
    pub(crate) fn free(&mut self) {
        self.state = GState::Uninit;
        self.act = Act::Inactive;
        self.ch = Channel::default();
        self.ld_ctx = None;
        // Gives the VMSAs' TMR slots back.
        self.es = Default::default();
    }
}

/// Which start command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Launch,
    Receive,
}
