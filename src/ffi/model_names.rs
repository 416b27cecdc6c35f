//! The firmware model's C entry points under the project's one name for it, "model" (the
//! built-in model of the AMD-SP firmware; `libsev_model_config` configures it,
//! `LIBSEV_FEATURE_FIRMWARE_MODEL` reports it, `LIBSEV_STATUS_MODEL_*` are its statuses).
//! Version 0.1 called the same functions `*_emulated`; those names stay exported as
//! deprecated aliases (same behaviour, same ABI) so 0.1 callers keep building and linking.

use super::libsev_error;
use super::model::{
    libsev_model_config, libsev_platform_emulated_ask_ark, libsev_platform_emulated_cek,
    libsev_platform_new_emulated,
};
use super::platform::{libsev_platform, libsev_platform_is_emulated};
use crate::status::libsev_status;

/// A platform on libsev's model of the SEV firmware, configured by `cfg` (NULL = the defaults
/// of `libsev_model_config_init`). The model starts in state UNINIT, like a freshly booted
/// host; its identity persists in `cfg->state_dir` when given. (0.1 name:
/// `libsev_platform_new_emulated`, kept as a deprecated alias.)
///
/// Statuses: `LIBSEV_STATUS_MODEL_CONFIG` (invalid configuration, e.g. `asids` 0 or an empty
/// `state_dir`), `LIBSEV_STATUS_MODEL_STATE_IO` / `_STATE_CORRUPT` (state directory),
/// `LIBSEV_STATUS_NULL_ARGUMENT` (`out`).
///
/// # Safety
/// `cfg` NULL or a valid configuration (its pointers NULL or valid as documented); `out`
/// writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_new_model(
    cfg: *const libsev_model_config,
    out: *mut *mut libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the same contract, passed on unchanged.
    unsafe { libsev_platform_new_emulated(cfg, out, err) }
}

/// Whether the platform is libsev's firmware model (false for the kernel, and for NULL).
/// (0.1 name: `libsev_platform_is_emulated`, kept as a deprecated alias.)
///
/// # Safety
/// `platform` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_is_model(platform: *const libsev_platform) -> bool {
    // SAFETY: the same contract, passed on unchanged.
    unsafe { libsev_platform_is_emulated(platform) }
}

/// The model's `ASK ‖ ARK` (its test-only root), as `libsev_platform_emulated_ask_ark`
/// describes (its 0.1 name, kept as a deprecated alias).
///
/// # Safety
/// `platform` NULL or live; `buf` NULL or `len` writable bytes; `out_len` writable; `err`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_model_ask_ark(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the same contract, passed on unchanged.
    unsafe { libsev_platform_emulated_ask_ark(platform, buf, len, out_len, err) }
}

/// The model chip's KDS-signed CEK, as `libsev_platform_emulated_cek` describes (its 0.1 name,
/// kept as a deprecated alias).
///
/// # Safety
/// As for `libsev_platform_model_ask_ark`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_model_cek(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the same contract, passed on unchanged.
    unsafe { libsev_platform_emulated_cek(platform, buf, len, out_len, err) }
}
