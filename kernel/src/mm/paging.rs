//! The kernel's page tables: map, unmap, translate, split large pages, change memory
//! types. Entries are built by `mm_core::pte`; this module reads and writes them
//! through the direct map and keeps the TLB coherent.

use mm_core::memtype::{MemoryType, PageSize};
use mm_core::pte::{self, Attributes, ENTRIES, Entry, Level};
use spin::Mutex;

use x86_64::structures::paging::PhysFrame;
use x86_64::{PhysAddr, VirtAddr};

use super::{frames, phys_to_virt};
use crate::arch::cpu;

/// The kernel's top-level table (CR3 at boot). Kernel-half addresses are always walked
/// from it, even while a process's table is loaded: a process's top-level table shares
/// the kernel's entries 256..511 (see mm::uspace), so changes below them are seen in
/// both, and tables directly under the top level are never freed.
static KERNEL_ROOT: spin::Once<PhysFrame> = spin::Once::new();

/// The top-level table CR3 holds now.
pub(super) fn loaded_root() -> PhysFrame {
    // CR3's address bits (12-51) are a page-aligned physical address.
    PhysFrame::containing_address(PhysAddr::new(cpu::page_table_root()))
}

/// Records the kernel's top-level table; called once by mm::init.
pub(super) fn init() {
    KERNEL_ROOT.call_once(loaded_root);
}

/// The kernel's top-level table.
pub fn kernel_root() -> PhysFrame {
    *KERNEL_ROOT.get().expect("mm::init recorded the kernel's page table")
}

/// The top-level table to walk for `va`: the kernel's for the kernel half, the loaded
/// one (a process's, or the kernel's) for the lower half.
fn root_for(va: VirtAddr) -> PhysFrame {
    if va.as_u64() >= super::layout::DIRECT_MAP_BASE { kernel_root() } else { loaded_root() }
}

/// `addr` as a virtual address, for the page walks of a range computed in `u64`.
fn virt(addr: u64) -> Result<VirtAddr, MapError> {
    VirtAddr::try_new(addr).map_err(|_| MapError::NonCanonical)
}

/// The whole 4 KiB pages [start, end) that cover [va, va+len), all in one canonical half;
/// `NonCanonical` for a range that runs past its half (checked before anything changes).
fn page_range(va: VirtAddr, len: u64) -> Result<(u64, u64), MapError> {
    const SMALL: u64 = PageSize::Size4K.bytes();
    let start = va.as_u64() & !(SMALL - 1);
    let end = va
        .as_u64()
        .checked_add(len)
        .and_then(|end| end.checked_next_multiple_of(SMALL))
        .ok_or(MapError::NonCanonical)?;
    if end > start && ((start ^ virt(end - 1)?.as_u64()) >> 47) != 0 {
        return Err(MapError::NonCanonical);
    }
    Ok((start, end))
}

/// Serializes changes to the page tables. Lookups do not take it: page tables are never
/// freed (`unmap` leaves an emptied table linked, ready for the next `map` there), so a
/// walk only ever reads frames that are page tables, and each entry it reads is written
/// with one 8-byte store.
static LOCK: Mutex<()> = Mutex::new(());

/// Frames the kernel's page tables took since boot (new tables and split large pages).
/// They are never freed, so they are what a resource check must allow for.
static TABLE_FRAMES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// How many frames the kernel's page tables took since boot (never given back).
pub fn table_frames() -> u64 {
    TABLE_FRAMES.load(core::sync::atomic::Ordering::Relaxed)
}

/// Why a page-table change was refused. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    NonCanonical,
    /// The address is not aligned to the page size.
    Unaligned,
    /// Something is already mapped there.
    AlreadyMapped,
    NotMapped,
    /// No frame for a new page table.
    OutOfFrames,
    /// A page is already mapped with another memory type (the registry's no-alias rule).
    TypeConflict,
}

impl From<MapError> for errno::Errno {
    fn from(error: MapError) -> Self {
        match error {
            MapError::NonCanonical | MapError::NotMapped => errno::Errno::EFAULT,
            MapError::Unaligned => errno::Errno::EINVAL,
            MapError::AlreadyMapped => errno::Errno::EEXIST,
            MapError::OutOfFrames => errno::Errno::ENOMEM,
            MapError::TypeConflict => errno::Errno::EAGAIN,
        }
    }
}

/// Where a virtual address leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The physical address of the byte at the virtual address.
    pub phys: PhysAddr,
    /// The size of the leaf that maps it.
    pub size: PageSize,
    /// The leaf entry itself.
    pub entry: Entry,
    pub attributes: Attributes,
}

fn read(table: PhysFrame, index: usize) -> Entry {
    debug_assert!(index < ENTRIES);
    // SAFETY: `table` is a page table (CR3 or a present non-leaf entry's target), a
    // frame the direct map covers; a table holds 512 entries.
    Entry(unsafe { phys_to_virt(table.start_address()).as_ptr::<u64>().add(index).read_volatile() })
}

fn write(table: PhysFrame, index: usize, entry: Entry) {
    debug_assert!(index < ENTRIES);
    // SAFETY: as in `read`; the caller holds LOCK, so no other writer races, and the
    // CPU's own accessed/dirty updates to a leaf being replaced do not matter.
    unsafe { phys_to_virt(table.start_address()).as_mut_ptr::<u64>().add(index).write_volatile(entry.0) }
}

/// The leaf entry for `va`: its table, index, level; `None` if unmapped.
fn find_leaf(va: VirtAddr) -> Option<(PhysFrame, usize, Level)> {
    let mut table = root_for(va);
    let mut level = Level::Pml4;
    loop {
        let index = pte::table_index(va, level);
        let entry = read(table, index);
        if !entry.is_present() {
            return None;
        }
        if entry.is_leaf(level) {
            return Some((table, index, level));
        }
        table = entry.table_address();
        level = level.next()?;
    }
}

/// Walks the page tables for `va`.
pub fn translate(va: VirtAddr) -> Option<Translation> {
    let (table, index, level) = find_leaf(va)?;
    let entry = read(table, index);
    let size = level.leaf_size()?;
    Some(Translation {
        phys: entry.frame(size) + (va.as_u64() & (size.bytes() - 1)),
        size,
        entry,
        attributes: entry.attributes(size),
    })
}

/// Invalidates the TLB for a leaf of `size` at `va`, on every online CPU: a change to
/// the kernel's tables is done only when no CPU can still use the old entry (the
/// shoot-down waits for each CPU's acknowledgement).
fn flush(va: VirtAddr, size: PageSize) {
    if crate::arch::smp::shootdowns_needed() {
        let missing = crate::arch::smp::tlb_shootdown(va.as_u64(), size.bytes());
        if !missing.is_empty() {
            log::warn!("paging: CPUs {missing:?} did not acknowledge the TLB shoot-down of {va:#x}");
        }
        return;
    }
    local_flush(va, size);
}

/// Invalidates this CPU's TLB for a leaf of `size` at `va`.
fn local_flush(va: VirtAddr, size: PageSize) {
    match size {
        PageSize::Size4K => cpu::flush_tlb_page(va),
        _ => cpu::flush_tlb_all(),
    }
}

/// Invalidates every TLB entry on every online CPU (after splitting a large page, or
/// replacing a table by a large page).
fn flush_everything() {
    if crate::arch::smp::shootdowns_needed() {
        let missing = crate::arch::smp::flush_all_tlbs();
        if !missing.is_empty() {
            log::warn!("paging: CPUs {missing:?} did not acknowledge a full TLB flush");
        }
        return;
    }
    cpu::flush_tlb_all();
}

/// Maps the `size` page at `va` to the frame at `phys`, creating page tables as needed.
///
/// # Safety
///
/// The new mapping gives access to the frames at `phys`: the caller owns them (taken from
/// `frames`, or device memory, ROM or a hole that no Rust object lives in), and no other
/// mapping of them has a different memory type (SDM Vol. 3A 11.12.4). `va` must be an
/// address nothing else uses (a fresh range of the window, or the heap's next pages).
pub unsafe fn map(
    va: VirtAddr,
    phys: PhysAddr,
    size: PageSize,
    attributes: Attributes,
) -> Result<(), MapError> {
    if !va.is_aligned(size.bytes()) || !phys.is_aligned(size.bytes()) {
        return Err(MapError::Unaligned);
    }
    let _guard = LOCK.lock();
    let leaf_level = Level::of_leaf(size);
    let mut table = root_for(va);
    let mut level = Level::Pml4;
    while level != leaf_level {
        let index = pte::table_index(va, level);
        let entry = read(table, index);
        table = if !entry.is_present() {
            let new = frames::allocate_zeroed().ok_or(MapError::OutOfFrames)?;
            TABLE_FRAMES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            write(table, index, Entry::table(new));
            new
        } else if entry.is_leaf(level) {
            return Err(MapError::AlreadyMapped);
        } else {
            entry.table_address()
        };
        level = level.next().ok_or(MapError::AlreadyMapped)?;
    }
    let index = pte::table_index(va, leaf_level);
    let old = read(table, index);
    if old.is_present() {
        // A table `unmap` emptied may stand where a large page goes: it is replaced and
        // left allocated (walks without the lock may still be reading it; an all-empty
        // table only ever sends them to "unmapped").
        if old.is_leaf(leaf_level) || !table_is_empty(old.table_address(), leaf_level.next()) {
            return Err(MapError::AlreadyMapped);
        }
        write(table, index, Entry::leaf(phys, size, attributes));
        flush_everything();
        return Ok(());
    }
    write(table, index, Entry::leaf(phys, size, attributes));
    // The entry was not present: no CPU can have cached it (TLBs hold present
    // translations only), so this CPU's flush is enough. No shoot-down here also keeps
    // the heap, which maps while holding its lock, from waiting on other CPUs.
    local_flush(va, size);
    Ok(())
}

/// Whether the page table at `table` (of `level`) maps nothing, through its subtables.
fn table_is_empty(table: PhysFrame, level: Option<Level>) -> bool {
    let Some(level) = level else { return false };
    (0..ENTRIES).all(|i| {
        let entry = read(table, i);
        !entry.is_present() || (!entry.is_leaf(level) && table_is_empty(entry.table_address(), level.next()))
    })
}

/// Points the 4 KiB page at `va`, whose page tables exist (it was mapped once with
/// [`map`]), at `phys` with `attributes`, or makes it not present (`None`, after which
/// page tables stay linked); one entry written and one INVLPG, no
/// allocation. For a mapping reused many times a second.
///
/// # Safety
///
/// As for [`map`] for `phys` and `attributes`; in addition nothing may still use what
/// `va` mapped before (no reference into it outlives this call).
pub unsafe fn remap_4k(va: VirtAddr, target: Option<(PhysAddr, Attributes)>) -> Result<(), MapError> {
    let _guard = LOCK.lock();
    let mut table = root_for(va);
    let mut level = Level::Pml4;
    while level != Level::Pt {
        let entry = read(table, pte::table_index(va, level));
        if !entry.is_present() || entry.is_leaf(level) {
            return Err(MapError::NotMapped);
        }
        table = entry.table_address();
        level = level.next().ok_or(MapError::NotMapped)?;
    }
    let entry = match target {
        Some((phys, attributes)) => Entry::leaf(phys, PageSize::Size4K, attributes),
        None => Entry::EMPTY,
    };
    write(table, pte::table_index(va, Level::Pt), entry);
    // This CPU only: the one page `remap_4k` serves (the scratch page) is used only by
    // the CPU holding its lock, which always remaps (and so invalidates) it before use.
    cpu::flush_tlb_page(va);
    Ok(())
}

/// Removes the mapping of the `size` page at `va`, splitting a larger page around it
/// first. Returns the entry that was removed. Page tables left empty stay linked (never
/// freed: lock-free walks rely on it), and are reused by the next `map` there.
///
/// # Safety
///
/// Nothing may use the memory at [va, va+size) after this call: no Rust reference into
/// it, no pointer the kernel will follow (the kernel image, the heap's live memory and
/// the direct map of allocated frames are never unmapped by a correct caller).
pub unsafe fn unmap(va: VirtAddr, size: PageSize) -> Result<Entry, MapError> {
    if !va.is_aligned(size.bytes()) {
        return Err(MapError::Unaligned);
    }
    split(va, size)?;
    let _guard = LOCK.lock();
    let mut table = root_for(va);
    let mut level = Level::Pml4;
    loop {
        let index = pte::table_index(va, level);
        let entry = read(table, index);
        if !entry.is_present() {
            return Err(MapError::NotMapped);
        }
        if entry.is_leaf(level) {
            break;
        }
        table = entry.table_address();
        level = level.next().ok_or(MapError::NotMapped)?;
    }
    if level != Level::of_leaf(size) {
        // A smaller page maps va: unmapping a larger one would take several entries.
        return Err(MapError::Unaligned);
    }
    let leaf_index = pte::table_index(va, level);
    let entry = read(table, leaf_index);
    write(table, leaf_index, Entry::EMPTY);
    flush(va, size);
    Ok(entry)
}

/// Makes sure the leaf mapping `va` is no larger than `target`, splitting 1 GiB and
/// 2 MiB pages into 512 pages of the next size down with the same frames and
/// attributes. Does nothing when `va` is unmapped or already mapped small enough.
pub fn split(va: VirtAddr, target: PageSize) -> Result<(), MapError> {
    let _guard = LOCK.lock();
    while let Some((table, index, level)) = find_leaf(va) {
        let Some(size) = level.leaf_size() else { break };
        if size <= target {
            break;
        }
        let leaf = read(table, index);
        let new = frames::allocate().ok_or(MapError::OutOfFrames)?;
        TABLE_FRAMES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        for i in 0..ENTRIES {
            let child = pte::split_entry(leaf, size, i).ok_or(MapError::Unaligned)?;
            write(new, i, child);
        }
        write(table, index, Entry::table(new));
        // The SDM (Vol. 3A, 4.10.4.4) wants no stale large-page TLB entry alongside
        // the new small ones, on any CPU.
        flush_everything();
    }
    Ok(())
}

/// Gives every page of [va, va+len) the memory type `memtype`, splitting large pages
/// that straddle the edges. Unmapped pages in the range are an error (`NotMapped`), found
/// before anything changes.
///
/// # Safety
///
/// No other mapping of the same frames may keep a different memory type (SDM Vol. 3A
/// 11.12.4): the caller re-types every alias, or knows there is none.
pub unsafe fn set_memtype(va: VirtAddr, len: u64, memtype: MemoryType) -> Result<(), MapError> {
    let (start, end) = page_range(va, len)?;
    let mut page = start;
    while page < end {
        let translation = translate(virt(page)?).ok_or(MapError::NotMapped)?;
        page = (page | (translation.size.bytes() - 1)).saturating_add(1);
    }
    let mut page = start;
    while page < end {
        let size = translate(virt(page)?).ok_or(MapError::NotMapped)?.size;
        let leaf_start = page & !(size.bytes() - 1);
        if let Some(smaller) = size.smaller()
            && (leaf_start < start || leaf_start + size.bytes() > end)
        {
            // The large leaf reaches outside the range: split it and look again.
            split(virt(page)?, smaller)?;
            continue;
        }
        let _guard = LOCK.lock();
        let (table, index, _) = find_leaf(virt(page)?).ok_or(MapError::NotMapped)?;
        write(table, index, read(table, index).with_memtype(size, memtype));
        page = leaf_start + size.bytes();
    }
    // One invalidation for the whole range, on every CPU: per leaf it would cost one
    // shoot-down (IPIs and acknowledgements) per page.
    flush_range(start, end - start);
    Ok(())
}

/// Invalidates [va, va+len) on every online CPU (this one's TLB only while the APs start).
fn flush_range(va: u64, len: u64) {
    if crate::arch::smp::shootdowns_needed() {
        let missing = crate::arch::smp::tlb_shootdown(va, len);
        if !missing.is_empty() {
            log::warn!("paging: CPUs {missing:?} did not acknowledge the TLB shoot-down of {va:#x}+{len:#x}");
        }
    } else if len / PageSize::Size4K.bytes() <= 64 {
        for page in (va..va + len).step_by(PageSize::Size4K.bytes() as usize) {
            if let Ok(page) = VirtAddr::try_new(page) {
                cpu::flush_tlb_page(page);
            }
        }
    } else {
        cpu::flush_tlb_all();
    }
}

/// Removes every mapping in [va, va+len) (whole pages), splitting large pages that
/// straddle the edges. Returns the number of bytes that were mapped. Unmapped holes in
/// the range are skipped.
///
/// # Safety
///
/// As for [`unmap`], for every page of the range.
pub unsafe fn unmap_range(va: VirtAddr, len: u64) -> Result<u64, MapError> {
    const SMALL: u64 = PageSize::Size4K.bytes();
    if !va.is_aligned(SMALL) {
        return Err(MapError::Unaligned);
    }
    let (va, end) = page_range(va, len)?;
    let mut removed = 0;
    let mut page = va;
    while page < end {
        let Some(translation) = translate(virt(page)?) else {
            page += SMALL;
            continue;
        };
        let size = translation.size;
        let leaf_start = page & !(size.bytes() - 1);
        if leaf_start < va || leaf_start + size.bytes() > end {
            split(virt(page)?, size.smaller().unwrap_or(PageSize::Size4K))?;
            continue;
        }
        // SAFETY: the page lies inside the range, which the caller gives up (this
        // function's own contract).
        unsafe { unmap(virt(leaf_start)?, size)? };
        removed += size.bytes();
        page = leaf_start + size.bytes();
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;
    use crate::mm::layout::WINDOW_BASE;
    use mm_core::memtype::{ALL_MEMORY_TYPES, PAT_4K, PAT_LARGE, PCD, PWT, cache_bits};

    /// A 1 GiB-aligned stretch of the window far from what `map_phys_range` hands out.
    const TEST_VA: u64 = WINDOW_BASE + (256 << 30);
    /// Physical addresses above QEMU's RAM and below MAXPHYADDR: a hole, never accessed
    /// here, only mapped, so any memory type is harmless.
    const HOLE_PHYS: u64 = 0x40_0000_0000;

    // The tests map only [TEST_VA, TEST_VA + 8 GiB), window addresses nothing else uses,
    // to HOLE_PHYS, a hole no Rust object lives in, and re-type the direct map of a frame
    // they own: these wrappers state that once for every call below.
    // They take the tests' constants as `u64` (every one canonical and below 2^52).
    fn map(va: u64, phys: u64, size: PageSize, attributes: Attributes) -> Result<(), MapError> {
        // SAFETY: see above.
        unsafe { super::map(VirtAddr::new(va), PhysAddr::new(phys), size, attributes) }
    }
    fn unmap(va: u64, size: PageSize) -> Result<Entry, MapError> {
        // SAFETY: see above.
        unsafe { super::unmap(VirtAddr::new(va), size) }
    }
    fn unmap_range(va: u64, len: u64) -> Result<u64, MapError> {
        // SAFETY: see above.
        unsafe { super::unmap_range(VirtAddr::new(va), len) }
    }
    fn set_memtype(va: u64, len: u64, memtype: MemoryType) -> Result<(), MapError> {
        // SAFETY: see above; the frame has no other mapping.
        unsafe { super::set_memtype(VirtAddr::new(va), len, memtype) }
    }
    fn translate(va: u64) -> Option<Translation> {
        super::translate(VirtAddr::new(va))
    }

    #[ktest]
    fn map_translate_unmap_round_trips_for_every_type_and_size() {
        for size in [PageSize::Size4K, PageSize::Size2M, PageSize::Size1G] {
            for (i, memtype) in ALL_MEMORY_TYPES.into_iter().enumerate() {
                let va = TEST_VA + i as u64 * (1 << 30);
                let phys = HOLE_PHYS + i as u64 * (1 << 30);
                let attributes = Attributes::KERNEL_DATA.with_memtype(memtype);
                map(va, phys, size, attributes).unwrap();
                let offset = size.bytes() - 8;
                let t = translate(va + offset).expect("mapped");
                assert_eq!(
                    (t.phys.as_u64(), t.size, t.attributes),
                    (phys + offset, size, attributes),
                    "{memtype} {size:?}"
                );
                // The raw bits: PWT, PCD and the PAT bit where this page size keeps it.
                let pat = if size == PageSize::Size4K { PAT_4K } else { PAT_LARGE };
                assert_eq!(t.entry.0 & (PWT | PCD | pat), cache_bits(memtype, size), "{memtype} {size:?}");
                assert_eq!(map(va, phys, size, attributes), Err(MapError::AlreadyMapped));
                assert_eq!(unmap(va, size).map(|e| e.frame(size).as_u64()), Ok(phys));
                assert_eq!(translate(va), None);
                assert_eq!(unmap(va, size), Err(MapError::NotMapped));
            }
        }
    }

    #[ktest]
    fn unmap_leaves_page_tables_linked_for_lock_free_walks() {
        // A fresh 1 GiB stretch: the first map creates its tables.
        let va = TEST_VA + (16 << 30);
        map(va, HOLE_PHYS, PageSize::Size4K, Attributes::KERNEL_DATA).unwrap();
        unmap(va, PageSize::Size4K).unwrap();
        assert_eq!(translate(va), None);
        // Had unmap freed the emptied tables, this map would take frames for new ones.
        let before = frames::stats().free;
        map(va, HOLE_PHYS, PageSize::Size4K, Attributes::KERNEL_DATA).unwrap();
        assert_eq!(frames::stats().free, before, "unmap freed a page table that walks may be reading");
        unmap(va, PageSize::Size4K).unwrap();
    }

    #[ktest]
    fn bad_requests_change_nothing() {
        let attrs = Attributes::KERNEL_DATA;
        // A non-canonical address cannot even be named: VirtAddr refuses it.
        assert!(VirtAddr::try_new(0x0000_8000_0000_0000).is_err());
        // A range that runs out of the canonical half is refused whole.
        assert_eq!(
            unmap_range(0x0000_7fff_ffff_f000, 0x2000),
            Err(MapError::NonCanonical),
            "the range's second page is not canonical"
        );
        assert_eq!(map(TEST_VA + 0x1000, HOLE_PHYS, PageSize::Size2M, attrs), Err(MapError::Unaligned));
        assert_eq!(map(TEST_VA, HOLE_PHYS + 0x1000, PageSize::Size2M, attrs), Err(MapError::Unaligned));
        assert_eq!(translate(TEST_VA), None);
    }

    #[ktest]
    fn retyping_inside_a_1g_page_splits_it_and_keeps_the_rest() {
        let attrs = Attributes::KERNEL_DATA;
        map(TEST_VA, HOLE_PHYS, PageSize::Size1G, attrs).unwrap();
        // One 4 KiB page in the middle becomes UC.
        let target = TEST_VA + (300 << 21) + (7 << 12);
        set_memtype(target, 4096, MemoryType::Uncacheable).unwrap();
        for chunk in 0..512u64 {
            let va = TEST_VA + (chunk << 21);
            let t = translate(va).unwrap();
            assert_eq!(t.phys.as_u64(), HOLE_PHYS + (chunk << 21), "chunk {chunk} still maps its frames");
            if chunk == 300 {
                assert_eq!(t.size, PageSize::Size4K, "the chunk holding the page was split");
            } else {
                assert_eq!((t.size, t.attributes), (PageSize::Size2M, attrs), "chunk {chunk} untouched");
            }
        }
        for page in 0..512u64 {
            let va = TEST_VA + (300 << 21) + (page << 12);
            let t = translate(va).unwrap();
            assert_eq!(t.phys.as_u64(), HOLE_PHYS + (300 << 21) + (page << 12));
            let expected = if page == 7 { MemoryType::Uncacheable } else { MemoryType::WriteBack };
            assert_eq!(t.attributes, attrs.with_memtype(expected), "page {page}");
        }
        assert_eq!(unmap_range(TEST_VA, 1 << 30), Ok(1 << 30));
        assert_eq!(translate(TEST_VA + (300 << 21) + (7 << 12)), None);
        assert_eq!(translate(TEST_VA + (511 << 21)), None);
    }

    #[ktest]
    fn retyping_the_direct_map_splits_a_2m_page_and_keeps_the_data() {
        // A RAM frame of our own, seen through the direct map.
        let frame = frames::allocate().unwrap();
        let va = phys_to_virt(frame.start_address()).as_u64();
        let before = translate(va).unwrap();
        assert_eq!(before.size, PageSize::Size2M, "the bootloader maps physical memory with 2 MiB pages");
        let neighbour =
            (va & !(before.size.bytes() - 1)) + if va.is_multiple_of(before.size.bytes()) { 4096 } else { 0 };
        let mut data_before = [0u8; 64];
        crate::mm::nofault::read_kernel(VirtAddr::new(neighbour), &mut data_before).unwrap();
        set_memtype(va, 4096, MemoryType::WriteThrough).unwrap();
        let after = translate(va).unwrap();
        assert_eq!(
            (after.phys, after.size, after.attributes.memtype),
            (frame.start_address(), PageSize::Size4K, MemoryType::WriteThrough)
        );
        let n = translate(neighbour).unwrap();
        assert_eq!(n.attributes.memtype, before.attributes.memtype, "the neighbour keeps its type");
        assert_eq!(n.phys.as_u64(), neighbour - crate::mm::layout::DIRECT_MAP_BASE);
        let mut data_after = [0u8; 64];
        crate::mm::nofault::read_kernel(VirtAddr::new(neighbour), &mut data_after).unwrap();
        assert_eq!(data_before, data_after);
        set_memtype(va, 4096, before.attributes.memtype).unwrap();
        frames::free(frame).unwrap();
    }
}
