//! Memory management: the physical memory map, frames, page tables with memory types,
//! the mapping window, the heap and fault-safe copies.
//!
//! With `arch`, the only layer allowed `unsafe`: it is where raw pointers into the
//! direct map are made. The rules it follows (PTE layout, PAT encoding, the frame
//! bitmap, region classification) are in the host-tested `mm-core` crate.

pub mod acpi;
pub mod frames;
pub mod heap;
pub mod layout;
pub mod nofault;
pub mod paging;
pub mod physmap;
pub mod query;
pub mod registry;
pub mod uspace;
pub mod window;

use bootloader_api::BootInfo;
pub use mm_core::PAGE_SIZE;
pub use mm_core::memtype::{MemoryType, PageSize};

use layout::DIRECT_MAP_BASE;

/// Brings memory management up, in dependency order. Needs `arch::init` first (the
/// page-fault handler, and the PAT already programmed).
/// Returns the uptime (ns) at the end of each phase: physical map, frames, heap.
pub fn init(boot_info: &'static BootInfo) -> [u64; 3] {
    let offset = boot_info.physical_memory_offset.into_option();
    assert_eq!(offset, Some(DIRECT_MAP_BASE), "the bootloader must map physical memory at DIRECT_MAP_BASE");
    let now = crate::arch::timer::uptime_ns;
    paging::init();
    physmap::init(boot_info);
    let physmap_done = now();
    frames::init(boot_info);
    let frames_done = now();
    heap::init();
    window::init();
    [physmap_done, frames_done, now()]
}

/// The direct-map address of physical address `phys`.
pub const fn phys_to_virt(phys: u64) -> u64 {
    DIRECT_MAP_BASE + phys
}

/// The physical memory [phys, phys+len) as a byte slice, through the direct map.
/// For memory that the kernel only reads and nothing else writes: the kernel ELF file
/// and the bootloader's tables.
fn direct_map_slice(phys: u64, len: u64) -> &'static [u8] {
    // SAFETY: callers pass ranges inside RAM that the bootloader filled and nobody
    // writes afterwards; the direct map covers all of it.
    unsafe { core::slice::from_raw_parts(phys_to_virt(phys) as *const u8, len as usize) }
}

/// The ramdisk the bootloader loaded (a cpio archive: the programs of /bin), if any.
/// The bootloader maps it read-only in the kernel half and marks its frames as its own,
/// so the frame allocator never hands them out and nothing writes them.
pub fn ramdisk(boot_info: &'static BootInfo) -> Option<&'static [u8]> {
    let addr = boot_info.ramdisk_addr.into_option()?;
    let len = usize::try_from(boot_info.ramdisk_len).ok()?;
    if len == 0
        || addr < layout::BOOTLOADER_DYNAMIC_BASE
        || addr.checked_add(len as u64)? > layout::BOOTLOADER_DYNAMIC_END
    {
        return None;
    }
    // SAFETY: the bootloader mapped [addr, addr+len) for the kernel before entering it,
    // in the range reserved for its mappings (checked above), and never unmaps or
    // writes it afterwards; its frames are not the allocator's.
    Some(unsafe { core::slice::from_raw_parts(addr as *const u8, len) })
}
