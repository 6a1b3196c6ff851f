//! How a transfer on a memory device is cut up: into pages (Linux `drivers/char/mem.c`
//! `read_mem`), into device-register accesses of natural width (docs/devices.md, the Tru64 lesson of
//! part C), and what a transfer that stops half-way returns (FreeBSD `uiomove`, illumos `mmrw`).

use core::iter::FusedIterator;
use errno::Errno;

/// Size of a page: the unit in which /dev/mem and /dev/kmem check and map memory.
pub const PAGE_SIZE: u64 = 4096;

/// The pieces of [offset, offset+count) that do not cross a 4 KiB boundary, in order (Linux's sz = min(count, PAGE_SIZE - (p & (PAGE_SIZE-1)))). Stops at 2^64 (never wraps): pieces cover only up to u64::MAX inclusive.
pub fn page_chunks(offset: u64, count: usize) -> PageChunks {
    PageChunks { next: Some(offset), remaining: count }
}

/// The iterator of `page_chunks`: (offset, length) pairs, each length at least 1.
#[derive(Clone, Debug)]
pub struct PageChunks {
    next: Option<u64>,
    remaining: usize,
}

impl Iterator for PageChunks {
    type Item = (u64, usize);

    fn next(&mut self) -> Option<(u64, usize)> {
        let at = self.next?;
        if self.remaining == 0 {
            return None;
        }
        let room = PAGE_SIZE - (at & (PAGE_SIZE - 1));
        let size = usize::try_from(room).map_or(self.remaining, |room| room.min(self.remaining));
        self.remaining -= size;
        // None exactly when this piece ends at 2^64: nothing can follow it.
        self.next = at.checked_add(size as u64);
        Some((at, size))
    }
}

impl FusedIterator for PageChunks {}

/// The partial-count rule of docs/devices.md (FreeBSD/illumos): bytes moved before an error are returned as the result; the error only when nothing moved.
pub fn partial(moved: usize, error: Errno) -> Result<usize, Errno> {
    if moved > 0 { Ok(moved) } else { Err(error) }
}

/// Device-register access plan: each access's address and the widest naturally aligned width in {8, 4, 2, 1} that fits in what remains.
///
/// (0x1001, 10) gives (0x1001, 1), (0x1002, 2), (0x1004, 4), (0x1008, 2), (0x100a, 1). Like
/// `page_chunks`, the plan stops at 2^64 instead of wrapping.
pub fn access_widths(address: u64, len: usize) -> AccessWidths {
    AccessWidths { next: Some(address), remaining: len }
}

/// The iterator of `access_widths`: (address, width) pairs, width 1, 2, 4 or 8.
#[derive(Clone, Debug)]
pub struct AccessWidths {
    next: Option<u64>,
    remaining: usize,
}

impl Iterator for AccessWidths {
    type Item = (u64, usize);

    fn next(&mut self) -> Option<(u64, usize)> {
        let at = self.next?;
        let width =
            [8usize, 4, 2, 1].into_iter().find(|&w| w <= self.remaining && at.is_multiple_of(w as u64))?;
        self.remaining -= width;
        self.next = at.checked_add(width as u64);
        Some((at, width))
    }
}

impl FusedIterator for AccessWidths {}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn page_chunks_cases() {
        assert_eq!(page_chunks(0, 0).count(), 0);
        assert_eq!(page_chunks(0x1000, 0x1000).collect::<Vec<_>>(), vec![(0x1000, 0x1000)]);
        assert_eq!(page_chunks(0xfff, 2).collect::<Vec<_>>(), vec![(0xfff, 1), (0x1000, 1)]);
        assert_eq!(
            page_chunks(0x9fc00, 0x2000).collect::<Vec<_>>(),
            vec![(0x9fc00, 0x400), (0xa0000, 0x1000), (0xa1000, 0xc00)]
        );
        let top = u64::MAX - 0xfff;
        assert_eq!(page_chunks(top, 0x10000).collect::<Vec<_>>(), vec![(top, 0x1000)]);
        assert_eq!(page_chunks(u64::MAX, 5).collect::<Vec<_>>(), vec![(u64::MAX, 1)]);
    }

    #[test]
    fn access_width_cases() {
        let plan: Vec<_> = access_widths(0x1001, 10).collect();
        assert_eq!(plan, vec![(0x1001, 1), (0x1002, 2), (0x1004, 4), (0x1008, 2), (0x100a, 1)]);
        assert_eq!(access_widths(0xfee0_0000, 4).collect::<Vec<_>>(), vec![(0xfee0_0000, 4)]);
        assert_eq!(access_widths(0x1000, 16).collect::<Vec<_>>(), vec![(0x1000, 8), (0x1008, 8)]);
        assert_eq!(access_widths(0x1006, 8).collect::<Vec<_>>(), vec![(0x1006, 2), (0x1008, 4), (0x100c, 2)]);
        assert_eq!(access_widths(7, 0).count(), 0);
        assert_eq!(access_widths(u64::MAX - 7, 100).collect::<Vec<_>>(), vec![(u64::MAX - 7, 8)]);
        assert_eq!(access_widths(u64::MAX, 2).collect::<Vec<_>>(), vec![(u64::MAX, 1)]);
    }

    #[test]
    fn partial_counts() {
        assert_eq!(partial(0, Errno::EFAULT), Err(Errno::EFAULT));
        assert_eq!(partial(1, Errno::EFAULT), Ok(1));
        assert_eq!(partial(4096, Errno::EPERM), Ok(4096));
    }

    /// Bytes from `offset` up to 2^64, at most `count`.
    fn reachable(offset: u64, count: usize) -> u128 {
        (count as u128).min((1u128 << 64) - u128::from(offset))
    }

    fn near_top() -> impl Strategy<Value = u64> {
        prop_oneof![any::<u64>(), 0u64..0x10000, (u64::MAX - 0x10000)..=u64::MAX]
    }

    proptest! {
        #[test]
        fn page_chunks_tile_the_range(offset in near_top(), count in 0usize..0x8000) {
            let chunks: Vec<_> = page_chunks(offset, count).collect();
            let mut at = u128::from(offset);
            for (i, &(start, size)) in chunks.iter().enumerate() {
                prop_assert_eq!(u128::from(start), at);
                prop_assert!(size >= 1);
                prop_assert_eq!(start / PAGE_SIZE, (u128::from(start) + size as u128 - 1) as u64 / PAGE_SIZE);
                if i > 0 {
                    prop_assert_eq!(start % PAGE_SIZE, 0, "only the first piece may start inside a page");
                }
                at += size as u128;
            }
            prop_assert_eq!(at - u128::from(offset), reachable(offset, count));
        }

        #[test]
        fn access_widths_are_greedy_and_aligned(address in near_top(), len in 0usize..200) {
            let mut at = u128::from(address);
            for (start, width) in access_widths(address, len) {
                let left = reachable(address, len) - (at - u128::from(address));
                prop_assert_eq!(u128::from(start), at);
                prop_assert!([1, 2, 4, 8].contains(&width));
                prop_assert_eq!(start % width as u64, 0);
                prop_assert!(width as u128 <= left);
                let wider = width * 2;
                prop_assert!(wider > 8 || start % wider as u64 != 0 || wider as u128 > left);
                at += width as u128;
            }
            prop_assert_eq!(at - u128::from(address), reachable(address, len));
        }
    }
}
