//! A plain boot: the kernel comes up, the console works, the timer ticks.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

use kernel::arch::timer;
use kernel::console;
use kernel::ktest::ktest;

kernel::test_kernel!();

#[ktest]
fn console_counts_what_it_prints() {
    let before = console::bytes_written();
    kernel::print!("12345");
    assert_eq!(console::bytes_written() - before, 5);
}

#[ktest]
fn timer_ticks_with_interrupts_enabled() {
    let start = timer::ticks();
    let deadline = timer::uptime_ms() + 2000;
    while timer::ticks() < start + 5 {
        assert!(timer::uptime_ms() < deadline, "no timer interrupts in 2 s");
        core::hint::spin_loop();
    }
}

#[ktest]
fn tsc_runs_at_a_plausible_rate() {
    let hz = timer::tsc_hz();
    assert!((100_000_000..20_000_000_000).contains(&hz), "TSC calibrated at {hz} Hz");
    // Ten ticks of the PIT (100 Hz) should take about 100 ms of TSC time.
    let t0 = timer::ticks();
    while timer::ticks() == t0 {}
    let (start_ticks, start_ns) = (timer::ticks(), timer::uptime_ns());
    while timer::ticks() < start_ticks + 10 {}
    let ms = (timer::uptime_ns() - start_ns) / 1_000_000;
    assert!((50..200).contains(&ms), "10 PIT ticks took {ms} ms of TSC time");
}

#[ktest]
fn every_cpu_the_firmware_lists_comes_online() {
    use kernel::arch::smp;
    assert_eq!(smp::cpu_count(), smp::listed_cpus(), "online: {:?}", smp::online_cpus());
    assert!(smp::online_cpus().contains(0));
}
