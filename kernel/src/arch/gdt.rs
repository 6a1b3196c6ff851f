//! The GDT and TSS: flat 64-bit kernel and user segments, plus interrupt stacks (IST) so
//! that a double fault caused by a stack overflow still has a good stack to report on.
//!
//! The order of the segments is the one SYSCALL and SYSRET need (SDM Vol. 3A, 5.8.8):
//! kernel code, kernel data (SYSCALL loads STAR[47:32] and +8), then user data and user
//! code (SYSRET loads STAR[63:48] + 8 and + 16).
//!
//! Each CPU has its own GDT and TSS (the TSS holds per-CPU stacks: RSP0 and the IST), all
//! with the same layout, so the selectors are the same everywhere. The BSP's are statics;
//! an AP's are made by the BSP before the AP starts ([`ApTables`]) and never freed.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, Ordering};

use spin::Lazy;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slot used by the double-fault handler.
pub const DOUBLE_FAULT_IST_INDEX: u16 = 0;
/// IST slot shared by NMI and machine-check, which can arrive on any stack.
pub const NMI_MCE_IST_INDEX: u16 = 1;

const IST_STACK_SIZE: usize = 32 * 1024;

/// A stack that only the CPU writes to (through the TSS), aligned as the ABI wants.
/// The `UnsafeCell` puts it in a writable section: a plain immutable static would land
/// in read-only data, and the first exception delivered on it would triple-fault.
#[repr(C, align(16))]
struct IstStack(UnsafeCell<[u8; IST_STACK_SIZE]>);

// SAFETY: Rust code never reads or writes the stacks; only the CPU does, when it
// delivers an exception on one, and each stack serves handlers that do not nest.
unsafe impl Sync for IstStack {}

static DOUBLE_FAULT_STACK: IstStack = IstStack(UnsafeCell::new([0; IST_STACK_SIZE]));
static NMI_MCE_STACK: IstStack = IstStack(UnsafeCell::new([0; IST_STACK_SIZE]));

fn stack_top(stack: &'static IstStack) -> VirtAddr {
    // Stacks grow down: the CPU starts writing just below the end.
    VirtAddr::from_ptr(stack.0.get().cast::<u8>().wrapping_add(IST_STACK_SIZE))
}

/// A TSS, in a cell: RSP0 (the stack the CPU switches to on an interrupt from ring 3)
/// changes with the process that runs.
pub(super) struct Tss(UnsafeCell<TaskStateSegment>);

// SAFETY: the only write after start-up is `set_kernel_stack`'s, of one aligned u64,
// made with interrupts off by the CPU the TSS belongs to (each CPU has its own); the
// CPU reads the field on ring changes.
unsafe impl Sync for Tss {}

/// The BSP's TSS (CPU 0); each AP gets one of its own from [`ApTables::new`].
static TSS: Lazy<Tss> = Lazy::new(|| {
    let mut tss = TaskStateSegment::new();
    tss.interrupt_stack_table[usize::from(DOUBLE_FAULT_IST_INDEX)] = stack_top(&DOUBLE_FAULT_STACK);
    tss.interrupt_stack_table[usize::from(NMI_MCE_IST_INDEX)] = stack_top(&NMI_MCE_STACK);
    Tss(UnsafeCell::new(tss))
});

/// The selectors of the GDT's segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    tss: SegmentSelector,
}

/// A GDT with the kernel's layout, its TSS descriptor pointing at `tss`.
fn build_gdt(tss: &'static Tss) -> (GlobalDescriptorTable, Selectors) {
    let mut gdt = GlobalDescriptorTable::new();
    let kernel_code = gdt.append(Descriptor::kernel_code_segment());
    let kernel_data = gdt.append(Descriptor::kernel_data_segment());
    let user_data = gdt.append(Descriptor::user_data_segment());
    let user_code = gdt.append(Descriptor::user_code_segment());
    // SAFETY: the TSS lives for the rest of the run (a static, or leaked for an AP) and
    // is only changed through `set_kernel_stack`, a field the CPU reads but never writes.
    let tss = gdt.append(unsafe { Descriptor::tss_segment_unchecked(tss.0.get()) });
    (gdt, Selectors { kernel_code, kernel_data, user_data, user_code, tss })
}

static GDT: Lazy<(GlobalDescriptorTable, Selectors)> = Lazy::new(|| build_gdt(&TSS));

/// The GDT's selectors (user selectors with RPL 3); the same on every CPU.
pub fn selectors() -> Selectors {
    GDT.1
}

/// The TSS of each AP, by CPU number (CPU 0, the BSP, uses the static `TSS`).
static AP_TSS: [AtomicPtr<Tss>; super::percpu::MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; super::percpu::MAX_CPUS];

fn this_cpu_tss() -> &'static Tss {
    let cpu = super::percpu::current_cpu();
    let ap = AP_TSS.get(cpu).map_or(core::ptr::null_mut(), |slot| slot.load(Ordering::Acquire));
    // SAFETY: a non-null entry was leaked by `ApTables::new` and is never freed.
    if ap.is_null() { &TSS } else { unsafe { &*ap } }
}

/// Sets TSS.RSP0 of this CPU: the kernel stack the CPU switches to when an interrupt or
/// exception arrives in ring 3. `top` must be the top of a stack that stays mapped while
/// ring-3 code can run; the process code passes its kernel stack.
pub fn set_kernel_stack(top: u64) {
    super::cpu::without_interrupts(|| {
        let tss = this_cpu_tss();
        // SAFETY: see `Tss`'s Sync: one aligned u64 field of this CPU's own TSS,
        // interrupts off.
        // A kernel stack's top is a kernel-half address: `new` would stop a bug here
        // rather than truncate it into another address.
        unsafe { (*tss.0.get()).privilege_stack_table[0] = VirtAddr::new(top) };
    });
}

fn load(gdt: &'static GlobalDescriptorTable, selectors: &Selectors) {
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded, which lives for the
    // rest of the run; the code segment is a 64-bit kernel segment and the data segment a
    // writable kernel one, as CS/SS/DS/ES require; the TSS descriptor is this CPU's own.
    unsafe {
        CS::set_reg(selectors.kernel_code);
        SS::set_reg(selectors.kernel_data);
        DS::set_reg(selectors.kernel_data);
        ES::set_reg(selectors.kernel_data);
        load_tss(selectors.tss);
    }
}

/// Loads the BSP's GDT, reloads the segment registers and loads the TSS.
pub fn init() {
    let (gdt, selectors) = &*GDT;
    load(gdt, selectors);
}

/// An AP's own GDT and TSS, with IST stacks of its own; made by the BSP before the AP
/// starts, loaded by the AP, never freed.
pub(super) struct ApTables {
    gdt: &'static GlobalDescriptorTable,
    selectors: Selectors,
    tss: &'static Tss,
}

impl ApTables {
    pub(super) fn new() -> Self {
        let mut tss = TaskStateSegment::new();
        tss.interrupt_stack_table[usize::from(DOUBLE_FAULT_IST_INDEX)] = leaked_stack_top(IST_STACK_SIZE);
        tss.interrupt_stack_table[usize::from(NMI_MCE_IST_INDEX)] = leaked_stack_top(IST_STACK_SIZE);
        let tss: &'static Tss = Box::leak(Box::new(Tss(UnsafeCell::new(tss))));
        let (gdt, selectors) = build_gdt(tss);
        assert_eq!(selectors, GDT.1, "every CPU's GDT has the same layout");
        Self { gdt: Box::leak(Box::new(gdt)), selectors, tss }
    }

    /// Loads these tables on the running CPU, CPU number `cpu`.
    pub(super) fn load(&self, cpu: usize) {
        AP_TSS[cpu].store(core::ptr::from_ref(self.tss).cast_mut(), Ordering::Release);
        load(self.gdt, &self.selectors);
    }
}

/// The base of the GDT this CPU has loaded, and the base of the TSS its task register
/// selects: what tests compare with the CPU's own tables.
#[cfg(test)]
pub(super) fn loaded_tables() -> (u64, u64) {
    let gdtr = x86_64::instructions::tables::sgdt();
    let tr: u16;
    // SAFETY: STR only reads the task register's selector.
    unsafe { core::arch::asm!("str {0:x}", out(reg) tr, options(nomem, nostack, preserves_flags)) };
    let at = gdtr.base.as_u64() + u64::from(tr & !7);
    // SAFETY: TR selects the TSS descriptor (16 bytes) of the GDT GDTR points at, which
    // this module built and never frees; reading it has no side effects.
    let (low, high) =
        unsafe { ((at as *const u64).read_volatile(), ((at + 8) as *const u64).read_volatile()) };
    let base = ((low >> 16) & 0xff_ffff) | (((low >> 56) & 0xff) << 24) | ((high & 0xffff_ffff) << 32);
    (gdtr.base.as_u64(), base)
}

/// The address of this CPU's own TSS.
#[cfg(test)]
pub(super) fn this_cpu_tss_address() -> u64 {
    this_cpu_tss().0.get() as u64
}

/// A leaked, zeroed stack of `size` bytes; its top, 16-byte aligned.
pub(super) fn leaked_stack_top(size: usize) -> VirtAddr {
    let stack: &'static mut [u8] = Box::leak(alloc::vec![0u8; size].into_boxed_slice());
    VirtAddr::from_ptr(stack.as_ptr_range().end).align_down(16u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;

    #[ktest]
    fn segment_registers_hold_our_selectors() {
        let (_, selectors) = &*GDT;
        assert_eq!(CS::get_reg(), selectors.kernel_code);
        assert_eq!(SS::get_reg(), selectors.kernel_data);
    }

    #[ktest]
    fn the_segments_are_in_the_order_syscall_and_sysret_need() {
        let s = selectors();
        assert_eq!(s.kernel_data.0, s.kernel_code.0 + 8);
        // SYSRET: SS = STAR[63:48] + 8, CS = STAR[63:48] + 16, both with RPL 3.
        assert_eq!(s.user_data.0 & !3, s.kernel_data.0 + 8);
        assert_eq!(s.user_code.0 & !3, s.kernel_data.0 + 16);
        assert_eq!(s.user_code.0 & 3, 3);
        assert_eq!(s.user_data.0 & 3, 3);
    }

    #[ktest]
    fn double_faults_have_their_own_stack() {
        // The TSS is packed: copy the table out before looking at it.
        // SAFETY: a read of the table; nothing writes it after start-up.
        let table = unsafe { (*TSS.0.get()).interrupt_stack_table };
        let top = table[usize::from(DOUBLE_FAULT_IST_INDEX)];
        assert_eq!(top, stack_top(&DOUBLE_FAULT_STACK));
        assert_eq!(top.as_u64() % 16, 0, "IST stacks must be 16-byte aligned");
        assert_ne!(top, table[usize::from(NMI_MCE_IST_INDEX)]);
    }
}
