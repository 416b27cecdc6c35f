//! libsev: AMD SEV for C hypervisors.
//!
//! * [`transport`]: the seam where commands leave libsev: KVM on the caller's fds, or
//! * [`model`]: the built-in, in-process model of the SEV firmware (AMD Secure Processor);
//! * [`api`]: the safe Rust API (platform and guest commands, marshalling, length queries);
//! * [`certs`]: SEV and AMD certificates and chain verification;
//! * [`owner`]: the guest owner's side (session, expected measurement, secret packaging);
//! * [`ffi`]: the C ABI (`libsev_*`), whose header `include/libsev.h` cbindgen generates.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod api;
pub mod certs;
pub mod error;
pub mod ffi;
pub mod log;
pub mod model;
pub mod owner;
pub mod status;
pub mod transport;
pub mod uapi;

pub use error::{Error, Result};
pub use status::{Command, Status};
