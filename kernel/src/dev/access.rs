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
