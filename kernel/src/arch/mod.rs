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
pub mod percpu;
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
    smp::set_ap_hooks(smp::ApHooks { before_start: record_bsp_state, on_ap: init_ap });
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

/// The BSP's MTRRs when the APs start: each AP copies them (the SDM wants all CPUs' MTRRs
/// alike; firmware may leave APs' differently).
static BSP_MTRRS: spin::Once<memrange::MtrrRegisters> = spin::Once::new();

fn record_bsp_state() {
    if let Some(mtrrs) = mtrr::read_all() {
        BSP_MTRRS.call_once(|| mtrrs);
    }
}

/// An AP's own set-up, after `smp` gave it its GDT, TSS and GS: the interrupt table,
/// protection features, SYSCALL and SMEP/SMAP, the PAT and the BSP's MTRRs.
fn init_ap() {
    idt::init();
    cpu::enable_protection_features();
    usermode::init_cpu();
    let _ = pat::program();
    if let Some(mtrrs) = BSP_MTRRS.get() {
        let _ = mtrr::write_all(mtrrs);
    }
}
