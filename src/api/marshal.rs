//! Marshalling helpers shared by the platform and guest commands: length checks for the
//! kernel's 32-bit length fields, user addresses, the two-call length query, and the one
//! place where a command's result is logged and turned into an [`Error`].

use crate::error::{Error, Result};
use crate::log::Level;
use crate::sev_log;
use crate::status::{Command, Status, fw};
use crate::transport::Errno;
use crate::uapi::{kvm_sev_launch_secret, kvm_sev_receive_update_data};
use std::marker::PhantomData;

/// A caller-supplied length for a 32-bit length field of a kernel struct.
pub(crate) fn len_u32(command: Command, what: &str, len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| {
        Error::new(
            Status::LIBSEV_STATUS_INVALID_LENGTH,
            format!(
                "{}: {what} is {len} bytes, more than the kernel's 32-bit length field holds",
                command.name()
            ),
        )
        .with_command(command)
    })
}

/// The user address of a byte slice: 0 for an empty slice (the kernel treats a zero address as
/// "absent"; an empty slice's dangling pointer must never reach it).
pub(crate) fn uaddr(s: &[u8]) -> u64 {
    if s.is_empty() { 0 } else { s.as_ptr() as u64 }
}

/// A required pointer argument: NULL is `LIBSEV_STATUS_NULL_ARGUMENT`.
pub(crate) fn non_null<T>(command: Command, what: &str, p: *const T) -> Result<u64> {
    if p.is_null() {
        return Err(Error::new(
            Status::LIBSEV_STATUS_NULL_ARGUMENT,
            format!("{}: {what} is NULL", command.name()),
        )
        .with_command(command));
    }
    Ok(p as u64)
}

/// Whether a failed length-query call gave its answer: the kernel reports the needed length by
/// failing with `EIO` and firmware status `INVALID_LENGTH` (`sev-spec` §1.7).
pub(crate) fn is_length_answer(r: &Result<(), Errno>, fw_error: u32) -> bool {
    matches!(r, Err(e) if *e == libc::EIO) && fw_error == fw::INVALID_LENGTH
}

/// Log a command's result (DEBUG on success, WARN on failure) and map a failure to an
/// [`Error`] with both channels. `detail` adds non-secret context to the success line.
pub(crate) fn finish(
    command: Command,
    r: Result<(), Errno>,
    fw_error: u32,
    detail: impl FnOnce() -> String,
) -> Result<()> {
    finish_hinted(command, r, fw_error, None, detail)
}

/// [`finish`], adding `enotty_hint` to the message when the kernel refused with `ENOTTY`
/// before the firmware ran.
pub(crate) fn finish_hinted(
    command: Command,
    r: Result<(), Errno>,
    fw_error: u32,
    enotty_hint: Option<&str>,
    detail: impl FnOnce() -> String,
) -> Result<()> {
    match r {
        Ok(()) => {
            sev_log!(
                Level::LIBSEV_LOG_DEBUG,
                "{}: ok{}",
                command.name(),
                detail()
            );
            Ok(())
        }
        Err(errno) => {
            let mut e = Error::from_command(command, errno, fw_error);
            if let Some(se) = crate::model::take_store_error().filter(|_| errno == libc::EIO) {
                // The firmware model's state directory failed under this command: say so,
                // naming the file and the OS error, rather than a bare HWERROR_PLATFORM.
                e = Error {
                    command,
                    os_errno: if se.os_errno != 0 { se.os_errno } else { errno },
                    fw_error,
                    ..se
                };
            }
            if let Some(h) = enotty_hint.filter(|_| errno == libc::ENOTTY && fw_error == 0) {
                e.message.push_str(h);
            }
            sev_log!(Level::LIBSEV_LOG_WARN, "{}", e.message);
            Err(e)
        }
    }
}

/// The result of the query half of a two-call command: `Ok(())` if the kernel answered the
/// query (EIO + INVALID_LENGTH, or — tolerated — success), the mapped error otherwise.
pub(crate) fn finish_query(
    command: Command,
    r: Result<(), Errno>,
    fw_error: u32,
    enotty_hint: Option<&str>,
    answer: impl FnOnce() -> String,
) -> Result<()> {
    if r.is_ok() || is_length_answer(&r, fw_error) {
        sev_log!(
            Level::LIBSEV_LOG_DEBUG,
            "{}: length query: {}",
            command.name(),
            answer()
        );
        return Ok(());
    }
    finish_hinted(command, r, fw_error, enotty_hint, String::new)
}

/// A length reported by a query must be usable (non-zero and no larger than `max`).
pub(crate) fn reported_len(command: Command, what: &str, len: u32, max: usize) -> Result<usize> {
    let n = len as usize;
    if n == 0 || n > max {
        return Err(Error::new(
            Status::LIBSEV_STATUS_FW_INVALID_LENGTH,
            format!(
                "{}: the length query reported {n} bytes for {what} (expected 1..={max})",
                command.name()
            ),
        )
        .with_command(command));
    }
    Ok(n)
}

/// The buffers of a command that decrypts a packet into guest memory (`LAUNCH_SECRET`,
/// `RECEIVE_UPDATE_DATA`, whose parameter structs have the same fields): the packet header,
/// the guest range, and the transport buffer, as user addresses and 32-bit lengths. It borrows
/// the header and the transport buffer, so they outlive the command.
pub(crate) struct PacketIn<'a> {
    hdr_uaddr: u64,
    hdr_len: u32,
    guest_uaddr: u64,
    pub(crate) guest_len: u32,
    trans_uaddr: u64,
    trans_len: u32,
    bufs: PhantomData<&'a [u8]>,
}

impl<'a> PacketIn<'a> {
    /// Check and convert `command`'s arguments, in this order: the header's length, the guest
    /// pointer (NULL refused), the guest range's length, the transport buffer's length
    /// (`trans_what` names it in the message).
    pub(crate) fn new(
        command: Command,
        hdr: &'a [u8],
        guest: *mut u8,
        guest_len: usize,
        trans: &'a [u8],
        trans_what: &str,
    ) -> Result<Self> {
        Ok(Self {
            hdr_uaddr: uaddr(hdr),
            hdr_len: len_u32(command, "the packet header", hdr.len())?,
            guest_uaddr: non_null(command, "the guest memory pointer", guest)?,
            guest_len: len_u32(command, "the guest range", guest_len)?,
            trans_uaddr: uaddr(trans),
            trans_len: len_u32(command, trans_what, trans.len())?,
            bufs: PhantomData,
        })
    }
}

/// The kernel's parameter struct of each packet command, filled from a [`PacketIn`].
macro_rules! packet_in_struct {
    ($($t:ty),+) => {$(
        impl From<PacketIn<'_>> for $t {
            fn from(p: PacketIn<'_>) -> Self {
                Self {
                    hdr_uaddr: p.hdr_uaddr,
                    hdr_len: p.hdr_len,
                    pad0: 0,
                    guest_uaddr: p.guest_uaddr,
                    guest_len: p.guest_len,
                    pad1: 0,
                    trans_uaddr: p.trans_uaddr,
                    trans_len: p.trans_len,
                    pad2: 0,
                }
            }
        }
    )+};
}
packet_in_struct!(kvm_sev_launch_secret, kvm_sev_receive_update_data);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_answer_needs_eio_and_invalid_length() {
        assert!(is_length_answer(&Err(libc::EIO), 4));
        assert!(!is_length_answer(&Err(libc::EIO), 1));
        assert!(!is_length_answer(&Err(libc::EINVAL), 4));
        assert!(!is_length_answer(&Ok(()), 4));
    }

    #[test]
    fn lengths_beyond_u32_are_refused() {
        let c = Command::LIBSEV_CMD_LAUNCH_SECRET;
        assert_eq!(len_u32(c, "x", 7).unwrap(), 7);
        if usize::BITS > 32 {
            let e = len_u32(c, "trans", 1usize << 32).unwrap_err();
            assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_LENGTH);
            assert_eq!(e.command, c);
            assert!(e.message.contains("trans"), "{}", e.message);
        }
        assert_eq!(uaddr(&[]), 0);
        assert_ne!(uaddr(&[1]), 0);
    }

    #[test]
    fn packet_arguments_are_checked_pointer_before_length() {
        let c = Command::LIBSEV_CMD_RECEIVE_UPDATE_DATA;
        let hdr = [0u8; 52];
        let big = usize::MAX;
        let e = PacketIn::new(c, &hdr, std::ptr::null_mut(), big, &[], "trans")
            .err()
            .unwrap();
        assert_eq!(e.status, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        assert_eq!(e.command, c);
        assert!(e.message.ends_with("the guest memory pointer is NULL"));
        // Never dereferenced: only its address is taken.
        let guest = std::ptr::dangling_mut::<u8>();
        if usize::BITS > 32 {
            let e = PacketIn::new(c, &hdr, guest, big, &[], "trans")
                .err()
                .unwrap();
            assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_LENGTH);
            assert!(e.message.contains("the guest range"), "{}", e.message);
        }
        let p = PacketIn::new(c, &hdr, guest, 4096, &[], "trans").unwrap();
        assert_eq!((p.hdr_len, p.guest_len, p.trans_uaddr), (52, 4096, 0));
        let d = kvm_sev_receive_update_data::from(p);
        assert_eq!((d.hdr_uaddr, d.guest_uaddr), (uaddr(&hdr), guest as u64));
    }
}
