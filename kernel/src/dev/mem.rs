//! /dev/mem: the offset is a physical address (docs/devices.md).
//!
//! Page by page: at or above 2^MAXPHYADDR is EFAULT; with STRICT mode on (the default),
//! System RAM above 1 MiB is EPERM; RAM is copied through the direct map; anything else
//! (device memory, ROM, reserved ranges, holes) is mapped uncached and accessed with the
//! widest naturally aligned loads and stores that fit, so device registers see the width
//! the user asked for. A transfer that fails after moving bytes returns the count.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use errno::{Errno, KResult};
use mm_core::memtype::MemoryType;
use vfs_core::devmem::{self, PageAccess};
use vfs_core::flags::PROT_WRITE;
use vfs_core::transfer::{page_chunks, partial};

use super::access::{Direction, device_transfer};

use crate::mm::{PhysAddr, memtype, phys_to_virt, physmap, window};
use crate::vfs::UserBuf;
use crate::vfs::ops::{Caller, FileOps, Mapping, SeekPolicy};

static STRICT: AtomicBool = AtomicBool::new(true);

/// The memory types a /dev/mem mapping of the `pages` pages from `first` gets under the
/// rules of docs/devices.md (the MTRRs are read once for all of them); `None` for a page /dev/mem
/// may not touch.
pub(super) fn mmap_types(first: PhysAddr, pages: u64, opened_sync: bool) -> Vec<Option<MemoryType>> {
    let mtrr_types = super::memrange::mtrr_types(first.as_u64(), pages);
    (0..pages)
        .zip(mtrr_types)
        .map(|(page, mtrr)| {
            let phys = first.as_u64().checked_add(page * 4096)?;
            let access = page_access(phys).ok()?;
            let set = memtype::set_type_at(PhysAddr::try_new(phys).ok()?);
            Some(devmem::mmap_memtype(access, opened_sync, mtrr, set))
        })
        .collect()
}

/// A physical address the page policy allowed (so below 2^MAXPHYADDR), typed; EFAULT
/// for one that is not (which `page_access` never lets through).
fn allowed(phys: u64) -> KResult<PhysAddr> {
    PhysAddr::try_new(phys).map_err(|_| Errno::EFAULT)
}

/// Registers `/proc/sys/dev/mem/strict`: `1` while /dev/mem refuses System RAM above
/// 1 MiB; root can write `0` or `1`.
pub fn register_proc_files() {
    crate::vfs::procfs::register("sys/dev/mem/strict", crate::vfs::procfs::ROOT_WRITABLE, |_| {
        Ok(alloc::sync::Arc::new(Strict))
    });
}

/// `/proc/sys/dev/mem/strict`.
struct Strict;

impl FileOps for Strict {
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let text: &[u8] = if strict() { b"1\n" } else { b"0\n" };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
        let len = buf.len().min(text.len() - start);
        buf.write_at(0, &text[start..start + len])?;
        Ok(len)
    }

    /// Accepts `0` or `1`, with surrounding whitespace (`echo 0 >` adds a newline).
    fn write(&self, _: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let mut text = [0u8; 16];
        let len = buf.len().min(text.len());
        buf.read_at(0, &mut text[..len])?;
        match core::str::from_utf8(&text[..len]).map(str::trim) {
            Ok("0") if buf.len() <= text.len() => set_strict(false),
            Ok("1") if buf.len() <= text.len() => set_strict(true),
            _ => return Err(Errno::EINVAL),
        }
        Ok(buf.len())
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Regular { size: 2 }
    }
}

/// Whether STRICT mode is on.
pub fn strict() -> bool {
    STRICT.load(Ordering::SeqCst)
}

/// Turns STRICT mode on or off (`/proc/sys/dev/mem/strict`).
pub fn set_strict(on: bool) {
    STRICT.store(on, Ordering::SeqCst);
}

/// How /dev/mem may touch the page holding `phys`.
pub fn page_access(phys: u64) -> KResult<PageAccess> {
    let map = physmap::map();
    devmem::page_access(phys, map.page_overlaps_ram(phys), strict(), physmap::max_phys_addr_bits())
}

/// The longest /dev/mem mapping made in one call (1 GiB).
pub const MAX_MMAP_LEN: u64 = 1 << 30;

pub struct Mem {
    /// Opened with O_SYNC or O_DSYNC: mmap is uncached.
    pub opened_sync: bool,
}

/// One page-bounded piece of device memory, through the window's scratch page. The page
/// is mapped with the type a live mapping of it already has, else `rule_type` (the type
/// the rules give an mmap of it), and is in the memory-type registry while it is mapped
/// (`window::with_phys_page` does both). Returns the bytes moved; stops at the first
/// fault.
fn device_chunk(
    phys: PhysAddr,
    len: usize,
    rule_type: MemoryType,
    buf: &UserBuf<'_>,
    at: usize,
    direction: Direction,
) -> usize {
    window::with_phys_page(phys, rule_type, |va| device_transfer(va, len, buf, at, direction)).unwrap_or(0)
}

impl Mem {
    fn transfer(&self, offset: u64, buf: UserBuf<'_>, direction: Direction) -> KResult<usize> {
        let mut moved = 0;
        // The rules' types of device pages, 16 at a time (each batch reads the MTRRs once).
        let mut rule_types: (u64, Vec<Option<MemoryType>>) = (0, Vec::new());
        for (phys, len) in page_chunks(offset, buf.len()) {
            let access = match page_access(phys) {
                Ok(access) => access,
                Err(error) => return partial(moved, error),
            };
            let phys = match allowed(phys) {
                Ok(phys) => phys,
                Err(error) => return partial(moved, error),
            };
            let done = match access {
                // A page only partly RAM is not in the direct map: the device path below.
                PageAccess::Ram if physmap::map().page_is_ram(phys.as_u64()) => {
                    let result = match direction {
                        Direction::Read => buf.copy_from_kernel(moved, phys_to_virt(phys), len),
                        // SAFETY: a /dev/mem write of a RAM page the page policy allows
                        // (`page_access` above: STRICT refuses RAM above 1 MiB), by a caller
                        // whose open for writing passed the uid-0 check; the direct map
                        // covers every whole RAM page (the guard above), so the write
                        // lands on exactly that page.
                        #[allow(unsafe_code)]
                        Direction::Write => unsafe { buf.copy_to_kernel(moved, phys_to_virt(phys), len) },
                    };
                    match result {
                        Ok(()) => len,
                        Err(fault) => fault.copied,
                    }
                }
                PageAccess::Ram | PageAccess::Device => {
                    let page = phys.as_u64() & !4095;
                    let (batch, types) = &mut rule_types;
                    if page < *batch || page >= *batch + types.len() as u64 * 4096 {
                        *batch = page;
                        *types = mmap_types(phys.align_down(4096u64), 16, self.opened_sync);
                    }
                    let index = ((page - *batch) / 4096) as usize;
                    let rule_type = types.get(index).copied().flatten().unwrap_or(MemoryType::UncachedMinus);
                    device_chunk(phys, len, rule_type, &buf, moved, direction)
                }
            };
            moved += done;
            if done < len {
                return partial(moved, Errno::EFAULT);
            }
        }
        Ok(moved)
    }
}

impl FileOps for Mem {
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        self.transfer(offset, buf, Direction::Read)
    }

    fn write(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        self.transfer(offset, buf, Direction::Write)
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Memory
    }

    fn unsigned_offsets(&self) -> bool {
        true
    }

    fn ioctl(&self, cmd: u32, arg: u64, caller: &Caller) -> KResult<u64> {
        super::memrange::ioctl(cmd, arg, caller)
    }

    /// Maps physical memory (docs/devices.md): MAP_SHARED only, page-aligned offset, no refused
    /// page (EPERM), each page with the memory type the rules give it, and no page
    /// mapped with two different types (EAGAIN).
    fn mmap(&self, offset: u64, len: u64, prot: u32, flags: u32, caller: &Caller) -> KResult<Mapping> {
        let max_bits = physmap::max_phys_addr_bits();
        devmem::check_mmap(offset, len, flags, max_bits)?;
        // The pages are walked, typed and registered one by one: a length whose
        // bookkeeping the kernel cannot afford is ENOMEM, before anything is allocated.
        if len > MAX_MMAP_LEN {
            return Err(Errno::ENOMEM);
        }
        let pages = len.div_ceil(4096);
        for page in 0..pages {
            page_access(offset + page * 4096)?;
        }
        let opened_sync = self.opened_sync;
        let offset = allowed(offset)?;
        // Every page was allowed just above, so each has a type.
        let types = mmap_types(offset, pages, opened_sync);
        let type_of = move |phys: PhysAddr| {
            types[((phys - offset) / 4096) as usize].unwrap_or(MemoryType::UncachedMinus)
        };
        // The window registers the pages, all or nothing (EAGAIN when one is mapped with
        // another type already, before anything is mapped), and re-types the direct map's
        // alias of RAM mapped with another type.
        let mapping = window::map_phys_pages(offset, pages * 4096, prot & PROT_WRITE != 0, &type_of)?;
        let addr = mapping.va.as_u64();
        let record = memtype::MmapRecord {
            phys: offset,
            len: pages * 4096,
            va: mapping.va,
            opened_sync,
            user: caller.user_space.is_some(),
        };
        // RAM mapped with another type (O_SYNC: UC-) re-types its direct-map alias for as
        // long as the mapping lives.
        memtype::add_mmap(record);
        let unmap = Box::new(move || {
            memtype::remove_mmap(&record, || window::unmap_phys_range(mapping));
        });
        Ok(Mapping { addr, len, unmap })
    }
}
