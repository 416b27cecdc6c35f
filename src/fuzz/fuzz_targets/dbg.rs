//! DBG_DECRYPT / DBG_ENCRYPT through the safe API against a model guest, with fuzzed source
//! and destination offsets (alignment, page position) and lengths — the model's KVM layer
//! splits these by page and bounces unaligned pieces, which is where buffer arithmetic goes
//! wrong. Ranges always lie inside the buffers passed; AddressSanitizer watches the rest.
//!
//! Input: flags u8 ‖ src_off u16 ‖ dst_off u16 ‖ len u16 ‖ data.
//! flags bit 0: decrypt (else encrypt); bit 1: source and destination in the same buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::api::{Guest, Platform};
use sev::model::ModelConfig;
use std::cell::RefCell;

mod common;
use common::{Input, Mem};

const MEM: usize = 4 * 4096;

struct World {
    _platform: Platform,
    guest: Guest,
    a: Mem,
    b: Mem,
}

thread_local! {
    static WORLD: RefCell<World> = RefCell::new({
        let platform = Platform::emulated(ModelConfig {
            seed: Some([13; 32]),
            ..ModelConfig::default()
        })
        .expect("model");
        let mut guest = Guest::new(&platform).expect("guest");
        guest.init().expect("INIT");
        guest.launch_start(0, 0, None, None).expect("LAUNCH_START");
        World { _platform: platform, guest, a: Mem::new(MEM), b: Mem::new(MEM) }
    });
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let src_off = inp.u16() as usize % MEM;
    let dst_off = inp.u16() as usize % MEM;
    let len = inp.u16() as usize;
    let fill = inp.rest();
    WORLD.with(|w| {
        let w = &mut *w.borrow_mut();
        let (src, dst) = if flags & 2 != 0 {
            (&w.a, &w.a)
        } else {
            (&w.a, &w.b)
        };
        let len = len.min(src.room(src_off)).min(dst.room(dst_off));
        src.write(src_off, &fill[..fill.len().min(len)]);
        // SAFETY: both ranges lie inside their buffers (`len` ≤ room); nothing else uses them.
        let r = unsafe {
            if flags & 1 != 0 {
                w.guest.dbg_decrypt(src.at(src_off), dst.at(dst_off), len)
            } else {
                w.guest.dbg_encrypt(src.at(src_off), dst.at(dst_off), len)
            }
        };
        if len == 0 {
            assert!(r.is_err(), "an empty range is refused");
        }
        // A round trip of an aligned, in-page, disjoint range gives the plaintext back.
        if r.is_ok()
            && flags & 3 == 0
            && src_off.is_multiple_of(16)
            && dst_off.is_multiple_of(16)
            && len.is_multiple_of(16)
        {
            let back = Mem::new(MEM);
            let want = src.read(src_off, len);
            // SAFETY: `len` bytes inside `dst` and `back`.
            unsafe { w.guest.dbg_decrypt(dst.at(dst_off), back.at(0), len) }.expect("decrypt");
            assert_eq!(back.read(0, len), want, "encrypt then decrypt");
        }
    });
});
