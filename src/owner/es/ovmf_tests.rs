//! OVMF parsing against the reference fixtures (snp-spec §6.1) and malformed images.

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/testdata/snp/measurement/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sections(o: &Ovmf) -> Vec<(u32, u32, u32)> {
    o.metadata()
        .unwrap()
        .iter()
        .map(|s| (s.gpa, s.size, s.kind.raw()))
        .collect()
}

#[test]
fn guid_text_to_efi_bytes() {
    assert_eq!(
        FOOTER_GUID,
        [
            0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a,
            0x08, 0x2d
        ]
    );
}

#[test]
fn amdsev_fixture() {
    let img = fixture("ovmf_AmdSev_suffix.bin");
    let o = Ovmf::parse(&img).unwrap();
    assert_eq!(o.gpa(), 0xFFFF_F000);
    assert_eq!(o.sev_es_reset_addr(), 0x0080_B004);
    assert_eq!(
        o.secret_area(),
        Some(Area {
            base: 0x81_0000,
            size: 0xC00
        })
    );
    assert_eq!(
        o.hash_table(),
        Ok(Area {
            base: 0x81_0C00,
            size: 0x400
        })
    );
    let tdx = guid("e47a6535-984a-4798-865e-4685a7bf8ec2");
    assert!(o.entry_guids().any(|g| *g == tdx));
    assert_eq!(
        sections(&o),
        vec![
            (0x80_0000, 0x9000, 1),
            (0x80_A000, 0x3000, 1),
            (0x80_D000, 0x1000, 2),
            (0x80_E000, 0x1000, 3),
            (0x80_F000, 0x1000, 4),
            (0x81_0000, 0x1000, 0x10),
            (0x81_1000, 0xF000, 1),
        ]
    );
    assert_eq!(o.metadata().unwrap()[5].kind, SectionType::SnpKernelHashes);
}

#[test]
fn ovmfx64_fixture_has_no_hash_table() {
    let img = fixture("ovmf_OvmfX64_suffix.bin");
    let o = Ovmf::parse(&img).unwrap();
    assert_eq!(o.sev_es_reset_addr(), 0x0080_B004);
    assert_eq!(o.hash_table(), Err(OvmfError::NoHashTable));
    assert_eq!(o.secret_area(), Some(Area { base: 0, size: 0 }));
    assert_eq!(
        sections(&o),
        vec![
            (0x80_0000, 0x9000, 1),
            (0x80_A000, 0x3000, 1),
            (0x80_D000, 0x1000, 2),
            (0x80_E000, 0x1000, 3),
            (0x80_F000, 0x1000, 4),
            (0x81_0000, 0x10000, 1),
        ]
    );
    assert!(
        OvmfError::NoHashTable
            .to_string()
            .contains("measured direct boot")
    );
}

#[test]
fn refuses_images_without_the_tables() {
    assert_eq!(Ovmf::parse(&[0u8; 10]), Err(OvmfError::TooSmall(10)));
    let junk: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    let e = Ovmf::parse(&junk).unwrap_err();
    assert_eq!(e, OvmfError::NoFooterTable);
    assert!(e.to_string().contains("footer table"));
}

#[test]
fn refuses_a_table_without_a_reset_block() {
    let mut img = fixture("ovmf_AmdSev_suffix.bin");
    let o = Ovmf::parse(&img).unwrap();
    // Rename the reset block's GUID: the table still parses, the block is gone.
    let at = img
        .windows(16)
        .rposition(|w| w == SEV_ES_RESET_BLOCK_GUID)
        .unwrap();
    img[at] ^= 0xFF;
    assert_eq!(Ovmf::parse(&img), Err(OvmfError::NoResetBlock));
    // A zero address is refused too.
    let mut img = fixture("ovmf_AmdSev_suffix.bin");
    let data = at - 2 - 4;
    img[data..data + 4].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(Ovmf::parse(&img), Err(OvmfError::NoResetBlock));
    drop(o);
}

#[test]
fn refuses_impossible_lengths() {
    let mut img = fixture("ovmf_AmdSev_suffix.bin");
    let footer = img.len() - 32 - 18;
    img[footer..footer + 2].copy_from_slice(&0xFFFFu16.to_le_bytes());
    assert!(matches!(Ovmf::parse(&img), Err(OvmfError::BadTable(_))));
    let mut img = fixture("ovmf_AmdSev_suffix.bin");
    // The last entry's length field sits right before the footer's length.
    img[footer - 18..footer - 16].copy_from_slice(&5u16.to_le_bytes());
    let e = Ovmf::parse(&img).unwrap_err();
    assert!(e.to_string().contains("length 5"), "{e}");
}

#[test]
fn malformed_metadata_is_reported_by_the_accessor() {
    let mut img = fixture("ovmf_AmdSev_suffix.bin");
    let h = img.len() - 0x554;
    assert_eq!(&img[h..h + 4], b"ASEV");
    img[h] = b'X';
    let o = Ovmf::parse(&img).unwrap();
    assert!(matches!(o.metadata(), Err(OvmfError::BadSevMetadata(_))));
    let mut img = fixture("ovmf_AmdSev_suffix.bin");
    img[h + 12..h + 16].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    let o = Ovmf::parse(&img).unwrap();
    let e = o.metadata().unwrap_err();
    assert!(e.to_string().contains("descriptors"), "{e}");
}

#[test]
fn debian_ovmf_images_parse() {
    let mut seen = 0;
    for path in [
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
    ] {
        let Ok(img) = std::fs::read(path) else {
            eprintln!("skipping {path}: not installed (Debian package ovmf)");
            continue;
        };
        let o = Ovmf::parse(&img).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_ne!(o.sev_es_reset_addr(), 0);
        // Debian's 2 MiB build has SEV metadata, the 4 MiB one has none; neither has a
        // hash-table area (only the AmdSev build supports measured direct boot).
        match o.metadata() {
            Ok(m) => assert!(!m.is_empty(), "{path}: empty metadata"),
            Err(e) => assert_eq!(e, OvmfError::NoSevMetadata, "{path}"),
        }
        assert_eq!(o.hash_table(), Err(OvmfError::NoHashTable), "{path}");
        eprintln!(
            "{path}: AP reset {:#x}, metadata {:?}",
            o.sev_es_reset_addr(),
            o.metadata().map(|m| m.len())
        );
        seen += 1;
    }
    eprintln!("{seen} Debian OVMF images parsed");
}
