//! The model platform: the emulated AMD Secure Processor with its PSP driver (`/dev/sev`),
//! and KVM's host-wide ASID bitmap.

use crate::certs::{Algo, AmdCert, Usage};
use crate::error::{Error, Result};
use crate::model::ModelConfig;
use crate::model::firmware::crypto::{ModelRng, kdf};
use crate::model::firmware::identity::Identity;
use crate::model::firmware::store::Store;
use crate::model::firmware::{Firmware, lock};
use crate::model::kernel::vm::ModelVm;
use crate::status::Command;
use crate::transport::{Backend, Errno, PlatformTransport, VmTransport};
use crate::uapi::sev_issue_cmd;
use rand_core::RngCore;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, OnceLock};
use zeroize::Zeroizing;

/// KVM's view of one ASID (`sev_asid_bitmap` / `sev_reclaim_asid_bitmap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KvmAsid {
    Free,
    Used,
    /// Freed by a destroyed VM; reusable after the next WBINVD + DF_FLUSH.
    Reclaim,
}

/// An emulated AMD Secure Processor with its PSP driver (`/dev/sev`).
///
/// Thread safety: shared by any number of threads (`Arc<ModelPlatform>`); commands on
/// distinct guests run in parallel, and each [`ModelVm`] serialises its own commands as KVM's
/// `kvm->lock` does.
pub struct ModelPlatform {
    pub(crate) config: ModelConfig,
    fd: OwnedFd,
    pub(crate) fw: Firmware,
    /// The SNP half of the firmware.
    pub(crate) snp: crate::model::snp::SnpFw,
    kvm_asids: Mutex<Vec<KvmAsid>>,
    /// The PSP driver's `sev_cmd_mutex`: one `/dev/sev` command or platform INIT at a time.
    pub(crate) driver: Mutex<()>,
    cek_signed: OnceLock<Vec<u8>>,
}

impl std::fmt::Debug for ModelPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelPlatform")
            .field("sev_fd", &self.fd.as_raw_fd())
            .field("state_dir", &self.config.state_dir)
            .finish_non_exhaustive()
    }
}

fn open_fd() -> Result<OwnedFd> {
    // A real fd of this process stands for the model's /dev/sev: KVM-style commands name it
    // in `sev_fd` and the model checks the number.
    let f = std::fs::File::open("/dev/null")
        .map_err(|e| Error::from_io(Command::LIBSEV_CMD_OPEN, "model: opening /dev/null", &e))?;
    Ok(OwnedFd::from(f))
}

impl ModelPlatform {
    pub(crate) fn new(config: ModelConfig) -> Result<Self> {
        let store = config.state_dir.as_deref().map(Store::open).transpose()?;
        let loaded = match &store {
            Some(s) => s.load()?,
            None => None,
        };
        let fresh = loaded.is_none();
        let (chip_seed, ident) = match loaded {
            Some(p) => (p.chip_seed, p.ident),
            None => {
                let mut seed = Zeroizing::new([0u8; 32]);
                match &config.seed {
                    Some(s) => kdf(s, b"libsev-model-chip-seed", &[], &mut seed[..]),
                    None => rand_core::OsRng.fill_bytes(&mut seed[..]),
                }
                (seed, Identity::default())
            }
        };
        let api = (config.api_major, config.api_minor, config.build);
        let rng = ModelRng::new(config.seed.as_ref());
        let snp = crate::model::snp::SnpFw::new(api, &chip_seed, config.seed.as_ref());
        let fw = Firmware::new(api, config.asids, chip_seed, ident, rng, store);
        if fresh {
            fw.save_initial()?;
        }
        Ok(ModelPlatform {
            fd: open_fd()?,
            kvm_asids: Mutex::new(vec![KvmAsid::Free; 2 * config.asids as usize + 1]),
            driver: Mutex::new(()),
            config,
            fw,
            snp,
            cek_signed: OnceLock::new(),
        })
    }

    /// The emulated AMD ASK ‖ ARK, as AMD's key server serves them for a real chip's
    /// generation (the model's test-only root, see [`crate::certs::sev::test_root`]).
    pub fn amd_ask_ark(&self) -> Vec<u8> {
        let mut v = crate::certs::sev::test_root::ASK_CERT.to_vec();
        v.extend_from_slice(crate::certs::sev::test_root::ARK_CERT);
        v
    }

    /// This chip's CEK signed by the emulated ASK (RSA-PSS SHA-384, algo RSA_SHA384, usage
    /// ASK), as AMD's key server serves it for the chip id GET_ID returns: 0x824 bytes,
    /// signed once per platform object and cached. The body is the one PDH_CERT_EXPORT
    /// returns unsigned.
    pub fn cek_signed(&self) -> Vec<u8> {
        self.cek_signed
            .get_or_init(|| {
                use rsa::pkcs8::DecodePrivateKey;
                let key =
                    rsa::RsaPrivateKey::from_pkcs8_der(crate::certs::sev::test_root::ASK_KEY_PKCS8)
                        .expect("the built-in test ASK key parses");
                let mut cek = self.fw.chip.cek_cert(self.fw.api2());
                let sig = AmdCert::sign_sev_body(&key, cek.body())
                    .expect("RSA-PSS signing with the built-in key works");
                cek.set_rsa_signature(0, Usage::ASK, Algo::RSA_SHA384, &sig);
                cek.as_bytes().to_vec()
            })
            .clone()
    }

    /// The configuration this platform was opened with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The chip id (GET_ID's 64 bytes), as the key server's URL names it.
    pub fn chip_id(&self) -> [u8; 64] {
        self.fw.chip.id
    }

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

    /// `sev_asid_new`: a free ASID; when none is left, recycle the reclaimable ones after a
    /// DF_FLUSH (WBINVD assumed), as KVM does; `EBUSY` if still none.
    pub(crate) fn asid_new(&self, es: bool) -> Result<u32, Errno> {
        let mut a = lock(&self.kvm_asids);
        // SEV-ES ASIDs are below min_sev_asid, SEV ASIDs from it up.
        let min_sev = self.fw.min_sev_asid as usize;
        let range = if es { 1..min_sev } else { min_sev..a.len() };
        for retry in [true, false] {
            if let Some(i) = range.clone().find(|i| a[*i] == KvmAsid::Free) {
                a[i] = KvmAsid::Used;
                return Ok(i as u32);
            }
            if retry && a.contains(&KvmAsid::Reclaim) {
                let _ = self.fw.df_flush();
                for s in a.iter_mut() {
                    if *s == KvmAsid::Reclaim {
                        *s = KvmAsid::Free;
                    }
                }
            }
        }
        Err(libc::EBUSY)
    }

    /// `sev_asid_free`: the ASID waits for the next flush.
    pub(crate) fn asid_free(&self, asid: u32) {
        if let Some(s) = lock(&self.kvm_asids).get_mut(asid as usize) {
            if *s == KvmAsid::Used {
                *s = KvmAsid::Reclaim;
            }
        }
    }
}

impl PlatformTransport for ModelPlatform {
    unsafe fn sev_issue_cmd(&self, cmd: &mut sev_issue_cmd) -> Result<(), Errno> {
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
