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

/// The CPUs that have a /dev/cpu/N/msr, in order.
fn msr_cpus(ctx: &Context) -> alloc::vec::Vec<u32> {
    let mut cpus: alloc::vec::Vec<u32> = ctx
        .readdir("/dev/cpu")
        .unwrap_or_default()
        .iter()
        .filter_map(|(name, _)| name.parse().ok())
        .collect();
    cpus.sort_unstable();
    cpus
}

/// `rdmsr [-p CPU | -a] MSR` (msr-tools): MSR read through /dev/cpu/CPU/msr by that CPU,
/// printed in hex; `-a` every CPU, a line each. msr-tools' messages and statuses: no such
/// CPU 2, no MSRs 3, an MSR the CPU does not have 4.
pub fn rdmsr(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    let (cpus, msr) = match &args[1..] {
        [flag, msr] if flag == "-a" => (msr_cpus(ctx), msr),
        [flag, cpu, msr] if flag == "-p" => match cpu.parse::<u32>() {
            Ok(cpu) => (alloc::vec![cpu], msr),
            Err(_) => {
                print!("rdmsr: invalid CPU '{cpu}'\n");
                return 1;
            }
        },
        [msr] => (alloc::vec![0], msr),
        _ => return usage("rdmsr", 1),
    };
    let Some(msr) = parse_u64(msr).ok().and_then(|m| u32::try_from(m).ok()) else {
        print!("rdmsr: invalid MSR '{msr}'\n");
        return 1;
    };
    for cpu in cpus {
        let path = alloc::format!("/dev/cpu/{cpu}/msr");
        let fd = match ctx.open(&path, O_RDONLY, 0) {
            Ok(fd) => fd,
            Err(errno::Errno::ENXIO | errno::Errno::ENOENT) => {
                print!("rdmsr: No CPU {cpu}\n");
                return 2;
            }
            Err(errno::Errno::EIO) => {
                print!("rdmsr: CPU {cpu} doesn't support MSRs\n");
                return 3;
            }
            Err(errno) => {
                print!("rdmsr: open: {}\n", errno.text());
                return 127;
            }
        };
        let mut value = [0u8; 8];
        let read = ctx.pread(fd, UserBuf::from_mut_slice(&mut value), u64::from(msr));
        let _ = ctx.close(fd);
        match read {
            Ok(8) => print!("{:x}\n", u64::from_le_bytes(value)),
            Err(errno::Errno::EIO) | Ok(_) => {
                print!("rdmsr: CPU {cpu} cannot read MSR 0x{msr:08x}\n");
                return 4;
            }
            Err(errno) => {
                print!("rdmsr: pread: {}\n", errno.text());
                return 127;
            }
        }
    }
    0
}
