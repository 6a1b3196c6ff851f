//! The in-kernel fuzzer: seeded, reproducible random operations on every device and
//! procfs file, through the file API only, with invariants checked as it goes.
//!
//! Each operation is one system-call-shaped call (open, close, read, write, pread,
//! pwrite, lseek, ioctl, mmap, munmap, mknod, chmod, chown, unlink, stat) by root,
//! operator or nobody, with arguments at the edges: offsets 0, 1 MiB, the top of RAM,
//! 2^MAXPHYADDR and around it, 2^63, 2^64-1, kernel and non-canonical addresses; counts
//! from 0 to huge; every whence and flag; ioctl payloads null, unmapped, misaligned or
//! random. After each operation: the errno is one the call may give, and after each
//! MEMRANGE_SET or /proc/mtrr write the MTRRs still decode to the descriptor list. Every
//! epoch (all files closed): canary pages unchanged, heap and frames back to baseline.
//!
//! The contexts are confined to an arena of their own (`Context::with_user_space`), so
//! random pointers fail with EFAULT instead of reaching kernel memory. Writes that could
//! change the machine under the fuzzer (random device registers, I/O ports, kernel
//! memory, STRICT mode) go only to harmless places or to offsets where they must fail.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use errno::Errno::{self, *};
use memrange::{MEM_RANGE_DESC_SIZE, MEMRANGE_GET, MEMRANGE_SET, MemRangeOp};
use vfs_core::cred::{Credentials, USERS};
use vfs_core::devnum::{DevNum, minor};
use vfs_core::flags::*;
use vfs_core::mode::S_IFCHR;

use crate::mm::{MemoryType, PhysAddr, PhysFrame, VirtAddr, frames, heap, physmap, window};
use crate::vfs::userbuf::UserSpace;
use crate::vfs::{Context, Fd, UserBuf};

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub seed: u64,
    pub operations: u64,
    /// Let root change the MTRRs (MEMRANGE_SET, /proc/mtrr writes).
    pub change_mtrrs: bool,
    /// Print a progress line every this many operations (0: never).
    pub progress_every: u64,
    /// Other fuzzers run on other CPUs at the same time: heap and frame usage and the
    /// mmap registry move under this one's feet, so the resource baseline and the
    /// one-type-per-page walk are left to the caller, once everyone has stopped.
    pub concurrent: bool,
}

/// A broken invariant, with what it takes to replay it.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub operation: u64,
    pub what: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fuzz seed {} operation {}: {}", self.seed, self.operation, self.what)
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub operations: u64,
    /// How often each errno came back, by number.
    pub errors: [u64; 128],
    pub successes: u64,
    pub elapsed_ns: u64,
}

impl Report {
    /// The errnos seen, as names.
    pub fn errors_seen(&self) -> String {
        let names: Vec<&str> = (0..128)
            .filter(|&n| self.errors[n] > 0)
            .filter_map(|n| Errno::from_number(n as i32).map(Errno::name))
            .collect();
        names.join(" ")
    }
}

pub use crate::ktest::Rng;

/// What is behind a descriptor, for choosing writes that are safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Mem,
    Kmem,
    Port,
    Harmless,
    Strict,
    Mtrr,
    ReadOnly,
}

fn target_of(dev: Option<DevNum>, path: &str) -> Target {
    match (dev, path) {
        (Some(dev), _) if dev.major == 1 => match dev.minor {
            minor::MEM => Target::Mem,
            minor::KMEM | minor::ALLKMEM => Target::Kmem,
            minor::PORT => Target::Port,
            _ => Target::Harmless,
        },
        (_, "/proc/sys/dev/mem/strict") => Target::Strict,
        (_, "/proc/mtrr") => Target::Mtrr,
        _ => Target::ReadOnly,
    }
}

const PATHS: [&str; 14] = [
    "/dev/mem",
    "/dev/kmem",
    "/dev/allkmem",
    "/dev/port",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/proc/iomem",
    "/proc/mtrr",
    "/proc/pat_memtype_list",
    "/proc/sys/dev/mem/strict",
    "/dev",
    "/tmp/fuzz-node",
    "/nonexistent/x",
];

/// The memory a fuzzing context may name: scratch pages mapped in the window, the last
/// one followed by the window's unmapped guard page (so buffers there are partly valid).
struct Arena {
    mapping: window::WindowMapping,
    frames: Vec<PhysFrame>,
}

/// Scratch pages in the arena.
const ARENA_PAGES: usize = 16;

impl Arena {
    fn new() -> Self {
        let frames: Vec<PhysFrame> =
            (0..ARENA_PAGES).map(|_| frames::allocate().expect("a frame for the fuzz arena")).collect();
        let mapping = window::map_frames(&frames).expect("the fuzz arena");
        Self { mapping, frames }
    }

    fn scratch(&self) -> u64 {
        self.mapping.va.as_u64()
    }

    /// The last mapped page; the guard page follows it.
    fn edge(&self) -> u64 {
        self.scratch() + (ARENA_PAGES as u64 - 1) * 4096
    }

    /// The arena and its guard page: buffers must lie here.
    fn space(&self) -> UserSpace {
        // SAFETY: the arena is the fuzzer's own mapping of frames it allocated, with no
        // Rust reference into it, followed by its unmapped guard page; it outlives every
        // context (released after the last epoch).
        #[allow(unsafe_code)]
        unsafe {
            UserSpace::new_unchecked(self.scratch(), self.scratch() + (ARENA_PAGES as u64 + 1) * 4096)
        }
    }

    fn release(self) {
        window::unmap_phys_range(self.mapping);
        for frame in self.frames {
            let _ = frames::free(frame);
        }
    }
}

/// The interesting offsets of this machine.
fn edge_offsets(arena: &Arena) -> Vec<u64> {
    let max = 1u64 << physmap::max_phys_addr_bits();
    let ram_top = physmap::map()
        .regions()
        .iter()
        .filter(|r| r.kind == mm_core::physmap::RegionKind::SystemRam)
        .map(|r| r.end)
        .max()
        .unwrap_or(0);
    vec![
        0,
        1,
        0x3fd,
        0x400,
        0x4f0,
        0xfff,
        0x1000,
        0xa_0000,
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
        arena.scratch(),
        arena.scratch() + 7,
        arena.edge() + 4090,
    ]
}

/// Whether `errno` is one of the answers `call` may give.
fn allowed(call: &str, errno: Errno) -> bool {
    let list: &[Errno] = match call {
        "open" => {
            &[ENOENT, EACCES, EPERM, ENXIO, EINVAL, EISDIR, ENOTDIR, EMFILE, ENAMETOOLONG, EOPNOTSUPP, EEXIST]
        }
        "close" | "fstat" => &[EBADF],
        // /proc/mtrr writes are memrange commits: EBUSY (a range a user mapping holds),
        // ENOMEM (a re-typing that failed and was rolled back), ENOSYS (WC without MTRRCAP.WC).
        "read" | "write" | "pread" | "pwrite" => {
            &[EBADF, EFAULT, EPERM, EIO, EINVAL, EOVERFLOW, ENOSPC, EISDIR, EACCES, EBUSY, ENOMEM, ENOSYS]
        }
        "lseek" => &[EBADF, EINVAL, EOVERFLOW],
        "ioctl" => &[
            EBADF, ENOTTY, EFAULT, EPERM, EINVAL, EOPNOTSUPP, ENXIO, EBUSY, EACCES, ENOSPC, ENOENT, EIO,
            ENOMEM,
        ],
        "mmap" => &[EBADF, EINVAL, EPERM, EACCES, EAGAIN, ENXIO, ENODEV, ENOMEM, EFAULT],
        "munmap" => &[EINVAL],
        "mknod" => &[EPERM, EEXIST, ENOENT, ENOTDIR, EINVAL, EACCES],
        "chmod" | "chown" => &[EPERM, ENOENT, ENOTDIR, EACCES],
        "unlink" => &[ENOENT, EISDIR, EPERM, EACCES, ENOTDIR, EINVAL, EEXIST],
        "stat" => &[ENOENT, ENOTDIR, EACCES, EINVAL],
        _ => &[],
    };
    list.contains(&errno)
}

/// One fuzzing context: a user, its open files (with what is behind them) and mappings.
struct Actor {
    ctx: Context,
    files: Vec<(Fd, Target)>,
    maps: Vec<(u64, u64)>,
}

/// The fuzzer's state across operations.
struct Fuzzer<'a> {
    rng: Rng,
    config: Config,
    arena: &'a Arena,
    offsets: Vec<u64>,
    report: Report,
    operation: u64,
}

impl Fuzzer<'_> {
    fn fail(&self, what: String) -> Failure {
        Failure { seed: self.config.seed, operation: self.operation, what }
    }

    /// A buffer: inside the arena mostly, sometimes partly or wholly outside it.
    fn buffer(&mut self, count: usize) -> UserBuf<'static> {
        let scratch = self.arena.scratch();
        let addr = match self.rng.next_u64() % 8 {
            0 => self.rng.pick(&[0, 0x0000_4444_0000_0000, 0x8000_0000_0000_0000, u64::MAX - 3]),
            1 => self.arena.edge() + self.rng.pick(&[0, 4000, 4095]),
            2 => self.rng.pick(&[0xffff_ffff_8000_0000, crate::mm::layout::HEAP_BASE]),
            _ => scratch + self.rng.next_u64() % 4096,
        };
        // SAFETY: every context the fuzzer drives is confined to the arena
        // (`with_user_space`): a buffer outside it is EFAULT before any access, and the
        // arena is the fuzzer's own memory, which drivers may write.
        #[allow(unsafe_code)]
        unsafe {
            UserBuf::from_raw(addr, count)
        }
    }

    fn count(&mut self) -> usize {
        self.rng.pick(&[
            0usize,
            1,
            2,
            3,
            7,
            8,
            9,
            63,
            4095,
            4096,
            4097,
            8192,
            60000,
            1 << 20,
            1 << 31,
            usize::MAX,
        ])
    }

    fn offset(&mut self) -> u64 {
        if self.rng.one_in(4) { self.rng.next_u64() } else { self.rng.pick(&self.offsets.clone()) }
    }

    /// Whether a write of `count` bytes at `offset` into `target` is safe to attempt.
    fn write_is_safe(&self, target: Target, offset: u64, count: usize) -> bool {
        let scratch = self.arena.scratch();
        match target {
            Target::Harmless => true,
            Target::ReadOnly => true,
            // STRICT stays on: it protects RAM above 1 MiB from the writes below.
            Target::Strict => false,
            Target::Mtrr => self.config.change_mtrrs,
            Target::Mem => {
                (0x4f0..0x500).contains(&offset) && (count as u64) <= 0x500 - offset
                    || offset >= 1 << physmap::max_phys_addr_bits()
                    || (0x10_0000..0xfee_0000).contains(&offset) && crate::dev::mem::strict()
            }
            Target::Kmem => {
                // Kernel-half offsets reach kmem through lseek; the arena is one of them.
                (scratch..scratch + 4096).contains(&offset) && count <= 4096
                    || !mm_core::pte::is_canonical(offset)
                    || offset == 0xffff_ffff_8000_0000
            }
            Target::Port => offset == 0x80 && count <= 1 || offset >= 0x1_0000,
        }
    }

    /// Text for a write to /proc/mtrr or the strict switch: well-formed or not.
    fn command_text(&mut self) -> &'static [u8] {
        self.rng.pick(&[
            b"base=0x100000000 size=0x1000000 type=write-combining\n" as &[u8],
            b"base=0x200000000 size=0x1000 type=uncachable",
            b"base=0x1000 size=0x3000 type=write-back",
            b"disable=1\n",
            b"disable=7",
            b"disable=99",
            b"base= size= type=",
            b"1\n",
            b"\xff\xfe garbage",
        ])
    }

    fn note(&mut self, call: &str, result: Result<u64, Errno>) -> Result<(), Failure> {
        match result {
            Ok(_) => self.report.successes += 1,
            Err(errno) if allowed(call, errno) => self.report.errors[errno as usize] += 1,
            Err(errno) => return Err(self.fail(format!("{call} gave {errno:?}, which it may not"))),
        }
        Ok(())
    }

    /// One random operation by `actor`.
    fn step(&mut self, actor: &mut Actor) -> Result<(), Failure> {
        // Most operations want an open file: open one first when there is none.
        let choice = if actor.files.is_empty() && !self.rng.one_in(4) { 0 } else { self.rng.next_u64() % 16 };
        let file = (!actor.files.is_empty())
            .then(|| actor.files[(self.rng.next_u64() % actor.files.len() as u64) as usize]);
        let (fd, target) = file.unwrap_or((self.rng.pick(&[0, 5, 63, 64, usize::MAX]), Target::ReadOnly));
        let (call, result): (&str, Result<u64, Errno>) = match choice {
            0..=2 => {
                let path = self.rng.pick(&PATHS);
                let flags = self.rng.pick(&[
                    O_RDONLY,
                    O_WRONLY,
                    O_RDWR,
                    O_RDONLY | O_SYNC,
                    O_RDWR | O_DSYNC,
                    O_ACCMODE,
                    O_CREAT | O_WRONLY,
                    O_CREAT | O_EXCL,
                    O_DIRECTORY,
                    u32::MAX,
                ]);
                let result = actor.ctx.open(path, flags, 0o644);
                if let Ok(fd) = result {
                    let dev =
                        actor.ctx.fstat(fd).ok().filter(|s| s.rdev != 0).map(|s| DevNum::decode(s.rdev));
                    actor.files.push((fd, target_of(dev, path)));
                }
                ("open", result.map(|fd| fd as u64))
            }
            3 => {
                let result = actor.ctx.close(fd);
                actor.files.retain(|&(f, _)| f != fd || result.is_err());
                ("close", result.map(|()| 0))
            }
            4 | 5 => {
                let count = self.count();
                let buf = self.buffer(count);
                if self.rng.one_in(2) {
                    ("read", actor.ctx.read(fd, buf).map(|n| n as u64))
                } else {
                    let offset = self.offset();
                    ("pread", actor.ctx.pread(fd, buf, offset).map(|n| n as u64))
                }
            }
            6 | 7 => {
                let positional = self.rng.one_in(2);
                let offset =
                    if positional { self.offset() } else { actor.ctx.lseek(fd, 0, SEEK_CUR).unwrap_or(0) };
                let mut count = self.count();
                let buf = if matches!(target, Target::Mtrr | Target::Strict) && self.rng.one_in(2) {
                    let text = self.command_text();
                    count = text.len();
                    UserBuf::from_slice(text)
                } else {
                    self.buffer(count)
                };
                if !self.write_is_safe(target, offset, count) {
                    ("fstat", actor.ctx.fstat(fd).map(|s| u64::from(s.mode)))
                } else if positional {
                    ("pwrite", actor.ctx.pwrite(fd, buf, offset).map(|n| n as u64))
                } else {
                    ("write", actor.ctx.write(fd, buf).map(|n| n as u64))
                }
            }
            8 => {
                let offset = self.offset();
                let whence = self.rng.pick(&[SEEK_SET, SEEK_CUR, SEEK_END, 3, 4, -1, i32::MAX]);
                ("lseek", actor.ctx.lseek(fd, offset as i64, whence))
            }
            9 | 10 => self.ioctl(actor, fd),
            11 => {
                let offset = self.offset() & !0xfff;
                // Up to 2^MAXPHYADDR and past it: sizes the kernel must refuse, not allocate for.
                let top = 1u64 << physmap::max_phys_addr_bits();
                let len = self.rng.pick(&[
                    0u64,
                    1,
                    4096,
                    8192,
                    1 << 20,
                    1 << 31,
                    top / 2,
                    top,
                    top + 4096,
                    u64::MAX,
                ]);
                let prot =
                    self.rng.pick(&[PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE, PROT_EXEC]);
                let flags = self.rng.pick(&[MAP_SHARED, MAP_PRIVATE, 0, MAP_SHARED | MAP_FIXED, 3]);
                let result = actor.ctx.mmap(fd, offset, len, prot, flags);
                if let Ok(addr) = result {
                    actor.maps.push((addr, len));
                }
                ("mmap", result)
            }
            12 => {
                let (addr, len) = if !actor.maps.is_empty() && self.rng.one_in(2) {
                    actor.maps.swap_remove((self.rng.next_u64() % actor.maps.len() as u64) as usize)
                } else {
                    (self.rng.pick(&[0, 0x1000, self.arena.scratch()]), 4096)
                };
                ("munmap", actor.ctx.munmap(addr, len).map(|()| 0))
            }
            13 => {
                let dev =
                    DevNum::new(self.rng.pick(&[1, 1, 1, 42]), self.rng.pick(&[1, 2, 3, 4, 5, 7, 13, 99]));
                let mode = self.rng.pick(&[S_IFCHR | 0o600, S_IFCHR | 0o666, 0o100644, S_IFCHR | 0o7777]);
                let path =
                    self.rng.pick(&["/tmp/fuzz-node", "/dev/fuzz", "/proc/x", "/tmp/fuzz-node/x", "/"]);
                ("mknod", actor.ctx.mknod(path, mode, dev).map(|()| 0))
            }
            14 => {
                let path = self.rng.pick(&PATHS);
                match self.rng.next_u64() % 4 {
                    0 => (
                        "chmod",
                        actor.ctx.chmod(path, self.rng.pick(&[0o600, 0o666, 0o7777, 0])).map(|()| 0),
                    ),
                    1 => {
                        let uid = self.rng.pick(&[None, Some(0), Some(1000), Some(65534), Some(12345)]);
                        let gid = self.rng.pick(&[None, Some(0), Some(15), Some(1000)]);
                        ("chown", actor.ctx.chown(path, uid, gid).map(|()| 0))
                    }
                    2 => ("stat", actor.ctx.stat(path).map(|s| u64::from(s.mode))),
                    _ => {
                        // Only the fuzzer's own nodes go away: the rest must stay.
                        let victim =
                            self.rng.pick(&["/tmp/fuzz-node", "/dev/fuzz", "/tmp", "/proc/iomem", "/nope"]);
                        ("unlink", actor.ctx.unlink(victim).map(|()| 0))
                    }
                }
            }
            _ => ("fstat", actor.ctx.fstat(fd).map(|s| u64::from(s.mode))),
        };
        self.note(call, result)?;
        if matches!(call, "ioctl" | "write" | "pwrite") && target == Target::Mtrr
            || matches!(call, "ioctl" | "mmap" | "munmap")
        {
            self.check_mtrrs()?;
        }
        if !crate::dev::mem::strict() {
            return Err(self.fail(String::from("STRICT mode was turned off")));
        }
        Ok(())
    }

    fn ioctl(&mut self, actor: &mut Actor, fd: Fd) -> (&'static str, Result<u64, Errno>) {
        let may_set = self.config.change_mtrrs || !actor.ctx.cred().is_root();
        let commands: &[u32] = if may_set {
            &[MEMRANGE_GET, MEMRANGE_SET, 0, 0x5401, u32::MAX]
        } else {
            &[MEMRANGE_GET, 0, 0x5401, u32::MAX]
        };
        let cmd = self.rng.pick(commands);
        // The payload lives in the scratch buffer: random bits, or a well-formed op.
        let scratch = self.arena.scratch();
        let op_at = scratch + 40_000 + self.rng.pick(&[0u64, 1, 3, 8]);
        let descs = scratch + 44_000;
        debug_assert!(descs + 4096 < scratch + (ARENA_PAGES as u64 - 1) * 4096);
        let mut payload = [0u8; 48];
        for byte in payload.iter_mut() {
            *byte = self.rng.next_u64() as u8;
        }
        if self.rng.one_in(2) {
            let op = MemRangeOp {
                mo_desc: self.rng.pick(&[descs, 0, descs + 1, 0xffff_ffff_8000_0000]),
                mo_arg: [self.rng.pick(&[0, 1, 5, 96, 104, 1000, -1, i32::MIN]), self.rng.next_u64() as i32],
            };
            payload[..16].copy_from_slice(&op.to_bytes());
            // And a random-bit descriptor for SET, with a sometimes sane base and length.
            if self.rng.one_in(2) {
                let base = self.rng.pick(&[0x1_0000_0000u64, 0x2_0000_0000, 0xc_0000, 0x10_0000, 0]);
                let len = self.rng.pick(&[0x1000u64, 0x1000_0000, 0x4000, 0x3000, 0]);
                payload[16..24].copy_from_slice(&base.to_le_bytes());
                payload[24..32].copy_from_slice(&len.to_le_bytes());
            }
        }
        let arg = self.rng.pick(&[op_at, 0, 0x0000_4444_0000_0000, u64::MAX, 0xffff_ffff_8000_0000]);
        // SAFETY: op_at and descs lie in the arena's scratch pages (at most 44_000 +
        // 48 bytes in): the fuzzer's own memory, no Rust reference into it.
        #[allow(unsafe_code)]
        let (scratch_buf, descs_buf) = unsafe {
            (UserBuf::from_raw(op_at, payload.len()), UserBuf::from_raw(descs, MEM_RANGE_DESC_SIZE))
        };
        let _ = scratch_buf.write_at(0, &payload);
        if cmd == MEMRANGE_SET && arg == op_at {
            // Point mo_desc at the descriptor just written, half of the time.
            let _ = descs_buf.write_at(0, &payload[16..48]);
        }
        ("ioctl", actor.ctx.ioctl(fd, cmd, arg))
    }

    /// The MTRRs still decode to the descriptor list the kernel holds, and no page is
    /// mapped with two memory types.
    fn check_mtrrs(&self) -> Result<(), Failure> {
        match crate::dev::memrange::registers_match_model() {
            Ok(true) | Err(_) => {}
            Ok(false) => return Err(self.fail(String::from("the MTRRs no longer match the descriptor list"))),
        }
        if self.config.concurrent {
            return Ok(());
        }
        crate::mm::memtype::check_one_type_per_page().map_err(|what| self.fail(what))
    }
}

/// Canary frames, filled with a pattern, checked at every epoch.
struct Canaries(Vec<PhysFrame>);

impl Canaries {
    fn pattern(frame: PhysFrame, i: usize) -> u8 {
        frame.pfn() as u8 ^ i as u8 ^ 0x5a
    }

    fn new() -> Self {
        let frames: Vec<PhysFrame> = (0..4).filter_map(|_| frames::allocate()).collect();
        for &frame in &frames {
            let bytes: Vec<u8> = (0..4096).map(|i| Self::pattern(frame, i)).collect();
            let va = crate::mm::phys_to_virt(frame.start_address());
            // SAFETY: the frame was just allocated for the canary: nothing else refers to it.
            #[allow(unsafe_code)]
            let _ = unsafe { crate::mm::nofault::write_kernel(va, &bytes) };
        }
        Self(frames)
    }

    fn intact(&self) -> bool {
        self.0.iter().all(|&frame| {
            let mut bytes = vec![0u8; 4096];
            crate::mm::nofault::read_kernel(crate::mm::phys_to_virt(frame.start_address()), &mut bytes)
                .is_ok()
                && bytes.iter().enumerate().all(|(i, &b)| b == Self::pattern(frame, i))
        })
    }

    fn release(self) {
        for frame in self.0 {
            let _ = frames::free(frame);
        }
    }
}

/// Operations per epoch: contexts live this long, then everything is closed and the
/// baselines are checked.
const EPOCH: u64 = 2_000;

/// Runs `config.operations` random operations.
pub fn run(config: Config) -> Result<Report, Failure> {
    let arena = Arena::new();
    let canaries = Canaries::new();
    let started = crate::arch::timer::uptime_ns();
    let mut fuzzer = Fuzzer {
        rng: Rng::new(config.seed),
        config,
        offsets: edge_offsets(&arena),
        arena: &arena,
        report: Report { operations: 0, errors: [0; 128], successes: 0, elapsed_ns: 0 },
        operation: 0,
    };
    let mut baseline: Option<(usize, u64)> = None;
    let result = (|| {
        while fuzzer.operation < config.operations {
            let space = fuzzer.arena.space();
            let mut actors: Vec<Actor> = USERS
                .iter()
                .map(|user| Actor {
                    ctx: Context::with_user_space(user.credentials(), space),
                    files: Vec::new(),
                    maps: Vec::new(),
                })
                .collect();
            let end = (fuzzer.operation + EPOCH).min(config.operations);
            while fuzzer.operation < end {
                let who = (fuzzer.rng.next_u64() % actors.len() as u64) as usize;
                fuzzer.step(&mut actors[who])?;
                fuzzer.operation += 1;
                if config.progress_every != 0 && fuzzer.operation.is_multiple_of(config.progress_every) {
                    crate::println!("fuzz: {} operations", fuzzer.operation);
                }
            }
            drop(actors);
            // SAFETY: the context only unlinks and lists: no address is given to it.
            #[allow(unsafe_code)]
            let mut root = unsafe { Context::new(Credentials::ROOT) };
            let _ = root.unlink("/tmp/fuzz-node");
            let _ = root.unlink("/dev/fuzz");
            // Regular files the epoch made with O_CREAT go too.
            for dir in ["/tmp", "/dev", "/"] {
                for (name, stat) in root.readdir(dir).unwrap_or_default() {
                    if stat.mode & vfs_core::mode::S_IFMT == vfs_core::mode::S_IFREG {
                        let _ = root.unlink(&format!("{}/{name}", dir.trim_end_matches('/')));
                    }
                }
            }
            if !canaries.intact() {
                return Err(fuzzer.fail(String::from("a canary page changed")));
            }
            fuzzer.check_mtrrs()?;
            // The first epoch sizes lazily grown tables; from then on usage must return.
            // memrange's table of set types is state the successful SETs created on purpose.
            // Frames the heap took to grow (RAM files may have made it) are not lost: the
            // heap keeps them, and its bytes in use must come back. Nor are the frames of
            // new kernel page tables (a mapping at a window address never used before),
            // which are never freed by design.
            let heap_now = heap::stats();
            let now = (
                heap_now.used - crate::mm::memtype::retained_heap_bytes(),
                frames::stats().free
                    + heap_now.size / crate::mm::PAGE_SIZE
                    + crate::mm::paging::table_frames(),
            );
            // A leak is growth: more heap in use, fewer frames. A table that shrank (a
            // directory's map after its last extra entry went) lowers the baseline.
            if config.concurrent {
                continue;
            }
            match baseline {
                None => baseline = Some(now),
                Some(expected) if now.0 > expected.0 || now.1 < expected.1 => {
                    return Err(fuzzer.fail(format!(
                        "resources not back to baseline after closing everything: heap {} (was {}), free frames and heap frames {} (was {})",
                        now.0, expected.0, now.1, expected.1
                    )));
                }
                Some(expected) => baseline = Some((now.0.min(expected.0), now.1.max(expected.1))),
            }
        }
        Ok(())
    })();
    let Fuzzer { mut report, .. } = fuzzer;
    canaries.release();
    arena.release();
    result?;
    report.operations = config.operations;
    report.elapsed_ns = crate::arch::timer::uptime_ns() - started;
    Ok(report)
}

/// What a /dev/kmem read of an address gave.
#[derive(Debug, PartialEq, Eq)]
enum KmemRead {
    Data,
    Short(usize),
    Error(Errno),
}

/// Reads `count` random kernel virtual addresses through /dev/kmem and checks each
/// answer against the page walk: unmapped or non-canonical EFAULT, device memory EIO,
/// RAM the bytes themselves (compared with a direct read for the kernel's read-only
/// data, which cannot change in between).
pub fn kmem_sweep(seed: u64, count: u64) -> Result<[u64; 3], Failure> {
    let mut rng = Rng::new(seed);
    // SAFETY: the context is given no address by number but this code's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open("/dev/kmem", O_RDONLY, 0).map_err(|e| Failure {
        seed,
        operation: 0,
        what: format!("open: {e:?}"),
    })?;
    // Device memory mapped in the window, so that EIO is exercised too.
    let device = window::map_phys_range(PhysAddr::new(0xfed0_0000), 4096, MemoryType::Uncacheable).ok();
    let text = kmem_sweep as *const () as u64;
    let mut tally = [0u64; 3];
    for operation in 0..count {
        let address = match rng.next_u64() % 8 {
            0 => rng.next_u64(),
            1 => 0xffff_8000_0000_0000 | rng.next_u64(),
            2 => crate::mm::layout::DIRECT_MAP_BASE + rng.next_u64() % (1 << 40),
            3 | 4 => crate::mm::layout::KERNEL_BASE + rng.next_u64() % (4 << 20),
            5 => crate::mm::layout::HEAP_BASE + rng.next_u64() % (4 << 20),
            6 => device.as_ref().map_or(0, |d| d.va.as_u64()) + rng.next_u64() % 8192,
            _ => (text & !0xfff) + rng.next_u64() % 8192,
        };
        let room = 4096 - (address & 0xfff);
        let len = (rng.next_u64() % 16 + 1).min(room) as usize;
        let mut buf = [0u8; 16];
        let result = ctx
            .lseek(fd, address as i64, SEEK_SET)
            .and_then(|_| ctx.read(fd, UserBuf::from_mut_slice(&mut buf[..len])));
        // A non-canonical offset has no page: kmem answers EFAULT for it.
        let page = VirtAddr::try_new(address).ok().and_then(crate::mm::query::query);
        let predicted = match page {
            None => KmemRead::Error(EFAULT),
            Some(page) if !page.ram => KmemRead::Error(EIO),
            Some(_) => KmemRead::Data,
        };
        let got = match result {
            Ok(n) if n == len => KmemRead::Data,
            Ok(n) => KmemRead::Short(n),
            // lseek refuses the top 4095 addresses (EOVERFLOW): not kmem's answer.
            Err(EOVERFLOW) if address >= u64::MAX - 4094 => continue,
            Err(errno) => KmemRead::Error(errno),
        };
        if got != predicted {
            return Err(Failure {
                seed,
                operation,
                what: format!("kmem at {address:#x}: walk says {predicted:?}, read gave {got:?}"),
            });
        }
        let read_only = page.is_some_and(|page| page.ram && !page.writable);
        if got == KmemRead::Data && read_only {
            let mut direct = [0u8; 16];
            let _ = crate::mm::nofault::read_kernel(VirtAddr::new(address), &mut direct[..len]);
            if direct[..len] != buf[..len] {
                return Err(Failure {
                    seed,
                    operation,
                    what: format!("kmem at {address:#x} read other bytes than memory holds"),
                });
            }
        }
        tally[match got {
            KmemRead::Data | KmemRead::Short(_) => 0,
            KmemRead::Error(EFAULT) => 1,
            KmemRead::Error(_) => 2,
        }] += 1;
    }
    if let Some(device) = device {
        window::unmap_phys_range(device);
    }
    Ok(tally)
}
