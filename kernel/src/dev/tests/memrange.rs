//! MEMRANGE_GET and MEMRANGE_SET against QEMU's MTRRs: the firmware state SeaBIOS leaves,
//! register read-back after each SET and REMOVE, every errno of FreeBSD's rules that a
//! caller can reach, and the PAT side (PTE types of the re-typed mappings). TCG keeps the
//! values without caching effects, so what is checked is what can be observed: registers,
//! descriptors, page-table bits.

use alloc::vec::Vec;

use errno::{Errno, KResult};
use memrange::*;
use vfs_core::flags::{MAP_SHARED, O_RDONLY, O_RDWR, PROT_READ};

use super::{as_user, root};
use crate::arch::mtrr;
use crate::dev::memrange::memtype_query;
use crate::ktest::ktest;
use crate::mm::MemoryType;
use crate::mm::query::MappedPage;

/// The page walk at a kernel address these tests got as a number (from mmap).
fn query(addr: u64) -> Option<MappedPage> {
    crate::mm::query::query(crate::mm::VirtAddr::new(addr))
}
use crate::vfs::{Context, Fd, UserBuf};

const MAX_PHYS_BITS: u32 = 40;

fn get(ctx: &mut Context, fd: Fd, count: i32) -> KResult<(Vec<MemRangeDesc>, i32)> {
    let mut descs = alloc::vec![0u8; MAX_DESCRIPTORS * MEM_RANGE_DESC_SIZE];
    let mut op = MemRangeOp { mo_desc: descs.as_mut_ptr() as u64, mo_arg: [count, 0] }.to_bytes();
    ctx.ioctl(fd, MEMRANGE_GET, op.as_mut_ptr() as u64)?;
    let op = MemRangeOp::from_bytes(&op);
    let n = if count > 0 { op.mo_arg[0] as usize } else { 0 };
    let list = descs.as_chunks::<MEM_RANGE_DESC_SIZE>().0.iter().take(n).map(MemRangeDesc::from_bytes);
    Ok((list.collect(), op.mo_arg[0]))
}

fn set(ctx: &mut Context, fd: Fd, base: u64, len: u64, flags: i32, owner: &str, op: i32) -> KResult<u64> {
    let mut desc = MemRangeDesc::new(base, len, flags, owner).to_bytes();
    let mut op = MemRangeOp { mo_desc: desc.as_mut_ptr() as u64, mo_arg: [op, 0] }.to_bytes();
    ctx.ioctl(fd, MEMRANGE_SET, op.as_mut_ptr() as u64)
}

fn mem() -> (Context, Fd) {
    let mut ctx = root();
    // memcontrol opens /dev/mem read-only: SET needs uid 0, not a writable file.
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    (ctx, fd)
}

#[ktest]
fn the_firmware_state_is_what_seabios_leaves() {
    let regs = mtrr::read_all().expect("QEMU's CPU has MTRRs");
    assert_eq!(regs.cap, 0x508, "8 variable ranges, fixed ranges, WC");
    assert_eq!(regs.def_type, 0xc06, "enabled, fixed enabled, default WB");
    assert_eq!(regs.fixed[0], 0x0606_0606_0606_0606, "WB below 512 KiB");
    assert_eq!(regs.fixed[1], 0x0606_0606_0606_0606, "WB to 640 KiB");
    assert_eq!(regs.fixed[2], 0, "UC for 0xA0000-0xBFFFF");
    assert!(regs.fixed[3..].iter().all(|&r| r == 0x0505_0505_0505_0505), "WP for 0xC0000-0xFFFFF");
    assert_eq!(regs.variable[0], (0x8000_0000, 0xff_8000_0800), "UC over [2 GiB, 4 GiB)");
    assert!(regs.variable[1..8].iter().all(|&pair| pair == (0, 0)));
}

#[ktest]
fn get_counts_then_lists_the_firmware_ranges() {
    let (mut ctx, fd) = mem();
    let (none, count) = get(&mut ctx, fd, 0).unwrap();
    assert_eq!((none.len(), count), (0, 96), "88 fixed + 8 variable");
    let (list, count) = get(&mut ctx, fd, 96).unwrap();
    assert_eq!((list.len(), count), (96, 96));
    let fixed = MDF_FIXBASE | MDF_FIXLEN | MDF_FIXACTIVE | MDF_ACTIVE | MDF_FIRMWARE;
    assert_eq!((list[0].mr_base, list[0].mr_len, list[0].mr_flags), (0, 0x10000, fixed | MDF_WRITEBACK));
    assert_eq!(list[0].owner(), "BIOS");
    // 8 x 64K, then 16K slots from 0x80000: slot 16 is 0xA0000; 4K slots from slot 24.
    assert_eq!(
        (list[16].mr_base, list[16].mr_len, list[16].mr_flags),
        (0xa0000, 0x4000, fixed | MDF_UNCACHEABLE)
    );
    assert_eq!(
        (list[24].mr_base, list[24].mr_len, list[24].mr_flags),
        (0xc0000, 0x1000, fixed | MDF_WRITEPROTECT)
    );
    assert_eq!((list[87].mr_base, list[87].mr_flags), (0xff000, fixed | MDF_WRITEPROTECT));
    let var0 = list[88];
    assert_eq!(
        (var0.mr_base, var0.mr_len, var0.mr_flags),
        (0x8000_0000, 0x8000_0000, MDF_ACTIVE | MDF_FIRMWARE | MDF_UNCACHEABLE)
    );
    assert_eq!(var0.owner(), "BIOS");
    assert!(list[89..].iter().all(|d| d.mr_flags & MDF_ACTIVE == 0));
    let (some, count) = get(&mut ctx, fd, 5).unwrap();
    assert_eq!((some.len(), count), (5, 5), "n = min(requested, count)");
}

#[ktest]
fn update_and_remove_write_the_registers() {
    let (mut ctx, fd) = mem();
    let (base, len) = (0x1_0000_0000, 0x1000_0000);
    set(&mut ctx, fd, base, len, MDF_WRITECOMBINE, "test", MEMRANGE_SET_UPDATE).unwrap();
    let regs = mtrr::read_all().unwrap();
    assert_eq!(regs.variable[1], (base | 1, 0xff_f000_0800), "PHYSBASE type WC, PHYSMASK for 256 MiB, valid");
    let (list, _) = get(&mut ctx, fd, 96).unwrap();
    assert_eq!(
        (list[89].mr_base, list[89].mr_len, list[89].mr_flags),
        (base, len, MDF_ACTIVE | MDF_WRITECOMBINE)
    );
    assert_eq!(list[89].owner(), "test");
    assert_eq!(memtype_query(base + 0x1234).mtrr, Some(MemoryType::WriteCombining));
    set(&mut ctx, fd, base, len, 0, "", MEMRANGE_SET_REMOVE).unwrap();
    assert_eq!(mtrr::read_all().unwrap().variable[1], (0, 0));
    assert_eq!(memtype_query(base + 0x1234).mtrr, Some(MemoryType::WriteBack), "the default type again");
}

#[ktest]
fn fixed_ranges_grow_to_slot_boundaries() {
    let (mut ctx, fd) = mem();
    let before = mtrr::read_all().unwrap();
    // 4 KiB at 0x80000 lies in the 16K slot 0x80000-0x83FFF: the whole slot (byte 0 of
    // MSR 0x258) changes.
    set(&mut ctx, fd, 0x80000, 0x1000, MDF_WRITETHROUGH, "fix", MEMRANGE_SET_UPDATE).unwrap();
    let after = mtrr::read_all().unwrap();
    assert_eq!(after.fixed[1], 0x0606_0606_0606_0604, "the slot became WT");
    let (list, _) = get(&mut ctx, fd, 96).unwrap();
    assert_eq!(
        (list[8].mr_base, list[8].mr_len, list[8].mr_flags & MDF_ATTRMASK),
        (0x80000, 0x4000, MDF_WRITETHROUGH)
    );
    assert_eq!(list[8].owner(), "fix");
    // 8 KiB at 0xC2000: the two 4K slots, bytes 2 and 3 of MSR 0x268.
    set(&mut ctx, fd, 0xc2000, 0x2000, MDF_WRITETHROUGH, "fix", MEMRANGE_SET_UPDATE).unwrap();
    assert_eq!(mtrr::read_all().unwrap().fixed[3], 0x0505_0505_0404_0505, "two WT slots among WP");
    set(&mut ctx, fd, 0x80000, 0x4000, MDF_WRITEBACK, "fix", MEMRANGE_SET_UPDATE).unwrap();
    set(&mut ctx, fd, 0xc2000, 0x2000, MDF_WRITEPROTECT, "fix", MEMRANGE_SET_UPDATE).unwrap();
    assert_eq!(mtrr::read_all().unwrap().fixed, before.fixed);
}

#[ktest]
fn the_ninth_variable_range_is_enospc_and_changes_nothing() {
    let (mut ctx, fd) = mem();
    let bases: Vec<u64> = (0..7).map(|i| 0x2_0000_0000 + i * 0x1000_0000).collect();
    for &base in &bases {
        set(&mut ctx, fd, base, 0x1000_0000, MDF_WRITEBACK, "fill", MEMRANGE_SET_UPDATE).unwrap();
    }
    let full = mtrr::read_all().unwrap();
    assert!(full.variable[..8].iter().all(|&(_, mask)| mask & 0x800 != 0), "all 8 slots valid");
    let (list_before, _) = get(&mut ctx, fd, 96).unwrap();
    assert_eq!(
        set(&mut ctx, fd, 0x3_0000_0000, 0x1000, MDF_UNCACHEABLE, "ninth", MEMRANGE_SET_UPDATE),
        Err(Errno::ENOSPC)
    );
    assert_eq!(mtrr::read_all().unwrap(), full, "a failed SET leaves every register");
    assert_eq!(get(&mut ctx, fd, 96).unwrap().0, list_before, "and every descriptor");
    for &base in &bases {
        set(&mut ctx, fd, base, 0x1000_0000, 0, "", MEMRANGE_SET_REMOVE).unwrap();
    }
    assert!(mtrr::read_all().unwrap().variable[1..8].iter().all(|&pair| pair == (0, 0)));
}

#[ktest]
fn every_reachable_errno_of_the_rules() {
    let (mut ctx, fd) = mem();
    let update = MEMRANGE_SET_UPDATE;
    // EINVAL: misaligned, not a power of two, two types, no type; partial overlap of UC
    // by WT.
    assert_eq!(set(&mut ctx, fd, 0x1_0000_0800, 0x1000, MDF_WRITEBACK, "t", update), Err(Errno::EINVAL));
    assert_eq!(set(&mut ctx, fd, 0x1_0000_0000, 0x3000, MDF_WRITEBACK, "t", update), Err(Errno::EINVAL));
    assert_eq!(
        set(&mut ctx, fd, 0x1_0000_0000, 0x1000, MDF_WRITEBACK | MDF_UNCACHEABLE, "t", update),
        Err(Errno::EINVAL)
    );
    assert_eq!(set(&mut ctx, fd, 0x1_0000_0000, 0x1000, 0, "t", update), Err(Errno::EINVAL));
    assert_eq!(
        set(&mut ctx, fd, 0x9000_0000, 0x1000_0000, MDF_WRITETHROUGH, "t", update),
        Err(Errno::EINVAL)
    );
    // ENOENT: REMOVE of a range that is not there. EPERM: REMOVE of a fixed range.
    assert_eq!(set(&mut ctx, fd, 0x1_0000_0000, 0x1000, 0, "", MEMRANGE_SET_REMOVE), Err(Errno::ENOENT));
    assert_eq!(set(&mut ctx, fd, 0, 0x10000, 0, "", MEMRANGE_SET_REMOVE), Err(Errno::EPERM));
    // EOPNOTSUPP: an operation that is neither UPDATE nor REMOVE.
    assert_eq!(set(&mut ctx, fd, 0x1_0000_0000, 0x1000, MDF_WRITEBACK, "t", 2), Err(Errno::EOPNOTSUPP));
    // EFAULT: a bad op pointer, a bad descriptor pointer.
    assert_eq!(ctx.ioctl(fd, MEMRANGE_SET, 0x0000_4444_0000_0000), Err(Errno::EFAULT));
    let mut op = MemRangeOp { mo_desc: 0x0000_4444_0000_0000, mo_arg: [0, 0] }.to_bytes();
    assert_eq!(ctx.ioctl(fd, MEMRANGE_SET, op.as_mut_ptr() as u64), Err(Errno::EFAULT));
    let mut op = MemRangeOp { mo_desc: 0x0000_4444_0000_0000, mo_arg: [4, 0] }.to_bytes();
    assert_eq!(ctx.ioctl(fd, MEMRANGE_GET, op.as_mut_ptr() as u64), Err(Errno::EFAULT));
    // EPERM: SET without uid 0, even through a file operator may open.
    let mut operator = as_user("operator");
    let ofd = operator.open("/dev/mem", O_RDONLY, 0).unwrap();
    assert_eq!(set(&mut operator, ofd, 0x1_0000_0000, 0x1000, MDF_WRITEBACK, "t", update), Err(Errno::EPERM));
    assert!(get(&mut operator, ofd, 0).is_ok(), "GET is for every reader");
    // ENOTTY: the ioctls on another device; other ioctls on /dev/mem.
    let zero = ctx.open("/dev/zero", O_RDWR, 0).unwrap();
    assert_eq!(ctx.ioctl(zero, MEMRANGE_GET, 0), Err(Errno::ENOTTY));
}

#[ktest]
fn unknown_types_need_force() {
    // TCG stores any byte in a fixed MTRR: give one slot the reserved type 2, which the
    // model shows as UNKNOWN; changing it needs FORCE (EACCES without).
    let original = mtrr::read_all().unwrap();
    let mut odd = original;
    odd.fixed[10] = (odd.fixed[10] & !0xff) | 0x02;
    assert_eq!(mtrr::write_all(&odd), Some(odd));
    let descriptors = MemRanges::from_registers(&odd, MAX_PHYS_BITS).unwrap();
    let slot = descriptors.descriptors()[80];
    assert_eq!((slot.mr_base, slot.mr_flags & MDF_UNKNOWN), (0xf8000, MDF_UNKNOWN));
    let mut model = descriptors.clone();
    let request = MemRangeDesc::new(0xf8000, 0x1000, MDF_WRITEPROTECT, "t");
    assert_eq!(model.set(&request, MEMRANGE_SET_UPDATE), Err(Errno::EACCES));
    let forced = MemRangeDesc::new(0xf8000, 0x1000, MDF_WRITEPROTECT | MDF_FORCE, "t");
    assert_eq!(model.set(&forced, MEMRANGE_SET_UPDATE), Ok(()));
    assert_eq!(mtrr::write_all(&original), Some(original));
}

#[ktest]
fn a_set_retypes_the_direct_map_and_every_mmap_of_the_range() {
    let (mut ctx, fd) = mem();
    let (base, len) = (0x1_0000_0000u64, 0x20_0000u64);
    // A /dev/mem mapping of the range (a hole above RAM, default type WB by the MTRRs).
    let addr = ctx.mmap(fd, base + 0x1000, 0x2000, PROT_READ, MAP_SHARED).unwrap();
    assert_eq!(query(addr).unwrap().memtype, MemoryType::WriteBack);
    set(&mut ctx, fd, base, len, MDF_WRITECOMBINE, "wc", MEMRANGE_SET_UPDATE).unwrap();
    assert_eq!(query(addr).unwrap().memtype, MemoryType::WriteCombining, "the mmap was re-typed");
    assert_eq!(query(addr + 0x1000).unwrap().memtype, MemoryType::WriteCombining);
    // The range is a hole, not RAM: the direct map does not cover it, so it has the
    // MTRRs' type and no kernel mapping (no PAT type) outside the mmap.
    let q = memtype_query(base + 0x10_0000);
    assert_eq!((q.mtrr, q.pat, q.effective), (Some(MemoryType::WriteCombining), None, None));
    let direct = crate::mm::phys_to_virt(crate::mm::PhysAddr::new(base));
    assert!(crate::mm::query::query(direct).is_none(), "the direct map covers System RAM only");
    let text = crate::dev::memrange::pat_memtype_list_text();
    assert!(text.contains("PAT: [mem 0x0000000100000000-0x0000000100200000] write-combining"), "{text}");
    // A new mapping of the range gets the type memrange set.
    let again = ctx.mmap(fd, base, 0x1000, PROT_READ, MAP_SHARED).unwrap();
    assert_eq!(query(again).unwrap().memtype, MemoryType::WriteCombining);
    ctx.munmap(again, 0x1000).unwrap();
    // The kernel's own mapping does not make the range busy (a user's would): REMOVE
    // re-types it back.
    set(&mut ctx, fd, base, len, 0, "", MEMRANGE_SET_REMOVE).unwrap();
    assert_eq!(query(addr).unwrap().memtype, MemoryType::WriteBack, "back to the rules' type");
    assert_eq!(memtype_query(base).mtrr, Some(MemoryType::WriteBack));
    ctx.munmap(addr, 0x2000).unwrap();
}

/// A context that checks buffers as a process's, so its mmaps are a user's.
fn user_context() -> (Context, Fd) {
    let space = crate::vfs::userbuf::UserSpace::LOWER_HALF;
    let mut ctx = Context::with_user_space(vfs_core::cred::Credentials::ROOT, space);
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    (ctx, fd)
}

/// MDF_BUSY, managed (docs/devices.md): a range that a live user mapping of /dev/mem
/// overlaps reads back busy, UPDATE and REMOVE of it are EBUSY, and the last munmap clears it.
#[ktest]
fn a_mapped_range_is_busy_until_the_last_munmap() {
    let (mut ctx, fd) = mem();
    let (base, len) = (0x1_0000_0000, 0x20_0000);
    let busy_of = |ctx: &mut Context| {
        let (list, _) = get(ctx, fd, 96).unwrap();
        let desc = list.iter().find(|d| d.mr_base == base && d.mr_len == len && d.mr_flags & MDF_ACTIVE != 0);
        desc.map(|d| d.mr_flags & MDF_BUSY != 0)
    };
    set(&mut ctx, fd, base, len, MDF_UNCACHEABLE, "busy", MEMRANGE_SET_UPDATE).unwrap();
    assert_eq!(busy_of(&mut ctx), Some(false));
    let (mut user, user_fd) = user_context();
    let first = user.mmap(user_fd, base + 0x10_0000, 0x1000, PROT_READ, MAP_SHARED).unwrap();
    let second = user.mmap(user_fd, base + 0x1f_f000, 0x1000, PROT_READ, MAP_SHARED).unwrap();
    assert_eq!(busy_of(&mut ctx), Some(true));
    // The firmware's range does not hold these addresses, so it stays as it was.
    let (list, _) = get(&mut ctx, fd, 96).unwrap();
    assert_eq!(list[88].mr_flags & MDF_BUSY, 0, "{:?}", list[88]);
    assert_eq!(set(&mut ctx, fd, base, len, MDF_WRITEBACK, "busy", MEMRANGE_SET_UPDATE), Err(Errno::EBUSY));
    assert_eq!(set(&mut ctx, fd, base, len, 0, "", MEMRANGE_SET_REMOVE), Err(Errno::EBUSY));
    let regs = mtrr::read_all().unwrap();
    assert_eq!(regs.variable[1], (0x1_0000_0000, 0xff_ffe0_0800), "the refused SETs changed nothing");
    user.munmap(first, 0x1000).unwrap();
    assert_eq!(busy_of(&mut ctx), Some(true), "one mapping is left");
    user.munmap(second, 0x1000).unwrap();
    assert_eq!(busy_of(&mut ctx), Some(false));
    set(&mut ctx, fd, base, len, 0, "", MEMRANGE_SET_REMOVE).unwrap();
    assert_eq!(busy_of(&mut ctx), None);
}

#[ktest]
fn proc_mtrr_lists_and_takes_linux_commands() {
    let mut ctx = root();
    let fd = ctx.open("/proc/mtrr", O_RDONLY, 0).unwrap();
    let mut text = [0u8; 512];
    let n = ctx.read(fd, UserBuf::from_mut_slice(&mut text)).unwrap();
    assert_eq!(
        core::str::from_utf8(&text[..n]),
        Ok("reg00: base=0x080000000 ( 2048MB), size= 2048MB, count=1: uncachable\n")
    );
    let w = ctx.open("/proc/mtrr", O_RDWR, 0).unwrap();
    assert_eq!(
        ctx.write(w, UserBuf::from_slice(b"base=0x100000000 size=0x1000000 type=write-combining\n")),
        Ok(53)
    );
    assert_eq!(mtrr::read_all().unwrap().variable[1], (0x1_0000_0001, 0xff_ff00_0800));
    let fd = ctx.open("/proc/mtrr", O_RDONLY, 0).unwrap();
    let n = ctx.read(fd, UserBuf::from_mut_slice(&mut text)).unwrap();
    let listing = core::str::from_utf8(&text[..n]).unwrap();
    assert!(
        listing.contains("reg01: base=0x100000000 ( 4096MB), size=   16MB, count=1: write-combining\n"),
        "{listing}"
    );
    assert_eq!(
        ctx.write(w, UserBuf::from_slice(b"base=0x100000000 size=0x1000 type=nonsense")),
        Err(Errno::EINVAL)
    );
    assert_eq!(ctx.write(w, UserBuf::from_slice(b"disable=1\n")), Ok(10));
    assert_eq!(mtrr::read_all().unwrap().variable[1], (0, 0));
    assert_eq!(ctx.write(w, UserBuf::from_slice(b"disable=1\n")), Err(Errno::EINVAL), "nothing there now");
    let mut operator = as_user("operator");
    assert_eq!(operator.open("/proc/mtrr", O_RDWR, 0).map(drop), Err(Errno::EACCES));
}

/// Every online CPU's MTRRs, each read by that CPU, equal the BSP's and the descriptor
/// list after each SET and REMOVE (SDM 11.11.8: all CPUs alike). Meaningful under
/// `-smp 4` (the `[smp4]` run); on one CPU it checks the BSP against the model.
#[ktest(timeout = 60)]
fn every_cpu_holds_the_same_mtrrs_after_each_set_and_remove() {
    let (mut ctx, fd) = mem();
    let check = |what: &str| {
        let bsp = mtrr::read_all().unwrap();
        for cpu in crate::arch::smp::online_cpus().iter() {
            assert_eq!(mtrr::read_all_on(cpu).as_ref(), Some(&bsp), "CPU {cpu} after {what}");
        }
        assert_eq!(crate::dev::memrange::registers_match_model(), Ok(true), "the model after {what}");
    };
    let ranges =
        [(0x1_0000_0000u64, 0x20_0000u64, MDF_WRITECOMBINE), (0x1_0040_0000, 0x40_0000, MDF_UNCACHEABLE)];
    for (base, len, flags) in ranges {
        set(&mut ctx, fd, base, len, flags, "smp", MEMRANGE_SET_UPDATE).unwrap();
        check("a SET");
    }
    // A fixed range too (0x80000-0x83fff, write-through), and back.
    set(&mut ctx, fd, 0x80000, 0x4000, MDF_WRITETHROUGH, "smp", MEMRANGE_SET_UPDATE).unwrap();
    check("a fixed-range SET");
    set(&mut ctx, fd, 0x80000, 0x4000, MDF_WRITEBACK, "smp", MEMRANGE_SET_UPDATE).unwrap();
    for (base, len, _) in ranges {
        set(&mut ctx, fd, base, len, 0, "", MEMRANGE_SET_REMOVE).unwrap();
        check("a REMOVE");
    }
}

/// A CPU whose MTRRs do not read back what was written makes the SET fail with EIO, and
/// every CPU's MTRRs, the descriptor list and the model are put back as they were. QEMU
/// never refuses a value, so the test-only injector in arch's writer makes one write of
/// IA32_MTRR_FIX64K_00000 go one bit wrong.
#[ktest(timeout = 60)]
fn a_read_back_mismatch_puts_every_cpu_back() {
    let (mut ctx, fd) = mem();
    let before = mtrr::read_all().unwrap();
    let (listed, _) = get(&mut ctx, fd, MAX_DESCRIPTORS as i32).unwrap();
    mtrr::testing::corrupt_next_write();
    let result = set(&mut ctx, fd, 0x1_0000_0000, 0x20_0000, MDF_WRITECOMBINE, "bad", MEMRANGE_SET_UPDATE);
    assert_eq!(result, Err(Errno::EIO));
    for cpu in crate::arch::smp::online_cpus().iter() {
        assert_eq!(mtrr::read_all_on(cpu).as_ref(), Some(&before), "CPU {cpu} was not put back");
    }
    assert_eq!(get(&mut ctx, fd, MAX_DESCRIPTORS as i32).unwrap().0, listed, "the descriptor list changed");
    assert_eq!(crate::dev::memrange::registers_match_model(), Ok(true));
    assert!(
        !crate::mm::memtype::pat_memtype_list_text().contains("0x0000000100000000"),
        "a type was recorded"
    );
}

/// The writer follows the SDM's order and the host-tested `msr_values()`: DEF_TYPE with E
/// cleared first, then every range MSR in `msr_values()` order, DEF_TYPE (E again) last,
/// and CR4.PGE clear at every write. Recorded on this CPU, through the path MEMRANGE_SET
/// takes (the rendezvous of every CPU under `-smp 4`).
#[ktest(timeout = 60)]
fn the_mtrr_writes_follow_the_sdm_order() {
    let (mut ctx, fd) = mem();
    let before = mtrr::read_all().unwrap();
    mtrr::testing::record_this_cpu();
    set(&mut ctx, fd, 0x1_0000_0000, 0x20_0000, MDF_WRITECOMBINE, "order", MEMRANGE_SET_UPDATE).unwrap();
    let (writes, pge_seen) = mtrr::testing::take_recording();
    let after = mtrr::read_all().unwrap();
    set(&mut ctx, fd, 0x1_0000_0000, 0x20_0000, 0, "", MEMRANGE_SET_REMOVE).unwrap();
    assert!(!pge_seen, "CR4.PGE was set during the change");
    let def_type = 0x2ff;
    assert_eq!(writes.first(), Some(&(def_type, before.def_type & !(1 << 11))), "E cleared first");
    let expected: Vec<(u32, u64)> = after.msr_values().collect();
    assert_eq!(&writes[1..], &expected[..], "the ranges in msr_values() order, DEF_TYPE last");
    assert_eq!(writes.last().map(|w| w.0), Some(def_type));
}

/// A CPU that does not come to the rendezvous makes MEMRANGE_SET fail with EBUSY, and
/// no CPU's MTRRs changed.
#[ktest(timeout = 60)]
fn a_cpu_that_does_not_answer_makes_a_set_ebusy_with_nothing_changed() {
    let (mut ctx, fd) = mem();
    let Some(victim) = crate::arch::smp::online_cpus().iter().find(|&c| c != crate::arch::smp::current_cpu())
    else {
        return; // One CPU: nobody can be missing.
    };
    let before = mtrr::read_all().unwrap();
    let release = crate::arch::smp::occupy(victim, 3 * crate::arch::smp::CALL_TIMEOUT_MS);
    let result = set(&mut ctx, fd, 0x1_0000_0000, 0x20_0000, MDF_WRITECOMBINE, "busy", MEMRANGE_SET_UPDATE);
    release();
    assert_eq!(result, Err(Errno::EBUSY));
    for cpu in crate::arch::smp::online_cpus().iter() {
        assert_eq!(mtrr::read_all_on(cpu).as_ref(), Some(&before), "CPU {cpu}");
    }
    assert_eq!(crate::dev::memrange::registers_match_model(), Ok(true));
}

mod concurrent {
    //! Three CPUs keep reading and writing a device range through /dev/mem and through a
    //! kernel mapping of it (/dev/allkmem at the mapping's address) while this CPU changes
    //! the range's type 1,000 times.

    use core::sync::atomic::{AtomicU64, Ordering};

    use vfs_core::cred::Credentials;
    use vfs_core::flags::{MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE};

    use super::*;
    use crate::arch::smp;

    /// QEMU's std VGA framebuffer (BAR 0): device memory that keeps what is written.
    const RANGE: u64 = 0xfd00_0000;
    const RANGE_LEN: u64 = 0x20_0000;
    const CHANGES: u64 = 1000;
    static MAPPING: AtomicU64 = AtomicU64::new(0);
    static STOP: AtomicU64 = AtomicU64::new(0);
    static OPERATIONS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
    static LOST: AtomicU64 = AtomicU64::new(0);
    static ERRORS: AtomicU64 = AtomicU64::new(0);

    // lseek and read/write, not pread/pwrite: kernel addresses are past 2^63, which
    // pread and pwrite refuse as negative offsets (Linux's rw_verify_area).
    fn pwrite_u64(ctx: &mut Context, fd: Fd, value: u64, offset: u64) -> bool {
        ctx.lseek(fd, offset as i64, vfs_core::flags::SEEK_SET).is_ok()
            && ctx.write(fd, UserBuf::from_slice(&value.to_le_bytes())) == Ok(8)
    }

    fn pread_u64(ctx: &mut Context, fd: Fd, offset: u64) -> Option<u64> {
        let mut bytes = [0u8; 8];
        let read = ctx.lseek(fd, offset as i64, vfs_core::flags::SEEK_SET).is_ok()
            && ctx.read(fd, UserBuf::from_mut_slice(&mut bytes)) == Ok(8);
        read.then(|| u64::from_le_bytes(bytes))
    }

    /// One worker: its own page of the range (slot 1 to 3). Never panics (it runs on an
    /// AP): problems are counted.
    fn worker(slot: u64) {
        // SAFETY: the context is given no address by number but this code's own
        // buffers (ioctl arguments), which the drivers may write.
        #[allow(unsafe_code)]
        let mut ctx = unsafe { Context::new(Credentials::ROOT) };
        let (Ok(mem), Ok(kmem)) = (ctx.open("/dev/mem", O_RDWR, 0), ctx.open("/dev/allkmem", O_RDWR, 0))
        else {
            ERRORS.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let phys = RANGE + slot * 0x1000;
        let va = MAPPING.load(Ordering::Acquire) + slot * 0x1000;
        let mut i = 0u64;
        while STOP.load(Ordering::Acquire) == 0 {
            let value = (slot << 56) | i;
            // Through /dev/mem, read back through /dev/mem.
            if !pwrite_u64(&mut ctx, mem, value, phys) {
                ERRORS.fetch_add(1, Ordering::Relaxed);
            }
            // Through the mapping, read back through the mapping and through /dev/mem.
            if !pwrite_u64(&mut ctx, kmem, !value, va + 8) {
                ERRORS.fetch_add(1, Ordering::Relaxed);
            }
            let seen = [
                pread_u64(&mut ctx, mem, phys),
                pread_u64(&mut ctx, kmem, va + 8),
                pread_u64(&mut ctx, mem, phys + 8),
            ];
            if seen != [Some(value), Some(!value), Some(!value)] && LOST.fetch_add(1, Ordering::Relaxed) == 0
            {
                crate::println!("worker {slot}: wrote {value:#x}, saw {seen:x?}");
            }
            i += 1;
            OPERATIONS[slot as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A fingerprint of this CPU's MTRRs, compared across CPUs.
    fn mtrr_fingerprint(_: u64, _: u64) -> Option<u64> {
        let regs = mtrr::read_all()?;
        let mut hash = regs.def_type;
        for value in regs.fixed.iter().chain(regs.variable.iter().flat_map(|(b, m)| [b, m])) {
            hash = hash.rotate_left(7) ^ value;
        }
        Some(hash)
    }

    #[ktest(timeout = 300)]
    fn three_cpus_keep_using_a_range_while_the_fourth_retypes_it_1000_times() {
        let workers: Vec<usize> =
            smp::online_cpus().iter().filter(|&c| c != smp::current_cpu()).take(3).collect();
        if workers.len() < 3 {
            return; // Needs four CPUs: the `[smp4]` run.
        }
        let (mut ctx, fd) = mem();
        let rw = ctx.open("/dev/mem", O_RDWR, 0).unwrap();
        let mapping = ctx.mmap(rw, RANGE, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED).unwrap();
        MAPPING.store(mapping, Ordering::Release);
        STOP.store(0, Ordering::Release);
        for (slot, &cpu) in workers.iter().enumerate() {
            assert!(smp::spawn_on(cpu, worker, slot as u64 + 1), "CPU {cpu} takes the work");
        }
        let started = crate::arch::timer::uptime_ns();
        for change in 0..CHANGES {
            if change % 100 == 0 {
                crate::println!(
                    "change {change} at {} ms",
                    (crate::arch::timer::uptime_ns() - started) / 1_000_000
                );
            }
            let (flags, op, expected) = if change % 2 == 0 {
                (MDF_WRITEBACK, MEMRANGE_SET_UPDATE, MemoryType::WriteBack)
            } else {
                (0, MEMRANGE_SET_REMOVE, MemoryType::UncachedMinus)
            };
            set(&mut ctx, fd, RANGE, RANGE_LEN, flags, "busy", op).unwrap();
            assert_eq!(query(mapping).unwrap().memtype, expected, "change {change}: the mapping's type");
            let here = mtrr_fingerprint(0, 0);
            for cpu in smp::online_cpus().iter() {
                assert_eq!(
                    smp::run_on(cpu, mtrr_fingerprint, 0, 0),
                    Some(here),
                    "change {change}: CPU {cpu}'s MTRRs"
                );
            }
        }
        STOP.store(1, Ordering::Release);
        while !workers.iter().all(|&cpu| smp::work_done(cpu)) {
            core::hint::spin_loop();
        }
        ctx.munmap(mapping, 0x4000).unwrap();
        assert_eq!(
            (LOST.load(Ordering::Relaxed), ERRORS.load(Ordering::Relaxed)),
            (0, 0),
            "lost writes, errors"
        );
        for (slot, operations) in OPERATIONS.iter().enumerate().skip(1) {
            assert!(operations.load(Ordering::Relaxed) > 0, "worker {slot} made progress");
        }
        crate::println!(
            "workers: {} operations during {CHANGES} type changes",
            OPERATIONS.iter().map(|o| o.load(Ordering::Relaxed)).sum::<u64>()
        );
    }
}

/// memrange records what the hardware holds: a fixed-range request is recorded grown to
/// its slots (a 4 KiB request in a 16 KiB slot re-types the whole slot, as the register
/// does), and a range past 2^MAXPHYADDR is EINVAL with nothing changed (the CPU would
/// mask its base onto RAM at 128 MiB).
#[ktest]
fn memrange_records_what_the_hardware_holds() {
    let (mut ctx, fd) = mem();
    set(&mut ctx, fd, 0x80000, 0x4000, MDF_WRITETHROUGH, "fix", MEMRANGE_SET_UPDATE).unwrap();
    set(&mut ctx, fd, 0x80000, 0x1000, MDF_WRITEBACK, "fix", MEMRANGE_SET_UPDATE).unwrap();
    let text = crate::dev::memrange::pat_memtype_list_text();
    assert!(!text.contains("write-through"), "{text}");
    assert!(text.contains("PAT: [mem 0x0000000000080000-0x0000000000084000] write-back"), "{text}");
    assert_eq!(memtype_query(0x81000).pat, Some(MemoryType::WriteBack), "the direct map follows the slot");
    assert_eq!(memtype_query(0x81000).mtrr, Some(MemoryType::WriteBack));
    let before = mtrr::read_all().unwrap();
    assert_eq!(
        set(&mut ctx, fd, 0x100_0800_0000, 0x800_0000, MDF_UNCACHEABLE, "high", MEMRANGE_SET_UPDATE),
        Err(Errno::EINVAL)
    );
    assert_eq!(mtrr::read_all().unwrap(), before, "nothing written");
    assert!(!crate::dev::memrange::pat_memtype_list_text().contains("0x0000010008000000"));
    // Linux's /proc/mtrr syntax goes through the same rules.
    let w = ctx.open("/proc/mtrr", O_RDWR, 0).unwrap();
    assert_eq!(
        ctx.write(w, UserBuf::from_slice(b"base=0x10008000000 size=0x8000000 type=uncachable\n")),
        Err(Errno::EINVAL)
    );
}

/// A SET is all or nothing, mappings included: when re-typing the kernel's mappings fails
/// after the registers were written (injected here: it needs a frame for a page table
/// to run out), the registers, the descriptor list, the set types and the mappings are
/// all as they were, and the SET fails with ENOMEM.
#[ktest]
fn a_set_whose_retyping_fails_changes_nothing() {
    let (mut ctx, fd) = mem();
    let (base, len) = (0x1_0000_0000u64, 0x20_0000u64);
    let addr = ctx.mmap(fd, base, 0x1000, PROT_READ, MAP_SHARED).unwrap();
    let before = (mtrr::read_all().unwrap(), get(&mut ctx, fd, 96).unwrap(), query(addr).unwrap().memtype);
    let list_before = crate::dev::memrange::pat_memtype_list_text();
    crate::mm::memtype::FAIL_NEXT_RETYPE.store(true, core::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        set(&mut ctx, fd, base, len, MDF_WRITECOMBINE, "fail", MEMRANGE_SET_UPDATE),
        Err(Errno::ENOMEM)
    );
    let after = (mtrr::read_all().unwrap(), get(&mut ctx, fd, 96).unwrap(), query(addr).unwrap().memtype);
    assert_eq!(after, before);
    assert_eq!(crate::dev::memrange::pat_memtype_list_text(), list_before);
    assert_eq!(crate::dev::memrange::registers_match_model(), Ok(true));
    for cpu in crate::arch::smp::online_cpus().iter() {
        assert_eq!(mtrr::read_all_on(cpu).as_ref(), Some(&before.0), "CPU {cpu}");
    }
    ctx.munmap(addr, 0x1000).unwrap();
}
