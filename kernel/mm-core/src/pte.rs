//! x86-64 page-table entries (4-level paging): plain `u64`s built from and read as typed
//! addresses (`PhysAddr` for frames, `PhysFrame` for tables, `VirtAddr` for indices).
//!
//! Layout: Intel SDM Vol. 3A, 4.5 (Tables 4-15 to 4-20). The kernel's `mm` module walks
//! real tables with these helpers; the rules themselves (what a leaf looks like, how a
//! large page splits) are here, where the host tests check them.

use x86_64::structures::paging::PhysFrame;
use x86_64::{PhysAddr, VirtAddr};

use crate::memtype::{MemoryType, PageSize, cache_bits, cache_mask, memtype_of_entry};

pub const PRESENT: u64 = 1 << 0;
pub const WRITABLE: u64 = 1 << 1;
pub const USER: u64 = 1 << 2;
pub const ACCESSED: u64 = 1 << 5;
pub const DIRTY: u64 = 1 << 6;
/// PS: in a PDPT or PD entry, the entry maps a 1 GiB or 2 MiB page itself.
pub const HUGE: u64 = 1 << 7;
pub const GLOBAL: u64 = 1 << 8;
pub const NO_EXECUTE: u64 = 1 << 63;
/// Physical-address bits of an entry pointing to a table or a 4 KiB page (bits 12-51).
pub const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Entries per table.
pub const ENTRIES: usize = 512;

/// A level of the 4-level page-table tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Pml4,
    Pdpt,
    Pd,
    Pt,
}

impl Level {
    /// The level below, or `None` for the page table.
    pub const fn next(self) -> Option<Self> {
        match self {
            Self::Pml4 => Some(Self::Pdpt),
            Self::Pdpt => Some(Self::Pd),
            Self::Pd => Some(Self::Pt),
            Self::Pt => None,
        }
    }

    /// The size of a leaf at this level, if leaves are allowed here.
    pub const fn leaf_size(self) -> Option<PageSize> {
        match self {
            Self::Pml4 => None,
            Self::Pdpt => Some(PageSize::Size1G),
            Self::Pd => Some(PageSize::Size2M),
            Self::Pt => Some(PageSize::Size4K),
        }
    }

    /// The level whose leaves have `size`.
    pub const fn of_leaf(size: PageSize) -> Self {
        match size {
            PageSize::Size1G => Self::Pdpt,
            PageSize::Size2M => Self::Pd,
            PageSize::Size4K => Self::Pt,
        }
    }

    /// Bit position of this level's 9-bit index in a virtual address.
    const fn shift(self) -> u32 {
        match self {
            Self::Pml4 => 39,
            Self::Pdpt => 30,
            Self::Pd => 21,
            Self::Pt => 12,
        }
    }
}

/// The index into a table at `level` for virtual address `va`.
pub const fn table_index(va: VirtAddr, level: Level) -> usize {
    ((va.as_u64() >> level.shift()) & 0x1ff) as usize
}

/// Whether `va` is canonical for 48-bit virtual addresses (bits 63-47 all equal).
pub const fn is_canonical(va: u64) -> bool {
    let top = va >> 47;
    top == 0 || top == 0x1_ffff
}

/// What a leaf mapping allows, in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub writable: bool,
    pub user: bool,
    pub global: bool,
    pub no_execute: bool,
    pub memtype: MemoryType,
}

impl Attributes {
    /// Kernel data: writable, not executable, global, write-back.
    pub const KERNEL_DATA: Self =
        Self { writable: true, user: false, global: true, no_execute: true, memtype: MemoryType::WriteBack };

    /// The same attributes with another memory type.
    pub const fn with_memtype(self, memtype: MemoryType) -> Self {
        Self { memtype, ..self }
    }
}

/// One page-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry(pub u64);

impl Entry {
    pub const EMPTY: Self = Self(0);

    pub const fn is_present(self) -> bool {
        self.0 & PRESENT != 0
    }

    /// Whether this entry, at `level`, maps a page itself rather than pointing to a table.
    pub const fn is_leaf(self, level: Level) -> bool {
        match level {
            Level::Pml4 => false,
            Level::Pdpt | Level::Pd => self.0 & HUGE != 0,
            Level::Pt => true,
        }
    }

    /// An entry pointing to the page table in `table`. Tables grant all permissions; the
    /// leaves decide.
    pub fn table(table: PhysFrame) -> Self {
        Self((table.start_address().as_u64() & ADDRESS_MASK) | PRESENT | WRITABLE)
    }

    /// The frame of the table this (non-leaf) entry points to.
    pub fn table_address(self) -> PhysFrame {
        // The mask keeps bits 12-51: a page-aligned address PhysAddr accepts.
        PhysFrame::containing_address(PhysAddr::new(self.0 & ADDRESS_MASK))
    }

    /// A leaf mapping the `size` page at physical address `frame` (its low bits, below
    /// `size`, are ignored).
    pub const fn leaf(frame: PhysAddr, size: PageSize, attributes: Attributes) -> Self {
        let mut bits = (frame.as_u64() & address_mask(size)) | PRESENT | cache_bits(attributes.memtype, size);
        if !matches!(size, PageSize::Size4K) {
            bits |= HUGE;
        }
        if attributes.writable {
            bits |= WRITABLE;
        }
        if attributes.user {
            bits |= USER;
        }
        if attributes.global {
            bits |= GLOBAL;
        }
        if attributes.no_execute {
            bits |= NO_EXECUTE;
        }
        Self(bits)
    }

    /// The physical address of the page this leaf maps.
    pub const fn frame(self, size: PageSize) -> PhysAddr {
        // The mask keeps bits below 52: an address PhysAddr accepts.
        PhysAddr::new(self.0 & address_mask(size))
    }

    /// What this leaf of `size` allows.
    pub const fn attributes(self, size: PageSize) -> Attributes {
        Attributes {
            writable: self.0 & WRITABLE != 0,
            user: self.0 & USER != 0,
            global: self.0 & GLOBAL != 0,
            no_execute: self.0 & NO_EXECUTE != 0,
            memtype: memtype_of_entry(self.0, size),
        }
    }

    /// This leaf with another memory type; every other bit is kept.
    pub const fn with_memtype(self, size: PageSize, memtype: MemoryType) -> Self {
        Self((self.0 & !cache_mask(size)) | cache_bits(memtype, size))
    }
}

/// The physical-address bits of a leaf of `size`: bits 12, 21 or 30 up to bit 51. For
/// large leaves bit 12 is the PAT bit, not an address bit.
pub const fn address_mask(size: PageSize) -> u64 {
    ADDRESS_MASK & !(size.bytes() - 1)
}

/// Entry `index` of the table that replaces `leaf` (of `size`) when it is split into
/// pages of the next size down: same frame range, same attributes and memory type (the
/// PAT bit moves between bit 12 and bit 7 as needed), same accessed/dirty state.
/// `None` for a 4 KiB leaf, which cannot be split.
pub const fn split_entry(leaf: Entry, size: PageSize, index: usize) -> Option<Entry> {
    let Some(smaller) = size.smaller() else { return None };
    let frame = leaf.frame(size).as_u64() + index as u64 * smaller.bytes();
    let entry = Entry::leaf(PhysAddr::new(frame), smaller, leaf.attributes(size));
    Some(Entry(entry.0 | (leaf.0 & (ACCESSED | DIRTY))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memtype::{ALL_MEMORY_TYPES, PAT_4K, PAT_LARGE};
    use proptest::prelude::*;

    fn sizes() -> impl Strategy<Value = PageSize> {
        prop::sample::select(&[PageSize::Size4K, PageSize::Size2M, PageSize::Size1G][..])
    }

    fn attributes() -> impl Strategy<Value = Attributes> {
        (any::<[bool; 4]>(), prop::sample::select(&ALL_MEMORY_TYPES[..])).prop_map(|(b, memtype)| {
            Attributes { writable: b[0], user: b[1], global: b[2], no_execute: b[3], memtype }
        })
    }

    #[test]
    fn indices_and_canonical_addresses() {
        let va = VirtAddr::new(0xffff_ffff_8020_3000);
        assert_eq!(table_index(va, Level::Pml4), 511);
        assert_eq!(table_index(va, Level::Pdpt), 510);
        assert_eq!(table_index(va, Level::Pd), 1);
        assert_eq!(table_index(va, Level::Pt), 3);
        assert!(is_canonical(0x0000_7fff_ffff_ffff));
        assert!(is_canonical(0xffff_8000_0000_0000));
        assert!(!is_canonical(0x0000_8000_0000_0000));
        assert!(!is_canonical(0xfff0_0000_0000_0000));
    }

    #[test]
    fn a_write_protect_2m_leaf_uses_bit_12() {
        let attrs = Attributes::KERNEL_DATA.with_memtype(MemoryType::WriteProtect);
        let entry = Entry::leaf(PhysAddr::new(0x4020_0000), PageSize::Size2M, attrs);
        assert_ne!(entry.0 & PAT_LARGE, 0);
        assert_ne!(entry.0 & HUGE, 0);
        assert_eq!(entry.frame(PageSize::Size2M).as_u64(), 0x4020_0000);
        let child = split_entry(entry, PageSize::Size2M, 2).unwrap();
        assert_eq!(child.0 & PAT_LARGE, 0, "bit 12 is an address bit in a 4 KiB entry");
        assert_ne!(child.0 & PAT_4K, 0, "the PAT bit moved to bit 7");
        assert_eq!(child.frame(PageSize::Size4K).as_u64(), 0x4020_2000);
        assert_eq!(child.attributes(PageSize::Size4K), attrs);
    }

    proptest! {
        #[test]
        fn leaves_round_trip(size in sizes(), attrs in attributes(), frame in 0u64..1 << 40) {
            let frame = PhysAddr::new(frame & address_mask(size));
            let entry = Entry::leaf(frame, size, attrs);
            prop_assert!(entry.is_present());
            prop_assert!(entry.is_leaf(Level::of_leaf(size)));
            prop_assert_eq!(entry.frame(size), frame);
            prop_assert_eq!(entry.attributes(size), attrs);
        }

        #[test]
        fn retyping_keeps_everything_else(size in sizes(), attrs in attributes(), frame in 0u64..1 << 40,
                                          new in prop::sample::select(&ALL_MEMORY_TYPES[..])) {
            let entry = Entry::leaf(PhysAddr::new(frame & address_mask(size)), size, attrs);
            let retyped = entry.with_memtype(size, new);
            prop_assert_eq!(retyped.attributes(size), attrs.with_memtype(new));
            prop_assert_eq!(retyped.frame(size), entry.frame(size));
        }

        #[test]
        fn splitting_covers_the_same_frames_with_the_same_attributes(
            size in prop::sample::select(&[PageSize::Size2M, PageSize::Size1G][..]),
            attrs in attributes(), frame in 0u64..1 << 40, index in 0usize..ENTRIES,
        ) {
            let leaf = Entry::leaf(PhysAddr::new(frame & address_mask(size)), size, attrs);
            let smaller = size.smaller().unwrap();
            let child = split_entry(leaf, size, index).unwrap();
            prop_assert_eq!(child.frame(smaller), leaf.frame(size) + index as u64 * smaller.bytes());
            // A table entry keeps exactly the frame it was given.
            let table = PhysFrame::containing_address(child.frame(smaller));
            prop_assert_eq!(Entry::table(table).table_address(), table);
            prop_assert_eq!(child.attributes(smaller), attrs);
            prop_assert_eq!(child.is_leaf(Level::of_leaf(smaller)), true);
        }
    }
}
