//! A process's address space: its own top-level page table whose lower half (entries
//! 0..255) maps the process's pages with the USER bit, and whose upper half repeats the
//! kernel's entries (supervisor-only), so system calls and interrupts find the kernel.
//!
//! Pages are 4 KiB and made when mapped (no demand paging): anonymous memory is backed
//! by zeroed frames the space owns (marked with a software bit of the entry, freed on
//! unmap and when the space is dropped); physical mappings (mmap of /dev/mem) point at
//! frames the space does not own. Every table of the lower half is freed with the space.

use alloc::vec::Vec;

use errno::{Errno, KResult};
use mm_core::memtype::{MemoryType, PageSize};
use mm_core::pte::{self, Attributes, ENTRIES, Entry, Level, USER};
use x86_64::structures::paging::PhysFrame;
use x86_64::{PhysAddr, VirtAddr};

use super::{PAGE_SIZE, frames, paging, phys_to_virt};
use crate::arch::cpu;
use crate::arch::usermode::USER_END;

/// PTE software bit (ignored by the CPU): the frame belongs to this address space.
const OWNED: u64 = 1 << 9;
/// Index of the first kernel entry in a top-level table.
const KERNEL_FIRST: usize = ENTRIES / 2;

/// Access a mapping allows (mmap's PROT_READ, PROT_WRITE, PROT_EXEC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Protection {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

impl Protection {
    pub const READ_WRITE: Self = Self { read: true, write: true, execute: false };

    /// From mmap's prot bits (1 read, 2 write, 4 exec).
    pub const fn from_prot(prot: u32) -> Self {
        Self { read: prot & 1 != 0, write: prot & 2 != 0, execute: prot & 4 != 0 }
    }
}

/// A process's page tables.
pub struct AddressSpace {
    root: PhysFrame,
}

fn entry_ptr(table: PhysFrame, index: usize) -> *mut u64 {
    debug_assert!(index < ENTRIES);
    phys_to_virt(table.start_address()).as_mut_ptr::<u64>().wrapping_add(index)
}

/// A lower-half address the callers checked (below USER_END: canonical).
fn user_va(va: u64) -> VirtAddr {
    debug_assert!(va < USER_END);
    VirtAddr::new(va)
}

/// The frame a 4 KiB leaf maps.
fn leaf_frame(entry: Entry) -> PhysFrame {
    PhysFrame::containing_address(entry.frame(PageSize::Size4K))
}

fn read(table: PhysFrame, index: usize) -> Entry {
    // SAFETY: `table` is a page table of this address space (its root or a present
    // non-leaf entry's target), a frame the direct map covers, 512 entries long.
    Entry(unsafe { entry_ptr(table, index).read_volatile() })
}

fn write(table: PhysFrame, index: usize, entry: Entry) {
    // SAFETY: as in `read`; the address space is changed only through `&mut self`.
    unsafe { entry_ptr(table, index).write_volatile(entry.0) }
}

/// A process address given as a number (a system call's argument, an ELF segment's), as
/// a `VirtAddr`: EFAULT for a non-canonical one, never a panic or a truncation. Callers
/// check it against the lower half first (`is_user_range`, the loader's limits).
pub fn user_address(addr: u64) -> KResult<VirtAddr> {
    VirtAddr::try_new(addr).map_err(|_| Errno::EFAULT)
}

/// Whether [addr, addr+len) is a page-aligned, non-empty range of the lower half.
pub fn is_user_range(addr: u64, len: u64) -> bool {
    addr.is_multiple_of(PAGE_SIZE)
        && len.is_multiple_of(PAGE_SIZE)
        && len > 0
        && addr.checked_add(len).is_some_and(|end| end <= USER_END)
}

impl AddressSpace {
    /// An empty address space (the kernel half comes with `activate`). ENOMEM without a
    /// frame.
    pub fn new() -> KResult<Self> {
        // The kernel half is copied when the space is loaded (`activate`).
        let root = frames::allocate_zeroed().ok_or(Errno::ENOMEM)?;
        Ok(Self { root })
    }

    /// Copies the kernel's top-level entries (they may have grown since).
    fn sync_kernel_half(&self) {
        let kernel = paging::kernel_root();
        for index in KERNEL_FIRST..ENTRIES {
            write(self.root, index, read(kernel, index));
        }
    }

    /// Loads this address space (CR3).
    pub fn activate(&self) {
        self.sync_kernel_half();
        // SAFETY: the upper half is the kernel's (just copied), so the kernel's code,
        // stacks and data stay mapped; the lower half holds only this process's pages.
        unsafe { cpu::load_page_table(self.root.start_address().as_u64()) };
    }

    /// Loads the kernel's own table again (the lower half then maps nothing of a
    /// process).
    pub fn deactivate() {
        // SAFETY: the kernel's table maps everything the kernel uses.
        unsafe { cpu::load_page_table(paging::kernel_root().start_address().as_u64()) };
    }

    /// The leaf table and index for `va`, making tables on the way when `create`.
    fn leaf_slot(&mut self, va: VirtAddr, create: bool) -> KResult<Option<(PhysFrame, usize)>> {
        let mut table = self.root;
        let mut level = Level::Pml4;
        while level != Level::Pt {
            let index = pte::table_index(va, level);
            let entry = read(table, index);
            table = if entry.is_present() {
                entry.table_address()
            } else if create {
                let new = frames::allocate_zeroed().ok_or(Errno::ENOMEM)?;
                write(table, index, Entry(Entry::table(new).0 | USER));
                new
            } else {
                return Ok(None);
            };
            level = level.next().ok_or(Errno::EFAULT)?;
        }
        Ok(Some((table, pte::table_index(va, Level::Pt))))
    }

    /// Where the next page that may be mapped after `va` is, when `va` has no leaf table:
    /// the end of the missing table's reach (512 GiB, 1 GiB or 2 MiB).
    fn skip_unmapped(&self, va: u64) -> u64 {
        let address = user_va(va);
        let mut table = self.root;
        let mut level = Level::Pml4;
        let reach = |level: Level| -> u64 {
            match level {
                Level::Pml4 => 512 << 30,
                Level::Pdpt => 1 << 30,
                Level::Pd => 2 << 20,
                Level::Pt => PAGE_SIZE,
            }
        };
        loop {
            let entry = read(table, pte::table_index(address, level));
            if !entry.is_present() || level == Level::Pt {
                return (va | (reach(level) - 1)).saturating_add(1);
            }
            table = entry.table_address();
            match level.next() {
                Some(next) => level = next,
                None => return va.saturating_add(PAGE_SIZE),
            }
        }
    }

    /// The leaf entry mapping `va`, if any.
    pub fn entry(&self, va: VirtAddr) -> Option<Entry> {
        let mut table = self.root;
        let mut level = Level::Pml4;
        loop {
            let entry = read(table, pte::table_index(va, level));
            if level == Level::Pt {
                // A PROT_NONE page is a non-present entry that still holds its frame.
                return (entry.0 != 0).then_some(entry);
            }
            if !entry.is_present() {
                return None;
            }
            table = entry.table_address();
            level = level.next()?;
        }
    }

    fn leaf_bits(frame: PhysAddr, protection: Protection, memtype: MemoryType) -> Entry {
        let attributes = Attributes {
            writable: protection.write,
            user: protection.read || protection.write || protection.execute,
            global: false,
            no_execute: !protection.execute,
            memtype,
        };
        let entry = Entry::leaf(frame, PageSize::Size4K, attributes);
        // PROT_NONE: present for bookkeeping would be wrong; keep the frame in a
        // non-present entry instead (the CPU ignores the other bits).
        if attributes.user { entry } else { Entry(entry.0 & !pte::PRESENT) }
    }

    /// Maps [addr, addr+len) to fresh zeroed frames. Nothing must be mapped there. On
    /// ENOMEM, what was mapped is undone.
    pub fn map_anonymous(&mut self, addr: VirtAddr, len: u64, protection: Protection) -> KResult<()> {
        if !is_user_range(addr.as_u64(), len) {
            return Err(Errno::EINVAL);
        }
        let mut done = 0;
        while done < len {
            let va = addr + done;
            let result = (|| {
                let (table, index) = self.leaf_slot(va, true)?.ok_or(Errno::ENOMEM)?;
                let frame = frames::allocate_zeroed().ok_or(Errno::ENOMEM)?;
                let entry = Self::leaf_bits(frame.start_address(), protection, MemoryType::WriteBack);
                write(table, index, Entry(entry.0 | OWNED));
                Ok(())
            })();
            if let Err(errno) = result {
                self.unmap(addr, done);
                return Err(errno);
            }
            done += PAGE_SIZE;
        }
        Ok(())
    }

    /// Maps [addr, addr+len) to the physical range at `phys` with `memtype`; the frames
    /// are not the space's (device memory, or RAM mapped through /dev/mem).
    ///
    /// # Safety
    /// The caller has checked that the process may access [phys, phys+len) (the
    /// /dev/mem page policy) and registered the mapping's memory type, so no page is
    /// mapped with two types; the frames must stay valid while mapped (device memory,
    /// or RAM the kernel never frees while it is mapped).
    pub unsafe fn map_physical(
        &mut self,
        addr: VirtAddr,
        len: u64,
        phys: PhysAddr,
        protection: Protection,
        memtype: MemoryType,
    ) -> KResult<()> {
        if !is_user_range(addr.as_u64(), len)
            || !phys.is_aligned(PAGE_SIZE)
            || PhysAddr::try_new(phys.as_u64().saturating_add(len)).is_err()
        {
            return Err(Errno::EINVAL);
        }
        let mut done = 0;
        while done < len {
            match self.leaf_slot(addr + done, true) {
                Ok(Some((table, index))) => {
                    write(table, index, Self::leaf_bits(phys + done, protection, memtype));
                }
                _ => {
                    self.unmap(addr, done);
                    return Err(Errno::ENOMEM);
                }
            }
            done += PAGE_SIZE;
        }
        Ok(())
    }

    /// Unmaps whatever is mapped in [addr, addr+len) (page-aligned, lower half; other
    /// ranges are ignored), freeing the frames the space owns. Returns the number of
    /// pages that were mapped.
    pub fn unmap(&mut self, addr: VirtAddr, len: u64) -> u64 {
        let addr = addr.as_u64();
        if len == 0 || !is_user_range(addr, len) {
            return 0;
        }
        let mut unmapped = 0;
        let mut va = addr;
        while va < addr + len {
            if let Ok(Some((table, index))) = self.leaf_slot(user_va(va), false) {
                let entry = read(table, index);
                if entry.0 != 0 {
                    write(table, index, Entry::EMPTY);
                    cpu::flush_tlb_page(user_va(va));
                    if entry.0 & OWNED != 0 {
                        let _ = frames::free(leaf_frame(entry));
                    }
                    unmapped += 1;
                }
                va += PAGE_SIZE;
            } else {
                va = self.skip_unmapped(va);
            }
        }
        unmapped
    }

    /// Changes the access of the mapped pages of [addr, addr+len).
    pub fn protect(&mut self, addr: VirtAddr, len: u64, protection: Protection) {
        let addr = addr.as_u64();
        if len == 0 || !is_user_range(addr, len) {
            return;
        }
        let mut va = addr;
        while va < addr + len {
            if let Ok(Some((table, index))) = self.leaf_slot(user_va(va), false) {
                let entry = read(table, index);
                if entry.0 != 0 {
                    let frame = entry.frame(PageSize::Size4K);
                    let memtype = Entry(entry.0 | pte::PRESENT).attributes(PageSize::Size4K).memtype;
                    let new = Self::leaf_bits(frame, protection, memtype);
                    write(table, index, Entry(new.0 | (entry.0 & OWNED)));
                    cpu::flush_tlb_page(user_va(va));
                }
                va += PAGE_SIZE;
            } else {
                va = self.skip_unmapped(va);
            }
        }
    }

    /// Gives the mapped page at `va` the memory type `memtype`, keeping its frame and
    /// access; false if nothing is mapped there or the frame is the space's own
    /// (anonymous memory is always write-back).
    ///
    /// # Safety
    /// The page maps a physical range whose registered type is now `memtype` (memrange
    /// re-typed it), so the new entry agrees with every other mapping of the frame.
    pub unsafe fn set_memtype(&mut self, va: VirtAddr, memtype: MemoryType) -> bool {
        if !is_user_range(va.as_u64(), PAGE_SIZE) {
            return false;
        }
        let Ok(Some((table, index))) = self.leaf_slot(va, false) else { return false };
        let entry = read(table, index);
        if entry.0 == 0 || entry.0 & OWNED != 0 {
            return false;
        }
        let present = Entry(entry.0 | pte::PRESENT);
        let attributes = present.attributes(PageSize::Size4K);
        let protection = Protection {
            read: entry.is_present(),
            write: attributes.writable,
            execute: !attributes.no_execute,
        };
        let new = Self::leaf_bits(entry.frame(PageSize::Size4K), protection, memtype);
        write(table, index, new);
        cpu::flush_tlb_page(va);
        true
    }

    /// Copies `bytes` to `addr` in this space's own frames, whatever the pages' access
    /// (the ELF loader fills read-only segments this way). EFAULT if a page is not
    /// mapped to a frame of this space.
    pub fn write_bytes(&mut self, addr: VirtAddr, bytes: &[u8]) -> KResult<()> {
        let mut done = 0usize;
        while done < bytes.len() {
            let va = addr.as_u64().checked_add(done as u64).ok_or(Errno::EFAULT)?;
            let va = VirtAddr::try_new(va).map_err(|_| Errno::EFAULT)?;
            let offset = (va.as_u64() % PAGE_SIZE) as usize;
            let count = (PAGE_SIZE as usize - offset).min(bytes.len() - done);
            let entry = self.entry(va).ok_or(Errno::EFAULT)?;
            if entry.0 & OWNED == 0 {
                return Err(Errno::EFAULT);
            }
            let dst = phys_to_virt(entry.frame(PageSize::Size4K) + offset as u64).as_mut_ptr::<u8>();
            // SAFETY: the frame is this space's own (OWNED), reached through the direct
            // map; [offset, offset+count) stays inside the page; no Rust reference
            // covers user frames.
            unsafe { core::ptr::copy_nonoverlapping(bytes[done..].as_ptr(), dst, count) };
            done += count;
        }
        Ok(())
    }

    /// Frees every frame and table of the lower half.
    fn free_lower_half(&mut self) {
        fn free_table(table: PhysFrame, level: Level) {
            for index in 0..ENTRIES {
                let entry = read(table, index);
                if entry.0 == 0 {
                    continue;
                }
                match level.next() {
                    Some(next) if entry.is_present() => {
                        free_table(entry.table_address(), next);
                        let _ = frames::free(entry.table_address());
                    }
                    Some(_) => {}
                    None => {
                        if entry.0 & OWNED != 0 {
                            let _ = frames::free(leaf_frame(entry));
                        }
                    }
                }
            }
        }
        for index in 0..KERNEL_FIRST {
            let entry = read(self.root, index);
            if entry.is_present() {
                free_table(entry.table_address(), Level::Pdpt);
                let _ = frames::free(entry.table_address());
                write(self.root, index, Entry::EMPTY);
            }
        }
    }

    /// The physical pages mapped in [addr, addr+len), for tests and /proc: (va, entry).
    pub fn mapped_pages(&self, addr: VirtAddr, len: u64) -> Vec<(VirtAddr, Entry)> {
        let addr = addr.as_u64();
        let mut pages = Vec::new();
        let mut va = addr;
        while va < addr.saturating_add(len) && va < USER_END {
            match self.entry(user_va(va)) {
                Some(entry) => {
                    pages.push((user_va(va), entry));
                    va += PAGE_SIZE;
                }
                None => va = self.skip_unmapped(va).max(va + PAGE_SIZE),
            }
        }
        pages
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        if cpu::page_table_root() == self.root.start_address().as_u64() {
            Self::deactivate();
        }
        self.free_lower_half();
        let _ = frames::free(self.root);
    }
}
