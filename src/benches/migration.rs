//! Live-migration throughput through the safe API: a guest of `LIBSEV_BENCH_MIB` MiB (1 GiB by
//! default) is launched on one firmware model and streamed page by page (SEND_UPDATE_DATA →
//! socket → RECEIVE_UPDATE_DATA) to a second model in a forked process (each side busy on its
//! own core; `LIBSEV_BENCH_PIN=1` pins them to cores 0 and 1). Reported as bytes/s and as a
//! ratio against HMAC-SHA256 measured in the same run with `openssl speed -hmac sha256`
//! (every packet is MACed once on each side, so HMAC is the physical limit; target ratio
//! ≥ 0.5). `openssl speed` measures CPU time, so the ratio is given for the CPU time of the
//! busier side (what the stream achieves per core) and, for reference, for the wall time
//! (which also counts the time both processes waited for a core on a loaded machine).
//!
//! Run: `cargo bench --bench migration`. Not a test: nothing fails because the machine is slow;
//! the received memory is checked (first and last page decrypted) so a broken stream is loud.

#[path = "common.rs"]
mod common;
use common::{gbs, openssl_speed, pattern};
use sev::api::{Guest, Platform};
use sev::model::ModelConfig;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
const PAGE: usize = 4096;
const HDR: usize = 52;
const FRAME: usize = HDR + PAGE;
const CERT: usize = 2084;
const CHAIN: usize = 3 * CERT;
const SESSION: usize = 128;
/// Packets per batch (a hypervisor batches its migration stream the same way).
const BATCH: usize = 32;
/// Batches in flight: slots of the ring shared by the two processes.
const SLOTS: usize = 8;
const SLOT_BYTES: usize = BATCH * FRAME;

/// Anonymous memory from mmap (what a hypervisor gives its guest).
struct Region {
    ptr: *mut u8,
    len: usize,
}

impl Region {
    /// Private memory, faulted in at once (KVM pins SEV guest memory when it is registered).
    fn new(len: usize) -> Region {
        Region::map(len, libc::MAP_PRIVATE)
    }
    /// Memory shared with a child forked afterwards (the packet ring).
    fn shared(len: usize) -> Region {
        Region::map(len, libc::MAP_SHARED)
    }
    fn map(len: usize, kind: i32) -> Region {
        // SAFETY: a fresh anonymous mapping; checked for failure below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                kind | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap of {len} bytes failed");
        Region { ptr: p.cast(), len }
    }
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: our mapping of `len` bytes.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn pin_to_cpu(cpu: usize) {
    if std::env::var("LIBSEV_BENCH_PIN").map_or(true, |v| v != "1") {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it;
    // sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// CPU time of the calling process so far (user + system), in seconds.
fn cpu_secs() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// Involuntary context switches of the calling process so far (times it was preempted,
/// i.e. had work but no core).
fn preempted() -> u64 {
    // SAFETY: a zeroed rusage is valid to overwrite; getrusage only writes it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid rusage to write.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_nivcsw as u64
}

fn model(seed: u8) -> Platform {
    Platform::emulated(ModelConfig {
        seed: Some([seed; 32]),
        ..ModelConfig::default()
    })
    .expect("model platform")
}

/// The receiving process: its own model; exports its PDH and chain, receives the guest, and
/// answers with its busy time (ns) once the last packet is in and checked.
fn target(mut s: UnixStream, ring: Region, len: usize) -> ! {
    pin_to_cpu(1);
    // The guest memory is mapped and faulted in first, as a hypervisor prepares the target
    // VM before the migration stream starts (faulting in a GiB takes a good part of a
    // second; done after the handshake, it ran inside the sender's timed window).
    let mem = Region::new(len);
    let p = model(2);
    let (pdh, chain) = p.pdh_cert_export().expect("PDH_CERT_EXPORT");
    s.write_all(&pdh).unwrap();
    s.write_all(&chain).unwrap();
    let mut start = vec![0u8; 4 + SESSION + CERT];
    s.read_exact(&mut start).unwrap();
    let policy = u32::from_le_bytes(start[..4].try_into().unwrap());
    let (session, src_pdh) = start[4..].split_at(SESSION);

    let mut g = Guest::new(&p).expect("guest");
    g.init().expect("INIT");
    g.receive_start(policy, src_pdh, session, 0)
        .expect("RECEIVE_START");
    // SAFETY: `mem` stays mapped until the process exits.
    unsafe { g.register_region(mem.ptr, len) }.expect("register region");

    let mut busy = Duration::ZERO;
    let cpu0 = cpu_secs();
    let pre0 = preempted();
    let pages = len / PAGE;
    for (b, first) in (0..pages).step_by(BATCH).enumerate() {
        // "Slot b % SLOTS holds n packets"; after processing, the slot goes back.
        let mut n = [0u8; 4];
        s.read_exact(&mut n).unwrap();
        let n = u32::from_le_bytes(n) as usize;
        assert_eq!(n, BATCH.min(pages - first), "packet count");
        // SAFETY: the slot lies inside the ring; the source does not touch it until we hand
        // it back below (the socket orders the accesses).
        let frames = unsafe {
            std::slice::from_raw_parts(ring.ptr.add((b % SLOTS) * SLOT_BYTES), n * FRAME)
        };
        let t = Instant::now();
        for (i, frame) in frames.chunks(FRAME).enumerate() {
            let (hdr, trans) = frame.split_at(HDR);
            // SAFETY: one page of our mapped region.
            unsafe { g.receive_update_data(hdr, mem.ptr.add((first + i) * PAGE), PAGE, trans) }
                .expect("RECEIVE_UPDATE_DATA");
        }
        busy += t.elapsed();
        s.write_all(&[1]).unwrap();
    }
    let cpu = cpu_secs() - cpu0;
    let pre = preempted() - pre0;
    g.receive_finish().expect("RECEIVE_FINISH");
    s.write_all(&(busy.as_nanos() as u64).to_le_bytes())
        .unwrap();
    s.write_all(&((cpu * 1e9) as u64).to_le_bytes()).unwrap();
    s.write_all(&pre.to_le_bytes()).unwrap();

    // The first and the last page decrypt to the source's pattern.
    let mut out = vec![0u8; PAGE];
    for off in [0, len - PAGE] {
        // SAFETY: one page of our region into a page-sized buffer.
        unsafe { g.dbg_decrypt(mem.ptr.add(off), out.as_mut_ptr(), PAGE) }.expect("DBG_DECRYPT");
        let ok = out
            .chunks(8)
            .enumerate()
            .all(|(i, c)| c == pattern(off / 8 + i));
        s.write_all(&[ok as u8]).unwrap();
    }
    drop(g);
    drop(mem);
    drop(ring);
    // SAFETY: ends the forked child without running the parent's exit handlers twice.
    unsafe { libc::_exit(0) }
}

/// Per-packet cost in one process, without the second process or any IPC: SEND_UPDATE_DATA
/// over `n` pages of a source guest, then RECEIVE_UPDATE_DATA of those packets into a target
/// guest of a second model. Returns (send, receive) in microseconds per 4 KiB packet.
fn per_packet(n: usize) -> (f64, f64) {
    let (sp, tp) = (model(3), model(4));
    let len = n * PAGE;
    let mut src = Guest::new(&sp).expect("guest");
    src.init().expect("INIT");
    src.launch_start(0, 0, None, None).expect("LAUNCH_START");
    let mut mem = Region::new(len);
    for (i, c) in mem.bytes().chunks_mut(8).enumerate() {
        c.copy_from_slice(&pattern(i));
    }
    // SAFETY: `mem` and `dst` below outlive both guests (dropped at the end of the function,
    // after the guests).
    unsafe {
        src.register_region(mem.ptr, len).expect("register");
        src.launch_update_data(mem.ptr, len)
            .expect("LAUNCH_UPDATE_DATA");
    }
    src.launch_measure().expect("LAUNCH_MEASURE");
    src.launch_finish().expect("LAUNCH_FINISH");
    let (pdh, chain) = tp.pdh_cert_export().expect("PDH_CERT_EXPORT");
    let (session, policy) = src
        .send_start(&pdh, &chain, &[0u8; 3200])
        .expect("SEND_START");
    let mut frames = vec![1u8; n * FRAME]; // written, so no first-touch faults in the loop
    let t = Instant::now();
    for (i, f) in frames.chunks_mut(FRAME).enumerate() {
        let (hdr, trans) = f.split_at_mut(HDR);
        // SAFETY: one page of the source region.
        unsafe { src.send_update_data(mem.ptr.add(i * PAGE), PAGE, hdr, trans) }
            .expect("SEND_UPDATE_DATA");
    }
    let send = t.elapsed().as_secs_f64() / n as f64 * 1e6;
    let mut dst = Guest::new(&tp).expect("guest");
    dst.init().expect("INIT");
    let (src_pdh, _) = sp.pdh_cert_export().expect("PDH_CERT_EXPORT");
    dst.receive_start(policy, &src_pdh, &session, 0)
        .expect("RECEIVE_START");
    let dmem = Region::new(len);
    // SAFETY: as above.
    unsafe { dst.register_region(dmem.ptr, len) }.expect("register");
    let t = Instant::now();
    for (i, f) in frames.chunks(FRAME).enumerate() {
        let (hdr, trans) = f.split_at(HDR);
        // SAFETY: one page of the target region.
        unsafe { dst.receive_update_data(hdr, dmem.ptr.add(i * PAGE), PAGE, trans) }
            .expect("RECEIVE_UPDATE_DATA");
    }
    let recv = t.elapsed().as_secs_f64() / n as f64 * 1e6;
    drop((src, dst));
    drop((mem, dmem));
    (send, recv)
}

fn main() {
    // `cargo bench` passes "--bench"; nothing else is accepted.
    let mib: usize = std::env::var("LIBSEV_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let len = mib * MIB;
    assert!(
        len > 0 && len < (4usize << 30),
        "LIBSEV_BENCH_MIB must be 1..4095"
    );
    let hmac = openssl_speed(&["-hmac", "sha256"], "hmac(sha256)");

    let (a, b) = UnixStream::pair().expect("socketpair");
    // The packets travel through a ring of shared pages (SEND_UPDATE_DATA writes each header
    // and transport buffer straight into it, RECEIVE_UPDATE_DATA reads them from there); the
    // socket carries only "slot filled" / "slot free" tokens.
    let ring = Region::shared(SLOTS * SLOT_BYTES);
    // SAFETY: no other thread runs at this point (openssl has exited), so the child may use
    // the allocator and std freely.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        drop(a);
        target(b, ring, len);
    }
    drop(b);
    let mut s = a;
    pin_to_cpu(0);

    let p = model(1);
    let mut g = Guest::new(&p).expect("guest");
    g.init().expect("INIT");
    g.launch_start(0, 0, None, None).expect("LAUNCH_START");
    let mut mem = Region::new(len);
    for (i, c) in mem.bytes().chunks_mut(8).enumerate() {
        c.copy_from_slice(&pattern(i));
    }
    // SAFETY: `mem` stays mapped until after the guest is dropped.
    unsafe {
        g.register_region(mem.ptr, len).expect("register region");
        g.launch_update_data(mem.ptr, len)
            .expect("LAUNCH_UPDATE_DATA");
    }
    g.launch_measure().expect("LAUNCH_MEASURE");
    g.launch_finish().expect("LAUNCH_FINISH");

    let mut pdh = vec![0u8; CERT];
    let mut chain = vec![0u8; CHAIN];
    s.read_exact(&mut pdh).unwrap();
    s.read_exact(&mut chain).unwrap();
    // Policy 0: the firmware does not read ASK ‖ ARK, but KVM requires the buffer.
    let amd = vec![0u8; 3200];
    let (session, policy) = g.send_start(&pdh, &chain, &amd).expect("SEND_START");
    let (src_pdh, _) = p.pdh_cert_export().expect("PDH_CERT_EXPORT");
    let mut start = policy.to_le_bytes().to_vec();
    start.extend_from_slice(&session);
    start.extend_from_slice(&src_pdh);
    s.write_all(&start).unwrap();

    let mut busy = Duration::ZERO;
    let cpu0 = cpu_secs();
    let pre0 = preempted();
    let t0 = Instant::now();
    let pages = len / PAGE;
    let (mut credits, mut returned) = (SLOTS, 0usize);
    let mut token = [0u8; 1];
    for (b, first) in (0..pages).step_by(BATCH).enumerate() {
        let n = BATCH.min(pages - first);
        if credits == 0 {
            s.read_exact(&mut token).unwrap();
            (credits, returned) = (1, returned + 1);
        }
        // SAFETY: the slot lies inside the ring and is ours: the target handed it back (or
        // never had it), and it reads it only after the token below.
        let frames = unsafe {
            std::slice::from_raw_parts_mut(ring.ptr.add((b % SLOTS) * SLOT_BYTES), n * FRAME)
        };
        let t = Instant::now();
        for (i, frame) in frames.chunks_mut(FRAME).enumerate() {
            let (hdr, trans) = frame.split_at_mut(HDR);
            // SAFETY: one page of the mapped region; the frame holds header and page (the
            // firmware writes both straight into the ring slot the target will read).
            unsafe { g.send_update_data(mem.ptr.add((first + i) * PAGE), PAGE, hdr, trans) }
                .expect("SEND_UPDATE_DATA");
        }
        busy += t.elapsed();
        s.write_all(&(n as u32).to_le_bytes()).unwrap();
        credits -= 1;
    }
    g.send_finish().expect("SEND_FINISH");
    let cpu = cpu_secs() - cpu0;
    let pre = preempted() - pre0;
    // The slots still to come back, then the target's figures.
    for _ in returned..pages.div_ceil(BATCH) {
        s.read_exact(&mut token).unwrap();
    }
    let mut rbusy = [0u8; 24];
    s.read_exact(&mut rbusy).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let rpre = u64::from_le_bytes(rbusy[16..].try_into().unwrap());
    let rcpu = u64::from_le_bytes(rbusy[8..16].try_into().unwrap()) as f64 / 1e9;
    let rbusy = u64::from_le_bytes(rbusy[..8].try_into().unwrap()) as f64 / 1e9;
    let mut ok = [0u8; 2];
    s.read_exact(&mut ok).unwrap();
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        ok == [1, 1] && status == 0,
        "the target did not receive the guest intact"
    );
    assert_eq!(g.status().expect("GUEST_STATUS").state, 6, "SENT");

    // Wall time is what a user sees, but on a shared machine it includes time the two
    // processes waited for a core. `openssl speed` reports CPU time (its default), so the
    // like-for-like figure is the busier side's CPU time: what the stream does per core.
    let rate = len as f64 / secs;
    let cpu_rate = len as f64 / cpu.max(rcpu);
    let ratios = match hmac {
        Some(h) => format!(
            "openssl hmac(sha256) {} ; ratio {:.2} (CPU time of the busier side), {:.2} (wall)",
            gbs(h),
            cpu_rate / h,
            rate / h
        ),
        None => "openssl not available: no ratio".to_string(),
    };
    println!(
        "migration: {len} bytes in {secs:.3} s wall = {} ; {} per busier side's CPU second (send {cpu:.3} s CPU, {:.3} s in SEND_UPDATE_DATA, preempted {pre} times; receive {rcpu:.3} s CPU, {rbusy:.3} s in RECEIVE_UPDATE_DATA, preempted {rpre} times) ; {ratios} ; target >= 0.50",
        gbs(rate),
        gbs(cpu_rate),
        busy.as_secs_f64(),
    );
    drop(g);
    drop(ring);

    // In one process, no IPC: what each command costs per packet (16 MiB of packets).
    let (send, recv) = per_packet(4096);
    println!(
        "per packet (one process, no IPC): SEND_UPDATE_DATA {send:.2} us, RECEIVE_UPDATE_DATA {recv:.2} us ; HMAC-SHA256 of 4 KiB at the openssl rate: {}",
        hmac.map(|h| format!("{:.2} us", 4096.0 / h * 1e6))
            .unwrap_or_else(|| "n/a".to_string())
    );
}
