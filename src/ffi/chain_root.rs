//! C ABI: chain verification against a root the caller supplies as bytes (a private root, or
//! a test root of its own), besides AMD's pinned roots. A chain that ends at the supplied root
//! is accepted and reported as `LIBSEV_ROOT_SUPPLIED`, distinct from `LIBSEV_ROOT_UNKNOWN`
//! (which still fails with `LIBSEV_STATUS_UNKNOWN_ROOT`) and from AMD's roots (reported as
//! `LIBSEV_ROOT_AMD` even when the caller passes an AMD ARK).

use super::certs::{libsev_chain_result, nonempty, options, owner_err, verify_blob, verify_parts};
use super::libsev_error;
use crate::certs::chain::VerifyOptions;
use crate::error::Result;
use crate::status::libsev_status;

/// The options for `flags` and the supplied root ARK (AMD's certificate format): `root`
/// must be non-NULL and non-empty, then `flags` valid, then the root an ARK.
///
/// # Safety
/// `root` NULL or pointing to `root_len` readable bytes.
unsafe fn root_options(flags: u32, root: *const u8, root_len: usize) -> Result<VerifyOptions> {
    // SAFETY: forwarded contract.
    let root = unsafe { nonempty(root, root_len, "root") }?;
    options(flags)?.with_root(root).map_err(owner_err)
}

/// `libsev_chain_verify` that also trusts the ARK `root` (`root_len` bytes in AMD's
/// certificate format, e.g. the second half of the `ASK ‖ ARK` the private CA distributes;
/// 576 bytes for RSA-2048, 1088 for RSA-4096).
///
/// A chain ending at exactly that key (SHA-384 of its signed bytes, as roots are pinned) is
/// accepted with `libsev_chain_result.root_kind` = `LIBSEV_ROOT_SUPPLIED` and
/// `generation_name` `"supplied"`; AMD's roots are still accepted (and reported as AMD's);
/// any other root fails as without it (`LIBSEV_STATUS_UNKNOWN_ROOT`,
/// `LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED`). Giving the model's test root here trusts it without
/// `LIBSEV_VERIFY_ALLOW_TEST_ROOT` (the caller named its exact bytes). Every link is checked
/// exactly as by `libsev_chain_verify`.
///
/// `root` is required (`LIBSEV_STATUS_NULL_ARGUMENT`, `LIBSEV_STATUS_INVALID_LENGTH` when
/// empty); one that is not an ARK fails with `LIBSEV_STATUS_BAD_CERTIFICATE` before anything
/// is verified (`out` is not written). Other arguments, statuses and `out` as for
/// `libsev_chain_verify`.
///
/// Thread safety: no shared state; call from any thread.
///
/// # Safety
/// As for `libsev_chain_verify`; `root` must point to `root_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_chain_verify_root(
    pdh: *const u8,
    pdh_len: usize,
    plat_certs: *const u8,
    plat_certs_len: usize,
    cek: *const u8,
    cek_len: usize,
    ask_ark: *const u8,
    ask_ark_len: usize,
    root: *const u8,
    root_len: usize,
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
            || root_options(flags, root, root_len),
            out,
            err,
        )
    }
}

/// `libsev_chain_verify_blob` that also trusts the ARK `root`, as `libsev_chain_verify_root`
/// describes.
///
/// # Safety
/// As for `libsev_chain_verify_root`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_chain_verify_blob_root(
    chain: *const u8,
    chain_len: usize,
    cek: *const u8,
    cek_len: usize,
    ask_ark: *const u8,
    ask_ark_len: usize,
    root: *const u8,
    root_len: usize,
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
            || root_options(flags, root, root_len),
            out,
            err,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::certs::{
        LIBSEV_CHAIN_LINK_COUNT, libsev_chain_verify_blob, libsev_root_kind,
    };
    use super::*;
    use crate::model::ModelConfig;
    use std::ffi::CStr;
    use std::ptr::{null, null_mut};

    fn data(p: &str) -> Vec<u8> {
        let path = format!("{}/../shared/testdata/sev/{p}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn fresh() -> libsev_chain_result {
        libsev_chain_result {
            status: 77,
            root_kind: 77,
            generation: 77,
            generation_name: null(),
            failed_link: 77,
            link_status: [77; LIBSEV_CHAIN_LINK_COUNT],
        }
    }

    /// The model's chain as one blob (`PDH ‖ PEK ‖ OCA ‖ CEK(unsigned)`), its KDS-signed CEK,
    /// its `ASK ‖ ARK`, and the ARK alone.
    fn model_chain() -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
        let p = crate::api::Platform::emulated(ModelConfig {
            seed: Some([5; 32]),
            ..ModelConfig::default()
        })
        .unwrap();
        let m = p.model().unwrap().clone();
        let (pdh, plat) = p.pdh_cert_export().unwrap();
        let mut blob = pdh;
        blob.extend(plat);
        let aa = m.amd_ask_ark();
        let ark = aa[aa.len() / 2..].to_vec();
        (blob, m.cek_signed(), aa, ark)
    }

    #[test]
    fn blob_takes_the_cek_override() {
        let (blob, cek, aa, _) = model_chain();
        let mut out = fresh();
        // SAFETY: valid buffers and out pointer.
        let st = unsafe {
            libsev_chain_verify_blob(
                blob.as_ptr(),
                blob.len(),
                null(),
                0,
                aa.as_ptr(),
                aa.len(),
                1,
                &mut out,
                null_mut(),
            )
        };
        assert_ne!(st, libsev_status::LIBSEV_STATUS_OK, "unsigned CEK");
        assert_eq!(
            out.failed_link,
            super::super::certs::libsev_chain_link::LIBSEV_LINK_CEK_BY_ASK as u32
        );
        // SAFETY: as above.
        let st = unsafe {
            libsev_chain_verify_blob(
                blob.as_ptr(),
                blob.len(),
                cek.as_ptr(),
                cek.len(),
                aa.as_ptr(),
                aa.len(),
                1,
                &mut out,
                null_mut(),
            )
        };
        assert_eq!(st, libsev_status::LIBSEV_STATUS_OK);
        assert_eq!(
            out.root_kind,
            libsev_root_kind::LIBSEV_ROOT_TEST_ONLY as u32
        );
        // A CEK of the wrong size is an argument error.
        // SAFETY: as above (cek has more than 100 bytes).
        let st = unsafe {
            libsev_chain_verify_blob(
                blob.as_ptr(),
                blob.len(),
                cek.as_ptr(),
                100,
                aa.as_ptr(),
                aa.len(),
                1,
                &mut out,
                null_mut(),
            )
        };
        assert_eq!(st, libsev_status::LIBSEV_STATUS_INVALID_LENGTH);
    }

    /// The arguments are refused in order: the chain's inputs, then the root's presence, then
    /// the flags, then the root's format (the exports share their bodies with the forms
    /// without a root, which check the flags where these check the root).
    #[test]
    fn argument_errors_come_in_argument_order() {
        let (blob, _, aa, _) = model_chain();
        let ask = data("builtin/rome/ask.cert");
        // Each case also has unknown flags (2); `None` is a NULL root.
        let cases = [
            (
                &blob[..0],
                None,
                libsev_status::LIBSEV_STATUS_INVALID_LENGTH,
                "chain is empty",
            ),
            (
                &blob[..],
                None,
                libsev_status::LIBSEV_STATUS_NULL_ARGUMENT,
                "root is NULL",
            ),
            (
                &blob[..],
                Some(&ask[..]),
                libsev_status::LIBSEV_STATUS_INVALID_ARGUMENT,
                "unknown flags 0x2",
            ),
        ];
        for (chain, root, want, msg) in cases {
            let mut out = fresh();
            let mut err: libsev_error =
                // SAFETY: plain data; all-zero is valid.
                unsafe { std::mem::zeroed() };
            let (root, root_len) = root.map_or((null(), 0), |r| (r.as_ptr(), r.len()));
            // SAFETY: `chain` and `aa` are valid buffers, `root` NULL or valid for `root_len`.
            let st = unsafe {
                libsev_chain_verify_blob_root(
                    chain.as_ptr(),
                    chain.len(),
                    null(),
                    0,
                    aa.as_ptr(),
                    aa.len(),
                    root,
                    root_len,
                    2,
                    &mut out,
                    &mut err,
                )
            };
            assert_eq!(st, want, "{msg}");
            assert_eq!(out.status, 77, "{msg}");
            // SAFETY: the message is NUL-terminated.
            let got = unsafe { CStr::from_ptr(err.message.as_ptr()) };
            assert!(got.to_str().unwrap().contains(msg), "{got:?}");
        }
    }

    #[test]
    fn supplied_root_is_reported_distinctly() {
        let (blob, cek, aa, ark) = model_chain();
        let mut out = fresh();
        let mut err: libsev_error =
            // SAFETY: plain data; all-zero is valid.
            unsafe { std::mem::zeroed() };
        let call =
            |root: &[u8], flags: u32, out: &mut libsev_chain_result, err: &mut libsev_error| {
                // SAFETY: valid buffers and out pointers.
                unsafe {
                    libsev_chain_verify_blob_root(
                        blob.as_ptr(),
                        blob.len(),
                        cek.as_ptr(),
                        cek.len(),
                        aa.as_ptr(),
                        aa.len(),
                        root.as_ptr(),
                        root.len(),
                        flags,
                        out,
                        err,
                    )
                }
            };
        // The test root given as bytes: accepted without the flag, reported as supplied.
        assert_eq!(
            call(&ark, 0, &mut out, &mut err),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(out.root_kind, libsev_root_kind::LIBSEV_ROOT_SUPPLIED as u32);
        assert_eq!(out.status, 0);
        // SAFETY: a static NUL-terminated string.
        let name = unsafe { CStr::from_ptr(out.generation_name) };
        assert_eq!(name.to_str().unwrap(), "supplied");
        // Another root: the chain is the (refused) test root's again.
        let rome = data("builtin/rome/ark.cert");
        assert_eq!(
            call(&rome, 0, &mut out, &mut err),
            libsev_status::LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED
        );
        assert_eq!(
            out.root_kind,
            libsev_root_kind::LIBSEV_ROOT_TEST_ONLY as u32
        );
        // Not an ARK: refused before verifying, `out` untouched.
        let mut untouched = fresh();
        let ask = data("builtin/rome/ask.cert");
        assert_eq!(
            call(&ask, 0, &mut untouched, &mut err),
            libsev_status::LIBSEV_STATUS_BAD_CERTIFICATE
        );
        assert_eq!(untouched.status, 77);
        assert!(
            // SAFETY: the message is NUL-terminated.
            unsafe { CStr::from_ptr(err.message.as_ptr()) }
                .to_str()
                .unwrap()
                .contains("supplied root")
        );
        // The parts form agrees.
        let (pdh, plat) = blob.split_at(2084);
        // SAFETY: valid buffers.
        let st = unsafe {
            libsev_chain_verify_root(
                pdh.as_ptr(),
                pdh.len(),
                plat.as_ptr(),
                plat.len(),
                cek.as_ptr(),
                cek.len(),
                aa.as_ptr(),
                aa.len(),
                ark.as_ptr(),
                ark.len(),
                0,
                &mut out,
                null_mut(),
            )
        };
        assert_eq!(st, libsev_status::LIBSEV_STATUS_OK);
        assert_eq!(out.root_kind, libsev_root_kind::LIBSEV_ROOT_SUPPLIED as u32);
        // NULL / empty root.
        // SAFETY: NULL root with a length is refused before any read.
        let st = unsafe {
            libsev_chain_verify_root(
                pdh.as_ptr(),
                pdh.len(),
                plat.as_ptr(),
                plat.len(),
                null(),
                0,
                aa.as_ptr(),
                aa.len(),
                null(),
                1088,
                0,
                &mut untouched,
                null_mut(),
            )
        };
        assert_eq!(st, libsev_status::LIBSEV_STATUS_NULL_ARGUMENT);
        assert_eq!(
            call(&[], 0, &mut untouched, &mut err),
            libsev_status::LIBSEV_STATUS_INVALID_LENGTH
        );
        assert_eq!(untouched.status, 77);
    }
}
