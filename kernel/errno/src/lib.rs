//! `Errno`: every error the kernel reports, with Linux's number (`asm-generic/errno-base.h`,
//! `errno.h`) and glibc's `strerror` text, which is what a user sees in a message such as
//! `hexdump: /dev/mem: Operation not permitted`.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

macro_rules! errnos {
    ($($name:ident = $number:literal, $text:literal;)*) => {
        /// A Linux error number.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        pub enum Errno {
            $(#[doc = $text] $name = $number,)*
        }

        impl Errno {
            /// Every error number, in numeric order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name,)*];

            /// The `strerror` text.
            pub const fn text(self) -> &'static str {
                match self { $(Errno::$name => $text,)* }
            }

            /// The symbolic name, such as `EPERM`.
            pub const fn name(self) -> &'static str {
                match self { $(Errno::$name => stringify!($name),)* }
            }

            /// The error with Linux number `number`.
            pub const fn from_number(number: i32) -> Option<Errno> {
                match number { $($number => Some(Errno::$name),)* _ => None }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ETXTBSY = 26, "Text file busy";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    ERANGE = 34, "Numerical result out of range";
    ENAMETOOLONG = 36, "File name too long";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many levels of symbolic links";
    ENODATA = 61, "No data available";
    EOVERFLOW = 75, "Value too large for defined data type";
    EOPNOTSUPP = 95, "Operation not supported";
}

impl Errno {
    /// The number, as a C caller would see it in `errno`.
    pub const fn number(self) -> i32 {
        self as i32
    }
}

impl fmt::Display for Errno {
    /// The `strerror` text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl core::error::Error for Errno {}

/// The result of a kernel operation.
pub type KResult<T> = Result<T, Errno>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_texts_match_linux() {
        assert_eq!(Errno::EPERM.number(), 1);
        assert_eq!(Errno::EFAULT.number(), 14);
        assert_eq!(Errno::ENOTTY.number(), 25);
        assert_eq!(Errno::EOVERFLOW.number(), 75);
        assert_eq!(Errno::EOPNOTSUPP.number(), 95);
        assert_eq!(Errno::EACCES.text(), "Permission denied");
        assert_eq!(Errno::ENOTTY.text(), "Inappropriate ioctl for device");
        assert_eq!(Errno::EIO.name(), "EIO");
    }

    #[test]
    fn every_number_is_distinct_and_round_trips() {
        for pair in Errno::ALL.windows(2) {
            assert!(pair[0].number() < pair[1].number(), "{:?} and {:?} out of order", pair[0], pair[1]);
        }
        for &errno in Errno::ALL {
            assert_eq!(Errno::from_number(errno.number()), Some(errno));
        }
        assert_eq!(Errno::from_number(0), None);
        assert_eq!(Errno::from_number(4096), None);
    }
}
