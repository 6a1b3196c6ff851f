//! PCI without hardware: configuration addresses and headers, BAR decoding and sizing
//! (Linux's `__pci_read_base` and `pci_size`, drivers/pci/probe.c), and the text of
//! `/proc/bus/pci/devices` (drivers/pci/proc.c `show_device`), the PCI lines of
//! `/proc/iomem` and `lspci` (pciutils' `show_terse` and `show_bases`).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod bar;
pub mod format;
pub mod header;

pub use bar::{Bar, BarKind, Probe};
pub use header::{Address, Header};

/// Everything enumeration learns about one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub address: Address,
    pub header: Header,
    /// Resources 0..=5 (the BARs) and 6 (the expansion ROM), as Linux numbers them; a
    /// 64-bit BAR fills its own slot and leaves the next one empty.
    pub resources: [Option<Bar>; 7],
}

impl Device {
    /// Decodes a function from its header and the probes of its BAR registers (one per
    /// register, `bar::probe_count` of them) and of its ROM register.
    pub fn new(address: Address, header: Header, bars: &[Probe], rom: Option<Probe>) -> Self {
        let mut resources = bar::decode_all(bars, rom);
        bar::legacy_ide(&header, &mut resources);
        Self { address, header, resources }
    }

    /// Linux's `dev->irq` without interrupt routing: the interrupt line if the function
    /// has an interrupt pin, else 0 (`pci_read_irq`).
    pub fn irq(&self) -> u8 {
        if self.header.interrupt_pin() != 0 { self.header.interrupt_line() } else { 0 }
    }
}

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;
