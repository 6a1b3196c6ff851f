//! Base address registers: what a register and its sizing probe say, decoded as Linux's
//! `__pci_read_base` does (drivers/pci/probe.c).
//!
//! Sizing writes all ones to a BAR register (for the ROM register: all address bits, the
//! enable bit kept), reads back which address bits stick, and writes the original value
//! back. The arch layer does the port accesses; this module turns the two values into a
//! resource.

use crate::header::Header;

/// One register's sizing probe: its value before, and what it read after the ones write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    pub original: u32,
    pub sized: u32,
}

/// Bit 0 of a BAR: set for I/O space.
pub const SPACE_IO: u32 = 0x1;
/// Bits 2..1 of a memory BAR.
pub const MEM_TYPE_MASK: u32 = 0x6;
pub const MEM_TYPE_32: u32 = 0x0;
pub const MEM_TYPE_1M: u32 = 0x2;
pub const MEM_TYPE_64: u32 = 0x4;
pub const MEM_PREFETCH: u32 = 0x8;
pub const MEM_MASK: u32 = !0xf;
pub const IO_MASK: u32 = !0x3;
/// x86's `IO_SPACE_LIMIT`: I/O addresses are 16 bits.
pub const IO_SPACE_LIMIT: u32 = 0xffff;
pub const ROM_ENABLE: u32 = 0x1;
pub const ROM_MASK: u32 = !0x7ff;
/// The value written to a ROM register to size it (Linux writes `l | PCI_ROM_ADDRESS_MASK`).
pub const ROM_SIZING_VALUE: u32 = ROM_MASK;

/// What kind of resource a BAR decodes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    Io,
    /// A memory BAR: `width` is 32 or 64 (a `low-1M` type-1 BAR counts as 32), or 20 for
    /// the old below-1-MiB type.
    Memory {
        width: u8,
        prefetchable: bool,
    },
    /// The expansion ROM; `enabled` is the register's bit 0.
    Rom {
        enabled: bool,
    },
}

/// A decoded resource: where it is, how big, and the flag bits Linux keeps in the low
/// nibble of `/proc/bus/pci/devices`' start column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    pub kind: BarKind,
    pub start: u64,
    pub size: u64,
    /// `resource.flags & PCI_REGION_FLAG_MASK`: the BAR's low bits (I/O: 2, memory: 4),
    /// the enable bit for a ROM, 0 for a legacy IDE range.
    pub flags: u8,
    /// The register's type bits (Linux's `pos` low bits), for lspci: for a 64-bit BAR
    /// the raw low register.
    pub raw: u32,
    /// A fixed legacy range (IDE in compatibility mode), not a register's.
    pub legacy: bool,
}

impl Bar {
    /// The last address, inclusive; `start` for an empty resource.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size.saturating_sub(1))
    }

    pub fn is_memory(&self) -> bool {
        !matches!(self.kind, BarKind::Io)
    }
}

/// Linux's `pci_size`: the decode size from the bits that stuck, or 0 when the probe
/// makes no sense (nothing stuck, or a register already all ones that cannot be told
/// apart from its probe).
pub fn pci_size(base: u64, maxbase: u64, mask: u64) -> u64 {
    let size = mask & maxbase;
    if size == 0 {
        return 0;
    }
    let size = size.isolate_lowest_one();
    if base == maxbase && ((base | (size - 1)) & mask) != mask {
        return 0;
    }
    size
}

/// True when the register is a 64-bit memory BAR (it takes the next register too).
pub fn is_64bit(original: u32) -> bool {
    original & SPACE_IO == 0 && original & MEM_TYPE_MASK == MEM_TYPE_64
}

/// Linux's `PCI_POSSIBLE_ERROR` cleanup: an all-ones read means nothing usable.
fn clean(value: u32) -> u32 {
    if value == u32::MAX { 0 } else { value }
}

/// Decodes a BAR register from its probe, and for a 64-bit BAR the probe of the upper
/// register. `None` when the BAR is not implemented or cannot be sized (Linux leaves
/// the resource's flags at 0 then).
pub fn decode_bar(low: Probe, high: Option<Probe>) -> Option<Bar> {
    let l = clean(low.original);
    let sz = clean(low.sized);
    if l & SPACE_IO != 0 {
        let l64 = u64::from(l & IO_MASK);
        let sz64 = u64::from(sz & IO_MASK);
        let mask = u64::from(IO_MASK & IO_SPACE_LIMIT);
        return finish(l64, sz64, mask).map(|(start, size)| Bar {
            kind: BarKind::Io,
            start,
            size,
            flags: (l & !IO_MASK) as u8,
            raw: l,
            legacy: false,
        });
    }
    let mut l64 = u64::from(l & MEM_MASK);
    let mut sz64 = u64::from(sz & MEM_MASK);
    let mut mask = u64::from(MEM_MASK);
    let ty = l & MEM_TYPE_MASK;
    let width = match ty {
        MEM_TYPE_64 => 64,
        MEM_TYPE_1M => 20,
        _ => 32,
    };
    if ty == MEM_TYPE_64 {
        // Linux probes the upper register with all ones; the probe is the same.
        let high = high.unwrap_or_default();
        l64 |= u64::from(high.original) << 32;
        sz64 |= u64::from(high.sized) << 32;
        mask |= u64::from(u32::MAX) << 32;
    }
    finish(l64, sz64, mask).map(|(start, size)| Bar {
        kind: BarKind::Memory { width, prefetchable: l & MEM_PREFETCH != 0 },
        start,
        size,
        flags: (l & !MEM_MASK) as u8,
        raw: l,
        legacy: false,
    })
}

/// Decodes the expansion ROM register from its probe.
pub fn decode_rom(probe: Probe) -> Option<Bar> {
    let l = clean(probe.original);
    let sz = clean(probe.sized);
    let enabled = l & ROM_ENABLE != 0;
    finish(u64::from(l & ROM_MASK), u64::from(sz & ROM_MASK), u64::from(ROM_MASK)).map(|(start, size)| Bar {
        kind: BarKind::Rom { enabled },
        start,
        size,
        flags: u8::from(enabled),
        raw: l,
        legacy: false,
    })
}

fn finish(l64: u64, sz64: u64, mask: u64) -> Option<(u64, u64)> {
    if sz64 == 0 {
        return None;
    }
    let size = pci_size(l64, sz64, mask);
    (size != 0).then_some((l64, size))
}

/// Decodes every BAR register (one probe each, in order) and the ROM: Linux's
/// `pci_read_bases`. Probes past the sixth are ignored.
pub fn decode_all(bars: &[Probe], rom: Option<Probe>) -> [Option<Bar>; 7] {
    let mut out = [None; 7];
    let mut i = 0;
    while i < bars.len().min(6) {
        let wide = is_64bit(clean(bars[i].original));
        // A 64-bit BAR in the last register has no upper half: its upper bits read as 0.
        let high = if wide { bars.get(i + 1).copied().filter(|_| i + 1 < 6) } else { None };
        out[i] = decode_bar(bars[i], high);
        i += if wide && high.is_some() { 2 } else { 1 };
    }
    out[6] = rom.and_then(decode_rom);
    out
}

/// Linux's `pci_setup_device` for an IDE controller in compatibility mode: the legacy
/// command and control ranges replace BARs 0..3 (flags `LEGACY_IO_RESOURCE`, whose low
/// bits are 0).
pub fn legacy_ide(header: &Header, resources: &mut [Option<Bar>; 7]) {
    if header.header_type() != 0 || header.class() != 0x0101 {
        return;
    }
    let legacy = |start: u64, size: u64| {
        Some(Bar { kind: BarKind::Io, start, size, flags: 0, raw: SPACE_IO, legacy: true })
    };
    if header.prog_if() & 1 == 0 {
        resources[0] = legacy(0x1f0, 8);
        resources[1] = legacy(0x3f6, 1);
    }
    if header.prog_if() & 4 == 0 {
        resources[2] = legacy(0x170, 8);
        resources[3] = legacy(0x376, 1);
    }
}

/// How many BAR registers the arch layer should probe for this header.
pub fn probe_count(header: &Header) -> usize {
    header.bar_count()
}
