//! Which CPU this is, below everything that keeps per-CPU state (the GDT's TSSs, the
//! serial port's owner, the MTRR rendezvous, `smp` itself): `smp` registers where its
//! per-CPU areas are, and the number follows from the GS base that points into them.

use core::sync::atomic::{AtomicU64, Ordering};

use x86_64::registers::model_specific::{GsBase, KernelGsBase};

/// The most CPUs the kernel runs on.
pub const MAX_CPUS: usize = 64;

/// The address of CPU 0's area and the size of one; 0 until `smp` registers them.
static AREAS: AtomicU64 = AtomicU64::new(0);
static AREA_SIZE: AtomicU64 = AtomicU64::new(0);

/// Records where the [`MAX_CPUS`] per-CPU areas start, and the size of one (`smp::init`).
pub(super) fn register_areas(base: u64, size: u64) {
    AREA_SIZE.store(size, Ordering::Relaxed);
    AREAS.store(base, Ordering::Release);
}

/// The number of the CPU this runs on: the area IA32_GS_BASE (in the kernel) or
/// IA32_KERNEL_GS_BASE (while ring 3's GS is swapped in) points at; 0 before the areas
/// are registered and GS is set.
pub fn current_cpu() -> usize {
    let base = AREAS.load(Ordering::Acquire);
    let size = AREA_SIZE.load(Ordering::Relaxed);
    if size == 0 {
        return 0;
    }
    for value in [GsBase::read().as_u64(), KernelGsBase::read().as_u64()] {
        let offset = value.wrapping_sub(base);
        if offset < size * MAX_CPUS as u64 && offset.is_multiple_of(size) {
            return (offset / size) as usize;
        }
    }
    0
}
