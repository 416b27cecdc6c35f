//! AMD's SEV-SNP roots (ARKs), pinned by SHA-384 of the ARK certificate's DER.
//!
//! The fingerprints were computed from AMD's published ARK certificates and are facts about
//! those keys; a test recomputes them from the shared copies. No AMD certificate is compiled
//! in: callers supply the ARK and ASK (from AMD's key server or their own copy), and a chain
//! is accepted as AMD's only when its ARK's fingerprint is one of these.

use super::SnpGeneration;

/// Pinned facts about one of AMD's SNP roots.
#[derive(Debug)]
pub struct SnpRoot {
    pub generation: SnpGeneration,
    /// The ARK's subject commonName.
    pub ark_cn: &'static str,
    /// The ASK's subject commonName.
    pub ask_cn: &'static str,
    /// SHA-384 of the ARK certificate (DER).
    pub fingerprint: [u8; 48],
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lower-case hex digit"),
    }
}

const fn hx48(s: &str) -> [u8; 48] {
    let b = s.as_bytes();
    assert!(b.len() == 96, "fingerprint hex has the wrong length");
    let mut out = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// AMD's SNP roots.
pub const SNP_ROOTS: [SnpRoot; 3] = [
    SnpRoot {
        generation: SnpGeneration::Milan,
        ark_cn: "ARK-Milan",
        ask_cn: "SEV-Milan",
        fingerprint: hx48(
            "2f1316273dade9b896875da0acb6bc1c0547d41320ad323cbfbef6570f0305a3e7f8398d0b44bd1f36075295cefcc0db",
        ),
    },
    SnpRoot {
        generation: SnpGeneration::Genoa,
        ark_cn: "ARK-Genoa",
        ask_cn: "SEV-Genoa",
        fingerprint: hx48(
            "d1b7bcfe685d19e63ca792957371b619cee792db280c312e7a00433d506224d5953ad9d348d74b4e176fba1b6a616eac",
        ),
    },
    SnpRoot {
        generation: SnpGeneration::Turin,
        ark_cn: "ARK-Turin",
        ask_cn: "SEV-Turin",
        fingerprint: hx48(
            "09da21f0e7d04ac7f1b04306ebc5d65a3c0ebec966170d22fe26c44efcce8be3ed298a80d10fcfa4131c01028fe536d8",
        ),
    },
];

impl SnpGeneration {
    /// The pinned root of this generation.
    pub fn snp_root(self) -> &'static SnpRoot {
        SNP_ROOTS
            .iter()
            .find(|r| r.generation == self)
            .expect("every SNP generation has a root entry")
    }
}

/// The AMD generation whose ARK has this fingerprint.
pub fn amd_root_by_fingerprint(fp: &[u8; 48]) -> Option<SnpGeneration> {
    SNP_ROOTS
        .iter()
        .find(|r| &r.fingerprint == fp)
        .map(|r| r.generation)
}

#[cfg(test)]
mod tests {
    use super::super::x509::{SnpCert, shared};
    use super::*;

    #[test]
    fn pinned_fingerprints_match_amd_arks() {
        for g in SnpGeneration::ALL {
            let name = g.product_name().to_lowercase();
            let ark =
                &SnpCert::from_pem_all(&shared(&format!("builtin/{name}/ark.pem"))).unwrap()[0];
            let ask =
                &SnpCert::from_pem_all(&shared(&format!("builtin/{name}/ask.pem"))).unwrap()[0];
            assert_eq!(ark.fingerprint(), g.snp_root().fingerprint, "{name}");
            assert_eq!(amd_root_by_fingerprint(&ark.fingerprint()), Some(g));
            assert_eq!(ark.subject_cn, g.snp_root().ark_cn);
            assert_eq!(ask.subject_cn, g.snp_root().ask_cn);
        }
    }
}
