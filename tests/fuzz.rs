//! The in-kernel fuzzer (kernel::fuzz) and the /dev/kmem sweep, in a boot of their own:
//! root may change the MTRRs here. `cargo xtask test` runs a short round with a fixed
//! seed; `cargo xtask fuzz --seed S --operations N` passes other values through fw_cfg
//! (`opt/devmem/fuzz`: `seed=S operations=N`) and runs the release build.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

use kernel::arch::fw_cfg;
use kernel::fuzz::{Config, kmem_sweep, run};
use kernel::ktest::ktest;
use kernel::println;

extern crate alloc;
use alloc::format;
use alloc::string::String;

kernel::test_kernel!();

/// `seed=S operations=N` from fw_cfg, each optional.
fn config() -> Config {
    let mut config =
        Config { seed: 0x5eed_2026_1121, operations: 100_000, change_mtrrs: true, progress_every: 100_000 };
    let mut buf = [0u8; 128];
    if let Some(len) = fw_cfg::read_file("opt/devmem/fuzz", &mut buf)
        && let Ok(text) = core::str::from_utf8(&buf[..len.min(buf.len())])
    {
        for pair in text.split_ascii_whitespace() {
            match pair.split_once('=') {
                Some(("seed", value)) => config.seed = value.parse().unwrap_or(config.seed),
                Some(("operations", value)) => config.operations = value.parse().unwrap_or(config.operations),
                _ => println!("fuzz: ignoring {pair:?}"),
            }
        }
    }
    config
}

#[ktest(timeout = 7200)]
fn random_operations_keep_every_invariant() {
    let config = config();
    println!("fuzz: seed {}, {} operations", config.seed, config.operations);
    match run(config) {
        Ok(report) => println!(
            "fuzz: seed {}: {} operations in {} ms, {} succeeded; errors seen: {}",
            config.seed,
            report.operations,
            report.elapsed_ns / 1_000_000,
            report.successes,
            report.errors_seen()
        ),
        Err(failure) => panic!(
            "{failure}\n(replay: cargo xtask fuzz --seed {} --operations {})",
            failure.seed,
            failure.operation + 1
        ),
    }
}

#[ktest(timeout = 600)]
fn kmem_sweep_of_100_000_addresses_matches_the_page_walk() {
    let seed = config().seed;
    match kmem_sweep(seed, 100_000) {
        Ok([data, efault, eio]) => {
            println!("kmem sweep: seed {seed}: {data} read, {efault} EFAULT, {eio} EIO");
        }
        Err(failure) => panic!("{failure}"),
    }
}

/// What must come back after a program ends: heap bytes in use (less memrange's table of
/// set types), free frames plus the heap's own and the kernel's page tables (which are
/// never freed: a mapping at a new window address may add one), and the memory-type
/// registry's ranges.
fn resources() -> (usize, u64, usize) {
    let heap = kernel::mm::heap::stats();
    let mut ranges = 0;
    kernel::mm::registry::ranges(|_, _, _| ranges += 1);
    (
        heap.used - kernel::dev::memrange::retained_heap_bytes(),
        kernel::mm::frames::stats().free
            + heap.size / kernel::mm::PAGE_SIZE
            + kernel::mm::paging::table_frames(),
        ranges,
    )
}

/// The ring-3 pass: userland/mmapfuzz runs random mmap, munmap, mprotect and memrange
/// ioctl sequences as root and as operator, checking each result itself; then frames,
/// heap and registry must be back at their baseline, and the MTRRs equal to the model.
#[ktest(timeout = 3600)]
fn ring3_mmap_sequences_leave_frames_heap_and_registry_at_baseline() {
    use kernel::proc::{ExitStatus, run};
    use vfs_core::cred::{Credentials, user_by_name};

    let config = config();
    let operations = (config.operations / 5).max(1000);
    let program = |cred: Credentials, seed: u64, operations: u64| {
        let argv = [String::from("mmapfuzz"), format!("{seed}"), format!("{operations}")];
        run(cred, "/bin/mmapfuzz", &argv, &[], "/")
    };
    // A first short run sizes what grows once (the process's tables, the ramdisk's caches).
    assert_eq!(program(Credentials::ROOT, config.seed, 200), Ok(ExitStatus::Exited(0)));
    let baseline = resources();
    assert_eq!(baseline.2, 0, "no /dev/mem mapping is registered between programs");
    let operator = user_by_name("operator").expect("operator is a user").credentials();
    for (who, cred) in [("root", Credentials::ROOT), ("operator", operator)] {
        println!("mmapfuzz as {who}: seed {}, {operations} operations", config.seed);
        let status = program(cred, config.seed, operations);
        let report = kernel::proc::take_fault_report().unwrap_or_default();
        assert_eq!(status, Ok(ExitStatus::Exited(0)), "mmapfuzz as {who} {report}");
        assert_eq!(resources(), baseline, "(heap, frames, registry ranges) after mmapfuzz as {who}");
    }
    assert_eq!(kernel::dev::memrange::registers_match_model(), Ok(true), "MTRRs equal to the model");
}
