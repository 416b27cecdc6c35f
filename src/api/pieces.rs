//! How libsev cuts a guest-memory request into the pieces it issues, so that each piece is
//! one the kernel handles exactly (above the transport: the same on real hosts and on the
//! model).
//!
//! * `LAUNCH_UPDATE_DATA` longer than the kernel's 32-bit length field is issued in
//!   [`UPDATE_CHUNK`] pieces; before the first piece the whole range is checked against what
//!   would refuse a later one (alignment, mapping, writability), so a refused range leaves
//!   guest memory and the launch digest untouched.
//! * `DBG_DECRYPT` / `DBG_ENCRYPT`: KVM walks the source page by page and gives the firmware
//!   one pinned destination page per step at the source's in-page length, so a step whose
//!   destination crosses a page boundary the source does not reaches the wrong physical page;
//!   and its unaligned `DBG_ENCRYPT` re-encrypts `round_up(len, 16)` bytes from the rounded-
//!   down destination, leaving the tail unwritten when the destination's 16-byte offset plus
//!   the length needs one more granule. [`dbg_pieces`] issues pieces that stay within one
//!   source page and one destination page and, for `DBG_ENCRYPT` to an unaligned
//!   destination, first reach the next 16-byte boundary — every byte is written, on both.

/// Largest `LAUNCH_UPDATE_DATA` libsev issues at once; longer ranges are split (the length
/// field is 32 bits). A multiple of 4096, so every piece keeps the first one's alignment.
pub(crate) const UPDATE_CHUNK: usize = 1 << 31;

use crate::error::{Error, Result};
use crate::status::Command;

const PAGE: u64 = 4096;

/// Refuse a multi-piece `LAUNCH_UPDATE_DATA` range that a later piece would be refused for,
/// before the first piece: with the status, firmware status and errno the refusing piece
/// would report, and a message saying that nothing was changed. A range issued as one piece
/// is left to the kernel and firmware (nothing changes when they refuse it).
pub(crate) fn check_update_range(c: Command, addr: u64, len: usize) -> Result<()> {
    let Some((errno, fws, why)) = update_range_problem(addr, len) else {
        return Ok(());
    };
    let mut e = Error::from_command(c, errno, fws);
    e.message = format!(
        "{}: {len} bytes at {addr:#x} would be issued in {} pieces and {why}, so a later piece \
         would be refused; refused before the first piece (guest memory and the launch \
         digest are unchanged): {}",
        c.name(),
        len.div_ceil(UPDATE_CHUNK),
        e.message
    );
    Err(e)
}

/// Why a multi-piece `LAUNCH_UPDATE_DATA` range would be refused part-way, checked before
/// the first piece: `Some((errno, firmware status, why))` as the refusing piece would report
/// it, `None` if every piece passes these checks. A range issued as one piece is left to the
/// kernel and firmware (nothing is changed when they refuse it).
pub(crate) fn update_range_problem(addr: u64, len: usize) -> Option<(i32, u32, &'static str)> {
    use crate::status::fw;
    if len <= UPDATE_CHUNK {
        return None;
    }
    if addr % 16 != 0 {
        return Some((
            libc::EIO,
            fw::INVALID_ADDRESS,
            "the address is not 16-byte aligned",
        ));
    }
    if len % 16 != 0 {
        return Some((
            libc::EIO,
            fw::INVALID_LENGTH,
            "the length is not a multiple of 16",
        ));
    }
    if addr.checked_add(len as u64).is_none() || !crate::model::user_writable(addr, len as u64) {
        return Some((
            libc::ENOMEM,
            0,
            "part of the range is not mapped writable memory (the kernel cannot pin it)",
        ));
    }
    None
}

/// Refuse a `DBG_DECRYPT` / `DBG_ENCRYPT` whose source is not all readable or whose
/// destination is not all writable, before the first piece (KVM would refuse the first page
/// it cannot pin with `ENOMEM`, after writing the pages before it): nothing is written.
pub(crate) fn check_dbg_ranges(c: Command, src: u64, dst: u64, len: u64) -> Result<()> {
    let bad = if !crate::model::user_readable(src, len) {
        "the source is not all readable memory"
    } else if !crate::model::user_writable(dst, len) {
        "the destination is not all writable memory"
    } else {
        return Ok(());
    };
    let mut e = Error::from_command(c, libc::ENOMEM, 0);
    e.message = format!(
        "{}: {bad} ({len} bytes from {src:#x} to {dst:#x}); refused before the first byte \
         was written: {}",
        c.name(),
        e.message
    );
    Err(e)
}

/// The `(src, dst, len)` pieces of a `DBG_DECRYPT` (`encrypt` false) or `DBG_ENCRYPT` of
/// `len` bytes, in order, each handled exactly by KVM's `sev_dbg_crypt` (see the module
/// documentation). When source and destination share their offset within a page (and, for
/// `DBG_ENCRYPT`, the destination is 16-byte aligned), KVM's steps are already exact and the
/// request is one piece.
pub(crate) fn dbg_pieces(src: u64, dst: u64, len: u64, encrypt: bool) -> Vec<(u64, u64, u64)> {
    if ((src ^ dst) % PAGE == 0 && !(encrypt && dst % 16 != 0)) || len == 0 {
        return vec![(src, dst, len)];
    }
    let mut v = Vec::with_capacity((len / PAGE) as usize * 3 + 3);
    let (mut s, mut d, mut left) = (src, dst, len);
    while left > 0 {
        let mut n = left.min(PAGE - s % PAGE).min(PAGE - d % PAGE);
        if encrypt && d % 16 != 0 {
            n = n.min(16 - d % 16);
        }
        v.push((s, d, n));
        s += n;
        d += n;
        left -= n;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KVM's step arithmetic for one request: the destination bytes that end up written
    /// (each step pins one destination page; a firmware write reaching past it lands in
    /// another physical page).
    fn kvm_written(src: u64, dst: u64, len: u64, encrypt: bool) -> Vec<u64> {
        let mut out = vec![];
        let (mut s, mut d, mut left) = (src, dst, len);
        while left > 0 {
            let n = (PAGE - s % PAGE).min(left);
            let page_end = (d / PAGE + 1) * PAGE;
            let aligned = s % 16 == 0 && d % 16 == 0 && n % 16 == 0;
            let (lo, hi) = match (encrypt, aligned) {
                // Decrypt through a bounce page: copy_to_user writes every byte.
                (false, false) => (d, d + n),
                // Firmware writes straight into the pinned destination page.
                (_, true) => (d, (d + n).min(page_end)),
                // Encrypt read-modify-write: round_up(n, 16) bytes from the rounded-down
                // destination, within the pinned page.
                (true, false) => (d, ((d & !15) + n.next_multiple_of(16)).min(page_end)),
            };
            out.extend(lo..hi.min(d + n));
            s += n;
            d += n;
            left -= n;
        }
        out
    }

    #[test]
    fn pieces_cover_every_byte_once_within_one_page_each() {
        for enc in [false, true] {
            for s in [0u64, 1, 7, 15, 16, 4000, 4095] {
                for d in [0u64, 1, 7, 9, 16, 4090, 4095] {
                    for len in [1u64, 15, 16, 17, 96, 200, 4096, 9000] {
                        let (src, dst) = (0x10000 + s, 0x40000 + d);
                        let p = dbg_pieces(src, dst, len, enc);
                        let mut at = 0;
                        for &(ps, pd, n) in &p {
                            assert_eq!((ps, pd), (src + at, dst + at));
                            assert!(n > 0);
                            at += n;
                            let mut w = kvm_written(ps, pd, n, enc);
                            w.sort();
                            w.dedup();
                            assert_eq!(w.len() as u64, n, "{enc} {s} {d} {len}: {p:?}");
                        }
                        assert_eq!(at, len);
                    }
                }
            }
        }
        // The cases: KVM alone loses bytes, the pieces do not.
        assert!(kvm_written(0x10000, 0x40007, 96, true).len() < 96);
        assert!(kvm_written(0x10000 + 4001, 0x40000, 200, true).len() < 200);
    }

    #[test]
    fn update_ranges_are_checked_before_the_first_piece() {
        assert_eq!(
            update_range_problem(1, 64),
            None,
            "one piece: the kernel decides"
        );
        let big = UPDATE_CHUNK + 16;
        assert_eq!(
            update_range_problem(8, big).unwrap().1,
            crate::status::fw::INVALID_ADDRESS
        );
        assert_eq!(
            update_range_problem(4096, UPDATE_CHUNK + 8).unwrap().1,
            crate::status::fw::INVALID_LENGTH
        );
        // Address 4096 is not mapped in a Linux process (the zero page region).
        assert_eq!(update_range_problem(4096, big).unwrap().0, libc::ENOMEM);
    }
}
