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

/// Features of CPUID leaf 7 (structured extended features) the kernel turns on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructuredFeatures {
    /// Supervisor-mode execution prevention (leaf 7 EBX bit 7).
    pub smep: bool,
    /// Supervisor-mode access prevention (leaf 7 EBX bit 20).
    pub smap: bool,
}

/// Leaf 7 subleaf 0, when the CPU has it.
pub fn structured_features() -> StructuredFeatures {
    if cpuid(0).eax < 7 {
        return StructuredFeatures { smep: false, smap: false };
    }
    let ebx = core::arch::x86_64::__cpuid_count(7, 0).ebx;
    StructuredFeatures { smep: ebx & (1 << 7) != 0, smap: ebx & (1 << 20) != 0 }
}

/// Whether the CPU has RDMSR and WRMSR (CPUID.1:EDX.MSR, bit 5).
pub fn has_msr() -> bool {
    leaf1_edx() & (1 << 5) != 0
}

/// CPUID leaf 1 EDX: what AT_HWCAP tells a program on x86-64 (Linux's ELF_HWCAP).
pub fn leaf1_edx() -> u32 {
    cpuid(1).edx
}

/// CPUID leaf 1 ECX (SSE3 and later features, x2APIC, hypervisor).
pub fn leaf1_ecx() -> u32 {
    cpuid(1).ecx
}

/// CPUID leaf 1 EBX (initial APIC ID in bits 31:24, CLFLUSH line size, logical count).
pub fn leaf1_ebx() -> u32 {
    cpuid(1).ebx
}

/// What /proc/cpuinfo shows of one CPU: the CPUID registers, read on that CPU.
pub fn identity() -> vfs_core::cpuinfo::CpuId {
    let leaf0 = cpuid(0);
    let mut vendor = [0u8; 12];
    vendor[..4].copy_from_slice(&leaf0.ebx.to_le_bytes());
    vendor[4..8].copy_from_slice(&leaf0.edx.to_le_bytes());
    vendor[8..].copy_from_slice(&leaf0.ecx.to_le_bytes());
    let leaf1 = cpuid(1);
    let (leaf7_ebx, leaf7_ecx, leaf7_edx) = if leaf0.eax >= 7 {
        let r = core::arch::x86_64::__cpuid_count(7, 0);
        (r.ebx, r.ecx, r.edx)
    } else {
        (0, 0, 0)
    };
    let max_ext = max_extended_leaf();
    let (ext1_ecx, ext1_edx) = if max_ext >= 0x8000_0001 {
        let r = cpuid(0x8000_0001);
        (r.ecx, r.edx)
    } else {
        (0, 0)
    };
    let mut brand = [0u8; 48];
    if max_ext >= 0x8000_0004 {
        for (i, leaf) in (0x8000_0002..=0x8000_0004u32).enumerate() {
            let r = cpuid(leaf);
            for (j, reg) in [r.eax, r.ebx, r.ecx, r.edx].into_iter().enumerate() {
                brand[i * 16 + j * 4..][..4].copy_from_slice(&reg.to_le_bytes());
            }
        }
    }
    vfs_core::cpuinfo::CpuId {
        vendor,
        brand,
        max_leaf: leaf0.eax,
        leaf1_eax: leaf1.eax,
        leaf1_ebx: leaf1.ebx,
        leaf1_ecx: leaf1.ecx,
        leaf1_edx: leaf1.edx,
        leaf7_ebx,
        leaf7_ecx,
        leaf7_edx,
        ext1_ecx,
        ext1_edx,
    }
}

/// 16 bytes for AT_RANDOM: RDRAND when the CPU has it (leaf 1 ECX bit 30), mixed with
/// the TSC either way.
pub fn random_bytes() -> [u8; 16] {
    let has_rdrand = cpuid(1).ecx & (1 << 30) != 0;
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut value = super::cpu::read_tsc().rotate_left(17 * i as u32 + 5) ^ 0x9e37_79b9_7f4a_7c15;
        if has_rdrand {
            let mut random = 0u64;
            // SAFETY: RDRAND exists (checked above); it writes one register and CF.
            let ok: u8 = unsafe {
                let ok;
                core::arch::asm!("rdrand {r}", "setc {ok}", r = out(reg) random, ok = out(reg_byte) ok, options(nomem, nostack));
                ok
            };
            if ok != 0 {
                value ^= random;
            }
        }
        // splitmix64 finaliser, so a TSC-only value still looks random.
        value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        value ^= value >> 31;
        chunk.copy_from_slice(&value.to_le_bytes());
    }
    out
}
