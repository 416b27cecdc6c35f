//! LAUNCH_SECRET packets against a model guest in LSECRET, through the safe API: fuzzed
//! header, ciphertext, guest address alignment and lengths.
//!
//! Input: flags u8 ‖ guest_off u16 ‖ guest_len u16 ‖ hdr_len u8 ‖ xor_off u16 ‖ rest.
//! flags bit 0: package a real secret (the owner side, plaintext = the first 16·k bytes of
//! `rest`) and XOR the remaining bytes into header ‖ ciphertext at `xor_off`; otherwise the
//! header is the first `hdr_len` bytes of `rest` and the ciphertext the remainder.
//! bit 1: guest_len = the ciphertext's length (what a correct caller passes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::api::{Guest, Platform};
use sev::certs::SevCert;
use sev::model::ModelConfig;
use sev::owner::{FirmwareVersion, SecretOptions, Session};
use std::cell::RefCell;

mod common;
use common::{Input, Mem, xor_into};

struct World {
    _platform: Platform,
    guest: Guest,
    session: Session,
    mem: Mem,
}

const MEM: usize = 0x8000;

thread_local! {
    static WORLD: RefCell<World> = RefCell::new({
        let platform = Platform::emulated(ModelConfig {
            seed: Some([9; 32]),
            ..ModelConfig::default()
        })
        .expect("model");
        let (pdh, _) = platform.pdh_cert_export().expect("PDH_CERT_EXPORT");
        let pdh = SevCert::from_bytes(&pdh).expect("PDH");
        let mut session = Session::new(&pdh, 0).expect("session");
        let mut guest = Guest::new(&platform).expect("guest");
        guest.init().expect("INIT");
        guest
            .launch_start(0, 0, Some(session.godh().unwrap().as_bytes()), Some(session.blob().unwrap()))
            .expect("LAUNCH_START");
        let mem = Mem::new(MEM);
        session.measure_update(&vec![0u8; 4096]).unwrap();
        // SAFETY: the first page of `mem`, ours and not otherwise accessed.
        unsafe { guest.launch_update_data(mem.at(0), 4096) }.expect("LAUNCH_UPDATE_DATA");
        let m = guest.launch_measure().expect("LAUNCH_MEASURE");
        let st = platform.status().expect("PLATFORM_STATUS");
        session
            .verify_measurement(FirmwareVersion::new(st.api_major, st.api_minor, st.build), &m)
            .expect("measurement verifies");
        World { _platform: platform, guest, session, mem }
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
            let n = (hdr_len * 16).clamp(16, 0x5000);
            let plain: Vec<u8> = (0..n).map(|i| rest.get(i).copied().unwrap_or(0)).collect();
            let s = w
                .session
                .package_secret(&plain, SecretOptions::default())
                .expect("a valid secret packages");
            let mut both = s.header.to_vec();
            both.extend_from_slice(&s.ciphertext);
            let mask = rest.get(n..).unwrap_or(&[]);
            xor_into(&mut both, xor_off, mask);
            let trans = both.split_off(52);
            (both, trans, mask.iter().all(|&b| b == 0))
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
        let r = unsafe { w.guest.launch_secret(&hdr, at, guest_len, &trans) };
        if valid && flags & 2 != 0 && guest_off.is_multiple_of(16) && trans.len() <= room {
            r.expect("an untouched packet at an aligned address is accepted");
        }
        let st = w.guest.status().expect("GUEST_STATUS");
        assert_eq!(
            st.state, 2,
            "LAUNCH_SECRET never changes the state (LSECRET)"
        );
    });
});
