//! The ID block (96 bytes) and ID authentication information (4096 bytes) an owner gives the
//! VMM for SNP_LAUNCH_FINISH, signed with the owner's ID key and optional author key
//! (ECDSA P-384 with SHA-384; `snp-spec` §3.7, §5.4), and the digests the report will carry.

use p384::ecdsa::signature::Signer;
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha384};

/// Size of the ID block.
pub const ID_BLOCK_LEN: usize = 96;
/// Size of the ID authentication information.
pub const ID_AUTH_LEN: usize = 4096;
/// Size of a public-key structure.
pub const PUBKEY_LEN: usize = 0x404;
/// Size of a signature structure.
pub const SIG_LEN: usize = 0x200;

/// The ID block's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdBlock {
    /// The expected launch digest.
    pub ld: [u8; 48],
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    /// Tools write 1.
    pub version: u32,
    pub guest_svn: u32,
    /// Exactly the policy the VMM passes to SNP_LAUNCH_START.
    pub policy: u64,
}

impl IdBlock {
    /// The 96-byte ID block.
    pub fn to_bytes(&self) -> [u8; ID_BLOCK_LEN] {
        let mut b = [0u8; ID_BLOCK_LEN];
        b[..48].copy_from_slice(&self.ld);
        b[0x30..0x40].copy_from_slice(&self.family_id);
        b[0x40..0x50].copy_from_slice(&self.image_id);
        b[0x50..0x54].copy_from_slice(&self.version.to_le_bytes());
        b[0x54..0x58].copy_from_slice(&self.guest_svn.to_le_bytes());
        b[0x58..0x60].copy_from_slice(&self.policy.to_le_bytes());
        b
    }
}

fn le72(be: &[u8], out: &mut [u8]) {
    for (i, x) in be.iter().rev().enumerate() {
        out[i] = *x;
    }
}

/// The 0x404-byte public-key structure: curve 2 (P-384), qx and qy little-endian in 72 bytes.
pub fn pubkey_struct(key: &VerifyingKey) -> [u8; PUBKEY_LEN] {
    let p = key.to_encoded_point(false);
    let mut b = [0u8; PUBKEY_LEN];
    b[..4].copy_from_slice(&2u32.to_le_bytes());
    le72(p.x().expect("affine x"), &mut b[4..4 + 72]);
    le72(p.y().expect("affine y"), &mut b[0x4C..0x4C + 72]);
    b
}

/// SHA-384 of the public-key structure (ID_KEY_DIGEST / AUTHOR_KEY_DIGEST in reports).
pub fn key_digest(key: &VerifyingKey) -> [u8; 48] {
    Sha384::digest(pubkey_struct(key)).into()
}

/// The 0x200-byte signature structure: r and s little-endian in 72 bytes each.
pub fn sig_struct(sig: &Signature) -> [u8; SIG_LEN] {
    let (r, s) = sig.split_bytes();
    let mut b = [0u8; SIG_LEN];
    le72(&r, &mut b[..72]);
    le72(&s, &mut b[0x48..0x48 + 72]);
    b
}

/// Everything the VMM and the verifier need from one signing.
#[derive(Debug, Clone)]
pub struct IdMaterial {
    pub id_block: [u8; ID_BLOCK_LEN],
    pub id_auth: Box<[u8; ID_AUTH_LEN]>,
    pub id_key_digest: [u8; 48],
    /// `Some` when an author key signed the ID key (pass `auth_key_en = 1` to KVM).
    pub author_key_digest: Option<[u8; 48]>,
}

/// Sign `block` with the ID key and, optionally, the ID key with the author key, and
/// assemble the ID authentication information.
pub fn sign(block: &IdBlock, id_key: &SigningKey, author_key: Option<&SigningKey>) -> IdMaterial {
    let id_block = block.to_bytes();
    let mut auth = Box::new([0u8; ID_AUTH_LEN]);
    auth[0..4].copy_from_slice(&1u32.to_le_bytes());
    let id_sig: Signature = id_key.sign(&id_block);
    auth[0x40..0x240].copy_from_slice(&sig_struct(&id_sig));
    let id_pub = pubkey_struct(id_key.verifying_key());
    auth[0x240..0x644].copy_from_slice(&id_pub);
    let author_key_digest = author_key.map(|ak| {
        auth[4..8].copy_from_slice(&1u32.to_le_bytes());
        let s: Signature = ak.sign(&id_pub);
        auth[0x680..0x880].copy_from_slice(&sig_struct(&s));
        let a_pub = pubkey_struct(ak.verifying_key());
        auth[0x880..0xC84].copy_from_slice(&a_pub);
        Sha384::digest(a_pub).into()
    });
    IdMaterial {
        id_block,
        id_auth: auth,
        id_key_digest: Sha384::digest(id_pub).into(),
        author_key_digest,
    }
}

/// Why an ID block / ID auth pair was refused (the firmware's order, §3.7 step 6c–g).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdAuthError {
    #[error("ID_KEY_ALGO or AUTH_KEY_ALGO is not 1 (ECDSA P-384 with SHA-384)")]
    Algo,
    #[error("the {0} key is not a P-384 point (curve field or coordinates)")]
    Key(&'static str),
    #[error("the {0} signature does not verify")]
    Signature(&'static str),
}

fn parse_pub(b: &[u8], which: &'static str) -> Result<VerifyingKey, IdAuthError> {
    if u32::from_le_bytes(b[..4].try_into().expect("4")) != 2 {
        return Err(IdAuthError::Key(which));
    }
    let be = |f: &[u8]| -> Result<Vec<u8>, IdAuthError> {
        if f[48..72].iter().any(|x| *x != 0) {
            return Err(IdAuthError::Key(which));
        }
        Ok(f[..48].iter().rev().copied().collect())
    };
    let mut sec1 = vec![4u8];
    sec1.extend(be(&b[4..76])?);
    sec1.extend(be(&b[0x4C..0x4C + 72])?);
    VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| IdAuthError::Key(which))
}

fn parse_sig(b: &[u8], which: &'static str) -> Result<Signature, IdAuthError> {
    let part = |f: &[u8]| -> Result<[u8; 48], IdAuthError> {
        if f[48..72].iter().any(|x| *x != 0) {
            return Err(IdAuthError::Signature(which));
        }
        let mut o = [0u8; 48];
        for (i, x) in f[..48].iter().rev().enumerate() {
            o[i] = *x;
        }
        Ok(o)
    };
    Signature::from_scalars(part(&b[..72])?, part(&b[0x48..0x48 + 72])?)
        .map_err(|_| IdAuthError::Signature(which))
}

/// Check an ID block and ID auth as SNP_LAUNCH_FINISH does; returns the ID key digest and,
/// with `author_key_en`, the author key digest.
pub fn verify(
    id_block: &[u8; ID_BLOCK_LEN],
    id_auth: &[u8; ID_AUTH_LEN],
    author_key_en: bool,
) -> Result<([u8; 48], Option<[u8; 48]>), IdAuthError> {
    let algo = |o: usize| u32::from_le_bytes(id_auth[o..o + 4].try_into().expect("4"));
    if algo(0) != 1 || (author_key_en && algo(4) != 1) {
        return Err(IdAuthError::Algo);
    }
    let id_pub = &id_auth[0x240..0x644];
    let id_key = parse_pub(id_pub, "ID")?;
    let sig = parse_sig(&id_auth[0x40..0x240], "ID block")?;
    id_key
        .verify_prehash(&Sha384::digest(id_block), &sig)
        .map_err(|_| IdAuthError::Signature("ID block"))?;
    let id_digest: [u8; 48] = Sha384::digest(id_pub).into();
    if !author_key_en {
        return Ok((id_digest, None));
    }
    let a_pub = &id_auth[0x880..0xC84];
    let a_key = parse_pub(a_pub, "author")?;
    let sig = parse_sig(&id_auth[0x680..0x880], "ID key")?;
    a_key
        .verify_prehash(&Sha384::digest(id_pub), &sig)
        .map_err(|_| IdAuthError::Signature("ID key"))?;
    Ok((id_digest, Some(Sha384::digest(a_pub).into())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::testutil::{b64, unhex};
    use p384::pkcs8::DecodePrivateKey;

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!(
            "{}/../shared/testdata/snp/measurement/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn key(name: &str) -> SigningKey {
        let pem = String::from_utf8(fixture(name)).unwrap();
        SigningKey::from_pkcs8_pem(&pem).unwrap()
    }

    fn kat_block() -> IdBlock {
        IdBlock {
            ld: unhex("a14d638341e5674628fe1e02fbedebe5e5ab4faf1dd72d8966068e615bb99efd13d214b35c231715b38e263dc6059745").try_into().unwrap(),
            family_id: [0; 16],
            image_id: [0; 16],
            version: 1,
            guest_svn: 0,
            policy: 0x30000,
        }
    }

    #[test]
    fn id_block_kat() {
        let want = b64(
            "oU1jg0HlZ0Yo/h4C++3r5eWrT68d1y2JZgaOYVu5nv0T0hSzXCMXFbOOJj3GBZdFAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAwAAAAAA",
        );
        assert_eq!(kat_block().to_bytes().to_vec(), want);
        let id = key("test_id_key.pem");
        let author = key("test_auth_key.pem");
        assert_eq!(
            key_digest(id.verifying_key()).to_vec(),
            unhex(
                "59fb2c686dfa4fef49f38339aa775c90051c28d57383ddc3baf3b5eb4b1496df3b0dbbdcbae5fe27677a644820773fe2"
            )
        );
        assert_eq!(
            key_digest(author.verifying_key()).to_vec(),
            unhex(
                "eed81169fb0cb5e0ec34794f128fd4e0c4a46f67c65a1adfa81fcb24bcc088c272369b7ffc3eb2b6af6a4284a1b36c5f"
            )
        );
        let m = sign(&kat_block(), &id, Some(&author));
        assert_eq!(m.id_key_digest, key_digest(id.verifying_key()));
        assert_eq!(
            m.author_key_digest,
            Some(key_digest(author.verifying_key()))
        );
        let (d, a) = verify(&m.id_block, &m.id_auth, true).unwrap();
        assert_eq!((d, a), (m.id_key_digest, m.author_key_digest));
        // The published assembled ID auth (other signatures: ECDSA is randomised there)
        // verifies with our checker, and its key structures equal ours.
        let published: [u8; ID_AUTH_LEN] = fixture("test_auth_block.bin").try_into().unwrap();
        verify(&m.id_block, &published, true).unwrap();
        assert_eq!(published[0x240..0x644], m.id_auth[0x240..0x644]);
        assert_eq!(published[0x880..0xC84], m.id_auth[0x880..0xC84]);
        assert_eq!(published[..0x40], m.id_auth[..0x40]);
        // The separate signature fixtures, too.
        assert_eq!(fixture("test_id_sig.bin"), published[0x40..0x240]);
        assert_eq!(fixture("test_auth_sig.bin"), published[0x680..0x880]);
    }

    #[test]
    fn firmware_order_refusals() {
        let id = key("test_id_key.pem");
        let m = sign(&kat_block(), &id, None);
        assert_eq!(m.author_key_digest, None);
        assert_eq!(
            verify(&m.id_block, &m.id_auth, false).unwrap().0,
            m.id_key_digest
        );
        assert_eq!(
            verify(&m.id_block, &m.id_auth, true),
            Err(IdAuthError::Algo)
        );
        let mut blk = m.id_block;
        blk[0] ^= 1;
        assert_eq!(
            verify(&blk, &m.id_auth, false),
            Err(IdAuthError::Signature("ID block"))
        );
        let mut a = m.id_auth.clone();
        a[0x240] = 3;
        assert_eq!(verify(&m.id_block, &a, false), Err(IdAuthError::Key("ID")));
        let mut a = m.id_auth.clone();
        a[0x245] ^= 1;
        assert!(verify(&m.id_block, &a, false).is_err());
        for i in 0x40..0x40 + 144 {
            let mut a = m.id_auth.clone();
            a[i] ^= 0x80;
            assert!(
                verify(&m.id_block, &a, false).is_err(),
                "signature byte {i:#x}"
            );
        }
    }
}
