//! File offsets: lseek and the checks before a transfer (Linux `fs/read_write.c`
//! `generic_file_llseek_size`, `vfs_setpos`, `rw_verify_area`, `ksys_pread64`, and
//! `drivers/char/mem.c` `memory_lseek`, `null_lseek`).

use crate::flags::{SEEK_CUR, SEEK_END, SEEK_SET};
use errno::Errno;

/// First offset that cannot be returned: Linux refuses offsets >= -MAX_ERRNO (2^64 - 4095) as EOVERFLOW.
pub const OFFSET_LIMIT: u64 = 0u64.wrapping_sub(4095);

/// Largest count one read or write moves (Linux `MAX_RW_COUNT`, `INT_MAX & PAGE_MASK`).
pub const MAX_RW_COUNT: usize = 0x7fff_f000;

/// memory_lseek (mem, kmem, allkmem, port): SEEK_SET pos = offset as u64; SEEK_CUR pos = pos.wrapping_add(offset as u64); other whence EINVAL; result >= OFFSET_LIMIT -> EOVERFLOW; else Ok(new pos) (the caller stores it).
pub fn memory_lseek(pos: u64, offset: i64, whence: i32) -> Result<u64, Errno> {
    let new = match whence {
        SEEK_SET => offset as u64,
        SEEK_CUR => pos.wrapping_add(offset as u64),
        _ => return Err(Errno::EINVAL),
    };
    if new >= OFFSET_LIMIT { Err(Errno::EOVERFLOW) } else { Ok(new) }
}

/// null_lseek (null, zero, full): always Ok(0), whatever the arguments.
pub fn null_lseek(_pos: u64, _offset: i64, _whence: i32) -> Result<u64, Errno> {
    Ok(0)
}

/// Regular files (procfs): SEEK_SET/SEEK_CUR/SEEK_END (from `size`); a result that is negative as i64 -> EINVAL, overflow past i64::MAX -> EOVERFLOW; other whence EINVAL.
///
/// `pos` and `size` are read as unsigned; the sum is computed without wrapping.
pub fn regular_lseek(pos: u64, offset: i64, whence: i32, size: u64) -> Result<u64, Errno> {
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => pos,
        SEEK_END => size,
        _ => return Err(Errno::EINVAL),
    };
    let new = i128::from(base) + i128::from(offset);
    if new < 0 {
        Err(Errno::EINVAL)
    } else {
        u64::try_from(new).ok().filter(|&n| n <= i64::MAX as u64).ok_or(Errno::EOVERFLOW)
    }
}

/// rw_verify_area for read/write at `pos` (f_pos): if pos as i64 < 0: with unsigned_offsets (mem, kmem) -> EOVERFLOW if count as u64 >= pos.wrapping_neg() (i.e. pos + count would wrap past 2^64), else allowed; without (port, others) -> EINVAL. Returns the count clamped to MAX_RW_COUNT.
///
/// The two other cases of Linux's `rw_verify_area` are kept: a count above `isize::MAX` is
/// EINVAL, and without unsigned offsets `pos + count` past `i64::MAX` is EINVAL. Both use the
/// count as given, before clamping (as Linux does).
pub fn verify_area(pos: u64, count: usize, unsigned_offsets: bool) -> Result<usize, Errno> {
    if count > isize::MAX as usize {
        return Err(Errno::EINVAL);
    }
    let count64 = count as u64;
    if (pos as i64) < 0 {
        if !unsigned_offsets {
            return Err(Errno::EINVAL);
        }
        if count64 >= pos.wrapping_neg() {
            return Err(Errno::EOVERFLOW);
        }
    } else if (pos.wrapping_add(count64) as i64) < 0 && !unsigned_offsets {
        return Err(Errno::EINVAL);
    }
    Ok(count.min(MAX_RW_COUNT))
}

/// pread/pwrite: a negative offset (as i64) is EINVAL for every file (ksys_pread64), then verify_area.
pub fn verify_positional(pos: u64, count: usize, unsigned_offsets: bool) -> Result<usize, Errno> {
    if (pos as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    verify_area(pos, count, unsigned_offsets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOP: u64 = 1 << 63;

    #[test]
    fn memory_lseek_follows_a3() {
        assert_eq!(OFFSET_LIMIT, 0xffff_ffff_ffff_f001);
        assert_eq!(memory_lseek(5, 0xf0000, SEEK_SET), Ok(0xf0000));
        assert_eq!(memory_lseek(0x1000, -0x800, SEEK_CUR), Ok(0x800));
        assert_eq!(memory_lseek(0, -1, SEEK_SET), Err(Errno::EOVERFLOW));
        assert_eq!(memory_lseek(0, -4095, SEEK_SET), Err(Errno::EOVERFLOW));
        assert_eq!(memory_lseek(0, -4096, SEEK_SET), Ok(0xffff_ffff_ffff_f000));
        assert_eq!(memory_lseek(0xffff_ffff_ffff_f000, 1, SEEK_CUR), Err(Errno::EOVERFLOW));
        assert_eq!(memory_lseek(u64::MAX, 1, SEEK_CUR), Ok(0), "SEEK_CUR wraps");
        assert_eq!(memory_lseek(0, i64::MIN, SEEK_SET), Ok(TOP));
        assert_eq!(memory_lseek(0, 0, SEEK_END), Err(Errno::EINVAL));
        assert_eq!(memory_lseek(0, 0, 3), Err(Errno::EINVAL));
        assert_eq!(memory_lseek(0, 0, -1), Err(Errno::EINVAL));
        assert_eq!(null_lseek(77, -5, 42), Ok(0));
    }

    #[test]
    fn regular_lseek_cases() {
        assert_eq!(regular_lseek(10, 5, SEEK_SET, 100), Ok(5));
        assert_eq!(regular_lseek(10, -3, SEEK_CUR, 100), Ok(7));
        assert_eq!(regular_lseek(10, -3, SEEK_END, 100), Ok(97));
        assert_eq!(regular_lseek(10, 50, SEEK_END, 100), Ok(150));
        assert_eq!(regular_lseek(10, -11, SEEK_CUR, 100), Err(Errno::EINVAL));
        assert_eq!(regular_lseek(10, -1, SEEK_SET, 100), Err(Errno::EINVAL));
        assert_eq!(regular_lseek(1, i64::MAX, SEEK_CUR, 0), Err(Errno::EOVERFLOW));
        assert_eq!(regular_lseek(0, i64::MAX, SEEK_CUR, 0), Ok(i64::MAX as u64));
        assert_eq!(regular_lseek(0, 0, 3, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn verify_area_cases() {
        assert_eq!(verify_area(0, 0, false), Ok(0));
        assert_eq!(verify_area(0, usize::MAX / 2, true), Ok(MAX_RW_COUNT));
        assert_eq!(verify_area(0, usize::MAX / 2 + 1, true), Err(Errno::EINVAL));
        assert_eq!(verify_area(TOP, 100, false), Err(Errno::EINVAL));
        assert_eq!(verify_area(TOP, 100, true), Ok(100));
        assert_eq!(verify_area(u64::MAX - 9, 9, true), Ok(9));
        assert_eq!(verify_area(u64::MAX - 9, 10, true), Err(Errno::EOVERFLOW));
        assert_eq!(verify_area(u64::MAX, 0, true), Ok(0));
        assert_eq!(verify_area(u64::MAX, 1, true), Err(Errno::EOVERFLOW));
        assert_eq!(verify_area(TOP - 4, 3, false), Ok(3));
        assert_eq!(verify_area(TOP - 4, 4, false), Err(Errno::EINVAL), "Linux: (loff_t)(pos + count) < 0");
        assert_eq!(verify_area(TOP - 4, 5, true), Ok(5));
        assert_eq!(verify_positional(TOP, 1, true), Err(Errno::EINVAL));
        assert_eq!(verify_positional(TOP - 1, 1, true), Ok(1));
        assert_eq!(verify_positional(0x1000, 0x9000_0000, false), Ok(MAX_RW_COUNT));
    }

    proptest! {
        #[test]
        fn memory_lseek_oracle(pos: u64, offset: i64, whence in -2i32..5) {
            let target = match whence {
                0 => Some(i128::from(offset).rem_euclid(1 << 64)),
                1 => Some((i128::from(pos) + i128::from(offset)).rem_euclid(1 << 64)),
                _ => None,
            };
            let expected = match target {
                None => Err(Errno::EINVAL),
                Some(t) if t >= (1 << 64) - 4095 => Err(Errno::EOVERFLOW),
                Some(t) => Ok(t as u64),
            };
            prop_assert_eq!(memory_lseek(pos, offset, whence), expected);
        }

        #[test]
        fn regular_lseek_never_wraps(pos: u64, offset: i64, whence in -1i32..4, size: u64) {
            if let Ok(new) = regular_lseek(pos, offset, whence, size) {
                prop_assert!(new <= i64::MAX as u64);
                let base = [0, pos, size][whence as usize];
                prop_assert_eq!(i128::from(new), i128::from(base) + i128::from(offset));
            }
        }

        #[test]
        fn verify_area_oracle(pos: u64, count in prop_oneof![any::<usize>(), 0usize..0x1_0000_0000], unsigned: bool) {
            let end = i128::from(pos as i64) + count as i128;
            let expected = if count as u128 > i64::MAX as u128 {
                Err(Errno::EINVAL)
            } else if unsigned {
                if pos >= 1 << 63 && u128::from(pos) + count as u128 >= 1 << 64 {
                    Err(Errno::EOVERFLOW)
                } else {
                    Ok(count.min(MAX_RW_COUNT))
                }
            } else if (pos as i64) < 0 || end > i128::from(i64::MAX) {
                Err(Errno::EINVAL)
            } else {
                Ok(count.min(MAX_RW_COUNT))
            };
            prop_assert_eq!(verify_area(pos, count, unsigned), expected);
            let positional = if (pos as i64) < 0 { Err(Errno::EINVAL) } else { expected };
            prop_assert_eq!(verify_positional(pos, count, unsigned), positional);
        }
    }
}
