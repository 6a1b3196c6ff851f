//! /dev/port: the offset is an I/O port; one `inb`/`outb` per byte; end of file at
//! 65536 (Linux drivers/char/mem.c read_port/write_port).

use alloc::vec;

use errno::{Errno, KResult};

use crate::arch::portio;
use crate::vfs::UserBuf;
use crate::vfs::ops::{FileOps, SeekPolicy};

/// Ports 0 to 0xFFFF.
const PORT_LIMIT: u64 = 0x1_0000;

pub struct Port;

impl FileOps for Port {
    /// Reads the ports first, then copies them out: a bad buffer is EFAULT for the whole
    /// call, after the ports were read (Linux `read_port`/`write_port`).
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let count = PORT_LIMIT.saturating_sub(offset).min(buf.len() as u64) as usize;
        let mut bytes = vec![0u8; count];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = portio::read_u8((offset + i as u64) as u16);
        }
        buf.write_at(0, &bytes)?;
        Ok(count)
    }

    /// Fetches each byte from the caller, then writes the port: a bad buffer stops the
    /// transfer with the count so far, or EFAULT if none (Linux `read_port`/`write_port`).
    fn write(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let count = PORT_LIMIT.saturating_sub(offset).min(buf.len() as u64) as usize;
        for i in 0..count {
            let mut byte = [0u8];
            if buf.read_at(i, &mut byte).is_err() {
                return vfs_core::transfer::partial(i, Errno::EFAULT);
            }
            // SAFETY: this file was opened for writing, which `dev::Driver::open` allows
            // only for uid 0 (a root caller may reprogram any device through /dev/port).
            #[allow(unsafe_code)]
            unsafe {
                portio::write_u8((offset + i as u64) as u16, byte[0]);
            }
        }
        Ok(count)
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Memory
    }
}
