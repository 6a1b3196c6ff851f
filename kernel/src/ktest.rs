//! The in-kernel test runner, in the shape of libtest.
//!
//! Tests are registered next to the code they test with [`ktest`] and collected by
//! `custom_test_frameworks`. The runner prints `test path ... ok|FAILED|ignored|TIMEOUT`
//! and a summary `test result: ok. N passed; M failed; K ignored; finished in S.SSs`.
//!
//! The kernel cannot unwind, so a test that panics, faults or overruns its time limit
//! ends the boot: its result is printed, the kernel exits with
//! [`ExitCode::Restart`], and `cargo xtask test` boots the kernel again with a
//! [`ResumeState`] in fw_cfg so that the runner carries on after it (see
//! ARCHITECTURE.md). `should_panic` tests pass that way.

use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::arch::cpu;
use spin::Mutex;

use ktest_protocol::{ExitCode, Outcome, RESUME_FW_CFG_NAME, ResumeState, SEPARATOR, START_PREFIX};

use crate::arch::{fw_cfg, qemu, timer};
use crate::fmtbuf::FixedBuf;
use crate::{console, print, println};

pub use ktest_macros::ktest;

/// fw_cfg file holding a substring; only tests whose path contains it run.
pub const FILTER_FW_CFG_NAME: &str = "opt/devmem/ktest-filter";

/// Whether, and how, a test is expected to panic.
#[derive(Clone, Copy, Debug)]
pub enum ShouldPanic {
    No,
    Yes,
    /// The panic message must contain this text.
    WithMessage(&'static str),
}

/// One registered test; built by `#[ktest]`.
#[derive(Debug)]
pub struct Test {
    /// `module_path!()` and the function name.
    pub path: &'static str,
    pub run: fn(),
    pub should_panic: ShouldPanic,
    /// Time limit; past it the test is reported as TIMEOUT.
    pub timeout_ms: u64,
    pub ignore: bool,
}

impl Test {
    /// The path as libtest prints it: without the crate name.
    pub fn name(&self) -> &'static str {
        self.path.split_once("::").map_or(self.path, |(_, rest)| rest)
    }
}

/// The test now running. Read by the watchdog (in the timer interrupt) and the panic
/// handler; written with interrupts disabled, so neither can find it locked.
static CURRENT: Mutex<Option<&'static Test>> = Mutex::new(None);
/// Its deadline, in nanoseconds of uptime.
static DEADLINE_NS: AtomicU64 = AtomicU64::new(u64::MAX);
/// Console byte count right after its start line, to see whether it printed.
static OUTPUT_MARK: AtomicUsize = AtomicUsize::new(0);

/// Runs `tests` in order, from where an earlier boot left off, and ends the QEMU run.
pub fn runner(tests: &[&'static Test]) -> ! {
    let mut resume_buf = [0u8; 128];
    let resume = fw_cfg::read_file(RESUME_FW_CFG_NAME, &mut resume_buf)
        .and_then(|len| core::str::from_utf8(resume_buf.get(..len)?).ok())
        .and_then(ResumeState::parse)
        .unwrap_or_default();
    let mut filter_buf = [0u8; 128];
    let filter = fw_cfg::read_file(FILTER_FW_CFG_NAME, &mut filter_buf)
        .and_then(|len| core::str::from_utf8(filter_buf.get(..len)?).ok())
        .unwrap_or("");
    let selected = |test: &&&'static Test| test.name().contains(filter);

    let total = tests.iter().filter(selected).count();
    if resume.skip == 0 {
        println!("\nrunning {total} test{}", if total == 1 { "" } else { "s" });
    } else {
        println!("\nresuming after test {} of {}", resume.skip.min(tests.len()), tests.len());
    }
    timer::set_tick_hook(watchdog);
    cpu::enable_interrupts();

    let mut score = resume;
    let started_ns = timer::uptime_ns();
    for test in tests.iter().filter(selected).skip(resume.skip) {
        if test.ignore {
            println!("{START_PREFIX}{}{SEPARATOR}{}", test.name(), Outcome::Ignored);
            score.ignored += 1;
            continue;
        }
        let outcome = run_one(test);
        match outcome {
            Outcome::Ok => score.passed += 1,
            _ => score.failed += 1,
        }
    }
    let elapsed_ms = score.elapsed_ms + (timer::uptime_ns() - started_ns) / 1_000_000;
    let verdict = if score.failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {} passed; {} failed; {} ignored; finished in {}.{:02}s\n",
        score.passed,
        score.failed,
        score.ignored,
        elapsed_ms / 1000,
        elapsed_ms % 1000 / 10
    );
    qemu::exit(if score.failed == 0 { ExitCode::Success } else { ExitCode::Failed })
}

fn run_one(test: &'static Test) -> Outcome {
    print!("{START_PREFIX}{}{SEPARATOR}", test.name());
    OUTPUT_MARK.store(console::bytes_written(), Ordering::Relaxed);
    DEADLINE_NS.store(timer::uptime_ns().saturating_add(test.timeout_ms * 1_000_000), Ordering::Relaxed);
    set_current(Some(test));
    (test.run)();
    set_current(None);
    match test.should_panic {
        ShouldPanic::No => {
            report(test, Outcome::Ok);
            Outcome::Ok
        }
        ShouldPanic::Yes | ShouldPanic::WithMessage(_) => {
            report(test, Outcome::Failed);
            println!("note: test did not panic as expected");
            Outcome::Failed
        }
    }
}

/// Prints the outcome; if the test printed something after its start line, the whole
/// result line is printed again on a line of its own so that it stays parseable.
fn report(test: &Test, outcome: Outcome) {
    if console::bytes_written() != OUTPUT_MARK.load(Ordering::Relaxed) {
        console::ensure_line_start();
        print!("{START_PREFIX}{}{SEPARATOR}", test.name());
    }
    println!("{outcome}");
}

fn current() -> Option<&'static Test> {
    CURRENT.try_lock().and_then(|current| *current)
}

fn set_current(test: Option<&'static Test>) {
    cpu::without_interrupts(|| *CURRENT.lock() = test);
}

/// Tick hook: ends a test that has overrun its time limit.
fn watchdog() {
    let Some(test) = current() else { return };
    if timer::uptime_ns() < DEADLINE_NS.load(Ordering::Relaxed) {
        return;
    }
    set_current(None);
    report(test, Outcome::Timeout);
    println!("note: no result after {} ms, the test's time limit", test.timeout_ms);
    qemu::exit(ExitCode::Restart)
}

/// Called by the panic handler. If a test is running, reports its outcome and ends the
/// boot so the host can resume after it; otherwise returns.
pub fn on_panic(info: &PanicInfo<'_>) {
    let Some(test) = current() else { return };
    set_current(None);
    let mut message = FixedBuf::new();
    let _ = write!(message, "{}", info.message());
    let expected = match test.should_panic {
        ShouldPanic::No => None,
        ShouldPanic::Yes => Some(""),
        ShouldPanic::WithMessage(text) => Some(text),
    };
    match expected {
        Some(text) if message.as_str().contains(text) => report(test, Outcome::Ok),
        Some(text) => {
            report(test, Outcome::Failed);
            print_panic(info);
            println!("note: panic did not contain expected string\n expected substring: `{text}`");
        }
        None => {
            report(test, Outcome::Failed);
            print_panic(info);
        }
    }
    qemu::exit(ExitCode::Restart)
}

/// `panicked at FILE:LINE:COL:` then the message, as libtest shows a failure.
pub fn print_panic(info: &PanicInfo<'_>) {
    match info.location() {
        Some(location) => println!("panicked at {location}:"),
        None => println!("panicked:"),
    }
    println!("{}", info.message());
}

/// xorshift64*: a small, fast, reproducible random source for tests and the fuzzer.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// True once in `one_in` draws, on average.
    pub fn one_in(&mut self, one_in: u64) -> bool {
        self.next_u64().is_multiple_of(one_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[ktest]
    fn names_drop_the_crate() {
        let test = Test {
            path: "kernel::mm::frame::unique",
            run: || {},
            should_panic: ShouldPanic::No,
            timeout_ms: 1,
            ignore: false,
        };
        assert_eq!(test.name(), "mm::frame::unique");
    }

    #[ktest]
    fn the_resume_state_comes_from_the_host() {
        // `cargo xtask test` always passes one; the first boot's says skip=0.
        let mut buf = [0u8; 128];
        let len = fw_cfg::read_file(RESUME_FW_CFG_NAME, &mut buf).expect("resume file in fw_cfg");
        let text = core::str::from_utf8(&buf[..len]).expect("UTF-8");
        assert!(ResumeState::parse(text).is_some(), "unparseable resume state {text:?}");
    }
}
