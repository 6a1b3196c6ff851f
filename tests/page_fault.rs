//! Faults are reported with the right details: a page fault with the faulting address in
//! CR2 and what the access was, and a non-canonical address as a general protection fault.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]
// These tests fault on purpose, which takes a raw pointer access; the kernel's own
// modules keep `unsafe` in arch and mm.
#![allow(unsafe_code)]

use kernel::ktest::ktest;

kernel::test_kernel!();

/// In the lower half, far from anything the bootloader maps (the kernel sits at
/// KERNEL_BASE in the upper half; the physical-memory map and boot info are placed in
/// the first few PML4 slots).
const UNMAPPED: usize = 0x0000_4444_4444_0000;

#[ktest(should_panic = "CR2: 0x0000444444440000")]
fn write_to_an_unmapped_page_reports_cr2() {
    // SAFETY: not sound, on purpose: the write must fault, and the fault ends the test.
    unsafe { core::ptr::write_volatile(UNMAPPED as *mut u64, 1) };
}

#[ktest(should_panic = "(page not present, read, kernel mode)")]
fn read_from_an_unmapped_page_reports_the_access() {
    // SAFETY: as above.
    let value = unsafe { core::ptr::read_volatile((UNMAPPED + 8) as *const u64) };
    core::hint::black_box(value);
}

#[ktest(should_panic = "GENERAL PROTECTION FAULT (#GP, vector 13)")]
fn non_canonical_address_is_a_general_protection_fault() {
    // SAFETY: as above; a non-canonical address raises #GP rather than #PF.
    let value = unsafe { core::ptr::read_volatile(0x8000_0000_0000_0000usize as *const u64) };
    core::hint::black_box(value);
}
