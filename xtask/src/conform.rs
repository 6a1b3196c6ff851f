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

/// The tools the scenarios use that busybox provides: on this kernel they run as
/// `busybox TOOL` in ring 3, the same binary the Linux peer runs, so what differs is the
/// kernel and not the tool. `echo` stays the shell's (it is sh's on Linux too), and so do
/// this kernel's own built-ins `runas`, `inb` and `outb` (the peer has stand-ins).
pub const BUSYBOX_APPLETS: [&str; 9] = ["cat", "chmod", "dd", "devmem", "hexdump", "id", "ls", "od", "stat"];

/// A scenario's command line as this kernel's shell runs it: busybox's applets through
/// busybox, after any `runas USER` prefix.
pub fn our_command(command: &str) -> String {
    let mut words = command.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some("runas"), Some(user), Some(rest)) => format!("runas {user} {}", our_command(rest)),
        (Some(tool), ..) if BUSYBOX_APPLETS.contains(&tool) => format!("busybox {command}"),
        _ => command.to_string(),
    }
}

/// Undoes [`our_command`] on a command line read back from this kernel's transcript.
pub fn scenario_command(command: &str) -> String {
    let mut words = command.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some("runas"), Some(user), Some(rest)) => format!("runas {user} {}", scenario_command(rest)),
        (Some("busybox"), Some(tool), _) if BUSYBOX_APPLETS.contains(&tool) => {
            command["busybox ".len()..].to_string()
        }
        _ => command.to_string(),
    }
}

/// What this kernel's shell is given: every run between echoed markers, then `poweroff`.
pub fn our_script(runs: &[Run]) -> String {
    let mut script = String::new();
    for run in runs {
        script.push_str(&format!("echo @@@ BEGIN {}\n", run.name));
        for command in &run.commands {
            script.push_str(&our_command(command));
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
    let image = build::boot_disk(&kernel, false)?;
    let script = our_script(&runs);
    std::fs::write(log_dir.join("conform-ours.script"), &script)?;
    let (ours_output, status) = console::run_script(&image, script.as_bytes())?;
    std::fs::write(log_dir.join("conform-ours.log"), &ours_output)?;

    let theirs = compare::parse_transcript(&linux.output);
    let mut ours = compare::parse_transcript(&ours_output);
    for transcript in ours.values_mut() {
        for block in &mut transcript.blocks {
            block.command = scenario_command(&block.command);
        }
    }
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
    let (_, ours_prompt) = crate::bench::boot_to_prompt(&image, 1)?;
    let mut rows = vec![BenchRow {
        label: "QEMU start to prompt (ours) / init (Linux)",
        ours: Some(ours_prompt),
        linux: Some(linux.seconds_to_init),
        limit: None,
        unit: "s",
        better: Better::Lower,
    }];
    let limits = physical_limits(options.release).unwrap_or_else(|error| {
        eprintln!("xtask: no physical limits: {error:#}");
        BTreeMap::new()
    });
    let raw_ours = compare::parse_raw(&ours_output);
    let raw_linux = compare::parse_raw(&linux.output);
    let bench_run = |map: &BTreeMap<String, Transcript>| {
        map.iter().find(|(name, _)| name.contains("-bench.")).map(|(_, t)| t.clone())
    };
    if let (Some(a), Some(b)) = (bench_run(&raw_ours), bench_run(&raw_linux)) {
        rows.extend(bench_rows(&a, &b, &limits));
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

/// memrate's `B bytes in N ns: R MB/s`: bytes per second.
fn memrate_rate(block: &Block) -> Option<f64> {
    let line = block.lines.iter().find(|l| l.contains(" bytes in ") && l.ends_with(" MB/s"))?;
    let (bytes, rest) = line.split_once(" bytes in ")?;
    let nanos: f64 = rest.split_whitespace().next()?.parse().ok()?;
    let bytes: f64 = bytes.parse().ok()?;
    (nanos > 0.0).then(|| bytes * 1e9 / nanos)
}

/// dd's `N+M records out` times the command's `bs=`: bytes copied.
fn dd_bytes(block: &Block) -> Option<f64> {
    let records: f64 =
        block.lines.iter().find(|l| l.ends_with(" records out"))?.split('+').next()?.parse().ok()?;
    let bs: f64 = block.command.split_whitespace().find_map(|w| w.strip_prefix("bs="))?.parse().ok()?;
    Some(records * bs)
}

/// syscalls' `N getppid calls in U us: T ns each`: nanoseconds per call.
fn syscall_nanos(block: &Block) -> Option<f64> {
    let line = block.lines.iter().find(|l| l.ends_with(" ns each"))?;
    let (count, rest) = line.split_once(" getppid calls in ")?;
    let micros: f64 = rest.split_whitespace().next()?.parse().ok()?;
    let count: f64 = count.parse().ok()?;
    (count > 0.0).then(|| micros * 1000.0 / count)
}

/// Which way is better for a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One row of the side-by-side table; `limit` is the physical limit of the workload on
/// this machine (`bench: limit_*` of the benchmark kernel), where one applies.
pub struct BenchRow {
    pub label: &'static str,
    pub ours: Option<f64>,
    pub linux: Option<f64>,
    pub limit: Option<f64>,
    pub unit: &'static str,
    pub better: Better,
}

/// The benchmark scenario's rows, in bench.sh's order: memrate's rates (the physical
/// limit named beside each), the system-call round trip, start to exit.
pub fn bench_rows(ours: &Transcript, linux: &Transcript, limits: &BTreeMap<String, f64>) -> Vec<BenchRow> {
    const RATES: [(&str, Option<&str>); 6] = [
        ("/dev/mem RAM 0-0x9ffff", Some("limit_ram_copy")),
        ("/dev/mem VGA 0xa0000-0xbffff", Some("limit_vga_loads")),
        ("/dev/mem ROM 0xc0000-0xfffff", Some("limit_rom_copy")),
        ("/dev/mem first MiB", Some("limit_first_mib")),
        ("/dev/zero 1 MiB", Some("limit_ram_copy")),
        ("mmap + touch, HPET page", Some("limit_hpet_loads")),
    ];
    let mut rows: Vec<BenchRow> = RATES
        .iter()
        .enumerate()
        .map(|(i, (label, limit))| BenchRow {
            label,
            ours: ours.blocks.get(i).and_then(memrate_rate),
            linux: linux.blocks.get(i).and_then(memrate_rate),
            limit: limit.and_then(|name| limits.get(name).copied()),
            unit: "MB/s",
            better: Better::Higher,
        })
        .collect();
    rows.push(BenchRow {
        label: "system call round trip (getppid)",
        ours: ours.blocks.get(RATES.len()).and_then(syscall_nanos),
        linux: linux.blocks.get(RATES.len()).and_then(syscall_nanos),
        limit: None,
        unit: "ns",
        better: Better::Lower,
    });
    const DD: [(&str, Option<&str>); 4] = [
        ("busybox dd RAM 0-0x9ffff, whole run", Some("limit_ram_copy")),
        ("busybox dd VGA 0xa0000-0xbffff, whole run", Some("limit_vga_loads")),
        ("busybox dd ROM 0xc0000-0xfffff, whole run", Some("limit_rom_copy")),
        ("busybox dd first MiB, whole run", Some("limit_first_mib")),
    ];
    let dd_rate = |block: &Block| {
        let bytes = dd_bytes(block)?;
        let nanos = block.nanos? as f64;
        (bytes > 0.0 && nanos > 0.0).then(|| bytes * 1e9 / nanos)
    };
    for (i, (label, limit)) in DD.iter().enumerate() {
        let at = RATES.len() + 2 + i;
        rows.push(BenchRow {
            label,
            ours: ours.blocks.get(at).and_then(dd_rate),
            linux: linux.blocks.get(at).and_then(dd_rate),
            limit: limit.and_then(|name| limits.get(name).copied()),
            unit: "MB/s",
            better: Better::Higher,
        });
    }
    rows.push(BenchRow {
        label: "start to exit of /bin/true",
        ours: ours.blocks.get(RATES.len() + 1).and_then(|b| b.nanos).map(|n| n as f64 / 1e6),
        linux: linux.blocks.get(RATES.len() + 1).and_then(|b| b.nanos).map(|n| n as f64 / 1e6),
        limit: None,
        unit: "ms",
        better: Better::Lower,
    });
    rows
}

fn print_bench(rows: &[BenchRow]) {
    println!("\nside by side (QEMU TCG, the same machine; one run each, noisy):\n");
    println!(
        "| measurement | this kernel | Linux 6.1 | vs Linux (>1: faster) | physical limit | this kernel / limit |"
    );
    println!("|---|---|---|---|---|---|");
    for row in rows {
        let show = |v: Option<f64>| match (v, row.unit) {
            (Some(v), "MB/s") => format!("{:.1} MB/s", v / 1e6),
            (Some(v), unit) => format!("{v:.2} {unit}"),
            (None, _) => "n/a".to_string(),
        };
        let speed = match (row.ours, row.linux, row.better) {
            (Some(a), Some(b), Better::Higher) if b > 0.0 => format!("{:.2}", a / b),
            (Some(a), Some(b), Better::Lower) if a > 0.0 => format!("{:.2}", b / a),
            _ => "n/a".to_string(),
        };
        let of_limit = match (row.ours, row.limit) {
            (Some(a), Some(l)) if l > 0.0 => format!("{:.2}", a / l),
            _ => "n/a".to_string(),
        };
        println!(
            "| {} | {} | {} | {speed} | {} | {of_limit} |",
            row.label,
            show(row.ours),
            show(row.linux),
            show(row.limit)
        );
    }
}

/// The benchmark kernel's `physical_limits` test, booted alone: `bench: limit_* B/s`.
fn physical_limits(release: bool) -> Result<BTreeMap<String, f64>> {
    use crate::ktest::{SuiteOptions, run_suite};
    let bench = build::test_kernels(release)?
        .into_iter()
        .find(|a| a.target == "bench")
        .context("no bench kernel was built")?;
    let image = build::boot_disk(&bench.executable, false)?;
    let log_dir = project_root().join("target/xtask/bench-logs");
    std::fs::create_dir_all(&log_dir)?;
    let options = SuiteOptions {
        filter: Some("physical_limits"),
        idle_timeout: std::time::Duration::from_secs(120),
        verbose: false,
        log_dir: &log_dir,
        qemu_args: &[],
    };
    let report = run_suite("bench-limits", &image, &options);
    if report.error.is_some() || report.tests.iter().any(|t| t.outcome.is_failure()) {
        anyhow::bail!("the benchmark kernel failed; see {}", report.log.display());
    }
    let log = std::fs::read_to_string(&report.log)?;
    Ok(crate::bench::parse_bench_lines(&log).into_iter().map(|(name, value, _)| (name, value)).collect())
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
        assert!(script.starts_with("echo @@@ BEGIN 00-x.root\nbusybox cat /a\n"));
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
                block("memrate /dev/mem 0 0xa0000", &["200000000 bytes in 100000000 ns: 2000.0 MB/s"], None),
                block("memrate /dev/mem 0xa0000 0x20000", &["memrate: read: Bad address"], None),
            ],
        };
        let linux = Transcript {
            blocks: vec![block("memrate /dev/mem 0 0xa0000", &["100 bytes in 1000 ns: 100.0 MB/s"], None)],
        };
        let limits = BTreeMap::from([(String::from("limit_ram_copy"), 4e9)]);
        let rows = bench_rows(&ours, &linux, &limits);
        assert_eq!(rows[0].ours, Some(2e9));
        assert_eq!(rows[0].linux, Some(1e8));
        assert_eq!(rows[0].limit, Some(4e9));
        assert_eq!((rows[1].ours, rows[1].linux, rows[1].limit), (None, None, None));
        let transcript = compare::parse_raw(
            "@@@ BEGIN b\n# time /bin/true\nreal\t0m0.001500s\n# syscalls 10\n10 getppid calls in 2 us: 200 ns each\n@@@ END b\n",
        );
        let blocks = &transcript["b"].blocks;
        assert_eq!(blocks[0].nanos, Some(1_500_000));
        assert!(blocks[0].lines.is_empty(), "the time line is the measurement, not output");
        assert_eq!(syscall_nanos(&blocks[1]), Some(200.0));
        assert_eq!(
            our_command("runas nobody hexdump -C /dev/mem"),
            "runas nobody busybox hexdump -C /dev/mem"
        );
        assert_eq!(our_command("echo $?"), "echo $?");
        assert_eq!(
            scenario_command("runas nobody busybox hexdump -C /dev/mem"),
            "runas nobody hexdump -C /dev/mem"
        );
        assert_eq!(scenario_command("busybox true"), "busybox true");
    }
}
