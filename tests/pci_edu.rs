//! The default machine plus `-device edu,addr=0x6` (see SUITE_QEMU_ARGS in
//! xtask/src/test.rs): QEMU's educational device answers an 8-byte access at its DMA
//! registers (0x80-0x9f) as one 64-bit register and a 4-byte access at 0x84 as nothing
//! (all ones, hw/misc/edu.c), so it tells the width of each access /dev/mem makes, which
//! the HPET cannot. The middle of a /dev/mem transfer must use 8-byte accesses.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

use kernel::ktest::ktest;
use kernel::pci;
use kernel::vfs::{Context, UserBuf};
use vfs_core::cred::Credentials;
use vfs_core::flags::O_RDWR;

kernel::test_kernel!();

/// BAR 0 of the edu device (1234:11e8).
fn edu_bar0() -> u64 {
    let edu = pci::devices()
        .iter()
        .find(|d| d.header.vendor() == 0x1234 && d.header.device() == 0x11e8)
        .expect("the edu device at 00:06.0");
    edu.resources[0].as_ref().expect("BAR 0").start
}

#[ktest]
fn the_middle_of_a_device_transfer_uses_8_byte_accesses() {
    let bar = edu_bar0();
    // SAFETY: the context is given no address by number but this test's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open("/dev/mem", O_RDWR, 0).unwrap();
    // The identification register: 0x010000ed (version 1.0, 0xed), one 4-byte access.
    let mut id = [0u8; 4];
    assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(&mut id), bar), Ok(4));
    assert_eq!(u32::from_le_bytes(id), 0x0100_00ed);
    // The DMA source register, written and read as one 64-bit value.
    let value = 0x1122_3344_5566_7788u64;
    assert_eq!(ctx.pwrite(fd, UserBuf::from_slice(&value.to_le_bytes()), bar + 0x80), Ok(8));
    let mut back = [0u8; 8];
    assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(&mut back), bar + 0x80), Ok(8));
    assert_eq!(u64::from_le_bytes(back), value, "8-byte store and load at 0x80");
    // The same bytes read 4 at a time are not the same: the device tells the widths apart.
    let mut high = [0u8; 4];
    assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(&mut high), bar + 0x84), Ok(4));
    assert_ne!(
        u32::from_le_bytes(high),
        0x1122_3344,
        "a 4-byte read at 0x84 is not the register's high half"
    );
    // A 24-byte read from 0x80 (source, destination, count): all middle words.
    let mut three = [0u8; 24];
    assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(&mut three), bar + 0x80), Ok(24));
    assert_eq!(three[..8], value.to_le_bytes());
}
