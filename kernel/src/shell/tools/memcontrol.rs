//! memcontrol: FreeBSD's tool for the memory-range ioctls (usr.sbin/memcontrol), line for
//! line: `list [-a] [-o owner]`, `set -b base -l len [-o owner] attr...`, `clear`.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use errno::{Errno, KResult};
use memrange::{
    MDF_ACTIVE, MDF_FIXACTIVE, MEM_RANGE_DESC_SIZE, MEMRANGE_GET, MEMRANGE_SET, MEMRANGE_SET_REMOVE,
    MEMRANGE_SET_UPDATE, MemRangeDesc, MemRangeOp,
};
use shell_core::memcontrol::{HelpTopic, Memcontrol, help_text, list_filter, list_line, parse_memcontrol};
use vfs_core::flags::O_RDONLY;

use crate::print;
use crate::vfs::{Context, Fd};

use super::usage;

/// `err(1, message)`: `memcontrol: message: strerror`, status 1.
fn err(message: &str, errno: Errno) -> i32 {
    print!("memcontrol: {message}: {}\n", errno.text());
    1
}

/// MEMRANGE_GET twice: the count, then the descriptors (memcontrol's `mrgetall`).
fn get_all(ctx: &mut Context, fd: Fd) -> Result<Vec<MemRangeDesc>, i32> {
    let mut op = MemRangeOp { mo_desc: 0, mo_arg: [0, 0] }.to_bytes();
    if let Err(errno) = ctx.ioctl(fd, MEMRANGE_GET, op.as_mut_ptr() as u64) {
        return Err(err("can't size range descriptor array", errno));
    }
    let count = MemRangeOp::from_bytes(&op).mo_arg[0].max(0) as usize;
    let mut descs = vec![0u8; count * MEM_RANGE_DESC_SIZE];
    let mut op = MemRangeOp { mo_desc: descs.as_mut_ptr() as u64, mo_arg: [count as i32, 0] }.to_bytes();
    if let Err(errno) = ctx.ioctl(fd, MEMRANGE_GET, op.as_mut_ptr() as u64) {
        return Err(err("can't fetch range descriptor array", errno));
    }
    Ok(descs.as_chunks::<MEM_RANGE_DESC_SIZE>().0.iter().map(MemRangeDesc::from_bytes).collect())
}

fn set(ctx: &mut Context, fd: Fd, desc: &MemRangeDesc, op: i32) -> KResult<u64> {
    let mut desc = desc.to_bytes();
    let mut op = MemRangeOp { mo_desc: desc.as_mut_ptr() as u64, mo_arg: [op, 0] }.to_bytes();
    ctx.ioctl(fd, MEMRANGE_SET, op.as_mut_ptr() as u64)
}

pub fn memcontrol(ctx: &mut Context, args: &[String]) -> i32 {
    let command = match parse_memcontrol(&args[1..]) {
        Ok(Memcontrol::Help { topic }) => {
            if topic.is_none() {
                usage("memcontrol", 0);
            }
            print!("{}", help_text(topic.as_deref()));
            return 0;
        }
        Ok(command) => command,
        Err(HelpTopic(topic)) => {
            print!("{}", help_text(topic.as_deref()));
            return 1;
        }
    };
    let fd = match ctx.open("/dev/mem", O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(errno) => return err("can't open /dev/mem", errno),
    };
    let status = run(ctx, fd, command);
    let _ = ctx.close(fd);
    status
}

fn run(ctx: &mut Context, fd: Fd, command: Memcontrol) -> i32 {
    match command {
        Memcontrol::List { all, owner } => {
            let descs = match get_all(ctx, fd) {
                Ok(descs) => descs,
                Err(status) => return status,
            };
            for desc in descs.iter().filter(|d| list_filter(d, all, owner.as_deref())) {
                print!("{}", list_line(desc));
            }
            0
        }
        Memcontrol::Set { desc } => match set(ctx, fd, &desc, MEMRANGE_SET_UPDATE) {
            Ok(_) => 0,
            Err(errno) => err("can't set range", errno),
        },
        Memcontrol::ClearRange { base, len } => {
            let desc = MemRangeDesc::new(base, len, 0, "");
            match set(ctx, fd, &desc, MEMRANGE_SET_REMOVE) {
                Ok(_) => 0,
                Err(errno) => err("couldn't clear range", errno),
            }
        }
        Memcontrol::ClearOwner { owner } => {
            let descs = match get_all(ctx, fd) {
                Ok(descs) => descs,
                Err(status) => return status,
            };
            for desc in descs.iter().filter(|d| {
                d.owner() == owner && d.mr_flags & MDF_ACTIVE != 0 && d.mr_flags & MDF_FIXACTIVE == 0
            }) {
                if let Err(errno) = set(ctx, fd, desc, MEMRANGE_SET_REMOVE) {
                    // warn(): a message, and the loop goes on.
                    print!("memcontrol: couldn't clear range owned by '{owner}': {}\n", errno.text());
                }
            }
            0
        }
        Memcontrol::Help { topic } => {
            print!("{}", help_text(topic.as_deref()));
            0
        }
    }
}
