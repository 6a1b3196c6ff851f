//! Small CPU operations used across the kernel.

use x86_64::VirtAddr;
use x86_64::instructions::{hlt, interrupts, tlb};
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};

/// Halts forever with interrupts off: the end of the line when there is nothing else to do.
pub fn halt_forever() -> ! {
    interrupts::disable();
    loop {
        hlt();
    }
}

/// Runs `f` with maskable interrupts disabled, restoring the previous state after.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    interrupts::without_interrupts(f)
}

/// Enables maskable interrupts.
pub fn enable_interrupts() {
    interrupts::enable();
}

/// Disables maskable interrupts.
pub fn disable_interrupts() {
    interrupts::disable();
}

/// The time-stamp counter (RDTSC).
pub fn read_tsc() -> u64 {
    // SAFETY: RDTSC has no side effects; CR4.TSD is clear, so it is allowed at CPL 0
    // (and the kernel only runs at CPL 0).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Resets the machine the hard way: with an empty IDT, an exception cannot be
/// delivered, which escalates to a double fault and then a triple fault, and the CPU
/// shuts down (QEMU with `-no-reboot` exits). Reset code has done this since the 286.
pub fn reset_by_triple_fault() -> ! {
    use x86_64::VirtAddr;
    use x86_64::structures::DescriptorTablePointer;
    let empty = DescriptorTablePointer { limit: 0, base: VirtAddr::zero() };
    // SAFETY: an IDT with limit 0 makes every interrupt and exception a fault that ends
    // in a triple fault, which is the purpose here; no memory is read through it.
    unsafe {
        interrupts::disable();
        x86_64::instructions::tables::lidt(&empty);
        core::arch::asm!("ud2", options(noreturn));
    }
}

/// Makes the kernel honour page protections: CR0.WP (read-only pages stay read-only for
/// the kernel too) and EFER.NXE (the no-execute bit is obeyed).
pub fn enable_protection_features() {
    // SAFETY: both only make the CPU stricter about mappings the kernel already made with
    // the intended permissions (the bootloader maps code read-only and data no-execute).
    unsafe {
        Cr0::update(|flags| flags.insert(Cr0Flags::WRITE_PROTECT));
        Efer::update(|flags| flags.insert(EferFlags::NO_EXECUTE_ENABLE));
    }
}

/// Invalidates the TLB entry for the page containing `address` (INVLPG).
pub fn flush_tlb_page(address: VirtAddr) {
    tlb::flush(address);
}

/// Invalidates every TLB entry, global ones included (toggling CR4.PGE does that; a
/// CR3 reload alone keeps global entries).
pub fn flush_tlb_all() {
    without_interrupts(|| {
        let flags = Cr4::read();
        if flags.contains(Cr4Flags::PAGE_GLOBAL) {
            // SAFETY: clearing and restoring PGE changes no translation; it only drops
            // cached ones.
            unsafe {
                Cr4::write(flags - Cr4Flags::PAGE_GLOBAL);
                Cr4::write(flags);
            }
        } else {
            tlb::flush_all();
        }
    });
}

/// Writes back and invalidates all caches (WBINVD).
pub fn write_back_and_invalidate_caches() {
    // SAFETY: WBINVD writes dirty lines back before invalidating, so no data is lost.
    unsafe { core::arch::asm!("wbinvd", options(nostack, preserves_flags)) };
}

/// Runs `f` in the state the SDM requires for changing memory types (Vol. 3A, 11.11.8):
/// interrupts off, caching disabled (CR0.CD=1, NW=0), caches written back, TLBs
/// flushed; afterwards caches and TLBs are flushed again and CR0 restored.
pub fn with_caches_disabled<R>(f: impl FnOnce() -> R) -> R {
    without_interrupts(|| {
        let cr0 = Cr0::read();
        let cr4 = Cr4::read();
        // SAFETY: disabling the caches is always allowed and only slows memory down.
        unsafe { Cr0::write((cr0 | Cr0Flags::CACHE_DISABLE) - Cr0Flags::NOT_WRITE_THROUGH) };
        write_back_and_invalidate_caches();
        // SAFETY: clearing PGE flushes every TLB entry, global ones included, and keeps
        // global pages off for the whole change (SDM 11.11.8 steps 6 to 12); CR4 gets its
        // value back below.
        unsafe { Cr4::write(cr4 - Cr4Flags::PAGE_GLOBAL) };
        tlb::flush_all();
        let result = f();
        write_back_and_invalidate_caches();
        tlb::flush_all();
        // SAFETY: restores the caller's CR0 and CR4 (PGE back on if it was).
        unsafe {
            Cr0::write(cr0);
            Cr4::write(cr4);
        }
        result
    })
}

/// The physical address of the active top-level page table (CR3).
pub fn page_table_root() -> u64 {
    x86_64::registers::control::Cr3::read().0.start_address().as_u64()
}

/// Waits for the next interrupt with interrupts enabled, then returns with them
/// disabled again: the caller checks its condition with interrupts off, so a wake-up
/// between the check and the HLT cannot be missed (STI's one-instruction shadow).
pub fn wait_for_interrupt() {
    interrupts::enable_and_hlt();
    interrupts::disable();
}

/// Loads the top-level page table at physical address `root` (CR3), flushing the
/// non-global TLB entries.
///
/// # Safety
/// `root` must be a top-level table that maps the kernel (code, stacks, data, the
/// direct map) as the kernel's own table does.
pub unsafe fn load_page_table(root: u64) {
    use x86_64::registers::control::{Cr3, Cr3Flags};
    use x86_64::structures::paging::PhysFrame;
    let frame = PhysFrame::containing_address(x86_64::PhysAddr::new(root));
    // SAFETY: the caller vouches that the table maps the kernel.
    unsafe { Cr3::write(frame, Cr3Flags::empty()) };
}

/// Whether SMAP is on (set by `usermode::init` from CPUID, before CR4.SMAP).
static SMAP: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Records whether SMAP is (about to be) on: STAC/CLAC are used only then.
pub(super) fn record_smap(on: bool) {
    SMAP.store(on, core::sync::atomic::Ordering::Relaxed);
}

/// Whether SMAP was recorded as on.
pub(super) fn smap_recorded() -> bool {
    SMAP.load(core::sync::atomic::Ordering::Relaxed)
}

/// Opens the window in which the kernel may touch user pages (STAC), if SMAP is on.
#[inline(always)]
pub(super) fn user_access_begin() {
    if smap_recorded() {
        // SAFETY: STAC exists (SMAP is on only when CPUID reports it); it only allows
        // the kernel's accesses to user pages until the matching CLAC.
        unsafe { core::arch::asm!("stac", options(nomem, nostack)) };
    }
}

/// Closes the window (CLAC).
#[inline(always)]
pub(super) fn user_access_end() {
    if smap_recorded() {
        // SAFETY: as for STAC.
        unsafe { core::arch::asm!("clac", options(nomem, nostack)) };
    }
}
