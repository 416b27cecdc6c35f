//! C ABI: the SEV migration commands of a guest: SEND_* on the source, RECEIVE_* on the
//! target. Packets are written into and read from the caller's buffers directly (nothing is
//! allocated or copied per packet).

use super::boundary::{self, Out};
use super::guest::{libsev_guest, with_guest};
use super::libsev_error;
use crate::api::marshal::len_u32;
use crate::status::{Command, libsev_status};

/// `SEND_START`: open the migration channel to a target platform given its PDH (2084 bytes),
/// its chain `PEK ‖ OCA ‖ CEK` (`plat_certs`) and AMD's `ASK ‖ ARK` (`amd_certs`). The session
/// blob for the target goes to `session_buf` (128 bytes) by one firmware call; under the
/// buffer rule a NULL or short buffer gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the size in
/// `*session_out_len` and leaves the guest RUNNING (only the length query runs). The guest's
/// policy goes to `*out_policy` (if not NULL). The guest moves to SUPDATE. The firmware checks
/// the certificates (`LIBSEV_STATUS_FW_INVALID_CERTIFICATE`, `_FW_BAD_SIGNATURE`) and the
/// policy (`_FW_POLICY_FAILURE` for NOSEND); the kernel requires all three inputs
/// (`LIBSEV_STATUS_KERNEL_REJECTED`). `session_buf` must not overlap the inputs
/// (`LIBSEV_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `guest` NULL or live; each input NULL or readable for its length; `session_buf` NULL or
/// writable for `session_len`; `session_out_len` writable; `out_policy` NULL or writable; `err`
/// NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_send_start(
    guest: *mut libsev_guest,
    pdh: *const u8,
    pdh_len: usize,
    plat_certs: *const u8,
    plat_certs_len: usize,
    amd_certs: *const u8,
    amd_certs_len: usize,
    session_buf: *mut u8,
    session_len: usize,
    session_out_len: *mut usize,
    out_policy: *mut u32,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers are as the function's `# Safety` section documents; the
    // boundary checks NULLs, lengths and overlaps before any access (the same holds below).
    unsafe {
        with_guest(guest, err, |g| {
            let mut out = Out::new(
                session_buf,
                session_len,
                session_out_len,
                ("session_buf", "session_out_len"),
            )?;
            let pdh = boundary::input(pdh, pdh_len, "pdh")?;
            let plat = boundary::input(plat_certs, plat_certs_len, "plat_certs")?;
            let amd = boundary::input(amd_certs, amd_certs_len, "amd_certs")?;
            let range = |s: &[u8], name| (s.as_ptr() as usize, s.len(), name);
            boundary::disjoint(&[
                out.range(session_len),
                range(pdh, "pdh"),
                range(plat, "plat_certs"),
                range(amd, "amd_certs"),
            ])?;
            let (f, policy) = g.send_start_into(pdh, plat, amd, out.buffer())?;
            out.fetched(f)?;
            boundary::write_opt(out_policy, policy);
            Ok(())
        })
    }
}

/// `SEND_UPDATE_DATA`: re-encrypt `guest_len` bytes of guest memory at `guest_addr` (one page
/// at most, 16-byte aligned — the kernel and firmware check) for the target: the packet header
/// (52 bytes) into `hdr_buf`, the transport data (`guest_len` bytes) into `trans_buf`, written
/// there directly by the firmware. If either buffer is NULL or short, both sizes go to
/// `*hdr_out_len` / `*trans_out_len`, nothing is issued or written, and
/// `LIBSEV_STATUS_BUFFER_TOO_SMALL` is returned. A `guest_len` beyond the kernel's 32-bit
/// field is `LIBSEV_STATUS_INVALID_LENGTH` (nothing is allocated for it); the two buffers and
/// the guest range must not overlap (`LIBSEV_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `guest_addr..+guest_len` readable memory of this process; each buffer NULL or writable for
/// its length; both `*_out_len` writable; `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_send_update_data(
    guest: *mut libsev_guest,
    guest_addr: *const u8,
    guest_len: usize,
    hdr_buf: *mut u8,
    hdr_len: usize,
    hdr_out_len: *mut usize,
    trans_buf: *mut u8,
    trans_len: usize,
    trans_out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_send_start; the guest range is the caller's.
    unsafe {
        with_guest(guest, err, |g| {
            let mut hdr = Out::new(hdr_buf, hdr_len, hdr_out_len, ("hdr_buf", "hdr_out_len"))?;
            let mut trans = Out::new(
                trans_buf,
                trans_len,
                trans_out_len,
                ("trans_buf", "trans_out_len"),
            )?;
            let hlen = g.send_update_data_hdr_len()?;
            hdr.set_len(hlen);
            trans.set_len(guest_len);
            let shorts: Vec<_> = [hdr.short(hlen), trans.short(guest_len)]
                .into_iter()
                .flatten()
                .collect();
            if !shorts.is_empty() {
                return Err(boundary::too_small(&shorts));
            }
            // A length the kernel's field cannot hold is refused before anything else.
            len_u32(
                Command::LIBSEV_CMD_SEND_UPDATE_DATA,
                "the guest range",
                guest_len,
            )?;
            boundary::disjoint(&[
                hdr.range(hlen),
                trans.range(guest_len),
                (guest_addr as usize, guest_len, "the guest range"),
            ])?;
            g.send_update_data(
                guest_addr,
                guest_len,
                hdr.slice(hlen),
                trans.slice(guest_len),
            )
        })
    }
}

/// `SEND_FINISH`: the guest becomes SENT.
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_send_finish(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_send_start.
    unsafe { with_guest(guest, err, |g| g.send_finish()) }
}

/// `SEND_CANCEL`: abandon the migration; the guest returns to RUNNING.
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_send_cancel(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_send_start.
    unsafe { with_guest(guest, err, |g| g.send_cancel()) }
}

/// `RECEIVE_START`: accept an incoming guest with `policy`; `pdh` is the SOURCE platform's
/// PDH certificate (2084 bytes; the firmware does ECDH between it and this platform's PDH key,
/// as the source did with this platform's PDH at SEND_START) and `session` the 128-byte blob
/// the source's SEND_START produced; `share_handle` as for `libsev_guest_launch_start`. The new
/// handle goes to `*out_handle` (if not NULL). The firmware checks the blob's MACs
/// (`LIBSEV_STATUS_FW_BAD_MEASUREMENT`); the kernel requires both inputs.
///
/// # Safety
/// `guest` NULL or live; `pdh`/`session` NULL or readable for their lengths; `out_handle`
/// NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_receive_start(
    guest: *mut libsev_guest,
    policy: u32,
    share_handle: u32,
    pdh: *const u8,
    pdh_len: usize,
    session: *const u8,
    session_len: usize,
    out_handle: *mut u32,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_send_start.
    unsafe {
        with_guest(guest, err, |g| {
            let pdh = boundary::input(pdh, pdh_len, "pdh")?;
            let session = boundary::input(session, session_len, "session")?;
            let h = g.receive_start(policy, pdh, session, share_handle)?;
            boundary::write_opt(out_handle, h);
            Ok(())
        })
    }
}

/// `RECEIVE_UPDATE_DATA`: decrypt one packet from the source (`hdr`, `trans`) into `guest_len`
/// bytes of guest memory at `guest_addr`. The firmware checks the MAC
/// (`LIBSEV_STATUS_FW_BAD_MEASUREMENT`), lengths and alignment.
///
/// # Safety
/// `guest_addr..+guest_len` mapped, writable memory of this process; `hdr`/`trans` NULL or
/// readable for their lengths; `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_receive_update_data(
    guest: *mut libsev_guest,
    hdr: *const u8,
    hdr_len: usize,
    guest_addr: *mut u8,
    guest_len: usize,
    trans: *const u8,
    trans_len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_send_start; the guest range is the caller's.
    unsafe {
        with_guest(guest, err, |g| {
            let hdr = boundary::input(hdr, hdr_len, "hdr")?;
            let trans = boundary::input(trans, trans_len, "trans")?;
            g.receive_update_data(hdr, guest_addr, guest_len, trans)
        })
    }
}

/// `RECEIVE_FINISH`: the guest becomes RUNNING.
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_receive_finish(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_send_start.
    unsafe { with_guest(guest, err, |g| g.receive_finish()) }
}
