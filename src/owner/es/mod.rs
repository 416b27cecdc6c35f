//! The guest owner's side of SEV-ES: OVMF's tables ([`ovmf`]), QEMU's kernel-hashes table
//! ([`hashes`]) and the expected SEV-ES launch digest ([`digest`]).

pub mod digest;
pub mod hashes;
pub mod ovmf;

pub use digest::{EsLaunchInputs, es_launch_digest, es_vmsa_pages};
pub use hashes::{DirectBoot, padded_table};
pub use ovmf::{Area, MetadataSection, Ovmf, OvmfError, SectionType};
