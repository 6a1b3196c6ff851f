//! The PCI bus as enumerated once at boot: every function's header and decoded BARs,
//! and the texts made from them (`/proc/bus/pci/devices`, the PCI lines of
//! `/proc/iomem`, the `lspci` tool). No unsafe: configuration space is reached through
//! `arch::pci`.

use alloc::string::String;
use alloc::vec::Vec;

use mm_core::physmap::RegionKind;
use pci_core::{Address, Device, format};
use spin::Once;

use crate::arch;
use crate::mm::physmap;

pub mod lspci;

static DEVICES: Once<Vec<Device>> = Once::new();

/// Enumerates the bus (once; later calls do nothing).
pub fn init() {
    devices();
    crate::vfs::procfs::register("bus/pci/devices", crate::vfs::procfs::READ_ONLY_MODE, |writable| {
        crate::vfs::procfs::read_only_text(writable, proc_devices_text())
    });
    crate::vfs::procfs::set_iomem_extension(add_to_iomem);
}

/// Every function found, in bus, device, function order.
pub fn devices() -> &'static [Device] {
    DEVICES.call_once(enumerate)
}

/// Linux's depth-first scan from bus 0: every device's function 0, functions 1 to 7 of
/// multi-function devices, and the secondary bus of each PCI-to-PCI bridge.
fn enumerate() -> Vec<Device> {
    let mut found = Vec::new();
    let mut scanned = [false; 256];
    scan_bus(0, &mut scanned, &mut found);
    if let Some(vga) = found.iter_mut().find(|d| d.header.class() == 0x0300 && d.header.command() & 3 != 0) {
        vga.apply_vga_shadow();
    }
    found
}

fn scan_bus(bus: u8, scanned: &mut [bool; 256], found: &mut Vec<Device>) {
    if core::mem::replace(&mut scanned[usize::from(bus)], true) {
        return;
    }
    for device in 0..32 {
        for function in 0..8 {
            let Some(address) = Address::new(bus, device, function) else { continue };
            // Vendor first: an absent function costs one read, not a header.
            if matches!(arch::pci::read_u32(address, 0) & 0xffff, 0xffff | 0) {
                if function == 0 {
                    break;
                }
                continue;
            }
            let Some(probed) = arch::pci::probe(address) else { continue };
            let header = probed.header;
            found.push(Device::new(address, header, &probed.bars[..probed.bar_count], probed.rom));
            if header.header_type() == 1 {
                let secondary = header.0[6].to_le_bytes()[1];
                if secondary != 0 {
                    scan_bus(secondary, scanned, found);
                }
            }
            if function == 0 && !header.multi_function() {
                break;
            }
        }
    }
}

/// `/proc/bus/pci/devices`: a line per function (no drivers are bound).
pub fn proc_devices_text() -> String {
    devices().iter().map(|d| format::proc_devices_line(d, None)).collect()
}

/// Adds the PCI lines to the `/proc/iomem` text built from the firmware map: the host
/// bridge window `PCI Bus 0000:00` over the PCI hole, with each memory BAR and ROM
/// inside it under its device's name.
pub fn add_to_iomem(text: String) -> String {
    let entries = format::iomem_entries(devices());
    if entries.is_empty() {
        return text;
    }
    let firmware: Vec<(u64, u64)> = physmap::map()
        .regions()
        .iter()
        .filter(|r| r.kind != RegionKind::Hole && r.end > r.start)
        .map(|r| (r.start, r.end - 1))
        .collect();
    let window = format::pci_hole(&firmware, &entries);
    format::merge_iomem(&text, window, &entries)
}

#[cfg(test)]
mod tests;
