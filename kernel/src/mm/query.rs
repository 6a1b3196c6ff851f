//! The page-walk query: what a kernel virtual address leads to. `/dev/kmem` decides on
//! this (EFAULT unmapped, EIO device memory, write protection).

use mm_core::memtype::{MemoryType, PageSize};
use x86_64::{PhysAddr, VirtAddr};

use super::{paging, physmap};

/// A mapped page, as the walk found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappedPage {
    /// The physical address the virtual address leads to.
    pub phys: PhysAddr,
    pub page_size: PageSize,
    pub writable: bool,
    pub executable: bool,
    /// The memory type the mapping selects through the PAT.
    pub memtype: MemoryType,
    /// Whether the frame is System RAM (false: device memory, ROM, reserved, a hole).
    pub ram: bool,
}

/// The walk's answer for `va`: `None` if unmapped.
pub fn query(va: VirtAddr) -> Option<MappedPage> {
    let translation = paging::translate(va)?;
    Some(MappedPage {
        phys: translation.phys,
        page_size: translation.size,
        writable: translation.attributes.writable,
        executable: !translation.attributes.no_execute,
        memtype: translation.attributes.memtype,
        ram: physmap::map().page_is_ram(translation.phys.as_u64()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::extable::Width;
    use crate::ktest::ktest;
    use crate::mm::window::{map_phys_range, unmap_phys_range};

    /// QEMU's HPET: its general capabilities register reads vendor 0x8086 in bits 31:16.
    const HPET_BASE: u64 = 0xfed0_0000;

    #[ktest]
    fn device_memory_in_the_window_is_not_ram() {
        let mapping = map_phys_range(PhysAddr::new(HPET_BASE), 0x400, MemoryType::Uncacheable).unwrap();
        let page = query(mapping.va).expect("mapped");
        assert_eq!(
            (page.phys.as_u64(), page.ram, page.memtype, page.writable),
            (HPET_BASE, false, MemoryType::Uncacheable, true)
        );
        assert!(!page.executable);
        // A device register wants one access of its width, not a byte copy.
        let value = crate::mm::nofault::read_width(mapping.va, Width::U64).expect("HPET readable");
        assert_eq!((value >> 16) & 0xffff, 0x8086, "HPET capabilities {value:#x}");
        let va = mapping.va;
        unmap_phys_range(mapping);
        assert_eq!(query(va), None);
    }

    #[ktest]
    fn the_window_gives_its_addresses_back() {
        let free = crate::mm::window::free_bytes();
        let a = map_phys_range(PhysAddr::new(0xe0000), 0x20000, MemoryType::WriteBack).unwrap();
        let b = map_phys_range(PhysAddr::new(0x1234), 10, MemoryType::UncachedMinus).unwrap();
        assert_eq!(b.va.as_u64() & 0xfff, 0x234, "the offset in the page is kept");
        assert!(crate::mm::window::free_bytes() < free);
        unmap_phys_range(a);
        unmap_phys_range(b);
        assert_eq!(crate::mm::window::free_bytes(), free);
        assert!(map_phys_range(PhysAddr::zero(), 0, MemoryType::WriteBack).is_err());
        let limit = PhysAddr::new(1 << physmap::max_phys_addr_bits());
        assert!(map_phys_range(limit, 4096, MemoryType::WriteBack).is_err());
    }

    #[ktest]
    fn the_direct_map_of_ram_is_write_back_ram() {
        let page =
            query(crate::mm::phys_to_virt(PhysAddr::new(0x10_0000))).expect("the direct map covers 1 MiB");
        assert_eq!((page.phys.as_u64(), page.ram, page.memtype), (0x10_0000, true, MemoryType::WriteBack));
    }
}
