//! A stack overflow hits the guard page below the boot stack; the CPU cannot push the
//! page-fault frame there, so it raises a double fault, which runs on its own IST stack
//! and reports.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

use kernel::ktest::ktest;

kernel::test_kernel!();

#[ktest(should_panic = "DOUBLE FAULT (#DF, vector 8)")]
fn unbounded_recursion() {
    fn recurse(depth: u64) -> u64 {
        if depth == u64::MAX {
            return 0;
        }
        let frame = core::hint::black_box([depth; 64]);
        // black_box keeps the call from becoming a loop.
        core::hint::black_box(recurse(depth + 1)) + frame[0]
    }
    recurse(0);
}
