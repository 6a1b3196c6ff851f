//! Firmware that leaves the MTRRs disabled (DEF_TYPE.E = 0): memrange has nothing to
//! describe, so MEMRANGE_GET and MEMRANGE_SET are ENXIO (FreeBSD's `memdev.c`). A boot of
//! its own, because the kernel reads the MTRRs once, at the first ioctl.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

use errno::Errno;
use kernel::arch::mtrr;
use kernel::ktest::ktest;
use kernel::vfs::Context;
use memrange::{MEMRANGE_GET, MEMRANGE_SET, MemRangeOp};
use vfs_core::cred::Credentials;
use vfs_core::flags::O_RDONLY;

kernel::test_kernel!();

#[ktest]
fn memrange_is_enxio_when_the_firmware_left_mtrrs_off() {
    let mut registers = mtrr::read_all().expect("QEMU's CPU has MTRRs");
    registers.def_type &= !(1 << 11);
    assert_eq!(mtrr::write_all(&registers).map(|r| r.def_type & (1 << 11)), Some(0));
    // SAFETY: the context is given no address by number but this test's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let mut op = MemRangeOp { mo_desc: 0, mo_arg: [0, 0] }.to_bytes();
    assert_eq!(ctx.ioctl(fd, MEMRANGE_GET, op.as_mut_ptr() as u64), Err(Errno::ENXIO));
    assert_eq!(ctx.ioctl(fd, MEMRANGE_SET, op.as_mut_ptr() as u64), Err(Errno::ENXIO));
    // Other ioctls are still ENOTTY: the command is checked first.
    assert_eq!(ctx.ioctl(fd, 0x5401, 0), Err(Errno::ENOTTY));
}
