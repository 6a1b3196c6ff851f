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
