//! The kernel ABI, byte for byte.
//!
//! KVM's `KVM_MEMORY_ENCRYPT_OP` structures come from `kvm-bindings` (generated from the
//! kernel's uapi headers, with compile-time layout asserts). The `/dev/sev` structures of
//! `<linux/psp-sev.h>` are not in `kvm-bindings`; they are declared here, packed exactly as
//! the kernel declares them, with layout tests below.
//!
//! * [`kvm`]: `KVM_MEMORY_ENCRYPT_OP` sub-commands and the KVM ioctl numbers;
//! * [`psp`]: the `/dev/sev` (`<linux/psp-sev.h>`) command numbers and structures;
//! * [`sizes`]: every size the firmware fixes, the one source for them;
//! * [`vmsa`]: the SEV-ES VMSA layout and what KVM writes into it.
//!
//! SEV-ES and SEV-SNP structures sit beside these in their own files.

pub mod kvm;
pub mod psp;
pub mod sizes;
pub mod snp;
pub mod vmsa;

pub use kvm::*;
pub use psp::*;

pub use kvm_bindings::{
    kvm_enc_region, kvm_sev_attestation_report, kvm_sev_cmd, kvm_sev_dbg, kvm_sev_guest_status,
    kvm_sev_init, kvm_sev_launch_measure, kvm_sev_launch_secret, kvm_sev_launch_start,
    kvm_sev_launch_update_data, kvm_sev_receive_start, kvm_sev_receive_update_data,
    kvm_sev_send_start, kvm_sev_send_update_data,
};
