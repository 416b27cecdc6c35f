//! KVM's SEV ioctls: `KVM_MEMORY_ENCRYPT_OP` sub-command ids and the ioctl numbers.

/// `KVM_SEV_*` sub-command ids (`enum sev_cmd_id` in `<linux/kvm.h>`).
pub mod kvm_cmd {
    pub const INIT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_INIT;
    pub const ES_INIT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_ES_INIT;
    pub const LAUNCH_START: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_START;
    pub const LAUNCH_UPDATE_DATA: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_UPDATE_DATA;
    pub const LAUNCH_UPDATE_VMSA: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_UPDATE_VMSA;
    pub const LAUNCH_SECRET: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_SECRET;
    pub const LAUNCH_MEASURE: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_MEASURE;
    pub const LAUNCH_FINISH: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_FINISH;
    pub const SEND_START: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SEND_START;
    pub const SEND_UPDATE_DATA: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SEND_UPDATE_DATA;
    pub const SEND_FINISH: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SEND_FINISH;
    pub const RECEIVE_START: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_RECEIVE_START;
    pub const RECEIVE_UPDATE_DATA: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_RECEIVE_UPDATE_DATA;
    pub const RECEIVE_FINISH: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_RECEIVE_FINISH;
    pub const GUEST_STATUS: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_GUEST_STATUS;
    pub const DBG_DECRYPT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_DBG_DECRYPT;
    pub const DBG_ENCRYPT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_DBG_ENCRYPT;
    pub const GET_ATTESTATION_REPORT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_GET_ATTESTATION_REPORT;
    pub const SEND_CANCEL: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SEND_CANCEL;
    pub const INIT2: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_INIT2;
}

/// `KVM_MEMORY_ENCRYPT_OP` = `_IOWR(0xAE, 0xBA, unsigned long)`.
pub const KVM_MEMORY_ENCRYPT_OP: u64 = 0xC008_AEBA;
/// `KVM_MEMORY_ENCRYPT_REG_REGION` = `_IOR(0xAE, 0xBB, struct kvm_enc_region)`.
pub const KVM_MEMORY_ENCRYPT_REG_REGION: u64 = 0x8010_AEBB;
/// `KVM_MEMORY_ENCRYPT_UNREG_REGION` = `_IOR(0xAE, 0xBC, struct kvm_enc_region)`.
pub const KVM_MEMORY_ENCRYPT_UNREG_REGION: u64 = 0x8010_AEBC;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uapi::psp::SEV_ISSUE_CMD;

    #[test]
    fn ioctl_numbers_follow_the_ioc_encoding() {
        const fn ioc(dir: u64, ty: u64, nr: u64, size: u64) -> u64 {
            (dir << 30) | (size << 16) | (ty << 8) | nr
        }
        const W: u64 = 1;
        const R: u64 = 2;
        assert_eq!(KVM_MEMORY_ENCRYPT_OP, ioc(R | W, 0xAE, 0xBA, 8));
        assert_eq!(KVM_MEMORY_ENCRYPT_REG_REGION, ioc(R, 0xAE, 0xBB, 16));
        assert_eq!(KVM_MEMORY_ENCRYPT_UNREG_REGION, ioc(R, 0xAE, 0xBC, 16));
        assert_eq!(SEV_ISSUE_CMD, ioc(R | W, b'S' as u64, 0, 16));
    }
}
