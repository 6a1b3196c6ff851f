//! MEMRANGE_GET and MEMRANGE_SET on /dev/mem, FreeBSD's memory-range ioctls over the real
//! MTRRs, and the PAT side that makes the requested type the effective one.
//!
//! The rules live in the `memrange` crate (host-tested); this module is the glue: the
//! ioctl shim of FreeBSD's `memdev.c`, the commit with the SDM procedure (Vol. 3A, 11.11.8) through
//! `arch::mtrr`, and the re-typing of the kernel's own mappings of the range.

use alloc::string::String;
use alloc::vec::Vec;

use errno::{Errno, KResult};
use memrange::{
    MEM_RANGE_DESC_SIZE, MEM_RANGE_OP_SIZE, MEMRANGE_GET, MEMRANGE_SET, MEMRANGE_SET_REMOVE, MemRangeDesc,
    MemRangeOp, MemRanges, MtrrCommand, MtrrRegisters,
};
use mm_core::memtype::MemoryType;
use spin::Mutex;

use crate::arch::mtrr;
use crate::mm::{PhysAddr, memtype, physmap};
use crate::vfs::UserBuf;
use crate::vfs::ops::{Caller, FileOps, SeekPolicy};
use crate::vfs::procfs::{self, Text};

/// The descriptor list and the registers it was last committed to.
struct State {
    ranges: MemRanges,
    registers: MtrrRegisters,
}

/// `Err` when there is nothing to drive: EOPNOTSUPP without MTRRs, ENXIO when the
/// firmware left them disabled (FreeBSD `memdev.c`).
static STATE: Mutex<Option<Result<State, Errno>>> = Mutex::new(None);

fn with_state<R>(f: impl FnOnce(&mut State) -> KResult<R>) -> KResult<R> {
    let mut guard = STATE.lock();
    let state = guard.get_or_insert_with(|| {
        let registers = mtrr::read_all().ok_or(Errno::EOPNOTSUPP)?;
        let ranges = MemRanges::from_registers(&registers, physmap::max_phys_addr_bits())?;
        Ok(State { ranges, registers })
    });
    match state {
        Ok(state) => {
            // MDF_BUSY follows the live /dev/mem mappings (docs/devices.md): GET shows
            // it, and the model refuses UPDATE and REMOVE of a busy range with EBUSY.
            state.ranges.mark_busy(|base, len| {
                PhysAddr::try_new(base).is_ok_and(|base| memtype::user_mapped(base, len))
            });
            f(state)
        }
        Err(error) => Err(*error),
    }
}

/// The ioctl shim (FreeBSD `sys/dev/mem/memdev.c`): ENOTTY for other
/// commands, then EOPNOTSUPP/ENXIO when there are no MTRRs to drive, EFAULT for bad
/// pointers, EPERM for SET without uid 0.
pub fn ioctl(cmd: u32, arg: u64, caller: &Caller) -> KResult<u64> {
    if cmd != MEMRANGE_GET && cmd != MEMRANGE_SET {
        return Err(Errno::ENOTTY);
    }
    with_state(|state| {
        let op_buf = caller.user_buf(arg, MEM_RANGE_OP_SIZE)?;
        let mut bytes = [0u8; MEM_RANGE_OP_SIZE];
        op_buf.read_at(0, &mut bytes)?;
        let mut op = MemRangeOp::from_bytes(&bytes);
        if cmd == MEMRANGE_GET {
            let (descriptors, count) = state.ranges.get(op.mo_arg[0]);
            let out = caller.user_buf(op.mo_desc, descriptors.len() * MEM_RANGE_DESC_SIZE)?;
            for (i, desc) in descriptors.iter().enumerate() {
                out.write_at(i * MEM_RANGE_DESC_SIZE, &desc.to_bytes())?;
            }
            op.mo_arg[0] = count;
            op_buf.write_at(0, &op.to_bytes())?;
            return Ok(0);
        }
        if !caller.cred.is_root() {
            return Err(Errno::EPERM);
        }
        let mut desc_bytes = [0u8; MEM_RANGE_DESC_SIZE];
        caller.user_buf(op.mo_desc, MEM_RANGE_DESC_SIZE)?.read_at(0, &mut desc_bytes)?;
        let desc = MemRangeDesc::from_bytes(&desc_bytes);
        set(state, &desc, op.mo_arg[0])?;
        Ok(0)
    })
}

/// UPDATE or REMOVE, committed.
fn set(state: &mut State, desc: &MemRangeDesc, op: i32) -> KResult<()> {
    let memtype = if op == MEMRANGE_SET_REMOVE { None } else { memrange::memtype_of_flags(desc.mr_flags) };
    if op != MEMRANGE_SET_REMOVE {
        check_hardware_holds(state, desc.mr_base, desc.mr_len, memtype)?;
    }
    let (base, len) = recorded_span(state, desc.mr_base, desc.mr_len);
    commit(state, base, len, memtype, |ranges| ranges.set(desc, op))
}

/// memrange's hardware rules ([`memrange::check_hardware_holds`]) for this machine.
fn check_hardware_holds(state: &State, base: u64, len: u64, memtype: Option<MemoryType>) -> KResult<()> {
    memrange::check_hardware_holds(&state.registers, physmap::max_phys_addr_bits(), base, len, memtype)
}

/// The physical span a request really changes: below 1 MiB, with the fixed ranges
/// modelled, the whole fixed slots it touches (64 KiB below 0x80000, 16 KiB to 0xC0000,
/// 4 KiB to 1 MiB), which is what the registers then hold; else the request itself.
fn recorded_span(state: &State, base: u64, len: u64) -> (u64, u64) {
    const FIXED_TOP: u64 = 0x10_0000;
    let fixed =
        state.ranges.fixed_count() != 0 && len != 0 && base.checked_add(len).is_some_and(|e| e <= FIXED_TOP);
    if !fixed {
        return (base, len);
    }
    let slot = |addr: u64| match addr {
        0..0x8_0000 => 0x1_0000,
        0x8_0000..0xc_0000 => 0x4000,
        _ => 0x1000,
    };
    let first = base & !(slot(base) - 1);
    let last = base + len - 1;
    let end = (last & !(slot(last) - 1)) + slot(last);
    (first, end - first)
}

/// Changes the model with `change` (all or nothing), writes the registers with the SDM
/// procedure and reads them back, then records the type of [base, base+len) (`None`:
/// removed) and re-types the kernel's mappings of it so the effective type is the one
/// asked for. Any failure leaves registers, descriptors and mappings as they were.
fn commit(
    state: &mut State,
    base: u64,
    len: u64,
    new_type: Option<MemoryType>,
    change: impl FnOnce(&mut MemRanges) -> Result<(), Errno>,
) -> KResult<()> {
    // The model keeps ranges below 2^MAXPHYADDR: a base past physical addresses is a
    // request it refuses too.
    let base = PhysAddr::try_new(base).map_err(|_| Errno::EINVAL)?;
    let mut ranges = state.ranges.clone();
    change(&mut ranges)?;
    let wanted = ranges.to_registers(&state.registers);
    // Every online CPU at once (the SDM wants all CPUs' MTRRs alike): a CPU that does not
    // come to the rendezvous makes it EBUSY, with nothing written anywhere.
    let read_back = match mtrr::write_all_cpus(&wanted) {
        mtrr::AllCpusWrite::Written { read_back, differing }
            if *read_back == wanted && differing.is_empty() =>
        {
            *read_back
        }
        mtrr::AllCpusWrite::Written { .. } => {
            // A CPU refused part of it: put everything back as it was, everywhere.
            let _ = mtrr::write_all_cpus(&state.registers);
            return Err(Errno::EIO);
        }
        mtrr::AllCpusWrite::Busy(missing) => {
            log::warn!("memrange: CPUs {missing:?} did not come to the rendezvous; nothing was changed");
            return Err(Errno::EBUSY);
        }
        mtrr::AllCpusWrite::NoMtrrs => return Err(Errno::EOPNOTSUPP),
    };
    ranges.refetch(&read_back);
    let saved_types = memtype::saved_set_types();
    memtype::record_set(base, len, new_type);
    if memtype::retype_range(base, len).is_err() {
        // All or nothing, mappings included: the registers, the set types and the
        // mappings go back to what they were, and the SET fails.
        memtype::restore_set_types(saved_types);
        let _ = mtrr::write_all_cpus(&state.registers);
        let _ = memtype::retype_range(base, len);
        return Err(Errno::ENOMEM);
    }
    state.ranges = ranges;
    state.registers = read_back;
    Ok(())
}

/// A write to `/proc/mtrr` in Linux's syntax (`base=... size=... type=...` or
/// `disable=N`), applied through the same model and commit as MEMRANGE_SET.
pub fn proc_mtrr_write(text: &str) -> KResult<()> {
    let command = memrange::parse_proc_mtrr_write(text)?;
    with_state(|state| match command {
        MtrrCommand::Add { base, size, memtype } => {
            // Linux's mtrr_add_page: write-combining the CPU lacks is ENOSYS.
            if memtype == MemoryType::WriteCombining && !state.registers.write_combining_supported() {
                return Err(Errno::ENOSYS);
            }
            check_hardware_holds(state, base, size, Some(memtype))?;
            commit(state, base, size, Some(memtype), |ranges| {
                memrange::proc_mtrr_add(ranges, base, size, memtype).map(drop)
            })
        }
        MtrrCommand::Disable { register } => {
            let (base, len) =
                state.ranges.variable(register).map(|d| (d.mr_base, d.mr_len)).ok_or(Errno::EINVAL)?;
            commit(state, base, len, None, |ranges| memrange::proc_mtrr_disable(ranges, register))
        }
    })
}

/// What decides the memory type of one physical address (SDM Vol. 3A, 11.11.4 and
/// Table 11-7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemtypeQuery {
    /// The MTRRs' type; `None` without MTRRs or for an undefined overlap.
    pub mtrr: Option<MemoryType>,
    /// The PAT type of the kernel's direct-map page of the address.
    pub pat: Option<MemoryType>,
    /// MTRR x PAT.
    pub effective: Option<MemoryType>,
}

/// The MTRR type, the PAT type of the direct map's page and the effective type of `phys`.
pub fn memtype_query(phys: u64) -> MemtypeQuery {
    let mtrr = mtrr_type_at(phys);
    let pat = PhysAddr::try_new(phys)
        .ok()
        .and_then(|phys| crate::mm::query::query(crate::mm::phys_to_virt(phys)))
        .map(|page| page.memtype);
    let effective = match (mtrr, pat) {
        (Some(mtrr), Some(pat)) => Some(memrange::effective_type(mtrr, pat)),
        _ => None,
    };
    MemtypeQuery { mtrr, pat, effective }
}

/// `/proc/pat_memtype_list` in Linux's format (mm's memory-type authority keeps it).
pub fn pat_memtype_list_text() -> String {
    memtype::pat_memtype_list_text()
}

/// Whether the MTRRs hold what the descriptor list says (the fuzzer's invariant):
/// the registers read now equal the list turned into registers. Errors when there are
/// no MTRRs to compare.
#[cfg(any(test, feature = "fuzz"))]
pub fn registers_match_model() -> KResult<bool> {
    // Read under the lock: a SET on another CPU changes registers and model together.
    with_state(|state| {
        let now = mtrr::read_all().ok_or(Errno::EOPNOTSUPP)?;
        Ok(now == state.registers && state.ranges.to_registers(&state.registers) == now)
    })
}

/// The type the MTRRs give `phys`, or `None` without MTRRs or for an undefined mix.
/// Reads the registers themselves (no lock), so it also works during a commit.
pub fn mtrr_type_at(phys: u64) -> Option<MemoryType> {
    memrange::mtrr_type_at(&mtrr::read_all()?, physmap::max_phys_addr_bits(), phys)
}

/// The MTRRs' type of each of `pages` pages from `first`, reading the registers once.
pub fn mtrr_types(first: u64, pages: u64) -> Vec<Option<MemoryType>> {
    let registers = mtrr::read_all();
    let bits = physmap::max_phys_addr_bits();
    (0..pages)
        .map(|page| registers.as_ref().and_then(|r| memrange::mtrr_type_at(r, bits, first + page * 4096)))
        .collect()
}

/// `/proc/mtrr`: the variable registers as they are now, in Linux's format.
pub fn proc_mtrr_text() -> String {
    let mut text = String::new();
    if let Some(registers) = mtrr::read_all() {
        let _ = memrange::write_proc_mtrr(&registers, physmap::max_phys_addr_bits(), &mut text);
    }
    text
}

/// Registers `/proc/mtrr` (the variable MTRRs in Linux's format,
/// `arch/x86/kernel/cpu/mtrr/if.c`; root may write Linux's `base=... size=... type=...`
/// and `disable=N`) and `/proc/pat_memtype_list` (the ranges mapped with a chosen type,
/// Linux's debugfs file).
pub fn register_proc_files() {
    procfs::register("mtrr", procfs::ROOT_WRITABLE, open_proc_mtrr);
    procfs::register("pat_memtype_list", procfs::READ_ONLY_MODE, |writable| {
        procfs::read_only_text(writable, pat_memtype_list_text())
    });
}

/// `/proc/mtrr`: the listing, and Linux's write syntax as a second way into memrange.
struct ProcMtrr(Text);

impl FileOps for ProcMtrr {
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        self.0.read(offset, buf)
    }

    /// One command per write, as Linux takes it (`echo "base=... size=... type=..." >`).
    fn write(&self, _: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let mut text = [0u8; 256];
        if buf.len() > text.len() {
            return Err(Errno::EINVAL);
        }
        buf.read_at(0, &mut text[..buf.len()])?;
        let text = core::str::from_utf8(&text[..buf.len()]).map_err(|_| Errno::EINVAL)?;
        proc_mtrr_write(text)?;
        Ok(buf.len())
    }

    fn seek_policy(&self) -> SeekPolicy {
        self.0.seek_policy()
    }
}

fn open_proc_mtrr(_writable: bool) -> KResult<alloc::sync::Arc<dyn FileOps>> {
    Ok(alloc::sync::Arc::new(ProcMtrr(Text(proc_mtrr_text().into_bytes()))))
}
