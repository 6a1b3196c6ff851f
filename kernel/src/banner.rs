//! The boot banner: who we are, and a summary of the memory map the firmware gave us.

use core::fmt;

use bootloader_api::BootInfo;
use bootloader_api::info::MemoryRegionKind;

use crate::println;

const BUILD: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

pub fn print(boot_info: &BootInfo) {
    println!("devmem kernel {} ({BUILD} build), x86_64", crate::VERSION);

    #[derive(Default)]
    struct Tally {
        bytes: u64,
        regions: usize,
    }
    let (mut usable, mut bootloader, mut firmware) = (Tally::default(), Tally::default(), Tally::default());
    let mut top = 0;
    for region in boot_info.memory_regions.iter() {
        let tally = match region.kind {
            MemoryRegionKind::Usable => &mut usable,
            MemoryRegionKind::Bootloader => &mut bootloader,
            _ => &mut firmware,
        };
        tally.bytes += region.end - region.start;
        tally.regions += 1;
        top = top.max(region.end);
    }
    println!("memory map: {} regions from the bootloader", boot_info.memory_regions.len());
    for (name, tally) in
        [("usable RAM", usable), ("used by the bootloader", bootloader), ("firmware-reserved", firmware)]
    {
        println!("  {name:<24}{} in {} regions", Size(tally.bytes), tally.regions);
    }
    println!("  top of the map           {top:#014x}");
    if let Some(offset) = boot_info.physical_memory_offset.as_ref() {
        println!("  physical memory mapped at {offset:#018x}");
    }
}

/// A byte count in the largest binary unit that keeps it at or above 1, with one
/// decimal (truncated), the number right-aligned in 6 columns.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut unit = 0;
        let mut tenths = u128::from(self.0) * 10;
        while tenths >= 10 * 1024 && unit + 1 < UNITS.len() {
            tenths /= 1024;
            unit += 1;
        }
        write!(f, "{:>6}.{} {:<3}", tenths / 10, tenths % 10, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::Size;
    use crate::ktest::{FixedBuf, ktest};
    use core::fmt::Write;

    fn show(bytes: u64) -> FixedBuf {
        let mut buf = FixedBuf::new();
        write!(buf, "{}", Size(bytes)).unwrap();
        buf
    }

    #[ktest]
    fn sizes_use_the_largest_unit_at_or_above_one() {
        assert_eq!(show(512).as_str(), "   512.0 B  ");
        assert_eq!(show(1536).as_str(), "     1.5 KiB");
        assert_eq!(show(256 << 20).as_str(), "   256.0 MiB");
        assert_eq!(show(12 << 30).as_str(), "    12.0 GiB");
        // Truncated, not rounded.
        assert_eq!(show(u64::MAX).as_str(), "16777215.9 TiB");
    }
}
