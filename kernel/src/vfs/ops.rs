//! What drivers and procfs provide to the VFS.

use alloc::sync::Arc;

use errno::{Errno, KResult};
use vfs_core::cred::Credentials;
use vfs_core::flags::OpenFlags;

use super::userbuf::{UserBuf, UserSpace};

/// How `lseek` moves the offset of a file (see `vfs_core::seek`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekPolicy {
    /// mem, kmem, allkmem, port: SEEK_SET and SEEK_CUR, unsigned offsets.
    Memory,
    /// null, zero, full: the offset stays 0.
    Null,
    /// procfs files: SEEK_SET, SEEK_CUR, SEEK_END from `size`.
    Regular { size: u64 },
    /// Terminals and pipes: lseek is ESPIPE.
    Pipe,
}

/// A mapping made by `mmap`, in the kernel's address space for now.
pub struct Mapping {
    /// The address the caller uses.
    pub addr: u64,
    pub len: u64,
    /// Undoes the mapping; called once, by `munmap` or when the context ends.
    pub unmap: alloc::boxed::Box<dyn FnOnce() + Send>,
}

impl core::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mapping").field("addr", &self.addr).field("len", &self.len).finish_non_exhaustive()
    }
}

/// Who is calling, for operations whose rules depend on it (ioctl SET needs root).
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub cred: Credentials,
    pub flags: OpenFlags,
    /// Where the caller's buffers may be, when the context restricts them.
    pub user_space: Option<UserSpace>,
}

impl Caller {
    /// A buffer the caller named by address (an ioctl's pointer), checked against its
    /// user space: EFAULT outside it.
    pub fn user_buf(&self, addr: u64, len: usize) -> KResult<UserBuf<'static>> {
        match self.user_space {
            Some(space) => space.buffer(addr, len),
            // SAFETY: a caller without a user space is a kernel context, made with
            // `Context::new`, whose contract is that every address it passes (an ioctl's
            // argument and the pointers in what it points at) is memory it lets the
            // driver write.
            #[allow(unsafe_code)]
            None => Ok(unsafe { UserBuf::from_raw(addr, len) }),
        }
    }
}

/// An open file's operations. The VFS keeps the offset and calls these with it.
pub trait FileOps: Send + Sync {
    /// Reads at `offset` into `buf`; returns the bytes moved (0 at end of file).
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize>;

    /// Writes `buf` at `offset`; returns the bytes moved.
    fn write(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize>;

    fn seek_policy(&self) -> SeekPolicy;

    /// Whether offsets at or above 2^63 are valid (Linux's FMODE_UNSIGNED_OFFSET).
    fn unsigned_offsets(&self) -> bool {
        false
    }

    /// An ioctl; `arg` is the caller's pointer or value.
    fn ioctl(&self, _cmd: u32, _arg: u64, _caller: &Caller) -> KResult<u64> {
        Err(Errno::ENOTTY)
    }

    /// Maps `len` bytes of the file at `offset`.
    fn mmap(&self, _offset: u64, _len: u64, _prot: u32, _flags: u32, _caller: &Caller) -> KResult<Mapping> {
        Err(Errno::ENODEV)
    }
}

/// A character-device driver, found by major number; it serves its minors.
pub trait CharDriver: Send + Sync {
    /// Opens minor `minor`, after the VFS checked the node's mode bits. The driver
    /// applies its own rules (privilege for writing, unknown minors: ENXIO).
    fn open(&self, minor: u32, caller: &Caller) -> KResult<Arc<dyn FileOps>>;
}
