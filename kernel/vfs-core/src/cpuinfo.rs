//! `/proc/cpuinfo` in Linux's format (`arch/x86/kernel/cpu/proc.c`, `show_cpuinfo`), for
//! the fields that come from CPUID: one block per CPU, a blank line after each.
//!
//! The flags are Linux's names (`arch/x86/include/asm/cpufeatures.h`) for the CPUID
//! bits, in Linux's order: by feature word, then bit. Linux's synthetic flags (from its
//! own probing, not a CPUID bit) are not shown.

use alloc::string::String;
use core::fmt::Write;

/// The CPUID registers of one CPU that /proc/cpuinfo shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuId {
    /// Leaf 0: EBX, EDX, ECX as text ("GenuineIntel", "AuthenticAMD").
    pub vendor: [u8; 12],
    /// Leaves 0x80000002-4 (zeros when absent).
    pub brand: [u8; 48],
    /// Leaf 0 EAX: the highest standard leaf.
    pub max_leaf: u32,
    pub leaf1_eax: u32,
    pub leaf1_ebx: u32,
    pub leaf1_ecx: u32,
    pub leaf1_edx: u32,
    pub leaf7_ebx: u32,
    pub leaf7_ecx: u32,
    pub leaf7_edx: u32,
    pub ext1_ecx: u32,
    pub ext1_edx: u32,
}

/// Linux's feature words that come straight from a CPUID register, in its order, with
/// the names of their bits ("" where Linux prints nothing or the bit is unused).
fn words(id: &CpuId) -> [(u32, &'static [&'static str; 32]); 7] {
    [
        (id.leaf1_edx, &WORD0_LEAF1_EDX),
        (id.ext1_edx, &WORD1_EXT1_EDX),
        (id.leaf1_ecx, &WORD4_LEAF1_ECX),
        (id.ext1_ecx, &WORD6_EXT1_ECX),
        (id.leaf7_ebx, &WORD9_LEAF7_EBX),
        (id.leaf7_ecx, &WORD16_LEAF7_ECX),
        (id.leaf7_edx, &WORD18_LEAF7_EDX),
    ]
}

#[rustfmt::skip]
const WORD0_LEAF1_EDX: [&str; 32] = [
    "fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce",
    "cx8", "apic", "", "sep", "mtrr", "pge", "mca", "cmov",
    "pat", "pse36", "pn", "clflush", "", "dts", "acpi", "mmx",
    "fxsr", "sse", "sse2", "ss", "ht", "tm", "ia64", "pbe",
];
/// Only the bits AMD added: the others repeat word 0 and Linux does not name them.
#[rustfmt::skip]
const WORD1_EXT1_EDX: [&str; 32] = [
    "", "", "", "", "", "", "", "",
    "", "", "", "syscall", "", "", "", "",
    "", "", "", "mp", "nx", "", "mmxext", "",
    "", "fxsr_opt", "pdpe1gb", "rdtscp", "", "lm", "3dnowext", "3dnow",
];
#[rustfmt::skip]
const WORD4_LEAF1_ECX: [&str; 32] = [
    "pni", "pclmulqdq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est",
    "tm2", "ssse3", "cid", "sdbg", "fma", "cx16", "xtpr", "pdcm",
    "", "pcid", "dca", "sse4_1", "sse4_2", "x2apic", "movbe", "popcnt",
    "tsc_deadline_timer", "aes", "xsave", "", "avx", "f16c", "rdrand", "hypervisor",
];
#[rustfmt::skip]
const WORD6_EXT1_ECX: [&str; 32] = [
    "lahf_lm", "cmp_legacy", "svm", "extapic", "cr8_legacy", "abm", "sse4a", "misalignsse",
    "3dnowprefetch", "osvw", "ibs", "xop", "skinit", "wdt", "", "lwp",
    "fma4", "tce", "", "nodeid_msr", "", "tbm", "topoext", "perfctr_core",
    "perfctr_nb", "", "bpext", "ptsc", "perfctr_llc", "mwaitx", "", "",
];
#[rustfmt::skip]
const WORD9_LEAF7_EBX: [&str; 32] = [
    "fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2", "", "smep",
    "bmi2", "erms", "invpcid", "rtm", "cqm", "", "mpx", "rdt_a",
    "avx512f", "avx512dq", "rdseed", "adx", "smap", "avx512ifma", "", "clflushopt",
    "clwb", "intel_pt", "avx512pf", "avx512er", "avx512cd", "sha_ni", "avx512bw", "avx512vl",
];
#[rustfmt::skip]
const WORD16_LEAF7_ECX: [&str; 32] = [
    "", "avx512vbmi", "umip", "pku", "ospke", "waitpkg", "avx512_vbmi2", "",
    "gfni", "vaes", "vpclmulqdq", "avx512_vnni", "avx512_bitalg", "tme", "avx512_vpopcntdq", "",
    "la57", "", "", "", "", "", "rdpid", "",
    "bus_lock_detect", "cldemote", "", "movdiri", "movdir64b", "enqcmd", "sgx_lc", "",
];
#[rustfmt::skip]
const WORD18_LEAF7_EDX: [&str; 32] = [
    "", "", "avx512_4vnniw", "avx512_4fmaps", "fsrm", "", "", "",
    "avx512_vp2intersect", "", "md_clear", "", "", "", "serialize", "",
    "tsxldtrk", "", "pconfig", "arch_lbr", "ibt", "", "amx_bf16", "avx512_fp16",
    "amx_tile", "amx_int8", "", "", "flush_l1d", "arch_capabilities", "", "spec_ctrl_ssbd",
];

impl CpuId {
    /// Family, model and stepping as Linux computes them (`x86_family`, `x86_model`):
    /// the extended family is added for family 15, the extended model for 6 and up.
    pub fn family_model_stepping(&self) -> (u32, u32, u32) {
        let eax = self.leaf1_eax;
        let mut family = (eax >> 8) & 0xf;
        if family == 0xf {
            family += (eax >> 20) & 0xff;
        }
        let mut model = (eax >> 4) & 0xf;
        if family >= 6 {
            model += ((eax >> 16) & 0xf) << 4;
        }
        (family, model, eax & 0xf)
    }

    /// The flags Linux would print, in its order.
    pub fn flags(&self) -> impl Iterator<Item = &'static str> + '_ {
        words(self).into_iter().flat_map(|(value, names)| {
            names
                .iter()
                .enumerate()
                .filter(move |(bit, name)| !name.is_empty() && value & (1 << bit) != 0)
                .map(|(_, n)| *n)
        })
    }

    /// The brand string without its padding (Linux strips leading spaces too).
    pub fn model_name(&self) -> &str {
        let end = self.brand.iter().position(|&b| b == 0).unwrap_or(self.brand.len());
        core::str::from_utf8(&self.brand[..end]).unwrap_or("").trim()
    }
}

/// One CPU's block, blank line included. `processor` is the kernel's CPU number,
/// `apic_id` the ID its local APIC reports.
pub fn format_cpu(out: &mut String, processor: usize, apic_id: u32, id: &CpuId) {
    let (family, model, stepping) = id.family_model_stepping();
    let vendor = core::str::from_utf8(&id.vendor).unwrap_or("unknown");
    let name = match id.model_name() {
        "" => "unknown",
        name => name,
    };
    let _ = write!(
        out,
        "processor\t: {processor}\n\
         vendor_id\t: {vendor}\n\
         cpu family\t: {family}\n\
         model\t\t: {model}\n\
         model name\t: {name}\n\
         stepping\t: {stepping}\n\
         apicid\t\t: {apic_id}\n\
         initial apicid\t: {}\n\
         cpuid level\t: {}\n\
         flags\t\t:",
        id.leaf1_ebx >> 24,
        id.max_leaf,
    );
    for flag in id.flags() {
        out.push(' ');
        out.push_str(flag);
    }
    out.push_str("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU 7.2's qemu64 under TCG with four CPUs, as CPU 3 reads CPUID.
    fn qemu64() -> CpuId {
        let mut brand = [0u8; 48];
        brand[..29].copy_from_slice(b"QEMU Virtual CPU version 2.5+");
        CpuId {
            vendor: *b"AuthenticAMD",
            brand,
            max_leaf: 0xd,
            leaf1_eax: 0x0006_0fb1,
            leaf1_ebx: 0x0304_0800,
            leaf1_ecx: 0x8000_2001,
            leaf1_edx: 0x178b_fbfd,
            leaf7_ebx: 0,
            leaf7_ecx: 0,
            leaf7_edx: 0,
            ext1_ecx: 0x0000_0007,
            ext1_edx: 0x2010_0800,
        }
    }

    /// The kernel's output on that machine (Linux would add its synthetic flags, such
    /// as rep_good, nopl and cpuid, which are no CPUID bits).
    #[test]
    fn a_block_is_linuxs_layout() {
        let mut out = String::new();
        format_cpu(&mut out, 3, 3, &qemu64());
        let lines: alloc::vec::Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "processor\t: 3");
        assert_eq!(lines[1], "vendor_id\t: AuthenticAMD");
        assert_eq!(lines[2], "cpu family\t: 15");
        assert_eq!(lines[3], "model\t\t: 107");
        assert_eq!(lines[4], "model name\t: QEMU Virtual CPU version 2.5+");
        assert_eq!(lines[5], "stepping\t: 1");
        assert_eq!(lines[6], "apicid\t\t: 3");
        assert_eq!(lines[7], "initial apicid\t: 3");
        assert_eq!(lines[8], "cpuid level\t: 13");
        assert_eq!(
            lines[9],
            "flags\t\t: fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush \
             mmx fxsr sse sse2 ht syscall nx lm pni cx16 hypervisor lahf_lm cmp_legacy svm"
        );
        assert_eq!(lines[10], "");
        assert_eq!(lines.len(), 11);
        assert!(out.ends_with("\n\n"));
    }

    #[test]
    fn family_15_adds_the_extended_family_and_model() {
        let mut id = qemu64();
        // Family 0xf + 0x8 = 23 (AMD Zen), model 0x1 + 0x30.
        id.leaf1_eax = 0x0083_0f12;
        assert_eq!(id.family_model_stepping(), (23, 0x31, 2));
        // Family 5 (Pentium): no extended model.
        id.leaf1_eax = 0x0003_0543;
        assert_eq!(id.family_model_stepping(), (5, 4, 3));
    }

    #[test]
    fn an_empty_brand_is_unknown() {
        let mut id = qemu64();
        id.brand = [0; 48];
        let mut out = String::new();
        format_cpu(&mut out, 0, 0, &id);
        assert!(out.contains("model name\t: unknown\n"));
    }

    #[test]
    fn every_named_bit_is_one_flag() {
        let mut id = qemu64();
        id.leaf1_edx = u32::MAX;
        id.leaf1_ecx = 0;
        id.ext1_ecx = 0;
        id.ext1_edx = 0;
        let flags: alloc::vec::Vec<&str> = id.flags().collect();
        assert_eq!(flags.len(), 30);
        assert_eq!(flags.first(), Some(&"fpu"));
        assert_eq!(flags.last(), Some(&"pbe"));
    }
}
