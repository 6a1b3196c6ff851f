//! The boot banner: who we are, and a summary of the memory map the firmware gave us.

use core::fmt::{self, Write};

use bootloader_api::BootInfo;
use mm_core::physmap::RegionKind;

use crate::arch::pat;
use crate::fmtbuf::FixedBuf;
use crate::mm::layout::{DIRECT_MAP_BASE, HEAP_MAX_SIZE};
use crate::mm::{frames, heap, physmap};
use crate::println;

const BUILD: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// The first line, printed as soon as the console works.
pub fn print_name() {
    println!(
        "devmem kernel {} ({BUILD} build), x86_64, MAXPHYADDR {} bits",
        crate::VERSION,
        physmap::max_phys_addr_bits()
    );
}

/// When start-up phases ended, in nanoseconds of uptime (TSC since `arch::init`).
pub struct Startup {
    pub arch_done: u64,
    /// Physical map, frames, heap.
    pub mm_phases: [u64; 3],
    /// The APs started (or given up on).
    pub cpus_done: u64,
    pub done: u64,
}

pub fn print(boot_info: &BootInfo, startup: &Startup) {
    let map = physmap::map();
    println!("physical memory: {} firmware regions, up to {:#x}", boot_info.memory_regions.len(), map.end());
    // Bytes per kind, in the order kinds first appear in the map.
    let mut kinds: [(RegionKind, u64, usize); 8] = [(RegionKind::Hole, 0, 0); 8];
    let mut used = 0;
    for region in map.regions().iter().filter(|r| r.kind != RegionKind::Hole) {
        let slot =
            match kinds[..used].iter().position(|(kind, _, _)| kind.iomem_name() == region.kind.iomem_name())
            {
                Some(slot) => slot,
                None if used < kinds.len() => {
                    used += 1;
                    kinds[used - 1].0 = region.kind;
                    used - 1
                }
                None => continue,
            };
        kinds[slot].1 += region.end - region.start;
        kinds[slot].2 += 1;
    }
    for (kind, bytes, regions) in &kinds[..used] {
        let plural = if *regions == 1 { "" } else { "s" };
        println!("  {:<26}{} in {regions} range{plural}", kind.iomem_name(), Size(*bytes));
    }
    let frames = frames::stats();
    println!(
        "frames: {} free of {} managed ({}); heap: {} mapped, grows to {}",
        frames.free,
        frames.managed,
        Size(frames.free * crate::mm::PAGE_SIZE).to_string_trimmed(),
        Size(heap::stats().size).to_string_trimmed(),
        Size(HEAP_MAX_SIZE).to_string_trimmed()
    );
    println!("PAT: {:#018x}, direct map at {DIRECT_MAP_BASE:#x}", pat::read());
    print_cpus();
    let ms = |from: u64, to: u64| to.saturating_sub(from) / 1_000_000;
    let [physmap_done, frames_done, heap_done] = startup.mm_phases;
    println!(
        "start-up: {} ms (memory map {} ms, frames {} ms, heap {} ms, cpus {} ms, files {} ms)",
        ms(0, startup.done),
        ms(startup.arch_done, physmap_done),
        ms(physmap_done, frames_done),
        ms(frames_done, heap_done),
        ms(heap_done, startup.cpus_done),
        ms(startup.cpus_done, startup.done)
    );
}

/// `cpus: 4 online (apic ids 0 1 2 3), x2APIC`
fn print_cpus() {
    use crate::arch::{apic, smp};
    let mut ids = FixedBuf::new();
    for cpu in smp::online_cpus().iter() {
        let _ = write!(ids, " {}", smp::apic_id(cpu).unwrap_or(0));
    }
    let mode = match apic::mode() {
        apic::Mode::X2apic => "x2APIC",
        apic::Mode::Xapic => "xAPIC",
        apic::Mode::Off => "no APIC",
    };
    println!("cpus: {} online (apic ids{}), {mode}", smp::cpu_count(), ids.as_str());
}

/// A byte count in the largest binary unit that keeps it at or above 1, with one
/// decimal (truncated), the number right-aligned in 6 columns.
struct Size(u64);

impl Size {
    /// Without the padding, for use inside a sentence.
    fn to_string_trimmed(&self) -> Trimmed {
        let mut buf = FixedBuf::new();
        let _ = buf.write_fmt(format_args!("{self}"));
        Trimmed(buf)
    }
}

struct Trimmed(FixedBuf);

impl fmt::Display for Trimmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim())
    }
}

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
    use crate::fmtbuf::FixedBuf;
    use crate::ktest::ktest;
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
