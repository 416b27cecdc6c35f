//! SNP_LAUNCH_UPDATE of a guest range (1 GiB by default; `LIBSEV_BENCH_MIB` overrides) on the
//! firmware model, through the C API (`libsev_snp_launch_update`, NORMAL pages), reported as
//! bytes/s and as a ratio to `openssl speed -evp sha384` measured in the same run: each page
//! is hashed once (SHA-384) and its PAGE_INFO record once, so SHA-384 is the bound.
//!
//! Run: `cargo bench --bench snp`. Not a test: nothing fails because the machine is slow.

use sev::ffi::libsev_error;
use sev::ffi::platform::{
    libsev_model_config, libsev_model_config_init, libsev_platform, libsev_platform_free,
    libsev_platform_new_emulated,
};
use sev::ffi::snp::*;
use std::time::Instant;

const MIB: usize = 1 << 20;

fn openssl_sha384() -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .args([
            "speed", "-elapsed", "-evp", "sha384", "-bytes", "16384", "-seconds", "2",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().rev().find_map(|l| {
        let mut w = l.split_whitespace();
        if !w.next()?.eq_ignore_ascii_case("sha384") {
            return None;
        }
        let v = w.last()?.strip_suffix('k')?;
        v.parse::<f64>().ok().map(|k| k * 1000.0)
    })
}

fn gbs(b: f64) -> String {
    format!("{:.3} GB/s", b / 1e9)
}

fn check(s: u32, err: &libsev_error, what: &str) {
    if s != 0 {
        let m: Vec<u8> = err
            .message
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        panic!("{what}: status {s}: {}", String::from_utf8_lossy(&m));
    }
}

fn main() {
    let mib: usize = std::env::var("LIBSEV_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let len = mib * MIB;
    assert!(
        len > 0 && len < (16usize << 30),
        "LIBSEV_BENCH_MIB must be 1..16383"
    );
    let sha = openssl_sha384();

    // SAFETY (all calls below): live pointers to local values, as the C API documents.
    let mut err: libsev_error = unsafe { std::mem::zeroed() };
    let mut cfg: libsev_model_config = unsafe { std::mem::zeroed() };
    check(
        unsafe { libsev_model_config_init(&mut cfg) } as u32,
        &err,
        "config",
    );
    let mut p: *mut libsev_platform = std::ptr::null_mut();
    check(
        unsafe { libsev_platform_new_emulated(&cfg, &mut p, &mut err) } as u32,
        &err,
        "platform",
    );
    let mut g: *mut libsev_snp_guest = std::ptr::null_mut();
    check(
        unsafe { libsev_snp_guest_new(p, &mut g, &mut err) } as u32,
        &err,
        "guest",
    );
    check(
        unsafe { libsev_snp_guest_init2(g, 0, 0, &mut err) } as u32,
        &err,
        "init2",
    );
    check(
        unsafe { libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, std::ptr::null(), &mut err) }
            as u32,
        &err,
        "launch start",
    );
    let mut mem = vec![0u8; len];
    for (i, c) in mem.chunks_mut(8).enumerate() {
        c.copy_from_slice(&(i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    }
    let t = Instant::now();
    let s = unsafe {
        libsev_snp_launch_update(
            g,
            0,
            mem.as_mut_ptr(),
            len,
            LIBSEV_SNP_PAGE_NORMAL,
            &mut err,
        )
    };
    let secs = t.elapsed().as_secs_f64();
    check(s as u32, &err, "launch update");
    let rate = len as f64 / secs;
    // The same page contents hashed by the sha2 crate alone (reference for the ceiling).
    let n = len.min(256 * MIB);
    let t2 = Instant::now();
    let d = <sha2::Sha384 as sha2::Digest>::digest(&mem[..n]);
    let sha2_rate = n as f64 / t2.elapsed().as_secs_f64();
    match sha {
        Some(s) => println!(
            "snp_launch_update: {len} bytes in {secs:.3} s = {} ; openssl sha384 {} ; ratio {:.2} (target >= 0.80)",
            gbs(rate),
            gbs(s),
            rate / s
        ),
        None => println!(
            "snp_launch_update: {len} bytes in {secs:.3} s = {} ; openssl not available: no ratio",
            gbs(rate)
        ),
    }
    println!(
        "reference: sha2 crate SHA-384 alone {}{} (digest byte {:02x})",
        gbs(sha2_rate),
        sha.map(|s| format!(" ; ratio {:.2}", sha2_rate / s))
            .unwrap_or_default(),
        d[0]
    );
    // The same range as ZERO pages (no source, no page hash): the per-page cost of the model
    // apart from hashing (allocation, RMP, PAGE_INFO).
    let t3 = Instant::now();
    let s = unsafe {
        libsev_snp_launch_update(
            g,
            1 << 30,
            std::ptr::null_mut(),
            len,
            LIBSEV_SNP_PAGE_ZERO,
            &mut err,
        )
    };
    check(s as u32, &err, "launch update (zero)");
    println!(
        "reference: ZERO pages over the same length {}",
        gbs(len as f64 / t3.elapsed().as_secs_f64())
    );
    unsafe { libsev_snp_guest_free(g) };
    unsafe { libsev_platform_free(p) };
}
