//! What the benchmarks share: the same-run physical limit from `openssl speed`, the rate
//! format and the guest-memory pattern (the C benchmarks write the same one).

#![allow(dead_code)] // each benchmark uses part of it

/// `openssl speed ARGS -bytes 16384 -seconds 2`, in bytes/s: the figure on the last line that
/// starts with `prefix` (case-insensitive; openssl prints thousands of bytes per second,
/// "123.45k"). `-elapsed` in ARGS makes openssl divide by wall-clock time, as the model's
/// figures do (its default is CPU time, which a busy machine does not slow down).
pub fn openssl_speed(args: &[&str], prefix: &str) -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .arg("speed")
        .args(args)
        .args(["-bytes", "16384", "-seconds", "2"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().rev().find_map(|l| {
        let l = l.trim();
        if !l.to_ascii_lowercase().starts_with(prefix) {
            return None;
        }
        let v = l.split_whitespace().last()?.strip_suffix('k')?;
        v.parse::<f64>().ok().map(|k| k * 1000.0)
    })
}

/// A rate in GB/s, two decimals.
pub fn gbs(b: f64) -> String {
    format!("{:.2} GB/s", b / 1e9)
}

/// The 8-byte pattern word `i` the benchmarks fill guest memory with.
pub fn pattern(i: usize) -> [u8; 8] {
    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes()
}
