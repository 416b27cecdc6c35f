//! Migration through the safe API between two firmware models: SEND_* on the source,
//! RECEIVE_* on the target, with the length queries and the marshalling of this module.

use super::*;
use crate::model::ModelConfig;
use crate::status::Status;
use std::alloc::{Layout, alloc_zeroed, dealloc};

const PAGE: usize = 4096;

struct Mem(*mut u8, Layout);
impl Mem {
    fn new(len: usize) -> Mem {
        let l = Layout::from_size_align(len, PAGE).unwrap();
        // SAFETY: non-zero size.
        let p = unsafe { alloc_zeroed(l) };
        assert!(!p.is_null());
        Mem(p, l)
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: the allocation holds `size` initialised bytes, not written during the borrow.
        unsafe { std::slice::from_raw_parts(self.0, self.1.size()) }
    }
    fn fill(&self, data: &[u8]) {
        assert_eq!(data.len(), self.1.size());
        // SAFETY: the allocation holds `size` writable bytes; `data` is another allocation.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.0, data.len()) }
    }
}
impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { dealloc(self.0, self.1) }
    }
}

fn model(seed: u8) -> Platform {
    Platform::emulated(ModelConfig {
        seed: Some([seed; 32]),
        ..ModelConfig::default()
    })
    .unwrap()
}

/// A RUNNING guest with policy 0 whose memory holds `plain` (encrypted).
fn running_guest(p: &Platform, mem: &Mem, plain: &[u8]) -> Guest {
    let mut g = Guest::new(p).unwrap();
    g.init().unwrap();
    g.launch_start(0, 0, None, None).unwrap();
    mem.fill(plain);
    // SAFETY: `mem` is mapped for its whole size and outlives the guest in these tests.
    unsafe {
        g.register_region(mem.0, plain.len()).unwrap();
        g.launch_update_data(mem.0, plain.len()).unwrap();
    }
    g.launch_measure().unwrap();
    g.launch_finish().unwrap();
    g
}

#[test]
fn send_and_receive_two_pages_between_models() {
    let src_p = model(1);
    let dst_p = model(2);
    let plain: Vec<u8> = (0..2 * PAGE).map(|i| (i * 13 % 253) as u8).collect();
    let src_mem = Mem::new(2 * PAGE);
    let mut src = running_guest(&src_p, &src_mem, &plain);
    assert_ne!(
        src_mem.bytes(),
        &plain[..],
        "the source memory is ciphertext"
    );

    // Target side: its PDH and chain; AMD's ASK ‖ ARK for its chip.
    let (dst_pdh, dst_chain) = dst_p.pdh_cert_export().unwrap();
    let amd = dst_p.model().unwrap().amd_ask_ark();
    let (session, policy) = src.send_start(&dst_pdh, &dst_chain, &amd).unwrap();
    assert_eq!(session.len(), 128);
    assert_eq!(policy, 0);
    assert_eq!(src.status().unwrap().state, 4, "SUPDATE");

    let (src_pdh, _) = src_p.pdh_cert_export().unwrap();
    let mut dst = Guest::new(&dst_p).unwrap();
    dst.init().unwrap();
    let h = dst.receive_start(policy, &src_pdh, &session, 0).unwrap();
    assert_ne!(h, 0);
    assert_eq!(dst.handle(), h);
    let dst_mem = Mem::new(2 * PAGE);
    // SAFETY: `dst_mem` is mapped and outlives `dst`.
    unsafe { dst.register_region(dst_mem.0, 2 * PAGE) }.unwrap();

    let mut hdr = [0u8; 52];
    let mut trans = vec![0u8; PAGE];
    for page in 0..2 {
        // SAFETY: one page of mapped source memory; the transport buffer holds a page.
        unsafe { src.send_update_data(src_mem.0.add(page * PAGE), PAGE, &mut hdr, &mut trans) }
            .unwrap();
        assert_ne!(&trans[..], &plain[page * PAGE..(page + 1) * PAGE]);
        if page == 1 {
            // A flipped bit in transit is the firmware's MAC failure on the target.
            let mut bad = trans.clone();
            bad[100] ^= 1;
            // SAFETY: one page of mapped target memory.
            let e =
                unsafe { dst.receive_update_data(&hdr, dst_mem.0.add(page * PAGE), PAGE, &bad) }
                    .unwrap_err();
            assert_eq!(e.status, Status::LIBSEV_STATUS_FW_BAD_MEASUREMENT);
            assert_eq!((e.os_errno, e.fw_error), (libc::EIO, 0x0B));
        }
        // SAFETY: as above.
        unsafe { dst.receive_update_data(&hdr, dst_mem.0.add(page * PAGE), PAGE, &trans) }.unwrap();
    }
    src.send_finish().unwrap();
    dst.receive_finish().unwrap();
    assert_eq!(src.status().unwrap().state, 6, "SENT");
    assert_eq!(dst.status().unwrap().state, 3, "RUNNING");

    // The target holds the plaintext under its own key.
    assert_ne!(dst_mem.bytes(), &plain[..]);
    let mut out = vec![0u8; 2 * PAGE];
    // SAFETY: both ranges are mapped, 2 pages.
    unsafe { dst.dbg_decrypt(dst_mem.0, out.as_mut_ptr(), 2 * PAGE) }.unwrap();
    assert_eq!(out, plain);
}

#[test]
fn send_cancel_returns_to_running_and_a_bad_session_is_refused() {
    let src_p = model(3);
    let dst_p = model(4);
    let plain = vec![0x5Au8; PAGE];
    let mem = Mem::new(PAGE);
    let mut src = running_guest(&src_p, &mem, &plain);
    let (dst_pdh, dst_chain) = dst_p.pdh_cert_export().unwrap();
    let amd = dst_p.model().unwrap().amd_ask_ark();
    let (mut session, _) = src.send_start(&dst_pdh, &dst_chain, &amd).unwrap();
    src.send_cancel().unwrap();
    assert_eq!(src.status().unwrap().state, 3, "RUNNING again");

    let (src_pdh, _) = src_p.pdh_cert_export().unwrap();
    let mut dst = Guest::new(&dst_p).unwrap();
    dst.init().unwrap();
    session[40] ^= 0x80;
    let e = dst.receive_start(0, &src_pdh, &session, 0).unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_FW_BAD_MEASUREMENT);
    assert_eq!(dst.handle(), 0, "no handle on failure");
}
