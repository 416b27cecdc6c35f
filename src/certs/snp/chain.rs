//! Verify an SNP certificate chain ARK ← ASK (or ASVK) ← VCEK (or VLEK) and say which root it
//! ends at (`snp-spec` §4.8 steps 2–3).

use super::super::CertError;
use super::roots::amd_root_by_fingerprint;
use super::x509::{SnpCert, SnpKey, describe};
use super::{SnpGeneration, Tcb, testroot};
use crate::status::Status;

/// Which root a chain ends at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnpRootKind {
    /// One of AMD's SNP ARKs.
    Amd(SnpGeneration),
    /// libsev's test-only SNP root (its ASK private key is public).
    TestOnly,
}

/// VCEK (chip-unique) or VLEK (loaded by a cloud provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeafKind {
    Vcek,
    Vlek,
}

/// What the verifier accepts.
#[derive(Debug, Clone, Default)]
pub struct ChainOptions {
    /// Accept libsev's test-only root (tests only: its keys are public).
    pub allow_test_root: bool,
    /// Require the chain to be of this generation (the root's, for AMD's roots).
    pub generation: Option<SnpGeneration>,
    /// Check each certificate's validity period at this time (seconds since the Unix epoch).
    pub at_time: Option<u64>,
}

/// Why a chain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A certificate is malformed or a signature does not verify.
    #[error("{0}")]
    Cert(#[from] CertError),
    /// The ARK is not one of AMD's pinned SNP roots (nor the allowed test root).
    #[error("the ARK '{0}' is not one of AMD's SNP roots (SHA-384 of its DER is not pinned)")]
    UnknownRoot(String),
    /// The chain ends at the test-only root, which was not allowed.
    #[error(
        "the chain ends at libsev's test-only SNP root, whose private keys are public; allow it \
         explicitly (LIBSEV_VERIFY_ALLOW_TEST_ROOT) only in tests"
    )]
    TestRootNotAllowed,
    /// The chain is of another generation than required.
    #[error("the chain is for {found:?}, not the required {wanted:?}")]
    WrongGeneration {
        wanted: SnpGeneration,
        found: SnpGeneration,
    },
    /// A certificate is outside its validity period.
    #[error("{0} is not valid at the given time")]
    Expired(String),
    /// The certificates do not have the roles they must have (names, key types, extensions).
    #[error("{0}")]
    Role(String),
}

impl ChainError {
    /// The libsev status for this failure.
    pub fn status(&self) -> Status {
        match self {
            ChainError::Cert(c) => c.status(),
            ChainError::UnknownRoot(_) => Status::LIBSEV_STATUS_UNKNOWN_ROOT,
            ChainError::TestRootNotAllowed => Status::LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED,
            ChainError::WrongGeneration { .. } => Status::LIBSEV_STATUS_UNKNOWN_ROOT,
            ChainError::Expired(_) | ChainError::Role(_) => Status::LIBSEV_STATUS_BAD_CERTIFICATE,
        }
    }
}

/// A verified chain: which root, which generation, and the leaf's key, TCB and chip id.
#[derive(Debug, Clone)]
pub struct VerifiedChain {
    pub root: SnpRootKind,
    pub generation: SnpGeneration,
    pub leaf_kind: LeafKind,
    /// The leaf certificate (its P-384 key verifies reports).
    pub leaf: SnpCert,
    /// The TCB the VCEK/VLEK was issued for (from its extensions).
    pub tcb: Tcb,
    /// The chip id (VCEK hwID extension; `None` for a VLEK).
    pub hw_id: Option<Vec<u8>>,
}

impl VerifiedChain {
    /// The leaf's P-384 public key.
    pub fn key(&self) -> &p384::ecdsa::VerifyingKey {
        self.leaf
            .p384_key()
            .expect("a verified chain's leaf holds a P-384 key")
    }
}

fn check_time(c: &SnpCert, at: Option<u64>) -> Result<(), ChainError> {
    match at {
        Some(t) if t < c.not_before || t > c.not_after => Err(ChainError::Expired(describe(c))),
        _ => Ok(()),
    }
}

/// Verify `leaf` (VCEK/VLEK) ← `ask` (ASK/ASVK) ← `ark` (self-signed) and identify the root.
///
/// Checks, in order: the ARK is self-signed (RSASSA-PSS); the ASK is signed by the ARK; the
/// leaf is signed by the ASK and holds a P-384 key; the ARK is one of AMD's pinned roots (or
/// the test root, when allowed); the generation (if required); the validity periods (if a time
/// is given); the leaf's AMD extensions name a known product and carry its TCB (and, for a
/// VCEK, the hwID).
pub fn verify_chain(
    ark: &SnpCert,
    ask: &SnpCert,
    leaf: &SnpCert,
    opts: &ChainOptions,
) -> Result<VerifiedChain, ChainError> {
    if !ark.self_issued() {
        return Err(ChainError::Role(format!(
            "the ARK {} is not self-issued (issuer '{}')",
            describe(ark),
            ark.issuer_cn
        )));
    }
    ark.verify_signed_by(ark)?;
    ask.verify_signed_by(ark)?;
    if !matches!(ask.key, SnpKey::Rsa(_)) {
        return Err(ChainError::Role(format!(
            "the ASK {} has no RSA key",
            describe(ask)
        )));
    }
    leaf.verify_signed_by(ask)?;
    if leaf.p384_key().is_none() {
        return Err(ChainError::Role(format!(
            "the leaf {} has no P-384 key",
            describe(leaf)
        )));
    }
    let fp = ark.fingerprint();
    let root = if let Some(g) = amd_root_by_fingerprint(&fp) {
        SnpRootKind::Amd(g)
    } else if fp == testroot::ark().fingerprint() {
        if !opts.allow_test_root {
            return Err(ChainError::TestRootNotAllowed);
        }
        SnpRootKind::TestOnly
    } else {
        return Err(ChainError::UnknownRoot(ark.subject_cn.clone()));
    };
    let leaf_kind = match leaf.subject_cn.as_str() {
        "SEV-VCEK" => LeafKind::Vcek,
        "SEV-VLEK" => LeafKind::Vlek,
        other => {
            return Err(ChainError::Role(format!(
                "the leaf's subject '{other}' is neither SEV-VCEK nor SEV-VLEK"
            )));
        }
    };
    let product = leaf
        .amd
        .product_name
        .as_deref()
        .ok_or_else(|| ChainError::Role("the VCEK/VLEK has no productName extension".into()))?;
    let leaf_gen = SnpGeneration::from_product_name(product).ok_or_else(|| {
        ChainError::Role(format!("unknown product name '{product}' in the VCEK/VLEK"))
    })?;
    let generation = match root {
        SnpRootKind::Amd(g) => {
            if g != leaf_gen {
                return Err(ChainError::Role(format!(
                    "the leaf names product '{product}' but the chain is {g:?}'s"
                )));
            }
            g
        }
        SnpRootKind::TestOnly => leaf_gen,
    };
    if let Some(w) = opts.generation
        && w != generation
    {
        return Err(ChainError::WrongGeneration {
            wanted: w,
            found: generation,
        });
    }
    for c in [ark, ask, leaf] {
        check_time(c, opts.at_time)?;
    }
    let a = &leaf.amd;
    let missing = |n: &str| ChainError::Role(format!("the VCEK/VLEK lacks its {n} extension"));
    let tcb = Tcb {
        fmc: if generation.turin_like() {
            Some(a.fmc.ok_or_else(|| missing("fmcSPL"))?)
        } else {
            None
        },
        bootloader: a.bootloader.ok_or_else(|| missing("blSPL"))?,
        tee: a.tee.ok_or_else(|| missing("teeSPL"))?,
        snp: a.snp.ok_or_else(|| missing("snpSPL"))?,
        microcode: a.microcode.ok_or_else(|| missing("ucodeSPL"))?,
    };
    let hw_id = match leaf_kind {
        LeafKind::Vcek => {
            let id = a.hw_id.clone().ok_or_else(|| missing("hwID"))?;
            if id.len() != generation.chip_id_len() {
                return Err(ChainError::Role(format!(
                    "the VCEK's hwID has {} bytes; {:?} chip ids have {}",
                    id.len(),
                    generation,
                    generation.chip_id_len()
                )));
            }
            Some(id)
        }
        LeafKind::Vlek => None,
    };
    Ok(VerifiedChain {
        root,
        generation,
        leaf_kind,
        leaf: leaf.clone(),
        tcb,
        hw_id,
    })
}

#[cfg(test)]
mod tests {
    use super::super::x509::shared;
    use super::*;

    fn amd(g: &str) -> (SnpCert, SnpCert) {
        let ark = SnpCert::from_pem_all(&shared(&format!("builtin/{g}/ark.pem"))).unwrap();
        let ask = SnpCert::from_pem_all(&shared(&format!("builtin/{g}/ask.pem"))).unwrap();
        (ark[0].clone(), ask[0].clone())
    }

    #[test]
    fn real_turin_vcek_verifies_to_turin_and_not_milan_or_genoa() {
        let vcek = SnpCert::from_der(&shared("turin/vcek.der")).unwrap();
        let (ark, ask) = amd("turin");
        let v = verify_chain(&ark, &ask, &vcek, &ChainOptions::default()).unwrap();
        assert_eq!(v.root, SnpRootKind::Amd(SnpGeneration::Turin));
        assert_eq!(v.leaf_kind, LeafKind::Vcek);
        assert_eq!(v.tcb.fmc, Some(0));
        assert_eq!(v.tcb.microcode, 9);
        assert_eq!(v.hw_id.as_ref().unwrap().len(), 8);
        // The chain as the key server returns it (ASK then ARK in one PEM).
        let pair = SnpCert::from_pem_all(&shared("turin/ask_ark.pem")).unwrap();
        verify_chain(&pair[1], &pair[0], &vcek, &ChainOptions::default()).unwrap();
        let o = ChainOptions {
            generation: Some(SnpGeneration::Milan),
            ..Default::default()
        };
        assert!(matches!(
            verify_chain(&ark, &ask, &vcek, &o),
            Err(ChainError::WrongGeneration { .. })
        ));
        for g in ["milan", "genoa"] {
            let (ark, ask) = amd(g);
            let e = verify_chain(&ark, &ask, &vcek, &ChainOptions::default()).unwrap_err();
            assert_eq!(e.status(), Status::LIBSEV_STATUS_CHAIN_BROKEN, "{g}: {e}");
        }
        // Turin's ARK with Milan's ASK: the ASK is not signed by that ARK.
        let (_, milan_ask) = amd("milan");
        assert!(verify_chain(&ark, &milan_ask, &vcek, &ChainOptions::default()).is_err());
        // Validity: 2024-11-06 .. 2031-11-06 for this VCEK.
        let late = ChainOptions {
            at_time: Some(2_000_000_000),
            ..Default::default()
        };
        assert!(matches!(
            verify_chain(&ark, &ask, &vcek, &late),
            Err(ChainError::Expired(_))
        ));
    }

    #[test]
    fn every_flipped_signed_or_signature_byte_of_the_vcek_is_refused() {
        let der = shared("turin/vcek.der");
        let (ark, ask) = amd("turin");
        let mut refused = 0;
        // Every byte (stride keeps the test quick on slow machines; the signature's last
        // 512 bytes are all covered).
        let sig_start = der.len() - 512;
        for i in (0..der.len()).filter(|i| i % 7 == 0 || *i >= sig_start) {
            let mut d = der.clone();
            d[i] ^= 0x01;
            match SnpCert::from_der(&d) {
                Err(_) => refused += 1,
                Ok(c) => {
                    assert!(
                        verify_chain(&ark, &ask, &c, &ChainOptions::default()).is_err(),
                        "byte {i} flipped still verifies"
                    );
                    refused += 1;
                }
            }
        }
        assert!(refused > 512);
    }
}
