//! Buffers that cross the file API: an address and a length, never a Rust slice, copied
//! with fault-safe copies. A bad address gives `EFAULT`, not a crash, so ring-3 programs
//! can later pass their pointers to every driver unchanged.

use core::marker::PhantomData;

use errno::{Errno, KResult};

use crate::arch::usermode::USER_END;
use crate::mm::VirtAddr;
pub use crate::mm::nofault::Width;
use crate::mm::nofault::{self, Fault};

/// The addresses a context's buffers must lie in (Linux's `access_ok`): part of the lower
/// half, where no Rust object of the kernel ever lives, so any buffer in it may be
/// written. The shell, a trusted kernel caller, has none (see `Context::new`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSpace {
    start: u64,
    end: u64,
}

impl UserSpace {
    /// The whole lower half: a process's buffers.
    pub const LOWER_HALF: Self = Self { start: 0, end: USER_END };

    /// A space anywhere, for the fuzzer's arena in the kernel's window.
    ///
    /// # Safety
    ///
    /// Every mapped byte of [start, end) is memory the caller owns and lets drivers write
    /// for as long as contexts with this space live (no Rust reference into it).
    #[cfg(any(test, feature = "fuzz"))]
    #[allow(unsafe_code)]
    pub const unsafe fn new_unchecked(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// EFAULT unless [addr, addr+len) lies in this space.
    fn check(&self, addr: u64, len: usize) -> KResult<()> {
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        if addr >= self.start && end <= self.end { Ok(()) } else { Err(Errno::EFAULT) }
    }

    /// The buffer [addr, addr+len) if it lies in this space; EFAULT otherwise.
    pub fn buffer(&self, addr: u64, len: usize) -> KResult<UserBuf<'static>> {
        self.check(addr, len)?;
        // SAFETY: [addr, addr+len) lies in this space: the lower half (LOWER_HALF, the only
        // space safe code can name), where the kernel keeps no Rust object, so whatever is
        // mapped there is a process's memory (or nothing), which its owner lets the kernel
        // write; or the fuzzer's arena (`new_unchecked`'s contract).
        #[allow(unsafe_code)]
        Ok(unsafe { UserBuf::from_raw(addr, len) })
    }
}

/// EFAULT unless `buf` lies in `space` (always fine without one).
pub fn check_user_space(space: Option<UserSpace>, buf: &UserBuf<'_>) -> KResult<()> {
    space.map_or(Ok(()), |space| space.check(buf.addr(), buf.len()))
}

/// A caller's buffer: `len` bytes at `addr` in the current address space.
#[derive(Clone, Copy, Debug)]
pub struct UserBuf<'a> {
    addr: u64,
    len: usize,
    /// False for a buffer made from a shared slice: drivers may only read it.
    writable: bool,
    /// Ties a buffer made from a slice to the slice's borrow.
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> UserBuf<'a> {
    /// A buffer at any address, as a system call would receive it: it may be unmapped,
    /// and drivers may write it.
    ///
    /// # Safety
    ///
    /// Every mapped byte of [addr, addr+len) must be memory the caller lets drivers write
    /// for as long as the buffer is used: its own memory with no Rust reference to it
    /// live, or a lower-half (process) address (see [`UserSpace::buffer`], the safe way
    /// to make those).
    #[allow(unsafe_code)]
    pub const unsafe fn from_raw(addr: u64, len: usize) -> UserBuf<'static> {
        UserBuf { addr, len, writable: true, _borrow: PhantomData }
    }

    /// A buffer the driver fills (for `read`).
    pub fn from_mut_slice(slice: &'a mut [u8]) -> Self {
        Self { addr: slice.as_mut_ptr() as u64, len: slice.len(), writable: true, _borrow: PhantomData }
    }

    /// A buffer the driver reads (for `write`). Writing into it is refused (EFAULT, as a
    /// read-only page would be), so data behind the shared reference never changes.
    pub fn from_slice(slice: &'a [u8]) -> Self {
        Self { addr: slice.as_ptr() as u64, len: slice.len(), writable: false, _borrow: PhantomData }
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

    /// The address of [offset, offset+len) in the buffer; EFAULT if that is outside it
    /// or not a canonical address.
    fn at(&self, offset: usize, len: usize) -> KResult<VirtAddr> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => {
                VirtAddr::try_new(self.addr.wrapping_add(offset as u64)).map_err(|_| Errno::EFAULT)
            }
            _ => Err(Errno::EFAULT),
        }
    }

    /// As [`Self::at`], for a write into the buffer: EFAULT for a read-only buffer too.
    fn at_for_write(&self, offset: usize, len: usize) -> KResult<VirtAddr> {
        if !self.writable {
            return Err(Errno::EFAULT);
        }
        self.at(offset, len)
    }

    /// Copies `dst.len()` bytes from the buffer at `offset` into kernel memory.
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> KResult<()> {
        let src = self.at(offset, dst.len())?;
        nofault::read_kernel(src, dst).map_err(Errno::from)
    }

    /// Copies `src` into the buffer at `offset`.
    pub fn write_at(&self, offset: usize, src: &[u8]) -> KResult<()> {
        let dst = self.at_for_write(offset, src.len())?;
        // SAFETY: [dst, dst+len) lies in this buffer (checked by `at`), which is writable
        // (checked by `at_for_write`): made from a `&mut [u8]`, or by `from_raw`, whose
        // caller promised drivers may write it.
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
        let at = self.at_for_write(offset, width.bytes())?;
        // SAFETY: as in `write_at`: the value lies in this writable buffer.
        #[allow(unsafe_code)]
        let written = unsafe { nofault::write_width(at, width, value) };
        if written { Ok(()) } else { Err(Errno::EFAULT) }
    }

    /// Copies `len` bytes from kernel virtual address `src` into the buffer at `offset`;
    /// either side may fault.
    pub fn copy_from_kernel(&self, offset: usize, src: VirtAddr, len: usize) -> Result<(), Fault> {
        let dst = self.at_for_write(offset, len).map_err(|_| Fault { copied: 0 })?;
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
    pub unsafe fn copy_to_kernel(&self, offset: usize, dst: VirtAddr, len: usize) -> Result<(), Fault> {
        let src = self.at(offset, len).map_err(|_| Fault { copied: 0 })?;
        // SAFETY: the caller may write [dst, dst+len) (this function's contract); the
        // source is this buffer's own bytes.
        unsafe { nofault::copy_kernel(dst, src, len) }?;
        Ok(())
    }
}
