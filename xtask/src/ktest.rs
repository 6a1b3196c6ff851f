//! Running one test kernel in QEMU and reading its results off the serial port.
//!
//! A kernel suite may take several boots: a test that panics, faults or times out ends
//! its boot (the kernel cannot unwind), and the suite is booted again with a resume
//! state in fw_cfg so that it carries on after that test. A boot that dies without a
//! result (a triple fault, a hang with interrupts disabled that the kernel's watchdog
//! cannot see) is charged to the test that was running.

use crate::build::BootDisk;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ktest_protocol::{
    ExitCode, Outcome, RESUME_FW_CFG_NAME, ResumeState, parse_result_line, parse_start_line,
};

use crate::qemu::Qemu;

/// How long a boot may stay silent before the kernel's first line.
const BOOT_ALLOWANCE: Duration = Duration::from_secs(60);

/// fw_cfg name of the test filter; must match `kernel::ktest::FILTER_FW_CFG_NAME`.
const FILTER_FW_CFG_NAME: &str = "opt/devmem/ktest-filter";

#[derive(Clone, Debug)]
pub struct TestRecord {
    pub name: String,
    pub outcome: Outcome,
    /// What the kernel printed about a failure (panic message, notes).
    pub output: String,
    pub seconds: f64,
}

#[derive(Debug)]
pub struct SuiteReport {
    pub suite: String,
    pub tests: Vec<TestRecord>,
    pub boots: usize,
    /// The kernel's own `test result: ...` line, when it got that far.
    pub kernel_summary: Option<String>,
    /// How the last boot ended.
    pub final_exit: Option<ExitCode>,
    /// A failure outside any test (the kernel died before or between tests).
    pub error: Option<String>,
    pub log: PathBuf,
    pub seconds: f64,
}

pub struct SuiteOptions<'a> {
    pub filter: Option<&'a str>,
    pub idle_timeout: Duration,
    pub verbose: bool,
    pub log_dir: &'a Path,
    /// Extra QEMU arguments for this suite (a different CPU, say).
    pub qemu_args: &'a [&'a str],
}

/// How one boot ended.
enum BootEnd {
    Exited(Option<i32>),
    Idle,
}

/// The state of the parse across the lines of one boot.
struct Parser<'a> {
    suite: &'a str,
    tests: Vec<TestRecord>,
    running: Option<(String, Instant)>,
    /// Index of a failed test whose explanation lines follow.
    collecting: Option<usize>,
    summary: Option<String>,
    /// The last lines of the boot, for a report when the kernel died outside a test.
    tail: Vec<String>,
    last_result_at: Instant,
    verbose: bool,
}

impl Parser<'_> {
    fn line(&mut self, line: &str) {
        if self.verbose {
            println!("[{}] {line}", self.suite);
        }
        self.tail.push(line.to_string());
        if self.tail.len() > 40 {
            self.tail.remove(0);
        }
        if let Some((name, outcome)) = parse_result_line(line) {
            let started = match self.running.take() {
                Some((running, started)) if running == name => started,
                _ => self.last_result_at,
            };
            self.tests.push(TestRecord {
                name: name.to_string(),
                outcome,
                output: String::new(),
                seconds: started.elapsed().as_secs_f64(),
            });
            self.last_result_at = Instant::now();
            self.collecting = outcome.is_failure().then(|| self.tests.len() - 1);
        } else if line.starts_with("test result: ") {
            self.summary = Some(line.to_string());
            self.collecting = None;
        } else if let Some(name) = started_test(line) {
            // A test that printed something after its start line.
            self.collecting = None;
            if self.running.as_ref().is_none_or(|(running, _)| running != name) {
                self.running = Some((name.to_string(), Instant::now()));
            }
        } else if let Some(index) = self.collecting {
            let output = &mut self.tests[index].output;
            output.push_str(line);
            output.push('\n');
        }
    }

    /// The unfinished line at the end of what has arrived so far: a test's start line
    /// waits there while the test runs.
    fn partial(&mut self, partial: &str) {
        if let Some(name) = parse_start_line(partial)
            && self.running.as_ref().is_none_or(|(running, _)| running != name)
        {
            self.running = Some((name.to_string(), Instant::now()));
        }
    }
}

/// `test NAME ... ` followed by anything: the line a test's own output continues.
fn started_test(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(ktest_protocol::START_PREFIX)?;
    let (name, _) = rest.split_once(ktest_protocol::SEPARATOR)?;
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// Boots `image` until its suite has finished, and reports every test.
pub fn run_suite(suite: &str, image: &BootDisk, options: &SuiteOptions<'_>) -> SuiteReport {
    let started = Instant::now();
    let log_path = options.log_dir.join(format!("{suite}.log"));
    let mut log = File::create(&log_path).ok();
    let mut parser = Parser {
        suite,
        tests: Vec::new(),
        running: None,
        collecting: None,
        summary: None,
        tail: Vec::new(),
        last_result_at: Instant::now(),
        verbose: options.verbose,
    };
    let mut resume = ResumeState::default();
    let mut report = SuiteReport {
        suite: suite.to_string(),
        tests: Vec::new(),
        boots: 0,
        kernel_summary: None,
        final_exit: None,
        error: None,
        log: log_path.clone(),
        seconds: 0.0,
    };
    loop {
        report.boots += 1;
        let results_before = parser.tests.len();
        let boot_started = Instant::now();
        let end = match boot(image, &resume, options, &mut parser, log.as_mut()) {
            Ok(end) => end,
            Err(error) => {
                report.error = Some(format!("could not start QEMU: {error}"));
                break;
            }
        };
        let exit = match end {
            BootEnd::Exited(Some(code)) => ExitCode::from_qemu_status(code),
            _ => None,
        };
        report.final_exit = exit;
        if parser.summary.is_some() {
            report.kernel_summary = parser.summary.clone();
            if !matches!(exit, Some(ExitCode::Success | ExitCode::Failed)) {
                report.error = Some(format!("the kernel printed its summary but then {}", describe(&end)));
            }
            break;
        }
        if exit != Some(ExitCode::Restart) {
            // The boot died without a verdict: charge the test that was running.
            let Some((name, started)) = parser.running.take() else {
                report.error = Some(format!(
                    "the kernel {} outside any test; last lines:\n{}",
                    describe(&end),
                    parser.tail.join("\n")
                ));
                break;
            };
            let note = match end {
                BootEnd::Idle => format!(
                    "no output for {} s, so QEMU was killed: the test hangs with interrupts \
                     disabled, where the kernel's own watchdog cannot end it\n",
                    options.idle_timeout.as_secs()
                ),
                BootEnd::Exited(Some(0)) => {
                    "the machine reset (a triple fault: an exception while delivering an exception)\n"
                        .to_string()
                }
                _ => format!("QEMU {}\n", describe(&end)),
            };
            let outcome = if matches!(end, BootEnd::Idle) { Outcome::Timeout } else { Outcome::Failed };
            if let Some(log) = log.as_mut() {
                let _ = writeln!(log, "\nxtask: {name}: {outcome}: {note}");
            }
            parser.tests.push(TestRecord {
                name,
                outcome,
                output: note,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        if parser.tests.len() == results_before {
            report.error =
                Some(format!("a boot ended with no new test result ({}); giving up", describe(&end)));
            break;
        }
        // Boot again after the last test that reported.
        resume.skip = parser.tests.len();
        resume.passed = parser.tests.iter().filter(|t| t.outcome == Outcome::Ok).count();
        resume.failed = parser.tests.iter().filter(|t| t.outcome.is_failure()).count();
        resume.ignored = parser.tests.iter().filter(|t| t.outcome == Outcome::Ignored).count();
        resume.elapsed_ms += u64::try_from(boot_started.elapsed().as_millis()).unwrap_or(u64::MAX);
        parser.running = None;
        parser.collecting = None;
    }
    report.tests = parser.tests;
    report.seconds = started.elapsed().as_secs_f64();
    report
}

fn describe(end: &BootEnd) -> String {
    match end {
        BootEnd::Idle => "went silent and was killed".to_string(),
        BootEnd::Exited(Some(0)) => "reset the machine (triple fault)".to_string(),
        BootEnd::Exited(Some(code)) => match ExitCode::from_qemu_status(*code) {
            Some(exit) => format!("exited with {exit:?} (status {code})"),
            None => format!("exited with status {code}"),
        },
        BootEnd::Exited(None) => "was killed by a signal".to_string(),
    }
}

/// One boot: starts QEMU, feeds its serial output to the parser, and waits for it.
fn boot(
    image: &BootDisk,
    resume: &ResumeState,
    options: &SuiteOptions<'_>,
    parser: &mut Parser<'_>,
    mut log: Option<&mut File>,
) -> std::io::Result<BootEnd> {
    let mut qemu = Qemu::new(image, false);
    qemu.captured_console().fw_cfg_string(RESUME_FW_CFG_NAME, &resume.to_string());
    if let Some(filter) = options.filter {
        qemu.fw_cfg_string(FILTER_FW_CFG_NAME, filter);
    }
    let extra: Vec<String> = options.qemu_args.iter().map(|a| a.to_string()).collect();
    qemu.extra(&extra);
    let mut child =
        qemu.command().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || sender.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut pending = Vec::new();
    let mut idle = false;
    let mut booted = false;
    loop {
        // The idle limit counts from the kernel's first output: the firmware and the
        // bootloader say nothing, and take longer on a loaded machine.
        let limit = if booted { options.idle_timeout } else { options.idle_timeout.max(BOOT_ALLOWANCE) };
        match receiver.recv_timeout(limit) {
            Ok(chunk) => {
                booted = true;
                if let Some(log) = log.as_mut() {
                    let _ = log.write_all(&chunk);
                }
                pending.extend_from_slice(&chunk);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line);
                    parser.line(text.trim_end_matches(['\n', '\r']));
                }
                parser.partial(&String::from_utf8_lossy(&pending));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                idle = true;
                let _ = child.kill();
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if !pending.is_empty() {
        parser.line(String::from_utf8_lossy(&pending).trim_end());
    }
    let status = wait(&mut child)?;
    let _ = reader.join();
    if let Some(mut stderr) = child.stderr.take() {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        if !text.trim().is_empty()
            && let Some(log) = log.as_mut()
        {
            let _ = writeln!(log, "\n[qemu stderr] {}", text.trim());
        }
    }
    Ok(if idle { BootEnd::Idle } else { BootEnd::Exited(status) })
}

fn wait(child: &mut Child) -> std::io::Result<Option<i32>> {
    Ok(child.wait()?.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> Parser<'static> {
        Parser {
            suite: "t",
            tests: Vec::new(),
            running: None,
            collecting: None,
            summary: None,
            tail: Vec::new(),
            last_result_at: Instant::now(),
            verbose: false,
        }
    }

    #[test]
    fn a_failure_collects_its_explanation() {
        let mut p = parser();
        p.partial("test a::b ... ");
        assert_eq!(p.running.as_ref().map(|r| r.0.as_str()), Some("a::b"));
        p.line("test a::b ... FAILED");
        p.line("panicked at kernel/src/x.rs:1:1:");
        p.line("boom");
        p.line("test a::c ... ok");
        assert_eq!(p.tests.len(), 2);
        assert_eq!(p.tests[0].outcome, Outcome::Failed);
        assert_eq!(p.tests[0].output, "panicked at kernel/src/x.rs:1:1:\nboom\n");
        assert_eq!(p.tests[1].outcome, Outcome::Ok);
        assert!(p.running.is_none());
    }

    #[test]
    fn a_test_that_prints_is_still_tracked() {
        let mut p = parser();
        p.line("test a::noisy ... hello from the test");
        assert_eq!(p.running.as_ref().map(|r| r.0.as_str()), Some("a::noisy"));
        assert!(p.tests.is_empty());
        p.line("test a::noisy ... ok");
        assert_eq!(p.tests.len(), 1);
        assert_eq!(p.tests[0].name, "a::noisy");
    }

    #[test]
    fn the_summary_is_kept() {
        let mut p = parser();
        p.line("test result: ok. 1 passed; 0 failed; 0 ignored; finished in 0.01s");
        assert!(p.summary.as_deref().is_some_and(|s| s.contains("1 passed")));
    }
}
