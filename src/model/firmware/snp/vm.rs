//! KVM's SNP VM (`KVM_X86_SNP_VM`) on the model: `KVM_SEV_INIT2`, `KVM_SEV_SNP_LAUNCH_START`
//! / `_UPDATE` / `_FINISH` with KVM's checks in KVM's order (`sev-spec` SNP §2.1–§2.6),
//! guest_memfd population (`kvm_gmem_populate`) including its partial progress, and the
//! per-vCPU VMSA launch inside LAUNCH_FINISH.
//!
//! Model choices: the VM's guest_memfd covers every GFN below 2^40 and is private (the
//! memory attributes a VMM sets with `KVM_SET_MEMORY_ATTRIBUTES` are taken as set); a GFN
//! beyond has no private-capable memslot (`EINVAL`). A model VM has no vCPUs of its own: the
//! VMM hands in each vCPU's VMSA page, as KVM's `sev_es_sync_vmsa` would build it from the
//! vCPU's registers ([`SnpVm::set_vcpu_vmsa`]); KVM's SEV_FEATURES (`vmsa_features |
//! SNPActive`) is written at 0x3B0.

use super::fw::{PrivPage, Rmp};
use super::measure::{Ld, page_contents};
use crate::model::firmware::lock;
use crate::model::kernel::platform::ModelPlatform;
use crate::model::kernel::uaccess::{
    Fail, accessible, copy_from_user, copy_to_user, issued, read_struct, write_struct,
};
use crate::transport::{Errno, PlatformTransport, VmTransport};
use crate::uapi::snp::{
    INITIAL_VMSA_GPA, kvm_sev_snp_launch_finish, kvm_sev_snp_launch_start,
    kvm_sev_snp_launch_update, kvm_snp_cmd, page_type, policy, snp_sizes,
};
use crate::uapi::{kvm_cmd, kvm_enc_region, kvm_sev_cmd, kvm_sev_init};
use std::collections::{BTreeMap, HashMap};
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

/// GFNs of the model's guest_memfd: `[0, 2^40)`.
pub(crate) const GFN_LIMIT: u64 = 1 << 40;
/// VMSA features the model's KVM supports (`KVM_X86_SEV_VMSA_FEATURES`): DebugSwap.
pub const SUPPORTED_VMSA_FEATURES: u64 = 1 << 5;
/// SEV_FEATURES.SNPActive.
const SNP_ACTIVE: u64 = 1;

/// Pages whose CONTENTS are hashed together (on several cores) before they are launched.
const HASH_BATCH: u64 = 512;

/// A source page copied into private memory, with its CONTENTS hash (SHA-384).
type Prepared = (Box<[u8; 4096]>, Ld);

/// Copy a 4 KiB source page into private memory and hash the copy: what is measured is
/// exactly what the guest gets, even if the caller changes its buffer meanwhile.
fn prepare(pg: &[u8]) -> Prepared {
    let src: &[u8; 4096] = pg.try_into().expect("a whole page");
    let mut b = Box::<[u8; 4096]>::new_uninit();
    // No zeroing first: the copy initialises every byte.
    b.write(*src);
    // SAFETY: written just above.
    let b = unsafe { b.assume_init() };
    let h = page_contents(page_type::NORMAL, &b[..]);
    (b, h)
}

/// The private pages one model guest may hold: half of this machine's memory (guest_memfd
/// memory is the host's), at least 1 GiB.
fn private_page_limit() -> u64 {
    static L: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *L.get_or_init(|| {
        // SAFETY: sysconf only reads a system value.
        let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
        // SAFETY: as above.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let bytes = (pages.max(0) as u64).saturating_mul(size.max(0) as u64);
        (bytes / 2 / 4096).max(1 << 18)
    })
}

/// Threads that prepare NORMAL pages (at most four).
fn producers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
}

#[derive(Default)]
struct KState {
    inited: bool,
    vmsa_features: u64,
    asid: u32,
    gctx: Option<u32>,
    /// The `/dev/sev` fd stored at LAUNCH_START.
    fd: Option<RawFd>,
    /// guest_memfd: private pages by GFN, each with its RMP state.
    mem: HashMap<u64, PrivPage>,
    /// vCPU index → its VMSA (as KVM syncs it), launched at LAUNCH_FINISH.
    vcpus: BTreeMap<u32, Box<[u8; 4096]>>,
    /// The launched (encrypted, guest-owned) VMSA pages.
    vmsas: Vec<PrivPage>,
    protected: bool,
    /// GPA of the SECRETS page (for the model guest's side of guest messages).
    secrets_gpa: Option<u64>,
    /// The guest's next message sequence number per VMPCK (the guest OS keeps it).
    guest_seqno: [u64; 4],
}

/// One SNP VM of the model. Thread safety: any thread may call; commands on one VM are
/// serialised (KVM's `kvm->lock`).
pub struct SnpVm {
    platform: Arc<ModelPlatform>,
    vm_fd: RawFd,
    k: Mutex<KState>,
}

impl std::fmt::Debug for SnpVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnpVm")
            .field("vm_fd", &self.vm_fd)
            .finish_non_exhaustive()
    }
}

type KResult = Result<(), Fail>;

impl SnpVm {
    pub(crate) fn new(platform: Arc<ModelPlatform>, vm_fd: RawFd) -> SnpVm {
        SnpVm {
            platform,
            vm_fd,
            k: Mutex::new(KState::default()),
        }
    }

    pub(crate) fn gctx(&self) -> Option<u32> {
        lock(&self.k).gctx
    }

    /// Set vCPU `index`'s VMSA (what KVM builds from the vCPU's registers). Allowed after
    /// `KVM_SEV_INIT2` and before LAUNCH_FINISH protected the state: `EINVAL` otherwise
    /// (KVM refuses register writes to a protected vCPU).
    pub fn set_vcpu_vmsa(&self, index: u32, vmsa: &[u8; 4096]) -> Result<(), Errno> {
        let mut k = lock(&self.k);
        if !k.inited || k.protected {
            return Err(libc::EINVAL);
        }
        k.vcpus.insert(index, Box::new(*vmsa));
        Ok(())
    }

    /// The guest's view of its private page at `gpa` (what the guest reads inside its own
    /// encrypted memory: the secrets page, a corrected CPUID page, ...). A testing aid of the
    /// model; the host has no such access on hardware.
    pub fn guest_read_page(&self, gpa: u64) -> Option<[u8; 4096]> {
        let k = lock(&self.k);
        let p = k.mem.get(&(gpa >> 12))?;
        matches!(p.rmp, Rmp::GuestValid { .. }).then(|| *p.data)
    }

    /// Number of private pages the guest owns.
    pub fn private_pages(&self) -> usize {
        lock(&self.k).mem.len()
    }

    /// KVM's guest request (`snp_handle_guest_req`): the guest's request page goes to the
    /// firmware's SNP_GUEST_REQUEST; `Ok(response page)` or `Err(firmware status)` (what the
    /// guest sees in `exit_info_2`).
    pub fn guest_request(&self, req: &[u8; 4096]) -> Result<Vec<u8>, u32> {
        let k = lock(&self.k);
        let Some(g) = k.gctx else {
            return Err(crate::status::fw::INVALID_GUEST);
        };
        drop(k);
        let chip = self.platform.chip_id();
        self.platform.snp.guest_request(g, req, &chip)
    }

    /// One guest message as a guest OS sends it: VMPCK `vmpck` from its secrets page, its own
    /// sequence number, `payload` sealed as `msg_type` and sent through
    /// [`SnpVm::guest_request`], the response opened and checked (type `msg_type + 1`, the
    /// next sequence number, the same VMPCK). `Ok(response payload)`; `Err(firmware status)`
    /// when the command failed, `Err(INVALID_PARAM)` without a secrets page and
    /// `Err(BAD_MEASUREMENT)` for a response that does not authenticate or match.
    fn guest_message(
        &self,
        msg_type: u8,
        vmpck: u8,
        payload: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, u32> {
        use super::guestmsg::{open, seal};
        use crate::status::fw;
        let (key, seqno) = {
            let k = lock(&self.k);
            let gpa = k.secrets_gpa.ok_or(fw::INVALID_PARAM)?;
            let page = k.mem.get(&(gpa >> 12)).ok_or(fw::INVALID_PARAM)?;
            let o = crate::uapi::snp::secrets::VMPCK0 + 32 * (vmpck as usize & 3);
            let key: [u8; 32] = page.data[o..o + 32].try_into().unwrap();
            (
                zeroize::Zeroizing::new(key),
                k.guest_seqno[vmpck as usize & 3] + 1,
            )
        };
        let msg = seal(&key, seqno, msg_type, vmpck, payload);
        let mut req = [0u8; 4096];
        req[..msg.len()].copy_from_slice(&msg);
        let rsp = self.guest_request(&req)?;
        lock(&self.k).guest_seqno[vmpck as usize & 3] = seqno + 1;
        let body = zeroize::Zeroizing::new(open(&key, &rsp).ok_or(fw::BAD_MEASUREMENT)?);
        let rsp_seqno = u64::from_le_bytes(rsp[0x20..0x28].try_into().unwrap());
        if rsp[0x34] != msg_type.wrapping_add(1) || rsp_seqno != seqno + 1 || rsp[0x3C] != vmpck {
            return Err(fw::BAD_MEASUREMENT);
        }
        Ok(body)
    }

    /// The guest's side of MSG_REPORT_REQ, as a guest OS does it: VMPCK `vmpck` from its
    /// secrets page, its own sequence number, the request through [`SnpVm::guest_request`],
    /// the response decrypted. `Ok((status, report))`: the response's STATUS and report
    /// (0x4A0 bytes); `Err(firmware status)` when the command itself failed.
    pub fn guest_report(
        &self,
        report_data: &[u8; 64],
        vmpl: u32,
        vmpck: u8,
        key_sel: u32,
    ) -> Result<(u32, Vec<u8>), u32> {
        let mut p = [0u8; 0x60];
        p[..64].copy_from_slice(report_data);
        p[0x40..0x44].copy_from_slice(&vmpl.to_le_bytes());
        p[0x44..0x48].copy_from_slice(&key_sel.to_le_bytes());
        let body = self.guest_message(super::guestmsg::MSG_REPORT_REQ, vmpck, &p)?;
        if body.len() < super::guestmsg::REPORT_RSP_LEN {
            return Err(crate::status::fw::BAD_MEASUREMENT);
        }
        let status = u32::from_le_bytes(body[..4].try_into().unwrap());
        Ok((status, body[0x20..].to_vec()))
    }

    /// The guest's side of MSG_KEY_REQ (`sev-spec` SNP §4.3), as [`SnpVm::guest_report`]:
    /// `root_key_select` is the request's first word (bit 0 ROOT_KEY_SELECT = VMRK, bits 1–2
    /// KEY_SEL, see [`super::guestmsg::key_select`]), `gfs` its GUEST_FIELD_SELECT
    /// ([`super::guestmsg::gfs`]), then VMPL, GUEST_SVN and TCB_VERSION. `Ok((status, key))`:
    /// the response's STATUS and the derived key (zero on a refusal); `Err(firmware status)`
    /// when the command itself failed.
    pub fn guest_key(
        &self,
        root_key_select: u32,
        gfs: u64,
        vmpl: u32,
        guest_svn: u32,
        tcb: u64,
        vmpck: u8,
    ) -> Result<(u32, [u8; 32]), u32> {
        use super::guestmsg::{KEY_REQ_LEN, KEY_RSP_LEN, MSG_KEY_REQ};
        let mut p = [0u8; KEY_REQ_LEN];
        p[0x00..0x04].copy_from_slice(&root_key_select.to_le_bytes());
        p[0x08..0x10].copy_from_slice(&gfs.to_le_bytes());
        p[0x10..0x14].copy_from_slice(&vmpl.to_le_bytes());
        p[0x14..0x18].copy_from_slice(&guest_svn.to_le_bytes());
        p[0x18..0x20].copy_from_slice(&tcb.to_le_bytes());
        let body = self.guest_message(MSG_KEY_REQ, vmpck, &p)?;
        if body.len() < KEY_RSP_LEN {
            return Err(crate::status::fw::BAD_MEASUREMENT);
        }
        let status = u32::from_le_bytes(body[..4].try_into().unwrap());
        Ok((status, body[0x20..0x40].try_into().unwrap()))
    }

    fn init2(&self, k: &mut KState, cmd: &mut kvm_sev_cmd) -> KResult {
        let init: kvm_sev_init = read_struct(cmd.data)?;
        if k.inited || init.flags != 0 || init.vmsa_features & !SUPPORTED_VMSA_FEATURES != 0 {
            return Err(Fail::Os(libc::EINVAL));
        }
        if init.ghcb_version > 2 || !k.vcpus.is_empty() {
            return Err(Fail::Os(libc::EINVAL));
        }
        let asid = self.platform.asid_new(true)?;
        if let Err(e) = self.platform.platform_init(&mut cmd.error) {
            self.platform.asid_free(asid);
            return Err(e);
        }
        k.asid = asid;
        k.vmsa_features = init.vmsa_features | SNP_ACTIVE;
        k.inited = true;
        Ok(())
    }

    fn launch_start(&self, k: &mut KState, cmd: &mut kvm_sev_cmd) -> KResult {
        let p: kvm_sev_snp_launch_start = read_struct(cmd.data)?;
        if k.gctx.is_some() || p.flags != 0 {
            return Err(Fail::Os(libc::EINVAL));
        }
        if p.policy & !policy::KVM_VALID != 0 || p.policy & policy::RSVD_MBO == 0 {
            return Err(Fail::Os(libc::EINVAL));
        }
        if cmd.sev_fd as RawFd != self.platform.sev_fd() {
            return Err(Fail::Os(libc::EBADF));
        }
        let fw = &self.platform.snp;
        let gctx = match fw.gctx_create() {
            Ok(g) => g,
            Err(s) => {
                cmd.error = s;
                return Err(Fail::Os(libc::ENOTTY));
            }
        };
        let r = issued(&mut cmd.error, fw.launch_start(gctx, p.policy, p.gosvw, 0))
            .and_then(|_| issued(&mut cmd.error, fw.activate(gctx, k.asid)));
        if let Err(e) = r {
            let _ = fw.decommission(gctx);
            return Err(e);
        }
        k.gctx = Some(gctx);
        k.fd = Some(cmd.sev_fd as RawFd);
        Ok(())
    }

    fn launch_update(&self, k: &mut KState, cmd: &mut kvm_sev_cmd) -> KResult {
        let Some(gctx) = k.gctx else {
            return Err(Fail::Os(libc::EINVAL));
        };
        let mut p: kvm_sev_snp_launch_update = read_struct(cmd.data)?;
        if p.len % 4096 != 0 || p.flags != 0 || !matches!(p.type_, 1 | 3 | 4 | 5 | 6) {
            return Err(Fail::Os(libc::EINVAL));
        }
        if p.gfn_start >= GFN_LIMIT {
            return Err(Fail::Os(libc::EINVAL));
        }
        if cmd.sev_fd as RawFd != self.platform.sev_fd() {
            return Err(Fail::Os(libc::EBADF));
        }
        // kvm_gmem_populate clamps to the end of the memslot.
        let npages = (p.len / 4096).min(GFN_LIMIT - p.gfn_start);
        let ptype = p.type_;
        let zero = ptype == page_type::ZERO;
        // guest_memfd cannot grow beyond the memory the model may hold: refuse before
        // allocating anything (KVM's populate fails with EIO when it cannot allocate a page).
        if k.mem.len() as u64 + npages > private_page_limit() {
            return Err(Fail::Os(libc::EIO));
        }
        // The source must be readable; an unreadable page stops the copy there, as KVM's
        // copy_from_user does. (A refused CPUID page is written back only where writable.)
        let all_mapped = zero
            || npages
                .checked_mul(4096)
                .is_some_and(|n| accessible(p.uaddr, n, false));
        let mut count = 0u64;
        let mut fw_error = 0u32;
        let mut failed = false;
        // NORMAL pages are copied and their CONTENTS hashed a batch at a time on several
        // cores by a producer thread, while this thread chains (PAGE_INFO) and launches the
        // previous batch's pages in order. Each page is read once, hashed once and its
        // PAGE_INFO hashed once. Leaving the loop early drops the receiver, which stops the
        // producer; the scope joins it before the command returns.
        let pipelined = ptype == page_type::NORMAL && all_mapped;
        let base = p.uaddr;
        std::thread::scope(|sc| {
            // One producer per core, each preparing every `workers`-th batch into its own
            // channel; batches are taken round-robin, so in order.
            let workers = if pipelined { producers() } else { 0 };
            let mut rxs = Vec::with_capacity(workers);
            for w in 0..workers {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(1);
                rxs.push(rx);
                sc.spawn(move || {
                    let mut c = w as u64 * HASH_BATCH;
                    while c < npages {
                        let batch = (npages - c).min(HASH_BATCH);
                        let src = base.wrapping_add(c * 4096);
                        // SAFETY: the whole range is mapped memory of this process (checked
                        // above) that the caller passed as LAUNCH_UPDATE source data for the
                        // duration of the command (transport contract); the scope ends before
                        // the command returns.
                        let s = unsafe {
                            std::slice::from_raw_parts(
                                src as usize as *const u8,
                                batch as usize * 4096,
                            )
                        };
                        if tx.send(s.chunks(4096).map(prepare).collect()).is_err() {
                            break;
                        }
                        c += workers as u64 * HASH_BATCH;
                    }
                });
            }
            let mut turn = 0usize;
            'outer: while count < npages {
                let batch = (npages - count).min(HASH_BATCH);
                let prepared = match rxs.get(turn % workers.max(1)) {
                    Some(rx) => rx.recv().unwrap_or_default(),
                    None => Vec::new(),
                };
                turn += 1;
                let mut ready = prepared.into_iter();
                for _ in 0..batch {
                    let gfn = p.gfn_start + count;
                    if k.mem.contains_key(&gfn) {
                        failed = true; // -EEXIST: already populated
                        break 'outer;
                    }
                    let (data, c) = if let Some((b, h)) = ready.next() {
                        (b, Some(h))
                    } else if zero {
                        (Box::new([0u8; 4096]), None)
                    } else {
                        let src = p.uaddr.wrapping_add(count * 4096);
                        if !all_mapped && (src == 0 || !accessible(src, 4096, false)) {
                            failed = true; // -EFAULT from the copy
                            break 'outer;
                        }
                        // SAFETY: the source page is mapped memory of this process (checked
                        // above, for the whole range or this page) that the caller passed as
                        // LAUNCH_UPDATE source data (the transport's contract).
                        let s = unsafe { &*(src as usize as *const [u8; 4096]) };
                        (Box::new(*s), None)
                    };
                    let mut page = PrivPage {
                        data,
                        rmp: Rmp::PreGuest {
                            asid: k.asid,
                            gpa: gfn << 12,
                        },
                    };
                    match issued(
                        &mut cmd.error,
                        self.platform
                            .snp
                            .launch_update(gctx, &mut page, ptype, c.as_ref()),
                    ) {
                        Ok(()) => {
                            if ptype == page_type::SECRETS {
                                k.secrets_gpa = Some(gfn << 12);
                            }
                            k.mem.insert(gfn, page);
                            count += 1;
                        }
                        Err(_) => {
                            fw_error = cmd.error;
                            if ptype == page_type::CPUID
                                && fw_error == crate::status::fw::INVALID_PARAM
                            {
                                // KVM copies the firmware-corrected page to the user's source page.
                                let _ = copy_to_user(
                                    p.uaddr.wrapping_add(count * 4096),
                                    &page.data[..],
                                );
                            }
                            failed = true;
                            break 'outer;
                        }
                    }
                }
            }
        });
        if failed && count == 0 {
            cmd.error = fw_error;
            return Err(Fail::Os(libc::EIO));
        }
        p.gfn_start += count;
        p.len -= count * 4096;
        if !zero {
            p.uaddr = p.uaddr.wrapping_add(count * 4096);
        }
        write_struct(cmd.data, &p)?;
        Ok(())
    }

    fn launch_finish(&self, k: &mut KState, cmd: &mut kvm_sev_cmd) -> KResult {
        let Some(gctx) = k.gctx else {
            return Err(Fail::Os(libc::EINVAL));
        };
        let p: kvm_sev_snp_launch_finish = read_struct(cmd.data)?;
        if p.flags != 0 {
            return Err(Fail::Os(libc::EINVAL));
        }
        if cmd.sev_fd as RawFd != self.platform.sev_fd() {
            return Err(Fail::Os(libc::EBADF));
        }
        // snp_launch_update_vmsa: every vCPU in index order.
        let vcpus: Vec<Box<[u8; 4096]>> = k.vcpus.values().cloned().collect();
        for v in vcpus {
            let mut page = PrivPage {
                data: v,
                rmp: Rmp::PreGuest {
                    asid: k.asid,
                    gpa: INITIAL_VMSA_GPA,
                },
            };
            page.data[0x3B0..0x3B8].copy_from_slice(&k.vmsa_features.to_le_bytes());
            issued(
                &mut cmd.error,
                self.platform
                    .snp
                    .launch_update(gctx, &mut page, page_type::VMSA, None),
            )?;
            k.vmsas.push(page);
            k.protected = true;
        }
        let id = if p.id_block_en != 0 {
            let copy = |addr: u64, len: usize| -> Result<Vec<u8>, Errno> {
                if addr == 0 {
                    return Err(libc::EINVAL);
                }
                copy_from_user(addr, len)
            };
            let block: [u8; snp_sizes::ID_BLOCK] = copy(p.id_block_uaddr, snp_sizes::ID_BLOCK)?
                .try_into()
                .unwrap();
            let auth: [u8; snp_sizes::ID_AUTH] = copy(p.id_auth_uaddr, snp_sizes::ID_AUTH)?
                .try_into()
                .unwrap();
            Some((block, auth, p.auth_key_en != 0))
        } else {
            None
        };
        if k.fd != Some(self.platform.sev_fd()) {
            return Err(Fail::Os(libc::EBADF));
        }
        issued(
            &mut cmd.error,
            self.platform.snp.launch_finish(
                gctx,
                id.as_ref().map(|(b, a, e)| (b, a, *e)),
                p.vcek_disabled != 0,
                p.host_data,
            ),
        )?;
        k.protected = true;
        Ok(())
    }

    fn dispatch(&self, k: &mut KState, cmd: &mut kvm_sev_cmd) -> KResult {
        if k.inited && cmd.id < 100 {
            return Err(Fail::Os(libc::EPERM));
        }
        match cmd.id {
            kvm_cmd::INIT2 => self.init2(k, cmd),
            // Legacy INIT flavours need a KVM_X86_DEFAULT_VM.
            kvm_cmd::INIT | kvm_cmd::ES_INIT => Err(Fail::Os(libc::EINVAL)),
            _ if !k.inited => Err(Fail::Os(libc::ENOTTY)),
            kvm_snp_cmd::LAUNCH_START => self.launch_start(k, cmd),
            kvm_snp_cmd::LAUNCH_UPDATE => self.launch_update(k, cmd),
            kvm_snp_cmd::LAUNCH_FINISH => self.launch_finish(k, cmd),
            _ => Err(Fail::Os(libc::EINVAL)),
        }
    }
}

impl VmTransport for SnpVm {
    unsafe fn encrypt_op(&self, cmd: &mut kvm_sev_cmd) -> Result<(), Errno> {
        let mut k = lock(&self.k);
        self.dispatch(&mut k, cmd).map_err(Fail::errno)
    }

    unsafe fn register_region(&self, _region: &kvm_enc_region) -> Result<(), Errno> {
        // KVM refuses region registration for SNP VMs (memory comes from guest_memfd).
        Err(libc::EINVAL)
    }

    fn unregister_region(&self, _region: &kvm_enc_region) -> Result<(), Errno> {
        Err(libc::EINVAL)
    }

    fn vm_fd(&self) -> RawFd {
        self.vm_fd
    }

    fn model_snp(&self) -> Option<&SnpVm> {
        Some(self)
    }
}

impl Drop for SnpVm {
    /// `sev_vm_destroy`: SNP_DECOMMISSION, private pages freed (zeroized), the ASID back.
    fn drop(&mut self) {
        let mut k = std::mem::take(&mut *lock(&self.k));
        if let Some(g) = k.gctx {
            let _ = self.platform.snp.decommission(g);
        }
        for p in k.mem.values_mut().chain(k.vmsas.iter_mut()) {
            zeroize::Zeroize::zeroize(&mut p.data[..]);
        }
        if k.inited {
            self.platform.asid_free(k.asid);
        }
    }
}
