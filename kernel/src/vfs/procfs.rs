//! `/proc`: files whose text the kernel makes when they are opened.
//!
//! - `iomem`: the physical memory map in Linux's format, the kernel's sections nested
//!   under System RAM (Linux `kernel/resource.c`, `r_show`);
//! - `mtrr`: the variable MTRRs in Linux's format (`arch/x86/kernel/cpu/mtrr/if.c`);
//!   root may write Linux's `base=... size=... type=...` and `disable=N` to it;
//! - `pat_memtype_list`: the ranges mapped with a chosen type (Linux's debugfs file);
//! - `cpuinfo`: one block per online CPU in Linux's format (`arch/x86/kernel/cpu/proc.c`),
//!   from the CPUID registers each CPU read when it came up;
//! - `sys/dev/mem/strict`: `1` while /dev/mem refuses System RAM above 1 MiB; root can
//!   write `0` or `1`.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;

use errno::{Errno, KResult};
use mm_core::physmap::RegionKind;

use super::inode::{Inode, InodeKind, Owner};
use super::insert;
use super::ops::{FileOps, SeekPolicy};
use super::userbuf::UserBuf;
use crate::dev;
use crate::mm::physmap;

const DIR: Owner = Owner { uid: 0, gid: 0, perm: 0o555 };
const READ_ONLY: Owner = Owner { uid: 0, gid: 0, perm: 0o444 };
const ROOT_WRITABLE: Owner = Owner { uid: 0, gid: 0, perm: 0o644 };

pub(super) fn build() -> Arc<Inode> {
    let proc = Inode::directory(DIR, true);
    insert(&proc, "cpuinfo", Inode::new(InodeKind::Proc(open_cpuinfo), READ_ONLY, true));
    insert(&proc, "iomem", Inode::new(InodeKind::Proc(open_iomem), READ_ONLY, true));
    insert(&proc, "mtrr", Inode::new(InodeKind::Proc(open_mtrr), ROOT_WRITABLE, true));
    insert(&proc, "pat_memtype_list", Inode::new(InodeKind::Proc(open_pat_memtype_list), READ_ONLY, true));
    let mut dir = proc.clone();
    for name in ["sys", "dev", "mem"] {
        let sub = Inode::directory(DIR, true);
        insert(&dir, name, sub.clone());
        dir = sub;
    }
    insert(&dir, "strict", Inode::new(InodeKind::Proc(open_strict), ROOT_WRITABLE, true));
    insert(
        &subdirs(&proc, &["bus", "pci"]),
        "devices",
        Inode::new(InodeKind::Proc(open_pci_devices), READ_ONLY, true),
    );
    proc
}

/// Makes the directory chain `names` under `dir` and returns the last one.
fn subdirs(dir: &Arc<Inode>, names: &[&str]) -> Arc<Inode> {
    let mut dir = dir.clone();
    for name in names {
        let sub = Inode::directory(DIR, true);
        insert(&dir, name, sub.clone());
        dir = sub;
    }
    dir
}

/// `/proc/bus/pci/devices` (drivers/pci/proc.c).
fn open_pci_devices(writable: bool) -> KResult<Arc<dyn FileOps>> {
    read_only_text(writable, crate::pci::proc_devices_text())
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
struct Text(Vec<u8>);

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

fn read_only_text(writable: bool, text: String) -> KResult<Arc<dyn FileOps>> {
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
    crate::pci::add_to_iomem(text)
}

fn open_iomem(writable: bool) -> KResult<Arc<dyn FileOps>> {
    read_only_text(writable, iomem_text())
}

/// `/proc/mtrr`: the listing, and Linux's write syntax as a second way into memrange.
struct Mtrr(Text);

impl FileOps for Mtrr {
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
        dev::memrange::proc_mtrr_write(text)?;
        Ok(buf.len())
    }

    fn seek_policy(&self) -> SeekPolicy {
        self.0.seek_policy()
    }
}

fn open_mtrr(_writable: bool) -> KResult<Arc<dyn FileOps>> {
    Ok(Arc::new(Mtrr(Text(dev::memrange::proc_mtrr_text().into_bytes()))))
}

fn open_pat_memtype_list(writable: bool) -> KResult<Arc<dyn FileOps>> {
    read_only_text(writable, dev::memrange::pat_memtype_list_text())
}

/// `/proc/sys/dev/mem/strict`.
struct Strict;

impl FileOps for Strict {
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let text: &[u8] = if dev::mem::strict() { b"1\n" } else { b"0\n" };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
        let len = buf.len().min(text.len() - start);
        buf.write_at(0, &text[start..start + len])?;
        Ok(len)
    }

    /// Accepts `0` or `1`, with surrounding whitespace (`echo 0 >` adds a newline).
    fn write(&self, _: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let mut text = [0u8; 16];
        let len = buf.len().min(text.len());
        buf.read_at(0, &mut text[..len])?;
        match core::str::from_utf8(&text[..len]).map(str::trim) {
            Ok("0") if buf.len() <= text.len() => dev::mem::set_strict(false),
            Ok("1") if buf.len() <= text.len() => dev::mem::set_strict(true),
            _ => return Err(Errno::EINVAL),
        }
        Ok(buf.len())
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Regular { size: 2 }
    }
}

fn open_strict(_writable: bool) -> KResult<Arc<dyn FileOps>> {
    Ok(Arc::new(Strict))
}

#[cfg(test)]
mod tests {
    use crate::arch::smp;
    use crate::ktest::ktest;

    #[ktest]
    fn cpuinfo_has_a_block_per_online_cpu_with_its_apic_id() {
        let text = super::cpuinfo_text();
        let blocks: alloc::vec::Vec<&str> = text.split_terminator("\n\n").collect();
        assert_eq!(blocks.len(), smp::cpu_count());
        for (block, cpu) in blocks.iter().zip(smp::online_cpus().iter()) {
            assert!(block.starts_with(&alloc::format!("processor\t: {cpu}\n")), "{block}");
            let apic_id = smp::apic_id(cpu).expect("online");
            assert!(block.contains(&alloc::format!("\napicid\t\t: {apic_id}\n")), "{block}");
            assert!(block.contains("\nflags\t\t: fpu "), "{block}");
        }
    }
}
