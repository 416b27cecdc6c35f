//! SEV-SNP, hypervisor side: [`SnpGuest`] (an SNP VM and its `KVM_SEV_SNP_*` launch
//! commands) and the `/dev/sev` SNP platform commands on [`Platform`], marshalled into the
//! kernel's structs and issued through the same seam as the legacy commands, on KVM or on
//! the firmware model.
//!
//! What the hypervisor itself does on KVM (guest_memfd, `KVM_SET_USER_MEMORY_REGION2`,
//! `KVM_SET_MEMORY_ATTRIBUTES` private before each LAUNCH_UPDATE range, vCPUs) stays with the
//! hypervisor; see the README's QEMU mapping table.

mod platform;

pub use platform::SnpPlatformStatus;

use super::marshal::{finish, finish_hinted};
use super::platform::{Platform, ptr};
use crate::error::{Error, Result};
use crate::status::{Command, Status};
use crate::transport::{Errno, VmTransport};
use crate::uapi::snp::{
    KVM_X86_SNP_VM, kvm_sev_snp_launch_finish, kvm_sev_snp_launch_start, kvm_sev_snp_launch_update,
    kvm_snp_cmd, page_type, snp_sizes,
};
use crate::uapi::{kvm_cmd, kvm_sev_cmd, kvm_sev_init};
use std::os::fd::RawFd;

const NOT_SNP_HINT: &str = " (the VM is not an SNP VM: create it with KVM_X86_SNP_VM and call \
                            init2 first; or KVM on this host has no SEV-SNP)";

/// What `SNP_LAUNCH_FINISH` is given.
#[derive(Debug, Clone, Default)]
pub struct SnpFinish<'a> {
    /// The 96-byte ID block and the 4096-byte ID authentication information, when the owner
    /// signed one.
    pub id_block: Option<(&'a [u8], &'a [u8])>,
    /// The ID authentication information carries an author key.
    pub auth_key_en: bool,
    /// Refuse VCEK-signed reports (VLEK only).
    pub vcek_disabled: bool,
    /// 32 bytes the hypervisor binds into every report.
    pub host_data: [u8; 32],
}

/// One SEV-SNP guest: a VM (created by libsev with `KVM_X86_SNP_VM`, or the caller's) on a
/// [`Platform`].
///
/// Thread safety: `Send`, used by one thread at a time (commands take `&mut self`).
pub struct SnpGuest {
    platform: Platform,
    vm: Box<dyn VmTransport>,
    initialized: bool,
    /// KVM_SEV_INIT2's `vmsa_features` (SNPActive not included).
    vmsa_features: u64,
}

impl std::fmt::Debug for SnpGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnpGuest")
            .field("backend", &self.platform.backend())
            .field("vm_fd", &self.vm.vm_fd())
            .finish()
    }
}

/// The result of a LAUNCH_UPDATE loop that stopped early.
fn no_progress(gpa: u64, done: u64, len: u64) -> Error {
    Error::new(
        Status::LIBSEV_STATUS_OS_ERROR,
        format!(
            "SNP_LAUNCH_UPDATE: the kernel made no progress at GPA {:#x} ({done} of {len} bytes done)",
            gpa + done
        ),
    )
    .with_command(Command::LIBSEV_CMD_SNP_LAUNCH_UPDATE)
}

impl SnpGuest {
    /// A new SNP VM (`KVM_CREATE_VM` with `KVM_X86_SNP_VM` on `/dev/kvm`, closed when the
    /// guest is dropped; on the model, a model SNP VM). A host whose KVM lacks the SNP VM
    /// type fails here with `LIBSEV_STATUS_KERNEL_REJECTED`.
    pub fn new(platform: &Platform) -> Result<SnpGuest> {
        let vm = platform
            .transport()
            .clone()
            .create_vm_typed(KVM_X86_SNP_VM)
            .map_err(|errno| {
                let mut e = Error::from_command(Command::LIBSEV_CMD_CREATE_VM, errno, 0);
                e.message = format!(
                    "creating an SNP VM (KVM_CREATE_VM type KVM_X86_SNP_VM = 4): {} — this \
                     host's KVM does not offer SEV-SNP VMs",
                    e.message
                );
                e
            })?;
        Ok(SnpGuest {
            platform: platform.clone(),
            vm,
            initialized: false,
            vmsa_features: 0,
        })
    }

    /// Use the caller's VM fd (created with `KVM_X86_SNP_VM`); libsev never closes it.
    /// Argument checks as [`crate::api::Guest::attach`]: a negative fd is
    /// `LIBSEV_STATUS_INVALID_ARGUMENT`, one that is not open `LIBSEV_STATUS_BAD_FD` (EBADF),
    /// both `LIBSEV_CMD_NONE`, on every platform.
    pub fn attach(platform: &Platform, vm_fd: RawFd) -> Result<SnpGuest> {
        crate::api::guest::check_vm_fd(vm_fd)?;
        let vm = platform
            .transport()
            .clone()
            .attach_vm_typed(vm_fd, KVM_X86_SNP_VM)
            .map_err(|errno| {
                let mut e = Error::from_command(Command::LIBSEV_CMD_CREATE_VM, errno, 0);
                e.message = format!("attaching VM fd {vm_fd}: {}", e.message);
                e
            })?;
        Ok(SnpGuest {
            platform: platform.clone(),
            vm,
            initialized: false,
            vmsa_features: 0,
        })
    }

    /// The platform.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The VM fd (-1 for a model VM without one).
    pub fn vm_fd(&self) -> RawFd {
        self.vm.vm_fd()
    }

    /// The model's SNP VM behind this guest, when the platform is the model.
    pub fn model_vm(&self) -> Option<&crate::model::snp::SnpVm> {
        self.vm.model_snp()
    }

    /// # Safety
    /// `data` must point to the parameter struct of `id`, with every uaddr inside it valid
    /// for the command's reads and writes.
    unsafe fn op(&self, id: u32, data: u64) -> (std::result::Result<(), Errno>, u32) {
        let mut cmd = kvm_sev_cmd {
            id,
            pad0: 0,
            data,
            error: 0,
            sev_fd: self.platform.sev_fd() as u32,
        };
        // SAFETY: forwarded contract.
        let r = unsafe { self.vm.encrypt_op(&mut cmd) };
        (r, cmd.error)
    }

    /// `KVM_SEV_INIT2` for the SNP VM: `vmsa_features` (e.g. DebugSwap 0x20; SNPActive is
    /// added by KVM) and the GHCB version (0 = 2). Must precede vCPU creation.
    pub fn init2(&mut self, vmsa_features: u64, ghcb_version: u16) -> Result<()> {
        let c = Command::LIBSEV_CMD_INIT2;
        let mut d = kvm_sev_init {
            vmsa_features,
            flags: 0,
            ghcb_version,
            pad1: 0,
            pad2: [0; 8],
        };
        // SAFETY: data points to a live kvm_sev_init, which holds no addresses.
        let (r, fw) = unsafe { self.op(kvm_cmd::INIT2, ptr(&mut d)) };
        if r == Err(libc::EPERM) {
            let mut e = Error::from_command(c, libc::EPERM, fw);
            e.message = "KVM_SEV_INIT2: the VM is already an initialised SNP guest (KVM refuses \
                         INIT2 and the legacy commands on it with EPERM)"
                .into();
            return Err(e);
        }
        finish(c, r, fw, || {
            format!(" (SNP, vmsa_features {vmsa_features:#x})")
        })?;
        self.initialized = true;
        self.vmsa_features = vmsa_features;
        Ok(())
    }

    /// On the model: vCPU `index` with `vmm`'s reset register state (the boot CPU at the
    /// reset vector, the others at `ap_reset_addr`, OVMF's SEV-ES reset block; RDX =
    /// `signature`), its VMSA built as KVM builds it after `KVM_SEV_INIT2` with this guest's
    /// `vmsa_features`. The hypervisor-less counterpart of creating a KVM vCPU and loading
    /// QEMU's reset state.
    pub fn set_vcpu_reset(
        &mut self,
        vmm: crate::uapi::vmsa::VmmType,
        signature: u32,
        index: u32,
        ap_reset_addr: u32,
    ) -> Result<()> {
        use crate::uapi::vmsa::{KvmInit, VmsaParams, reset_vmsa};
        let params = VmsaParams {
            init: KvmInit::Init2,
            sev_features: self.vmsa_features | 1,
        };
        let page = reset_vmsa(vmm, signature, index, ap_reset_addr, &params);
        self.set_vcpu_vmsa(index, &page)
    }

    /// On the model: hand in vCPU `index`'s VMSA page (what KVM builds from the vCPU's
    /// registers; LAUNCH_FINISH measures it at GPA 0xFFFFFFFFF000). On KVM the hypervisor
    /// creates vCPUs itself (`KVM_CREATE_VCPU`, registers) and this is
    /// `LIBSEV_STATUS_INVALID_STATE`.
    pub fn set_vcpu_vmsa(&mut self, index: u32, vmsa: &[u8]) -> Result<()> {
        let c = Command::LIBSEV_CMD_SNP_LAUNCH_FINISH;
        let Ok(page) = <&[u8; 4096]>::try_from(vmsa) else {
            return Err(Error::new(
                Status::LIBSEV_STATUS_INVALID_LENGTH,
                format!("a VMSA is 4096 bytes, not {}", vmsa.len()),
            ));
        };
        let Some(m) = self.vm.model_snp() else {
            return Err(Error::new(
                Status::LIBSEV_STATUS_INVALID_STATE,
                "on KVM, vCPUs are the hypervisor's (KVM_CREATE_VCPU and their registers); \
                 KVM builds their VMSAs at SNP_LAUNCH_FINISH",
            )
            .with_command(c));
        };
        m.set_vcpu_vmsa(index, page).map_err(|_| {
            Error::new(
                Status::LIBSEV_STATUS_INVALID_STATE,
                format!(
                    "setting vCPU {index}'s VMSA: refused: allowed after KVM_SEV_INIT2 and \
                     before SNP_LAUNCH_FINISH"
                ),
            )
            .with_command(c)
        })
    }

    /// `KVM_SEV_SNP_LAUNCH_START`: policy (bit 17 must be set), GOSVW.
    pub fn launch_start(&mut self, policy: u64, gosvw: [u8; snp_sizes::GOSVW]) -> Result<()> {
        let c = Command::LIBSEV_CMD_SNP_LAUNCH_START;
        let mut d = kvm_sev_snp_launch_start {
            policy,
            gosvw,
            ..Default::default()
        };
        // SAFETY: data points to a live kvm_sev_snp_launch_start, which holds no addresses.
        let (r, fw) = unsafe { self.op(kvm_snp_cmd::LAUNCH_START, ptr(&mut d)) };
        finish_hinted(c, r, fw, Some(NOT_SNP_HINT), || {
            format!(" (policy {policy:#x})")
        })
    }

    /// `KVM_SEV_SNP_LAUNCH_UPDATE` of `[gpa, gpa + len)` from `uaddr` (ignored for ZERO
    /// pages), repeating while KVM reports partial progress (it writes `gfn_start`, `uaddr`,
    /// `len` back) or `EAGAIN`, and checking that the whole range was done. `Ok(n)`: pages
    /// launched. A CPUID page the firmware refuses comes back corrected at `uaddr`.
    ///
    /// # Safety
    /// Unless `page_type` is ZERO, `[uaddr, uaddr + len)` must be readable (and, for CPUID,
    /// writable) memory of this process not accessed by others during the call.
    pub unsafe fn launch_update_raw(
        &mut self,
        gpa: u64,
        uaddr: u64,
        len: u64,
        ptype: u8,
    ) -> Result<u64> {
        let c = Command::LIBSEV_CMD_SNP_LAUNCH_UPDATE;
        // CPUID pages one at a time: after a refused page KVM has written the corrected page
        // back, and a repeat of the ioctl (partial progress) would launch the corrected page
        // instead of reporting the refusal.
        if ptype == page_type::CPUID && len > 4096 && gpa & 0xFFF == 0 && len % 4096 == 0 {
            for i in 0..len / 4096 {
                // SAFETY: each page lies within the caller's range (this function's contract).
                unsafe { self.launch_update_raw(gpa + i * 4096, uaddr + i * 4096, 4096, ptype) }
                    .map_err(|mut e| {
                        e.message.push_str(&format!(
                            "; CPUID range at {gpa:#x}: {} of {len} bytes done",
                            i * 4096
                        ));
                        e
                    })?;
            }
            return Ok(len / 4096);
        }
        if gpa & 0xFFF != 0 {
            return Err(Error::new(
                Status::LIBSEV_STATUS_UNALIGNED,
                format!("SNP_LAUNCH_UPDATE: GPA {gpa:#x} is not 4 KiB aligned"),
            )
            .with_command(c));
        }
        let mut d = kvm_sev_snp_launch_update {
            gfn_start: gpa >> 12,
            uaddr,
            len,
            type_: ptype,
            ..Default::default()
        };
        loop {
            let before = d.len;
            // SAFETY: data points to a live kvm_sev_snp_launch_update; its uaddr range is
            // valid per this function's contract (KVM advances it within the range).
            let (r, fw) = unsafe { self.op(kvm_snp_cmd::LAUNCH_UPDATE, ptr(&mut d)) };
            match r {
                Err(e) if e == libc::EAGAIN => continue,
                Err(_) => {
                    let done = len - d.len;
                    let mut err = Error::from_command(c, r.unwrap_err(), fw);
                    err.message.push_str(&format!(
                        " at GPA {:#x} ({} page, {done} of {len} bytes done)",
                        d.gfn_start << 12,
                        page_type::name(ptype)
                    ));
                    if r == Err(libc::EIO) && fw == 0 {
                        err.message.push_str(
                            " — the kernel could not populate the page: it is already launched \
                             (overlapping ranges), not set private, the source is unreadable, or \
                             guest memory could not be allocated",
                        );
                    }
                    if r == Err(libc::ENOTTY) || r == Err(libc::EINVAL) {
                        err.message.push_str(NOT_SNP_HINT);
                    }
                    crate::sev_log!(crate::log::Level::LIBSEV_LOG_WARN, "{}", err.message);
                    return Err(err);
                }
                Ok(()) => {}
            }
            if d.len == 0 {
                break;
            }
            if d.len >= before {
                return Err(no_progress(gpa, len - d.len, len));
            }
        }
        if d.gfn_start << 12 != gpa + len {
            return Err(no_progress(
                gpa,
                d.gfn_start.wrapping_shl(12).wrapping_sub(gpa),
                len,
            ));
        }
        finish(c, Ok(()), 0, || {
            format!(
                " ({} page(s) of type {} at {gpa:#x})",
                len / 4096,
                page_type::name(ptype)
            )
        })?;
        Ok(len / 4096)
    }

    /// [`SnpGuest::launch_update_raw`] from a buffer (a multiple of 4096 bytes; a CPUID page
    /// the firmware refuses comes back corrected in `data`).
    pub fn launch_update(&mut self, gpa: u64, data: &mut [u8], ptype: u8) -> Result<u64> {
        // SAFETY: `data` is a live, exclusively borrowed buffer of `data.len()` bytes.
        unsafe {
            self.launch_update_raw(gpa, super::marshal::uaddr(data), data.len() as u64, ptype)
        }
    }

    /// ZERO pages over `[gpa, gpa + len)` (no source data).
    pub fn launch_update_zero(&mut self, gpa: u64, len: u64) -> Result<u64> {
        // SAFETY: ZERO pages read no source memory.
        unsafe { self.launch_update_raw(gpa, 0, len, page_type::ZERO) }
    }

    /// `KVM_SEV_SNP_LAUNCH_FINISH`: KVM launches every vCPU's VMSA, then the firmware checks
    /// the ID block (if any) and the guest runs. Not repeatable: treat a failure as fatal.
    pub fn launch_finish(&mut self, f: &SnpFinish<'_>) -> Result<()> {
        let c = Command::LIBSEV_CMD_SNP_LAUNCH_FINISH;
        let mut d = kvm_sev_snp_launch_finish {
            id_block_uaddr: 0,
            id_auth_uaddr: 0,
            id_block_en: 0,
            auth_key_en: f.auth_key_en as u8,
            vcek_disabled: f.vcek_disabled as u8,
            host_data: f.host_data,
            pad0: [0; 3],
            flags: 0,
            pad1: [0; 4],
        };
        if let Some((block, auth)) = f.id_block {
            if block.len() != snp_sizes::ID_BLOCK || auth.len() != snp_sizes::ID_AUTH {
                return Err(Error::new(
                    Status::LIBSEV_STATUS_INVALID_LENGTH,
                    format!(
                        "SNP_LAUNCH_FINISH: the ID block is {} bytes and the ID authentication \
                         information {} bytes; they must be 96 and 4096",
                        block.len(),
                        auth.len()
                    ),
                )
                .with_command(c));
            }
            d.id_block_en = 1;
            d.id_block_uaddr = block.as_ptr() as u64;
            d.id_auth_uaddr = auth.as_ptr() as u64;
        }
        // SAFETY: data points to a live kvm_sev_snp_launch_finish; the ID addresses point to
        // readable slices of 96 and 4096 bytes that outlive the call.
        let (r, fw) = unsafe { self.op(kvm_snp_cmd::LAUNCH_FINISH, ptr(&mut d)) };
        finish_hinted(c, r, fw, Some(NOT_SNP_HINT), || {
            format!(
                " (ID block {})",
                if f.id_block.is_some() {
                    "verified"
                } else {
                    "none"
                }
            )
        })
    }

    /// Whether `init2` succeeded through this object.
    pub fn is_initialized(&self) -> bool {
        self.initialized
    }
}
