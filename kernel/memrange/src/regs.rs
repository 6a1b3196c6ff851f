//! The MTRR registers as plain values: MSR numbers, bit fields, the fixed-range geometry and the
//! PHYSBASE/PHYSMASK encoding (Intel SDM Vol. 3A §11.11.1-11.11.3).

/// IA32_MTRRCAP, read-only: VCNT, FIX, WC, SMRR (Intel SDM Vol. 3A §11.11.1).
pub const MSR_MTRRCAP: u32 = 0xFE;
/// IA32_MTRR_DEF_TYPE: default type, FE, E (Intel SDM Vol. 3A §11.11.2.1).
pub const MSR_MTRR_DEF_TYPE: u32 = 0x2FF;
/// IA32_MTRR_PHYSBASE0; PHYSBASEn is 0x200 + 2n (Intel SDM Vol. 3A §11.11.2.3).
pub const MSR_MTRR_PHYSBASE0: u32 = 0x200;
/// IA32_MTRR_PHYSMASK0; PHYSMASKn is 0x201 + 2n (Intel SDM Vol. 3A §11.11.2.3).
pub const MSR_MTRR_PHYSMASK0: u32 = 0x201;
/// IA32_PAT (Intel SDM Vol. 3A §11.12.2).
pub const MSR_PAT: u32 = 0x277;
/// The 11 fixed-range MSRs in SDM order: FIX64K_00000, FIX16K_80000, FIX16K_A0000, FIX4K_C0000..F8000 (Intel SDM Vol. 3A §11.11.2.2).
pub const FIXED_MSRS: [u32; 11] =
    [0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F];

/// MTRRCAP VCNT field, bits 7:0 (Intel SDM Vol. 3A §11.11.1).
pub const CAP_VCNT_MASK: u64 = 0xff;
/// MTRRCAP FIX: fixed-range MTRRs supported (Intel SDM Vol. 3A §11.11.1).
pub const CAP_FIX: u64 = 1 << 8;
/// MTRRCAP WC: the write-combining type supported (Intel SDM Vol. 3A §11.11.1).
pub const CAP_WC: u64 = 1 << 10;
/// MTRRCAP SMRR supported (Intel SDM Vol. 3A §11.11.1).
pub const CAP_SMRR: u64 = 1 << 11;
/// DEF_TYPE type field, bits 7:0 (Intel SDM Vol. 3A §11.11.2.1).
pub const DEF_TYPE_MASK: u64 = 0xff;
/// DEF_TYPE FE: fixed-range MTRRs enabled (Intel SDM Vol. 3A §11.11.2.1).
pub const DEF_FE: u64 = 1 << 10;
/// DEF_TYPE E: MTRRs enabled (Intel SDM Vol. 3A §11.11.2.1).
pub const DEF_E: u64 = 1 << 11;
/// PHYSMASK V: the variable range is valid (Intel SDM Vol. 3A §11.11.2.3).
pub const PHYSMASK_V: u64 = 1 << 11;
/// PHYSBASE type field, bits 7:0 (Intel SDM Vol. 3A §11.11.2.3).
pub const PHYSBASE_TYPE_MASK: u64 = 0xff;

/// How many variable ranges this crate models; MSRs 0x200-0x21F (Intel SDM Vol. 3A §11.11.2.3).
pub const MAX_VARIABLE: usize = 16;
/// The number of fixed-range slots: 8×64K + 16×16K + 64×4K (Intel SDM Vol. 3A §11.11.2.2).
pub const FIXED_SLOTS: usize = 88;
/// The first address above the fixed ranges, 1 MiB (Intel SDM Vol. 3A §11.11.2.2).
pub const FIXED_TOP: u64 = 0x10_0000;
/// The largest MAXPHYADDR the architecture defines (Intel SDM Vol. 3A §4.1.4).
pub const MAX_PHYS_BITS: u32 = 52;

/// PHYSBASEn for variable range `n` (Intel SDM Vol. 3A §11.11.2.3).
pub const fn msr_physbase(n: usize) -> u32 {
    MSR_MTRR_PHYSBASE0.wrapping_add((n as u32).wrapping_mul(2))
}

/// PHYSMASKn for variable range `n` (Intel SDM Vol. 3A §11.11.2.3).
pub const fn msr_physmask(n: usize) -> u32 {
    MSR_MTRR_PHYSMASK0.wrapping_add((n as u32).wrapping_mul(2))
}

/// The address bits of PHYSBASE/PHYSMASK: `(2^MAXPHYADDR - 1) & !0xFFF`, MAXPHYADDR capped at 52 (FreeBSD `sys/x86/x86/x86_mem.c` `mtrr_physmask`).
pub const fn phys_mask(max_phys_bits: u32) -> u64 {
    address_limit(max_phys_bits).wrapping_sub(1) & !0xfff
}

/// `2^MAXPHYADDR`, MAXPHYADDR capped at 52: the first address that does not exist (Intel SDM Vol. 3A §4.1.4).
pub const fn address_limit(max_phys_bits: u32) -> u64 {
    let bits = if max_phys_bits > MAX_PHYS_BITS { MAX_PHYS_BITS } else { max_phys_bits };
    1u64 << bits
}

/// Base and length of fixed slot `index` (0..88), or `None` (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mrinit`).
pub const fn fixed_slot(index: usize) -> Option<(u64, u64)> {
    match index {
        0..8 => Some((index as u64 * 0x1_0000, 0x1_0000)),
        8..24 => Some((0x8_0000 + (index as u64 - 8) * 0x4000, 0x4000)),
        24..88 => Some((0xC_0000 + (index as u64 - 24) * 0x1000, 0x1000)),
        _ => None,
    }
}

/// The fixed slot holding `addr`, if below 1 MiB (Intel SDM Vol. 3A Table 11-9).
pub const fn fixed_slot_of(addr: u64) -> Option<usize> {
    if addr < 0x8_0000 {
        Some((addr / 0x1_0000) as usize)
    } else if addr < 0xC_0000 {
        Some(8 + ((addr - 0x8_0000) / 0x4000) as usize)
    } else if addr < FIXED_TOP {
        Some(24 + ((addr - 0xC_0000) / 0x1000) as usize)
    } else {
        None
    }
}

/// `len` is a power of two of at least 4 KiB and `base` a 4 KiB-aligned multiple of it (FreeBSD `sys/x86/x86/x86_mem.c` `mrvalid`).
pub const fn range_valid(base: u64, len: u64) -> bool {
    base & 0xfff == 0 && len >= 0x1000 && len.is_power_of_two() && base & (len - 1) == 0
}

/// One variable range as FreeBSD reads it (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mrfetch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariableRange {
    /// `PHYSBASE & physmask`.
    pub base: u64,
    /// `(!(PHYSMASK & physmask) & (physmask | 0xFFF)) + 1`; `2^MAXPHYADDR` for an empty mask.
    pub len: u64,
    /// The raw type byte, `PHYSBASE & 0xFF`.
    pub type_byte: u8,
    /// PHYSMASK.V.
    pub valid: bool,
}

/// Decodes a PHYSBASE/PHYSMASK pair (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mrfetch`).
pub const fn decode_variable(physbase: u64, physmask: u64, max_phys_bits: u32) -> VariableRange {
    let pm = phys_mask(max_phys_bits);
    VariableRange {
        base: physbase & pm,
        len: (!(physmask & pm) & (pm | 0xfff)) + 1,
        type_byte: (physbase & PHYSBASE_TYPE_MASK) as u8,
        valid: physmask & PHYSMASK_V != 0,
    }
}

/// Encodes an active range: `((base & physmask) | type, 0x800 | (physmask & !(len - 1)))` (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mrstoreone`).
pub const fn encode_variable(base: u64, len: u64, type_byte: u8, max_phys_bits: u32) -> (u64, u64) {
    let pm = phys_mask(max_phys_bits);
    ((base & pm) | type_byte as u64, PHYSMASK_V | (pm & !len.wrapping_sub(1)))
}

/// A snapshot of every MTRR of one CPU (Intel SDM Vol. 3A §11.11.1-11.11.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MtrrRegisters {
    /// IA32_MTRRCAP (0xFE).
    pub cap: u64,
    /// IA32_MTRR_DEF_TYPE (0x2FF).
    pub def_type: u64,
    /// The fixed-range MSRs, in the order of [`FIXED_MSRS`].
    pub fixed: [u64; 11],
    /// (PHYSBASEn, PHYSMASKn); only the first [`MtrrRegisters::variable_count`] mean anything.
    pub variable: [(u64, u64); MAX_VARIABLE],
}

impl MtrrRegisters {
    /// VCNT, capped at [`MAX_VARIABLE`] (Intel SDM Vol. 3A §11.11.1).
    pub fn variable_count(&self) -> usize {
        ((self.cap & CAP_VCNT_MASK) as usize).min(MAX_VARIABLE)
    }

    /// MTRRCAP.FIX (Intel SDM Vol. 3A §11.11.1).
    pub fn fixed_supported(&self) -> bool {
        self.cap & CAP_FIX != 0
    }

    /// MTRRCAP.WC (Intel SDM Vol. 3A §11.11.1).
    pub fn write_combining_supported(&self) -> bool {
        self.cap & CAP_WC != 0
    }

    /// DEF_TYPE.E (Intel SDM Vol. 3A §11.11.2.1).
    pub fn enabled(&self) -> bool {
        self.def_type & DEF_E != 0
    }

    /// DEF_TYPE.FE (Intel SDM Vol. 3A §11.11.2.1).
    pub fn fixed_enabled(&self) -> bool {
        self.def_type & DEF_FE != 0
    }

    /// The raw default type byte, DEF_TYPE bits 7:0 (Intel SDM Vol. 3A §11.11.2.1).
    pub fn default_type(&self) -> u8 {
        (self.def_type & DEF_TYPE_MASK) as u8
    }

    /// The type byte of fixed slot `index` (0..88), byte `index % 8` of its MSR (Intel SDM Vol. 3A Table 11-9).
    pub fn fixed_byte(&self, index: usize) -> Option<u8> {
        if index >= FIXED_SLOTS {
            return None;
        }
        Some((self.fixed[index / 8] >> (8 * (index % 8))) as u8)
    }

    /// Every writable MTRR as (MSR, value): fixed ones if supported, then the VCNT pairs; DEF_TYPE last (Intel SDM Vol. 3A §11.11.8).
    pub fn msr_values(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let fixed = if self.fixed_supported() { FIXED_MSRS.len() } else { 0 };
        let fixed = FIXED_MSRS.iter().copied().zip(self.fixed.iter().copied()).take(fixed);
        let variable = self
            .variable
            .iter()
            .take(self.variable_count())
            .enumerate()
            .flat_map(|(n, &(b, m))| [(msr_physbase(n), b), (msr_physmask(n), m)]);
        fixed.chain(variable).chain(core::iter::once((MSR_MTRR_DEF_TYPE, self.def_type)))
    }
}

/// The rules this project adds to FreeBSD's so that what is recorded is what the hardware
/// holds (docs/devices.md, second round), for an UPDATE of [base, base+len) with
/// `memtype`: past 2^MAXPHYADDR is EINVAL (the CPU would mask the base onto lower memory;
/// FreeBSD does not check), and write-combining on a CPU whose MTRRCAP lacks WC is
/// EOPNOTSUPP.
pub fn check_hardware_holds(
    regs: &MtrrRegisters,
    max_phys_bits: u32,
    base: u64,
    len: u64,
    memtype: Option<mm_core::memtype::MemoryType>,
) -> Result<(), errno::Errno> {
    let limit = 1u64 << max_phys_bits.min(52);
    if base.checked_add(len).is_none_or(|end| end > limit) {
        return Err(errno::Errno::EINVAL);
    }
    if memtype == Some(mm_core::memtype::MemoryType::WriteCombining) && !regs.write_combining_supported() {
        return Err(errno::Errno::EOPNOTSUPP);
    }
    Ok(())
}
