//! Session tests: the firmware's side of the session is recomputed here from the formulas of
//! `sev-spec` §4.4–4.7 with a PDH key the test owns.

use super::*;
use crate::owner::crypto::{aes128_ctr, hmac_sha256, kdf16};
use crate::owner::state::STATE_LEN;
use crate::owner::testutil::{kat, unhex};
use subtle::ConstantTimeEq;

fn platform() -> (p384::SecretKey, SevCert) {
    let sk = p384::SecretKey::random(&mut OsRng);
    let cert = SevCert::new_p384(Usage::PDH, Algo::ECDH_SHA256, (1, 55), &sk.public_key());
    (sk, cert)
}

/// What the firmware does at LAUNCH_START: returns (TEK, TIK) or why it refused.
fn fw_open(
    pdh_sk: &p384::SecretKey,
    godh: &SevCert,
    blob: &[u8; 128],
    policy: u32,
) -> Result<TransportKeys, &'static str> {
    let godh_pub = godh
        .check_body(Usage::PDH)
        .map_err(|_| "INVALID_CERTIFICATE")?;
    let z = crypto::ecdh_z(pdh_sk, &godh_pub);
    let master = kdf16(&z[..], b"sev-master-secret", &blob[..16]);
    let kek = kdf16(&master[..], b"sev-kek", &[]);
    let kik = kdf16(&master[..], b"sev-kik", &[]);
    let mac = hmac_sha256(&kik[..], &[&blob[0x10..0x30]]);
    if !bool::from(mac.ct_eq(&blob[0x40..0x60])) {
        return Err("BAD_MEASUREMENT (wrap)");
    }
    let mut tk = blob[0x10..0x30].to_vec();
    aes128_ctr(&kek, blob[0x30..0x40].try_into().unwrap(), &mut tk);
    let keys = TransportKeys {
        tek: tk[..16].try_into().unwrap(),
        tik: tk[16..].try_into().unwrap(),
    };
    let pmac = hmac_sha256(&keys.tik, &[&policy.to_le_bytes()]);
    if !bool::from(pmac.ct_eq(&blob[0x60..0x80])) {
        return Err("BAD_MEASUREMENT (policy)");
    }
    Ok(keys)
}

#[test]
fn firmware_side_unwraps_the_session() {
    let (sk, pdh) = platform();
    let policy = 0x0001_0003;
    let s = Session::new(&pdh, policy).unwrap();
    let godh = s.godh().unwrap();
    assert_eq!(godh.as_bytes().len(), 2084);
    assert_eq!((godh.usage(), godh.algo()), (Usage::PDH, Algo::ECDH_SHA256));
    assert_eq!(godh.version(), 1);
    let keys = fw_open(&sk, godh, s.blob().unwrap(), policy).unwrap();
    assert_eq!(keys, s.keys);
    // Another policy, or another platform's PDH key, is refused.
    assert_eq!(
        fw_open(&sk, godh, s.blob().unwrap(), policy ^ 1).unwrap_err(),
        "BAD_MEASUREMENT (policy)"
    );
    let (other_sk, _) = platform();
    assert_eq!(
        fw_open(&other_sk, godh, s.blob().unwrap(), policy).unwrap_err(),
        "BAD_MEASUREMENT (wrap)"
    );
    assert_eq!(
        s.pdh_sha256(),
        <[u8; 32]>::from(Sha256::digest(pdh.as_bytes()))
    );
}

#[test]
fn sessions_are_fresh() {
    let (_, pdh) = platform();
    let a = Session::new(&pdh, 0).unwrap();
    let b = Session::new(&pdh, 0).unwrap();
    assert_ne!(a.keys.tek, b.keys.tek);
    assert_ne!(a.keys.tik, b.keys.tik);
    assert_ne!(a.keys.tek, a.keys.tik);
    assert_ne!(a.blob().unwrap()[..16], b.blob().unwrap()[..16], "nonce");
    assert_ne!(
        a.blob().unwrap()[0x30..0x40],
        b.blob().unwrap()[0x30..0x40],
        "wrap iv"
    );
    assert_ne!(a.godh().unwrap(), b.godh().unwrap());
    // Secrets stay out of debug output.
    let dbg = format!("{a:?} {:?}", a.keys);
    assert!(!dbg.contains(&crypto::hex(&a.keys.tek)), "{dbg}");
    assert!(!dbg.contains(&crypto::hex(&a.keys.tik)), "{dbg}");
}

#[test]
fn real_pdh_is_accepted_and_bad_pdhs_are_refused() {
    let dir = format!("{}/../shared/testdata/sev", env!("CARGO_MANIFEST_DIR"));
    for g in ["naples", "rome"] {
        let pdh =
            SevCert::from_bytes(&std::fs::read(format!("{dir}/{g}/pdh.cert")).unwrap()).unwrap();
        let s = Session::new(&pdh, 0).unwrap();
        assert_eq!(s.godh().unwrap().api_minor(), pdh.api_minor());
        let pek =
            SevCert::from_bytes(&std::fs::read(format!("{dir}/{g}/pek.cert")).unwrap()).unwrap();
        let e = Session::new(&pek, 0).unwrap_err();
        assert_eq!(
            e.status,
            Status::LIBSEV_STATUS_BAD_CERTIFICATE,
            "{}",
            e.message
        );
        let mut b = pdh.as_bytes().to_vec();
        b[0x14] ^= 1; // x moves off the curve
        let e = Session::new(&SevCert::from_bytes(&b).unwrap(), 0).unwrap_err();
        assert_eq!(
            e.status,
            Status::LIBSEV_STATUS_BAD_CERTIFICATE,
            "{}",
            e.message
        );
        assert!(e.message.contains("PDH"), "{}", e.message);
    }
    let (_, pdh) = platform();
    let e = Session::new(&pdh, 1 << 6).unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_ARGUMENT);
    assert!(Session::new(&pdh, 0xFFFF_003F).is_ok());
}

/// The firmware's LAUNCH_MEASURE output for this session and digest.
fn fw_measure(keys: &TransportKeys, ver: FirmwareVersion, policy: u32, ld: &[u8; 32]) -> [u8; 48] {
    let mnonce = [0x6Bu8; 16];
    let prefix: &[u8] = if ver.has_measure_context() {
        &[4, ver.major, ver.minor, ver.build]
    } else {
        &[]
    };
    let m = hmac_sha256(&keys.tik, &[prefix, &policy.to_le_bytes(), ld, &mnonce]);
    let mut out = [0u8; 48];
    out[..32].copy_from_slice(&m);
    out[32..].copy_from_slice(&mnonce);
    out
}

/// The firmware's LAUNCH_SECRET: check the MAC, decrypt.
fn fw_secret(
    keys: &TransportKeys,
    measure: Option<&[u8; 32]>,
    s: &LaunchSecret,
) -> Result<Vec<u8>, &'static str> {
    let iv: [u8; 16] = s.header[4..20].try_into().unwrap();
    let n = (s.ciphertext.len() as u32).to_le_bytes();
    let m: &[u8] = measure.map(|m| &m[..]).unwrap_or(&[]);
    let mac = hmac_sha256(
        &keys.tik,
        &[&[1], &s.header[..4], &iv, &n, &n, &s.ciphertext, m],
    );
    if !bool::from(mac.ct_eq(&s.header[20..])) {
        return Err("BAD_MEASUREMENT");
    }
    let mut p = s.ciphertext.clone();
    aes128_ctr(&keys.tek, &iv, &mut p);
    Ok(p)
}

#[test]
fn measure_verify_then_package() {
    let (_, pdh) = platform();
    let policy = 0x1;
    let mut s = Session::new(&pdh, policy).unwrap();
    let image: Vec<u8> = (0..3 * 4096u32).map(|i| (i % 251) as u8).collect();
    for chunk in image.chunks(4096) {
        s.measure_update(chunk).unwrap();
    }
    let ld: [u8; 32] = Sha256::digest(&image).into();
    assert_eq!(s.launch_digest(), ld);
    // No secret before the measurement verified.
    let e = s
        .package_secret(&[0; 16], SecretOptions::default())
        .unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_STATE);

    let ver = FirmwareVersion::new(1, 55, 25);
    let good = fw_measure(&s.keys, ver, policy, &ld);
    // Wrong version: mismatch, expected value attached, still not measured.
    let e = s
        .verify_measurement(FirmwareVersion::new(1, 55, 24), &good)
        .unwrap_err();
    assert_eq!(e.status(), Status::LIBSEV_STATUS_MEASUREMENT_MISMATCH);
    let exp = e.expected().unwrap();
    assert_eq!(
        exp[..],
        fw_measure(&s.keys, FirmwareVersion::new(1, 55, 24), policy, &ld)[..32]
    );
    assert!(!s.is_measured());
    // A measurement of other data fails.
    let other = fw_measure(&s.keys, ver, policy, &[0; 32]);
    assert!(s.verify_measurement(ver, &other).is_err());
    // The right one passes; verifying it again is idempotent, another one is refused.
    let m = s.verify_measurement(ver, &good).unwrap();
    assert_eq!(m[..], good[..32]);
    assert!(s.is_measured());
    assert!(s.verify_measurement(ver, &good).is_ok());
    assert_eq!(
        s.verify_measurement(ver, &other).unwrap_err().status(),
        Status::LIBSEV_STATUS_INVALID_STATE
    );
    assert_eq!(
        s.measure_update(b"late").unwrap_err().status,
        Status::LIBSEV_STATUS_INVALID_STATE
    );

    let secret = b"0123456789abcdef0123456789abcdef";
    let p1 = s.package_secret(secret, SecretOptions::default()).unwrap();
    let p2 = s.package_secret(secret, SecretOptions::default()).unwrap();
    assert_ne!(p1.header[4..20], p2.header[4..20], "fresh IV per packet");
    assert_eq!(p1.header[..4], [0; 4]);
    assert_eq!(fw_secret(&s.keys, Some(&m), &p1).unwrap(), secret);
    // The MAC binds the measurement: another MEASURE (or none) is refused.
    assert!(fw_secret(&s.keys, Some(&[0; 32]), &p1).is_err());
    assert!(fw_secret(&s.keys, None, &p1).is_err());
    let padded = s
        .package_secret(b"short", SecretOptions { pad: true })
        .unwrap();
    assert_eq!(
        fw_secret(&s.keys, Some(&m), &padded).unwrap()[..5],
        *b"short"
    );
    assert_eq!(
        s.package_secret(b"short", SecretOptions::default())
            .unwrap_err()
            .status,
        Status::LIBSEV_STATUS_INVALID_LENGTH
    );
}

#[test]
fn old_firmware_measurement_and_secret_have_no_measure_context() {
    let (_, pdh) = platform();
    let mut s = Session::new(&pdh, 0).unwrap();
    s.set_launch_digest([0x11; 32]).unwrap();
    assert_eq!(
        s.measure_update(b"x").unwrap_err().status,
        Status::LIBSEV_STATUS_INVALID_STATE
    );
    let ver = FirmwareVersion::new(0, 16, 2);
    let m48 = fw_measure(&s.keys, ver, 0, &[0x11; 32]);
    // A new-style measurement of the same inputs is not accepted for old firmware.
    let new_style = fw_measure(&s.keys, FirmwareVersion::new(0, 17, 2), 0, &[0x11; 32]);
    assert!(s.verify_measurement(ver, &new_style).is_err());
    s.verify_measurement(ver, &m48).unwrap();
    let p = s
        .package_secret(&[7; 48], SecretOptions::default())
        .unwrap();
    assert_eq!(fw_secret(&s.keys, None, &p).unwrap(), vec![7; 48]);
}

#[test]
fn state_round_trips_between_processes() {
    let (sk, pdh) = platform();
    let policy = 0x0002_0005;
    let s = Session::new(&pdh, policy).unwrap();
    let keys = fw_open(&sk, s.godh().unwrap(), s.blob().unwrap(), policy).unwrap();
    let blob = s.export_state();
    assert_eq!(blob.len(), STATE_LEN);
    let mut t = Session::import_state(&blob).unwrap();
    assert_eq!(t.keys, keys);
    assert_eq!(t.policy(), policy);
    assert_eq!(t.pdh_sha256(), s.pdh_sha256());
    assert_eq!(
        t.godh().unwrap_err().status,
        Status::LIBSEV_STATUS_INVALID_STATE
    );
    assert_eq!(
        t.blob().unwrap_err().status,
        Status::LIBSEV_STATUS_INVALID_STATE
    );
    t.measure_update(b"guest image").unwrap();
    let ver = FirmwareVersion::new(1, 55, 25);
    let m = fw_measure(&keys, ver, policy, &Sha256::digest(b"guest image").into());
    t.verify_measurement(ver, &m).unwrap();
    let p = t
        .package_secret(&[9; 16], SecretOptions::default())
        .unwrap();
    assert_eq!(
        fw_secret(&keys, Some(m[..32].try_into().unwrap()), &p).unwrap(),
        vec![9; 16]
    );
    // Export of an imported session is identical.
    assert_eq!(*t.export_state(), *blob);
}

#[test]
fn damaged_state_is_refused() {
    let (_, pdh) = platform();
    let blob = Session::new(&pdh, 0).unwrap().export_state();
    for i in 0..blob.len() {
        for mask in [0x01u8, 0x80] {
            let mut b = blob.to_vec();
            b[i] ^= mask;
            let e = Session::import_state(&b).unwrap_err();
            assert_eq!(
                e.status,
                Status::LIBSEV_STATUS_BAD_STATE_BLOB,
                "byte {i}: {}",
                e.message
            );
        }
    }
    for n in [0, 5, 10, STATE_LEN - 1] {
        assert_eq!(
            Session::import_state(&blob[..n]).unwrap_err().status,
            Status::LIBSEV_STATUS_BAD_STATE_BLOB
        );
    }
    let mut long = blob.to_vec();
    long.push(0);
    assert!(Session::import_state(&long).is_err());
    // A future version with a valid checksum is refused by version, not by checksum.
    let mut v2 = blob.to_vec();
    v2[8] = 2;
    let sum = Sha256::digest(&v2[..0x50]);
    v2[0x50..].copy_from_slice(&sum);
    let e = Session::import_state(&v2).unwrap_err();
    assert!(e.message.contains("version 2"), "{}", e.message);
}

#[test]
fn kat_measurement_through_imported_state() {
    // The crate-measurement vector, as an owner that kept only TIK and policy would check it.
    let st = kat("crate-measurement.state");
    let dir = format!("{}/../shared/testdata/sev/kat", env!("CARGO_MANIFEST_DIR"));
    let mut b = vec![0u8; STATE_LEN];
    b[..8].copy_from_slice(b"LSEVOWNR");
    b[8] = 1;
    b[0x10..0x20].copy_from_slice(&unhex(&st["tek"]));
    b[0x20..0x30].copy_from_slice(&unhex(&st["tik"]));
    let sum = Sha256::digest(&b[..0x50]);
    b[0x50..].copy_from_slice(&sum);
    let mut s = Session::import_state(&b).unwrap();
    let digest = std::fs::read_to_string(format!("{dir}/crate-digest.hex")).unwrap();
    s.set_launch_digest(unhex(digest.trim()).try_into().unwrap())
        .unwrap();
    let m: [u8; 48] = std::fs::read(format!("{dir}/crate-measurement.bin"))
        .unwrap()
        .try_into()
        .unwrap();
    s.verify_measurement(FirmwareVersion::new(0, 18, 15), &m)
        .unwrap();
}
