//! Moving bytes between a caller's buffer and device memory that is mapped: one
//! naturally aligned access of the widest size that fits (8, 4, 2, 1) at a time, so a
//! device register sees the width the user asked for (devmem-spec part 0 and the Tru64
//! lesson of part C).

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

fn width_of(bytes: usize) -> Width {
    match bytes {
        8 => Width::U64,
        4 => Width::U32,
        2 => Width::U16,
        _ => Width::U8,
    }
}

/// Moves `len` bytes between mapped device memory at `va` and `buf` at offset `at`;
/// returns the bytes moved, stopping at the first fault on either side.
pub fn natural_width_copy(va: u64, len: usize, buf: &UserBuf<'_>, at: usize, direction: Direction) -> usize {
    let mut moved = 0;
    for (address, width) in vfs_core::transfer::access_widths(va, len) {
        let mut bytes = [0u8; 8];
        let ok = match direction {
            Direction::Read => nofault::read_width(address, width_of(width)).is_some_and(|value| {
                bytes = value.to_le_bytes();
                buf.write_at(at + moved, &bytes[..width]).is_ok()
            }),
            Direction::Write => {
                buf.read_at(at + moved, &mut bytes[..width]).is_ok()
                    && nofault::write_width(address, width_of(width), u64::from_le_bytes(bytes))
            }
        };
        if !ok {
            break;
        }
        moved += width;
    }
    moved
}

/// Moves bytes between mapped device memory at `va` and a kernel buffer with accesses of
/// natural width: single accesses for the unaligned head and the tail, and in between
/// one 8-byte access per word in order (`rep movsq`), which is what the width rule asks
/// for and is many times faster than one call per word. Returns the bytes moved before
/// the first fault.
pub fn bounce_access(va: u64, bounce: &mut [u8], direction: Direction) -> usize {
    let len = bounce.len();
    let head = (((8 - (va & 7)) & 7) as usize).min(len);
    let words = (len - head) / 8;
    let mut moved = single_accesses(va, &mut bounce[..head], direction);
    if moved < head {
        return moved;
    }
    let buffer = bounce[head..].as_mut_ptr() as u64;
    let aligned_buffer = buffer % 8 == 0;
    if words > 0 && aligned_buffer {
        let (dst, src) = match direction {
            Direction::Read => (buffer, va + head as u64),
            Direction::Write => (va + head as u64, buffer),
        };
        let copied = nofault::copy_qwords(dst, src, words);
        moved += copied * 8;
        if copied < words {
            return moved;
        }
    }
    let rest = if aligned_buffer { head + words * 8 } else { head };
    moved + single_accesses(va + rest as u64, &mut bounce[rest..], direction)
}

/// One access of the widest naturally aligned size at a time.
fn single_accesses(va: u64, bytes: &mut [u8], direction: Direction) -> usize {
    let mut moved = 0;
    for (address, width) in vfs_core::transfer::access_widths(va, bytes.len()) {
        let slot = &mut bytes[moved..moved + width];
        let ok = match direction {
            Direction::Read => nofault::read_width(address, width_of(width)).map(|value| {
                slot.copy_from_slice(&value.to_le_bytes()[..width]);
            }),
            Direction::Write => {
                let mut word = [0u8; 8];
                word[..width].copy_from_slice(slot);
                nofault::write_width(address, width_of(width), u64::from_le_bytes(word)).then_some(())
            }
        };
        if ok.is_none() {
            break;
        }
        moved += width;
    }
    moved
}
