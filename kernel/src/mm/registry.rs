//! The memory-type registry: which memory type each physical page is mapped with outside
//! the direct map, so that no page is mapped twice with different types (the no-alias
//! rule, Intel SDM Vol. 3A, 11.12.4; Linux's `memtype` tree).

use alloc::collections::BTreeMap;

use errno::Errno;
use mm_core::memtype::MemoryType;
use spin::Mutex;
use x86_64::PhysAddr;

use super::PAGE_SIZE;

/// Page frame number -> (type, number of mappings).
static PAGES: Mutex<BTreeMap<u64, (MemoryType, u32)>> = Mutex::new(BTreeMap::new());

/// The type the page holding `phys` is mapped with, if any mapping is registered.
pub fn lookup(phys: PhysAddr) -> Option<MemoryType> {
    PAGES.lock().get(&(phys.as_u64() / PAGE_SIZE)).map(|&(memtype, _)| memtype)
}

/// The address of page frame number `pfn` (below 2^40: it came from a `PhysAddr`).
fn page(pfn: u64) -> PhysAddr {
    PhysAddr::new(pfn * PAGE_SIZE)
}

/// Registers one more mapping of each page of [phys, phys + len) with the type
/// `type_of(page)`. All or nothing: `EAGAIN` if any page is already mapped with another
/// type, and then nothing is registered; `EINVAL` for a range that runs past physical
/// addresses.
pub fn reserve(phys: PhysAddr, len: u64, type_of: impl Fn(PhysAddr) -> MemoryType) -> Result<(), Errno> {
    let first = phys.as_u64() / PAGE_SIZE;
    let last = phys.as_u64().checked_add(len.max(1) - 1).ok_or(Errno::EINVAL)?;
    let last = PhysAddr::try_new(last).map_err(|_| Errno::EINVAL)?.as_u64() / PAGE_SIZE;
    let mut pages = PAGES.lock();
    for pfn in first..=last {
        if let Some(&(existing, _)) = pages.get(&pfn)
            && existing != type_of(page(pfn))
        {
            return Err(Errno::EAGAIN);
        }
    }
    for pfn in first..=last {
        let memtype = type_of(page(pfn));
        pages.entry(pfn).and_modify(|(_, count)| *count += 1).or_insert((memtype, 1));
    }
    Ok(())
}

/// Registers one more mapping of the page holding `phys` with the type its live mappings
/// already have, or `default` when it has none, and returns that type: lookup and
/// reservation in one step, so a re-typing on another CPU cannot come in between.
pub fn reserve_page(phys: PhysAddr, default: MemoryType) -> MemoryType {
    let mut pages = PAGES.lock();
    let entry = pages.entry(phys.as_u64() / PAGE_SIZE).or_insert((default, 0));
    entry.1 += 1;
    entry.0
}

/// Drops one mapping of each page of [phys, phys + len).
pub fn release(phys: PhysAddr, len: u64) {
    let first = phys.as_u64() / PAGE_SIZE;
    let last = phys.as_u64().saturating_add(len.max(1) - 1) / PAGE_SIZE;
    let mut pages = PAGES.lock();
    for pfn in first..=last {
        if let Some((_, count)) = pages.get_mut(&pfn) {
            *count -= 1;
            if *count == 0 {
                pages.remove(&pfn);
            }
        }
    }
    // An empty map still holds its root node: drop it, so the heap goes back to where it
    // was before the first mapping.
    if pages.is_empty() {
        *pages = BTreeMap::new();
    }
}

/// Changes the type recorded for a registered page (after its mappings were re-typed).
pub fn retype(phys: PhysAddr, memtype: MemoryType) {
    if let Some(entry) = PAGES.lock().get_mut(&(phys.as_u64() / PAGE_SIZE)) {
        entry.0 = memtype;
    }
}

/// Every registered range, merged, for `/proc/pat_memtype_list`: (start, length, type).
pub fn ranges(mut visit: impl FnMut(PhysAddr, u64, MemoryType)) {
    let pages = PAGES.lock();
    let mut current: Option<(u64, u64, MemoryType)> = None;
    for (&pfn, &(memtype, _)) in pages.iter() {
        match current {
            Some((start, end, t)) if end == pfn * PAGE_SIZE && t == memtype => {
                current = Some((start, end + PAGE_SIZE, t));
            }
            _ => {
                if let Some((start, end, t)) = current {
                    visit(page(start / PAGE_SIZE), end - start, t);
                }
                current = Some((pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE, memtype));
            }
        }
    }
    if let Some((start, end, t)) = current {
        visit(page(start / PAGE_SIZE), end - start, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;

    const PHYS: PhysAddr = PhysAddr::new(0x40_0000_0000);

    #[ktest]
    fn a_conflicting_type_is_refused_and_nothing_is_registered() {
        reserve(PHYS, 2 * PAGE_SIZE, |_| MemoryType::WriteCombining).unwrap();
        assert_eq!(lookup(PHYS + PAGE_SIZE), Some(MemoryType::WriteCombining));
        // Overlaps the second page with another type: refused, the third page untouched.
        assert_eq!(reserve(PHYS + PAGE_SIZE, 2 * PAGE_SIZE, |_| MemoryType::Uncacheable), Err(Errno::EAGAIN));
        assert_eq!(lookup(PHYS + 2 * PAGE_SIZE), None);
        // The same type stacks.
        reserve(PHYS, PAGE_SIZE, |_| MemoryType::WriteCombining).unwrap();
        release(PHYS, 2 * PAGE_SIZE);
        assert_eq!(lookup(PHYS), Some(MemoryType::WriteCombining), "one mapping of the first page remains");
        assert_eq!(lookup(PHYS + PAGE_SIZE), None);
        release(PHYS, PAGE_SIZE);
        assert_eq!(lookup(PHYS), None);
        // A range that runs past physical addresses is refused, and registers nothing.
        assert_eq!(
            reserve(PhysAddr::new(0x000f_ffff_ffff_f000), 2 * PAGE_SIZE, |_| MemoryType::Uncacheable),
            Err(Errno::EINVAL)
        );
        assert_eq!(lookup(PhysAddr::new(0x000f_ffff_ffff_f000)), None);
    }
}
