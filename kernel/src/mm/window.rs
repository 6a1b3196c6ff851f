//! The mapping window: physical ranges mapped into kernel virtual space on demand, with a
//! chosen memory type (Linux's `ioremap`/`memremap`). Device registers, `/dev/mem` and
//! its mmap go through here.

use alloc::vec::Vec;

use mm_core::memtype::{MemoryType, PageSize};
use mm_core::pte::Attributes;
use spin::Mutex;

use super::layout::{WINDOW_BASE, WINDOW_SIZE};
use super::paging::{self, MapError};
use super::{PAGE_SIZE, physmap};

/// Free extents of the window, (start, length), sorted by start, never adjacent.
static FREE: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
static INIT: spin::Once<()> = spin::Once::new();

/// A physical range mapped in the window. Unmap it with [`unmap_phys_range`].
#[derive(Debug, PartialEq, Eq)]
pub struct WindowMapping {
    /// The virtual address of `phys`.
    pub va: u64,
    pub phys: u64,
    pub len: u64,
    /// The whole pages mapped: [base, base + pages * 4 KiB).
    base: u64,
    pages: u64,
}

fn free_list() -> spin::MutexGuard<'static, Vec<(u64, u64)>> {
    INIT.call_once(|| FREE.lock().push((WINDOW_BASE, WINDOW_SIZE)));
    FREE.lock()
}

/// First fit; `bytes` is a multiple of the page size.
fn allocate_va(bytes: u64) -> Option<u64> {
    let mut free = free_list();
    let index = free.iter().position(|&(_, len)| len >= bytes)?;
    let (start, len) = free[index];
    if len == bytes {
        free.remove(index);
    } else {
        free[index] = (start + bytes, len - bytes);
    }
    Some(start)
}

fn release_va(start: u64, bytes: u64) {
    let mut free = free_list();
    let index = free.partition_point(|&(s, _)| s < start);
    free.insert(index, (start, bytes));
    // Merge with the next extent, then with the previous one.
    if index + 1 < free.len() && free[index].0 + free[index].1 == free[index + 1].0 {
        free[index].1 += free[index + 1].1;
        free.remove(index + 1);
    }
    if index > 0 && free[index - 1].0 + free[index - 1].1 == free[index].0 {
        free[index - 1].1 += free[index].1;
        free.remove(index);
    }
}

/// Maps the physical range [phys, phys+len) with memory type `memtype`, kernel
/// read-write and not executable, followed by an unmapped guard page.
pub fn map_phys_range(phys: u64, len: u64, memtype: MemoryType) -> Result<WindowMapping, MapError> {
    map_phys_pages(phys, len, true, |_| memtype)
}

/// Maps [phys, phys+len) page by page, each page with the type `type_of(page address)`,
/// writable or read-only, never executable, followed by an unmapped guard page. A
/// failure unmaps whatever was mapped.
pub fn map_phys_pages(
    phys: u64,
    len: u64,
    writable: bool,
    type_of: impl Fn(u64) -> MemoryType,
) -> Result<WindowMapping, MapError> {
    let limit = 1u64 << physmap::max_phys_addr_bits();
    let end = phys.checked_add(len).filter(|&end| len > 0 && end <= limit).ok_or(MapError::Unaligned)?;
    let first = phys & !(PAGE_SIZE - 1);
    let pages = (end.next_multiple_of(PAGE_SIZE) - first) / PAGE_SIZE;
    let base = allocate_va((pages + 1) * PAGE_SIZE).ok_or(MapError::OutOfFrames)?;
    let attributes = Attributes { global: true, writable, ..Attributes::KERNEL_DATA };
    for page in 0..pages {
        let frame = first + page * PAGE_SIZE;
        let mapped = paging::map(
            base + page * PAGE_SIZE,
            frame,
            PageSize::Size4K,
            attributes.with_memtype(type_of(frame)),
        );
        if let Err(error) = mapped {
            // Undo what was mapped so that a failure leaves nothing behind.
            for done in 0..page {
                let _ = paging::unmap(base + done * PAGE_SIZE, PageSize::Size4K);
            }
            release_va(base, (pages + 1) * PAGE_SIZE);
            return Err(error);
        }
    }
    Ok(WindowMapping { va: base + (phys - first), phys, len, base, pages })
}

/// Unmaps a range mapped by [`map_phys_range`] and gives its addresses back.
pub fn unmap_phys_range(mapping: WindowMapping) {
    for page in 0..mapping.pages {
        // Every page was mapped by map_phys_range and is unmapped only here.
        let _ = paging::unmap(mapping.base + page * PAGE_SIZE, PageSize::Size4K);
    }
    release_va(mapping.base, (mapping.pages + 1) * PAGE_SIZE);
}

/// Bytes of the window not in use, for tests and reports.
pub fn free_bytes() -> u64 {
    free_list().iter().map(|&(_, len)| len).sum()
}
