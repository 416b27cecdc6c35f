//! [`Platform`]: the `/dev/sev` side (platform commands), on KVM or on the firmware model.

use super::marshal::{finish, finish_query, len_u32, reported_len, uaddr};
use crate::error::{Error, Result};
use crate::model::{ModelConfig, ModelPlatform};
use crate::status::{Command, Status};
use crate::transport::kvm::KvmPlatform;
use crate::transport::{Backend, Errno, PlatformTransport};
use crate::uapi::{
    sev_issue_cmd, sev_user_cmd, sev_user_data_get_id2, sev_user_data_pdh_cert_export,
    sev_user_data_pek_cert_import, sev_user_data_pek_csr, sev_user_data_status,
};
use std::os::fd::RawFd;
use std::sync::Arc;

/// The environment variable [`Platform::open_default`] reads.
pub const PLATFORM_ENV: &str = "LIBSEV_PLATFORM";

/// Largest output a length query may ask libsev to allocate (far above any real SEV blob;
/// the kernel itself caps blobs at 16 KiB).
pub(crate) const MAX_QUERY_LEN: usize = 1 << 20;

/// Which platform [`Platform::open_default`] opens, parsed from `LIBSEV_PLATFORM`.
#[derive(Debug, Clone)]
pub enum PlatformSpec {
    /// The kernel: `/dev/sev` and KVM (`LIBSEV_PLATFORM` unset, empty, or `kvm`).
    Kvm,
    /// The built-in firmware model (`emulated`, or `emulated:DIR` to keep its identity in DIR).
    Emulated(ModelConfig),
}

impl PlatformSpec {
    /// Parse a value of `LIBSEV_PLATFORM` (`None` = unset). Unset, empty or `kvm` select the
    /// kernel; `emulated` / `emulated:DIR` the model; anything else is a
    /// `LIBSEV_STATUS_MODEL_CONFIG` error naming the variable.
    pub fn parse(value: Option<&str>) -> Result<PlatformSpec> {
        let Some(v) = value.map(str::trim) else {
            return Ok(PlatformSpec::Kvm);
        };
        if v.is_empty() || v == "kvm" {
            return Ok(PlatformSpec::Kvm);
        }
        if v == "emulated" || v.starts_with("emulated:") {
            return ModelConfig::parse_env_spec(v)
                .map(PlatformSpec::Emulated)
                .map_err(|e| Error {
                    message: format!("{PLATFORM_ENV}={v:?}: {}", e.message),
                    ..e
                });
        }
        Err(Error::new(
            Status::LIBSEV_STATUS_MODEL_CONFIG,
            format!(
                "{PLATFORM_ENV}={v:?} is not understood: expected \"kvm\" (the default: \
                 /dev/sev and KVM), \"emulated\" (libsev's built-in firmware model) or \
                 \"emulated:DIR\" (the model, keeping its identity in DIR)"
            ),
        )
        .with_command(Command::LIBSEV_CMD_OPEN))
    }

    /// Read and parse `LIBSEV_PLATFORM` from the environment.
    pub fn from_env() -> Result<PlatformSpec> {
        match std::env::var(PLATFORM_ENV) {
            Ok(v) => Self::parse(Some(&v)),
            Err(std::env::VarError::NotPresent) => Self::parse(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::new(
                Status::LIBSEV_STATUS_MODEL_CONFIG,
                format!("{PLATFORM_ENV} is not valid UTF-8"),
            )
            .with_command(Command::LIBSEV_CMD_OPEN)),
        }
    }
}

/// `PLATFORM_STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformStatus {
    pub api_major: u8,
    pub api_minor: u8,
    pub build: u8,
    /// 0 UNINIT, 1 INIT, 2 WORKING.
    pub state: u8,
    /// The platform's OCA was imported (PEK_CERT_IMPORT) rather than self-signed.
    pub owned_externally: bool,
    /// The platform was initialised with SEV-ES enabled (CONFIG.ES).
    pub config_es: bool,
    pub guest_count: u32,
}

/// An SEV platform: the PSP behind `/dev/sev`, or libsev's model of it.
///
/// Cloning is cheap (an `Arc`). Thread safety: a `Platform` is `Send + Sync` and may be shared
/// by many guests on many threads; the kernel (or the model) serialises firmware commands.
#[derive(Clone)]
pub struct Platform {
    transport: Arc<dyn PlatformTransport>,
    model: Option<Arc<ModelPlatform>>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("backend", &self.backend())
            .field("sev_fd", &self.sev_fd())
            .finish()
    }
}

impl Platform {
    /// The platform `LIBSEV_PLATFORM` selects (see [`PlatformSpec::parse`]). With the kernel
    /// selected and `/dev/sev` absent this fails with `LIBSEV_STATUS_NO_DEVICE`: it never falls
    /// back to the model silently.
    pub fn open_default() -> Result<Platform> {
        match PlatformSpec::from_env()? {
            PlatformSpec::Kvm => Self::kvm(),
            PlatformSpec::Emulated(cfg) => Self::emulated(cfg),
        }
    }

    /// The kernel, with `/dev/sev` opened (and owned) by libsev.
    pub fn kvm() -> Result<Platform> {
        let p = KvmPlatform::open().map_err(|mut e| {
            if e.status == Status::LIBSEV_STATUS_NO_DEVICE {
                e.message.push_str(&format!(
                    "; to run without SEV hardware use libsev's firmware model \
                     ({PLATFORM_ENV}=emulated)"
                ));
            }
            e
        })?;
        Ok(Self::from_transport(Arc::new(p)))
    }

    /// The kernel, with the caller's `/dev/sev` fd. libsev never closes it; it must stay open
    /// at the same number while this platform and its guests live.
    pub fn kvm_from_fd(fd: RawFd) -> Result<Platform> {
        if fd < 0 {
            return Err(Error::arg(format!("the /dev/sev fd {fd} is negative"))
                .with_command(Command::LIBSEV_CMD_OPEN));
        }
        Ok(Self::from_transport(Arc::new(KvmPlatform::from_fd(fd))))
    }

    /// The kernel without `/dev/sev`: platform commands and `LAUNCH_START`/`RECEIVE_START` fail
    /// with `LIBSEV_STATUS_NO_DEVICE`; guest `INIT` still reaches KVM.
    pub fn kvm_without_sev() -> Platform {
        Self::from_transport(Arc::new(KvmPlatform::without_sev()))
    }

    /// libsev's firmware model.
    pub fn emulated(config: ModelConfig) -> Result<Platform> {
        let m = crate::model::open(config)?;
        Ok(Platform {
            transport: m.clone(),
            model: Some(m),
        })
    }

    /// Any transport (for tests, or another implementation of the seam).
    pub fn from_transport(transport: Arc<dyn PlatformTransport>) -> Platform {
        Platform {
            transport,
            model: None,
        }
    }

    /// Which implementation is behind this platform.
    pub fn backend(&self) -> Backend {
        self.transport.backend()
    }

    /// The model, when this platform is emulated.
    pub fn model(&self) -> Option<&Arc<ModelPlatform>> {
        self.model.as_ref()
    }

    /// The transport (for the guest side).
    pub fn transport(&self) -> &Arc<dyn PlatformTransport> {
        &self.transport
    }

    /// The fd that goes into `kvm_sev_cmd.sev_fd` (-1 for a KVM platform without `/dev/sev`).
    pub fn sev_fd(&self) -> RawFd {
        self.transport.sev_fd()
    }

    /// Fail clearly, before any ioctl, when a command needs `/dev/sev` and there is none.
    pub(crate) fn require_device(&self, command: Command) -> Result<()> {
        if self.backend() == Backend::Kvm && self.sev_fd() < 0 {
            let mut e = Error::from_command(command, libc::ENODEV, 0);
            e.message = format!(
                "{}: this platform was opened without /dev/sev, which the command needs \
                 (open it with /dev/sev, or use libsev's firmware model: {PLATFORM_ENV}=emulated)",
                command.name()
            );
            return Err(e);
        }
        Ok(())
    }

    /// One `SEV_ISSUE_CMD`: the ioctl result and the firmware status.
    ///
    /// # Safety
    /// `data` must be 0 or point to the parameter struct of `id`, with every address inside it
    /// valid for the command's reads and writes.
    unsafe fn issue(&self, id: u32, data: u64) -> (Result<(), Errno>, u32) {
        let mut cmd = sev_issue_cmd {
            cmd: id,
            data,
            error: 0,
        };
        // SAFETY: forwarded contract.
        let r = unsafe { self.transport.sev_issue_cmd(&mut cmd) };
        (r, cmd.error)
    }

    /// A command without parameters.
    fn simple(&self, command: Command, id: u32) -> Result<()> {
        self.require_device(command)?;
        // SAFETY: these commands take no parameter struct (data = 0).
        let (r, fw) = unsafe { self.issue(id, 0) };
        finish(command, r, fw, String::new)
    }

    /// `PLATFORM_STATUS`.
    pub fn status(&self) -> Result<PlatformStatus> {
        let c = Command::LIBSEV_CMD_PLATFORM_STATUS;
        self.require_device(c)?;
        let mut s = sev_user_data_status::default();
        // SAFETY: data points to a live 12-byte sev_user_data_status, which the command fills.
        let (r, fw) = unsafe { self.issue(sev_user_cmd::PLATFORM_STATUS, ptr(&mut s)) };
        let flags = s.flags;
        let st = PlatformStatus {
            api_major: s.api_major,
            api_minor: s.api_minor,
            build: s.build,
            state: s.state,
            owned_externally: flags & 1 != 0,
            config_es: flags & 0x100 != 0,
            guest_count: s.guest_count,
        };
        finish(c, r, fw, || {
            format!(
                " (API {}.{} build {}, state {}, {} guests)",
                st.api_major, st.api_minor, st.build, st.state, st.guest_count
            )
        })?;
        Ok(st)
    }

    /// `PEK_GEN`: new self-signed OCA, PEK and PDH (the platform becomes self-owned).
    pub fn pek_gen(&self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_PEK_GEN, sev_user_cmd::PEK_GEN)
    }

    /// `PDH_GEN`: a new PDH.
    pub fn pdh_gen(&self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_PDH_GEN, sev_user_cmd::PDH_GEN)
    }

    /// `FACTORY_RESET`: delete the platform identity (OCA, PEK, PDH, ownership).
    pub fn factory_reset(&self) -> Result<()> {
        self.simple(
            Command::LIBSEV_CMD_FACTORY_RESET,
            sev_user_cmd::FACTORY_RESET,
        )
    }

    /// `PEK_CSR`: the PEK as a certificate signing request (length queried first).
    pub fn pek_csr(&self) -> Result<Vec<u8>> {
        let c = Command::LIBSEV_CMD_PEK_CSR;
        self.require_device(c)?;
        let mut q = sev_user_data_pek_csr::default();
        // SAFETY: a query (address 0, length 0): the command only writes `length` back.
        let (r, fw) = unsafe { self.issue(sev_user_cmd::PEK_CSR, ptr(&mut q)) };
        let qlen = q.length;
        finish_query(c, r, fw, None, || format!("{qlen} bytes"))?;
        let n = reported_len(c, "the PEK CSR", qlen, MAX_QUERY_LEN)?;
        let mut buf = vec![0u8; n];
        let mut d = sev_user_data_pek_csr {
            address: buf.as_mut_ptr() as u64,
            length: n as u32,
        };
        // SAFETY: `address` points to `length` writable bytes (buf) that outlive the call.
        let (r, fw) = unsafe { self.issue(sev_user_cmd::PEK_CSR, ptr(&mut d)) };
        let got = d.length as usize;
        finish(c, r, fw, || format!(" ({got} bytes)"))?;
        buf.truncate(got);
        Ok(buf)
    }

    /// `PEK_CERT_IMPORT`: the PEK signed by the owner's OCA, and that OCA (0x824 bytes each;
    /// the firmware checks the sizes).
    pub fn pek_cert_import(&self, pek: &[u8], oca: &[u8]) -> Result<()> {
        let c = Command::LIBSEV_CMD_PEK_CERT_IMPORT;
        self.require_device(c)?;
        let mut d = sev_user_data_pek_cert_import {
            pek_cert_address: uaddr(pek),
            pek_cert_len: len_u32(c, "the PEK certificate", pek.len())?,
            oca_cert_address: uaddr(oca),
            oca_cert_len: len_u32(c, "the OCA certificate", oca.len())?,
        };
        // SAFETY: both addresses are 0 or point to readable slices of the given lengths that
        // outlive the call; the command only reads them.
        let (r, fw) = unsafe { self.issue(sev_user_cmd::PEK_CERT_IMPORT, ptr(&mut d)) };
        finish(c, r, fw, String::new)
    }

    /// `PDH_CERT_EXPORT`: the PDH certificate and the chain PEK ‖ OCA ‖ CEK (lengths queried
    /// first).
    pub fn pdh_cert_export(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let c = Command::LIBSEV_CMD_PDH_CERT_EXPORT;
        self.require_device(c)?;
        let mut q = sev_user_data_pdh_cert_export::default();
        // SAFETY: a query (addresses and lengths 0): the command only writes the lengths back.
        let (r, fw) = unsafe { self.issue(sev_user_cmd::PDH_CERT_EXPORT, ptr(&mut q)) };
        let (ql, qc) = (q.pdh_cert_len, q.cert_chain_len);
        finish_query(c, r, fw, None, || {
            format!("PDH {ql} bytes, chain {qc} bytes")
        })?;
        let np = reported_len(c, "the PDH certificate", ql, MAX_QUERY_LEN)?;
        let nc = reported_len(c, "the certificate chain", qc, MAX_QUERY_LEN)?;
        let mut pdh = vec![0u8; np];
        let mut chain = vec![0u8; nc];
        let mut d = sev_user_data_pdh_cert_export {
            pdh_cert_address: pdh.as_mut_ptr() as u64,
            pdh_cert_len: np as u32,
            cert_chain_address: chain.as_mut_ptr() as u64,
            cert_chain_len: nc as u32,
        };
        // SAFETY: both addresses point to writable buffers of the given lengths that outlive
        // the call.
        let (r, fw) = unsafe { self.issue(sev_user_cmd::PDH_CERT_EXPORT, ptr(&mut d)) };
        let (gl, gc) = (d.pdh_cert_len as usize, d.cert_chain_len as usize);
        finish(c, r, fw, || format!(" (PDH {gl} bytes, chain {gc} bytes)"))?;
        pdh.truncate(gl);
        chain.truncate(gc);
        Ok((pdh, chain))
    }

    /// `GET_ID` (the kernel's `SEV_GET_ID2`): the chip id(s) AMD's key server knows the CEK
    /// by (length queried first).
    pub fn get_id(&self) -> Result<Vec<u8>> {
        let c = Command::LIBSEV_CMD_GET_ID;
        self.require_device(c)?;
        let mut q = sev_user_data_get_id2::default();
        // SAFETY: a query (address 0, length 0): the command only writes `length` back.
        let (r, fw) = unsafe { self.issue(sev_user_cmd::GET_ID2, ptr(&mut q)) };
        let qlen = q.length;
        finish_query(c, r, fw, None, || format!("{qlen} bytes"))?;
        let n = reported_len(c, "the chip id", qlen, MAX_QUERY_LEN)?;
        let mut buf = vec![0u8; n];
        let mut d = sev_user_data_get_id2 {
            address: buf.as_mut_ptr() as u64,
            length: n as u32,
        };
        // SAFETY: `address` points to `length` writable bytes (buf) that outlive the call.
        let (r, fw) = unsafe { self.issue(sev_user_cmd::GET_ID2, ptr(&mut d)) };
        let got = (d.length as usize).min(n);
        finish(c, r, fw, || format!(" ({got} bytes)"))?;
        buf.truncate(got);
        Ok(buf)
    }
}

/// The user address of a parameter struct.
pub(crate) fn ptr<T>(p: &mut T) -> u64 {
    p as *mut T as u64
}
