//! The ACPI tables, read with the `acpi` crate through read-only write-back mappings in
//! the window (they live in firmware-reserved memory, which the direct map leaves out):
//! the MADT's list of CPUs, for bringing up the APs.
//!
//! No AML is interpreted, so the handler's register, port and PCI accessors (which only
//! the AML interpreter and the fixed-hardware registers use) refuse with a panic rather
//! than touch hardware.

use alloc::vec::Vec;
use core::ptr::NonNull;

use acpi::platform::{InterruptModel, ProcessorState};
use acpi::{AcpiTables, Handler, PciAddress, PhysicalMapping};
use bootloader_api::BootInfo;
use mm_core::memtype::MemoryType;

use x86_64::{PhysAddr, VirtAddr};

use super::window;

/// Maps ACPI tables in the window, read-only and write-back (Linux maps them with
/// `ioremap_cache`: they are firmware data in memory, not device registers).
#[derive(Clone, Copy, Debug)]
struct TableMapper;

fn no_aml() -> ! {
    panic!("ACPI: register and port access is not supported (no AML interpreter)")
}

impl Handler for TableMapper {
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> PhysicalMapping<Self, T> {
        // A usize from the ACPI crate: below 2^52 for any table a firmware can point at;
        // an address past that is a corrupt table, reported like a failed mapping.
        let phys = PhysAddr::try_new(physical_address as u64)
            .unwrap_or_else(|_| panic!("ACPI: table address {physical_address:#x} is not physical"));
        let mapping = window::map_phys_pages(phys, size.max(1) as u64, false, |_| MemoryType::WriteBack)
            .unwrap_or_else(|error| panic!("ACPI: cannot map {physical_address:#x}+{size:#x}: {error:?}"));
        // Unmapped in unmap_physical_region, rebuilt from the addresses PhysicalMapping
        // keeps (a WindowMapping has no Drop: letting it go here unmaps nothing).
        let (virt, mapped_length) = (mapping.va.as_mut_ptr::<T>(), mapping.len as usize);
        PhysicalMapping {
            physical_start: physical_address,
            // The window starts at a non-zero address: the pointer is never null.
            virtual_start: NonNull::new(virt).expect("window addresses are not null"),
            region_length: size,
            mapped_length,
            handler: *self,
        }
    }

    fn unmap_physical_region<T>(region: &PhysicalMapping<Self, T>) {
        // The addresses map_physical_region made this mapping from, kept by the crate.
        let mapping = window::WindowMapping::rebuild(
            VirtAddr::from_ptr(region.virtual_start.as_ptr()),
            PhysAddr::new(region.physical_start as u64),
            region.mapped_length as u64,
        );
        window::unmap_phys_range(mapping);
    }

    fn read_u8(&self, _: usize) -> u8 {
        no_aml()
    }
    fn read_u16(&self, _: usize) -> u16 {
        no_aml()
    }
    fn read_u32(&self, _: usize) -> u32 {
        no_aml()
    }
    fn read_u64(&self, _: usize) -> u64 {
        no_aml()
    }
    fn write_u8(&self, _: usize, _: u8) {
        no_aml()
    }
    fn write_u16(&self, _: usize, _: u16) {
        no_aml()
    }
    fn write_u32(&self, _: usize, _: u32) {
        no_aml()
    }
    fn write_u64(&self, _: usize, _: u64) {
        no_aml()
    }
    fn read_io_u8(&self, _: u16) -> u8 {
        no_aml()
    }
    fn read_io_u16(&self, _: u16) -> u16 {
        no_aml()
    }
    fn read_io_u32(&self, _: u16) -> u32 {
        no_aml()
    }
    fn write_io_u8(&self, _: u16, _: u8) {
        no_aml()
    }
    fn write_io_u16(&self, _: u16, _: u16) {
        no_aml()
    }
    fn write_io_u32(&self, _: u16, _: u32) {
        no_aml()
    }
    fn read_pci_u8(&self, _: PciAddress, _: u16) -> u8 {
        no_aml()
    }
    fn read_pci_u16(&self, _: PciAddress, _: u16) -> u16 {
        no_aml()
    }
    fn read_pci_u32(&self, _: PciAddress, _: u16) -> u32 {
        no_aml()
    }
    fn write_pci_u8(&self, _: PciAddress, _: u16, _: u8) {
        no_aml()
    }
    fn write_pci_u16(&self, _: PciAddress, _: u16, _: u16) {
        no_aml()
    }
    fn write_pci_u32(&self, _: PciAddress, _: u16, _: u32) {
        no_aml()
    }

    fn nanos_since_boot(&self) -> u64 {
        crate::arch::timer::uptime_ns()
    }

    fn stall(&self, microseconds: u64) {
        let end = crate::arch::timer::uptime_ns() + microseconds * 1000;
        while crate::arch::timer::uptime_ns() < end {
            core::hint::spin_loop();
        }
    }

    fn sleep(&self, milliseconds: u64) {
        self.stall(milliseconds * 1000);
    }

    fn create_mutex(&self) -> acpi::Handle {
        no_aml()
    }

    fn acquire(&self, _: acpi::Handle, _: u16) -> Result<(), acpi::aml::AmlError> {
        no_aml()
    }

    fn release(&self, _: acpi::Handle) {
        no_aml()
    }
}

/// The processors the MADT lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MadtCpus {
    /// The local APIC ID of the boot processor.
    pub bsp_apic_id: u32,
    /// The APIC IDs of the application processors that may be started, in the MADT's order.
    pub aps: Vec<u32>,
    /// How many processors the MADT marks disabled.
    pub disabled: usize,
}

/// Reads the MADT from the RSDP the bootloader reported.
pub fn madt_cpus(boot_info: &BootInfo) -> Result<MadtCpus, &'static str> {
    let rsdp = boot_info.rsdp_addr.into_option().ok_or("the bootloader reported no RSDP")?;
    // SAFETY: the bootloader found the RSDP in firmware memory and reported its address;
    // the tables it leads to are firmware data the kernel never writes, and TableMapper
    // maps them read-only in the window.
    let tables =
        unsafe { AcpiTables::from_rsdp(TableMapper, rsdp as usize) }.map_err(|_| "no valid RSDP/RSDT")?;
    let (_, processors) = InterruptModel::new(&tables).map_err(|_| "no usable MADT")?;
    let processors = processors.ok_or("the MADT lists no processors")?;
    let usable = |p: &&acpi::platform::Processor| p.state != ProcessorState::Disabled;
    Ok(MadtCpus {
        bsp_apic_id: processors.boot_processor.local_apic_id,
        aps: processors.application_processors.iter().filter(usable).map(|p| p.local_apic_id).collect(),
        disabled: processors
            .application_processors
            .iter()
            .filter(|p| p.state == ProcessorState::Disabled)
            .count(),
    })
}
