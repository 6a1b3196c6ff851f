//! `cargo xtask conform`: the same command lines on Linux 6.1 and on this kernel, compared
//! line by line.
//!
//! - The Linux peer (Debian's `linux-image-amd64`, fetched with `apt-get download` and
//!   unpacked with `dpkg-deb -x`) is cached under `target/linux-peer/`; its initramfs
//!   (cpio newc) is rebuilt each run from `/bin/busybox` of this host, `tests/conform/`
//!   (init script, `runas`/`inb`/`outb` stand-ins for this kernel's built-ins) and the
//!   scenarios.
//! - Scenarios are `tests/conform/*.sh`: one command line a line, `#` comments, an optional
//!   `# users: root operator` line (default: root, operator, nobody). For a user other than
//!   root each line runs as `runas USER LINE`; a line with a redirection runs as root only
//!   (the redirection is the calling shell's, so `runas` would not change who opens the
//!   file).
//! - Each side's transcript is `# LINE` followed by the line's output, between
//!   `@@@ BEGIN RUN` and `@@@ END RUN` markers; the two are normalised (timings, ls's date
//!   and column padding, load-address-dependent addresses, the kernel's name) and compared
//!   line by line, command by command. Every difference must be listed in
//!   `tests/conform/expected-differences`.

mod compare;

mod peer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::setup::{self, project_root};
use crate::{build, console};

pub use compare::{Block, Transcript};

pub const USERS: [&str; 3] = ["root", "operator", "nobody"];

/// One scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub users: Vec<String>,
    pub lines: Vec<String>,
}

/// One scenario run as one user: `NN-SCENARIO.USER` and its command lines.
#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    pub commands: Vec<String>,
}

pub fn conform_dir() -> PathBuf {
    project_root().join("tests/conform")
}

pub fn parse_scenario(name: &str, text: &str) -> Scenario {
    let mut users: Vec<String> = USERS.iter().map(|u| (*u).to_string()).collect();
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(list) = line.strip_prefix("# users:") {
            users = list.split_whitespace().map(str::to_string).collect();
        } else if !line.is_empty() && !line.starts_with('#') {
            lines.push(line.to_string());
        }
    }
    Scenario { name: name.to_string(), users, lines }
}

pub fn scenarios() -> Result<Vec<Scenario>> {
    let dir = conform_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "sh") && !path.ends_with("init.sh"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            Ok(parse_scenario(&name, &std::fs::read_to_string(path)?))
        })
        .collect()
}

/// The runs in order: each scenario as each of its users.
pub fn runs(scenarios: &[Scenario]) -> Vec<Run> {
    let mut runs = Vec::new();
    for scenario in scenarios {
        for user in &scenario.users {
            let commands = scenario
                .lines
                .iter()
                .filter_map(|line| match user.as_str() {
                    "root" => Some(line.clone()),
                    _ if line.contains('>') => None,
                    _ => Some(format!("runas {user} {line}")),
                })
                .collect();
            let name = format!("{:02}-{}.{user}", runs.len(), scenario.name);
            runs.push(Run { name, commands });
        }
    }
    runs
}

/// What this kernel's shell is given: every run between echoed markers, then `poweroff`.
pub fn our_script(runs: &[Run]) -> String {
    let mut script = String::new();
    for run in runs {
        script.push_str(&format!("echo @@@ BEGIN {}\n", run.name));
        for command in &run.commands {
            script.push_str(command);
            script.push('\n');
        }
        script.push_str(&format!("echo @@@ END {}\n", run.name));
    }
    script.push_str("poweroff\n");
    script
}

pub struct Options {
    pub release: bool,
}

pub fn run(options: &Options) -> Result<ExitCode> {
    let started = Instant::now();
    setup::ensure_toolchain()?;
    setup::ensure_qemu(false)?;
    let scenarios = scenarios()?;
    let runs = runs(&scenarios);
    let vmlinuz = peer::kernel()?;
    let initrd = peer::initramfs(&runs)?;

    eprintln!("xtask: booting the Linux peer ({})", vmlinuz.display());
    let linux = peer::boot(&vmlinuz, &initrd)?;
    let log_dir = project_root().join("target/xtask");
    std::fs::create_dir_all(&log_dir)?;
    std::fs::write(log_dir.join("conform-linux.log"), &linux.output)?;

    eprintln!("xtask: booting this kernel with the same scenarios");
    let kernel = build::kernel(options.release)?;
    let image = build::disk_image(&kernel, false)?;
    let (ours_output, status) = console::run_script(&image, our_script(&runs).as_bytes())?;
    std::fs::write(log_dir.join("conform-ours.log"), &ours_output)?;

    let theirs = compare::parse_transcript(&linux.output);
    let ours = compare::parse_transcript(&ours_output);
    let expected_path = conform_dir().join("expected-differences");
    let expected = compare::parse_expected(&std::fs::read_to_string(&expected_path).unwrap_or_default())?;
    let report = compare::compare(&runs, &theirs, &ours, &expected);
    let markdown = report.markdown(&runs, &theirs, &ours);
    let report_path = log_dir.join("conform.md");
    std::fs::write(&report_path, markdown)?;

    for line in &report.unexpected {
        println!("UNEXPECTED {line}");
    }
    for command in &report.not_runnable {
        println!("not runnable on this kernel yet (not compared): {command}");
    }
    for entry in &report.stale {
        println!("stale expected difference (no longer occurs): {entry}");
    }
    let missing: Vec<&str> =
        runs.iter().filter(|r| !ours.contains_key(&r.name)).map(|r| r.name.as_str()).collect();
    if !missing.is_empty() {
        println!("runs missing from this kernel's transcript: {}", missing.join(", "));
    }
    let missing_linux: Vec<&str> =
        runs.iter().filter(|r| !theirs.contains_key(&r.name)).map(|r| r.name.as_str()).collect();
    if !missing_linux.is_empty() {
        println!("runs missing from Linux's transcript: {}", missing_linux.join(", "));
    }
    let (_, ours_prompt) = crate::bench::boot_to_prompt(&image)?;
    let mut rows = vec![BenchRow {
        label: "QEMU start to prompt (ours) / init (Linux)",
        ours: Some(ours_prompt),
        linux: Some(linux.seconds_to_init),
        unit: "s",
    }];
    let raw_ours = compare::parse_raw(&ours_output);
    let raw_linux = compare::parse_raw(&linux.output);
    let bench_run = |map: &BTreeMap<String, Transcript>| {
        map.iter().find(|(name, _)| name.contains("-bench.")).map(|(_, t)| t.clone())
    };
    if let (Some(a), Some(b)) = (bench_run(&raw_ours), bench_run(&raw_linux)) {
        rows.extend(bench_rows(&a, &b));
    }
    print_bench(&rows);
    println!("report: {}", report_path.display());
    println!(
        "{} scenarios, {} lines: {} identical, {} expected differences, {} unexpected; {} commands not runnable here yet ({:.0} s)",
        scenarios.len(),
        report.lines,
        report.identical,
        report.expected,
        report.unexpected.len(),
        report.not_runnable.len(),
        started.elapsed().as_secs_f64()
    );
    let clean_exit = status == Some(ktest_protocol::ExitCode::Success.qemu_status());
    if !clean_exit {
        println!("this kernel did not power off cleanly (QEMU status {status:?})");
    }
    let ok = report.unexpected.is_empty() && missing.is_empty() && missing_linux.is_empty() && clean_exit;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `B bytes (H) copied, S seconds, R` (this kernel's dd): bytes and seconds.
fn dd_bytes_seconds(lines: &[String]) -> Option<(f64, f64)> {
    let line = lines.iter().find(|l| l.contains(" copied, "))?;
    let bytes: f64 = line.split_whitespace().next()?.parse().ok()?;
    let (_, tail) = line.split_once(" copied, ")?;
    let seconds: f64 = tail.split_whitespace().next()?.parse().ok()?;
    Some((bytes, seconds))
}

/// `N+M records out` and the block size of the command: bytes copied.
fn dd_bytes(block: &Block) -> Option<f64> {
    let records: f64 =
        block.lines.iter().find(|l| l.ends_with(" records out"))?.split('+').next()?.parse().ok()?;
    let bs: f64 = block.command.split_whitespace().find_map(|w| w.strip_prefix("bs="))?.parse().ok()?;
    Some(records * bs)
}

/// One row of the side-by-side table.
pub struct BenchRow {
    pub label: &'static str,
    pub ours: Option<f64>,
    pub linux: Option<f64>,
    pub unit: &'static str,
}

/// The benchmark scenario's rates: this kernel's from its dd's own timing, Linux's from
/// the init's monotonic-clock timing less the zero-length dd (the cost of starting dd).
pub fn bench_rows(ours: &Transcript, linux: &Transcript) -> Vec<BenchRow> {
    const LABELS: [&str; 5] = [
        "/dev/mem RAM 0-0x9ffff",
        "/dev/mem VGA 0xa0000-0xbffff",
        "/dev/mem ROM 0xc0000-0xfffff",
        "/dev/mem first MiB",
        "/dev/zero 1 MiB",
    ];
    let start_cost = linux.blocks.first().and_then(|b| b.nanos).unwrap_or(0);
    let rate_linux = |block: &Block| {
        let bytes = dd_bytes(block)?;
        let nanos = block.nanos?.saturating_sub(start_cost).max(1);
        (bytes > 0.0).then(|| bytes / (nanos as f64 / 1e9))
    };
    let rate_ours = |block: &Block| {
        let (bytes, seconds) = dd_bytes_seconds(&block.lines)?;
        (bytes > 0.0 && seconds > 0.0).then(|| bytes / seconds)
    };
    LABELS
        .iter()
        .enumerate()
        .map(|(i, label)| BenchRow {
            label,
            ours: ours.blocks.get(i + 1).and_then(rate_ours),
            linux: linux.blocks.get(i + 1).and_then(rate_linux),
            unit: "MB/s",
        })
        .chain(std::iter::once(BenchRow {
            label: "start to exit of `busybox true`",
            ours: None,
            linux: linux.blocks.get(LABELS.len() + 1).and_then(|b| b.nanos).map(|n| n as f64 / 1e6),
            unit: "ms",
        }))
        .collect()
}

fn print_bench(rows: &[BenchRow]) {
    println!("\nside by side (QEMU TCG, the same machine; one run each, noisy):\n");
    println!("| measurement | this kernel | Linux 6.1 | this kernel / Linux |");
    println!("|---|---|---|---|");
    for row in rows {
        let show = |v: Option<f64>| match (v, row.unit) {
            (Some(v), "MB/s") => format!("{:.1} MB/s", v / 1e6),
            (Some(v), unit) => format!("{v:.2} {unit}"),
            (None, _) => "n/a".to_string(),
        };
        let ratio = match (row.ours, row.linux) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "n/a".to_string(),
        };
        println!("| {} | {} | {} | {ratio} |", row.label, show(row.ours), show(row.linux));
    }
}

/// The path of a cached file under `target/linux-peer/`.
pub fn cache_dir() -> PathBuf {
    project_root().join("target/linux-peer")
}

pub fn file_name(path: &Path) -> String {
    path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_lines_users_and_redirections() {
        let s = parse_scenario("x", "# comment\n# users: root nobody\ncat /a\n\necho 1 > /b\n");
        assert_eq!(s.users, ["root", "nobody"]);
        assert_eq!(s.lines, ["cat /a", "echo 1 > /b"]);
        let runs = runs(&[s]);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].name, "00-x.root");
        assert_eq!(runs[0].commands, ["cat /a", "echo 1 > /b"]);
        assert_eq!(runs[1].name, "01-x.nobody");
        assert_eq!(runs[1].commands, ["runas nobody cat /a"]);
        let script = our_script(&runs);
        assert!(script.starts_with("echo @@@ BEGIN 00-x.root\ncat /a\n"));
        assert!(script.ends_with("echo @@@ END 01-x.nobody\npoweroff\n"));
    }

    #[test]
    fn bench_rates_from_both_transcripts() {
        let block = |command: &str, lines: &[&str], nanos| Block {
            command: command.into(),
            lines: lines.iter().map(|l| l.to_string()).collect(),
            nanos,
        };
        let ours = Transcript {
            blocks: vec![
                block("dd bs=4096 count=0", &[], None),
                block(
                    "dd bs=4096 count=256",
                    &["256+0 records out", "1048576 bytes (1.0MB) copied, 0.5 seconds, 2MB/s"],
                    None,
                ),
            ],
        };
        let linux = Transcript {
            blocks: vec![
                block("dd bs=4096 count=0", &["0+0 records out"], Some(1_000_000)),
                block("dd bs=4096 count=256", &["256+0 records out"], Some(3_000_000)),
                block("dd bs=4096 count=256", &["dd: x", "0+0 records out"], Some(3_000_000)),
            ],
        };
        let rows = bench_rows(&ours, &linux);
        assert_eq!(rows[0].ours, Some(2097152.0));
        assert_eq!(rows[0].linux, Some(1048576.0 / 0.002));
        assert_eq!(rows[1].ours, None);
        assert_eq!(rows[1].linux, None);
    }
}
