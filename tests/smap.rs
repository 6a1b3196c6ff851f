//! SMEP and SMAP on a CPU that has them (QEMU `-cpu max`, see SUITE_QEMU_ARGS in
//! xtask/src/test.rs): the kernel turns both on, reaches user pages through its copy
//! routines, and faults when it touches one any other way.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]
// The last test reads a user page directly on purpose, which takes a raw pointer; the
// kernel's own modules keep `unsafe` in arch and mm.
#![allow(unsafe_code)]

use kernel::ktest::ktest;
use kernel::mm::VirtAddr;
use kernel::mm::uspace::{AddressSpace, Protection};
use kernel::vfs::userbuf::UserSpace;
use x86_64::registers::control::{Cr4, Cr4Flags};

kernel::test_kernel!();

/// A page in the lower half for the tests.
const USER_PAGE: u64 = 0x0000_1000_0000_0000;

#[ktest]
fn cr4_has_smep_and_smap() {
    let cr4 = Cr4::read();
    assert!(cr4.contains(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION), "CR4 = {cr4:?}");
    assert!(cr4.contains(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION), "CR4 = {cr4:?}");
    assert_eq!(kernel::arch::usermode::smep_smap(), (true, true));
}

fn user_space_with_a_page() -> AddressSpace {
    let mut space = AddressSpace::new().expect("a frame for the table");
    let page = VirtAddr::new(USER_PAGE);
    space.map_anonymous(page, 4096, Protection::READ_WRITE).expect("a frame for the page");
    space.write_bytes(page, b"user bytes").expect("the page is the space's");
    space.activate();
    space
}

#[ktest]
fn the_copy_routines_reach_user_pages() {
    let space = user_space_with_a_page();
    let mut bytes = [0u8; 10];
    let read = UserSpace::LOWER_HALF.buffer(USER_PAGE, 10).and_then(|buf| buf.read_at(0, &mut bytes));
    AddressSpace::deactivate();
    drop(space);
    assert_eq!(read, Ok(()));
    assert_eq!(&bytes, b"user bytes");
}

#[ktest(should_panic = "(protection violation, read, kernel mode)")]
fn a_kernel_read_of_a_user_page_outside_the_copy_routines_faults() {
    let _space = user_space_with_a_page();
    // SAFETY: not sound, on purpose: with SMAP on, this read faults and ends the test.
    let value = unsafe { core::ptr::read_volatile(USER_PAGE as *const u64) };
    core::hint::black_box(value);
}
