//! The model platform: the `/dev/sev` side of the seam.

use super::ModelConfig;
use super::vm::ModelVm;
use crate::error::{Error, Result};
use crate::status::{Command, Status};
use crate::transport::{Backend, Errno, PlatformTransport, VmTransport};
use crate::uapi::sev_issue_cmd;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// An emulated AMD Secure Processor with its PSP driver (`/dev/sev`).
///
/// Thread safety: shared by any number of threads (`Arc<ModelPlatform>`); commands on
/// distinct guests run in parallel.
pub struct ModelPlatform {
    pub(crate) config: ModelConfig,
    fd: OwnedFd,
}

impl std::fmt::Debug for ModelPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelPlatform")
            .field("sev_fd", &self.fd.as_raw_fd())
            .finish_non_exhaustive()
    }
}

fn open_fd() -> Result<OwnedFd> {
    let f = std::fs::File::open("/dev/null")
        .map_err(|e| Error::from_io(Command::LIBSEV_CMD_OPEN, "model: opening /dev/null", &e))?;
    Ok(OwnedFd::from(f))
}

impl ModelPlatform {
    pub(crate) fn new(config: ModelConfig) -> Result<Self> {
        let fd = open_fd()?;
        let _ = Status::LIBSEV_STATUS_OK;
        Ok(ModelPlatform { config, fd })
    }

    /// The emulated AMD ASK ‖ ARK, as AMD's key server serves them for a real chip's
    /// generation (the model's test-only root, see [`super::test_root`]).
    pub fn amd_ask_ark(&self) -> Vec<u8> {
        let mut v = super::test_root::ASK_CERT.to_vec();
        v.extend_from_slice(super::test_root::ARK_CERT);
        v
    }

    /// This chip's CEK signed by the emulated ASK, as AMD's key server serves it for the
    /// chip id that GET_ID returns (0x824 bytes). (Being implemented: empty for now.)
    pub fn cek_signed(&self) -> Vec<u8> {
        Vec::new()
    }
}

impl PlatformTransport for ModelPlatform {
    unsafe fn sev_issue_cmd(&self, _cmd: &mut sev_issue_cmd) -> Result<(), Errno> {
        Err(libc::ENOTTY)
    }

    fn sev_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn backend(&self) -> Backend {
        Backend::Model
    }

    fn create_vm(self: Arc<Self>) -> Result<Box<dyn VmTransport>, Errno> {
        Ok(Box::new(ModelVm::new(self, -1)))
    }

    fn attach_vm(self: Arc<Self>, vm_fd: RawFd) -> Result<Box<dyn VmTransport>, Errno> {
        Ok(Box::new(ModelVm::new(self, vm_fd)))
    }
}
