use errno::Errno;
use vfs_core::flags::{MAP_SHARED, O_RDONLY, O_RDWR, PROT_READ, SEEK_SET};

use super::{read_at, root};
use crate::ktest::ktest;
use crate::mm::window::{map_phys_range, unmap_phys_range};
use crate::mm::{MemoryType, PhysAddr, VirtAddr};
use crate::vfs::UserBuf;

static MESSAGE: [u8; 16] = *b"kmem reads this.";

#[ktest]
fn kernel_data_reads_back() {
    let mut ctx = root();
    let fd = ctx.open("/dev/kmem", O_RDONLY, 0).unwrap();
    let address = core::hint::black_box(&MESSAGE).as_ptr() as u64;
    assert_eq!(read_at::<16>(&mut ctx, fd, address), Ok((MESSAGE, 16)));
}

#[ktest]
fn unmapped_and_non_canonical_addresses_are_efault() {
    let mut ctx = root();
    let fd = ctx.open("/dev/kmem", O_RDONLY, 0).unwrap();
    assert_eq!(read_at::<8>(&mut ctx, fd, 0xffff_e800_0000_0000).map(|r| r.1), Err(Errno::EFAULT));
    // 2^63 and above are valid offsets for kmem (unsigned), but this one is non-canonical.
    assert_eq!(read_at::<8>(&mut ctx, fd, 0x8000_0000_0000_0000).map(|r| r.1), Err(Errno::EFAULT));
}

#[ktest]
fn device_pages_are_eio_on_kmem_and_readable_on_allkmem() {
    let mapping = map_phys_range(PhysAddr::new(0xfed0_0000), 4096, MemoryType::Uncacheable).unwrap();
    let mut ctx = root();
    let kmem = ctx.open("/dev/kmem", O_RDONLY, 0).unwrap();
    assert_eq!(read_at::<8>(&mut ctx, kmem, mapping.va.as_u64()).map(|r| r.1), Err(Errno::EIO));
    let all = ctx.open("/dev/allkmem", O_RDONLY, 0).unwrap();
    let (bytes, n) = read_at::<8>(&mut ctx, all, mapping.va.as_u64()).unwrap();
    assert_eq!(n, 8);
    assert_eq!((u64::from_le_bytes(bytes) >> 16) & 0xffff, 0x8086, "the HPET through allkmem");
    unmap_phys_range(mapping);
}

#[ktest]
fn the_direct_map_reaches_no_device() {
    // The HPET, the local APIC and the BIOS ROM have no direct-map alias: only a mapping
    // made for them (with a type chosen for them) reaches them.
    let mut ctx = root();
    let all = ctx.open("/dev/allkmem", O_RDONLY, 0).unwrap();
    for phys in [0xfed0_0000u64, 0xfee0_0000, 0xf_0000, 0xa_0000] {
        let alias = crate::mm::phys_to_virt(PhysAddr::new(phys)).as_u64();
        assert_eq!(read_at::<8>(&mut ctx, all, alias).map(|r| r.1), Err(Errno::EFAULT), "{phys:#x}");
    }
    // RAM is there: the BIOS data area's first COM port address.
    let (bytes, n) =
        read_at::<2>(&mut ctx, all, crate::mm::phys_to_virt(PhysAddr::new(0x400)).as_u64()).unwrap();
    assert_eq!((n, u16::from_le_bytes(bytes)), (2, 0x3f8));
}

#[ktest]
fn read_only_pages_stay_read_only() {
    let mut ctx = root();
    let fd = ctx.open("/dev/kmem", O_RDWR, 0).unwrap();
    let address = core::hint::black_box(&MESSAGE).as_ptr() as u64;
    ctx.lseek(fd, address as i64, SEEK_SET).unwrap();
    assert_eq!(ctx.write(fd, UserBuf::from_slice(b"overwrite")), Err(Errno::EFAULT));
    assert_eq!(MESSAGE, *b"kmem reads this.");
    // A writable page takes the write.
    let mut target = alloc::boxed::Box::new([0u8; 8]);
    let address = target.as_mut_ptr() as u64;
    ctx.lseek(fd, address as i64, SEEK_SET).unwrap();
    assert_eq!(ctx.write(fd, UserBuf::from_slice(b"poke")), Ok(4));
    assert_eq!(&target[..4], b"poke");
}

#[ktest]
fn a_read_running_into_an_unmapped_page_returns_the_mapped_part() {
    let mut ctx = root();
    let fd = ctx.open("/dev/kmem", O_RDONLY, 0).unwrap();
    let end = crate::mm::layout::HEAP_BASE + crate::mm::heap::stats().size;
    assert_eq!(read_at::<64>(&mut ctx, fd, end - 16).map(|r| r.1), Ok(16));
    assert_eq!(read_at::<64>(&mut ctx, fd, end).map(|r| r.1), Err(Errno::EFAULT));
}

#[ktest]
fn kmem_cannot_be_mapped() {
    let mut ctx = root();
    let fd = ctx.open("/dev/kmem", O_RDONLY, 0).unwrap();
    assert_eq!(ctx.mmap(fd, 0xffff_ffff_8000_0000, 4096, PROT_READ, MAP_SHARED), Err(Errno::ENXIO));
}

#[ktest]
fn pread_refuses_kernel_half_offsets_as_linux_does() {
    // Kernel addresses are negative as a signed offset: pread/pwrite are EINVAL for
    // them (ksys_pread64); lseek (unsigned for kmem) and read are the way (Linux `memory_lseek`).
    let mut ctx = root();
    let fd = ctx.open("/dev/kmem", O_RDONLY, 0).unwrap();
    let address = core::hint::black_box(&MESSAGE).as_ptr() as u64;
    let mut buf = [0u8; 4];
    assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(&mut buf), address), Err(Errno::EINVAL));
    assert_eq!(read_at::<4>(&mut ctx, fd, address).map(|r| r.1), Ok(4));
}

#[ktest]
fn kernel_read_only_data_stays_read_only_through_the_direct_map() {
    let mut ctx = root();
    let fd = ctx.open("/dev/kmem", O_RDWR, 0).unwrap();
    // MESSAGE is in the kernel's read-only data; the direct map aliases its frame.
    let address = VirtAddr::from_ptr(core::hint::black_box(&MESSAGE).as_ptr());
    let phys = crate::mm::paging::translate(address).expect("mapped").phys;
    let alias = crate::mm::phys_to_virt(phys);
    assert!(crate::mm::query::query(alias).expect("the direct map covers RAM").writable);
    let alias = alias.as_u64();
    ctx.lseek(fd, alias as i64, SEEK_SET).unwrap();
    assert_eq!(ctx.write(fd, UserBuf::from_slice(b"X")), Err(Errno::EFAULT));
    assert_eq!(read_at::<16>(&mut ctx, fd, alias), Ok((MESSAGE, 16)), "unchanged");
    // Kernel data stays writable through the alias.
    static mut DATA: [u8; 8] = [0; 8];
    let data = VirtAddr::from_ptr(core::ptr::addr_of!(DATA));
    let data_alias = crate::mm::phys_to_virt(crate::mm::paging::translate(data).expect("mapped").phys);
    ctx.lseek(fd, data_alias.as_u64() as i64, SEEK_SET).unwrap();
    assert_eq!(ctx.write(fd, UserBuf::from_slice(b"written!")), Ok(8));
}
