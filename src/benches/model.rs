//! Firmware-model throughput: LAUNCH_UPDATE_DATA and DBG_DECRYPT over a guest region
//! (1 GiB by default; `LIBSEV_BENCH_MIB` overrides), each reported as bytes/s and as a ratio
//! against the physical limit measured in the same run with `openssl speed` (SHA-256 for the
//! launch update, whose one SHA-256 chain is the bottleneck; AES-128-XTS for debug
//! decryption), plus the peak RSS of the launch (zero copy: about the region plus a small
//! constant).
//!
//! Run: `cargo bench --bench model`. Not a test: nothing fails because the machine is slow.
//! All figures are wall-clock; run it on a quiet machine (the launch update uses two cores).

#[path = "common.rs"]
mod common;
use common::{gbs, openssl_speed};
use sev::model::{ModelConfig, open};
use sev::transport::{PlatformTransport, VmTransport};
use sev::uapi::*;
use std::time::Instant;

const MIB: usize = 1 << 20;

/// Anonymous memory from mmap (what a hypervisor gives its guest).
struct Region {
    ptr: *mut u8,
    len: usize,
}

impl Region {
    fn new(len: usize) -> Region {
        // SAFETY: a fresh private anonymous mapping; checked for failure below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
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
    fn addr(&self) -> u64 {
        self.ptr as u64
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn op<T>(vm: &dyn VmTransport, id: u32, data: &mut T, sev_fd: i32) -> (Result<(), i32>, u32) {
    let mut c = kvm_sev_cmd {
        id,
        data: data as *mut T as u64,
        sev_fd: sev_fd as u32,
        ..Default::default()
    };
    // SAFETY: `data` is the command's struct with valid addresses.
    let r = unsafe { vm.encrypt_op(&mut c) };
    (r, c.error)
}

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
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

    let sha = openssl_speed(&["-elapsed", "-evp", "sha256"], "sha256");
    let xts = openssl_speed(&["-elapsed", "-evp", "aes-128-xts"], "aes-128-xts");

    let p = open(ModelConfig {
        seed: Some([7; 32]),
        ..ModelConfig::default()
    })
    .expect("model platform");
    let vm = p.clone().create_vm().expect("model VM");
    let mut init = kvm_sev_cmd {
        id: kvm_cmd::INIT,
        ..Default::default()
    };
    // SAFETY: INIT takes no parameter struct.
    unsafe { vm.encrypt_op(&mut init) }.expect("KVM_SEV_INIT");
    let mut ls = kvm_sev_launch_start::default();
    assert_eq!(
        op(&*vm, kvm_cmd::LAUNCH_START, &mut ls, p.sev_fd()),
        (Ok(()), 0)
    );

    let mut mem = Region::new(len);
    for (i, c) in mem.bytes().chunks_mut(8).enumerate() {
        c.copy_from_slice(&(i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    }
    let region = kvm_enc_region {
        addr: mem.addr(),
        size: len as u64,
    };
    // SAFETY: `mem` stays mapped until the VM is dropped at the end.
    unsafe { vm.register_region(&region) }.expect("register region");

    // LAUNCH_UPDATE_DATA over the whole region, in place.
    let mut u = kvm_sev_launch_update_data {
        uaddr: mem.addr(),
        len: len as u32,
        ..Default::default()
    };
    let t = Instant::now();
    assert_eq!(
        op(&*vm, kvm_cmd::LAUNCH_UPDATE_DATA, &mut u, p.sev_fd()),
        (Ok(()), 0)
    );
    let secs = t.elapsed().as_secs_f64();
    let rate = len as f64 / secs;
    let hwm = vm_hwm_kib();
    match sha {
        Some(s) => println!(
            "launch_update_data: {len} bytes in {secs:.3} s = {} ; openssl sha256 {} ; ratio {:.2} (target >= 0.80)",
            gbs(rate),
            gbs(s),
            rate / s
        ),
        None => println!(
            "launch_update_data: {len} bytes in {secs:.3} s = {} ; openssl not available: no ratio",
            gbs(rate)
        ),
    }
    if let Some(h) = hwm {
        let limit = len as u64 / 1024 + 64 * 1024;
        println!(
            "peak RSS (VmHWM) after the launch: {} MiB for a {mib} MiB region (limit {} MiB): {}",
            h / 1024,
            limit / 1024,
            if h <= limit { "ok" } else { "OVER" }
        );
    }

    // DBG_DECRYPT of the whole region, read out in 64 MiB pieces into one buffer.
    let piece = (64 * MIB).min(len);
    let mut out = Region::new(piece);
    out.bytes().fill(0);
    let t = Instant::now();
    let mut off = 0usize;
    while off < len {
        let n = piece.min(len - off);
        let mut d = kvm_sev_dbg {
            src_uaddr: mem.addr() + off as u64,
            dst_uaddr: out.addr(),
            len: n as u32,
            ..Default::default()
        };
        assert_eq!(
            op(&*vm, kvm_cmd::DBG_DECRYPT, &mut d, p.sev_fd()),
            (Ok(()), 0)
        );
        off += n;
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = len as f64 / secs;
    // The last piece decrypted back to the original pattern.
    let last = (len - piece) / 8;
    let want = (last as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .to_le_bytes();
    assert_eq!(
        out.bytes()[..8],
        want,
        "DBG_DECRYPT gives the plaintext back"
    );
    match xts {
        Some(x) => println!(
            "dbg_decrypt: {len} bytes in {secs:.3} s = {} ; openssl aes-128-xts {} ; ratio {:.2} (target >= 0.40)",
            gbs(rate),
            gbs(x),
            rate / x
        ),
        None => println!(
            "dbg_decrypt: {len} bytes in {secs:.3} s = {} ; openssl not available: no ratio",
            gbs(rate)
        ),
    }
    // For reference: the `sha2` crate alone over (at most) 256 MiB of the region, the
    // ceiling of a launch update whose encryption is fully hidden behind the hashing.
    let n = len.min(256 * MIB);
    let t = Instant::now();
    let d = <sha2::Sha256 as sha2::Digest>::digest(&mem.bytes()[..n]);
    let rate = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "reference: sha2 crate alone {}{} (digest byte {:02x})",
        gbs(rate),
        sha.map(|s| format!(" ; ratio {:.2}", rate / s))
            .unwrap_or_default(),
        d[0]
    );
    drop(vm);
}
