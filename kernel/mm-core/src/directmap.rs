//! The direct map's plan: which leaves map System RAM, and how many page tables they
//! need. The direct map covers whole pages of System RAM only (device memory, ROM,
//! reserved ranges and holes are left unmapped, so no access through it can reach a
//! device or give a second memory type to a range the firmware owns), each in the
//! largest page that lies wholly inside RAM: 2 MiB where an aligned 2 MiB block is all
//! RAM, else 4 KiB.

use crate::PAGE_SIZE;
use crate::memtype::PageSize;

const LARGE: u64 = PageSize::Size2M.bytes();

/// Sorts `ranges` ([start, end) pairs) and merges those that overlap or touch, in
/// place; returns how many are left at the front. Empty ranges are dropped.
pub fn merge(ranges: &mut [(u64, u64)]) -> usize {
    ranges.sort_unstable();
    let mut count = 0;
    for i in 0..ranges.len() {
        let (start, end) = ranges[i];
        if start >= end {
            continue;
        }
        if count > 0 && start <= ranges[count - 1].1 {
            ranges[count - 1].1 = ranges[count - 1].1.max(end);
        } else {
            ranges[count] = (start, end);
            count += 1;
        }
    }
    count
}

/// The leaves mapping the whole pages of `ranges` (sorted, disjoint, as [`merge`] leaves
/// them), in increasing order: (physical address, page size).
pub fn leaves(ranges: &[(u64, u64)]) -> Leaves<'_> {
    Leaves { ranges, index: 0, next: 0 }
}

/// The iterator [`leaves`] returns.
#[derive(Clone, Debug)]
pub struct Leaves<'a> {
    ranges: &'a [(u64, u64)],
    index: usize,
    next: u64,
}

impl Iterator for Leaves<'_> {
    type Item = (u64, PageSize);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let &(start, end) = self.ranges.get(self.index)?;
            // Whole pages only: a page that is partly RAM is not System RAM.
            let start = start.checked_next_multiple_of(PAGE_SIZE).unwrap_or(u64::MAX);
            let end = end & !(PAGE_SIZE - 1);
            self.next = self.next.max(start);
            if self.next >= end {
                self.index += 1;
                continue;
            }
            let at = self.next;
            let size = if at.is_multiple_of(LARGE) && end - at >= LARGE {
                PageSize::Size2M
            } else {
                PageSize::Size4K
            };
            self.next = at + size.bytes();
            return Some((at, size));
        }
    }
}

/// How many page tables below the top level the leaves need: one page-directory-pointer
/// table per 512 GiB, one page directory per 1 GiB and one page table per 2 MiB block
/// mapped in 4 KiB pages. `leaves` must be increasing, as [`leaves`] gives them.
pub fn tables_needed(leaves: impl Iterator<Item = (u64, PageSize)>) -> u64 {
    let mut count = 0;
    let (mut pdpt, mut pd, mut pt) = (None, None, None);
    for (phys, size) in leaves {
        for (slot, shift) in [(&mut pdpt, 39), (&mut pd, 30)] {
            if *slot != Some(phys >> shift) {
                *slot = Some(phys >> shift);
                count += 1;
            }
        }
        if size == PageSize::Size4K && pt != Some(phys >> 21) {
            pt = Some(phys >> 21);
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    const MIB: u64 = 1 << 20;

    fn plan(ranges: &[(u64, u64)]) -> Vec<(u64, PageSize)> {
        leaves(ranges).collect()
    }

    /// QEMU's 256 MiB machine: RAM [0, 0x9fc00) and [1 MiB, 0xffe0000).
    const QEMU: [(u64, u64); 2] = [(0, 0x9_fc00), (0x10_0000, 0xffe_0000)];

    #[test]
    fn leaves_cover_exactly_the_whole_ram_pages() {
        let leaves = plan(&QEMU);
        let mut covered = Vec::new();
        for &(phys, size) in &leaves {
            for page in (phys..phys + size.bytes()).step_by(PAGE_SIZE as usize) {
                covered.push(page);
            }
        }
        let mut expected = Vec::new();
        expected.extend((0..0x9_f000).step_by(PAGE_SIZE as usize));
        expected.extend((0x10_0000..0xffe_0000).step_by(PAGE_SIZE as usize));
        assert_eq!(covered, expected);
        // The partial page at 0x9f000 (RAM up to 0x9fc00 only) is not mapped.
        assert!(!covered.contains(&0x9_f000));
    }

    #[test]
    fn large_pages_where_a_whole_aligned_block_is_ram() {
        let leaves = plan(&QEMU);
        let large: Vec<u64> =
            leaves.iter().filter(|(_, s)| *s == PageSize::Size2M).map(|(p, _)| *p).collect();
        // 2 MiB .. 254 MiB in large pages; the first and the last block are partly RAM.
        assert_eq!(large.first(), Some(&(2 * MIB)));
        assert_eq!(large.last(), Some(&(252 * MIB)));
        assert_eq!(large.len(), 126);
        assert!(leaves.iter().all(|(p, s)| p.is_multiple_of(s.bytes())));
    }

    #[test]
    fn tables_counted_per_parent() {
        // One PDPT, one PD (all below 1 GiB), page tables for [0, 2 MiB) and [254, 256) MiB.
        assert_eq!(tables_needed(leaves(&QEMU)), 4);
        // RAM on both sides of 4 GiB, in large pages: one PDPT, two PDs... and a
        // second PDPT past 512 GiB.
        let ranges = [(0, 2 * MIB), (4096 * MIB, 4098 * MIB), (512 << 30, (512 << 30) + 2 * MIB)];
        assert_eq!(tables_needed(leaves(&ranges)), 1 + 1 + 1 + 1 + 1);
        assert_eq!(tables_needed(leaves(&[])), 0);
    }

    #[test]
    fn ranges_merge_sorted() {
        let mut ranges = [(0x5000, 0x6000), (0, 0x1000), (0x1000, 0x2000), (0x5800, 0x7000), (9, 9)];
        let n = merge(&mut ranges);
        assert_eq!(&ranges[..n], &[(0, 0x2000), (0x5000, 0x7000)]);
    }

    #[test]
    fn unaligned_and_tiny_ranges_map_nothing_partial() {
        assert_eq!(plan(&[(0x800, 0x1800)]), Vec::new());
        assert_eq!(plan(&[(0x800, 0x2800)]), [(0x1000, PageSize::Size4K)]);
        assert_eq!(plan(&[(u64::MAX - 10, u64::MAX)]), Vec::new());
    }
}
