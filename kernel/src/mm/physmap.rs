//! The physical memory map: the firmware's view from the bootloader, with the kernel's
//! own sections placed in it. `/proc/iomem` prints it; `/dev/mem` asks it what is RAM.

use bootloader_api::BootInfo;
use bootloader_api::info::MemoryRegionKind;
use mm_core::elf;
use mm_core::physmap::{KernelSection, PhysMap, Region, RegionKind, SectionRange};
use spin::Once;
use x86_64::VirtAddr;

use super::{PAGE_SIZE, paging};

/// Room for the regions of a UEFI memory map (about 125 on QEMU) after merging.
pub type KernelPhysMap = PhysMap<256, 32>;

static MAP: Once<KernelPhysMap> = Once::new();
static MAX_PHYS_ADDR_BITS: Once<u32> = Once::new();

/// The map built at boot.
pub fn map() -> &'static KernelPhysMap {
    MAP.get().expect("mm::init has built the physical memory map")
}

/// MAXPHYADDR: physical addresses are below `1 << max_phys_addr_bits()`.
pub fn max_phys_addr_bits() -> u32 {
    *MAX_PHYS_ADDR_BITS.call_once(crate::arch::cpuid::max_phys_addr_bits)
}

/// The UEFI memory types that are not plain reserved memory (UEFI spec, 7.2, Table 7-6).
fn from_uefi(memory_type: u32) -> RegionKind {
    match memory_type {
        8 => RegionKind::Unusable,
        9 => RegionKind::AcpiTables,
        10 => RegionKind::AcpiNvs,
        14 => RegionKind::PersistentMemory,
        other => RegionKind::Reserved { firmware_type: other },
    }
}

fn kind_of(kind: MemoryRegionKind) -> RegionKind {
    match kind {
        // The bootloader's own allocations (page tables, the kernel, boot info) are
        // still System RAM to the firmware; keep its view.
        MemoryRegionKind::Usable | MemoryRegionKind::Bootloader => RegionKind::SystemRam,
        MemoryRegionKind::UnknownBios(e820) => RegionKind::from_e820(e820),
        MemoryRegionKind::UnknownUefi(uefi) => from_uefi(uefi),
        _ => RegionKind::Reserved { firmware_type: u32::MAX },
    }
}

pub(super) fn init(boot_info: &BootInfo) {
    MAP.call_once(|| {
        let raw = boot_info.memory_regions.iter().map(|r| Region {
            start: r.start,
            end: r.end,
            kind: kind_of(r.kind),
        });
        // Too many distinct regions for the map is a boot failure, not a silent loss.
        let mut map = match KernelPhysMap::build_from(raw) {
            Ok(map) => map,
            Err(error) => panic!("physical memory map: {error:?}"),
        };
        add_kernel_sections(&mut map, boot_info);
        map
    });
}

/// Finds the physical pages of each loaded segment of the kernel ELF (which the
/// bootloader left in memory at `kernel_addr`) by walking the page tables.
fn add_kernel_sections(map: &mut KernelPhysMap, boot_info: &BootInfo) {
    let file = super::direct_map_slice(boot_info.kernel_addr, boot_info.kernel_len);
    let segments = match elf::load_segments(file) {
        Ok(segments) => segments,
        Err(error) => {
            log::warn!("physmap: cannot read the kernel's ELF headers ({error:?}); sections left out");
            return;
        }
    };
    for segment in segments {
        let start = boot_info.kernel_image_offset + segment.vaddr;
        let file_end = start + segment.filesz;
        let end = start + segment.memsz;
        let tail = if segment.flags.write { KernelSection::Bss } else { segment.flags.section() };
        for (part_start, part_end, section) in
            [(start, file_end, segment.flags.section()), (file_end, end, tail)]
        {
            add_virtual_range(map, part_start, part_end, section);
        }
    }
}

/// Adds the physical bytes behind [start, end) of the kernel's virtual space, byte-exact:
/// segments that share a file page share its frame, each with its own bytes.
fn add_virtual_range(map: &mut KernelPhysMap, start: u64, end: u64, section: KernelSection) {
    let mut at = start;
    while at < end {
        let page_end = (at & !(PAGE_SIZE - 1)) + PAGE_SIZE;
        let chunk_end = page_end.min(end);
        // Kernel-image addresses (from the kernel's own ELF headers): canonical.
        if let Some(translation) = paging::translate(VirtAddr::new(at)) {
            let phys = translation.phys.as_u64();
            let range = SectionRange { start: phys, end: phys + (chunk_end - at), section };
            if let Err(error) = map.add_section(range) {
                log::warn!("physmap: kernel bytes {at:#x} at {phys:#x}: {error:?}");
            }
        }
        at = chunk_end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;

    #[ktest]
    fn qemu_has_ram_where_the_pc_has_it() {
        let map = map();
        assert!(map.page_is_ram(0x1000), "low memory");
        assert!(map.page_is_ram(0x10_0000), "1 MiB");
        assert!(!map.page_overlaps_ram(0xf_0000), "the BIOS ROM is reserved");
        assert!(!map.page_overlaps_ram(0xfed0_0000), "the HPET is not RAM");
        // QEMU's -m 256M: about 255 MiB of RAM below 256 MiB.
        assert!((250 << 20..=256 << 20).contains(&map.ram_bytes()), "{} bytes of RAM", map.ram_bytes());
    }

    #[ktest]
    fn the_kernel_sections_are_in_ram_where_the_code_runs() {
        let map = map();
        let code = paging::translate(VirtAddr::from_ptr(qemu_has_ram_where_the_pc_has_it as *const ()))
            .unwrap()
            .phys
            .as_u64();
        assert_eq!(map.section_at(code), Some(KernelSection::Code));
        static TEXT: [u8; 3] = *b"abc";
        let rodata = paging::translate(VirtAddr::from_ptr(core::hint::black_box(&TEXT).as_ptr()))
            .unwrap()
            .phys
            .as_u64();
        assert_eq!(map.section_at(rodata), Some(KernelSection::Rodata));
        for kind in [KernelSection::Code, KernelSection::Rodata, KernelSection::Data, KernelSection::Bss] {
            assert!(map.sections().iter().any(|s| s.section == kind), "no {kind:?} section");
        }
        for section in map.sections() {
            assert!(map.page_is_ram(section.start), "{section:?} outside RAM");
        }
    }

    #[ktest]
    fn maxphyaddr_comes_from_cpuid() {
        // QEMU's qemu64 CPU reports 40 bits; any x86-64 CPU has 36 to 52.
        let bits = max_phys_addr_bits();
        assert!((36..=52).contains(&bits), "MAXPHYADDR {bits}");
    }
}
