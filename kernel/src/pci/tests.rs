//! The default QEMU machine (i440FX) as QEMU documents it, read through our enumeration,
//! our proc files, and /dev/mem.

use alloc::string::String;
use alloc::vec::Vec;

use pci_core::bar::BarKind;
use pci_core::{Address, Device};
use vfs_core::cred::Credentials;
use vfs_core::flags::O_RDONLY;

use crate::arch;
use crate::ktest::ktest;
use crate::vfs::{Context, UserBuf};

fn find(vendor: u16, device: u16) -> &'static Device {
    super::devices()
        .iter()
        .find(|d| d.header.vendor() == vendor && d.header.device() == device)
        .unwrap_or_else(|| panic!("{vendor:04x}:{device:04x} not enumerated"))
}

/// Reads a whole file through the file API.
pub fn read_file(path: &str) -> String {
    // SAFETY: the context is given no address by number but this code's own
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
    ctx.close(fd).unwrap();
    String::from_utf8(text).unwrap()
}

#[ktest]
fn the_i440fx_functions_are_all_there_in_order() {
    let found: Vec<(Address, u16, u16, u16)> = super::devices()
        .iter()
        .map(|d| (d.address, d.header.vendor(), d.header.device(), d.header.class()))
        .collect();
    let at = |dev, func| Address::new(0, dev, func).unwrap();
    let expected = [
        (at(0, 0), 0x8086, 0x1237, 0x0600),
        (at(1, 0), 0x8086, 0x7000, 0x0601),
        (at(1, 1), 0x8086, 0x7010, 0x0101),
        (at(1, 3), 0x8086, 0x7113, 0x0680),
        (at(2, 0), 0x1234, 0x1111, 0x0300),
        // QEMU's default NIC on the pc machine.
        (at(3, 0), 0x8086, 0x100e, 0x0200),
        // The boot disk `cargo xtask` gives QEMU: virtio-blk (transitional, mass storage).
        (at(4, 0), 0x1af4, 0x1001, 0x0100),
    ];
    assert_eq!(&found[..], &expected[..]);
}

#[ktest]
fn the_std_vga_bars_have_the_documented_sizes() {
    let vga = find(0x1234, 0x1111);
    let fb = vga.resources[0].expect("BAR 0");
    assert_eq!(fb.kind, BarKind::Memory { width: 32, prefetchable: true });
    assert_eq!((fb.start, fb.size), (0xfd00_0000, 16 << 20));
    let mmio = vga.resources[2].expect("BAR 2");
    assert_eq!(mmio.kind, BarKind::Memory { width: 32, prefetchable: false });
    assert_eq!(mmio.size, 4096);
    assert_eq!(mmio.start % 4096, 0);
    assert_eq!(vga.resources[1], None);
    // The boot VGA's ROM is the BIOS shadow at 0xC0000, as Linux's pci_fixup_video has it.
    let rom = vga.resources[6].expect("expansion ROM");
    assert_eq!((rom.start, rom.size, rom.flags, rom.legacy), (0xc0000, 0x20000, 2, true));
    // The register itself still holds a sizable ROM BAR.
    let probed = arch::pci::probe(vga.address).unwrap();
    let real = pci_core::bar::decode_rom(probed.rom.unwrap()).unwrap();
    assert!(real.size.is_power_of_two() && real.size >= 2048 && real.start >= 0x1000_0000);
}

#[ktest]
fn the_ide_controller_has_legacy_ranges_and_a_busmaster_bar() {
    let ide = find(0x8086, 0x7010);
    let starts: Vec<u64> = ide.resources[..4].iter().map(|r| r.unwrap().start).collect();
    assert_eq!(starts, [0x1f0, 0x3f6, 0x170, 0x376]);
    let bm = ide.resources[4].expect("BAR 4");
    assert_eq!((bm.kind, bm.size), (BarKind::Io, 16));
}

#[ktest]
fn sizing_leaves_every_register_as_it_was() {
    for dev in super::devices() {
        let before = arch::pci::read_header(dev.address);
        let probed = arch::pci::probe(dev.address).unwrap();
        let after = arch::pci::read_header(dev.address);
        assert_eq!(probed.header, before, "{}", dev.address);
        // Status bits may change on their own; command, BARs, ROM and the rest may not.
        let mask = |h: pci_core::Header| {
            let mut regs = h.0;
            regs[1] &= 0xffff;
            regs
        };
        assert_eq!(mask(after), mask(before), "{}", dev.address);
        assert_eq!(mask(after), mask(dev.header), "{} since boot", dev.address);
        // The second probe sees what the boot-time one saw.
        let mut again = Device::new(dev.address, after, &probed.bars[..probed.bar_count], probed.rom);
        if dev.resources[6].is_some_and(|r| r.legacy) {
            assert!(again.apply_vga_shadow());
        }
        assert_eq!(again.resources, dev.resources, "{}", dev.address);
    }
}

#[ktest]
fn proc_bus_pci_devices_has_linux_lines() {
    let text = read_file("/proc/bus/pci/devices");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), super::devices().len());
    let vga = lines.iter().find(|l| l.starts_with("0010\t12341111\t")).expect("VGA line");
    let fields: Vec<&str> = vga.split('\t').collect();
    assert_eq!(fields.len(), 18, "17 fields, then the empty driver column");
    assert_eq!(fields[3], "        fd000008");
    assert_eq!(fields[10], "         1000000");
    assert_eq!(fields[12], "            1000");
    assert_eq!(fields[17], "");
    assert!(text.starts_with("0000\t80861237\t0\t"), "{text}");
}

#[ktest]
fn proc_iomem_nests_the_vga_bars_under_the_pci_bus() {
    let text = read_file("/proc/iomem");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"000a0000-000bffff : PCI Bus 0000:00"), "{text}");
    let bus = lines.iter().position(|l| l.ends_with("-febfffff : PCI Bus 0000:00")).expect("window line");
    assert!(!lines[bus].starts_with(' '), "{text}");
    let children: Vec<&str> = lines[bus + 1..].iter().take_while(|l| l.starts_with("  ")).copied().collect();
    assert!(children.contains(&"  fd000000-fdffffff : 0000:00:02.0"), "{text}");
    let mmio = find(0x1234, 0x1111).resources[2].unwrap();
    let line = alloc::format!("  {:08x}-{:08x} : 0000:00:02.0", mmio.start, mmio.end());
    assert!(children.contains(&line.as_str()), "{text}");
    // Sorted: each top-level start is above the previous one.
    let starts: Vec<u64> = lines
        .iter()
        .filter(|l| !l.starts_with(' '))
        .map(|l| u64::from_str_radix(l.split('-').next().unwrap(), 16).unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{text}");
}

/// QEMU docs/specs/standard-vga.rst: BAR 2 holds the Bochs DISPI registers at 0x500,
/// 16 bits each; index 0 is the ID, 0xB0C0 to 0xB0C5.
#[ktest]
fn the_bochs_id_register_reads_through_dev_mem() {
    let mmio = find(0x1234, 0x1111).resources[2].unwrap();
    // SAFETY: the context is given no address by number but this code's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let mut id = [0u8; 2];
    assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(&mut id), mmio.start + 0x500), Ok(2));
    let id = u16::from_le_bytes(id);
    assert!((0xb0c0..=0xb0c5).contains(&id), "DISPI ID {id:#x}");
}
