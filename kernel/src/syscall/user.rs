//! Copies to and from the running process's memory, every pointer checked against the
//! lower half first (Linux's `access_ok`): a kernel address is EFAULT before any copy,
//! and an unmapped one is EFAULT from the fault-safe copy.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use errno::{Errno, KResult};

use crate::vfs::UserBuf;
use crate::vfs::userbuf::UserSpace;

/// Longest path accepted (Linux's PATH_MAX).
pub const PATH_MAX: usize = 4096;

/// The user buffer [addr, addr+len), or EFAULT if it leaves the lower half.
pub fn buffer(addr: u64, len: usize) -> KResult<UserBuf<'static>> {
    UserSpace::LOWER_HALF.buffer(addr, len)
}

/// Copies `len` bytes in from user memory.
pub fn copy_in(addr: u64, len: usize) -> KResult<Vec<u8>> {
    let buf = buffer(addr, len)?;
    let mut bytes = vec![0u8; len];
    buf.read_at(0, &mut bytes)?;
    Ok(bytes)
}

/// Copies `bytes` out to user memory.
pub fn copy_out(addr: u64, bytes: &[u8]) -> KResult<()> {
    buffer(addr, bytes.len())?.write_at(0, bytes)
}

pub fn read_u64(addr: u64) -> KResult<u64> {
    let bytes = copy_in(addr, 8)?;
    Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| Errno::EFAULT)?))
}

pub fn write_u64(addr: u64, value: u64) -> KResult<()> {
    copy_out(addr, &value.to_le_bytes())
}

/// A NUL-terminated string from user memory (ENAMETOOLONG past `max` bytes).
pub fn read_string(addr: u64, max: usize) -> KResult<String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 64];
    loop {
        // Stop each chunk at a page boundary, so a string that ends just before an
        // unmapped page is read without touching it.
        let at = addr.checked_add(bytes.len() as u64).ok_or(Errno::EFAULT)?;
        let to_page_end = (4096 - (at % 4096)) as usize;
        let n = chunk.len().min(to_page_end);
        buffer(at, n)?.read_at(0, &mut chunk[..n])?;
        if let Some(nul) = chunk[..n].iter().position(|&b| b == 0) {
            bytes.extend_from_slice(&chunk[..nul]);
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        if bytes.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
    }
    String::from_utf8(bytes).map_err(|_| Errno::ENOENT)
}
