//! CPUID page validation (`sanitize_cpuid_list`, `sev-spec` SNP §3.6 step 5).
//!
//! The model's "real CPU" is the host's: each entry of a CPUID page is checked against the
//! `cpuid` instruction of the machine the model runs on, with per-register rules in the
//! firmware's style — EXACT, MASK (only bits the CPU has, plus the bits a hypervisor may
//! always expose), LESSTHAN, UNCHECKED (topology and cache descriptors), and the leaf 0xD
//! sizes consistent with `xcr0_in`/`xss_in`. A standard or extended leaf beyond the CPU's
//! maximum must be all zero; leaves outside 0x0000_xxxx and 0x8000_xxxx (hypervisor leaves)
//! are not checked. A failing register is overwritten with the permitted value, so a failed
//! page comes back as the corrected table, and the command fails with INVALID_PARAM.

use crate::model::FwResult;
use crate::status::fw;
use crate::uapi::snp::snp_sizes;

/// One CPUID page entry (48 bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuidEntry {
    pub eax_in: u32,
    pub ecx_in: u32,
    pub xcr0_in: u64,
    pub xss_in: u64,
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
    pub reserved: u64,
}

impl CpuidEntry {
    fn read(b: &[u8]) -> CpuidEntry {
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        CpuidEntry {
            eax_in: u32_at(0),
            ecx_in: u32_at(4),
            xcr0_in: u64_at(8),
            xss_in: u64_at(16),
            eax: u32_at(24),
            ebx: u32_at(28),
            ecx: u32_at(32),
            edx: u32_at(36),
            reserved: u64_at(40),
        }
    }

    fn write(&self, b: &mut [u8]) {
        b[0..4].copy_from_slice(&self.eax_in.to_le_bytes());
        b[4..8].copy_from_slice(&self.ecx_in.to_le_bytes());
        b[8..16].copy_from_slice(&self.xcr0_in.to_le_bytes());
        b[16..24].copy_from_slice(&self.xss_in.to_le_bytes());
        b[24..28].copy_from_slice(&self.eax.to_le_bytes());
        b[28..32].copy_from_slice(&self.ebx.to_le_bytes());
        b[32..36].copy_from_slice(&self.ecx.to_le_bytes());
        b[36..40].copy_from_slice(&self.edx.to_le_bytes());
        b[40..48].copy_from_slice(&self.reserved.to_le_bytes());
    }
}

/// A CPUID page (4096 bytes) holding `entries` (at most 64).
pub fn cpuid_page(entries: &[CpuidEntry]) -> Option<[u8; 4096]> {
    if entries.len() > snp_sizes::CPUID_MAX {
        return None;
    }
    let mut p = [0u8; 4096];
    p[0..4].copy_from_slice(&(entries.len() as u32).to_le_bytes());
    for (i, e) in entries.iter().enumerate() {
        let o = 16 + i * snp_sizes::CPUID_ENTRY;
        e.write(&mut p[o..o + snp_sizes::CPUID_ENTRY]);
    }
    Some(p)
}

/// The CPU's answer for (leaf, subleaf): EAX, EBX, ECX, EDX.
fn host(leaf: u32, sub: u32) -> [u32; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `cpuid` is available on every x86_64 CPU (the intrinsic is safe in newer
        // Rust, unsafe in the minimum supported one).
        #[allow(unused_unsafe)]
        let r = unsafe { std::arch::x86_64::__cpuid_count(leaf, sub) };
        [r.eax, r.ebx, r.ecx, r.edx]
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (leaf, sub);
        [0; 4]
    }
}

/// XSAVE area size for the enabled components (standard format).
fn xsave_size(xfeatures: u64) -> u32 {
    // (component, offset, size) of the standard-format components after the legacy area.
    const COMP: [(u32, u32, u32); 6] = [
        (2, 0x240, 0x100),
        (5, 0x440, 0x40),
        (6, 0x480, 0x200),
        (7, 0x680, 0x400),
        (9, 0xA80, 0x8),
        (3, 0x3C0, 0x40),
    ];
    let mut size = 0x240;
    for (bit, off, len) in COMP {
        if xfeatures & (1 << bit) != 0 {
            size = size.max(off + len);
        }
    }
    size
}

#[derive(Clone, Copy)]
enum Rule {
    Exact,
    /// Only these bits may be set.
    Mask(u32),
    LessThan,
    Unchecked,
    /// Must equal this value.
    Value(u32),
}

fn apply(rule: Rule, have: u32, real: u32) -> (u32, bool) {
    match rule {
        Rule::Exact => (real, have == real),
        Rule::Mask(m) => (have & m, have & !m == 0),
        Rule::LessThan => (have.min(real), have <= real),
        Rule::Unchecked => (have, true),
        Rule::Value(v) => (v, have == v),
    }
}

/// Bits a hypervisor may expose although the CPU lacks them (leaf 1 ECX: x2APIC, TSC
/// deadline, hypervisor present).
const LEAF1_ECX_EXTRA: u32 = (1 << 21) | (1 << 24) | (1 << 31);

fn rules(e: &CpuidEntry, real: [u32; 4], max: u32) -> Option<[Rule; 4]> {
    use Rule::*;
    let m = |i: usize| Mask(real[i]);
    Some(match (e.eax_in, e.ecx_in) {
        (l, _) if l & 0x7FFF_FFFF > max & 0x7FFF_FFFF => return None,
        (0, _) | (0x8000_0000, _) => [LessThan, Exact, Exact, Exact],
        (1, _) => [LessThan, Unchecked, Mask(real[2] | LEAF1_ECX_EXTRA), m(3)],
        (0xD, 0) => [m(0), Value(xsave_size(e.xcr0_in)), LessThan, m(3)],
        (0xD, 1) => [m(0), Value(xsave_size(e.xcr0_in | e.xss_in)), m(2), m(3)],
        (
            2 | 4 | 0xB | 0x1F | 0x8000_0005 | 0x8000_0006 | 0x8000_0008 | 0x8000_001D
            | 0x8000_001E,
            _,
        ) => [Unchecked; 4],
        (0x8000_0002..=0x8000_0004, _) => [Unchecked; 4],
        (0x8000_0001, _) => [Unchecked, Unchecked, m(2), m(3)],
        _ => [m(0), m(1), m(2), m(3)],
    })
}

/// Validate one entry; on failure correct it in place.
fn check(e: &mut CpuidEntry) -> bool {
    let std_leaf = e.eax_in <= 0xFFFF;
    let ext_leaf = (0x8000_0000..=0x8000_FFFF).contains(&e.eax_in);
    if !std_leaf && !ext_leaf {
        return true;
    }
    let mut ok = true;
    if e.reserved != 0 {
        e.reserved = 0;
        ok = false;
    }
    let max = host(if std_leaf { 0 } else { 0x8000_0000 }, 0)[0];
    let real = host(e.eax_in, e.ecx_in);
    let regs = [e.eax, e.ebx, e.ecx, e.edx];
    let out = match rules(e, real, max) {
        Some(r) => {
            let mut out = [0u32; 4];
            for i in 0..4 {
                let (v, good) = apply(r[i], regs[i], real[i]);
                out[i] = v;
                ok &= good;
            }
            out
        }
        // A leaf the CPU does not have must be all zero.
        None => {
            ok &= regs == [0; 4];
            [0; 4]
        }
    };
    [e.eax, e.ebx, e.ecx, e.edx] = out;
    ok
}

/// Validate a CPUID page in place; on failure the page holds the corrected table and the
/// result is INVALID_PARAM.
pub(crate) fn validate(page: &mut [u8]) -> FwResult<()> {
    let count = u32::from_le_bytes(page[0..4].try_into().unwrap());
    if page[4..16].iter().any(|b| *b != 0) || count as usize > snp_sizes::CPUID_MAX {
        return Err(fw::INVALID_PARAM);
    }
    let mut ok = true;
    for i in 0..count as usize {
        let o = 16 + i * snp_sizes::CPUID_ENTRY;
        let b = &mut page[o..o + snp_sizes::CPUID_ENTRY];
        let mut e = CpuidEntry::read(b);
        if !check(&mut e) {
            ok = false;
            e.write(b);
        }
    }
    if ok { Ok(()) } else { Err(fw::INVALID_PARAM) }
}

/// The host CPU's own table for the leaves a guest usually needs (a page the model accepts):
/// leaves 0, 1, 7/0, 0xD/0–1 (x87+SSE), 0x8000_0000, 0x8000_0001.
pub fn host_cpuid_entries() -> Vec<CpuidEntry> {
    let mk = |leaf: u32, sub: u32| {
        let r = host(leaf, sub);
        CpuidEntry {
            eax_in: leaf,
            ecx_in: sub,
            eax: r[0],
            ebx: r[1],
            ecx: r[2],
            edx: r[3],
            ..Default::default()
        }
    };
    let mut v = vec![
        mk(0, 0),
        mk(1, 0),
        mk(7, 0),
        mk(0x8000_0000, 0),
        mk(0x8000_0001, 0),
    ];
    for sub in [0, 1] {
        let mut e = mk(0xD, sub);
        e.xcr0_in = 1;
        e.ebx = xsave_size(1);
        e.eax &= host(0xD, sub)[0];
        v.push(e);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_table_passes_and_a_foreign_bit_is_corrected() {
        let entries = host_cpuid_entries();
        let mut p = cpuid_page(&entries).unwrap();
        assert_eq!(validate(&mut p), Ok(()));
        // A leaf-7 EBX with every bit set: corrected to the CPU's bits, INVALID_PARAM.
        let mut bad = entries.clone();
        let i = bad.iter().position(|e| e.eax_in == 7).unwrap();
        bad[i].ebx = u32::MAX;
        let mut p = cpuid_page(&bad).unwrap();
        assert_eq!(validate(&mut p), Err(fw::INVALID_PARAM));
        let fixed = CpuidEntry::read(&p[16 + i * 48..16 + (i + 1) * 48]);
        assert_eq!(fixed.ebx, host(7, 0)[1]);
        // A leaf above the maximum must be zero.
        let e = CpuidEntry {
            eax_in: 0xFFF0,
            eax: 5,
            ..Default::default()
        };
        let mut p = cpuid_page(&[e]).unwrap();
        assert_eq!(validate(&mut p), Err(fw::INVALID_PARAM));
        assert_eq!(CpuidEntry::read(&p[16..64]).eax, 0);
        // Hypervisor leaves are not checked; reserved header words and count > 64 are refused.
        let e = CpuidEntry {
            eax_in: 0x4000_0000,
            eax: 0x4000_0001,
            ..Default::default()
        };
        assert_eq!(validate(&mut cpuid_page(&[e]).unwrap()), Ok(()));
        let mut p = cpuid_page(&[]).unwrap();
        p[8] = 1;
        assert_eq!(validate(&mut p), Err(fw::INVALID_PARAM));
        let mut p = cpuid_page(&[]).unwrap();
        p[0] = 65;
        assert_eq!(validate(&mut p), Err(fw::INVALID_PARAM));
    }
}
