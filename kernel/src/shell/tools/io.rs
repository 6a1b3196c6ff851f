//! inb and outb: one byte of I/O port space through /dev/port.

use alloc::string::String;

use shell_core::num::parse_u64;
use vfs_core::flags::{O_RDONLY, O_WRONLY};

use super::{fail, help_requested, usage};
use crate::print;
use crate::vfs::{Context, UserBuf};

fn port_number(text: &str) -> Option<u64> {
    parse_u64(text).ok().filter(|&port| port <= 0xffff)
}

/// `inb PORT`: prints `0x` and two hex digits.
pub fn inb(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let [_, port] = args else { return usage("inb", 1) };
    let Some(port) = port_number(port) else {
        print!("inb: invalid port '{port}' (0 to 0xffff)\n");
        return 1;
    };
    let fd = match ctx.open("/dev/port", O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(errno) => return fail("inb", "/dev/port", errno),
    };
    let mut byte = [0u8];
    let status = match ctx.pread(fd, UserBuf::from_mut_slice(&mut byte), port) {
        Ok(_) => {
            print!("0x{:02x}\n", byte[0]);
            0
        }
        Err(errno) => fail("inb", "/dev/port", errno),
    };
    let _ = ctx.close(fd);
    status
}

/// `outb PORT VALUE`.
pub fn outb(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let [_, port, value] = args else { return usage("outb", 1) };
    let Some(port) = port_number(port) else {
        print!("outb: invalid port '{port}' (0 to 0xffff)\n");
        return 1;
    };
    let Some(value) = parse_u64(value).ok().and_then(|v| u8::try_from(v).ok()) else {
        print!("outb: invalid value '{value}' (0 to 0xff)\n");
        return 1;
    };
    let fd = match ctx.open("/dev/port", O_WRONLY, 0) {
        Ok(fd) => fd,
        Err(errno) => return fail("outb", "/dev/port", errno),
    };
    let status = match ctx.pwrite(fd, UserBuf::from_slice(&[value]), port) {
        Ok(_) => 0,
        Err(errno) => fail("outb", "/dev/port", errno),
    };
    let _ = ctx.close(fd);
    status
}
