//! `cargo xtask fuzz`: the in-kernel fuzzer with a seed and an operation count of your
//! choice (release build by default), and optionally the host parsers' property tests
//! with many more cases than `cargo test` runs.

use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::build;
use crate::ktest::{SuiteOptions, run_suite};
use crate::setup::{self, project_root};

pub fn run(release: bool, seed: Option<u64>, operations: u64, host_cases: u32, smp: u32) -> Result<ExitCode> {
    setup::ensure_toolchain()?;
    setup::ensure_qemu(false)?;
    let seed = seed
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64));
    let mut failed = false;
    if host_cases > 0 {
        eprintln!("xtask: property tests of the parsers, {host_cases} cases each");
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(project_root())
            .env("PROPTEST_CASES", host_cases.to_string())
            .args([
                "test",
                "--release",
                "-p",
                "shell-core",
                "-p",
                "memrange",
                "-p",
                "vfs-core",
                "-p",
                "ktest-protocol",
            ])
            .status()?;
        failed |= !status.success();
    }
    eprintln!(
        "xtask: fuzzing the kernel on {smp} CPU(s): seed {seed}, {operations} operations (replay with --seed {seed})"
    );
    let fuzz = build::test_kernels(release)?
        .into_iter()
        .find(|a| a.target == "fuzz")
        .context("no fuzz kernel was built")?;
    let image = build::boot_disk(&fuzz.executable, false)?;
    let log_dir = project_root().join("target/xtask/fuzz-logs");
    std::fs::create_dir_all(&log_dir)?;
    let config = format!("name=opt/devmem/fuzz,string=seed={seed} operations={operations}");
    let cpus = smp.clamp(1, 64).to_string();
    let qemu_args = ["-fw_cfg", config.as_str(), "-smp", cpus.as_str()];
    let options = SuiteOptions {
        filter: None,
        idle_timeout: Duration::from_secs(900),
        verbose: true,
        log_dir: &log_dir,
        qemu_args: &qemu_args,
    };
    // The kernel's own lines (each result once) were echoed as they came (verbose).
    let report = run_suite("fuzz", &image, &options);
    failed |= report.error.is_some()
        || report.tests.iter().any(|t| t.outcome.is_failure())
        || report.tests.is_empty();
    if let Some(error) = &report.error {
        println!("error: {error}");
    }
    println!("serial log: {}", report.log.display());
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
