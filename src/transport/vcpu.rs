//! A caller's KVM vCPU fd: check that it is one, and read the register state KVM would put
//! into its VMSA (`KVM_GET_REGS`, `KVM_GET_SREGS`, `KVM_GET_FPU`, `KVM_GET_XCRS`,
//! `KVM_GET_MSRS`, `KVM_GET_XSAVE`). Works on any KVM, SEV or not: the firmware model reads
//! the real vCPUs a hypervisor created on this host's `/dev/kvm`.

use super::Errno;
use crate::uapi::vmsa::{DescriptorTable, FpuState, Segment, VcpuMsrs, VcpuState};
use kvm_bindings::{
    kvm_debugregs, kvm_dtable, kvm_fpu, kvm_msr_entry, kvm_regs, kvm_segment, kvm_sregs, kvm_xcrs,
    kvm_xsave,
};
use std::mem::size_of;
use std::os::fd::RawFd;

const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | (0xAE << 8) | nr
}
const R: u64 = 2;
const W: u64 = 1;
pub const KVM_GET_REGS: u64 = ioc(R, 0x81, size_of::<kvm_regs>());
pub const KVM_SET_REGS: u64 = ioc(W, 0x82, size_of::<kvm_regs>());
pub const KVM_GET_SREGS: u64 = ioc(R, 0x83, size_of::<kvm_sregs>());
pub const KVM_SET_SREGS: u64 = ioc(W, 0x84, size_of::<kvm_sregs>());
pub const KVM_GET_MSRS: u64 = ioc(R | W, 0x88, 8);
pub const KVM_SET_MSRS: u64 = ioc(W, 0x89, 8);
pub const KVM_GET_FPU: u64 = ioc(R, 0x8C, size_of::<kvm_fpu>());
pub const KVM_SET_FPU: u64 = ioc(W, 0x8D, size_of::<kvm_fpu>());
pub const KVM_GET_DEBUGREGS: u64 = ioc(R, 0xA1, size_of::<kvm_debugregs>());
pub const KVM_SET_DEBUGREGS: u64 = ioc(W, 0xA2, size_of::<kvm_debugregs>());
pub const KVM_GET_XSAVE: u64 = ioc(R, 0xA4, size_of::<kvm_xsave>());
pub const KVM_SET_XSAVE: u64 = ioc(W, 0xA5, size_of::<kvm_xsave>());
pub const KVM_GET_XCRS: u64 = ioc(R, 0xA6, size_of::<kvm_xcrs>());
pub const KVM_SET_XCRS: u64 = ioc(W, 0xA7, size_of::<kvm_xcrs>());

/// MSR numbers whose values reach the VMSA.
pub mod msr {
    pub const IA32_SYSENTER_CS: u32 = 0x174;
    pub const IA32_SYSENTER_ESP: u32 = 0x175;
    pub const IA32_SYSENTER_EIP: u32 = 0x176;
    pub const IA32_PAT: u32 = 0x277;
    pub const IA32_XSS: u32 = 0xDA0;
    pub const STAR: u32 = 0xC000_0081;
    pub const LSTAR: u32 = 0xC000_0082;
    pub const CSTAR: u32 = 0xC000_0083;
    pub const SFMASK: u32 = 0xC000_0084;
    pub const KERNEL_GS_BASE: u32 = 0xC000_0102;
}

fn errno() -> Errno {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `ioctl(fd, req, arg)` for a read of a plain struct.
fn get<T: Default>(fd: RawFd, req: u64) -> Result<T, Errno> {
    let mut v = T::default();
    // SAFETY: every request used with this helper writes exactly one `T` (its size is encoded
    // in the request number); an fd of another kind makes the kernel fail with ENOTTY/EBADF.
    let r = unsafe { libc::ioctl(fd, req as _, &mut v as *mut T) };
    if r < 0 { Err(errno()) } else { Ok(v) }
}

/// Whether `fd` is a KVM vCPU of this process: `EBADF` if it is not open, `EINVAL` if it is
/// something else.
pub fn check_vcpu_fd(fd: RawFd) -> Result<(), Errno> {
    if fd < 0 || !super::kvm::fd_is_open(fd) {
        return Err(libc::EBADF);
    }
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).map_err(|_| libc::EBADF)?;
    if link.to_string_lossy().starts_with("anon_inode:kvm-vcpu:") {
        Ok(())
    } else {
        Err(libc::EINVAL)
    }
}

/// One MSR, or 0 when KVM does not report it (as for an MSR the vCPU model lacks).
fn get_msr(fd: RawFd, index: u32) -> u64 {
    #[repr(C)]
    #[derive(Default)]
    struct One {
        nmsrs: u32,
        pad: u32,
        entry: kvm_msr_entry,
    }
    let mut m = One {
        nmsrs: 1,
        entry: kvm_msr_entry {
            index,
            ..Default::default()
        },
        ..Default::default()
    };
    // SAFETY: `struct kvm_msrs` with one entry; KVM writes at most `nmsrs` entries.
    let r = unsafe { libc::ioctl(fd, KVM_GET_MSRS as _, &mut m as *mut One) };
    if r == 1 { m.entry.data } else { 0 }
}

fn seg(s: &kvm_segment) -> Segment {
    Segment {
        base: s.base,
        limit: s.limit,
        selector: s.selector,
        type_: s.type_,
        present: s.present != 0,
        dpl: s.dpl,
        db: s.db != 0,
        s: s.s != 0,
        l: s.l != 0,
        g: s.g != 0,
        avl: s.avl != 0,
        unusable: s.unusable != 0,
    }
}

fn dt(d: &kvm_dtable) -> DescriptorTable {
    DescriptorTable {
        base: d.base,
        limit: d.limit,
    }
}

/// XSAVE standard-format offsets: MXCSR (legacy area), XSTATE_BV, YMM_Hi128 (component 2)
/// and PKRU (component 9).
const MXCSR: usize = 24;
const XSTATE_BV: usize = 512;
const YMM_HI: usize = 576;
const PKRU: usize = 2688;

/// The register state of the vCPU behind `fd`, read now.
pub fn read_vcpu_state(fd: RawFd) -> Result<VcpuState, Errno> {
    check_vcpu_fd(fd)?;
    let regs: kvm_regs = get(fd, KVM_GET_REGS)?;
    let sregs: kvm_sregs = get(fd, KVM_GET_SREGS)?;
    let fpu: kvm_fpu = get(fd, KVM_GET_FPU)?;
    let xcr0 = get::<kvm_xcrs>(fd, KVM_GET_XCRS)
        .ok()
        .and_then(|x| {
            x.xcrs[..(x.nr_xcrs as usize).min(x.xcrs.len())]
                .iter()
                .find(|e| e.xcr == 0)
                .map(|e| e.value)
        })
        .unwrap_or(1);
    let (dr6, dr7) = debugregs(fd)?;
    let mut ymm_hi = [[0u8; 16]; 16];
    let mut pkru = 0u32;
    // KVM_GET_FPU does not report MXCSR on every kernel; KVM builds the VMSA from the XSAVE
    // image, so take it from there when XSAVE is available.
    let mut mxcsr = fpu.mxcsr;
    if let Ok(xs) = get::<kvm_xsave>(fd, KVM_GET_XSAVE) {
        let b: Vec<u8> = xs.region.iter().flat_map(|w| w.to_le_bytes()).collect();
        mxcsr = u32::from_le_bytes(b[MXCSR..MXCSR + 4].try_into().expect("4 bytes"));
        let bv = u64::from_le_bytes(b[XSTATE_BV..XSTATE_BV + 8].try_into().expect("8 bytes"));
        if bv & (1 << 2) != 0 {
            for (i, y) in ymm_hi.iter_mut().enumerate() {
                y.copy_from_slice(&b[YMM_HI + 16 * i..YMM_HI + 16 * i + 16]);
            }
        }
        if bv & (1 << 9) != 0 {
            pkru = u32::from_le_bytes(b[PKRU..PKRU + 4].try_into().expect("4 bytes"));
        }
    }
    Ok(VcpuState {
        rax: regs.rax,
        rbx: regs.rbx,
        rcx: regs.rcx,
        rdx: regs.rdx,
        rsi: regs.rsi,
        rdi: regs.rdi,
        rsp: regs.rsp,
        rbp: regs.rbp,
        r: [
            regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15,
        ],
        rip: regs.rip,
        rflags: regs.rflags,
        es: seg(&sregs.es),
        cs: seg(&sregs.cs),
        ss: seg(&sregs.ss),
        ds: seg(&sregs.ds),
        fs: seg(&sregs.fs),
        gs: seg(&sregs.gs),
        ldt: seg(&sregs.ldt),
        tr: seg(&sregs.tr),
        gdt: dt(&sregs.gdt),
        idt: dt(&sregs.idt),
        cr0: sregs.cr0,
        cr2: sregs.cr2,
        cr3: sregs.cr3,
        cr4: sregs.cr4,
        efer: sregs.efer,
        dr6,
        dr7,
        xcr0,
        pkru,
        msrs: VcpuMsrs {
            pat: get_msr(fd, msr::IA32_PAT),
            xss: get_msr(fd, msr::IA32_XSS),
            star: get_msr(fd, msr::STAR),
            lstar: get_msr(fd, msr::LSTAR),
            cstar: get_msr(fd, msr::CSTAR),
            sfmask: get_msr(fd, msr::SFMASK),
            kernel_gs_base: get_msr(fd, msr::KERNEL_GS_BASE),
            sysenter_cs: get_msr(fd, msr::IA32_SYSENTER_CS),
            sysenter_esp: get_msr(fd, msr::IA32_SYSENTER_ESP),
            sysenter_eip: get_msr(fd, msr::IA32_SYSENTER_EIP),
        },
        fpu: FpuState {
            fpr: fpu.fpr,
            fcw: fpu.fcw,
            fsw: fpu.fsw,
            ftwx: fpu.ftwx,
            last_opcode: fpu.last_opcode,
            last_ip: fpu.last_ip,
            last_dp: fpu.last_dp,
            xmm: fpu.xmm,
            mxcsr,
            ymm_hi,
        },
        guest_debug: false,
    })
}

/// `KVM_GET_DEBUGREGS`: (DR6, DR7).
fn debugregs(fd: RawFd) -> Result<(u64, u64), Errno> {
    let d: kvm_debugregs = get(fd, KVM_GET_DEBUGREGS)?;
    Ok((d.dr6, d.dr7))
}

/// `ioctl(fd, req, &v)` for a write of a plain struct.
fn set<T>(fd: RawFd, req: u64, v: &T) -> Result<(), Errno> {
    // SAFETY: every request used with this helper reads exactly one `T` (its size is encoded
    // in the request number); an fd of another kind makes the kernel fail with ENOTTY/EBADF.
    let r = unsafe { libc::ioctl(fd, req as _, v as *const T) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

fn kseg(s: &Segment) -> kvm_segment {
    kvm_segment {
        base: s.base,
        limit: s.limit,
        selector: s.selector,
        type_: s.type_,
        present: s.present as u8,
        dpl: s.dpl,
        db: s.db as u8,
        s: s.s as u8,
        l: s.l as u8,
        g: s.g as u8,
        avl: s.avl as u8,
        unusable: s.unusable as u8,
        padding: 0,
    }
}

/// Load `st` into the KVM vCPU behind `fd` the way a VMM's reset does (`KVM_SET_REGS`,
/// `KVM_SET_SREGS` keeping the APIC base, `KVM_SET_FPU`, `KVM_SET_XCRS` when XSAVE is
/// available, `KVM_SET_DEBUGREGS`, `KVM_SET_MSRS` for PAT and the syscall MSRs). The
/// YMM upper halves and PKRU are left as they are (zero on a new vCPU).
pub fn write_vcpu_state(fd: RawFd, st: &VcpuState) -> Result<(), Errno> {
    check_vcpu_fd(fd)?;
    let regs = kvm_regs {
        rax: st.rax,
        rbx: st.rbx,
        rcx: st.rcx,
        rdx: st.rdx,
        rsi: st.rsi,
        rdi: st.rdi,
        rsp: st.rsp,
        rbp: st.rbp,
        r8: st.r[0],
        r9: st.r[1],
        r10: st.r[2],
        r11: st.r[3],
        r12: st.r[4],
        r13: st.r[5],
        r14: st.r[6],
        r15: st.r[7],
        rip: st.rip,
        rflags: st.rflags,
    };
    let mut sregs: kvm_sregs = get(fd, KVM_GET_SREGS)?;
    sregs.cs = kseg(&st.cs);
    sregs.ds = kseg(&st.ds);
    sregs.es = kseg(&st.es);
    sregs.fs = kseg(&st.fs);
    sregs.gs = kseg(&st.gs);
    sregs.ss = kseg(&st.ss);
    sregs.tr = kseg(&st.tr);
    sregs.ldt = kseg(&st.ldt);
    sregs.gdt = kvm_dtable {
        base: st.gdt.base,
        limit: st.gdt.limit,
        padding: [0; 3],
    };
    sregs.idt = kvm_dtable {
        base: st.idt.base,
        limit: st.idt.limit,
        padding: [0; 3],
    };
    sregs.cr0 = st.cr0;
    sregs.cr2 = st.cr2;
    sregs.cr3 = st.cr3;
    sregs.cr4 = st.cr4;
    sregs.efer = st.efer;
    set(fd, KVM_SET_SREGS, &sregs)?;
    set(fd, KVM_SET_REGS, &regs)?;
    let fpu = kvm_fpu {
        fpr: st.fpu.fpr,
        fcw: st.fpu.fcw,
        fsw: st.fpu.fsw,
        ftwx: st.fpu.ftwx,
        last_opcode: st.fpu.last_opcode,
        last_ip: st.fpu.last_ip,
        last_dp: st.fpu.last_dp,
        xmm: st.fpu.xmm,
        mxcsr: st.fpu.mxcsr,
        ..Default::default()
    };
    set(fd, KVM_SET_FPU, &fpu)?;
    // KVM_SET_FPU leaves MXCSR alone: set it through the XSAVE image (SSE marked in use, as
    // KVM copies MXCSR only then).
    if let Ok(mut xs) = get::<kvm_xsave>(fd, KVM_GET_XSAVE) {
        xs.region[MXCSR / 4] = st.fpu.mxcsr;
        xs.region[XSTATE_BV / 4] |= 1 << 1;
        set(fd, KVM_SET_XSAVE, &xs)?;
    }
    if let Ok(mut x) = get::<kvm_xcrs>(fd, KVM_GET_XCRS) {
        x.nr_xcrs = 1;
        x.flags = 0;
        x.xcrs[0].xcr = 0;
        x.xcrs[0].value = st.xcr0;
        set(fd, KVM_SET_XCRS, &x)?;
    }
    let mut dr: kvm_debugregs = get(fd, KVM_GET_DEBUGREGS)?;
    dr.dr6 = st.dr6;
    dr.dr7 = st.dr7;
    set(fd, KVM_SET_DEBUGREGS, &dr)?;
    let m = &st.msrs;
    for (index, data) in [
        (msr::IA32_PAT, m.pat),
        (msr::STAR, m.star),
        (msr::LSTAR, m.lstar),
        (msr::CSTAR, m.cstar),
        (msr::SFMASK, m.sfmask),
        (msr::KERNEL_GS_BASE, m.kernel_gs_base),
        (msr::IA32_SYSENTER_CS, m.sysenter_cs),
        (msr::IA32_SYSENTER_ESP, m.sysenter_esp),
        (msr::IA32_SYSENTER_EIP, m.sysenter_eip),
    ] {
        set_msr(fd, index, data)?;
    }
    Ok(())
}

fn set_msr(fd: RawFd, index: u32, data: u64) -> Result<(), Errno> {
    #[repr(C)]
    struct One {
        nmsrs: u32,
        pad: u32,
        entry: kvm_msr_entry,
    }
    let m = One {
        nmsrs: 1,
        pad: 0,
        entry: kvm_msr_entry {
            index,
            reserved: 0,
            data,
        },
    };
    // SAFETY: `struct kvm_msrs` with one entry; KVM reads `nmsrs` entries.
    let r = unsafe { libc::ioctl(fd, KVM_SET_MSRS as _, &m as *const One) };
    match r {
        1 => Ok(()),
        r if r < 0 => Err(errno()),
        _ => Err(libc::EINVAL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers() {
        assert_eq!(KVM_GET_REGS, 0x8090_AE81);
        assert_eq!(KVM_SET_REGS, 0x4090_AE82);
        assert_eq!(KVM_GET_SREGS, 0x8138_AE83);
        assert_eq!(KVM_GET_FPU, 0x81A0_AE8C);
        assert_eq!(KVM_GET_MSRS, 0xC008_AE88);
        assert_eq!(KVM_GET_XCRS, 0x8188_AEA6);
        assert_eq!(KVM_GET_XSAVE, 0x9000_AEA4);
    }

    #[test]
    fn refuses_what_is_not_a_vcpu() {
        assert_eq!(check_vcpu_fd(-1), Err(libc::EBADF));
        assert_eq!(check_vcpu_fd(0x7FFF_0000), Err(libc::EBADF));
        let f = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(check_vcpu_fd(f.as_raw_fd()), Err(libc::EINVAL));
        assert_eq!(read_vcpu_state(f.as_raw_fd()), Err(libc::EINVAL));
    }
}
