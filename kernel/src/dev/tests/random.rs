//! Random arguments against every device and procfs file: no operation panics, each
//! error is one the call may give, and the kernel is alive and leak-free afterwards.
//!
//! Writes that could damage the machine (random device registers, kernel memory, I/O
//! ports) are only attempted where they must fail or where they are harmless: scratch
//! memory of the test's own, the BIOS data area's free bytes, the POST port 0x80.

use alloc::vec::Vec;

use errno::Errno::{self, *};
use vfs_core::flags::{MAP_PRIVATE, MAP_SHARED, O_RDONLY, O_RDWR, O_SYNC, O_WRONLY, PROT_READ, PROT_WRITE};

use super::as_user;
use crate::ktest::ktest;
use crate::mm::{frames, heap};
use crate::vfs::UserBuf;

const FILES: [&str; 10] = [
    "/dev/mem",
    "/dev/kmem",
    "/dev/allkmem",
    "/dev/port",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/proc/iomem",
    "/proc/mtrr",
    "/proc/sys/dev/mem/strict",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.next() as usize % items.len()]
    }
}

/// Offsets at the edges: 0, 1 MiB, the top of RAM, MAXPHYADDR, 2^63, 2^64-1, kernel
/// addresses (mapped, unmapped, non-canonical).
fn offsets(scratch: u64) -> Vec<u64> {
    let max = 1u64 << crate::mm::physmap::max_phys_addr_bits();
    let ram_top = crate::mm::physmap::map()
        .regions()
        .iter()
        .filter(|r| r.kind == mm_core::physmap::RegionKind::SystemRam)
        .map(|r| r.end)
        .max()
        .unwrap_or(0);
    alloc::vec![
        0,
        1,
        0x3fd,
        0x400,
        0xfff,
        0x1000,
        0xe_0000,
        0xf_fff8,
        0xf_ffff,
        0x10_0000,
        0xfed0_0000,
        0xfee0_0030,
        ram_top - 1,
        ram_top,
        max - 1,
        max,
        max + 1,
        0xffff,
        0x1_0000,
        (1 << 63) - 1,
        1 << 63,
        u64::MAX - 4096,
        u64::MAX - 4095,
        u64::MAX,
        0xffff_ffff_8000_0000,
        0xffff_8000_0000_0000,
        0x0000_8000_0000_0000,
        0xffff_e800_0000_0000,
        scratch,
        scratch + 7,
    ]
}

#[ktest(timeout = 300)]
fn random_arguments_never_panic_and_leave_nothing_behind() {
    let mut scratch = alloc::vec![0u8; 16384];
    let mut rng = Rng(0x00de_7e3e_5eed);
    let mut errors = [0u32; 128];
    // A first run lets lazily grown tables (the window's free list, the mmap list) reach
    // their size; then the baseline is taken and a longer run must come back to it.
    // One page followed by an unmapped guard page: a buffer there is valid at first,
    // then faults, so partial transfers are exercised without writing anything else.
    let frame = frames::allocate().unwrap();
    let edge = crate::mm::window::map_phys_range(frame, 4096, crate::mm::MemoryType::WriteBack).unwrap();
    random_rounds(&mut rng, &mut scratch, edge.va, 2_000, &mut errors);
    let heap_before = heap::stats().used;
    let frames_before = frames::stats().free;
    random_rounds(&mut rng, &mut scratch, edge.va, 18_000, &mut errors);
    assert_eq!(heap::stats().used, heap_before, "the heap is back to its baseline");
    assert_eq!(frames::stats().free, frames_before, "every frame came back");
    drop(scratch);
    crate::mm::window::unmap_phys_range(edge);
    frames::free(frame).unwrap();
    let seen = errors
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(e, _)| Errno::from_number(e as i32).map_or("?", Errno::name));
    crate::println!("errors seen: {}", seen.collect::<Vec<_>>().join(" "));
}

fn random_rounds(rng: &mut Rng, scratch: &mut [u8], edge: u64, rounds: u32, errors: &mut [u32; 128]) {
    let scratch_addr = scratch.as_mut_ptr() as u64;
    let offsets = offsets(scratch_addr);
    let counts = [0usize, 1, 2, 7, 8, 9, 4095, 4096, 4097, 8192, 16384, 65536, 1 << 31, usize::MAX];
    for round in 0..rounds {
        let user = rng.pick(&["root", "operator", "nobody"]);
        let mut ctx = as_user(user);
        let path = rng.pick(&FILES);
        let flags = rng.pick(&[O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_SYNC, 3, 0x8000_0003]);
        let fd = match ctx.open(path, flags, 0) {
            Ok(fd) => fd,
            Err(e) => {
                assert!(
                    matches!(e, EACCES | EPERM | EINVAL | ENXIO),
                    "open {path} {flags:#x} as {user}: {e:?}"
                );
                errors[e as usize] += 1;
                continue;
            }
        };
        for _ in 0..4 {
            let offset = if rng.next() % 4 == 0 { rng.next() } else { rng.pick(&offsets) };
            let count = rng.pick(&counts);
            // A real buffer when it fits, else one that is partly or wholly bad (never one
            // that runs past the scratch buffer into memory the kernel is using).
            let buf = if count <= scratch.len() && rng.next() % 8 != 0 {
                UserBuf::from_raw(scratch_addr, count)
            } else {
                UserBuf::from_raw(
                    rng.pick(&[
                        0,
                        edge,
                        edge + 4000,
                        0x0000_4444_0000_0000,
                        0x8000_0000_0000_0000,
                        u64::MAX - 3,
                    ]),
                    count,
                )
            };
            // Writes that must not land on real hardware or kernel memory: only the
            // harmless places, or offsets where they must fail.
            // `write` goes to the file offset, `pwrite` to `offset`: check the one used.
            let op = rng.next() % 8;
            let target =
                if op == 6 { ctx.lseek(fd, 0, vfs_core::flags::SEEK_CUR).unwrap_or(0) } else { offset };
            let writable_here = match path {
                "/dev/mem" => {
                    (0x4f0..0x500).contains(&target) && count <= 0x500 - target as usize
                        || target >= 1 << crate::mm::physmap::max_phys_addr_bits()
                        || (0x10_0000..0x1000_0000).contains(&target)
                }
                "/dev/kmem" | "/dev/allkmem" => {
                    (scratch_addr..scratch_addr + 8192).contains(&target) && count <= 8192
                        || !mm_core::pte::is_canonical(target)
                        || target == 0xffff_ffff_8000_0000
                }
                "/dev/port" => target == 0x80 && count <= 1 || target >= 0x1_0000,
                "/proc/sys/dev/mem/strict" => false,
                _ => true,
            };
            let result = match op {
                0 => ctx.read(fd, buf).map(|n| n as u64),
                1 => ctx.pread(fd, buf, offset).map(|n| n as u64),
                2 if writable_here => ctx.pwrite(fd, buf, offset).map(|n| n as u64),
                3 => ctx.lseek(fd, offset as i64, rng.pick(&[0, 1, 2, 3, 4, -1, 99])),
                4 => {
                    // MEMRANGE_SET by root would really change the MTRRs (its own tests do
                    // that). The argument is a well-formed op whose descriptor pointer
                    // leads to room for every descriptor, or a bad pointer: the kernel
                    // cannot tell a caller's buffer from its own memory yet, so a random
                    // pointer would let GET write anywhere.
                    let cmd = if user == "root" {
                        rng.pick(&[0, 0x5401, memrange::MEMRANGE_GET, u32::MAX])
                    } else {
                        rng.pick(&[0, 0x5401, memrange::MEMRANGE_GET, memrange::MEMRANGE_SET, u32::MAX])
                    };
                    let mut descs = [0u8; memrange::MAX_DESCRIPTORS * memrange::MEM_RANGE_DESC_SIZE];
                    let op = memrange::MemRangeOp {
                        mo_desc: rng.pick(&[descs.as_mut_ptr() as u64, 0, 0x0000_4444_0000_0000]),
                        mo_arg: [rng.pick(&[0, 1, 5, 96, 1000, -1, i32::MIN]), 0],
                    };
                    let mut op_bytes = op.to_bytes();
                    let arg = rng.pick(&[op_bytes.as_mut_ptr() as u64, 0, 0x0000_4444_0000_0000, u64::MAX]);
                    ctx.ioctl(fd, cmd, arg)
                }
                5 => {
                    let prot = rng.pick(&[0, PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE]);
                    let map_flags = rng.pick(&[MAP_SHARED, MAP_PRIVATE, 0, MAP_SHARED | MAP_PRIVATE]);
                    let len = rng.pick(&[0u64, 1, 4096, 8192, 1 << 20, u64::MAX]);
                    let page_offset = offset & !0xfff;
                    // Shared writable mappings of device memory are not touched, only made.
                    ctx.mmap(fd, page_offset, len, prot, map_flags)
                        .and_then(|addr| ctx.munmap(addr, len).map(|()| addr))
                }
                6 if writable_here => ctx.write(fd, buf).map(|n| n as u64),
                _ => ctx.fstat(fd).map(|s| u64::from(s.mode)),
            };
            if let Err(e) = result {
                let allowed: &[Errno] = match op {
                    0 | 1 | 2 | 6 => &[EFAULT, EPERM, EIO, EINVAL, EOVERFLOW, ENOSPC, EBADF, EISDIR],
                    3 => &[EINVAL, EOVERFLOW],
                    4 => &[ENOTTY, EFAULT, EPERM, EINVAL, EOPNOTSUPP, ENXIO, EBUSY, EACCES, ENOSPC, ENOENT],
                    5 => &[EINVAL, EPERM, EACCES, EAGAIN, ENXIO, ENODEV, ENOMEM, EFAULT],
                    _ => &[],
                };
                assert!(
                    allowed.contains(&e),
                    "round {round}: op {op} on {path} at {offset:#x} count {count}: {e:?}"
                );
                errors[e as usize] += 1;
            }
        }
        assert!(crate::dev::mem::strict(), "STRICT mode was changed");
        drop(ctx);
    }
}
