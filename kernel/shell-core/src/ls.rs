//! `ls -l` lines with single spaces between fields, as busybox `ls -l` prints one entry without
//! column alignment (busybox `coreutils/ls.c` `display_single`, coreutils `ls.c` `print_long_format`).

use alloc::format;
use alloc::string::String;

use vfs_core::mode::mode_string;

/// The size column: `MAJOR, MINOR` for a device, bytes otherwise (busybox `coreutils/ls.c` `display_single`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsSize {
    /// A character or block device's numbers.
    Device {
        /// The major number.
        major: u32,
        /// The minor number.
        minor: u32,
    },
    /// A file's size in bytes.
    Bytes(u64),
}

/// `MODE LINKS OWNER GROUP SIZE NAME` (or `MAJOR, MINOR` for SIZE), single-spaced, no newline (busybox `coreutils/ls.c` `display_single`).
pub fn long_line(mode: u32, nlink: u32, owner: &str, group: &str, size: LsSize, name: &str) -> String {
    let mode = mode_string(mode);
    match size {
        LsSize::Device { major, minor } => format!("{mode} {nlink} {owner} {group} {major}, {minor} {name}"),
        LsSize::Bytes(bytes) => format!("{mode} {nlink} {owner} {group} {bytes} {name}"),
    }
}
