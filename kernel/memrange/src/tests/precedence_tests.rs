use super::*;
use crate::precedence::*;
use crate::regs::*;
use mm_core::memtype::{ALL_MEMORY_TYPES, MemoryType::*};

fn at(regs: &MtrrRegisters, addr: u64) -> Option<mm_core::memtype::MemoryType> {
    mtrr_type_at(regs, QEMU_BITS, addr)
}

#[test]
fn qemu_types_by_address() {
    let regs = qemu_regs();
    assert_eq!(at(&regs, 0), Some(WriteBack));
    assert_eq!(at(&regs, 0x9FFFF), Some(WriteBack));
    assert_eq!(at(&regs, 0xA0000), Some(Uncacheable));
    assert_eq!(at(&regs, 0xBFFFF), Some(Uncacheable));
    assert_eq!(at(&regs, 0xC0000), Some(WriteProtect));
    assert_eq!(at(&regs, 0xFFFFF), Some(WriteProtect));
    assert_eq!(at(&regs, 0x10_0000), Some(WriteBack), "default type");
    assert_eq!(at(&regs, 0x7FFF_FFFF), Some(WriteBack));
    assert_eq!(at(&regs, 0x8000_0000), Some(Uncacheable));
    assert_eq!(at(&regs, 0xFEE0_0000), Some(Uncacheable));
    assert_eq!(at(&regs, 0xFFFF_FFFF), Some(Uncacheable));
    assert_eq!(at(&regs, 0x1_0000_0000), Some(WriteBack));
    assert_eq!(at(&regs, (1 << 40) - 1), Some(WriteBack));
    assert_eq!(at(&regs, 1 << 40), None, "no such physical address");
    assert_eq!(at(&regs, u64::MAX), None);
}

#[test]
fn disabled_mtrrs_make_everything_uc() {
    let mut regs = qemu_regs();
    regs.def_type &= !DEF_E;
    for addr in [0, 0xC0000, 0x10_0000, 0x1_0000_0000] {
        assert_eq!(at(&regs, addr), Some(Uncacheable));
    }
}

#[test]
fn without_fe_the_first_mib_uses_the_variable_ranges() {
    let mut regs = qemu_regs();
    regs.def_type &= !DEF_FE;
    assert_eq!(at(&regs, 0xA0000), Some(WriteBack));
    regs.variable[1] = (0x0000_0001, 0xFF_FFF0_0800); // WC over [0, 1 MiB)
    assert_eq!(at(&regs, 0xA0000), Some(WriteCombining));
    regs.def_type |= DEF_FE;
    assert_eq!(at(&regs, 0xA0000), Some(Uncacheable), "the fixed ranges take precedence");
}

fn with_ranges(default: u8, ranges: &[(u64, u64, u8)]) -> MtrrRegisters {
    let mut regs =
        MtrrRegisters { cap: 0x508, def_type: DEF_E | u64::from(default), ..MtrrRegisters::default() };
    for (slot, &(base, len, t)) in regs.variable.iter_mut().zip(ranges) {
        *slot = encode_variable(base, len, t, QEMU_BITS);
    }
    regs
}

#[test]
fn overlap_rules() {
    const G: u64 = 1 << 30;
    let equal = with_ranges(6, &[(0, 2 * G, 1), (G, G, 1)]);
    assert_eq!(at(&equal, G), Some(WriteCombining));
    let uc_wins = with_ranges(6, &[(0, 2 * G, 6), (G, G, 0), (G, G / 2, 5)]);
    assert_eq!(at(&uc_wins, G), Some(Uncacheable));
    assert_eq!(at(&uc_wins, G / 2), Some(WriteBack));
    let wt_wb = with_ranges(0, &[(0, 2 * G, 6), (G, G, 4)]);
    assert_eq!(at(&wt_wb, G), Some(WriteThrough));
    assert_eq!(at(&wt_wb, 2 * G), Some(Uncacheable), "default");
    let wc_wb = with_ranges(6, &[(0, 2 * G, 6), (G, G, 1)]);
    assert_eq!(at(&wc_wb, G), None, "undefined");
    let wt_wb_wp = with_ranges(6, &[(0, 2 * G, 6), (G, G, 4), (G, G, 5)]);
    assert_eq!(at(&wt_wb_wp, G), None);
}

#[test]
fn invalid_encodings_are_undefined() {
    let mut regs = qemu_regs();
    regs.def_type = DEF_E | DEF_FE | 2;
    assert_eq!(at(&regs, 0x10_0000), None, "reserved default type");
    assert_eq!(at(&regs, 0x8000_0000), Some(Uncacheable));
    regs.fixed[0] = 0x0707;
    assert_eq!(at(&regs, 0), None);
    assert_eq!(at(&regs, 0x20000), Some(Uncacheable));
    let bad_var = with_ranges(6, &[(0, 1 << 32, 0), (0, 1 << 31, 3)]);
    assert_eq!(at(&bad_var, 0), None);
    assert_eq!(at(&bad_var, 1 << 31), Some(Uncacheable));
}

#[test]
fn invalid_ranges_are_ignored() {
    let mut regs = qemu_regs();
    regs.variable[1] = (0x1_0000_0001, 0xFF_F000_0000); // V clear
    assert_eq!(at(&regs, 0x1_0000_0000), Some(WriteBack));
    regs.cap = 0x501; // VCNT 1: var1 does not exist
    regs.variable[1].1 |= PHYSMASK_V;
    assert_eq!(at(&regs, 0x1_0000_0000), Some(WriteBack));
    regs.cap = 0x502;
    assert_eq!(at(&regs, 0x1_0000_0000), Some(WriteCombining));
}

#[test]
fn non_contiguous_mask_matches_as_the_hardware_does() {
    let mut regs = qemu_regs();
    regs.variable[0] = (0xB000_0000, 0xFF_B000_0800);
    assert_eq!(at(&regs, 0xB000_0000), Some(Uncacheable));
    assert_eq!(at(&regs, 0xF000_0000), Some(Uncacheable));
    assert_eq!(at(&regs, 0xC000_0000), Some(WriteBack), "bit 30 is not in the mask but bit 28 is");
    assert_eq!(at(&regs, 0x1_B000_0000), Some(WriteBack));
}

#[test]
fn effective_type_table_of_the_sdm() {
    // Rows MTRR UC, WC, WT, WP, WB; columns PAT UC, UC-, WC, WT, WP, WB (spec part D).
    let pat = [Uncacheable, UncachedMinus, WriteCombining, WriteThrough, WriteProtect, WriteBack];
    let table = [
        (Uncacheable, [Uncacheable, Uncacheable, WriteCombining, Uncacheable, Uncacheable, Uncacheable]),
        (
            WriteCombining,
            [Uncacheable, WriteCombining, WriteCombining, Uncacheable, Uncacheable, WriteCombining],
        ),
        (WriteThrough, [Uncacheable, Uncacheable, WriteCombining, WriteThrough, WriteProtect, WriteThrough]),
        (
            WriteProtect,
            [Uncacheable, WriteCombining, WriteCombining, WriteThrough, WriteProtect, WriteProtect],
        ),
        (WriteBack, [Uncacheable, Uncacheable, WriteCombining, WriteThrough, WriteProtect, WriteBack]),
    ];
    for (mtrr, row) in table {
        for (p, expected) in pat.into_iter().zip(row) {
            assert_eq!(effective_type(mtrr, p), expected, "MTRR {mtrr} PAT {p}");
        }
    }
    for p in ALL_MEMORY_TYPES {
        assert_eq!(effective_type(UncachedMinus, p), effective_type(Uncacheable, p), "MTRR UC- counts as UC");
    }
}
