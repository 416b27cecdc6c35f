//! ID block and ID authentication verification at SNP_LAUNCH_FINISH (`sev-spec` SNP §3.7
//! step 6), in the firmware's order: LD → policy → algorithms → ID key curve/point →
//! ID block signature → ID key digest → author key curve/point and signature → digest.

use super::measure::Ld;
use crate::model::FwResult;
use crate::status::fw;
use crate::uapi::snp::{id_auth, snp_sizes};
use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha384};

/// What a verified ID block leaves in the guest context.
pub(crate) struct Verified {
    pub(crate) id_key_digest: Ld,
    pub(crate) author_key_digest: Ld,
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

/// A 72-byte little-endian field as a 48-byte big-endian integer; `None` if bytes above 48
/// are set.
fn le72_to_be48(b: &[u8]) -> Option<[u8; 48]> {
    if b[48..72].iter().any(|x| *x != 0) {
        return None;
    }
    let mut o = [0u8; 48];
    for i in 0..48 {
        o[i] = b[47 - i];
    }
    Some(o)
}

/// A public-key structure (0x404 bytes): curve must be P-384 and the point on the curve.
pub(crate) fn parse_key(k: &[u8]) -> FwResult<VerifyingKey> {
    if u32_at(k, 0) != id_auth::CURVE_P384 {
        return Err(fw::BAD_SIGNATURE);
    }
    let (Some(x), Some(y)) = (le72_to_be48(&k[4..76]), le72_to_be48(&k[0x4C..0x4C + 72])) else {
        return Err(fw::BAD_SIGNATURE);
    };
    let pt = p384::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
    VerifyingKey::from_encoded_point(&pt).map_err(|_| fw::BAD_SIGNATURE)
}

/// A signature structure (0x200 bytes, r and s little-endian in 72-byte fields).
pub(crate) fn parse_sig(s: &[u8]) -> FwResult<Signature> {
    let (Some(r), Some(sv)) = (le72_to_be48(&s[0..72]), le72_to_be48(&s[0x48..0x48 + 72])) else {
        return Err(fw::BAD_SIGNATURE);
    };
    Signature::from_scalars(r, sv).map_err(|_| fw::BAD_SIGNATURE)
}

fn verify_sig(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> FwResult<()> {
    let sig = parse_sig(sig)?;
    key.verify(msg, &sig).map_err(|_| fw::BAD_SIGNATURE)
}

/// Verify an ID block and its authentication page against the guest's LD and policy.
pub(crate) fn verify(
    block: &[u8; snp_sizes::ID_BLOCK],
    auth: &[u8; snp_sizes::ID_AUTH],
    auth_key_en: bool,
    ld: &Ld,
    policy: u64,
) -> FwResult<Verified> {
    if block[..48] != ld[..] {
        return Err(fw::BAD_MEASUREMENT);
    }
    if u64::from_le_bytes(block[0x58..0x60].try_into().unwrap()) != policy {
        return Err(fw::POLICY_FAILURE);
    }
    if u32_at(auth, id_auth::ID_KEY_ALGO) != id_auth::ALGO_ECDSA_P384_SHA384
        || (auth_key_en && u32_at(auth, id_auth::AUTH_KEY_ALGO) != id_auth::ALGO_ECDSA_P384_SHA384)
    {
        return Err(fw::INVALID_PARAM);
    }
    let id_key_bytes = &auth[id_auth::ID_KEY..id_auth::ID_KEY + id_auth::KEY_LEN];
    let id_key = parse_key(id_key_bytes)?;
    verify_sig(
        &id_key,
        block,
        &auth[id_auth::ID_BLOCK_SIG..id_auth::ID_BLOCK_SIG + id_auth::SIG_LEN],
    )?;
    let mut v = Verified {
        id_key_digest: Sha384::digest(id_key_bytes).into(),
        author_key_digest: [0; 48],
    };
    if auth_key_en {
        let ak_bytes = &auth[id_auth::AUTHOR_KEY..id_auth::AUTHOR_KEY + id_auth::KEY_LEN];
        let ak = parse_key(ak_bytes)?;
        verify_sig(
            &ak,
            id_key_bytes,
            &auth[id_auth::ID_KEY_SIG..id_auth::ID_KEY_SIG + id_auth::SIG_LEN],
        )?;
        v.author_key_digest = Sha384::digest(ak_bytes).into();
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> Option<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/testdata/snp/measurement");
        std::fs::read(dir.join(name)).ok()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// `sev-spec` SNP §6.6: the virtee ID block with its auth page verifies, and the digests
    /// are the known answers; each step of the check order fails with its status.
    #[test]
    fn id_block_known_answer_and_check_order() {
        let Some(auth) = testdata("test_auth_block.bin") else {
            eprintln!("skipping: ../shared/testdata/snp/measurement/test_auth_block.bin is absent");
            return;
        };
        let auth: [u8; 4096] = auth.try_into().unwrap();
        let ld: Ld = hex("a14d638341e5674628fe1e02fbedebe5e5ab4faf1dd72d8966068e615bb99efd13d214b35c231715b38e263dc6059745").try_into().unwrap();
        let mut block = [0u8; 96];
        block[..48].copy_from_slice(&ld);
        block[0x50] = 1;
        block[0x58..0x60].copy_from_slice(&0x30000u64.to_le_bytes());
        let v = verify(&block, &auth, true, &ld, 0x30000).expect("KAT ID block verifies");
        assert_eq!(
            v.id_key_digest[..],
            hex(
                "59fb2c686dfa4fef49f38339aa775c90051c28d57383ddc3baf3b5eb4b1496df3b0dbbdcbae5fe27677a644820773fe2"
            )[..]
        );
        assert_eq!(
            v.author_key_digest[..],
            hex(
                "eed81169fb0cb5e0ec34794f128fd4e0c4a46f67c65a1adfa81fcb24bcc088c272369b7ffc3eb2b6af6a4284a1b36c5f"
            )[..]
        );
        let mut other = ld;
        other[0] ^= 1;
        assert_eq!(
            verify(&block, &auth, true, &other, 0x30000).err(),
            Some(fw::BAD_MEASUREMENT)
        );
        assert_eq!(
            verify(&block, &auth, true, &ld, 0x30001).err(),
            Some(fw::POLICY_FAILURE)
        );
        let mut a = auth;
        a[4] = 2;
        assert_eq!(
            verify(&block, &a, true, &ld, 0x30000).err(),
            Some(fw::INVALID_PARAM)
        );
        assert!(
            verify(&block, &a, false, &ld, 0x30000).is_ok(),
            "AUTH_KEY_ALGO unchecked without auth_key_en"
        );
        let mut a = auth;
        a[id_auth::ID_KEY] = 3;
        assert_eq!(
            verify(&block, &a, true, &ld, 0x30000).err(),
            Some(fw::BAD_SIGNATURE)
        );
        let mut a = auth;
        a[id_auth::ID_KEY + 4] ^= 1; // point off the curve
        assert_eq!(
            verify(&block, &a, true, &ld, 0x30000).err(),
            Some(fw::BAD_SIGNATURE)
        );
        for off in [
            id_auth::ID_BLOCK_SIG,
            id_auth::ID_BLOCK_SIG + 0x48,
            id_auth::ID_KEY_SIG + 5,
        ] {
            let mut a = auth;
            a[off] ^= 0x40;
            assert_eq!(
                verify(&block, &a, true, &ld, 0x30000).err(),
                Some(fw::BAD_SIGNATURE),
                "byte {off:#x}"
            );
        }
        let mut b = block;
        b[0x40] = 9; // IMAGE_ID is signed
        assert_eq!(
            verify(&b, &auth, true, &ld, 0x30000).err(),
            Some(fw::BAD_SIGNATURE)
        );
    }
}
