//! The SEV-SNP guest owner's side: attestation-report parsing and verification against AMD's
//! certificate chain and a policy stated as data, the extended-report certificate table, the
//! expected launch measurement, and ID blocks.
//!
//! The owner's flow:
//!
//! 1. before launch: [`measure`] the expected launch digest from the OVMF image, vCPUs, VMM
//!    profile and guest features; optionally [`idblock::sign`] an ID block over it for
//!    SNP_LAUNCH_FINISH;
//! 2. after launch: receive the report (and the certificate table, or fetch the VCEK),
//!    [`verify_attestation`] with the expected values in a [`ReportPolicy`]; the verdict names
//!    every failed check.

pub mod certtable;
pub mod idblock;
pub mod measure;
pub mod report;
pub mod verify;

pub use report::{FwVersion, Report, ReportError};
pub use verify::{Check, ReportPolicy, Verdict, verify_report};

use crate::certs::snp::chain::ChainError;
use crate::certs::snp::{ChainOptions, SnpCert, VerifiedChain, verify_chain};

/// Why a report could not be checked at all (as opposed to a [`Verdict`] with failed checks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    #[error("{0}")]
    Report(#[from] ReportError),
    #[error("{0}")]
    Chain(#[from] ChainError),
}

/// Parse `report`, verify the chain `ark` ← `ask` ← `leaf`, then every check of
/// [`verify_report`]. An `Err` means the report or the chain is unusable; an `Ok` verdict may
/// still list failed checks.
pub fn verify_attestation(
    report: &[u8],
    ark: &SnpCert,
    ask: &SnpCert,
    leaf: &SnpCert,
    chain_opts: &ChainOptions,
    policy: &ReportPolicy,
) -> Result<(Report, VerifiedChain, Verdict), AttestError> {
    let r = Report::parse(report)?;
    let chain = verify_chain(ark, ask, leaf, chain_opts)?;
    let v = verify_report(&r, &chain, policy);
    Ok((r, chain, v))
}

#[cfg(test)]
mod tests;
