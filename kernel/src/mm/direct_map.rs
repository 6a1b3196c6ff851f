//! Builds the direct map at boot, over System RAM only.
//!
//! The bootloader is not asked to map physical memory: it would map everything up to the
//! highest address the firmware lists (1 TiB on QEMU's AMD-flavoured CPU model, whose map
//! reserves [1012 GiB, 1 TiB)), devices and holes included, in 2 MiB pages, about 0.2 s of
//! a TCG boot. It maps the top-level table recursively instead (at
//! [`layout::RECURSIVE_SLOT`]); through that slot this module writes the direct map's
//! tables (the plan is `mm_core::directmap`'s, host-tested), then removes the slot.
//! Device memory, ROM, reserved ranges and holes stay unmapped: /dev/mem and the kernel
//! reach them through the window, with a memory type chosen for them.

use core::ops::Range;

use bootloader_api::BootInfo;
use bootloader_api::info::MemoryRegionKind;
use mm_core::directmap;
use mm_core::memtype::PageSize;
use mm_core::pte::{Attributes, Entry, Level, table_index};

use super::layout::{DIRECT_MAP_BASE, RECURSIVE_SLOT};
use super::{PAGE_SIZE, frames};
use crate::arch::cpu;
use x86_64::structures::paging::PhysFrame;
use x86_64::{PhysAddr, VirtAddr};

/// Room for the System RAM ranges of a UEFI memory map, before merging.
const MAX_RANGES: usize = 512;

/// The System RAM ranges (usable, and the bootloader's own allocations), sorted and
/// merged. Returns the array and how many of its entries are used.
fn ram_ranges(boot_info: &BootInfo) -> ([(u64, u64); MAX_RANGES], usize) {
    let mut ranges = [(0, 0); MAX_RANGES];
    let mut count = 0;
    for region in boot_info.memory_regions.iter() {
        if !matches!(region.kind, MemoryRegionKind::Usable | MemoryRegionKind::Bootloader) {
            continue;
        }
        if count == MAX_RANGES {
            // Merge to make room; a map this fragmented is not expected.
            count = directmap::merge(&mut ranges[..count]);
            assert!(count < MAX_RANGES, "more than {MAX_RANGES} separate System RAM ranges");
        }
        ranges[count] = (region.start, region.end);
        count += 1;
    }
    let count = directmap::merge(&mut ranges[..count]);
    (ranges, count)
}

/// The virtual address at which the recursive slot shows the table reached by `path`
/// (the indices from the top level down; empty for the top-level table itself).
fn table_va(path: &[usize]) -> u64 {
    let mut indices = [RECURSIVE_SLOT; 4];
    indices[4 - path.len()..].copy_from_slice(path);
    let va = (indices[0] as u64) << 39
        | (indices[1] as u64) << 30
        | (indices[2] as u64) << 21
        | (indices[3] as u64) << 12;
    // Sign-extend bit 47 into a canonical address.
    if va & (1 << 47) != 0 { va | 0xffff_0000_0000_0000 } else { va }
}

/// Frames for the tables, taken in order from [next, end).
struct Bump {
    next: u64,
    end: u64,
}

impl Bump {
    fn take(&mut self) -> u64 {
        assert!(self.next < self.end, "direct map: more page tables than planned");
        let frame = self.next;
        self.next += PAGE_SIZE;
        frame
    }
}

/// The indices that lead from the top-level table to a table below it.
#[derive(Clone, Copy)]
struct Path {
    indices: [usize; 3],
    len: usize,
}

impl Path {
    const TOP: Self = Self { indices: [0; 3], len: 0 };

    fn as_slice(&self) -> &[usize] {
        &self.indices[..self.len]
    }
}

/// The table under entry `index` of the table at `path`, created (zeroed) if absent;
/// returns its path.
fn descend(path: Path, index: usize, bump: &mut Bump) -> Path {
    let mut child = path;
    child.indices[path.len] = index;
    child.len += 1;
    let entry_ptr = (table_va(path.as_slice()) as *mut u64).wrapping_add(index);
    // SAFETY: the bootloader maps the top-level table recursively at RECURSIVE_SLOT, so
    // `table_va(path)` shows the table at `path`, which exists (the top level, or one
    // this function linked); `index` < 512 keeps the pointer inside it.
    let entry = Entry(unsafe { entry_ptr.read_volatile() });
    if entry.is_present() {
        return child;
    }
    let frame = bump.take();
    // SAFETY: as above; linking a new table into a slot that was empty (the direct map's
    // part of the address space holds nothing before this module runs).
    unsafe { entry_ptr.write_volatile(Entry::table(PhysFrame::containing_address(PhysAddr::new(frame))).0) };
    let child_va = table_va(child.as_slice());
    // No stale translation of the new table's recursive address may remain.
    cpu::flush_tlb_page(VirtAddr::new(child_va));
    // SAFETY: `child_va` now shows the new table's frame (a usable frame nothing else
    // owns, from the bump range); zeroing it gives a table with no entries.
    unsafe { core::ptr::write_bytes(child_va as *mut u8, 0, PAGE_SIZE as usize) };
    child
}

/// Maps System RAM at DIRECT_MAP_BASE, write-back, and removes the recursive slot.
/// Returns the frames the new tables took (the frame allocator must leave them out).
pub(super) fn build(boot_info: &BootInfo) -> Range<u64> {
    let (ranges, count) = ram_ranges(boot_info);
    let ranges = &ranges[..count];
    let tables = directmap::tables_needed(directmap::leaves(ranges));
    let first = frames::FIRST_ALLOCATABLE;
    let start = boot_info
        .memory_regions
        .iter()
        .filter(|r| r.kind == MemoryRegionKind::Usable)
        .map(|r| (r.start.max(first).next_multiple_of(PAGE_SIZE), r.end & !(PAGE_SIZE - 1)))
        .find(|&(start, end)| end >= start && end - start >= tables * PAGE_SIZE)
        .map(|(start, _)| start)
        .expect("no usable region can hold the direct map's page tables");
    let mut bump = Bump { next: start, end: start + tables * PAGE_SIZE };
    let attributes = Attributes::KERNEL_DATA;
    for (phys, size) in directmap::leaves(ranges) {
        // RAM the firmware reported (below 2^52), in the kernel half: both typed.
        let va = VirtAddr::new(DIRECT_MAP_BASE + phys);
        let pdpt = descend(Path::TOP, table_index(va, Level::Pml4), &mut bump);
        let pd = descend(pdpt, table_index(va, Level::Pdpt), &mut bump);
        let (leaf_table, index) = match size {
            PageSize::Size4K => {
                let pt = descend(pd, table_index(va, Level::Pd), &mut bump);
                (table_va(pt.as_slice()), table_index(va, Level::Pt))
            }
            _ => (table_va(pd.as_slice()), table_index(va, Level::Pd)),
        };
        let leaf = Entry::leaf(PhysAddr::new(phys), size, attributes);
        // SAFETY: `leaf_table` shows a table `descend` linked; the entry was empty (each
        // leaf is mapped once), and the frames it maps are System RAM.
        unsafe { (leaf_table as *mut u64).wrapping_add(index).write_volatile(leaf.0) };
    }
    let recursive = (table_va(&[]) as *mut u64).wrapping_add(RECURSIVE_SLOT);
    // SAFETY: the top-level table's own slot RECURSIVE_SLOT, seen through itself; once
    // cleared, nothing maps page tables recursively any more (the full flush below drops
    // every cached translation through it).
    unsafe { recursive.write_volatile(0) };
    cpu::flush_tlb_all();
    start..bump.next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;
    use crate::mm::{paging, physmap};

    #[ktest]
    fn the_direct_map_covers_ram_and_nothing_else() {
        let map = physmap::map();
        // Every whole page of RAM in the first 16 MiB is mapped write-back; every other
        // page (the VGA window, the BIOS, the partial page below 640 KiB) is not.
        for phys in (0..16u64 << 20).step_by(PAGE_SIZE as usize) {
            let mapped = paging::translate(VirtAddr::new(DIRECT_MAP_BASE + phys));
            assert_eq!(mapped.is_some(), map.page_is_ram(phys), "page {phys:#x}");
            if let Some(mapped) = mapped {
                assert_eq!(mapped.phys.as_u64(), phys);
            }
        }
        // Devices: the HPET, the local APIC, the BIOS flash at the top of 4 GiB.
        for phys in [0xfed0_0000u64, 0xfee0_0000, 0xffff_f000, 0xa_0000, 0xf_0000] {
            assert!(
                paging::translate(VirtAddr::new(DIRECT_MAP_BASE + phys)).is_none(),
                "{phys:#x} is mapped"
            );
        }
    }

    #[ktest]
    fn no_recursive_slot_is_left() {
        let root = paging::translate(VirtAddr::new(table_va(&[])));
        assert!(root.is_none(), "the recursive slot still maps the top-level table");
    }

    #[ktest]
    fn recursive_addresses_follow_the_indices() {
        assert_eq!(table_va(&[]), 0xffff_ff7f_bfdf_e000);
        assert_eq!(table_va(&[256]), 0xffff_ff7f_bfc0_0000 + (256 << 12));
    }
}
