//! mmap, munmap, mprotect, brk: anonymous memory (eagerly backed by zeroed frames), and
//! MAP_SHARED mappings of /dev/mem, whose pages alias the driver's own mapping (same
//! frames, same memory type: the driver applied the page policy and registered the type).

use errno::{Errno, KResult};

use super::{Args, SysResult, ok};
use crate::mm::uspace::{Protection, is_user_range, user_address};
use crate::mm::{PAGE_SIZE, VirtAddr};
use crate::proc::{DeviceMapping, Process};

const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;
/// Anonymous memory a process may have, in pages (256 MiB).
const ANON_LIMIT_PAGES: u64 = (256 << 20) / PAGE_SIZE;
/// How far brk may grow.
const BRK_LIMIT: u64 = 256 << 20;

fn page_up(len: u64) -> KResult<u64> {
    len.checked_add(PAGE_SIZE - 1).map(|l| l & !(PAGE_SIZE - 1)).ok_or(Errno::ENOMEM)
}

/// Picks an address for `len` bytes: the hint when it is free, else below the last one.
fn place(p: &mut Process, len: u64) -> KResult<u64> {
    let addr = p.mmap_next.checked_sub(len).ok_or(Errno::ENOMEM)?;
    if addr < p.brk_start + BRK_LIMIT {
        return Err(Errno::ENOMEM);
    }
    // A guard page between mappings.
    p.mmap_next = addr - PAGE_SIZE;
    Ok(addr)
}

fn unmap_range(p: &mut Process, addr: u64, len: u64) {
    let pages = user_address(addr).map_or(0, |start| p.space.unmap(start, len));
    // Device mappings lose the pages in the range; one with no page left goes back to
    // the driver (its kernel mapping and registry entries are released).
    let mut device_pages = 0;
    let end = addr.saturating_add(len);
    for mapping in p.device_mappings.iter_mut().filter(|m| m.start < end && addr < m.start + m.len) {
        device_pages += mapping.take_pages(addr, len);
    }
    let ctx = &mut p.ctx;
    p.device_mappings.retain(|mapping| {
        if mapping.is_gone() {
            let _ = ctx.munmap(mapping.kernel_addr, mapping.len);
        }
        !mapping.is_gone()
    });
    p.anon_pages = p.anon_pages.saturating_sub(pages.saturating_sub(device_pages));
}

pub fn mmap(p: &mut Process, a: Args) -> SysResult {
    let [addr, len, prot, flags, fd, offset] = a.0;
    if len == 0 || offset % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let kind = flags & (MAP_SHARED | MAP_PRIVATE);
    if kind == 0 || kind == (MAP_SHARED | MAP_PRIVATE) {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len)?;
    let protection = Protection::from_prot(prot as u32);
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    if fixed && !is_user_range(addr, len) {
        return Err(if addr % PAGE_SIZE != 0 { Errno::EINVAL } else { Errno::ENOMEM });
    }
    let anonymous = flags & MAP_ANONYMOUS != 0;
    let zero_private = !anonymous && kind == MAP_PRIVATE && is_dev_zero(p, a.fd(4));
    if anonymous || zero_private {
        let pages = len / PAGE_SIZE;
        if p.anon_pages + pages > ANON_LIMIT_PAGES {
            return Err(Errno::ENOMEM);
        }
        let at = if fixed {
            if flags & MAP_FIXED_NOREPLACE != 0 && !p.space.mapped_pages(user_address(addr)?, len).is_empty()
            {
                return Err(Errno::EEXIST);
            }
            unmap_range(p, addr, len);
            addr
        } else {
            place(p, len)?
        };
        p.space.map_anonymous(user_address(at)?, len, protection)?;
        p.anon_pages += pages;
        return ok(at);
    }
    let _ = fd;
    map_file(p, a.fd(4)?, addr, len, protection, flags, offset, fixed)
}

/// Whether `fd` is open on /dev/zero (MAP_PRIVATE of it is anonymous memory).
fn is_dev_zero(p: &Process, fd: KResult<usize>) -> bool {
    let Ok(fd) = fd else { return false };
    p.ctx.fstat(fd).is_ok_and(|stat| stat.rdev == vfs_core::devnum::DevNum::new(1, 5).encode())
}

/// MAP_SHARED of a device: the driver maps it (for /dev/mem: page policy, memory type,
/// registry); the process's pages then alias that mapping's frames with its types.
#[allow(clippy::too_many_arguments)]
fn map_file(
    p: &mut Process,
    fd: usize,
    addr: u64,
    len: u64,
    protection: Protection,
    flags: u64,
    offset: u64,
    fixed: bool,
) -> SysResult {
    let prot = u32::from(protection.read) | (u32::from(protection.write) << 1);
    let kernel_addr = p.ctx.mmap(fd, offset, len, prot, flags as u32)?;
    let at = if fixed {
        unmap_range(p, addr, len);
        addr
    } else {
        match place(p, len) {
            Ok(at) => at,
            Err(errno) => {
                let _ = p.ctx.munmap(kernel_addr, len);
                return Err(errno);
            }
        }
    };
    let mut mapped = 0;
    while mapped < len {
        let kernel = VirtAddr::try_new(kernel_addr + mapped).ok();
        let Some(translation) = kernel.and_then(crate::mm::paging::translate) else { break };
        let Ok(user) = user_address(at + mapped) else { break };
        let phys = translation.phys.align_down(PAGE_SIZE);
        // SAFETY: the driver's mmap above checked every page against the /dev/mem policy
        // for this caller and registered its memory type; the process maps the same frame
        // with the same type, and the driver's mapping (kept until the process unmaps
        // or ends) keeps the registration alive.
        #[allow(unsafe_code)]
        let result = unsafe {
            p.space.map_physical(user, PAGE_SIZE, phys, protection, translation.attributes.memtype)
        };
        if result.is_err() {
            break;
        }
        mapped += PAGE_SIZE;
    }
    if mapped < len {
        if let Ok(start) = user_address(at) {
            p.space.unmap(start, mapped);
        }
        let _ = p.ctx.munmap(kernel_addr, len);
        return Err(Errno::ENOMEM);
    }
    p.device_mappings.push(DeviceMapping::new(at, kernel_addr, len));
    ok(at)
}

/// Gives each live page of the process's /dev/mem mappings the type of the driver's
/// mapping it aliases, after memrange re-typed those (one page, one type).
pub fn sync_device_types(p: &mut Process) {
    p.retypes_seen = crate::mm::memtype::retype_count();
    for mapping in &p.device_mappings {
        for offset in (0..mapping.len).step_by(PAGE_SIZE as usize) {
            if !mapping.is_live(mapping.start + offset) {
                continue;
            }
            let kernel = VirtAddr::try_new(mapping.kernel_addr + offset).ok();
            let Some(kernel) = kernel.and_then(crate::mm::paging::translate) else { continue };
            let Ok(user) = user_address(mapping.start + offset) else { continue };
            let memtype = kernel.attributes.memtype;
            if p.space
                .entry(user)
                .is_some_and(|e| e.attributes(crate::mm::PageSize::Size4K).memtype != memtype)
            {
                // SAFETY: the page aliases the driver's mapping at `kernel_addr + offset`,
                // which memrange re-typed to `memtype` and registered; the alias takes
                // the same type.
                #[allow(unsafe_code)]
                unsafe {
                    p.space.set_memtype(user, memtype);
                }
            }
        }
    }
}

pub fn munmap(p: &mut Process, a: Args) -> SysResult {
    let [addr, len, ..] = a.0;
    if addr % PAGE_SIZE != 0 || len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len)?;
    if !is_user_range(addr, len) {
        return Err(Errno::EINVAL);
    }
    unmap_range(p, addr, len);
    ok(0)
}

pub fn mprotect(p: &mut Process, a: Args) -> SysResult {
    let [addr, len, prot, ..] = a.0;
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return ok(0);
    }
    let len = page_up(len)?;
    if !is_user_range(addr, len) || len / PAGE_SIZE > ANON_LIMIT_PAGES + (1 << 20) {
        return Err(Errno::ENOMEM);
    }
    let start = user_address(addr)?;
    if p.space.mapped_pages(start, len).len() as u64 != len / PAGE_SIZE {
        return Err(Errno::ENOMEM);
    }
    p.space.protect(start, len, Protection::from_prot(prot as u32));
    ok(0)
}

/// brk: grows or shrinks the heap after the program's last segment; an impossible
/// request leaves it and returns the current end (Linux's behaviour).
pub fn brk(p: &mut Process, a: Args) -> SysResult {
    let wanted = a.0[0];
    if wanted < p.brk_start || wanted > p.brk_start + BRK_LIMIT {
        return ok(p.brk);
    }
    let old_end = page_up(p.brk)?;
    let new_end = page_up(wanted)?;
    if new_end > old_end {
        let pages = (new_end - old_end) / PAGE_SIZE;
        if p.anon_pages + pages > ANON_LIMIT_PAGES
            || user_address(old_end)
                .and_then(|start| p.space.map_anonymous(start, new_end - old_end, Protection::READ_WRITE))
                .is_err()
        {
            return ok(p.brk);
        }
        p.anon_pages += pages;
    } else if new_end < old_end {
        let pages = user_address(new_end).map_or(0, |start| p.space.unmap(start, old_end - new_end));
        p.anon_pages = p.anon_pages.saturating_sub(pages);
    }
    p.brk = wanted;
    ok(p.brk)
}

#[cfg(test)]
mod tests {
    use alloc::collections::{BTreeMap, BTreeSet};
    use alloc::string::String;
    use alloc::vec::Vec;

    use memrange::{
        MDF_WRITECOMBINE, MEMRANGE_SET, MEMRANGE_SET_REMOVE, MEMRANGE_SET_UPDATE, MemRangeDesc, MemRangeOp,
    };
    use vfs_core::cred::Credentials;
    use vfs_core::flags::{O_RDONLY, O_RDWR};

    use super::*;
    use crate::ktest::ktest;
    use crate::mm::uspace::AddressSpace;
    use crate::mm::{MemoryType, PageSize};
    use crate::vfs::Context;
    use crate::vfs::userbuf::UserSpace;

    fn process() -> Process {
        let user = UserSpace::LOWER_HALF;
        Process {
            pid: 0,
            name: String::from("test"),
            path: String::from("/bin/test"),
            space: AddressSpace::new().unwrap(),
            ctx: Context::with_user_space(Credentials::ROOT, user),
            cwd: String::from("/"),
            brk_start: 0x100_0000,
            brk: 0x100_0000,
            mmap_next: 0x7000_0000_0000,
            anon_pages: 0,
            device_mappings: Vec::new(),
            retypes_seen: crate::mm::memtype::retype_count(),
            signal_actions: BTreeMap::new(),
            signal_mask: 0,
            unknown_logged: BTreeSet::new(),
        }
    }

    fn set(base: u64, len: u64, flags: i32, op: i32) -> KResult<u64> {
        // SAFETY: the context is given no address by number but this code's own
        // buffers (ioctl arguments), which the drivers may write.
        #[allow(unsafe_code)]
        let mut ctx = unsafe { Context::new(Credentials::ROOT) };
        let fd = ctx.open("/dev/mem", O_RDONLY, 0)?;
        let mut desc = MemRangeDesc::new(base, len, flags, "alias").to_bytes();
        let mut op = MemRangeOp { mo_desc: desc.as_mut_ptr() as u64, mo_arg: [op, 0] }.to_bytes();
        ctx.ioctl(fd, MEMRANGE_SET, op.as_mut_ptr() as u64)
    }

    fn user_type(p: &Process, va: u64) -> MemoryType {
        p.space.entry(VirtAddr::new(va)).expect("mapped").attributes(PageSize::Size4K).memtype
    }

    /// After memrange re-types a range, a process's alias of a /dev/mem mapping takes the
    /// new type too (one page, one type), and a partial munmap keeps the rest mapped and
    /// registered until the last page goes.
    #[ktest]
    fn a_process_alias_follows_memrange_and_partial_munmap_keeps_the_rest() {
        let mut p = process();
        let fd = p.ctx.open("/dev/mem", O_RDWR, 0).unwrap() as u64;
        let (base, len) = (0x1_0000_0000u64, 0x20_0000u64);
        // The mapping straddles the end of the range: two pages in it, one after it.
        let phys = base + len - 0x2000;
        let Ok(crate::syscall::Outcome::Return(at)) =
            mmap(&mut p, Args([0, 0x3000, 3, MAP_SHARED, fd, phys]))
        else {
            panic!("mmap of /dev/mem failed")
        };
        assert_eq!(user_type(&p, at), MemoryType::WriteBack, "a hole the MTRRs call WB");
        set(base, len, MDF_WRITECOMBINE, MEMRANGE_SET_UPDATE).unwrap();
        assert_ne!(p.retypes_seen, crate::mm::memtype::retype_count(), "the SET re-typed mappings");
        sync_device_types(&mut p);
        assert_eq!(user_type(&p, at), MemoryType::WriteCombining);
        assert_eq!(user_type(&p, at + 0x1000), MemoryType::WriteCombining);
        assert_eq!(user_type(&p, at + 0x2000), MemoryType::WriteBack, "outside the range");
        // Partial munmap: the middle page goes, the others stay mapped and registered.
        munmap(&mut p, Args([at + 0x1000, 0x1000, 0, 0, 0, 0])).unwrap();
        assert!(p.space.entry(VirtAddr::new(at + 0x1000)).is_none());
        assert_eq!(
            crate::mm::registry::lookup(crate::mm::PhysAddr::new(phys)),
            Some(MemoryType::WriteCombining)
        );
        assert_eq!(p.device_mappings.len(), 1);
        munmap(&mut p, Args([at, 0x1000, 0, 0, 0, 0])).unwrap();
        assert_eq!(p.device_mappings.len(), 1, "one page is still mapped");
        munmap(&mut p, Args([at + 0x2000, 0x1000, 0, 0, 0, 0])).unwrap();
        assert!(p.device_mappings.is_empty(), "the last page gave the driver's mapping back");
        assert_eq!(crate::mm::registry::lookup(crate::mm::PhysAddr::new(phys)), None);
        set(base, len, 0, MEMRANGE_SET_REMOVE).unwrap();
    }
}
