//! The /dev/mem rules of docs/devices.md: which physical pages may be touched and
//! how (Linux `arch/x86/mm/init.c` `devmem_is_allowed`, with this kernel's STRICT profile),
//! mmap's argument checks (Linux `mmap_mem`, illumos `mmmmap`), the memory type of a mapping
//! (Linux `phys_mem_access_prot_allowed` and `memtype_reserve`). The no-alias rule itself
//! is the kernel's memory-type registry (`mm::registry::reserve`).

use crate::flags::{MAP_SHARED, MAP_TYPE};
use crate::transfer::PAGE_SIZE;
use errno::Errno;
use mm_core::memtype::MemoryType;

/// Physical addresses below this are the first MiB, which STRICT mode leaves open (BIOS data, EBDA, RSDP).
pub const LOW_MEMORY_END: u64 = 0x10_0000;

/// How /dev/mem reaches a physical page it may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageAccess {
    /// RAM (through the direct map, WB)
    Ram,
    /// device memory, ROM, reserved or a hole: an uncached mapping, accesses of natural width
    Device,
}

/// Whether `phys` is at or above 2^max_phys_bits (never true for 64 bits or more).
fn beyond_max_phys(phys: u64, max_phys_bits: u32) -> bool {
    phys.checked_shr(max_phys_bits).is_some_and(|high| high != 0)
}

/// Whether /dev/mem may touch the physical page containing `phys`: at or above 2^max_phys_bits -> EFAULT; a page that overlaps System RAM -> Ram, except with STRICT on and phys >= 1 MiB -> EPERM; otherwise Device.
pub fn page_access(
    phys: u64,
    overlaps_ram: bool,
    strict: bool,
    max_phys_bits: u32,
) -> Result<PageAccess, Errno> {
    if beyond_max_phys(phys, max_phys_bits) {
        Err(Errno::EFAULT)
    } else if !overlaps_ram {
        Ok(PageAccess::Device)
    } else if strict && phys >= LOW_MEMORY_END {
        Err(Errno::EPERM)
    } else {
        Ok(PageAccess::Ram)
    }
}

/// mmap checks on /dev/mem (docs/devices.md; Linux `mmap_mem`): offset not page-aligned -> EINVAL; len 0 -> EINVAL; flags without MAP_SHARED or with MAP_PRIVATE -> EINVAL; offset + len (rounded up to pages) overflowing or past 2^max_phys_bits -> EINVAL.
///
/// The mapping type must be exactly `MAP_SHARED` (so `MAP_SHARED_VALIDATE`, 3, is refused too);
/// other flag bits are not looked at. A range whose last byte is u64::MAX is accepted when
/// `max_phys_bits` is 64, as Linux checks `offset + size - 1 < offset`.
pub fn check_mmap(offset: u64, len: u64, flags: u32, max_phys_bits: u32) -> Result<(), Errno> {
    if !offset.is_multiple_of(PAGE_SIZE) || len == 0 || flags & MAP_TYPE != MAP_SHARED {
        return Err(Errno::EINVAL);
    }
    let size = len.checked_next_multiple_of(PAGE_SIZE).ok_or(Errno::EINVAL)?;
    let last = offset.checked_add(size - 1).ok_or(Errno::EINVAL)?;
    if beyond_max_phys(last, max_phys_bits) { Err(Errno::EINVAL) } else { Ok(()) }
}

/// The memory type a /dev/mem mmap gets for one page (docs/devices.md): a type registered by memrange for the range wins; else UC- when the file was opened O_SYNC; else WB for RAM; else WB if the MTRRs say WB for it, otherwise UC-.
pub fn mmap_memtype(
    access: PageAccess,
    opened_sync: bool,
    mtrr_type: Option<MemoryType>,
    registered: Option<MemoryType>,
) -> MemoryType {
    match (registered, opened_sync, access, mtrr_type) {
        (Some(memtype), ..) => memtype,
        (None, true, ..) => MemoryType::UncachedMinus,
        (None, false, PageAccess::Ram, _) => MemoryType::WriteBack,
        (None, false, PageAccess::Device, Some(MemoryType::WriteBack)) => MemoryType::WriteBack,
        (None, false, PageAccess::Device, _) => MemoryType::UncachedMinus,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{MAP_FIXED, MAP_PRIVATE};
    use mm_core::memtype::ALL_MEMORY_TYPES;
    use proptest::prelude::*;

    use MemoryType::{UncachedMinus as UcMinus, WriteBack as Wb, WriteCombining as Wc};

    #[test]
    fn page_access_profile() {
        assert_eq!(page_access(0x400, true, true, 40), Ok(PageAccess::Ram), "BIOS data area");
        assert_eq!(page_access(0xf_ffff, true, true, 40), Ok(PageAccess::Ram));
        assert_eq!(page_access(0x10_0000, true, true, 40), Err(Errno::EPERM));
        assert_eq!(page_access(0x10_0000, true, false, 40), Ok(PageAccess::Ram));
        assert_eq!(page_access(0xa_0000, false, true, 40), Ok(PageAccess::Device), "VGA hole");
        assert_eq!(page_access(0xfee0_0000, false, true, 40), Ok(PageAccess::Device), "local APIC");
        assert_eq!(page_access((1 << 40) - 1, false, true, 40), Ok(PageAccess::Device));
        assert_eq!(page_access(1 << 40, false, true, 40), Err(Errno::EFAULT));
        assert_eq!(page_access(1 << 40, true, false, 40), Err(Errno::EFAULT));
        assert_eq!(page_access(u64::MAX, false, true, 64), Ok(PageAccess::Device));
        assert_eq!(page_access(1, false, true, 0), Err(Errno::EFAULT));
    }

    #[test]
    fn mmap_arguments() {
        assert_eq!(check_mmap(0xfd00_0000, 0x1000, MAP_SHARED, 40), Ok(()));
        assert_eq!(check_mmap(0, 1, MAP_SHARED | MAP_FIXED, 40), Ok(()));
        assert_eq!(check_mmap(0x800, 0x1000, MAP_SHARED, 40), Err(Errno::EINVAL));
        assert_eq!(check_mmap(0x1000, 0, MAP_SHARED, 40), Err(Errno::EINVAL));
        assert_eq!(check_mmap(0x1000, 0x1000, MAP_PRIVATE, 40), Err(Errno::EINVAL));
        assert_eq!(check_mmap(0x1000, 0x1000, MAP_SHARED | MAP_PRIVATE, 40), Err(Errno::EINVAL));
        assert_eq!(check_mmap(0x1000, 0x1000, 0, 40), Err(Errno::EINVAL));
        assert_eq!(check_mmap((1 << 40) - 0x1000, 0x1000, MAP_SHARED, 40), Ok(()));
        assert_eq!(check_mmap((1 << 40) - 0x1000, 0x1001, MAP_SHARED, 40), Err(Errno::EINVAL));
        assert_eq!(check_mmap(1 << 40, 0x1000, MAP_SHARED, 40), Err(Errno::EINVAL));
        assert_eq!(check_mmap(0, u64::MAX, MAP_SHARED, 64), Err(Errno::EINVAL), "rounding overflows");
        assert_eq!(check_mmap(u64::MAX - 0xfff, 0x1000, MAP_SHARED, 64), Ok(()));
        assert_eq!(check_mmap(u64::MAX - 0xfff, 0x1001, MAP_SHARED, 64), Err(Errno::EINVAL));
    }

    #[test]
    fn memtypes_of_part_0() {
        use PageAccess::{Device, Ram};
        assert_eq!(mmap_memtype(Ram, false, Some(Wb), None), Wb);
        assert_eq!(mmap_memtype(Ram, false, None, None), Wb);
        assert_eq!(mmap_memtype(Ram, true, Some(Wb), None), UcMinus);
        assert_eq!(mmap_memtype(Device, false, None, None), UcMinus);
        assert_eq!(mmap_memtype(Device, false, Some(MemoryType::Uncacheable), None), UcMinus);
        assert_eq!(mmap_memtype(Device, false, Some(Wb), None), Wb);
        assert_eq!(mmap_memtype(Device, true, Some(Wb), Some(Wc)), Wc);
        assert_eq!(mmap_memtype(Ram, true, None, Some(MemoryType::WriteThrough)), MemoryType::WriteThrough);
    }

    fn memtype() -> impl Strategy<Value = MemoryType> {
        proptest::sample::select(&ALL_MEMORY_TYPES[..])
    }

    proptest! {
        #[test]
        fn page_access_oracle(phys: u64, ram: bool, strict: bool, bits in 0u32..80) {
            let expected = if bits < 64 && u128::from(phys) >= 1u128 << bits {
                Err(Errno::EFAULT)
            } else if !ram {
                Ok(PageAccess::Device)
            } else if strict && phys >= 1 << 20 {
                Err(Errno::EPERM)
            } else {
                Ok(PageAccess::Ram)
            };
            prop_assert_eq!(page_access(phys, ram, strict, bits), expected);
        }

        #[test]
        fn check_mmap_oracle(
            page in prop_oneof![any::<u64>(), 0u64..0x100_0000],
            sub in prop_oneof![Just(0u64), 1u64..4096],
            len in prop_oneof![any::<u64>(), 0u64..0x10_0000],
            flags in prop_oneof![any::<u32>(), 0u32..0x40],
            bits in 30u32..70,
        ) {
            let offset = page.wrapping_mul(PAGE_SIZE).wrapping_add(sub);
            let pages = u128::from(len).div_ceil(4096);
            let end = u128::from(offset) + pages * 4096;
            let limit = 1u128 << bits.min(64);
            let rounds = pages * 4096 < 1 << 64;
            let ok = sub == 0 && len > 0 && flags & 0xf == 1 && rounds && end <= limit;
            prop_assert_eq!(check_mmap(offset, len, flags, bits).is_ok(), ok);
        }

        #[test]
        fn memtype_oracle(
            device: bool, sync: bool,
            mtrr in proptest::option::of(memtype()), registered in proptest::option::of(memtype()),
        ) {
            let access = if device { PageAccess::Device } else { PageAccess::Ram };
            let got = mmap_memtype(access, sync, mtrr, registered);
            if let Some(memtype) = registered {
                prop_assert_eq!(got, memtype);
            } else {
                prop_assert!(got == Wb || got == UcMinus, "only WB or UC- without memrange");
                prop_assert_eq!(got == Wb, !sync && (!device || mtrr == Some(Wb)));
            }
        }
    }
}
