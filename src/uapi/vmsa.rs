//! The SEV-ES VMSA (`struct sev_es_save_area`) and what KVM writes into it.
//!
//! * [`off`]: every field offset of the 4 KiB page, one table (the kernel's `svm.h` layout; the
//!   firmware-only names at 0x300 and 0x380/0x388 are noted there).
//! * [`VcpuState`]: a vCPU's register state as user space sees it through `KVM_GET_REGS`,
//!   `KVM_GET_SREGS`, `KVM_GET_FPU`, `KVM_GET_XCRS` and `KVM_GET_MSRS`.
//! * [`build_vmsa`]: the page KVM's `sev_es_sync_vmsa` builds from that state, for a VM made
//!   with `KVM_SEV_ES_INIT` (no FPU state) or `KVM_SEV_INIT2` (x87/SSE/AVX state copied,
//!   `vmsa_features`). It applies the adjustments SVM's `set_cr0`/`set_cr4`/`set_efer`/
//!   `set_segment` make when the state is loaded into the VMCB.
//! * [`reset_state`]: the reset register state a VMM gives each vCPU before
//!   `LAUNCH_UPDATE_VMSA` (QEMU, EC2, GCE profiles; the BSP at the architectural reset vector,
//!   the APs at OVMF's SEV-ES reset block), and [`signature_for_cpu_model`] for RDX.
//!
//! Everything here is pure: no ioctl, no allocation beyond the returned page.

/// Size of a VMSA page.
pub const VMSA_SIZE: usize = 4096;
/// Bytes of the page the kernel structure describes; the rest is zero.
pub const VMSA_KERNEL_STRUCT_SIZE: usize = 0x670;
/// Size of the legacy `struct vmcb_save_area` KVM copies over the start of the VMSA.
pub const VMCB_SAVE_AREA_SIZE: usize = 0x2E8;

/// Offsets of the VMSA's fields (all little-endian).
pub mod off {
    /// 16-byte segment records (`vmcb_seg`: selector u16, attrib u16, limit u32, base u64).
    pub const ES: usize = 0x000;
    pub const CS: usize = 0x010;
    pub const SS: usize = 0x020;
    pub const DS: usize = 0x030;
    pub const FS: usize = 0x040;
    pub const GS: usize = 0x050;
    pub const GDTR: usize = 0x060;
    pub const LDTR: usize = 0x070;
    pub const IDTR: usize = 0x080;
    pub const TR: usize = 0x090;
    /// u64 each: CET shadow-stack pointers.
    pub const PL0_SSP: usize = 0x0A0;
    pub const PL1_SSP: usize = 0x0A8;
    pub const PL2_SSP: usize = 0x0B0;
    pub const PL3_SSP: usize = 0x0B8;
    pub const U_CET: usize = 0x0C0;
    /// u8: the VMPL of this VMSA (SNP).
    pub const VMPL: usize = 0x0CA;
    /// u8.
    pub const CPL: usize = 0x0CB;
    pub const EFER: usize = 0x0D0;
    pub const XSS: usize = 0x140;
    pub const CR4: usize = 0x148;
    pub const CR3: usize = 0x150;
    pub const CR0: usize = 0x158;
    pub const DR7: usize = 0x160;
    pub const DR6: usize = 0x168;
    pub const RFLAGS: usize = 0x170;
    pub const RIP: usize = 0x178;
    pub const DR0: usize = 0x180;
    pub const DR1: usize = 0x188;
    pub const DR2: usize = 0x190;
    pub const DR3: usize = 0x198;
    pub const DR0_ADDR_MASK: usize = 0x1A0;
    pub const RSP: usize = 0x1D8;
    pub const S_CET: usize = 0x1E0;
    pub const SSP: usize = 0x1E8;
    pub const ISST_ADDR: usize = 0x1F0;
    pub const RAX: usize = 0x1F8;
    pub const STAR: usize = 0x200;
    pub const LSTAR: usize = 0x208;
    pub const CSTAR: usize = 0x210;
    pub const SFMASK: usize = 0x218;
    pub const KERNEL_GS_BASE: usize = 0x220;
    pub const SYSENTER_CS: usize = 0x228;
    pub const SYSENTER_ESP: usize = 0x230;
    pub const SYSENTER_EIP: usize = 0x238;
    pub const CR2: usize = 0x240;
    pub const G_PAT: usize = 0x268;
    pub const DBGCTL: usize = 0x270;
    pub const BR_FROM: usize = 0x278;
    pub const BR_TO: usize = 0x280;
    pub const LAST_EXCP_FROM: usize = 0x288;
    pub const LAST_EXCP_TO: usize = 0x290;
    /// u32.
    pub const PKRU: usize = 0x2E8;
    /// u32.
    pub const TSC_AUX: usize = 0x2EC;
    /// GUEST_TSC_SCALE (SNP; the firmware measures SNP VMSAs with this and the next zeroed).
    pub const TSC_SCALE: usize = 0x2F0;
    pub const TSC_OFFSET: usize = 0x2F8;
    /// Reserved in the kernel; the firmware's REG_PROT_NONCE (SNP VmsaRegProt).
    pub const REG_PROT_NONCE: usize = 0x300;
    pub const RCX: usize = 0x308;
    pub const RDX: usize = 0x310;
    pub const RBX: usize = 0x318;
    pub const RBP: usize = 0x328;
    pub const RSI: usize = 0x330;
    pub const RDI: usize = 0x338;
    /// r8 … r15, 8 bytes apart.
    pub const R8: usize = 0x340;
    /// Reserved in the kernel; the firmware writes 0 here (`zeros`) in LAUNCH_UPDATE_VMSA.
    pub const FW_ZEROS: usize = 0x380;
    /// Reserved in the kernel; the firmware writes the TMR address of the VMSA's checksum here.
    pub const FW_CRC_PADDR: usize = 0x388;
    pub const GUEST_EXIT_INFO_1: usize = 0x390;
    pub const GUEST_EXIT_INFO_2: usize = 0x398;
    pub const GUEST_EXIT_INT_INFO: usize = 0x3A0;
    pub const GUEST_NRIP: usize = 0x3A8;
    pub const SEV_FEATURES: usize = 0x3B0;
    pub const VINTR_CTRL: usize = 0x3B8;
    pub const GUEST_EXIT_CODE: usize = 0x3C0;
    pub const VIRTUAL_TOM: usize = 0x3C8;
    pub const TLB_ID: usize = 0x3D0;
    pub const PCPU_ID: usize = 0x3D8;
    pub const EVENT_INJ: usize = 0x3E0;
    pub const XCR0: usize = 0x3E8;
    pub const X87_DP: usize = 0x400;
    /// u32.
    pub const MXCSR: usize = 0x408;
    /// u16 each.
    pub const X87_FTW: usize = 0x40C;
    pub const X87_FSW: usize = 0x40E;
    pub const X87_FCW: usize = 0x410;
    pub const X87_FOP: usize = 0x412;
    pub const X87_DS: usize = 0x414;
    pub const X87_CS: usize = 0x416;
    pub const X87_RIP: usize = 0x418;
    /// 80 bytes: the low 8 bytes of ST0…ST7, then their high 2 bytes.
    pub const FPREG_X87: usize = 0x420;
    /// 256 bytes: XMM0…XMM15.
    pub const FPREG_XMM: usize = 0x470;
    /// 256 bytes: the upper halves of YMM0…YMM15.
    pub const FPREG_YMM: usize = 0x570;
}

/// SEV_FEATURES bits (VMSA offset 0x3B0; `SVM_SEV_FEAT_*`).
pub mod sev_features {
    pub const SNP_ACTIVE: u64 = 1 << 0;
    pub const VTOM: u64 = 1 << 1;
    pub const REFLECT_VC: u64 = 1 << 2;
    pub const RESTRICTED_INJECTION: u64 = 1 << 3;
    pub const ALTERNATE_INJECTION: u64 = 1 << 4;
    pub const DEBUG_SWAP: u64 = 1 << 5;
    pub const PREVENT_HOST_IBS: u64 = 1 << 6;
    pub const BTB_ISOLATION: u64 = 1 << 7;
    pub const VMPL_SSS: u64 = 1 << 8;
    pub const SECURE_TSC: u64 = 1 << 9;
    pub const VMGEXIT_PARAMETER: u64 = 1 << 10;
    pub const IBS_VIRTUALIZATION: u64 = 1 << 12;
    pub const VMSA_REG_PROT: u64 = 1 << 14;
    pub const SMT_PROTECTION: u64 = 1 << 15;
}

/// A segment register as `KVM_GET_SREGS` reports it (`struct kvm_segment`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Segment {
    pub base: u64,
    pub limit: u32,
    pub selector: u16,
    /// Descriptor type (4 bits).
    pub type_: u8,
    pub present: bool,
    pub dpl: u8,
    pub db: bool,
    pub s: bool,
    pub l: bool,
    pub g: bool,
    pub avl: bool,
    pub unusable: bool,
}

impl Segment {
    /// The VMCB attribute word SVM's `svm_set_segment` stores for this segment.
    pub fn vmcb_attrib(&self) -> u16 {
        (self.type_ as u16 & 0xF)
            | (self.s as u16) << 4
            | ((self.dpl as u16) & 3) << 5
            | ((self.present && !self.unusable) as u16) << 7
            | (self.avl as u16) << 8
            | (self.l as u16) << 9
            | (self.db as u16) << 10
            | (self.g as u16) << 11
    }

    /// A present segment in real-mode form: the given selector, base, limit and type; S set
    /// for code/data types (`s`), everything else clear.
    pub const fn real_mode(selector: u16, base: u64, limit: u32, type_: u8, s: bool) -> Self {
        Segment {
            base,
            limit,
            selector,
            type_,
            present: true,
            dpl: 0,
            db: false,
            s,
            l: false,
            g: false,
            avl: false,
            unusable: false,
        }
    }
}

/// A descriptor-table register (`struct kvm_dtable`): only base and limit reach the VMSA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DescriptorTable {
    pub base: u64,
    pub limit: u16,
}

/// x87/SSE/AVX state as `KVM_GET_FPU` (and the YMM_Hi128 component of `KVM_GET_XSAVE`) report
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FpuState {
    /// ST0…ST7 in FXSAVE's 16-byte slots (10 bytes used).
    pub fpr: [[u8; 16]; 8],
    pub fcw: u16,
    pub fsw: u16,
    /// Abridged (FXSAVE) tag word.
    pub ftwx: u8,
    pub last_opcode: u16,
    pub last_ip: u64,
    pub last_dp: u64,
    pub xmm: [[u8; 16]; 16],
    pub mxcsr: u32,
    /// Upper 128 bits of YMM0…YMM15 (zero when the component is in its initial state).
    pub ymm_hi: [[u8; 16]; 16],
}

impl FpuState {
    /// The architectural reset state (FCW 0x037F, MXCSR 0x1F80, everything else zero), which
    /// is what KVM gives a new vCPU and what QEMU's reset loads.
    pub const fn reset() -> Self {
        FpuState {
            fpr: [[0; 16]; 8],
            fcw: 0x037F,
            fsw: 0,
            ftwx: 0,
            last_opcode: 0,
            last_ip: 0,
            last_dp: 0,
            xmm: [[0; 16]; 16],
            mxcsr: 0x1F80,
            ymm_hi: [[0; 16]; 16],
        }
    }

    /// All zero (FCW and MXCSR too): what the EC2 and GCE profiles' VMSAs hold.
    pub const fn zero() -> Self {
        FpuState {
            fcw: 0,
            mxcsr: 0,
            ..Self::reset()
        }
    }
}

/// The MSRs whose values reach the VMSA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VcpuMsrs {
    /// IA32_PAT (0x277).
    pub pat: u64,
    /// IA32_XSS (0xDA0).
    pub xss: u64,
    pub star: u64,
    pub lstar: u64,
    pub cstar: u64,
    pub sfmask: u64,
    pub kernel_gs_base: u64,
    pub sysenter_cs: u64,
    pub sysenter_esp: u64,
    pub sysenter_eip: u64,
}

/// A vCPU's register state as KVM's user-space interface reports it (before KVM converts it
/// into VMCB form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcpuState {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rsp: u64,
    pub rbp: u64,
    /// r8 … r15.
    pub r: [u64; 8],
    pub rip: u64,
    pub rflags: u64,
    pub es: Segment,
    pub cs: Segment,
    pub ss: Segment,
    pub ds: Segment,
    pub fs: Segment,
    pub gs: Segment,
    pub ldt: Segment,
    pub tr: Segment,
    pub gdt: DescriptorTable,
    pub idt: DescriptorTable,
    pub cr0: u64,
    /// Not copied: KVM loads CR2 into the VMCB only at VMRUN, so a vCPU that never ran has 0.
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub efer: u64,
    pub dr6: u64,
    pub dr7: u64,
    pub xcr0: u64,
    pub pkru: u32,
    pub msrs: VcpuMsrs,
    pub fpu: FpuState,
    /// `KVM_SET_GUEST_DEBUG` enabled on the vCPU (KVM then refuses to build the VMSA).
    pub guest_debug: bool,
}

/// How the VM was initialised, which decides whether KVM copies FPU state into the VMSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KvmInit {
    /// `KVM_SEV_ES_INIT` on a default-type VM (QEMU's default for SEV-ES): no FPU state.
    #[default]
    EsInit,
    /// `KVM_SEV_INIT2` on a `KVM_X86_SEV_ES_VM`/`KVM_X86_SNP_VM`: x87/SSE/AVX state copied
    /// (the profile the public measurement tools model).
    Init2,
}

/// The per-VM inputs of [`build_vmsa`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmsaParams {
    pub init: KvmInit,
    /// The SEV_FEATURES value KVM writes: `vmsa_features` of INIT2 (with SNPActive for an SNP
    /// VM), 0 for `KVM_SEV_ES_INIT` on current kernels (0x20 DebugSwap on some 6.6/6.7 hosts).
    pub sev_features: u64,
}

/// Why KVM would refuse to build a VMSA (`-EINVAL` from `sev_es_sync_vmsa`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmsaError {
    /// `KVM_SET_GUEST_DEBUG` is enabled on the vCPU.
    GuestDebug,
    /// DR7 has bits other than the fixed bit 10 set.
    Dr7(u64),
}

impl std::fmt::Display for VmsaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmsaError::GuestDebug => f.write_str(
                "the vCPU has guest debugging enabled (KVM_SET_GUEST_DEBUG); KVM refuses to \
                 encrypt its VMSA",
            ),
            VmsaError::Dr7(v) => write!(
                f,
                "the vCPU's DR7 is {v:#x}: breakpoints are armed (only bit 10 may be set); KVM \
                 refuses to encrypt its VMSA"
            ),
        }
    }
}

/// DR7's always-one bit.
pub const DR7_FIXED_1: u64 = 0x400;
const CR0_NW: u64 = 1 << 29;
const CR0_CD: u64 = 1 << 30;
const CR4_MCE: u64 = 1 << 6;
const EFER_SVME: u64 = 1 << 12;

fn put16(p: &mut [u8], o: usize, v: u16) {
    p[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(p: &mut [u8], o: usize, v: u32) {
    p[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(p: &mut [u8], o: usize, v: u64) {
    p[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// Read a little-endian u64 field of a VMSA page.
pub fn get64(p: &[u8; VMSA_SIZE], o: usize) -> u64 {
    u64::from_le_bytes(p[o..o + 8].try_into().expect("8 bytes"))
}

/// Read a little-endian u16 field of a VMSA page.
pub fn get16(p: &[u8; VMSA_SIZE], o: usize) -> u16 {
    u16::from_le_bytes(p[o..o + 2].try_into().expect("2 bytes"))
}

fn put_seg(p: &mut [u8], o: usize, selector: u16, attrib: u16, limit: u32, base: u64) {
    put16(p, o, selector);
    put16(p, o + 2, attrib);
    put32(p, o + 4, limit);
    put64(p, o + 8, base);
}

/// The VMSA page KVM hands to the firmware's LAUNCH_UPDATE_VMSA for a vCPU in `state`.
///
/// What KVM does, in order: refuse a vCPU with guest debugging or armed DR7; copy the VMCB
/// save area (segments with SVM's attribute packing and CPL from SS.DPL, EFER with SVME
/// forced, CR0 without CD/NW (the `CD_NW_CLEARED` quirk), CR4 with MCE (from the host), CR3,
/// DR7, RFLAGS, PAT and the syscall/sysenter MSRs); the GPRs and RIP; XCR0, PKRU, XSS, DR6;
/// SEV_FEATURES; and for [`KvmInit::Init2`] the x87/SSE/AVX state. Everything else is zero.
pub fn build_vmsa(state: &VcpuState, params: &VmsaParams) -> Result<[u8; VMSA_SIZE], VmsaError> {
    if state.guest_debug {
        return Err(VmsaError::GuestDebug);
    }
    if state.dr7 & !DR7_FIXED_1 != 0 {
        return Err(VmsaError::Dr7(state.dr7));
    }
    let mut p = [0u8; VMSA_SIZE];
    let segs = [
        (off::ES, &state.es),
        (off::CS, &state.cs),
        (off::SS, &state.ss),
        (off::DS, &state.ds),
        (off::FS, &state.fs),
        (off::GS, &state.gs),
        (off::LDTR, &state.ldt),
        (off::TR, &state.tr),
    ];
    for (o, s) in segs {
        put_seg(&mut p, o, s.selector, s.vmcb_attrib(), s.limit, s.base);
    }
    put_seg(
        &mut p,
        off::GDTR,
        0,
        0,
        state.gdt.limit as u32,
        state.gdt.base,
    );
    put_seg(
        &mut p,
        off::IDTR,
        0,
        0,
        state.idt.limit as u32,
        state.idt.base,
    );
    p[off::CPL] = state.ss.dpl & 3;
    put64(&mut p, off::EFER, state.efer | EFER_SVME);
    put64(&mut p, off::CR4, state.cr4 | CR4_MCE);
    put64(&mut p, off::CR3, state.cr3);
    put64(&mut p, off::CR0, state.cr0 & !(CR0_CD | CR0_NW));
    put64(&mut p, off::DR7, state.dr7);
    put64(&mut p, off::RFLAGS, state.rflags);
    put64(&mut p, off::STAR, state.msrs.star);
    put64(&mut p, off::LSTAR, state.msrs.lstar);
    put64(&mut p, off::CSTAR, state.msrs.cstar);
    put64(&mut p, off::SFMASK, state.msrs.sfmask);
    put64(&mut p, off::KERNEL_GS_BASE, state.msrs.kernel_gs_base);
    put64(&mut p, off::SYSENTER_CS, state.msrs.sysenter_cs);
    // SVM keeps only the low 32 bits of SYSENTER_ESP/EIP in the VMCB.
    put64(
        &mut p,
        off::SYSENTER_ESP,
        state.msrs.sysenter_esp & 0xFFFF_FFFF,
    );
    put64(
        &mut p,
        off::SYSENTER_EIP,
        state.msrs.sysenter_eip & 0xFFFF_FFFF,
    );
    put64(&mut p, off::G_PAT, state.msrs.pat);

    put64(&mut p, off::RAX, state.rax);
    put64(&mut p, off::RBX, state.rbx);
    put64(&mut p, off::RCX, state.rcx);
    put64(&mut p, off::RDX, state.rdx);
    put64(&mut p, off::RSP, state.rsp);
    put64(&mut p, off::RBP, state.rbp);
    put64(&mut p, off::RSI, state.rsi);
    put64(&mut p, off::RDI, state.rdi);
    for (i, r) in state.r.iter().enumerate() {
        put64(&mut p, off::R8 + 8 * i, *r);
    }
    put64(&mut p, off::RIP, state.rip);
    put64(&mut p, off::XCR0, state.xcr0);
    put32(&mut p, off::PKRU, state.pkru);
    put64(&mut p, off::XSS, state.msrs.xss);
    put64(&mut p, off::DR6, state.dr6);
    put64(&mut p, off::SEV_FEATURES, params.sev_features);

    if params.init == KvmInit::Init2 {
        let f = &state.fpu;
        put64(&mut p, off::X87_DP, f.last_dp);
        put32(&mut p, off::MXCSR, f.mxcsr);
        put16(&mut p, off::X87_FTW, f.ftwx as u16);
        put16(&mut p, off::X87_FSW, f.fsw);
        put16(&mut p, off::X87_FCW, f.fcw);
        put16(&mut p, off::X87_FOP, f.last_opcode);
        put16(&mut p, off::X87_DS, 0);
        put16(&mut p, off::X87_CS, 0);
        put64(&mut p, off::X87_RIP, f.last_ip);
        for (i, st) in f.fpr.iter().enumerate() {
            let lo = off::FPREG_X87 + 8 * i;
            p[lo..lo + 8].copy_from_slice(&st[..8]);
            let hi = off::FPREG_X87 + 64 + 2 * i;
            p[hi..hi + 2].copy_from_slice(&st[8..10]);
        }
        for (i, x) in f.xmm.iter().enumerate() {
            let o = off::FPREG_XMM + 16 * i;
            p[o..o + 16].copy_from_slice(x);
        }
        for (i, y) in f.ymm_hi.iter().enumerate() {
            let o = off::FPREG_YMM + 16 * i;
            p[o..o + 16].copy_from_slice(y);
        }
    }
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// Reset state: VMM profiles and vCPU signatures

/// The VMM whose reset register state a profile reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VmmType {
    /// QEMU/KVM: architectural reset, RDX = the vCPU model's signature.
    Qemu,
    /// Amazon EC2: BSP CS type 0xA, SS type 2, TR type 3, RDX 0x600, no FPU values (the
    /// sev-snp-measure model; virtee/sev uses RDX 0).
    Ec2,
    /// Google Compute Engine: PAT 0x70106, RDX 0x600, no FPU values.
    Gce,
}

impl VmmType {
    pub fn name(self) -> &'static str {
        match self {
            VmmType::Qemu => "QEMU",
            VmmType::Ec2 => "EC2",
            VmmType::Gce => "GCE",
        }
    }
}

/// The CPUID(1).EAX signature for a family, model and stepping (the extended-family encoding
/// for families above 0xF).
pub const fn cpu_signature(family: u32, model: u32, stepping: u32) -> u32 {
    let (family_low, family_high) = if family > 0xF {
        (0xF, family - 0xF)
    } else {
        (family, 0)
    };
    (family_high << 20)
        | (((model >> 4) & 0xF) << 16)
        | (family_low << 8)
        | ((model & 0xF) << 4)
        | (stepping & 0xF)
}

/// QEMU CPU model names and their (family, model, stepping).
pub const CPU_MODELS: &[(&str, (u32, u32, u32))] = &[
    ("EPYC", (23, 1, 2)),
    ("EPYC-v1", (23, 1, 2)),
    ("EPYC-v2", (23, 1, 2)),
    ("EPYC-IBPB", (23, 1, 2)),
    ("EPYC-v3", (23, 1, 2)),
    ("EPYC-v4", (23, 1, 2)),
    ("EPYC-Rome", (23, 49, 0)),
    ("EPYC-Rome-v1", (23, 49, 0)),
    ("EPYC-Rome-v2", (23, 49, 0)),
    ("EPYC-Rome-v3", (23, 49, 0)),
    ("EPYC-Rome-v4", (23, 49, 0)),
    ("EPYC-Milan", (25, 1, 1)),
    ("EPYC-Milan-v1", (25, 1, 1)),
    ("EPYC-Milan-v2", (25, 1, 1)),
    ("EPYC-Genoa", (25, 17, 0)),
    ("EPYC-Genoa-v1", (25, 17, 0)),
    ("EPYC-Turin", (26, 0, 0)),
    ("EPYC-Turin-v1", (26, 0, 0)),
];

/// The signature of a QEMU CPU model name (case-insensitive), e.g. `EPYC-v4` → 0x00800F12.
pub fn signature_for_cpu_model(name: &str) -> Option<u32> {
    CPU_MODELS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, (f, m, s))| cpu_signature(*f, *m, *s))
}

/// RDX at reset for EC2 and GCE, which ignore the vCPU model (KVM's default CPUID(1).EAX).
pub const FIXED_RESET_RDX: u64 = 0x600;

/// The architectural reset vector's CS base and IP for the BSP (0xFFFFFFF0).
pub const BSP_RESET_CS_BASE: u64 = 0xFFFF_0000;
pub const BSP_RESET_IP: u64 = 0xFFF0;

/// The register state `vmm` gives vCPU `index` at reset, just before LAUNCH_UPDATE_VMSA.
///
/// `signature` is the vCPU model's CPUID(1).EAX (RDX, QEMU profile only). `ap_reset_addr`
/// is the AP entry point from OVMF's SEV-ES reset block: vCPUs other than 0 start with
/// `CS.base = addr & 0xFFFF0000`, `IP = addr & 0xFFFF` (QEMU's `sev_es_set_reset_vector`).
pub fn reset_state(vmm: VmmType, signature: u32, index: u32, ap_reset_addr: u32) -> VcpuState {
    let data = Segment::real_mode(0, 0, 0xFFFF, 3, true);
    let bsp = index == 0;
    let (cs_base, rip) = if bsp {
        (BSP_RESET_CS_BASE, BSP_RESET_IP)
    } else {
        (
            (ap_reset_addr & 0xFFFF_0000) as u64,
            (ap_reset_addr & 0xFFFF) as u64,
        )
    };
    let cs_type = if vmm == VmmType::Ec2 && bsp { 0xA } else { 0xB };
    let mut st = VcpuState {
        rax: 0,
        rbx: 0,
        rcx: 0,
        rdx: signature as u64,
        rsi: 0,
        rdi: 0,
        rsp: 0,
        rbp: 0,
        r: [0; 8],
        rip,
        rflags: 0x2,
        es: data,
        cs: Segment::real_mode(0xF000, cs_base, 0xFFFF, cs_type, true),
        ss: data,
        ds: data,
        fs: data,
        gs: data,
        ldt: Segment::real_mode(0, 0, 0xFFFF, 2, false),
        tr: Segment::real_mode(0, 0, 0xFFFF, 0xB, false),
        gdt: DescriptorTable {
            base: 0,
            limit: 0xFFFF,
        },
        idt: DescriptorTable {
            base: 0,
            limit: 0xFFFF,
        },
        cr0: 0x6000_0010,
        cr2: 0,
        cr3: 0,
        cr4: 0,
        efer: 0,
        dr6: 0xFFFF_0FF0,
        dr7: DR7_FIXED_1,
        xcr0: 1,
        pkru: 0,
        msrs: VcpuMsrs {
            pat: 0x0007_0406_0007_0406,
            ..VcpuMsrs::default()
        },
        fpu: FpuState::reset(),
        guest_debug: false,
    };
    match vmm {
        VmmType::Qemu => {}
        VmmType::Ec2 => {
            st.ss.type_ = 2;
            st.tr.type_ = 3;
            st.rdx = FIXED_RESET_RDX;
            st.fpu = FpuState::zero();
        }
        VmmType::Gce => {
            st.msrs.pat = 0x0007_0106;
            st.rdx = FIXED_RESET_RDX;
            st.fpu = FpuState::zero();
        }
    }
    st
}

/// The VMSA page of vCPU `index` at reset under `vmm`: [`reset_state`] then [`build_vmsa`].
pub fn reset_vmsa(
    vmm: VmmType,
    signature: u32,
    index: u32,
    ap_reset_addr: u32,
    params: &VmsaParams,
) -> [u8; VMSA_SIZE] {
    build_vmsa(&reset_state(vmm, signature, index, ap_reset_addr), params)
        .expect("a reset state has DR7 = 0x400 and no guest debugging")
}

#[cfg(test)]
#[path = "vmsa_tests.rs"]
mod tests;
