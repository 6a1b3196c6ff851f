//! The test framework's own test: every way a test can fail, in one suite. `cargo xtask
//! test` boots it and checks that each test is reported as listed in
//! xtask/src/test.rs (SELFTEST_EXPECTATIONS), that the tests after a failure still run,
//! and that the suite ends with the failure status. The harness runs tests sorted by
//! name, hence the `a_` and `z_` of the first and last. Its failures are expected and are
//! not counted as the project's.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

use kernel::arch::cpu;
use kernel::ktest::ktest;

kernel::test_kernel!();

#[ktest]
fn a_passes_first() {}

#[ktest]
fn fails_an_assertion() {
    assert_eq!(core::hint::black_box(1), 2);
}

#[ktest(should_panic)]
fn panics_as_expected() {
    panic!("as expected");
}

#[ktest(should_panic)]
fn returns_but_should_panic() {}

#[ktest(should_panic = "the expected text")]
fn panics_with_the_wrong_message() {
    panic!("some other text");
}

#[ktest(timeout = 1)]
fn spins_past_its_time_limit() {
    loop {
        core::hint::spin_loop();
    }
}

#[ktest]
fn hangs_with_interrupts_disabled() {
    cpu::disable_interrupts();
    loop {
        core::hint::spin_loop();
    }
}

#[ktest]
fn triple_faults() {
    cpu::reset_by_triple_fault();
}

#[ktest(ignore)]
fn is_ignored() {
    unreachable!("ignored tests do not run");
}

#[ktest]
fn z_passes_last() {}
