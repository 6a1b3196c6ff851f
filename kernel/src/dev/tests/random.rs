//! Random arguments against every device and procfs file (the in-kernel fuzzer, briefly,
//! without MTRR changes so that the tests after it see the firmware's state): no
//! operation panics, each error is one the call may give, nothing is left behind.

use crate::fuzz::{Config, kmem_sweep, run};
use crate::ktest::ktest;

#[ktest(timeout = 300)]
fn random_arguments_never_panic_and_leave_nothing_behind() {
    let config = Config {
        seed: 0x00de_7e3e_5eed,
        operations: 20_000,
        change_mtrrs: false,
        progress_every: 0,
        concurrent: false,
    };
    match run(config) {
        Ok(report) => {
            crate::println!("{} operations, errors seen: {}", report.operations, report.errors_seen());
        }
        Err(failure) => panic!("{failure}"),
    }
}

#[ktest(timeout = 120)]
fn kmem_reads_match_the_page_walk() {
    match kmem_sweep(0x5eed_4b3e, 10_000) {
        Ok([data, efault, eio]) => {
            assert!(data > 1000 && efault > 1000 && eio > 100, "{data} {efault} {eio}");
            crate::println!("{data} read, {efault} EFAULT, {eio} EIO");
        }
        Err(failure) => panic!("{failure}"),
    }
}
