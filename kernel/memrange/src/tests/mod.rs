//! Unit and property tests; fixtures shared by the test modules.

mod layout_tests;
mod model_errno_tests;
mod model_tests;
mod oracle;
mod precedence_tests;
mod procfs_tests;
mod props;

use crate::layout::*;
use crate::model::MemRanges;
use crate::regs::MtrrRegisters;

/// MAXPHYADDR of QEMU's qemu64 in the measured setup (spec part E).
pub(crate) const QEMU_BITS: u32 = 40;

/// SeaBIOS's MTRRs on QEMU 7.2 `-machine pc -m 256M` (spec part E).
pub(crate) fn qemu_regs() -> MtrrRegisters {
    let mut regs = MtrrRegisters { cap: 0x508, def_type: 0xC06, ..MtrrRegisters::default() };
    regs.fixed[0] = 0x0606_0606_0606_0606;
    regs.fixed[1] = 0x0606_0606_0606_0606;
    regs.fixed[2] = 0;
    for msr in &mut regs.fixed[3..] {
        *msr = 0x0505_0505_0505_0505;
    }
    regs.variable[0] = (0x8000_0000, 0xFF_8000_0800);
    regs
}

/// The QEMU state with var0 also empty: 8 free variable slots.
pub(crate) fn empty_var_regs() -> MtrrRegisters {
    let mut regs = qemu_regs();
    regs.variable[0] = (0, 0);
    regs
}

pub(crate) fn qemu() -> MemRanges {
    MemRanges::from_registers(&qemu_regs(), QEMU_BITS).expect("QEMU's MTRRs are enabled")
}

pub(crate) fn desc(base: u64, len: u64, flags: i32, owner: &str) -> MemRangeDesc {
    MemRangeDesc::new(base, len, flags, owner)
}

/// Asserts that SET fails with `errno` and leaves the model exactly as it was.
#[track_caller]
pub(crate) fn assert_set_fails(ranges: &mut MemRanges, d: MemRangeDesc, op: i32, errno: errno::Errno) {
    let before = ranges.clone();
    assert_eq!(ranges.set(&d, op), Err(errno), "{d:?} op {op}");
    assert_eq!(*ranges, before, "a failed SET changed the model");
}
