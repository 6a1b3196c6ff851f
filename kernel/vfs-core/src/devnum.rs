//! Device numbers and the memory-device nodes of docs/devices.md (Linux
//! `include/linux/kdev_t.h`, `Documentation/admin-guide/devices.txt` major 1).

use crate::cred::{Gid, KMEM_GID, Uid};
use crate::mode::S_IFCHR;

/// A device number: the driver (major) and the device it drives (minor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DevNum {
    /// The driver.
    pub major: u32,
    /// The device within the driver.
    pub minor: u32,
}

impl DevNum {
    /// The device number `major`, `minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Linux's new_encode_dev: (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12), as a u64 (valid for major < 4096, minor < 2^20)
    ///
    /// Beyond that range this is glibc's `gnu_dev_makedev` (major bits 12-31 go to bits 44-63),
    /// so every pair encodes to a distinct `st_rdev` and `decode` undoes it; inside the range
    /// both formulas agree.
    pub const fn encode(self) -> u64 {
        let (major, minor) = (self.major as u64, self.minor as u64);
        (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
    }

    /// The inverse of `encode` (glibc's `gnu_dev_major`/`gnu_dev_minor`; Linux's new_decode_dev for values below 2^32).
    pub const fn decode(dev: u64) -> Self {
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        Self { major: major as u32, minor: minor as u32 }
    }
}

/// Major number of the memory devices (Linux `MEM_MAJOR`, `include/uapi/linux/major.h`).
pub const MEM_MAJOR: u32 = 1;

/// Minor numbers under `MEM_MAJOR` (Linux `drivers/char/mem.c` `devlist`; allkmem is illumos').
pub mod minor {
    /// /dev/mem: physical memory.
    pub const MEM: u32 = 1;
    /// /dev/kmem: kernel virtual memory, no device pages.
    pub const KMEM: u32 = 2;
    /// /dev/null.
    pub const NULL: u32 = 3;
    /// /dev/port: I/O ports.
    pub const PORT: u32 = 4;
    /// /dev/zero.
    pub const ZERO: u32 = 5;
    /// /dev/full.
    pub const FULL: u32 = 7;
    /// /dev/allkmem: kernel virtual memory, device pages included.
    pub const ALLKMEM: u32 = 13;
}

/// A /dev node of docs/devices.md: name, minor, mode (permission bits only), owner uid, group gid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// The name under /dev.
    pub name: &'static str,
    /// The device number.
    pub dev: DevNum,
    /// The permission bits, without `S_IFCHR`.
    pub mode: u32,
    /// The owner.
    pub uid: Uid,
    /// The group.
    pub gid: Gid,
}

impl NodeSpec {
    /// The full `st_mode`: `S_IFCHR` with the permission bits.
    pub const fn stat_mode(&self) -> u32 {
        S_IFCHR | self.mode
    }
}

const fn node(name: &'static str, minor: u32, mode: u32, gid: Gid) -> NodeSpec {
    NodeSpec { name, dev: DevNum::new(MEM_MAJOR, minor), mode, uid: 0, gid }
}

/// Exactly the table of docs/devices.md: mem 1,1 0660 root:kmem; kmem 1,2 0640 root:kmem; null 1,3 0666 root:root; port 1,4 0660 root:kmem; zero 1,5 0666; full 1,7 0666; allkmem 1,13 0600 root:root
pub const MEM_NODES: &[NodeSpec] = &[
    node("mem", minor::MEM, 0o660, KMEM_GID),
    node("kmem", minor::KMEM, 0o640, KMEM_GID),
    node("null", minor::NULL, 0o666, 0),
    node("port", minor::PORT, 0o660, KMEM_GID),
    node("zero", minor::ZERO, 0o666, 0),
    node("full", minor::FULL, 0o666, 0),
    node("allkmem", minor::ALLKMEM, 0o600, 0),
];

/// Major number of the terminals (Linux `TTYAUX_MAJOR`): /dev/tty 5,0, /dev/console 5,1.
pub const TTYAUX_MAJOR: u32 = 5;
/// /dev/tty: the caller's terminal (here always the console).
pub const TTY_MINOR: u32 = 0;
/// /dev/console.
pub const CONSOLE_MINOR: u32 = 1;

/// The terminal nodes: tty 5,0 0666 (anyone's own terminal), console 5,1 0600 root, as
/// on Linux.
pub const TTY_NODES: &[NodeSpec] = &[
    NodeSpec { name: "console", dev: DevNum::new(TTYAUX_MAJOR, CONSOLE_MINOR), mode: 0o600, uid: 0, gid: 0 },
    NodeSpec { name: "tty", dev: DevNum::new(TTYAUX_MAJOR, TTY_MINOR), mode: 0o666, uid: 0, gid: 0 },
];

/// The node of docs/devices.md's table with minor `minor` under `MEM_MAJOR`; None means open gives ENXIO.
pub fn node_by_minor(minor: u32) -> Option<&'static NodeSpec> {
    MEM_NODES.iter().find(|node| node.dev.minor == minor)
}

/// The node of docs/devices.md's table called `name` (without "/dev/").
pub fn node_by_name(name: &str) -> Option<&'static NodeSpec> {
    MEM_NODES.iter().find(|node| node.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mode::mode_string;
    use proptest::prelude::*;

    #[test]
    fn linux_encodings() {
        assert_eq!(DevNum::new(1, 1).encode(), 0x101);
        assert_eq!(DevNum::new(1, 3).encode(), 0x103);
        assert_eq!(DevNum::new(8, 0).encode(), 0x800);
        assert_eq!(DevNum::new(1, 0x12345).encode(), 0x1230_0145);
        assert_eq!(DevNum::new(0xfff, 0xfffff).encode(), 0xffff_ffff);
        assert_eq!(DevNum::decode(0x0104), DevNum::new(1, 4));
        assert_eq!(DevNum::decode(0x1230_0145), DevNum::new(1, 0x12345));
        assert_eq!(DevNum::new(0x1000, 0).encode(), 1 << 44);
        assert_eq!(DevNum::new(u32::MAX, u32::MAX).encode(), u64::MAX);
    }

    #[test]
    fn table_of_part_0() {
        let rows: [(&str, u32, &str, u32); 7] = [
            ("mem", 1, "crw-rw----", KMEM_GID),
            ("kmem", 2, "crw-r-----", KMEM_GID),
            ("null", 3, "crw-rw-rw-", 0),
            ("port", 4, "crw-rw----", KMEM_GID),
            ("zero", 5, "crw-rw-rw-", 0),
            ("full", 7, "crw-rw-rw-", 0),
            ("allkmem", 13, "crw-------", 0),
        ];
        assert_eq!(MEM_NODES.len(), rows.len());
        for (node, (name, minor, ls, gid)) in MEM_NODES.iter().zip(rows) {
            assert_eq!((node.name, node.dev, node.uid, node.gid), (name, DevNum::new(1, minor), 0, gid));
            assert_eq!(mode_string(node.stat_mode()).as_str(), ls, "{name}");
            assert_eq!(node.mode & !0o777, 0);
            assert_eq!(node_by_minor(minor), Some(node));
            assert_eq!(node_by_name(name), Some(node));
        }
        for absent in [0, 6, 8, 9, 11, 12, 14, u32::MAX] {
            assert_eq!(node_by_minor(absent), None, "minor {absent}");
        }
        assert_eq!(node_by_name("random"), None);
    }

    proptest! {
        #[test]
        fn encode_matches_linux_in_its_range(major in 0u32..4096, minor in 0u32..(1 << 20)) {
            let linux = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
            let dev = DevNum::new(major, minor);
            prop_assert_eq!(dev.encode(), u64::from(linux));
            prop_assert_eq!(DevNum::decode(u64::from(linux)), dev);
        }

        #[test]
        fn encode_round_trips_and_is_injective(a: (u32, u32), b: (u32, u32)) {
            let (x, y) = (DevNum::new(a.0, a.1), DevNum::new(b.0, b.1));
            prop_assert_eq!(DevNum::decode(x.encode()), x);
            prop_assert_eq!(x.encode() == y.encode(), x == y);
        }

        #[test]
        fn decode_round_trips_every_u64(dev: u64) {
            prop_assert_eq!(DevNum::decode(dev).encode(), dev);
        }
    }
}
