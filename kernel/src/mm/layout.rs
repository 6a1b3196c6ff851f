//! The kernel's virtual address space.
//!
//! ```text
//! 0x0000_0000_0000_0000  lower half: the running process's (see mm::uspace)
//! 0xffff_8000_0000_0000  direct map: System RAM only, at DIRECT_MAP_BASE + phys
//! 0xffff_a000_0000_0000  the bootloader's boot info, boot stack and ramdisk
//! 0xffff_c000_0000_0000  window: physical ranges mapped on demand with a chosen type
//! 0xffff_e000_0000_0000  kernel heap, grown on demand
//! 0xffff_ff00_0000_0000  during boot only: the recursive slot (mm::direct_map)
//! 0xffff_ffff_8000_0000  the kernel image (KERNEL_BASE)
//! ```

/// Where mm::direct_map maps System RAM (Linux puts its direct map here too).
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
/// The range where the bootloader puts what it maps besides the kernel and the direct
/// map (boot info, boot stack, ramdisk): kept out of the lower half, which processes own.
pub const BOOTLOADER_DYNAMIC_BASE: u64 = 0xffff_a000_0000_0000;
pub const BOOTLOADER_DYNAMIC_END: u64 = 0xffff_bfff_ffff_ffff;
/// The lower half: addresses below this are user addresses.
pub const USER_END: u64 = crate::arch::usermode::USER_END;
/// Start and size of the window for `map_phys_range`.
pub const WINDOW_BASE: u64 = 0xffff_c000_0000_0000;
pub const WINDOW_SIZE: u64 = 512 << 30;
/// Start and maximum size of the kernel heap.
pub const HEAP_BASE: u64 = 0xffff_e000_0000_0000;
pub const HEAP_MAX_SIZE: u64 = 64 << 20;
/// Where the kernel image is loaded.
pub const KERNEL_BASE: u64 = ktest_protocol::KERNEL_BASE;

/// The top-level slot the bootloader maps the top-level table into (recursively), for
/// mm::direct_map to write the direct map's tables through; cleared once it has.
pub const RECURSIVE_SLOT: usize = 510;
/// The start of the range the recursive slot covers.
pub const RECURSIVE_BASE: u64 = 0xffff_0000_0000_0000 | (RECURSIVE_SLOT as u64) << 39;
