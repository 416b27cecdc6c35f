//! RECEIVE_UPDATE_DATA packets against a model guest in RUPDATE (a real migration channel
//! from a second model), through the safe API: fuzzed header, transport data, guest address
//! and lengths.
//!
//! Input: flags u8 ‖ guest_off u16 ‖ guest_len u16 ‖ hdr_len u8 ‖ xor_off u16 ‖ rest.
//! flags bit 0: start from a real packet of the source (bit 2 picks the 16-byte or the
//! 4096-byte one) and XOR `rest` into header ‖ transport data at `xor_off`; otherwise the
//! header is the first `hdr_len` bytes of `rest` and the data the remainder.
//! bit 1: guest_len = the data's length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::api::{Guest, Platform};
use sev::model::ModelConfig;
use std::cell::RefCell;

mod common;
use common::{Input, Mem, xor_into};

struct World {
    _platforms: (Platform, Platform),
    _source: Guest,
    target: Guest,
    /// (header, transport data) of real packets: 16 bytes and one page.
    packets: Vec<(Vec<u8>, Vec<u8>)>,
    mem: Mem,
}

const MEM: usize = 0x8000;

fn model(seed: u8) -> Platform {
    Platform::emulated(ModelConfig {
        seed: Some([seed; 32]),
        ..ModelConfig::default()
    })
    .expect("model")
}

thread_local! {
    static WORLD: RefCell<World> = RefCell::new({
        let (sp, tp) = (model(11), model(12));
        let src_mem = Mem::new(4096);
        let mut src = Guest::new(&sp).expect("guest");
        src.init().expect("INIT");
        src.launch_start(0, 0, None, None).expect("LAUNCH_START");
        // SAFETY: `src_mem` is ours, one page, not otherwise accessed.
        unsafe { src.launch_update_data(src_mem.at(0), 4096) }.expect("LAUNCH_UPDATE_DATA");
        src.launch_measure().expect("LAUNCH_MEASURE");
        src.launch_finish().expect("LAUNCH_FINISH");
        let (tpdh, tchain) = tp.pdh_cert_export().expect("target PDH");
        let amd = tp.model().expect("model").amd_ask_ark();
        let (session, policy) = src.send_start(&tpdh, &tchain, &amd).expect("SEND_START");
        let (spdh, _) = sp.pdh_cert_export().expect("source PDH");
        let mut target = Guest::new(&tp).expect("guest");
        target.init().expect("INIT");
        target.receive_start(policy, &spdh, &session, 0).expect("RECEIVE_START");
        let mut packets = Vec::new();
        for n in [16usize, 4096] {
            let mut hdr = [0u8; 52];
            let mut trans = vec![0u8; n];
            // SAFETY: `n` bytes of the mapped source page.
            unsafe { src.send_update_data(src_mem.at(0), n, &mut hdr, &mut trans) }
                .expect("SEND_UPDATE_DATA");
            packets.push((hdr.to_vec(), trans));
        }
        World {
            _platforms: (sp, tp),
            _source: src,
            target,
            packets,
            mem: Mem::new(MEM),
        }
    });
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let guest_off = inp.u16() as usize;
    let mut guest_len = inp.u16() as usize;
    let hdr_len = inp.u8() as usize;
    let xor_off = inp.u16() as usize;
    let rest = inp.rest();
    WORLD.with(|w| {
        let w = &mut *w.borrow_mut();
        let (hdr, trans, valid) = if flags & 1 != 0 {
            let (h, t) = &w.packets[(flags as usize >> 2) & 1];
            let mut both = h.clone();
            both.extend_from_slice(t);
            xor_into(&mut both, xor_off, rest);
            let trans = both.split_off(52);
            (both, trans, rest.iter().all(|&b| b == 0))
        } else {
            let (h, t) = rest.split_at(hdr_len.min(rest.len()));
            (h.to_vec(), t.to_vec(), false)
        };
        if flags & 2 != 0 {
            guest_len = trans.len();
        }
        let room = w.mem.room(guest_off);
        let guest_len = guest_len.min(room);
        let at = w.mem.at(guest_off);
        // SAFETY: `at..at+guest_len` lies inside `mem`, which nothing else touches now.
        let r = unsafe { w.target.receive_update_data(&hdr, at, guest_len, &trans) };
        // KVM refuses a guest range that crosses a page boundary (EINVAL), as the kernel does.
        let in_page = (at as usize & 0xFFF) + trans.len() <= 4096;
        if valid && flags & 2 != 0 && guest_off.is_multiple_of(16) && trans.len() <= room && in_page
        {
            r.expect("an untouched packet at an aligned address is accepted");
        }
        let st = w.target.status().expect("GUEST_STATUS");
        assert_eq!(
            st.state, 5,
            "RECEIVE_UPDATE_DATA never changes the state (RUPDATE)"
        );
    });
});
