//! The page attribute table (IA32_PAT), programmed once at boot.

use mm_core::memtype::{PAT_MSR_VALUE, PAT_RESET_VALUE};
use x86_64::registers::model_specific::Msr;

use super::cpu;

/// IA32_PAT (SDM Vol. 4, Table 2-2).
const IA32_PAT: u32 = 0x277;

/// Programs [`PAT_MSR_VALUE`] (WB, WC, UC-, UC, WB, WP, UC-, WT) with the SDM's
/// procedure for changing memory types (Vol. 3A, 11.11.8, which 11.12.4 applies to the
/// PAT): interrupts off, caches disabled and flushed, TLBs flushed around the write.
/// Returns the value read back. Without a PAT (`cpuid` says so) nothing is written.
pub fn program() -> Option<u64> {
    if !super::cpuid::has_pat() {
        return None;
    }
    cpu::with_caches_disabled(|| {
        // SAFETY: IA32_PAT exists (CPUID.1:EDX.PAT); the value has only valid encodings
        // (mm_core checks it at compile time), and entry 0, which every existing mapping
        // without PWT/PCD/PAT bits uses, stays WB, so no live mapping changes type
        // except through bits the bootloader does not set.
        unsafe { Msr::new(IA32_PAT).write(PAT_MSR_VALUE) };
    });
    Some(read())
}

/// The current IA32_PAT value.
pub fn read() -> u64 {
    // SAFETY: reading IA32_PAT has no side effects; the kernel only calls this on CPUs
    // with a PAT (every x86-64 CPU has one).
    unsafe { Msr::new(IA32_PAT).read() }
}

/// The power-on value, for comparison in tests and reports.
pub const RESET_VALUE: u64 = PAT_RESET_VALUE;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;
    use mm_core::memtype::{PAT_LAYOUT, decode_pat};

    #[ktest]
    fn the_pat_holds_the_kernel_layout() {
        assert_ne!(read(), RESET_VALUE, "init programmed the PAT");
        assert_eq!(read(), PAT_MSR_VALUE);
        assert_eq!(decode_pat(read()), Some(PAT_LAYOUT));
    }
}
