//! Verifying a platform's certificate chain the way a guest owner must (`sev-spec` §5.5, §5.7):
//!
//! ```text
//! ARK (self-signed) -> ASK -> CEK -\
//!                                   PEK (needs BOTH signatures) -> PDH
//! OCA (self-signed) ---------------/
//! ```
//!
//! Every link is checked and reported on its own ([`ChainReport`]); the first failing link in
//! root-to-leaf order ([`Link::ALL`]) is the one named in errors, because a broken signer makes
//! every link below it fail too. After the links, the root is identified ([`roots`]): AMD roots
//! pass, the model's test-only root passes only with [`VerifyOptions::allow_test_root`], any
//! other root fails with `UNKNOWN_ROOT`.
//!
//! Input layouts accepted (all certificates in their wire form):
//! * [`Chain::from_parts`]: PDH, `PEK ‖ OCA ‖ CEK` (the PDH_CERT_EXPORT chain buffer, whose CEK
//!   must be the KDS-signed one — see [`Chain::with_cek`]), and `ASK ‖ ARK`;
//! * [`Chain::from_sev_chain`]: `PDH ‖ PEK ‖ OCA ‖ CEK` (`sev-chain.bin`) and `ASK ‖ ARK`;
//! * [`Chain::from_full`]: `PDH ‖ PEK ‖ OCA ‖ CEK ‖ ASK ‖ ARK` (`chain.bin`).

use super::amd::{AmdCert, USAGE_ARK, USAGE_ASK, hex};
use super::cert::{self as sev, SevCert, Usage};
use super::roots::{self, RootKind};
use crate::certs::CertError;
use crate::error::{Error, Result};
use crate::status::Status;

/// One signature relation in the chain.
///
/// (Rust only; C uses its `libsev_*` counterpart.)
/// cbindgen:ignore
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// The ARK's self-signature.
    ArkSelf,
    /// The ASK, signed by the ARK.
    AskByArk,
    /// The CEK, signed by the ASK.
    CekByAsk,
    /// The OCA's self-signature.
    OcaSelf,
    /// The PEK's signature by the OCA.
    PekByOca,
    /// The PEK's signature by the CEK.
    PekByCek,
    /// The PDH, signed by the PEK.
    PdhByPek,
}

impl Link {
    /// All links, root to leaf (the order of [`ChainReport::links`]).
    pub const ALL: [Link; 7] = [
        Link::ArkSelf,
        Link::AskByArk,
        Link::CekByAsk,
        Link::OcaSelf,
        Link::PekByOca,
        Link::PekByCek,
        Link::PdhByPek,
    ];

    /// A short name ("PEK signed by CEK").
    pub fn name(self) -> &'static str {
        match self {
            Link::ArkSelf => "ARK self-signature",
            Link::AskByArk => "ASK signed by ARK",
            Link::CekByAsk => "CEK signed by ASK",
            Link::OcaSelf => "OCA self-signature",
            Link::PekByOca => "PEK signed by OCA",
            Link::PekByCek => "PEK signed by CEK",
            Link::PdhByPek => "PDH signed by PEK",
        }
    }
}

/// The outcome of one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkResult {
    pub link: Link,
    pub result: std::result::Result<(), CertError>,
}

/// Options for chain verification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Accept a chain that ends at the firmware model's test-only root. Off by default: the
    /// test root's private keys are public.
    pub allow_test_root: bool,
}

/// Per-link results and the identified root.
#[derive(Debug, Clone)]
pub struct ChainReport {
    /// One entry per [`Link::ALL`], in that order.
    pub links: Vec<LinkResult>,
    /// The ARK's identity (whether or not its self-signature verified).
    pub root: RootKind,
    /// The options the chain was verified with.
    pub options: VerifyOptions,
}

impl ChainReport {
    /// The first failing link, root to leaf: the one whose certificate is at fault.
    pub fn failed_link(&self) -> Option<&LinkResult> {
        self.links.iter().find(|l| l.result.is_err())
    }

    /// The result of one link.
    pub fn link(&self, link: Link) -> &LinkResult {
        self.links
            .iter()
            .find(|l| l.link == link)
            .expect("the report has every link")
    }

    /// The overall verdict: `Ok` only if every link verified and the root is acceptable.
    /// Errors name the failing link (`BAD_CERTIFICATE`, `BAD_SIGNATURE`, `CHAIN_BROKEN`) or the
    /// root (`UNKNOWN_ROOT`, `TEST_ROOT_NOT_ALLOWED`).
    pub fn check(&self) -> Result<()> {
        if let Some(l) = self.failed_link() {
            let e = l.result.as_ref().expect_err("failed link");
            return Err(Error::new(
                e.status(),
                format!("certificate chain: {} failed: {e}", l.link.name()),
            ));
        }
        match self.root {
            RootKind::Amd(_) => Ok(()),
            RootKind::TestOnly if self.options.allow_test_root => Ok(()),
            RootKind::TestOnly => Err(Error::new(
                Status::LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED,
                "certificate chain ends at the firmware model's test-only root, whose private \
                 keys are public; allow it explicitly (LIBSEV_VERIFY_ALLOW_TEST_ROOT) only in tests",
            )),
            RootKind::Unknown => Err(Error::new(
                Status::LIBSEV_STATUS_UNKNOWN_ROOT,
                "certificate chain is signed correctly but its ARK is not one of AMD's roots \
                 (naples, rome, milan, genoa, turin)",
            )),
        }
    }
}

/// `ASK ‖ ARK` as given, with each certificate parsed on its own so that a malformed one is
/// reported against its own link.
#[derive(Debug, Clone)]
pub struct AmdPair {
    raw: Vec<u8>,
    pub ask: std::result::Result<AmdCert, CertError>,
    pub ark: std::result::Result<AmdCert, CertError>,
}

impl AmdPair {
    /// Split `ASK ‖ ARK`. When the pair does not parse as a whole, it is split by the sizes
    /// that occur (0x680 = two 2048-bit certificates, 0xC80 = two 4096-bit ones) and each half
    /// is parsed alone; any other size is an `INVALID_LENGTH` error.
    pub fn parse(b: &[u8]) -> Result<Self> {
        if let Ok((ask, ark)) = AmdCert::parse_ask_ark(b) {
            return Ok(AmdPair {
                raw: b.to_vec(),
                ask: Ok(ask),
                ark: Ok(ark),
            });
        }
        let half_bits = match b.len() {
            0x680 => 2048u32,
            0xC80 => 4096,
            n => {
                return Err(Error::new(
                    Status::LIBSEV_STATUS_INVALID_LENGTH,
                    format!(
                        "ASK ‖ ARK is {n} bytes and does not parse; expected 1664 (Naples) or \
                         3200 bytes (Rome and later)"
                    ),
                ));
            }
        };
        let (ask_b, ark_b) = b.split_at(b.len() / 2);
        let ask = AmdCert::parse_prefix(ask_b, Some(half_bits)).and_then(|(c, used)| {
            if used == ask_b.len() {
                Ok(c)
            } else {
                Err(CertError::Malformed(format!(
                    "ASK header describes {used} bytes, {} given",
                    ask_b.len()
                )))
            }
        });
        let ark = AmdCert::from_bytes(ark_b);
        Ok(AmdPair {
            raw: b.to_vec(),
            ask: ask.map_err(|e| prefix_err("ASK", e)),
            ark: ark.map_err(|e| prefix_err("ARK", e)),
        })
    }

    /// The bytes as given.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }
}

fn prefix_err(what: &str, e: CertError) -> CertError {
    match e {
        CertError::Malformed(m) => CertError::Malformed(format!("{what}: {m}")),
        CertError::BadKey(m) => CertError::BadKey(format!("{what}: {m}")),
        other => other,
    }
}

/// A platform chain: the four SEV certificates and AMD's ASK and ARK.
#[derive(Debug, Clone)]
pub struct Chain {
    pub pdh: SevCert,
    pub pek: SevCert,
    pub oca: SevCert,
    pub cek: SevCert,
    pub amd: AmdPair,
}

fn sev_at(b: &[u8], i: usize, what: &str) -> Result<SevCert> {
    SevCert::from_bytes(&b[i * sev::SIZE..(i + 1) * sev::SIZE]).map_err(|e| {
        Error::new(
            Status::LIBSEV_STATUS_BAD_CERTIFICATE,
            format!("{what}: {e}"),
        )
    })
}

fn want_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::new(
            Status::LIBSEV_STATUS_INVALID_LENGTH,
            format!("{what} is {got} bytes, expected {want}"),
        ));
    }
    Ok(())
}

impl Chain {
    /// PDH, `PEK ‖ OCA ‖ CEK` (3 × 2084 bytes, the PDH_CERT_EXPORT layout) and `ASK ‖ ARK`.
    pub fn from_parts(pdh: &[u8], plat_certs: &[u8], ask_ark: &[u8]) -> Result<Self> {
        want_len("PDH certificate", pdh.len(), sev::SIZE)?;
        want_len("PEK ‖ OCA ‖ CEK", plat_certs.len(), 3 * sev::SIZE)?;
        Ok(Chain {
            pdh: sev_at(pdh, 0, "PDH")?,
            pek: sev_at(plat_certs, 0, "PEK")?,
            oca: sev_at(plat_certs, 1, "OCA")?,
            cek: sev_at(plat_certs, 2, "CEK")?,
            amd: AmdPair::parse(ask_ark)?,
        })
    }

    /// `PDH ‖ PEK ‖ OCA ‖ CEK` (4 × 2084 bytes) and `ASK ‖ ARK`.
    pub fn from_sev_chain(sev_chain: &[u8], ask_ark: &[u8]) -> Result<Self> {
        want_len("PDH ‖ PEK ‖ OCA ‖ CEK", sev_chain.len(), 4 * sev::SIZE)?;
        Self::from_parts(&sev_chain[..sev::SIZE], &sev_chain[sev::SIZE..], ask_ark)
    }

    /// `PDH ‖ PEK ‖ OCA ‖ CEK ‖ ASK ‖ ARK`.
    pub fn from_full(chain: &[u8]) -> Result<Self> {
        if chain.len() <= 4 * sev::SIZE {
            return Err(Error::new(
                Status::LIBSEV_STATUS_INVALID_LENGTH,
                format!(
                    "full chain is {} bytes: it must hold 4 SEV certificates ({} bytes) followed \
                     by ASK ‖ ARK",
                    chain.len(),
                    4 * sev::SIZE
                ),
            ));
        }
        let (sev_part, amd) = chain.split_at(4 * sev::SIZE);
        Self::from_sev_chain(sev_part, amd)
    }

    /// Replace the CEK (e.g. the firmware's unsigned CEK from PDH_CERT_EXPORT by the one AMD's
    /// key server signed for this chip).
    pub fn with_cek(mut self, cek: &[u8]) -> Result<Self> {
        want_len("CEK certificate", cek.len(), sev::SIZE)?;
        self.cek = sev_at(cek, 0, "CEK")?;
        Ok(self)
    }

    /// The full serialized chain, `PDH ‖ PEK ‖ OCA ‖ CEK ‖ ASK ‖ ARK` (the `chain.bin` layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(4 * sev::SIZE + self.amd.raw.len());
        for c in [&self.pdh, &self.pek, &self.oca, &self.cek] {
            v.extend_from_slice(c.as_bytes());
        }
        v.extend_from_slice(&self.amd.raw);
        v
    }

    /// Check every link and identify the root.
    pub fn verify(&self, options: VerifyOptions) -> ChainReport {
        let ark = self.amd.ark.as_ref();
        let ask = self.amd.ask.as_ref();
        let oca_key = self.oca.check_body(Usage::OCA);
        let cek_key = self.cek.check_body(Usage::CEK);
        let pek_key = self.pek.check_body(Usage::PEK);
        let pdh_key = self.pdh.check_body(Usage::PDH);

        let run = |link: Link| -> std::result::Result<(), CertError> {
            match link {
                Link::ArkSelf => {
                    let ark = subject(ark)?;
                    check_amd(ark, USAGE_ARK, "ARK")?;
                    ark.verify_signed_by(ark)
                }
                Link::AskByArk => {
                    let ask = subject(ask)?;
                    check_amd(ask, USAGE_ASK, "ASK")?;
                    ask.verify_signed_by(signer("ARK", ark)?)
                }
                Link::CekByAsk => {
                    subject(cek_key.as_ref())?;
                    self.cek.verify_by_ask(signer("ASK", ask)?)
                }
                Link::OcaSelf => {
                    let k = subject(oca_key.as_ref())?;
                    self.oca.verify_ecdsa(Usage::OCA, k)
                }
                Link::PekByOca => {
                    subject(pek_key.as_ref())?;
                    self.pek
                        .verify_ecdsa(Usage::OCA, signer("OCA", oca_key.as_ref())?)
                }
                Link::PekByCek => {
                    subject(pek_key.as_ref())?;
                    self.pek
                        .verify_ecdsa(Usage::CEK, signer("CEK", cek_key.as_ref())?)
                }
                Link::PdhByPek => {
                    subject(pdh_key.as_ref())?;
                    self.pdh
                        .verify_ecdsa(Usage::PEK, signer("PEK", pek_key.as_ref())?)
                }
            }
        };
        let links = Link::ALL
            .iter()
            .map(|l| LinkResult {
                link: *l,
                result: run(*l),
            })
            .collect();
        let root = ark.map(roots::identify).unwrap_or(RootKind::Unknown);
        ChainReport {
            links,
            root,
            options,
        }
    }

    /// Verify, and on success return what the owner needs from the chain.
    pub fn verified(&self, options: VerifyOptions) -> Result<VerifiedChain> {
        let report = self.verify(options);
        report.check()?;
        let pek_key = self.pek.public_key().map_err(|e| {
            Error::new(e.status(), format!("PEK: {e}")) // unreachable after a passing report
        })?;
        Ok(VerifiedChain {
            pdh: self.pdh.clone(),
            pek: self.pek.clone(),
            pek_key,
            root: report.root,
        })
    }
}

/// A chain that passed [`Chain::verified`]: the PDH to build a session for and the PEK that
/// signs attestation reports.
#[derive(Debug, Clone)]
pub struct VerifiedChain {
    pub pdh: SevCert,
    pub pek: SevCert,
    pub pek_key: p384::PublicKey,
    pub root: RootKind,
}

/// A signer that failed its own checks: the link it signs cannot be verified.
fn signer<T>(
    name: &str,
    r: std::result::Result<T, &CertError>,
) -> std::result::Result<T, CertError> {
    r.map_err(|e| CertError::BadKey(format!("the signer {name} is unusable: {e}")))
}

/// The link's own subject, with its own error.
fn subject<T>(r: std::result::Result<T, &CertError>) -> std::result::Result<T, CertError> {
    r.map_err(Clone::clone)
}

fn check_amd(c: &AmdCert, usage: u32, what: &str) -> std::result::Result<(), CertError> {
    if c.key_usage() != usage {
        return Err(CertError::Malformed(format!(
            "{what} key usage {:#x}, expected {usage:#x}",
            c.key_usage()
        )));
    }
    if rd_exp_bits(c) != c.modulus_bits() {
        return Err(CertError::Malformed(format!(
            "{what} public exponent size {} bits differs from modulus size {} bits",
            rd_exp_bits(c),
            c.modulus_bits()
        )));
    }
    if usage == USAGE_ARK && c.certifying_id() != c.key_id() {
        return Err(CertError::NoSignatureBy(format!(
            "ARK itself (certifying id {} is not its key id {})",
            hex(&c.certifying_id()),
            hex(&c.key_id())
        )));
    }
    Ok(())
}

fn rd_exp_bits(c: &AmdCert) -> u32 {
    u32::from_le_bytes(c.as_bytes()[0x38..0x3C].try_into().expect("4 bytes"))
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
