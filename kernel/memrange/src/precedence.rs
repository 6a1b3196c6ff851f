//! Which memory type the MTRRs give an address, and how it combines with the PAT type of a
//! page (Intel SDM Vol. 3A §11.11.4.1 and Table 11-7; Xen `xen/arch/x86/hvm/mtrr.c`).

use mm_core::memtype::MemoryType;

use crate::regs::*;

/// The MTRR type of physical address `addr`; `None` when undefined (Intel SDM Vol. 3A §11.11.4.1).
///
/// `None` also for an address at or above `2^MAXPHYADDR`, and for any type byte the MTRRs may
/// not hold (2, 3, 7 and above) that decides or takes part in the decision. E = 0 gives UC;
/// below 1 MiB with MTRRCAP.FIX and DEF_TYPE.FE the fixed byte decides; else the valid
/// variable ranges with `(addr & mask) == (base & mask)`: one type, UC if any is UC, WT for WT
/// with WB, undefined for other mixes; no match gives the default type.
pub fn mtrr_type_at(regs: &MtrrRegisters, max_phys_bits: u32, addr: u64) -> Option<MemoryType> {
    if addr >= address_limit(max_phys_bits) {
        return None;
    }
    if !regs.enabled() {
        return Some(MemoryType::Uncacheable);
    }
    if addr < FIXED_TOP && regs.fixed_supported() && regs.fixed_enabled() {
        return MemoryType::from_mtrr_encoding(regs.fixed_byte(fixed_slot_of(addr)?)?);
    }
    let pm = phys_mask(max_phys_bits);
    // Bit `encoding` set for each type among the matching valid ranges.
    let mut seen: u8 = 0;
    for &(physbase, physmask) in regs.variable.iter().take(regs.variable_count()) {
        let mask = physmask & pm;
        if physmask & PHYSMASK_V != 0 && addr & mask == physbase & pm & mask {
            seen |= 1 << MemoryType::from_mtrr_encoding((physbase & PHYSBASE_TYPE_MASK) as u8)?.encoding();
        }
    }
    let bit = |t: MemoryType| 1u8 << t.encoding();
    if seen == 0 {
        MemoryType::from_mtrr_encoding(regs.default_type())
    } else if seen & bit(MemoryType::Uncacheable) != 0 {
        Some(MemoryType::Uncacheable)
    } else if seen == bit(MemoryType::WriteThrough) | bit(MemoryType::WriteBack) {
        Some(MemoryType::WriteThrough)
    } else if seen.is_power_of_two() {
        MemoryType::from_mtrr_encoding(seen.trailing_zeros() as u8)
    } else {
        None
    }
}

/// The effective type of an MTRR type and a PAT type; an MTRR "UC-" counts as UC (Intel SDM Vol. 3A Table 11-7; Xen `mtrr.c` `mm_type_tbl`).
pub const fn effective_type(mtrr: MemoryType, pat: MemoryType) -> MemoryType {
    use MemoryType::*;
    match (mtrr, pat) {
        (_, Uncacheable) => Uncacheable,
        (_, WriteCombining) => WriteCombining,
        (Uncacheable | UncachedMinus, _) => Uncacheable,
        (WriteCombining, UncachedMinus | WriteBack) => WriteCombining,
        (WriteCombining, WriteThrough | WriteProtect) => Uncacheable,
        (WriteThrough, UncachedMinus) => Uncacheable,
        (WriteThrough, WriteThrough | WriteBack) => WriteThrough,
        (WriteThrough, WriteProtect) => WriteProtect,
        (WriteProtect, UncachedMinus) => WriteCombining,
        (WriteProtect, WriteThrough) => WriteThrough,
        (WriteProtect, WriteProtect | WriteBack) => WriteProtect,
        (WriteBack, UncachedMinus) => Uncacheable,
        (WriteBack, other) => other,
    }
}
