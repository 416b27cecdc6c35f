//! Regenerates the firmware model's TEST-ONLY AMD root (ARK and ASK, RSA-4096, AMD's format).
//!
//! Run once, by hand: `cargo run --release --example gen_test_root -- src/certs/sev/testroot`
//! (the example is declared in `Cargo.toml`).
//! The output is checked in and compiled into libsev; libsev never generates RSA-4096 keys at
//! run time. The ASK's private key is shipped on purpose (the model signs each emulated chip's
//! CEK with it), which is exactly why this root must never be trusted outside tests: the
//! guest-owner side reports it as the test root and rejects it unless explicitly allowed.

use rsa::pkcs8::EncodePrivateKey;
use sev::certs::AmdCert;
use sev::certs::amd::{USAGE_ARK, USAGE_ASK};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: gen_test_root OUT_DIR");
    let mut rng = rand_core::OsRng;
    eprintln!("generating two RSA-4096 keys (takes a while)...");
    let ark_key = rsa::RsaPrivateKey::new(&mut rng, 4096).expect("ARK key");
    let ask_key = rsa::RsaPrivateKey::new(&mut rng, 4096).expect("ASK key");
    let ark_id = *b"libsev-TEST-ARK!";
    let ask_id = *b"libsev-TEST-ASK!";
    let ark = AmdCert::build(
        USAGE_ARK,
        ark_id,
        &ark_key.to_public_key(),
        None,
        Some(&ark_key),
    )
    .expect("ARK cert");
    let ask = AmdCert::build(
        USAGE_ASK,
        ask_id,
        &ask_key.to_public_key(),
        Some((&ark, &ark_key)),
        None,
    )
    .expect("ASK cert");
    ark.verify_signed_by(&ark).expect("ARK self-signature");
    ask.verify_signed_by(&ark).expect("ASK signature");
    std::fs::write(format!("{dir}/ark.cert"), ark.as_bytes()).unwrap();
    std::fs::write(format!("{dir}/ask.cert"), ask.as_bytes()).unwrap();
    let der = ask_key.to_pkcs8_der().expect("PKCS#8");
    std::fs::write(format!("{dir}/ask-key.pk8"), der.as_bytes()).unwrap();
    eprintln!("wrote {dir}/ark.cert, ask.cert, ask-key.pk8");
}
