//! FreeBSD's memory-range interface (MEMRANGE_GET/MEMRANGE_SET on /dev/mem) over the x86
//! MTRRs, free of hardware access so that `cargo test` checks it on the host.
//!
//! - [`layout`]: `struct mem_range_desc`/`mem_range_op`, the `MDF_*` flags, the ioctl numbers
//!   (FreeBSD `sys/sys/memrange.h`).
//! - [`regs`]: MSR numbers and fields, a register snapshot, PHYSBASE/PHYSMASK encoding (Intel
//!   SDM Vol. 3A §11.11).
//! - [`model`]: the descriptor list with FreeBSD's init, fetch, SET rules and store step
//!   (FreeBSD `sys/x86/x86/x86_mem.c`).
//! - [`precedence`]: the type the MTRRs give an address, and MTRR × PAT (Intel SDM §11.11.4.1,
//!   Table 11-7).
//! - [`procfs`]: `/proc/mtrr` reads and writes (Linux `arch/x86/kernel/cpu/mtrr/if.c`).
//!
//! The kernel's commit sequence after a successful [`MemRanges::set`]: compute
//! [`MemRanges::to_registers`] from the current registers, store them on every CPU (SDM
//! §11.11.8), read them back and call [`MemRanges::refetch`] ([`MemRanges::apply`] does the
//! model half, assuming the registers read back as written).
//!
//! Round trips, as in FreeBSD: [`MemRanges::from_registers`] is the boot-time read only (every
//! ACTIVE range gets `MDF_FIRMWARE` and the owner "BIOS"). After a commit, [`MemRanges::refetch`]
//! keeps FIRMWARE flags and owners, so refetching stored registers changes nothing except that
//! an ACTIVE range with an empty owner becomes "BIOS" and a removed slot reads back as base 0,
//! length `2^MAXPHYADDR`, type UC (keeping FIRMWARE if it had it). Bases at or above
//! `2^MAXPHYADDR` and lengths above it are not refused (FreeBSD does not check) but read back
//! truncated by the PHYSBASE/PHYSMASK width.
#![no_std]
#![forbid(unsafe_code)]

pub mod layout;
pub mod model;
pub mod precedence;
pub mod procfs;
pub mod regs;

pub use layout::*;
pub use model::{MAX_DESCRIPTORS, MemRanges};
pub use precedence::{effective_type, mtrr_type_at};
pub use procfs::{MtrrCommand, parse_proc_mtrr_write, proc_mtrr_add, proc_mtrr_disable, write_proc_mtrr};
pub use regs::{MAX_VARIABLE, MtrrRegisters, check_hardware_holds};

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;
