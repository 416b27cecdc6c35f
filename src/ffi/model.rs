//! C API for what only the built-in firmware model can give: the certificates that AMD's key
//! server would hand out for a real chip (the emulated ASK ‖ ARK of the test-only root and
//! this chip's CEK signed by that ASK). With them a guest owner can verify the model's whole
//! chain, PDH up to the (test-only) root, exactly as for real hardware.

use super::platform::libsev_platform;
use super::{LastError, bytes_out, guard, libsev_error, need, need_mut};
use crate::error::{Error, Result};
use crate::model::ModelPlatform;
use crate::status::{Status, libsev_status};
use std::sync::Arc;

fn last_of<'a>(p: *const libsev_platform) -> Option<&'a LastError> {
    need(p, "platform").ok().map(|h| &h.last)
}

/// The model behind a platform handle, or `INVALID_STATE` naming the call for a kernel one.
fn model_of<'a>(p: &'a libsev_platform, call: &str) -> Result<&'a Arc<ModelPlatform>> {
    p.platform.model().ok_or_else(|| {
        Error::new(
            Status::LIBSEV_STATUS_INVALID_STATE,
            format!(
                "{call}: the platform is not the built-in firmware model; the certificates of \
                 a real chip come from AMD's key server (ASK/ARK per product, the signed CEK \
                 by the chip id that libsev_platform_get_id returns)"
            ),
        )
    })
}

/// Deprecated 0.1 name of `libsev_platform_model_ask_ark`: the same function, kept
/// so that 0.1 callers build and link.
///
/// The emulated AMD certificates `ASK ‖ ARK` of the model's test-only root (the layout AMD
/// distributes for a product; pass them as `ask_ark` to `libsev_chain_verify` together with
/// `LIBSEV_VERIFY_ALLOW_TEST_ROOT`). Buffer rule: a NULL or short `buf` gives
/// `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the needed size in `*out_len`; nothing is written to
/// `buf` on failure. A kernel platform gives `LIBSEV_STATUS_INVALID_STATE` (a real chip's
/// ASK ‖ ARK come from AMD's key server).
///
/// # Safety
/// `platform` NULL or live; `buf` NULL or `len` writable bytes; `out_len` writable; `err`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_emulated_ask_ark(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        let p = need(platform, "platform")?;
        need_mut(out_len, "out_len")?;
        let m = model_of(p, "libsev_platform_emulated_ask_ark")?;
        bytes_out(buf, len, out_len, &m.amd_ask_ark())
    })
}

/// Deprecated 0.1 name of `libsev_platform_model_cek`: the same function, kept
/// so that 0.1 callers build and link.
///
/// This model chip's CEK (`LIBSEV_SEV_CERT_LEN` bytes) signed by the emulated ASK, as AMD's
/// key server serves a real chip's CEK for its chip id (PDH_CERT_EXPORT's CEK is unsigned).
/// Pass it as `cek` to `libsev_chain_verify`. Buffer rule and kernel-platform status as for
/// `libsev_platform_emulated_ask_ark`.
///
/// # Safety
/// As for `libsev_platform_emulated_ask_ark`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_emulated_cek(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        let p = need(platform, "platform")?;
        need_mut(out_len, "out_len")?;
        let m = model_of(p, "libsev_platform_emulated_cek")?;
        bytes_out(buf, len, out_len, &m.cek_signed())
    })
}
