//! Console tests: boot the kernel, pipe a script into its shell, compare what the console
//! shows with a golden file.
//!
//! `tests/console/NAME.script` holds the input (one command a line, ending with
//! `poweroff`); `tests/console/NAME.expected` the output from the first prompt on, with
//! CRLF turned into LF. In an expected line, `{{*}}` matches any text (timings, say, or the
//! BIOS checksum byte at 0xFFFFF, which SeaBIOS recomputes for each disk image).
//! `cargo xtask test --bless` rewrites the expected files from the actual output.

use crate::build::BootDisk;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ktest_protocol::{ExitCode, Outcome};

use crate::ktest::TestRecord;
use crate::qemu::Qemu;
use crate::setup::project_root;

/// One script run longer than this is a failure (the shell waits for input forever).
const TIME_LIMIT: Duration = Duration::from_secs(60);
const WILDCARD: &str = "{{*}}";

pub fn scripts() -> Result<Vec<PathBuf>> {
    let dir = project_root().join("tests/console");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "script"))
        .collect();
    scripts.sort();
    Ok(scripts)
}

/// Boots `image` with `input` on the serial port; returns the console output from the
/// first prompt on, and QEMU's exit status.
pub fn run_script(image: &BootDisk, input: &[u8]) -> Result<(String, Option<i32>)> {
    let mut qemu = Qemu::new(image, false);
    qemu.captured_console();
    let mut child =
        qemu.command().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdin = child.stdin.take().context("QEMU's stdin")?;
    let input = input.to_vec();
    let (prompt_seen, wait_for_prompt) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        // As a person would: type only once the shell prompts (the firmware and the
        // bootloader reset the UART while booting and drop early input).
        if wait_for_prompt.recv_timeout(TIME_LIMIT).is_ok() {
            let _ = stdin.write_all(&input);
            // Then the end of input, as `cargo xtask run` sends it.
            if !input.is_empty() && !input.ends_with(b"\n") {
                let _ = stdin.write_all(b"\n");
            }
            let _ = stdin.write_all(&[crate::qemu::END_OF_INPUT]);
        }
        // Keep the pipe open: QEMU may treat end of input as a hang-up.
        std::thread::sleep(TIME_LIMIT);
    });
    let mut stdout = child.stdout.take().context("QEMU's stdout")?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut output = Vec::new();
        let mut buf = [0u8; 4096];
        let mut waiting = true;
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            output.extend_from_slice(&buf[..n]);
            if waiting && output.windows(3).any(|w| w == b"\n# ") {
                waiting = false;
                let _ = prompt_seen.send(());
            }
        }
        let _ = sender.send(output);
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status.code();
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(writer);
    let mut output = receiver.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    // The shell's exit marker becomes a line the golden files can hold.
    if let Some((shell_status, start, end)) = ktest_protocol::find_shell_exit(&output) {
        output.splice(start..end, format!("[exit status {shell_status}]\n").into_bytes());
    }
    let text = String::from_utf8_lossy(&output).replace("\r\n", "\n");
    let from_prompt = text.find("\n# ").map_or(text.as_str(), |at| &text[at + 1..]);
    Ok((from_prompt.to_string(), status))
}

/// The actual output as a golden file: what varies from run to run (dd's timing)
/// replaced by wildcards.
fn blessed(actual: &str) -> String {
    let mut out = String::new();
    for line in actual.lines() {
        match line.split_once(" copied, ") {
            Some((head, tail)) if tail.ends_with("B/s") => {
                out.push_str(head);
                out.push_str(" copied, {{*}} seconds, {{*}}B/s");
            }
            _ => match line.split_once(", rip 0x") {
                // A fault's address in the program depends on how it was compiled.
                Some((head, _)) if line.starts_with('[') => {
                    out.push_str(head);
                    out.push_str(", rip {{*}}]");
                }
                _ => out.push_str(line),
            },
        }
        out.push('\n');
    }
    out
}

/// Whether `actual` matches `expected`, line by line, with `{{*}}` wildcards.
pub fn matches(expected: &str, actual: &str) -> bool {
    let (expected, actual): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    expected.len() == actual.len() && expected.iter().zip(&actual).all(|(e, a)| line_matches(e, a))
}

fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split(WILDCARD);
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// The first differing line, for a failure report.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    for i in 0..e.len().max(a.len()) {
        let (want, got) = (e.get(i).copied(), a.get(i).copied());
        if !matches!((want, got), (Some(w), Some(g)) if line_matches(w, g)) {
            return format!(
                "line {}:\n  expected: {}\n  actual:   {}",
                i + 1,
                want.unwrap_or("<end of output>"),
                got.unwrap_or("<end of output>")
            );
        }
    }
    String::from("the outputs differ")
}

/// Whether the console test `name` is selected by `filter` (`console` selects them all).
fn selected(name: &str, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| name.contains(f) || "console".contains(f) || format!("console::{name}").contains(f))
}

/// Whether any script is selected by `filter`.
pub fn any_selected(filter: Option<&str>) -> Result<bool> {
    Ok(scripts()?.iter().any(|script| {
        let name = script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        selected(&name, filter)
    }))
}

/// Runs every script; with `bless`, writes the actual output as the expected one.
pub fn run_all(image: &BootDisk, filter: Option<&str>, bless: bool) -> Result<Vec<TestRecord>> {
    let mut records = Vec::new();
    for script in scripts()? {
        let name = script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if !selected(&name, filter) {
            continue;
        }
        let started = Instant::now();
        let input = std::fs::read(&script)?;
        let (actual, status) = run_script(image, &input)?;
        let expected_path = script.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, blessed(&actual))?;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        let exited_cleanly = status == Some(ExitCode::Success.qemu_status())
            || (status == Some(ExitCode::ShellStatus.qemu_status()) && actual.contains("[exit status "));
        let (outcome, output) = if !exited_cleanly {
            (
                Outcome::Failed,
                format!("QEMU ended with status {status:?} instead of poweroff's success\n{actual}"),
            )
        } else if matches(&expected, &actual) {
            (Outcome::Ok, String::new())
        } else {
            let log = project_root().join("target/xtask").join(format!("console-{name}.actual"));
            let _ = std::fs::write(&log, &actual);
            (
                Outcome::Failed,
                format!("{}\n(actual output: {})", first_difference(&expected, &actual), log.display()),
            )
        };
        println!("test console::{name} ... {outcome}");
        for line in output.lines() {
            println!("    {line}");
        }
        records.push(TestRecord { name, outcome, output, seconds: started.elapsed().as_secs_f64() });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_any_text_in_a_line() {
        assert!(line_matches("a {{*}} seconds, {{*}}B/s", "a 0.001234 seconds, 4.0MB/s"));
        assert!(line_matches("plain", "plain"));
        assert!(!line_matches("plain", "plain!"));
        assert!(!line_matches("{{*}}x", "abc"));
        assert!(line_matches("{{*}}", ""));
        assert!(matches("a\nb{{*}}\n", "a\nbcd\n"));
        assert!(!matches("a\n", "a\nb\n"));
    }

    /// The `usage:` lines of a text, in order.
    fn usage_lines(text: &str) -> Vec<&str> {
        text.lines().filter(|line| line.starts_with("usage: ")).collect()
    }

    /// What the tools print for `-h` (tests/console/help.expected, which the console test
    /// `help` checks against the running shell) is what the shell doc's list of usage
    /// lines says, tool for tool.
    #[test]
    fn every_tools_help_matches_the_shell_doc() {
        let root = project_root();
        let doc_path = root.join("docs/shell.md");
        let Ok(doc) = std::fs::read_to_string(&doc_path) else {
            // The shell doc lands with the docs/ folder; until then there is nothing to check.
            eprintln!("{} is not there: nothing to compare the -h texts with", doc_path.display());
            return;
        };
        let expected =
            std::fs::read_to_string(root.join("tests/console/help.expected")).expect("help.expected");
        let shown = usage_lines(&expected);
        assert!(shown.len() >= 15, "help.expected should hold every tool's -h answer: {shown:?}");
        let documented = usage_lines(&doc);
        for line in &shown {
            assert!(documented.contains(line), "`{line}` (the shell's -h) is not in {}", doc_path.display());
        }
        for line in &documented {
            // echo prints its arguments, -h included, as sh's echo does; its usage line
            // is the one `help` shows.
            if !line.starts_with("usage: echo ") {
                assert!(
                    shown.contains(line),
                    "`{line}` ({}) is not what the shell prints",
                    doc_path.display()
                );
            }
        }
    }
}
