use errno::Errno;
use vfs_core::flags::{O_RDONLY, SEEK_SET};

use super::{pread_array, root};
use crate::ktest::ktest;
use crate::vfs::UserBuf;

#[ktest]
fn the_uart_line_status_register_says_idle() {
    let mut ctx = root();
    let fd = ctx.open("/dev/port", O_RDONLY, 0).unwrap();
    let (lsr, n) = pread_array::<1>(&mut ctx, fd, 0x3fd).unwrap();
    assert_eq!(n, 1);
    // THRE and TEMT: the transmitter is empty between our writes.
    assert_eq!(lsr[0] & 0x60, 0x60, "LSR {:#x}", lsr[0]);
}

#[ktest]
fn end_of_file_at_65536() {
    let mut ctx = root();
    let fd = ctx.open("/dev/port", O_RDONLY, 0).unwrap();
    assert_eq!(pread_array::<4>(&mut ctx, fd, 0xfffe).map(|r| r.1), Ok(2));
    assert_eq!(pread_array::<4>(&mut ctx, fd, 0x10000).map(|r| r.1), Ok(0));
    ctx.lseek(fd, 0xffff, SEEK_SET).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(ctx.read(fd, UserBuf::from_mut_slice(&mut buf)), Ok(1));
    assert_eq!(ctx.read(fd, UserBuf::from_mut_slice(&mut buf)), Ok(0));
}

#[ktest]
fn negative_offsets_are_einval() {
    let mut ctx = root();
    let fd = ctx.open("/dev/port", O_RDONLY, 0).unwrap();
    assert_eq!(pread_array::<1>(&mut ctx, fd, 1 << 63).map(|r| r.1), Err(Errno::EINVAL));
    // lseek itself allows it (memory_lseek); the read then refuses it.
    assert_eq!(ctx.lseek(fd, i64::MIN, SEEK_SET), Ok(1 << 63));
    let mut buf = [0u8; 1];
    assert_eq!(ctx.read(fd, UserBuf::from_mut_slice(&mut buf)), Err(Errno::EINVAL));
}

#[ktest]
fn a_bad_buffer_fails_the_whole_read() {
    let mut ctx = root();
    let fd = ctx.open("/dev/port", O_RDONLY, 0).unwrap();
    // SAFETY: nothing is mapped at this lower-half address: nothing a driver could write.
    #[allow(unsafe_code)]
    let unmapped = unsafe { UserBuf::from_raw(0x0000_4444_0000_0000, 4) };
    assert_eq!(ctx.pread(fd, unmapped, 0x3f8), Err(Errno::EFAULT));
}
