//! C ABI: the SEV-SNP guest owner — certificate chain (ARK ← ASK ← VCEK/VLEK), attestation
//! report verification against a policy stated as data, the extended-report certificate
//! table, and ID blocks for SNP_LAUNCH_FINISH.
//!
//! Every function here is thread-safe: the chain handle is immutable after
//! `libsev_snp_chain_verify` and may be shared between threads.

#![allow(non_camel_case_types)]

use super::boundary::{self, CHandle, Handle, Out, out_handle, write_out};
use super::certs::{LIBSEV_VERIFY_ALLOW_TEST_ROOT, libsev_root_kind};
use super::libsev_error;
use crate::certs::snp::chain::ChainError;
use crate::certs::snp::{
    ChainOptions, LeafKind, SnpCert, SnpGeneration, SnpRootKind, Tcb, VerifiedChain, verify_chain,
};
use crate::error::{Error, Result};
use crate::owner::snp::certtable::{self, CertKind};
use crate::owner::snp::verify::{Check, ReportPolicy, verify_report};
use crate::owner::snp::{FwVersion, Report};
use crate::status::{Status, libsev_status};
use std::ffi::c_char;
use std::sync::Arc;

/// An AMD generation with SEV-SNP (its own ARK/ASK and TCB layout).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum libsev_snp_generation {
    /// Any generation (input) / not known (output).
    LIBSEV_SNP_GEN_ANY = 0,
    LIBSEV_SNP_GEN_MILAN = 1,
    LIBSEV_SNP_GEN_GENOA = 2,
    LIBSEV_SNP_GEN_TURIN = 3,
}

fn gen_from_c(v: u32) -> Result<Option<SnpGeneration>> {
    Ok(match v {
        0 => None,
        1 => Some(SnpGeneration::Milan),
        2 => Some(SnpGeneration::Genoa),
        3 => Some(SnpGeneration::Turin),
        _ => {
            return Err(Error::arg(format!(
                "generation {v} is not a libsev_snp_generation (0 to 3)"
            )));
        }
    })
}

fn gen_to_c(g: SnpGeneration) -> u32 {
    match g {
        SnpGeneration::Milan => 1,
        SnpGeneration::Genoa => 2,
        SnpGeneration::Turin => 3,
    }
}

/// A TCB by component (`fmc` is meaningful on Turin and later only; 0 elsewhere).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct libsev_snp_tcb {
    pub fmc: u8,
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
}

fn tcb_to_c(t: &Tcb) -> libsev_snp_tcb {
    libsev_snp_tcb {
        fmc: t.fmc.unwrap_or(0),
        bootloader: t.bootloader,
        tee: t.tee,
        snp: t.snp,
        microcode: t.microcode,
    }
}

fn tcb_from_c(t: &libsev_snp_tcb) -> Tcb {
    Tcb {
        fmc: Some(t.fmc),
        bootloader: t.bootloader,
        tee: t.tee,
        snp: t.snp,
        microcode: t.microcode,
    }
}

/// A verified SNP certificate chain (opaque). Immutable; safe to share between threads.
pub struct libsev_snp_chain {
    h: Handle<Arc<VerifiedChain>>,
}

impl CHandle for libsev_snp_chain {
    type Value = Arc<VerifiedChain>;
    const NAME: &'static str = "chain";
    fn wrap(h: Handle<Arc<VerifiedChain>>) -> Self {
        libsev_snp_chain { h }
    }
    fn handle(&self) -> &Handle<Arc<VerifiedChain>> {
        &self.h
    }
}

/// What a verified chain is (filled by `libsev_snp_chain_info`).
#[repr(C)]
pub struct libsev_snp_chain_facts {
    /// `LIBSEV_ROOT_AMD` (1) or `LIBSEV_ROOT_TEST_ONLY` (2), as for legacy chains.
    pub root_kind: u32,
    /// A `libsev_snp_generation`.
    pub generation: u32,
    /// 0 = VCEK, 1 = VLEK (the KEY_INFO.SIGNING_KEY value a report must carry).
    pub leaf_kind: u32,
    /// The TCB the VCEK/VLEK was issued for.
    pub tcb: libsev_snp_tcb,
    /// The VCEK's chip id (hwID), `hw_id_len` bytes (64, or 8 on Turin; 0 for a VLEK).
    pub hw_id: [u8; 64],
    pub hw_id_len: u32,
}

fn chain_error(e: ChainError) -> Error {
    Error::new(e.status(), e.to_string())
}

/// # Safety
/// `p` NULL or readable for `len` bytes.
unsafe fn cert_in(p: *const u8, len: usize, name: &str) -> Result<SnpCert> {
    // SAFETY: forwarded contract.
    let b = unsafe { boundary::input(p, len, name) }?;
    if b.is_empty() {
        return Err(Error::new(
            Status::LIBSEV_STATUS_INVALID_LENGTH,
            format!("{name} is empty"),
        ));
    }
    SnpCert::from_der_or_pem(b).map_err(|e| Error::new(e.status(), format!("{name}: {e}")))
}

/// Verify an SNP certificate chain `leaf` (VCEK or VLEK) ← `ask` (ASK or ASVK) ← `ark`
/// (self-signed) and identify its root; on success `*out` receives a new chain handle (free it
/// with `libsev_snp_chain_free`). Each certificate is DER or PEM.
///
/// * `generation`: a `libsev_snp_generation` the chain must be of, or `LIBSEV_SNP_GEN_ANY`.
/// * `flags`: 0 or `LIBSEV_VERIFY_ALLOW_TEST_ROOT` (accept libsev's test-only SNP root — the
///   firmware model's; its private keys are public, so only in tests).
///
/// The ARK must be one of AMD's SNP roots (Milan, Genoa, Turin), pinned by the SHA-384 of its
/// DER. Statuses: `LIBSEV_STATUS_BAD_CERTIFICATE` (malformed, wrong key type, missing AMD
/// extension), `LIBSEV_STATUS_CHAIN_BROKEN` (a certificate's issuer is not the next one),
/// `LIBSEV_STATUS_BAD_SIGNATURE`, `LIBSEV_STATUS_UNKNOWN_ROOT` (not an AMD root, or not of the
/// required generation), `LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED`. Nothing is written to `*out`
/// on failure.
///
/// # Safety
/// Every non-NULL pointer points to the number of readable bytes given with it; `out` NULL or
/// writable; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_snp_chain_verify(
    ark: *const u8,
    ark_len: usize,
    ask: *const u8,
    ask_len: usize,
    leaf: *const u8,
    leaf_len: usize,
    generation: u32,
    flags: u32,
    out: *mut *mut libsev_snp_chain,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers are as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access (the same holds in every export here).
    unsafe {
        boundary::call(err, || {
            let out = out_handle(out, "out")?;
            if flags & !LIBSEV_VERIFY_ALLOW_TEST_ROOT != 0 {
                return Err(Error::arg(format!(
                    "unknown flags {flags:#x} (only LIBSEV_VERIFY_ALLOW_TEST_ROOT is defined)"
                )));
            }
            let opts = ChainOptions {
                allow_test_root: flags & LIBSEV_VERIFY_ALLOW_TEST_ROOT != 0,
                generation: gen_from_c(generation)?,
                at_time: None,
            };
            let ark = cert_in(ark, ark_len, "ark")?;
            let ask = cert_in(ask, ask_len, "ask")?;
            let leaf = cert_in(leaf, leaf_len, "leaf")?;
            let chain = verify_chain(&ark, &ask, &leaf, &opts).map_err(chain_error)?;
            out.put(Arc::new(chain));
            Ok(())
        })
    }
}

/// Describe a verified chain (`*out` written on success).
///
/// # Safety
/// `chain` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_chain_info(
    chain: *const libsev_snp_chain,
    out: *mut libsev_snp_chain_facts,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_snp_chain_verify.
    unsafe {
        boundary::on(chain, err, |c| {
            boundary::need_out(out, "out")?;
            let mut hw = [0u8; 64];
            let hw_len = c.hw_id.as_ref().map_or(0, |h| {
                let n = h.len().min(hw.len());
                hw[..n].copy_from_slice(&h[..n]);
                n
            });
            let facts = libsev_snp_chain_facts {
                root_kind: match c.root {
                    SnpRootKind::Amd(_) => libsev_root_kind::LIBSEV_ROOT_AMD,
                    SnpRootKind::TestOnly => libsev_root_kind::LIBSEV_ROOT_TEST_ONLY,
                } as u32,
                generation: gen_to_c(c.generation),
                leaf_kind: match c.leaf_kind {
                    LeafKind::Vcek => 0,
                    LeafKind::Vlek => 1,
                },
                tcb: tcb_to_c(&c.tcb),
                hw_id: hw,
                hw_id_len: hw_len as u32,
            };
            write_out(out, facts, "out")
        })
    }
}

/// Free a chain handle (NULL is a no-op).
///
/// # Safety
/// `chain` must be NULL or a handle from `libsev_snp_chain_verify`, not yet freed, and not in
/// use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_chain_free(chain: *mut libsev_snp_chain) {
    // SAFETY: see libsev_snp_chain_verify.
    unsafe { boundary::free(chain) }
}

/// `libsev_snp_policy.expect` bits: which expected values are set (unset ones are not checked).
pub const LIBSEV_SNP_EXPECT_MEASUREMENT: u32 = 1 << 0;
pub const LIBSEV_SNP_EXPECT_HOST_DATA: u32 = 1 << 1;
pub const LIBSEV_SNP_EXPECT_ID_KEY_DIGEST: u32 = 1 << 2;
/// Also requires KEY_INFO.AUTHOR_KEY_EN = 1.
pub const LIBSEV_SNP_EXPECT_AUTHOR_KEY_DIGEST: u32 = 1 << 3;
pub const LIBSEV_SNP_EXPECT_FAMILY_ID: u32 = 1 << 4;
pub const LIBSEV_SNP_EXPECT_IMAGE_ID: u32 = 1 << 5;
pub const LIBSEV_SNP_EXPECT_REPORT_DATA: u32 = 1 << 6;
pub const LIBSEV_SNP_EXPECT_VMPL: u32 = 1 << 7;
pub const LIBSEV_SNP_EXPECT_MIN_GUEST_SVN: u32 = 1 << 8;
/// `policy_allowed` applies (otherwise any POLICY bit beyond `policy_required` is accepted).
pub const LIBSEV_SNP_EXPECT_POLICY_ALLOWED: u32 = 1 << 9;
pub const LIBSEV_SNP_EXPECT_PLATFORM_INFO_ALLOWED: u32 = 1 << 10;
pub const LIBSEV_SNP_EXPECT_MIN_TCB: u32 = 1 << 11;
pub const LIBSEV_SNP_EXPECT_MIN_LAUNCH_TCB: u32 = 1 << 12;
pub const LIBSEV_SNP_EXPECT_MIN_FIRMWARE: u32 = 1 << 13;
pub const LIBSEV_SNP_EXPECT_REPORT_ID: u32 = 1 << 14;
pub const LIBSEV_SNP_EXPECT_REPORT_ID_MA: u32 = 1 << 15;
/// Accept COMMITTED_TCB/version below CURRENT (provisional firmware).
pub const LIBSEV_SNP_ALLOW_PROVISIONAL_FIRMWARE: u32 = 1 << 16;
/// Accept a masked (zero) CHIP_ID with a VCEK.
pub const LIBSEV_SNP_ALLOW_MASKED_CHIP_ID: u32 = 1 << 17;

/// What the owner expects of a report, as data. Zero-initialise it, set the fields you check
/// and their `LIBSEV_SNP_EXPECT_*` bits in `expect`.
#[repr(C)]
pub struct libsev_snp_policy {
    /// `LIBSEV_SNP_EXPECT_*` and `LIBSEV_SNP_ALLOW_*` bits.
    pub expect: u32,
    pub vmpl: u32,
    pub min_guest_svn: u32,
    /// Firmware version minimum (major.minor, build) of CURRENT.
    pub min_fw_major: u8,
    pub min_fw_minor: u8,
    pub min_fw_build: u8,
    pub reserved0: u8,
    /// POLICY bits that must be set (always checked; 0 requires nothing).
    pub policy_required: u64,
    /// POLICY bits that may be set (with `LIBSEV_SNP_EXPECT_POLICY_ALLOWED`).
    pub policy_allowed: u64,
    /// PLATFORM_INFO bits that must be set (always checked).
    pub platform_info_required: u64,
    pub platform_info_allowed: u64,
    pub min_tcb: libsev_snp_tcb,
    pub min_launch_tcb: libsev_snp_tcb,
    pub measurement: [u8; 48],
    pub host_data: [u8; 32],
    pub id_key_digest: [u8; 48],
    pub author_key_digest: [u8; 48],
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    pub report_data: [u8; 64],
    pub report_id: [u8; 32],
    pub report_id_ma: [u8; 32],
}

const EXPECT_ALL: u32 = (1 << 18) - 1;

fn policy_from_c(p: &libsev_snp_policy) -> Result<ReportPolicy> {
    if p.expect & !EXPECT_ALL != 0 {
        return Err(Error::arg(format!(
            "policy.expect has unknown bits {:#x}",
            p.expect & !EXPECT_ALL
        )));
    }
    let on = |b: u32| p.expect & b != 0;
    if on(LIBSEV_SNP_EXPECT_VMPL) && p.vmpl > 3 {
        return Err(Error::arg(format!(
            "policy.vmpl is {}: VMPLs are 0 to 3",
            p.vmpl
        )));
    }
    Ok(ReportPolicy {
        measurement: on(LIBSEV_SNP_EXPECT_MEASUREMENT).then_some(p.measurement),
        host_data: on(LIBSEV_SNP_EXPECT_HOST_DATA).then_some(p.host_data),
        id_key_digest: on(LIBSEV_SNP_EXPECT_ID_KEY_DIGEST).then_some(p.id_key_digest),
        author_key_digest: on(LIBSEV_SNP_EXPECT_AUTHOR_KEY_DIGEST).then_some(p.author_key_digest),
        family_id: on(LIBSEV_SNP_EXPECT_FAMILY_ID).then_some(p.family_id),
        image_id: on(LIBSEV_SNP_EXPECT_IMAGE_ID).then_some(p.image_id),
        min_guest_svn: on(LIBSEV_SNP_EXPECT_MIN_GUEST_SVN).then_some(p.min_guest_svn),
        report_data: on(LIBSEV_SNP_EXPECT_REPORT_DATA).then_some(p.report_data),
        vmpl: on(LIBSEV_SNP_EXPECT_VMPL).then_some(p.vmpl),
        policy_required: p.policy_required,
        policy_allowed: on(LIBSEV_SNP_EXPECT_POLICY_ALLOWED).then_some(p.policy_allowed),
        platform_info_required: p.platform_info_required,
        platform_info_allowed: on(LIBSEV_SNP_EXPECT_PLATFORM_INFO_ALLOWED)
            .then_some(p.platform_info_allowed),
        min_tcb: on(LIBSEV_SNP_EXPECT_MIN_TCB).then(|| tcb_from_c(&p.min_tcb)),
        min_launch_tcb: on(LIBSEV_SNP_EXPECT_MIN_LAUNCH_TCB).then(|| tcb_from_c(&p.min_launch_tcb)),
        min_firmware: on(LIBSEV_SNP_EXPECT_MIN_FIRMWARE).then_some(FwVersion {
            major: p.min_fw_major,
            minor: p.min_fw_minor,
            build: p.min_fw_build,
        }),
        report_id: on(LIBSEV_SNP_EXPECT_REPORT_ID).then_some(p.report_id),
        report_id_ma: on(LIBSEV_SNP_EXPECT_REPORT_ID_MA).then_some(p.report_id_ma),
        allow_provisional_firmware: on(LIBSEV_SNP_ALLOW_PROVISIONAL_FIRMWARE),
        allow_masked_chip_id: on(LIBSEV_SNP_ALLOW_MASKED_CHIP_ID),
    })
}

/// Size of `libsev_snp_verdict.message`, including the terminating NUL.
pub const LIBSEV_SNP_VERDICT_MESSAGE_LEN: usize = 1024;

/// The outcome of `libsev_snp_report_verify`.
#[repr(C)]
pub struct libsev_snp_verdict {
    /// One `LIBSEV_SNP_CHECK_*` bit per failed check; 0 when every check passed.
    pub failed: u64,
    /// The report's VERSION.
    pub report_version: u32,
    /// The report's VMPL, GUEST_SVN and POLICY (convenience copies of verified fields).
    pub vmpl: u32,
    pub guest_svn: u32,
    pub reserved0: u32,
    pub policy: u64,
    pub current_tcb: libsev_snp_tcb,
    pub reported_tcb: libsev_snp_tcb,
    pub measurement: [u8; 48],
    pub report_data: [u8; 64],
    /// NUL-terminated: each failed check as "name: reason", separated by "; " (truncated to
    /// fit); "every check passed" otherwise.
    pub message: [c_char; LIBSEV_SNP_VERDICT_MESSAGE_LEN],
}

/// Bits of `libsev_snp_verdict.failed` (see `libsev_snp_check_name`).
pub const LIBSEV_SNP_CHECK_SIGNATURE: u64 = 1 << 0;
pub const LIBSEV_SNP_CHECK_SIGNATURE_ALGO: u64 = 1 << 1;
pub const LIBSEV_SNP_CHECK_SIGNING_KEY: u64 = 1 << 2;
pub const LIBSEV_SNP_CHECK_GENERATION: u64 = 1 << 3;
pub const LIBSEV_SNP_CHECK_CHIP_ID: u64 = 1 << 4;
pub const LIBSEV_SNP_CHECK_REPORTED_TCB: u64 = 1 << 5;
pub const LIBSEV_SNP_CHECK_CURRENT_TCB: u64 = 1 << 6;
pub const LIBSEV_SNP_CHECK_COMMITTED_TCB: u64 = 1 << 7;
pub const LIBSEV_SNP_CHECK_LAUNCH_TCB: u64 = 1 << 8;
pub const LIBSEV_SNP_CHECK_MINIMUM_TCB: u64 = 1 << 9;
pub const LIBSEV_SNP_CHECK_MEASUREMENT: u64 = 1 << 10;
pub const LIBSEV_SNP_CHECK_HOST_DATA: u64 = 1 << 11;
pub const LIBSEV_SNP_CHECK_ID_KEY_DIGEST: u64 = 1 << 12;
pub const LIBSEV_SNP_CHECK_AUTHOR_KEY_DIGEST: u64 = 1 << 13;
pub const LIBSEV_SNP_CHECK_FAMILY_ID: u64 = 1 << 14;
pub const LIBSEV_SNP_CHECK_IMAGE_ID: u64 = 1 << 15;
pub const LIBSEV_SNP_CHECK_GUEST_SVN: u64 = 1 << 16;
pub const LIBSEV_SNP_CHECK_POLICY: u64 = 1 << 17;
pub const LIBSEV_SNP_CHECK_VMPL: u64 = 1 << 18;
pub const LIBSEV_SNP_CHECK_REPORT_DATA: u64 = 1 << 19;
pub const LIBSEV_SNP_CHECK_PLATFORM_INFO: u64 = 1 << 20;
pub const LIBSEV_SNP_CHECK_REPORT_ID: u64 = 1 << 21;
pub const LIBSEV_SNP_CHECK_REPORT_ID_MA: u64 = 1 << 22;
pub const LIBSEV_SNP_CHECK_FIRMWARE_VERSION: u64 = 1 << 23;

/// Verify an attestation report (`report_len` must be 0x4A0 = 1184) against a verified chain
/// and the owner's `policy`, and fill `*verdict` (always, when the report could be parsed).
///
/// Checks: the ECDSA P-384 signature with the chain's VCEK/VLEK; SIGNATURE_ALGO; KEY_INFO's
/// signing key vs. the chain's leaf; the report's generation vs. the chain's; CHIP_ID = the
/// VCEK's hwID; REPORTED_TCB = the certificate's TCB; certificate TCB ≤ CURRENT_TCB;
/// COMMITTED = CURRENT (unless provisional firmware is allowed); then every expected value of
/// `policy`. Returns `LIBSEV_STATUS_OK` when every check passed,
/// `LIBSEV_STATUS_REPORT_CHECK_FAILED` when some failed (their bits are in
/// `verdict->failed`, reasons in `verdict->message`), `LIBSEV_STATUS_BAD_REPORT` when the bytes
/// are not a report (length, version 2–5, non-zero reserved bytes; `*verdict` untouched).
/// Versions 2, 3 (and 4) and 5 are understood.
///
/// # Safety
/// `report` NULL or `report_len` readable bytes; `chain` NULL or live; `policy` NULL or a
/// readable `libsev_snp_policy`; `verdict` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_report_verify(
    report: *const u8,
    report_len: usize,
    chain: *const libsev_snp_chain,
    policy: *const libsev_snp_policy,
    verdict: *mut libsev_snp_verdict,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_snp_chain_verify.
    unsafe {
        boundary::call(err, || {
            let chain = boundary::handle_value(chain)?.clone();
            let policy = policy_from_c(boundary::reference(policy, "policy")?)?;
            boundary::need_out(verdict, "verdict")?;
            let bytes = boundary::required_input(report, report_len, "report")?;
            let r = Report::parse(bytes)
                .map_err(|e| Error::new(Status::LIBSEV_STATUS_BAD_REPORT, e.to_string()))?;
            let v = verify_report(&r, &chain, &policy);
            let g = chain.generation;
            let mut msg = [0 as c_char; LIBSEV_SNP_VERDICT_MESSAGE_LEN];
            let s = v.summary();
            for (d, b) in msg
                .iter_mut()
                .zip(s.bytes().take(LIBSEV_SNP_VERDICT_MESSAGE_LEN - 1))
            {
                *d = b as c_char;
            }
            let out = libsev_snp_verdict {
                failed: v.failed,
                report_version: r.version,
                vmpl: r.vmpl,
                guest_svn: r.guest_svn,
                reserved0: 0,
                policy: r.policy,
                current_tcb: tcb_to_c(&Tcb::from_u64(r.current_tcb, g)),
                reported_tcb: tcb_to_c(&Tcb::from_u64(r.reported_tcb, g)),
                measurement: r.measurement,
                report_data: r.report_data,
                message: msg,
            };
            write_out(verdict, out, "verdict")?;
            if v.ok() {
                Ok(())
            } else {
                Err(Error::new(
                    Status::LIBSEV_STATUS_REPORT_CHECK_FAILED,
                    format!("SNP report refused: {s}"),
                ))
            }
        })
    }
}

/// The static name of one `LIBSEV_SNP_CHECK_*` bit ("measurement", "chip_id", ...), or
/// "unknown" for anything else.
#[unsafe(no_mangle)]
pub extern "C" fn libsev_snp_check_name(check: u64) -> *const c_char {
    boundary::value(c"unknown".as_ptr(), || {
        super::static_cstr(Check::from_bit(check).map_or("unknown", |c| c.name()))
    })
}

/// A certificate kind in an extended-report certificate table.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum libsev_snp_cert_kind {
    LIBSEV_SNP_CERT_ARK = 0,
    /// The ASK (or ASVK for a VLEK chain).
    LIBSEV_SNP_CERT_ASK = 1,
    LIBSEV_SNP_CERT_VCEK = 2,
    LIBSEV_SNP_CERT_VLEK = 3,
}

/// Copy the certificate of `kind` (a `libsev_snp_cert_kind`) out of an extended-report
/// certificate table (24-byte entries {GUID, offset, length} ended by a zero entry). Buffer
/// rule: `*out_len` receives the certificate's size; a NULL or short `buf` gives
/// `LIBSEV_STATUS_BUFFER_TOO_SMALL`. A malformed table gives `LIBSEV_STATUS_BAD_CERTIFICATE`
/// naming the fault; a table without that kind gives `LIBSEV_STATUS_CHAIN_BROKEN`.
///
/// # Safety
/// `table` NULL or `table_len` readable bytes; `buf` NULL or `buf_len` writable bytes;
/// `out_len` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_cert_table_get(
    table: *const u8,
    table_len: usize,
    kind: u32,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_snp_chain_verify.
    unsafe {
        boundary::call(err, || {
            let t = boundary::required_input(table, table_len, "table")?;
            let out = Out::new(buf, buf_len, out_len, ("buf", "out_len"))?;
            let k = match kind {
                0 => CertKind::Ark,
                1 => CertKind::Ask,
                2 => CertKind::Vcek,
                3 => CertKind::Vlek,
                _ => {
                    return Err(Error::arg(format!(
                        "kind {kind} is not a libsev_snp_cert_kind (0 to 3)"
                    )));
                }
            };
            let entries = certtable::parse(t)
                .map_err(|e| Error::new(Status::LIBSEV_STATUS_BAD_CERTIFICATE, e.to_string()))?;
            let blob = certtable::find(&entries, k).ok_or_else(|| {
                Error::new(
                    Status::LIBSEV_STATUS_CHAIN_BROKEN,
                    format!("the certificate table has no {k:?} entry"),
                )
            })?;
            out.put(blob)
        })
    }
}

#[cfg(test)]
#[path = "snp_owner_tests.rs"]
mod tests;
