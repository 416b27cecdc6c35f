//! C ABI for the built-in firmware model: its configuration (`libsev_model_config`,
//! `libsev_platform_new_emulated`) and what only the model can give: the certificates that
//! AMD's key server would hand out for a real chip (the emulated ASK ‖ ARK of the test-only
//! root and this chip's CEK signed by that ASK). With them a guest owner can verify the
//! model's whole chain, PDH up to the (test-only) root, exactly as for real hardware.

use super::boundary::{self, Out, out_handle};
use super::libsev_error;
use super::platform::libsev_platform;
use crate::api::Platform;
use crate::error::{Error, Result};
use crate::model::{ModelConfig, ModelPlatform};
use crate::status::{Status, libsev_status};
use std::ffi::{CStr, c_char};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

/// Size of `libsev_model_config.seed`.
pub const LIBSEV_MODEL_SEED_LEN: usize = 32;

/// How to build a model platform (`libsev_platform_new_emulated`). Fill it with
/// `libsev_model_config_init` first, then change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct libsev_model_config {
    /// Directory keeping the platform identity (CEK seed, OCA, PEK, PDH, ownership) across
    /// processes; NULL = ephemeral. Read during the call only.
    pub state_dir: *const c_char,
    /// `LIBSEV_MODEL_SEED_LEN` (32) bytes making the chip identity and all randomness
    /// deterministic (reproducible tests); NULL = the OS random generator. Read during the call
    /// only.
    pub seed: *const u8,
    /// Firmware API major version the model reports.
    pub api_major: u8,
    /// Firmware API minor version the model reports.
    pub api_minor: u8,
    /// Firmware build the model reports.
    pub build: u8,
    /// Number of SEV ASIDs (guests that can be active at once): 1 to 1006 (the most an AMD
    /// EPYC part has); anything else is `LIBSEV_STATUS_MODEL_CONFIG`.
    pub asids: u32,
}

/// Fill `cfg` with the model's defaults: no state directory, no seed, the API version and
/// build of the modelled firmware, its number of ASIDs. `LIBSEV_STATUS_NULL_ARGUMENT` if `cfg`
/// is NULL.
///
/// # Safety
/// `cfg` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_model_config_init(cfg: *mut libsev_model_config) -> libsev_status {
    let d = ModelConfig::default();
    let v = libsev_model_config {
        state_dir: std::ptr::null(),
        seed: std::ptr::null(),
        api_major: d.api_major,
        api_minor: d.api_minor,
        build: d.build,
        asids: d.asids,
    };
    // SAFETY: `cfg` as documented; the boundary checks NULL.
    unsafe { boundary::call(std::ptr::null_mut(), || boundary::write_out(cfg, v, "cfg")) }
}

/// The Rust configuration a C one describes (NULL = the defaults).
///
/// # Safety
/// `cfg` NULL or a valid configuration whose pointers are NULL or valid as documented.
unsafe fn model_config(cfg: *const libsev_model_config) -> Result<ModelConfig> {
    if cfg.is_null() {
        return Ok(ModelConfig::default());
    }
    // SAFETY: non-NULL and valid (contract).
    let c = unsafe { boundary::reference(cfg, "cfg") }?;
    let state_dir = if c.state_dir.is_null() {
        None
    } else {
        // SAFETY: non-NULL; the caller guarantees a NUL-terminated string (documented).
        let s = unsafe { CStr::from_ptr(c.state_dir) };
        if s.is_empty() {
            return Err(Error::new(
                Status::LIBSEV_STATUS_MODEL_CONFIG,
                "cfg->state_dir is an empty string (use NULL for an ephemeral identity)",
            ));
        }
        Some(std::ffi::OsStr::from_bytes(s.to_bytes()).into())
    };
    let seed = if c.seed.is_null() {
        None
    } else {
        // SAFETY: non-NULL; LIBSEV_MODEL_SEED_LEN readable bytes (documented).
        Some(unsafe { boundary::array_in::<LIBSEV_MODEL_SEED_LEN>(c.seed, "cfg->seed") }?)
    };
    Ok(ModelConfig {
        state_dir,
        seed,
        api_major: c.api_major,
        api_minor: c.api_minor,
        build: c.build,
        asids: c.asids,
    })
}

/// A platform on libsev's model of the SEV firmware, configured by `cfg` (NULL = the defaults
/// of `libsev_model_config_init`). The model starts in state UNINIT, like a freshly booted
/// host; its identity persists in `cfg->state_dir` when given.
///
/// A state directory holds exactly one emulated chip and identity: processes opening a new
/// directory at once all get the first one's chip; every identity change (PEK_GEN, PDH_GEN,
/// PEK_CERT_IMPORT, FACTORY_RESET, the first INIT) re-reads the directory under its lock and
/// builds on what it holds, and commands using the identity re-read it when another process
/// changed it, so no process serves an identity the directory does not hold. The state file
/// `libsev-model-state.bin` and lock file `libsev-model-state.lock` must be regular files (the
/// state file at most 64 KiB): a symbolic link, FIFO, device, socket or directory in their
/// place is refused at once with `LIBSEV_STATUS_MODEL_STATE_IO` naming it (links are not
/// followed, so a save never replaces one; the directory itself may be a link). A state file
/// that cannot be read or written makes the command fail with `LIBSEV_STATUS_MODEL_STATE_IO`
/// naming the file and the OS error (`os_errno`), the identity unchanged.
///
/// Statuses: `LIBSEV_STATUS_MODEL_CONFIG` (invalid configuration, e.g. `asids` 0 or above
/// 1006, or an empty `state_dir`), `LIBSEV_STATUS_MODEL_STATE_IO` / `_STATE_CORRUPT` (state
/// directory),
/// `LIBSEV_STATUS_NULL_ARGUMENT` (`out`).
///
/// # Safety
/// `cfg` NULL or a valid configuration (its pointers NULL or valid as documented); `out`
/// writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_new_emulated(
    cfg: *const libsev_model_config,
    out: *mut *mut libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers as documented; the boundary checks NULLs before any access.
    unsafe {
        boundary::call(err, || {
            let out = out_handle(out, "out")?;
            out.put(Platform::emulated(model_config(cfg)?)?);
            Ok(())
        })
    }
}

/// The model behind a platform, or `INVALID_STATE` naming the call for a kernel one.
fn model_of<'a>(p: &'a Platform, call: &str) -> Result<&'a Arc<ModelPlatform>> {
    p.model().ok_or_else(|| {
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
    // SAFETY: the pointers as documented; the boundary checks NULLs before any access.
    unsafe {
        boundary::on(platform, err, |p| {
            let out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            let m = model_of(p, "libsev_platform_emulated_ask_ark")?;
            out.put(&m.amd_ask_ark())
        })
    }
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
    // SAFETY: the pointers as documented; the boundary checks NULLs before any access.
    unsafe {
        boundary::on(platform, err, |p| {
            let out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            let m = model_of(p, "libsev_platform_emulated_cek")?;
            out.put(&m.cek_signed())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null;

    #[test]
    fn model_config_defaults_and_checks() {
        let mut c = std::mem::MaybeUninit::<libsev_model_config>::uninit();
        // SAFETY: writable.
        let s = unsafe { libsev_model_config_init(c.as_mut_ptr()) };
        assert_eq!(s, Status::LIBSEV_STATUS_OK);
        // SAFETY: initialised by the call above.
        let mut c = unsafe { c.assume_init() };
        let d = ModelConfig::default();
        assert_eq!(
            (c.api_major, c.api_minor, c.build),
            (d.api_major, d.api_minor, d.build)
        );
        assert_eq!(c.asids, d.asids);
        assert!(c.state_dir.is_null() && c.seed.is_null());
        // SAFETY: a live configuration with valid pointers (the same below).
        let m = unsafe { model_config(&c) }.unwrap();
        assert!(m.state_dir.is_none() && m.seed.is_none());
        let seed = [9u8; 32];
        c.seed = seed.as_ptr();
        c.state_dir = c"some/dir".as_ptr();
        // SAFETY: as above.
        let m = unsafe { model_config(&c) }.unwrap();
        assert_eq!(m.seed, Some(seed));
        assert_eq!(
            m.state_dir.as_deref(),
            Some(std::path::Path::new("some/dir"))
        );
        c.state_dir = c"".as_ptr();
        assert_eq!(
            // SAFETY: as above.
            unsafe { model_config(&c) }.unwrap_err().status,
            Status::LIBSEV_STATUS_MODEL_CONFIG
        );
        // SAFETY: NULL is the defaults.
        assert!(unsafe { model_config(null()) }.unwrap().state_dir.is_none());
        // SAFETY: NULL is refused.
        let s = unsafe { libsev_model_config_init(std::ptr::null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
    }
}
