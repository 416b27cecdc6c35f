//! OVMF's SEV tables: the GUIDed footer table, the SEV-ES reset block, the hash-table and
//! secret areas, and the SEV metadata section list.
//!
//! The footer table sits just before the last 32 bytes of the image (where the reset vector
//! code lives): `u16 total_length ‖ footer GUID` end there, and the entries precede them, each
//! `data ‖ u16 entry_length ‖ GUID` (the length covers all three), walked from the end. The
//! image is mapped to end at 4 GiB. GUIDs are stored in EFI (mixed-endian) byte order.

use std::fmt;

/// EFI byte order of a GUID written in its text form (`8-4-4-4-12` hex digits).
pub const fn guid(text: &str) -> [u8; 16] {
    const fn nib(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("GUID: not a hex digit"),
        }
    }
    let t = text.as_bytes();
    assert!(t.len() == 36, "GUID: want 36 characters");
    let mut raw = [0u8; 16];
    let (mut i, mut n) = (0, 0);
    while i < 36 {
        if t[i] == b'-' {
            i += 1;
            continue;
        }
        raw[n] = nib(t[i]) << 4 | nib(t[i + 1]);
        n += 1;
        i += 2;
    }
    assert!(n == 16, "GUID: want 32 hex digits");
    // The first three fields are little-endian integers.
    [
        raw[3], raw[2], raw[1], raw[0], raw[5], raw[4], raw[7], raw[6], raw[8], raw[9], raw[10],
        raw[11], raw[12], raw[13], raw[14], raw[15],
    ]
}

/// The footer GUID that ends the table.
pub const FOOTER_GUID: [u8; 16] = guid("96b582de-1fb2-45f7-baea-a366c55a082d");
/// SEV info / SEV-ES reset block: `u32` AP reset address.
pub const SEV_ES_RESET_BLOCK_GUID: [u8; 16] = guid("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
/// SEV hash table (`SEV_HASH_TABLE_RV_GUID`): `u32 base ‖ u32 size`.
pub const SEV_HASH_TABLE_RV_GUID: [u8; 16] = guid("7255371f-3a3b-4b04-927b-1da6efa8d454");
/// SEV secret area (`SEV_SECRET_GUID`): `u32 base ‖ u32 size`.
pub const SEV_SECRET_GUID: [u8; 16] = guid("4c2eb361-7d9b-4cc3-8081-127c90d3d294");
/// OVMF SEV metadata: `u32` offset from the end of the image to the "ASEV" header.
pub const SEV_METADATA_GUID: [u8; 16] = guid("dc886566-984a-4798-a75e-5585a7bf67cc");

/// The reset vector code occupies the last 32 bytes; the table ends before it.
const RESET_VECTOR_TAIL: usize = 32;
const ENTRY_HEADER: usize = 2 + 16;
const METADATA_SIGNATURE: &[u8; 4] = b"ASEV";
const METADATA_HEADER: usize = 16;
const METADATA_DESC: usize = 12;

/// Why an image cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OvmfError {
    /// Too small to hold a footer table.
    TooSmall(usize),
    /// No footer GUID where the table must end.
    NoFooterTable,
    /// The table or one of its entries has an impossible length.
    BadTable(String),
    /// No SEV-ES reset block (or a zero address): SEV-ES APs could not start.
    NoResetBlock,
    /// No SEV metadata entry (needed for SNP's page list).
    NoSevMetadata,
    /// The metadata header or descriptors are malformed.
    BadSevMetadata(String),
    /// No usable hash-table area (needed for measured direct boot).
    NoHashTable,
}

impl fmt::Display for OvmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OvmfError::TooSmall(n) => write!(
                f,
                "firmware image of {n} bytes is too small to be OVMF (no room for the footer table)"
            ),
            OvmfError::NoFooterTable => f.write_str(
                "firmware image has no OVMF footer table (GUID 96b582de-1fb2-45f7-baea-a366c55a082d \
                 before the last 32 bytes): not an OVMF build, or not the CODE part of one",
            ),
            OvmfError::BadTable(m) => write!(f, "OVMF footer table is malformed: {m}"),
            OvmfError::NoResetBlock => f.write_str(
                "OVMF image has no SEV-ES reset block (GUID 00f771de-1a7e-4fcb-890e-68c77e2fb44e) \
                 or its AP reset address is 0: it cannot start SEV-ES application processors",
            ),
            OvmfError::NoSevMetadata => f.write_str(
                "OVMF image has no SEV metadata (GUID dc886566-984a-4798-a75e-5585a7bf67cc): \
                 not built with SEV-SNP support",
            ),
            OvmfError::BadSevMetadata(m) => write!(f, "OVMF SEV metadata is malformed: {m}"),
            OvmfError::NoHashTable => f.write_str(
                "OVMF image has no SEV hash table area (GUID 7255371f-3a3b-4b04-927b-1da6efa8d454 \
                 with a non-zero base and room for the 176-byte table): it does not support \
                 measured direct boot of a kernel, initrd and command line",
            ),
        }
    }
}

impl std::error::Error for OvmfError {}

/// A section of OVMF's SEV metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataSection {
    pub gpa: u32,
    pub size: u32,
    pub kind: SectionType,
}

/// The type of a metadata section (and how QEMU launches it under SNP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionType {
    /// 1: pre-validated memory (ZERO pages; GCE: UNMEASURED).
    SnpSecMem,
    /// 2: the SNP secrets page.
    SnpSecrets,
    /// 3: the CPUID page.
    Cpuid,
    /// 4: the SVSM calling-area page (ZERO).
    SvsmCaa,
    /// 0x10: the kernel-hashes page (NORMAL with the table, or ZERO).
    SnpKernelHashes,
    /// Any other value, kept as found.
    Other(u32),
}

impl SectionType {
    pub fn from_raw(v: u32) -> Self {
        match v {
            1 => SectionType::SnpSecMem,
            2 => SectionType::SnpSecrets,
            3 => SectionType::Cpuid,
            4 => SectionType::SvsmCaa,
            0x10 => SectionType::SnpKernelHashes,
            v => SectionType::Other(v),
        }
    }

    pub fn raw(self) -> u32 {
        match self {
            SectionType::SnpSecMem => 1,
            SectionType::SnpSecrets => 2,
            SectionType::Cpuid => 3,
            SectionType::SvsmCaa => 4,
            SectionType::SnpKernelHashes => 0x10,
            SectionType::Other(v) => v,
        }
    }
}

/// A `u32 base ‖ u32 size` area named by the footer table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub base: u32,
    pub size: u32,
}

/// What libsev reads from an OVMF image. Holds offsets only, not the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ovmf {
    len: usize,
    /// (GUID, data offset, data length) in table order from the end.
    entries: Vec<([u8; 16], usize, usize)>,
    reset_addr: Option<u32>,
    hash_table: Option<Area>,
    secret: Option<Area>,
    metadata: Result<Vec<MetadataSection>, OvmfError>,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}

impl Ovmf {
    /// Parse the footer table of `image` (the firmware as mapped below 4 GiB, e.g.
    /// `OVMF_CODE.fd` or a `-bios` image). Refuses an image without the table or without
    /// an SEV-ES reset block; the metadata, hash-table and secret entries are optional here and
    /// their accessors say why when absent.
    pub fn parse(image: &[u8]) -> Result<Ovmf, OvmfError> {
        let len = image.len();
        if len < RESET_VECTOR_TAIL + ENTRY_HEADER {
            return Err(OvmfError::TooSmall(len));
        }
        let footer = len - RESET_VECTOR_TAIL - ENTRY_HEADER;
        let mut entries = Vec::new();
        if image[footer + 2..footer + ENTRY_HEADER] == FOOTER_GUID {
            let total = u16_at(image, footer) as usize;
            if total < ENTRY_HEADER || total - ENTRY_HEADER > footer {
                return Err(OvmfError::BadTable(format!(
                    "total length {total} does not fit before the footer at offset {footer:#x}"
                )));
            }
            let start = footer - (total - ENTRY_HEADER);
            let mut end = footer;
            while end > start {
                if end - start < ENTRY_HEADER {
                    return Err(OvmfError::BadTable(format!(
                        "{} stray bytes at the start of the table",
                        end - start
                    )));
                }
                let g: [u8; 16] = image[end - 16..end].try_into().expect("16 bytes");
                let elen = u16_at(image, end - ENTRY_HEADER) as usize;
                if elen < ENTRY_HEADER || elen > end - start {
                    return Err(OvmfError::BadTable(format!(
                        "entry ending at offset {end:#x} has length {elen} (remaining {})",
                        end - start
                    )));
                }
                entries.push((g, end - elen, elen - ENTRY_HEADER));
                end -= elen;
            }
        } else if Self::legacy_reset_block(image).is_none() {
            return Err(OvmfError::NoFooterTable);
        }
        let mut o = Ovmf {
            len,
            entries,
            reset_addr: None,
            hash_table: None,
            secret: None,
            metadata: Err(OvmfError::NoSevMetadata),
        };
        o.reset_addr = o
            .find(image, &SEV_ES_RESET_BLOCK_GUID)
            .filter(|d| d.len() >= 4)
            .map(|d| u32_at(d, 0))
            .or_else(|| Self::legacy_reset_block(image))
            .filter(|a| *a != 0);
        if o.reset_addr.is_none() {
            return Err(OvmfError::NoResetBlock);
        }
        let area = |d: &[u8]| Area {
            base: u32_at(d, 0),
            size: u32_at(d, 4),
        };
        o.hash_table = o
            .find(image, &SEV_HASH_TABLE_RV_GUID)
            .filter(|d| d.len() >= 8)
            .map(area);
        o.secret = o
            .find(image, &SEV_SECRET_GUID)
            .filter(|d| d.len() >= 8)
            .map(area);
        if let Some(d) = o.find(image, &SEV_METADATA_GUID) {
            o.metadata = Self::parse_metadata(image, d);
        }
        Ok(o)
    }

    /// QEMU's fallback for images older than the table: the reset block's GUID right before
    /// the reset-vector tail, its u16 length before that, its data before that.
    fn legacy_reset_block(image: &[u8]) -> Option<u32> {
        let end = image.len().checked_sub(RESET_VECTOR_TAIL)?;
        let g = image.get(end.checked_sub(16)?..end)?;
        if g != SEV_ES_RESET_BLOCK_GUID {
            return None;
        }
        let elen = u16_at(image, end.checked_sub(ENTRY_HEADER)?) as usize;
        let data = end.checked_sub(elen)?;
        (elen >= ENTRY_HEADER + 4).then(|| u32_at(image, data))
    }

    fn parse_metadata(image: &[u8], d: &[u8]) -> Result<Vec<MetadataSection>, OvmfError> {
        let bad = |m: String| Err(OvmfError::BadSevMetadata(m));
        if d.len() < 4 {
            return bad(format!("entry data is {} bytes, want 4", d.len()));
        }
        let from_end = u32_at(d, 0) as usize;
        if from_end > image.len() || from_end < METADATA_HEADER {
            return bad(format!(
                "header offset {from_end:#x} from the end is outside the {}-byte image",
                image.len()
            ));
        }
        let h = image.len() - from_end;
        if &image[h..h + 4] != METADATA_SIGNATURE {
            return bad(format!("no \"ASEV\" signature at offset {h:#x}"));
        }
        let total = u32_at(image, h + 4) as usize;
        let version = u32_at(image, h + 8);
        let n = u32_at(image, h + 12) as usize;
        if version != 1 {
            return bad(format!("version {version}, want 1"));
        }
        if total < METADATA_HEADER || total > from_end {
            return bad(format!("length {total} outside [16, {from_end}]"));
        }
        if n.checked_mul(METADATA_DESC)
            .is_none_or(|s| METADATA_HEADER + s > total)
        {
            return bad(format!("{n} descriptors do not fit in {total} bytes"));
        }
        Ok((0..n)
            .map(|i| {
                let o = h + METADATA_HEADER + METADATA_DESC * i;
                MetadataSection {
                    gpa: u32_at(image, o),
                    size: u32_at(image, o + 4),
                    kind: SectionType::from_raw(u32_at(image, o + 8)),
                }
            })
            .collect())
    }

    fn find<'a>(&self, image: &'a [u8], g: &[u8; 16]) -> Option<&'a [u8]> {
        self.entries
            .iter()
            .find(|(eg, _, _)| eg == g)
            .map(|(_, o, l)| &image[*o..*o + *l])
    }

    /// Length of the parsed image.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the image was empty (never: parsing refuses it).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The guest-physical address of the image's first byte (it ends at 4 GiB).
    pub fn gpa(&self) -> u64 {
        (1u64 << 32) - self.len as u64
    }

    /// The GUIDs of the footer table's entries, from the end of the table.
    pub fn entry_guids(&self) -> impl Iterator<Item = &[u8; 16]> {
        self.entries.iter().map(|(g, _, _)| g)
    }

    /// The AP reset address from the SEV-ES reset block (never 0).
    pub fn sev_es_reset_addr(&self) -> u32 {
        self.reset_addr.expect("parse refuses images without one")
    }

    /// The area reserved for the kernel-hashes table, if the image declares a usable one
    /// (non-zero base, at least 176 bytes, as QEMU requires).
    pub fn hash_table(&self) -> Result<Area, OvmfError> {
        self.hash_table
            .filter(|a| a.base != 0 && a.size as usize >= super::hashes::PADDED_TABLE_LEN)
            .ok_or(OvmfError::NoHashTable)
    }

    /// The launch-secret area as declared (base and size may be 0 in builds without it).
    pub fn secret_area(&self) -> Option<Area> {
        self.secret
    }

    /// The SEV metadata sections, in table order.
    pub fn metadata(&self) -> Result<&[MetadataSection], OvmfError> {
        self.metadata.as_deref().map_err(Clone::clone)
    }
}

#[cfg(test)]
#[path = "ovmf_tests.rs"]
mod tests;
