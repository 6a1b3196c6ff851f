//! Memory management: the physical memory map, frames, page tables with memory types,
//! the mapping window, the heap and fault-safe copies.
//!
//! With `arch`, the only layer allowed `unsafe`: it is where raw pointers into the
//! direct map are made. The rules it follows (PTE layout, PAT encoding, the frame
//! bitmap, region classification) are in the host-tested `mm-core` crate.

pub mod acpi;
pub mod direct_map;
pub mod frames;
pub mod heap;
pub mod layout;
pub mod memtype;
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
/// Addresses at mm's API are typed: a physical address, a virtual one (canonical by
/// construction) and a 4 KiB frame are three types, never a bare `u64`.
pub use x86_64::structures::paging::PhysFrame;
pub use x86_64::{PhysAddr, VirtAddr};

use layout::DIRECT_MAP_BASE;

/// Brings memory management up, in dependency order. Needs `arch::init` first (the
/// page-fault handler, and the PAT already programmed).
/// Returns the uptime (ns) at the end of each phase: physical map, frames, heap.
pub fn init(boot_info: &'static BootInfo) -> [u64; 3] {
    let recursive = boot_info.recursive_index.into_option();
    assert_eq!(
        recursive,
        Some(layout::RECURSIVE_SLOT as u16),
        "the bootloader must map the page tables recursively"
    );
    let now = crate::arch::timer::uptime_ns;
    let table_frames = direct_map::build(boot_info);
    paging::init();
    physmap::init(boot_info);
    let physmap_done = now();
    let map = physmap::map();
    frames::init(boot_info, table_frames, |page| map.page_is_ram(page));
    let frames_done = now();
    heap::init();
    window::init();
    [physmap_done, frames_done, now()]
}

/// The direct-map address of physical address `phys` (mapped there only when it is
/// System RAM: see `direct_map`).
pub const fn phys_to_virt(phys: PhysAddr) -> VirtAddr {
    // PhysAddr is below 2^52, so the sum stays inside the kernel half: canonical.
    VirtAddr::new(DIRECT_MAP_BASE + phys.as_u64())
}

/// The physical memory [phys, phys+len) as a byte slice, through the direct map.
/// For memory that the kernel only reads and nothing else writes: the kernel ELF file
/// and the bootloader's tables.
fn direct_map_slice(phys: u64, len: u64) -> &'static [u8] {
    // SAFETY: callers pass ranges inside RAM that the bootloader filled and nobody
    // writes afterwards; the direct map covers all of it.
    unsafe { core::slice::from_raw_parts(phys_to_virt(PhysAddr::new(phys)).as_ptr(), len as usize) }
}

/// The fw_cfg file `xtask` passes the ramdisk in (`-fw_cfg name=...,file=...`).
pub const RAMDISK_FW_CFG_NAME: &str = "opt/devmem/ramdisk";

/// Largest ramdisk read from fw_cfg (compressed).
const MAX_FW_CFG_RAMDISK: u32 = 32 << 20;

/// The ramdisk QEMU offers in fw_cfg, read by DMA into a heap buffer that is kept for the
/// whole run (the files' bytes stay there). Under QEMU this is how `cargo xtask` passes
/// it: the BIOS bootloader reads its disk through 16 KiB real-mode calls and copies every
/// byte with a check, about 0.7 s per MiB under TCG, while DMA is a host memcpy.
/// `None` without fw_cfg DMA, without the file, or when it is empty or too large.
pub fn fw_cfg_ramdisk() -> Option<&'static [u8]> {
    use crate::arch::fw_cfg;
    let file = fw_cfg::find_dma_file(RAMDISK_FW_CFG_NAME)?;
    if file.size == 0 || file.size > MAX_FW_CFG_RAMDISK {
        log::warn!("ramdisk: fw_cfg's is {} bytes; 1 to {MAX_FW_CFG_RAMDISK} accepted", file.size);
        return None;
    }
    let mut bytes = alloc::vec::Vec::new();
    if bytes.try_reserve_exact(file.size as usize).is_err() {
        log::warn!("ramdisk: no memory for fw_cfg's {} bytes", file.size);
        return None;
    }
    bytes.resize(file.size as usize, 0u8);
    let mut descriptor = alloc::boxed::Box::new(fw_cfg::DmaAccess::default());
    let descriptor_phys = paging::translate(VirtAddr::from_ptr(&raw const *descriptor))?.phys.as_u64();
    let mut done = 0usize;
    while done < bytes.len() {
        let va = bytes.as_mut_ptr() as u64 + done as u64;
        // One transfer per page: the heap's pages need not be physically contiguous.
        let chunk = (PAGE_SIZE - va % PAGE_SIZE).min((bytes.len() - done) as u64);
        let phys = paging::translate(VirtAddr::new(va))?.phys.as_u64();
        // SAFETY: `descriptor_phys` was translated from the boxed descriptor, which lives
        // to the end of this function; [phys, phys + chunk) is the part of `bytes` (heap
        // RAM this function owns, no reference to it in use) at `va`, translated above.
        let result = unsafe {
            fw_cfg::dma_read(&mut descriptor, descriptor_phys, file, done == 0, phys, chunk as u32)
        };
        if result.is_err() {
            log::warn!("ramdisk: fw_cfg DMA failed at byte {done}");
            return None;
        }
        done += chunk as usize;
    }
    Some(bytes.leak())
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
