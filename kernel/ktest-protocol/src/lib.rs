//! The contract between the kernel and `cargo xtask`: where the kernel is loaded, and
//! what the in-kernel test runner and `cargo xtask test` agree on.
//!
//! Both sides link this crate, so the exit codes, the shape of a result line and the
//! resume state passed through QEMU's fw_cfg cannot drift apart. It is `no_std` and
//! free of hardware access, so the host tests below cover it.
//!
//! How a suite survives a failing test: the kernel has no unwinding, so a test that
//! panics, faults or times out ends the boot with [`ExitCode::Restart`]. The host then
//! boots the same kernel again with a [`ResumeState`] that says how many tests have
//! already reported and what they scored, and the runner goes on from there.
#![no_std]

use core::fmt;

/// Where the bootloader loads the kernel (its `kernel_base` mapping). Fixed rather
/// than chosen at boot so that gdb can be given the same offset for the symbols.
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// The I/O port of QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// fw_cfg file through which the host hands a [`ResumeState`] to the runner.
pub const RESUME_FW_CFG_NAME: &str = "opt/devmem/ktest-resume";

/// Value the kernel writes to the `isa-debug-exit` port. QEMU exits with
/// `(value << 1) | 1`, so no code can be confused with QEMU's own 0 (a triple fault
/// under `-no-reboot`) or 1 (QEMU's own errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// The run finished and nothing failed. The only status that counts as success.
    Success = 0x10,
    /// The run finished, or the kernel stopped outside a test, with a failure.
    Failed = 0x11,
    /// A test ended the boot (it panicked, faulted or timed out) after its result
    /// line was printed: boot again and resume after it.
    Restart = 0x12,
    /// The shell ended (exit, end of input) with a non-zero status, which it printed
    /// just before in a [`shell_exit_marker`].
    ShellStatus = 0x13,
}

/// How the shell tells the host its last status when the session ends: an operating
/// system command sequence (`ESC ] 777 ; devmem-exit=N BEL`), which terminals ignore and
/// `cargo xtask run` reads (and removes) to exit with N.
pub const SHELL_EXIT_PREFIX: &str = "\x1b]777;devmem-exit=";

/// The marker for status `status`.
pub fn shell_exit_marker(status: i32) -> impl fmt::Display {
    struct Marker(i32);
    impl fmt::Display for Marker {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{SHELL_EXIT_PREFIX}{}\x07", self.0)
        }
    }
    Marker(status)
}

/// Finds a shell exit marker in `output`: its status, and where it starts and ends.
pub fn find_shell_exit(output: &[u8]) -> Option<(i32, usize, usize)> {
    let prefix = SHELL_EXIT_PREFIX.as_bytes();
    let start = output.windows(prefix.len()).position(|w| w == prefix)?;
    let digits_start = start + prefix.len();
    let bell = output[digits_start..].iter().position(|&b| b == 0x07)? + digits_start;
    let status = core::str::from_utf8(&output[digits_start..bell]).ok()?.parse().ok()?;
    Some((status, start, bell + 1))
}

impl ExitCode {
    /// The exit status QEMU reports for this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as i32) << 1) | 1
    }

    /// The code behind a QEMU exit status, if it is one of ours.
    pub fn from_qemu_status(status: i32) -> Option<Self> {
        [Self::Success, Self::Failed, Self::Restart, Self::ShellStatus]
            .into_iter()
            .find(|code| code.qemu_status() == status)
    }
}

/// How a test ended, as printed at the end of its result line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Ignored,
    Timeout,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "FAILED",
            Self::Ignored => "ignored",
            Self::Timeout => "TIMEOUT",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        [Self::Ok, Self::Failed, Self::Ignored, Self::Timeout]
            .into_iter()
            .find(|outcome| outcome.as_str() == word)
    }

    /// Whether this outcome counts as a failure of the suite.
    pub const fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Timeout)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text before a test runs: `test NAME ... `.
pub const START_PREFIX: &str = "test ";
/// Separator between the name and the outcome, as libtest prints it.
pub const SEPARATOR: &str = " ... ";

/// A complete result line, `test NAME ... OUTCOME`, split into its parts.
pub fn parse_result_line(line: &str) -> Option<(&str, Outcome)> {
    let rest = line.trim_end().strip_prefix(START_PREFIX)?;
    let (name, outcome) = rest.rsplit_once(SEPARATOR)?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    Some((name, Outcome::parse(outcome)?))
}

/// The name in a line that starts a test (`test NAME ... `, the outcome not yet
/// printed). The host uses it to know which test was running when a boot died.
pub fn parse_start_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(START_PREFIX)?;
    let (name, tail) = rest.split_once(SEPARATOR)?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    tail.trim().is_empty().then_some(name)
}

/// Where to pick the suite up again after a boot that a test ended, and the score so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResumeState {
    /// How many tests (in registration order) have already reported.
    pub skip: usize,
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
    /// Test time spent in earlier boots, in milliseconds.
    pub elapsed_ms: u64,
}

impl fmt::Display for ResumeState {
    /// The fw_cfg payload: `skip=S passed=P failed=F ignored=I elapsed_ms=E`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skip={} passed={} failed={} ignored={} elapsed_ms={}",
            self.skip, self.passed, self.failed, self.ignored, self.elapsed_ms
        )
    }
}

impl ResumeState {
    /// Parses the fw_cfg payload written by [`fmt::Display`]. Every key must be present
    /// exactly once; anything else is rejected, so a stale or corrupt payload cannot
    /// make the runner skip tests silently.
    pub fn parse(text: &str) -> Option<Self> {
        let mut fields: [Option<u64>; 5] = [None; 5];
        const KEYS: [&str; 5] = ["skip", "passed", "failed", "ignored", "elapsed_ms"];
        for pair in text.split_ascii_whitespace() {
            let (key, value) = pair.split_once('=')?;
            let index = KEYS.iter().position(|k| *k == key)?;
            if fields[index].is_some() || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            fields[index] = Some(value.parse().ok()?);
        }
        let [skip, passed, failed, ignored, elapsed_ms] = fields;
        let count = |v: Option<u64>| v.and_then(|v| usize::try_from(v).ok());
        Some(Self {
            skip: count(skip)?,
            passed: count(passed)?,
            failed: count(failed)?,
            ignored: count(ignored)?,
            elapsed_ms: elapsed_ms?,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn exit_codes_map_to_qemu_statuses() {
        assert_eq!(ExitCode::Success.qemu_status(), 33);
        assert_eq!(ExitCode::Failed.qemu_status(), 35);
        assert_eq!(ExitCode::Restart.qemu_status(), 37);
        assert_eq!(ExitCode::from_qemu_status(33), Some(ExitCode::Success));
        // A triple fault under -no-reboot exits 0; QEMU's own errors exit 1.
        assert_eq!(ExitCode::from_qemu_status(0), None);
        assert_eq!(ExitCode::from_qemu_status(1), None);
    }

    #[test]
    fn result_lines() {
        assert_eq!(
            parse_result_line("test mm::frame::unique ... ok"),
            Some(("mm::frame::unique", Outcome::Ok))
        );
        assert_eq!(parse_result_line("test a ... FAILED\r"), Some(("a", Outcome::Failed)));
        assert_eq!(parse_result_line("test a ... TIMEOUT"), Some(("a", Outcome::Timeout)));
        assert_eq!(parse_result_line("test a ... ignored"), Some(("a", Outcome::Ignored)));
        assert_eq!(parse_result_line("test a ... "), None);
        assert_eq!(parse_result_line("test a ... maybe"), None);
        assert_eq!(parse_result_line("test result: ok. 1 passed"), None);
        assert_eq!(parse_result_line("running 3 tests"), None);
    }

    #[test]
    fn start_lines() {
        assert_eq!(parse_start_line("test arch::idt::breakpoint ... "), Some("arch::idt::breakpoint"));
        assert_eq!(parse_start_line("test a ... ok"), None);
        assert_eq!(parse_start_line("test result: ok. ..."), None);
    }

    #[test]
    fn resume_state_rejects_garbage() {
        assert_eq!(ResumeState::parse(""), None);
        assert_eq!(ResumeState::parse("skip=1 passed=0 failed=0 ignored=0"), None);
        assert_eq!(ResumeState::parse("skip=1 skip=1 passed=0 failed=0 ignored=0 elapsed_ms=0"), None);
        assert_eq!(ResumeState::parse("skip=-1 passed=0 failed=0 ignored=0 elapsed_ms=0"), None);
        assert_eq!(ResumeState::parse("skip=1 passed=0 failed=0 ignored=0 elapsed_ms=0 extra=1"), None);
        assert_eq!(ResumeState::parse("skip=+1 passed=0 failed=0 ignored=0 elapsed_ms=0"), None);
    }

    proptest! {
        #[test]
        fn resume_state_round_trips(skip in 0usize..1 << 40, passed in any::<u32>(), failed in any::<u32>(),
                                    ignored in any::<u32>(), elapsed_ms in any::<u64>()) {
            let state = ResumeState { skip, passed: passed as usize, failed: failed as usize, ignored: ignored as usize, elapsed_ms };
            prop_assert_eq!(ResumeState::parse(&state.to_string()), Some(state));
        }

        #[test]
        fn result_line_round_trips(name in "[a-z_][a-z0-9_]{0,12}(::[a-z_][a-z0-9_]{0,12}){0,4}",
                                   outcome in prop::sample::select(&[Outcome::Ok, Outcome::Failed, Outcome::Ignored, Outcome::Timeout])) {
            let start = std::format!("{START_PREFIX}{name}{SEPARATOR}");
            prop_assert_eq!(parse_start_line(&start), Some(name.as_str()));
            let line = std::format!("{start}{outcome}");
            prop_assert_eq!(parse_result_line(&line), Some((name.as_str(), outcome)));
        }

        #[test]
        fn parsers_never_panic(text in "\\PC{0,80}") {
            let _ = ResumeState::parse(&text);
            let _ = parse_result_line(&text);
            let _ = parse_start_line(&text);
        }
    }
}
