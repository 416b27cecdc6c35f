//! SNP_LAUNCH_UPDATE of a guest range (1 GiB by default; `LIBSEV_BENCH_MIB` overrides) on the
//! firmware model through the Rust API, reported as bytes/s and as a ratio to
//! `openssl speed -evp sha384` measured in the same run: each page is hashed once (SHA-384)
//! and its PAGE_INFO record once, so SHA-384 is the bound. `c-tests/bench/snp.c` prints the
//! same line through the C ABI; `make bench` sets the two side by side.
//!
//! Run: `cargo bench --bench snp`. Not a test: nothing fails because the machine is slow.

#[path = "common.rs"]
mod common;
use common::{gbs, openssl_speed, pattern};
use sev::api::Platform;
use sev::api::snp::{SnpFinish, SnpGuest};
use sev::model::ModelConfig;
use sev::uapi::snp::{page_type, policy};
use std::time::Instant;

const MIB: usize = 1 << 20;

fn main() {
    let mib: usize = std::env::var("LIBSEV_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let len = mib * MIB;
    assert!(
        len > 0 && len < (4usize << 30),
        "LIBSEV_BENCH_MIB must be 1..4095"
    );
    let sha = openssl_speed(&["-elapsed", "-evp", "sha384"], "sha384");
    let cfg = ModelConfig {
        seed: Some([9; 32]),
        ..ModelConfig::default()
    };
    let p = Platform::emulated(cfg).expect("model platform");
    let mut g = SnpGuest::new(&p).expect("SNP guest");
    g.init2(0, 0).expect("init2");
    g.launch_start(policy::DEFAULT, [0; 16])
        .expect("launch start");
    let mut mem = vec![0u8; len];
    for (i, c) in mem.chunks_mut(8).enumerate() {
        c.copy_from_slice(&pattern(i));
    }
    let t = Instant::now();
    g.launch_update(0, &mut mem, page_type::NORMAL)
        .expect("launch update");
    let secs = t.elapsed().as_secs_f64();
    let rate = len as f64 / secs;
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
    // The same page contents hashed by the sha2 crate alone on one core (a reference).
    let n = len.min(256 * MIB);
    let t2 = Instant::now();
    let d = <sha2::Sha384 as sha2::Digest>::digest(&mem[..n]);
    let sha2_rate = n as f64 / t2.elapsed().as_secs_f64();
    println!(
        "reference: sha2 crate SHA-384 alone, one core {}{} (digest byte {:02x})",
        gbs(sha2_rate),
        sha.map(|s| format!(" ; ratio {:.2}", sha2_rate / s))
            .unwrap_or_default(),
        d[0]
    );
    // The report path: the secrets page, then MSG_REPORT_REQ sealed, signed and opened.
    let mut page = vec![0u8; 4096];
    g.launch_update(len as u64 + 4096 * 16, &mut page, page_type::SECRETS)
        .expect("secrets page");
    g.launch_finish(&SnpFinish::default())
        .expect("launch finish");
    let vm = g.model_vm().expect("model VM");
    let rounds = 50;
    let t3 = Instant::now();
    for _ in 0..rounds {
        let (status, _) = vm.guest_report(&[7; 64], 0, 0, 0).expect("report");
        assert_eq!(status, 0);
    }
    println!(
        "snp_report: {:.3} ms per attestation report ({rounds} rounds)",
        t3.elapsed().as_secs_f64() * 1e3 / rounds as f64
    );
}
