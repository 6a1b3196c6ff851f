//! Moving bytes between a caller's buffer and device memory that is mapped: one
//! naturally aligned access of the widest size that fits (8, 4, 2, 1) at a time, so a
//! device register sees the width the user asked for (docs/devices.md and the Tru64
//! lesson of part C).

use crate::mm::VirtAddr;
use crate::mm::nofault::{self, Width};
use crate::vfs::UserBuf;

/// Which way the bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Memory to the caller's buffer.
    Read,
    /// The caller's buffer to memory.
    Write,
}

/// Moves `len` bytes (at most a page) between mapped device memory at `va` and `buf` at
/// offset `at`; returns the bytes moved, stopping at the first fault on either side.
/// A buffer that shares `va`'s alignment is used directly; any other goes through an
/// aligned bounce page, so that the middle of the transfer can always move in words.
pub fn device_transfer(
    va: VirtAddr,
    len: usize,
    buf: &UserBuf<'_>,
    at: usize,
    direction: Direction,
) -> usize {
    debug_assert!(len <= 4096 && at + len <= buf.len());
    let va = va.as_u64();
    let user = buf.addr().wrapping_add(at as u64);
    if user % 8 == va % 8 {
        return device_copy(va, user, len, direction);
    }
    /// Word-aligned with room to start at `va`'s offset in a word, so the middle of the
    /// transfer moves with 8-byte accesses.
    #[repr(C, align(8))]
    struct Bounce([u8; 4096 + 8]);
    let mut bounce = Bounce([0; 4096 + 8]);
    let bounce = bounce.0.as_mut_ptr() as u64 + va % 8;
    match direction {
        Direction::Read => {
            let moved = device_copy(va, bounce, len, direction);
            match buf.copy_from_kernel(at, VirtAddr::new(bounce), moved) {
                Ok(()) => moved,
                Err(fault) => fault.copied,
            }
        }
        Direction::Write => {
            // Fetch the caller's bytes first; a bad buffer limits how many go out.
            // SAFETY: `bounce` points into this function's own stack buffer, with room
            // for `len` (at most a page) after its offset; no reference to it is live.
            #[allow(unsafe_code)]
            let copied = unsafe { buf.copy_to_kernel(at, VirtAddr::new(bounce), len) };
            let available = match copied {
                Ok(()) => len,
                Err(fault) => fault.copied,
            };
            device_copy(va, bounce, available, direction)
        }
    }
}

/// Moves `len` bytes between device memory at `va` and kernel memory at `kernel`, which
/// must share `va`'s alignment mod 8: single accesses for the unaligned head and the tail,
/// and in between one 8-byte access per word in order (`rep movsq`), which is what the
/// width rule asks for and many times faster than one call per word. Returns the bytes
/// moved before the first fault (a fault inside a single access counts it as not moved).
fn device_copy(va: u64, kernel: u64, len: usize, direction: Direction) -> usize {
    let head = (((8 - (va & 7)) & 7) as usize).min(len);
    let words = (len - head) / 8;
    let tail_at = head + words * 8;
    let moved = single_accesses(va, kernel, head, direction);
    if moved < head {
        return moved;
    }
    let (device, memory) = (va + head as u64, kernel + head as u64);
    let (dst, src) = match direction {
        Direction::Read => (memory, device),
        Direction::Write => (device, memory),
    };
    // A buffer address that is not canonical faults at once: nothing moved.
    let (Ok(dst), Ok(src)) = (VirtAddr::try_new(dst), VirtAddr::try_new(src)) else { return head };
    // SAFETY: `dst` is either the device page `va` lies in, mapped by the caller for
    // this transfer, or the caller's buffer (a UserBuf or the bounce page, both memory
    // this transfer may write); see `device_transfer`.
    #[allow(unsafe_code)]
    let copied = unsafe { nofault::copy_qwords(dst, src, words) };
    if copied < words {
        return head + copied * 8;
    }
    tail_at + single_accesses(va + tail_at as u64, kernel + tail_at as u64, len - tail_at, direction)
}

/// One access of the widest naturally aligned size at a time.
fn single_accesses(va: u64, kernel: u64, len: usize, direction: Direction) -> usize {
    let mut moved = 0;
    for (address, width) in vfs_core::transfer::access_widths(va, len) {
        let Some(access) = Width::from_bytes(width) else { break };
        // A buffer address that is not canonical faults: nothing more moves.
        let (Ok(address), Ok(memory)) =
            (VirtAddr::try_new(address), VirtAddr::try_new(kernel + moved as u64))
        else {
            break;
        };
        let mut word = [0u8; 8];
        let ok = match direction {
            Direction::Read => nofault::read_width(address, access).is_some_and(|value| {
                word = value.to_le_bytes();
                // SAFETY: `memory` is in the caller's buffer or the bounce page, which
                // this transfer may write (see `device_transfer`).
                #[allow(unsafe_code)]
                let copied =
                    unsafe { nofault::copy_kernel(memory, VirtAddr::from_ptr(word.as_ptr()), width) };
                copied.is_ok()
            }),
            Direction::Write => {
                // SAFETY: `address` is in the device page the caller mapped for this
                // transfer, the request checked by the driver's open (root-only for
                // writing allkmem, STRICT for /dev/mem).
                #[allow(unsafe_code)]
                let written = nofault::read_kernel(memory, &mut word[..width]).is_ok()
                    && unsafe { nofault::write_width(address, access, u64::from_le_bytes(word)) };
                written
            }
        };
        if !ok {
            break;
        }
        moved += width;
    }
    moved
}
