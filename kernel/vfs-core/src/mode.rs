//! The `st_mode` word: file type and permission bits (POSIX `<sys/stat.h>`, Linux
//! `include/uapi/linux/stat.h`), the `ls -l` mode string (coreutils `filemodestring`), and
//! octal modes as `chmod` and `mknod -m` take them.

use core::fmt;
use errno::Errno;

/// Mask of the file-type bits.
pub const S_IFMT: u32 = 0o170000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Block device.
pub const S_IFBLK: u32 = 0o060000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
/// FIFO.
pub const S_IFIFO: u32 = 0o010000;
/// Set-user-ID on execution.
pub const S_ISUID: u32 = 0o4000;
/// Set-group-ID on execution.
pub const S_ISGID: u32 = 0o2000;
/// Sticky bit (restricted deletion in directories).
pub const S_ISVTX: u32 = 0o1000;
/// Mask of the permission bits, setuid, setgid and sticky included (what `chmod` may change).
pub const S_IALLUGO: u32 = 0o7777;

/// The file types this kernel creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// `S_IFREG`.
    Regular,
    /// `S_IFDIR`.
    Directory,
    /// `S_IFCHR`.
    CharDevice,
    /// Any other value of the type bits (block devices, FIFOs, links, sockets, garbage).
    Unknown,
}

/// The type encoded in `mode`'s `S_IFMT` bits.
pub fn file_type(mode: u32) -> FileType {
    match mode & S_IFMT {
        S_IFREG => FileType::Regular,
        S_IFDIR => FileType::Directory,
        S_IFCHR => FileType::CharDevice,
        _ => FileType::Unknown,
    }
}

/// "crw-rw----" style, 10 characters, as ls -l prints (s/S/t/T for setuid/setgid/sticky).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeString([u8; 10]);

impl ModeString {
    /// The ten characters.
    pub fn as_str(&self) -> &str {
        // Every byte comes from an ASCII literal below, so this never takes the fallback.
        core::str::from_utf8(&self.0).unwrap_or("??????????")
    }
}

impl fmt::Display for ModeString {
    /// Writes the ten characters (padding and width are honoured).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The `ls -l` string of `mode`: type letter (coreutils' `ftypelet`, `?` for unknown), then rwx triples.
pub fn mode_string(mode: u32) -> ModeString {
    let kind = match mode & S_IFMT {
        S_IFREG => b'-',
        S_IFDIR => b'd',
        S_IFCHR => b'c',
        S_IFBLK => b'b',
        S_IFIFO => b'p',
        S_IFLNK => b'l',
        S_IFSOCK => b's',
        _ => b'?',
    };
    let bit = |mask: u32, letter: u8| if mode & mask != 0 { letter } else { b'-' };
    // The execute slot also shows a special bit: lower case when x is set, upper case when not.
    let exec = |x: u32, special: u32, set: u8, unset: u8| match (mode & x != 0, mode & special != 0) {
        (true, true) => set,
        (false, true) => unset,
        (true, false) => b'x',
        (false, false) => b'-',
    };
    ModeString([
        kind,
        bit(0o400, b'r'),
        bit(0o200, b'w'),
        exec(0o100, S_ISUID, b's', b'S'),
        bit(0o040, b'r'),
        bit(0o020, b'w'),
        exec(0o010, S_ISGID, b's', b'S'),
        bit(0o004, b'r'),
        bit(0o002, b'w'),
        exec(0o001, S_ISVTX, b't', b'T'),
    ])
}

/// An octal mode for chmod/mknod -m: digits 0-7 only, value <= 0o7777, else EINVAL.
///
/// Leading zeros are allowed ("0660", "00000640"); an empty string, a sign, spaces or a
/// symbolic mode ("u+x") are EINVAL.
pub fn parse_octal_mode(text: &str) -> Result<u32, Errno> {
    if text.is_empty() {
        return Err(Errno::EINVAL);
    }
    let mut value: u32 = 0;
    for byte in text.bytes() {
        if !(b'0'..=b'7').contains(&byte) {
            return Err(Errno::EINVAL);
        }
        // value <= 0o7777 here, so this cannot overflow.
        value = value * 8 + u32::from(byte - b'0');
        if value > S_IALLUGO {
            return Err(Errno::EINVAL);
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::String;

    #[test]
    fn device_nodes_print_like_ls() {
        assert_eq!(format!("{}", mode_string(S_IFCHR | 0o660)), "crw-rw----");
        assert_eq!(mode_string(S_IFCHR | 0o640).as_str(), "crw-r-----");
        assert_eq!(mode_string(S_IFCHR | 0o666).as_str(), "crw-rw-rw-");
        assert_eq!(mode_string(S_IFCHR | 0o600).as_str(), "crw-------");
        assert_eq!(mode_string(S_IFDIR | 0o755).as_str(), "drwxr-xr-x");
        assert_eq!(mode_string(S_IFREG | 0o444).as_str(), "-r--r--r--");
    }

    #[test]
    fn special_bits_use_s_and_t() {
        assert_eq!(mode_string(S_IFREG | 0o4755).as_str(), "-rwsr-xr-x");
        assert_eq!(mode_string(S_IFREG | 0o4644).as_str(), "-rwSr--r--");
        assert_eq!(mode_string(S_IFREG | 0o2755).as_str(), "-rwxr-sr-x");
        assert_eq!(mode_string(S_IFREG | 0o2644).as_str(), "-rw-r-Sr--");
        assert_eq!(mode_string(S_IFDIR | 0o1777).as_str(), "drwxrwxrwt");
        assert_eq!(mode_string(S_IFDIR | 0o1770).as_str(), "drwxrwx--T");
        assert_eq!(mode_string(0o7000).as_str(), "?--S--S--T");
    }

    #[test]
    fn other_types_get_their_letters() {
        assert_eq!(mode_string(S_IFBLK | 0o660).as_str(), "brw-rw----");
        assert_eq!(mode_string(S_IFIFO | 0o644).as_str(), "prw-r--r--");
        assert_eq!(mode_string(S_IFLNK | 0o777).as_str(), "lrwxrwxrwx");
        assert_eq!(mode_string(S_IFSOCK | 0o755).as_str(), "srwxr-xr-x");
        assert_eq!(format!("[{:>12}]", mode_string(S_IFCHR | 0o666)), "[  crw-rw-rw-]");
    }

    #[test]
    fn file_types() {
        assert_eq!(file_type(S_IFCHR | 0o660), FileType::CharDevice);
        assert_eq!(file_type(S_IFDIR | 0o755), FileType::Directory);
        assert_eq!(file_type(S_IFREG), FileType::Regular);
        assert_eq!(file_type(S_IFBLK | 0o660), FileType::Unknown);
        assert_eq!(file_type(0o644), FileType::Unknown);
        assert_eq!(file_type(S_IFCHR | S_IFDIR), FileType::Unknown);
    }

    #[test]
    fn octal_modes() {
        assert_eq!(parse_octal_mode("660"), Ok(0o660));
        assert_eq!(parse_octal_mode("0640"), Ok(0o640));
        assert_eq!(parse_octal_mode("7777"), Ok(0o7777));
        assert_eq!(parse_octal_mode("0"), Ok(0));
        assert_eq!(parse_octal_mode("000000000000000000000000000600"), Ok(0o600));
        for bad in ["", "10000", "8", "0o660", "+660", "-1", " 660", "660 ", "u+x", "6 6", "٣"] {
            assert_eq!(parse_octal_mode(bad), Err(Errno::EINVAL), "{bad:?}");
        }
        assert_eq!(parse_octal_mode("77777777777777777777777"), Err(Errno::EINVAL));
    }

    /// The permission characters rebuilt from a different angle: per class, per bit.
    fn oracle_perms(mode: u32) -> String {
        let specials = [(S_ISUID, 's'), (S_ISGID, 's'), (S_ISVTX, 't')];
        let mut out = String::new();
        for (class, (special, letter)) in specials.into_iter().enumerate() {
            let bits = (mode >> (6 - 3 * class)) & 7;
            out.push(if bits & 4 != 0 { 'r' } else { '-' });
            out.push(if bits & 2 != 0 { 'w' } else { '-' });
            out.push(match (bits & 1 != 0, mode & special != 0) {
                (x, true) if x => letter,
                (_, true) => letter.to_ascii_uppercase(),
                (true, false) => 'x',
                (false, false) => '-',
            });
        }
        out
    }

    proptest! {
        #[test]
        fn mode_string_matches_oracle(mode: u32) {
            let text = mode_string(mode);
            prop_assert_eq!(text.as_str().len(), 10);
            prop_assert_eq!(&text.as_str()[1..], oracle_perms(mode));
            let kind = text.as_str().as_bytes()[0];
            prop_assert_eq!(kind == b'c', file_type(mode) == FileType::CharDevice);
            prop_assert_eq!(kind == b'd', file_type(mode) == FileType::Directory);
            prop_assert_eq!(kind == b'-', file_type(mode) == FileType::Regular);
        }

        #[test]
        fn octal_round_trips(mode in 0u32..=0o7777, zeros in 0usize..6) {
            let text = format!("{}{:o}", "0".repeat(zeros), mode);
            prop_assert_eq!(parse_octal_mode(&text), Ok(mode));
        }

        #[test]
        fn octal_too_large_is_einval(mode in 0o10000u64..) {
            prop_assert_eq!(parse_octal_mode(&format!("{mode:o}")), Err(Errno::EINVAL));
        }

        #[test]
        fn octal_parse_never_panics_and_accepts_only_octal(text in "\\PC{0,12}|[0-9+ -]{0,8}") {
            if let Ok(mode) = parse_octal_mode(&text) {
                prop_assert!(mode <= 0o7777);
                prop_assert!(!text.is_empty() && text.bytes().all(|b| (b'0'..=b'7').contains(&b)));
                let digits = text.trim_start_matches('0');
                let digits = if digits.is_empty() { "0" } else { digits };
                prop_assert_eq!(u64::from_str_radix(digits, 8), Ok(u64::from(mode)));
            }
        }
    }
}
