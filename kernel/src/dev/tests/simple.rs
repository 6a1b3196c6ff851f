use errno::Errno;
use vfs_core::flags::{O_RDWR, SEEK_CUR, SEEK_END};

use super::root;
use crate::ktest::ktest;
use crate::vfs::UserBuf;

#[ktest]
fn null_zero_and_full_behave_like_linux() {
    let mut ctx = root();
    let mut buf = [0xffu8; 100];
    let null = ctx.open("/dev/null", O_RDWR, 0).unwrap();
    assert_eq!(ctx.read(null, UserBuf::from_mut_slice(&mut buf)), Ok(0));
    assert_eq!(ctx.write(null, UserBuf::from_slice(&buf)), Ok(100));
    let zero = ctx.open("/dev/zero", O_RDWR, 0).unwrap();
    assert_eq!(ctx.read(zero, UserBuf::from_mut_slice(&mut buf)), Ok(100));
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(ctx.write(zero, UserBuf::from_slice(&buf)), Ok(100));
    let full = ctx.open("/dev/full", O_RDWR, 0).unwrap();
    buf.fill(0xff);
    assert_eq!(ctx.read(full, UserBuf::from_mut_slice(&mut buf)), Ok(100));
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(ctx.write(full, UserBuf::from_slice(&buf)), Err(Errno::ENOSPC));
    // Their offset stays 0 whatever lseek is asked.
    assert_eq!(ctx.lseek(zero, 1000, SEEK_CUR), Ok(0));
    assert_eq!(ctx.lseek(null, -5, SEEK_END), Ok(0));
}

#[ktest]
fn zero_fills_large_reads_across_pages() {
    let mut ctx = root();
    let zero = ctx.open("/dev/zero", O_RDWR, 0).unwrap();
    let mut big = alloc::vec![0xaau8; 3 * 4096 + 17];
    assert_eq!(ctx.read(zero, UserBuf::from_mut_slice(&mut big)), Ok(3 * 4096 + 17));
    assert!(big.iter().all(|&b| b == 0));
}

/// A buffer made from a shared slice is only read: a driver's write into it (a read(2)
/// of /dev/zero, a /dev/mem read) is EFAULT, and the data behind the `&[u8]` stays.
#[ktest]
fn a_buffer_from_a_shared_slice_is_never_written() {
    let mut ctx = root();
    let data = [0x5au8; 64];
    let zero = ctx.open("/dev/zero", O_RDWR, 0).unwrap();
    assert_eq!(ctx.read(zero, UserBuf::from_slice(&data)), Err(Errno::EFAULT));
    let mem = ctx.open("/dev/mem", vfs_core::flags::O_RDONLY, 0).unwrap();
    assert_eq!(ctx.pread(mem, UserBuf::from_slice(&data), 0x400), Err(Errno::EFAULT));
    assert!(core::hint::black_box(&data).iter().all(|&b| b == 0x5a), "the shared data changed");
    // The same through a buffer made from `&mut`: written.
    let mut owned = [0x5au8; 64];
    assert_eq!(ctx.read(zero, UserBuf::from_mut_slice(&mut owned)), Ok(64));
    assert!(owned.iter().all(|&b| b == 0));
}
