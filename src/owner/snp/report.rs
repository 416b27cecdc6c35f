//! The SEV-SNP attestation report (0x4A0 bytes; `snp-spec` §4.4): parsing of versions 2, 3
//! (and 4, decoded as 3) and 5, with the TCB fields decoded by processor generation.

use crate::certs::snp::{SnpGeneration, Tcb};

/// Size of a report.
pub const REPORT_LEN: usize = 0x4A0;
/// The signed region is bytes 0..SIGNED_LEN.
pub const SIGNED_LEN: usize = 0x2A0;

/// KEY_INFO.SIGNING_KEY values.
pub const SIGNING_KEY_VCEK: u32 = 0;
pub const SIGNING_KEY_VLEK: u32 = 1;
pub const SIGNING_KEY_NONE: u32 = 7;

/// A firmware version (major.minor, build).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FwVersion {
    pub major: u8,
    pub minor: u8,
    pub build: u8,
}

impl std::fmt::Display for FwVersion {
    /// "1.55 build 25".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{} build {}", self.major, self.minor, self.build)
    }
}

/// A parsed report. Integers are host values; byte strings are as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub version: u32,
    pub guest_svn: u32,
    pub policy: u64,
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    pub vmpl: u32,
    pub signature_algo: u32,
    pub current_tcb: u64,
    pub platform_info: u64,
    pub key_info: u32,
    pub report_data: [u8; 64],
    pub measurement: [u8; 48],
    pub host_data: [u8; 32],
    pub id_key_digest: [u8; 48],
    pub author_key_digest: [u8; 48],
    pub report_id: [u8; 32],
    pub report_id_ma: [u8; 32],
    pub reported_tcb: u64,
    /// CPUID family, model, stepping (version 3 and later).
    pub cpuid: Option<(u8, u8, u8)>,
    pub chip_id: [u8; 64],
    pub committed_tcb: u64,
    pub current_version: FwVersion,
    pub committed_version: FwVersion,
    pub launch_tcb: u64,
    /// Mitigation vectors at launch and now (version 5 and later).
    pub launch_mit_vector: Option<u64>,
    pub current_mit_vector: Option<u64>,
    /// Signature r and s, big-endian (converted from the little-endian fields).
    pub sig_r: [u8; 48],
    pub sig_s: [u8; 48],
    raw: Box<[u8; REPORT_LEN]>,
}

/// Why report bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed SNP report: {0}")]
pub struct ReportError(pub String);

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}
fn arr<const N: usize>(b: &[u8], o: usize) -> [u8; N] {
    b[o..o + N].try_into().expect("in range")
}

fn zero(b: &[u8], from: usize, to: usize, what: &str) -> Result<(), ReportError> {
    if let Some(i) = b[from..to].iter().position(|x| *x != 0) {
        return Err(ReportError(format!(
            "{what} (byte {:#05x}) is not zero",
            from + i
        )));
    }
    Ok(())
}

/// One 72-byte little-endian signature component → 48 big-endian bytes (padding must be 0).
fn sig_part(b: &[u8], o: usize, what: &str) -> Result<[u8; 48], ReportError> {
    zero(b, o + 48, o + 72, &format!("signature {what} padding"))?;
    let mut out = [0u8; 48];
    for (i, x) in b[o..o + 48].iter().rev().enumerate() {
        out[i] = *x;
    }
    Ok(out)
}

impl Report {
    /// Parse exactly [`REPORT_LEN`] bytes. Refuses versions other than 2–5, reserved bytes
    /// that are not zero, and a signature whose padding is not zero.
    pub fn parse(b: &[u8]) -> Result<Report, ReportError> {
        if b.len() != REPORT_LEN {
            return Err(ReportError(format!(
                "{} bytes; a report has {REPORT_LEN}",
                b.len()
            )));
        }
        let version = u32_at(b, 0);
        if !(2..=5).contains(&version) {
            return Err(ReportError(format!(
                "version {version} (versions 2 to 5 are understood)"
            )));
        }
        zero(b, 0x4C, 0x50, "reserved field after KEY_INFO")?;
        let v3 = version >= 3;
        let v5 = version >= 5;
        zero(
            b,
            if v3 { 0x18B } else { 0x188 },
            0x1A0,
            "reserved field before CHIP_ID",
        )?;
        zero(b, 0x1EB, 0x1EC, "reserved byte after CURRENT_MAJOR")?;
        zero(b, 0x1EF, 0x1F0, "reserved byte after COMMITTED_MAJOR")?;
        zero(
            b,
            if v5 { 0x208 } else { 0x1F8 },
            SIGNED_LEN,
            "reserved field before SIGNATURE",
        )?;
        zero(b, 0x330, REPORT_LEN, "signature area after S")?;
        let key_info = u32_at(b, 0x48);
        Ok(Report {
            version,
            guest_svn: u32_at(b, 0x04),
            policy: u64_at(b, 0x08),
            family_id: arr(b, 0x10),
            image_id: arr(b, 0x20),
            vmpl: u32_at(b, 0x30),
            signature_algo: u32_at(b, 0x34),
            current_tcb: u64_at(b, 0x38),
            platform_info: u64_at(b, 0x40),
            key_info,
            report_data: arr(b, 0x50),
            measurement: arr(b, 0x90),
            host_data: arr(b, 0xC0),
            id_key_digest: arr(b, 0xE0),
            author_key_digest: arr(b, 0x110),
            report_id: arr(b, 0x140),
            report_id_ma: arr(b, 0x160),
            reported_tcb: u64_at(b, 0x180),
            cpuid: v3.then(|| (b[0x188], b[0x189], b[0x18A])),
            chip_id: arr(b, 0x1A0),
            committed_tcb: u64_at(b, 0x1E0),
            current_version: FwVersion {
                build: b[0x1E8],
                minor: b[0x1E9],
                major: b[0x1EA],
            },
            committed_version: FwVersion {
                build: b[0x1EC],
                minor: b[0x1ED],
                major: b[0x1EE],
            },
            launch_tcb: u64_at(b, 0x1F0),
            launch_mit_vector: v5.then(|| u64_at(b, 0x1F8)),
            current_mit_vector: v5.then(|| u64_at(b, 0x200)),
            sig_r: sig_part(b, 0x2A0, "R")?,
            sig_s: sig_part(b, 0x2E8, "S")?,
            raw: Box::new(arr(b, 0)),
        })
    }

    /// The report bytes.
    pub fn as_bytes(&self) -> &[u8; REPORT_LEN] {
        &self.raw
    }

    /// The signed region (bytes 0..0x2A0).
    pub fn signed_bytes(&self) -> &[u8] {
        &self.raw[..SIGNED_LEN]
    }

    /// KEY_INFO.SIGNING_KEY (0 VCEK, 1 VLEK, 7 none).
    pub fn signing_key(&self) -> u32 {
        (self.key_info >> 2) & 7
    }

    /// KEY_INFO.AUTHOR_KEY_EN.
    pub fn author_key_en(&self) -> bool {
        self.key_info & 1 != 0
    }

    /// KEY_INFO.MASK_CHIP_KEY.
    pub fn mask_chip_key(&self) -> bool {
        self.key_info & 2 != 0
    }

    /// The generation the report itself names: from CPUID (version 3+), or for version 2
    /// "Turin-like" when CHIP_ID bytes 8..64 are zero and bytes 0..8 are not; `None` when
    /// the report does not say (a version-2 Milan/Genoa report, or a masked CHIP_ID).
    pub fn generation(&self) -> Option<SnpGeneration> {
        if let Some((f, m, _)) = self.cpuid {
            return SnpGeneration::from_cpuid(f, m);
        }
        let tail_zero = self.chip_id[8..].iter().all(|b| *b == 0);
        let head_zero = self.chip_id[..8].iter().all(|b| *b == 0);
        (tail_zero && !head_zero).then_some(SnpGeneration::Turin)
    }

    /// A TCB field decoded for `generation`.
    pub fn tcb(raw: u64, generation: SnpGeneration) -> Tcb {
        Tcb::from_u64(raw, generation)
    }

    /// The significant bytes of CHIP_ID for `generation` (8 on Turin, else 64).
    pub fn chip_id_for(&self, generation: SnpGeneration) -> &[u8] {
        &self.chip_id[..generation.chip_id_len()]
    }
}

/// Field names and byte ranges of the signed region, for messages and tamper tests.
pub const FIELDS: &[(&str, usize, usize)] = &[
    ("version", 0x000, 4),
    ("guest_svn", 0x004, 4),
    ("policy", 0x008, 8),
    ("family_id", 0x010, 16),
    ("image_id", 0x020, 16),
    ("vmpl", 0x030, 4),
    ("signature_algo", 0x034, 4),
    ("current_tcb", 0x038, 8),
    ("platform_info", 0x040, 8),
    ("key_info", 0x048, 4),
    ("report_data", 0x050, 64),
    ("measurement", 0x090, 48),
    ("host_data", 0x0C0, 32),
    ("id_key_digest", 0x0E0, 48),
    ("author_key_digest", 0x110, 48),
    ("report_id", 0x140, 32),
    ("report_id_ma", 0x160, 32),
    ("reported_tcb", 0x180, 8),
    ("cpuid", 0x188, 3),
    ("chip_id", 0x1A0, 64),
    ("committed_tcb", 0x1E0, 8),
    ("current_version", 0x1E8, 3),
    ("committed_version", 0x1EC, 3),
    ("launch_tcb", 0x1F0, 8),
    ("launch_mit_vector", 0x1F8, 8),
    ("current_mit_vector", 0x200, 8),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(version: u32) -> Vec<u8> {
        let mut b = vec![0u8; REPORT_LEN];
        b[0..4].copy_from_slice(&version.to_le_bytes());
        b[0x34] = 1;
        b[0x2A0] = 1;
        b[0x2E8] = 2;
        b
    }

    #[test]
    fn parses_each_version_and_refuses_bad_lengths() {
        for v in 2..=5 {
            let r = Report::parse(&sample(v)).unwrap();
            assert_eq!(r.version, v);
            assert_eq!(r.cpuid.is_some(), v >= 3);
            assert_eq!(r.launch_mit_vector.is_some(), v >= 5);
            assert_eq!(r.sig_r[47], 1);
            assert_eq!(r.sig_s[47], 2);
        }
        for v in [0, 1, 6, u32::MAX] {
            assert!(Report::parse(&sample(v)).is_err());
        }
        let b = sample(2);
        for n in 0..REPORT_LEN + 8 {
            if n != REPORT_LEN {
                let mut x = b.clone();
                x.resize(n, 0);
                let e = Report::parse(&x).unwrap_err();
                assert!(e.0.contains(&format!("{n} bytes")), "{e}");
            }
        }
    }

    #[test]
    fn reserved_and_padding_bytes_must_be_zero() {
        let b = sample(2);
        for i in [
            0x4C,
            0x188,
            0x19F,
            0x1EB,
            0x1EF,
            0x1F8,
            0x29F,
            0x2A0 + 48,
            0x2E8 + 71,
            0x330,
            0x49F,
        ] {
            let mut x = b.clone();
            x[i] = 1;
            assert!(Report::parse(&x).is_err(), "byte {i:#x}");
        }
        // v3 uses 0x188..0x18B, v5 uses 0x1F8..0x208.
        let mut x = sample(5);
        x[0x188] = 0x1A;
        x[0x1F8] = 1;
        let r = Report::parse(&x).unwrap();
        assert_eq!(r.generation(), Some(SnpGeneration::Turin));
        assert_eq!(r.launch_mit_vector, Some(1));
    }
}
