//! /dev/cpu/N/msr (Linux's msr(4)): the MSR read by the CPU it belongs to, msr(4)'s
//! errnos, and the memory-type MSRs kept out of its writes. Under `-smp 4` (the `[smp4]`
//! run) every CPU is read.

use errno::Errno;
use memrange::{
    MDF_WRITECOMBINE, MEMRANGE_SET, MEMRANGE_SET_REMOVE, MEMRANGE_SET_UPDATE, MemRangeDesc, MemRangeOp,
};
use vfs_core::devnum::DevNum;
use vfs_core::flags::{O_RDONLY, O_RDWR};
use vfs_core::mode::S_IFCHR;

use super::{as_user, pread_array, root};
use crate::arch::{mtrr, smp};
use crate::ktest::ktest;
use crate::vfs::{Context, UserBuf};

fn msr_of(ctx: &mut Context, cpu: usize, index: u64) -> u64 {
    let fd = ctx.open(&alloc::format!("/dev/cpu/{cpu}/msr"), O_RDONLY, 0).unwrap();
    let (bytes, n) = pread_array::<8>(ctx, fd, index).unwrap();
    ctx.close(fd).unwrap();
    assert_eq!(n, 8);
    u64::from_le_bytes(bytes)
}

#[ktest]
fn each_cpu_answers_for_itself() {
    let mut ctx = root();
    // IA32_GS_BASE: each CPU's points at its own per-CPU area, so the values tell the
    // CPUs apart; CPU 0's is the one this CPU reads itself.
    let gs_bases: alloc::vec::Vec<u64> =
        smp::online_cpus().iter().map(|cpu| msr_of(&mut ctx, cpu, 0xc000_0101)).collect();
    assert_eq!(gs_bases[smp::current_cpu()], x86_64::registers::model_specific::GsBase::read().as_u64());
    for (i, a) in gs_bases.iter().enumerate() {
        for b in &gs_bases[i + 1..] {
            assert_ne!(a, b, "two CPUs answered with the same GS base");
        }
    }
    assert_eq!(msr_of(&mut ctx, 0, 0x277), crate::arch::pat::read(), "IA32_PAT");
}

#[ktest]
fn msr4_errnos() {
    let mut ctx = root();
    let fd = ctx.open("/dev/cpu/0/msr", O_RDWR, 0).unwrap();
    // A count that is not a multiple of 8.
    let mut four = [0u8; 4];
    assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(&mut four), 0x277), Err(Errno::EINVAL));
    // An MSR the CPU refuses with #GP is EIO (the exception table turns the #GP into an
    // error). Not shown here: QEMU 7.2's TCG never raises #GP for RDMSR or WRMSR (it
    // answers 0 for MSRs it does not model and ignores writes to them).
    // Two reads of 8 in one call: the same MSR twice, as Linux's msr_read does.
    let (both, n) = pread_array::<16>(&mut ctx, fd, 0x277).unwrap();
    assert_eq!((n, both[..8] == both[8..]), (16, true));
    // The memory-type MSRs belong to memrange: EPERM, and nothing written.
    for index in [0x277u64, 0x2ff, 0x200, 0x201, 0x250, 0x26f] {
        let before = pread_array::<8>(&mut ctx, fd, index).unwrap().0;
        assert_eq!(ctx.pwrite(fd, UserBuf::from_slice(&[0; 8]), index), Err(Errno::EPERM), "{index:#x}");
        assert_eq!(pread_array::<8>(&mut ctx, fd, index).unwrap().0, before);
    }
    assert_eq!(ctx.pwrite(fd, UserBuf::from_slice(&[0; 3]), 0x10), Err(Errno::EINVAL));
    // Only root opens it (mode 0600 first: EACCES; the driver's rule for a 0666 node: EPERM).
    assert_eq!(as_user("operator").open("/dev/cpu/0/msr", O_RDONLY, 0).map(drop), Err(Errno::EACCES));
    ctx.mknod("/tmp/msr0", S_IFCHR | 0o666, DevNum::new(202, 0)).unwrap();
    assert_eq!(as_user("operator").open("/tmp/msr0", O_RDONLY, 0).map(drop), Err(Errno::EPERM));
    ctx.unlink("/tmp/msr0").unwrap();
    // A CPU that is not online: ENXIO.
    ctx.mknod("/tmp/msr63", S_IFCHR | 0o600, DevNum::new(202, 63)).unwrap();
    assert_eq!(ctx.open("/tmp/msr63", O_RDONLY, 0).map(drop), Err(Errno::ENXIO));
    ctx.unlink("/tmp/msr63").unwrap();
}

/// Through /dev/cpu/N/msr, each CPU's DEF_TYPE, variable and fixed MTRRs and PAT equal
/// the BSP's registers and the descriptor list after a SET and after a REMOVE.
#[ktest(timeout = 60)]
fn every_cpu_shows_the_bsps_mtrrs_through_its_msr_device() {
    let mut ctx = root();
    let mem = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let set = |ctx: &mut Context, flags, op| {
        let mut desc = MemRangeDesc::new(0x1_0000_0000, 0x20_0000, flags, "msr").to_bytes();
        let mut op = MemRangeOp { mo_desc: desc.as_mut_ptr() as u64, mo_arg: [op, 0] }.to_bytes();
        ctx.ioctl(mem, MEMRANGE_SET, op.as_mut_ptr() as u64)
    };
    for (flags, op) in [(MDF_WRITECOMBINE, MEMRANGE_SET_UPDATE), (0, MEMRANGE_SET_REMOVE)] {
        set(&mut ctx, flags, op).unwrap();
        let bsp = mtrr::read_all().unwrap();
        assert_eq!(crate::dev::memrange::registers_match_model(), Ok(true));
        for cpu in smp::online_cpus().iter() {
            assert_eq!(msr_of(&mut ctx, cpu, 0x2ff), bsp.def_type, "CPU {cpu} DEF_TYPE");
            for (i, &(base, mask)) in bsp.variable.iter().enumerate().take(bsp.variable_count()) {
                let pair = (
                    msr_of(&mut ctx, cpu, 0x200 + 2 * i as u64),
                    msr_of(&mut ctx, cpu, 0x201 + 2 * i as u64),
                );
                assert_eq!(pair, (base, mask), "CPU {cpu} variable MTRR {i}");
            }
            for (value, index) in bsp
                .fixed
                .iter()
                .zip([0x250u64, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f])
            {
                assert_eq!(msr_of(&mut ctx, cpu, index), *value, "CPU {cpu} fixed MTRR {index:#x}");
            }
            assert_eq!(msr_of(&mut ctx, cpu, 0x277), crate::arch::pat::read(), "CPU {cpu} PAT");
        }
    }
}
