//! The ramdisk: a gzip-compressed cpio archive (the "newc" format of `cpio -H newc`,
//! as Linux's initramfs) that the bootloader loads beside the kernel. The kernel shows its files
//! read-only under /bin and /etc.
//!
//! It holds Debian's static busybox, the project's test programs (userland/, built here
//! with musl-gcc and for x86_64-unknown-linux-musl), /etc/passwd and /etc/group for this
//! kernel's users, and every file of `--bin-dir`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

use crate::cpio::Archive;
use crate::setup::{self, project_root};

/// One file of the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive, without a leading slash.
    pub name: String,
    /// st_mode: file type and permission bits.
    pub mode: u32,
    pub data: Vec<u8>,
}

const DIRECTORY: u32 = 0o040_000;
const REGULAR: u32 = 0o100_000;

/// Writes `entries` as a newc archive.
fn newc(entries: &[Entry]) -> Vec<u8> {
    let mut archive = Archive::default();
    for entry in entries {
        archive.entry(&entry.name, entry.mode, &entry.data);
    }
    archive.finish()
}

/// The ramdisk's two files: the same archive as is, and gzip-compressed.
#[derive(Clone, Debug)]
pub struct Ramdisk {
    /// For fw_cfg, which QEMU reads by DMA: as is, so the kernel has nothing to inflate.
    pub plain: PathBuf,
    /// For inside a disk image, which the BIOS loader reads slowly.
    pub compressed: PathBuf,
}

/// Builds the ramdisk once per xtask run (with `bin_dir`'s files added to /bin) and
/// returns its files.
pub fn build(bin_dir: Option<&Path>) -> Result<Ramdisk> {
    static BUILT: OnceLock<Ramdisk> = OnceLock::new();
    if let Some(path) = BUILT.get() {
        return Ok(path.clone());
    }
    setup::ensure_userland_tools()?;
    let out_dir = project_root().join("target/userland");
    std::fs::create_dir_all(&out_dir)?;
    let mut entries = vec![
        Entry { name: "bin".into(), mode: DIRECTORY | 0o755, data: Vec::new() },
        Entry { name: "etc".into(), mode: DIRECTORY | 0o755, data: Vec::new() },
    ];
    let (passwd, group) = crate::cpio::passwd_and_group();
    entries.push(Entry { name: "etc/group".into(), mode: REGULAR | 0o644, data: group.into_bytes() });
    entries.push(Entry { name: "etc/passwd".into(), mode: REGULAR | 0o644, data: passwd.into_bytes() });
    let busybox = std::fs::read(setup::BUSYBOX).with_context(|| format!("reading {}", setup::BUSYBOX))?;
    entries.push(Entry { name: "bin/busybox".into(), mode: REGULAR | 0o755, data: busybox });
    for program in build_programs(&out_dir)? {
        entries.push(program_entry(&program)?);
    }
    // Two programs the kernel must refuse (ENOEXEC), for its tests: a dynamically
    // linked one and a script.
    if let Some(dynamic) = build_dynamic(&out_dir)? {
        entries.push(program_entry(&dynamic)?);
    }
    entries.push(Entry {
        name: "bin/not-elf".into(),
        mode: REGULAR | 0o755,
        data: b"#!/bin/sh\necho not an ELF file\n".to_vec(),
    });
    if let Some(dir) = bin_dir {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading --bin-dir {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            entries.push(program_entry(&file)?);
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|later, earlier| later.name == earlier.name);
    let plain = newc(&entries);
    let compressed = gzip(&plain)?;
    let ramdisk =
        Ramdisk { plain: out_dir.join("ramdisk.cpio"), compressed: out_dir.join("ramdisk.cpio.gz") };
    for (path, bytes) in [(&ramdisk.plain, plain), (&ramdisk.compressed, compressed)] {
        // Rewritten only when it changed, so the disk images are not remade for nothing.
        if std::fs::read(path).ok().as_deref() != Some(&bytes[..]) {
            std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(BUILT.get_or_init(|| ramdisk).clone())
}

/// gzip-compressed (the BIOS loader reads the disk at about 1.3 MB/s: half the bytes,
/// half the wait; the kernel inflates it at boot).
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// A file for /bin, keeping its permission bits.
fn program_entry(path: &Path) -> Result<Entry> {
    use std::os::unix::fs::PermissionsExt;
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let perm = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    let name = path.file_name().context("a file name")?.to_string_lossy();
    Ok(Entry { name: format!("bin/{name}"), mode: REGULAR | perm, data })
}

/// The project's own test programs (userland/), built: the same static binaries the
/// ramdisk's /bin holds, for the Linux peer of `cargo xtask conform`.
pub fn userland_programs() -> Result<Vec<PathBuf>> {
    setup::ensure_userland_tools()?;
    let out_dir = project_root().join("target/userland");
    std::fs::create_dir_all(&out_dir)?;
    build_programs(&out_dir)
}

/// Builds userland/: every `*.c` with `musl-gcc -static`, and every cargo project
/// (a folder with Cargo.toml) for x86_64-unknown-linux-musl. Returns the executables.
fn build_programs(out_dir: &Path) -> Result<Vec<PathBuf>> {
    let source_dir = project_root().join("userland");
    let mut programs = Vec::new();
    let Ok(read_dir) = std::fs::read_dir(&source_dir) else { return Ok(programs) };
    let mut sources: Vec<PathBuf> = read_dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    sources.sort();
    // The headers the programs share (memrange.h): a change rebuilds every program.
    let headers: Vec<&PathBuf> = sources.iter().filter(|s| s.extension().is_some_and(|e| e == "h")).collect();
    for source in &sources {
        if source.extension().is_some_and(|e| e == "c") {
            let stem = source.file_stem().context("a file name")?.to_string_lossy().into_owned();
            let program = out_dir.join(&stem);
            if !is_newer(&program, source) || headers.iter().any(|header| !is_newer(&program, header)) {
                let status = Command::new("musl-gcc")
                    .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
                    .arg(&program)
                    .arg(source)
                    .status()
                    .context("running musl-gcc")?;
                if !status.success() {
                    bail!("musl-gcc failed on {}", source.display());
                }
            }
            programs.push(program);
        } else if source.join("Cargo.toml").is_file() {
            programs.push(build_rust_program(source)?);
        }
    }
    Ok(programs)
}

/// userland/hello.c linked dynamically (it has a PT_INTERP header).
fn build_dynamic(out_dir: &Path) -> Result<Option<PathBuf>> {
    let source = project_root().join("userland/hello.c");
    if !source.exists() {
        return Ok(None);
    }
    let program = out_dir.join("hello-dynamic");
    if !is_newer(&program, &source) {
        let status = Command::new("musl-gcc").args(["-O2", "-o"]).arg(&program).arg(&source).status()?;
        if !status.success() {
            bail!("musl-gcc failed on {} (dynamic)", source.display());
        }
    }
    Ok(Some(program))
}

const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

fn build_rust_program(project: &Path) -> Result<PathBuf> {
    let name = project.file_name().context("a folder name")?.to_string_lossy().into_owned();
    let target_dir = project_root().join("target/userland-rs");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--quiet", "--release", "--target", MUSL_TARGET, "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(project_root())
        .status()
        .context("running cargo for a userland program")?;
    if !status.success() {
        bail!(
            "building {} for {MUSL_TARGET} failed (is the target installed? `rustup target add {MUSL_TARGET}`)",
            project.display()
        );
    }
    Ok(target_dir.join(MUSL_TARGET).join("release").join(name))
}

fn is_newer(path: &Path, than: &Path) -> bool {
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    matches!((modified(path), modified(than)), (Some(a), Some(b)) if a > b)
}
