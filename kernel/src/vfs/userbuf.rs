//! Buffers that cross the file API: an address and a length, never a Rust slice, copied
//! with fault-safe copies. A bad address gives `EFAULT`, not a crash, so ring-3 programs
//! can later pass their pointers to every driver unchanged.

use core::marker::PhantomData;

use errno::{Errno, KResult};

pub use crate::mm::nofault::Width;
use crate::mm::nofault::{self, Fault};

/// The addresses a context's buffers must lie in (Linux's `access_ok`): set for callers
/// that must not name kernel memory. The shell, a trusted kernel caller, has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSpace {
    pub start: u64,
    pub end: u64,
}

/// EFAULT unless `buf` lies in `space` (always fine without one).
pub fn check_user_space(space: Option<UserSpace>, buf: &UserBuf<'_>) -> KResult<()> {
    let Some(space) = space else { return Ok(()) };
    let end = buf.addr().checked_add(buf.len() as u64).ok_or(Errno::EFAULT)?;
    if buf.addr() >= space.start && end <= space.end { Ok(()) } else { Err(Errno::EFAULT) }
}

/// A caller's buffer: `len` bytes at `addr` in the current address space.
#[derive(Clone, Copy, Debug)]
pub struct UserBuf<'a> {
    addr: u64,
    len: usize,
    /// Ties a buffer made from a slice to the slice's borrow.
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> UserBuf<'a> {
    /// A buffer at any address, as a system call would receive it: it may be unmapped.
    pub const fn from_raw(addr: u64, len: usize) -> UserBuf<'static> {
        UserBuf { addr, len, _borrow: PhantomData }
    }

    /// A buffer the driver fills (for `read`).
    pub fn from_mut_slice(slice: &'a mut [u8]) -> Self {
        Self { addr: slice.as_mut_ptr() as u64, len: slice.len(), _borrow: PhantomData }
    }

    /// A buffer the driver reads (for `write`). Drivers only read from it: writing to
    /// it fails like writing to a read-only page would, unless the memory is writable.
    pub fn from_slice(slice: &'a [u8]) -> Self {
        Self { addr: slice.as_ptr() as u64, len: slice.len(), _borrow: PhantomData }
    }

    pub const fn addr(&self) -> u64 {
        self.addr
    }

    pub const fn len(&self) -> usize {
        self.len
    }

    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `len` bytes (or all of it, if shorter).
    pub fn prefix(&self, len: usize) -> Self {
        Self { len: len.min(self.len), ..*self }
    }

    fn at(&self, offset: usize, len: usize) -> KResult<u64> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(self.addr.wrapping_add(offset as u64)),
            _ => Err(Errno::EFAULT),
        }
    }

    /// Copies `dst.len()` bytes from the buffer at `offset` into kernel memory.
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> KResult<()> {
        let src = self.at(offset, dst.len())?;
        nofault::read_kernel(src, dst).map_err(Errno::from)
    }

    /// Copies `src` into the buffer at `offset`.
    pub fn write_at(&self, offset: usize, src: &[u8]) -> KResult<()> {
        let dst = self.at(offset, src.len())?;
        // SAFETY: [dst, dst+len) lies in this buffer (checked by `at`), which its
        // constructor took as writable memory of the caller (see `UserBuf`'s docs).
        #[allow(unsafe_code)]
        let written = unsafe { nofault::write_kernel(dst, src) };
        written.map_err(Errno::from)
    }

    /// Loads one naturally aligned value of `width` at `offset` with a single access of
    /// that width (Linux's `get_user`; what a register mapped with mmap needs). EFAULT
    /// when out of the buffer, misaligned or unmapped.
    pub fn read_value(&self, offset: usize, width: Width) -> KResult<u64> {
        let at = self.at(offset, width.bytes())?;
        nofault::read_width(at, width).ok_or(Errno::EFAULT)
    }

    /// Stores the low `width` bytes of `value` at `offset` with one access (`put_user`).
    pub fn write_value(&self, offset: usize, width: Width, value: u64) -> KResult<()> {
        let at = self.at(offset, width.bytes())?;
        // SAFETY: as in `write_at`: the value lies in this writable buffer.
        #[allow(unsafe_code)]
        let written = unsafe { nofault::write_width(at, width, value) };
        if written { Ok(()) } else { Err(Errno::EFAULT) }
    }

    /// Copies `len` bytes from kernel virtual address `src` into the buffer at `offset`;
    /// either side may fault.
    pub fn copy_from_kernel(&self, offset: usize, src: u64, len: usize) -> Result<(), Fault> {
        let dst = self.at(offset, len).map_err(|_| Fault { copied: 0 })?;
        // SAFETY: as in `write_at`: the destination lies in this writable buffer.
        #[allow(unsafe_code)]
        unsafe { nofault::copy_kernel(dst, src, len) }?;
        Ok(())
    }

    /// Copies `len` bytes from the buffer at `offset` to kernel virtual address `dst`.
    ///
    /// # Safety
    ///
    /// The caller may write every mapped byte of [dst, dst+len), as for
    /// [`nofault::copy_kernel`]: a buffer it owns, or kernel memory that a request it has
    /// checked as privileged asked to change (a /dev/mem write of an allowed RAM page, a
    /// /dev/kmem write by uid 0).
    #[allow(unsafe_code)]
    pub unsafe fn copy_to_kernel(&self, offset: usize, dst: u64, len: usize) -> Result<(), Fault> {
        let src = self.at(offset, len).map_err(|_| Fault { copied: 0 })?;
        // SAFETY: the caller may write [dst, dst+len) (this function's contract); the
        // source is this buffer's own bytes.
        unsafe { nofault::copy_kernel(dst, src, len) }?;
        Ok(())
    }
}
