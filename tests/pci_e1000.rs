//! The default machine plus `-device e1000,addr=0x5` (see SUITE_QEMU_ARGS in
//! xtask/src/test.rs): the added Intel 82540EM shows, as its datasheet and QEMU's
//! hw/net/e1000.c give it, a 128 KiB non-prefetchable memory BAR 0 and a 64-byte I/O
//! BAR 1, in the enumeration, /proc/bus/pci/devices, /proc/iomem and lspci's formats.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use kernel::ktest::ktest;
use kernel::pci;
use kernel::vfs::{Context, UserBuf};
use pci_core::bar::BarKind;
use pci_core::{Address, Device, format};
use vfs_core::cred::Credentials;
use vfs_core::flags::O_RDONLY;

kernel::test_kernel!();

fn added() -> &'static Device {
    let at = Address::new(0, 5, 0).unwrap();
    pci::devices().iter().find(|d| d.address == at).expect("the e1000 at 00:05.0")
}

fn read_file(path: &str) -> String {
    // SAFETY: the context is given no address by number but this test's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open(path, O_RDONLY, 0).unwrap();
    let mut text = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let n = ctx.read(fd, UserBuf::from_mut_slice(&mut chunk)).unwrap();
        if n == 0 {
            break;
        }
        text.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(text).unwrap()
}

#[ktest]
fn the_added_e1000_is_enumerated_with_its_bars() {
    let nic = added();
    assert_eq!((nic.header.vendor(), nic.header.device(), nic.header.class()), (0x8086, 0x100e, 0x0200));
    let mem = nic.resources[0].expect("BAR 0");
    assert_eq!(mem.kind, BarKind::Memory { width: 32, prefetchable: false });
    assert_eq!(mem.size, 128 << 10);
    assert_eq!(mem.start % (128 << 10), 0);
    let io = nic.resources[1].expect("BAR 1");
    assert_eq!((io.kind, io.size), (BarKind::Io, 64));
    assert!(io.start != 0 && io.start % 64 == 0 && io.start <= 0xffff);
}

#[ktest]
fn proc_files_and_lspci_show_it() {
    let nic = added();
    let mem = nic.resources[0].unwrap();
    let io = nic.resources[1].unwrap();
    let devices = read_file("/proc/bus/pci/devices");
    let line = devices.lines().find(|l| l.starts_with("0028\t8086100e\t")).expect("line for devfn 0x28");
    let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
    assert_eq!(fields[3], alloc::format!("{:x}", mem.start));
    assert_eq!(fields[4], alloc::format!("{:x}", io.start | 1));
    assert_eq!((fields[10], fields[11]), ("20000", "40"));
    let iomem = read_file("/proc/iomem");
    let want = alloc::format!("  {:08x}-{:08x} : 0000:00:05.0", mem.start, mem.start + 0x1ffff);
    assert!(iomem.lines().any(|l| l == want), "{iomem}");
    let verbose = format::lspci_verbose(nic);
    let want = alloc::format!("\tMemory at {:08x} (32-bit, non-prefetchable) [size=128K]\n", mem.start);
    assert!(verbose.contains(&want), "{verbose}");
    let want = alloc::format!("\tI/O ports at {:04x} [size=64]\n", io.start);
    assert!(verbose.contains(&want), "{verbose}");
}
