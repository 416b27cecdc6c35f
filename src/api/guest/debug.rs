//! The SEV debug commands of a [`Guest`]: DBG_DECRYPT and DBG_ENCRYPT.

use super::Guest;
use crate::api::marshal::{len_u32, non_null};
use crate::api::platform::ptr;
use crate::error::Result;
use crate::status::Command;
use crate::uapi::{kvm_cmd, kvm_sev_dbg};

impl Guest {
    /// # Safety
    /// See [`Guest::dbg_decrypt`].
    unsafe fn dbg(
        &mut self,
        c: Command,
        id: u32,
        src: *const u8,
        dst: *mut u8,
        len: usize,
    ) -> Result<()> {
        let (s0, d0) = (
            non_null(c, "the source pointer", src)?,
            non_null(c, "the destination pointer", dst)?,
        );
        len_u32(c, "the length", len)?;
        crate::api::pieces::check_dbg_ranges(c, s0, d0, len as u64)?;
        let encrypt = id == kvm_cmd::DBG_ENCRYPT;
        // Pieces KVM handles exactly (see api/pieces.rs); one piece in the common case.
        for (ps, pd, n) in crate::api::pieces::dbg_pieces(s0, d0, len as u64, encrypt) {
            let mut d = kvm_sev_dbg {
                src_uaddr: ps,
                dst_uaddr: pd,
                len: n as u32,
                pad0: 0,
            };
            // SAFETY: each piece lies within the caller's ranges (contract of
            // dbg_decrypt/dbg_encrypt).
            let (r, fw) = unsafe { self.op(id, ptr(&mut d)) };
            self.done(c, r, fw, || format!(" ({n} bytes)"))?;
        }
        Ok(())
    }

    /// `DBG_DECRYPT`: guest-key ciphertext at `src` → plaintext at `dst` (policy must allow
    /// debugging).
    ///
    /// # Safety
    /// `src..src+len` readable and `dst..dst+len` writable memory of this process, not
    /// accessed by others during the call.
    pub unsafe fn dbg_decrypt(&mut self, src: *const u8, dst: *mut u8, len: usize) -> Result<()> {
        let c = Command::LIBSEV_CMD_DBG_DECRYPT;
        // SAFETY: forwarded contract.
        unsafe { self.dbg(c, kvm_cmd::DBG_DECRYPT, src, dst, len) }
    }

    /// `DBG_ENCRYPT`: plaintext at `src` → guest-key ciphertext at `dst`.
    ///
    /// # Safety
    /// As [`Guest::dbg_decrypt`].
    pub unsafe fn dbg_encrypt(&mut self, src: *const u8, dst: *mut u8, len: usize) -> Result<()> {
        let c = Command::LIBSEV_CMD_DBG_ENCRYPT;
        // SAFETY: forwarded contract.
        unsafe { self.dbg(c, kvm_cmd::DBG_ENCRYPT, src, dst, len) }
    }
}
