//! Byte access to x86 I/O ports: the primitive behind `/dev/port`.
//!
//! Port I/O can reconfigure any device, which is why `/dev/port` is root's alone; these
//! functions are safe to call in the Rust sense (they touch no memory the compiler
//! knows about) and dangerous in the machine sense, like the device they serve.

use x86_64::instructions::port::Port;

/// `inb`.
pub fn read_u8(port: u16) -> u8 {
    // SAFETY: an IN instruction reads a device register and writes only AL; it cannot
    // break memory safety (no device here does DMA on a read).
    unsafe { Port::<u8>::new(port).read() }
}

/// `outb`.
pub fn write_u8(port: u16, value: u8) {
    // SAFETY: an OUT instruction writes a device register; the callers (the /dev/port
    // driver, opened for writing by root only) take responsibility for what the device does.
    unsafe { Port::<u8>::new(port).write(value) }
}
