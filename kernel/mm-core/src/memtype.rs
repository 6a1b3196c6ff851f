//! Memory types, and how a page-table entry selects one through the PAT.
//!
//! Encodings: Intel SDM Vol. 3A, Table 11-10 (PAT) and 11.11.2.2 (MTRR types). The PAT
//! layout is Linux's (`arch/x86/mm/pat/memtype.c`), which makes every type reachable
//! from a page-table entry.

use core::fmt;

/// A memory (cache) type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemoryType {
    /// UC: uncacheable, strongly ordered.
    Uncacheable,
    /// UC-: uncacheable, but an MTRR of WC may override it (PAT only).
    UncachedMinus,
    /// WC: uncacheable, writes combined in buffers.
    WriteCombining,
    /// WT: reads cached, writes go through to memory.
    WriteThrough,
    /// WP: reads cached, writes go to memory and invalidate cached lines.
    WriteProtect,
    /// WB: fully cached; the type of ordinary RAM.
    WriteBack,
}

/// Every memory type, for tests and tables.
pub const ALL_MEMORY_TYPES: [MemoryType; 6] = [
    MemoryType::Uncacheable,
    MemoryType::UncachedMinus,
    MemoryType::WriteCombining,
    MemoryType::WriteThrough,
    MemoryType::WriteProtect,
    MemoryType::WriteBack,
];

impl MemoryType {
    /// The encoding in a PAT entry or an MTRR type field.
    pub const fn encoding(self) -> u8 {
        match self {
            Self::Uncacheable => 0,
            Self::WriteCombining => 1,
            Self::WriteThrough => 4,
            Self::WriteProtect => 5,
            Self::WriteBack => 6,
            Self::UncachedMinus => 7,
        }
    }

    /// The type a PAT entry encodes; 2, 3 and 8 and above are reserved.
    pub const fn from_pat_encoding(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Uncacheable),
            1 => Some(Self::WriteCombining),
            4 => Some(Self::WriteThrough),
            5 => Some(Self::WriteProtect),
            6 => Some(Self::WriteBack),
            7 => Some(Self::UncachedMinus),
            _ => None,
        }
    }

    /// The type an MTRR type field encodes; UC- (7) exists only in the PAT.
    pub const fn from_mtrr_encoding(value: u8) -> Option<Self> {
        match Self::from_pat_encoding(value) {
            Some(Self::UncachedMinus) | None => None,
            found => found,
        }
    }

    /// The abbreviation used in the SDM: UC, UC-, WC, WT, WP, WB.
    pub const fn short_name(self) -> &'static str {
        match self {
            Self::Uncacheable => "UC",
            Self::UncachedMinus => "UC-",
            Self::WriteCombining => "WC",
            Self::WriteThrough => "WT",
            Self::WriteProtect => "WP",
            Self::WriteBack => "WB",
        }
    }

    /// Linux's name, as in `/proc/mtrr` and `/proc/pat_memtype_list`.
    pub const fn linux_name(self) -> &'static str {
        match self {
            Self::Uncacheable => "uncachable",
            Self::UncachedMinus => "uncached-minus",
            Self::WriteCombining => "write-combining",
            Self::WriteThrough => "write-through",
            Self::WriteProtect => "write-protect",
            Self::WriteBack => "write-back",
        }
    }
}

impl MemoryType {
    /// Linux's name in `/proc/pat_memtype_list` (`arch/x86/mm/pat/memtype.c`, `cattr_name`).
    pub const fn pat_name(self) -> &'static str {
        match self {
            Self::Uncacheable => "uncached",
            Self::UncachedMinus => "uncached-minus",
            Self::WriteCombining => "write-combining",
            Self::WriteThrough => "write-through",
            Self::WriteProtect => "write-protected",
            Self::WriteBack => "write-back",
        }
    }
}

impl fmt::Display for MemoryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.short_name())
    }
}

/// The PAT entries this kernel programs, indexed by `4*PAT + 2*PCD + PWT`: WB, WC, UC-,
/// UC, WB, WP, UC-, WT. Entries 0-3 keep their reset meaning except 1 (WT → WC), so
/// mappings made before the PAT is programmed (no PWT/PCD/PAT bits: WB) keep their type.
pub const PAT_LAYOUT: [MemoryType; 8] = [
    MemoryType::WriteBack,
    MemoryType::WriteCombining,
    MemoryType::UncachedMinus,
    MemoryType::Uncacheable,
    MemoryType::WriteBack,
    MemoryType::WriteProtect,
    MemoryType::UncachedMinus,
    MemoryType::WriteThrough,
];

/// The IA32_PAT value for a layout: entry i in byte i.
pub const fn pat_msr_value(layout: &[MemoryType; 8]) -> u64 {
    let mut value = 0;
    let mut i = 0;
    while i < 8 {
        value |= (layout[i].encoding() as u64) << (8 * i);
        i += 1;
    }
    value
}

/// The value written to IA32_PAT at boot.
pub const PAT_MSR_VALUE: u64 = pat_msr_value(&PAT_LAYOUT);
const _: () = assert!(PAT_MSR_VALUE == 0x0407_0506_0007_0106, "the layout of the spec");

/// IA32_PAT at power-on: WB, WT, UC-, UC, WB, WT, UC-, UC.
pub const PAT_RESET_VALUE: u64 = 0x0007_0406_0007_0406;

/// Decodes an IA32_PAT value; `None` if an entry holds a reserved encoding.
pub fn decode_pat(value: u64) -> Option<[MemoryType; 8]> {
    let mut layout = [MemoryType::Uncacheable; 8];
    for (i, entry) in layout.iter_mut().enumerate() {
        *entry = MemoryType::from_pat_encoding((value >> (8 * i)) as u8)?;
    }
    Some(layout)
}

/// The size of a leaf mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PageSize {
    Size4K,
    Size2M,
    Size1G,
}

impl PageSize {
    pub const fn bytes(self) -> u64 {
        match self {
            Self::Size4K => 1 << 12,
            Self::Size2M => 1 << 21,
            Self::Size1G => 1 << 30,
        }
    }

    /// The size of the pages a leaf of this size splits into.
    pub const fn smaller(self) -> Option<Self> {
        match self {
            Self::Size4K => None,
            Self::Size2M => Some(Self::Size4K),
            Self::Size1G => Some(Self::Size2M),
        }
    }
}

/// Page-level write-through (bit 3 of every entry).
pub const PWT: u64 = 1 << 3;
/// Page-level cache disable (bit 4 of every entry).
pub const PCD: u64 = 1 << 4;
/// The PAT bit of a 4 KiB entry (bit 7, where larger leaves have PS).
pub const PAT_4K: u64 = 1 << 7;
/// The PAT bit of a 2 MiB or 1 GiB leaf (bit 12, the lowest address bit of a 4 KiB entry).
pub const PAT_LARGE: u64 = 1 << 12;

const fn pat_bit(size: PageSize) -> u64 {
    match size {
        PageSize::Size4K => PAT_4K,
        PageSize::Size2M | PageSize::Size1G => PAT_LARGE,
    }
}

/// The PAT index that selects `memtype` in [`PAT_LAYOUT`] (the first one, where two match).
pub const fn pat_index(memtype: MemoryType) -> u8 {
    let mut i = 0;
    while i < 8 {
        if PAT_LAYOUT[i] as u8 == memtype as u8 {
            return i as u8;
        }
        i += 1;
    }
    panic!("every memory type is in PAT_LAYOUT")
}

/// The PWT, PCD and PAT bits of a leaf of `size` that select `memtype`.
pub const fn cache_bits(memtype: MemoryType, size: PageSize) -> u64 {
    let index = pat_index(memtype);
    let mut bits = 0;
    if index & 1 != 0 {
        bits |= PWT;
    }
    if index & 2 != 0 {
        bits |= PCD;
    }
    if index & 4 != 0 {
        bits |= pat_bit(size);
    }
    bits
}

/// All the bits that select a memory type in a leaf of `size`.
pub const fn cache_mask(size: PageSize) -> u64 {
    PWT | PCD | pat_bit(size)
}

/// The memory type a leaf entry of `size` selects through [`PAT_LAYOUT`].
pub const fn memtype_of_entry(entry: u64, size: PageSize) -> MemoryType {
    let index = (entry & PWT != 0) as usize
        | ((entry & PCD != 0) as usize) << 1
        | ((entry & pat_bit(size) != 0) as usize) << 2;
    PAT_LAYOUT[index]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_type_has_the_bits_of_its_pat_index() {
        use MemoryType::*;
        let expect = [
            (WriteBack, 0),
            (WriteCombining, PWT),
            (UncachedMinus, PCD),
            (Uncacheable, PCD | PWT),
            (WriteProtect, PAT_4K | PWT),
            (WriteThrough, PAT_4K | PCD | PWT),
        ];
        for (memtype, bits) in expect {
            assert_eq!(cache_bits(memtype, PageSize::Size4K), bits, "{memtype}");
            let large = if bits & PAT_4K != 0 { (bits & !PAT_4K) | PAT_LARGE } else { bits };
            assert_eq!(cache_bits(memtype, PageSize::Size2M), large, "{memtype} 2M");
            assert_eq!(cache_bits(memtype, PageSize::Size1G), large, "{memtype} 1G");
        }
    }

    #[test]
    fn the_msr_value_decodes_to_the_layout() {
        assert_eq!(decode_pat(PAT_MSR_VALUE), Some(PAT_LAYOUT));
        use MemoryType::*;
        assert_eq!(
            decode_pat(PAT_RESET_VALUE),
            Some([
                WriteBack,
                WriteThrough,
                UncachedMinus,
                Uncacheable,
                WriteBack,
                WriteThrough,
                UncachedMinus,
                Uncacheable
            ])
        );
        assert_eq!(decode_pat(0x0000_0000_0000_0002), None, "2 is reserved");
    }

    #[test]
    fn mtrr_encodings_exclude_uc_minus() {
        for t in ALL_MEMORY_TYPES {
            assert_eq!(MemoryType::from_pat_encoding(t.encoding()), Some(t));
            let mtrr = MemoryType::from_mtrr_encoding(t.encoding());
            assert_eq!(mtrr, (t != MemoryType::UncachedMinus).then_some(t));
        }
        for reserved in [2, 3, 8, 0xff] {
            assert_eq!(MemoryType::from_pat_encoding(reserved), None);
        }
    }

    proptest! {
        #[test]
        fn encoding_round_trips_through_any_entry(
            t in prop::sample::select(&ALL_MEMORY_TYPES[..]),
            size in prop::sample::select(&[PageSize::Size4K, PageSize::Size2M, PageSize::Size1G][..]),
            other_bits in any::<u64>(),
        ) {
            let entry = (other_bits & !cache_mask(size)) | cache_bits(t, size);
            prop_assert_eq!(memtype_of_entry(entry, size), t);
            prop_assert_eq!(cache_bits(t, size) & !cache_mask(size), 0);
        }
    }
}
