//! Every rule and errno of MEMRANGE_SET (FreeBSD `x86_mem.c` `x86_mrset`).

use super::*;
use crate::regs::*;
use errno::Errno::{self, *};

const UPDATE: i32 = MEMRANGE_SET_UPDATE;
const REMOVE: i32 = MEMRANGE_SET_REMOVE;

fn update_fails(d: MemRangeDesc, errno: Errno) {
    assert_set_fails(&mut qemu(), d, UPDATE, errno);
}

#[test]
fn update_einval_base_not_4k_aligned() {
    update_fails(desc(0x1000_0800, 0x1000, MDF_WRITEBACK, "u"), EINVAL);
}

#[test]
fn update_einval_len_below_4k() {
    update_fails(desc(0x1000_0000, 0x800, MDF_WRITEBACK, "u"), EINVAL);
    update_fails(desc(0x1000_0000, 0, MDF_WRITEBACK, "u"), EINVAL);
}

#[test]
fn update_einval_len_not_power_of_two() {
    update_fails(desc(0x1000_0000, 0x3000, MDF_WRITEBACK, "u"), EINVAL);
}

#[test]
fn update_einval_base_not_multiple_of_len() {
    update_fails(desc(0x1000_1000, 0x2000, MDF_WRITEBACK, "u"), EINVAL);
    update_fails(desc(0x1000, 0x2000, MDF_WRITEBACK, "u"), EINVAL);
}

#[test]
fn update_einval_unless_exactly_one_valid_type() {
    for flags in [
        0,
        MDF_UNCACHEABLE | MDF_WRITEBACK,
        MDF_UNKNOWN,
        MDF_UNKNOWN | MDF_FORCE,
        0x40,
        MDF_WRITEBACK | 0x80_0000,
    ] {
        update_fails(desc(0x1000_0000, 0x1000, flags, "u"), EINVAL);
    }
    // Control bits outside ATTRMASK do not count against the type.
    let mut m = qemu();
    let flags = MDF_WRITEBACK | MDF_BUSY | MDF_FIXACTIVE | MDF_FIRMWARE | MDF_BOGUS;
    m.set(&desc(0x1000_0000, 0x1000, flags, "u"), UPDATE).unwrap();
    assert_eq!(
        m.variable(1).unwrap().mr_flags,
        MDF_ACTIVE | MDF_WRITEBACK,
        "only attribute bits are copied in"
    );
}

#[test]
fn update_einval_conflicting_partial_overlap() {
    // var0 is UC over [2G, 4G).
    update_fails(desc(0x8000_0000, 0x1000_0000, MDF_WRITECOMBINE, "u"), EINVAL);
    update_fails(desc(0, 0x1_0000_0000, MDF_WRITETHROUGH, "u"), EINVAL);
    let mut m = qemu();
    m.set(&desc(0x8000_0000, 0x1000_0000, MDF_WRITEBACK, "u"), UPDATE).expect("WB over UC is allowed");
    m.set(&desc(0x9000_0000, 0x1000_0000, MDF_UNCACHEABLE, "u"), UPDATE).expect("UC over UC is allowed");
    m.set(&desc(0x8000_0000, 0x1000, MDF_WRITEBACK, "u"), UPDATE).expect("WB over WB and UC");
    assert_set_fails(&mut m, desc(0x8000_0000, 0x2000, MDF_WRITETHROUGH, "u"), UPDATE, EINVAL);
}

#[test]
fn update_einval_overlap_with_unknown_type() {
    let mut regs = qemu_regs();
    regs.variable[1] = (0x1_0000_0002, 0xFF_F000_0800);
    let mut m = MemRanges::from_registers(&regs, 40).unwrap();
    let d = desc(0x1_0000_0000, 0x1000, MDF_UNCACHEABLE | MDF_FORCE, "u");
    assert_set_fails(&mut m, d, UPDATE, EINVAL);
}

#[test]
fn update_einval_when_a_wrapping_range_reaches_the_fixed_path() {
    // base + len wraps to 0 <= 1 MiB, so FreeBSD takes the fixed path and finds no slot.
    let d = desc(0xFFFF_FFFF_FFFF_F000, 0x1000, MDF_WRITEBACK, "u");
    update_fails(d, EINVAL);
    update_fails(desc(1 << 63, 1 << 63, MDF_WRITEBACK, "u"), EINVAL);
    // Without fixed ranges it takes a variable slot: MAXPHYADDR overflow is not checked.
    let mut regs = qemu_regs();
    regs.def_type &= !DEF_FE;
    let mut m = MemRanges::from_registers(&regs, 40).unwrap();
    m.set(&d, UPDATE).unwrap();
    assert_eq!(m.variable(1).unwrap().mr_base, 0xFFFF_FFFF_FFFF_F000);
}

#[test]
fn update_eacces_fixed_unknown_without_force() {
    let mut regs = qemu_regs();
    regs.fixed[2] = 0x0000_0000_0000_0200; // slot 17 (0xA4000) holds the reserved type 2
    let mut m = MemRanges::from_registers(&regs, 40).unwrap();
    assert_set_fails(&mut m, desc(0xA0000, 0x8000, MDF_WRITECOMBINE, "vga"), UPDATE, EACCES);
    assert_set_fails(&mut m, desc(0xA4000, 0x1000, MDF_WRITECOMBINE, "vga"), UPDATE, EACCES);
    m.set(&desc(0xA0000, 0x1000, MDF_WRITECOMBINE, "vga"), UPDATE).expect("slot 16 is known");
    m.set(&desc(0xA0000, 0x8000, MDF_WRITECOMBINE | MDF_FORCE, "vga"), UPDATE).expect("FORCE");
    let d = &m.descriptors()[17];
    assert_eq!(d.mr_flags, MDF_FIXBASE | MDF_FIXLEN | MDF_FIXACTIVE | MDF_ACTIVE | MDF_WRITECOMBINE);
}

#[test]
fn update_eacces_variable_exact_match_unknown_without_force() {
    let mut regs = qemu_regs();
    regs.variable[1] = (0x1_0000_0003, 0xFF_F000_0800);
    let mut m = MemRanges::from_registers(&regs, 40).unwrap();
    let d = desc(0x1_0000_0000, 0x1000_0000, MDF_WRITEBACK, "u");
    assert_set_fails(&mut m, d, UPDATE, EACCES);
    m.set(&desc(0x1_0000_0000, 0x1000_0000, MDF_WRITEBACK | MDF_FORCE, "u"), UPDATE).unwrap();
    assert_eq!(*m.variable(1).unwrap(), desc(0x1_0000_0000, 0x1000_0000, MDF_ACTIVE | MDF_WRITEBACK, "u"));
}

#[test]
fn update_ebusy_exact_match_busy() {
    let mut m = qemu();
    m.descs_mut()[88].mr_flags |= MDF_BUSY;
    assert_set_fails(&mut m, desc(0x8000_0000, 0x8000_0000, MDF_UNCACHEABLE, "u"), UPDATE, EBUSY);
    assert_set_fails(&mut m, desc(0x8000_0000, 0x8000_0000, MDF_UNCACHEABLE | MDF_FORCE, "u"), UPDATE, EBUSY);
}

#[test]
fn update_enospc_on_the_ninth_range() {
    let mut m = MemRanges::from_registers(&empty_var_regs(), 40).unwrap();
    for i in 0..8u64 {
        m.set(&desc((i + 1) << 32, 0x1000_0000, MDF_WRITECOMBINE, "fb"), UPDATE).unwrap();
        assert_eq!(m.variable(i as usize).unwrap().mr_base, (i + 1) << 32, "first free slot");
    }
    assert_set_fails(&mut m, desc(9 << 32, 0x1000_0000, MDF_WRITECOMBINE, "fb"), UPDATE, ENOSPC);
    // An exact match is still taken over when every slot is in use.
    m.set(&desc(3 << 32, 0x1000_0000, MDF_WRITEBACK, "x"), UPDATE).unwrap();
    assert_eq!(m.variable(2).unwrap().mr_flags, MDF_ACTIVE | MDF_WRITEBACK);
}

#[test]
fn update_takes_over_an_exact_match_and_clears_firmware() {
    let mut m = qemu();
    m.set(&desc(0x8000_0000, 0x8000_0000, MDF_WRITECOMBINE, "fb"), UPDATE).unwrap();
    assert_eq!(*m.variable(0).unwrap(), desc(0x8000_0000, 0x8000_0000, MDF_ACTIVE | MDF_WRITECOMBINE, "fb"));
    assert_eq!(m.variable(1).unwrap().mr_flags & MDF_ACTIVE, 0, "no second slot used");
}

#[test]
fn update_fixed_grows_to_slot_boundaries() {
    let mut m = qemu();
    m.set(&desc(0x10000, 0x1000, MDF_WRITECOMBINE, "lo"), UPDATE).unwrap();
    let d = m.descriptors();
    assert_eq!(
        d[1],
        desc(
            0x10000,
            0x10000,
            MDF_FIXBASE | MDF_FIXLEN | MDF_FIXACTIVE | MDF_ACTIVE | MDF_WRITECOMBINE,
            "lo"
        )
    );
    assert_eq!(d[0], qemu().descriptors()[0]);
    assert_eq!(d[2], qemu().descriptors()[2]);
    let mut m = qemu();
    m.set(&desc(0x80000, 0x40000, MDF_WRITETHROUGH, "mid"), UPDATE).unwrap();
    let changed: std::vec::Vec<usize> =
        (0..96).filter(|&i| m.descriptors()[i] != qemu().descriptors()[i]).collect();
    assert_eq!(changed, (8..24).collect::<std::vec::Vec<_>>());
    let mut m = qemu();
    m.set(&desc(0, 0x10_0000, MDF_UNCACHEABLE, "all"), UPDATE).unwrap();
    assert!(m.descriptors()[..88].iter().all(|d| d.owner() == "all" && d.mr_flags & MDF_FIRMWARE == 0));
    assert_eq!(m.variable_count(), 8);
    assert_eq!(m.descriptors()[88..], qemu().descriptors()[88..], "no variable slot used");
}

#[test]
fn update_forces_owner_byte_seven_to_nul() {
    let mut m = qemu();
    let d = MemRangeDesc { mr_owner: *b"ABCDEFGH", ..desc(0x1_0000_0000, 0x1000, MDF_WRITEBACK, "") };
    m.set(&d, UPDATE).unwrap();
    assert_eq!(&m.variable(1).unwrap().mr_owner, b"ABCDEFG\0");
    m.set(&MemRangeDesc { mr_owner: *b"12345678", ..desc(0, 0x1000, MDF_WRITEBACK, "") }, UPDATE).unwrap();
    assert_eq!(&m.descriptors()[0].mr_owner, b"1234567\0");
}

#[test]
fn remove_enoent_without_exact_match() {
    let mut m = qemu();
    assert_set_fails(&mut m, desc(0x8000_0000, 0x4000_0000, 0, ""), REMOVE, ENOENT);
    assert_set_fails(&mut m, desc(0x1234, 0x77, 0, ""), REMOVE, ENOENT);
}

#[test]
fn remove_eperm_fixed_slot() {
    let mut m = qemu();
    assert_set_fails(&mut m, desc(0, 0x10000, 0, ""), REMOVE, EPERM);
    assert_set_fails(&mut m, desc(0xFF000, 0x1000, 0, ""), REMOVE, EPERM);
}

#[test]
fn remove_ebusy_busy_slot() {
    let mut m = qemu();
    m.descs_mut()[88].mr_flags |= MDF_BUSY;
    assert_set_fails(&mut m, desc(0x8000_0000, 0x8000_0000, 0, ""), REMOVE, EBUSY);
}

#[test]
fn remove_clears_active_and_first_owner_byte() {
    let mut m = qemu();
    m.set(&desc(0x8000_0000, 0x8000_0000, MDF_FORCE, "ignored"), REMOVE).unwrap();
    let v0 = m.variable(0).unwrap();
    assert_eq!(v0.mr_flags, MDF_FIRMWARE | MDF_UNCACHEABLE);
    assert_eq!(v0.owner(), "");
    // Until the refetch, the inactive slot keeps its base and length and matches again.
    m.set(&desc(0x8000_0000, 0x8000_0000, 0, ""), REMOVE).unwrap();
    let regs = m.to_registers(&qemu_regs());
    m.refetch(&regs);
    assert_set_fails(&mut m, desc(0x8000_0000, 0x8000_0000, 0, ""), REMOVE, ENOENT);
}

#[test]
fn remove_of_an_inactive_slot_succeeds_as_in_freebsd() {
    let mut m = qemu();
    m.set(&desc(0, 1 << 40, 0, ""), REMOVE).expect("mem_range_match finds inactive slot 89");
    assert_eq!(m, qemu());
}

#[test]
fn other_ops_are_eopnotsupp() {
    let mut m = qemu();
    for op in [2, 3, -1, i32::MAX, i32::MIN] {
        assert_set_fails(&mut m, desc(0x8000_0000, 0x8000_0000, MDF_UNCACHEABLE, ""), op, EOPNOTSUPP);
        assert_set_fails(&mut m, desc(0x8000_0800, 0x1, 0, ""), op, EOPNOTSUPP);
    }
}

#[test]
fn mark_busy_flags_only_active_variable_ranges_a_mapping_overlaps_and_clears_the_rest() {
    let mut m = qemu();
    m.set(&desc(0xfd00_0000, 0x100_0000, MDF_UNCACHEABLE, "fb"), UPDATE).unwrap();
    let mapped = |base: u64, len: u64| base <= 0xfd00_1000 && 0xfd00_1000 < base + len;
    m.mark_busy(mapped);
    let busy: std::vec::Vec<(u64, u64)> = m
        .descriptors()
        .iter()
        .filter(|d| d.mr_flags & MDF_BUSY != 0)
        .map(|d| (d.mr_base, d.mr_len))
        .collect();
    // The firmware's 2 GiB UC range holds 0xfd001000 too; fixed and inactive slots never.
    assert_eq!(busy, [(0x8000_0000, 0x8000_0000), (0xfd00_0000, 0x100_0000)]);
    assert_set_fails(&mut m, desc(0xfd00_0000, 0x100_0000, MDF_WRITEBACK, "fb"), UPDATE, EBUSY);
    assert_set_fails(&mut m, desc(0xfd00_0000, 0x100_0000, 0, "fb"), REMOVE, EBUSY);
    // The mapping is gone: BUSY clears and REMOVE works.
    m.mark_busy(|_, _| false);
    assert!(m.descriptors().iter().all(|d| d.mr_flags & MDF_BUSY == 0));
    m.set(&desc(0xfd00_0000, 0x100_0000, 0, "fb"), REMOVE).unwrap();
}

#[test]
fn the_hardware_rules_refuse_ranges_past_maxphyaddr_and_wc_without_mtrrcap_wc() {
    use mm_core::memtype::MemoryType::{Uncacheable, WriteCombining};
    let mut regs = MtrrRegisters { cap: 0x508, def_type: 0xc06, ..MtrrRegisters::default() };
    // The example: 0x10008000000 + 0x8000000 is past 2^40.
    assert_eq!(check_hardware_holds(&regs, 40, 0x100_0800_0000, 0x800_0000, Some(Uncacheable)), Err(EINVAL));
    assert_eq!(check_hardware_holds(&regs, 40, 0xff_f800_0000, 0x800_0000, Some(Uncacheable)), Ok(()));
    assert_eq!(check_hardware_holds(&regs, 40, u64::MAX - 0xfff, 0x1000, Some(Uncacheable)), Err(EINVAL));
    assert_eq!(check_hardware_holds(&regs, 40, 0xfd00_0000, 0x100_0000, Some(WriteCombining)), Ok(()));
    regs.cap &= !(1 << 10);
    assert_eq!(
        check_hardware_holds(&regs, 40, 0xfd00_0000, 0x100_0000, Some(WriteCombining)),
        Err(EOPNOTSUPP)
    );
    assert_eq!(check_hardware_holds(&regs, 40, 0xfd00_0000, 0x100_0000, Some(Uncacheable)), Ok(()));
}
