//! Everything that touches the CPU or a device register directly: descriptor tables,
//! exceptions, port I/O, the serial port, the timer, QEMU's debug devices.
//!
//! This is one of the two layers (with `mm`) allowed to use `unsafe`; the layers above
//! call the safe functions exported here.

pub mod apic;
pub mod cpu;
pub mod cpuid;
pub mod extable;
pub mod fw_cfg;
pub mod gdt;
pub mod idt;
pub mod mtrr;
pub mod pat;
pub mod pci;
pub mod pic;
pub mod portio;
pub mod qemu;
pub mod serial;
pub mod smp;
pub mod timer;
pub mod usermode;

/// Brings the CPU into the state the rest of the kernel expects: serial console first
/// (so that everything after it can report), then segments, exceptions and the timer.
pub fn init() {
    serial::init();
    gdt::init();
    smp::install_gs(0);
    idt::init();
    cpu::enable_protection_features();
    usermode::init();
    pic::init();
    timer::init();
    serial::enable_receive_interrupts();
}
