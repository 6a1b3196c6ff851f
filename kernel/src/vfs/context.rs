//! A context: credentials and a file-descriptor table, with the system-call-shaped API
//! everything above the VFS uses.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use errno::{Errno, KResult};
use spin::Mutex;
use vfs_core::cred::{Credentials, Gid, Uid};
use vfs_core::devnum::DevNum;
use vfs_core::flags::{OpenFlags, PROT_READ, PROT_WRITE};
use vfs_core::mode::{FileType, file_type};
use vfs_core::perm::{Access, may_chmod, may_chown};
use vfs_core::seek;

use super::inode::{Inode, InodeKind, Owner, Stat};
use super::ops::{Caller, FileOps, Mapping, SeekPolicy};
use super::userbuf::{UserBuf, UserSpace, check_user_space};
use super::{list, lookup, lookup_parent, permitted};

/// A file descriptor.
pub type Fd = usize;

/// Open files per context.
pub const MAX_FDS: usize = 64;

/// An open-file description: what `open` made; descriptors refer to it.
struct OpenFile {
    inode: Arc<Inode>,
    flags: OpenFlags,
    offset: Mutex<u64>,
    ops: Arc<dyn FileOps>,
}

/// Operations of an open directory: reading it as a file is EISDIR.
struct DirectoryFile;

impl FileOps for DirectoryFile {
    fn read(&self, _: u64, _: UserBuf<'_>) -> KResult<usize> {
        Err(Errno::EISDIR)
    }
    fn write(&self, _: u64, _: UserBuf<'_>) -> KResult<usize> {
        Err(Errno::EISDIR)
    }
    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Regular { size: 0 }
    }
}

/// Credentials, open files and mappings of one user of the kernel (the shell, a test).
pub struct Context {
    cred: Credentials,
    user_space: Option<UserSpace>,
    files: Vec<Option<Arc<OpenFile>>>,
    mappings: BTreeMap<u64, Mapping>,
}

impl Context {
    /// A kernel context (the shell's, a test's): its buffers may be anywhere.
    ///
    /// # Safety
    ///
    /// Every address given to this context by number rather than as a [`UserBuf`] (an
    /// ioctl's argument, and the pointers inside the structure it points at) must be
    /// memory the caller owns and lets the driver write, with no Rust reference to it
    /// live during the call.
    #[allow(unsafe_code)]
    pub unsafe fn new(cred: Credentials) -> Self {
        Self { cred, user_space: None, files: Vec::new(), mappings: BTreeMap::new() }
    }

    /// A context whose buffers must lie in `space` (EFAULT otherwise), as a user
    /// process's would: the fuzzer uses it, so random pointers cannot reach the kernel.
    pub fn with_user_space(cred: Credentials, space: UserSpace) -> Self {
        Self { cred, user_space: Some(space), files: Vec::new(), mappings: BTreeMap::new() }
    }

    pub fn cred(&self) -> &Credentials {
        &self.cred
    }

    fn file(&self, fd: Fd) -> KResult<Arc<OpenFile>> {
        self.files.get(fd).and_then(Option::clone).ok_or(Errno::EBADF)
    }

    fn caller(&self, flags: OpenFlags) -> Caller {
        Caller { cred: self.cred, flags, user_space: self.user_space }
    }

    /// Opens `path`. With O_CREAT a missing name is made as an empty RAM file (see
    /// tmpfs) with `mode`'s permission bits, in a directory the caller may write.
    pub fn open(&mut self, path: &str, flags: u32, mode: u32) -> KResult<Fd> {
        let flags = OpenFlags(flags).validate()?;
        let create = flags.0 & vfs_core::flags::O_CREAT != 0;
        let inode = match lookup(path, &self.cred) {
            Err(Errno::ENOENT) if create => self.create_file(path, mode)?,
            Ok(_) if create && flags.0 & vfs_core::flags::O_EXCL != 0 => return Err(Errno::EEXIST),
            other => other?,
        };
        if flags.0 & vfs_core::flags::O_DIRECTORY != 0 && !inode.is_directory() {
            return Err(Errno::ENOTDIR);
        }
        if inode.is_directory() && flags.writable() {
            return Err(Errno::EISDIR);
        }
        let access = Access { read: flags.readable(), write: flags.writable(), execute: false };
        permitted(&inode, &self.cred, access)?;
        let ops: Arc<dyn FileOps> = match &inode.kind {
            InodeKind::CharDevice(dev) => {
                let driver = super::driver(dev.major).ok_or(Errno::ENXIO)?;
                driver.open(dev.minor, &self.caller(flags))?
            }
            // Writing /proc files needs uid 0 whatever the mode bits say.
            InodeKind::Proc(_) if flags.writable() && !self.cred.is_root() => return Err(Errno::EPERM),
            InodeKind::Proc(open) => open(flags.writable())?,
            InodeKind::Directory(_) => Arc::new(DirectoryFile),
            InodeKind::StaticFile(_) if flags.writable() => return Err(Errno::EROFS),
            InodeKind::StaticFile(bytes) => Arc::new(super::ramfs::StaticFileOps(bytes)),
            InodeKind::RamFile(file) => {
                if flags.writable() && flags.0 & vfs_core::flags::O_TRUNC != 0 {
                    file.truncate();
                }
                let append = flags.0 & vfs_core::flags::O_APPEND != 0;
                Arc::new(super::tmpfs::RamFileOps { file: file.clone(), append })
            }
        };
        let fd = match self.files.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.files.len() < MAX_FDS => {
                self.files.push(None);
                self.files.len() - 1
            }
            None => return Err(Errno::EMFILE),
        };
        self.files[fd] = Some(Arc::new(OpenFile { inode, flags, offset: Mutex::new(0), ops }));
        Ok(fd)
    }

    /// Makes an empty RAM file at `path` (O_CREAT): the directory must be writable and
    /// searchable by the caller; kernel directories (/proc, the ramdisk's) refuse.
    fn create_file(&self, path: &str, mode: u32) -> KResult<Arc<Inode>> {
        let (dir, name) = lookup_parent(path, &self.cred)?;
        permitted(&dir, &self.cred, Access { write: true, execute: true, read: false })?;
        if dir.fixed {
            return Err(Errno::EACCES);
        }
        let InodeKind::Directory(entries) = &dir.kind else { return Err(Errno::ENOTDIR) };
        let mut entries = entries.lock();
        if let Some(existing) = entries.get(name) {
            return Ok(existing.clone());
        }
        let owner = Owner { uid: self.cred.uid(), gid: self.cred.gid(), perm: mode & 0o7777 & !0o022 };
        let file = Inode::new(InodeKind::RamFile(Arc::new(super::tmpfs::RamFile::default())), owner, false);
        entries.insert(String::from(name), file.clone());
        Ok(file)
    }

    /// Opens the terminal `/dev/console` for a process's standard files, whatever the
    /// node's mode (the kernel hands it over, as init's console is on Linux).
    pub fn open_console(&mut self, flags: u32) -> KResult<Fd> {
        let flags = OpenFlags(flags).validate()?;
        let dev = DevNum::new(vfs_core::devnum::TTYAUX_MAJOR, vfs_core::devnum::CONSOLE_MINOR);
        let inode = lookup("/dev/console", &Credentials::ROOT)?;
        let driver = super::driver(dev.major).ok_or(Errno::ENXIO)?;
        let ops = driver.open(dev.minor, &self.caller(flags))?;
        self.install(Arc::new(OpenFile { inode, flags, offset: Mutex::new(0), ops }), 0)
    }

    /// Puts `file` in the lowest free descriptor at or above `from`.
    fn install(&mut self, file: Arc<OpenFile>, from: Fd) -> KResult<Fd> {
        let fd = match (from..MAX_FDS).find(|&fd| self.files.get(fd).is_none_or(Option::is_none)) {
            Some(fd) => fd,
            None => return Err(Errno::EMFILE),
        };
        if self.files.len() <= fd {
            self.files.resize(fd + 1, None);
        }
        self.files[fd] = Some(file);
        Ok(fd)
    }

    /// dup: a new descriptor (the lowest free one at or above `from`) for the same open
    /// file, sharing its offset.
    pub fn dup(&mut self, fd: Fd, from: Fd) -> KResult<Fd> {
        let file = self.file(fd)?;
        if from >= MAX_FDS {
            return Err(Errno::EINVAL);
        }
        self.install(file, from)
    }

    /// dup2: makes `new` refer to `fd`'s open file, closing what `new` was.
    pub fn dup_to(&mut self, fd: Fd, new: Fd) -> KResult<Fd> {
        let file = self.file(fd)?;
        if new >= MAX_FDS {
            return Err(Errno::EBADF);
        }
        if self.files.len() <= new {
            self.files.resize(new + 1, None);
        }
        self.files[new] = Some(file);
        Ok(new)
    }

    /// The flags `fd` was opened with (fcntl F_GETFL).
    pub fn open_flags(&self, fd: Fd) -> KResult<u32> {
        Ok(self.file(fd)?.flags.0)
    }

    /// The entries of the directory open as `fd` (getdents64), sorted by name, with
    /// "." and ".." first.
    pub fn readdir_fd(&self, fd: Fd) -> KResult<Vec<(String, Stat)>> {
        let file = self.file(fd)?;
        if !file.inode.is_directory() {
            return Err(Errno::ENOTDIR);
        }
        let mut entries =
            alloc::vec![(String::from("."), file.inode.stat()), (String::from(".."), file.inode.stat())];
        entries.extend(list(&file.inode));
        Ok(entries)
    }

    /// The current offset of `fd`, and a way to store a new one (getdents64 keeps its
    /// place in the directory there).
    pub fn offset(&self, fd: Fd) -> KResult<u64> {
        Ok(*self.file(fd)?.offset.lock())
    }

    pub fn set_offset(&self, fd: Fd, offset: u64) -> KResult<()> {
        *self.file(fd)?.offset.lock() = offset;
        Ok(())
    }

    /// Whether `path` may be run: a regular file with an execute bit the caller may use
    /// (root needs any x bit, as Linux). Returns its bytes (only the ramdisk's files can
    /// be run: they stay in memory for the whole run).
    pub fn executable(&self, path: &str) -> KResult<&'static [u8]> {
        let inode = lookup(path, &self.cred)?;
        let InodeKind::StaticFile(bytes) = inode.kind else {
            // Directories, devices and /proc files cannot be run (execve's EACCES).
            return Err(Errno::EACCES);
        };
        let perm = inode.owner.lock().perm;
        if perm & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        permitted(&inode, &self.cred, Access { execute: true, ..Access::default() })?;
        Ok(bytes)
    }

    /// Changes the credentials (setuid/setgid by a root process).
    pub fn set_cred(&mut self, cred: Credentials) {
        self.cred = cred;
    }

    /// Checks access to `path` with the real ids (access/faccessat).
    pub fn access(&self, path: &str, access: Access) -> KResult<()> {
        let inode = lookup(path, &self.cred)?;
        if access.write && matches!(inode.kind, InodeKind::StaticFile(_)) {
            return Err(Errno::EROFS);
        }
        if access == Access::default() {
            return Ok(());
        }
        permitted(&inode, &self.cred, access)
    }

    pub fn close(&mut self, fd: Fd) -> KResult<()> {
        self.files.get_mut(fd).and_then(Option::take).map(drop).ok_or(Errno::EBADF)
    }

    /// Reads at the file offset into a kernel buffer (sendfile's bounce buffer).
    pub fn read_to_slice(&mut self, fd: Fd, buf: &mut [u8]) -> KResult<usize> {
        self.read_unchecked(fd, UserBuf::from_mut_slice(buf))
    }

    /// Writes a kernel buffer at the file offset.
    pub fn write_from_slice(&mut self, fd: Fd, buf: &[u8]) -> KResult<usize> {
        self.write_unchecked(fd, UserBuf::from_slice(buf))
    }

    /// Reads at the file offset and advances it.
    pub fn read(&mut self, fd: Fd, buf: UserBuf<'_>) -> KResult<usize> {
        check_user_space(self.user_space, &buf)?;
        self.read_unchecked(fd, buf)
    }

    fn read_unchecked(&mut self, fd: Fd, buf: UserBuf<'_>) -> KResult<usize> {
        let file = self.file(fd)?;
        if !file.flags.readable() {
            return Err(Errno::EBADF);
        }
        let mut offset = file.offset.lock();
        let count = seek::verify_area(*offset, buf.len(), file.ops.unsigned_offsets())?;
        let moved = file.ops.read(*offset, buf.prefix(count))?;
        *offset = offset.wrapping_add(moved as u64);
        Ok(moved)
    }

    /// Writes at the file offset and advances it.
    pub fn write(&mut self, fd: Fd, buf: UserBuf<'_>) -> KResult<usize> {
        check_user_space(self.user_space, &buf)?;
        self.write_unchecked(fd, buf)
    }

    fn write_unchecked(&mut self, fd: Fd, buf: UserBuf<'_>) -> KResult<usize> {
        let file = self.file(fd)?;
        if !file.flags.writable() {
            return Err(Errno::EBADF);
        }
        let mut offset = file.offset.lock();
        let count = seek::verify_area(*offset, buf.len(), file.ops.unsigned_offsets())?;
        let moved = file.ops.write(*offset, buf.prefix(count))?;
        *offset = offset.wrapping_add(moved as u64);
        Ok(moved)
    }

    /// Reads at `offset` without moving the file offset.
    pub fn pread(&mut self, fd: Fd, buf: UserBuf<'_>, offset: u64) -> KResult<usize> {
        check_user_space(self.user_space, &buf)?;
        let file = self.file(fd)?;
        if !file.flags.readable() {
            return Err(Errno::EBADF);
        }
        let count = seek::verify_positional(offset, buf.len(), file.ops.unsigned_offsets())?;
        file.ops.read(offset, buf.prefix(count))
    }

    /// Writes at `offset` without moving the file offset.
    pub fn pwrite(&mut self, fd: Fd, buf: UserBuf<'_>, offset: u64) -> KResult<usize> {
        check_user_space(self.user_space, &buf)?;
        let file = self.file(fd)?;
        if !file.flags.writable() {
            return Err(Errno::EBADF);
        }
        let count = seek::verify_positional(offset, buf.len(), file.ops.unsigned_offsets())?;
        file.ops.write(offset, buf.prefix(count))
    }

    /// Moves the file offset; returns the new one.
    pub fn lseek(&mut self, fd: Fd, offset: i64, whence: i32) -> KResult<u64> {
        let file = self.file(fd)?;
        let mut position = file.offset.lock();
        let new = match file.ops.seek_policy() {
            SeekPolicy::Memory => seek::memory_lseek(*position, offset, whence)?,
            SeekPolicy::Null => seek::null_lseek(*position, offset, whence)?,
            SeekPolicy::Regular { size } => seek::regular_lseek(*position, offset, whence, size)?,
            SeekPolicy::Pipe => return Err(Errno::ESPIPE),
        };
        *position = new;
        Ok(new)
    }

    pub fn ioctl(&mut self, fd: Fd, cmd: u32, arg: u64) -> KResult<u64> {
        let file = self.file(fd)?;
        file.ops.ioctl(cmd, arg, &self.caller(file.flags))
    }

    /// Maps `len` bytes of the file at `offset` into the kernel's address space; returns
    /// the address. PROT_WRITE needs a file opened for writing, PROT_READ one opened for
    /// reading (EACCES), as in Linux's do_mmap for shared mappings.
    pub fn mmap(&mut self, fd: Fd, offset: u64, len: u64, prot: u32, flags: u32) -> KResult<u64> {
        let file = self.file(fd)?;
        if (prot & PROT_WRITE != 0 && !file.flags.writable())
            || (prot & PROT_READ != 0 && !file.flags.readable())
        {
            return Err(Errno::EACCES);
        }
        let mapping = file.ops.mmap(offset, len, prot, flags, &self.caller(file.flags))?;
        let addr = mapping.addr;
        self.mappings.insert(addr, mapping);
        Ok(addr)
    }

    /// Removes a mapping made by `mmap`: `addr` must be the address it returned and `len`
    /// its length (whole mappings only), else EINVAL.
    pub fn munmap(&mut self, addr: u64, len: u64) -> KResult<()> {
        match self.mappings.get(&addr) {
            Some(mapping) if mapping.len == len => {
                let mapping = self.mappings.remove(&addr).ok_or(Errno::EINVAL)?;
                (mapping.unmap)();
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// Creates a character-device node. Root only (Linux's CAP_MKNOD).
    pub fn mknod(&mut self, path: &str, mode: u32, dev: DevNum) -> KResult<()> {
        if !self.cred.is_root() {
            return Err(Errno::EPERM);
        }
        if file_type(mode) != FileType::CharDevice {
            return Err(Errno::EINVAL);
        }
        let (dir, name) = lookup_parent(path, &self.cred)?;
        if dir.fixed {
            return Err(Errno::EPERM);
        }
        permitted(&dir, &self.cred, Access { write: true, execute: true, read: false })?;
        let InodeKind::Directory(entries) = &dir.kind else { return Err(Errno::ENOTDIR) };
        let mut entries = entries.lock();
        if entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let owner = Owner { uid: self.cred.uid(), gid: self.cred.gid(), perm: mode & 0o7777 };
        entries.insert(String::from(name), Inode::new(InodeKind::CharDevice(dev), owner, false));
        Ok(())
    }

    /// Removes a name. Open files of it keep working. In a sticky directory (mode
    /// 1000, as /tmp's 1777) only the name's owner, the directory's owner or root may.
    pub fn unlink(&mut self, path: &str) -> KResult<()> {
        let (dir, name) = lookup_parent(path, &self.cred)?;
        let child = dir.child(name).ok_or(Errno::ENOENT)?;
        if child.is_directory() {
            return Err(Errno::EISDIR);
        }
        if dir.fixed {
            return Err(Errno::EPERM);
        }
        permitted(&dir, &self.cred, Access { write: true, execute: true, read: false })?;
        let dir_owner = *dir.owner.lock();
        let child_uid = child.owner.lock().uid;
        let uid = self.cred.uid();
        if dir_owner.perm & 0o1000 != 0 && !self.cred.is_root() && uid != child_uid && uid != dir_owner.uid {
            return Err(Errno::EPERM);
        }
        if let InodeKind::Directory(entries) = &dir.kind {
            entries.lock().remove(name);
        }
        Ok(())
    }

    pub fn chown(&mut self, path: &str, uid: Option<Uid>, gid: Option<Gid>) -> KResult<()> {
        let inode = lookup(path, &self.cred)?;
        if inode.is_kernel_owned() {
            return Err(Errno::EPERM);
        }
        let mut owner = inode.owner.lock();
        may_chown(&self.cred, owner.uid, owner.gid, uid, gid)?;
        owner.uid = uid.unwrap_or(owner.uid);
        owner.gid = gid.unwrap_or(owner.gid);
        Ok(())
    }

    pub fn chmod(&mut self, path: &str, mode: u32) -> KResult<()> {
        let inode = lookup(path, &self.cred)?;
        if inode.is_kernel_owned() {
            return Err(Errno::EPERM);
        }
        let mut owner = inode.owner.lock();
        may_chmod(&self.cred, owner.uid)?;
        owner.perm = mode & 0o7777;
        Ok(())
    }

    /// ftruncate(2): EINVAL for a negative length, anything but a regular file, or a
    /// file not open for writing (Linux's `do_sys_ftruncate` order).
    pub fn ftruncate(&self, fd: Fd, len: i64) -> KResult<()> {
        let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
        let file = self.file(fd)?;
        match &file.inode.kind {
            InodeKind::RamFile(ram) if file.flags.writable() => ram.set_len(len),
            _ => Err(Errno::EINVAL),
        }
    }

    /// truncate(2): EISDIR for a directory, EINVAL for other non-regular files, EROFS for
    /// the ramdisk's, EACCES without write permission.
    pub fn truncate(&self, path: &str, len: i64) -> KResult<()> {
        let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
        let inode = lookup(path, &self.cred)?;
        match &inode.kind {
            InodeKind::Directory(_) => Err(Errno::EISDIR),
            InodeKind::StaticFile(_) => Err(Errno::EROFS),
            InodeKind::RamFile(ram) => {
                permitted(&inode, &self.cred, Access::WRITE)?;
                ram.set_len(len)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    pub fn stat(&self, path: &str) -> KResult<Stat> {
        Ok(lookup(path, &self.cred)?.stat())
    }

    pub fn fstat(&self, fd: Fd) -> KResult<Stat> {
        Ok(self.file(fd)?.inode.stat())
    }

    /// The entries of a directory with their status, sorted by name; needs read
    /// permission on it.
    pub fn readdir(&self, path: &str) -> KResult<Vec<(String, Stat)>> {
        let dir = lookup(path, &self.cred)?;
        if !dir.is_directory() {
            return Err(Errno::ENOTDIR);
        }
        permitted(&dir, &self.cred, Access::READ)?;
        Ok(list(&dir))
    }
}

impl Context {
    /// Nanoseconds since boot (CLOCK_MONOTONIC), from the calibrated TSC.
    pub fn monotonic_ns(&self) -> u64 {
        crate::arch::timer::uptime_ns()
    }

    /// Ends the session with `status` (the shell's `exit`, or the end of its input):
    /// the status is told to the host (see ktest_protocol::shell_exit_marker), then the
    /// machine powers off.
    pub fn shutdown(&self, status: i32) -> ! {
        crate::print!("{}", ktest_protocol::shell_exit_marker(status));
        let code = if status == 0 {
            ktest_protocol::ExitCode::Success
        } else {
            ktest_protocol::ExitCode::ShellStatus
        };
        crate::arch::qemu::exit(code)
    }

    /// Powers the machine off (reboot(2) with RB_POWEROFF); root only (EPERM). Under
    /// QEMU this ends the run with success.
    pub fn poweroff(&self) -> KResult<()> {
        if !self.cred.is_root() {
            return Err(Errno::EPERM);
        }
        crate::arch::qemu::exit(ktest_protocol::ExitCode::Success)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        for (_, mapping) in core::mem::take(&mut self.mappings) {
            (mapping.unmap)();
        }
    }
}
