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

/// Writes every fixed and variable MTRR and DEF_TYPE from `regs`, with the procedure of
/// SDM Vol. 3A, 11.11.8: interrupts off, CR0.CD set, caches flushed, PGE cleared
/// (inside `with_caches_disabled`), DEF_TYPE.E cleared while the ranges change, then
/// everything restored. This CPU's MTRRs only: with more than one CPU online, every CPU
/// must do it together, inside `smp::rendezvous`.
/// Returns the registers as read back afterwards.
pub fn write_all(regs: &MtrrRegisters) -> Option<MtrrRegisters> {
    let current = read_all()?;
    cpu::with_caches_disabled(|| {
        // SAFETY: these MSRs exist (MTRRCAP says which), and the values come from the
        // memrange model, which only produces valid types and masks (hardware would #GP
        // on reserved bits; the model never sets them). Clearing E first means no access
        // sees a half-written set of ranges.
        unsafe {
            Msr::new(DEF_TYPE).write(current.def_type & !DEF_TYPE_ENABLE);
            if current.fixed_supported() {
                for (value, msr) in regs.fixed.iter().zip(FIXED) {
                    Msr::new(msr).write(*value);
                }
            }
            for (i, (base, mask)) in regs.variable.iter().enumerate().take(current.variable_count()) {
                Msr::new(PHYSBASE0 + 2 * i as u32).write(*base);
                Msr::new(PHYSBASE0 + 2 * i as u32 + 1).write(*mask);
            }
            Msr::new(DEF_TYPE).write(regs.def_type);
        }
    });
    read_all()
}
