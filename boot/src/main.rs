//! `boot KERNEL_ELF [--uefi] [--ramdisk CPIO]`: makes the disk image for a kernel and prints its path.
//! `cargo xtask` runs this; it is a separate binary so that the slow first build of the
//! `bootloader` crate happens when xtask says so, not silently inside xtask's own build.

use std::path::PathBuf;
use std::process::ExitCode;

use boot::{Firmware, create_disk_image};

fn main() -> ExitCode {
    let mut kernel = None;
    let mut firmware = Firmware::Bios;
    let mut ramdisk = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--ramdisk") => match args.next() {
                Some(path) => ramdisk = Some(PathBuf::from(path)),
                None => {
                    eprintln!("boot: --ramdisk needs a file");
                    return ExitCode::from(2);
                }
            },
            Some("--uefi") => firmware = Firmware::Uefi,
            Some("--bios") => firmware = Firmware::Bios,
            Some("-h" | "--help") => {
                println!(
                    "usage: boot KERNEL_ELF [--bios|--uefi] [--ramdisk CPIO]\nwrites KERNEL_ELF.stripped and KERNEL_ELF-bios.img (or -uefi.img) beside it"
                );
                return ExitCode::SUCCESS;
            }
            _ if kernel.is_none() => kernel = Some(PathBuf::from(arg)),
            _ => {
                eprintln!("boot: unexpected argument {arg:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    let Some(kernel) = kernel else {
        eprintln!("boot: missing KERNEL_ELF (try --help)");
        return ExitCode::from(2);
    };
    match create_disk_image(&kernel, firmware, ramdisk.as_deref()) {
        Ok(images) => {
            println!("{}", images.disk.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("boot: {error:#}");
            ExitCode::FAILURE
        }
    }
}
