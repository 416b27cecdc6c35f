//! The model platform as the transport seam's `PlatformTransport`: it answers `/dev/sev` and
//! makes the VMs ([`ModelVm`], [`crate::model::snp::SnpVm`]). Kept apart from `platform.rs` so
//! the platform does not depend on its VMs (the VMs hold the platform).

use crate::model::kernel::platform::ModelPlatform;
use crate::model::kernel::vm::ModelVm;
use crate::transport::{Backend, Errno, PlatformTransport, VmTransport};
use crate::uapi::sev_issue_cmd;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

impl ModelPlatform {
    /// A model VM of a given KVM VM type (`KVM_X86_DEFAULT_VM` 0: legacy `KVM_SEV_INIT` /
    /// `KVM_SEV_ES_INIT`; `KVM_X86_SEV_VM` 2 / `KVM_X86_SEV_ES_VM` 3: `KVM_SEV_INIT2`),
    /// refusing the other INIT flavour with `EINVAL` as KVM does. Other types: `EINVAL`.
    /// ([`PlatformTransport::create_vm`] makes an untyped VM that accepts every flavour;
    /// `INIT2` then makes a plain SEV guest.)
    pub fn create_vm_of_type(self: &Arc<Self>, vm_type: u64) -> Result<ModelVm, Errno> {
        // (KVM_X86_SNP_VM: see `create_snp_vm`.)
        match vm_type {
            0 | 2 | 3 => Ok(ModelVm::new(self.clone(), -1, Some(vm_type))),
            _ => Err(libc::EINVAL),
        }
    }

    /// A model SNP VM (`KVM_X86_SNP_VM`); `vm_fd` is the caller's fd it stands beside (-1
    /// for none).
    pub fn create_snp_vm(self: &Arc<Self>, vm_fd: RawFd) -> crate::model::snp::SnpVm {
        crate::model::snp::SnpVm::new(self.clone(), vm_fd)
    }
}

impl PlatformTransport for ModelPlatform {
    unsafe fn sev_issue_cmd(&self, cmd: &mut sev_issue_cmd) -> Result<(), Errno> {
        crate::model::firmware::clear_store_error();
        self.issue(cmd)
    }

    fn sev_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn backend(&self) -> Backend {
        Backend::Model
    }

    fn create_vm(self: Arc<Self>) -> Result<Box<dyn VmTransport>, Errno> {
        Ok(Box::new(ModelVm::new(self, -1, None)))
    }

    fn attach_vm(self: Arc<Self>, vm_fd: RawFd) -> Result<Box<dyn VmTransport>, Errno> {
        Ok(Box::new(ModelVm::new(self, vm_fd, None)))
    }

    fn create_vm_typed(self: Arc<Self>, vm_type: u64) -> Result<Box<dyn VmTransport>, Errno> {
        if vm_type == crate::uapi::snp::KVM_X86_SNP_VM {
            return Ok(Box::new(self.create_snp_vm(-1)));
        }
        Ok(Box::new(ModelPlatform::create_vm_of_type(&self, vm_type)?))
    }

    fn attach_vm_typed(
        self: Arc<Self>,
        vm_fd: RawFd,
        vm_type: u64,
    ) -> Result<Box<dyn VmTransport>, Errno> {
        if vm_type == crate::uapi::snp::KVM_X86_SNP_VM {
            return Ok(Box::new(self.create_snp_vm(vm_fd)));
        }
        match vm_type {
            0 | 2 | 3 => Ok(Box::new(ModelVm::new(self, vm_fd, Some(vm_type)))),
            _ => Err(libc::EINVAL),
        }
    }
}
