//! C ABI: the platform handle (`libsev_platform`: `/dev/sev` or the firmware model), the
//! model configuration, features and the host probe.
//!
//! Flow: `libsev_platform_open` (honours `LIBSEV_PLATFORM`) or one of `_open_kvm`,
//! `_open_kvm_without_sev`, `_new_emulated` → platform commands (`_status`, `_pdh_cert_export`,
//! ...) and guests (`libsev_guest_new`) → `libsev_platform_free` (guests keep the platform
//! alive, so it may be freed before them).

use super::{
    LastError, array_in, bytes_in, bytes_out, guard, into_handle, libsev_error, need, need_mut,
};
use crate::api::Platform;
use crate::error::{Error, Result};
use crate::model::ModelConfig;
use crate::status::{Status, libsev_status};
use crate::transport::Backend;
use crate::transport::kvm::{KVM_DEVICE, SEV_DEVICE, probe_vm_fd};
use std::ffi::{CStr, c_char, c_int};
use std::os::unix::ffi::OsStrExt;

/// Size of an SEV certificate (PDH, PEK, OCA, CEK): 2084 bytes.
pub const LIBSEV_SEV_CERT_LEN: usize = 2084;
/// Size of the chain `PEK ‖ OCA ‖ CEK` that PDH_CERT_EXPORT returns: 6252 bytes.
pub const LIBSEV_CERT_CHAIN_LEN: usize = 6252;
/// Size of one socket's chip id from GET_ID (the output may hold one per socket).
pub const LIBSEV_CHIP_ID_LEN: usize = 64;
/// Size of `libsev_model_config.seed`.
pub const LIBSEV_MODEL_SEED_LEN: usize = 32;
/// Size of `libsev_probe_item.reason`, including the terminating NUL.
pub const LIBSEV_PROBE_REASON_LEN: usize = 192;

/// Feature: the KVM transport (`/dev/kvm`, `/dev/sev`) is built in.
pub const LIBSEV_FEATURE_KVM_TRANSPORT: u32 = 1;
/// Feature: the built-in model of the SEV firmware is built in.
pub const LIBSEV_FEATURE_FIRMWARE_MODEL: u32 = 2;
/// Feature: the guest-owner side (chain verification, session, measurement, secret).
pub const LIBSEV_FEATURE_OWNER: u32 = 3;
/// Feature: the migration commands (SEND_*, RECEIVE_*).
pub const LIBSEV_FEATURE_MIGRATION: u32 = 4;
/// Feature: the model can keep its platform identity in a state directory.
pub const LIBSEV_FEATURE_STATE_DIR: u32 = 5;

/// An SEV platform: the AMD Secure Processor behind `/dev/sev`, or libsev's model of it.
///
/// Thread safety: a platform handle may be used from several threads at once (the firmware
/// commands are serialised below it), and shared by any number of guests. Each guest keeps
/// the platform alive, so `libsev_platform_free` may be called before the guests are freed.
/// `libsev_platform_last_error` reflects the most recent failure on any thread.
#[allow(non_camel_case_types)]
pub struct libsev_platform {
    pub(crate) platform: Platform,
    pub(crate) last: LastError,
}

/// `PLATFORM_STATUS` as `libsev_platform_status` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct libsev_platform_status_info {
    /// Firmware API major version.
    pub api_major: u8,
    /// Firmware API minor version.
    pub api_minor: u8,
    /// Firmware build.
    pub build: u8,
    /// Platform state: 0 UNINIT, 1 INIT, 2 WORKING.
    pub state: u8,
    /// The OCA was imported by an owner (PEK_CERT_IMPORT) rather than self-signed.
    pub owned_externally: bool,
    /// The platform was initialised with SEV-ES enabled.
    pub config_es: bool,
    /// Number of guests the firmware holds.
    pub guest_count: u32,
}

/// How to build a model platform (`libsev_platform_new_model`). Fill it with
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
    /// Number of SEV ASIDs (guests that can be active at once), at least 1.
    pub asids: u32,
}

/// One item of `libsev_probe`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct libsev_probe_item {
    /// Whether the item is usable.
    pub available: bool,
    /// The errno that made it unavailable (0 when available or not checked).
    pub os_errno: i32,
    /// A NUL-terminated sentence saying why.
    pub reason: [c_char; LIBSEV_PROBE_REASON_LEN],
}

/// What `libsev_probe` found on this host.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct libsev_probe_result {
    /// `/dev/kvm` exists and opens read-write.
    pub kvm: libsev_probe_item,
    /// KVM has SEV enabled (`KVM_MEMORY_ENCRYPT_OP` probe on a scratch VM).
    pub kvm_sev: libsev_probe_item,
    /// `/dev/sev` exists and opens read-write.
    pub sev_device: libsev_probe_item,
}

fn last_of<'a>(p: *const libsev_platform) -> Option<&'a LastError> {
    need(p, "platform").ok().map(|h| &h.last)
}

fn new_handle(platform: Platform, out: &mut *mut libsev_platform) {
    into_handle(
        libsev_platform {
            platform,
            last: LastError::default(),
        },
        out,
    );
}

/// Open the platform that the environment variable `LIBSEV_PLATFORM` selects: unset, empty or
/// `kvm` → the kernel (`/dev/sev`, opened by libsev); `emulated` → libsev's firmware model with
/// an ephemeral identity; `emulated:DIR` → the model keeping its identity in `DIR`.
///
/// Statuses: `LIBSEV_STATUS_NO_DEVICE` when the kernel is selected and `/dev/sev` is absent
/// (there is no silent fallback to the model; the message says how to select it),
/// `LIBSEV_STATUS_PERMISSION_DENIED`, `LIBSEV_STATUS_MODEL_CONFIG` for any other value of the
/// variable, `LIBSEV_STATUS_MODEL_STATE_*` for state-directory failures,
/// `LIBSEV_STATUS_NULL_ARGUMENT` for a NULL `out`. `*out` is set only on success.
///
/// # Safety
/// `out` must be writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_open(
    out: *mut *mut libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, None, || {
        let out = need_mut(out, "out")?;
        new_handle(Platform::open_default()?, out);
        Ok(())
    })
}

/// Open the kernel platform. `sev_fd` = -1: libsev opens `/dev/sev` itself (read-write) and
/// closes it when the platform is freed. `sev_fd` >= 0: the caller's `/dev/sev` fd, which
/// libsev never closes; it must stay open, at the same number, until the platform and every
/// guest are freed (KVM re-resolves the fd number on later guest commands).
///
/// Statuses: `LIBSEV_STATUS_NO_DEVICE` (no `/dev/sev`), `LIBSEV_STATUS_PERMISSION_DENIED`,
/// `LIBSEV_STATUS_INVALID_ARGUMENT` (`sev_fd` < -1), `LIBSEV_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `out` must be writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_open_kvm(
    sev_fd: c_int,
    out: *mut *mut libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, None, || {
        let out = need_mut(out, "out")?;
        let p = match sev_fd {
            -1 => Platform::kvm()?,
            fd => Platform::kvm_from_fd(fd)?,
        };
        new_handle(p, out);
        Ok(())
    })
}

/// A kernel platform without `/dev/sev`, for hosts where the PSP device is absent: platform
/// commands, `libsev_guest_launch_start` and `libsev_guest_receive_start` fail with
/// `LIBSEV_STATUS_NO_DEVICE`; VMs can still be created and `libsev_guest_init` reaches KVM
/// (which then reports `LIBSEV_STATUS_NO_SEV_SUPPORT` on hosts without SEV).
///
/// # Safety
/// `out` must be writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_open_kvm_without_sev(
    out: *mut *mut libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, None, || {
        let out = need_mut(out, "out")?;
        new_handle(Platform::kvm_without_sev(), out);
        Ok(())
    })
}

/// Fill `cfg` with the model's defaults: no state directory, no seed, the API version and
/// build of the modelled firmware, its number of ASIDs. `LIBSEV_STATUS_NULL_ARGUMENT` if `cfg`
/// is NULL.
///
/// # Safety
/// `cfg` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_model_config_init(cfg: *mut libsev_model_config) -> libsev_status {
    guard(std::ptr::null_mut(), None, || {
        let cfg = need_mut(cfg, "cfg")?;
        let d = ModelConfig::default();
        *cfg = libsev_model_config {
            state_dir: std::ptr::null(),
            seed: std::ptr::null(),
            api_major: d.api_major,
            api_minor: d.api_minor,
            build: d.build,
            asids: d.asids,
        };
        Ok(())
    })
}

fn model_config(cfg: *const libsev_model_config) -> Result<ModelConfig> {
    if cfg.is_null() {
        return Ok(ModelConfig::default());
    }
    let c = need(cfg, "cfg")?;
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
        Some(array_in::<LIBSEV_MODEL_SEED_LEN>(c.seed, "cfg->seed")?)
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

/// Deprecated 0.1 name of `libsev_platform_new_model`: the same function, kept
/// so that 0.1 callers build and link.
///
/// A platform on libsev's model of the SEV firmware, configured by `cfg` (NULL = the defaults
/// of `libsev_model_config_init`). The model starts in state UNINIT, like a freshly booted
/// host; its identity persists in `cfg->state_dir` when given.
///
/// Statuses: `LIBSEV_STATUS_MODEL_CONFIG` (invalid configuration, e.g. `asids` 0 or an empty
/// `state_dir`), `LIBSEV_STATUS_MODEL_STATE_IO` / `_STATE_CORRUPT` (state directory),
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
    guard(err, None, || {
        let out = need_mut(out, "out")?;
        new_handle(Platform::emulated(model_config(cfg)?)?, out);
        Ok(())
    })
}

/// Free a platform handle (NULL is a no-op). Guests created on it stay usable: each keeps the
/// platform alive until it is freed itself. An fd libsev opened is closed when the last user
/// is gone; a caller's fd is never closed.
///
/// # Safety
/// `platform` must be NULL or a handle from a `libsev_platform_*` constructor, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_free(platform: *mut libsev_platform) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: per the contract, a live handle made by into_handle, or NULL.
        unsafe { super::free_handle(platform) }
    }));
}

/// The message of the last failure on this handle ("" if none, or if `platform` is NULL).
/// Valid until the next failing call on the same handle.
///
/// # Safety
/// `platform` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_last_error(
    platform: *const libsev_platform,
) -> *const c_char {
    match last_of(platform) {
        Some(l) => l.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// Deprecated 0.1 name of `libsev_platform_is_model`: the same function, kept
/// so that 0.1 callers build and link.
///
/// Whether the platform is libsev's firmware model (false for the kernel, and for NULL).
///
/// # Safety
/// `platform` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_is_emulated(platform: *const libsev_platform) -> bool {
    need(platform, "platform").is_ok_and(|p| p.platform.backend() == Backend::Model)
}

/// `PLATFORM_STATUS` into `*out`. Statuses: firmware statuses (`LIBSEV_STATUS_FW_*`), OS
/// statuses (`LIBSEV_STATUS_NO_DEVICE` for a platform without `/dev/sev`, ...),
/// `LIBSEV_STATUS_NULL_ARGUMENT`. `*out` is written only on success.
///
/// # Safety
/// `platform` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_status(
    platform: *const libsev_platform,
    out: *mut libsev_platform_status_info,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        let p = need(platform, "platform")?;
        let out = need_mut(out, "out")?;
        let s = p.platform.status()?;
        *out = libsev_platform_status_info {
            api_major: s.api_major,
            api_minor: s.api_minor,
            build: s.build,
            state: s.state,
            owned_externally: s.owned_externally,
            config_es: s.config_es,
            guest_count: s.guest_count,
        };
        Ok(())
    })
}

/// `PEK_GEN`: generate a new self-signed OCA, PEK and PDH (the platform becomes self-owned).
/// The firmware requires state INIT (`LIBSEV_STATUS_FW_INVALID_PLATFORM_STATE` otherwise; the
/// kernel initialises an UNINIT platform first).
///
/// # Safety
/// `platform` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_pek_gen(
    platform: *const libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        need(platform, "platform")?.platform.pek_gen()
    })
}

/// `PDH_GEN`: generate a new PDH (platform INIT or WORKING).
///
/// # Safety
/// `platform` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_pdh_gen(
    platform: *const libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        need(platform, "platform")?.platform.pdh_gen()
    })
}

/// `FACTORY_RESET`: delete the platform identity (OCA, PEK, PDH, ownership). The kernel
/// refuses while guests run (`LIBSEV_STATUS_BUSY`).
///
/// # Safety
/// `platform` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_factory_reset(
    platform: *const libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        need(platform, "platform")?.platform.factory_reset()
    })
}

/// `PEK_CSR`: the PEK as a certificate signing request (`LIBSEV_SEV_CERT_LEN` bytes) into
/// `buf`. A NULL or short `buf` gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the size in
/// `*out_len`; nothing is written to `buf` on failure.
///
/// # Safety
/// `platform` NULL or live; `buf` NULL or `len` writable bytes; `out_len` writable; `err` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_pek_csr(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        let p = need(platform, "platform")?;
        need_mut(out_len, "out_len")?;
        let csr = p.platform.pek_csr()?;
        bytes_out(buf, len, out_len, &csr)
    })
}

/// `PEK_CERT_IMPORT`: take ownership with the PEK signed by the owner's OCA and that OCA
/// (`LIBSEV_SEV_CERT_LEN` bytes each; the firmware checks sizes, signatures and that the PEK is
/// the current one: `LIBSEV_STATUS_FW_INVALID_LENGTH`, `_FW_INVALID_CERTIFICATE`,
/// `_FW_BAD_SIGNATURE`, `_FW_ALREADY_OWNED`).
///
/// # Safety
/// `platform` NULL or live; `pek`/`oca` NULL or readable for their lengths; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_pek_cert_import(
    platform: *const libsev_platform,
    pek: *const u8,
    pek_len: usize,
    oca: *const u8,
    oca_len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        let p = need(platform, "platform")?;
        let pek = need(pek, "pek").and_then(|_| bytes_in(pek, pek_len, "pek"))?;
        let oca = need(oca, "oca").and_then(|_| bytes_in(oca, oca_len, "oca"))?;
        p.platform.pek_cert_import(pek, oca)
    })
}

/// `PDH_CERT_EXPORT`: the PDH certificate (`LIBSEV_SEV_CERT_LEN` bytes) into `pdh_buf` and the
/// chain `PEK ‖ OCA ‖ CEK` (`LIBSEV_CERT_CHAIN_LEN` bytes; the CEK is unsigned — AMD's key
/// server signs it, see `libsev_platform_get_id`) into `chain_buf`. If either buffer is NULL
/// or short, both needed sizes are written to `*pdh_out_len` and `*chain_out_len`, nothing
/// else is written, and `LIBSEV_STATUS_BUFFER_TOO_SMALL` is returned.
///
/// # Safety
/// `platform` NULL or live; each buffer NULL or writable for its length; both `*_out_len`
/// writable; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_platform_pdh_cert_export(
    platform: *const libsev_platform,
    pdh_buf: *mut u8,
    pdh_len: usize,
    pdh_out_len: *mut usize,
    chain_buf: *mut u8,
    chain_len: usize,
    chain_out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        let p = need(platform, "platform")?;
        need_mut(pdh_out_len, "pdh_out_len")?;
        need_mut(chain_out_len, "chain_out_len")?;
        let (pdh, chain) = p.platform.pdh_cert_export()?;
        two_bytes_out(
            (pdh_buf, pdh_len, pdh_out_len, &pdh, "pdh_buf"),
            (chain_buf, chain_len, chain_out_len, &chain, "chain_buf"),
        )
    })
}

/// One output of a two-buffer call: (buf, len, out_len, data, name).
pub(crate) type OutBuf<'a> = (*mut u8, usize, *mut usize, &'a [u8], &'a str);

/// Two outputs under the buffer rule: both needed sizes are always written; if either buffer
/// is NULL or short, nothing else is written and `BUFFER_TOO_SMALL` names the short one(s).
pub(crate) fn two_bytes_out(a: OutBuf<'_>, b: OutBuf<'_>) -> Result<()> {
    *need_mut(a.2, "out_len")? = a.3.len();
    *need_mut(b.2, "out_len")? = b.3.len();
    let short: Vec<String> = [&a, &b]
        .iter()
        .filter(|o| o.0.is_null() || o.1 < o.3.len())
        .map(|o| {
            format!(
                "{} needs {} bytes, {} given",
                o.4,
                o.3.len(),
                if o.0.is_null() { 0 } else { o.1 }
            )
        })
        .collect();
    if !short.is_empty() {
        return Err(Error::new(
            Status::LIBSEV_STATUS_BUFFER_TOO_SMALL,
            format!("buffer too small: {}", short.join("; ")),
        ));
    }
    bytes_out(a.0, a.1, a.2, a.3)?;
    bytes_out(b.0, b.1, b.2, b.3)
}

/// `GET_ID`: the chip id(s) (`LIBSEV_CHIP_ID_LEN` bytes per socket) under which AMD's key
/// server publishes this chip's signed CEK. Buffer rules as for `libsev_platform_pek_csr`.
///
/// # Safety
/// As for `libsev_platform_pek_csr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_get_id(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(platform), || {
        let p = need(platform, "platform")?;
        need_mut(out_len, "out_len")?;
        let id = p.platform.get_id()?;
        bytes_out(buf, len, out_len, &id)
    })
}

/// Whether an optional capability (`LIBSEV_FEATURE_*`) is built into this library. Unknown
/// values give false. Capabilities do not depend on the host: use `libsev_probe` for that.
#[unsafe(no_mangle)]
pub extern "C" fn libsev_has_feature(feature: u32) -> bool {
    matches!(
        feature,
        LIBSEV_FEATURE_KVM_TRANSPORT
            | LIBSEV_FEATURE_FIRMWARE_MODEL
            | LIBSEV_FEATURE_OWNER
            | LIBSEV_FEATURE_MIGRATION
            | LIBSEV_FEATURE_STATE_DIR
    )
}

fn item(available: bool, os_errno: i32, reason: &str) -> libsev_probe_item {
    let mut r = [0 as c_char; LIBSEV_PROBE_REASON_LEN];
    for (d, s) in r
        .iter_mut()
        .zip(reason.bytes().take(LIBSEV_PROBE_REASON_LEN - 1))
    {
        *d = s as c_char;
    }
    libsev_probe_item {
        available,
        os_errno,
        reason: r,
    }
}

fn open_item(path: &str, e: &std::io::Error) -> libsev_probe_item {
    let errno = e.raw_os_error().unwrap_or(0);
    let why = match errno {
        libc::ENOENT => "absent",
        libc::EACCES | libc::EPERM => "permission denied (it needs read and write access)",
        _ => "cannot be opened",
    };
    item(false, errno, &format!("{path} {why}: {e}"))
}

/// What the host offers, item by item, with a reason for each: `/dev/kvm` (present and
/// openable read-write), KVM's SEV support (probed with `KVM_MEMORY_ENCRYPT_OP(NULL)` on a
/// scratch VM), `/dev/sev` (present and openable read-write). Nothing is kept open. The library
/// itself never needs any of them to load. `LIBSEV_STATUS_NULL_ARGUMENT` if `out` is NULL;
/// otherwise `LIBSEV_STATUS_OK` (absence is reported in the items, not as a failure).
///
/// # Safety
/// `out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_probe(out: *mut libsev_probe_result) -> libsev_status {
    guard(std::ptr::null_mut(), None, || {
        let out = need_mut(out, "out")?;
        *out = probe();
        Ok(())
    })
}

fn probe() -> libsev_probe_result {
    let rw = |p: &str| std::fs::OpenOptions::new().read(true).write(true).open(p);
    let (kvm, kvm_sev) = match kvm_ioctls::Kvm::new() {
        Err(e) => {
            let e = std::io::Error::from_raw_os_error(e.errno());
            (
                open_item(KVM_DEVICE, &e),
                item(false, 0, "not checked: /dev/kvm is not available"),
            )
        }
        Ok(k) => {
            let kvm = item(
                true,
                0,
                &format!("{KVM_DEVICE} opened (KVM API {})", k.get_api_version()),
            );
            let sev = match k.create_vm() {
                Err(e) => item(
                    false,
                    e.errno(),
                    &format!("not checked: KVM_CREATE_VM failed: {e}"),
                ),
                Ok(vm) => match probe_vm_fd(std::os::fd::AsRawFd::as_raw_fd(&vm)) {
                    Ok(()) => item(true, 0, "KVM has SEV enabled (KVM_MEMORY_ENCRYPT_OP)"),
                    Err(libc::EFAULT) => item(
                        true,
                        0,
                        "KVM has SEV enabled (an older kernel: the probe answered EFAULT)",
                    ),
                    Err(libc::ENOTTY) => item(
                        false,
                        libc::ENOTTY,
                        "KVM has no SEV support (ENOTTY): kvm_amd not loaded with sev=1, or no \
                         SEV-capable CPU",
                    ),
                    Err(e) => item(
                        false,
                        e,
                        &format!(
                            "the SEV probe failed: {}",
                            std::io::Error::from_raw_os_error(e)
                        ),
                    ),
                },
            };
            (kvm, sev)
        }
    };
    let sev_device = match rw(SEV_DEVICE) {
        Ok(_) => item(true, 0, "/dev/sev opened read-write"),
        Err(e) => open_item(SEV_DEVICE, &e),
    };
    libsev_probe_result {
        kvm,
        kvm_sev,
        sev_device,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::LIBSEV_ERROR_MESSAGE_LEN;
    use crate::uapi::sizes;
    use std::ptr::{null, null_mut};

    fn new_err() -> libsev_error {
        libsev_error {
            status: 0,
            fw_error: 0,
            os_errno: 0,
            command: 0,
            message: [0; LIBSEV_ERROR_MESSAGE_LEN],
        }
    }

    fn msg(e: &libsev_error) -> String {
        // SAFETY: fill_error always NUL-terminates the message.
        unsafe { CStr::from_ptr(e.message.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn null_arguments_are_refused() {
        let mut e = new_err();
        // SAFETY: NULL out is refused before use.
        let s = unsafe { libsev_platform_open_kvm_without_sev(null_mut(), &mut e) };
        assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        assert_eq!(e.status, Status::LIBSEV_STATUS_NULL_ARGUMENT as u32);
        assert!(msg(&e).contains("out"), "{}", msg(&e));
        let mut n = 0usize;
        // SAFETY: NULL platform is refused before use.
        let s = unsafe { libsev_platform_pek_csr(null(), null_mut(), 0, &mut n, null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        // SAFETY: NULL is refused.
        let s = unsafe { libsev_model_config_init(null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        // SAFETY: NULL is refused.
        let s = unsafe { libsev_probe(null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        // SAFETY: NULL handles are accepted by these.
        unsafe {
            libsev_platform_free(null_mut());
            assert!(!libsev_platform_is_emulated(null()));
            assert_eq!(CStr::from_ptr(libsev_platform_last_error(null())), c"");
        }
    }

    #[test]
    fn without_sev_reports_no_device_and_keeps_the_message() {
        let mut p = null_mut();
        // SAFETY: valid out pointer.
        let s = unsafe { libsev_platform_open_kvm_without_sev(&mut p, null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_OK);
        let mut e = new_err();
        let mut st = libsev_platform_status_info {
            guest_count: 77,
            ..Default::default()
        };
        // SAFETY: live handle, writable outputs.
        let s = unsafe { libsev_platform_status(p, &mut st, &mut e) };
        assert_eq!(s, Status::LIBSEV_STATUS_NO_DEVICE);
        assert_eq!(e.os_errno, libc::ENODEV);
        assert_eq!(
            e.command,
            crate::status::Command::LIBSEV_CMD_PLATFORM_STATUS as u32
        );
        assert_eq!(st.guest_count, 77, "nothing written on failure");
        // SAFETY: live handle.
        let last = unsafe { CStr::from_ptr(libsev_platform_last_error(p)) };
        assert!(last.to_str().unwrap().contains("without /dev/sev"));
        // The buffer call fails with the same status and leaves the buffer alone.
        let mut buf = [0xEEu8; 8];
        let mut n = 123usize;
        // SAFETY: live handle, 8 writable bytes, writable out_len.
        let s = unsafe { libsev_platform_pek_csr(p, buf.as_mut_ptr(), 8, &mut n, null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_NO_DEVICE);
        assert_eq!(buf, [0xEE; 8]);
        // SAFETY: live handle, freed once.
        unsafe { libsev_platform_free(p) };
    }

    #[test]
    fn two_buffers_short_writes_both_sizes_and_nothing_else() {
        let a = [1u8; 10];
        let b = [2u8; 20];
        let mut ba = [0u8; 10];
        let mut bb = [0u8; 19];
        let (mut na, mut nb) = (0usize, 0usize);
        let e = two_bytes_out(
            (ba.as_mut_ptr(), ba.len(), &mut na, &a, "a"),
            (bb.as_mut_ptr(), bb.len(), &mut nb, &b, "b"),
        )
        .unwrap_err();
        assert_eq!(e.status, Status::LIBSEV_STATUS_BUFFER_TOO_SMALL);
        assert_eq!((na, nb), (10, 20));
        assert_eq!(ba, [0; 10], "the long-enough buffer is not written either");
        assert!(e.message.contains("b needs 20"), "{}", e.message);
        let mut bb = [0u8; 20];
        two_bytes_out(
            (ba.as_mut_ptr(), ba.len(), &mut na, &a, "a"),
            (bb.as_mut_ptr(), bb.len(), &mut nb, &b, "b"),
        )
        .unwrap();
        assert_eq!((ba, bb), (a, b));
    }

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
        let m = model_config(&c).unwrap();
        assert!(m.state_dir.is_none() && m.seed.is_none());
        let seed = [9u8; 32];
        c.seed = seed.as_ptr();
        c.state_dir = c"some/dir".as_ptr();
        let m = model_config(&c).unwrap();
        assert_eq!(m.seed, Some(seed));
        assert_eq!(
            m.state_dir.as_deref(),
            Some(std::path::Path::new("some/dir"))
        );
        c.state_dir = c"".as_ptr();
        assert_eq!(
            model_config(&c).unwrap_err().status,
            Status::LIBSEV_STATUS_MODEL_CONFIG
        );
        assert!(model_config(null()).unwrap().state_dir.is_none());
    }

    #[test]
    fn size_constants_match_the_firmware() {
        // Literals in the header (cbindgen does not evaluate paths); checked here.
        assert_eq!(LIBSEV_SEV_CERT_LEN, sizes::SEV_CERT);
        assert_eq!(LIBSEV_CERT_CHAIN_LEN, sizes::CERT_CHAIN);
        assert_eq!(LIBSEV_CHIP_ID_LEN, sizes::CHIP_ID);
        assert_eq!(super::super::guest::LIBSEV_MNONCE_LEN, 16);
    }

    #[test]
    fn features_and_probe() {
        for f in [
            LIBSEV_FEATURE_KVM_TRANSPORT,
            LIBSEV_FEATURE_FIRMWARE_MODEL,
            LIBSEV_FEATURE_OWNER,
            LIBSEV_FEATURE_MIGRATION,
            LIBSEV_FEATURE_STATE_DIR,
        ] {
            assert!(libsev_has_feature(f), "{f}");
        }
        assert!(!libsev_has_feature(0));
        assert!(!libsev_has_feature(999));
        let r = probe();
        let reason = |i: &libsev_probe_item| {
            // SAFETY: item() always NUL-terminates.
            unsafe { CStr::from_ptr(i.reason.as_ptr()) }
                .to_string_lossy()
                .into_owned()
        };
        for i in [&r.kvm, &r.kvm_sev, &r.sev_device] {
            assert!(!reason(i).is_empty());
            assert!(i.available || i.os_errno != 0 || reason(i).starts_with("not checked"));
        }
        assert_eq!(r.kvm.available, kvm_ioctls::Kvm::new().is_ok());
        if !std::path::Path::new("/dev/sev").exists() {
            assert!(!r.sev_device.available);
            assert_eq!(r.sev_device.os_errno, libc::ENOENT);
            assert!(reason(&r.sev_device).contains("absent"));
        }
    }
}
