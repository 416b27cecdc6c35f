//! Secret hygiene (SECURITY.md): no TEK, TIK or launch secret reaches the log, even at TRACE,
//! during a whole launch with a secure channel, a secret injection and failing commands; and
//! the public secret-holding types wipe themselves.

#[path = "model_common/mod.rs"]
mod model_common;

use sev::api::{Guest, Platform};
use sev::log::Level;
use sev::model::ModelConfig;
use std::sync::{Arc, Mutex};
use zeroize::{Zeroize, ZeroizeOnDrop};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Page-aligned guest memory.
struct Mem {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Mem {
    fn new(len: usize) -> Mem {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Mem { ptr, layout }
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

/// Every way the bytes could appear in a message: hex in either case, and as text.
fn leaks(log: &str, what: &str, secret: &[u8]) -> Option<String> {
    let h = hex(secret);
    // Eight bytes of hex are enough to call it a leak, wherever they start.
    for w in [h.clone(), h.to_uppercase()] {
        for start in (0..w.len().saturating_sub(16)).step_by(2) {
            if log.contains(&w[start..start + 16]) {
                return Some(format!("{what} (hex from byte {})", start / 2));
            }
        }
    }
    let text = String::from_utf8_lossy(secret);
    (secret.is_ascii() && log.contains(text.as_ref())).then(|| format!("{what} (as text)"))
}

#[test]
fn a_full_launch_logs_no_tek_tik_or_secret() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    sev::log::set_rust_sink(
        Box::new(move |level, msg| sink.lock().unwrap().push(format!("{level:?} {msg}"))),
        Level::LIBSEV_LOG_TRACE,
    );

    let p = Platform::emulated(ModelConfig::default()).unwrap();
    let (pdh, _) = p.pdh_cert_export().unwrap();
    let s = model_common::owner_session(&pdh, 0);
    let mut g = Guest::new(&p).unwrap();
    g.init().unwrap();
    g.launch_start(0, 0, Some(&s.godh_cert), Some(&s.blob))
        .unwrap();
    let mem = Mem::new(8192);
    // SAFETY: `mem` is ours, mapped, and not otherwise accessed.
    unsafe { g.launch_update_data(mem.ptr, 4096) }.unwrap();
    let m = g.launch_measure().unwrap();
    let secret = b"correct horse battery staple, v1";
    let (hdr, ct) = model_common::secret_packet(&s, &m[..32], secret);
    // SAFETY: the second page of `mem`.
    let guest = unsafe { mem.ptr.add(4096) };
    // SAFETY: as above; `ct.len()` bytes fit in the page.
    unsafe { g.launch_secret(&hdr, guest, ct.len(), &ct) }.expect("the secret is accepted");
    // A refused packet (flipped MAC) is logged as a failure, with no key material either.
    let mut bad = hdr.clone();
    bad[30] ^= 1;
    // SAFETY: as above.
    let e = unsafe { g.launch_secret(&bad, guest, ct.len(), &ct) }.unwrap_err();
    assert_eq!(e.fw_error, model_common::st::BAD_MEASUREMENT);
    g.launch_finish().unwrap();
    let _ = g.attestation_report([1; 16]).unwrap();
    drop(g);
    sev::log::clear();

    let lines = lines.lock().unwrap();
    let log = lines.join("\n");
    // The sink really saw the launch (else this test would prove nothing).
    for cmd in [
        "LAUNCH_START",
        "LAUNCH_SECRET",
        "LAUNCH_FINISH",
        "BAD_MEASUREMENT",
    ] {
        assert!(log.contains(cmd), "{cmd} was not logged:\n{log}");
    }
    for (what, bytes) in [
        ("TEK", &s.tek[..]),
        ("TIK", &s.tik[..]),
        ("the secret", &secret[..]),
        ("the encrypted secret", &ct[..]),
    ] {
        if let Some(l) = leaks(&log, what, bytes) {
            panic!("{l} appears in the log:\n{log}");
        }
    }
    eprintln!("secret hygiene: {} log lines checked", lines.len());
}

#[test]
fn transport_keys_zeroize() {
    fn on_drop<T: ZeroizeOnDrop>() {}
    on_drop::<sev::owner::crypto::TransportKeys>();
    let mut k = sev::owner::crypto::TransportKeys {
        tek: [0xA5; 16],
        tik: [0x5A; 16],
    };
    assert_eq!(
        format!("{k:?}"),
        "TransportKeys(<secret>)",
        "Debug hides the keys"
    );
    k.zeroize();
    assert_eq!((k.tek, k.tik), ([0; 16], [0; 16]));
}

#[test]
fn exported_owner_state_is_zeroizing() {
    // The exported owner state holds TEK and TIK: it comes back in a Zeroizing buffer.
    let p = Platform::emulated(ModelConfig::default()).unwrap();
    let (pdh, _) = p.pdh_cert_export().unwrap();
    let pdh = sev::certs::SevCert::from_bytes(&pdh).unwrap();
    let s = sev::owner::Session::new(&pdh, 0).unwrap();
    let state: zeroize::Zeroizing<Vec<u8>> = s.export_state();
    assert!(!state.is_empty());
    let debug = format!("{s:?}");
    assert!(!debug.to_lowercase().contains("tek"), "{debug}");
}
