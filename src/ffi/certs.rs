//! C ABI: certificate-chain verification for the guest owner.
//!
//! `libsev_chain_verify` checks every link of a platform chain (ARK → ASK → CEK, OCA, PEK
//! signed by OCA *and* CEK, PDH by PEK) and identifies the root. Its `libsev_chain_result`
//! names the first failing link (root to leaf) and gives each link's own status.

use super::boundary::{self, input};
use super::libsev_error;
use crate::certs::chain::{Chain, ChainReport, Link, VerifyOptions};
use crate::certs::roots::{Generation, RootKind};
use crate::error::{Error, Result};
use crate::status::{Command, Status, libsev_status};
use std::ffi::c_char;

/// `flags` bit for `libsev_chain_verify*`: accept a chain that ends at the built-in firmware
/// model's test-only root. Without it such a chain fails with
/// `LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED`. Use only in tests: the test root's private keys are
/// public.
pub const LIBSEV_VERIFY_ALLOW_TEST_ROOT: u32 = 1;

/// Number of entries of `libsev_chain_result.link_status` (indexed by `libsev_chain_link`;
/// entry 0, `LIBSEV_LINK_NONE`, is always 0).
pub const LIBSEV_CHAIN_LINK_COUNT: usize = 8;

/// One signature relation of a platform chain, in root-to-leaf order.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum libsev_chain_link {
    /// No link (nothing failed).
    LIBSEV_LINK_NONE = 0,
    /// The ARK's self-signature (and its key usage / ids).
    LIBSEV_LINK_ARK_SELF = 1,
    /// The ASK, signed by the ARK.
    LIBSEV_LINK_ASK_BY_ARK = 2,
    /// The CEK, signed by the ASK.
    LIBSEV_LINK_CEK_BY_ASK = 3,
    /// The OCA's self-signature.
    LIBSEV_LINK_OCA_SELF = 4,
    /// The PEK's signature by the OCA.
    LIBSEV_LINK_PEK_BY_OCA = 5,
    /// The PEK's signature by the CEK.
    LIBSEV_LINK_PEK_BY_CEK = 6,
    /// The PDH, signed by the PEK.
    LIBSEV_LINK_PDH_BY_PEK = 7,
}

/// What a chain's root (ARK) is.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum libsev_root_kind {
    /// Not one of the keys below (or the ARK could not be parsed).
    LIBSEV_ROOT_UNKNOWN = 0,
    /// One of AMD's real roots; `libsev_chain_result.generation` says which.
    LIBSEV_ROOT_AMD = 1,
    /// The built-in firmware model's test-only root.
    LIBSEV_ROOT_TEST_ONLY = 2,
    /// The root the caller supplied as bytes (`libsev_chain_verify_root`,
    /// `libsev_chain_verify_blob_root`): trusted because the caller said so.
    LIBSEV_ROOT_SUPPLIED = 3,
}

/// AMD EPYC generations with their own legacy-SEV root.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum libsev_amd_generation {
    /// Not an AMD root.
    LIBSEV_GENERATION_NONE = 0,
    LIBSEV_GENERATION_NAPLES = 1,
    LIBSEV_GENERATION_ROME = 2,
    LIBSEV_GENERATION_MILAN = 3,
    LIBSEV_GENERATION_GENOA = 4,
    LIBSEV_GENERATION_TURIN = 5,
}

/// The outcome of a chain verification.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct libsev_chain_result {
    /// The overall verdict (the value the call returned).
    pub status: u32,
    /// A `libsev_root_kind`.
    pub root_kind: u32,
    /// A `libsev_amd_generation` (`LIBSEV_GENERATION_NONE` unless `root_kind` is AMD).
    pub generation: u32,
    /// A static string: `"naples"` … `"turin"`, `"test-only"`, `"supplied"` or `"unknown"`.
    /// Never NULL.
    pub generation_name: *const c_char,
    /// The first failing link, root to leaf (`LIBSEV_LINK_NONE` when every link verified; the
    /// chain can still fail because of its root).
    pub failed_link: u32,
    /// Each link's own status (`LIBSEV_STATUS_OK` or the reason it failed), indexed by
    /// `libsev_chain_link`.
    pub link_status: [u32; LIBSEV_CHAIN_LINK_COUNT],
}

fn link_code(l: Link) -> libsev_chain_link {
    use libsev_chain_link::*;
    match l {
        Link::ArkSelf => LIBSEV_LINK_ARK_SELF,
        Link::AskByArk => LIBSEV_LINK_ASK_BY_ARK,
        Link::CekByAsk => LIBSEV_LINK_CEK_BY_ASK,
        Link::OcaSelf => LIBSEV_LINK_OCA_SELF,
        Link::PekByOca => LIBSEV_LINK_PEK_BY_OCA,
        Link::PekByCek => LIBSEV_LINK_PEK_BY_CEK,
        Link::PdhByPek => LIBSEV_LINK_PDH_BY_PEK,
    }
}

/// A generation's C value and its name as a static C string (`Generation::name`).
fn generation_c(g: Generation) -> (libsev_amd_generation, *const c_char) {
    use libsev_amd_generation::*;
    match g {
        Generation::Naples => (LIBSEV_GENERATION_NAPLES, c"naples".as_ptr()),
        Generation::Rome => (LIBSEV_GENERATION_ROME, c"rome".as_ptr()),
        Generation::Milan => (LIBSEV_GENERATION_MILAN, c"milan".as_ptr()),
        Generation::Genoa => (LIBSEV_GENERATION_GENOA, c"genoa".as_ptr()),
        Generation::Turin => (LIBSEV_GENERATION_TURIN, c"turin".as_ptr()),
    }
}

fn to_result(r: &ChainReport, status: Status) -> libsev_chain_result {
    let (root_kind, generation, name) = match r.root {
        RootKind::Amd(g) => {
            let (generation, name) = generation_c(g);
            (libsev_root_kind::LIBSEV_ROOT_AMD, generation, name)
        }
        RootKind::TestOnly => (
            libsev_root_kind::LIBSEV_ROOT_TEST_ONLY,
            libsev_amd_generation::LIBSEV_GENERATION_NONE,
            c"test-only".as_ptr(),
        ),
        RootKind::Supplied => (
            libsev_root_kind::LIBSEV_ROOT_SUPPLIED,
            libsev_amd_generation::LIBSEV_GENERATION_NONE,
            c"supplied".as_ptr(),
        ),
        RootKind::Unknown => (
            libsev_root_kind::LIBSEV_ROOT_UNKNOWN,
            libsev_amd_generation::LIBSEV_GENERATION_NONE,
            c"unknown".as_ptr(),
        ),
    };
    let mut link_status = [0u32; LIBSEV_CHAIN_LINK_COUNT];
    for l in &r.links {
        link_status[link_code(l.link) as usize] = match &l.result {
            Ok(()) => 0,
            Err(e) => e.status() as u32,
        };
    }
    libsev_chain_result {
        status: status as u32,
        root_kind: root_kind as u32,
        generation: generation as u32,
        generation_name: name,
        failed_link: r
            .failed_link()
            .map(|l| link_code(l.link))
            .unwrap_or(libsev_chain_link::LIBSEV_LINK_NONE) as u32,
        link_status,
    }
}

pub(super) fn options(flags: u32) -> Result<VerifyOptions> {
    if flags & !LIBSEV_VERIFY_ALLOW_TEST_ROOT != 0 {
        return Err(Error::arg(format!(
            "unknown flags {:#x} (only LIBSEV_VERIFY_ALLOW_TEST_ROOT is defined)",
            flags & !LIBSEV_VERIFY_ALLOW_TEST_ROOT
        )));
    }
    Ok(VerifyOptions {
        allow_test_root: flags & LIBSEV_VERIFY_ALLOW_TEST_ROOT != 0,
        ..VerifyOptions::default()
    })
}

/// Verify, write `out` (if not NULL) and return the verdict.
///
/// # Safety
/// `out` NULL or writable.
unsafe fn verify_into(
    chain: Chain,
    options: VerifyOptions,
    out: *mut libsev_chain_result,
) -> Result<()> {
    let report = chain.verify(options);
    let verdict = report
        .check()
        .map_err(|e| e.with_command(Command::LIBSEV_CMD_OWNER));
    let status = match &verdict {
        Ok(()) => Status::LIBSEV_STATUS_OK,
        Err(e) => e.status,
    };
    // SAFETY: forwarded contract.
    unsafe { boundary::write_opt(out, to_result(&report, status)) };
    verdict
}

pub(super) fn owner_err(e: Error) -> Error {
    e.with_command(Command::LIBSEV_CMD_OWNER)
}

/// Verify a platform certificate chain as a guest owner must before trusting its PDH.
///
/// Inputs (wire formats, `sev-spec` §5):
/// * `pdh`: the PDH certificate (2084 bytes);
/// * `plat_certs`: `PEK ‖ OCA ‖ CEK` (3 × 2084 bytes), the layout PDH_CERT_EXPORT returns;
/// * `cek`: optional (NULL, 0): a CEK (2084 bytes) replacing the one in `plat_certs` — the
///   firmware's exported CEK is unsigned; pass the one AMD's key server signed for this chip;
/// * `ask_ark`: `ASK ‖ ARK` as AMD distributes them (1664 bytes Naples, 3200 later);
/// * `flags`: 0 or `LIBSEV_VERIFY_ALLOW_TEST_ROOT`.
///
/// Returns `LIBSEV_STATUS_OK` only if every link verifies and the root is one of AMD's (or
/// the test root, when allowed). Failures: `LIBSEV_STATUS_BAD_CERTIFICATE`,
/// `LIBSEV_STATUS_BAD_SIGNATURE`, `LIBSEV_STATUS_CHAIN_BROKEN` (the message names the link),
/// `LIBSEV_STATUS_UNKNOWN_ROOT`, `LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED`; argument errors
/// (`NULL_ARGUMENT`, `INVALID_LENGTH`, `INVALID_ARGUMENT` for unknown flags).
///
/// `out` may be NULL. It is written whenever the inputs had the right sizes, i.e. on success
/// and on every verification failure (that is what it is for), never on argument errors.
///
/// # Safety
/// Every non-NULL pointer must point to the number of readable bytes given with it; `out` and
/// `err` must be NULL or point to writable objects of their types.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_chain_verify(
    pdh: *const u8,
    pdh_len: usize,
    plat_certs: *const u8,
    plat_certs_len: usize,
    cek: *const u8,
    cek_len: usize,
    ask_ark: *const u8,
    ask_ark_len: usize,
    flags: u32,
    out: *mut libsev_chain_result,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented.
    unsafe {
        verify_parts(
            pdh,
            pdh_len,
            plat_certs,
            plat_certs_len,
            cek,
            cek_len,
            ask_ark,
            ask_ark_len,
            || options(flags),
            out,
            err,
        )
    }
}

/// The body of `libsev_chain_verify` and `libsev_chain_verify_root`, which differ only in
/// their options: the inputs are checked in argument order, then `opts` gives the options
/// (`flags`, and a root the caller supplied: its own errors come after the chain's argument
/// errors), then the chain is built and verified into `out`.
///
/// # Safety
/// As for `libsev_chain_verify`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn verify_parts(
    pdh: *const u8,
    pdh_len: usize,
    plat_certs: *const u8,
    plat_certs_len: usize,
    cek: *const u8,
    cek_len: usize,
    ask_ark: *const u8,
    ask_ark_len: usize,
    opts: impl FnOnce() -> Result<VerifyOptions>,
    out: *mut libsev_chain_result,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented; the boundary checks NULLs and lengths first.
    unsafe {
        boundary::call(err, || {
            let pdh = nonempty(pdh, pdh_len, "pdh")?;
            let plat = nonempty(plat_certs, plat_certs_len, "plat_certs")?;
            let cek = input(cek, cek_len, "cek")?;
            let ask_ark = nonempty(ask_ark, ask_ark_len, "ask_ark")?;
            let opts = opts()?;
            let chain = parts_chain(pdh, plat, cek, ask_ark)?;
            verify_into(chain, opts, out)
        })
    }
}

/// `Chain::from_parts` with the optional CEK replacement (empty `cek` = keep the chain's).
fn parts_chain(pdh: &[u8], plat: &[u8], cek: &[u8], ask_ark: &[u8]) -> Result<Chain> {
    let chain = Chain::from_parts(pdh, plat, ask_ark).map_err(owner_err)?;
    with_cek(chain, cek)
}

/// A blob chain (`PDH ‖ PEK ‖ OCA ‖ CEK` with `ask_ark`, or all six with empty `ask_ark`),
/// with the optional CEK replacement.
fn blob_chain(chain: &[u8], cek: &[u8], ask_ark: &[u8]) -> Result<Chain> {
    let c = if ask_ark.is_empty() {
        Chain::from_full(chain)
    } else {
        Chain::from_sev_chain(chain, ask_ark)
    }
    .map_err(owner_err)?;
    with_cek(c, cek)
}

fn with_cek(chain: Chain, cek: &[u8]) -> Result<Chain> {
    if cek.is_empty() {
        return Ok(chain);
    }
    chain.with_cek(cek).map_err(owner_err)
}

/// Like `libsev_chain_verify`, for chains stored as one blob:
/// * `chain` = `PDH ‖ PEK ‖ OCA ‖ CEK` (4 × 2084 bytes) with `ask_ark` = `ASK ‖ ARK`, or
/// * `chain` = `PDH ‖ PEK ‖ OCA ‖ CEK ‖ ASK ‖ ARK` with `ask_ark` NULL and `ask_ark_len` 0;
/// * `cek`: optional (NULL, 0), a CEK (2084 bytes) replacing the blob's, as for
///   `libsev_chain_verify` (added after 0.1.0, whose blob form had no `cek` arguments).
///
/// # Safety
/// As for `libsev_chain_verify`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_chain_verify_blob(
    chain: *const u8,
    chain_len: usize,
    cek: *const u8,
    cek_len: usize,
    ask_ark: *const u8,
    ask_ark_len: usize,
    flags: u32,
    out: *mut libsev_chain_result,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented.
    unsafe {
        verify_blob(
            chain,
            chain_len,
            cek,
            cek_len,
            ask_ark,
            ask_ark_len,
            || options(flags),
            out,
            err,
        )
    }
}

/// The body of `libsev_chain_verify_blob` and `libsev_chain_verify_blob_root`, as
/// [`verify_parts`] for the parts forms.
///
/// # Safety
/// As for `libsev_chain_verify_blob`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn verify_blob(
    chain: *const u8,
    chain_len: usize,
    cek: *const u8,
    cek_len: usize,
    ask_ark: *const u8,
    ask_ark_len: usize,
    opts: impl FnOnce() -> Result<VerifyOptions>,
    out: *mut libsev_chain_result,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented; the boundary checks NULLs and lengths first.
    unsafe {
        boundary::call(err, || {
            let chain = nonempty(chain, chain_len, "chain")?;
            let cek = input(cek, cek_len, "cek")?;
            let ask_ark = input(ask_ark, ask_ark_len, "ask_ark")?;
            let opts = opts()?;
            verify_into(blob_chain(chain, cek, ask_ark)?, opts, out)
        })
    }
}

/// A required, non-empty input.
///
/// # Safety
/// As [`boundary::input`].
pub(super) unsafe fn nonempty<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(boundary::null_arg(name));
    }
    if len == 0 {
        return Err(Error::new(
            Status::LIBSEV_STATUS_INVALID_LENGTH,
            format!("{name} is empty"),
        ));
    }
    // SAFETY: forwarded contract.
    unsafe { input(p, len, name) }
}

/// A static name for a `libsev_chain_link` value (e.g. `"PEK signed by CEK"`).
#[unsafe(no_mangle)]
pub extern "C" fn libsev_chain_link_str(link: u32) -> *const c_char {
    boundary::value(c"unknown link".as_ptr(), || link_cstr(link))
}

fn link_cstr(link: u32) -> *const c_char {
    match link {
        0 => c"none".as_ptr(),
        1 => c"ARK self-signature".as_ptr(),
        2 => c"ASK signed by ARK".as_ptr(),
        3 => c"CEK signed by ASK".as_ptr(),
        4 => c"OCA self-signature".as_ptr(),
        5 => c"PEK signed by OCA".as_ptr(),
        6 => c"PEK signed by CEK".as_ptr(),
        7 => c"PDH signed by PEK".as_ptr(),
        _ => c"unknown link".as_ptr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn data(p: &str) -> Vec<u8> {
        let path = format!("{}/../shared/testdata/sev/{p}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn empty_err() -> libsev_error {
        // SAFETY: libsev_error is plain data; all-zero is a valid value.
        unsafe { std::mem::zeroed() }
    }

    #[test]
    fn link_names_match_the_rust_names() {
        for l in Link::ALL {
            let s = libsev_chain_link_str(link_code(l) as u32);
            // SAFETY: a static NUL-terminated string.
            assert_eq!(unsafe { CStr::from_ptr(s) }.to_str().unwrap(), l.name());
        }
    }

    #[test]
    fn generation_names_match_the_rust_names() {
        for g in Generation::ALL {
            let (_, s) = generation_c(g);
            // SAFETY: a static NUL-terminated string.
            assert_eq!(unsafe { CStr::from_ptr(s) }.to_str().unwrap(), g.name());
        }
    }

    #[test]
    fn blob_and_parts_verify_and_report() {
        let full = data("rome/chain.bin");
        let mut out = libsev_chain_result {
            status: 99,
            root_kind: 99,
            generation: 99,
            generation_name: std::ptr::null(),
            failed_link: 99,
            link_status: [99; LIBSEV_CHAIN_LINK_COUNT],
        };
        let mut err = empty_err();
        // SAFETY: valid buffers and out pointers.
        let st = unsafe {
            libsev_chain_verify_blob(
                full.as_ptr(),
                full.len(),
                std::ptr::null(),
                0,
                std::ptr::null(),
                0,
                0,
                &mut out,
                &mut err,
            )
        };
        assert_eq!(st, libsev_status::LIBSEV_STATUS_OK);
        assert_eq!(out.root_kind, libsev_root_kind::LIBSEV_ROOT_AMD as u32);
        assert_eq!(
            out.generation,
            libsev_amd_generation::LIBSEV_GENERATION_ROME as u32
        );
        assert_eq!(out.failed_link, 0);
        assert_eq!(out.link_status, [0; LIBSEV_CHAIN_LINK_COUNT]);
        // SAFETY: generation_name is a static NUL-terminated string.
        let name = unsafe { CStr::from_ptr(out.generation_name) };
        assert_eq!(name.to_str().unwrap(), "rome");

        // Naples chain with the unsigned CEK replaced through the `cek` argument.
        let pdh = data("naples/pdh.cert");
        let mut plat = data("naples/pek.cert");
        plat.extend(data("naples/oca.cert"));
        plat.extend(vec![0u8; 2084]);
        let cek = data("naples/cek.cert");
        let mut aa = data("builtin/naples/ask.cert");
        aa.extend(data("builtin/naples/ark.cert"));
        // SAFETY: valid buffers.
        let st = unsafe {
            libsev_chain_verify(
                pdh.as_ptr(),
                pdh.len(),
                plat.as_ptr(),
                plat.len(),
                cek.as_ptr(),
                cek.len(),
                aa.as_ptr(),
                aa.len(),
                0,
                &mut out,
                &mut err,
            )
        };
        assert_eq!(st, libsev_status::LIBSEV_STATUS_OK, "{:?}", err.status);
        assert_eq!(
            out.generation,
            libsev_amd_generation::LIBSEV_GENERATION_NAPLES as u32
        );
        // Without the replacement the zero CEK fails its own link.
        // SAFETY: valid buffers.
        let st = unsafe {
            libsev_chain_verify(
                pdh.as_ptr(),
                pdh.len(),
                plat.as_ptr(),
                plat.len(),
                std::ptr::null(),
                0,
                aa.as_ptr(),
                aa.len(),
                0,
                &mut out,
                &mut err,
            )
        };
        assert_eq!(st, libsev_status::LIBSEV_STATUS_BAD_CERTIFICATE);
        assert_eq!(
            out.failed_link,
            libsev_chain_link::LIBSEV_LINK_CEK_BY_ASK as u32
        );
        assert_eq!(out.status, st as u32);
        assert_eq!(err.status, st as u32);
        assert_eq!(err.command, Command::LIBSEV_CMD_OWNER as u32);
        assert_ne!(
            out.link_status[libsev_chain_link::LIBSEV_LINK_PEK_BY_CEK as usize],
            0
        );
        assert_eq!(
            out.link_status[libsev_chain_link::LIBSEV_LINK_OCA_SELF as usize],
            0
        );
    }

    #[test]
    fn argument_errors_leave_out_untouched() {
        let full = data("rome/chain.bin");
        let mut out = libsev_chain_result {
            status: 42,
            root_kind: 42,
            generation: 42,
            generation_name: std::ptr::null(),
            failed_link: 42,
            link_status: [42; LIBSEV_CHAIN_LINK_COUNT],
        };
        let mut err = empty_err();
        let cases: [(*const u8, usize, u32, libsev_status); 4] = [
            (
                std::ptr::null(),
                10,
                0,
                libsev_status::LIBSEV_STATUS_NULL_ARGUMENT,
            ),
            (
                full.as_ptr(),
                0,
                0,
                libsev_status::LIBSEV_STATUS_INVALID_LENGTH,
            ),
            (
                full.as_ptr(),
                full.len() - 1,
                0,
                libsev_status::LIBSEV_STATUS_INVALID_LENGTH,
            ),
            (
                full.as_ptr(),
                full.len(),
                2,
                libsev_status::LIBSEV_STATUS_INVALID_ARGUMENT,
            ),
        ];
        for (p, n, flags, want) in cases {
            // SAFETY: p is NULL or valid for n bytes.
            let st = unsafe {
                libsev_chain_verify_blob(
                    p,
                    n,
                    std::ptr::null(),
                    0,
                    std::ptr::null(),
                    0,
                    flags,
                    &mut out,
                    &mut err,
                )
            };
            assert_eq!(st, want);
            assert_eq!(out.status, 42);
            assert_eq!(out.failed_link, 42);
        }
        // NULL out and NULL err are fine.
        // SAFETY: valid buffer.
        let st = unsafe {
            libsev_chain_verify_blob(
                full.as_ptr(),
                full.len(),
                std::ptr::null(),
                0,
                std::ptr::null(),
                0,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(st, libsev_status::LIBSEV_STATUS_OK);
    }
}
