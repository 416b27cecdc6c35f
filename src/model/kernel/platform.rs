//! The model platform: the emulated AMD Secure Processor with its PSP driver (`/dev/sev`),
//! and KVM's host-wide ASID bitmap.

use crate::certs::{Algo, AmdCert, Usage};
use crate::error::{Error, Result};
use crate::model::ModelConfig;
use crate::model::firmware::crypto::{ModelRng, kdf};
use crate::model::firmware::identity::Identity;
use crate::model::firmware::store::Store;
use crate::model::firmware::{Firmware, lock};
use crate::status::Command;
use crate::transport::Errno;
use rand_core::RngCore;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};
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
    pub(crate) fd: OwnedFd,
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
        let new_chip = || {
            let mut seed = Zeroizing::new([0u8; 32]);
            match &config.seed {
                Some(s) => kdf(s, b"libsev-model-chip-seed", &[], &mut seed[..]),
                None => rand_core::OsRng.fill_bytes(&mut seed[..]),
            }
            (seed, Identity::default())
        };
        // With a state directory its chip wins; a new directory gets this chip under the
        // directory's lock, so processes opening it at once all get the first one's.
        let (chip_seed, ident, stamp) = match &store {
            Some(s) => {
                let l = s.load_or_create(new_chip)?;
                (l.state.chip_seed, l.state.ident, Some(l.stamp))
            }
            None => {
                let (seed, ident) = new_chip();
                (seed, ident, None)
            }
        };
        let api = (config.api_major, config.api_minor, config.build);
        let rng = ModelRng::new(config.seed.as_ref());
        let snp = crate::model::snp::SnpFw::new(api, &chip_seed, config.seed.as_ref());
        let fw = Firmware::new(api, config.asids, chip_seed, ident, rng, store, stamp);
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
