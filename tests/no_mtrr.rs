//! A CPU without MTRRs (`-cpu qemu64,-mtrr`): memrange is EOPNOTSUPP, /proc/mtrr is
//! empty, and the rest of the kernel (the PAT, /dev/mem) works as before.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

use errno::Errno;
use kernel::arch::{cpuid, mtrr, pat};
use kernel::ktest::ktest;
use kernel::vfs::{Context, UserBuf};
use memrange::{MEMRANGE_GET, MemRangeOp};
use vfs_core::cred::Credentials;
use vfs_core::flags::O_RDONLY;

kernel::test_kernel!();

#[ktest]
fn the_cpu_reports_no_mtrrs() {
    assert!(!cpuid::has_mtrr());
    assert!(mtrr::read_all().is_none());
    assert_eq!(pat::read(), mm_core::memtype::PAT_MSR_VALUE, "the PAT does not depend on MTRRs");
}

#[ktest]
fn memrange_is_eopnotsupp() {
    // SAFETY: the context is given no address by number but this test's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let mut op = MemRangeOp { mo_desc: 0, mo_arg: [0, 0] }.to_bytes();
    assert_eq!(ctx.ioctl(fd, MEMRANGE_GET, op.as_mut_ptr() as u64), Err(Errno::EOPNOTSUPP));
}

#[ktest]
fn proc_mtrr_is_empty_and_dev_mem_still_reads() {
    // SAFETY: the context is given no address by number but this test's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open("/proc/mtrr", O_RDONLY, 0).unwrap();
    let mut text = [0u8; 64];
    assert_eq!(ctx.read(fd, UserBuf::from_mut_slice(&mut text)), Ok(0));
    let mem = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let mut bda = [0u8; 2];
    assert_eq!(ctx.pread(mem, UserBuf::from_mut_slice(&mut bda), 0x400), Ok(2));
    assert_eq!(u16::from_le_bytes(bda), 0x3f8);
}
