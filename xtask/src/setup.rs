//! Set-up on a fresh machine: the pinned toolchain's components, and QEMU.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where the project lives, found at run time (a moved or copied checkout builds
/// itself, not the tree xtask was compiled in): cargo tells `cargo xtask` its manifest
/// directory; otherwise the nearest directory up from here that holds `xtask/Cargo.toml`;
/// the directory xtask was built in last.
pub fn project_root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let from_cargo = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.join("Cargo.toml").is_file())
            .and_then(|dir| dir.parent().map(Path::to_path_buf));
        let from_cwd = || {
            let cwd = std::env::current_dir().ok()?;
            cwd.ancestors().find(|dir| dir.join("xtask/Cargo.toml").is_file()).map(Path::to_path_buf)
        };
        from_cargo.or_else(from_cwd).unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
        })
    })
    .clone()
}

/// The sysroot of the toolchain cargo is running us with (the one rust-toolchain.toml pins).
fn sysroot() -> Result<PathBuf> {
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(project_root())
        .output()
        .context("running `rustc --print sysroot`: is rustup installed?")?;
    if !output.status.success() {
        bail!("`rustc --print sysroot` failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(PathBuf::from(String::from_utf8(output.stdout)?.trim()))
}

/// Adds the rustup components and target that rust-toolchain.toml lists, if missing.
/// (rustup installs them with the toolchain, but not when the toolchain was already
/// there without them.)
pub fn ensure_toolchain() -> Result<()> {
    let sysroot = sysroot()?;
    let host = sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu");
    let checks: [(&str, PathBuf); 6] = [
        ("rust-src", sysroot.join("lib/rustlib/src/rust/library")),
        ("llvm-tools", host.join("bin/llvm-objcopy")),
        ("rustfmt", sysroot.join("bin/rustfmt")),
        ("clippy", sysroot.join("bin/cargo-clippy")),
        ("target x86_64-unknown-none", sysroot.join("lib/rustlib/x86_64-unknown-none/lib")),
        ("target x86_64-unknown-linux-musl", sysroot.join("lib/rustlib/x86_64-unknown-linux-musl/lib")),
    ];
    let missing: Vec<&str> =
        checks.iter().filter(|(_, path)| !path.exists()).map(|(name, _)| *name).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: the toolchain lacks {}; installing it with rustup (about 30 s)...", missing.join(", "));
    // `rustup toolchain install` in the project reads rust-toolchain.toml and adds
    // whatever it lists that is missing.
    let status = Command::new("rustup")
        .args(["toolchain", "install"])
        .current_dir(project_root())
        .status()
        .context("running rustup")?;
    if !status.success() {
        bail!("`rustup toolchain install` failed; run it in {} by hand", project_root().display());
    }
    Ok(())
}

pub fn find_in_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join(program)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|path| path.is_file())
}

/// Locations where Debian's `ovmf` package puts the UEFI firmware.
const OVMF_PATHS: [&str; 3] =
    ["/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF.fd", "/usr/share/qemu/OVMF.fd"];

/// The OVMF firmware image, if installed.
pub fn ovmf() -> Option<PathBuf> {
    OVMF_PATHS.iter().map(PathBuf::from).find(|path| path.is_file())
}

/// Makes sure `qemu-system-x86_64` (and OVMF for UEFI boots) is installed: with apt-get
/// when running as root on Debian, otherwise by telling the user the command.
pub fn ensure_qemu(uefi: bool) -> Result<()> {
    let mut packages = Vec::new();
    if find_in_path("qemu-system-x86_64").is_none() {
        packages.push("qemu-system-x86");
    }
    if uefi && ovmf().is_none() {
        packages.push("ovmf");
    }
    apt_install(&packages)
}

/// Where Debian's `busybox-static` puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Makes sure the programs the ramdisk carries can be had: Debian's static busybox and
/// `musl-gcc` (for the test programs in userland/), installed like QEMU.
pub fn ensure_userland_tools() -> Result<()> {
    let mut packages = Vec::new();
    if !busybox_is_static() {
        packages.push("busybox-static");
    }
    if find_in_path("musl-gcc").is_none() {
        packages.push("musl-tools");
    }
    apt_install(&packages)
}

/// Whether /bin/busybox is the static build (Debian's `busybox` package is dynamic: it
/// has a PT_INTERP header, which mm-core's ELF reader reports as `Dynamic`).
pub fn busybox_is_static() -> bool {
    std::fs::read(BUSYBOX).is_ok_and(|bytes| {
        !matches!(mm_core::elf::program_info(&bytes), Err(mm_core::elf::ElfError::Dynamic))
    })
}

/// Installs Debian `packages` with apt-get when running as root on Debian; otherwise
/// fails with the command to run.
fn apt_install(packages: &[&str]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let command = format!("apt-get update && apt-get install -y {}", packages.join(" "));
    let is_root =
        Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false);
    let is_debian = Path::new("/etc/debian_version").exists();
    if !(is_root && is_debian) {
        bail!("{} is not installed; install it with:\n    sudo sh -c '{command}'", packages.join(" and "));
    }
    eprintln!("xtask: {} missing; installing it: {command} (about a minute)", packages.join(" and "));
    for args in [vec!["update"], [&["install", "-y"][..], packages].concat()] {
        let status = Command::new("apt-get")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")?;
        if !status.success() {
            bail!("`apt-get {}` failed", args.join(" "));
        }
    }
    Ok(())
}
