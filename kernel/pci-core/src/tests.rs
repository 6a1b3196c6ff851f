use alloc::string::String;
use alloc::vec;

use proptest::prelude::*;

use crate::bar::{self, BarKind, Probe, decode_bar, decode_rom, pci_size};
use crate::format;
use crate::{Address, Device, Header};

fn header(vendor: u16, device: u16, class: u16, prog_if: u8, rev: u8, command: u16, pin_line: u16) -> Header {
    let mut regs = [0u32; 16];
    regs[0] = u32::from(device) << 16 | u32::from(vendor);
    regs[1] = u32::from(command);
    regs[2] = u32::from(class) << 16 | u32::from(prog_if) << 8 | u32::from(rev);
    regs[15] = u32::from(pin_line);
    Header(regs)
}

/// What a device with a `size`-byte BAR of `low_bits` type reads back after the ones write.
fn sized(size: u64, low_bits: u32) -> u32 {
    (!(size - 1)) as u32 | low_bits
}

fn qemu_vga() -> Device {
    let h = header(0x1234, 0x1111, 0x0300, 0, 2, 0x0003, 0);
    let bars = [
        Probe { original: 0xfd00_0008, sized: sized(16 << 20, 8) },
        Probe::default(),
        Probe { original: 0xfebf_0000, sized: sized(4096, 0) },
        Probe::default(),
        Probe::default(),
        Probe::default(),
    ];
    let rom = Probe { original: 0xfebe_0000, sized: 0xffff_0000 };
    Device::new(Address::new(0, 2, 0).unwrap(), h, &bars, Some(rom))
}

#[test]
fn vga_bars_decode_as_qemu_documents() {
    let d = qemu_vga();
    let b0 = d.resources[0].unwrap();
    assert_eq!((b0.start, b0.size, b0.flags), (0xfd00_0000, 16 << 20, 8));
    assert_eq!(b0.kind, BarKind::Memory { width: 32, prefetchable: true });
    let b2 = d.resources[2].unwrap();
    assert_eq!((b2.start, b2.size, b2.flags), (0xfebf_0000, 4096, 0));
    assert_eq!(d.resources[1], None);
    let rom = d.resources[6].unwrap();
    assert_eq!((rom.start, rom.size, rom.kind), (0xfebe_0000, 0x10000, BarKind::Rom { enabled: false }));
}

#[test]
fn proc_devices_line_matches_linux_layout() {
    let line = format::proc_devices_line(&qemu_vga(), None);
    let expected = "0010\t12341111\t0\t        fd000008\t               0\t        febf0000\t               0\t               0\t               0\t        febe0000\t         1000000\t               0\t            1000\t               0\t               0\t               0\t           10000\t\n";
    assert_eq!(line, expected);
    assert!(format::proc_devices_line(&qemu_vga(), Some("bochs-drm")).ends_with("\tbochs-drm\n"));
}

#[test]
fn e1000_memory_and_io_bars() {
    let h = header(0x8086, 0x100e, 0x0200, 0, 3, 0x0007, 0x010b);
    let bars = [
        Probe { original: 0xfebc_0000, sized: sized(128 << 10, 0) },
        Probe { original: 0xc001, sized: 0xffff_ffc1 },
        Probe::default(),
        Probe::default(),
        Probe::default(),
        Probe::default(),
    ];
    let d = Device::new(Address::new(0, 3, 0).unwrap(), h, &bars, None);
    assert_eq!(d.irq(), 0xb);
    let io = d.resources[1].unwrap();
    assert_eq!((io.kind, io.start, io.size, io.flags), (BarKind::Io, 0xc000, 64, 1));
    let line = format::proc_devices_line(&d, None);
    assert!(line.starts_with("0018\t8086100e\tb\t        febc0000\t            c001\t"), "{line}");
    assert_eq!(format::lspci_line(&d, true, false), "00:03.0 0200: 8086:100e (rev 03)\n");
    assert_eq!(
        format::lspci_line(&d, false, false),
        "00:03.0 Ethernet controller: Device 8086:100e (rev 03)\n"
    );
    let v = format::lspci_verbose(&d);
    assert!(v.contains("\tMemory at febc0000 (32-bit, non-prefetchable) [size=128K]\n"), "{v}");
    assert!(v.contains("\tI/O ports at c000 [size=64]\n"), "{v}");
    assert!(v.contains("\tFlags: bus master, fast devsel, latency 0, IRQ 11\n"), "{v}");
}

#[test]
fn sixty_four_bit_bar_takes_two_registers() {
    let size: u64 = 1 << 34;
    let bars = [
        Probe { original: 0x0000_000c, sized: 0x0000_000c },
        Probe { original: 0x0000_0008, sized: !((size - 1) >> 32) as u32 },
        Probe { original: 0xc001, sized: 0xffff_ffe1 },
    ];
    let r = bar::decode_all(&bars, None);
    let b = r[0].unwrap();
    assert_eq!((b.start, b.size, b.flags), (0x8_0000_0000, size, 0xc));
    assert_eq!(b.kind, BarKind::Memory { width: 64, prefetchable: true });
    assert_eq!(r[1], None);
    assert_eq!(r[2].unwrap().size, 32);
    let dev = Device {
        address: Address::new(1, 0, 0).unwrap(),
        header: header(1, 2, 0x0380, 0, 0, 2, 0),
        resources: r,
    };
    assert!(
        format::lspci_verbose(&dev).contains("\tMemory at 800000000 (64-bit, prefetchable) [size=16G]\n")
    );
}

#[test]
fn unimplemented_and_broken_bars_are_none() {
    assert_eq!(decode_bar(Probe { original: 0, sized: 0 }, None), None);
    assert_eq!(decode_bar(Probe { original: 0xffff_ffff, sized: 0xffff_ffff }, None), None);
    assert_eq!(decode_rom(Probe { original: 0, sized: 0 }), None);
    // An I/O BAR only decodes the low 16 bits on x86: a probe with no bit below 0x10000 is empty.
    assert_eq!(decode_bar(Probe { original: 0x1, sized: 0xffff_0001 }, None), None);
}

#[test]
fn legacy_ide_replaces_bars_0_to_3() {
    let h = header(0x8086, 0x7010, 0x0101, 0x80, 0, 0x0005, 0);
    let mut bars = [Probe::default(); 6];
    bars[4] = Probe { original: 0xc041, sized: 0xffff_fff1 };
    let d = Device::new(Address::new(0, 1, 1).unwrap(), h, &bars, None);
    let line = format::proc_devices_line(&d, None);
    let cols: vec::Vec<&str> = line.trim_end_matches('\n').split('\t').map(str::trim).collect();
    assert_eq!(&cols[..10], ["0009", "80867010", "0", "1f0", "3f6", "170", "376", "c041", "0", "0"]);
    assert_eq!(&cols[10..17], ["8", "0", "8", "0", "10", "0", "0"], "one-byte ranges show size 0 in Linux");
    assert_eq!(format::lspci_line(&d, false, true), "00:01.1 IDE interface: Device 8086:7010 (prog-if 80)\n");
}

#[test]
fn size_suffixes() {
    assert_eq!(format::size_suffix(0), "");
    assert_eq!(format::size_suffix(8), " [size=8]");
    assert_eq!(format::size_suffix(4096), " [size=4K]");
    assert_eq!(format::size_suffix(16 << 20), " [size=16M]");
    assert_eq!(format::size_suffix(1536), " [size=1536]");
}

#[test]
fn iomem_nests_bars_under_the_window_in_order() {
    let text = "00000000-0009fbff : System RAM\n00100000-0ffdffff : System RAM\n  01000000-010257f3 : Kernel code\n0ffe0000-0fffffff : Reserved\nfffc0000-ffffffff : Reserved\n";
    let entries = format::iomem_entries(&[qemu_vga()]);
    assert_eq!(entries.len(), 3);
    let fw = [(0, 0x9fbff), (0x100000, 0xffdffff), (0xffe0000, 0xfffffff), (0xfffc0000, 0xffffffff)];
    let window = format::pci_hole(&fw, &entries);
    assert_eq!(window, Some((0x1000_0000, 0xfebf_ffff)));
    let merged = format::merge_iomem(text, window, &entries);
    let expected = "00000000-0009fbff : System RAM\n000a0000-000bffff : PCI Bus 0000:00\n00100000-0ffdffff : System RAM\n  01000000-010257f3 : Kernel code\n0ffe0000-0fffffff : Reserved\n10000000-febfffff : PCI Bus 0000:00\n  fd000000-fdffffff : 0000:00:02.0\n  febe0000-febeffff : 0000:00:02.0\n  febf0000-febf0fff : 0000:00:02.0\nfffc0000-ffffffff : Reserved\n";
    assert_eq!(merged, expected);
    assert_eq!(format::merge_iomem(text, None, &[]), text);
}

#[test]
fn config_address_layout() {
    let a = Address::new(0x12, 31, 7).unwrap();
    assert_eq!(a.config_address(0x3f), 0x8012_ff3c);
    assert_eq!(a.devfn(), 0xff);
    assert_eq!(alloc::format!("{a} {}", a.linux_name()), "12:1f.7 0000:12:1f.7");
    assert_eq!(Address::new(0, 32, 0), None);
    assert_eq!(Address::new(0, 0, 8), None);
}

proptest! {
    /// Oracle: a BAR of power-of-two `size` at an address aligned to it, as hardware
    /// answers the probe, decodes to exactly that start and size, for every type.
    #[test]
    fn memory_bar_round_trip(shift in 4u32..32, slot in any::<u32>(), prefetch in any::<bool>()) {
        let size = 1u64 << shift;
        let start = (u64::from(slot) << shift) & 0xffff_ffff;
        let low = if prefetch { 8 } else { 0 };
        let b = decode_bar(Probe { original: start as u32 | low, sized: sized(size, low) }, None).unwrap();
        prop_assert_eq!((b.start, b.size, u32::from(b.flags)), (start, size, low));
    }

    #[test]
    fn memory64_bar_round_trip(shift in 4u32..48, slot in any::<u64>()) {
        let size = 1u64 << shift;
        let start = (slot << shift) & ((1 << 52) - 1);
        let sz = !(size - 1);
        let r = bar::decode_all(&[
            Probe { original: start as u32 | 4, sized: sz as u32 | 4 },
            Probe { original: (start >> 32) as u32, sized: (sz >> 32) as u32 },
        ], None);
        let b = r[0].unwrap();
        prop_assert_eq!((b.start, b.size), (start, size));
        prop_assert_eq!(r[1], None);
    }

    #[test]
    fn io_bar_round_trip(shift in 2u32..16, slot in any::<u16>()) {
        let size = 1u64 << shift;
        let start = (u64::from(slot) << shift) & 0xffff;
        // Many devices hardwire the upper 16 bits to 0 or 1: both decode the same.
        for upper in [0u32, 0xffff_0000] {
            let b = decode_bar(Probe { original: start as u32 | 1, sized: (!(size as u32 - 1) & 0xffff) | upper | 1 }, None).unwrap();
            prop_assert_eq!((b.kind, b.start, b.size, b.flags), (BarKind::Io, start, size, 1));
        }
    }

    #[test]
    fn rom_round_trip(shift in 11u32..32, slot in any::<u32>(), enabled in any::<bool>()) {
        let size = 1u64 << shift;
        let start = (u64::from(slot) << shift) & 0xffff_ffff;
        let b = decode_rom(Probe { original: start as u32 | u32::from(enabled), sized: sized(size, u32::from(enabled)) }).unwrap();
        prop_assert_eq!((b.start, b.size, b.kind), (start, size, BarKind::Rom { enabled }));
    }

    /// pci_size is the lowest set bit of the significant bits, or 0.
    #[test]
    fn pci_size_is_lowest_bit(base in any::<u64>(), maxbase in any::<u64>(), mask in any::<u64>()) {
        let s = pci_size(base, maxbase, mask);
        prop_assert!(s == 0 || (s.is_power_of_two() && maxbase & mask & s != 0 && maxbase & mask & (s - 1) == 0));
    }

    /// Whatever the probes, decoding never panics and the proc line has 17 tab fields.
    #[test]
    fn any_probe_formats(vals in proptest::collection::vec(any::<u32>(), 14), regs in any::<[u32; 16]>()) {
        let probes: vec::Vec<Probe> = vals.chunks(2).map(|c| Probe { original: c[0], sized: c[1] }).collect();
        let d = Device::new(Address::new(0, 0, 0).unwrap(), Header(regs), &probes[..6], Some(probes[6]));
        let line = format::proc_devices_line(&d, None);
        prop_assert_eq!(line.matches('\t').count(), 17);
        let _: String = format::lspci_verbose(&d);
        for r in d.resources.iter().flatten() {
            prop_assert!(r.size.is_power_of_two());
        }
    }
}

/// Linux 6.1 on QEMU's pc machine prints `c0002` and `20000` for the std VGA's ROM
/// (the shadow copy), and leaves it out of /proc/iomem.
#[test]
fn the_boot_vga_rom_is_the_shadow_copy() {
    let mut vga = qemu_vga();
    assert!(vga.apply_vga_shadow());
    let line = format::proc_devices_line(&vga, None);
    let fields: vec::Vec<&str> = line.split('\t').map(str::trim).collect();
    assert_eq!((fields[9], fields[16]), ("c0002", "20000"));
    assert!(
        format::iomem_entries(&[vga.clone()]).iter().all(|e| e.start != 0xc0000 && e.start != 0xfebe0000)
    );
    assert!(
        format::lspci_verbose(&vga)
            .contains("\tExpansion ROM at 000c0000 [virtual] [disabled] [size=128K]\n")
    );
    let mut off = qemu_vga();
    off.header.0[1] = 0;
    assert!(!off.apply_vga_shadow());
}
