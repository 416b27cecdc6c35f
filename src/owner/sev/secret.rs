//! The LAUNCH_SECRET packet (`sev-spec` §4.7): a 52-byte header `FLAGS ‖ IV ‖ MAC` and the
//! ciphertext `AES-128-CTR(TEK, IV)(secret)`, with
//! `MAC = HMAC-SHA256(TIK, 0x01 ‖ LE32(FLAGS) ‖ IV ‖ LE32(guest_len) ‖ LE32(trans_len) ‖
//! ciphertext ‖ MEASURE)` (MEASURE omitted for firmware API < 0.17).
//!
//! Length rules (checked, never silently changed): the plaintext must be non-empty, a multiple
//! of 16 bytes and at most [`MAX_SECRET_LEN`] bytes. With [`SecretOptions::pad`] a plaintext
//! whose length is not a multiple of 16 is zero-padded up to the next multiple of 16 (the
//! padded length must still fit). `guest_len == trans_len ==` the (padded) length.

use super::crypto::{TransportKeys, aes128_ctr, hmac_sha256};
use crate::error::{Error, Result};
use crate::status::Status;
use zeroize::Zeroizing;

/// Size of the packet header.
pub const HEADER_LEN: usize = 0x34;
/// The largest secret the firmware accepts in one LAUNCH_SECRET (its 0x5000-byte scratch
/// buffer, Genoa firmware).
pub const MAX_SECRET_LEN: usize = 0x5000;
/// The context byte of the secret MAC (`SEV_CHANNEL_CTX_SECRET`).
pub const CTX_SECRET: u8 = 0x01;

/// How to package a secret.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretOptions {
    /// Zero-pad the plaintext to a multiple of 16 bytes instead of rejecting it.
    pub pad: bool,
}

/// A packaged secret: the header and the ciphertext to pass to LAUNCH_SECRET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSecret {
    /// `FLAGS ‖ IV ‖ MAC` (52 bytes).
    pub header: [u8; HEADER_LEN],
    /// The encrypted secret (`trans`); `guest_len` = `trans_len` = its length.
    pub ciphertext: Vec<u8>,
}

/// The length the plaintext will have on the wire, or why it is refused.
pub fn wire_len(len: usize, options: SecretOptions) -> Result<usize> {
    if len == 0 {
        return Err(Error::new(
            Status::LIBSEV_STATUS_INVALID_LENGTH,
            "the secret is empty",
        ));
    }
    let padded = len.div_ceil(16) * 16;
    if padded != len && !options.pad {
        return Err(Error::new(
            Status::LIBSEV_STATUS_INVALID_LENGTH,
            format!(
                "the secret is {len} bytes, not a multiple of 16; pad it (option pad / \
                 LIBSEV_SECRET_PAD zero-pads to {padded} bytes)"
            ),
        ));
    }
    if padded > MAX_SECRET_LEN {
        return Err(Error::new(
            Status::LIBSEV_STATUS_INVALID_LENGTH,
            format!(
                "the secret is {padded} bytes{}, more than the firmware's {MAX_SECRET_LEN} \
                 bytes",
                if padded != len { " after padding" } else { "" }
            ),
        ));
    }
    Ok(padded)
}

/// Encrypt and MAC `plaintext` with a given IV. `measure` is the verified MEASURE, or `None`
/// for firmware API < 0.17. FLAGS is 0 (the firmware rejects COMPRESSED).
pub(crate) fn seal(
    keys: &TransportKeys,
    iv: &[u8; 16],
    plaintext: &[u8],
    options: SecretOptions,
    measure: Option<&[u8; 32]>,
) -> Result<LaunchSecret> {
    let n = wire_len(plaintext.len(), options)?;
    let len32 = u32::try_from(n).expect("bounded by MAX_SECRET_LEN");
    let mut buf = Zeroizing::new(vec![0u8; n]);
    buf[..plaintext.len()].copy_from_slice(plaintext);
    aes128_ctr(&keys.tek, iv, &mut buf);
    let flags = 0u32;
    let measure: &[u8] = measure.map(|m| &m[..]).unwrap_or(&[]);
    let mac = hmac_sha256(
        &keys.tik,
        &[
            &[CTX_SECRET],
            &flags.to_le_bytes(),
            iv,
            &len32.to_le_bytes(),
            &len32.to_le_bytes(),
            &buf,
            measure,
        ],
    );
    let mut header = [0u8; HEADER_LEN];
    header[0..4].copy_from_slice(&flags.to_le_bytes());
    header[4..20].copy_from_slice(iv);
    header[20..52].copy_from_slice(&mac);
    Ok(LaunchSecret {
        header,
        ciphertext: buf.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::testutil::{b64, unhex};

    fn keys() -> TransportKeys {
        TransportKeys {
            tek: unhex("52a869b79ab9c13bb6a92b0561619cb3")
                .try_into()
                .unwrap(),
            tik: unhex("c6d5a9956133050912b24bbe5c372686")
                .try_into()
                .unwrap(),
        }
    }

    /// The OVMF secret table sevctl builds for one secret (GUIDs in their little-endian
    /// in-memory form), padded to 64 bytes.
    fn ovmf_table(entry_guid: [u8; 16], secret: &[u8]) -> Vec<u8> {
        let table_guid = unhex("42f5741edd71664d963eef4287ff173b");
        let entry_len = 16 + 4 + secret.len();
        let total = 16 + 4 + entry_len;
        let mut v = table_guid;
        v.extend((total as u32).to_le_bytes());
        v.extend(entry_guid);
        v.extend((entry_len as u32).to_le_bytes());
        v.extend(secret);
        v.resize(total.div_ceil(16) * 16, 0);
        v
    }

    #[test]
    fn sevctl_secret_vector() {
        // sev-spec §4.13 item 5 (virtee/sevctl tests/secretbuild.rs, first case).
        let iv: [u8; 16] = b64("rFR07U3TLH2YnsUj2SVZ7A==").try_into().unwrap();
        let blob = b64("TLeA7607lZQntLjRY1/i+sbtdSZ+75zxpz4Px9hzpBLwItF5Q2o4prA++3ZZv9ZS");
        let measure: [u8; 32] = blob[..32].try_into().unwrap();
        let want_header =
            b64("AAAAAKxUdO1N0yx9mJ7FI9klWey8FSzeYQ4X8K71VzNKLU/KQsIsQxLjtbhaPUewqshX5Q==");
        let want_payload = b64(
            "0U3e5PcXv0UW+H4tSBFKOdCYfKE1+j38Bc2fuO16mYiyI+sWx7INfn+lgYj56G\
                                L12yyinDa+lVfCCwD/2w5cPA==",
        );
        // Entry GUID 736869e5-84f0-4973-92ec-06879ce3da0b in its in-memory byte order.
        let guid: [u8; 16] = unhex("e5696873f084734992ec06879ce3da0b")
            .try_into()
            .unwrap();
        let plain = ovmf_table(guid, b"MY-LUKS-PASSPHRASE");
        assert_eq!(plain.len(), 64);
        let s = seal(
            &keys(),
            &iv,
            &plain,
            SecretOptions::default(),
            Some(&measure),
        )
        .unwrap();
        assert_eq!(s.header[..], want_header[..]);
        assert_eq!(s.ciphertext, want_payload);
        // Without MEASURE (API < 0.17) the MAC differs, the ciphertext does not.
        let old = seal(&keys(), &iv, &plain, SecretOptions::default(), None).unwrap();
        assert_eq!(old.ciphertext, want_payload);
        assert_ne!(old.header[20..], want_header[20..]);
        assert_eq!(old.header[..20], want_header[..20]);
    }

    #[test]
    fn mac_covers_the_ciphertext_and_the_lengths() {
        let k = keys();
        let iv = [3u8; 16];
        let m = [5u8; 32];
        let s = seal(&k, &iv, &[0x41; 32], SecretOptions::default(), Some(&m)).unwrap();
        let mac = hmac_sha256(
            &k.tik,
            &[
                &[1],
                &[0; 4],
                &iv,
                &32u32.to_le_bytes(),
                &32u32.to_le_bytes(),
                &s.ciphertext,
                &m,
            ],
        );
        assert_eq!(s.header[20..], mac);
        let mut plain = s.ciphertext.clone();
        aes128_ctr(&k.tek, &iv, &mut plain);
        assert_eq!(plain, vec![0x41; 32]);
    }

    #[test]
    fn length_rules() {
        let k = keys();
        let iv = [0u8; 16];
        let st = |r: Result<LaunchSecret>| r.unwrap_err().status;
        let no = SecretOptions::default();
        let pad = SecretOptions { pad: true };
        assert_eq!(
            st(seal(&k, &iv, &[], pad, None)),
            Status::LIBSEV_STATUS_INVALID_LENGTH
        );
        let e = seal(&k, &iv, &[1; 17], no, None).unwrap_err();
        assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_LENGTH);
        assert!(e.message.contains("pad"), "{}", e.message);
        let s = seal(&k, &iv, &[1; 17], pad, None).unwrap();
        assert_eq!(s.ciphertext.len(), 32);
        let mut p = s.ciphertext.clone();
        aes128_ctr(&k.tek, &iv, &mut p);
        assert_eq!(&p[..17], &[1; 17]);
        assert_eq!(&p[17..], &[0; 15]);
        // The limit, exactly, with and without padding.
        assert!(seal(&k, &iv, &vec![0; MAX_SECRET_LEN], no, None).is_ok());
        assert_eq!(
            st(seal(&k, &iv, &vec![0; MAX_SECRET_LEN + 16], no, None)),
            Status::LIBSEV_STATUS_INVALID_LENGTH
        );
        assert!(seal(&k, &iv, &vec![0; MAX_SECRET_LEN - 1], pad, None).is_ok());
        assert_eq!(
            st(seal(&k, &iv, &vec![0; MAX_SECRET_LEN + 1], pad, None)),
            Status::LIBSEV_STATUS_INVALID_LENGTH
        );
        assert_eq!(wire_len(16, no).unwrap(), 16);
        assert_eq!(wire_len(1, pad).unwrap(), 16);
    }
}
