//! `/proc/mtrr`: Linux's listing of the variable MTRRs and its write syntax, mapped onto the
//! memory-range model (Linux `arch/x86/kernel/cpu/mtrr/if.c`, `generic.c`, `mtrr.c`).

use core::fmt;

use errno::Errno;
use mm_core::memtype::MemoryType;

use crate::layout::{MemRangeDesc, flag_of_memtype};
use crate::model::MemRanges;
use crate::regs::*;

/// The owner of ranges added through `/proc/mtrr` (this kernel's choice; memcontrol's default is "user").
pub const PROC_MTRR_OWNER: &str = "mtrr";

/// The MTRR types a `/proc/mtrr` line may name, in encoding order (Linux `arch/x86/kernel/cpu/mtrr/if.c` `mtrr_strings`).
pub const PROC_MTRR_TYPES: [MemoryType; 5] = [
    MemoryType::Uncacheable,
    MemoryType::WriteCombining,
    MemoryType::WriteThrough,
    MemoryType::WriteProtect,
    MemoryType::WriteBack,
];

/// Base page, size in pages and type byte of a valid variable range; `None` if V is clear (Linux `arch/x86/kernel/cpu/mtrr/generic.c` `generic_get_mtrr`).
///
/// Like Linux, the mask is extended with ones from its highest set bit up (a firmware mask with
/// holes above its top bit is "fixed"), and the size is `-mask >> 12`.
pub fn linux_variable_range(physbase: u64, physmask: u64, max_phys_bits: u32) -> Option<(u64, u64, u8)> {
    if physmask & PHYSMASK_V == 0 {
        return None;
    }
    let tmp = physmask & !0xfff;
    let mask = if tmp == 0 {
        !address_limit(max_phys_bits).wrapping_sub(1)
    } else {
        let top = 1u64 << (63 - tmp.leading_zeros());
        tmp | !(top - 1)
    };
    Some((physbase >> 12, mask.wrapping_neg() >> 12, (physbase & PHYSBASE_TYPE_MASK) as u8))
}

/// Writes `/proc/mtrr`: one line per valid variable register, count 1 (Linux `arch/x86/kernel/cpu/mtrr/if.c` `mtrr_seq_show`).
///
/// `reg%02i: base=0x%06lx000 (%5luMB), size=%5lu%cB, count=%d: %s`, size in KB below 1 MiB,
/// type names as Linux's, "?" for a byte that is no MTRR type.
pub fn write_proc_mtrr(regs: &MtrrRegisters, max_phys_bits: u32, out: &mut impl fmt::Write) -> fmt::Result {
    for (index, &(physbase, physmask)) in regs.variable.iter().take(regs.variable_count()).enumerate() {
        let Some((base, size, type_byte)) = linux_variable_range(physbase, physmask, max_phys_bits) else {
            continue;
        };
        let (size, factor) = if size < (0x10_0000 >> 12) { (size << 2, 'K') } else { (size >> 8, 'M') };
        let name = MemoryType::from_mtrr_encoding(type_byte).map_or("?", MemoryType::linux_name);
        writeln!(
            out,
            "reg{index:02}: base=0x{base:06x}000 ({:5}MB), size={size:5}{factor}B, count=1: {name}",
            base >> 8
        )?;
    }
    Ok(())
}

/// A line written to `/proc/mtrr` (Linux `arch/x86/kernel/cpu/mtrr/if.c` `mtrr_write`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtrrCommand {
    /// `base=B size=S type=NAME`: add a range (byte address and length, both page-aligned).
    Add {
        /// Physical base address.
        base: u64,
        /// Length in bytes.
        size: u64,
        /// The type named.
        memtype: MemoryType,
    },
    /// `disable=N`: free variable register N.
    Disable {
        /// The register number, as `regNN` in the listing.
        register: usize,
    },
}

/// Parses a `/proc/mtrr` write; EINVAL for anything malformed (Linux `arch/x86/kernel/cpu/mtrr/if.c` `mtrr_write`).
///
/// Numbers are C's base-0 (`0x` hex, leading `0` octal, else decimal) with an optional
/// memparse suffix K, M, G, T, P or E (disable= takes no suffix). Whitespace may surround the
/// line, each `=` and each field; anything else left over, a missing digit, an overflow, a base
/// or size that is not 4 KiB-aligned, or a type name outside Linux's five gives EINVAL.
pub fn parse_proc_mtrr_write(text: &str) -> Result<MtrrCommand, Errno> {
    let line = text.trim();
    if let Some(rest) = line.strip_prefix("disable=") {
        let (register, rest) = parse_number(rest.trim_start(), false)?;
        if !rest.trim().is_empty() {
            return Err(Errno::EINVAL);
        }
        let register = usize::try_from(register).map_err(|_| Errno::EINVAL)?;
        return Ok(MtrrCommand::Disable { register });
    }
    let rest = line.strip_prefix("base=").ok_or(Errno::EINVAL)?;
    let (base, rest) = parse_number(rest.trim_start(), true)?;
    let rest = rest.trim_start().strip_prefix("size=").ok_or(Errno::EINVAL)?;
    let (size, rest) = parse_number(rest.trim_start(), true)?;
    if (base | size) & 0xfff != 0 {
        return Err(Errno::EINVAL);
    }
    let name = rest.trim_start().strip_prefix("type=").ok_or(Errno::EINVAL)?.trim();
    let memtype = PROC_MTRR_TYPES.into_iter().find(|t| t.linux_name() == name).ok_or(Errno::EINVAL)?;
    Ok(MtrrCommand::Add { base, size, memtype })
}

/// One base-0 number and an optional memparse suffix; the rest of the text (Linux `lib/cmdline.c` `memparse`).
fn parse_number(text: &str, suffix: bool) -> Result<(u64, &str), Errno> {
    let bytes = text.as_bytes();
    let (radix, start) = match bytes {
        [b'0', b'x' | b'X', next, ..] if next.is_ascii_hexdigit() => (16, 2),
        [b'0', ..] => (8, 0),
        _ => (10, 0),
    };
    let digits = bytes[start..].iter().take_while(|b| char::from(**b).is_digit(radix)).count();
    if digits == 0 {
        return Err(Errno::EINVAL);
    }
    let end = start + digits;
    let mut value = u64::from_str_radix(&text[start..end], radix).map_err(|_| Errno::EINVAL)?;
    let mut rest = &text[end..];
    if suffix {
        let shift = match rest.as_bytes().first().map(u8::to_ascii_uppercase) {
            Some(b'K') => 10,
            Some(b'M') => 20,
            Some(b'G') => 30,
            Some(b'T') => 40,
            Some(b'P') => 50,
            Some(b'E') => 60,
            _ => 0,
        };
        if shift != 0 {
            if value.leading_zeros() < shift {
                return Err(Errno::EINVAL);
            }
            value <<= shift;
            rest = &rest[1..];
        }
    }
    Ok((value, rest))
}

/// `base=... size=... type=...`: a variable-register UPDATE owned by "mtrr"; returns the register (Linux `mtrr.c` `mtrr_add_page`, FreeBSD `x86_mem.c` `x86_mrsetvariable`).
///
/// EINVAL unless `size` is a power of two of at least 4 KiB, `base` a multiple of it, the range
/// below `2^MAXPHYADDR`, and the type an MTRR type (not UC-). Then FreeBSD's variable-slot rules:
/// an exact match is taken over (EBUSY if busy, EACCES if its type is unknown), a conflicting
/// overlap is EINVAL, else the first free slot, ENOSPC if none. Ranges below 1 MiB also take a
/// variable register, as on Linux (MEMRANGE_SET would edit the fixed ranges instead).
/// All or nothing; the caller commits and refetches as after MEMRANGE_SET.
pub fn proc_mtrr_add(
    ranges: &mut MemRanges,
    base: u64,
    size: u64,
    memtype: MemoryType,
) -> Result<usize, Errno> {
    let flag = flag_of_memtype(memtype).ok_or(Errno::EINVAL)?;
    if !range_valid(base, size) {
        return Err(Errno::EINVAL);
    }
    match base.checked_add(size) {
        Some(end) if end <= address_limit(ranges.max_phys_bits()) => {}
        _ => return Err(Errno::EINVAL),
    }
    let request = MemRangeDesc::new(base, size, flag, PROC_MTRR_OWNER);
    let slot = ranges.find_variable_slot(&request)?;
    ranges.fill_variable_slot(slot, &request);
    Ok(slot - ranges.fixed_count())
}

/// `disable=N`: REMOVE of variable register N; EINVAL if out of range or not active (Linux `mtrr.c` `mtrr_del_page`, FreeBSD `x86_mem.c` `x86_mrset`).
///
/// EBUSY for a busy slot; otherwise the slot loses ACTIVE and `mr_owner[0]`, firmware ranges
/// included. All or nothing; the caller commits and refetches as after MEMRANGE_SET.
pub fn proc_mtrr_disable(ranges: &mut MemRanges, register: usize) -> Result<(), Errno> {
    match ranges.variable(register) {
        Some(desc) if desc.mr_flags & crate::layout::MDF_ACTIVE != 0 => {}
        _ => return Err(Errno::EINVAL),
    }
    ranges.remove_at(ranges.fixed_count() + register)
}
