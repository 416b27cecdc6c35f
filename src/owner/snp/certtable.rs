//! The extended-report certificate table (`snp-spec` §4.6): 24-byte entries {GUID (RFC 4122
//! byte order), offset u32, length u32} ended by an all-zero entry, the DER certificates at
//! their offsets from the start of the table.

/// What a table entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertKind {
    Ark,
    /// ASK (also AMD's ASVK in VLEK chains).
    Ask,
    Vcek,
    Vlek,
    Crl,
    /// A GUID this library does not know (kept, not interpreted).
    Other([u8; 16]),
}

const fn guid(s: &str) -> [u8; 16] {
    // "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in text order (RFC 4122 byte order).
    let b = s.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    let mut o = 0;
    while i < b.len() {
        if b[i] == b'-' {
            i += 1;
            continue;
        }
        let hi = match b[i] {
            c @ b'0'..=b'9' => c - b'0',
            c => c - b'a' + 10,
        };
        let lo = match b[i + 1] {
            c @ b'0'..=b'9' => c - b'0',
            c => c - b'a' + 10,
        };
        out[o] = (hi << 4) | lo;
        o += 1;
        i += 2;
    }
    out
}

pub const GUID_ARK: [u8; 16] = guid("c0b406a4-a803-4952-9743-3fb6014cd0ae");
pub const GUID_ASK: [u8; 16] = guid("4ab7b379-bbac-4fe4-a02f-05aef327c782");
pub const GUID_VCEK: [u8; 16] = guid("63da758d-e664-4564-adc5-f4b93be8accd");
pub const GUID_VLEK: [u8; 16] = guid("a8074bc2-a25a-483e-aae6-39c045a0b8a1");
pub const GUID_CRL: [u8; 16] = guid("92f81bc3-5811-4d3d-97ff-d19f88dc67ea");

impl CertKind {
    /// The kind of a GUID.
    pub fn from_guid(g: [u8; 16]) -> CertKind {
        match g {
            GUID_ARK => CertKind::Ark,
            GUID_ASK => CertKind::Ask,
            GUID_VCEK => CertKind::Vcek,
            GUID_VLEK => CertKind::Vlek,
            GUID_CRL => CertKind::Crl,
            other => CertKind::Other(other),
        }
    }

    /// The GUID of a kind.
    pub fn guid(self) -> [u8; 16] {
        match self {
            CertKind::Ark => GUID_ARK,
            CertKind::Ask => GUID_ASK,
            CertKind::Vcek => GUID_VCEK,
            CertKind::Vlek => GUID_VLEK,
            CertKind::Crl => GUID_CRL,
            CertKind::Other(g) => g,
        }
    }
}

/// Why a table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed certificate table: {0}")]
pub struct TableError(pub String);

const ENTRY: usize = 24;

/// Parse a table: every entry up to the all-zero one, each blob in range of `table`, no GUID
/// twice, no empty blob.
pub fn parse(table: &[u8]) -> Result<Vec<(CertKind, Vec<u8>)>, TableError> {
    let mut out: Vec<(CertKind, Vec<u8>)> = Vec::new();
    let mut starts: Vec<(usize, CertKind, usize)> = Vec::new();
    let mut at = 0usize;
    loop {
        let e = table.get(at..at + ENTRY).ok_or_else(|| {
            TableError(format!("entry at {at} runs past the end (no terminator)"))
        })?;
        if e.iter().all(|b| *b == 0) {
            break;
        }
        let g: [u8; 16] = e[..16].try_into().expect("16 bytes");
        let off = u32::from_le_bytes(e[16..20].try_into().expect("4")) as usize;
        let len = u32::from_le_bytes(e[20..24].try_into().expect("4")) as usize;
        let kind = CertKind::from_guid(g);
        if len == 0 {
            return Err(TableError(format!(
                "entry {} ({kind:?}) is empty",
                at / ENTRY
            )));
        }
        let blob = off
            .checked_add(len)
            .and_then(|end| table.get(off..end))
            .ok_or_else(|| {
                TableError(format!(
                    "entry {} ({kind:?}): offset {off} + length {len} is past the table's {} bytes",
                    at / ENTRY,
                    table.len()
                ))
            })?;
        if out.iter().any(|(k, _)| *k == kind) {
            return Err(TableError(format!("{kind:?} appears twice")));
        }
        out.push((kind, blob.to_vec()));
        starts.push((at / ENTRY, kind, off));
        at += ENTRY;
    }
    // Certificates follow the entries and their terminator; none may overlap them.
    let entries_end = at + ENTRY;
    if let Some((i, kind, off)) = starts.iter().find(|(_, _, off)| *off < entries_end) {
        return Err(TableError(format!(
            "entry {i} ({kind:?}): offset {off} points into the table's own {entries_end} \
             bytes of entries"
        )));
    }
    Ok(out)
}

/// Build a table from `(kind, DER)` pairs, in order.
pub fn build(entries: &[(CertKind, &[u8])]) -> Vec<u8> {
    let header = (entries.len() + 1) * ENTRY;
    let mut out = vec![0u8; header];
    let mut off = header;
    for (i, (k, der)) in entries.iter().enumerate() {
        let e = &mut out[i * ENTRY..(i + 1) * ENTRY];
        e[..16].copy_from_slice(&k.guid());
        e[16..20].copy_from_slice(&(off as u32).to_le_bytes());
        e[20..24].copy_from_slice(&(der.len() as u32).to_le_bytes());
        off += der.len();
    }
    for (_, der) in entries {
        out.extend_from_slice(der);
    }
    out
}

/// The blob of one kind in a parsed table.
pub fn find(entries: &[(CertKind, Vec<u8>)], kind: CertKind) -> Option<&[u8]> {
    entries
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, b)| b.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_in_rfc4122_order_and_round_trip() {
        assert_eq!(GUID_ARK[..4], [0xc0, 0xb4, 0x06, 0xa4]);
        assert_eq!(GUID_VCEK[15], 0xcd);
        let t = build(&[
            (CertKind::Vcek, b"vcek"),
            (CertKind::Ask, b"ask!"),
            (CertKind::Ark, b"a"),
        ]);
        let p = parse(&t).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(find(&p, CertKind::Ask), Some(&b"ask!"[..]));
        assert_eq!(find(&p, CertKind::Vlek), None);
        assert!(parse(&[0u8; 24]).unwrap().is_empty());
        // Every truncation that cuts an entry or a blob is refused.
        for n in 0..t.len() {
            assert!(parse(&t[..n]).is_err(), "length {n}");
        }
        let mut dup = build(&[(CertKind::Ask, b"x"), (CertKind::Ask, b"y")]);
        assert!(parse(&dup).is_err());
        dup[20] = 0;
        assert!(parse(&dup).is_err());
        let mut far = build(&[(CertKind::Ask, b"x")]);
        far[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&far).is_err());
    }

    #[test]
    fn a_certificate_may_not_overlap_the_entries() {
        // One entry and the terminator take 48 bytes; a blob starting inside them is refused
        // (it would hand out the table's own bytes as a certificate), one right after is fine.
        let mut t = build(&[(CertKind::Vcek, b"vcek")]);
        assert_eq!(parse(&t).unwrap()[0].1, b"vcek");
        for off in [0u32, 24, 47] {
            t[16..20].copy_from_slice(&off.to_le_bytes());
            let e = parse(&t).unwrap_err();
            assert!(e.0.contains("points into"), "{}", e.0);
        }
        t[16..20].copy_from_slice(&48u32.to_le_bytes());
        assert!(parse(&t).is_ok());
    }
}
