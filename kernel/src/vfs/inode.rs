//! The in-memory file tree: directories, device nodes and procfs files.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use errno::KResult;
use spin::Mutex;
use vfs_core::cred::{Gid, Uid};
use vfs_core::devnum::DevNum;
use vfs_core::mode::{S_IFCHR, S_IFDIR, S_IFREG};

use super::ops::FileOps;

/// Makes the operations of a procfs file when it is opened.
pub type ProcOpen = fn(writable: bool) -> KResult<Arc<dyn FileOps>>;

pub enum InodeKind {
    Directory(Mutex<BTreeMap<String, Arc<Inode>>>),
    CharDevice(DevNum),
    Proc(ProcOpen),
    /// A read-only regular file whose bytes live for the whole run (the ramdisk's).
    StaticFile(&'static [u8]),
    /// A regular file in RAM (made with O_CREAT; see tmpfs).
    RamFile(Arc<super::tmpfs::RamFile>),
}

/// Owner, group and permission bits: what chown and chmod change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: Uid,
    pub gid: Gid,
    /// Permission bits only (0o7777).
    pub perm: u32,
}

pub struct Inode {
    pub ino: u64,
    pub kind: InodeKind,
    pub owner: Mutex<Owner>,
    /// Directories whose entries come from the kernel (procfs): no mknod or unlink.
    pub fixed: bool,
}

/// What `stat` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub ino: u64,
    /// File type and permission bits.
    pub mode: u32,
    pub nlink: u32,
    pub uid: Uid,
    pub gid: Gid,
    /// The device a device node stands for (Linux encoding), else 0.
    pub rdev: u64,
    pub size: u64,
}

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

impl Inode {
    pub fn new(kind: InodeKind, owner: Owner, fixed: bool) -> Arc<Self> {
        Arc::new(Self {
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            kind,
            owner: Mutex::new(owner),
            fixed,
        })
    }

    pub fn directory(owner: Owner, fixed: bool) -> Arc<Self> {
        Self::new(InodeKind::Directory(Mutex::new(BTreeMap::new())), owner, fixed)
    }

    pub fn is_directory(&self) -> bool {
        matches!(self.kind, InodeKind::Directory(_))
    }

    /// The file-type bits of the mode.
    pub fn type_bits(&self) -> u32 {
        match self.kind {
            InodeKind::Directory(_) => S_IFDIR,
            InodeKind::CharDevice(_) => S_IFCHR,
            InodeKind::Proc(_) | InodeKind::StaticFile(_) | InodeKind::RamFile(_) => S_IFREG,
        }
    }

    pub fn stat(&self) -> Stat {
        let owner = *self.owner.lock();
        let size = match &self.kind {
            InodeKind::StaticFile(bytes) => bytes.len() as u64,
            InodeKind::RamFile(file) => file.len(),
            _ => 0,
        };
        let (nlink, rdev) = match &self.kind {
            InodeKind::Directory(entries) => {
                let subdirs = entries.lock().values().filter(|child| child.is_directory()).count();
                (2 + subdirs as u32, 0)
            }
            InodeKind::CharDevice(dev) => (1, dev.encode()),
            InodeKind::Proc(_) | InodeKind::StaticFile(_) | InodeKind::RamFile(_) => (1, 0),
        };
        Stat {
            ino: self.ino,
            mode: self.type_bits() | owner.perm,
            nlink,
            uid: owner.uid,
            gid: owner.gid,
            rdev,
            size,
        }
    }

    /// Files and directories whose owner and mode belong to the kernel (/proc):
    /// chmod and chown are EPERM.
    pub fn is_kernel_owned(&self) -> bool {
        matches!(self.kind, InodeKind::Proc(_)) || (self.fixed && self.is_directory())
    }

    /// The entry `name` of this directory.
    pub fn child(&self, name: &str) -> Option<Arc<Inode>> {
        match &self.kind {
            InodeKind::Directory(entries) => entries.lock().get(name).cloned(),
            _ => None,
        }
    }
}
