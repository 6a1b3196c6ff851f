//! The GDT and TSS: flat 64-bit kernel segments, plus interrupt stacks (IST) so that a
//! double fault caused by a stack overflow still has a good stack to report on.

use core::cell::UnsafeCell;

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

static TSS: Lazy<TaskStateSegment> = Lazy::new(|| {
    let mut tss = TaskStateSegment::new();
    tss.interrupt_stack_table[usize::from(DOUBLE_FAULT_IST_INDEX)] = stack_top(&DOUBLE_FAULT_STACK);
    tss.interrupt_stack_table[usize::from(NMI_MCE_IST_INDEX)] = stack_top(&NMI_MCE_STACK);
    tss
});

struct Selectors {
    code: SegmentSelector,
    data: SegmentSelector,
    tss: SegmentSelector,
}

static GDT: Lazy<(GlobalDescriptorTable, Selectors)> = Lazy::new(|| {
    let mut gdt = GlobalDescriptorTable::new();
    let code = gdt.append(Descriptor::kernel_code_segment());
    let data = gdt.append(Descriptor::kernel_data_segment());
    let tss = gdt.append(Descriptor::tss_segment(&TSS));
    (gdt, Selectors { code, data, tss })
});

/// Loads the GDT, reloads the segment registers and loads the TSS.
pub fn init() {
    let (gdt, selectors) = &*GDT;
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded, which lives in a
    // static for the rest of the run; the code segment is a 64-bit kernel segment and
    // the data segment a writable kernel one, as CS/SS/DS/ES require.
    unsafe {
        CS::set_reg(selectors.code);
        SS::set_reg(selectors.data);
        DS::set_reg(selectors.data);
        ES::set_reg(selectors.data);
        load_tss(selectors.tss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;

    #[ktest]
    fn segment_registers_hold_our_selectors() {
        let (_, selectors) = &*GDT;
        assert_eq!(CS::get_reg(), selectors.code);
        assert_eq!(SS::get_reg(), selectors.data);
    }

    #[ktest]
    fn double_faults_have_their_own_stack() {
        // The TSS is packed: copy the table out before looking at it.
        let table = { TSS.interrupt_stack_table };
        let top = table[usize::from(DOUBLE_FAULT_IST_INDEX)];
        assert_eq!(top, stack_top(&DOUBLE_FAULT_STACK));
        assert_eq!(top.as_u64() % 16, 0, "IST stacks must be 16-byte aligned");
        assert_ne!(top, table[usize::from(NMI_MCE_IST_INDEX)]);
    }
}
