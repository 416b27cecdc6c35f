//! The guest owner's side of a legacy SEV (and SEV-ES) launch: the session with the platform
//! ([`session`], [`crypto`]), the expected launch digest and measurement ([`measurement`]),
//! the launch secret ([`secret`]), exported session state ([`state`]) and the PEK-signed
//! attestation report ([`attestation`]).

pub mod attestation;
pub mod crypto;
pub mod measurement;
pub mod secret;
pub mod session;
pub mod state;
