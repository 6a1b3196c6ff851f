use alloc::format;
use proptest::prelude::*;
use vfs_core::mode::{S_IFCHR, S_IFDIR, S_IFMT};

use crate::ls::{LsSize, long_line};

#[test]
fn device_and_directory_lines() {
    assert_eq!(
        long_line(S_IFCHR | 0o660, 1, "root", "kmem", LsSize::Device { major: 1, minor: 1 }, "mem"),
        "crw-rw---- 1 root kmem 1, 1 mem"
    );
    assert_eq!(
        long_line(S_IFCHR | 0o666, 1, "root", "root", LsSize::Device { major: 1, minor: 13 }, "allkmem"),
        "crw-rw-rw- 1 root root 1, 13 allkmem"
    );
    assert_eq!(
        long_line(S_IFDIR | 0o755, 2, "root", "root", LsSize::Bytes(0), "dev"),
        "drwxr-xr-x 2 root root 0 dev"
    );
    assert_eq!(
        long_line(0o100_644, 1, "1000", "15", LsSize::Bytes(4096), "a b"),
        "-rw-r--r-- 1 1000 15 4096 a b"
    );
    assert_eq!(
        long_line(S_IFCHR | 0o600, 1, "root", "root", LsSize::Device { major: 1, minor: 4 }, "port"),
        "crw------- 1 root root 1, 4 port"
    );
}

proptest! {
    #[test]
    fn fields_are_single_spaced(mode in 0u32..0o200_000, nlink: u32, major: u32, minor: u32, bytes: u64, device: bool, name in "[a-z.]{1,12}") {
        let size = if device { LsSize::Device { major, minor } } else { LsSize::Bytes(bytes) };
        let line = long_line(mode, nlink, "root", "kmem", size, &name);
        let expected_size = if device { format!("{major}, {minor}") } else { format!("{bytes}") };
        prop_assert_eq!(&line, &format!("{} {nlink} root kmem {expected_size} {name}", vfs_core::mode::mode_string(mode)));
        prop_assert!(!line.contains("  ") && !line.ends_with('\n'));
        prop_assert_eq!(line.as_bytes()[0] == b'c', mode & S_IFMT == S_IFCHR);
    }
}
