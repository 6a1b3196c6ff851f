//! null, zero and full, with Linux's semantics (drivers/char/mem.c): null reads end of
//! file and swallows writes; zero reads zeros and swallows writes; full reads zeros and
//! refuses writes with ENOSPC. Their offset always stays 0.

use errno::{Errno, KResult};

use crate::vfs::UserBuf;
use crate::vfs::ops::{FileOps, SeekPolicy};

pub struct Null;
pub struct Zero;
pub struct Full;

/// A page of zeros to copy from.
static ZEROS: [u8; 4096] = [0; 4096];

/// Fills `buf` with zeros; a fault after some bytes returns the count (partial rule).
fn read_zeros(buf: UserBuf<'_>) -> KResult<usize> {
    let mut done = 0;
    while done < buf.len() {
        let chunk = (buf.len() - done).min(ZEROS.len());
        if let Err(fault) = buf.copy_from_kernel(done, crate::mm::VirtAddr::from_ptr(ZEROS.as_ptr()), chunk) {
            return vfs_core::transfer::partial(done + fault.copied, Errno::EFAULT);
        }
        done += chunk;
    }
    Ok(done)
}

impl FileOps for Null {
    fn read(&self, _: u64, _: UserBuf<'_>) -> KResult<usize> {
        Ok(0)
    }
    fn write(&self, _: u64, buf: UserBuf<'_>) -> KResult<usize> {
        Ok(buf.len())
    }
    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Null
    }
}

impl FileOps for Zero {
    fn read(&self, _: u64, buf: UserBuf<'_>) -> KResult<usize> {
        read_zeros(buf)
    }
    fn write(&self, _: u64, buf: UserBuf<'_>) -> KResult<usize> {
        Ok(buf.len())
    }
    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Null
    }
}

impl FileOps for Full {
    fn read(&self, _: u64, buf: UserBuf<'_>) -> KResult<usize> {
        read_zeros(buf)
    }
    fn write(&self, _: u64, buf: UserBuf<'_>) -> KResult<usize> {
        if buf.is_empty() { Ok(0) } else { Err(Errno::ENOSPC) }
    }
    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Null
    }
}
