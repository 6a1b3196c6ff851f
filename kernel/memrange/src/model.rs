//! FreeBSD's x86 memory-range backend as a pure model: the descriptor list, its init and fetch
//! from registers, SET (UPDATE and REMOVE) with every rule and errno, and the store step that
//! turns the list back into register values (FreeBSD `sys/x86/x86/x86_mem.c`).

use errno::Errno;

use crate::layout::*;
use crate::regs::*;

/// The most descriptors a model holds: 88 fixed + [`MAX_VARIABLE`] (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mrinit`).
pub const MAX_DESCRIPTORS: usize = FIXED_SLOTS + MAX_VARIABLE;

const BIOS_OWNER: &[u8; 5] = b"BIOS\0";

/// The memory-range descriptors of the MTRRs (FreeBSD `sys/x86/x86/x86_mem.c` `mem_range_softc`).
#[derive(Clone, PartialEq, Eq)]
pub struct MemRanges {
    descs: [MemRangeDesc; MAX_DESCRIPTORS],
    ndesc: usize,
    nfixed: usize,
    max_phys_bits: u32,
}

impl MemRanges {
    /// Init and first fetch; `ENXIO` if DEF_TYPE.E is clear or there are no ranges (FreeBSD `x86_mem.c` `x86_mrinit`, `memdev.c`).
    ///
    /// 88 fixed descriptors come first when MTRRCAP.FIX and DEF_TYPE.FE are both set, then VCNT
    /// (at most [`MAX_VARIABLE`]) variable ones. Every ACTIVE descriptor gets `MDF_FIRMWARE`, and
    /// the owner "BIOS" since none has an owner yet. `max_phys_bits` above 52 counts as 52.
    pub fn from_registers(regs: &MtrrRegisters, max_phys_bits: u32) -> Result<MemRanges, Errno> {
        if !regs.enabled() {
            return Err(Errno::ENXIO);
        }
        let nfixed = if regs.fixed_supported() && regs.fixed_enabled() { FIXED_SLOTS } else { 0 };
        let ndesc = nfixed + regs.variable_count();
        if ndesc == 0 {
            return Err(Errno::ENXIO);
        }
        let mut ranges = MemRanges {
            descs: [MemRangeDesc::default(); MAX_DESCRIPTORS],
            ndesc,
            nfixed,
            max_phys_bits: max_phys_bits.min(MAX_PHYS_BITS),
        };
        for (index, desc) in ranges.descs[..nfixed].iter_mut().enumerate() {
            let (base, len) = fixed_slot(index).unwrap_or((0, 0));
            desc.mr_base = base;
            desc.mr_len = len;
            desc.mr_flags = MDF_FIXBASE | MDF_FIXLEN | MDF_FIXACTIVE;
        }
        ranges.refetch(regs);
        for desc in ranges.descs[..ndesc].iter_mut() {
            if desc.mr_flags & MDF_ACTIVE != 0 {
                desc.mr_flags |= MDF_FIRMWARE;
            }
        }
        Ok(ranges)
    }

    /// Re-reads the registers into the existing descriptors after a commit (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mrfetch`).
    ///
    /// Attributes, ACTIVE, and for variable slots base and length come from the registers;
    /// FIRMWARE, FIXBASE/FIXLEN/FIXACTIVE and the owner are kept; BOGUS is added, never
    /// removed; an ACTIVE descriptor with an empty owner (`mr_owner[0] == 0`) gets "BIOS".
    /// An inactive variable slot that the store step zeroed reads as base 0, length
    /// `2^MAXPHYADDR`, type UC (as FreeBSD's `x86_mrfetch` decodes it); raw firmware values in an inactive slot decode as is.
    pub fn refetch(&mut self, regs: &MtrrRegisters) {
        let nfixed = self.nfixed;
        let max_phys_bits = self.max_phys_bits;
        for (index, desc) in self.descs[..self.ndesc].iter_mut().enumerate() {
            if index < nfixed {
                let byte = regs.fixed_byte(index).unwrap_or(0);
                desc.mr_flags = (desc.mr_flags & !MDF_ATTRMASK) | flag_of_mtrr_byte(byte) | MDF_ACTIVE;
            } else {
                let (physbase, physmask) = regs.variable.get(index - nfixed).copied().unwrap_or((0, 0));
                let range = decode_variable(physbase, physmask, max_phys_bits);
                desc.mr_flags = (desc.mr_flags & !MDF_ATTRMASK) | flag_of_mtrr_byte(range.type_byte);
                desc.mr_base = range.base;
                desc.mr_flags =
                    if range.valid { desc.mr_flags | MDF_ACTIVE } else { desc.mr_flags & !MDF_ACTIVE };
                desc.mr_len = range.len;
                if !range_valid(desc.mr_base, desc.mr_len) {
                    desc.mr_flags |= MDF_BOGUS;
                }
            }
            if desc.mr_flags & MDF_ACTIVE != 0 && desc.mr_owner[0] == 0 {
                desc.mr_owner[..BIOS_OWNER.len()].copy_from_slice(BIOS_OWNER);
            }
        }
    }

    /// All descriptors: fixed ones first, then variable ones (FreeBSD `sys/dev/mem/memutil.c` `mem_range_attr_get`).
    pub fn descriptors(&self) -> &[MemRangeDesc] {
        &self.descs[..self.ndesc]
    }

    /// The number of descriptors, what MEMRANGE_GET reports (FreeBSD `sys/dev/mem/memutil.c` `mr_ndesc`).
    pub fn len(&self) -> usize {
        self.ndesc
    }

    /// Never true for a model that [`MemRanges::from_registers`] returned (FreeBSD `sys/dev/mem/memdev.c`, ENXIO).
    pub fn is_empty(&self) -> bool {
        self.ndesc == 0
    }

    /// 88 when the fixed ranges are modelled, else 0 (FreeBSD `sys/x86/x86/x86_mem.c` `MR686_FIXMTRR`).
    pub fn fixed_count(&self) -> usize {
        self.nfixed
    }

    /// The number of variable slots, VCNT capped at 16 (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mrinit`).
    pub fn variable_count(&self) -> usize {
        self.ndesc - self.nfixed
    }

    /// The descriptor of variable register `register` (Linux `arch/x86/kernel/cpu/mtrr/if.c` numbering).
    pub fn variable(&self, register: usize) -> Option<&MemRangeDesc> {
        self.descs[self.nfixed..self.ndesc].get(register)
    }

    /// MAXPHYADDR as the model uses it, capped at 52 (FreeBSD `sys/x86/x86/x86_mem.c` `cpu_maxphyaddr`).
    pub fn max_phys_bits(&self) -> u32 {
        self.max_phys_bits
    }

    /// MEMRANGE_GET: the descriptors to copy out and the new `mo_arg[0]` (FreeBSD `sys/dev/mem/memdev.c` `memioctl`).
    ///
    /// `n = min(requested, len)`; if `n > 0` the first `n` descriptors and `n`, else none and `len`.
    pub fn get(&self, requested: i32) -> (&[MemRangeDesc], i32) {
        let total = i32::try_from(self.ndesc).unwrap_or(i32::MAX);
        let n = requested.min(total);
        match usize::try_from(n) {
            Ok(n) if n > 0 => (&self.descs[..n], n as i32),
            _ => (&[], total),
        }
    }

    /// MEMRANGE_SET: UPDATE or REMOVE, all or nothing; forces `mr_owner[7] = 0` (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mrset`).
    ///
    /// Does not touch hardware: on success store [`MemRanges::to_registers`] on every CPU, then
    /// [`MemRanges::refetch`] (or use [`MemRanges::apply`]).
    pub fn set(&mut self, desc: &MemRangeDesc, op: i32) -> Result<(), Errno> {
        let mut request = *desc;
        request.mr_owner[7] = 0;
        match op {
            MEMRANGE_SET_UPDATE => self.update(&request),
            MEMRANGE_SET_REMOVE => self.remove(&request),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    /// [`MemRanges::set`], then the registers to store, the model refetched as if they read back unchanged (FreeBSD `x86_mem.c` `x86_mrset`).
    pub fn apply(
        &mut self,
        desc: &MemRangeDesc,
        op: i32,
        current: &MtrrRegisters,
    ) -> Result<MtrrRegisters, Errno> {
        self.set(desc, op)?;
        let regs = self.to_registers(current);
        self.refetch(&regs);
        Ok(regs)
    }

    fn update(&mut self, request: &MemRangeDesc) -> Result<(), Errno> {
        if !range_valid(request.mr_base, request.mr_len) || memtype_of_flags(request.mr_flags).is_none() {
            return Err(Errno::EINVAL);
        }
        if self.nfixed != 0 && request.mr_base.wrapping_add(request.mr_len) <= FIXED_TOP {
            self.update_fixed(request)
        } else {
            let slot = self.find_variable_slot(request)?;
            self.fill_variable_slot(slot, request);
            Ok(())
        }
    }

    /// `x86_mrsetlow`: every fixed slot from the one holding base to the one holding the last byte.
    fn update_fixed(&mut self, request: &MemRangeDesc) -> Result<(), Errno> {
        let last = request.mr_base.wrapping_add(request.mr_len).wrapping_sub(1);
        let (Some(first), Some(last)) = (fixed_slot_of(request.mr_base), fixed_slot_of(last)) else {
            return Err(Errno::EINVAL);
        };
        if first > last {
            return Ok(()); // FreeBSD's slot loop runs zero times; unreachable for a valid request
        }
        let slots = &mut self.descs[first..=last];
        if request.mr_flags & MDF_FORCE == 0 && slots.iter().any(|d| d.mr_flags & MDF_ATTRMASK == MDF_UNKNOWN)
        {
            return Err(Errno::EACCES);
        }
        for slot in slots {
            slot.mr_flags =
                (slot.mr_flags & !MDF_FIRMWARE & !MDF_ATTRMASK) | (request.mr_flags & MDF_ATTRMASK);
            slot.mr_owner = request.mr_owner;
        }
        Ok(())
    }

    /// `x86_mrsetvariable`'s scan: the slot to take over or fill, without changing anything.
    pub(crate) fn find_variable_slot(&self, request: &MemRangeDesc) -> Result<usize, Errno> {
        let mut free = None;
        for (index, current) in self.descs.iter().enumerate().take(self.ndesc).skip(self.nfixed) {
            if current.mr_flags & MDF_ACTIVE != 0 {
                if current.mr_base == request.mr_base && current.mr_len == request.mr_len {
                    if current.mr_flags & MDF_BUSY != 0 {
                        return Err(Errno::EBUSY);
                    }
                    if request.mr_flags & MDF_FORCE == 0 && current.mr_flags & MDF_ATTRMASK == MDF_UNKNOWN {
                        return Err(Errno::EACCES);
                    }
                    return Ok(index);
                }
                if overlap(current, request) && conflict(current.mr_flags, request.mr_flags) {
                    return Err(Errno::EINVAL);
                }
            } else if free.is_none() {
                free = Some(index);
            }
        }
        free.ok_or(Errno::ENOSPC)
    }

    /// `x86_mrsetvariable`'s store: the slot becomes ACTIVE with the request's attribute and owner.
    pub(crate) fn fill_variable_slot(&mut self, index: usize, request: &MemRangeDesc) {
        let slot = &mut self.descs[index];
        slot.mr_base = request.mr_base;
        slot.mr_len = request.mr_len;
        slot.mr_flags = MDF_ACTIVE | (request.mr_flags & MDF_ATTRMASK);
        slot.mr_owner = request.mr_owner;
    }

    /// REMOVE: the first descriptor with this exact base and length (FreeBSD `x86_mem.c` `mem_range_match`).
    fn remove(&mut self, request: &MemRangeDesc) -> Result<(), Errno> {
        let Some(index) = self
            .descriptors()
            .iter()
            .position(|d| d.mr_base == request.mr_base && d.mr_len == request.mr_len)
        else {
            return Err(Errno::ENOENT);
        };
        self.remove_at(index)
    }

    /// REMOVE of descriptor `index`: EPERM for fixed slots, EBUSY for busy ones (FreeBSD `x86_mem.c` `x86_mrset`).
    pub(crate) fn remove_at(&mut self, index: usize) -> Result<(), Errno> {
        let target = &mut self.descs[index];
        if target.mr_flags & MDF_FIXACTIVE != 0 {
            return Err(Errno::EPERM);
        }
        if target.mr_flags & MDF_BUSY != 0 {
            return Err(Errno::EBUSY);
        }
        target.mr_flags &= !MDF_ACTIVE;
        target.mr_owner[0] = 0;
        Ok(())
    }

    /// The store step: register values for the descriptors; cap and def_type are `current`'s (FreeBSD `x86_mem.c` `x86_mrstoreone`).
    ///
    /// Fixed MSRs are rebuilt byte by byte (a descriptor without a single valid type keeps the
    /// byte of `current`); the first VCNT variable pairs become `((base & physmask) | type,
    /// 0x800 | (physmask & !(len - 1)))` when ACTIVE and `(0, 0)` otherwise. The kernel clears and
    /// sets DEF_TYPE.E around the writes itself.
    pub fn to_registers(&self, current: &MtrrRegisters) -> MtrrRegisters {
        let mut regs = *current;
        if self.nfixed == FIXED_SLOTS {
            for (msr, value) in regs.fixed.iter_mut().enumerate() {
                let mut new = 0u64;
                for byte in 0..8 {
                    let desc = &self.descs[msr * 8 + byte];
                    let old = (*value >> (8 * byte)) as u8;
                    new |= u64::from(mtrr_byte_of_flags(desc.mr_flags, old)) << (8 * byte);
                }
                *value = new;
            }
        }
        for (desc, pair) in self.descs[self.nfixed..self.ndesc].iter().zip(regs.variable.iter_mut()) {
            *pair = if desc.mr_flags & MDF_ACTIVE != 0 {
                let old = (pair.0 & PHYSBASE_TYPE_MASK) as u8;
                encode_variable(
                    desc.mr_base,
                    desc.mr_len,
                    mtrr_byte_of_flags(desc.mr_flags, old),
                    self.max_phys_bits,
                )
            } else {
                (0, 0)
            };
        }
        regs
    }

    /// Sets MDF_BUSY on each active variable-range descriptor that `in_use(base, len)` says a
    /// live mapping overlaps, and clears it on every other descriptor. FreeBSD never sets the
    /// flag (mem(4) BUGS); this kernel calls this before every GET and SET, so UPDATE and
    /// REMOVE of a range that a mapping depends on fail with EBUSY.
    pub fn mark_busy(&mut self, in_use: impl Fn(u64, u64) -> bool) {
        let nfixed = self.nfixed;
        for (index, desc) in self.descs[..self.ndesc].iter_mut().enumerate() {
            let busy =
                index >= nfixed && desc.mr_flags & MDF_ACTIVE != 0 && in_use(desc.mr_base, desc.mr_len);
            if busy {
                desc.mr_flags |= MDF_BUSY;
            } else {
                desc.mr_flags &= !MDF_BUSY;
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn descs_mut(&mut self) -> &mut [MemRangeDesc] {
        &mut self.descs[..self.ndesc]
    }
}

impl core::fmt::Debug for MemRanges {
    /// The descriptors in use only.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemRanges")
            .field("nfixed", &self.nfixed)
            .field("max_phys_bits", &self.max_phys_bits)
            .field("descs", &self.descriptors())
            .finish()
    }
}

/// `mrwithin`, with C's wrapping unsigned arithmetic.
fn within(desc: &MemRangeDesc, addr: u64) -> bool {
    addr >= desc.mr_base && addr < desc.mr_base.wrapping_add(desc.mr_len)
}

/// `mroverlap`.
fn overlap(a: &MemRangeDesc, b: &MemRangeDesc) -> bool {
    within(a, b.mr_base) || within(b, a.mr_base)
}

/// `x86_mtrrconflict`: only identical types, or WB with UC, may overlap; UNKNOWN never.
fn conflict(flags1: i32, flags2: i32) -> bool {
    let (a, b) = (flags1 & MDF_ATTRMASK, flags2 & MDF_ATTRMASK);
    if (a | b) & MDF_UNKNOWN != 0 {
        return true;
    }
    let wb_uc = (a == MDF_WRITEBACK && b == MDF_UNCACHEABLE) || (a == MDF_UNCACHEABLE && b == MDF_WRITEBACK);
    !(a == b || wb_uc)
}
