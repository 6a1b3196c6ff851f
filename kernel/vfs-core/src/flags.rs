//! Flags of open, lseek and mmap, with Linux x86-64 values (`include/uapi/asm-generic/fcntl.h`,
//! `include/uapi/linux/fs.h`, `include/uapi/asm-generic/mman-common.h`, `mman.h`).

use crate::perm::Access;
use errno::Errno;

/// Open for reading only.
pub const O_RDONLY: u32 = 0;
/// Open for writing only.
pub const O_WRONLY: u32 = 1;
/// Open for reading and writing.
pub const O_RDWR: u32 = 2;
/// Mask of the access mode.
pub const O_ACCMODE: u32 = 3;
/// Create the file if it does not exist.
pub const O_CREAT: u32 = 0o100;
/// With `O_CREAT`: fail with EEXIST if the file exists.
pub const O_EXCL: u32 = 0o200;
/// Do not make a terminal the controlling terminal.
pub const O_NOCTTY: u32 = 0o400;
/// Truncate a regular file to length 0 (needs write permission whatever the access mode).
pub const O_TRUNC: u32 = 0o1000;
/// Every write goes to the end of the file.
pub const O_APPEND: u32 = 0o2000;
/// Do not block.
pub const O_NONBLOCK: u32 = 0o4000;
/// Synchronized data writes; on /dev/mem, map uncached.
pub const O_DSYNC: u32 = 0o10000;
/// Synchronized writes: `__O_SYNC` (0o4000000) together with `O_DSYNC`.
pub const O_SYNC: u32 = 0o4010000;
/// Fail with ENOTDIR unless the path is a directory.
pub const O_DIRECTORY: u32 = 0o200000;
/// Close on exec.
pub const O_CLOEXEC: u32 = 0o2000000;

/// The flags argument of `open(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFlags(pub u32);

impl OpenFlags {
    /// EINVAL when the access mode is 3 (Linux treats 3 as a special ioctl-only mode; we refuse it)
    ///
    /// Other unknown bits are ignored, as Linux's `open(2)` ignores them.
    pub fn validate(self) -> Result<Self, Errno> {
        if self.0 & O_ACCMODE == O_ACCMODE { Err(Errno::EINVAL) } else { Ok(self) }
    }

    /// The access mode: `O_RDONLY`, `O_WRONLY`, `O_RDWR` (or 3 before `validate`).
    pub const fn access_mode(self) -> u32 {
        self.0 & O_ACCMODE
    }

    /// Whether the file may be read through this open (`FMODE_READ`).
    pub const fn readable(self) -> bool {
        matches!(self.access_mode(), O_RDONLY | O_RDWR)
    }

    /// Whether the file may be written through this open (`FMODE_WRITE`).
    pub const fn writable(self) -> bool {
        matches!(self.access_mode(), O_WRONLY | O_RDWR)
    }

    /// O_DSYNC or O_SYNC: /dev/mem maps uncached (Linux's rule for O_DSYNC)
    pub const fn sync(self) -> bool {
        self.0 & O_DSYNC != 0
    }

    /// Whether every bit of `flag` is set (use this for `O_SYNC`, which is two bits).
    pub const fn contains(self, flag: u32) -> bool {
        self.0 & flag == flag
    }

    /// The permission to check at open: read and write from the access mode, write also for `O_TRUNC` (Linux `build_open_flags`).
    pub const fn dac_access(self) -> Access {
        Access { read: self.readable(), write: self.writable() || self.0 & O_TRUNC != 0, execute: false }
    }
}

/// lseek: the offset is absolute.
pub const SEEK_SET: i32 = 0;
/// lseek: the offset is relative to the current position.
pub const SEEK_CUR: i32 = 1;
/// lseek: the offset is relative to the end of the file.
pub const SEEK_END: i32 = 2;

/// Pages may not be accessed.
pub const PROT_NONE: u32 = 0;
/// Pages may be read.
pub const PROT_READ: u32 = 1;
/// Pages may be written.
pub const PROT_WRITE: u32 = 2;
/// Pages may be executed.
pub const PROT_EXEC: u32 = 4;
/// Share the mapping: stores reach the file (for /dev/mem, the physical memory).
pub const MAP_SHARED: u32 = 1;
/// Private copy-on-write mapping (refused on /dev/mem: docs/devices.md).
pub const MAP_PRIVATE: u32 = 2;
/// Mask of the mapping type (`MAP_SHARED`, `MAP_PRIVATE`, `MAP_SHARED_VALIDATE` 3).
pub const MAP_TYPE: u32 = 0x0f;
/// Place the mapping exactly at the address given.
pub const MAP_FIXED: u32 = 0x10;
/// Not backed by a file.
pub const MAP_ANONYMOUS: u32 = 0x20;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn access_modes() {
        assert_eq!(OpenFlags(O_RDONLY).validate(), Ok(OpenFlags(0)));
        assert_eq!(OpenFlags(O_ACCMODE).validate(), Err(Errno::EINVAL));
        assert_eq!(OpenFlags(O_ACCMODE | O_CLOEXEC).validate(), Err(Errno::EINVAL));
        let rw = OpenFlags(O_RDWR | O_SYNC);
        assert!(rw.readable() && rw.writable() && rw.sync() && rw.contains(O_SYNC));
        let ro = OpenFlags(O_RDONLY | O_CLOEXEC);
        assert!(ro.readable() && !ro.writable() && !ro.sync());
        let wo = OpenFlags(O_WRONLY | O_DSYNC);
        assert!(!wo.readable() && wo.writable() && wo.sync() && !wo.contains(O_SYNC));
        assert!(!OpenFlags(0o4000000).sync(), "__O_SYNC alone is not O_DSYNC");
    }

    #[test]
    fn open_permission_needed() {
        assert_eq!(OpenFlags(O_RDONLY).dac_access(), Access::READ);
        assert_eq!(OpenFlags(O_WRONLY | O_APPEND).dac_access(), Access::WRITE);
        assert_eq!(OpenFlags(O_RDWR).dac_access(), Access::READ_WRITE);
        assert_eq!(OpenFlags(O_RDONLY | O_TRUNC).dac_access(), Access::READ_WRITE);
    }

    #[test]
    fn linux_x86_64_values() {
        assert_eq!((O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NONBLOCK), (0x40, 0x80, 0x200, 0x400, 0x800));
        assert_eq!((O_DSYNC, O_SYNC, O_DIRECTORY, O_CLOEXEC), (0x1000, 0x10_1000, 0x1_0000, 0x8_0000));
        assert_eq!((MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS), (1, 2, 16, 32));
    }

    proptest! {
        #[test]
        fn access_mode_oracle(bits: u32) {
            let flags = OpenFlags(bits);
            let mode = bits & 3;
            prop_assert_eq!(flags.validate().is_ok(), mode != 3);
            prop_assert_eq!(flags.readable(), mode == 0 || mode == 2);
            prop_assert_eq!(flags.writable(), mode == 1 || mode == 2);
            prop_assert_eq!(flags.sync(), flags.contains(O_DSYNC));
            prop_assert_eq!(flags.dac_access().write, mode == 1 || mode == 2 || bits & 0x200 != 0);
        }
    }
}
