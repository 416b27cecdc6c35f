//! The C ABI called from Rust with fuzzed length arguments and NULL pointers over valid
//! buffers: every length the library sees is at most the size of the buffer passed with it
//! (so the library's own checks are what is tested, never an out-of-bounds read we caused).
//! Checked on every call: no panic escapes, a failed call leaves output buffers untouched,
//! a successful one reports a length within the buffer.
//!
//! Input: op u8 ‖ nulls u8 ‖ 4 × len u16 ‖ policy u32 ‖ rest (the input buffers).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::ffi::*;
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ptr::{null, null_mut};

mod common;
use common::{Input, Mem};

const SENTINEL: u8 = 0xA5;

fn zeroed<T>() -> T {
    // SAFETY: only used for the plain-data repr(C) structs of the C API (integers, arrays,
    // pointers), for which all-zero is a valid value.
    unsafe { MaybeUninit::<T>::zeroed().assume_init() }
}

/// An output buffer of `cap` sentinel bytes and the length argument (at most `cap`).
struct Out {
    buf: Vec<u8>,
    len: usize,
    null: bool,
    out_len: usize,
}

impl Out {
    fn new(cap: usize, len: u16, null: bool) -> Out {
        Out {
            buf: vec![SENTINEL; cap],
            len: (len as usize) % (cap + 1),
            null,
            out_len: usize::MAX,
        }
    }
    fn ptr(&mut self) -> *mut u8 {
        if self.null {
            null_mut()
        } else {
            self.buf.as_mut_ptr()
        }
    }
    fn len(&self) -> usize {
        if self.null { 0 } else { self.len }
    }
    /// The buffer rule: on success `out_len` ≤ `len`; on failure nothing written.
    fn check(&self, status: u32, what: &str) {
        if status == 0 {
            assert!(
                self.out_len <= self.len(),
                "{what}: out_len beyond the buffer"
            );
        } else {
            assert!(
                self.buf.iter().all(|&b| b == SENTINEL),
                "{what}: failed with status {status} but wrote the buffer"
            );
        }
        if status == 3 {
            assert_ne!(
                self.out_len,
                usize::MAX,
                "{what}: BUFFER_TOO_SMALL without the size"
            );
        }
    }
    /// For a single output: BUFFER_TOO_SMALL means this buffer was too small.
    fn check_one(&self, status: u32, what: &str) {
        self.check(status, what);
        if status == 3 {
            assert!(
                self.out_len > self.len(),
                "{what}: BUFFER_TOO_SMALL but it fits"
            );
        }
    }
}

/// An input slice cut from the fuzz data: pointer (maybe NULL) and a length ≤ its size.
fn input(b: &[u8], len: u16, is_null: bool) -> (*const u8, usize) {
    let n = (len as usize) % (b.len() + 1);
    if is_null {
        (null(), n)
    } else {
        (b.as_ptr(), n)
    }
}

thread_local! {
    static PLATFORM: Cell<*mut libsev_platform> = {
        let mut cfg: libsev_model_config = zeroed();
        let mut p = null_mut();
        // SAFETY: cfg and p are writable locals.
        unsafe {
            assert_eq!(libsev_model_config_init(&mut cfg) as u32, 0);
            assert_eq!(libsev_platform_new_emulated(&cfg, &mut p, null_mut()) as u32, 0);
        }
        Cell::new(p)
    };
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let op = inp.u8();
    let nulls = inp.u8();
    let lens = [inp.u16(), inp.u16(), inp.u16(), inp.u16()];
    let policy = inp.u32();
    let rest = inp.rest();
    let null = |i: u32| nulls & (1 << i) != 0;
    // Input buffers: `rest` cut into four consecutive pieces by the lengths.
    let mut pieces = Vec::new();
    let mut r = rest;
    for l in lens {
        let (a, b) = r.split_at((l as usize).min(r.len()));
        pieces.push(a);
        r = b;
    }
    let mut err: libsev_error = zeroed();
    let platform = PLATFORM.with(|p| p.get());
    // SAFETY (all blocks below): every pointer is NULL or points to at least as many bytes as
    // the length passed with it; handles come from the library and are freed once.
    match op % 8 {
        0 => {
            let mut out: libsev_chain_result = zeroed();
            let a = input(pieces[0], lens[0], null(0));
            let b = input(pieces[1], lens[1], null(1));
            let c = input(pieces[2], lens[2], null(2));
            let d = input(pieces[3], lens[3], null(3));
            let out_p = if null(4) {
                null_mut()
            } else {
                &mut out as *mut _
            };
            let _ = unsafe {
                libsev_chain_verify(
                    a.0, a.1, b.0, b.1, c.0, c.1, d.0, d.1, policy, out_p, &mut err,
                )
            };
        }
        1 => {
            let mut out: libsev_chain_result = zeroed();
            let a = input(pieces[0], lens[0], null(0));
            let b = input(pieces[1], lens[1], null(1));
            let c = input(pieces[2], lens[2], null(2));
            let _ = unsafe {
                libsev_chain_verify_blob(a.0, a.1, c.0, c.1, b.0, b.1, policy, &mut out, &mut err)
            };
        }
        2 => {
            let pdh = input(pieces[0], lens[0], null(0));
            let mut s = null_mut();
            let st = unsafe { libsev_owner_session_new(pdh.0, pdh.1, policy, &mut s, &mut err) };
            if st as u32 != 0 {
                assert!(s.is_null(), "no handle on failure");
                return;
            }
            let mut o = Out::new(2084, lens[1], null(1));
            let st =
                unsafe { libsev_owner_session_godh(s, o.ptr(), o.len(), &mut o.out_len, &mut err) };
            o.check_one(st as u32, "godh");
            let mut o = Out::new(128, lens[2], null(2));
            let st =
                unsafe { libsev_owner_session_blob(s, o.ptr(), o.len(), &mut o.out_len, &mut err) };
            o.check_one(st as u32, "blob");
            let mut o = Out::new(1024, lens[3], null(3));
            let st = unsafe {
                libsev_owner_session_export(s, o.ptr(), o.len(), &mut o.out_len, &mut err)
            };
            o.check_one(st as u32, "export");
            if st as u32 == 0 {
                let mut s2 = null_mut();
                let n = (policy as usize) % (o.out_len + 1);
                let st =
                    unsafe { libsev_owner_session_import(o.buf.as_ptr(), n, &mut s2, &mut err) };
                if st as u32 == 0 {
                    unsafe { libsev_owner_session_free(s2) };
                }
            }
            unsafe { libsev_owner_session_free(s) };
        }
        3 => {
            let a = input(rest, lens[0], null(0));
            let mut s = null_mut();
            let st = unsafe { libsev_owner_session_import(a.0, a.1, &mut s, &mut err) };
            if st as u32 == 0 {
                unsafe { libsev_owner_session_free(s) };
            }
        }
        4 => {
            let mut out: libsev_attestation_info = zeroed();
            let a = input(pieces[0], lens[0], null(0));
            let b = input(pieces[1], lens[1], null(1));
            let _ = unsafe { libsev_attestation_verify(a.0, a.1, b.0, b.1, &mut out, &mut err) };
        }
        5 => {
            let mut pdh = Out::new(0x824, lens[0], null(0));
            let mut chain = Out::new(0x186C, lens[1], null(1));
            let st = unsafe {
                libsev_platform_pdh_cert_export(
                    platform,
                    pdh.ptr(),
                    pdh.len(),
                    &mut pdh.out_len,
                    chain.ptr(),
                    chain.len(),
                    &mut chain.out_len,
                    &mut err,
                )
            };
            pdh.check(st as u32, "pdh");
            chain.check(st as u32, "chain");
            if st as u32 == 3 {
                assert!(
                    pdh.out_len > pdh.len() || chain.out_len > chain.len(),
                    "PDH_CERT_EXPORT: BUFFER_TOO_SMALL but both fit"
                );
            }
            let mut id = Out::new(128, lens[2], null(2));
            let st = unsafe {
                libsev_platform_get_id(platform, id.ptr(), id.len(), &mut id.out_len, &mut err)
            };
            id.check_one(st as u32, "get_id");
            let mut csr = Out::new(0x824, lens[3], null(3));
            let st = unsafe {
                libsev_platform_pek_csr(platform, csr.ptr(), csr.len(), &mut csr.out_len, &mut err)
            };
            csr.check_one(st as u32, "pek_csr");
        }
        6 => {
            let a = input(pieces[0], lens[0], null(0));
            let b = input(pieces[1], lens[1], null(1));
            let _ =
                unsafe { libsev_platform_pek_cert_import(platform, a.0, a.1, b.0, b.1, &mut err) };
        }
        _ => {
            let mut g = null_mut();
            assert_eq!(
                unsafe { libsev_guest_new(platform, &mut g, &mut err) } as u32,
                0
            );
            assert_eq!(unsafe { libsev_guest_init(g, &mut err) } as u32, 0);
            let dh = input(pieces[0], lens[0], null(0));
            let se = input(pieces[1], lens[1], null(1));
            let mut h = 0u32;
            let st = unsafe {
                libsev_guest_launch_start(g, policy, 0, dh.0, dh.1, se.0, se.1, &mut h, &mut err)
            };
            let started = st as u32 == 0;
            if started {
                let mem = Mem::new(0x2000);
                let hdr = input(pieces[2], lens[2], null(2));
                let tr = input(pieces[3], lens[3], null(3));
                let off = (lens[0] as usize) % 0x2000;
                let glen = (lens[3] as usize).min(mem.room(off));
                let _ = unsafe {
                    libsev_guest_launch_secret(
                        g,
                        hdr.0,
                        hdr.1,
                        mem.at(off),
                        glen,
                        tr.0,
                        tr.1,
                        &mut err,
                    )
                };
                let mut m = Out::new(64, lens[2], null(4));
                let st = unsafe {
                    libsev_guest_launch_measure(g, m.ptr(), m.len(), &mut m.out_len, &mut err)
                };
                m.check_one(st as u32, "measure");
                let mnonce = [0u8; 16];
                let mut rep = Out::new(256, lens[3], null(5));
                let st = unsafe {
                    libsev_guest_attestation_report(
                        g,
                        mnonce.as_ptr(),
                        rep.ptr(),
                        rep.len(),
                        &mut rep.out_len,
                        &mut err,
                    )
                };
                rep.check_one(st as u32, "attestation");
            } else {
                assert_eq!(h, 0, "no handle on failure");
            }
            unsafe { libsev_guest_free(g) };
        }
    }
});
