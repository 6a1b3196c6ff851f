//! Byte access to x86 I/O ports: the primitive behind `/dev/port`.
//!
//! Port I/O can reconfigure any device, which is why `/dev/port` is root's alone. A read
//! is safe; a write is `unsafe`: it can program a DMA controller or PCI configuration
//! space to overwrite any memory, Rust's included.

use x86_64::instructions::port::Port;

/// `inb`.
pub fn read_u8(port: u16) -> u8 {
    // SAFETY: an IN instruction reads a device register and writes only AL; it cannot
    // break memory safety (no device here does DMA on a read).
    unsafe { Port::<u8>::new(port).read() }
}

/// `outb`.
///
/// # Safety
///
/// The write may make a device write memory (DMA, PCI BARs moved over RAM) or stop the
/// machine: the caller is privileged to reprogram hardware (uid 0 on a /dev/port opened
/// for writing) and takes responsibility for what the device does.
pub unsafe fn write_u8(port: u16, value: u8) {
    // SAFETY: an OUT instruction writes a device register; the caller's contract covers
    // what the device then does.
    unsafe { Port::<u8>::new(port).write(value) }
}
