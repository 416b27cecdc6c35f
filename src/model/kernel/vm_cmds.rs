//! KVM's launch, status, debug and attestation handlers for the model VM
//! (`sev_launch_update_data`, `sev_launch_measure`, `sev_launch_secret`, `sev_guest_status`,
//! `sev_dbg_crypt`, `sev_get_attestation_report`; `sev-spec` §1.7, §1.8).

use crate::model::firmware::sev::guest::same_or_disjoint;
use crate::model::kernel::uaccess::{
    BouncePage, Fail, copy_from_user, copy_to_user, copy_user_blob, issued, pin, read_struct,
    write_struct,
};
use crate::model::kernel::vm::{KResult, ModelVm, VmState};
use crate::uapi::{
    SEV_FW_BLOB_MAX_SIZE, kvm_sev_attestation_report, kvm_sev_cmd, kvm_sev_dbg,
    kvm_sev_guest_status, kvm_sev_launch_measure, kvm_sev_launch_secret,
    kvm_sev_launch_update_data,
};

const PAGE: u64 = 4096;

impl ModelVm {
    pub(crate) fn launch_update_data(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let p: kvm_sev_launch_update_data = read_struct(cmd.data)?;
        pin(p.uaddr, p.len as u64)?;
        self.stored_fd(k)?;
        // SAFETY: the range was checked mapped; the transport's contract makes it the
        // caller's guest memory, untouched by others during the call.
        let r = unsafe {
            self.platform
                .fw
                .launch_update_data(k.handle, p.uaddr, p.len)
        };
        issued(&mut cmd.error, r)
    }

    pub(crate) fn launch_measure(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let mut p: kvm_sev_launch_measure = read_struct(cmd.data)?;
        let (r, len) = self.query_or_fetch(k, &mut cmd.error, p.uaddr, p.len, |h, blob, len| {
            self.platform.fw.launch_measure(h, blob, len)
        })?;
        p.len = len;
        write_struct(cmd.data, &p)?;
        r
    }

    pub(crate) fn launch_secret(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let p: kvm_sev_launch_secret = read_struct(cmd.data)?;
        pin(p.guest_uaddr, p.guest_len as u64)?;
        let trans = copy_user_blob(p.trans_uaddr, p.trans_len)?;
        let hdr = copy_user_blob(p.hdr_uaddr, p.hdr_len)?;
        self.stored_fd(k)?;
        // SAFETY: the guest range was checked mapped; the transport's contract.
        let r = unsafe {
            self.platform
                .fw
                .launch_secret(k.handle, &hdr, p.guest_uaddr, p.guest_len, &trans)
        };
        issued(&mut cmd.error, r)
    }

    pub(crate) fn guest_status(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        self.stored_fd(k)?;
        let (policy, _asid, state) =
            issued(&mut cmd.error, self.platform.fw.guest_status(k.handle))?;
        let out = kvm_sev_guest_status {
            handle: k.handle,
            policy,
            state: state as u32,
        };
        write_struct(cmd.data, &out)?;
        Ok(())
    }

    pub(crate) fn attestation(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let mut p: kvm_sev_attestation_report = read_struct(cmd.data)?;
        let mnonce = p.mnonce;
        let (r, len) = self.query_or_fetch(k, &mut cmd.error, p.uaddr, p.len, |h, blob, len| {
            // The length query hands the firmware no nonce, as KVM does.
            let nonce = if blob.is_some() { mnonce } else { [0u8; 16] };
            self.platform.fw.attestation(h, &nonce, blob, len)
        })?;
        p.len = len;
        write_struct(cmd.data, &p)?;
        r
    }

    /// KVM's shape for LAUNCH_MEASURE and GET_ATTESTATION_REPORT: a zero length or address is
    /// the length query (the firmware sees no buffer); otherwise the firmware writes into a
    /// kernel buffer of the caller's length (above 16 KiB: `EINVAL`), copied out on success.
    /// Returns the firmware's result and the length to write back; a failed fetch returns its
    /// error at once, without the write-back, as KVM does.
    fn query_or_fetch(
        &self,
        k: &mut VmState,
        error: &mut u32,
        uaddr: u64,
        ulen: u32,
        fw_call: impl FnOnce(u32, Option<&mut [u8]>, &mut u32) -> crate::model::FwResult<()>,
    ) -> Result<(KResult, u32), Fail> {
        let (mut blob, mut len) = (None, 0u32);
        if ulen != 0 && uaddr != 0 {
            if ulen > SEV_FW_BLOB_MAX_SIZE {
                return Err(Fail::Os(libc::EINVAL));
            }
            blob = Some(vec![0u8; ulen as usize]);
            len = ulen;
        }
        self.stored_fd(k)?;
        let r = issued(error, fw_call(k.handle, blob.as_deref_mut(), &mut len));
        if ulen != 0 {
            r?;
            if let Some(b) = &blob {
                copy_to_user(uaddr, b)?;
            }
        }
        Ok((r, len))
    }

    /// One firmware DBG command.
    fn dbg_fw(
        &self,
        k: &VmState,
        error: &mut u32,
        src: u64,
        dst: u64,
        len: u64,
        dec: bool,
    ) -> KResult {
        self.stored_fd(k)?;
        // SAFETY: every caller checked (pinned) the ranges or points into its own bounce
        // page; the transport's contract covers the caller's memory.
        let r = unsafe {
            self.platform
                .fw
                .dbg_crypt(k.handle, src, dst, len as u32, dec)
        };
        issued(error, r)
    }

    /// `__sev_dbg_decrypt`: the source rounded out to 16-byte granules.
    fn dbg_decrypt_rounded(
        &self,
        k: &VmState,
        error: &mut u32,
        src: u64,
        dst: u64,
        size: u64,
    ) -> KResult {
        let off = src & 15;
        self.dbg_fw(
            k,
            error,
            src - off,
            dst,
            (size + off).next_multiple_of(16),
            true,
        )
    }

    /// `__sev_dbg_decrypt_user`.
    fn dbg_decrypt_user(
        &self,
        k: &VmState,
        error: &mut u32,
        src: u64,
        dst: u64,
        size: u64,
    ) -> KResult {
        if dst % 16 == 0 && src % 16 == 0 && size % 16 == 0 {
            return self.dbg_decrypt_rounded(k, error, src, dst, size);
        }
        let mut t = BouncePage::new();
        self.dbg_decrypt_rounded(k, error, src, t.addr(), size)?;
        let off = (src & 15) as usize;
        copy_to_user(dst, &t.bytes()[off..off + size as usize])?;
        Ok(())
    }

    /// `__sev_dbg_encrypt_user`, including its read-modify-write for an unaligned
    /// destination or length. Like KVM, the re-encrypted span is `round_up(size, 16)` bytes
    /// from the rounded-down destination, so when the destination offset plus the size
    /// crosses one more 16-byte granule, the bytes beyond that span are not written (what
    /// the kernel does).
    fn dbg_encrypt_user(
        &self,
        k: &VmState,
        error: &mut u32,
        src: u64,
        dst: u64,
        size: u64,
    ) -> KResult {
        let mut src_page = None;
        let mut paddr = src;
        if src % 16 != 0 {
            let mut t = BouncePage::new();
            let data = copy_from_user(src, size as usize)?;
            t.bytes()[..size as usize].copy_from_slice(&data);
            paddr = t.addr();
            src_page = Some(t);
        }
        let (mut dpaddr, mut len) = (dst, size);
        let mut dst_page = None;
        if dst % 16 != 0 || size % 16 != 0 {
            // The decrypted destination span is `round_up(off + size, 16)` bytes, which is
            // more than a page when a page-sized chunk (the loop cuts by the *source's* page)
            // lands on an unaligned destination: the buffer is sized for the span, not a page.
            let off = (dst & 15) as usize;
            let mut t = vec![0u128; (off + size as usize).div_ceil(16)];
            let t_addr = t.as_mut_ptr() as u64;
            self.dbg_decrypt_rounded(k, error, dst, t_addr, size)?;
            let data = match &mut src_page {
                Some(s) => s.bytes()[..size as usize].to_vec(),
                None => copy_from_user(src, size as usize)?,
            };
            // SAFETY: `t` holds `16 * t.len()` ≥ `off + size` initialised bytes; u8 has no
            // alignment requirement and nothing else refers to `t` during this borrow.
            let tb = unsafe {
                std::slice::from_raw_parts_mut(t.as_mut_ptr().cast::<u8>(), 16 * t.len())
            };
            tb[off..off + size as usize].copy_from_slice(&data);
            paddr = t_addr;
            dpaddr = dst & !15;
            len = size.next_multiple_of(16);
            dst_page = Some(t);
        }
        let r = self.dbg_fw(k, error, paddr, dpaddr, len, false);
        drop((src_page, dst_page));
        r
    }

    /// `sev_dbg_crypt`: KVM's page-by-page loop over the source. When source, destination
    /// and length are all 16-byte aligned every page is a plain firmware call, so the model
    /// issues one call for the whole range (same result, no per-page overhead).
    pub(crate) fn dbg(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd, dec: bool) -> KResult {
        let d: kvm_sev_dbg = read_struct(cmd.data)?;
        let (src, dst, size) = (d.src_uaddr, d.dst_uaddr, d.len as u64);
        if size == 0 || src.checked_add(size).is_none() {
            return Err(Fail::Os(libc::EINVAL));
        }
        if dst == 0 {
            return Err(Fail::Os(libc::EINVAL));
        }
        if dst.checked_add(size).is_none() {
            // The destination pages cannot be pinned.
            return Err(Fail::Os(libc::ENOMEM));
        }
        if src % 16 == 0 && dst % 16 == 0 && size % 16 == 0 && same_or_disjoint(src, dst, size) {
            pin(
                src & !(PAGE - 1),
                (src + size).next_multiple_of(PAGE) - (src & !(PAGE - 1)),
            )?;
            pin(
                dst & !(PAGE - 1),
                (dst + size).next_multiple_of(PAGE) - (dst & !(PAGE - 1)),
            )?;
            return self.dbg_fw(k, &mut cmd.error, src, dst, size, dec);
        }
        let (mut v, end, mut dv, mut left) = (src, src + size, dst, size);
        while v < end {
            pin(v & !(PAGE - 1), PAGE)?;
            pin(dv & !(PAGE - 1), PAGE)?;
            let n = (PAGE - (v & (PAGE - 1))).min(left);
            if dec {
                self.dbg_decrypt_user(k, &mut cmd.error, v, dv, n)?;
            } else {
                self.dbg_encrypt_user(k, &mut cmd.error, v, dv, n)?;
            }
            v += n;
            dv += n;
            left -= n;
        }
        Ok(())
    }
}
