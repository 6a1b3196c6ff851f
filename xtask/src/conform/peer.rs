//! The Linux peer: Debian's kernel, cached, and an initramfs holding busybox, the init
//! script and the scenarios; booted on the same QEMU machine as this kernel.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Run, cache_dir, conform_dir, file_name};
use crate::cpio::Archive;
use crate::qemu::Qemu;

/// The Linux run, scenarios and boot included, is killed after this long.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// Debian's kernel image, fetched and unpacked once.
pub fn kernel() -> Result<PathBuf> {
    let dir = cache_dir();
    let unpacked = dir.join("pkg");
    if let Some(vmlinuz) = find_vmlinuz(&unpacked) {
        return Ok(vmlinuz);
    }
    std::fs::create_dir_all(&dir)?;
    eprintln!("xtask: fetching Debian's linux-image-amd64 into {}", dir.display());
    apt_download(&dir, "linux-image-amd64")?;
    let meta = newest(&dir, "linux-image-amd64_")?;
    let depends = run_capture(Command::new("dpkg-deb").arg("-f").arg(&meta).arg("Depends"))?;
    let package = depends
        .split([',', ' '])
        .find(|word| word.starts_with("linux-image-"))
        .context("linux-image-amd64 names no versioned package")?
        .to_string();
    apt_download(&dir, &package)?;
    let deb = newest(&dir, &format!("{package}_"))?;
    let status = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked).status()?;
    if !status.success() {
        bail!("dpkg-deb -x {} failed", deb.display());
    }
    find_vmlinuz(&unpacked).context("no boot/vmlinuz-* in the package")
}

fn find_vmlinuz(unpacked: &Path) -> Option<PathBuf> {
    std::fs::read_dir(unpacked.join("boot"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| file_name(p).starts_with("vmlinuz-"))
}

fn apt_download(dir: &Path, package: &str) -> Result<()> {
    let status = Command::new("apt-get").arg("download").arg(package).current_dir(dir).status()?;
    if !status.success() {
        bail!("apt-get download {package} failed (is this a Debian host with its package lists?)");
    }
    Ok(())
}

fn newest(dir: &Path, prefix: &str) -> Result<PathBuf> {
    let mut debs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| file_name(p).starts_with(prefix) && file_name(p).ends_with(".deb"))
        .collect();
    debs.sort();
    debs.pop().with_context(|| format!("no {prefix}*.deb in {}", dir.display()))
}

fn run_capture(command: &mut Command) -> Result<String> {
    let output = command.output()?;
    if !output.status.success() {
        bail!("{command:?} failed");
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The initramfs for these runs, written under the cache directory.
pub fn initramfs(runs: &[Run]) -> Result<PathBuf> {
    let busybox =
        std::fs::read("/bin/busybox").context("reading /bin/busybox (apt-get install busybox-static)")?;
    let dir = conform_dir();
    let read = |name: &str| std::fs::read(dir.join(name)).with_context(|| format!("tests/conform/{name}"));
    let mut archive = Archive::default();
    for (name, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("dev", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("tmp", 0o1777),
        ("conform", 0o755),
    ] {
        archive.dir(name, mode);
    }
    archive.file("init", 0o755, &read("init.sh")?);
    archive.file("bin/busybox", 0o755, &busybox);
    for tool in ["runas", "inb", "outb"] {
        archive.file(&format!("bin/{tool}"), 0o755, &read(tool)?);
    }
    // The project's test programs, the same binaries as this kernel's /bin.
    for program in crate::ramdisk::userland_programs()? {
        let name = file_name(&program);
        archive.file(&format!("bin/{name}"), 0o755, &std::fs::read(&program)?);
    }
    let (passwd, group) = crate::cpio::passwd_and_group();
    archive.file("etc/passwd", 0o644, passwd.as_bytes());
    archive.file("etc/group", 0o644, group.as_bytes());
    for run in runs {
        let mut text = run.commands.join("\n");
        text.push('\n');
        archive.file(&format!("conform/{}.run", run.name), 0o644, text.as_bytes());
    }
    let path = cache_dir().join("initramfs.cpio");
    std::fs::create_dir_all(cache_dir())?;
    std::fs::write(&path, archive.finish())?;
    Ok(path)
}

pub struct Boot {
    pub output: String,
    pub seconds_to_init: f64,
}

/// Boots Linux with the initramfs; returns its console from the init's first line on.
pub fn boot(vmlinuz: &Path, initrd: &Path) -> Result<Boot> {
    let mut qemu = Qemu::machine(false);
    qemu.captured_console();
    qemu.arg("-kernel").arg(vmlinuz).arg("-initrd").arg(initrd);
    qemu.arg("-append").arg("console=ttyS0 quiet loglevel=1 panic=-1");
    let started = Instant::now();
    let mut child =
        qemu.command().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdout = child.stdout.take().context("QEMU's stdout")?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut output = Vec::new();
        let mut buf = [0u8; 4096];
        let mut init_at = None;
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            output.extend_from_slice(&buf[..n]);
            if init_at.is_none() && output.windows(8).any(|w| w == b"@@@ INIT") {
                init_at = Some(started.elapsed().as_secs_f64());
            }
        }
        let _ = sender.send((output, init_at));
    });
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (output, init_at) = receiver.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    let text = String::from_utf8_lossy(&output).replace("\r\n", "\n");
    if !text.contains("@@@ DONE") {
        bail!("the Linux peer did not finish its scenarios in {TIME_LIMIT:?}; console:\n{text}");
    }
    Ok(Boot { output: text, seconds_to_init: init_at.unwrap_or(0.0) })
}
