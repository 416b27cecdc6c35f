//! KVM's migration handlers for the model VM (`sev_send_start`, `sev_send_update_data`,
//! `sev_receive_start`, `sev_receive_update_data`, with their length queries;
//! `sev-spec` §1.7, §1.8).

use super::guest::Start;
use super::uaccess::{
    Fail, KMALLOC_MAX, copy_to_user, copy_to_user_pair, copy_user_blob, copy_user_blobs, issued,
    pin, read_struct, write_struct,
};
use super::vm::{KResult, ModelVm, VmState};
use crate::uapi::{
    SEV_FW_BLOB_MAX_SIZE, kvm_sev_cmd, kvm_sev_receive_start, kvm_sev_receive_update_data,
    kvm_sev_send_start, kvm_sev_send_update_data,
};

const PAGE: u64 = 4096;

/// `sev_pin_memory` of the one guest page of a SEND/RECEIVE_UPDATE_DATA: a page inside a
/// registered region is already pinned (register_region checked it, and the caller keeps it
/// mapped until it unregisters it), so only other pages are looked up again.
fn pin_page(k: &VmState, uaddr: u64) -> Result<(), Fail> {
    let page = uaddr & !(PAGE - 1);
    let registered = k.regions.iter().any(|&(a, n)| {
        page >= a
            && page
                .checked_add(PAGE)
                .is_some_and(|e| e <= a.saturating_add(n))
    });
    if !registered {
        pin(page, PAGE)?;
    }
    Ok(())
}

/// KVM's one-page rule for SEND/RECEIVE_UPDATE_DATA.
fn one_page(uaddr: u64, len: u32) -> Result<(), Fail> {
    let off = uaddr & (PAGE - 1);
    if len as u64 > PAGE || len as u64 + off > PAGE {
        return Err(Fail::Os(libc::EINVAL));
    }
    Ok(())
}

impl ModelVm {
    pub(crate) fn send_start(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let mut p: kvm_sev_send_start = read_struct(cmd.data)?;
        if p.session_len == 0 {
            // __sev_send_start_query_session_length
            self.stored_fd(k)?;
            let mut len = 0u32;
            let r = issued(
                &mut cmd.error,
                self.platform
                    .fw
                    .send_start(k.handle, None, None, None, None, &mut len),
            );
            p.session_len = len;
            write_struct(cmd.data, &p)?;
            return r.map(|_| ());
        }
        if p.pdh_cert_uaddr == 0
            || p.pdh_cert_len == 0
            || p.session_uaddr == 0
            || p.session_len > SEV_FW_BLOB_MAX_SIZE
        {
            return Err(Fail::Os(libc::EINVAL));
        }
        let mut session = vec![0u8; p.session_len as usize];
        let pdh = copy_user_blob(p.pdh_cert_uaddr, p.pdh_cert_len)?;
        let plat = copy_user_blob(p.plat_certs_uaddr, p.plat_certs_len)?;
        let amd = copy_user_blob(p.amd_certs_uaddr, p.amd_certs_len)?;
        self.stored_fd(k)?;
        let mut len = p.session_len;
        let r = issued(
            &mut cmd.error,
            self.platform.fw.send_start(
                k.handle,
                Some(&pdh),
                Some(&plat),
                Some(&amd),
                Some(&mut session),
                &mut len,
            ),
        );
        if r.is_ok() {
            copy_to_user(p.session_uaddr, &session)?;
        }
        p.policy = *r.as_ref().unwrap_or(&0);
        p.session_len = len;
        write_struct(cmd.data, &p)?;
        r.map(|_| ())
    }

    pub(crate) fn send_update_data(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let mut p: kvm_sev_send_update_data = read_struct(cmd.data)?;
        if p.trans_len == 0 || p.hdr_len == 0 {
            // __sev_send_update_data_query_lengths: the firmware reports HDR_LEN only.
            self.stored_fd(k)?;
            let mut hdr_len = 0u32;
            // SAFETY: no memory is touched: the header length check fails first.
            let r = unsafe {
                self.platform
                    .fw
                    .send_update_data(k.handle, None, &mut hdr_len, 0, 0, None, 0)
            };
            let r = issued(&mut cmd.error, r);
            p.hdr_len = hdr_len;
            p.trans_len = 0;
            write_struct(cmd.data, &p)?;
            return r;
        }
        if p.trans_uaddr == 0 || p.guest_uaddr == 0 || p.guest_len == 0 || p.hdr_uaddr == 0 {
            return Err(Fail::Os(libc::EINVAL));
        }
        one_page(p.guest_uaddr, p.guest_len)?;
        pin_page(k, p.guest_uaddr)?;
        if p.hdr_len as usize > KMALLOC_MAX || p.trans_len as usize > KMALLOC_MAX {
            return Err(Fail::Os(libc::ENOMEM));
        }
        let mut hdr = vec![0u8; p.hdr_len as usize];
        let mut trans = vec![0u8; p.trans_len as usize];
        self.stored_fd(k)?;
        let mut hdr_len = p.hdr_len;
        // SAFETY: the guest page was checked mapped; the transport's contract.
        let r = unsafe {
            self.platform.fw.send_update_data(
                k.handle,
                Some(&mut hdr),
                &mut hdr_len,
                p.guest_uaddr,
                p.guest_len,
                Some(&mut trans),
                p.trans_len,
            )
        };
        issued(&mut cmd.error, r)?;
        copy_to_user_pair((p.trans_uaddr, &trans), (p.hdr_uaddr, &hdr))?;
        Ok(())
    }

    pub(crate) fn receive_start(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let mut p: kvm_sev_receive_start = read_struct(cmd.data)?;
        if p.pdh_uaddr == 0 || p.pdh_len == 0 || p.session_uaddr == 0 || p.session_len == 0 {
            return Err(Fail::Os(libc::EINVAL));
        }
        let pdh = copy_user_blob(p.pdh_uaddr, p.pdh_len)?;
        let session = copy_user_blob(p.session_uaddr, p.session_len)?;
        let data = cmd.data;
        self.start_common(
            k,
            cmd,
            Start::Receive,
            p.handle,
            p.policy,
            Some(&pdh),
            Some(&session),
            |h| {
                p.handle = h;
                write_struct(data, &p)
            },
        )
    }

    pub(crate) fn receive_update_data(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let p: kvm_sev_receive_update_data = read_struct(cmd.data)?;
        if p.hdr_uaddr == 0
            || p.hdr_len == 0
            || p.guest_uaddr == 0
            || p.guest_len == 0
            || p.trans_uaddr == 0
            || p.trans_len == 0
        {
            return Err(Fail::Os(libc::EINVAL));
        }
        one_page(p.guest_uaddr, p.guest_len)?;
        let (hdr, trans) = copy_user_blobs((p.hdr_uaddr, p.hdr_len), (p.trans_uaddr, p.trans_len))?;
        pin_page(k, p.guest_uaddr)?;
        self.stored_fd(k)?;
        // SAFETY: the guest page was checked mapped; the transport's contract.
        let r = unsafe {
            self.platform
                .fw
                .receive_update_data(k.handle, &hdr, p.guest_uaddr, p.guest_len, &trans)
        };
        issued(&mut cmd.error, r)
    }
}
