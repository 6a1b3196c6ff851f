//! `should_panic` tests: a panic is a pass, with or without an expected message.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

use kernel::ktest::ktest;

kernel::test_kernel!();

#[ktest(should_panic)]
fn failed_assertion() {
    assert_eq!(core::hint::black_box(1) + 1, 3);
}

#[ktest(should_panic = "expected failure")]
fn panic_with_the_expected_message() {
    panic!("an expected failure, number {}", 42);
}

#[ktest]
fn a_plain_test_after_them_still_runs() {
    assert_eq!(core::hint::black_box(2) + 2, 4);
}
