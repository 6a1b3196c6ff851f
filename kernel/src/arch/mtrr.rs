//! The MTRRs: reading all of them, and writing all of them with the SDM's procedure.
//! Register layout: Intel SDM Vol. 3A, 11.11; the model they feed is the `memrange` crate.

use memrange::MtrrRegisters;
use x86_64::registers::model_specific::Msr;

use super::cpu;

/// IA32_MTRRCAP, IA32_MTRR_DEF_TYPE, the first PHYSBASE and the fixed-range MSRs in the
/// order of `MtrrRegisters::fixed` (SDM Vol. 3A, Table 11-8).
const MTRRCAP: u32 = 0xfe;
const DEF_TYPE: u32 = 0x2ff;
const PHYSBASE0: u32 = 0x200;
const FIXED: [u32; 11] = [0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f];
/// DEF_TYPE.E: MTRRs enabled.
const DEF_TYPE_ENABLE: u64 = 1 << 11;

fn read_msr(msr: u32) -> u64 {
    // SAFETY: callers only read MTRR MSRs that exist: MTRRCAP and DEF_TYPE on a CPU with
    // MTRRs (checked by `read_all`), fixed ones when MTRRCAP.FIX says so, variable ones
    // below MTRRCAP.VCNT. Reads have no side effects.
    unsafe { Msr::new(msr).read() }
}

/// Every MTRR, or `None` on a CPU without MTRRs.
pub fn read_all() -> Option<MtrrRegisters> {
    if !super::cpuid::has_mtrr() {
        return None;
    }
    let cap = read_msr(MTRRCAP);
    let mut regs = MtrrRegisters { cap, def_type: read_msr(DEF_TYPE), ..MtrrRegisters::default() };
    if regs.fixed_supported() {
        for (value, msr) in regs.fixed.iter_mut().zip(FIXED) {
            *value = read_msr(msr);
        }
    }
    let count = regs.variable_count();
    for (i, pair) in regs.variable.iter_mut().enumerate().take(count) {
        *pair = (read_msr(PHYSBASE0 + 2 * i as u32), read_msr(PHYSBASE0 + 2 * i as u32 + 1));
    }
    Some(regs)
}

/// The one place an MTRR MSR is written (test kernels record each write here, and can
/// make one go wrong: see [`testing`]).
///
/// # Safety
///
/// Inside the SDM procedure (caches disabled, DEF_TYPE.E clear unless this is the final
/// DEF_TYPE write); `msr` exists on this CPU (its MTRRCAP says so) and `value` comes from
/// the memrange model, which only produces valid types and masks.
unsafe fn write_msr(msr: u32, value: u64) {
    #[cfg(test)]
    let value = testing::record(msr, value);
    // SAFETY: as the caller promises.
    unsafe { Msr::new(msr).write(value) }
}

/// The writes that take this CPU's MTRRs to `regs`, in the host-tested order of
/// `MtrrRegisters::msr_values` (the fixed ranges, the variable pairs, DEF_TYPE last), for
/// the MSRs this CPU's MTRRCAP (`current.cap`) declares, whatever `regs.cap` says.
fn writes_for(current: &MtrrRegisters, regs: &MtrrRegisters) -> alloc::vec::Vec<(u32, u64)> {
    MtrrRegisters { cap: current.cap, ..*regs }.msr_values().collect()
}

/// Writes every fixed and variable MTRR and DEF_TYPE from `regs`, with the procedure of
/// SDM Vol. 3A, 11.11.8: interrupts off, CR0.CD set, caches flushed, PGE cleared for the
/// whole change (inside `with_caches_disabled`), DEF_TYPE.E cleared first, the ranges,
/// DEF_TYPE last, then everything restored. This CPU's MTRRs only: with more than one CPU
/// online, every CPU must do it together ([`write_all_cpus`]).
/// Returns the registers as read back afterwards.
pub fn write_all(regs: &MtrrRegisters) -> Option<MtrrRegisters> {
    let current = read_all()?;
    let writes = writes_for(&current, regs);
    cpu::with_caches_disabled(|| {
        // SAFETY: inside the procedure; `writes_for` names only MSRs this CPU has, with
        // the model's values. Clearing E first means no access sees a half-written set
        // of ranges; DEF_TYPE (E again) is the last write.
        unsafe {
            write_msr(DEF_TYPE, current.def_type & !DEF_TYPE_ENABLE);
            for &(msr, value) in &writes {
                write_msr(msr, value);
            }
        }
    });
    read_all()
}

/// What each CPU saved in phase 0 of [`write_all_cpus`], to restore in its last phase:
/// CR0 and CR4, by CPU number.
static SAVED_CR0: [core::sync::atomic::AtomicU64; super::smp::MAX_CPUS] =
    [const { core::sync::atomic::AtomicU64::new(0) }; super::smp::MAX_CPUS];
static SAVED_CR4: [core::sync::atomic::AtomicU64; super::smp::MAX_CPUS] =
    [const { core::sync::atomic::AtomicU64::new(0) }; super::smp::MAX_CPUS];

/// How [`write_all_cpus`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllCpusWrite {
    /// Written everywhere: the BSP's registers read back, and the CPUs whose read-back
    /// differs from what was written (empty when all agree).
    Written { read_back: alloc::boxed::Box<MtrrRegisters>, differing: super::smp::CpuSet },
    /// These CPUs did not reach the first barrier in time: nothing was written anywhere.
    Busy(super::smp::CpuSet),
    /// This CPU has no MTRRs.
    NoMtrrs,
}

/// Writes `regs` to the MTRRs of every online CPU at once, with the procedure of SDM
/// Vol. 3A, 11.11.8 in lockstep (Linux's `mtrr_rendezvous_handler`, FreeBSD's
/// `x86_mrstoreone` under `smp_rendezvous`). The values are computed once, by the caller;
/// every CPU meets the others at a barrier before each step:
/// 0. interrupts off (the rendezvous does it), CR0.CD set and NW cleared, WBINVD, CR4.PGE
///    cleared (which flushes the TLBs, global entries included) and kept clear, then
///    DEF_TYPE.E cleared;
/// 1. the fixed and variable ranges written;
/// 2. DEF_TYPE written (E set again), WBINVD, TLBs flushed, CR0 and CR4 restored;
/// 3. each CPU reads its MTRRs back and compares them with `regs`.
///
/// A CPU that does not reach the first barrier in time makes the whole write `Busy`,
/// with nothing changed on any CPU.
pub fn write_all_cpus(regs: &MtrrRegisters) -> AllCpusWrite {
    use core::sync::atomic::{AtomicU64, Ordering};
    use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
    let Some(current) = read_all() else { return AllCpusWrite::NoMtrrs };
    let disabled = current.def_type & !DEF_TYPE_ENABLE;
    // Computed once for every CPU: the ranges, then DEF_TYPE (the last write).
    let writes = writes_for(&current, regs);
    let (ranges, last) = writes.split_at(writes.len() - 1);
    let differing = AtomicU64::new(0);
    let step = |phase: usize, cpu_number: usize| match phase {
        0 => {
            let cr0 = Cr0::read();
            let cr4 = Cr4::read();
            SAVED_CR0[cpu_number].store(cr0.bits(), Ordering::Relaxed);
            SAVED_CR4[cpu_number].store(cr4.bits(), Ordering::Relaxed);
            // SAFETY: disabling the caches and global pages only slows memory down; the
            // caches are written back first, so nothing is lost; clearing PGE flushes
            // every TLB entry, as step 6 of the procedure wants. MTRRs are disabled with
            // DEF_TYPE.E = 0, which every CPU with MTRRs has.
            unsafe {
                Cr0::write((cr0 | Cr0Flags::CACHE_DISABLE) - Cr0Flags::NOT_WRITE_THROUGH);
                cpu::write_back_and_invalidate_caches();
                Cr4::write(cr4 - Cr4Flags::PAGE_GLOBAL);
                x86_64::instructions::tlb::flush_all();
                write_msr(DEF_TYPE, disabled);
            }
        }
        1 => {
            for &(msr, value) in ranges {
                // SAFETY: these MSRs exist (this CPU's MTRRCAP equals the BSP's: the APs
                // copied the BSP's MTRRs at bring-up) and the values come from the
                // memrange model, which only produces valid types and masks.
                unsafe { write_msr(msr, value) }
            }
        }
        2 => {
            // SAFETY: DEF_TYPE from the model (valid type, E and FE as asked); the caches
            // are written back and the TLBs flushed before CR0 and CR4 get back the
            // values this CPU had in phase 0.
            unsafe {
                for &(msr, value) in last {
                    write_msr(msr, value);
                }
                cpu::write_back_and_invalidate_caches();
                x86_64::instructions::tlb::flush_all();
                Cr0::write(Cr0Flags::from_bits_retain(SAVED_CR0[cpu_number].load(Ordering::Relaxed)));
                Cr4::write(Cr4Flags::from_bits_retain(SAVED_CR4[cpu_number].load(Ordering::Relaxed)));
            }
        }
        _ => {
            if read_all().as_ref() != Some(regs) {
                differing.fetch_or(1 << cpu_number, Ordering::Relaxed);
            }
        }
    };
    match super::smp::rendezvous(4, &step) {
        Err(missing) => AllCpusWrite::Busy(missing),
        Ok(()) => match read_all() {
            Some(read_back) => AllCpusWrite::Written {
                read_back: alloc::boxed::Box::new(read_back),
                differing: super::smp::CpuSet(differing.load(Ordering::Relaxed)),
            },
            None => AllCpusWrite::NoMtrrs,
        },
    }
}

/// The MTRRs of CPU `cpu`, read by that CPU (`None` if it is not online or has none).
pub fn read_all_on(cpu_number: usize) -> Option<MtrrRegisters> {
    if cpu_number == super::smp::current_cpu() {
        return read_all();
    }
    let cell: spin::Mutex<Option<MtrrRegisters>> = spin::Mutex::new(None);
    let read = |_: usize, here: usize| {
        if here == cpu_number {
            *cell.lock() = read_all();
        }
    };
    super::smp::rendezvous(1, &read).ok()?;
    cell.into_inner()
}

/// Test-only instruments of the writer: a recorder of the MSR writes of one CPU (their
/// order, their values, and whether CR4.PGE was set at any of them), and a fault injector
/// that makes one write go wrong so a read-back cannot match (QEMU never refuses a value,
/// so the restore path could not be reached otherwise).
#[cfg(test)]
pub mod testing {
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use spin::Mutex;
    use x86_64::registers::control::{Cr4, Cr4Flags};

    /// The CPU whose writes are recorded (plus one; 0: none).
    static RECORDING: AtomicUsize = AtomicUsize::new(0);
    static WRITES: Mutex<Vec<(u32, u64)>> = Mutex::new(Vec::new());
    static PGE_SEEN: AtomicBool = AtomicBool::new(false);
    static CORRUPT_NEXT: AtomicBool = AtomicBool::new(false);

    /// Starts recording the MTRR writes this CPU makes from now on (a fresh list).
    pub fn record_this_cpu() {
        let mut writes = WRITES.lock();
        writes.clear();
        // Room for every write of one change, so recording never allocates inside the
        // rendezvous (interrupts off, other CPUs waiting).
        writes.reserve(64);
        drop(writes);
        PGE_SEEN.store(false, Ordering::SeqCst);
        RECORDING.store(super::super::percpu::current_cpu() + 1, Ordering::SeqCst);
    }

    /// Stops recording; returns the writes (MSR, value) in order, and whether CR4.PGE
    /// was set at any of them.
    pub fn take_recording() -> (Vec<(u32, u64)>, bool) {
        RECORDING.store(0, Ordering::SeqCst);
        (core::mem::take(&mut *WRITES.lock()), PGE_SEEN.load(Ordering::SeqCst))
    }

    /// Makes the next write of IA32_MTRR_FIX64K_00000 (by whichever CPU comes first) put
    /// a type one bit off (write-back becomes write-through: still a valid type), once.
    pub fn corrupt_next_write() {
        CORRUPT_NEXT.store(true, Ordering::SeqCst);
    }

    /// Called for every MTRR write: records it if this CPU is recorded, and returns the
    /// value to write.
    pub(super) fn record(msr: u32, value: u64) -> u64 {
        if RECORDING.load(Ordering::SeqCst) == super::super::percpu::current_cpu() + 1 {
            // `try_lock`: the writer runs with interrupts off and must not wait; the
            // recorded CPU is the only one that pushes.
            if let Some(mut writes) = WRITES.try_lock() {
                writes.push((msr, value));
            }
            if Cr4::read().contains(Cr4Flags::PAGE_GLOBAL) {
                PGE_SEEN.store(true, Ordering::SeqCst);
            }
        }
        if msr == super::FIXED[0] && CORRUPT_NEXT.swap(false, Ordering::SeqCst) {
            return value ^ 0x2;
        }
        value
    }
}
