//! The mapping window: physical ranges mapped into kernel virtual space on demand, with a
//! chosen memory type (Linux's `ioremap`/`memremap`). Device registers, `/dev/mem` and
//! its mmap go through here.
//!
//! Every mapping of a physical range made here is in the memory-type registry for as long
//! as it lives (`map_phys_pages`, and the scratch page's `with_phys_page`): a page already
//! mapped with another type is refused (EAGAIN), and a RAM page mapped with a type other
//! than its direct-map alias's re-types that alias for the mapping's life. Frames the
//! kernel owns (`map_frames`, the APs' stacks, the scratch page's parking frame) are
//! mapped write-back: PAT WB defers to the MTRRs exactly as the direct map's default does,
//! so those aliases never differ from the registry's default for RAM.

use alloc::vec::Vec;

use mm_core::memtype::{MemoryType, PageSize};
use mm_core::pte::Attributes;
use spin::Mutex;
use x86_64::structures::paging::PhysFrame;
use x86_64::{PhysAddr, VirtAddr};

use super::layout::{WINDOW_BASE, WINDOW_SIZE};
use super::paging::{self, MapError};
use super::{PAGE_SIZE, memtype, physmap, registry};

/// Free extents of the window, (start, length), sorted by start, never adjacent.
static FREE: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
static INIT: spin::Once<()> = spin::Once::new();

/// A physical range mapped in the window. Unmap it with [`unmap_phys_range`].
#[derive(Debug, PartialEq, Eq)]
pub struct WindowMapping {
    /// The virtual address of `phys`.
    pub va: VirtAddr,
    pub phys: PhysAddr,
    pub len: u64,
    /// The whole pages mapped: [base, base + pages * 4 KiB).
    base: u64,
    pages: u64,
    /// Its pages are in the registry (a physical range, not the caller's own frames).
    registered: bool,
}

impl WindowMapping {
    /// The mapping that [`map_phys_range`] or [`map_phys_pages`] returned for
    /// (`va`, `phys`, `len`), made again from those three numbers, for a caller that had
    /// to keep them instead (the ACPI tables' mapper). Unmapping it is only right for
    /// exactly such a mapping, once.
    pub(super) fn rebuild(va: VirtAddr, phys: PhysAddr, len: u64) -> Self {
        let first = phys.as_u64() & !(PAGE_SIZE - 1);
        let pages = (phys.as_u64() + len).next_multiple_of(PAGE_SIZE).saturating_sub(first) / PAGE_SIZE;
        Self { va, phys, len, base: va.as_u64() & !(PAGE_SIZE - 1), pages, registered: true }
    }
}

fn free_list() -> spin::MutexGuard<'static, Vec<(u64, u64)>> {
    INIT.call_once(|| FREE.lock().push((WINDOW_BASE, WINDOW_SIZE)));
    FREE.lock()
}

/// A window address as a `VirtAddr` (the window lies in the kernel half: canonical).
fn window_va(va: u64) -> VirtAddr {
    VirtAddr::new(va)
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
    // Back to one free extent: give the list's spare room back to the heap.
    if free.len() == 1 {
        free.shrink_to_fit();
    }
}

/// Maps the physical range [phys, phys+len) with memory type `memtype`, kernel
/// read-write and not executable, followed by an unmapped guard page.
pub fn map_phys_range(phys: PhysAddr, len: u64, memtype: MemoryType) -> Result<WindowMapping, MapError> {
    map_phys_pages(phys, len, true, |_| memtype)
}

/// Maps [phys, phys+len) page by page, each page with the type `type_of(page address)`,
/// writable or read-only, never executable, followed by an unmapped guard page. Each page
/// is registered with its type first: `TypeConflict` (EAGAIN) if one is mapped with
/// another type already, and nothing is mapped. A failure undoes everything.
pub fn map_phys_pages(
    phys: PhysAddr,
    len: u64,
    writable: bool,
    type_of: impl Fn(PhysAddr) -> MemoryType,
) -> Result<WindowMapping, MapError> {
    let limit = 1u64 << physmap::max_phys_addr_bits();
    let end =
        phys.as_u64().checked_add(len).filter(|&end| len > 0 && end <= limit).ok_or(MapError::Unaligned)?;
    let first = phys.align_down(PAGE_SIZE);
    let pages = (end.next_multiple_of(PAGE_SIZE) - first.as_u64()) / PAGE_SIZE;
    registry::reserve(first, pages * PAGE_SIZE, &type_of).map_err(|_| MapError::TypeConflict)?;
    // The direct map's RAM pages take the registered type before the new alias exists.
    memtype::sync_direct_map_range(first, pages * PAGE_SIZE);
    let mapped = map_pages(pages, writable, |page| {
        let frame = first + page * PAGE_SIZE;
        (frame, type_of(frame))
    });
    let base = match mapped {
        Ok(base) => base,
        Err(error) => {
            registry::release(first, pages * PAGE_SIZE);
            memtype::sync_direct_map_range(first, pages * PAGE_SIZE);
            return Err(error);
        }
    };
    Ok(WindowMapping { va: window_va(base + (phys - first)), phys, len, base, pages, registered: true })
}

/// Maps `frames`, frames the caller took from `frames::allocate`, at consecutive
/// addresses, kernel read-write and write-back (as their direct-map aliases), followed by
/// an unmapped guard page. The mapping's `phys` is the first frame; unmap it with
/// [`unmap_phys_range`] (the frames stay the caller's).
pub fn map_frames(frames: &[PhysFrame]) -> Result<WindowMapping, MapError> {
    let pages = frames.len() as u64;
    let first = frames.first().ok_or(MapError::Unaligned)?.start_address();
    let base = map_pages(pages, true, |page| (frames[page as usize].start_address(), MemoryType::WriteBack))?;
    Ok(WindowMapping {
        va: window_va(base),
        phys: first,
        len: pages * PAGE_SIZE,
        base,
        pages,
        registered: false,
    })
}

/// A kernel stack for another CPU: `pages` fresh zeroed frames mapped write-back in the
/// window, between two unmapped guard pages (an overflow faults instead of writing over
/// whatever lies below). Returns the top (16-byte aligned). Never freed: a CPU's stack
/// lives as long as the kernel.
pub fn allocate_stack(pages: u64) -> Result<VirtAddr, MapError> {
    // Guard, stack, guard.
    let bytes = (pages + 2) * PAGE_SIZE;
    let base = allocate_va(bytes).ok_or(MapError::OutOfFrames)?;
    let attributes = Attributes { global: true, writable: true, ..Attributes::KERNEL_DATA };
    let mut mapped = Vec::new();
    let mut result = Ok(());
    for page in 1..=pages {
        let va = window_va(base + page * PAGE_SIZE);
        let Some(frame) = super::frames::allocate_zeroed() else {
            result = Err(MapError::OutOfFrames);
            break;
        };
        // SAFETY: the addresses were just taken from the window's free list, so nothing
        // uses them; the frame was just allocated, so nothing else uses it either.
        match unsafe {
            paging::map(
                va,
                frame.start_address(),
                PageSize::Size4K,
                attributes.with_memtype(MemoryType::WriteBack),
            )
        } {
            Ok(()) => mapped.push((va, frame)),
            Err(error) => {
                let _ = super::frames::free(frame);
                result = Err(error);
                break;
            }
        }
    }
    if let Err(error) = result {
        for (va, frame) in mapped {
            // SAFETY: mapped just above and not handed to anyone.
            let _ = unsafe { paging::unmap(va, PageSize::Size4K) };
            let _ = super::frames::free(frame);
        }
        release_va(base, bytes);
        return Err(error);
    }
    Ok(window_va(base + (pages + 1) * PAGE_SIZE))
}

/// Takes addresses for `pages` pages and a guard page, and maps page `i` to the frame
/// and type `frame_of(i)` gives. Returns the base; a failure undoes everything.
fn map_pages(
    pages: u64,
    writable: bool,
    frame_of: impl Fn(u64) -> (PhysAddr, MemoryType),
) -> Result<u64, MapError> {
    let base = allocate_va((pages + 1) * PAGE_SIZE).ok_or(MapError::OutOfFrames)?;
    let attributes = Attributes { global: true, writable, ..Attributes::KERNEL_DATA };
    for page in 0..pages {
        let (frame, memtype) = frame_of(page);
        // SAFETY: the addresses were just taken from the window's free list, so nothing
        // uses them; the frames and types are the caller's (`map_phys_range` maps device
        // memory and holes with the type memrange and the rules give, `map_frames` frames
        // it was handed).
        let mapped = unsafe {
            paging::map(
                window_va(base + page * PAGE_SIZE),
                frame,
                PageSize::Size4K,
                attributes.with_memtype(memtype),
            )
        };
        if let Err(error) = mapped {
            for done in 0..page {
                // SAFETY: mapped just above and not yet handed to anyone.
                let _ = unsafe { paging::unmap(window_va(base + done * PAGE_SIZE), PageSize::Size4K) };
            }
            release_va(base, (pages + 1) * PAGE_SIZE);
            return Err(error);
        }
    }
    Ok(base)
}

/// Unmaps a range mapped by [`map_phys_range`], [`map_phys_pages`] or [`map_frames`],
/// takes its pages out of the registry and gives its addresses back.
pub fn unmap_phys_range(mapping: WindowMapping) {
    for page in 0..mapping.pages {
        // SAFETY: every page was mapped by map_phys_range and is unmapped only here; the
        // WindowMapping is consumed, so no user of it is left.
        let _ = unsafe { paging::unmap(window_va(mapping.base + page * PAGE_SIZE), PageSize::Size4K) };
    }
    if mapping.registered {
        let first = mapping.phys.align_down(PAGE_SIZE);
        registry::release(first, mapping.pages * PAGE_SIZE);
        memtype::sync_direct_map_range(first, mapping.pages * PAGE_SIZE);
    }
    release_va(mapping.base, (mapping.pages + 1) * PAGE_SIZE);
}

/// Bytes of the window not in use, for tests and reports.
pub fn free_bytes() -> u64 {
    free_list().iter().map(|&(_, len)| len).sum()
}

/// A page of the window kept for short accesses to device memory: its page tables stay,
/// so each use is one PTE write and one INVLPG instead of a map and an unmap. Between
/// uses it maps a frame of its own (never left empty, so `unmap` elsewhere cannot free
/// its page table, and never left pointing at a device).
static SCRATCH: Mutex<Option<(VirtAddr, PhysFrame)>> = Mutex::new(None);

/// Sets up the scratch page at boot, so that its frame and page table are part of the
/// kernel's baseline rather than appearing at the first device access.
pub(super) fn init() {
    let _ = with_phys_page(PhysAddr::zero(), MemoryType::WriteBack, |_| ());
}

/// Runs `f` with the physical page holding `phys` mapped at the address it is given
/// (the address of `phys` itself, not of its page), kernel read-write. The page is in the
/// registry while it is mapped, with the type its live mappings already have; with none,
/// the type of its direct-map alias for RAM, else `default` (the type the caller's rules
/// give). The page is parked again before this returns.
pub fn with_phys_page<R>(
    phys: PhysAddr,
    default: MemoryType,
    f: impl FnOnce(VirtAddr) -> R,
) -> Result<R, MapError> {
    let page = phys.align_down(PAGE_SIZE);
    let default = if physmap::map().page_is_ram(page.as_u64()) {
        super::query::query(super::phys_to_virt(page)).map_or(default, |direct| direct.memtype)
    } else {
        default
    };
    let memtype = registry::reserve_page(page, default);
    let result = with_scratch_page(phys, memtype, f);
    registry::release(page, PAGE_SIZE);
    result
}

/// [`with_phys_page`]'s mapping, once the page's type is registered.
fn with_scratch_page<R>(
    phys: PhysAddr,
    memtype: MemoryType,
    f: impl FnOnce(VirtAddr) -> R,
) -> Result<R, MapError> {
    let mut scratch = SCRATCH.lock();
    let (va, parking) = match *scratch {
        Some(pair) => pair,
        None => {
            let parking = super::frames::allocate_zeroed().ok_or(MapError::OutOfFrames)?;
            let va = window_va(allocate_va(2 * PAGE_SIZE).ok_or(MapError::OutOfFrames)?);
            // SAFETY: fresh window addresses; the parking frame was just allocated.
            unsafe { paging::map(va, parking.start_address(), PageSize::Size4K, Attributes::KERNEL_DATA)? };
            *scratch.insert((va, parking))
        }
    };
    let attributes = Attributes { global: false, ..Attributes::KERNEL_DATA }.with_memtype(memtype);
    // SAFETY: the scratch page is ours while SCRATCH is locked and `f` has not run, so
    // nothing uses what it mapped. The type is the caller's (see `with_phys_page`).
    unsafe { paging::remap_4k(va, Some((phys, attributes)))? };
    let result = f(va + (phys.as_u64() & (PAGE_SIZE - 1)));
    // SAFETY: `f` has returned; its address is not used after it (it gets an address,
    // not a reference, and the closure's lifetime ends here). The parking frame is the
    // scratch page's own.
    unsafe { paging::remap_4k(va, Some((parking.start_address(), Attributes::KERNEL_DATA)))? };
    Ok(result)
}

#[cfg(test)]
mod tests {
    use core::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::arch::smp;
    use crate::ktest::ktest;

    static RSP: [AtomicU64; smp::MAX_CPUS] = [const { AtomicU64::new(0) }; smp::MAX_CPUS];

    fn report_rsp(_: u64) {
        let rsp: u64;
        // SAFETY: reads the stack pointer into a register; nothing else.
        unsafe { core::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags)) };
        RSP[smp::current_cpu()].store(rsp, Ordering::Relaxed);
    }

    #[ktest]
    fn each_ap_runs_on_its_own_stack_between_guard_pages() {
        assert_eq!(smp::call_on_others(report_rsp, 0), smp::CpuSet::EMPTY);
        let size = smp::AP_STACK_PAGES * PAGE_SIZE;
        let mut tops = Vec::new();
        for cpu in smp::online_cpus().iter().filter(|&cpu| cpu != smp::current_cpu()) {
            let top = smp::ap_stack_top(cpu).expect("an online AP has a stack");
            let translate = |va: u64| paging::translate(VirtAddr::new(va));
            let rsp = RSP[cpu].load(Ordering::Relaxed);
            assert!((top - size..top).contains(&rsp), "cpu {cpu}: RSP {rsp:#x} outside {top:#x}");
            assert!(translate(top - size).is_some() && translate(top - 8).is_some());
            assert!(translate(top - size - 1).is_none(), "cpu {cpu}: no guard page below");
            assert!(translate(top).is_none(), "cpu {cpu}: no guard page above");
            assert!(!tops.contains(&top));
            tops.push(top);
        }
        assert_eq!(tops.len(), smp::cpu_count() - 1);
    }
}
