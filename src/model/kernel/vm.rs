//! A model VM: KVM's part of `KVM_MEMORY_ENCRYPT_OP` (`sev_mem_enc_ioctl` and the
//! `sev_*` handlers, `sev-spec` §1.3–1.8), region registration and VM teardown, on top of
//! the model firmware. Each handler reads the uaddr-bearing struct the caller passed, applies
//! KVM's checks in KVM's order, issues the firmware command(s) and writes back what KVM
//! writes back; a firmware failure is `EIO` with the status in `kvm_sev_cmd.error`.
//!
//! Model choices (see also `vm_cmds.rs`):
//! * The model has no physical memory: "physical" addresses are host virtual addresses and
//!   every pinned range counts as physically contiguous (one firmware call per
//!   LAUNCH_UPDATE_DATA, never `EINVAL` for LAUNCH_SECRET's contiguity check).
//! * The ASID is bound at LAUNCH_START / RECEIVE_START (not at `KVM_SEV_INIT`), so running
//!   out of guest slots is the firmware's RESOURCE_LIMIT rather than KVM's `EBUSY`.
//! * vCPUs are made known with `add_vcpu_fd` / `add_vcpu_state` (`vm_es.rs`); KVM knows its
//!   own. `KVM_SEV_INIT2` accepts the VMSA feature DebugSwap for SEV-ES VMs.

use crate::model::FwResult;
use crate::model::firmware::lock;
use crate::model::firmware::sev::guest::Start;
use crate::model::kernel::platform::ModelPlatform;
use crate::model::kernel::uaccess::{Fail, copy_user_blob, issued, pin, read_struct, write_struct};
use crate::model::kernel::vm_es::MODEL_VMSA_FEATURES;
use crate::transport::{Errno, PlatformTransport, VmTransport};
use crate::uapi::vmsa::KvmInit;
use crate::uapi::{kvm_cmd, kvm_enc_region, kvm_sev_cmd, kvm_sev_init, kvm_sev_launch_start};
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

/// KVM's `struct kvm_sev_info` for one VM.
#[derive(Debug, Default)]
pub(crate) struct VmState {
    /// `KVM_SEV_INIT*` done.
    pub(crate) active: bool,
    pub(crate) es: bool,
    /// Firmware handle (0 before LAUNCH_START / RECEIVE_START).
    pub(crate) handle: u32,
    /// Bound ASID (0 = none yet).
    pub(crate) asid: u32,
    /// The `/dev/sev` fd stored at LAUNCH_START / RECEIVE_START.
    pub(crate) fd: Option<RawFd>,
    /// Registered regions `(addr, size)`.
    pub(crate) regions: Vec<(u64, u64)>,
    /// SEV-ES: the vCPUs in KVM index order (`vm_es.rs`).
    pub(crate) vcpus: Vec<crate::model::kernel::vm_es::ModelVcpu>,
    /// SEV-ES: `KVM_SEV_ES_INIT` or `KVM_SEV_INIT2`, and the VMSA features KVM writes.
    pub(crate) vmsa_init: crate::uapi::vmsa::KvmInit,
    pub(crate) vmsa_features: u64,
}

/// One VM of the model. Thread safety: any thread may call; commands on one VM are
/// serialised (KVM's `kvm->lock`), commands on distinct VMs run in parallel.
pub struct ModelVm {
    pub(crate) platform: Arc<ModelPlatform>,
    vm_fd: RawFd,
    /// `None`: untyped (accepts every INIT flavour); else the KVM VM type.
    vm_type: Option<u64>,
    pub(crate) kvm: Mutex<VmState>,
}

impl std::fmt::Debug for ModelVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = lock(&self.kvm);
        f.debug_struct("ModelVm")
            .field("vm_fd", &self.vm_fd)
            .field("handle", &k.handle)
            .field("asid", &k.asid)
            .finish_non_exhaustive()
    }
}

/// What a handler returns.
pub(crate) type KResult = Result<(), Fail>;

impl ModelVm {
    pub(crate) fn new(platform: Arc<ModelPlatform>, vm_fd: RawFd, vm_type: Option<u64>) -> Self {
        ModelVm {
            platform,
            vm_fd,
            vm_type,
            kvm: Mutex::new(VmState::default()),
        }
    }

    /// The firmware handle of this VM's guest (0 before LAUNCH_START / RECEIVE_START).
    pub fn handle(&self) -> u32 {
        lock(&self.kvm).handle
    }

    /// `sev_issue_cmd(kvm, ...)`: the stored `/dev/sev` fd must still name the platform.
    pub(crate) fn stored_fd(&self, k: &VmState) -> Result<(), Fail> {
        match k.fd {
            Some(fd) if fd == self.platform.sev_fd() => Ok(()),
            _ => Err(Fail::Os(libc::EBADF)),
        }
    }

    /// `__sev_guest_init`.
    fn guest_init(
        &self,
        k: &mut VmState,
        error: &mut u32,
        es: bool,
        init: &kvm_sev_init,
        vmsa_init: KvmInit,
    ) -> KResult {
        // VMSA features: a subset of what the model's KVM supports, and none for plain SEV.
        let supported = if es { MODEL_VMSA_FEATURES } else { 0 };
        if init.flags != 0 || init.vmsa_features & !supported != 0 {
            return Err(Fail::Os(libc::EINVAL));
        }
        if init.ghcb_version > 2 || (!es && init.ghcb_version != 0) {
            return Err(Fail::Os(libc::EINVAL));
        }
        if k.active {
            return Err(Fail::Os(libc::EINVAL));
        }
        self.platform.platform_init(error)?;
        k.active = true;
        k.es = es;
        k.vmsa_init = vmsa_init;
        k.vmsa_features = init.vmsa_features;
        Ok(())
    }

    fn legacy_init(&self, k: &mut VmState, error: &mut u32, es: bool) -> KResult {
        if matches!(self.vm_type, Some(t) if t != 0) {
            return Err(Fail::Os(libc::EINVAL));
        }
        let init = kvm_sev_init {
            ghcb_version: es as u16,
            ..Default::default()
        };
        self.guest_init(k, error, es, &init, KvmInit::EsInit)
    }

    fn init2(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let es = match self.vm_type {
            None | Some(2) => false,
            Some(3) => true,
            Some(_) => return Err(Fail::Os(libc::EINVAL)),
        };
        let init: kvm_sev_init = read_struct(cmd.data)?;
        self.guest_init(k, &mut cmd.error, es, &init, KvmInit::Init2)
    }

    /// `sev_bind_asid` after a successful LAUNCH_START / RECEIVE_START: ACTIVATE with this
    /// VM's ASID; on failure the new guest is decommissioned.
    fn bind(&self, k: &mut VmState, error: &mut u32, handle: u32) -> KResult {
        if k.asid == 0 {
            match self.platform.asid_new(k.es) {
                Ok(a) => k.asid = a,
                Err(e) => {
                    let _ = self.platform.fw.decommission(handle);
                    return Err(Fail::Os(e));
                }
            }
        }
        let r = issued(error, self.platform.fw.activate(handle, k.asid));
        if r.is_err() {
            let _ = self.platform.fw.decommission(handle);
        }
        r
    }

    /// `sev_unbind_asid`: DEACTIVATE and DECOMMISSION (results ignored, as KVM does).
    fn unbind(&self, handle: u32) {
        if handle != 0 {
            let _ = self.platform.fw.deactivate(handle);
            let _ = self.platform.fw.decommission(handle);
        }
    }

    /// LAUNCH_START and RECEIVE_START after their argument copies: the firmware command
    /// through the caller's `sev_fd`, ACTIVATE, then the handle is written back and stored.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_common(
        &self,
        k: &mut VmState,
        cmd: &mut kvm_sev_cmd,
        kind: Start,
        handle_in: u32,
        policy: u32,
        cert: Option<&[u8]>,
        session: Option<&[u8]>,
        write_back: impl FnOnce(u32) -> Result<(), Errno>,
    ) -> KResult {
        if cmd.sev_fd as RawFd != self.platform.sev_fd() {
            return Err(Fail::Os(libc::EBADF));
        }
        let fw: FwResult<u32> = self
            .platform
            .fw
            .start(kind, handle_in, policy, cert, session);
        let handle = issued(&mut cmd.error, fw)?;
        self.bind(k, &mut cmd.error, handle)?;
        if let Err(e) = write_back(handle) {
            self.unbind(handle);
            return Err(Fail::Os(e));
        }
        k.handle = handle;
        k.fd = Some(cmd.sev_fd as RawFd);
        Ok(())
    }

    fn launch_start(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let mut params: kvm_sev_launch_start = read_struct(cmd.data)?;
        let dh = match params.dh_uaddr {
            0 => None,
            a => Some(copy_user_blob(a, params.dh_len)?),
        };
        let session = match params.session_uaddr {
            0 => None,
            a => Some(copy_user_blob(a, params.session_len)?),
        };
        let data = cmd.data;
        self.start_common(
            k,
            cmd,
            Start::Launch,
            params.handle,
            params.policy,
            dh.as_deref(),
            session.as_deref(),
            |h| {
                params.handle = h;
                write_struct(data, &params)
            },
        )
    }

    fn dispatch(&self, k: &mut VmState, cmd: &mut kvm_sev_cmd) -> KResult {
        let needs_guest = !matches!(
            cmd.id,
            kvm_cmd::INIT | kvm_cmd::ES_INIT | kvm_cmd::INIT2 | kvm_cmd::RECEIVE_UPDATE_DATA
        );
        // SEND_UPDATE_VMSA (10), RECEIVE_UPDATE_VMSA (14) and CERT_EXPORT (19) have no
        // handler in KVM; the SNP commands (100..=102) refuse a non-SNP VM.
        if (100..=102).contains(&cmd.id) {
            return Err(Fail::Os(libc::ENOTTY));
        }
        if cmd.id > kvm_cmd::INIT2 || matches!(cmd.id, 10 | 14 | 19) {
            return Err(Fail::Os(libc::EINVAL));
        }
        if needs_guest && !k.active {
            return Err(Fail::Os(libc::ENOTTY));
        }
        match cmd.id {
            kvm_cmd::INIT => self.legacy_init(k, &mut cmd.error, false),
            kvm_cmd::ES_INIT => self.legacy_init(k, &mut cmd.error, true),
            kvm_cmd::INIT2 => self.init2(k, cmd),
            kvm_cmd::LAUNCH_START => self.launch_start(k, cmd),
            kvm_cmd::LAUNCH_UPDATE_DATA => self.launch_update_data(k, cmd),
            kvm_cmd::LAUNCH_UPDATE_VMSA => self.launch_update_vmsa(k, cmd),
            kvm_cmd::LAUNCH_SECRET => self.launch_secret(k, cmd),
            kvm_cmd::LAUNCH_MEASURE => self.launch_measure(k, cmd),
            kvm_cmd::LAUNCH_FINISH => {
                self.stored_fd(k)?;
                issued(&mut cmd.error, self.platform.fw.launch_finish(k.handle))
            }
            kvm_cmd::GUEST_STATUS => self.guest_status(k, cmd),
            kvm_cmd::DBG_DECRYPT => self.dbg(k, cmd, true),
            kvm_cmd::DBG_ENCRYPT => self.dbg(k, cmd, false),
            kvm_cmd::GET_ATTESTATION_REPORT => self.attestation(k, cmd),
            kvm_cmd::SEND_START => self.send_start(k, cmd),
            kvm_cmd::SEND_UPDATE_DATA => self.send_update_data(k, cmd),
            kvm_cmd::SEND_FINISH | kvm_cmd::SEND_CANCEL => {
                self.stored_fd(k)?;
                let cancel = cmd.id == kvm_cmd::SEND_CANCEL;
                issued(&mut cmd.error, self.platform.fw.send_end(k.handle, cancel))
            }
            kvm_cmd::RECEIVE_START => self.receive_start(k, cmd),
            kvm_cmd::RECEIVE_UPDATE_DATA => {
                if !k.active {
                    return Err(Fail::Os(libc::EINVAL));
                }
                self.receive_update_data(k, cmd)
            }
            kvm_cmd::RECEIVE_FINISH => {
                self.stored_fd(k)?;
                issued(&mut cmd.error, self.platform.fw.receive_finish(k.handle))
            }
            _ => Err(Fail::Os(libc::EINVAL)),
        }
    }
}

impl VmTransport for ModelVm {
    unsafe fn encrypt_op(&self, cmd: &mut kvm_sev_cmd) -> Result<(), Errno> {
        let mut k = lock(&self.kvm);
        self.dispatch(&mut k, cmd).map_err(Fail::errno)
    }

    unsafe fn register_region(&self, region: &kvm_enc_region) -> Result<(), Errno> {
        let mut k = lock(&self.kvm);
        if !k.active {
            return Err(libc::ENOTTY);
        }
        pin(region.addr, region.size)?;
        k.regions.push((region.addr, region.size));
        Ok(())
    }

    fn unregister_region(&self, region: &kvm_enc_region) -> Result<(), Errno> {
        let mut k = lock(&self.kvm);
        if !k.active {
            return Err(libc::ENOTTY);
        }
        let i = k
            .regions
            .iter()
            .position(|r| *r == (region.addr, region.size))
            .ok_or(libc::EINVAL)?;
        k.regions.remove(i);
        Ok(())
    }

    fn vm_fd(&self) -> RawFd {
        self.vm_fd
    }

    fn add_vcpu(&self, vcpu: crate::transport::VcpuRef<'_>) -> Result<(), Errno> {
        match vcpu {
            crate::transport::VcpuRef::Fd(fd) => self.add_vcpu_fd(fd),
            crate::transport::VcpuRef::State(s) => self.add_vcpu_state(s),
        }
    }
}

impl Drop for ModelVm {
    /// `sev_vm_destroy`: unpin the regions, DEACTIVATE + DECOMMISSION the guest, and give
    /// the ASID back (reusable after the next DF_FLUSH).
    fn drop(&mut self) {
        let k = std::mem::take(&mut *lock(&self.kvm));
        if !k.active {
            return;
        }
        self.unbind(k.handle);
        if k.asid != 0 {
            self.platform.asid_free(k.asid);
        }
    }
}
