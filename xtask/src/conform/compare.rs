//! Transcripts, normalisation and the line-by-line comparison.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::Run;

/// One command line and what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub command: String,
    pub lines: Vec<String>,
    /// The command's wall time, when the side measured it (`@@@ TIME NS` after its output).
    pub nanos: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    pub blocks: Vec<Block>,
}

/// The runs of a console log, as printed: `@@@ BEGIN RUN`, `# COMMAND` lines each
/// followed by their output, `@@@ END RUN`. Anything outside the markers (boot messages,
/// the marker commands themselves) is left out.
pub fn parse_raw(output: &str) -> BTreeMap<String, Transcript> {
    let mut runs = BTreeMap::new();
    let mut current: Option<(String, Transcript)> = None;
    for line in output.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(name) = line.strip_prefix("@@@ BEGIN ") {
            current = Some((name.trim().to_string(), Transcript::default()));
        } else if let Some(name) = line.strip_prefix("@@@ END ") {
            if let Some((run, transcript)) = current.take()
                && run == name.trim()
            {
                runs.insert(run, transcript);
            }
        } else if let Some((_, transcript)) = current.as_mut() {
            if let Some(command) = line.strip_prefix("# ") {
                transcript.blocks.push(Block {
                    command: command.to_string(),
                    lines: Vec::new(),
                    nanos: None,
                });
            } else if let Some(nanos) = line.strip_prefix("@@@ TIME ") {
                if let Some(block) = transcript.blocks.last_mut() {
                    block.nanos = nanos.trim().parse().ok();
                }
            } else if let Some(nanos) = line.strip_prefix("real\t").and_then(parse_real) {
                // This kernel's `time` built-in: the command's wall time.
                if let Some(block) = transcript.blocks.last_mut() {
                    block.nanos = Some(nanos);
                }
            } else if let Some(block) = transcript.blocks.last_mut() {
                block.lines.push(line.to_string());
            }
        }
    }
    for transcript in runs.values_mut() {
        // This kernel's shell echoes the marker commands themselves; they are no scenario's.
        transcript.blocks.retain(|b| !b.command.starts_with("echo @@@ "));
        // `echo $?` belongs to the command before it: its output joins that block, so an
        // expected difference names the command whose status differs.
        let mut merged: Vec<Block> = Vec::new();
        for block in std::mem::take(&mut transcript.blocks) {
            let is_status = block.command == "echo $?" || block.command.ends_with(" echo $?");
            match merged.last_mut() {
                Some(previous) if is_status => {
                    previous.lines.extend(block.lines.iter().map(|l| format!("$? = {l}")));
                }
                _ => merged.push(block),
            }
        }
        transcript.blocks = merged;
    }
    runs
}

/// The transcripts with every line normalised.
pub fn parse_transcript(output: &str) -> BTreeMap<String, Transcript> {
    let mut runs = parse_raw(output);
    for transcript in runs.values_mut() {
        for block in &mut transcript.blocks {
            // dd's third line (`B bytes (H) copied, S seconds, R/s`) is a timing: B is
            // already in the records lines, and Debian's busybox is built without it.
            block.lines.retain(|line| !is_dd_status(line));
            for line in &mut block.lines {
                *line = normalise(line);
            }
        }
    }
    runs
}

/// `MmS.UUUUUUs` (this shell's `time`) in nanoseconds.
fn parse_real(text: &str) -> Option<u64> {
    let (minutes, rest) = text.split_once('m')?;
    let seconds: f64 = rest.strip_suffix('s')?.parse().ok()?;
    let minutes: u64 = minutes.parse().ok()?;
    Some(minutes * 60_000_000_000 + (seconds * 1e9).round() as u64)
}

fn is_dd_status(line: &str) -> bool {
    line.split_once(" bytes (").is_some_and(|(bytes, rest)| {
        bytes.parse::<u64>().is_ok() && rest.contains(" copied, ") && rest.ends_with("/s")
    })
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Only what must differ between two kernels: dd's, memrate's and syscalls' timings, ls's
/// date and column padding, addresses that depend on where the kernel was loaded.
pub fn normalise(line: &str) -> String {
    // memrate: `B bytes in N ns: R MB/s`; syscalls: `N getppid calls in U us: T ns each`.
    if let Some((head, _)) = line.split_once(" bytes in ")
        && head.parse::<u64>().is_ok()
        && line.ends_with(" MB/s")
    {
        return String::from("<bytes> bytes in <time>: <rate> MB/s");
    }
    if let Some((head, _)) = line.split_once(" calls in ")
        && line.ends_with(" ns each")
    {
        return format!("{head} calls in <time>");
    }
    // dd: `B bytes (H) copied, S seconds, R/s`.
    if let Some((head, tail)) = line.split_once(" copied, ")
        && tail.ends_with("/s")
    {
        return format!("{head} copied, <time>");
    }
    // ls -l: `MODE LINKS OWNER GROUP MAJOR, MINOR [DATE] NAME`, padded or not.
    let is_mode = |w: &str| {
        w.len() == 10
            && w.starts_with(['-', 'b', 'c', 'd', 'l', 'p', 's'])
            && w[1..].chars().all(|c| "rwxsStT-".contains(c))
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.first().is_some_and(|w| is_mode(w)) {
        let mut kept = Vec::new();
        let mut i = 0;
        while i < words.len() {
            if MONTHS.contains(&words[i]) && i + 2 < words.len() && words[i + 1].parse::<u8>().is_ok() {
                i += 3;
                continue;
            }
            kept.push(words[i]);
            i += 1;
        }
        return kept.join(" ").replace(", ", ",").replace(',', ", ");
    }
    // /proc/iomem: the kernel's own ranges move with its load address.
    if line.contains(" : Kernel ") {
        let (range, name) = line.split_once(" : ").unwrap_or((line, ""));
        let indent = &range[..range.len() - range.trim_start().len()];
        return format!("{indent}<address> : {name}");
    }
    line.to_string()
}

/// One line of `tests/conform/expected-differences`:
/// `RUN-PATTERN | COMMAND-PATTERN | REASON`, where RUN-PATTERN matches `SCENARIO.USER`,
/// COMMAND-PATTERN the command line without its `runas USER` prefix, `*` any text.
#[derive(Debug, Clone)]
pub struct Expected {
    pub run: String,
    pub command: String,
    pub reason: String,
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} | {} | {}", self.run, self.command, self.reason)
    }
}

pub fn parse_expected(text: &str) -> Result<Vec<Expected>> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, " | ").map(str::trim).collect();
        if parts.len() != 3 || parts[2].is_empty() {
            bail!("expected-differences line {}: want `RUN | COMMAND | REASON`: {line}", number + 1);
        }
        entries.push(Expected { run: parts[0].into(), command: parts[1].into(), reason: parts[2].into() });
    }
    Ok(entries)
}

/// `*` matches any text, everything else itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let Some(mut rest) = text.strip_prefix(parts[0]) else { return false };
    for (i, part) in parts.iter().enumerate().skip(1) {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// `00-mem.operator` → `mem.operator`.
fn run_key(run: &str) -> &str {
    run.split_once('-').map_or(run, |(_, rest)| rest)
}

/// `runas operator cat /x` → `cat /x`.
fn bare_command(command: &str) -> &str {
    command.strip_prefix("runas ").and_then(|rest| rest.split_once(' ')).map_or(command, |(_, rest)| rest)
}

#[derive(Debug, Default)]
pub struct Report {
    pub lines: usize,
    pub identical: usize,
    pub expected: usize,
    pub unexpected: Vec<String>,
    pub stale: Vec<String>,
    /// Commands this kernel cannot run yet (`sh: busybox: not found`): not compared.
    pub not_runnable: Vec<String>,
    /// Per run and block: the expected-differences entry that covers it, if any.
    pub verdicts: BTreeMap<(String, usize), Verdict>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Identical,
    Expected(String),
    Unexpected,
    NotRunnable,
}

/// This kernel's shell has no such command yet (a program of the ramdisk, before
/// processes run): `sh: NAME: not found` where Linux ran it.
fn not_runnable_here(lines: &[String]) -> bool {
    lines.first().is_some_and(|l| l.starts_with("sh: ") && l.ends_with(": not found"))
}

pub fn compare(
    runs: &[Run],
    theirs: &BTreeMap<String, Transcript>,
    ours: &BTreeMap<String, Transcript>,
    expected: &[Expected],
) -> Report {
    let mut report = Report::default();
    let mut used = vec![false; expected.len()];
    for run in runs {
        let (Some(a), Some(b)) = (theirs.get(&run.name), ours.get(&run.name)) else { continue };
        for index in 0..a.blocks.len().max(b.blocks.len()) {
            let block_a = a.blocks.get(index);
            let block_b = b.blocks.get(index);
            let command = block_a.or(block_b).map_or("", |b| b.command.as_str());
            let lines_a: Vec<String> = block_a.map(|b| b.lines.clone()).unwrap_or_default();
            let lines_b: Vec<String> = block_b.map(|b| b.lines.clone()).unwrap_or_default();
            let n = lines_a.len().max(lines_b.len()).max(1);
            let differing = (0..n).filter(|&i| lines_a.get(i) != lines_b.get(i)).count();
            let same_command = block_a.map(|b| &b.command) == block_b.map(|b| &b.command);
            report.lines += n;
            report.identical += n - differing;
            if differing == 0 && same_command {
                report.verdicts.insert((run.name.clone(), index), Verdict::Identical);
                continue;
            }
            if same_command && not_runnable_here(&lines_b) && !not_runnable_here(&lines_a) {
                report.lines -= n;
                report.identical -= n - differing;
                report.not_runnable.push(format!("{} `{command}`", run.name));
                report.verdicts.insert((run.name.clone(), index), Verdict::NotRunnable);
                continue;
            }
            let entry = expected.iter().position(|e| {
                same_command && glob(&e.run, run_key(&run.name)) && glob(&e.command, bare_command(command))
            });
            if let Some(at) = entry {
                used[at] = true;
                report.expected += differing;
                report
                    .verdicts
                    .insert((run.name.clone(), index), Verdict::Expected(expected[at].reason.clone()));
            } else {
                report.verdicts.insert((run.name.clone(), index), Verdict::Unexpected);
                for i in (0..n).filter(|&i| lines_a.get(i) != lines_b.get(i)) {
                    report.unexpected.push(format!(
                        "{} `{command}` line {}: Linux `{}`, this kernel `{}`",
                        run.name,
                        i + 1,
                        lines_a.get(i).map_or("<none>", String::as_str),
                        lines_b.get(i).map_or("<none>", String::as_str)
                    ));
                }
                if !same_command {
                    report.unexpected.push(format!(
                        "{} block {}: the transcripts are out of step (Linux `{}`, this kernel `{}`)",
                        run.name,
                        index + 1,
                        block_a.map_or("<none>", |b| b.command.as_str()),
                        block_b.map_or("<none>", |b| b.command.as_str())
                    ));
                }
            }
        }
    }
    report.stale =
        expected.iter().zip(&used).filter(|(_, used)| !**used).map(|(e, _)| e.to_string()).collect();
    report
}

fn cell(text: &str) -> String {
    if text.is_empty() { String::new() } else { format!("`{}`", text.replace('|', "\\|").replace('`', "'")) }
}

impl Report {
    /// The side-by-side report: per run, per command, Linux's and this kernel's lines.
    pub fn markdown(
        &self,
        runs: &[Run],
        theirs: &BTreeMap<String, Transcript>,
        ours: &BTreeMap<String, Transcript>,
    ) -> String {
        let mut out = String::from("# cargo xtask conform: Linux 6.1 and this kernel, side by side\n\n");
        let _ = writeln!(
            out,
            "{} lines: {} identical, {} expected differences, {} unexpected\n",
            self.lines,
            self.identical,
            self.expected,
            self.unexpected.len()
        );
        for entry in &self.stale {
            let _ = writeln!(out, "- stale expected difference (no longer occurs): {entry}");
        }
        let empty = Transcript::default();
        for run in runs {
            let a = theirs.get(&run.name).unwrap_or(&empty);
            let b = ours.get(&run.name).unwrap_or(&empty);
            let _ =
                writeln!(out, "\n## {}\n\n| Linux 6.1 | this kernel | verdict |\n|---|---|---|", run.name);
            for index in 0..a.blocks.len().max(b.blocks.len()) {
                let (ba, bb) = (a.blocks.get(index), b.blocks.get(index));
                let command = ba.or(bb).map_or("", |b| b.command.as_str());
                let verdict = match self.verdicts.get(&(run.name.clone(), index)) {
                    Some(Verdict::Identical) => "same".to_string(),
                    Some(Verdict::Expected(reason)) => format!("expected: {}", reason.replace('|', "\\|")),
                    Some(Verdict::Unexpected) => "**UNEXPECTED**".to_string(),
                    Some(Verdict::NotRunnable) => "not runnable on this kernel yet".to_string(),
                    None => "not compared".to_string(),
                };
                let _ = writeln!(out, "| **{}** | | {verdict} |", cell(&format!("# {command}")));
                let (la, lb) = (ba.map_or(&[][..], |b| &b.lines[..]), bb.map_or(&[][..], |b| &b.lines[..]));
                for i in 0..la.len().max(lb.len()) {
                    let (x, y) = (la.get(i).map_or("", String::as_str), lb.get(i).map_or("", String::as_str));
                    let mark = if x == y { "" } else { "≠" };
                    let _ = writeln!(out, "| {} | {} | {mark} |", cell(x), cell(y));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_timings_ls_and_kernel_addresses_only() {
        assert_eq!(
            normalise("1048576 bytes (1.0MB) copied, 0.0123 seconds, 81.2MB/s"),
            "1048576 bytes (1.0MB) copied, <time>"
        );
        assert_eq!(
            normalise("crw-rw----    1 root     kmem       1,   1 Jan  1 00:00 /dev/mem"),
            "crw-rw---- 1 root kmem 1, 1 /dev/mem"
        );
        assert_eq!(normalise("crw-rw---- 1 root kmem 1, 1 /dev/mem"), "crw-rw---- 1 root kmem 1, 1 /dev/mem");
        assert_eq!(normalise("  01000000-01e00000 : Kernel code"), "  <address> : Kernel code");
        assert_eq!(normalise("000a0000-000bffff : PCI Bus 0000:00"), "000a0000-000bffff : PCI Bus 0000:00");
        assert_eq!(normalise("00000400  f8 03"), "00000400  f8 03");
    }

    #[test]
    fn transcripts_between_markers() {
        let log = "boot noise\n# echo @@@ BEGIN 00-a.root\n@@@ BEGIN 00-a.root\n# id\nuid=0\n# echo $?\n0\n@@@ TIME 7\n\
                   # echo @@@ END 00-a.root\n@@@ END 00-a.root\n# poweroff\n";
        let runs = parse_raw(log);
        let t = &runs["00-a.root"];
        assert_eq!(t.blocks.len(), 1);
        assert_eq!(
            t.blocks[0],
            Block { command: "id".into(), lines: vec!["uid=0".into(), "$? = 0".into()], nanos: None }
        );
        let dd =
            "@@@ BEGIN r\n# dd\n1+0 records out\n512 bytes (512B) copied, 0.1 seconds, 5KB/s\n@@@ END r\n";
        assert_eq!(parse_transcript(dd)["r"].blocks[0].lines, ["1+0 records out"]);
        assert_eq!(parse_raw(dd)["r"].blocks[0].lines.len(), 2);
    }

    #[test]
    fn differences_expected_unexpected_and_stale() {
        let runs = vec![Run { name: "00-a.operator".into(), commands: vec![] }];
        let t = |lines: &[&str]| {
            let mut map = BTreeMap::new();
            map.insert(
                "00-a.operator".to_string(),
                Transcript {
                    blocks: vec![
                        Block {
                            command: "runas operator id".into(),
                            lines: vec!["same".into()],
                            nanos: None,
                        },
                        Block {
                            command: "runas operator cat /x".into(),
                            lines: lines.iter().map(|s| s.to_string()).collect(),
                            nanos: None,
                        },
                    ],
                },
            );
            map
        };
        let expected = parse_expected("# c\na.* | cat * | reason one\n* | ls | never\n").unwrap();
        let report = compare(&runs, &t(&["1", "2"]), &t(&["1", "3", "4"]), &expected);
        assert_eq!((report.lines, report.identical, report.expected), (4, 2, 2));
        assert!(report.unexpected.is_empty());
        assert_eq!(report.stale, ["* | ls | never"]);
        let report = compare(&runs, &t(&["1"]), &t(&["2"]), &expected[1..]);
        assert_eq!(report.unexpected.len(), 1);
        assert!(parse_expected("no reason here\n").is_err());
        let report = compare(&runs, &t(&["1"]), &t(&["sh: cat: not found"]), &expected[1..]);
        assert!(report.unexpected.is_empty());
        assert_eq!(report.not_runnable.len(), 1);
        assert_eq!((report.lines, report.identical), (1, 1));
    }

    #[test]
    fn globs() {
        assert!(glob("mem.*", "mem.root"));
        assert!(!glob("mem.*", "port.root"));
        assert!(glob("hexdump * /dev/kmem", "hexdump -C -n 16 /dev/kmem"));
        assert!(glob("*", ""));
        assert!(!glob("a", "ab"));
    }
}
