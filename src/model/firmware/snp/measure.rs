//! The SNP launch digest: one PAGE_INFO record per launched 4 KiB page, chained with SHA-384
//! (`sev-spec` SNP §3.6 step 6, §5.3). Public so the guest-owner side computes expected
//! measurements with the very same record layout the model's firmware uses.

use crate::uapi::snp::{page_type, snp_sizes};
use sha2::{Digest, Sha384};

/// A launch digest (48 bytes).
pub type Ld = [u8; snp_sizes::DIGEST];

/// VMSA bytes the firmware treats as zero while measuring (TSC scale and offset).
pub const VMSA_TSC_FIELDS: std::ops::Range<usize> = 0x2F0..0x300;

/// The PAGE_INFO record (0x70 bytes) in the firmware's byte order: LD ‖ CONTENTS ‖ le16 0x70 ‖
/// page type ‖ IMI ‖ reserved ‖ VMPL1 ‖ VMPL2 ‖ VMPL3 permissions ‖ le64 GPA.
pub fn page_info(
    ld: &Ld,
    contents: &Ld,
    ptype: u8,
    imi: bool,
    vmpl: [u8; 3],
    gpa: u64,
) -> [u8; 0x70] {
    let mut r = [0u8; snp_sizes::PAGE_INFO];
    r[..48].copy_from_slice(ld);
    r[0x30..0x60].copy_from_slice(contents);
    r[0x60..0x62].copy_from_slice(&(snp_sizes::PAGE_INFO as u16).to_le_bytes());
    r[0x62] = ptype;
    r[0x63] = imi as u8;
    r[0x65] = vmpl[0];
    r[0x66] = vmpl[1];
    r[0x67] = vmpl[2];
    r[0x68..0x70].copy_from_slice(&gpa.to_le_bytes());
    r
}

/// CONTENTS of a page: SHA-384 of the page for NORMAL and VMSA (a VMSA with its TSC fields
/// zeroed), 48 zero bytes for every other type.
pub fn page_contents(ptype: u8, page: &[u8]) -> Ld {
    match ptype {
        page_type::NORMAL => Sha384::digest(page).into(),
        page_type::VMSA => {
            let mut h = Sha384::new();
            h.update(&page[..VMSA_TSC_FIELDS.start]);
            h.update([0u8; 16]);
            h.update(&page[VMSA_TSC_FIELDS.end..]);
            h.finalize().into()
        }
        _ => [0u8; 48],
    }
}

/// LD := SHA-384(PAGE_INFO) for a page whose CONTENTS is already known.
pub fn update_with_contents(ld: &Ld, contents: &Ld, ptype: u8, vmpl: [u8; 3], gpa: u64) -> Ld {
    Sha384::digest(page_info(ld, contents, ptype, false, vmpl, gpa)).into()
}

/// LD := SHA-384(PAGE_INFO) for one 4 KiB page launched with all VMPL permissions 0 (KVM's
/// flow). `page` is ignored for the types whose CONTENTS is zero.
pub fn update(ld: &Ld, ptype: u8, gpa: u64, page: &[u8]) -> Ld {
    update_with_contents(ld, &page_contents(ptype, page), ptype, [0; 3], gpa)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Ld {
        let mut o = [0u8; 48];
        for (i, b) in o.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        o
    }

    /// `sev-spec` SNP §6.2, V1–V8b.
    #[test]
    fn page_info_chain_known_answers() {
        let zero = [0u8; 4096];
        let z: Ld = [0; 48];
        let v1 = update(&z, page_type::NORMAL, 0, &zero);
        assert_eq!(
            v1,
            hex(
                "9d13634b6014bb21cf059b2dc694e7bff01a8a7137041100cd2b695f3d10fb687267b97808b27f8f471d943bc6f53a20"
            )
        );
        assert_eq!(
            update(&z, page_type::ZERO, 0, &[]),
            hex(
                "70c0ecaab9608f14ebf8ac6f0f07bcd8728f4e2ab30382b539b4de4de904ca9f8ebdf4b2cd3cd84dd996bd55dd794676"
            )
        );
        let v3 = update(&v1, page_type::ZERO, 0x1000, &[]);
        assert_eq!(
            v3,
            hex(
                "3bb77aec4f0d90c147b6b7884b6bd5741994d2575305f89639c95186690d949261186702ef51f2fa7c0dd4c90f03ebfd"
            )
        );
        let v4 = update(&v3, page_type::SECRETS, 0x2000, &[]);
        assert_eq!(
            v4,
            hex(
                "0a38dc4cdc203b86ee6a64ab9f7bcc0c1e0fa47144e1e4d6fad2ce24573ef7e100d1b91f1869bcea9cd1e3dffd42a075"
            )
        );
        let v5 = update(&v4, page_type::CPUID, 0x3000, &[]);
        assert_eq!(
            v5,
            hex(
                "3bbf34c2d07995525f1135e5fd8fa00fa052f455911c6484ffbb3bbb0b64efa29f7d1bc9077fe600a08375e1097438a4"
            )
        );
        let v6 = update(&v5, page_type::UNMEASURED, 0x4000, &[]);
        assert_eq!(
            v6,
            hex(
                "f33914b2b834895a05826067e93d3464b86c42f7ff2dacf165081dca9b15d2ec0b27d0d4cf3f6416465005f922f565b7"
            )
        );
        let vmsa: Vec<u8> = (0..4096).map(|i| (i % 256) as u8).collect();
        let v7 = update(
            &v6,
            page_type::VMSA,
            crate::uapi::snp::INITIAL_VMSA_GPA,
            &vmsa,
        );
        // The pattern page has non-zero TSC bytes, which the firmware zeroes for hashing; the
        // KAT hashes the page as given, so compare against the raw SHA-384 of the page.
        let raw: Ld = Sha384::digest(&vmsa).into();
        let v7_raw = update_with_contents(
            &v6,
            &raw,
            page_type::VMSA,
            [0; 3],
            crate::uapi::snp::INITIAL_VMSA_GPA,
        );
        assert_eq!(
            v7_raw,
            hex(
                "b6d35bb9e768d41a29d958fd825ad550c00c1158c83ea695c3385a29ec9e50000688f61f3cce2d9eb996978a0bba3733"
            )
        );
        assert_ne!(v7, v7_raw, "TSC fields are measured as zero");
        let v8a = Sha384::digest(page_info(&z, &z, page_type::ZERO, false, [0x0F, 0, 0], 0));
        assert_eq!(
            v8a[..],
            hex(
                "efe85cab1b8298457caa7cdcedb93270ab96846de09dc459763a87a7ecbae690d568c07cc1379f259a95611bf2767926"
            )
        );
        let v8b = Sha384::digest(page_info(&z, &z, page_type::ZERO, false, [0, 0x0F, 0], 0));
        assert_eq!(
            v8b[..],
            hex(
                "ad0b73519a3fff5a7dfa85e9d87bd01d3885df989f19b974f92113e9db2b6e11594f1eb61702d88ff6d9a27174c57100"
            )
        );
    }
}
