//! Decoding firmware state, the store step, refetch and GET.

use super::*;
use crate::regs::*;
use errno::Errno;

const FIXED_FW: i32 = MDF_FIXBASE | MDF_FIXLEN | MDF_FIXACTIVE | MDF_ACTIVE | MDF_FIRMWARE;

#[test]
fn qemu_firmware_state_decodes_to_96_descriptors() {
    let m = qemu();
    let d = m.descriptors();
    assert_eq!((m.len(), m.fixed_count(), m.variable_count()), (96, 88, 8));
    assert_eq!(d[0], desc(0, 0x10000, FIXED_FW | MDF_WRITEBACK, "BIOS"));
    assert_eq!(d[7], desc(0x70000, 0x10000, FIXED_FW | MDF_WRITEBACK, "BIOS"));
    assert_eq!(d[8], desc(0x80000, 0x4000, FIXED_FW | MDF_WRITEBACK, "BIOS"));
    assert_eq!(d[15], desc(0x9C000, 0x4000, FIXED_FW | MDF_WRITEBACK, "BIOS"));
    for (i, slot) in d[16..24].iter().enumerate() {
        assert_eq!(*slot, desc(0xA0000 + 0x4000 * i as u64, 0x4000, FIXED_FW | MDF_UNCACHEABLE, "BIOS"));
    }
    assert_eq!(d[24], desc(0xC0000, 0x1000, FIXED_FW | MDF_WRITEPROTECT, "BIOS"));
    assert_eq!(d[87], desc(0xFF000, 0x1000, FIXED_FW | MDF_WRITEPROTECT, "BIOS"));
    assert_eq!(d[88], desc(0x8000_0000, 0x8000_0000, MDF_ACTIVE | MDF_FIRMWARE | MDF_UNCACHEABLE, "BIOS"));
    for slot in &d[89..] {
        assert_eq!(*slot, desc(0, 1 << 40, MDF_UNCACHEABLE, ""), "inactive: base 0, len 2^MAXPHYADDR");
    }
    assert_eq!(d[88].owner(), "BIOS");
    assert_eq!(m.variable(0), Some(&d[88]));
    assert_eq!(m.variable(8), None);
}

#[test]
fn fixed_slots_tile_the_first_mib() {
    let m = qemu();
    let mut next = 0;
    for d in &m.descriptors()[..88] {
        assert_eq!(d.mr_base, next);
        next += d.mr_len;
    }
    assert_eq!(next, 0x10_0000);
}

#[test]
fn disabled_mtrrs_or_no_ranges_give_enxio() {
    let mut regs = qemu_regs();
    regs.def_type &= !DEF_E;
    assert_eq!(MemRanges::from_registers(&regs, 40), Err(Errno::ENXIO));
    let none = MtrrRegisters { cap: 0, def_type: DEF_E | 6, ..MtrrRegisters::default() };
    assert_eq!(MemRanges::from_registers(&none, 40), Err(Errno::ENXIO));
    let fixed_only = MtrrRegisters { cap: CAP_FIX, def_type: DEF_E | DEF_FE, ..MtrrRegisters::default() };
    assert_eq!(MemRanges::from_registers(&fixed_only, 40).map(|m| m.len()), Ok(88));
}

#[test]
fn fixed_descriptors_need_both_fix_and_fe() {
    let mut regs = qemu_regs();
    regs.def_type &= !DEF_FE;
    let m = MemRanges::from_registers(&regs, 40).unwrap();
    assert_eq!((m.len(), m.fixed_count()), (8, 0));
    assert_eq!(m.descriptors()[0].mr_base, 0x8000_0000);
    let mut regs = qemu_regs();
    regs.cap &= !CAP_FIX;
    assert_eq!(MemRanges::from_registers(&regs, 40).unwrap().len(), 8);
}

#[test]
fn vcnt_is_capped_at_sixteen() {
    let mut regs = qemu_regs();
    regs.cap = 0x5ff;
    assert_eq!(regs.variable_count(), 16);
    assert_eq!(MemRanges::from_registers(&regs, 40).unwrap().len(), 88 + 16);
}

#[test]
fn unknown_type_bytes_decode_to_unknown() {
    let mut regs = qemu_regs();
    regs.fixed[0] = 0x0606_0606_0606_0302;
    regs.variable[1] = (0x1_0000_0007, 0xFF_F000_0800);
    let m = MemRanges::from_registers(&regs, 40).unwrap();
    assert_eq!(m.descriptors()[0].mr_flags & MDF_ATTRMASK, MDF_UNKNOWN);
    assert_eq!(m.descriptors()[1].mr_flags & MDF_ATTRMASK, MDF_UNKNOWN);
    assert_eq!(m.descriptors()[2].mr_flags & MDF_ATTRMASK, MDF_WRITEBACK);
    let v1 = m.variable(1).unwrap();
    assert_eq!(
        (v1.mr_base, v1.mr_len, v1.mr_flags),
        (0x1_0000_0000, 0x1000_0000, MDF_ACTIVE | MDF_FIRMWARE | MDF_UNKNOWN)
    );
    let back = m.to_registers(&regs);
    assert_eq!(back, regs, "unknown bytes are kept by the store step");
}

#[test]
fn non_power_of_two_firmware_range_is_bogus_and_round_trips() {
    // SeaBIOS with pcimem_start 0xB0000000: mask -(4G - start), not contiguous (spec part E).
    let mut regs = qemu_regs();
    regs.variable[0] = (0xB000_0000, 0xFF_B000_0800);
    let m = MemRanges::from_registers(&regs, 40).unwrap();
    let v0 = m.variable(0).unwrap();
    assert_eq!((v0.mr_base, v0.mr_len), (0xB000_0000, 0x5000_0000));
    assert_eq!(v0.mr_flags, MDF_ACTIVE | MDF_FIRMWARE | MDF_BOGUS | MDF_UNCACHEABLE);
    assert_eq!(m.to_registers(&regs), regs);
}

#[test]
fn misaligned_firmware_base_is_bogus() {
    let mut regs = qemu_regs();
    regs.variable[2] = (0x1_0000_1006, 0xFF_FFFF_E800);
    let m = MemRanges::from_registers(&regs, 40).unwrap();
    assert_eq!(m.variable(2).unwrap().mr_len, 0x2000);
    assert_ne!(m.variable(2).unwrap().mr_flags & MDF_BOGUS, 0);
    assert_eq!(m.variable(0).unwrap().mr_flags & MDF_BOGUS, 0);
}

#[test]
fn store_step_of_firmware_state_is_the_firmware_state() {
    assert_eq!(qemu().to_registers(&qemu_regs()), qemu_regs());
    let other = MtrrRegisters { fixed: [0x1234; 11], variable: [(7, 7); 16], ..qemu_regs() };
    let regs = qemu().to_registers(&other);
    let mut expected = qemu_regs();
    expected.variable[8..].fill((7, 7));
    assert_eq!(regs, expected, "fixed MSRs rebuilt, VCNT pairs rewritten, slots past VCNT untouched");
}

#[test]
fn store_step_encodes_an_update() {
    let mut m = qemu();
    assert_eq!(
        m.set(&desc(0xC000_0000, 0x1000_0000, MDF_WRITECOMBINE, "x"), 0),
        Err(Errno::EINVAL),
        "WC in UC var0"
    );
    m.set(&desc(0x4000_0000, 0x1000_0000, MDF_WRITECOMBINE, "x"), MEMRANGE_SET_UPDATE).unwrap();
    m.set(&desc(0xA0000, 0x1000, MDF_WRITECOMBINE, "vga"), MEMRANGE_SET_UPDATE).unwrap();
    let regs = m.to_registers(&qemu_regs());
    assert_eq!(regs.variable[1], (0x4000_0001, 0xFF_F000_0800));
    assert_eq!(regs.variable[0], qemu_regs().variable[0]);
    assert_eq!(regs.fixed[2], 0x0000_0000_0000_0001, "only the first 16K slot of 0x259 is WC");
    assert_eq!((regs.cap, regs.def_type), (0x508, 0xC06));
}

#[test]
fn store_step_zeroes_removed_slots() {
    let mut m = qemu();
    m.set(&desc(0x8000_0000, 0x8000_0000, 0, ""), MEMRANGE_SET_REMOVE).unwrap();
    assert_eq!(m.to_registers(&qemu_regs()).variable[0], (0, 0));
}

#[test]
fn sdm_example_mask() {
    // SDM §11.11.3 example: 4 MiB UC at 0x04000000, MAXPHYADDR 40.
    assert_eq!(encode_variable(0x0400_0000, 0x40_0000, 0, 40), (0x0400_0000, 0xFF_FFC0_0800));
}

#[test]
fn refetch_keeps_owner_and_firmware_and_names_empty_owners_bios() {
    let mut m = qemu();
    let regs = m.apply(&desc(0x4000_0000, 0x1000_0000, MDF_WRITECOMBINE, ""), 0, &qemu_regs()).unwrap();
    let v1 = *m.variable(1).unwrap();
    assert_eq!(v1.mr_flags, MDF_ACTIVE | MDF_WRITECOMBINE, "no FIRMWARE after the first fetch");
    assert_eq!(v1.owner(), "BIOS", "x86_mrfetch names an ACTIVE range without owner BIOS");
    assert_eq!(m.variable(0).unwrap().mr_flags, MDF_ACTIVE | MDF_FIRMWARE | MDF_UNCACHEABLE);
    let before = m.clone();
    m.refetch(&regs);
    assert_eq!(m, before, "refetching what was stored changes nothing");
}

#[test]
fn refetch_normalises_removed_slots_but_keeps_their_firmware_flag() {
    let mut m = qemu();
    m.set(&desc(0x8000_0000, 0x8000_0000, 0, ""), MEMRANGE_SET_REMOVE).unwrap();
    let v0 = *m.variable(0).unwrap();
    assert_eq!(
        (v0.mr_base, v0.mr_len, v0.mr_flags),
        (0x8000_0000, 0x8000_0000, MDF_FIRMWARE | MDF_UNCACHEABLE)
    );
    assert_eq!(&v0.mr_owner, b"\0IOS\0\0\0\0", "REMOVE clears only mr_owner[0]");
    let regs = m.to_registers(&qemu_regs());
    m.refetch(&regs);
    let v0 = *m.variable(0).unwrap();
    assert_eq!((v0.mr_base, v0.mr_len, v0.mr_flags), (0, 1 << 40, MDF_FIRMWARE | MDF_UNCACHEABLE));
}

#[test]
fn from_registers_of_a_stored_model_marks_everything_firmware() {
    let mut m = qemu();
    m.apply(&desc(0xC000_0000, 0x1000_0000, MDF_WRITEBACK, "user"), 0, &qemu_regs()).unwrap();
    let fresh = MemRanges::from_registers(&m.to_registers(&qemu_regs()), 40).unwrap();
    let v1 = fresh.variable(1).unwrap();
    assert_eq!(v1.mr_flags, MDF_ACTIVE | MDF_FIRMWARE | MDF_WRITEBACK);
    assert_eq!(v1.owner(), "BIOS", "a boot-time read knows no owners");
    for (a, b) in fresh.descriptors().iter().zip(m.descriptors()) {
        assert_eq!((a.mr_base, a.mr_len), (b.mr_base, b.mr_len));
        assert_eq!(a.mr_flags & !MDF_FIRMWARE, b.mr_flags & !MDF_FIRMWARE);
    }
}

#[test]
fn get_follows_memioctl() {
    let m = qemu();
    assert_eq!(m.get(0), (&[][..], 96));
    assert_eq!(m.get(-7), (&[][..], 96));
    assert_eq!(m.get(i32::MIN), (&[][..], 96));
    let (some, n) = m.get(10);
    assert_eq!((some.len(), n), (10, 10));
    assert_eq!(some, &m.descriptors()[..10]);
    let (all, n) = m.get(i32::MAX);
    assert_eq!((all.len(), n), (96, 96));
}

#[test]
fn msr_values_list_every_writable_mtrr_in_order() {
    let regs = qemu_regs();
    let list: std::vec::Vec<(u32, u64)> = regs.msr_values().collect();
    assert_eq!(list.len(), 11 + 16 + 1);
    assert_eq!(list[0], (0x250, 0x0606_0606_0606_0606));
    assert_eq!(list[2], (0x259, 0));
    assert_eq!(list[10], (0x26F, 0x0505_0505_0505_0505));
    assert_eq!(list[11], (0x200, 0x8000_0000));
    assert_eq!(list[12], (0x201, 0xFF_8000_0800));
    assert_eq!(list[26], (0x20F, 0));
    assert_eq!(list[27], (0x2FF, 0xC06));
    let no_fix = MtrrRegisters { cap: 2, ..regs };
    assert_eq!(no_fix.msr_values().count(), 4 + 1);
}

#[test]
fn register_fields() {
    let regs = qemu_regs();
    assert_eq!(regs.variable_count(), 8);
    assert!(regs.fixed_supported() && regs.write_combining_supported());
    assert!(regs.enabled() && regs.fixed_enabled());
    assert_eq!(regs.default_type(), 6);
    assert_eq!(regs.fixed_byte(16), Some(0));
    assert_eq!(regs.fixed_byte(0), Some(6));
    assert_eq!(regs.fixed_byte(88), None);
    assert_eq!(FIXED_MSRS, [0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F]);
    assert_eq!((msr_physbase(7), msr_physmask(7)), (0x20E, 0x20F));
    assert_eq!(phys_mask(40), 0xFF_FFFF_F000);
    assert_eq!(phys_mask(200), phys_mask(52), "MAXPHYADDR is capped at 52");
    assert_eq!(fixed_slot_of(0xA0000), Some(16));
    assert_eq!(fixed_slot_of(0xFFFFF), Some(87));
    assert_eq!(fixed_slot_of(0x10_0000), None);
    assert_eq!(fixed_slot(87), Some((0xFF000, 0x1000)));
    assert_eq!(fixed_slot(88), None);
}
