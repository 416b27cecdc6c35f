//! Helpers shared by the fuzz targets: a reader that splits the fuzz input into fields, and
//! page-aligned guest memory.
#![allow(dead_code)]

/// Takes fields off the front of the fuzz input; missing bytes read as zero.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }
    pub fn u8(&mut self) -> u8 {
        let (b, rest) = self
            .data
            .split_first()
            .map_or((0, &[][..]), |(b, r)| (*b, r));
        self.data = rest;
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// XOR `mask` into `target`, starting at `offset` (wrapping around).
pub fn xor_into(target: &mut [u8], offset: usize, mask: &[u8]) {
    if target.is_empty() {
        return;
    }
    for (i, m) in mask.iter().enumerate() {
        let j = (offset + i) % target.len();
        target[j] ^= m;
    }
}

/// Page-aligned, zeroed memory that stays put (guest memory for the model).
pub struct Mem {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Mem {
    pub fn new(len: usize) -> Mem {
        let layout = std::alloc::Layout::from_size_align(len, 4096).expect("layout");
        // SAFETY: non-zero size (all callers pass at least a page).
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Mem { ptr, layout }
    }
    pub fn len(&self) -> usize {
        self.layout.size()
    }
    /// A pointer `off` bytes in; `off` is reduced into the buffer.
    pub fn at(&self, off: usize) -> *mut u8 {
        // SAFETY: `off % len` stays inside the allocation.
        unsafe { self.ptr.add(off % self.len()) }
    }
    /// A copy of `n` bytes at `off` (which must lie inside).
    pub fn read(&self, off: usize, n: usize) -> Vec<u8> {
        assert!(off + n <= self.len());
        // SAFETY: inside the allocation, initialised (alloc_zeroed), not written meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), n) }.to_vec()
    }
    /// Write `b` at `off` (which must fit).
    pub fn write(&self, off: usize, b: &[u8]) {
        assert!(off + b.len() <= self.len());
        // SAFETY: inside the allocation; `b` is another allocation.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.ptr.add(off), b.len()) }
    }
    /// The longest range starting at `at(off)` is `len - off % len`.
    pub fn room(&self, off: usize) -> usize {
        self.len() - off % self.len()
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in `new`.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}
