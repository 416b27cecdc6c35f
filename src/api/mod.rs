//! The safe Rust API: [`Platform`] (the `/dev/sev` side) and [`Guest`] (one SEV VM), marshalled
//! into the kernel's structs and issued through the transport seam.
//!
//! The same code runs for the kernel and for the built-in firmware model: argument checks,
//! struct marshalling, the two-call length query (`sev-spec` §1.7) and error mapping all
//! happen here, above the seam. Every command is logged (`sev_log!`, DEBUG on success, WARN on
//! failure) by name with its result, never with secret material.
//!
//! Thread safety: a [`Platform`] is `Send + Sync` and may be shared by many guests on many
//! threads. A [`Guest`] is used by one thread at a time (its commands take `&mut self`).

mod es;
mod guest;
pub(crate) mod marshal;
#[cfg(test)]
mod migration_tests;
mod platform;
pub mod snp;
#[cfg(test)]
mod tests;

pub use guest::{Guest, GuestStatus};
pub use platform::{PLATFORM_ENV, Platform, PlatformSpec, PlatformStatus};
