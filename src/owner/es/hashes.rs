//! QEMU's kernel-hashes table for measured direct boot (`-kernel` with `kernel-hashes=on`).
//!
//! ```text
//! header GUID[16] ‖ u16 168
//! ‖ cmdline GUID[16] ‖ u16 50 ‖ SHA-256(cmdline bytes ‖ NUL)
//! ‖ initrd  GUID[16] ‖ u16 50 ‖ SHA-256(initrd)
//! ‖ kernel  GUID[16] ‖ u16 50 ‖ SHA-256(kernel)
//! ‖ 8 zero bytes (padded to a multiple of 16: 176 bytes)
//! ```
//!
//! For SEV and SEV-ES QEMU writes the 176-byte padded table at the base of OVMF's hash-table
//! area and measures exactly those bytes with LAUNCH_UPDATE_DATA, after the firmware image.

use super::ovmf::{Ovmf, OvmfError, guid};
use sha2::{Digest, Sha256};

pub const TABLE_HEADER_GUID: [u8; 16] = guid("9438d606-4f22-4cc9-b479-a793d411fd21");
pub const CMDLINE_GUID: [u8; 16] = guid("97d02dd8-bd20-4c94-aa78-e7714d36ab2a");
pub const INITRD_GUID: [u8; 16] = guid("44baf731-3a2f-4bd7-9af1-41e29169781d");
pub const KERNEL_GUID: [u8; 16] = guid("4de79437-abd2-427f-b835-d5b172d2045b");

const ENTRY_LEN: usize = 16 + 2 + 32;
/// The table's own length field (header + three entries).
pub const TABLE_LEN: usize = 16 + 2 + 3 * ENTRY_LEN;
/// The table padded to a multiple of 16 bytes: what QEMU writes and measures.
pub const PADDED_TABLE_LEN: usize = TABLE_LEN.next_multiple_of(16);

/// What is booted directly: the kernel file, the initrd (empty when none) and the command
/// line (without its terminating NUL; `None` for no `-append`, which QEMU hashes as a lone NUL).
#[derive(Debug, Clone, Copy, Default)]
pub struct DirectBoot<'a> {
    pub kernel: &'a [u8],
    pub initrd: &'a [u8],
    pub cmdline: Option<&'a [u8]>,
}

/// The 176-byte padded table for `boot`.
pub fn padded_table(boot: &DirectBoot<'_>) -> [u8; PADDED_TABLE_LEN] {
    let mut t = [0u8; PADDED_TABLE_LEN];
    t[..16].copy_from_slice(&TABLE_HEADER_GUID);
    t[16..18].copy_from_slice(&(TABLE_LEN as u16).to_le_bytes());
    let mut cmd = Sha256::new();
    cmd.update(boot.cmdline.unwrap_or_default());
    cmd.update([0u8]);
    let hashes: [([u8; 16], [u8; 32]); 3] = [
        (CMDLINE_GUID, cmd.finalize().into()),
        (INITRD_GUID, Sha256::digest(boot.initrd).into()),
        (KERNEL_GUID, Sha256::digest(boot.kernel).into()),
    ];
    for (i, (g, h)) in hashes.iter().enumerate() {
        let o = 18 + ENTRY_LEN * i;
        t[o..o + 16].copy_from_slice(g);
        t[o + 16..o + 18].copy_from_slice(&(ENTRY_LEN as u16).to_le_bytes());
        t[o + 18..o + 50].copy_from_slice(h);
    }
    t
}

/// Where the table goes for `ovmf`: its guest-physical address (the hash-table area's base).
/// Refuses an image that does not support measured direct boot.
pub fn table_gpa(ovmf: &Ovmf) -> Result<u64, OvmfError> {
    Ok(ovmf.hash_table()?.base as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::testutil::unhex;

    #[test]
    fn empty_inputs_match_the_known_answer() {
        // snp-spec §6.4.
        let want = unhex(concat!(
            "06d63894224fc94cb479a793d411fd21a800",
            "d82dd09720bd944caa78e7714d36ab2a3200",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "31f7ba442f3ad74b9af141e29169781d3200",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "3794e74dd2ab7f42b835d5b172d2045b3200",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "0000000000000000"
        ));
        assert_eq!(padded_table(&DirectBoot::default()).to_vec(), want);
        assert_eq!(PADDED_TABLE_LEN, 176);
    }

    #[test]
    fn command_line_is_hashed_with_its_nul() {
        let t = padded_table(&DirectBoot {
            cmdline: Some(b"console=ttyS0"),
            ..Default::default()
        });
        let h: [u8; 32] = Sha256::digest(b"console=ttyS0\0").into();
        assert_eq!(&t[36..68], &h);
    }
}
