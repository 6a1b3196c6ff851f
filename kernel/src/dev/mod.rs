//! The memory devices of major 1, by minor: mem 1, kmem 2, null 3, port 4, zero 5,
//! full 7, allkmem 13 (docs/devices.md). Drivers are found by number, so a node made
//! with `mknod` anywhere reaches the same driver.

mod access;
pub mod console;
pub mod kmem;
pub mod mem;
pub mod memrange;
pub mod msr;
pub mod port;
pub mod simple;

use alloc::sync::Arc;

use errno::{Errno, KResult};
use vfs_core::devnum::{MEM_MAJOR, minor};

use crate::vfs::ops::{Caller, CharDriver, FileOps};

/// Registers the drivers with the VFS (major 1: the memory devices; major 5: the
/// console; major 202: /dev/cpu/N/msr) and the /proc files this layer owns (`mtrr`, `pat_memtype_list`,
/// `sys/dev/mem/strict`). After `vfs::init`.
pub fn init() {
    crate::vfs::register_driver(MEM_MAJOR, &MemDevices);
    crate::vfs::register_driver(vfs_core::devnum::TTYAUX_MAJOR, &console::ConsoleDriver);
    memrange::register_proc_files();
    mem::register_proc_files();
    // mm's memory-type authority re-types live /dev/mem mappings by these rules.
    crate::mm::memtype::set_mmap_rules(mem::mmap_types);
    msr::init();
}

struct MemDevices;

impl CharDriver for MemDevices {
    /// The open rules after the mode bits: writing mem, kmem, allkmem or port needs uid 0
    /// (FreeBSD's PRIV_KMEM_WRITE, Linux's CAP_SYS_RAWIO); allkmem needs uid 0 for any
    /// open; unknown minors are ENXIO.
    fn open(&self, minor: u32, caller: &Caller) -> KResult<Arc<dyn FileOps>> {
        let root = caller.cred.is_root();
        let privileged_write = caller.flags.writable() && !root;
        match minor {
            minor::MEM | minor::KMEM | minor::PORT if privileged_write => Err(Errno::EPERM),
            minor::ALLKMEM if !root => Err(Errno::EPERM),
            minor::MEM => Ok(Arc::new(mem::Mem { opened_sync: caller.flags.sync() })),
            minor::KMEM => Ok(Arc::new(kmem::Kmem { device_pages: false })),
            minor::ALLKMEM => Ok(Arc::new(kmem::Kmem { device_pages: true })),
            minor::PORT => Ok(Arc::new(port::Port)),
            minor::NULL => Ok(Arc::new(simple::Null)),
            minor::ZERO => Ok(Arc::new(simple::Zero)),
            minor::FULL => Ok(Arc::new(simple::Full)),
            _ => Err(Errno::ENXIO),
        }
    }
}

#[cfg(test)]
mod tests;
