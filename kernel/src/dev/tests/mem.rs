use errno::Errno;
use vfs_core::flags::{
    MAP_PRIVATE, MAP_SHARED, O_RDONLY, O_RDWR, O_SYNC, PROT_READ, PROT_WRITE, SEEK_CUR, SEEK_END, SEEK_SET,
};

use super::{pread_array, root};
use crate::dev::mem::{set_strict, strict};
use crate::ktest::ktest;
use crate::mm::nofault::Width;
use crate::mm::query::MappedPage;
use crate::mm::{MemoryType, PhysAddr, VirtAddr};
use crate::vfs::UserBuf;

/// The page walk at a kernel address these tests got as a number (from mmap).
fn query(addr: u64) -> Option<MappedPage> {
    crate::mm::query::query(VirtAddr::new(addr))
}

/// One access of `width` at a kernel address these tests got as a number.
fn read_width(addr: u64, width: Width) -> Option<u64> {
    crate::mm::nofault::read_width(VirtAddr::new(addr), width)
}

const HPET: u64 = 0xfed0_0000;
const LAPIC: u64 = 0xfee0_0000;

#[ktest]
fn hpet_capabilities_read_as_one_64_bit_access() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let (bytes, n) = pread_array::<8>(&mut ctx, fd, HPET).unwrap();
    assert_eq!(n, 8);
    let caps = u64::from_le_bytes(bytes);
    // Vendor 0x8086 in bits 31:16, and QEMU's counter period of 10 ns (in femtoseconds).
    assert_eq!((caps >> 16) & 0xffff, 0x8086, "capabilities {caps:#x}");
    assert_eq!(caps >> 32, 10_000_000, "capabilities {caps:#x}");
}

#[ktest]
fn the_local_apic_version_register() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let (bytes, n) = pread_array::<4>(&mut ctx, fd, LAPIC + 0x30).unwrap();
    assert_eq!(n, 4);
    let version = u32::from_le_bytes(bytes);
    // An integrated APIC (0x10-0x15) with at least 3 LVT entries.
    assert!((0x10..=0x15).contains(&(version & 0xff)), "version {version:#x}");
    assert!((version >> 16) & 0xff >= 2, "version {version:#x}");
}

#[ktest]
fn the_bios_data_area_names_com1() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let (bytes, _) = pread_array::<2>(&mut ctx, fd, 0x400).unwrap();
    assert_eq!(u16::from_le_bytes(bytes), 0x3f8, "the BDA's first serial port");
}

#[ktest]
fn the_acpi_rsdp_is_in_the_bios_area() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let mut found = None;
    let mut buf = [0u8; 4096];
    for page in (0xe0000..0x100000).step_by(4096) {
        let n = ctx.pread(fd, UserBuf::from_mut_slice(&mut buf), page).unwrap();
        assert_eq!(n, 4096);
        if let Some(at) = (0..4096).step_by(16).find(|&i| &buf[i..i + 8] == b"RSD PTR ") {
            found = Some(page + at as u64);
            // The checksum over the first 20 bytes is zero (ACPI 5.2.5.3).
            let sum = buf[at..at + 20].iter().fold(0u8, |a, &b| a.wrapping_add(b));
            assert_eq!(sum, 0, "RSDP checksum at {:#x}", page + at as u64);
            break;
        }
    }
    assert!(found.is_some(), "no RSDP signature in 0xE0000-0xFFFFF");
}

#[ktest]
fn ram_above_1_mib_is_refused_under_strict_mode_only() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    assert!(strict(), "STRICT is the default");
    assert_eq!(pread_array::<16>(&mut ctx, fd, 0x20_0000).map(|r| r.1), Err(Errno::EPERM));
    set_strict(false);
    let relaxed = pread_array::<16>(&mut ctx, fd, 0x20_0000).map(|r| r.1);
    set_strict(true);
    assert_eq!(relaxed, Ok(16));
}

#[ktest]
fn a_transfer_stopped_by_a_refused_page_returns_what_it_moved() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    // The last page below 1 MiB (BIOS ROM), then RAM above 1 MiB (refused).
    ctx.lseek(fd, 0xff000, SEEK_SET).unwrap();
    let mut buf = [0u8; 8192];
    assert_eq!(ctx.read(fd, UserBuf::from_mut_slice(&mut buf)), Ok(4096));
    // The next call, at the failing offset, reports the error.
    assert_eq!(ctx.lseek(fd, 0, SEEK_CUR), Ok(0x10_0000));
    assert_eq!(ctx.read(fd, UserBuf::from_mut_slice(&mut buf)), Err(Errno::EPERM));
    assert_eq!(ctx.read(fd, UserBuf::from_mut_slice(&mut buf[..0])), Ok(0), "a count of 0 returns 0");
}

#[ktest]
fn addresses_past_maxphyaddr_are_efault() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let limit = 1u64 << crate::mm::physmap::max_phys_addr_bits();
    assert_eq!(pread_array::<4>(&mut ctx, fd, limit).map(|r| r.1), Err(Errno::EFAULT));
    // The last byte below the limit is a hole: readable as device memory.
    assert_eq!(pread_array::<1>(&mut ctx, fd, limit - 1).map(|r| r.1), Ok(1));
    // Across the limit: the byte below comes back, then the call stops.
    assert_eq!(pread_array::<4>(&mut ctx, fd, limit - 1).map(|r| r.1), Ok(1));
}

/// The page policy at 2^MAXPHYADDR itself: the last page below is allowed as what it is
/// (a hole: device memory), for read, write and mmap; the first page at the limit is
/// EFAULT for read and write and EINVAL for mmap. An off-by-one in the policy fails here
/// rather than as a reserved-bit page fault.
#[ktest]
fn the_page_policy_holds_at_maxphyaddr_itself() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDWR, 0).unwrap();
    let limit = 1u64 << crate::mm::physmap::max_phys_addr_bits();
    let last = limit - 4096;
    assert_eq!(crate::dev::mem::page_access(last), Ok(vfs_core::devmem::PageAccess::Device));
    assert_eq!(crate::dev::mem::page_access(limit - 1), Ok(vfs_core::devmem::PageAccess::Device));
    assert_eq!(crate::dev::mem::page_access(limit), Err(Errno::EFAULT));
    assert_eq!(pread_array::<8>(&mut ctx, fd, last).map(|r| r.1), Ok(8));
    assert_eq!(ctx.pwrite(fd, UserBuf::from_slice(&[0u8; 8]), last), Ok(8));
    assert_eq!(pread_array::<8>(&mut ctx, fd, limit).map(|r| r.1), Err(Errno::EFAULT));
    assert_eq!(ctx.pwrite(fd, UserBuf::from_slice(&[0u8; 8]), limit), Err(Errno::EFAULT));
    let addr = ctx.mmap(fd, last, 4096, PROT_READ, MAP_SHARED).unwrap();
    let page = query(addr).unwrap();
    assert_eq!((page.phys.as_u64(), page.ram), (last, false));
    assert_eq!(page.memtype, MemoryType::WriteBack, "the MTRRs' default type there is WB");
    ctx.munmap(addr, 4096).unwrap();
    assert_eq!(ctx.mmap(fd, limit, 4096, PROT_READ, MAP_SHARED), Err(Errno::EINVAL));
}

#[ktest]
fn low_ram_is_written_for_real() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDWR, 0).unwrap();
    // 0x4F0-0x4FF: the BIOS data area's inter-application area, free for anyone.
    let (saved, _) = pread_array::<8>(&mut ctx, fd, 0x4f0).unwrap();
    assert_eq!(ctx.pwrite(fd, UserBuf::from_slice(b"devmem!\n"), 0x4f0), Ok(8));
    assert_eq!(pread_array::<8>(&mut ctx, fd, 0x4f0).unwrap().0, *b"devmem!\n");
    assert_eq!(ctx.pwrite(fd, UserBuf::from_slice(&saved), 0x4f0), Ok(8));
}

#[ktest]
fn a_bad_buffer_is_efault_not_a_crash() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    // SAFETY: nothing is mapped at either address (an unmapped lower-half address and a
    // non-canonical one): there is nothing a driver could write.
    #[allow(unsafe_code)]
    let (unmapped, non_canonical) = unsafe {
        (UserBuf::from_raw(0x0000_4444_0000_0000, 16), UserBuf::from_raw(0x8000_0000_0000_0000, 16))
    };
    assert_eq!(ctx.pread(fd, unmapped, 0x400), Err(Errno::EFAULT));
    assert_eq!(ctx.pread(fd, non_canonical, 0x400), Err(Errno::EFAULT));
}

#[ktest]
fn lseek_uses_unsigned_offsets_up_to_the_errno_range() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    assert_eq!(ctx.lseek(fd, -4096, SEEK_SET), Ok(u64::MAX - 4095));
    assert_eq!(ctx.lseek(fd, -4095, SEEK_SET), Err(Errno::EOVERFLOW));
    assert_eq!(ctx.lseek(fd, 0, SEEK_CUR), Ok(u64::MAX - 4095), "a failed lseek keeps the offset");
    assert_eq!(ctx.lseek(fd, 0, SEEK_END), Err(Errno::EINVAL));
    assert_eq!(ctx.lseek(fd, 0, 7), Err(Errno::EINVAL));
    ctx.lseek(fd, 0x400, SEEK_SET).unwrap();
    assert_eq!(ctx.lseek(fd, 0x10, SEEK_CUR), Ok(0x410));
    assert_eq!(ctx.lseek(fd, -0x20, SEEK_CUR), Ok(0x3f0));
}

#[ktest]
fn mmap_of_device_memory_is_uncached_and_reads_the_register() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let addr = ctx.mmap(fd, HPET, 4096, PROT_READ, MAP_SHARED).unwrap();
    let page = query(addr).unwrap();
    assert_eq!((page.phys.as_u64(), page.writable, page.ram), (HPET, false, false));
    // SeaBIOS's MTRRs say UC above 2 GiB, so the mapping is UC-.
    assert_eq!(page.memtype, MemoryType::UncachedMinus);
    let caps = read_width(addr, Width::U64).unwrap();
    assert_eq!((caps >> 16) & 0xffff, 0x8086);
    ctx.munmap(addr, 4096).unwrap();
    assert!(query(addr).is_none());
}

#[ktest]
fn mmap_refuses_bad_requests() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    assert_eq!(ctx.mmap(fd, 0x1001, 4096, PROT_READ, MAP_SHARED), Err(Errno::EINVAL));
    assert_eq!(ctx.mmap(fd, 0, 4096, PROT_READ, MAP_PRIVATE), Err(Errno::EINVAL));
    assert_eq!(ctx.mmap(fd, 0, 0, PROT_READ, MAP_SHARED), Err(Errno::EINVAL));
    assert_eq!(ctx.mmap(fd, 0x20_0000, 4096, PROT_READ, MAP_SHARED), Err(Errno::EPERM));
    assert_eq!(ctx.mmap(fd, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED), Err(Errno::EACCES));
    let limit = 1u64 << crate::mm::physmap::max_phys_addr_bits();
    assert_eq!(ctx.mmap(fd, limit - 4096, 8192, PROT_READ, MAP_SHARED), Err(Errno::EINVAL));
    assert_eq!(ctx.munmap(0x1234_0000, 4096), Err(Errno::EINVAL));
}

#[ktest]
fn a_page_is_never_mapped_with_two_memory_types() {
    let mut ctx = root();
    let cached = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let uncached = ctx.open("/dev/mem", O_RDONLY | O_SYNC, 0).unwrap();
    let wb = ctx.mmap(cached, 0, 4096, PROT_READ, MAP_SHARED).unwrap();
    assert_eq!(query(wb).unwrap().memtype, MemoryType::WriteBack, "RAM maps write-back");
    assert_eq!(ctx.mmap(uncached, 0, 4096, PROT_READ, MAP_SHARED), Err(Errno::EAGAIN));
    let again = ctx.mmap(cached, 0, 4096, PROT_READ, MAP_SHARED).unwrap();
    ctx.munmap(wb, 4096).unwrap();
    ctx.munmap(again, 4096).unwrap();
    let uc = ctx.mmap(uncached, 0, 4096, PROT_READ, MAP_SHARED).unwrap();
    assert_eq!(query(uc).unwrap().memtype, MemoryType::UncachedMinus, "O_SYNC maps uncached");
    ctx.munmap(uc, 4096).unwrap();
}

#[ktest]
fn other_ioctls_are_enotty() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    assert_eq!(ctx.ioctl(fd, 0x5401, 0), Err(Errno::ENOTTY));
    let null = ctx.open("/dev/null", O_RDONLY, 0).unwrap();
    assert_eq!(ctx.ioctl(null, memrange::MEMRANGE_GET, 0), Err(Errno::ENOTTY));
}

#[ktest]
fn device_reads_work_into_buffers_of_any_alignment() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let mut buf = alloc::vec![0u8; 3 * 4096];
    // The VGA window (MMIO), the BIOS ROM, and a run from low RAM into the ROM.
    for (offset, len) in [(0xa0000u64, 4096usize), (0xa0003, 4096), (0xf0000, 8192), (0x9f000 + 5, 8000)] {
        for shift in 0..8 {
            let target = &mut buf[shift..shift + len];
            assert_eq!(
                ctx.pread(fd, UserBuf::from_mut_slice(target), offset),
                Ok(len),
                "{offset:#x} into +{shift}"
            );
        }
    }
}

#[ktest]
fn device_writes_work_from_buffers_of_any_alignment() {
    // The VGA card's framebuffer (QEMU's std VGA puts BAR 0 at 0xFD000000; nothing shows
    // it here): device memory that keeps what is written.
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDWR, 0).unwrap();
    let mut source = alloc::vec![0u8; 64 + 8];
    for (i, byte) in source.iter_mut().enumerate() {
        *byte = i as u8 ^ 0x5a;
    }
    for (offset, shift) in [(0xfd00_0000u64, 0usize), (0xfd00_0000, 3), (0xfd00_0105, 5), (0xfd00_0105, 0)] {
        let data = &source[shift..shift + 64];
        assert_eq!(ctx.pwrite(fd, UserBuf::from_slice(data), offset), Ok(64), "{offset:#x} from +{shift}");
        let (back, n) = pread_array::<64>(&mut ctx, fd, offset).unwrap();
        assert_eq!((&back[..], n), (data, 64), "{offset:#x} from +{shift}");
    }
}

#[ktest]
fn a_huge_mmap_length_is_enomem_not_a_panic() {
    let mut ctx = crate::dev::tests::as_user("operator");
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let before = (crate::mm::heap::stats().used, crate::mm::frames::stats().free);
    // Above RAM, below 2^MAXPHYADDR: every page is allowed, so only the size can refuse it.
    for len in [1u64 << 36, (1 << 30) + 4096] {
        assert_eq!(
            ctx.mmap(fd, 0x100_0000_0000 - (1 << 37), len, PROT_READ, MAP_SHARED),
            Err(Errno::ENOMEM),
            "{len:#x}"
        );
    }
    assert_eq!((crate::mm::heap::stats().used, crate::mm::frames::stats().free), before, "nothing kept");
}

/// A buffer whose first `mapped` bytes end a mapped page and whose rest is the unmapped
/// guard page after it; `f` gets its address. The frame goes back afterwards.
fn with_half_mapped_buffer<R>(mapped: u64, f: impl FnOnce(u64) -> R) -> R {
    use crate::mm::{frames, window};
    let frame = frames::allocate_zeroed().expect("a frame");
    let mapping = window::map_frames(&[frame]).expect("a window mapping");
    let end = mapping.va.as_u64() + 4096;
    assert!(query(end).is_none(), "the page after a window mapping is a guard");
    let result = f(end - mapped);
    window::unmap_phys_range(mapping);
    frames::free(frame).unwrap();
    result
}

/// A fault after some bytes have moved returns the count, on the RAM path and on the
/// device path alike (`partial`), and the bytes that did move are the right ones.
#[ktest]
fn a_fault_mid_transfer_returns_the_bytes_moved() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    // RAM (the BIOS data area) and device memory (the BIOS ROM, read uncached).
    for offset in [0x400u64, 0xf_fff0 - 0x1000] {
        let (expected, _) = pread_array::<16>(&mut ctx, fd, offset).unwrap();
        let got = with_half_mapped_buffer(16, |addr| {
            // SAFETY: [addr, addr+32) is the end of the window mapping of a frame this test
            // owns, then its unmapped guard page: nothing else is there to write.
            #[allow(unsafe_code)]
            let moved = ctx.pread(fd, unsafe { UserBuf::from_raw(addr, 32) }, offset);
            let mut back = [0u8; 16];
            crate::mm::nofault::read_kernel(VirtAddr::new(addr), &mut back).unwrap();
            (moved, back)
        });
        assert_eq!(got, (Ok(16), expected), "{offset:#x}");
    }
    // Nothing mapped at all: EFAULT, no count.
    // SAFETY: [addr, addr+32) is the unmapped guard page: nothing there to write.
    #[allow(unsafe_code)]
    let none =
        with_half_mapped_buffer(0, |addr| ctx.pread(fd, unsafe { UserBuf::from_raw(addr, 32) }, 0x400));
    assert_eq!(none, Err(Errno::EFAULT));
}

/// Unaligned buffers get the same bytes as an aligned read, not just the same count.
#[ktest]
fn unaligned_device_reads_return_the_right_bytes() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let mut reference = alloc::vec![0u8; 8192];
    let mut buf = alloc::vec![0u8; 8192 + 8];
    for (offset, len) in [(0xf0000u64, 8192usize), (0xf0003, 4000), (0x9f000 + 5, 8000)] {
        assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(&mut reference[..len]), offset), Ok(len));
        for shift in 1..8 {
            let target = &mut buf[shift..shift + len];
            assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(target), offset), Ok(len));
            assert!(target[..] == reference[..len], "{offset:#x} into +{shift}: bytes differ");
        }
    }
}

/// Mixed plain and O_SYNC mmaps of a range memrange typed, across a REMOVE: the second
/// type is refused (EAGAIN), the REMOVE waits for the last mapping (EBUSY), and after
/// it a new O_SYNC mapping takes the rules' type. No page is ever mapped with two types.
#[ktest]
fn plain_and_o_sync_mmaps_across_a_remove() {
    use memrange::{
        MDF_WRITECOMBINE, MEMRANGE_SET, MEMRANGE_SET_REMOVE, MEMRANGE_SET_UPDATE, MemRangeDesc, MemRangeOp,
    };
    // A process's view: its mappings make the range busy.
    let space = crate::vfs::userbuf::UserSpace::LOWER_HALF;
    let mut user = crate::vfs::Context::with_user_space(vfs_core::cred::Credentials::ROOT, space);
    let mut ctx = root();
    let plain = ctx.open("/dev/mem", O_RDWR, 0).unwrap();
    let user_plain = user.open("/dev/mem", O_RDWR, 0).unwrap();
    let sync = user.open("/dev/mem", O_RDWR | O_SYNC, 0).unwrap();
    let (base, len) = (0x1_0000_0000u64, 0x20_0000u64);
    let set = |ctx: &mut crate::vfs::Context, flags, op| {
        let mut desc = MemRangeDesc::new(base, len, flags, "mixed").to_bytes();
        let mut op = MemRangeOp { mo_desc: desc.as_mut_ptr() as u64, mo_arg: [op, 0] }.to_bytes();
        ctx.ioctl(plain, MEMRANGE_SET, op.as_mut_ptr() as u64)
    };
    set(&mut ctx, MDF_WRITECOMBINE, MEMRANGE_SET_UPDATE).unwrap();
    let wc = user.mmap(user_plain, base, 4096, PROT_READ | PROT_WRITE, MAP_SHARED).unwrap();
    assert_eq!(query(wc).unwrap().memtype, MemoryType::WriteCombining);
    let second = user.mmap(sync, base, 4096, PROT_READ, MAP_SHARED);
    if let Ok(addr) = second {
        // Allowed only with the same type.
        assert_eq!(query(addr).unwrap().memtype, MemoryType::WriteCombining);
        user.munmap(addr, 4096).unwrap();
    } else {
        assert_eq!(second, Err(Errno::EAGAIN));
    }
    assert_eq!(set(&mut ctx, 0, MEMRANGE_SET_REMOVE), Err(Errno::EBUSY));
    assert_eq!(query(wc).unwrap().memtype, MemoryType::WriteCombining, "the mapping kept its type");
    user.munmap(wc, 4096).unwrap();
    set(&mut ctx, 0, MEMRANGE_SET_REMOVE).unwrap();
    let after = user.mmap(sync, base, 4096, PROT_READ, MAP_SHARED).unwrap();
    assert_eq!(crate::mm::registry::lookup(PhysAddr::new(base)), Some(query(after).unwrap().memtype));
    assert_ne!(query(after).unwrap().memtype, MemoryType::WriteCombining);
    user.munmap(after, 4096).unwrap();
    assert_eq!(crate::mm::registry::lookup(PhysAddr::new(base)), None);
}

/// An O_SYNC mmap of a RAM page (what `devmem 0x4f0 8` makes) is uncached, and the
/// direct map's alias of the page follows it while it lives (Linux's
/// `kernel_map_sync_memtype`), then goes back to write-back: never two types at once.
#[ktest]
fn an_uncached_mmap_of_ram_retypes_the_direct_map_alias() {
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY | O_SYNC, 0).unwrap();
    let direct = crate::mm::phys_to_virt(PhysAddr::zero()).as_u64();
    assert_eq!(query(direct).unwrap().memtype, MemoryType::WriteBack);
    let addr = ctx.mmap(fd, 0, 4096, PROT_READ, MAP_SHARED).unwrap();
    assert_eq!(query(addr).unwrap().memtype, MemoryType::UncachedMinus);
    assert_eq!(query(direct).unwrap().memtype, MemoryType::UncachedMinus, "the direct map follows");
    // A read through the direct map (read(2) of /dev/mem) still gets the bytes.
    assert_eq!(pread_array::<2>(&mut ctx, fd, 0x400).unwrap().0, 0x3f8u16.to_le_bytes());
    ctx.munmap(addr, 4096).unwrap();
    assert_eq!(query(direct).unwrap().memtype, MemoryType::WriteBack, "back once the mapping is gone");
    assert_eq!(query(direct + 4096).unwrap().memtype, MemoryType::WriteBack, "the next page never changed");
}

/// The kernel's own mappings of physical ranges are in the registry too: a /dev/mem mmap
/// with another type is refused while one lives (one page, one type), a read through the
/// scratch page takes the type it has, and the registration ends with the mapping.
#[ktest]
fn the_kernels_own_window_mappings_are_in_the_registry() {
    use crate::mm::window::{map_phys_range, unmap_phys_range};
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    assert_eq!(crate::mm::registry::lookup(PhysAddr::new(HPET)), None);
    let kernel = map_phys_range(PhysAddr::new(HPET), 4096, MemoryType::Uncacheable).unwrap();
    assert_eq!(crate::mm::registry::lookup(PhysAddr::new(HPET)), Some(MemoryType::Uncacheable));
    // The rules give a plain mmap of the HPET UC-: not the kernel's UC.
    assert_eq!(ctx.mmap(fd, HPET, 4096, PROT_READ, MAP_SHARED), Err(Errno::EAGAIN));
    // read(2) borrows the page with the type it has, and gets the register.
    let (bytes, _) = pread_array::<8>(&mut ctx, fd, HPET).unwrap();
    assert_eq!((u64::from_le_bytes(bytes) >> 16) & 0xffff, 0x8086);
    unmap_phys_range(kernel);
    assert_eq!(crate::mm::registry::lookup(PhysAddr::new(HPET)), None);
    let user = ctx.mmap(fd, HPET, 4096, PROT_READ, MAP_SHARED).unwrap();
    assert_eq!(query(user).unwrap().memtype, MemoryType::UncachedMinus);
    ctx.munmap(user, 4096).unwrap();
    crate::mm::memtype::check_one_type_per_page().unwrap();
}

/// A kernel mapping of a RAM page with another type re-types the page's direct-map
/// alias while it lives (as an O_SYNC mmap does), and gives it back after.
#[ktest]
fn a_kernel_mapping_of_ram_with_another_type_retypes_the_direct_map() {
    use crate::mm::window::{map_phys_range, unmap_phys_range};
    let page = PhysAddr::new(0x1000);
    let direct = crate::mm::phys_to_virt(page).as_u64();
    assert_eq!(query(direct).unwrap().memtype, MemoryType::WriteBack);
    let mapping = map_phys_range(page, 4096, MemoryType::WriteThrough).unwrap();
    assert_eq!(query(mapping.va.as_u64()).unwrap().memtype, MemoryType::WriteThrough);
    assert_eq!(query(direct).unwrap().memtype, MemoryType::WriteThrough, "the direct map follows");
    crate::mm::memtype::check_one_type_per_page().unwrap();
    unmap_phys_range(mapping);
    assert_eq!(query(direct).unwrap().memtype, MemoryType::WriteBack);
    assert_eq!(crate::mm::registry::lookup(page), None);
}

/// The local APIC's page, mapped by the kernel for good, is registered with the type
/// /dev/mem's rules give it (UC- over the MTRRs' UC, as Linux maps it), so `devmem
/// 0xfee00030` (an O_SYNC mmap) maps it beside the kernel.
#[ktest]
fn the_local_apic_page_is_registered_and_devmem_can_map_it() {
    let Some(registered) = crate::mm::registry::lookup(PhysAddr::new(LAPIC)) else {
        // x2APIC: the kernel reaches the APIC through MSRs and maps nothing.
        assert_eq!(
            crate::arch::apic::mode(),
            crate::arch::apic::Mode::X2apic,
            "xAPIC without a registered mapping"
        );
        return;
    };
    assert_eq!(registered, MemoryType::UncachedMinus);
    let mut ctx = root();
    let fd = ctx.open("/dev/mem", O_RDONLY | O_SYNC, 0).unwrap();
    let addr = ctx.mmap(fd, LAPIC, 4096, PROT_READ, MAP_SHARED).unwrap();
    assert_eq!(query(addr).unwrap().memtype, MemoryType::UncachedMinus);
    let version = read_width(addr + 0x30, Width::U32).unwrap();
    assert!((0x10..=0x15).contains(&(version & 0xff)), "version {version:#x}");
    ctx.munmap(addr, 4096).unwrap();
    assert_eq!(crate::mm::registry::lookup(PhysAddr::new(LAPIC)), Some(registered), "the kernel's stays");
}
