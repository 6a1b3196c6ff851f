//! The kernel's virtual address space.
//!
//! ```text
//! 0x0000_0000_0000_0000  lower half: the bootloader's boot info, boot stack, framebuffer
//! 0xffff_8000_0000_0000  direct map: all physical memory, at DIRECT_MAP_BASE + phys
//! 0xffff_c000_0000_0000  window: physical ranges mapped on demand with a chosen type
//! 0xffff_e000_0000_0000  kernel heap, grown on demand
//! 0xffff_ffff_8000_0000  the kernel image (KERNEL_BASE)
//! ```

/// Where the bootloader maps all of physical memory (Linux puts its direct map here too).
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
/// Start and size of the window for `map_phys_range`.
pub const WINDOW_BASE: u64 = 0xffff_c000_0000_0000;
pub const WINDOW_SIZE: u64 = 512 << 30;
/// Start and maximum size of the kernel heap.
pub const HEAP_BASE: u64 = 0xffff_e000_0000_0000;
pub const HEAP_MAX_SIZE: u64 = 64 << 20;
/// Where the kernel image is loaded.
pub const KERNEL_BASE: u64 = ktest_protocol::KERNEL_BASE;
