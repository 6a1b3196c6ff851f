//! ls, cat, mknod, chown, chmod, rm.

use alloc::format;
use alloc::string::String;

use shell_core::getopt::Getopt;
use shell_core::ls::{LsSize, long_line};
use shell_core::users::{group_name, parse_owner, user_name};
use vfs_core::devnum::DevNum;
use vfs_core::flags::O_RDONLY;
use vfs_core::mode::{FileType, S_IFCHR, file_type};

use super::{fail, help_requested, usage};
use crate::console;
use crate::print;
use crate::vfs::{Context, Stat, UserBuf};

fn ls_line(name: &str, stat: &Stat) -> String {
    let size = if file_type(stat.mode) == FileType::CharDevice {
        let dev = DevNum::decode(stat.rdev);
        LsSize::Device { major: dev.major, minor: dev.minor }
    } else {
        LsSize::Bytes(stat.size)
    };
    long_line(stat.mode, stat.nlink, &user_name(stat.uid), &group_name(stat.gid), size, name)
}

/// `ls [-l] [PATH]`: one name a line; a file lists itself.
pub fn ls(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let mut long = false;
    let mut options = Getopt::new(args, "l");
    for option in options.by_ref() {
        match option {
            Ok(('l', _)) => long = true,
            _ => return usage("ls", 1),
        }
    }
    let operands = options.operands();
    let paths: &[String] = if operands.is_empty() { &[] } else { operands };
    let default = [String::from("/")];
    let mut status = 0;
    for path in if paths.is_empty() { &default[..] } else { paths } {
        let stat = match ctx.stat(path) {
            Ok(stat) => stat,
            Err(errno) => {
                status = fail("ls", path, errno);
                continue;
            }
        };
        if file_type(stat.mode) != FileType::Directory {
            let name = path.as_str();
            print!("{}\n", if long { ls_line(name, &stat) } else { String::from(name) });
            continue;
        }
        match ctx.readdir(path) {
            Ok(entries) => {
                for (name, stat) in entries {
                    print!("{}\n", if long { ls_line(&name, &stat) } else { name });
                }
            }
            Err(errno) => status = fail("ls", path, errno),
        }
    }
    status
}

/// `cat FILE...`: the bytes as they are.
pub fn cat(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    if args.len() < 2 {
        return usage("cat", 1);
    }
    let mut status = 0;
    let mut buf = alloc::vec![0u8; 4096];
    for path in &args[1..] {
        let fd = match ctx.open(path, O_RDONLY, 0) {
            Ok(fd) => fd,
            Err(errno) => {
                status = fail("cat", path, errno);
                continue;
            }
        };
        loop {
            if super::interrupted() {
                let _ = ctx.close(fd);
                return super::INTERRUPTED;
            }
            match ctx.read(fd, UserBuf::from_mut_slice(&mut buf)) {
                Ok(0) => break,
                Ok(n) => console::write_bytes(&buf[..n]),
                Err(errno) => {
                    status = fail("cat", path, errno);
                    break;
                }
            }
        }
        let _ = ctx.close(fd);
    }
    status
}

/// `mknod [-m MODE] PATH c MAJOR MINOR` (mode 0644 by default: 0666 less a 022 umask).
pub fn mknod(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let mut mode = 0o644;
    let mut options = Getopt::new(args, "m:");
    for option in options.by_ref() {
        match option {
            Ok(('m', Some(text))) => match shell_core::num::parse_octal_mode(text) {
                Ok(value) => mode = value,
                Err(_) => {
                    print!("mknod: invalid mode '{text}'\n");
                    return 1;
                }
            },
            _ => return usage("mknod", 1),
        }
    }
    let [path, kind, major, minor] = options.operands() else { return usage("mknod", 1) };
    if kind != "c" && kind != "u" {
        print!("mknod: {path}: only character devices (c) are supported\n");
        return 1;
    }
    let number = |text: &str| shell_core::num::parse_u64(text).ok().and_then(|n| u32::try_from(n).ok());
    let (Some(major), Some(minor)) = (number(major), number(minor)) else {
        print!("mknod: invalid device number\n");
        return 1;
    };
    match ctx.mknod(path, S_IFCHR | mode, DevNum::new(major, minor)) {
        Ok(()) => 0,
        Err(errno) => fail("mknod", path, errno),
    }
}

/// `chown OWNER[:GROUP] PATH`.
pub fn chown(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let [_, spec, path] = args else { return usage("chown", 1) };
    let (uid, gid) = match parse_owner(spec) {
        Ok(ids) => ids,
        Err(message) => {
            print!("chown: {message}\n");
            return 1;
        }
    };
    match ctx.chown(path, uid, gid) {
        Ok(()) => 0,
        Err(errno) => fail("chown", &format!("changing ownership of '{path}'"), errno),
    }
}

/// `chmod MODE PATH`, MODE in octal.
pub fn chmod(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let [_, mode, path] = args else { return usage("chmod", 1) };
    let Ok(mode) = shell_core::num::parse_octal_mode(mode) else {
        print!("chmod: invalid mode: '{mode}'\n");
        return 1;
    };
    match ctx.chmod(path, mode) {
        Ok(()) => 0,
        Err(errno) => fail("chmod", &format!("changing permissions of '{path}'"), errno),
    }
}

/// `rm PATH...`.
pub fn rm(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    if args.len() < 2 {
        return usage("rm", 1);
    }
    let mut status = 0;
    for path in &args[1..] {
        if let Err(errno) = ctx.unlink(path) {
            status = fail("rm", &format!("cannot remove '{path}'"), errno);
        }
    }
    status
}
