//! Device tests in QEMU, against what QEMU really has: the 16550's registers, the HPET,
//! the local APIC, the BIOS area and the ACPI RSDP below 1 MiB, RAM above it.

mod kmem;
mod mem;
mod memrange;
mod msr;
mod permissions;
mod port;
mod random;
mod simple;

use vfs_core::cred::{Credentials, user_by_name};

use crate::vfs::{Context, Fd, UserBuf};

/// A context for one of the users of docs/devices.md.
pub fn as_user(name: &str) -> Context {
    let user = user_by_name(name).expect("a user of docs/devices.md");
    // SAFETY: the tests using this context give it no address by number but
    // their own buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    unsafe {
        Context::new(user.credentials())
    }
}

pub fn root() -> Context {
    // SAFETY: the tests using this context give it no address by number but
    // their own buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    unsafe {
        Context::new(Credentials::ROOT)
    }
}

/// Reads `N` bytes at `offset` with pread.
pub fn pread_array<const N: usize>(
    ctx: &mut Context,
    fd: Fd,
    offset: u64,
) -> errno::KResult<([u8; N], usize)> {
    let mut buf = [0u8; N];
    let n = ctx.pread(fd, UserBuf::from_mut_slice(&mut buf), offset)?;
    Ok((buf, n))
}

/// Reads `N` bytes at `offset` the way high addresses must be read: lseek, then read.
pub fn read_at<const N: usize>(ctx: &mut Context, fd: Fd, offset: u64) -> errno::KResult<([u8; N], usize)> {
    ctx.lseek(fd, offset as i64, vfs_core::flags::SEEK_SET)?;
    let mut buf = [0u8; N];
    let n = ctx.read(fd, UserBuf::from_mut_slice(&mut buf))?;
    Ok((buf, n))
}
