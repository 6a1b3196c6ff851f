use std::string::String;

use super::*;
use crate::procfs::*;
use crate::regs::*;
use errno::Errno::*;
use mm_core::memtype::MemoryType::*;

fn listing(regs: &MtrrRegisters, bits: u32) -> String {
    let mut out = String::new();
    write_proc_mtrr(regs, bits, &mut out).unwrap();
    out
}

#[test]
fn qemu_proc_mtrr_is_one_line() {
    assert_eq!(
        listing(&qemu_regs(), QEMU_BITS),
        "reg00: base=0x080000000 ( 2048MB), size= 2048MB, count=1: uncachable\n"
    );
}

#[test]
fn proc_mtrr_formats_kb_sizes_high_bases_and_unknown_types() {
    let mut regs = qemu_regs();
    regs.variable[2] = encode_variable(0xA0000, 0x8000, 1, 40);
    regs.variable[3] = encode_variable(0x10_0000_0000, 0x10_0000_0000, 6, 40);
    regs.variable[4] = (0x1_0000_0002, 0xFF_FFFF_F800);
    regs.variable[7] = encode_variable(0x4000_0000, 0x10_0000, 4, 40);
    let expected = "reg00: base=0x080000000 ( 2048MB), size= 2048MB, count=1: uncachable\n\
                    reg02: base=0x0000a0000 (    0MB), size=   32KB, count=1: write-combining\n\
                    reg03: base=0x1000000000 (65536MB), size=65536MB, count=1: write-back\n\
                    reg04: base=0x100000000 ( 4096MB), size=    4KB, count=1: ?\n\
                    reg07: base=0x040000000 ( 1024MB), size=    1MB, count=1: write-through\n";
    assert_eq!(listing(&regs, 40), expected);
    regs.cap = 0x504;
    assert_eq!(listing(&regs, 40).lines().count(), 3, "only VCNT registers");
}

#[test]
fn proc_mtrr_sizes_like_linux_for_odd_masks() {
    // Non-contiguous SeaBIOS mask: Linux reports -mask, 1280 MB.
    assert_eq!(linux_variable_range(0xB000_0000, 0xFF_B000_0800, 40), Some((0xB0000, 0x50000, 0)));
    // A mask with only V set covers 2^MAXPHYADDR.
    assert_eq!(linux_variable_range(0, 0x800, 36), Some((0, 1 << 24, 0)));
    assert_eq!(linux_variable_range(0x6, 0xFF_8000_0000, 40), None, "V clear");
}

#[test]
fn empty_registers_list_nothing() {
    assert_eq!(listing(&empty_var_regs(), 40), "");
}

#[test]
fn parse_add_lines() {
    let add = |base, size, memtype| Ok(MtrrCommand::Add { base, size, memtype });
    assert_eq!(
        parse_proc_mtrr_write("base=0xf8000000 size=0x400000 type=write-combining\n"),
        add(0xF800_0000, 0x40_0000, WriteCombining)
    );
    assert_eq!(
        parse_proc_mtrr_write("  base= 4096   size=8K type= uncachable  "),
        add(0x1000, 0x2000, Uncacheable)
    );
    assert_eq!(parse_proc_mtrr_write("base=4Gsize=1M type=write-back"), add(1 << 32, 1 << 20, WriteBack));
    assert_eq!(
        parse_proc_mtrr_write("base=010000 size=0x1000 type=write-through"),
        add(0x1000, 0x1000, WriteThrough)
    );
    assert_eq!(parse_proc_mtrr_write("base=0 size=0X1000 type=write-protect"), add(0, 0x1000, WriteProtect));
    assert_eq!(
        parse_proc_mtrr_write("base=0x1e000 size=0x1000 type=write-back"),
        add(0x1E000, 0x1000, WriteBack)
    );
}

#[test]
fn parse_disable_lines() {
    assert_eq!(parse_proc_mtrr_write("disable=3\n"), Ok(MtrrCommand::Disable { register: 3 }));
    assert_eq!(parse_proc_mtrr_write("disable= 0x2"), Ok(MtrrCommand::Disable { register: 2 }));
    assert_eq!(parse_proc_mtrr_write("disable=1K"), Err(EINVAL));
    assert_eq!(parse_proc_mtrr_write("disable="), Err(EINVAL));
    assert_eq!(parse_proc_mtrr_write("disable=-1"), Err(EINVAL));
}

#[test]
fn parse_rejects_malformed_lines() {
    for line in [
        "",
        "\n",
        "base=0x1000 size=0x1000",
        "base=0x1000 size=0x1000 type=",
        "base=0x1000 size=0x1000 type=uncached-minus",
        "base=0x1000 size=0x1000 type=?",
        "base=0x1000 size=0x1000 type=write-back extra",
        "base=0x1800 size=0x1000 type=write-back",
        "base=0x1000 size=0x800 type=write-back",
        "base= size=0x1000 type=write-back",
        "base=0x1000 type=write-back size=0x1000",
        "size=0x1000 base=0x1000 type=write-back",
        "base=08 size=0x1000 type=write-back",
        "base=0x1000 size=0x1000 type=Write-Back",
        "base=99999999999999999999 size=0x1000 type=write-back",
        "base=16E size=0x1000 type=write-back",
        "disable",
        "enable=1",
    ] {
        assert_eq!(parse_proc_mtrr_write(line), Err(EINVAL), "{line:?}");
    }
}

#[test]
fn proc_add_takes_a_variable_register_owned_by_mtrr() {
    let mut m = qemu();
    assert_eq!(proc_mtrr_add(&mut m, 0x4000_0000, 0x1000_0000, WriteCombining), Ok(1));
    assert_eq!(
        *m.variable(1).unwrap(),
        desc(0x4000_0000, 0x1000_0000, MDF_ACTIVE | MDF_WRITECOMBINE, "mtrr")
    );
    assert_eq!(proc_mtrr_add(&mut m, 0xA0000, 0x10000, WriteCombining), Ok(2), "low memory too");
    assert_eq!(m.descriptors()[16], qemu().descriptors()[16], "fixed ranges untouched");
    assert_eq!(proc_mtrr_add(&mut m, 0x4000_0000, 0x1000_0000, WriteBack), Ok(1), "exact match taken over");
    let regs = m.to_registers(&qemu_regs());
    assert!(
        listing(&regs, 40).contains("reg01: base=0x040000000 ( 1024MB), size=  256MB, count=1: write-back\n")
    );
}

#[test]
fn proc_add_errors() {
    let mut m = qemu();
    let before = m.clone();
    assert_eq!(proc_mtrr_add(&mut m, 0x1000, 0, WriteBack), Err(EINVAL));
    assert_eq!(proc_mtrr_add(&mut m, 0x1000, 0x3000, WriteBack), Err(EINVAL));
    assert_eq!(proc_mtrr_add(&mut m, 0x1000, 0x2000, WriteBack), Err(EINVAL));
    assert_eq!(proc_mtrr_add(&mut m, 1 << 40, 0x1000, WriteBack), Err(EINVAL), "above MAXPHYADDR");
    assert_eq!(proc_mtrr_add(&mut m, 0, 1 << 41, WriteBack), Err(EINVAL));
    assert_eq!(proc_mtrr_add(&mut m, 0, 0x1000, UncachedMinus), Err(EINVAL));
    assert_eq!(proc_mtrr_add(&mut m, 0x8000_0000, 0x1000, WriteCombining), Err(EINVAL), "conflicts with UC");
    assert_eq!(proc_mtrr_add(&mut m, 0xC000_0000, 0x1000_0000, WriteCombining), Err(EINVAL), "inside UC");
    assert_eq!(m, before);
    let mut full = MemRanges::from_registers(&empty_var_regs(), 40).unwrap();
    for i in 0..8 {
        assert_eq!(proc_mtrr_add(&mut full, (i + 1) << 32, 0x1000, WriteBack), Ok(i as usize));
    }
    assert_eq!(proc_mtrr_add(&mut full, 9 << 32, 0x1000, WriteBack), Err(ENOSPC));
}

#[test]
fn proc_disable_removes_a_register() {
    let mut m = qemu();
    let before = m.clone();
    assert_eq!(proc_mtrr_disable(&mut m, 1), Err(EINVAL), "not active");
    assert_eq!(proc_mtrr_disable(&mut m, 8), Err(EINVAL), "no such register");
    assert_eq!(proc_mtrr_disable(&mut m, usize::MAX), Err(EINVAL));
    m.descs_mut()[88].mr_flags |= MDF_BUSY;
    assert_eq!(proc_mtrr_disable(&mut m, 0), Err(EBUSY));
    m.descs_mut()[88].mr_flags &= !MDF_BUSY;
    assert_eq!(m, before);
    assert_eq!(proc_mtrr_disable(&mut m, 0), Ok(()), "firmware ranges too");
    assert_eq!(m.variable(0).unwrap().mr_flags & MDF_ACTIVE, 0);
    assert_eq!(listing(&m.to_registers(&qemu_regs()), 40), "");
    assert_eq!(proc_mtrr_disable(&mut m, 0), Err(EINVAL), "already free");
}
