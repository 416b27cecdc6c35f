//! The PSP driver's `/dev/sev` ioctl (`SEV_ISSUE_CMD`), as Linux implements it on top of the
//! firmware (`sev-spec` §1.7, §1.9): argument copies, the length-query write-backs, the
//! automatic platform INIT, FACTORY_RESET's SHUTDOWN first and refusal while WORKING.
//!
//! One deliberate difference: where the kernel copies its (zeroed) bounce buffer to the
//! caller's buffer even when the firmware failed, the model writes nothing but the length
//! fields, so a short buffer is never overrun.

use crate::model::firmware::{PState, lock};
use crate::model::kernel::platform::ModelPlatform;
use crate::model::kernel::uaccess::{
    Fail, KMALLOC_MAX, copy_to_user, copy_user_blob, issued, read_struct, write_struct,
};
use crate::transport::Errno;
use crate::uapi::{
    SEV_FW_BLOB_MAX_SIZE, sev_issue_cmd, sev_user_cmd as cmd_id, sev_user_data_get_id2,
    sev_user_data_pdh_cert_export, sev_user_data_pek_cert_import, sev_user_data_pek_csr,
    sev_user_data_status,
};

impl ModelPlatform {
    /// `__sev_platform_init_locked`: INIT (with CONFIG.ES, as on SEV-ES capable parts) and
    /// DF_FLUSH, if the platform is UNINIT.
    pub(crate) fn platform_init(&self, error: &mut u32) -> Result<(), Fail> {
        let _driver = lock(&self.driver);
        self.init_locked(error)
    }

    /// What the PSP driver does when it probes the device (`psp_init_on_probe`, on by
    /// default): INIT (with CONFIG.ES) and DF_FLUSH if the platform is UNINIT, so that a
    /// hypervisor's first PLATFORM_STATUS sees an initialised platform with SEV-ES configured,
    /// as on a host. `Err` carries the firmware status.
    pub fn init_on_probe(&self) -> Result<(), u32> {
        let mut error = 0;
        self.platform_init(&mut error).map_err(|_| error)
    }

    /// [`ModelPlatform::platform_init`] with the driver's mutex (`sev_cmd_mutex`) held.
    fn init_locked(&self, error: &mut u32) -> Result<(), Fail> {
        if self.fw.state().pstate != PState::Uninit {
            return Ok(());
        }
        // Linux initialises SNP first (it cannot be initialised once legacy SEV is).
        self.snp_init_locked();
        issued(error, self.fw.init(true))?;
        issued(error, self.fw.df_flush())
    }

    /// [`ModelPlatform::init_locked`] for the SNP ioctls (driver mutex held).
    pub(crate) fn init_locked_pub(&self, error: &mut u32) -> Result<(), Fail> {
        self.init_locked(error)
    }

    /// `sev_ioctl`.
    pub(crate) fn issue(&self, cmd: &mut sev_issue_cmd) -> Result<(), Errno> {
        let _driver = lock(&self.driver);
        let mut error = cmd.error;
        let data = cmd.data;
        let r = match cmd.cmd {
            cmd_id::FACTORY_RESET => self.factory_reset(&mut error),
            cmd_id::PLATFORM_STATUS => self.status(data, &mut error),
            cmd_id::PEK_GEN => self.key_gen(true, &mut error),
            cmd_id::PDH_GEN => self.key_gen(false, &mut error),
            cmd_id::PEK_CSR => self.pek_csr(data, &mut error),
            cmd_id::PDH_CERT_EXPORT => self.pdh_export(data, &mut error),
            cmd_id::PEK_CERT_IMPORT => self.pek_import(data, &mut error),
            cmd_id::GET_ID => self.get_id(data, &mut error),
            cmd_id::GET_ID2 => self.get_id2(data, &mut error),
            9..=12 => self.snp_issue(cmd.cmd, data, &mut error),
            _ => Err(Fail::Os(libc::EINVAL)),
        };
        cmd.error = error;
        r.map_err(Fail::errno)
    }

    fn factory_reset(&self, error: &mut u32) -> Result<(), Fail> {
        let state = self.fw.platform_status().state;
        if state == PState::Working as u8 {
            return Err(Fail::Os(libc::EBUSY));
        }
        if state == PState::Init as u8 {
            issued(error, self.fw.shutdown())?;
        }
        issued(error, self.fw.platform_reset())
    }

    fn status(&self, data: u64, error: &mut u32) -> Result<(), Fail> {
        let s = issued(error, Ok(self.fw.platform_status()))?;
        let out = sev_user_data_status {
            api_major: s.api_major,
            api_minor: s.api_minor,
            state: s.state,
            flags: s.owner as u32 | ((s.config_es as u32) << 8),
            build: s.build,
            guest_count: s.guest_count,
        };
        write_struct(data, &out)?;
        Ok(())
    }

    fn key_gen(&self, pek: bool, error: &mut u32) -> Result<(), Fail> {
        self.init_locked(error)?;
        issued(
            error,
            if pek {
                self.fw.pek_gen()
            } else {
                self.fw.pdh_gen()
            },
        )
    }

    fn pek_csr(&self, data: u64, error: &mut u32) -> Result<(), Fail> {
        let mut input: sev_user_data_pek_csr = read_struct(data)?;
        let (addr, ulen) = (input.address, input.length);
        let mut blob = None;
        let mut len = 0u32;
        if addr != 0 && ulen != 0 {
            if ulen > SEV_FW_BLOB_MAX_SIZE {
                return Err(Fail::Os(libc::EFAULT));
            }
            blob = Some(vec![0u8; ulen as usize]);
            len = ulen;
        }
        self.init_locked(error)?;
        let r = issued(error, self.fw.pek_csr(blob.as_deref_mut(), &mut len));
        input.length = len;
        write_struct(data, &input)?;
        r?;
        if let Some(b) = blob {
            copy_to_user(addr, &b)?;
        }
        Ok(())
    }

    fn pdh_export(&self, data: u64, error: &mut u32) -> Result<(), Fail> {
        let mut input: sev_user_data_pdh_cert_export = read_struct(data)?;
        let (pa, pl, ca, cl) = (
            input.pdh_cert_address,
            input.pdh_cert_len,
            input.cert_chain_address,
            input.cert_chain_len,
        );
        let (mut pdh, mut chain) = (None, None);
        let (mut plen, mut clen) = (0u32, 0u32);
        if pa != 0 && pl != 0 && ca != 0 {
            if pl > SEV_FW_BLOB_MAX_SIZE || cl > SEV_FW_BLOB_MAX_SIZE {
                return Err(Fail::Os(libc::EFAULT));
            }
            pdh = Some(vec![0u8; pl as usize]);
            chain = Some(vec![0u8; cl as usize]);
            (plen, clen) = (pl, cl);
        }
        self.init_locked(error)?;
        let r = issued(
            error,
            self.fw.pdh_cert_export(
                pdh.as_deref_mut(),
                &mut plen,
                chain.as_deref_mut().filter(|c| !c.is_empty()),
                &mut clen,
            ),
        );
        input.pdh_cert_len = plen;
        input.cert_chain_len = clen;
        write_struct(data, &input)?;
        r?;
        if let (Some(p), Some(c)) = (pdh, chain) {
            copy_to_user(pa, &p)?;
            copy_to_user(ca, &c)?;
        }
        Ok(())
    }

    fn pek_import(&self, data: u64, error: &mut u32) -> Result<(), Fail> {
        let input: sev_user_data_pek_cert_import = read_struct(data)?;
        let pek = copy_user_blob(input.pek_cert_address, input.pek_cert_len)?;
        let oca = copy_user_blob(input.oca_cert_address, input.oca_cert_len)?;
        self.init_locked(error)?;
        issued(error, self.fw.pek_cert_import(&pek, &oca))
    }

    /// The deprecated GET_ID: a 128-byte struct (two sockets); the model has one socket.
    fn get_id(&self, data: u64, error: &mut u32) -> Result<(), Fail> {
        let mut blob = [0u8; 128];
        let mut len = blob.len() as u32;
        issued(error, self.fw.get_id(Some(&mut blob[..]), &mut len))?;
        copy_to_user(data, &blob)?;
        Ok(())
    }

    fn get_id2(&self, data: u64, error: &mut u32) -> Result<(), Fail> {
        if (self.fw.api.0, self.fw.api.1) < (0, 16) {
            // The kernel's internal ENOTSUPP (524) reaches user space as is.
            return Err(Fail::Os(524));
        }
        let mut input: sev_user_data_get_id2 = read_struct(data)?;
        let (addr, ulen) = (input.address, input.length);
        let mut blob = None;
        let mut len = 0u32;
        if addr != 0 && ulen != 0 {
            if ulen as usize > KMALLOC_MAX {
                return Err(Fail::Os(libc::ENOMEM));
            }
            blob = Some(vec![0u8; ulen as usize]);
            len = ulen;
        }
        let r = issued(error, self.fw.get_id(blob.as_deref_mut(), &mut len));
        input.length = len;
        write_struct(data, &input)?;
        r?;
        if let Some(b) = blob {
            copy_to_user(addr, &b[..(len as usize).min(b.len())])?;
        }
        Ok(())
    }
}
