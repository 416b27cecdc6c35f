//! What the kernel does with user memory, for the model playing KVM and the PSP driver:
//! copying structs and blobs in and out (`EFAULT` on unmapped memory), `psp_copy_user_blob`
//! (`EINVAL` for a zero address or length, or more than 16 KiB) and `sev_pin_memory`
//! (`EINVAL` for an empty or wrapping range, `ENOMEM` when pages are not mapped). Mapping is
//! checked with `msync(2)` (`MS_ASYNC`, a no-op on mapped memory); the transport's safety
//! contract covers the rest (e.g. a read-only mapping).

use crate::transport::Errno;
use crate::uapi::SEV_FW_BLOB_MAX_SIZE;
use std::borrow::Cow;

/// The kernel's largest `kmalloc` (bounce buffers sized by the caller fail above it).
pub(crate) const KMALLOC_MAX: usize = 4 << 20;

/// A failed kernel request: an errno before or without the firmware, or a firmware status
/// (errno `EIO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    Os(Errno),
    Fw(u32),
}

impl Fail {
    /// The errno the ioctl returns.
    pub(crate) fn errno(self) -> Errno {
        match self {
            Fail::Os(e) => e,
            Fail::Fw(_) => libc::EIO,
        }
    }
}

impl From<Errno> for Fail {
    fn from(e: Errno) -> Fail {
        Fail::Os(e)
    }
}

/// Record a firmware command's status in the ioctl's `error` field (as the PSP driver does
/// for every command it issues) and turn a failure into [`Fail::Fw`].
pub(crate) fn issued<T>(error: &mut u32, r: crate::model::FwResult<T>) -> Result<T, Fail> {
    match r {
        Ok(v) => {
            *error = 0;
            Ok(v)
        }
        Err(s) => {
            *error = s;
            Err(Fail::Fw(s))
        }
    }
}

/// Whether every page of `[addr, addr + len)` is mapped in this process.
///
/// Checked with `msync(MS_ASYNC)`, which fails with `ENOMEM` when part of the range is not
/// mapped and otherwise does nothing (no writeback since Linux 2.6.19): one VMA lookup per
/// call whatever the length, about five times cheaper than `mincore(2)` for one page (which
/// also walks the page tables) — the per-packet migration commands check four ranges each.
/// Under valgrind, whose memcheck wants every byte of an `msync` range addressable (the
/// range is rounded to pages, so it reaches past the caller's bytes), `mincore` is used.
pub(crate) fn mapped(addr: u64, len: u64) -> bool {
    if len == 0 {
        return true;
    }
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    let start = addr & !4095;
    let Ok(n) = usize::try_from(end - start) else {
        return false;
    };
    if under_valgrind() {
        return mapped_mincore(start, n);
    }
    // SAFETY: msync with MS_ASYNC only looks the range up in the process's mappings; it
    // neither reads nor writes the memory.
    let r = unsafe { libc::msync(start as usize as *mut libc::c_void, n, libc::MS_ASYNC) };
    if r != 0 {
        // ENOMEM: part of the range is not mapped. Anything else (a sandbox without msync)
        // says nothing about the range.
        return std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOMEM);
    }
    true
}

/// Whether this process runs under valgrind (its preloaded core library is in LD_PRELOAD).
fn under_valgrind() -> bool {
    static V: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *V.get_or_init(|| {
        std::env::var_os("LD_PRELOAD").is_some_and(|v| v.to_string_lossy().contains("vgpreload"))
    })
}

/// [`mapped`] with `mincore(2)` over a page-aligned `[start, start + n)`.
fn mapped_mincore(start: u64, n: usize) -> bool {
    let mut vec = [0u8; 4096];
    let end = start + n as u64;
    let mut p = start;
    while p < end {
        let n = (end - p).min(4096 * 4096);
        // SAFETY: mincore only reads the page tables of the range; `vec` has room for one
        // byte per page of `n` bytes (at most 4096 pages).
        let r = unsafe {
            libc::mincore(
                p as usize as *mut libc::c_void,
                n as usize,
                vec.as_mut_ptr(),
            )
        };
        if r != 0 {
            // ENOMEM: part of the range is not mapped. Anything else (a sandbox without
            // mincore) says nothing about the range.
            return std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOMEM);
        }
        p += n;
    }
    true
}

/// `copy_from_user` of a plain struct.
pub(crate) fn read_struct<T: Copy>(addr: u64) -> Result<T, Errno> {
    if !mapped(addr, std::mem::size_of::<T>() as u64) || addr == 0 {
        return Err(libc::EFAULT);
    }
    // SAFETY: the range is mapped memory of this process (checked above) that the caller
    // passed as a `T` (the transport's contract); `read_unaligned` needs no alignment and
    // `T` is plain old data.
    Ok(unsafe { std::ptr::read_unaligned(addr as usize as *const T) })
}

/// `copy_to_user` of a plain struct.
pub(crate) fn write_struct<T: Copy>(addr: u64, v: &T) -> Result<(), Errno> {
    if !mapped(addr, std::mem::size_of::<T>() as u64) || addr == 0 {
        return Err(libc::EFAULT);
    }
    // SAFETY: as in `read_struct`; the caller's struct is writable by contract.
    unsafe { std::ptr::write_unaligned(addr as usize as *mut T, *v) };
    Ok(())
}

/// `copy_from_user` of `len` bytes.
pub(crate) fn copy_from_user(addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if addr == 0 || !mapped(addr, len as u64) {
        return Err(libc::EFAULT);
    }
    // SAFETY: mapped memory of this process that the caller handed over for this command.
    Ok(unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len) }.to_vec())
}

/// `copy_to_user` of `data`.
pub(crate) fn copy_to_user(addr: u64, data: &[u8]) -> Result<(), Errno> {
    if data.is_empty() {
        return Ok(());
    }
    if addr == 0 || !mapped(addr, data.len() as u64) {
        return Err(libc::EFAULT);
    }
    // SAFETY: mapped memory of this process that the caller handed over as an output buffer
    // of at least this length; it does not overlap `data` (a model-owned buffer).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), addr as usize as *mut u8, data.len()) };
    Ok(())
}

/// `psp_copy_user_blob`.
pub(crate) fn copy_user_blob(addr: u64, len: u32) -> Result<Vec<u8>, Errno> {
    if addr == 0 || len == 0 || len > SEV_FW_BLOB_MAX_SIZE {
        return Err(libc::EINVAL);
    }
    copy_from_user(addr, len as usize)
}

/// Whether the page spans of two ranges overlap or touch, so that one mapping check of their
/// union covers exactly the pages of both (a packet header and its transport buffer usually
/// sit side by side). `None` when they do not (or an end overflows).
fn joint_span(a: u64, alen: u64, b: u64, blen: u64) -> Option<(u64, u64)> {
    let (ae, be) = (a.checked_add(alen)?, b.checked_add(blen)?);
    let (lo, hi) = (a.min(b) & !4095, ae.max(be));
    let touching =
        (a & !4095) <= be.next_multiple_of(4096) && (b & !4095) <= ae.next_multiple_of(4096);
    touching.then_some((lo, hi - lo))
}

/// Two `psp_copy_user_blob`s, `a` then `b`, with the same results (and the same first
/// error) as two calls, but one mapping check when the two buffers are neighbours.
pub(crate) fn copy_user_blobs(a: (u64, u32), b: (u64, u32)) -> Result<(Vec<u8>, Vec<u8>), Errno> {
    let ok = |(addr, len): (u64, u32)| addr != 0 && len != 0 && len <= SEV_FW_BLOB_MAX_SIZE;
    if ok(a) && ok(b) {
        if let Some((lo, n)) = joint_span(a.0, a.1 as u64, b.0, b.1 as u64) {
            if mapped(lo, n) {
                let copy = |(addr, len): (u64, u32)| {
                    // SAFETY: both ranges are mapped (checked together above) and were
                    // handed over by the caller for this command.
                    unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len as usize) }
                        .to_vec()
                };
                return Ok((copy(a), copy(b)));
            }
        }
    }
    Ok((copy_user_blob(a.0, a.1)?, copy_user_blob(b.0, b.1)?))
}

/// Whether two ranges `(addr, len)` share no byte (an empty range overlaps nothing).
pub(crate) fn disjoint(a: (u64, u64), b: (u64, u64)) -> bool {
    a.1 == 0 || b.1 == 0 || a.0.saturating_add(a.1) <= b.0 || b.0.saturating_add(b.1) <= a.0
}

/// Two input buffers, borrowed from the caller or copied.
pub(crate) type Blobs<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// [`copy_user_blobs`] without the copies where that changes nothing: when the two buffers
/// pass the same checks as neighbours (one mapping check) and neither overlaps `clear` (the
/// range the command will write), the caller's bytes are borrowed in place; otherwise they
/// are copied exactly as [`copy_user_blobs`] does (with its results and first error).
///
/// # Safety
/// The two ranges, once checked mapped, must hold bytes nobody writes while the returned
/// views live (the transport's contract for a command's input buffers).
pub(crate) unsafe fn user_blobs<'a>(
    a: (u64, u32),
    b: (u64, u32),
    clear: (u64, u64),
) -> Result<Blobs<'a>, Errno> {
    let ok = |(addr, len): (u64, u32)| addr != 0 && len != 0 && len <= SEV_FW_BLOB_MAX_SIZE;
    let apart = disjoint((a.0, a.1 as u64), clear) && disjoint((b.0, b.1 as u64), clear);
    if ok(a) && ok(b) && apart {
        if let Some((lo, n)) = joint_span(a.0, a.1 as u64, b.0, b.1 as u64) {
            if mapped(lo, n) {
                let view = |(addr, len): (u64, u32)| {
                    // SAFETY: mapped (checked above), handed over by the caller for this
                    // command and not written while the view lives (this function's
                    // contract).
                    Cow::Borrowed(unsafe {
                        std::slice::from_raw_parts(addr as usize as *const u8, len as usize)
                    })
                };
                return Ok((view(a), view(b)));
            }
        }
    }
    let (x, y) = copy_user_blobs(a, b)?;
    Ok((Cow::Owned(x), Cow::Owned(y)))
}

/// Whether the two output ranges of [`copy_to_user_pair`] pass its one-check case: both
/// non-empty with non-zero addresses, neighbours, and mapped. Then a command may write its
/// results straight into them: [`copy_to_user_pair`] would succeed on them.
pub(crate) fn mapped_pair(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 != 0
        && b.0 != 0
        && a.1 != 0
        && b.1 != 0
        && joint_span(a.0, a.1, b.0, b.1).is_some_and(|(lo, n)| mapped(lo, n))
}

/// Two `copy_to_user`s, `a` then `b`, with the same results (and the same first error) as
/// two calls, but one mapping check when the two buffers are neighbours.
pub(crate) fn copy_to_user_pair(a: (u64, &[u8]), b: (u64, &[u8])) -> Result<(), Errno> {
    let whole = a.0 != 0 && b.0 != 0 && !a.1.is_empty() && !b.1.is_empty();
    if whole
        && joint_span(a.0, a.1.len() as u64, b.0, b.1.len() as u64)
            .is_some_and(|(lo, n)| mapped(lo, n))
    {
        for (addr, data) in [a, b] {
            // SAFETY: mapped memory of this process (checked together above) that the caller
            // handed over as an output buffer of at least this length; `data` is a model-owned
            // buffer, so they do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr(), addr as usize as *mut u8, data.len())
            };
        }
        return Ok(());
    }
    copy_to_user(a.0, a.1)?;
    copy_to_user(b.0, b.1)
}

/// `sev_pin_memory`: the range must be non-empty, not wrap, and be mapped.
pub(crate) fn pin(addr: u64, len: u64) -> Result<(), Errno> {
    if len == 0 || addr.checked_add(len).is_none() {
        return Err(libc::EINVAL);
    }
    if !mapped(addr, len) {
        return Err(libc::ENOMEM);
    }
    Ok(())
}

/// A zeroed, 16-byte aligned 4 KiB kernel page (the bounce pages of KVM's debug paths).
pub(crate) struct BouncePage(Box<[u128; 256]>);

impl BouncePage {
    pub(crate) fn new() -> BouncePage {
        BouncePage(Box::new([0u128; 256]))
    }
    /// Its address, as the model's "physical" address.
    pub(crate) fn addr(&mut self) -> u64 {
        self.0.as_mut_ptr() as u64
    }
    pub(crate) fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: 256 u128 are 4096 initialised bytes; u8 has no alignment requirement and
        // the borrow is tied to `self`.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), 4096) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_copies_match_single_copies() {
        let mut buf = vec![0u8; 3 * 4096];
        let base = buf.as_mut_ptr() as u64;
        for (i, x) in buf.iter_mut().enumerate() {
            *x = i as u8;
        }
        // Neighbours (a header just before its transport data) and far apart.
        for (a, b) in [
            (base + 10, base + 62),
            (base + 4090, base + 20),
            (base, base + 8192),
        ] {
            let (x, y) = copy_user_blobs((a, 52), (b, 4000)).unwrap();
            assert_eq!(x, copy_user_blob(a, 52).unwrap());
            assert_eq!(y, copy_user_blob(b, 4000).unwrap());
        }
        // The first failing argument decides, as with two calls.
        assert_eq!(copy_user_blobs((base, 0), (0, 5)).err(), Some(libc::EINVAL));
        assert_eq!(copy_user_blobs((0, 5), (base, 5)).err(), Some(libc::EINVAL));
        assert_eq!(
            copy_user_blobs((base, 5), (base, SEV_FW_BLOB_MAX_SIZE + 1)).err(),
            Some(libc::EINVAL)
        );
        let mut out = vec![0u8; 8192];
        let o = out.as_mut_ptr() as u64;
        copy_to_user_pair((o + 4000, &[7u8; 52]), (o + 4052, &[9u8; 100])).unwrap();
        assert!(out[4000..4052].iter().all(|&x| x == 7));
        assert!(out[4052..4152].iter().all(|&x| x == 9));
        assert_eq!(
            copy_to_user_pair((0, &[1u8; 4]), (o, &[1u8; 4])).err(),
            Some(libc::EFAULT)
        );
        copy_to_user_pair((o, &[]), (o + 8, &[3u8; 8])).unwrap();
        assert_eq!(out[8..16], [3u8; 8]);
        assert!(mapped_pair((o + 4000, 52), (o + 4052, 100)));
        assert!(!mapped_pair((o + 4000, 0), (o + 4052, 100)));
        assert!(!mapped_pair((0, 4), (o, 4)));
        // Borrowed views equal the copies; a blob overlapping the range to be written, or
        // far from its neighbour, is copied; errors are those of the copies.
        let clear = (base + 8192, 4096);
        for (a, b, borrowed) in [
            (base + 10, base + 62, true),
            (base + 8000, base + 8052, false),
            (base, base + 8192, false),
        ] {
            // SAFETY: `buf` is not written while the views live.
            let (x, y) = unsafe { user_blobs((a, 52), (b, 4000), clear) }.unwrap();
            assert_eq!(x[..], copy_user_blob(a, 52).unwrap()[..]);
            assert_eq!(y[..], copy_user_blob(b, 4000).unwrap()[..]);
            assert_eq!(matches!(x, Cow::Borrowed(_)), borrowed);
            assert_eq!(matches!(y, Cow::Borrowed(_)), borrowed);
        }
        // SAFETY: as above.
        let e = unsafe { user_blobs((0, 5), (base, 5), clear) }.err();
        assert_eq!(e, Some(libc::EINVAL));
        assert!(disjoint((10, 5), (15, 5)) && !disjoint((10, 6), (15, 5)));
        assert!(disjoint((10, 0), (10, 5)) && disjoint((u64::MAX - 1, 1), (0, 3)));
    }

    #[test]
    fn unmapped_memory_is_refused_like_the_kernel() {
        let v = [1u8; 64];
        assert!(mapped(v.as_ptr() as u64, 64));
        assert_eq!(copy_from_user(v.as_ptr() as u64, 64).unwrap(), v);
        assert_eq!(copy_from_user(0, 4).err(), Some(libc::EFAULT));
        assert_eq!(read_struct::<u64>(0).err(), Some(libc::EFAULT));
        assert_eq!(
            copy_user_blob(v.as_ptr() as u64, 0).err(),
            Some(libc::EINVAL)
        );
        assert_eq!(copy_user_blob(0, 8).err(), Some(libc::EINVAL));
        assert_eq!(
            copy_user_blob(v.as_ptr() as u64, SEV_FW_BLOB_MAX_SIZE + 1).err(),
            Some(libc::EINVAL)
        );
        assert_eq!(pin(v.as_ptr() as u64, 0).err(), Some(libc::EINVAL));
        assert_eq!(pin(u64::MAX - 4, 16).err(), Some(libc::EINVAL));
        // The zero page is never mapped.
        assert_eq!(pin(0, 4096).err(), Some(libc::ENOMEM));
        assert!(pin(v.as_ptr() as u64, 64).is_ok());
        let mut b = BouncePage::new();
        assert_eq!(b.addr() % 16, 0);
        assert!(b.bytes().iter().all(|x| *x == 0));
    }

    #[test]
    fn a_hole_in_a_mapping_is_seen() {
        // SAFETY: a fresh private anonymous mapping of three pages; its middle page is
        // unmapped and the rest unmapped at the end; nothing dereferences it.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                3 * 4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            let a = p as u64;
            assert!(mapped(a + 8, 3 * 4096 - 8));
            assert_eq!(libc::munmap(p.cast::<u8>().add(4096).cast(), 4096), 0);
            assert!(mapped(a, 4096) && mapped(a + 2 * 4096 + 100, 16));
            assert!(!mapped(a + 4000, 200), "a range reaching into the hole");
            assert!(!mapped(a + 4096 + 16, 16), "inside the hole");
            assert!(mapped_mincore(a, 4096) && !mapped_mincore(a, 2 * 4096));
            // The paired copies: neighbours across the hole are refused like single copies.
            assert_eq!(
                copy_user_blobs((a + 4000, 96), (a + 4096, 16)).err(),
                Some(libc::EFAULT)
            );
            assert_eq!(
                copy_to_user_pair((a + 100, &[1; 8]), (a + 4096 + 8, &[2; 8])).err(),
                Some(libc::EFAULT)
            );
            // Nothing writes the mapping while the views would live.
            let e = user_blobs((a + 4000, 96), (a + 4096, 16), (0, 0)).err();
            assert_eq!(e, Some(libc::EFAULT));
            assert!(!mapped_pair((a + 100, 8), (a + 4096 + 8, 8)));
            // Pages 0 and 2 do not touch: checked one by one, both fine.
            let (x, y) = copy_user_blobs((a, 16), (a + 2 * 4096, 16)).unwrap();
            assert_eq!((x.len(), y.len()), (16, 16));
            assert_eq!(pin(a, 3 * 4096).err(), Some(libc::ENOMEM));
            assert_eq!(copy_to_user(a + 4096, &[1]).err(), Some(libc::EFAULT));
            libc::munmap(p, 4096);
            libc::munmap(p.cast::<u8>().add(2 * 4096).cast(), 4096);
        }
    }
}
