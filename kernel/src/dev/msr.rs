//! /dev/cpu/N/msr: Linux's msr(4) (`arch/x86/kernel/msr.c`), in the family of mem and
//! port. Major 202, minor N = the CPU; mode 0600 root, and opening needs uid 0 (Linux's
//! CAP_SYS_RAWIO). The file offset is the MSR index: `pread(fd, buf, 8, index)` reads
//! that MSR on CPU N; a count that is not a multiple of 8 is EINVAL; an MSR the CPU does
//! not have (#GP) is EIO. Writes are the same shape, but the MTRRs and the PAT are EPERM:
//! memrange owns them and keeps every CPU alike.

use alloc::sync::Arc;

use errno::{Errno, KResult};
use vfs_core::devnum::DevNum;

use crate::arch::extable;
use crate::vfs::UserBuf;
use crate::vfs::ops::{Caller, CharDriver, FileOps, SeekPolicy};

/// Linux's `MSR_MAJOR`.
pub const MSR_MAJOR: u32 = 202;

/// Whether MSR `index` is one of the memory-type MSRs memrange and the PAT code own:
/// the variable MTRRs (0x200-0x21f), the fixed ones (0x250, 0x258, 0x259, 0x268-0x26f),
/// IA32_PAT (0x277) and IA32_MTRR_DEF_TYPE (0x2ff) (SDM Vol. 4, table 2-2).
pub fn is_memory_type_msr(index: u32) -> bool {
    matches!(index, 0x200..=0x21f | 0x250 | 0x258 | 0x259 | 0x268..=0x26f | 0x277 | 0x2ff)
}

/// Runs `f` on CPU `cpu` and returns its answer; `None` when that CPU is not online.
fn on_cpu(cpu: u32, f: fn(u64, u64) -> Option<u64>, a: u64, b: u64) -> Option<Option<u64>> {
    crate::arch::smp::run_on(cpu as usize, f, a, b)
}

fn read_msr(index: u64, _: u64) -> Option<u64> {
    extable::read_msr(index as u32)
}

fn write_msr(index: u64, value: u64) -> Option<u64> {
    let index = index as u32;
    if is_memory_type_msr(index) {
        return None;
    }
    // SAFETY: a uid-0 request (the driver's open check) through /dev/cpu/N/msr, which
    // exists to write MSRs; the memory-type MSRs, which the kernel keeps alike on every
    // CPU, were refused just above (and by `Msr::write` before it came here).
    #[allow(unsafe_code)]
    let written = unsafe { extable::write_msr(index, value) };
    written.then_some(0)
}

/// One open of /dev/cpu/N/msr.
struct Msr {
    cpu: u32,
}

impl FileOps for Msr {
    /// Reads the MSR at `offset` once per 8 bytes of `buf` (Linux's msr_read).
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        if !buf.len().is_multiple_of(8) {
            return Err(Errno::EINVAL);
        }
        let mut done = 0;
        while done < buf.len() {
            let value = match on_cpu(self.cpu, read_msr, offset & 0xffff_ffff, 0) {
                Some(Some(value)) => value,
                Some(None) | None => break,
            };
            if let Err(errno) = buf.write_at(done, &value.to_le_bytes()) {
                return if done > 0 { Ok(done) } else { Err(errno) };
            }
            done += 8;
        }
        if done == 0 && !buf.is_empty() { Err(Errno::EIO) } else { Ok(done) }
    }

    /// Writes each 8-byte value of `buf` to the MSR at `offset` (Linux's msr_write);
    /// the memory-type MSRs are EPERM.
    fn write(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        if !buf.len().is_multiple_of(8) {
            return Err(Errno::EINVAL);
        }
        let index = offset & 0xffff_ffff;
        if is_memory_type_msr(index as u32) {
            return Err(Errno::EPERM);
        }
        let mut done = 0;
        while done < buf.len() {
            let mut bytes = [0u8; 8];
            if let Err(errno) = buf.read_at(done, &mut bytes) {
                return if done > 0 { Ok(done) } else { Err(errno) };
            }
            match on_cpu(self.cpu, write_msr, index, u64::from_le_bytes(bytes)) {
                Some(Some(_)) => done += 8,
                Some(None) | None => break,
            }
        }
        if done == 0 && !buf.is_empty() { Err(Errno::EIO) } else { Ok(done) }
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Memory
    }

    fn unsigned_offsets(&self) -> bool {
        true
    }
}

struct MsrDriver;

impl CharDriver for MsrDriver {
    /// uid 0 only (EPERM); a CPU that is not online is ENXIO; one without MSRs EIO.
    fn open(&self, minor: u32, caller: &Caller) -> KResult<Arc<dyn FileOps>> {
        if !caller.cred.is_root() {
            return Err(Errno::EPERM);
        }
        if !crate::arch::smp::online_cpus().contains(minor as usize) {
            return Err(Errno::ENXIO);
        }
        if !crate::arch::cpuid::has_msr() {
            return Err(Errno::EIO);
        }
        Ok(Arc::new(Msr { cpu: minor }))
    }
}

/// Registers the driver and makes /dev/cpu/N/msr for each online CPU.
pub fn init() {
    crate::vfs::register_driver(MSR_MAJOR, &MsrDriver);
    let online = crate::arch::smp::online_cpus();
    for cpu in 0..64 {
        if online.contains(cpu) {
            let path = alloc::format!("/dev/cpu/{cpu}/msr");
            crate::vfs::add_device_node(&path, DevNum::new(MSR_MAJOR, cpu as u32), 0o600);
        }
    }
}
