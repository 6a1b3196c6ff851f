//! CPU identification: the features the memory code depends on.

use core::arch::x86_64::__cpuid;

/// CPUID leaf 1 EDX bits (SDM Vol. 2A, Table 3-11).
const LEAF1_EDX_PSE36: u32 = 1 << 17;
const LEAF1_EDX_PAE: u32 = 1 << 6;
const LEAF1_EDX_MTRR: u32 = 1 << 12;
const LEAF1_EDX_PAT: u32 = 1 << 16;

fn cpuid(leaf: u32) -> core::arch::x86_64::CpuidResult {
    // CPUID is available on every x86-64 CPU and has no side effects.
    __cpuid(leaf)
}

fn max_extended_leaf() -> u32 {
    cpuid(0x8000_0000).eax
}

/// MAXPHYADDR: the width of physical addresses (CPUID 0x80000008 EAX[7:0]; without that
/// leaf, 36 with PAE or PSE-36, else 32; SDM Vol. 3A, 4.1.4).
pub fn max_phys_addr_bits() -> u32 {
    if max_extended_leaf() >= 0x8000_0008 {
        return cpuid(0x8000_0008).eax & 0xff;
    }
    if cpuid(1).edx & (LEAF1_EDX_PAE | LEAF1_EDX_PSE36) != 0 { 36 } else { 32 }
}

/// Whether the CPU has memory type range registers.
pub fn has_mtrr() -> bool {
    cpuid(1).edx & LEAF1_EDX_MTRR != 0
}

/// Whether the CPU has the page attribute table.
pub fn has_pat() -> bool {
    cpuid(1).edx & LEAF1_EDX_PAT != 0
}
