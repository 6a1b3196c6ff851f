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
    let mut config = Config {
        seed: 0x5eed_2026_1121,
        operations: 100_000,
        change_mtrrs: true,
        progress_every: 100_000,
        concurrent: false,
    };
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
        heap.used - kernel::mm::memtype::retained_heap_bytes(),
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
    // The kernel's own registered mappings (the local APIC's page), there for good.
    let kernel_ranges = resources().2;
    // A first short run sizes what grows once (the process's tables, the ramdisk's caches).
    assert_eq!(program(Credentials::ROOT, config.seed, 200), Ok(ExitStatus::Exited(0)));
    let baseline = resources();
    assert_eq!(baseline.2, kernel_ranges, "no /dev/mem mapping of a program is registered between programs");
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

/// The fuzzer on every CPU at once (`cargo xtask fuzz --smp 4`): each CPU runs its own
/// fuzzer (its own seed) over the same devices, files and MTRRs, the operations shared
/// out among them. Then, with everyone stopped: every CPU's MTRRs equal the BSP's and the
/// descriptor list, no page has two types, no memory-type range is left registered, and
/// no frame was lost. On one CPU there is nothing to share: it says so and passes.
#[ktest(timeout = 7200)]
fn random_operations_on_every_cpu_at_once() {
    use core::sync::atomic::{AtomicU64, Ordering};
    use kernel::arch::smp;

    static SEED: AtomicU64 = AtomicU64::new(0);
    static SHARE: AtomicU64 = AtomicU64::new(0);
    static FAILED: AtomicU64 = AtomicU64::new(0);
    static DONE_OPERATIONS: AtomicU64 = AtomicU64::new(0);

    fn fuzz_here(cpu: u64) {
        let config = Config {
            seed: SEED.load(Ordering::Relaxed) ^ (cpu << 48),
            operations: SHARE.load(Ordering::Relaxed),
            change_mtrrs: true,
            progress_every: 0,
            concurrent: true,
        };
        match run(config) {
            Ok(report) => {
                DONE_OPERATIONS.fetch_add(report.operations, Ordering::Relaxed);
            }
            Err(failure) => {
                FAILED.fetch_add(1, Ordering::Relaxed);
                println!("fuzz on CPU {cpu}: {failure}");
            }
        }
    }

    let cpus: alloc::vec::Vec<usize> = smp::online_cpus().iter().collect();
    if cpus.len() < 2 {
        println!("fuzz on every CPU: one CPU online, nothing to run at once (cargo xtask fuzz --smp 4)");
        return;
    }
    let config = config();
    SEED.store(config.seed, Ordering::Relaxed);
    SHARE.store(config.operations / cpus.len() as u64, Ordering::Relaxed);
    let frames_before = kernel::mm::frames::stats().free
        + kernel::mm::heap::stats().size / kernel::mm::PAGE_SIZE
        + kernel::mm::paging::table_frames();
    // The kernel's own registered mappings (the local APIC's page), there for good.
    let mut registered_before = 0;
    kernel::mm::registry::ranges(|_, _, _| registered_before += 1);
    let started = kernel::arch::timer::uptime_ns();
    let me = smp::current_cpu();
    let others: alloc::vec::Vec<usize> = cpus.iter().copied().filter(|&c| c != me).collect();
    for &cpu in &others {
        assert!(smp::spawn_on(cpu, fuzz_here, cpu as u64), "CPU {cpu} takes its share");
    }
    fuzz_here(me as u64);
    while !others.iter().all(|&cpu| smp::work_done(cpu)) {
        core::hint::spin_loop();
    }
    println!(
        "fuzz on {} CPUs at once: seed {}, {} operations in {} ms",
        cpus.len(),
        config.seed,
        DONE_OPERATIONS.load(Ordering::Relaxed),
        (kernel::arch::timer::uptime_ns() - started) / 1_000_000
    );
    assert_eq!(FAILED.load(Ordering::Relaxed), 0, "a CPU's fuzzer found a broken invariant (above)");
    let bsp = kernel::arch::mtrr::read_all();
    for &cpu in &cpus {
        assert_eq!(kernel::arch::mtrr::read_all_on(cpu), bsp, "CPU {cpu}'s MTRRs");
    }
    assert_eq!(kernel::dev::memrange::registers_match_model(), Ok(true), "the MTRRs and the descriptor list");
    assert_eq!(kernel::mm::memtype::check_one_type_per_page(), Ok(()));
    let mut registered = 0;
    kernel::mm::registry::ranges(|_, _, _| registered += 1);
    assert_eq!(
        registered, registered_before,
        "a memory-type range is still registered with every mapping gone"
    );
    let frames_after = kernel::mm::frames::stats().free
        + kernel::mm::heap::stats().size / kernel::mm::PAGE_SIZE
        + kernel::mm::paging::table_frames();
    assert!(frames_after >= frames_before, "frames lost: {frames_after} now, {frames_before} before");
}
