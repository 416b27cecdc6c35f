//! The SNP firmware: platform state and commands (`sev-spec` SNP §3.3), guest contexts and
//! SNP_GCTX_CREATE / ACTIVATE / LAUNCH_START / LAUNCH_UPDATE / LAUNCH_FINISH / DECOMMISSION
//! (§3.4–§3.7), each with its checks in the firmware's order and its statuses.

use super::measure::{Ld, page_contents, update_with_contents};
use crate::model::FwResult;
use crate::model::firmware::crypto::{ModelRng, kdf};
use crate::model::firmware::lock;
use crate::status::fw;
use crate::uapi::snp::{TcbVersion, page_type, policy, secrets, snp_sizes};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use zeroize::{Zeroize, Zeroizing};

/// SNP-specific firmware statuses (`sev-spec` §2.2).
pub(crate) mod st {
    pub(crate) const INVALID_PAGE_STATE: u32 = 0x1A;
    pub(crate) const INVALID_PAGE_OWNER: u32 = 0x1C;
    pub(crate) const AEAD_OFLOW: u32 = 0x1D;
    pub(crate) const BAD_SVN: u32 = 0x21;
}

/// SNP guest states (`sev_guest.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GState {
    Init = 0,
    Launch = 1,
    Running = 2,
}

/// Activation (SNP_ACTIVATE is pending until LAUNCH_FINISH completes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    Inactive,
    Pending(u32),
    Active(u32),
}

/// RMP state of one 4 KiB page as far as the launch commands look at it (`sev-spec` §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rmp {
    /// Assigned to a guest (ASID), immutable, awaiting LAUNCH_UPDATE.
    PreGuest { asid: u32, gpa: u64 },
    /// Launched: validated, mutable.
    GuestValid { asid: u32, vmsa: bool },
}

/// One private 4 KiB page of a guest with its RMP entry.
pub(crate) struct PrivPage {
    pub(crate) data: Box<[u8; 4096]>,
    pub(crate) rmp: Rmp,
}

/// The guest context (`guest_context_page_t`), model-private.
pub(crate) struct Gctx {
    pub(crate) state: GState,
    pub(crate) policy: u64,
    pub(crate) act: Activation,
    pub(crate) vmpck: Zeroizing<[[u8; 32]; 4]>,
    pub(crate) vmrk: Zeroizing<[u8; 32]>,
    pub(crate) msg_count: [u64; 4],
    pub(crate) launch_tcb: u64,
    pub(crate) report_id: [u8; 32],
    pub(crate) report_id_ma: [u8; 32],
    pub(crate) gosvw: [u8; 16],
    pub(crate) imi_en: bool,
    pub(crate) ld: Ld,
    pub(crate) host_data: [u8; 32],
    pub(crate) id_block_en: bool,
    pub(crate) id_block: [u8; 96],
    pub(crate) id_key_digest: Ld,
    pub(crate) author_key_en: bool,
    pub(crate) author_key_digest: Ld,
    pub(crate) vcek_dis: bool,
}

impl Drop for Gctx {
    fn drop(&mut self) {
        self.ld.zeroize();
        self.host_data.zeroize();
    }
}

/// The SNP platform state (`gpDram->perm`, SNP part).
pub(crate) struct SnpState {
    pub(crate) init: bool,
    pub(crate) current_tcb: u64,
    pub(crate) committed_tcb: u64,
    /// SNP_CONFIG's TCB (0 = none: REPORTED_TCB is the committed TCB).
    pub(crate) config_tcb: u64,
    pub(crate) committed_version: (u8, u8, u8),
    pub(crate) mask_chip_id: bool,
    pub(crate) mask_chip_key: bool,
    /// The loaded VLEK's private scalar seed and the TCB it is bound to.
    pub(crate) vlek: Option<(Zeroizing<[u8; 48]>, u64)>,
    pub(crate) guests: BTreeMap<u32, Arc<Mutex<Gctx>>>,
    next: u32,
}

impl SnpState {
    pub(crate) fn reported_tcb(&self) -> u64 {
        if self.config_tcb != 0 {
            self.config_tcb
        } else {
            self.committed_tcb
        }
    }
}

/// The SNP half of the emulated AMD Secure Processor.
pub(crate) struct SnpFw {
    pub(crate) api: (u8, u8, u8),
    /// Per-chip secret the VCEK and the VLEK wrapping key derive from.
    pub(crate) chip_secret: Zeroizing<[u8; 48]>,
    /// CPUID family/model/stepping reported in the secrets page.
    pub(crate) fms: u32,
    /// SMT enabled on the (model) platform.
    pub(crate) smt: bool,
    pub(crate) st: Mutex<SnpState>,
    rng: Mutex<ModelRng>,
}

/// Compare TCBs the way SNP_CONFIG does: BL ‖ TEE ‖ SNP ‖ ucode as one number, BL most
/// significant; reserved bytes make a TCB greater.
pub(crate) fn tcb_greater(a: u64, b: u64) -> bool {
    let (ta, tb) = (TcbVersion::from_u64_milan(a), TcbVersion::from_u64_milan(b));
    let key = |t: TcbVersion| {
        ((t.bootloader as u32) << 24)
            | ((t.tee as u32) << 16)
            | ((t.snp as u32) << 8)
            | t.microcode as u32
    };
    let rsvd = |v: u64| v & 0x0000_FFFF_FFFF_0000;
    key(ta) > key(tb) || (key(ta) == key(tb) && rsvd(a) > rsvd(b))
}

impl SnpFw {
    pub(crate) fn new(api: (u8, u8, u8), chip_seed: &[u8; 32], seed: Option<&[u8; 32]>) -> SnpFw {
        let mut chip_secret = Zeroizing::new([0u8; 48]);
        kdf(
            chip_seed,
            b"libsev-model-snp-chip-secret",
            &[],
            &mut chip_secret[..],
        );
        let rng_seed = seed.map(|s| {
            let mut k = [0u8; 32];
            kdf(s, b"libsev-model-snp-rng", &[], &mut k);
            k
        });
        let tcb = super::DEFAULT_TCB.to_u64_milan();
        SnpFw {
            api,
            chip_secret,
            fms: 0x00A0_0F11,
            smt: true,
            st: Mutex::new(SnpState {
                init: false,
                current_tcb: tcb,
                committed_tcb: tcb,
                config_tcb: 0,
                committed_version: api,
                mask_chip_id: false,
                mask_chip_key: false,
                vlek: None,
                guests: BTreeMap::new(),
                next: 1,
            }),
            rng: Mutex::new(ModelRng::new(rng_seed.as_ref())),
        }
    }

    pub(crate) fn rand<const N: usize>(&self) -> [u8; N] {
        lock(&self.rng).bytes()
    }

    fn guest(&self, gctx: u32) -> FwResult<Arc<Mutex<Gctx>>> {
        lock(&self.st)
            .guests
            .get(&gctx)
            .cloned()
            .ok_or(fw::INVALID_GUEST)
    }

    fn require_init(&self) -> FwResult<()> {
        if lock(&self.st).init {
            Ok(())
        } else {
            Err(fw::INVALID_PLATFORM_STATE)
        }
    }

    pub(crate) fn is_init(&self) -> bool {
        lock(&self.st).init
    }

    /// SNP_INIT: `legacy_uninit` is whether legacy SEV is UNINIT (SNP must come first).
    pub(crate) fn init(&self, legacy_uninit: bool) -> FwResult<()> {
        let mut s = lock(&self.st);
        if s.init || !legacy_uninit {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        s.init = true;
        Ok(())
    }

    /// The guest's launch digest.
    pub(crate) fn measurement(&self, gctx: u32) -> Option<Ld> {
        self.guest(gctx).ok().map(|g| lock(&g).ld)
    }

    pub(crate) fn guest_ctx(&self, gctx: u32) -> FwResult<Arc<Mutex<Gctx>>> {
        self.guest(gctx)
    }

    // ----- platform commands (§3.3) -----------------------------------------------------

    /// SNP_CONFIG: `reported_tcb` (0 = the committed TCB), mask bits; no state check.
    pub(crate) fn config(&self, reported_tcb: u64, flags: u32, rsvd_nonzero: bool) -> FwResult<()> {
        if flags & !3 != 0 || rsvd_nonzero {
            return Err(fw::INVALID_PARAM);
        }
        let mut s = lock(&self.st);
        if reported_tcb != 0 && tcb_greater(reported_tcb, s.committed_tcb) {
            return Err(fw::INVALID_PARAM);
        }
        s.config_tcb = reported_tcb;
        s.mask_chip_id = flags & 1 != 0;
        s.mask_chip_key = flags & 2 != 0;
        Ok(())
    }

    /// SNP_COMMIT: committed TCB and version := current; the config TCB is cleared.
    pub(crate) fn commit(&self, length: u32) -> FwResult<()> {
        if length != crate::uapi::snp::SNP_COMMIT_LENGTH {
            return Err(fw::INVALID_PARAM);
        }
        let mut s = lock(&self.st);
        s.committed_tcb = s.current_tcb;
        s.committed_version = self.api;
        s.config_tcb = 0;
        Ok(())
    }

    // ----- guest-context commands (§3.4) ------------------------------------------------

    /// SNP_GCTX_CREATE: a new context in state INIT; returns its number.
    pub(crate) fn gctx_create(&self) -> FwResult<u32> {
        let mut s = lock(&self.st);
        if !s.init {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let n = s.next;
        s.next = s.next.checked_add(1).ok_or(fw::RESOURCE_LIMIT)?;
        let g = Gctx {
            state: GState::Init,
            policy: 0,
            act: Activation::Inactive,
            vmpck: Zeroizing::new([[0; 32]; 4]),
            vmrk: Zeroizing::new([0; 32]),
            msg_count: [0; 4],
            launch_tcb: s.committed_tcb,
            report_id: [0; 32],
            report_id_ma: [0; 32],
            gosvw: [0; 16],
            imi_en: false,
            ld: [0; 48],
            host_data: [0; 32],
            id_block_en: false,
            id_block: [0; 96],
            id_key_digest: [0; 48],
            author_key_en: false,
            author_key_digest: [0; 48],
            vcek_dis: false,
        };
        s.guests.insert(n, Arc::new(Mutex::new(g)));
        Ok(n)
    }

    /// SNP_DECOMMISSION.
    pub(crate) fn decommission(&self, gctx: u32) -> FwResult<()> {
        let mut s = lock(&self.st);
        if !s.init {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        s.guests.remove(&gctx).map(|_| ()).ok_or(fw::INVALID_GUEST)
    }

    /// SNP_ACTIVATE (pending until LAUNCH_FINISH).
    pub(crate) fn activate(&self, gctx: u32, asid: u32) -> FwResult<()> {
        self.require_init()?;
        let g = self.guest(gctx)?;
        let mut g = lock(&g);
        if g.state == GState::Init {
            return Err(fw::INVALID_GUEST_STATE);
        }
        if asid == 0 {
            return Err(fw::INVALID_ASID);
        }
        if g.act != Activation::Inactive {
            return Err(fw::ACTIVE);
        }
        g.act = Activation::Pending(asid);
        Ok(())
    }

    /// SNP_LAUNCH_START (§3.5) as KVM issues it (no migration agent, no IMI).
    pub(crate) fn launch_start(
        &self,
        gctx: u32,
        pol: u64,
        gosvw: [u8; 16],
        tsc_khz: u32,
    ) -> FwResult<()> {
        self.require_init()?;
        let g = self.guest(gctx)?;
        let mut g = lock(&g);
        if g.state != GState::Init {
            return Err(fw::INVALID_GUEST_STATE);
        }
        let (maj, min) = (
            (pol >> policy::ABI_MAJOR_SHIFT) & 0xFF,
            pol & policy::ABI_MINOR_MASK,
        );
        let api = (self.api.0 as u64, self.api.1 as u64);
        if pol & policy::RSVD_MBO == 0
            || (pol & policy::SMT == 0 && self.smt)
            || maj > api.0
            || (maj == api.0 && min > api.1)
            || pol >> 21 != 0
        {
            return Err(fw::POLICY_FAILURE);
        }
        g.policy = pol;
        for k in g.vmpck.iter_mut() {
            *k = self.rand();
        }
        *g.vmrk = self.rand();
        g.report_id = self.rand();
        g.report_id_ma = [0xFF; 32];
        g.gosvw = gosvw;
        let _ = tsc_khz;
        g.ld = [0; 48];
        g.state = GState::Launch;
        Ok(())
    }

    /// SNP_LAUNCH_UPDATE (§3.6) of one 4 KiB page (`page.data` holds the plaintext KVM
    /// copied in). On a CPUID validation failure the corrected table is left in `page.data`
    /// (the firmware writes it back unencrypted) and the LD and RMP entry are unchanged.
    pub(crate) fn launch_update(
        &self,
        gctx: u32,
        page: &mut PrivPage,
        ptype: u8,
        contents: Option<&Ld>,
    ) -> FwResult<()> {
        self.require_init()?;
        let g = self.guest(gctx)?;
        let Rmp::PreGuest { asid, gpa } = page.rmp else {
            return Err(st::INVALID_PAGE_STATE);
        };
        if !matches!(ptype, 1..=6) {
            return Err(fw::INVALID_PARAM);
        }
        let mut g = lock(&g);
        if g.state != GState::Launch {
            return Err(fw::INVALID_GUEST_STATE);
        }
        let gasid = match g.act {
            Activation::Inactive => return Err(fw::INACTIVE),
            Activation::Pending(a) | Activation::Active(a) => a,
        };
        if gasid != asid {
            return Err(st::INVALID_PAGE_OWNER);
        }
        let d = &mut page.data[..];
        match ptype {
            page_type::ZERO => d.fill(0),
            page_type::SECRETS => self.fill_secrets(&g, d),
            page_type::CPUID => super::cpuid::validate(d)?,
            _ => {}
        }
        let c = match contents {
            Some(c) => *c,
            None => page_contents(ptype, d),
        };
        g.ld = update_with_contents(&g.ld, &c, ptype, [0; 3], gpa);
        if ptype == page_type::VMSA {
            d[0x380..0x388].fill(0);
            d[0x388..0x390].copy_from_slice(&u64::MAX.to_le_bytes());
        }
        page.rmp = Rmp::GuestValid {
            asid,
            vmsa: ptype == page_type::VMSA,
        };
        Ok(())
    }

    fn fill_secrets(&self, g: &Gctx, d: &mut [u8]) {
        d.fill(0);
        d[secrets::VERSION..secrets::VERSION + 4].copy_from_slice(&3u32.to_le_bytes());
        d[secrets::IMI_EN] = g.imi_en as u8;
        d[secrets::FMS..secrets::FMS + 4].copy_from_slice(&self.fms.to_le_bytes());
        d[secrets::GOSVW..secrets::GOSVW + 16].copy_from_slice(&g.gosvw);
        for (i, k) in g.vmpck.iter().enumerate() {
            let o = secrets::VMPCK0 + i * secrets::VMPCK_LEN;
            d[o..o + 32].copy_from_slice(k);
        }
        d[secrets::TSC_FACTOR..secrets::TSC_FACTOR + 4].copy_from_slice(&200u32.to_le_bytes());
    }

    /// SNP_LAUNCH_FINISH (§3.7). `id` = (ID block, ID auth page, auth_key_en) when
    /// `id_block_en`.
    pub(crate) fn launch_finish(
        &self,
        gctx: u32,
        id: Option<(&[u8; snp_sizes::ID_BLOCK], &[u8; snp_sizes::ID_AUTH], bool)>,
        vcek_dis: bool,
        host_data: [u8; 32],
    ) -> FwResult<()> {
        self.require_init()?;
        let g = self.guest(gctx)?;
        let mut g = lock(&g);
        if g.state != GState::Launch || g.imi_en {
            return Err(fw::INVALID_GUEST_STATE);
        }
        let asid = match g.act {
            Activation::Inactive => return Err(fw::INACTIVE),
            Activation::Pending(a) | Activation::Active(a) => a,
        };
        let mut auth_en = false;
        if let Some((block, auth, auth_key_en)) = id {
            let v = super::idblock::verify(block, auth, auth_key_en, &g.ld, g.policy)?;
            g.id_block.copy_from_slice(block);
            g.id_key_digest = v.id_key_digest;
            g.author_key_digest = v.author_key_digest;
            g.id_block_en = true;
            auth_en = auth_key_en;
        }
        g.author_key_en = auth_en;
        g.host_data = host_data;
        g.vcek_dis = vcek_dis;
        g.act = Activation::Active(asid);
        g.state = GState::Running;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcb_order_is_lexicographic_with_bootloader_first() {
        let t = |bl, tee, snp, uc| {
            TcbVersion {
                fmc: 0,
                bootloader: bl,
                tee,
                snp,
                microcode: uc,
            }
            .to_u64_milan()
        };
        assert!(tcb_greater(t(4, 0, 0, 0), t(3, 9, 9, 0xFF)));
        assert!(!tcb_greater(t(3, 0, 8, 0x73), t(3, 0, 8, 0x73)));
        assert!(tcb_greater(t(3, 0, 8, 0x74), t(3, 0, 8, 0x73)));
        assert!(tcb_greater(t(3, 0, 8, 0x73) | 1 << 16, t(3, 0, 8, 0x73)));
    }
}
