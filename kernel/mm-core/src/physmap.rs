//! The physical memory map: the firmware's (E820-style) regions, sorted, merged and
//! gap-filled, plus the kernel image's sections nested under System RAM the way
//! Linux's /proc/iomem shows them.

use crate::PAGE_SIZE;

/// What a physical range holds, as the firmware reported it (plus holes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Usable RAM (E820 type 1).
    SystemRam,
    /// Reserved by the firmware (E820 type 2, or any type this enum does not name).
    Reserved {
        /// The firmware's type number.
        firmware_type: u32,
    },
    /// ACPI tables, reclaimable once parsed (E820 type 3).
    AcpiTables,
    /// ACPI non-volatile storage, preserved across sleep (E820 type 4).
    AcpiNvs,
    /// Memory with detected errors (E820 type 5).
    Unusable,
    /// Persistent (non-volatile) memory (E820 type 7).
    PersistentMemory,
    /// A gap the firmware did not describe.
    Hole,
}

impl RegionKind {
    /// The kind of an E820 address-range type (ACPI spec, "Address Range Types").
    pub fn from_e820(type_: u32) -> RegionKind {
        match type_ {
            1 => RegionKind::SystemRam,
            3 => RegionKind::AcpiTables,
            4 => RegionKind::AcpiNvs,
            5 => RegionKind::Unusable,
            7 => RegionKind::PersistentMemory,
            firmware_type => RegionKind::Reserved { firmware_type },
        }
    }

    /// The name Linux's /proc/iomem prints for this kind ("" for a hole, which is not printed).
    pub fn iomem_name(&self) -> &'static str {
        match self {
            RegionKind::SystemRam => "System RAM",
            RegionKind::Reserved { .. } => "Reserved",
            RegionKind::AcpiTables => "ACPI Tables",
            RegionKind::AcpiNvs => "ACPI Non-volatile Storage",
            RegionKind::Unusable => "Unusable memory",
            RegionKind::PersistentMemory => "Persistent Memory",
            RegionKind::Hole => "",
        }
    }
}

/// A section of the kernel image: what /proc/iomem nests under System RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSection {
    /// Executable code (.text).
    Code,
    /// Read-only data (.rodata).
    Rodata,
    /// Initialised writable data (.data).
    Data,
    /// Zero-initialised writable data (.bss).
    Bss,
}

impl KernelSection {
    /// The name Linux's /proc/iomem prints for this section.
    pub fn iomem_name(&self) -> &'static str {
        match self {
            KernelSection::Code => "Kernel code",
            KernelSection::Rodata => "Kernel rodata",
            KernelSection::Data => "Kernel data",
            KernelSection::Bss => "Kernel bss",
        }
    }
}

/// A physical range [start, end) and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: u64,
    /// One past the last byte (exclusive).
    pub end: u64,
    /// What the range holds.
    pub kind: RegionKind,
}

/// A physical range [start, end) of one kernel image section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte (exclusive).
    pub end: u64,
    /// Which section.
    pub section: KernelSection,
}

/// Why a map could not be built or a section not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhysMapError {
    /// The classified map needs more than N regions.
    TooManyRegions,
    /// More than M section ranges.
    TooManySections,
    /// A section range is not wholly inside System RAM.
    SectionOutsideRam,
    /// A section range overlaps a range of a different section.
    SectionOverlap,
}

const EMPTY_REGION: Region = Region { start: 0, end: 0, kind: RegionKind::Hole };
const EMPTY_SECTION: SectionRange = SectionRange { start: 0, end: 0, section: KernelSection::Code };

/// The classified map: sorted, merged, gap-filled regions over [0, end), and kernel sections (N, M slots).
#[derive(Clone, Debug)]
pub struct PhysMap<const N: usize, const M: usize> {
    regions: [Region; N],
    region_count: usize,
    sections: [SectionRange; M],
    section_count: usize,
}

impl<const N: usize, const M: usize> Default for PhysMap<N, M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const M: usize> PhysMap<N, M> {
    /// An empty map: no regions, no sections.
    pub const fn new() -> Self {
        Self { regions: [EMPTY_REGION; N], region_count: 0, sections: [EMPTY_SECTION; M], section_count: 0 }
    }

    /// Builds from raw firmware regions: non-RAM beats RAM, else the first listed wins; ignores empty/Hole.
    pub fn build(raw: &[Region]) -> Result<Self, PhysMapError> {
        Self::build_from(raw.iter().copied())
    }

    /// [`build`](Self::build) from any re-iterable source of regions (the bootloader's
    /// list, converted on the fly): no intermediate array, so no count of firmware regions
    /// past which some would be dropped.
    pub fn build_from(raw: impl Iterator<Item = Region> + Clone) -> Result<Self, PhysMapError> {
        // O(raw²) without a heap: firmware maps hold tens of entries.
        let mut map = Self::new();
        let described = |r: &Region| r.start < r.end && r.kind != RegionKind::Hole;
        let end = raw.clone().filter(described).map(|r| r.end).max().unwrap_or(0);
        let mut pos = 0;
        while pos < end {
            // The next boundary after pos: the elementary interval [pos, next) has one kind.
            let next = raw
                .clone()
                .filter(described)
                .flat_map(|r| [r.start, r.end])
                .filter(|&b| b > pos)
                .min()
                .unwrap_or(end);
            let mut kind = RegionKind::Hole;
            for r in raw.clone().filter(described).filter(|r| r.start <= pos && pos < r.end) {
                if r.kind != RegionKind::SystemRam {
                    kind = r.kind;
                    break;
                }
                kind = RegionKind::SystemRam;
            }
            map.push_region(Region { start: pos, end: next, kind })?;
            pos = next;
        }
        Ok(map)
    }

    /// Appends a region after the last one, merging it into the last one if of the same kind.
    fn push_region(&mut self, region: Region) -> Result<(), PhysMapError> {
        if let Some(last) = self.regions[..self.region_count].last_mut()
            && last.kind == region.kind
            && last.end == region.start
        {
            last.end = region.end;
            return Ok(());
        }
        if self.region_count == N {
            return Err(PhysMapError::TooManyRegions);
        }
        self.regions[self.region_count] = region;
        self.region_count += 1;
        Ok(())
    }

    /// Records a section range lying in SystemRam, merged with touching same-section ones; ignores empty.
    pub fn add_section(&mut self, range: SectionRange) -> Result<(), PhysMapError> {
        if range.start >= range.end {
            return Ok(());
        }
        match self.region_at(range.start) {
            Some(r) if r.kind == RegionKind::SystemRam && range.end <= r.end => {}
            _ => return Err(PhysMapError::SectionOutsideRam),
        }
        // Grow the range over every same-section range it touches; sorted order makes one pass enough.
        let (mut start, mut end) = (range.start, range.end);
        for s in self.sections() {
            if s.section == range.section && s.start <= end && start <= s.end {
                (start, end) = (start.min(s.start), end.max(s.end));
            }
        }
        let touches = |s: &SectionRange| s.section == range.section && s.start <= end && start <= s.end;
        if self.sections().iter().any(|s| s.section != range.section && s.start < end && start < s.end) {
            return Err(PhysMapError::SectionOverlap);
        }
        if self.section_count - self.sections().iter().filter(|s| touches(s)).count() == M {
            return Err(PhysMapError::TooManySections);
        }
        let mut kept = 0;
        for i in 0..self.section_count {
            let s = self.sections[i];
            if !touches(&s) {
                self.sections[kept] = s;
                kept += 1;
            }
        }
        let at = self.sections[..kept].partition_point(|s| s.start < start);
        self.sections.copy_within(at..kept, at + 1);
        self.sections[at] = SectionRange { start, end, section: range.section };
        self.section_count = kept + 1;
        Ok(())
    }

    /// The regions in address order, including Holes.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.region_count]
    }

    /// The kernel section ranges, sorted by start.
    pub fn sections(&self) -> &[SectionRange] {
        &self.sections[..self.section_count]
    }

    /// The region containing addr (a Hole in a gap), or None at or above [`end`](Self::end).
    pub fn region_at(&self, addr: u64) -> Option<Region> {
        let regions = self.regions();
        regions.get(regions.partition_point(|r| r.end <= addr)).copied()
    }

    /// The kernel section containing addr, if any.
    pub fn section_at(&self, addr: u64) -> Option<KernelSection> {
        let sections = self.sections();
        sections
            .get(sections.partition_point(|s| s.end <= addr))
            .filter(|s| s.start <= addr)
            .map(|s| s.section)
    }

    /// True if the whole 4 KiB page containing addr is SystemRam (as Linux's page_is_ram counts pages).
    pub fn page_is_ram(&self, addr: u64) -> bool {
        let page = addr & !(PAGE_SIZE - 1);
        match (self.region_at(page), page.checked_add(PAGE_SIZE)) {
            (Some(r), Some(page_end)) => r.kind == RegionKind::SystemRam && page_end <= r.end,
            _ => false,
        }
    }

    /// True if any byte of the page containing addr is SystemRam (x86 devmem_is_allowed's region_intersects).
    pub fn page_overlaps_ram(&self, addr: u64) -> bool {
        let page = addr & !(PAGE_SIZE - 1);
        let page_end = page.saturating_add(PAGE_SIZE);
        let regions = self.regions();
        regions[regions.partition_point(|r| r.end <= page)..]
            .iter()
            .take_while(|r| r.start < page_end)
            .any(|r| r.kind == RegionKind::SystemRam)
    }

    /// Total bytes of SystemRam.
    pub fn ram_bytes(&self) -> u64 {
        self.regions().iter().filter(|r| r.kind == RegionKind::SystemRam).map(|r| r.end - r.start).sum()
    }

    /// End (exclusive) of the last region; 0 for an empty map.
    pub fn end(&self) -> u64 {
        self.regions().last().map_or(0, |r| r.end)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    use RegionKind::{Hole, SystemRam as Ram};

    const RES: RegionKind = RegionKind::Reserved { firmware_type: 2 };

    fn r(start: u64, end: u64, kind: RegionKind) -> Region {
        Region { start, end, kind }
    }

    fn sec(start: u64, end: u64, section: KernelSection) -> SectionRange {
        SectionRange { start, end, section }
    }

    /// QEMU's q35 E820 map, listed out of order.
    fn qemu() -> [Region; 8] {
        [
            r(0xfd_0000_0000, 0x100_0000_0000, RES),
            r(0x10_0000, 0xffe_0000, Ram),
            r(0xfeff_c000, 0xff00_0000, RES),
            r(0, 0x9_fc00, Ram),
            r(0xffe_0000, 0x1000_0000, RES),
            r(0x9_fc00, 0xa_0000, RES),
            r(0xfffc_0000, 0x1_0000_0000, RES),
            r(0xf_0000, 0x10_0000, RES),
        ]
    }

    #[test]
    fn e820_types_and_names() {
        let names = ["System RAM", "Reserved", "ACPI Tables", "ACPI Non-volatile Storage", "Unusable memory"];
        for (t, name) in (1..).zip(names.into_iter().chain(["Reserved", "Persistent Memory", "Reserved"])) {
            assert_eq!(RegionKind::from_e820(t).iomem_name(), name, "type {t}");
        }
        assert_eq!(RegionKind::from_e820(2), RES);
        assert_eq!(RegionKind::from_e820(12), RegionKind::Reserved { firmware_type: 12 });
        assert_eq!(RegionKind::from_e820(0), RegionKind::Reserved { firmware_type: 0 });
        assert_eq!(Hole.iomem_name(), "");
        assert_eq!(KernelSection::Bss.iomem_name(), "Kernel bss");
        assert_eq!(KernelSection::Rodata.iomem_name(), "Kernel rodata");
    }

    #[test]
    fn qemu_map_is_sorted_with_holes() {
        let map = PhysMap::<16, 4>::build(&qemu()).unwrap();
        #[rustfmt::skip]
        let bounds = [
            0, 0x9_fc00, 0xa_0000, 0xf_0000, 0x10_0000, 0xffe_0000, 0x1000_0000, 0xfeff_c000, 0xff00_0000,
            0xfffc_0000, 0x1_0000_0000, 0xfd_0000_0000, 0x100_0000_0000,
        ];
        let kinds = [Ram, RES, Hole, RES, Ram, RES, Hole, RES, Hole, RES, Hole, RES];
        let expected: Vec<Region> =
            kinds.iter().zip(bounds.windows(2)).map(|(&k, b)| r(b[0], b[1], k)).collect();
        assert_eq!(map.regions(), expected);
        assert_eq!(map.end(), 0x100_0000_0000);
        assert_eq!(map.ram_bytes(), 0x9_fc00 + 0xffe_0000 - 0x10_0000);
        // Edges: first byte, last byte, one past.
        assert_eq!(map.region_at(0).unwrap().kind, Ram);
        assert_eq!(map.region_at(0x9_fbff).unwrap().kind, Ram);
        assert_eq!(map.region_at(0x9_fc00).unwrap().kind, RES);
        assert_eq!(map.region_at(0x9_ffff).unwrap().kind, RES);
        assert_eq!(map.region_at(0xa_0000).unwrap(), expected[2]);
        assert_eq!(map.region_at(0xe_ffff).unwrap().kind, Hole);
        assert_eq!(map.region_at(0xff_ffff_ffff).unwrap().kind, RES);
        assert_eq!(map.region_at(0x100_0000_0000), None);
        assert_eq!(map.region_at(u64::MAX), None);
        // Pages: the one straddling 0x9fc00 overlaps RAM but is not all RAM.
        assert!(map.page_is_ram(0x9_e000));
        assert!(!map.page_is_ram(0x9_f000));
        assert!(map.page_overlaps_ram(0x9_fc00));
        assert!(!map.page_overlaps_ram(0xa_0000));
        assert!(map.page_is_ram(0xffd_ffff));
        assert!(!map.page_is_ram(0xffe_0000));
        assert!(!map.page_overlaps_ram(0xffe_0000));
        assert!(!map.page_is_ram(u64::MAX));
        assert!(!map.page_overlaps_ram(u64::MAX));
        assert!(PhysMap::<11, 0>::build(&qemu()).is_err_and(|e| e == PhysMapError::TooManyRegions));
    }

    #[test]
    fn merging_and_overlap_rule() {
        let map = PhysMap::<8, 0>::build(&[
            r(0x3000, 0x5000, Ram),
            r(0x1000, 0x3000, Ram),                 // adjacent RAM: merged
            r(0x4000, 0x6000, RES),                 // overlaps RAM: reserved wins
            r(0x5000, 0x7000, RegionKind::AcpiNvs), // overlaps reserved: the first listed wins
            r(0x8000, 0x8000, RES),                 // empty: ignored
            r(0x6800, 0x9000, Hole),                // a Hole entry describes nothing
        ])
        .unwrap();
        assert_eq!(
            map.regions(),
            &[
                r(0, 0x1000, Hole),
                r(0x1000, 0x4000, Ram),
                r(0x4000, 0x6000, RES),
                r(0x6000, 0x7000, RegionKind::AcpiNvs),
            ]
        );
        // Different firmware types are different kinds and are not merged.
        let other = RegionKind::Reserved { firmware_type: 9 };
        let map = PhysMap::<4, 0>::build(&[r(0, 0x1000, RES), r(0x1000, 0x2000, other)]).unwrap();
        assert_eq!(map.regions().len(), 2);
        assert_eq!(PhysMap::<4, 0>::build(&[]).unwrap().end(), 0);
        assert_eq!(PhysMap::<4, 0>::new().region_at(0), None);
    }

    #[test]
    fn sections_nest_under_ram() {
        use KernelSection::*;
        let mut map = PhysMap::<16, 3>::build(&qemu()).unwrap();
        assert_eq!(map.add_section(sec(0x20_0000, 0x30_0000, Data)), Ok(()));
        assert_eq!(map.add_section(sec(0x10_0000, 0x18_0000, Code)), Ok(()));
        assert_eq!(map.add_section(sec(0x18_0000, 0x20_0000, Code)), Ok(())); // touches: merged
        assert_eq!(map.add_section(sec(0x14_0000, 0x1c_0000, Code)), Ok(())); // inside: merged
        assert_eq!(map.add_section(sec(0x40_0000, 0x40_0000, Bss)), Ok(())); // empty: ignored
        assert_eq!(map.sections(), &[sec(0x10_0000, 0x20_0000, Code), sec(0x20_0000, 0x30_0000, Data)]);
        assert_eq!(map.add_section(sec(0x1f_f000, 0x20_1000, Rodata)), Err(PhysMapError::SectionOverlap));
        assert_eq!(map.add_section(sec(0x9_f000, 0xa_0000, Bss)), Err(PhysMapError::SectionOutsideRam));
        assert_eq!(map.add_section(sec(0xffd_0000, 0xffe_0001, Bss)), Err(PhysMapError::SectionOutsideRam));
        assert_eq!(map.add_section(sec(0xa_0000, 0xa_1000, Bss)), Err(PhysMapError::SectionOutsideRam));
        assert_eq!(map.add_section(sec(0x9_0000, 0x9_1000, Rodata)), Ok(()));
        assert_eq!(map.add_section(sec(0x30_0000, 0x40_0000, Bss)), Err(PhysMapError::TooManySections));
        assert_eq!(map.add_section(sec(0x30_0000, 0x40_0000, Data)), Ok(())); // merging needs no slot
        assert_eq!(
            map.sections(),
            &[
                sec(0x9_0000, 0x9_1000, Rodata),
                sec(0x10_0000, 0x20_0000, Code),
                sec(0x20_0000, 0x40_0000, Data)
            ]
        );
        let at = [0x8_ffff, 0x9_0000, 0x1f_ffff, 0x20_0000, 0x40_0000].map(|a| map.section_at(a));
        assert_eq!(at, [None, Some(Rodata), Some(Code), Some(Data), None]);
        // A range bridging two ranges of its section merges all three.
        let mut map = PhysMap::<16, 4>::build(&qemu()).unwrap();
        for (s, e) in [(0x10_0000, 0x11_0000), (0x12_0000, 0x13_0000), (0x15_0000, 0x16_0000)] {
            map.add_section(sec(s, e, Bss)).unwrap();
        }
        map.add_section(sec(0x10_8000, 0x12_8000, Bss)).unwrap();
        assert_eq!(map.sections(), &[sec(0x10_0000, 0x13_0000, Bss), sec(0x15_0000, 0x16_0000, Bss)]);
    }

    /// The brute-force answer over the raw list: None past the end, else the overlap rule.
    fn oracle(raw: &[Region], addr: u64) -> Option<RegionKind> {
        let described = || raw.iter().filter(|r| r.start < r.end && r.kind != Hole);
        if addr >= described().map(|r| r.end).max().unwrap_or(0) {
            return None;
        }
        let covering = || described().filter(|r| r.start <= addr && addr < r.end);
        Some(
            covering().map(|r| r.kind).find(|&k| k != Ram).or(covering().next().map(|_| Ram)).unwrap_or(Hole),
        )
    }

    fn raw_regions(unit: u64) -> impl Strategy<Value = Vec<Region>> {
        let kind = prop_oneof![
            4 => Just(Ram),
            1 => Just(RES),
            1 => Just(RegionKind::Reserved { firmware_type: 12 }),
            1 => Just(RegionKind::AcpiTables),
            1 => Just(RegionKind::AcpiNvs),
            1 => Just(RegionKind::Unusable),
            1 => Just(RegionKind::PersistentMemory),
            1 => Just(Hole),
        ];
        let region = (0..40u64, 0..12u64, kind).prop_map(move |(s, len, kind)| {
            // Mostly forward ranges, some empty or inverted ones.
            let end = if len == 11 { s.saturating_sub(1) } else { s + len };
            r(s * unit, end * unit, kind)
        });
        proptest::collection::vec(region, 0..10)
    }

    proptest! {
        #[test]
        fn region_at_matches_brute_force(raw in raw_regions(1)) {
            let map = PhysMap::<64, 0>::build(&raw).unwrap();
            let regions = map.regions();
            prop_assert_eq!(regions.first().map_or(0, |r| r.start), 0);
            for w in regions.windows(2) {
                prop_assert_eq!(w[0].end, w[1].start, "gap or overlap");
                prop_assert_ne!(w[0].kind, w[1].kind, "unmerged neighbours");
            }
            prop_assert!(regions.iter().all(|r| r.start < r.end));
            for addr in 0..60 {
                prop_assert_eq!(map.region_at(addr).map(|r| r.kind), oracle(&raw, addr), "at {}", addr);
            }
            let ram = (0..60).filter(|&a| oracle(&raw, a) == Some(Ram)).count() as u64;
            prop_assert_eq!(map.ram_bytes(), ram);
        }

        #[test]
        fn sections_match_painted_bytes(
            raw in raw_regions(1),
            adds in proptest::collection::vec((0..50u64, 0..8u64, 0..4usize), 0..12),
        ) {
            const SECTIONS: [KernelSection; 4] =
                [KernelSection::Code, KernelSection::Rodata, KernelSection::Data, KernelSection::Bss];
            let mut map = PhysMap::<64, 4>::build(&raw).unwrap();
            let mut painted = [None; 60];
            // The sections() an oracle expects: maximal runs of one section in the painted bytes.
            let runs = |p: &[Option<KernelSection>]| {
                let mut runs: Vec<SectionRange> = Vec::new();
                for (a, s) in p.iter().enumerate().filter_map(|(a, s)| Some((a as u64, (*s)?))) {
                    match runs.last_mut() {
                        Some(last) if last.end == a && last.section == s => last.end += 1,
                        _ => runs.push(sec(a, a + 1, s)),
                    }
                }
                runs
            };
            for (start, len, which) in adds {
                let (end, section) = (start + len, SECTIONS[which]);
                let mut next = painted;
                next[start as usize..end as usize].fill(Some(section));
                let want = if (start..end).any(|a| oracle(&raw, a) != Some(Ram)) {
                    Err(PhysMapError::SectionOutsideRam)
                } else if (start..end).any(|a| painted[a as usize].is_some_and(|s| s != section)) {
                    Err(PhysMapError::SectionOverlap)
                } else if runs(&next).len() > 4 {
                    Err(PhysMapError::TooManySections)
                } else {
                    painted = next;
                    Ok(())
                };
                prop_assert_eq!(map.add_section(sec(start, end, section)), want);
                prop_assert_eq!(map.sections(), runs(&painted));
            }
            for a in 0..60 {
                prop_assert_eq!(map.section_at(a), painted[a as usize]);
            }
        }

        #[test]
        fn page_tests_match_brute_force(raw in raw_regions(512)) {
            let map = PhysMap::<64, 0>::build(&raw).unwrap();
            for page in 0..7u64 {
                let bytes = page * PAGE_SIZE..(page + 1) * PAGE_SIZE;
                let is_ram = bytes.clone().step_by(64).all(|a| oracle(&raw, a) == Some(Ram));
                let any_ram = bytes.step_by(64).any(|a| oracle(&raw, a) == Some(Ram));
                let addr = page * PAGE_SIZE + 0x123;
                prop_assert_eq!(map.page_is_ram(addr), is_ram, "page {}", page);
                prop_assert_eq!(map.page_overlaps_ram(addr), any_ram, "page {}", page);
            }
        }
    }
}
