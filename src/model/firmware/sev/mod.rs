//! Legacy SEV (and SEV-ES) guest contexts in the firmware: the launch state machine and its
//! commands (`guest`), the session and packet cryptography (`channel`), and migration
//! (`migrate`).

pub(crate) mod channel;
pub(crate) mod guest;
pub(crate) mod migrate;
