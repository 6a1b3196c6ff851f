//! `cargo xtask test`: host unit tests, the kernel's own tests, each integration kernel,
//! and a self-test of the test framework; a JUnit report; `N passed, M failed` last.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ktest_protocol::{ExitCode as KernelExit, Outcome};

use crate::TestArgs;
use crate::build::{self, BootDisk, KernelArtifact};
use crate::junit;
use crate::ktest::{SuiteOptions, SuiteReport, TestRecord, run_suite};
use crate::setup::{self, project_root};

/// The integration kernel whose tests fail on purpose, to check that the framework
/// reports each kind of failure and carries on after it.
const SELFTEST_SUITE: &str = "ktest_selftest";
/// The benchmark kernel, which `cargo xtask bench` runs.
const BENCH_SUITE: &str = "bench";

/// Integration kernels that need a machine of their own, and the QEMU arguments for it.
const SUITE_QEMU_ARGS: [(&str, &[&str]); 4] = [
    ("no_mtrr", &["-cpu", "qemu64,-mtrr"]),
    ("smap", &["-cpu", "max"]),
    ("pci_e1000", &["-device", "e1000,addr=0x5"]),
    ("pci_edu", &["-device", "edu,addr=0x6"]),
];

/// Suites booted a second time on a machine with four CPUs (`-smp 4`), reported as
/// `SUITE-smp4` with ` [smp4]` after each test's name: the kernel library's tests (the
/// cross-CPU calls among them) and the plain boot. The others run on one CPU only,
/// which keeps the whole run's time near what it was.
const SMP_SUITES: [&str; 2] = ["kernel", "boot"];
const SMP_QEMU_ARGS: &[&str] = &["-smp", "4"];
const SMP_SUFFIX: &str = "smp4";

/// A suite to boot: its name in the report, its kernel, its disk image, and the QEMU
/// arguments it needs.
struct Job {
    name: String,
    artifact: KernelArtifact,
    image: BootDisk,
    qemu_args: &'static [&'static str],
}

fn suite_qemu_args(target: &str) -> &'static [&'static str] {
    SUITE_QEMU_ARGS.iter().find(|(suite, _)| *suite == target).map_or(&[], |(_, args)| args)
}

/// Test kernels that run programs from /bin, and so boot with the ramdisk (the kernel
/// library's tests, the benchmarks, SMEP/SMAP).
const SUITES_WITH_PROGRAMS: [&str; 4] = ["kernel", "bench", "smap", "fuzz"];

/// The suite that boots a disk image with the ramdisk inside, as `cargo xtask image`
/// makes it, so that the bootloader's way of passing the ramdisk stays tested too (the
/// others get it through fw_cfg, a second faster per boot).
const STANDALONE_SUITE: &str = "smap";

/// How many QEMU instances run at once (these machines have 2 cores).
const PARALLEL_BOOTS: usize = 2;

pub fn run(args: &TestArgs) -> Result<ExitCode> {
    setup::ensure_toolchain()?;
    setup::ensure_qemu(false)?;
    if let Some(dir) = &args.bin_dir {
        let _ = build::BIN_DIR.set(dir.clone());
    }
    let out_dir = project_root().join("target/xtask");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let mut groups: Vec<(String, Vec<TestRecord>, f64)> = Vec::new();
    if !args.kernel_only {
        groups.push(("host".to_string(), host_tests(args)?, 0.0));
    }

    eprintln!("xtask: building the test kernels and their disk images");
    let artifacts = build::test_kernels(args.build.release)?;
    let mut jobs = VecDeque::new();
    let mut selftest = None;
    let mut filtered_out = Vec::new();
    for artifact in artifacts {
        if !kernel_has_match(&artifact, args.filter.as_deref()) && artifact.target != SELFTEST_SUITE {
            filtered_out.push(artifact.target);
            continue;
        }
        let image = if artifact.target == STANDALONE_SUITE {
            build::standalone_disk(&artifact.executable, false)?
        } else if SUITES_WITH_PROGRAMS.contains(&artifact.target.as_str()) {
            build::boot_disk(&artifact.executable, false)?
        } else {
            build::boot_disk_without_ramdisk(&artifact.executable)?
        };
        let job = Job {
            name: artifact.target.clone(),
            qemu_args: suite_qemu_args(&artifact.target),
            artifact,
            image,
        };
        if job.name == SELFTEST_SUITE {
            selftest = Some(job);
        } else if job.name == BENCH_SUITE {
            // Speed is measured by `cargo xtask bench`, not tested.
        } else {
            if SMP_SUITES.contains(&job.name.as_str()) {
                // A copy of the image: QEMU locks the one it boots, and both run at once.
                let mut image = job.image.clone();
                image.image = job.image.image.with_extension(format!("{SMP_SUFFIX}.img"));
                std::fs::copy(&job.image.image, &image.image)
                    .with_context(|| format!("copying to {}", image.image.display()))?;
                // First: the long kernel suite should not start last.
                jobs.push_front(Job {
                    name: format!("{}-{SMP_SUFFIX}", job.name),
                    artifact: job.artifact.clone(),
                    image,
                    qemu_args: SMP_QEMU_ARGS,
                });
            }
            jobs.push_back(job);
        }
    }
    if !filtered_out.is_empty() {
        eprintln!("xtask: --filter: no matching test in {}: not booted", filtered_out.join(", "));
    }
    let run_selftest = args.filter.is_none();
    if let Some(job) = selftest.filter(|_| run_selftest) {
        jobs.push_back(job);
    }

    let log_dir = out_dir.join("ktest-logs");
    std::fs::create_dir_all(&log_dir)?;
    eprintln!(
        "xtask: booting {} test kernels in QEMU, {PARALLEL_BOOTS} at a time (logs in {})",
        jobs.len(),
        log_dir.display()
    );
    let reports = run_suites(jobs, args, &log_dir);

    let started = Instant::now();
    let console_tests = if crate::console::any_selected(args.filter.as_deref())? {
        eprintln!("xtask: console tests: piping tests/console/*.script into the shell");
        let kernel = build::kernel(args.build.release)?;
        let image = build::boot_disk(&kernel, false)?;
        crate::console::run_all(&image, args.filter.as_deref(), args.bless)?
    } else {
        Vec::new()
    };
    let console_seconds = started.elapsed().as_secs_f64();

    for report in &reports {
        if report.suite == SELFTEST_SUITE {
            let checks = check_selftest(report);
            print_group("ktest framework self-test", &checks);
            groups.push(("ktest-selftest".to_string(), checks, report.seconds));
        } else {
            let mut tests = report.tests.clone();
            if let Some(error) = &report.error {
                tests.push(TestRecord {
                    name: "<boot>".to_string(),
                    outcome: Outcome::Failed,
                    output: error.clone(),
                    seconds: 0.0,
                });
            }
            groups.push((report.suite.clone(), tests, report.seconds));
        }
    }
    groups.push(("console".to_string(), console_tests, console_seconds));
    if !run_selftest {
        eprintln!("xtask: --filter given: the framework self-test ({SELFTEST_SUITE}) was skipped");
    }

    let junit_path = out_dir.join("junit.xml");
    let suites: Vec<junit::Suite<'_>> =
        groups.iter().map(|(name, tests, seconds)| junit::Suite { name, tests, seconds: *seconds }).collect();
    junit::write(&junit_path, &suites).with_context(|| format!("writing {}", junit_path.display()))?;

    let all = || groups.iter().flat_map(|(suite, tests, _)| tests.iter().map(move |t| (suite, t)));
    let passed = all().filter(|(_, t)| t.outcome == Outcome::Ok).count();
    let failed = all().filter(|(_, t)| t.outcome.is_failure()).count();
    let skipped = all().filter(|(_, t)| t.outcome == Outcome::Ignored).count();
    if failed > 0 {
        println!("\nfailures:");
        for (suite, test) in all().filter(|(_, t)| t.outcome.is_failure()) {
            println!("    {suite}: {} ({})", test.name, test.outcome);
            for line in test.output.lines() {
                println!("        {line}");
            }
        }
    }
    println!("\nJUnit report: {}", junit_path.display());
    let skipped_text = if skipped > 0 { format!(", {skipped} skipped") } else { String::new() };
    println!("{passed} passed, {failed} failed{skipped_text}");
    if let Some(filter) = &args.filter
        && passed + failed + skipped == 0
    {
        println!("xtask: no test matches --filter '{filter}'");
        return Ok(ExitCode::FAILURE);
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Whether the test kernel `artifact` has a test whose name contains `filter`. A kernel
/// whose test names cannot be read is booted (its own runner then applies the filter).
fn kernel_has_match(artifact: &KernelArtifact, filter: Option<&str>) -> bool {
    let Some(filter) = filter else { return true };
    match crate::ktest_names::tests_in(&artifact.executable) {
        Ok(Some(names)) => names.iter().any(|name| name.contains(filter)),
        Ok(None) => true,
        Err(error) => {
            eprintln!("xtask: reading the test names of {}: {error:#}; booting it", artifact.target);
            true
        }
    }
}

/// `cargo test` over the host crates (the workspace's default members), echoed as it
/// runs and parsed for the result lines.
fn host_tests(args: &TestArgs) -> Result<Vec<TestRecord>> {
    eprintln!("xtask: running the host unit tests (cargo test)");
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(project_root()).args(["test", "--color", "never"]);
    if args.build.release {
        command.arg("--release");
    }
    command.arg("--");
    if let Some(filter) = &args.filter {
        command.arg(filter);
    }
    let mut child = command.stdout(Stdio::piped()).spawn().context("running cargo test")?;
    let stdout = child.stdout.take().context("cargo test's stdout")?;
    let mut tests = Vec::new();
    let mut last = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some((name, outcome)) = host_result_line(&line) {
            tests.push(TestRecord {
                name,
                outcome,
                output: String::new(),
                seconds: last.elapsed().as_secs_f64(),
            });
            last = Instant::now();
        }
    }
    let status = child.wait()?;
    if !status.success() && !tests.iter().any(|t| t.outcome.is_failure()) {
        tests.push(TestRecord {
            name: "<cargo test>".to_string(),
            outcome: Outcome::Failed,
            output: format!("cargo test failed ({status}) without a failing test: see its output above"),
            seconds: 0.0,
        });
    }
    Ok(tests)
}

/// libtest's `test NAME ... OUTCOME`, where doctest names may contain spaces.
fn host_result_line(line: &str) -> Option<(String, Outcome)> {
    let (name, word) = line.strip_prefix("test ")?.rsplit_once(" ... ")?;
    let outcome = match word.trim_end() {
        "ok" => Outcome::Ok,
        "FAILED" => Outcome::Failed,
        "ignored" => Outcome::Ignored,
        w if w.starts_with("ignored, ") => Outcome::Ignored,
        _ => return None,
    };
    Some((name.to_string(), outcome))
}

fn run_suites(jobs: VecDeque<Job>, args: &TestArgs, log_dir: &std::path::Path) -> Vec<SuiteReport> {
    let queue = Mutex::new(jobs);
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_BOOTS {
            scope.spawn(|| {
                loop {
                    let Some(job) = queue.lock().expect("queue lock").pop_front() else {
                        break;
                    };
                    let selftest = job.name == SELFTEST_SUITE;
                    let options = SuiteOptions {
                        filter: args.filter.as_deref(),
                        // The self-test hangs with interrupts off on purpose: don't wait long.
                        idle_timeout: Duration::from_secs(if selftest { 10 } else { args.idle_timeout }),
                        verbose: args.verbose,
                        log_dir,
                        qemu_args: job.qemu_args,
                    };
                    let mut report = run_suite(&job.name, &job.image, &options);
                    if job.name.ends_with(SMP_SUFFIX) {
                        for test in &mut report.tests {
                            test.name = format!("{} [{SMP_SUFFIX}]", test.name);
                        }
                    }
                    if !selftest {
                        print_suite(&report);
                    }
                    reports.lock().expect("reports lock").push(report);
                }
            });
        }
    });
    let mut reports = reports.into_inner().expect("reports lock");
    reports.sort_by_key(|r| (r.suite == SELFTEST_SUITE, r.suite != "kernel", r.suite.clone()));
    reports
}

fn print_suite(report: &SuiteReport) {
    let mut out = std::io::stdout().lock();
    let boots = if report.boots == 1 { "1 boot".to_string() } else { format!("{} boots", report.boots) };
    let _ = writeln!(out, "\n     Running {} in QEMU ({boots}, {:.1}s)", report.suite, report.seconds);
    for test in &report.tests {
        let _ = writeln!(out, "test {} ... {}", test.name, test.outcome);
        if test.outcome.is_failure() {
            for line in test.output.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    if let Some(summary) = &report.kernel_summary {
        let _ = writeln!(out, "{summary}");
    }
    if let Some(error) = &report.error {
        let _ = writeln!(out, "error: {}: {error}\n(serial log: {})", report.suite, report.log.display());
    }
}

fn print_group(title: &str, tests: &[TestRecord]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\n     Checking {title}");
    for test in tests {
        let _ = writeln!(out, "test {} ... {}", test.name, test.outcome);
        for line in test.output.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
}

/// What each test of the self-test kernel must be reported as, and a piece of text its
/// explanation must contain, in the order the test harness runs them (sorted by name).
const SELFTEST_EXPECTATIONS: [(&str, Outcome, &str); 10] = [
    ("a_passes_first", Outcome::Ok, ""),
    ("fails_an_assertion", Outcome::Failed, "left: 1"),
    ("hangs_with_interrupts_disabled", Outcome::Timeout, "no output for"),
    ("is_ignored", Outcome::Ignored, ""),
    ("panics_as_expected", Outcome::Ok, ""),
    ("panics_with_the_wrong_message", Outcome::Failed, "panic did not contain expected string"),
    ("returns_but_should_panic", Outcome::Failed, "did not panic as expected"),
    ("spins_past_its_time_limit", Outcome::Timeout, "time limit"),
    ("triple_faults", Outcome::Failed, "triple fault"),
    ("z_passes_last", Outcome::Ok, ""),
];
/// The kernel's own summary after all of the above, counted across its boots.
const SELFTEST_SUMMARY: &str = "test result: FAILED. 3 passed; 6 failed; 1 ignored;";

/// Turns the self-test kernel's report into checks: each passes when the framework
/// reported what it should have.
fn check_selftest(report: &SuiteReport) -> Vec<TestRecord> {
    let mut checks = Vec::new();
    let mut check = |name: String, ok: bool, detail: String| {
        checks.push(TestRecord {
            name,
            outcome: if ok { Outcome::Ok } else { Outcome::Failed },
            output: if ok {
                String::new()
            } else {
                format!("{detail}\n(serial log: {})", report.log.display())
            },
            seconds: 0.0,
        });
    };
    let names: Vec<&str> = report.tests.iter().map(|t| t.name.as_str()).collect();
    let expected: Vec<&str> = SELFTEST_EXPECTATIONS.iter().map(|e| e.0).collect();
    check(
        "every test reports once, in order, after the failures before it".to_string(),
        names == expected,
        format!("reported: {names:?}\nexpected: {expected:?}"),
    );
    for (name, outcome, text) in SELFTEST_EXPECTATIONS {
        let found = report.tests.iter().find(|t| t.name == name);
        let ok = found.is_some_and(|t| t.outcome == outcome && t.output.contains(text));
        let detail = match found {
            Some(t) => {
                format!("reported {} with {:?}; expected {outcome} with {text:?}", t.outcome, t.output)
            }
            None => "not reported".to_string(),
        };
        check(format!("{name} is reported {outcome}"), ok, detail);
    }
    let summary = report.kernel_summary.as_deref().unwrap_or("");
    check(
        "the summary counts every boot".to_string(),
        summary.starts_with(SELFTEST_SUMMARY),
        format!("summary: {summary:?}; expected it to start with {SELFTEST_SUMMARY:?}"),
    );
    check(
        "a failed suite ends QEMU with the failure status".to_string(),
        report.final_exit == Some(KernelExit::Failed) && report.error.is_none(),
        format!("final exit {:?}, error {:?}", report.final_exit, report.error),
    );
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_lines_with_spaces_parse() {
        assert_eq!(
            host_result_line("test src/lib.rs - f (line 3) ... ok"),
            Some(("src/lib.rs - f (line 3)".into(), Outcome::Ok))
        );
        assert_eq!(
            host_result_line("test a ... ignored, needs hardware"),
            Some(("a".into(), Outcome::Ignored))
        );
        assert_eq!(host_result_line("test result: ok. 3 passed"), None);
    }
}
