//! File system calls: the vfs Context's operations with Linux's argument and struct
//! layouts (`struct stat`, `linux_dirent64`, `iovec`).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use errno::{Errno, KResult};
use vfs_core::devnum::DevNum;
use vfs_core::perm::Access;

use super::user::{self, PATH_MAX};
use super::{Args, SysResult, ok};
use crate::proc::Process;
use crate::vfs::Stat;

/// openat's "relative to the working directory" (-100).
pub const AT_FDCWD: u64 = (-100i64) as u64;
const AT_EMPTY_PATH: u64 = 0x1000;
const AT_REMOVEDIR: u64 = 0x200;
/// Largest transfer in one call (Linux's MAX_RW_COUNT).
const MAX_RW: usize = 0x7fff_f000;

/// The absolute path a call names: relative paths are taken from the working directory
/// (a directory descriptor other than AT_FDCWD is not supported for relative paths:
/// EBADF... is what Linux says for a bad one; here such paths resolve from the cwd).
fn resolve(p: &Process, _dirfd: u64, path: &str) -> KResult<String> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.starts_with('/') {
        return Ok(String::from(path));
    }
    let mut full = p.cwd.clone();
    if !full.ends_with('/') {
        full.push('/');
    }
    full.push_str(path);
    Ok(full)
}

fn path_arg(p: &Process, dirfd: u64, addr: u64) -> KResult<String> {
    let path = user::read_string(addr, PATH_MAX)?;
    resolve(p, dirfd, &path)
}

fn count(len: u64) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX).min(MAX_RW)
}

pub fn read(p: &mut Process, a: Args) -> SysResult {
    let buf = user::buffer(a.0[1], count(a.0[2]))?;
    ok(p.ctx.read(a.fd(0)?, buf)? as u64)
}

pub fn write(p: &mut Process, a: Args) -> SysResult {
    let buf = user::buffer(a.0[1], count(a.0[2]))?;
    ok(p.ctx.write(a.fd(0)?, buf)? as u64)
}

pub fn pread(p: &mut Process, a: Args) -> SysResult {
    let buf = user::buffer(a.0[1], count(a.0[2]))?;
    ok(p.ctx.pread(a.fd(0)?, buf, a.0[3])? as u64)
}

pub fn pwrite(p: &mut Process, a: Args) -> SysResult {
    let buf = user::buffer(a.0[1], count(a.0[2]))?;
    ok(p.ctx.pwrite(a.fd(0)?, buf, a.0[3])? as u64)
}

/// The (base, len) pairs of an iovec array (at most 1024, Linux's UIO_MAXIOV).
fn iovecs(addr: u64, n: u64) -> KResult<Vec<(u64, u64)>> {
    if n > 1024 {
        return Err(Errno::EINVAL);
    }
    let raw = user::copy_in(addr, 16 * n as usize)?;
    let pairs = raw.as_chunks::<16>().0;
    Ok(pairs
        .iter()
        .map(|c| {
            let (base, len) = c.split_at(8);
            (
                u64::from_le_bytes(base.try_into().unwrap_or_default()),
                u64::from_le_bytes(len.try_into().unwrap_or_default()),
            )
        })
        .collect())
}

/// readv/writev: one transfer per vector; a short one or an error after some bytes
/// ends the call with the count so far.
fn vectored(p: &mut Process, a: Args, writing: bool) -> SysResult {
    let fd = a.fd(0)?;
    let mut total = 0usize;
    for (base, len) in iovecs(a.0[1], a.0[2])? {
        if len == 0 {
            continue;
        }
        let buf = user::buffer(base, count(len));
        let result = buf.and_then(|buf| if writing { p.ctx.write(fd, buf) } else { p.ctx.read(fd, buf) });
        match result {
            Ok(moved) => {
                total += moved;
                if moved < len as usize {
                    break;
                }
            }
            Err(errno) if total == 0 => return Err(errno),
            Err(_) => break,
        }
    }
    ok(total as u64)
}

pub fn readv(p: &mut Process, a: Args) -> SysResult {
    vectored(p, a, false)
}

pub fn writev(p: &mut Process, a: Args) -> SysResult {
    vectored(p, a, true)
}

pub fn open(p: &mut Process, dirfd: u64, path: u64, flags: u64, mode: u64) -> SysResult {
    let path = path_arg(p, dirfd, path)?;
    ok(p.ctx.open(&path, flags as u32, mode as u32)? as u64)
}

pub fn close(p: &mut Process, a: Args) -> SysResult {
    p.ctx.close(a.fd(0)?)?;
    ok(0)
}

pub fn lseek(p: &mut Process, a: Args) -> SysResult {
    ok(p.ctx.lseek(a.fd(0)?, a.0[1] as i64, a.0[2] as i32)?)
}

pub fn ioctl(p: &mut Process, a: Args) -> SysResult {
    ok(p.ctx.ioctl(a.fd(0)?, a.0[1] as u32, a.0[2])?)
}

/// Linux's x86-64 `struct stat` (144 bytes).
fn stat_bytes(stat: &Stat) -> [u8; 144] {
    const _: () = assert!(size_of::<linux_raw_sys::general::stat>() == 144);
    let mut out = [0u8; 144];
    let mut put = |at: usize, bytes: &[u8]| out[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &1u64.to_le_bytes()); // st_dev
    put(8, &stat.ino.to_le_bytes());
    put(16, &u64::from(stat.nlink).to_le_bytes());
    put(24, &stat.mode.to_le_bytes());
    put(28, &stat.uid.to_le_bytes());
    put(32, &stat.gid.to_le_bytes());
    put(40, &stat.rdev.to_le_bytes());
    put(48, &stat.size.to_le_bytes());
    put(56, &4096u64.to_le_bytes()); // st_blksize
    put(64, &stat.size.div_ceil(512).to_le_bytes()); // st_blocks
    out
}

pub fn fstat(p: &mut Process, a: Args) -> SysResult {
    let stat = p.ctx.fstat(a.fd(0)?)?;
    user::copy_out(a.0[1], &stat_bytes(&stat))?;
    ok(0)
}

pub fn stat_path(p: &mut Process, dirfd: u64, path: u64, buf: u64, flags: u64) -> SysResult {
    let name = user::read_string(path, PATH_MAX)?;
    let stat = if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        let fd = usize::try_from(dirfd as i32).map_err(|_| Errno::EBADF)?;
        p.ctx.fstat(fd)?
    } else {
        let path = resolve(p, dirfd, &name)?;
        p.ctx.stat(&path)?
    };
    user::copy_out(buf, &stat_bytes(&stat))?;
    ok(0)
}

/// d_type from st_mode (DT_CHR 2, DT_DIR 4, DT_REG 8).
fn dirent_type(mode: u32) -> u8 {
    ((mode >> 12) & 0xf) as u8
}

/// getdents64: as many `linux_dirent64` records as fit, from the entry the directory's
/// offset counts to; 0 at the end; EINVAL if the first does not fit.
pub fn getdents64(p: &mut Process, a: Args) -> SysResult {
    let fd = a.fd(0)?;
    let size = count(a.0[2]);
    let entries = p.ctx.readdir_fd(fd)?;
    let mut index = p.ctx.offset(fd)? as usize;
    let mut out: Vec<u8> = Vec::new();
    while let Some((name, stat)) = entries.get(index) {
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > size {
            if out.is_empty() {
                return Err(Errno::EINVAL);
            }
            break;
        }
        let start = out.len();
        out.extend_from_slice(&stat.ino.to_le_bytes());
        out.extend_from_slice(&((index + 1) as u64).to_le_bytes());
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(dirent_type(stat.mode));
        out.extend_from_slice(name.as_bytes());
        out.resize(start + reclen, 0);
        index += 1;
    }
    user::copy_out(a.0[1], &out)?;
    p.ctx.set_offset(fd, index as u64)?;
    ok(out.len() as u64)
}

/// sendfile(out, in, offset, count): through a kernel buffer, from in's offset (or
/// `*offset`, which is then updated and in's offset kept).
pub fn sendfile(p: &mut Process, a: Args) -> SysResult {
    let (out_fd, in_fd) = (a.fd(0)?, a.fd(1)?);
    let offset_ptr = a.0[2];
    let mut offset = if offset_ptr != 0 { Some(user::read_u64(offset_ptr)?) } else { None };
    let wanted = count(a.0[3]);
    let mut chunk = vec![0u8; wanted.min(64 * 1024)];
    let mut total = 0usize;
    while total < wanted {
        let n = chunk.len().min(wanted - total);
        let got = match offset {
            Some(at) => p.ctx.pread(in_fd, crate::vfs::UserBuf::from_mut_slice(&mut chunk[..n]), at),
            None => p.ctx.read_to_slice(in_fd, &mut chunk[..n]),
        };
        let got = match got {
            Ok(0) => break,
            Ok(got) => got,
            Err(errno) if total == 0 => return Err(errno),
            Err(_) => break,
        };
        let put = match p.ctx.write_from_slice(out_fd, &chunk[..got]) {
            Ok(put) => put,
            Err(errno) if total == 0 => return Err(errno),
            Err(_) => break,
        };
        total += put;
        if let Some(at) = offset.as_mut() {
            *at += put as u64;
        }
        if put < got || crate::console::interrupt_pending() {
            break;
        }
    }
    if let Some(at) = offset {
        user::write_u64(offset_ptr, at)?;
    }
    ok(total as u64)
}

pub fn dup2(p: &mut Process, a: Args) -> SysResult {
    let (fd, new) = (a.fd(0)?, a.fd(1)?);
    if fd == new {
        p.ctx.fstat(fd)?;
        return ok(new as u64);
    }
    ok(p.ctx.dup_to(fd, new)? as u64)
}

pub fn dup3(p: &mut Process, a: Args) -> SysResult {
    let (fd, new) = (a.fd(0)?, a.fd(1)?);
    if fd == new || a.0[2] & !u64::from(vfs_core::flags::O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    ok(p.ctx.dup_to(fd, new)? as u64)
}

pub fn fcntl(p: &mut Process, a: Args) -> SysResult {
    const F_DUPFD: u64 = 0;
    const F_GETFD: u64 = 1;
    const F_SETFD: u64 = 2;
    const F_GETFL: u64 = 3;
    const F_SETFL: u64 = 4;
    const F_DUPFD_CLOEXEC: u64 = 1030;
    let fd = a.fd(0)?;
    match a.0[1] {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            ok(p.ctx.dup(fd, usize::try_from(a.0[2]).map_err(|_| Errno::EINVAL)?)? as u64)
        }
        F_GETFD => p.ctx.open_flags(fd).and(ok(0)),
        F_SETFD | F_SETFL => p.ctx.open_flags(fd).and(ok(0)),
        F_GETFL => ok(u64::from(p.ctx.open_flags(fd)?)),
        _ => Err(Errno::EINVAL),
    }
}

pub fn getcwd(p: &mut Process, a: Args) -> SysResult {
    let mut bytes = p.cwd.clone().into_bytes();
    bytes.push(0);
    if (a.0[1] as usize) < bytes.len() {
        return Err(Errno::ERANGE);
    }
    user::copy_out(a.0[0], &bytes)?;
    ok(bytes.len() as u64)
}

pub fn chdir(p: &mut Process, a: Args) -> SysResult {
    let path = path_arg(p, AT_FDCWD, a.0[0])?;
    let stat = p.ctx.stat(&path)?;
    if stat.mode & vfs_core::mode::S_IFMT != vfs_core::mode::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    p.ctx.access(&path, Access { execute: true, ..Access::default() })?;
    let parts = vfs_core::path::normalize(&path)?;
    p.cwd = String::from("/") + &parts.join("/");
    ok(0)
}

/// readlink: /proc/self/exe names the program; there are no other symbolic links, so
/// an existing path is EINVAL and a missing one ENOENT.
pub fn readlink(p: &mut Process, dirfd: u64, path: u64, buf: u64, size: u64) -> SysResult {
    let path = path_arg(p, dirfd, path)?;
    if size as i64 <= 0 {
        return Err(Errno::EINVAL);
    }
    if path == "/proc/self/exe" {
        let target = p.path.as_bytes();
        let n = target.len().min(size as usize);
        user::copy_out(buf, &target[..n])?;
        return ok(n as u64);
    }
    p.ctx.stat(&path)?;
    Err(Errno::EINVAL)
}

pub fn access(p: &mut Process, dirfd: u64, path: u64, mode: u64) -> SysResult {
    let path = path_arg(p, dirfd, path)?;
    if mode & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let access = Access { read: mode & 4 != 0, write: mode & 2 != 0, execute: mode & 1 != 0 };
    p.ctx.access(&path, access)?;
    ok(0)
}

pub fn mknod(p: &mut Process, dirfd: u64, path: u64, mode: u64, dev: u64) -> SysResult {
    let path = path_arg(p, dirfd, path)?;
    // The user-space dev_t: major in bits 8-19 (and 32-43), minor in bits 0-7 and 20-31.
    let major = ((dev >> 8) & 0xfff) as u32 | (((dev >> 32) & !0xfff) as u32);
    let minor = (dev & 0xff) as u32 | (((dev >> 12) & !0xff) as u32);
    p.ctx.mknod(&path, mode as u32, DevNum::new(major, minor))?;
    ok(0)
}

pub fn chmod(p: &mut Process, dirfd: u64, path: u64, mode: u64) -> SysResult {
    let path = path_arg(p, dirfd, path)?;
    p.ctx.chmod(&path, mode as u32)?;
    ok(0)
}

pub fn ftruncate(p: &mut Process, a: Args) -> SysResult {
    // The length is an off_t: negative values are EINVAL, before the fd is looked at.
    let len = a.0[1] as i64;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    p.ctx.ftruncate(a.fd(0)?, len)?;
    ok(0)
}

pub fn truncate(p: &mut Process, path: u64, len: u64) -> SysResult {
    let path = path_arg(p, AT_FDCWD, path)?;
    p.ctx.truncate(&path, len as i64)?;
    ok(0)
}

pub fn chown(p: &mut Process, dirfd: u64, path: u64, uid: u64, gid: u64) -> SysResult {
    let path = path_arg(p, dirfd, path)?;
    let id = |v: u64| if v as u32 == u32::MAX { None } else { Some(v as u32) };
    p.ctx.chown(&path, id(uid), id(gid))?;
    ok(0)
}

pub fn unlink(p: &mut Process, dirfd: u64, path: u64, flags: u64) -> SysResult {
    let path = path_arg(p, dirfd, path)?;
    if flags & AT_REMOVEDIR != 0 {
        // Directories here are the kernel's own.
        return Err(Errno::EPERM);
    }
    p.ctx.unlink(&path)?;
    ok(0)
}

/// poll/ppoll: files here never block a writer, and a reader blocks in read itself,
/// so every open descriptor is reported ready for what was asked (POLLIN, POLLOUT);
/// a closed one is POLLNVAL. Returns how many have events.
pub fn poll(p: &mut Process, fds: u64, n: u64) -> SysResult {
    const POLLIN: u16 = 0x1;
    const POLLOUT: u16 = 0x4;
    const POLLNVAL: u16 = 0x20;
    if n > crate::vfs::MAX_FDS as u64 * 4 {
        return Err(Errno::EINVAL);
    }
    let mut raw = user::copy_in(fds, 8 * n as usize)?;
    let mut ready = 0;
    for entry in raw.as_chunks_mut::<8>().0 {
        let fd = i32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let events = u16::from_le_bytes([entry[4], entry[5]]);
        let revents = if fd < 0 {
            0
        } else if p.ctx.fstat(fd as usize).is_err() {
            POLLNVAL
        } else {
            events & (POLLIN | POLLOUT)
        };
        entry[6..8].copy_from_slice(&revents.to_le_bytes());
        ready += u64::from(revents != 0);
    }
    user::copy_out(fds, &raw)?;
    ok(ready)
}
