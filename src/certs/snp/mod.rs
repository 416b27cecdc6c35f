//! SEV-SNP certificates: AMD's X.509 ARK ← ASK ← VCEK/VLEK chain (`snp-spec` §4.7), the
//! TCB_VERSION layouts by processor generation (§2.9), AMD's pinned SNP roots, and a test-only
//! SNP root for the firmware model.
//!
//! * [`x509`]: parse one certificate (key, RSASSA-PSS signature, AMD's VCEK/VLEK extensions)
//!   and check a signature by its issuer.
//! * [`roots`]: AMD's SNP roots by generation, pinned by SHA-384 of the ARK's DER.
//! * [`chain`]: verify ARK ← ASK ← VCEK/VLEK and say which root it ends at.
//! * [`testroot`]: the test-only root (its ASK private key is public) and the function that
//!   issues VCEK/VLEK certificates for the model.

pub mod chain;
pub mod roots;
pub mod testroot;
pub mod x509;

pub use chain::{ChainOptions, LeafKind, SnpRootKind, VerifiedChain, verify_chain};
pub use x509::{AmdExtensions, SnpCert, SnpKey};

/// An AMD EPYC generation with SEV-SNP (each has its own ARK/ASK and its own TCB layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnpGeneration {
    Milan,
    Genoa,
    Turin,
}

impl SnpGeneration {
    /// Every generation, oldest first.
    pub const ALL: [SnpGeneration; 3] = [
        SnpGeneration::Milan,
        SnpGeneration::Genoa,
        SnpGeneration::Turin,
    ];

    /// The product name as AMD writes it in certificate names and key-server URLs.
    pub fn product_name(self) -> &'static str {
        match self {
            SnpGeneration::Milan => "Milan",
            SnpGeneration::Genoa => "Genoa",
            SnpGeneration::Turin => "Turin",
        }
    }

    /// The generation of a VCEK productName extension ("Milan-B0", "Turin", ...): the part
    /// before the first '-', compared exactly.
    pub fn from_product_name(name: &str) -> Option<Self> {
        let base = name.split('-').next().unwrap_or("");
        Self::ALL.into_iter().find(|g| g.product_name() == base)
    }

    /// The generation from a report's CPUID family/model bytes (report version 3 and later).
    pub fn from_cpuid(family: u8, model: u8) -> Option<Self> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(SnpGeneration::Milan),
            (0x19, 0x10..=0x1F) | (0x19, 0xA0..=0xAF) => Some(SnpGeneration::Genoa),
            (0x1A, 0x00..=0x11) => Some(SnpGeneration::Turin),
            _ => None,
        }
    }

    /// Whether the TCB has the Turin layout (an FMC component, SNP in byte 3) and the chip id
    /// has 8 significant bytes.
    pub fn turin_like(self) -> bool {
        matches!(self, SnpGeneration::Turin)
    }

    /// Significant bytes of CHIP_ID / the VCEK hwID extension.
    pub fn chip_id_len(self) -> usize {
        if self.turin_like() { 8 } else { 64 }
    }
}

/// A TCB_VERSION decoded by generation (`snp-spec` §2.9). `fmc` is `Some` only on Turin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Tcb {
    pub fmc: Option<u8>,
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
}

impl std::fmt::Display for Tcb {
    /// "bootloader 3, TEE 0, SNP 8, microcode 115" (with "FMC n, " first on Turin).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "FMC {fmc}, ")?;
        }
        write!(
            f,
            "bootloader {}, TEE {}, SNP {}, microcode {}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

impl Tcb {
    /// Decode the 64-bit TCB_VERSION of `generation`. Reserved bytes are ignored here; use
    /// [`Tcb::reserved_clear`] to check them.
    pub fn from_u64(raw: u64, generation: SnpGeneration) -> Tcb {
        let b = raw.to_le_bytes();
        if generation.turin_like() {
            Tcb {
                fmc: Some(b[0]),
                bootloader: b[1],
                tee: b[2],
                snp: b[3],
                microcode: b[7],
            }
        } else {
            Tcb {
                fmc: None,
                bootloader: b[0],
                tee: b[1],
                snp: b[6],
                microcode: b[7],
            }
        }
    }

    /// Encode as the TCB_VERSION of `generation` (reserved bytes zero; `fmc` ignored before
    /// Turin).
    pub fn to_u64(self, generation: SnpGeneration) -> u64 {
        let mut b = [0u8; 8];
        if generation.turin_like() {
            b[0] = self.fmc.unwrap_or(0);
            b[1] = self.bootloader;
            b[2] = self.tee;
            b[3] = self.snp;
        } else {
            b[0] = self.bootloader;
            b[1] = self.tee;
            b[6] = self.snp;
        }
        b[7] = self.microcode;
        u64::from_le_bytes(b)
    }

    /// Whether the reserved bytes of `raw` are zero for `generation`.
    pub fn reserved_clear(raw: u64, generation: SnpGeneration) -> bool {
        let b = raw.to_le_bytes();
        if generation.turin_like() {
            b[4] == 0 && b[5] == 0 && b[6] == 0
        } else {
            b[2..6].iter().all(|x| *x == 0)
        }
    }

    /// Every component of `self` is ≥ the same component of `min` (FMC compared only when
    /// both have it). Names the first component that is lower.
    pub fn at_least(&self, min: &Tcb) -> Result<(), &'static str> {
        if let (Some(a), Some(b)) = (self.fmc, min.fmc)
            && a < b
        {
            return Err("fmc");
        }
        if self.bootloader < min.bootloader {
            return Err("bootloader");
        }
        if self.tee < min.tee {
            return Err("tee");
        }
        if self.snp < min.snp {
            return Err("snp");
        }
        if self.microcode < min.microcode {
            return Err("microcode");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcb_layouts_by_generation() {
        // snp-spec §2.9 example: 03 00 00 00 00 00 08 73 on Milan → BL 3, TEE 0, SNP 8, ucode 0x73.
        let raw = u64::from_le_bytes([0x03, 0, 0, 0, 0, 0, 0x08, 0x73]);
        let t = Tcb::from_u64(raw, SnpGeneration::Milan);
        assert_eq!(
            (t.bootloader, t.tee, t.snp, t.microcode, t.fmc),
            (3, 0, 8, 0x73, None)
        );
        assert_eq!(t.to_u64(SnpGeneration::Milan), raw);
        let turin = u64::from_le_bytes([1, 2, 3, 4, 0, 0, 0, 9]);
        let t = Tcb::from_u64(turin, SnpGeneration::Turin);
        assert_eq!(
            (t.fmc, t.bootloader, t.tee, t.snp, t.microcode),
            (Some(1), 2, 3, 4, 9)
        );
        assert_eq!(t.to_u64(SnpGeneration::Turin), turin);
        assert!(Tcb::reserved_clear(turin, SnpGeneration::Turin));
        assert!(!Tcb::reserved_clear(turin, SnpGeneration::Milan));
        assert_eq!(t.at_least(&Tcb { snp: 5, ..t }), Err("snp"));
        assert_eq!(t.at_least(&t), Ok(()));
    }

    #[test]
    fn generations_from_names_and_cpuid() {
        assert_eq!(
            SnpGeneration::from_product_name("Milan-B0"),
            Some(SnpGeneration::Milan)
        );
        assert_eq!(
            SnpGeneration::from_product_name("Turin"),
            Some(SnpGeneration::Turin)
        );
        assert_eq!(SnpGeneration::from_product_name("Milano"), None);
        assert_eq!(
            SnpGeneration::from_cpuid(0x19, 0x11),
            Some(SnpGeneration::Genoa)
        );
        assert_eq!(
            SnpGeneration::from_cpuid(0x1A, 0x02),
            Some(SnpGeneration::Turin)
        );
        assert_eq!(SnpGeneration::from_cpuid(0x17, 0x31), None);
    }
}
