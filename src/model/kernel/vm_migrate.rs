//! KVM's migration handlers for the model VM (`sev_send_start`, `sev_send_update_data`,
//! `sev_receive_start`, `sev_receive_update_data`, with their length queries;
//! `sev-spec` §1.7, §1.8).

use crate::model::firmware::sev::guest::Start;
use crate::model::kernel::uaccess::{
    Fail, KMALLOC_MAX, copy_to_user, copy_to_user_pair, copy_user_blob, disjoint, issued,
    mapped_pair, pin, read_struct, user_blobs, write_struct,
};
use crate::model::kernel::vm::{KResult, ModelVm, VmState};
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
        let (h, t, g) = (
            (p.hdr_uaddr, p.hdr_len as u64),
            (p.trans_uaddr, p.trans_len as u64),
            (p.guest_uaddr, p.guest_len as u64),
        );
        if mapped_pair(t, h) && disjoint(h, t) && disjoint(h, g) && disjoint(t, g) {
            // The firmware writes straight into the caller's buffers: they are mapped (so
            // the copy out of kernel buffers below would succeed), clear of each other and
            // of the guest page; the rest of each buffer is zeroed afterwards as the copy of
            // the zeroed kernel buffers would. Same bytes, same statuses, one copy less.
            self.stored_fd(k)?;
            // SAFETY: both ranges are mapped (checked), handed over by the caller as
            // writable output buffers of these lengths (the transport's contract), and
            // disjoint from each other and from the guest page.
            let (hdr, trans) = unsafe {
                (
                    std::slice::from_raw_parts_mut(h.0 as usize as *mut u8, h.1 as usize),
                    std::slice::from_raw_parts_mut(t.0 as usize as *mut u8, t.1 as usize),
                )
            };
            let mut hdr_len = p.hdr_len;
            // SAFETY: the guest page was checked mapped; the transport's contract.
            let r = unsafe {
                self.platform.fw.send_update_data(
                    k.handle,
                    Some(&mut *hdr),
                    &mut hdr_len,
                    p.guest_uaddr,
                    p.guest_len,
                    Some(&mut *trans),
                    p.trans_len,
                )
            };
            issued(&mut cmd.error, r)?;
            // On success the firmware wrote the header's first `hdr_len` bytes and the
            // transport buffer's first `guest_len`.
            hdr[hdr_len as usize..].fill(0);
            trans[p.guest_len as usize..].fill(0);
            return Ok(());
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
        // Borrowed in place when that reads the same bytes (mapped neighbours clear of the
        // guest page the command writes), otherwise copied like the kernel does.
        let guest = (p.guest_uaddr, p.guest_len as u64);
        // SAFETY: the transport's contract: the caller's input buffers are not written
        // during the command.
        let (hdr, trans) = unsafe {
            user_blobs(
                (p.hdr_uaddr, p.hdr_len),
                (p.trans_uaddr, p.trans_len),
                guest,
            )
        }?;
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

#[cfg(test)]
mod tests {
    use crate::api::{Guest, Platform};
    use crate::model::ModelConfig;

    const PAGE: usize = 4096;
    const HDR: usize = 52;

    fn model(seed: u8) -> Platform {
        Platform::emulated(ModelConfig {
            seed: Some([seed; 32]),
            ..ModelConfig::default()
        })
        .unwrap()
    }

    /// `pages` page-aligned pages inside `v` (which must outlive their use).
    fn pages(v: &mut Vec<u8>, pages: usize) -> *mut u8 {
        *v = vec![0u8; (pages + 1) * PAGE];
        let off = v.as_ptr().align_offset(PAGE);
        v[off..].as_mut_ptr()
    }

    /// A guest of `plain` on a fresh model seeded 5 (so two of them draw the same keys and
    /// IVs), in SUPDATE towards `target`.
    fn source(mem: *mut u8, plain: &[u8], target: &Platform) -> (Platform, Guest, Vec<u8>) {
        let p = model(5);
        let mut g = Guest::new(&p).unwrap();
        g.init().unwrap();
        g.launch_start(0, 0, None, None).unwrap();
        // SAFETY: `mem` holds `plain.len()` writable bytes that outlive the guest.
        unsafe {
            std::ptr::copy_nonoverlapping(plain.as_ptr(), mem, plain.len());
            g.register_region(mem, plain.len()).unwrap();
            g.launch_update_data(mem, plain.len()).unwrap();
        }
        g.launch_measure().unwrap();
        g.launch_finish().unwrap();
        let (pdh, chain) = target.pdh_cert_export().unwrap();
        let (session, _) = g.send_start(&pdh, &chain, &[0u8; 3200]).unwrap();
        assert_eq!(session.len(), 128);
        (p, g, session)
    }

    #[test]
    fn in_place_and_copied_buffers_give_the_same_packets_and_memory() {
        let target = model(9);
        let plain: Vec<u8> = (0..PAGE).map(|i| (i * 7 % 251) as u8).collect();
        let (mut va, mut vb, mut vf, mut vt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (ma, mb) = (pages(&mut va, 1), pages(&mut vb, 1));
        let (pa, mut a, session) = source(ma, &plain, &target);
        let (_pb, mut b, session_b) = source(mb, &plain, &target);
        assert_eq!(session, session_b, "same seeds, same keys");
        // A: header and transport buffer side by side (written in place), the transport
        // buffer longer than the page (its tail is zeroed, as the kernel's copy does).
        // B: the two far apart (kernel buffers and copies).
        let f = pages(&mut vf, 4);
        // SAFETY: `vf` holds four pages from `f`, which these borrows stay inside.
        let (fa, hb, tb) = unsafe {
            (
                std::slice::from_raw_parts_mut(f, HDR + PAGE + 32),
                std::slice::from_raw_parts_mut(f.add(2 * PAGE), HDR),
                std::slice::from_raw_parts_mut(f.add(3 * PAGE - 16), PAGE + 32),
            )
        };
        fa.fill(0xAA);
        tb.fill(0xAA);
        let (ha, ta) = fa.split_at_mut(HDR);
        // SAFETY: one page of each source's mapped memory.
        unsafe {
            a.send_update_data(ma, PAGE, ha.try_into().unwrap(), ta)
                .unwrap();
            b.send_update_data(mb, PAGE, hb.try_into().unwrap(), tb)
                .unwrap();
        }
        assert_eq!((&ha[..], &ta[..]), (&hb[..], &tb[..]));
        assert!(ta[PAGE..].iter().all(|&x| x == 0), "tail zeroed");
        assert_ne!(ta[..PAGE], plain[..]);

        // Receive the packet three ways: header and transport side by side (read in
        // place), far apart (copied), and with the transport buffer overlapping the guest
        // page being written (must be copied first).
        let (src_pdh, _) = pa.pdh_cert_export().unwrap();
        let t = pages(&mut vt, 3);
        for way in 0..3 {
            let mut g = Guest::new(&target).unwrap();
            g.init().unwrap();
            g.receive_start(0, &src_pdh, &session, 0).unwrap();
            // SAFETY: page `way` of `vt`, which outlives `g`.
            let dst = unsafe { t.add(way * PAGE) };
            // SAFETY: as above.
            unsafe { g.register_region(dst, PAGE) }.unwrap();
            let mut copy_h = Vec::new();
            let (hdr, trans): (&[u8], &[u8]) = match way {
                0 => (ha, &ta[..PAGE]),
                1 => {
                    copy_h.extend_from_slice(ha);
                    (&copy_h, &ta[..PAGE])
                }
                _ => {
                    // SAFETY: header and packet side by side from half a page before the
                    // guest page into its first half, inside `vt`.
                    unsafe {
                        let at = dst.sub(PAGE / 2 + HDR);
                        std::ptr::copy_nonoverlapping(ha.as_ptr(), at, HDR);
                        std::ptr::copy_nonoverlapping(ta.as_ptr(), at.add(HDR), PAGE);
                        (
                            std::slice::from_raw_parts(at, HDR),
                            std::slice::from_raw_parts(at.add(HDR), PAGE),
                        )
                    }
                }
            };
            // SAFETY: one page of mapped target memory; `trans` may overlap it (the model
            // copies it first).
            unsafe { g.receive_update_data(hdr, dst, PAGE, trans) }.unwrap();
            let mut out = vec![0u8; PAGE];
            // SAFETY: both ranges are mapped, one page.
            unsafe { g.dbg_decrypt(dst, out.as_mut_ptr(), PAGE) }.unwrap();
            assert_eq!(out, plain, "way {way}");
        }
    }
}
