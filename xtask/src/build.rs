//! Building kernels (with cargo, for x86_64-unknown-none) and their disk images (with
//! the `boot` tool).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::setup::project_root;

pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// `--bin-dir`: a folder whose files the ramdisk adds to /bin (set once, by `run`/`test`).
pub static BIN_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
pub use ktest_protocol::KERNEL_BASE;

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(project_root());
    command
}

/// A kernel executable cargo produced, with the name of the target it came from.
#[derive(Clone, Debug)]
pub struct KernelArtifact {
    /// `kernel` for the library's unit tests, else the integration kernel's name.
    pub target: String,
    pub executable: PathBuf,
}

/// Runs a cargo build with JSON messages and returns the executables it produced.
/// Compiler diagnostics are rendered to the terminal as usual.
fn cargo_executables(mut command: Command) -> Result<Vec<KernelArtifact>> {
    command.arg("--message-format=json-render-diagnostics").stdout(Stdio::piped());
    let mut child = command.spawn().context("running cargo")?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let mut artifacts = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if let Some(executable) = message["executable"].as_str() {
            let target = message["target"]["name"].as_str().unwrap_or("?").to_string();
            artifacts.push(KernelArtifact { target, executable: PathBuf::from(executable) });
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    Ok(artifacts)
}

fn profile_args(command: &mut Command, release: bool) {
    command.args(["--target", KERNEL_TARGET]);
    if release {
        command.arg("--release");
    }
}

/// Builds the kernel binary and returns its ELF (with debug info).
pub fn kernel(release: bool) -> Result<PathBuf> {
    let mut command = cargo();
    command.args(["build", "--package", "kernel", "--bin", "kernel"]);
    profile_args(&mut command, release);
    let artifacts = cargo_executables(command)?;
    artifacts.into_iter().map(|a| a.executable).next().context("cargo built no kernel executable")
}

/// Builds the test kernels: the kernel library's unit tests and every integration kernel
/// in tests/.
pub fn test_kernels(release: bool) -> Result<Vec<KernelArtifact>> {
    let mut command = cargo();
    command.args(["test", "--no-run", "--tests", "--package", "kernel", "--package", "kernel-tests"]);
    profile_args(&mut command, release);
    cargo_executables(command)
}

/// What QEMU boots: a disk image, and the ramdisk beside it, which QEMU hands to the
/// kernel through fw_cfg (`-fw_cfg name=opt/devmem/ramdisk,file=...`) and the kernel
/// reads by DMA. Inside the image the BIOS bootloader would read it at about 0.7 s per
/// MiB under TCG; this way a boot to the prompt takes about one second.
#[derive(Clone, Debug)]
pub struct BootDisk {
    pub image: PathBuf,
    pub ramdisk: Option<PathBuf>,
    pub uefi: bool,
}

/// The disk image for `kernel` (without the ramdisk) and the ramdisk to pass beside it.
pub fn boot_disk(kernel: &Path, uefi: bool) -> Result<BootDisk> {
    let ramdisk = crate::ramdisk::build(BIN_DIR.get().map(PathBuf::as_path))?;
    Ok(BootDisk { image: make_image(kernel, uefi, None)?, ramdisk: Some(ramdisk.plain), uefi })
}

/// A BIOS disk without the ramdisk, for test kernels that run no programs.
pub fn boot_disk_without_ramdisk(kernel: &Path) -> Result<BootDisk> {
    Ok(BootDisk { image: make_image(kernel, false, None)?, ramdisk: None, uefi: false })
}

/// A disk image that carries the ramdisk itself, for booting without xtask (`cargo
/// xtask image`, real hardware, another emulator): the bootloader loads it.
pub fn standalone_disk(kernel: &Path, uefi: bool) -> Result<BootDisk> {
    let ramdisk = crate::ramdisk::build(BIN_DIR.get().map(PathBuf::as_path))?;
    Ok(BootDisk { image: make_image(kernel, uefi, Some(&ramdisk.compressed))?, ramdisk: None, uefi })
}

fn make_image(kernel: &Path, uefi: bool, ramdisk: Option<&Path>) -> Result<PathBuf> {
    let tool = boot_tool()?;
    let mut command = Command::new(&tool);
    command.arg(kernel);
    if let Some(ramdisk) = ramdisk {
        command.arg("--ramdisk").arg(ramdisk);
    }
    if uefi {
        command.arg("--uefi");
    }
    let output =
        command.stderr(Stdio::inherit()).output().with_context(|| format!("running {}", tool.display()))?;
    if !output.status.success() {
        bail!("making the disk image for {} failed", kernel.display());
    }
    Ok(PathBuf::from(String::from_utf8(output.stdout)?.trim()))
}

/// Builds the image tool (always in the dev profile: the `bootloader` build script
/// rebuilds its boot stages for every profile, which takes minutes).
fn boot_tool() -> Result<PathBuf> {
    let tool = project_root().join("target/debug/boot");
    if !tool.exists() {
        eprintln!(
            "xtask: building the bootloader's BIOS and UEFI stages for the image tool; \
             the first time takes about 3 minutes and 2 GB of memory..."
        );
    }
    let status = cargo().args(["build", "--quiet", "--package", "boot"]).status().context("running cargo")?;
    if !status.success() {
        bail!("building the image tool (boot/) failed");
    }
    Ok(tool)
}
