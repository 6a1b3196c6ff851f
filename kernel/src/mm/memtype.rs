//! The memory-type authority, the counterpart of Linux's `arch/x86/mm/pat/memtype.c`: the
//! one place that knows which type each physical page is mapped with, and that changes it.
//!
//! It owns the types memrange set (by range), every live /dev/mem mapping (with the
//! per-page counts of `registry`), and re-typing: when memrange changes a range, the
//! direct map's pages of it and every live mapping of it take the type the rules now give.
//! The rules themselves (which type a /dev/mem mapping of a page gets) are the driver's:
//! it registers them with [`set_mmap_rules`], so this module calls nothing above mm.
//!
//! Invariants (docs/devices.md, "/dev/mem" and "memrange"):
//! - no page is mapped with two types: a RAM page mapped with another type re-types its
//!   direct-map alias for the mapping's life ([`sync_direct_map`], Linux's
//!   `kernel_map_sync_memtype`); any other conflict is refused (EAGAIN, by `registry`);
//! - the direct map covers System RAM only (`mm::direct_map`).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use mm_core::memtype::MemoryType;
use mm_core::physmap::RegionKind;
use spin::{Mutex, Once};
use x86_64::{PhysAddr, VirtAddr};

use super::{paging, phys_to_virt, physmap, registry};

/// A live mmap of /dev/mem, for re-typing when memrange changes a range's type.
#[derive(Clone, Copy, Debug)]
pub struct MmapRecord {
    pub phys: PhysAddr,
    pub len: u64,
    /// The virtual address of `phys`.
    pub va: VirtAddr,
    /// Opened with O_SYNC: the rules give uncached types.
    pub opened_sync: bool,
    /// Made for a user (a process, or a context that checks buffers as a process's):
    /// such a mapping makes the memrange ranges it overlaps busy.
    pub user: bool,
}

/// The types a /dev/mem mapping of `pages` pages from `first` gets under the driver's
/// rules (`opened_sync` for an O_SYNC open); `None` for a page it may not map.
pub type MmapRules = fn(first: PhysAddr, pages: u64, opened_sync: bool) -> Vec<Option<MemoryType>>;

static RULES: Once<MmapRules> = Once::new();

/// Types set with MEMRANGE_SET (or /proc/mtrr), by range: (base, len, type).
static SET_TYPES: Mutex<Vec<(u64, u64, MemoryType)>> = Mutex::new(Vec::new());

/// The types memrange set, as [`saved_set_types`] took them, to put back with
/// [`restore_set_types`].
#[derive(Debug)]
pub struct SavedSetTypes(Vec<(u64, u64, MemoryType)>);

static MMAPS: Mutex<Vec<MmapRecord>> = Mutex::new(Vec::new());

/// How many times memrange re-typed mappings: a process compares it with the count it
/// last saw and re-types its own aliases of /dev/mem mmaps when it changed.
static RETYPES: AtomicU64 = AtomicU64::new(0);

/// Called once by the /dev/mem driver: the rules its mappings' types follow.
pub fn set_mmap_rules(rules: MmapRules) {
    RULES.call_once(|| rules);
}

/// The number of re-typings so far (see [`retype_range`]).
pub fn retype_count() -> u64 {
    RETYPES.load(Ordering::SeqCst)
}

/// The type memrange set for the page holding `phys`, if any (the last SET wins).
pub fn set_type_at(phys: PhysAddr) -> Option<MemoryType> {
    let phys = phys.as_u64();
    SET_TYPES
        .lock()
        .iter()
        .rev()
        .find(|&&(base, len, _)| phys >= base && phys - base < len)
        .map(|&(_, _, t)| t)
}

/// The set types as they are, to put back with [`restore_set_types`] if a commit fails.
pub fn saved_set_types() -> SavedSetTypes {
    SavedSetTypes(SET_TYPES.lock().clone())
}

/// Puts back what [`saved_set_types`] returned.
pub fn restore_set_types(saved: SavedSetTypes) {
    *SET_TYPES.lock() = saved.0;
}

/// Records that memrange set [base, base+len) to `memtype` (`None`: removed).
pub fn record_set(base: PhysAddr, len: u64, memtype: Option<MemoryType>) {
    let base = base.as_u64();
    let mut set_types = SET_TYPES.lock();
    set_types.retain(|&(b, l, _)| !(b == base && l == len));
    if let Some(memtype) = memtype {
        set_types.push((base, len, memtype));
    } else if set_types.is_empty() {
        *set_types = Vec::new();
    }
}

/// Heap bytes held for the types memrange set: kernel state that lives as long as the
/// ranges do (the fuzzer leaves it out of its heap baseline).
pub fn retained_heap_bytes() -> usize {
    SET_TYPES.lock().capacity() * size_of::<(u64, u64, MemoryType)>()
}

/// Records a live /dev/mem mapping, made by `window::map_phys_pages` (which registered
/// it and re-typed the direct map's alias of its RAM pages), for re-typing.
pub fn add_mmap(record: MmapRecord) {
    MMAPS.lock().push(record);
}

/// Forgets the mapping `record`, then runs `unmap` (`window::unmap_phys_range`, which takes
/// it out of the page tables and of `registry` and gives the direct map's alias of its RAM
/// pages back the type the remaining mappings leave it).
pub fn remove_mmap(record: &MmapRecord, unmap: impl FnOnce()) {
    let mut mmaps = MMAPS.lock();
    mmaps.retain(|r| r.va != record.va);
    if mmaps.is_empty() {
        *mmaps = Vec::new();
    }
    drop(mmaps);
    unmap();
}

/// [`sync_direct_map`] for each page of [phys, phys+len): after a mapping of the range
/// was registered or released.
pub fn sync_direct_map_range(phys: PhysAddr, len: u64) {
    let start = phys.align_down(4096u64).as_u64();
    for page in (start..phys.as_u64().saturating_add(len)).step_by(4096) {
        // Below the end of a registered mapping: a physical address.
        sync_direct_map(PhysAddr::new(page));
    }
}

/// Whether a live user mmap of /dev/mem overlaps [base, base+len) (memrange's MDF_BUSY:
/// "a live user mapping", docs/devices.md). The kernel's own mappings (tools, tests)
/// are re-typed with the range instead.
pub fn user_mapped(base: PhysAddr, len: u64) -> bool {
    let (base, end) = (base.as_u64(), base.as_u64().saturating_add(len));
    MMAPS.lock().iter().any(|record| {
        let phys = record.phys.as_u64();
        record.user && phys < end && base < phys + record.len
    })
}

/// Makes the next [`retype_range`] fail before it changes anything (memrange's
/// all-or-nothing test: a SET whose re-typing fails must leave everything as it was).
#[cfg(test)]
pub static FAIL_NEXT_RETYPE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Why re-typing the kernel's mappings of a range failed: the direct map's pages could
/// not be re-typed (a large page could not be split: no frame for the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetypeFailed;

/// Gives every kernel mapping of [base, base+len) the type the rules now give it, after
/// memrange changed the range: the direct map's pages (System RAM only) take the type
/// memrange set (write-back when none), each /dev/mem mmap the type of the driver's rules.
/// Large pages at the edges split.
pub fn retype_range(base: PhysAddr, len: u64) -> Result<(), RetypeFailed> {
    #[cfg(test)]
    if FAIL_NEXT_RETYPE.swap(false, Ordering::SeqCst) {
        return Err(RetypeFailed);
    }
    let end = base.as_u64().saturating_add(len);
    let memtype = set_type_at(base).unwrap_or(MemoryType::WriteBack);
    let base = base.as_u64();
    let ram = physmap::map().regions().iter().filter(|r| r.kind == RegionKind::SystemRam);
    for region in ram {
        let start = region.start.next_multiple_of(4096).max(base & !4095);
        let stop = (region.end & !4095).min(end.saturating_add(4095) & !4095);
        if start >= stop {
            continue;
        }
        // SAFETY: the direct map's type follows memrange's; the other aliases of these
        // frames, the /dev/mem mmaps, are re-typed by the loop below.
        let retyped =
            unsafe { paging::set_memtype(phys_to_virt(PhysAddr::new(start)), stop - start, memtype) };
        if let Err(error) = retyped {
            log::warn!("memtype: re-typing the direct map of {start:#x}+{:#x}: {error:?}", stop - start);
            return Err(RetypeFailed);
        }
    }
    let rules = RULES.get();
    for record in MMAPS.lock().iter() {
        let phys = record.phys.as_u64();
        let start = phys.max(base) & !4095;
        let stop = (phys + record.len).min(end);
        let Some(rules) = rules.filter(|_| start < stop) else { continue };
        // Inside the record's range: physical addresses.
        let types = rules(PhysAddr::new(start), (stop - start).div_ceil(4096), record.opened_sync);
        for (page, memtype) in (start..stop).step_by(4096).zip(types) {
            let Some(memtype) = memtype else { continue };
            // The record's own page: inside its mapping, so canonical.
            let va = record.va.align_down(4096u64) + (page - (phys & !4095));
            // SAFETY: `va` is this live mmap's own page; its type is the one the rules
            // give for the page, as the direct map's above.
            let retyped = unsafe { paging::set_memtype(va, 4096, memtype) };
            if retyped.is_ok() {
                registry::retype(PhysAddr::new(page), memtype);
            }
        }
    }
    RETYPES.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Gives the direct-map alias of the RAM page holding `phys` the type its other mappings
/// have (Linux's `kernel_map_sync_memtype`): the registered type while a /dev/mem mmap
/// of it lives, else the type memrange set, else write-back. One page, one type.
fn sync_direct_map(phys: PhysAddr) {
    let page = phys.align_down(4096u64);
    // Only whole RAM pages are in the direct map.
    if !physmap::map().page_is_ram(page.as_u64()) {
        return;
    }
    let wanted = registry::lookup(page).or_else(|| set_type_at(page)).unwrap_or(MemoryType::WriteBack);
    let va = phys_to_virt(page);
    if super::query::query(va).is_some_and(|mapped| mapped.memtype == wanted) {
        return;
    }
    // SAFETY: the direct map's page of `page` takes the type every other live mapping
    // of the frame has (the registry's), or the rules' when there is none: after this
    // the frame has one type everywhere.
    let retyped = unsafe { paging::set_memtype(va, 4096, wanted) };
    if let Err(error) = retyped {
        log::warn!("memtype: re-typing the direct map of {page:#x} to {wanted:?}: {error:?}");
    }
}

/// The invariant "no page is mapped with two types", checked: each page of every live
/// /dev/mem mmap has the registry's type, and so has the direct map's alias of it when
/// it is RAM. The first page that breaks it, described. For the fuzzer and the tests.
#[cfg(any(test, feature = "fuzz"))]
pub fn check_one_type_per_page() -> Result<(), String> {
    use super::query::query;
    for record in MMAPS.lock().iter() {
        for offset in (0..record.len).step_by(4096) {
            let phys = record.phys.align_down(4096u64) + offset;
            let registered = registry::lookup(phys);
            let mapped = query(record.va.align_down(4096u64) + offset).map(|page| page.memtype);
            if mapped.is_none() || mapped != registered {
                return Err(alloc::format!(
                    "page {phys:#x}: an mmap maps it {mapped:?}, the registry says {registered:?}"
                ));
            }
        }
    }
    // Every registered RAM page (those of the mmaps above, and of the kernel's window
    // mappings): its direct-map alias has the registered type.
    let mut failure = None;
    registry::ranges(|start, len, registered| {
        for offset in (0..len).step_by(4096) {
            let phys = start + offset;
            if failure.is_none() && physmap::map().page_is_ram(phys.as_u64()) {
                let direct = query(phys_to_virt(phys)).map(|page| page.memtype);
                if direct != Some(registered) {
                    failure = Some(alloc::format!(
                        "RAM page {phys:#x}: registered {registered:?}, the direct map has {direct:?}"
                    ));
                }
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

/// `/proc/pat_memtype_list` in Linux's format: each range the kernel maps with a chosen
/// type (memrange settings and /dev/mem mmaps), `PAT: [mem 0xSTART-0xEND] TYPE`.
pub fn pat_memtype_list_text() -> String {
    let mut entries: Vec<(u64, u64, MemoryType)> = SET_TYPES.lock().clone();
    registry::ranges(|start, len, memtype| entries.push((start.as_u64(), len, memtype)));
    entries.sort_unstable_by_key(|&(base, len, _)| (base, len));
    let mut text = String::new();
    for (base, len, memtype) in entries {
        let _ = writeln!(
            text,
            "PAT: [mem {base:#018x}-{:#018x}] {}",
            base.saturating_add(len),
            memtype.pat_name()
        );
    }
    text
}
