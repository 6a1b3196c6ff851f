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
