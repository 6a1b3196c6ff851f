//! hexdump, devmem and dd: reading and writing memory through /dev/mem and friends.

use alloc::string::String;
use alloc::vec;

use errno::Errno;
use shell_core::dd::{DdCounts, dd_report, parse_dd};
use shell_core::devmem::{DevmemError, format_value, parse_devmem};
use shell_core::getopt::Getopt;
use shell_core::hexdump::Canonical;
use shell_core::num::parse_u64;
use vfs_core::flags::{MAP_SHARED, O_RDONLY, O_RDWR, O_SYNC, O_WRONLY, PROT_READ, PROT_WRITE, SEEK_SET};

use super::{fail, help_requested, usage};
use crate::console;
use crate::print;
use crate::vfs::userbuf::Width;
use crate::vfs::{Context, Fd, UserBuf};

/// Moves the file offset to `offset` (any u64: /dev/mem and kmem take unsigned offsets).
fn seek_to(ctx: &mut Context, fd: Fd, offset: u64) -> Result<(), Errno> {
    ctx.lseek(fd, offset as i64, SEEK_SET).map(drop)
}

/// `hexdump -C [-s OFFSET] [-n LENGTH] FILE` (util-linux's canonical format).
pub fn hexdump(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let (mut skip, mut length) = (0u64, None);
    let mut options = Getopt::new(args, "Cs:n:");
    for option in options.by_ref() {
        let number = |text: &str| parse_u64(text).map_err(|_| print!("hexdump: invalid number '{text}'\n"));
        match option {
            Ok(('C', _)) => {}
            Ok(('s', Some(text))) => match number(text) {
                Ok(value) => skip = value,
                Err(()) => return 1,
            },
            Ok(('n', Some(text))) => match number(text) {
                Ok(value) => length = Some(value),
                Err(()) => return 1,
            },
            _ => return usage("hexdump", 1),
        }
    }
    let [path] = options.operands() else { return usage("hexdump", 1) };
    let fd = match ctx.open(path, O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(errno) => return fail("hexdump", path, errno),
    };
    let wide = skip.saturating_add(length.unwrap_or(0)) > 0xffff_ffff;
    let mut dump = Canonical::new(skip, wide);
    let mut out = String::new();
    let mut status = 0;
    if skip != 0
        && let Err(errno) = seek_to(ctx, fd, skip)
    {
        let _ = ctx.close(fd);
        return fail("hexdump", path, errno);
    }
    let mut left = length.unwrap_or(u64::MAX);
    let mut buf = vec![0u8; 4096];
    while left > 0 {
        if super::interrupted() {
            let _ = ctx.close(fd);
            return super::INTERRUPTED;
        }
        let want = (buf.len() as u64).min(left) as usize;
        match ctx.read(fd, UserBuf::from_mut_slice(&mut buf[..want])) {
            Ok(0) => break,
            Ok(n) => {
                dump.push(&buf[..n], &mut out);
                print!("{out}");
                out.clear();
                left -= n as u64;
            }
            Err(errno) => {
                dump.finish(&mut out);
                print!("{out}");
                let _ = ctx.close(fd);
                return fail("hexdump", path, errno);
            }
        }
    }
    dump.finish(&mut out);
    print!("{out}");
    if ctx.close(fd).is_err() {
        status = 1;
    }
    status
}

/// `devmem ADDRESS [WIDTH [VALUE]]` (busybox): maps the page of ADDRESS from /dev/mem
/// (O_SYNC: uncached) and reads or writes one value of WIDTH bits with one access.
pub fn devmem(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let parsed = match parse_devmem(&args[1..]) {
        Ok(parsed) => parsed,
        Err(DevmemError::Usage) => return usage("devmem", 1),
        Err(DevmemError::BadWidth) => {
            print!("devmem: invalid width '{}' (8, 16, 32 or 64)\n", args.get(2).map_or("", String::as_str));
            return 1;
        }
        Err(DevmemError::BadAddress) => {
            print!("devmem: invalid address '{}'\n", args.get(1).map_or("", String::as_str));
            return 1;
        }
        Err(_) => {
            print!("devmem: invalid value '{}'\n", args.get(3).map_or("", String::as_str));
            return 1;
        }
    };
    // parse_devmem accepts only 8, 16, 32 and 64.
    let width = Width::from_bytes(parsed.width_bits as usize / 8).unwrap_or(Width::U32);
    let bytes = width.bytes() as u64;
    if parsed.address % bytes != 0 {
        print!("devmem: {:#x}: address not aligned to {} bits\n", parsed.address, parsed.width_bits);
        return 1;
    }
    let flags = if parsed.value.is_some() { O_RDWR | O_SYNC } else { O_RDONLY | O_SYNC };
    let fd = match ctx.open("/dev/mem", flags, 0) {
        Ok(fd) => fd,
        Err(errno) => return fail("devmem", "/dev/mem", errno),
    };
    let page = parsed.address & !0xfff;
    let prot = if parsed.value.is_some() { PROT_READ | PROT_WRITE } else { PROT_READ };
    let map = match ctx.mmap(fd, page, 4096, prot, MAP_SHARED) {
        Ok(map) => map,
        Err(errno) => {
            let _ = ctx.close(fd);
            return fail("devmem", "mmap", errno);
        }
    };
    // SAFETY: [map, map+4096) is the mapping this context made just above (mmap of
    // /dev/mem, writable only when PROT_WRITE was asked, which `value` decides), kept
    // until the munmap below; no Rust reference points into it.
    #[allow(unsafe_code)]
    let register = unsafe { UserBuf::from_raw(map, 4096) };
    let offset = (parsed.address - page) as usize;
    let status = match parsed.value {
        None => match register.read_value(offset, width) {
            Ok(value) => {
                print!("{}\n", format_value(value, parsed.width_bits));
                0
            }
            Err(errno) => fail("devmem", "read", errno),
        },
        Some(value) => match register.write_value(offset, width, value) {
            Ok(()) => 0,
            Err(errno) => fail("devmem", "write", errno),
        },
    };
    let _ = ctx.munmap(map, 4096);
    let _ = ctx.close(fd);
    status
}

/// `dd if=FILE [of=FILE] [bs=N] [count=N] [skip=N] [seek=N]` (busybox): blocks of `bs`
/// bytes, full and partial records counted, statistics with the real elapsed time.
/// Without `of=` the data goes to the console.
pub fn dd(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let parsed = match parse_dd(&args[1..]) {
        Ok(parsed) => parsed,
        Err(message) => {
            print!("dd: {message}\n");
            return 1;
        }
    };
    let Some(input) = parsed.input.as_deref() else {
        print!("dd: if= is needed: this console has no standard input for dd\n");
        return 1;
    };
    let input_fd = match ctx.open(input, O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(errno) => return fail("dd", input, errno),
    };
    // As dd: the output is made if missing, and cut at the seek offset when it is a
    // regular file (seek=0: emptied).
    let out_flags =
        O_WRONLY | vfs_core::flags::O_CREAT | if parsed.seek == 0 { vfs_core::flags::O_TRUNC } else { 0 };
    let output_fd = match parsed.output.as_deref().map(|path| (path, ctx.open(path, out_flags, 0o644))) {
        None => None,
        Some((_, Ok(fd))) => Some(fd),
        Some((path, Err(errno))) => {
            let _ = ctx.close(input_fd);
            return fail("dd", path, errno);
        }
    };
    let bs = parsed.bs;
    let mut counts = DdCounts { in_full: 0, in_partial: 0, out_full: 0, out_partial: 0, bytes: 0 };
    let mut status = 0;
    let started = ctx.monotonic_ns();
    let positioned = seek_to(ctx, input_fd, parsed.skip.saturating_mul(bs as u64))
        .map_err(|e| (input, e))
        .and_then(|()| match output_fd {
            Some(fd) => seek_to(ctx, fd, parsed.seek.saturating_mul(bs as u64))
                .map_err(|e| (parsed.output.as_deref().unwrap_or(""), e)),
            None => Ok(()),
        });
    if let Err((path, errno)) = positioned {
        status = fail("dd", path, errno);
    } else {
        let mut buf = vec![0u8; bs];
        while parsed.count.is_none_or(|count| counts.in_full + counts.in_partial < count) {
            if super::interrupted() {
                status = super::INTERRUPTED;
                break;
            }
            let n = match ctx.read(input_fd, UserBuf::from_mut_slice(&mut buf)) {
                Ok(0) => break,
                Ok(n) => n,
                Err(errno) => {
                    status = fail("dd", input, errno);
                    break;
                }
            };
            if n == bs {
                counts.in_full += 1;
            } else {
                counts.in_partial += 1;
            }
            let written = match output_fd {
                None => {
                    console::write_bytes(&buf[..n]);
                    Ok(n)
                }
                Some(fd) => ctx.write(fd, UserBuf::from_slice(&buf[..n])),
            };
            match written {
                Ok(w) => {
                    counts.bytes += w as u64;
                    if w == bs {
                        counts.out_full += 1;
                    } else {
                        counts.out_partial += 1;
                    }
                    if w < n {
                        break;
                    }
                }
                Err(errno) => {
                    status = fail("dd", parsed.output.as_deref().unwrap_or("stdout"), errno);
                    break;
                }
            }
        }
    }
    let elapsed = ctx.monotonic_ns().saturating_sub(started);
    print!("{}", dd_report(&counts, elapsed));
    let _ = ctx.close(input_fd);
    if let Some(fd) = output_fd {
        let _ = ctx.close(fd);
    }
    status
}
