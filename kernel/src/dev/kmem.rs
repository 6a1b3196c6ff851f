//! /dev/kmem and /dev/allkmem: the offset is a kernel virtual address (docs/devices.md).
//!
//! Non-canonical or unmapped: EFAULT. A page that maps device memory: EIO on kmem (as
//! illumos does); allkmem reads and writes it with naturally aligned accesses, like
//! /dev/mem. Writing a read-only page: EFAULT (write protection is never bypassed). A
//! fault during a copy is EFAULT, never a panic. mmap: ENXIO.

use errno::{Errno, KResult};
use vfs_core::transfer::{page_chunks, partial};

use super::access::{Direction, device_transfer};

use crate::mm::{PhysAddr, VirtAddr, query};
use crate::vfs::UserBuf;
use crate::vfs::ops::{Caller, FileOps, Mapping, SeekPolicy};

pub struct Kmem {
    /// allkmem: device pages are allowed.
    pub device_pages: bool,
}

impl Kmem {
    fn transfer(&self, offset: u64, buf: UserBuf<'_>, write: bool) -> KResult<usize> {
        let mut moved = 0;
        for (va, len) in page_chunks(offset, buf.len()) {
            // A non-canonical offset names no kernel address: EFAULT, as an unmapped one.
            let Ok(va) = VirtAddr::try_new(va) else { return partial(moved, Errno::EFAULT) };
            let Some(page) = query::query(va) else { return partial(moved, Errno::EFAULT) };
            if write && (!page.writable || is_kernel_read_only(page.phys, len)) {
                return partial(moved, Errno::EFAULT);
            }
            let done = if page.ram {
                let result = if write {
                    // SAFETY: a /dev/kmem write: only uid 0 opens kmem for writing (the
                    // driver's open check), the page is mapped writable and not a frame
                    // of the kernel's read-only segments (checked above): the request
                    // asked to change exactly this kernel memory.
                    #[allow(unsafe_code)]
                    unsafe {
                        buf.copy_to_kernel(moved, va, len)
                    }
                } else {
                    buf.copy_from_kernel(moved, va, len)
                };
                match result {
                    Ok(()) => len,
                    Err(fault) => fault.copied,
                }
            } else if self.device_pages {
                device_transfer(va, len, &buf, moved, if write { Direction::Write } else { Direction::Read })
            } else {
                return partial(moved, Errno::EIO);
            };
            moved += done;
            if done < len {
                return partial(moved, Errno::EFAULT);
            }
        }
        Ok(moved)
    }
}

/// Whether [phys, phys+len) touches the kernel image's code or read-only data: those
/// frames stay read-only through every alias (the direct map maps them writable).
fn is_kernel_read_only(phys: PhysAddr, len: usize) -> bool {
    use mm_core::physmap::KernelSection;
    let phys = phys.as_u64();
    let end = phys.saturating_add(len as u64);
    crate::mm::physmap::map().sections().iter().any(|s| {
        matches!(s.section, KernelSection::Code | KernelSection::Rodata) && s.start < end && phys < s.end
    })
}

impl FileOps for Kmem {
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        self.transfer(offset, buf, false)
    }

    fn write(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        self.transfer(offset, buf, true)
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Memory
    }

    fn unsigned_offsets(&self) -> bool {
        true
    }

    fn mmap(&self, _: u64, _: u64, _: u32, _: u32, _: &Caller) -> KResult<Mapping> {
        Err(Errno::ENXIO)
    }
}
