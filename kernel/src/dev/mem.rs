//! /dev/mem: the offset is a physical address (devmem-spec part 0).
//!
//! Page by page: at or above 2^MAXPHYADDR is EFAULT; with STRICT mode on (the default),
//! System RAM above 1 MiB is EPERM; RAM is copied through the direct map; anything else
//! (device memory, ROM, reserved ranges, holes) is mapped uncached and accessed with the
//! widest naturally aligned loads and stores that fit, so device registers see the width
//! the user asked for. A transfer that fails after moving bytes returns the count.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use spin::Mutex;

use errno::{Errno, KResult};
use mm_core::memtype::MemoryType;
use mm_core::physmap::RegionKind;
use vfs_core::devmem::{self, PageAccess};
use vfs_core::flags::PROT_WRITE;
use vfs_core::transfer::{page_chunks, partial};

use super::access::{Direction, device_transfer};

use crate::mm::{paging, phys_to_virt, physmap, registry, window};
use crate::vfs::UserBuf;
use crate::vfs::ops::{Caller, FileOps, Mapping, SeekPolicy};

static STRICT: AtomicBool = AtomicBool::new(true);

/// A live mmap of /dev/mem, for re-typing when memrange changes a range's type.
#[derive(Clone, Copy, Debug)]
struct MmapRecord {
    phys: u64,
    len: u64,
    /// The virtual address of `phys`.
    va: u64,
    opened_sync: bool,
    /// Made for a user (a process, or a context that checks buffers as a process's):
    /// such a mapping makes the memrange ranges it overlaps busy.
    user: bool,
}

static MMAPS: Mutex<Vec<MmapRecord>> = Mutex::new(Vec::new());

/// How many times memrange re-typed mappings: a process compares it with the count it
/// last saw and re-types its own aliases of /dev/mem mmaps when it changed.
static RETYPES: AtomicU64 = AtomicU64::new(0);

/// The number of re-typings so far (see [`retype_range`]).
pub fn retype_count() -> u64 {
    RETYPES.load(Ordering::SeqCst)
}

/// The memory types a /dev/mem mapping of the `pages` pages from `first` gets under the
/// rules of part 0 (the MTRRs are read once for all of them); `None` for a page /dev/mem
/// may not touch.
fn mmap_types(first: u64, pages: u64, opened_sync: bool) -> Vec<Option<MemoryType>> {
    let mtrr_types = super::memrange::mtrr_types(first, pages);
    (0..pages)
        .zip(mtrr_types)
        .map(|(page, mtrr)| {
            let phys = first + page * 4096;
            let access = page_access(phys).ok()?;
            Some(devmem::mmap_memtype(access, opened_sync, mtrr, super::memrange::registered_type(phys)))
        })
        .collect()
}

/// Gives every kernel mapping of [base, base+len) the type the rules now give it, after
/// memrange changed the range: the direct map takes the type memrange set (write-back
/// when none), each /dev/mem mmap the type of its rules. Large pages at the edges split.
/// Makes the next [`retype_range`] fail before it changes anything (memrange's
/// all-or-nothing test: a SET whose re-typing fails must leave everything as it was).
#[cfg(test)]
pub static FAIL_NEXT_RETYPE: AtomicBool = AtomicBool::new(false);

/// Why re-typing the kernel's mappings of a range failed: the direct map's pages could
/// not be re-typed (a large page could not be split: no frame for the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetypeFailed;

pub fn retype_range(base: u64, len: u64) -> Result<(), RetypeFailed> {
    #[cfg(test)]
    if FAIL_NEXT_RETYPE.swap(false, Ordering::SeqCst) {
        return Err(RetypeFailed);
    }
    let end = base.saturating_add(len);
    let memtype = super::memrange::registered_type(base).unwrap_or(MemoryType::WriteBack);
    // The direct map holds the whole pages of System RAM only.
    let ram = physmap::map().regions().iter().filter(|r| r.kind == RegionKind::SystemRam);
    for region in ram {
        let start = region.start.next_multiple_of(4096).max(base & !4095);
        let stop = (region.end & !4095).min(end.saturating_add(4095) & !4095);
        if start >= stop {
            continue;
        }
        // SAFETY: the direct map's type follows memrange's; the other aliases of these
        // frames, the /dev/mem mmaps, are re-typed by the loop below.
        #[allow(unsafe_code)]
        let retyped = unsafe { paging::set_memtype(phys_to_virt(start), stop - start, memtype) };
        if let Err(error) = retyped {
            log::warn!("memrange: re-typing the direct map of {start:#x}+{:#x}: {error:?}", stop - start);
            return Err(RetypeFailed);
        }
    }
    for record in MMAPS.lock().iter() {
        let start = record.phys.max(base) & !4095;
        let stop = (record.phys + record.len).min(end);
        if start >= stop {
            continue;
        }
        let types = mmap_types(start, (stop - start).div_ceil(4096), record.opened_sync);
        for (page, memtype) in (start..stop).step_by(4096).zip(types) {
            let Some(memtype) = memtype else { continue };
            let va = (record.va & !4095) + (page - (record.phys & !4095));
            // SAFETY: `va` is this live mmap's own page; its type is the one the rules
            // give for the page, as the direct map's above.
            #[allow(unsafe_code)]
            let retyped = unsafe { paging::set_memtype(va, 4096, memtype) };
            if retyped.is_ok() {
                registry::retype(page, memtype);
            }
        }
    }
    RETYPES.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Whether a live user mmap of /dev/mem overlaps [base, base+len) (memrange's MDF_BUSY:
/// "a live user mapping", devmem-spec part 0). The kernel's own mappings (tools, tests)
/// are re-typed with the range instead.
pub fn is_mapped(base: u64, len: u64) -> bool {
    let end = base.saturating_add(len);
    MMAPS.lock().iter().any(|record| record.user && record.phys < end && base < record.phys + record.len)
}

/// Gives the direct-map alias of the RAM page holding `phys` the type its other mappings
/// have (Linux's `kernel_map_sync_memtype`): the registered type while a /dev/mem mmap
/// of it lives, else the type memrange set, else write-back. One page, one type.
fn sync_direct_map(phys: u64) {
    let page = phys & !4095;
    // Only whole RAM pages are in the direct map.
    if !physmap::map().page_is_ram(page) {
        return;
    }
    let wanted = registry::lookup(page)
        .or_else(|| super::memrange::registered_type(page))
        .unwrap_or(MemoryType::WriteBack);
    let va = phys_to_virt(page);
    if crate::mm::query::query(va).is_some_and(|mapped| mapped.memtype == wanted) {
        return;
    }
    // SAFETY: the direct map's page of `page` takes the type every other live mapping
    // of the frame has (the registry's), or the rules' when there is none: after this
    // the frame has one type everywhere.
    #[allow(unsafe_code)]
    let retyped = unsafe { paging::set_memtype(va, 4096, wanted) };
    if let Err(error) = retyped {
        log::warn!("mem: re-typing the direct map of {page:#x} to {wanted:?}: {error:?}");
    }
}

/// The fuzzer's invariant "no page is mapped with two types": each page of every live
/// /dev/mem mmap has the registry's type, and so has the direct map's alias of it when
/// it is RAM. The first page that breaks it, described.
#[cfg(any(test, feature = "fuzz"))]
pub fn check_one_type_per_page() -> Result<(), alloc::string::String> {
    use crate::mm::query::query;
    for record in MMAPS.lock().iter() {
        for offset in (0..record.len).step_by(4096) {
            let phys = (record.phys & !4095) + offset;
            let registered = registry::lookup(phys);
            let mapped = query((record.va & !4095) + offset).map(|page| page.memtype);
            if mapped.is_none() || mapped != registered {
                return Err(alloc::format!(
                    "page {phys:#x}: an mmap maps it {mapped:?}, the registry says {registered:?}"
                ));
            }
            if physmap::map().page_is_ram(phys) {
                let direct = query(phys_to_virt(phys)).map(|page| page.memtype);
                if direct != registered {
                    return Err(alloc::format!(
                        "RAM page {phys:#x}: the direct map has {direct:?}, its mmaps {registered:?}"
                    ));
                }
            }
        }
    }
    Ok(())
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
/// the rules give an mmap of it), and is in the memory-type registry while it is mapped.
/// Returns the bytes moved; stops at the first fault.
fn device_chunk(
    phys: u64,
    len: usize,
    rule_type: MemoryType,
    buf: &UserBuf<'_>,
    at: usize,
    direction: Direction,
) -> usize {
    let page = phys & !4095;
    let memtype = registry::reserve_page(page, rule_type);
    let moved =
        window::with_phys_page(phys, memtype, |va| device_transfer(va, len, buf, at, direction)).unwrap_or(0);
    registry::release(page, 4096);
    moved
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
            let done = match access {
                // A page only partly RAM is not in the direct map: the device path below.
                PageAccess::Ram if physmap::map().page_is_ram(phys) => {
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
                    let page = phys & !4095;
                    let (batch, types) = &mut rule_types;
                    if page < *batch || page >= *batch + types.len() as u64 * 4096 {
                        *batch = page;
                        *types = mmap_types(page, 16, self.opened_sync);
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

    /// Maps physical memory (part 0): MAP_SHARED only, page-aligned offset, no refused
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
        // Every page was allowed just above, so each has a type.
        let types = mmap_types(offset, pages, opened_sync);
        let type_of =
            move |phys: u64| types[((phys - offset) / 4096) as usize].unwrap_or(MemoryType::UncachedMinus);
        // Check every page against the registry before mapping anything.
        for page in 0..pages {
            let phys = offset + page * 4096;
            devmem::check_alias(registry::lookup(phys), type_of(phys))?;
        }
        registry::reserve(offset, pages * 4096, &type_of)?;
        let mapping = match window::map_phys_pages(offset, pages * 4096, prot & PROT_WRITE != 0, &type_of) {
            Ok(mapping) => mapping,
            Err(error) => {
                registry::release(offset, pages * 4096);
                return Err(error.into());
            }
        };
        let addr = mapping.va;
        let record = MmapRecord {
            phys: offset,
            len: pages * 4096,
            va: addr,
            opened_sync,
            user: caller.user_space.is_some(),
        };
        MMAPS.lock().push(record);
        // RAM mapped with another type (O_SYNC: UC-) re-types its direct-map alias for as
        // long as the mapping lives.
        for page in 0..pages {
            sync_direct_map(offset + page * 4096);
        }
        let unmap = Box::new(move || {
            let mut mmaps = MMAPS.lock();
            mmaps.retain(|r| r.va != record.va);
            if mmaps.is_empty() {
                *mmaps = Vec::new();
            }
            drop(mmaps);
            window::unmap_phys_range(mapping);
            registry::release(record.phys, record.len);
            for page in (record.phys..record.phys + record.len).step_by(4096) {
                sync_direct_map(page);
            }
        });
        Ok(Mapping { addr, len, unmap })
    }
}
