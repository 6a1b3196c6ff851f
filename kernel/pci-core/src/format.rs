//! The text formats: `/proc/bus/pci/devices`, the PCI part of `/proc/iomem`, `lspci`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::Device;
use crate::bar::{BarKind, MEM_TYPE_1M, MEM_TYPE_64, MEM_TYPE_MASK};
use crate::header::{COMMAND_IO, COMMAND_MEMORY};

/// One line of `/proc/bus/pci/devices` (drivers/pci/proc.c `show_device`):
/// `%02x%02x\t%04x%04x\t%x`, then seven `\t%16llx` starts with the flag nibble, seven
/// `\t%16llx` sizes, a tab, the driver's name when one is bound, and a newline.
pub fn proc_devices_line(dev: &Device, driver: Option<&str>) -> String {
    let mut line = String::new();
    let _ = write!(
        line,
        "{:02x}{:02x}\t{:04x}{:04x}\t{:x}",
        dev.address.bus(),
        dev.address.devfn(),
        dev.header.vendor(),
        dev.header.device(),
        dev.irq()
    );
    for res in &dev.resources {
        let value = res.map_or(0, |r| r.start | u64::from(r.flags & 0xf));
        let _ = write!(line, "\t{value:16x}");
    }
    for res in &dev.resources {
        // Linux prints `end - start + 1` only when start < end: a one-byte range shows 0.
        let size = res.map_or(0, |r| if r.start < r.end() { r.end() - r.start + 1 } else { 0 });
        let _ = write!(line, "\t{size:16x}");
    }
    line.push('\t');
    if let Some(name) = driver {
        line.push_str(name);
    }
    line.push('\n');
    line
}

/// The class names of pci.ids for the classes a PC usually has (lspci prints these in
/// place of numbers; we have no vendor or device names).
pub fn class_name(class: u16) -> Option<&'static str> {
    Some(match class {
        0x0000 => "Non-VGA unclassified device",
        0x0001 => "VGA compatible unclassified device",
        0x0100 => "SCSI storage controller",
        0x0101 => "IDE interface",
        0x0105 => "ATA controller",
        0x0106 => "SATA controller",
        0x0108 => "Non-Volatile memory controller",
        0x0180 => "Mass storage controller",
        0x0200 => "Ethernet controller",
        0x0280 => "Network controller",
        0x0300 => "VGA compatible controller",
        0x0302 => "3D controller",
        0x0380 => "Display controller",
        0x0401 => "Multimedia audio controller",
        0x0403 => "Audio device",
        0x0500 => "RAM memory",
        0x0600 => "Host bridge",
        0x0601 => "ISA bridge",
        0x0604 => "PCI bridge",
        0x0680 => "Bridge",
        0x0700 => "Serial controller",
        0x0880 => "System peripheral",
        0x0c03 => "USB controller",
        0x0c05 => "SMBus",
        0xff00 => "Unassigned class",
        _ => return None,
    })
}

/// pciutils' `show_size`: ` [size=N]` with the largest exact K/M/G/T unit; nothing for 0.
pub fn size_suffix(mut size: u64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    if size == 0 {
        return String::new();
    }
    let mut unit = 0;
    while unit < UNITS.len() - 1 && size % 1024 == 0 {
        size /= 1024;
        unit += 1;
    }
    alloc::format!(" [size={size}{}]", UNITS[unit])
}

/// The first line lspci prints for a device (pciutils `show_terse`): `-n` gives
/// `00:02.0 0300: 1234:1111 (rev 02)`; without it the class name (or `Class xxxx`) and
/// `Device vvvv:dddd`, as pciutils prints when it has no vendor names. `verbose` adds
/// the programming interface when it is not 0.
pub fn lspci_line(dev: &Device, numeric: bool, verbose: bool) -> String {
    let h = &dev.header;
    let mut line = alloc::format!("{}", dev.address);
    if numeric {
        let _ = write!(line, " {:04x}: {:04x}:{:04x}", h.class(), h.vendor(), h.device());
    } else {
        match class_name(h.class()) {
            Some(name) => {
                let _ = write!(line, " {name}");
            }
            None => {
                let _ = write!(line, " Class {:04x}", h.class());
            }
        }
        let _ = write!(line, ": Device {:04x}:{:04x}", h.vendor(), h.device());
    }
    if h.revision() != 0 {
        let _ = write!(line, " (rev {:02x})", h.revision());
    }
    if verbose && h.prog_if() != 0 {
        let _ = write!(line, " (prog-if {:02x})", h.prog_if());
    }
    line.push('\n');
    line
}

/// The lines `lspci -v` adds under a device: subsystem, flags, then one line per
/// resource in the shape of pciutils' `show_bases` and `show_rom`, and a blank line.
pub fn lspci_verbose(dev: &Device) -> String {
    let h = &dev.header;
    let cmd = h.command();
    let mut text = String::new();
    if let Some((sv, sd)) = h.subsystem().filter(|&(v, _)| v != 0 && v != 0xffff) {
        let _ = writeln!(text, "\tSubsystem: Device {sv:04x}:{sd:04x}");
    }
    let mut flags = String::new();
    if cmd & 0x4 != 0 {
        flags.push_str("bus master, ");
    }
    if h.status() & 0x20 != 0 {
        flags.push_str("66MHz, ");
    }
    flags.push_str(match (h.status() >> 9) & 3 {
        0 => "fast devsel",
        1 => "medium devsel",
        2 => "slow devsel",
        _ => "?? devsel",
    });
    if cmd & 0x4 != 0 {
        let _ = write!(flags, ", latency {}", h.0[3].to_le_bytes()[1]);
    }
    if dev.irq() != 0 {
        let _ = write!(flags, ", IRQ {}", dev.irq());
    }
    let _ = writeln!(text, "\tFlags: {flags}");
    for res in dev.resources[..6].iter().flatten() {
        match res.kind {
            BarKind::Io => {
                let _ = write!(text, "\tI/O ports at {:04x}", res.start);
                if !res.legacy && cmd & COMMAND_IO == 0 {
                    text.push_str(" [disabled]");
                }
            }
            BarKind::Memory { prefetchable, .. } => {
                let width = match res.raw & MEM_TYPE_MASK {
                    MEM_TYPE_64 => "64-bit",
                    MEM_TYPE_1M => "low-1M",
                    0 => "32-bit",
                    _ => "type 3",
                };
                let pre = if prefetchable { "" } else { "non-" };
                let _ = write!(text, "\tMemory at {:08x} ({width}, {pre}prefetchable)", res.start);
                if cmd & COMMAND_MEMORY == 0 {
                    text.push_str(" [disabled]");
                }
            }
            BarKind::Rom { .. } => continue,
        }
        text.push_str(&size_suffix(res.size));
        text.push('\n');
    }
    if let Some(rom) = dev.resources[6] {
        let _ = write!(text, "\tExpansion ROM at {:08x}", rom.start);
        if rom.legacy {
            // Not the register's address: pciutils marks a sysfs address it cannot see.
            text.push_str(" [virtual]");
        }
        if rom.raw & 1 == 0 {
            text.push_str(" [disabled]");
        }
        text.push_str(&size_suffix(rom.size));
        text.push('\n');
    }
    text.push('\n');
    text
}

/// One memory resource for `/proc/iomem`: inclusive range and owner name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IomemEntry {
    pub start: u64,
    pub end: u64,
    pub name: String,
}

/// The memory resources (memory BARs and ROMs with an address) of every device, named
/// as Linux names them (`0000:00:02.0`), sorted by start.
pub fn iomem_entries(devices: &[Device]) -> Vec<IomemEntry> {
    let mut entries: Vec<IomemEntry> = devices
        .iter()
        .flat_map(|d| {
            d.resources
                .iter()
                .flatten()
                .filter(|r| r.is_memory() && !r.legacy && r.start != 0 && r.size != 0)
                .map(|r| IomemEntry {
                    start: r.start,
                    end: r.end(),
                    name: alloc::format!("{}", d.address.linux_name()),
                })
        })
        .collect();
    entries.sort_by_key(|e| (e.start, e.end));
    entries
}

/// The host bridge's window for the i440FX/Q35 PCI hole, as the firmware declares it:
/// from the end of the last firmware range below the lowest 32-bit BAR up to 0xfebfffff
/// (below the I/O APIC), or up to the highest BAR if one lies above. `firmware` holds
/// inclusive ranges. `None` without 32-bit BARs.
pub fn pci_hole(firmware: &[(u64, u64)], entries: &[IomemEntry]) -> Option<(u64, u64)> {
    let low: Vec<&IomemEntry> = entries.iter().filter(|e| e.end < 1 << 32).collect();
    let lowest = low.iter().map(|e| e.start).min()?;
    let highest = low.iter().map(|e| e.end).max()?;
    let start = firmware.iter().filter(|&&(_, end)| end < lowest).map(|&(_, end)| end + 1).max().unwrap_or(0);
    Some((start, highest.max(0xfebf_ffff)))
}

/// Inserts the PCI lines into `/proc/iomem` text (top-level lines `start-end : name`,
/// children indented): the window `PCI Bus 0000:00` with the resources inside it two
/// spaces in, other resources at the top level, each before the first top-level line
/// that starts above it, so the file stays sorted.
pub fn merge_iomem(text: &str, window: Option<(u64, u64)>, entries: &[IomemEntry]) -> String {
    let mut blocks: Vec<(u64, String)> = Vec::new();
    if window.is_some() && !text.lines().any(|l| l.starts_with("000a0000-")) {
        // The legacy video window the firmware gives the host bridge (ACPI _CRS).
        blocks.push((0xa0000, String::from("000a0000-000bffff : PCI Bus 0000:00\n")));
    }
    if let Some((ws, we)) = window {
        let mut block = alloc::format!("{ws:08x}-{we:08x} : PCI Bus 0000:00\n");
        for e in entries.iter().filter(|e| e.start >= ws && e.end <= we) {
            let _ = writeln!(block, "  {:08x}-{:08x} : {}", e.start, e.end, e.name);
        }
        blocks.push((ws, block));
    }
    for e in entries.iter().filter(|e| window.is_none_or(|(ws, we)| e.start < ws || e.end > we)) {
        blocks.push((e.start, alloc::format!("{:08x}-{:08x} : {}\n", e.start, e.end, e.name)));
    }
    blocks.sort_by_key(|b| b.0);
    let mut out = String::new();
    let mut pending = blocks.into_iter().peekable();
    for line in text.split_inclusive('\n') {
        if !line.starts_with(' ') {
            let start = line.split('-').next().and_then(|s| u64::from_str_radix(s, 16).ok());
            while let Some((_, block)) = pending.next_if(|b| start.is_some_and(|s| b.0 < s)) {
                out.push_str(&block);
            }
        }
        out.push_str(line);
    }
    for (_, block) in pending {
        out.push_str(&block);
    }
    out
}
