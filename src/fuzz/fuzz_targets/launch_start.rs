//! LAUNCH_START through the safe API against the firmware model, with fuzzed policy,
//! key-sharing handle, GODH certificate and session blob.
//!
//! Input: policy u32 ‖ flags u8 ‖ share u8 ‖ godh_len u16 ‖ session_len u8 ‖ offset u16 ‖ rest.
//! flags bit 0: build a real owner session for the policy and XOR `rest` into GODH ‖ blob at
//! `offset` (reaches the MAC and policy checks); otherwise GODH and blob are cut from `rest`.
//! bit 1: no GODH; bit 2: no session; bit 3: share the key of a live guest (`share` picks it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::api::{Guest, Platform};
use sev::certs::SevCert;
use sev::model::ModelConfig;
use sev::owner::Session;
use std::cell::RefCell;

mod common;
use common::{Input, xor_into};

struct World {
    platform: Platform,
    pdh: SevCert,
    /// Guests whose keys a new launch may share (policies 0, NOKS, and 0x10000).
    anchors: Vec<Guest>,
}

thread_local! {
    static WORLD: RefCell<World> = RefCell::new({
        let platform = Platform::emulated(ModelConfig {
            seed: Some([7; 32]),
            ..ModelConfig::default()
        })
        .expect("model");
        let (pdh, _) = platform.pdh_cert_export().expect("PDH_CERT_EXPORT");
        let pdh = SevCert::from_bytes(&pdh).expect("PDH parses");
        let mut anchors = Vec::new();
        for policy in [0u32, 2, 0x1_0000] {
            let mut g = Guest::new(&platform).expect("guest");
            g.init().expect("INIT");
            g.launch_start(policy, 0, None, None).expect("LAUNCH_START");
            anchors.push(g);
        }
        World { platform, pdh, anchors }
    });
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let policy = inp.u32();
    let flags = inp.u8();
    let share_sel = inp.u8();
    let godh_len = inp.u16() as usize;
    let session_len = inp.u8() as usize;
    let offset = inp.u16() as usize;
    let rest = inp.rest();
    WORLD.with(|w| {
        let w = &mut *w.borrow_mut();
        let (mut godh, mut blob) = if flags & 1 != 0 {
            let Ok(s) = Session::new(&w.pdh, policy) else {
                return;
            };
            let mut both = s.godh().expect("godh").as_bytes().to_vec();
            both.extend_from_slice(s.blob().expect("blob"));
            xor_into(&mut both, offset, rest);
            let blob = both.split_off(2084);
            (both, blob)
        } else {
            let (g, r) = rest.split_at(godh_len.min(rest.len()));
            (g.to_vec(), r[..session_len.min(r.len())].to_vec())
        };
        if flags & 2 != 0 {
            godh.clear();
        }
        if flags & 4 != 0 {
            blob.clear();
        }
        let share = if flags & 8 != 0 {
            w.anchors[share_sel as usize % w.anchors.len()].handle()
        } else {
            share_sel as u32 >> 4
        };
        let mut g = Guest::new(&w.platform).expect("guest");
        g.init().expect("INIT");
        let godh = (!godh.is_empty()).then_some(&godh[..]);
        let blob = (!blob.is_empty()).then_some(&blob[..]);
        match g.launch_start(policy, share, godh, blob) {
            Ok(h) => {
                assert_ne!(h, 0);
                let st = g
                    .status()
                    .expect("GUEST_STATUS after a successful LAUNCH_START");
                assert_eq!(
                    (st.state, st.policy),
                    (1, policy),
                    "LUPDATE with the policy"
                );
                let m = g.launch_measure().expect("LAUNCH_MEASURE");
                assert_eq!(m.len(), 48);
            }
            Err(e) => {
                assert_eq!(g.handle(), 0, "no handle after a failed LAUNCH_START");
                assert!(!e.message.is_empty());
            }
        }
    });
});
