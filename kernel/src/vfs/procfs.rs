//! `/proc`: files whose text the kernel makes when they are opened.
//!
//! procfs itself makes `iomem` (the physical memory map in Linux's format, the kernel's
//! sections nested under System RAM: Linux `kernel/resource.c`, `r_show`) and `cpuinfo`
//! (a block per online CPU in Linux's format, `arch/x86/kernel/cpu/proc.c`, from the
//! CPUID registers each CPU read when it came up). The other files
//! are registered by the modules that own them ([`register`]), so procfs names no driver:
//! `mtrr` and `pat_memtype_list` (dev::memrange), `sys/dev/mem/strict` (dev::mem),
//! `bus/pci/devices` (pci, which also adds its BARs to `iomem` through
//! [`set_iomem_extension`]).

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;

use errno::{Errno, KResult};
use mm_core::physmap::RegionKind;

use spin::Once;

use super::inode::{Inode, InodeKind, Owner};
use super::ops::{FileOps, SeekPolicy};
use super::userbuf::UserBuf;
use crate::mm::physmap;

const DIR: Owner = Owner { uid: 0, gid: 0, perm: 0o555 };
const READ_ONLY: Owner = Owner { uid: 0, gid: 0, perm: 0o444 };
/// The mode of a /proc file root may write (writing needs uid 0 whatever the mode).
pub const ROOT_WRITABLE: u32 = 0o644;
/// The mode of a read-only /proc file.
pub const READ_ONLY_MODE: u32 = 0o444;

/// What opening a /proc file runs: its contents (or a writer) for this open.
pub type OpenFn = fn(writable: bool) -> KResult<Arc<dyn FileOps>>;

pub(super) fn build() -> Arc<Inode> {
    let proc = Inode::directory(DIR, true);
    super::insert(&proc, "cpuinfo", Inode::new(InodeKind::Proc(open_cpuinfo), READ_ONLY, true));
    super::insert(&proc, "iomem", Inode::new(InodeKind::Proc(open_iomem), READ_ONLY, true));
    proc
}

/// Adds the file `path` (relative to /proc, e.g. `sys/dev/mem/strict`) with mode `perm`,
/// owned by root, making the directories on the way. For the modules that own the
/// files, at boot, after `vfs::init`.
pub fn register(path: &str, perm: u32, open: OpenFn) {
    let owner = Owner { uid: 0, gid: 0, perm: perm & 0o777 };
    super::add_under("/proc", path, Inode::new(InodeKind::Proc(open), owner, true), || {
        Inode::directory(DIR, true)
    });
}

/// What `/proc/iomem` adds after the memory map (the PCI BARs, nested under their bus).
static IOMEM_EXTENSION: Once<fn(String) -> String> = Once::new();

/// Lets the PCI layer add its resources to `/proc/iomem` (once, at boot).
pub fn set_iomem_extension(extend: fn(String) -> String) {
    IOMEM_EXTENSION.call_once(|| extend);
}

/// `/proc/cpuinfo`.
fn open_cpuinfo(writable: bool) -> KResult<Arc<dyn FileOps>> {
    read_only_text(writable, cpuinfo_text())
}

/// `/proc/cpuinfo`'s text: a block per online CPU, in CPU order.
pub fn cpuinfo_text() -> String {
    use crate::arch::smp;
    let mut text = String::new();
    for cpu in smp::online_cpus().iter() {
        if let (Some(id), Some(apic_id)) = (smp::identity(cpu), smp::apic_id(cpu)) {
            vfs_core::cpuinfo::format_cpu(&mut text, cpu, apic_id, &id);
        }
    }
    text
}

/// A snapshot of text, taken at open, read like a regular file.
pub struct Text(pub Vec<u8>);

impl FileOps for Text {
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.0.len());
        let len = buf.len().min(self.0.len() - start);
        buf.write_at(0, &self.0[start..start + len])?;
        Ok(len)
    }

    fn write(&self, _: u64, _: UserBuf<'_>) -> KResult<usize> {
        Err(Errno::EBADF)
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Regular { size: self.0.len() as u64 }
    }
}

/// A read-only /proc file's open: EACCES for writing, else a snapshot of `text`.
pub fn read_only_text(writable: bool, text: String) -> KResult<Arc<dyn FileOps>> {
    if writable {
        // No write operation: refused even to root, whose DAC override got it this far.
        return Err(Errno::EACCES);
    }
    Ok(Arc::new(Text(text.into_bytes())))
}

/// `/proc/iomem` as Linux prints it: `start-end : name`, end inclusive, at least 8 hex
/// digits; holes left out; kernel sections indented under their System RAM range.
pub fn iomem_text() -> String {
    let map = physmap::map();
    let mut text = String::new();
    for region in map.regions().iter().filter(|r| r.kind != RegionKind::Hole) {
        let _ = writeln!(text, "{:08x}-{:08x} : {}", region.start, region.end - 1, region.kind.iomem_name());
        if region.kind == RegionKind::SystemRam {
            for section in map.sections().iter().filter(|s| s.start >= region.start && s.end <= region.end) {
                let _ = writeln!(
                    text,
                    "  {:08x}-{:08x} : {}",
                    section.start,
                    section.end - 1,
                    section.section.iomem_name()
                );
            }
        }
    }
    match IOMEM_EXTENSION.get() {
        Some(extend) => extend(text),
        None => text,
    }
}

fn open_iomem(writable: bool) -> KResult<Arc<dyn FileOps>> {
    read_only_text(writable, iomem_text())
}
