//! Soak: many launch + free cycles on one model platform. After a warm-up, the process's
//! resident memory (`VmRSS`) and open file descriptors must stay flat, every guest must give
//! its ASID back (PLATFORM_STATUS guest_count returns to 0) and a full set of `asids` guests
//! must launch again at the end.
//!
//! `SOAK_CYCLES` sets the number of cycles (default 1000 here; `make soak` runs 5000 in
//! release).

use sev::api::{Guest, Platform};
use sev::certs::SevCert;
use sev::model::ModelConfig;
use sev::owner::{FirmwareVersion, Session};

const DEFAULT_CYCLES: usize = 1000;
const ASIDS: u32 = 16;
const IMAGE: usize = 16 * 1024;
/// Allowed RSS growth after the warm-up.
const RSS_TOLERANCE_KIB: u64 = 4096;
/// Allowed change in the number of open fds after the warm-up.
const FD_TOLERANCE: usize = 2;

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Page-aligned guest memory.
struct Mem {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Mem {
    fn new(len: usize, fill: u8) -> Mem {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        assert!(!ptr.is_null());
        // SAFETY: `len` writable bytes just allocated.
        unsafe { std::ptr::write_bytes(ptr, fill, len) };
        Mem { ptr, layout }
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: initialised above, not written during the borrow.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

/// One full launch to RUNNING; every 10th with an owner session whose measurement must
/// verify. The guest and its memory are freed on return.
fn cycle(p: &Platform, pdh: &SevCert, version: FirmwareVersion, i: usize) {
    let mem = Mem::new(IMAGE, i as u8);
    let plain = mem.bytes().to_vec();
    let mut g = Guest::new(p).expect("guest");
    g.init().expect("INIT");
    let mut session = (i % 10 == 0).then(|| Session::new(pdh, 0).expect("session"));
    match &session {
        Some(s) => g.launch_start(
            0,
            0,
            Some(s.godh().unwrap().as_bytes()),
            Some(s.blob().unwrap()),
        ),
        None => g.launch_start(0, 0, None, None),
    }
    .unwrap_or_else(|e| panic!("cycle {i}: LAUNCH_START: {e}"));
    // SAFETY: `mem` is ours, mapped for IMAGE bytes, and outlives the guest.
    unsafe {
        g.register_region(mem.ptr, IMAGE).expect("register");
        g.launch_update_data(mem.ptr, IMAGE)
            .expect("LAUNCH_UPDATE_DATA");
    }
    assert_ne!(mem.bytes(), &plain[..], "encrypted in place");
    let m = g.launch_measure().expect("LAUNCH_MEASURE");
    if let Some(s) = session.as_mut() {
        s.measure_update(&plain).unwrap();
        s.verify_measurement(version, &m)
            .expect("measurement verifies");
    }
    g.launch_finish().expect("LAUNCH_FINISH");
    assert_eq!(g.status().expect("GUEST_STATUS").state, 3, "RUNNING");
    g.unregister_region(mem.ptr, IMAGE).expect("unregister");
}

#[test]
fn launch_and_free_cycles_keep_memory_fds_and_asids_flat() {
    let cycles: usize = std::env::var("SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CYCLES);
    let warmup = (cycles / 10).max(20).min(cycles);
    let p = Platform::emulated(ModelConfig {
        seed: Some([0x50; 32]),
        asids: ASIDS,
        ..ModelConfig::default()
    })
    .expect("model platform");
    let (pdh, _) = p.pdh_cert_export().unwrap();
    let pdh = SevCert::from_bytes(&pdh).unwrap();
    let st = p.status().unwrap();
    let version = FirmwareVersion::new(st.api_major, st.api_minor, st.build);

    let started = std::time::Instant::now();
    let (rss0, fds0) = (rss_kib(), open_fds());
    for i in 0..warmup {
        cycle(&p, &pdh, version, i);
    }
    let (rss1, fds1) = (rss_kib(), open_fds());
    let mut rss_max = rss1;
    for i in warmup..cycles {
        cycle(&p, &pdh, version, i);
        if i % 50 == 0 {
            rss_max = rss_max.max(rss_kib());
            assert_eq!(
                p.status().unwrap().guest_count,
                0,
                "cycle {i}: guests leaked"
            );
        }
    }
    let (rss2, fds2) = (rss_kib(), open_fds());
    rss_max = rss_max.max(rss2);
    eprintln!(
        "soak: {cycles} launch+free cycles in {:.1?}; VmRSS start {rss0} KiB, after {warmup} \
         warm-up cycles {rss1} KiB, end {rss2} KiB (max {rss_max} KiB); open fds {fds0} -> \
         {fds1} -> {fds2}",
        started.elapsed()
    );
    assert!(
        rss_max <= rss1 + RSS_TOLERANCE_KIB,
        "RSS grew from {rss1} KiB to {rss_max} KiB after the warm-up"
    );
    assert!(
        fds2.abs_diff(fds1) <= FD_TOLERANCE,
        "open fds went from {fds1} to {fds2}"
    );

    // Every ASID came back: no guest left, and `ASIDS` guests launch at once again.
    assert_eq!(p.status().unwrap().guest_count, 0, "guests left");
    let mut live = Vec::new();
    for i in 0..ASIDS {
        let mut g = Guest::new(&p).unwrap();
        g.init().unwrap();
        g.launch_start(0, 0, None, None)
            .unwrap_or_else(|e| panic!("guest {i} of {ASIDS} after the soak: {e}"));
        live.push(g);
    }
    assert_eq!(p.status().unwrap().guest_count, ASIDS);
    let mut extra = Guest::new(&p).unwrap();
    extra.init().unwrap();
    assert!(
        extra.launch_start(0, 0, None, None).is_err(),
        "one guest more than there are ASIDs is refused"
    );
    drop(extra);
    drop(live);
    assert_eq!(p.status().unwrap().guest_count, 0, "all freed again");
}
