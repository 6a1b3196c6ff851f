use alloc::string::String;

use errno::Errno;
use vfs_core::devnum::DevNum;
use vfs_core::flags::{O_CREAT, O_RDONLY, O_RDWR, O_WRONLY};
use vfs_core::mode::S_IFCHR;

use super::{as_user, pread_array, root};
use crate::ktest::ktest;
use crate::vfs::UserBuf;

/// What `open` gives each user of docs/devices.md, for every node and access mode.
#[ktest]
fn the_open_rules_for_root_operator_and_nobody() {
    use Errno::{EACCES, EPERM};
    // (path, O_RDONLY, O_WRONLY) results for root, operator, nobody.
    type Outcomes = [(Result<(), Errno>, Result<(), Errno>); 3];
    let table: [(&str, Outcomes); 7] = [
        ("/dev/mem", [(Ok(()), Ok(())), (Ok(()), Err(EPERM)), (Err(EACCES), Err(EACCES))]),
        ("/dev/kmem", [(Ok(()), Ok(())), (Ok(()), Err(EACCES)), (Err(EACCES), Err(EACCES))]),
        ("/dev/allkmem", [(Ok(()), Ok(())), (Err(EACCES), Err(EACCES)), (Err(EACCES), Err(EACCES))]),
        ("/dev/port", [(Ok(()), Ok(())), (Ok(()), Err(EPERM)), (Err(EACCES), Err(EACCES))]),
        ("/dev/null", [(Ok(()), Ok(())), (Ok(()), Ok(())), (Ok(()), Ok(()))]),
        ("/dev/zero", [(Ok(()), Ok(())), (Ok(()), Ok(())), (Ok(()), Ok(()))]),
        ("/dev/full", [(Ok(()), Ok(())), (Ok(()), Ok(())), (Ok(()), Ok(()))]),
    ];
    for (path, expected) in table {
        for (user, (read, write)) in ["root", "operator", "nobody"].into_iter().zip(expected) {
            let mut ctx = as_user(user);
            assert_eq!(ctx.open(path, O_RDONLY, 0).map(drop), read, "{user} reading {path}");
            assert_eq!(ctx.open(path, O_WRONLY, 0).map(drop), write, "{user} writing {path}");
        }
    }
}

#[ktest]
fn operator_reads_physical_memory_through_group_kmem() {
    let mut ctx = as_user("operator");
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let (bytes, _) = pread_array::<2>(&mut ctx, fd, 0x400).unwrap();
    assert_eq!(u16::from_le_bytes(bytes), 0x3f8);
    assert_eq!(ctx.write(fd, UserBuf::from_slice(b"x")), Err(Errno::EBADF), "opened read-only");
}

#[ktest]
fn nodes_have_the_numbers_modes_and_owners_of_part_0() {
    let ctx = as_user("nobody");
    let expect = [
        ("mem", 1, 0o660, 15),
        ("kmem", 2, 0o640, 15),
        ("null", 3, 0o666, 0),
        ("port", 4, 0o660, 15),
        ("zero", 5, 0o666, 0),
        ("full", 7, 0o666, 0),
        ("allkmem", 13, 0o600, 0),
    ];
    let entries = ctx.readdir("/dev").unwrap();
    // Besides the memory devices' nodes, the terminals (console 5,1 and tty 5,0) and the directory
    // cpu (/dev/cpu/N/msr, 202,N 0600 for each online CPU).
    assert_eq!(entries.len(), expect.len() + 3);
    for cpu in crate::arch::smp::online_cpus().iter() {
        let stat = ctx.stat(&alloc::format!("/dev/cpu/{cpu}/msr")).unwrap();
        assert_eq!(
            (stat.mode, stat.rdev, stat.uid, stat.gid),
            (S_IFCHR | 0o600, DevNum::new(202, cpu as u32).encode(), 0, 0)
        );
    }
    for (name, minor, mode) in [("console", 1, 0o600), ("tty", 0, 0o666)] {
        let stat = ctx.stat(&alloc::format!("/dev/{name}")).unwrap();
        assert_eq!(
            (stat.mode, stat.uid, stat.gid, stat.rdev),
            (S_IFCHR | mode, 0, 0, DevNum::new(5, minor).encode())
        );
    }
    for (name, minor, mode, gid) in expect {
        let stat = ctx.stat(&alloc::format!("/dev/{name}")).unwrap();
        assert_eq!((stat.mode, stat.uid, stat.gid), (S_IFCHR | mode, 0, gid), "{name}");
        assert_eq!(stat.rdev, DevNum::new(1, minor).encode(), "{name}");
        assert!(entries.iter().any(|(n, s)| n == name && *s == stat));
    }
}

#[ktest]
fn mknod_reaches_the_same_driver_and_unknown_minors_are_enxio() {
    let mut ctx = root();
    ctx.mknod("/tmp/mem-again", S_IFCHR | 0o600, DevNum::new(1, 1)).unwrap();
    let fd = ctx.open("/tmp/mem-again", O_RDONLY, 0).unwrap();
    let (bytes, _) = pread_array::<2>(&mut ctx, fd, 0x400).unwrap();
    assert_eq!(u16::from_le_bytes(bytes), 0x3f8);
    ctx.mknod("/tmp/nothing", S_IFCHR | 0o600, DevNum::new(1, 99)).unwrap();
    assert_eq!(ctx.open("/tmp/nothing", O_RDONLY, 0).map(drop), Err(Errno::ENXIO));
    ctx.mknod("/tmp/no-driver", S_IFCHR | 0o600, DevNum::new(42, 0)).unwrap();
    assert_eq!(ctx.open("/tmp/no-driver", O_RDONLY, 0).map(drop), Err(Errno::ENXIO));
    assert_eq!(ctx.mknod("/tmp/mem-again", S_IFCHR | 0o600, DevNum::new(1, 1)), Err(Errno::EEXIST));
    assert_eq!(ctx.mknod("/tmp/regular", 0o100644, DevNum::new(1, 1)), Err(Errno::EINVAL));
    assert_eq!(ctx.mknod("/nowhere/x", S_IFCHR | 0o600, DevNum::new(1, 3)), Err(Errno::ENOENT));
    assert_eq!(ctx.mknod("/dev/null/x", S_IFCHR | 0o600, DevNum::new(1, 3)), Err(Errno::ENOTDIR));
    assert_eq!(ctx.mknod("/proc/x", S_IFCHR | 0o600, DevNum::new(1, 3)), Err(Errno::EPERM));
    let mut operator = as_user("operator");
    assert_eq!(operator.mknod("/tmp/mine", S_IFCHR | 0o666, DevNum::new(1, 1)), Err(Errno::EPERM));
    // An open file outlives its name.
    for name in ["/tmp/mem-again", "/tmp/nothing", "/tmp/no-driver"] {
        ctx.unlink(name).unwrap();
    }
    assert_eq!(pread_array::<2>(&mut ctx, fd, 0x400).map(|r| r.1), Ok(2));
    assert_eq!(ctx.unlink("/tmp/mem-again"), Err(Errno::ENOENT));
    assert_eq!(ctx.unlink("/tmp"), Err(Errno::EISDIR));
}

#[ktest]
fn chown_and_chmod_follow_ownership() {
    let mut ctx = root();
    ctx.mknod("/tmp/owned", S_IFCHR | 0o600, DevNum::new(1, 3)).unwrap();
    let mut operator = as_user("operator");
    assert_eq!(operator.open("/tmp/owned", O_RDWR, 0).map(drop), Err(Errno::EACCES));
    assert_eq!(operator.chmod("/tmp/owned", 0o666), Err(Errno::EPERM));
    assert_eq!(operator.chown("/tmp/owned", Some(1000), None), Err(Errno::EPERM));
    ctx.chown("/tmp/owned", Some(1000), Some(1000)).unwrap();
    operator.chmod("/tmp/owned", 0o640).unwrap();
    assert_eq!(operator.stat("/tmp/owned").unwrap().mode & 0o7777, 0o640);
    assert!(operator.open("/tmp/owned", O_RDWR, 0).is_ok());
    // The owner may move the file to a group they belong to (kmem), not to another.
    operator.chown("/tmp/owned", None, Some(15)).unwrap();
    assert_eq!(operator.chown("/tmp/owned", None, Some(0)), Err(Errno::EPERM));
    assert_eq!(as_user("nobody").open("/tmp/owned", O_RDONLY, 0).map(drop), Err(Errno::EACCES));
    ctx.unlink("/tmp/owned").unwrap();
}

#[ktest]
fn path_and_descriptor_errors() {
    let mut ctx = root();
    assert_eq!(ctx.open("/dev/nonexistent", O_RDONLY, 0).map(drop), Err(Errno::ENOENT));
    assert_eq!(ctx.open("", O_RDONLY, 0).map(drop), Err(Errno::ENOENT));
    assert_eq!(ctx.open("/dev/null/x", O_RDONLY, 0).map(drop), Err(Errno::ENOTDIR));
    assert_eq!(ctx.open("/dev", O_WRONLY, 0).map(drop), Err(Errno::EISDIR));
    assert_eq!(ctx.open("/dev/null", 3, 0).map(drop), Err(Errno::EINVAL));
    // O_CREAT makes a RAM file; O_EXCL refuses an existing name; /proc refuses new names.
    let fd = ctx.open("/tmp/new", O_CREAT | O_WRONLY, 0o644).unwrap();
    ctx.close(fd).unwrap();
    assert_eq!(ctx.stat("/tmp/new").map(|s| s.mode), Ok(vfs_core::mode::S_IFREG | 0o644));
    assert_eq!(
        ctx.open("/tmp/new", O_CREAT | vfs_core::flags::O_EXCL | O_WRONLY, 0o644).map(drop),
        Err(Errno::EEXIST)
    );
    assert_eq!(ctx.open("/proc/new", O_CREAT | O_WRONLY, 0o644).map(drop), Err(Errno::EACCES));
    ctx.unlink("/tmp/new").unwrap();
    let long: String = core::iter::repeat_n('a', 300).collect();
    assert_eq!(ctx.open(&alloc::format!("/tmp/{long}"), O_RDONLY, 0).map(drop), Err(Errno::ENAMETOOLONG));
    assert_eq!(ctx.close(17), Err(Errno::EBADF));
    let mut buf = [0u8; 4];
    assert_eq!(ctx.read(99, UserBuf::from_mut_slice(&mut buf)), Err(Errno::EBADF));
    let fds: alloc::vec::Vec<_> = (0..64).map(|_| ctx.open("/dev/null", O_RDONLY, 0).unwrap()).collect();
    assert_eq!(ctx.open("/dev/null", O_RDONLY, 0).map(drop), Err(Errno::EMFILE));
    ctx.close(fds[10]).unwrap();
    assert_eq!(ctx.open("/dev/null", O_RDONLY, 0), Ok(fds[10]), "the lowest free descriptor");
}

#[ktest]
fn procfs_files_and_the_strict_switch() {
    let mut ctx = root();
    let fd = ctx.open("/proc/iomem", O_RDONLY, 0).unwrap();
    let mut text = alloc::vec![0u8; 8192];
    let n = ctx.read(fd, UserBuf::from_mut_slice(&mut text)).unwrap();
    let text = core::str::from_utf8(&text[..n]).unwrap();
    assert!(text.contains("00100000-") && text.contains(" : System RAM\n"), "{text}");
    assert!(text.contains("  ") && text.contains(" : Kernel code\n"), "{text}");
    assert!(text.lines().next().is_some_and(|line| line.starts_with("00000000-")), "{text}");
    assert_eq!(ctx.open("/proc/iomem", O_WRONLY, 0).map(drop), Err(Errno::EACCES));

    let mut operator = as_user("operator");
    assert_eq!(operator.open("/proc/sys/dev/mem/strict", O_WRONLY, 0).map(drop), Err(Errno::EACCES));
    // Writing a /proc file needs uid 0 whatever its mode says, and no one changes a /proc
    // file's mode or owner (root neither).
    fn refuse(_: bool) -> errno::KResult<alloc::sync::Arc<dyn crate::vfs::ops::FileOps>> {
        Err(Errno::EIO)
    }
    crate::vfs::procfs::register("test/anyone-may-write", 0o666, refuse);
    assert_eq!(operator.open("/proc/test/anyone-may-write", O_WRONLY, 0).map(drop), Err(Errno::EPERM));
    assert_eq!(ctx.chmod("/proc/sys/dev/mem/strict", 0o666), Err(Errno::EPERM));
    assert_eq!(ctx.chown("/proc/sys/dev/mem/strict", Some(1), None), Err(Errno::EPERM));
    assert_eq!(operator.open("/proc/sys/dev/mem/strict", O_WRONLY, 0).map(drop), Err(Errno::EACCES));
    let strict = ctx.open("/proc/sys/dev/mem/strict", O_RDWR, 0).unwrap();
    assert_eq!(ctx.pwrite(strict, UserBuf::from_slice(b"2\n"), 0), Err(Errno::EINVAL));
    assert_eq!(ctx.pwrite(strict, UserBuf::from_slice(b"0\n"), 0), Ok(2));
    assert!(!crate::dev::mem::strict());
    let (state, n) = pread_array::<4>(&mut ctx, strict, 0).unwrap();
    assert_eq!(&state[..n], b"0\n");
    assert_eq!(ctx.pwrite(strict, UserBuf::from_slice(b"1"), 0), Ok(1));
    assert!(crate::dev::mem::strict());
}

#[ktest]
fn root_searches_a_directory_without_x_bits() {
    let mut ctx = root();
    ctx.mknod("/tmp/inside", S_IFCHR | 0o600, DevNum::new(1, 3)).unwrap();
    ctx.chmod("/tmp", 0).unwrap();
    assert!(ctx.stat("/tmp/inside").is_ok(), "root passes a directory whatever its mode");
    assert_eq!(as_user("operator").stat("/tmp/inside").map(drop), Err(Errno::EACCES));
    ctx.chmod("/tmp", 0o1777).unwrap();
    ctx.unlink("/tmp/inside").unwrap();
}

/// The driver's own uid-0 checks, with mode bits that would let anyone in: allkmem is
/// root's for any access, and writing mem, kmem or port is root's.
#[ktest]
fn the_driver_refuses_non_root_whatever_the_node_mode_says() {
    let mut ctx = root();
    let nodes =
        [("/tmp/open-mem", 1), ("/tmp/open-kmem", 2), ("/tmp/open-port", 4), ("/tmp/open-allkmem", 13)];
    for (name, minor) in nodes {
        ctx.mknod(name, S_IFCHR | 0o666, DevNum::new(1, minor)).unwrap();
        ctx.chmod(name, 0o666).unwrap();
    }
    let mut operator = as_user("operator");
    assert_eq!(operator.open("/tmp/open-allkmem", O_RDONLY, 0).map(drop), Err(Errno::EPERM));
    for (name, _) in &nodes[..3] {
        assert_eq!(operator.open(name, O_WRONLY, 0).map(drop), Err(Errno::EPERM), "{name}");
        assert!(operator.open(name, O_RDONLY, 0).is_ok(), "{name}: reads follow the mode bits");
    }
    assert!(ctx.open("/tmp/open-allkmem", O_RDONLY, 0).is_ok());
    for (name, _) in nodes {
        ctx.unlink(name).unwrap();
    }
}

/// ftruncate and truncate as Linux's `do_sys_ftruncate`/`do_sys_truncate` answer: a RAM
/// file is cut or grown with zeros; a device, a read-only fd or a negative length is
/// EINVAL; a directory EISDIR; the ramdisk's files EROFS; no write permission EACCES.
#[ktest]
fn ftruncate_and_truncate_follow_linux() {
    let mut ctx = root();
    let fd = ctx.open("/tmp/cut", O_CREAT | O_RDWR, 0o644).unwrap();
    assert_eq!(ctx.write(fd, UserBuf::from_slice(b"0123456789")), Ok(10));
    ctx.ftruncate(fd, 4).unwrap();
    assert_eq!(ctx.fstat(fd).unwrap().size, 4);
    ctx.ftruncate(fd, 6).unwrap();
    let (bytes, n) = pread_array::<8>(&mut ctx, fd, 0).unwrap();
    assert_eq!(&bytes[..n], b"0123\0\0", "grown with zeros");
    assert_eq!(ctx.ftruncate(fd, -1), Err(Errno::EINVAL));
    let read_only = ctx.open("/tmp/cut", O_RDONLY, 0).unwrap();
    assert_eq!(ctx.ftruncate(read_only, 0), Err(Errno::EINVAL));
    let mem = ctx.open("/dev/mem", O_RDWR, 0).unwrap();
    assert_eq!(ctx.ftruncate(mem, 0), Err(Errno::EINVAL), "busybox dd of=/dev/mem asks this");
    assert_eq!(ctx.ftruncate(99, 0), Err(Errno::EBADF));
    assert_eq!(ctx.truncate("/tmp", 0), Err(Errno::EISDIR));
    assert_eq!(ctx.truncate("/dev/null", 0), Err(Errno::EINVAL));
    assert_eq!(ctx.truncate("/etc/passwd", 0), Err(Errno::EROFS));
    assert_eq!(as_user("nobody").truncate("/tmp/cut", 0), Err(Errno::EACCES));
    ctx.truncate("/tmp/cut", 1).unwrap();
    assert_eq!(ctx.stat("/tmp/cut").unwrap().size, 1);
    ctx.unlink("/tmp/cut").unwrap();
}
