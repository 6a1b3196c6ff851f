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
    /// Linux's `pci_fixup_video` (arch/x86/pci/fixup.c) for the boot VGA device: its ROM
    /// resource becomes the BIOS's shadow copy at 0xC0000, 128 KiB, flagged
    /// `IORESOURCE_ROM_SHADOW` (low bits 2), and is not claimed in /proc/iomem. Applies
    /// to a VGA controller (class 0300) on bus 0 with I/O or memory decoding on; the
    /// caller applies it to the first such device only, as Linux keeps one default VGA.
    pub fn apply_vga_shadow(&mut self) -> bool {
        let decoding = self.header.command() & header::COMMAND_DECODE_ENABLE != 0;
        if self.header.class() != 0x0300 || self.address.bus() != 0 || !decoding {
            return false;
        }
        self.resources[6] = Some(Bar {
            kind: BarKind::Rom { enabled: false },
            start: 0xc0000,
            size: 0x20000,
            flags: 2,
            raw: self.resources[6].map_or(0, |r| r.raw),
            legacy: true,
        });
        true
    }

    pub fn irq(&self) -> u8 {
        if self.header.interrupt_pin() != 0 { self.header.interrupt_line() } else { 0 }
    }
}

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;
