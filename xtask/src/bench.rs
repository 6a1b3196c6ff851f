//! `cargo xtask bench`: boots the benchmark kernel and the shell several times and
//! reports medians, ratios beside the absolute numbers (these machines are noisy:
//! compare ratios), and the targets. Results also go to target/xtask/bench.json.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::build::{self, BootDisk};
use crate::ktest::{SuiteOptions, run_suite};
use crate::qemu::Qemu;
use crate::setup::{self, project_root};

/// Median of the samples (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

/// `bench: NAME VALUE UNIT` lines of a serial log.
pub fn parse_bench_lines(log: &str) -> Vec<(String, f64, String)> {
    log.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("bench: ")?;
            let mut words = rest.split_whitespace();
            let name = words.next()?.to_string();
            let value = words.next()?.parse().ok()?;
            let unit = words.next()?.to_string();
            Some((name, value, unit))
        })
        .collect()
}

/// Seconds from QEMU's start to the kernel's first line, and to the shell's first prompt,
/// on `cpus` CPUs: the first is firmware and bootloader, the difference the kernel's own
/// start-up (with the APs' bring-up).
pub fn boot_to_prompt(image: &BootDisk, cpus: u32) -> Result<(f64, f64)> {
    let mut qemu = Qemu::new(image, false);
    qemu.captured_console().arg("-smp").arg(cpus.to_string());
    let started = Instant::now();
    let mut child =
        qemu.command().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdout = child.stdout.take().context("QEMU's stdout")?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let mut first_line = None;
    let result = loop {
        if started.elapsed() > Duration::from_secs(60) {
            break None;
        }
        match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break None,
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                if first_line.is_none() && seen.windows(13).any(|w| w == b"devmem kernel") {
                    first_line = Some(started.elapsed().as_secs_f64());
                }
                if seen.windows(3).any(|w| w == b"\n# ") {
                    let prompt = started.elapsed().as_secs_f64();
                    break Some((first_line.unwrap_or(prompt), prompt));
                }
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    result.context("the shell never prompted")
}

fn human_rate(bytes_per_second: f64) -> String {
    format!("{:.1} MB/s", bytes_per_second / 1e6)
}

/// The benchmark kernel's numbers from one boot, under `suffix` ("" for the default
/// machine).
fn bench_boot(
    image: &BootDisk,
    log_dir: &std::path::Path,
    qemu_args: &[&str],
    suffix: &str,
    samples: &mut BTreeMap<String, (Vec<f64>, String)>,
) -> Result<()> {
    bench_boot_filtered(image, log_dir, qemu_args, suffix, None, samples)
}

fn bench_boot_filtered(
    image: &BootDisk,
    log_dir: &std::path::Path,
    qemu_args: &[&str],
    suffix: &str,
    filter: Option<&str>,
    samples: &mut BTreeMap<String, (Vec<f64>, String)>,
) -> Result<()> {
    let options =
        SuiteOptions { filter, idle_timeout: Duration::from_secs(600), verbose: false, log_dir, qemu_args };
    let report = run_suite(&format!("bench{suffix}"), image, &options);
    if report.error.is_some()
        || report.tests.iter().any(|t| t.outcome.is_failure())
        || report.tests.is_empty()
    {
        bail!("the benchmark kernel failed; see {}", report.log.display());
    }
    let log = std::fs::read_to_string(&report.log)?;
    for (name, value, unit) in parse_bench_lines(&log) {
        samples.entry(format!("{name}{suffix}")).or_insert_with(|| (Vec::new(), unit)).0.push(value);
    }
    Ok(())
}

pub fn run(release: bool, runs: usize) -> Result<ExitCode> {
    setup::ensure_toolchain()?;
    setup::ensure_qemu(true)?;
    let profile = if release { "release" } else { "debug" };
    eprintln!("xtask: building the benchmark kernel and the kernel ({profile})");
    let bench = build::test_kernels(release)?
        .into_iter()
        .find(|a| a.target == "bench")
        .context("no bench kernel was built")?;
    let bench_image = build::boot_disk(&bench.executable, false)?;
    // The same kernel on a machine without QEMU's emulated VGA window at 0xA0000 (UEFI
    // boots without a display device; the BIOS bootloader needs one).
    let bench_uefi_image = build::boot_disk(&bench.executable, true)?;
    let ovmf = setup::ovmf().context("OVMF is needed for the machine without VGA")?;
    let ovmf = ovmf.to_string_lossy().into_owned();
    let no_vga_args = ["-bios", ovmf.as_str(), "-vga", "none"];
    let kernel_image = build::boot_disk(&build::kernel(release)?, false)?;
    let log_dir = project_root().join("target/xtask/bench-logs");
    std::fs::create_dir_all(&log_dir)?;

    let mut samples: BTreeMap<String, (Vec<f64>, String)> = BTreeMap::new();
    for run in 1..=runs {
        eprintln!("xtask: run {run} of {runs}");
        for (cpus, suffix) in [(1, ""), (4, "_smp4")] {
            let (first_line, prompt) = boot_to_prompt(&kernel_image, cpus)?;
            samples
                .entry(format!("boot_to_first_line{suffix}"))
                .or_insert_with(|| (Vec::new(), "s".into()))
                .0
                .push(first_line);
            samples
                .entry(format!("boot_to_prompt{suffix}"))
                .or_insert_with(|| (Vec::new(), "s".into()))
                .0
                .push(prompt);
        }
        bench_boot(&bench_image, &log_dir, &[], "", &mut samples)?;
        bench_boot(&bench_uefi_image, &log_dir, &no_vga_args, "_novga", &mut samples)?;
        // MEMRANGE_SET on four CPUs: every SET is a rendezvous of all of them.
        bench_boot_filtered(
            &bench_image,
            &log_dir,
            &["-smp", "4"],
            "_smp4",
            Some("memrange_set_and_remove"),
            &mut samples,
        )?;
    }

    let medians: BTreeMap<&str, f64> = samples.iter().map(|(k, (v, _))| (k.as_str(), median(v))).collect();
    let get = |name: &str| medians.get(name).copied().unwrap_or(0.0);
    let mem_vs_zero = get("dev_mem_read") / get("dev_zero_read").max(1.0);
    let mem_vs_memcpy = get("dev_mem_read") / get("memcpy").max(1.0);
    let zero_vs_memcpy = get("dev_zero_read") / get("memcpy").max(1.0);

    println!("\nbenchmarks: medians of {runs} runs, {profile} build, QEMU TCG\n");
    println!("{:<24} {:>16}   ratio / target", "measurement", "median");
    let line = |name: &str, value: String, note: String| println!("{name:<24} {value:>16}   {note}");
    let boot = get("boot_to_prompt");
    line(
        "QEMU start to prompt",
        format!("{boot:.2} s"),
        format!("target <= 2 s: {}", if boot <= 2.0 { "met" } else { "MISSED" }),
    );
    line(
        "  to first kernel line",
        format!("{:.2} s", get("boot_to_first_line")),
        format!(
            "firmware + bootloader; then {:.0} ms of kernel start-up",
            (boot - get("boot_to_first_line")) * 1000.0
        ),
    );
    let boot4 = get("boot_to_prompt_smp4");
    line(
        "  on 4 CPUs",
        format!("{boot4:.2} s"),
        format!(
            "target < 1.5 s: {}; kernel start-up {:.0} ms, the APs' bring-up included",
            if boot4 < 1.5 { "met" } else { "MISSED" },
            (boot4 - get("boot_to_first_line_smp4")) * 1000.0
        ),
    );
    line(
        "/dev/mem read (1st MiB)",
        human_rate(get("dev_mem_read")),
        format!(
            "{mem_vs_zero:.2} x /dev/zero (target >= 0.80: {}), {mem_vs_memcpy:.2} x memcpy",
            if mem_vs_zero >= 0.8 { "met" } else { "MISSED" }
        ),
    );
    line("/dev/zero read", human_rate(get("dev_zero_read")), format!("{zero_vs_memcpy:.2} x memcpy"));
    line(
        "  busybox dd, ring 3",
        human_rate(get("busybox_dd_dev_mem")),
        format!(
            "/dev/mem 1st MiB, bs=64K, start-up excluded; {:.2} x the kernel's own reads",
            get("busybox_dd_dev_mem") / get("dev_mem_read").max(1.0)
        ),
    );
    line(
        "program start to exit",
        format!("{:.0} us", get("program_start_to_exit")),
        String::from("/bin/true (static musl)"),
    );
    line(
        "system calls",
        format!("{:.2} M/s", get("syscall_round_trips") / 1e6),
        String::from("getppid round trips from ring 3"),
    );
    let novga_ratio = get("dev_mem_read_novga") / get("dev_zero_read_novga").max(1.0);
    line(
        "  without a VGA window:",
        String::new(),
        String::from("UEFI, -vga none (QEMU emulates 0xA0000-0xBFFFF access by access)"),
    );
    line(
        "  /dev/mem read",
        human_rate(get("dev_mem_read_novga")),
        format!(
            "{novga_ratio:.2} x /dev/zero (target >= 0.80: {})",
            if novga_ratio >= 0.8 { "met" } else { "MISSED" }
        ),
    );
    line("  /dev/zero read", human_rate(get("dev_zero_read_novga")), String::new());
    line("memcpy (in kernel)", human_rate(get("memcpy")), String::from("1.00"));
    line("/dev/port read", format!("{:.0} B/s", get("dev_port_read")), String::new());
    line(
        "MEMRANGE_SET+REMOVE",
        format!("{:.0} us", get("memrange_set_remove")),
        String::from("per round trip, 1 CPU"),
    );
    line(
        "  on 4 CPUs",
        format!("{:.0} us", get("memrange_set_remove_smp4")),
        format!(
            "{:.1} x 1 CPU: each SET and REMOVE is a rendezvous of every CPU",
            get("memrange_set_remove_smp4") / get("memrange_set_remove").max(1.0)
        ),
    );
    line("frame alloc+free", format!("{:.2} M/s", get("frame_alloc_free") / 1e6), String::new());
    line(
        "heap alloc+free",
        format!("{:.2} M/s", get("heap_alloc_free") / 1e6),
        String::from("64-byte blocks"),
    );

    let json_results: Vec<String> = samples
        .iter()
        .map(|(name, (values, unit))| {
            let list: Vec<String> = values.iter().map(|v| format!("{v}")).collect();
            format!(
                "    \"{name}\": {{ \"median\": {}, \"unit\": \"{unit}\", \"samples\": [{}] }}",
                median(values),
                list.join(", ")
            )
        })
        .collect();
    let json = format!(
        "{{\n  \"runs\": {runs},\n  \"profile\": \"{profile}\",\n  \"results\": {{\n{}\n  }},\n  \"ratios\": {{ \"dev_mem_vs_dev_zero\": {mem_vs_zero}, \"dev_mem_vs_dev_zero_novga\": {novga_ratio}, \"dev_mem_vs_memcpy\": {mem_vs_memcpy}, \"dev_zero_vs_memcpy\": {zero_vs_memcpy} }}\n}}\n",
        json_results.join(",\n")
    );
    let path = project_root().join("target/xtask/bench.json");
    std::fs::write(&path, json)?;
    println!("\nresults: {}", path.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_lines() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let lines = parse_bench_lines("noise\nbench: memcpy 1234 B/s\nbench: broken\n  bench: x 5 us\n");
        assert_eq!(lines, vec![("memcpy".into(), 1234.0, "B/s".into()), ("x".into(), 5.0, "us".into())]);
    }
}
