//! Regular files in RAM: what `open(O_CREAT)` makes in a writable directory (/tmp is
//! the one meant for it, mode 1777). Their bytes are on the heap, bounded by
//! [`LIMIT`] for all files together: a write past it is ENOSPC (whatever fits is
//! written first), never a panic. Removing a file's last name and closing it gives its
//! space back.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use errno::{Errno, KResult};
use spin::Mutex;

use super::ops::{FileOps, SeekPolicy};
use super::userbuf::UserBuf;

/// Bytes all RAM files may hold together.
pub const LIMIT: u64 = 4 << 20;

/// Bytes held by RAM files now.
static USED: AtomicU64 = AtomicU64::new(0);

/// Bytes RAM files hold now (for tests and `df`-like reports).
pub fn used() -> u64 {
    USED.load(Ordering::Relaxed)
}

/// A file's bytes; sized exactly, counted in [`USED`].
#[derive(Default)]
pub struct RamFile {
    data: Mutex<Vec<u8>>,
}

impl RamFile {
    pub fn len(&self) -> u64 {
        self.data.lock().len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.data.lock().is_empty()
    }

    /// Sets the length, filling with zeros when it grows; ENOSPC past the limit.
    fn resize(data: &mut Vec<u8>, len: u64) -> KResult<()> {
        let old = data.len() as u64;
        if len > old {
            let grow = len - old;
            let claimed = USED.try_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(grow).filter(|&total| total <= LIMIT)
            });
            if claimed.is_err() {
                return Err(Errno::ENOSPC);
            }
            let len = usize::try_from(len).map_err(|_| Errno::ENOSPC)?;
            if data.try_reserve_exact(len - data.len()).is_err() {
                USED.fetch_sub(grow, Ordering::Relaxed);
                return Err(Errno::ENOSPC);
            }
            data.resize(len, 0);
        } else {
            data.truncate(len as usize);
            data.shrink_to_fit();
            USED.fetch_sub(old - len, Ordering::Relaxed);
        }
        Ok(())
    }

    /// O_TRUNC.
    pub fn truncate(&self) {
        let _ = Self::resize(&mut self.data.lock(), 0);
    }

    /// ftruncate and truncate: cut to `len` bytes, or grow with zeros (ENOSPC past the
    /// limit, and then the file is as it was).
    pub fn set_len(&self, len: u64) -> KResult<()> {
        Self::resize(&mut self.data.lock(), len)
    }
}

impl Drop for RamFile {
    fn drop(&mut self) {
        USED.fetch_sub(self.data.get_mut().len() as u64, Ordering::Relaxed);
    }
}

/// An open RAM file.
pub struct RamFileOps {
    pub file: Arc<RamFile>,
    /// O_APPEND: every write goes to the end.
    pub append: bool,
}

impl FileOps for RamFileOps {
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let data = self.file.data.lock();
        let Ok(start) = usize::try_from(offset) else { return Ok(0) };
        let Some(rest) = data.get(start..) else { return Ok(0) };
        let count = rest.len().min(buf.len());
        buf.write_at(0, &rest[..count])?;
        Ok(count)
    }

    fn write(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let mut data = self.file.data.lock();
        let start = if self.append { data.len() as u64 } else { offset };
        if buf.is_empty() {
            return Ok(0);
        }
        let end = start.checked_add(buf.len() as u64).ok_or(Errno::EINVAL)?;
        // What fits under the limit is written; nothing fits: ENOSPC.
        let room = LIMIT.saturating_sub(used()) + data.len() as u64;
        let end = end.min(room.max(data.len() as u64));
        if end <= start {
            return Err(Errno::ENOSPC);
        }
        if end > data.len() as u64 {
            RamFile::resize(&mut data, end)?;
        }
        let count = (end - start) as usize;
        let at = start as usize;
        buf.read_at(0, &mut data[at..at + count])?;
        Ok(count)
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Regular { size: self.file.len() }
    }
}
