//! SEV-ES in the model VM: KVM's part of vCPUs and `KVM_SEV_LAUNCH_UPDATE_VMSA`
//! (`sev_launch_update_vmsa`, `__sev_launch_update_vmsa`, `sev_es_sync_vmsa`).
//!
//! KVM knows a VM's vCPUs because they were created on its VM fd; the model learns of them
//! through [`ModelVm::add_vcpu_fd`] (a real KVM vCPU fd, whose registers are read when
//! LAUNCH_UPDATE_VMSA runs, exactly when KVM reads its own copy) or
//! [`ModelVm::add_vcpu_state`] (a register state, for callers without KVM). vCPUs are
//! launched in the order they were added, which is KVM's index order when they are added as
//! they are created.
//!
//! LAUNCH_UPDATE_VMSA: `ENOTTY` unless the VM is SEV-ES; then for each vCPU in order: `EINVAL`
//! if its state is already protected (a second LAUNCH_UPDATE_VMSA; newer kernels refuse it
//! this way), the VMSA built as `sev_es_sync_vmsa` builds it (`EINVAL` for guest debugging or
//! armed DR7), the firmware command through the stored `/dev/sev` fd (`EBADF` if it is no
//! longer the platform's), and on success the vCPU's state is protected: the encrypted page
//! is kept in model memory and later register changes no longer reach the guest. A failure
//! stops the loop; vCPUs launched before it stay launched, as in KVM.

use super::uaccess::{Fail, issued};
use super::vm::{KResult, ModelVm, VmState};
use crate::model::firmware::lock;
use crate::transport::Errno;
use crate::transport::vcpu::{check_vcpu_fd, read_vcpu_state};
use crate::uapi::kvm_sev_cmd;
use crate::uapi::vmsa::{VMSA_SIZE, VcpuState, VmsaParams, build_vmsa};
use std::os::fd::RawFd;

/// Where a vCPU's register state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VcpuSource {
    /// A KVM vCPU fd of this process (read at LAUNCH_UPDATE_VMSA time).
    Fd(RawFd),
    /// A fixed register state.
    State(Box<VcpuState>),
}

/// A 4 KiB page aligned like the kernel's VMSA page.
#[repr(C, align(4096))]
pub(crate) struct VmsaPage(pub(crate) [u8; VMSA_SIZE]);

/// One vCPU of a model VM.
pub(crate) struct ModelVcpu {
    pub(crate) source: VcpuSource,
    /// After LAUNCH_UPDATE_VMSA: the encrypted VMSA (`guest_state_protected`).
    pub(crate) vmsa: Option<Box<VmsaPage>>,
}

impl std::fmt::Debug for ModelVcpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelVcpu")
            .field("source", &self.source)
            .field("protected", &self.vmsa.is_some())
            .finish()
    }
}

/// VMSA features the model's KVM supports for `KVM_SEV_INIT2` (`KVM_X86_SEV_VMSA_FEATURES`):
/// DebugSwap, as a host with the `debug_swap` module parameter.
pub const MODEL_VMSA_FEATURES: u64 = crate::uapi::vmsa::sev_features::DEBUG_SWAP;

impl ModelVm {
    /// Tell the model about a vCPU the hypervisor created with `KVM_CREATE_VCPU` on its real
    /// KVM VM. `EBADF`: not an open fd; `EINVAL`: not a KVM vCPU; `EEXIST`: already added.
    /// Call in vCPU creation order (the LD_PRELOAD interposer calls it as it sees
    /// `KVM_CREATE_VCPU` return).
    pub fn add_vcpu_fd(&self, vcpu_fd: RawFd) -> Result<(), Errno> {
        check_vcpu_fd(vcpu_fd)?;
        let mut k = lock(&self.kvm);
        if k.vcpus.iter().any(|v| v.source == VcpuSource::Fd(vcpu_fd)) {
            return Err(libc::EEXIST);
        }
        k.vcpus.push(ModelVcpu {
            source: VcpuSource::Fd(vcpu_fd),
            vmsa: None,
        });
        Ok(())
    }

    /// Tell the model about a vCPU by its register state (no KVM vCPU behind it).
    pub fn add_vcpu_state(&self, state: &VcpuState) -> Result<(), Errno> {
        let mut k = lock(&self.kvm);
        k.vcpus.push(ModelVcpu {
            source: VcpuSource::State(Box::new(*state)),
            vmsa: None,
        });
        Ok(())
    }

    /// Number of vCPUs the model knows of.
    pub fn vcpu_count(&self) -> usize {
        lock(&self.kvm).vcpus.len()
    }

    /// The encrypted VMSA of vCPU `index` once launched (as the host would see the page).
    pub fn encrypted_vmsa(&self, index: usize) -> Option<Box<[u8; VMSA_SIZE]>> {
        let k = lock(&self.kvm);
        k.vcpus
            .get(index)
            .and_then(|v| v.vmsa.as_ref())
            .map(|p| Box::new(p.0))
    }

    /// The VMSA parameters of this VM (how it was initialised).
    pub(crate) fn vmsa_params(k: &VmState) -> VmsaParams {
        VmsaParams {
            init: k.vmsa_init,
            sev_features: k.vmsa_features,
        }
    }

    /// `sev_launch_update_vmsa`.
    pub(crate) fn launch_update_vmsa(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        if !k.es {
            return Err(Fail::Os(libc::ENOTTY));
        }
        let params = Self::vmsa_params(k);
        for i in 0..k.vcpus.len() {
            if k.vcpus[i].vmsa.is_some() {
                return Err(Fail::Os(libc::EINVAL));
            }
            let state = match k.vcpus[i].source {
                VcpuSource::Fd(fd) => read_vcpu_state(fd)?,
                VcpuSource::State(ref s) => **s,
            };
            let vmsa = build_vmsa(&state, &params).map_err(|_| Fail::Os(libc::EINVAL))?;
            let mut page = Box::new(VmsaPage(vmsa));
            self.stored_fd(k)?;
            let paddr = page.0.as_ptr() as u64;
            let r =
                self.platform
                    .fw
                    .launch_update_vmsa(k.handle, paddr, &mut page.0, VMSA_SIZE as u32);
            issued(&mut cmd.error, r)?;
            k.vcpus[i].vmsa = Some(page);
        }
        Ok(())
    }
}
