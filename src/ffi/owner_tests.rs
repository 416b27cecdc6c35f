//! Tests of the owner C ABI through its exported functions.

use super::*;
use crate::ffi::LIBSEV_GODH_CERT_LEN;
use crate::owner::attestation::REPORT_LEN;
use crate::owner::crypto::{aes128_ctr, hmac_sha256};
use std::ptr::{null, null_mut};

fn err0() -> libsev_error {
    // SAFETY: libsev_error is plain data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn pdh_cert() -> SevCert {
    let sk = p384::SecretKey::random(&mut rand_core::OsRng);
    SevCert::new_p384(
        Usage::PDH,
        crate::certs::sev::Algo::ECDH_SHA256,
        (1, 55),
        &sk.public_key(),
    )
}

fn new_session(policy: u32) -> *mut libsev_owner_session {
    let pdh = pdh_cert();
    let mut s = null_mut();
    let mut e = err0();
    // SAFETY: valid buffers and out pointers.
    let st =
        unsafe { libsev_owner_session_new(pdh.as_bytes().as_ptr(), 2084, policy, &mut s, &mut e) };
    assert_eq!(st, libsev_status::LIBSEV_STATUS_OK);
    assert!(!s.is_null());
    s
}

/// The TIK/TEK of a handle (tests only look inside).
fn keys(s: *const libsev_owner_session) -> ([u8; 16], [u8; 16]) {
    // SAFETY: a live handle from new_session.
    let h = unsafe { &*s };
    let s = h.h.value.lock().unwrap();
    let k = s.keys_for_tests();
    (k.tek, k.tik)
}

#[test]
fn new_rejects_bad_arguments_without_writing_out() {
    let pdh = pdh_cert();
    let mut s: *mut libsev_owner_session = std::ptr::dangling_mut();
    let mut e = err0();
    // SAFETY: NULL/short inputs are what is tested; out is writable.
    unsafe {
        assert_eq!(
            libsev_owner_session_new(null(), 2084, 0, &mut s, &mut e),
            libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
        );
        assert_eq!(
            libsev_owner_session_new(pdh.as_bytes().as_ptr(), 2000, 0, &mut s, &mut e),
            libsev_status::LIBSEV_STATUS_INVALID_LENGTH
        );
        assert_eq!(
            libsev_owner_session_new(pdh.as_bytes().as_ptr(), 2084, 1 << 8, &mut s, &mut e),
            libsev_status::LIBSEV_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(
            libsev_owner_session_new(pdh.as_bytes().as_ptr(), 2084, 0, null_mut(), &mut e),
            libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
        );
    }
    assert_eq!(s, std::ptr::dangling_mut());
    assert_eq!(e.status, libsev_status::LIBSEV_STATUS_NULL_ARGUMENT as u32);
}

#[test]
fn full_flow_through_the_c_abi() {
    let policy = 0x1;
    let s = new_session(policy);
    let mut e = err0();
    let mut n = 0usize;
    // SAFETY: s is live; every buffer is valid for its stated length.
    unsafe {
        // Two-call size queries.
        assert_eq!(
            libsev_owner_session_godh(s, null_mut(), 0, &mut n, &mut e),
            libsev_status::LIBSEV_STATUS_BUFFER_TOO_SMALL
        );
        assert_eq!(n, LIBSEV_GODH_CERT_LEN);
        let mut godh = vec![0u8; n];
        assert_eq!(
            libsev_owner_session_godh(s, godh.as_mut_ptr(), godh.len(), &mut n, &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(SevCert::from_bytes(&godh).unwrap().usage(), Usage::PDH);
        let mut blob = [0xEEu8; 128];
        assert_eq!(
            libsev_owner_session_blob(s, blob.as_mut_ptr(), 127, &mut n, &mut e),
            libsev_status::LIBSEV_STATUS_BUFFER_TOO_SMALL
        );
        assert_eq!(blob, [0xEE; 128], "nothing written on failure");
        assert_eq!(
            libsev_owner_session_blob(s, blob.as_mut_ptr(), 128, &mut n, &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(n, 128);

        // No secret before the measurement.
        let secret = [0x5Au8; 32];
        let mut hdr = [0u8; 52];
        let mut trans = [0u8; 64];
        assert_eq!(
            libsev_owner_session_package_secret(
                s,
                secret.as_ptr(),
                32,
                0,
                hdr.as_mut_ptr(),
                trans.as_mut_ptr(),
                64,
                &mut n,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_INVALID_STATE
        );
        assert_eq!(e.command, Command::LIBSEV_CMD_OWNER as u32);
        let msg = std::ffi::CStr::from_ptr(libsev_owner_session_last_error(s));
        assert!(msg.to_str().unwrap().contains("measurement"), "{msg:?}");

        let image = vec![0x90u8; 8192];
        assert_eq!(
            libsev_owner_session_measure_update(s, image.as_ptr(), 4096, &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(
            libsev_owner_session_measure_update(s, image.as_ptr().add(4096), 4096, &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(
            libsev_owner_session_measure_update(s, null(), 0, &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        let mut ld = [0u8; 32];
        assert_eq!(
            libsev_owner_session_launch_digest(s, ld.as_mut_ptr(), &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        use sha2::Digest;
        assert_eq!(ld[..], sha2::Sha256::digest(&image)[..]);

        // The firmware's measurement, computed here from the formula.
        let (tek, tik) = keys(s);
        let mnonce = [3u8; 16];
        let good = hmac_sha256(
            &tik,
            &[&[4, 1, 55, 25], &policy.to_le_bytes(), &ld, &mnonce],
        );
        let mut m48 = [0u8; 48];
        m48[..32].copy_from_slice(&good);
        m48[32..].copy_from_slice(&mnonce);
        let mut expected = [0u8; 32];
        assert_eq!(
            libsev_owner_session_verify_measurement(
                s,
                1,
                55,
                24,
                m48.as_ptr(),
                expected.as_mut_ptr(),
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_MEASUREMENT_MISMATCH
        );
        let want = hmac_sha256(
            &tik,
            &[&[4, 1, 55, 24], &policy.to_le_bytes(), &ld, &mnonce],
        );
        assert_eq!(expected, want, "expected value for build 24 is reported");
        assert_eq!(
            libsev_owner_session_verify_measurement(s, 1, 55, 25, m48.as_ptr(), null_mut(), &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );

        // Size query, then the packet.
        assert_eq!(
            libsev_owner_session_package_secret(
                s,
                secret.as_ptr(),
                20,
                0,
                hdr.as_mut_ptr(),
                null_mut(),
                0,
                &mut n,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_INVALID_LENGTH
        );
        assert_eq!(
            libsev_owner_session_package_secret(
                s,
                secret.as_ptr(),
                20,
                LIBSEV_SECRET_PAD,
                hdr.as_mut_ptr(),
                null_mut(),
                0,
                &mut n,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 32);
        assert_eq!(hdr, [0; 52]);
        assert_eq!(
            libsev_owner_session_package_secret(
                s,
                secret.as_ptr(),
                32,
                4,
                hdr.as_mut_ptr(),
                trans.as_mut_ptr(),
                64,
                &mut n,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(
            libsev_owner_session_package_secret(
                s,
                secret.as_ptr(),
                32,
                0,
                hdr.as_mut_ptr(),
                trans.as_mut_ptr(),
                64,
                &mut n,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(n, 32);
        let iv: [u8; 16] = hdr[4..20].try_into().unwrap();
        let len = 32u32.to_le_bytes();
        let mac = hmac_sha256(&tik, &[&[1], &[0; 4], &iv, &len, &len, &trans[..32], &good]);
        assert_eq!(hdr[20..], mac);
        let mut plain = trans[..32].to_vec();
        aes128_ctr(&tek, &iv, &mut plain);
        assert_eq!(plain, secret);
        assert_eq!(trans[32..], [0; 32], "only trans_out_len bytes written");

        libsev_owner_session_free(s);
        libsev_owner_session_free(null_mut());
    }
}

#[test]
fn export_import_through_the_c_abi() {
    let s = new_session(0);
    let mut e = err0();
    let mut n = 0usize;
    // SAFETY: live handles; valid buffers.
    unsafe {
        assert_eq!(
            libsev_owner_session_export(s, null_mut(), 0, &mut n, &mut e),
            libsev_status::LIBSEV_STATUS_BUFFER_TOO_SMALL
        );
        let mut st = vec![0u8; n];
        assert_eq!(
            libsev_owner_session_export(s, st.as_mut_ptr(), n, &mut n, &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        let mut t = null_mut();
        assert_eq!(
            libsev_owner_session_import(st.as_ptr(), st.len(), &mut t, &mut e),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(keys(s), keys(t));
        let mut buf = [0u8; 2084];
        assert_eq!(
            libsev_owner_session_godh(t, buf.as_mut_ptr(), buf.len(), &mut n, &mut e),
            libsev_status::LIBSEV_STATUS_INVALID_STATE
        );
        st[40] ^= 1;
        let mut u: *mut libsev_owner_session = null_mut();
        assert_eq!(
            libsev_owner_session_import(st.as_ptr(), st.len(), &mut u, &mut e),
            libsev_status::LIBSEV_STATUS_BAD_STATE_BLOB
        );
        assert!(u.is_null());
        libsev_owner_session_free(t);
        libsev_owner_session_free(s);
    }
}

#[test]
fn null_session_is_an_argument_error() {
    let mut e = err0();
    let mut n = 0usize;
    let mut buf = [0u8; 128];
    // SAFETY: NULL handles are what is tested.
    unsafe {
        assert_eq!(
            libsev_owner_session_blob(null(), buf.as_mut_ptr(), 128, &mut n, &mut e),
            libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
        );
        assert_eq!(
            libsev_owner_session_measure_update(null_mut(), buf.as_ptr(), 1, &mut e),
            libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
        );
        assert_eq!(
            libsev_owner_session_verify_measurement(
                null_mut(),
                1,
                0,
                0,
                buf.as_ptr(),
                null_mut(),
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_NULL_ARGUMENT
        );
        assert_eq!(*libsev_owner_session_last_error(null()), 0);
    }
}

#[test]
fn attestation_through_the_c_abi() {
    use crate::certs::be_to_le;
    use p384::ecdsa::signature::hazmat::PrehashSigner;
    use p384::ecdsa::{Signature, SigningKey};
    use sha2::Digest;
    let k = SigningKey::random(&mut rand_core::OsRng);
    let mut pek = SevCert::new_p384(
        Usage::PEK,
        crate::certs::sev::Algo::ECDSA_SHA256,
        (1, 55),
        &p384::PublicKey::from(k.verifying_key()),
    );
    pek.sign_ecdsa(0, Usage::OCA, &k);
    let mut r = vec![0u8; REPORT_LEN];
    r[..16].copy_from_slice(&[1; 16]);
    r[0x10..0x30].copy_from_slice(&[2; 32]);
    r[0x30..0x34].copy_from_slice(&7u32.to_le_bytes());
    r[0x34..0x38].copy_from_slice(&Usage::PEK.to_le_bytes());
    r[0x38..0x3C].copy_from_slice(&2u32.to_le_bytes());
    let sig: Signature = k.sign_prehash(&sha2::Sha256::digest(&r[..0x34])).unwrap();
    be_to_le(&sig.r().to_bytes(), &mut r[0x40..0x88]);
    be_to_le(&sig.s().to_bytes(), &mut r[0x88..0xD0]);
    let mut out = libsev_attestation_info {
        mnonce: [0; 16],
        launch_digest: [0; 32],
        policy: 0,
    };
    let mut e = err0();
    // SAFETY: valid buffers.
    unsafe {
        assert_eq!(
            libsev_attestation_verify(
                r.as_ptr(),
                r.len(),
                pek.as_bytes().as_ptr(),
                2084,
                &mut out,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_OK
        );
        assert_eq!(
            (out.mnonce, out.launch_digest, out.policy),
            ([1; 16], [2; 32], 7)
        );
        r[5] ^= 1;
        out.policy = 99;
        assert_eq!(
            libsev_attestation_verify(
                r.as_ptr(),
                r.len(),
                pek.as_bytes().as_ptr(),
                2084,
                &mut out,
                &mut e
            ),
            libsev_status::LIBSEV_STATUS_BAD_SIGNATURE
        );
        assert_eq!(out.policy, 99);
    }
}
