//! Processes: a static Linux x86-64 program running in ring 3, with its own lower half
//! (mm::uspace), credentials and file table (a vfs Context), and a kernel stack.
//!
//! The shell starts one program at a time and waits for it ([`run`]): the program runs
//! until it exits, faults, or is interrupted with Ctrl-C, and everything it had (frames,
//! page tables, files, mappings) is released before `run` returns. There is no
//! scheduler and no fork: a process cannot start another.

pub mod exec;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use core::sync::atomic::{AtomicU32, Ordering};

use errno::{Errno, KResult};
use spin::Mutex;
use vfs_core::cred::Credentials;

use crate::arch::usermode::{self, UserEntry, UserFault};
use crate::mm::uspace::AddressSpace;
use crate::vfs::Context;
use crate::vfs::userbuf::UserSpace;

/// Size of a process's kernel stack (system calls and interrupts from ring 3 run on it).
const KERNEL_STACK_SIZE: usize = 64 * 1024;

/// Signal numbers (Linux x86-64).
pub const SIGINT: u8 = 2;
pub const SIGILL: u8 = 4;
pub const SIGTRAP: u8 = 5;
pub const SIGABRT: u8 = 6;
pub const SIGBUS: u8 = 7;
pub const SIGFPE: u8 = 8;
pub const SIGKILL: u8 = 9;
pub const SIGSEGV: u8 = 11;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit(code).
    Exited(u8),
    /// Ended by a signal (a fault, Ctrl-C).
    Signaled(u8),
}

impl ExitStatus {
    /// `$?` as sh sets it: the code, or 128 + the signal.
    pub fn shell_status(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => i32::from(code),
            ExitStatus::Signaled(signal) => 128 + i32::from(signal),
        }
    }

    fn encode(self) -> u64 {
        match self {
            ExitStatus::Exited(code) => u64::from(code),
            ExitStatus::Signaled(signal) => 0x100 | u64::from(signal),
        }
    }

    fn decode(value: u64) -> Self {
        if value & 0x100 != 0 { ExitStatus::Signaled(value as u8) } else { ExitStatus::Exited(value as u8) }
    }
}

/// What sh prints when a command was killed by `signal` (nothing for Ctrl-C).
pub fn signal_message(signal: u8) -> Option<&'static str> {
    match signal {
        SIGSEGV => Some("Segmentation fault"),
        SIGILL => Some("Illegal instruction"),
        SIGFPE => Some("Floating point exception"),
        SIGTRAP => Some("Trace/breakpoint trap"),
        SIGBUS => Some("Bus error"),
        SIGABRT => Some("Aborted"),
        SIGKILL => Some("Killed"),
        _ => None,
    }
}

/// A /dev/mem mapping in a process: the kernel mapping the driver made (and
/// registered), which the user pages from `start` alias with the same frames and types.
/// Partial munmap and MAP_FIXED take pages away one by one; the driver's mapping goes
/// when the last user page does.
pub struct DeviceMapping {
    pub start: u64,
    pub kernel_addr: u64,
    pub len: u64,
    /// One bit per page: still mapped in the process.
    live: Vec<u64>,
    live_pages: u64,
}

impl DeviceMapping {
    /// A mapping whose `len / PAGE_SIZE` pages are all mapped from `start`.
    pub fn new(start: u64, kernel_addr: u64, len: u64) -> Self {
        let pages = len / crate::mm::PAGE_SIZE;
        let mut live = alloc::vec![u64::MAX; pages.div_ceil(64) as usize];
        if !pages.is_multiple_of(64)
            && let Some(last) = live.last_mut()
        {
            *last = (1 << (pages % 64)) - 1;
        }
        Self { start, kernel_addr, len, live, live_pages: pages }
    }

    /// Marks this mapping's pages in [addr, addr+len) as unmapped; returns how many were
    /// still live.
    pub fn take_pages(&mut self, addr: u64, len: u64) -> u64 {
        let page_size = crate::mm::PAGE_SIZE;
        let first = addr.max(self.start);
        let end = addr.saturating_add(len).min(self.start + self.len);
        let mut taken = 0;
        let mut va = first;
        while va < end {
            let page = ((va - self.start) / page_size) as usize;
            let bit = 1u64 << (page % 64);
            if self.live[page / 64] & bit != 0 {
                self.live[page / 64] &= !bit;
                taken += 1;
            }
            va += page_size;
        }
        self.live_pages -= taken;
        taken
    }

    /// Whether the page at `va` is still mapped in the process.
    pub fn is_live(&self, va: u64) -> bool {
        if va < self.start || va >= self.start + self.len {
            return false;
        }
        let page = ((va - self.start) / crate::mm::PAGE_SIZE) as usize;
        self.live[page / 64] & (1 << (page % 64)) != 0
    }

    /// Whether no page of it is mapped any more.
    pub fn is_gone(&self) -> bool {
        self.live_pages == 0
    }
}

/// A running program.
pub struct Process {
    pub pid: u32,
    /// The name (comm), as PR_GET_NAME and the logs show it.
    pub name: String,
    /// The path it was started from (/proc/self/exe).
    pub path: String,
    pub space: AddressSpace,
    pub ctx: Context,
    pub cwd: String,
    pub brk_start: u64,
    pub brk: u64,
    /// Anonymous mmap hands out addresses below this, downwards.
    pub mmap_next: u64,
    /// Pages of anonymous memory mapped, against the limit.
    pub anon_pages: u64,
    pub device_mappings: Vec<DeviceMapping>,
    /// `mm::memtype::retype_count()` when the device mappings' types were last brought in
    /// line with the driver's mappings they alias.
    pub retypes_seen: u64,
    pub signal_actions: BTreeMap<u32, [u8; 32]>,
    pub signal_mask: u64,
    /// Unknown system-call numbers already logged.
    pub unknown_logged: BTreeSet<u64>,
}

/// The running process; the system-call handler works on it.
pub static CURRENT: Mutex<Option<Box<Process>>> = Mutex::new(None);

static NEXT_PID: AtomicU32 = AtomicU32::new(2);

/// Details of the fault that ended the last program, for the line printed after the
/// shell's message.
static LAST_FAULT: Mutex<Option<(String, UserFault)>> = Mutex::new(None);

fn signal_of(vector: u8) -> u8 {
    match vector {
        0 | 16 | 19 => SIGFPE,
        6 => SIGILL,
        1 | 3 => SIGTRAP,
        17 => SIGBUS,
        _ => SIGSEGV,
    }
}

/// What arch calls when ring-3 code faults: the process ends with the signal.
pub fn on_fault(fault: UserFault) -> ! {
    let name = CURRENT.try_lock().and_then(|p| p.as_ref().map(|p| p.name.clone())).unwrap_or_default();
    *LAST_FAULT.lock() = Some((name, fault));
    end(ExitStatus::Signaled(signal_of(fault.vector)))
}

/// What arch calls on a timer tick that interrupted ring 3: Ctrl-C ends the program.
pub fn on_tick() {
    if crate::console::take_interrupt() {
        end(ExitStatus::Signaled(SIGINT));
    }
}

/// Ends the running process with `status` (never returns to it).
pub fn end(status: ExitStatus) -> ! {
    usermode::resume_kernel(status.encode())
}

/// The line the kernel prints after a fault's message: where and what, for the learner.
pub fn take_fault_report() -> Option<String> {
    let (name, fault) = LAST_FAULT.lock().take()?;
    let what = match fault.vector {
        14 => {
            let access = if fault.error_code & 0x10 != 0 {
                "instruction fetch"
            } else if fault.error_code & 2 != 0 {
                "write"
            } else {
                "read"
            };
            let cause = if fault.error_code & 1 != 0 { "protection violation" } else { "page not mapped" };
            alloc::format!("page fault ({access}, {cause}) at address {:#x}", fault.address)
        }
        13 => String::from("general protection fault"),
        6 => String::from("invalid opcode"),
        0 => String::from("divide error"),
        vector => alloc::format!("exception {vector}"),
    };
    Some(alloc::format!("[{name}: {what}, rip {:#x}]", fault.rip))
}

/// How long a path may be, and how many arguments a program may get.
const MAX_ARGS: usize = 1024;

/// Runs the program at `path` with `argv` and `envp` as `cred` in `cwd`, and waits for it.
/// Errors are the exec errors (ENOENT, EACCES, ENOEXEC, ENOMEM, E2BIG); a message
/// explaining ENOEXEC is printed.
pub fn run(
    cred: Credentials,
    path: &str,
    argv: &[String],
    envp: &[String],
    cwd: &str,
) -> KResult<ExitStatus> {
    if argv.len() + envp.len() > MAX_ARGS {
        return Err(Errno::E2BIG);
    }
    let user = UserSpace::LOWER_HALF;
    let mut ctx = Context::with_user_space(cred, user);
    let file = ctx.executable(path)?;
    let mut space = AddressSpace::new()?;
    let stack = exec::StackInfo { argv, envp, execfn: path, uid: cred.uid(), gid: cred.gid() };
    let loaded = match exec::load(&mut space, file, &stack)? {
        Ok(loaded) => loaded,
        Err(error) => {
            crate::println!("{path}: cannot run: {}", exec::explain(error));
            return Err(Errno::ENOEXEC);
        }
    };
    for _ in 0..3 {
        ctx.open_console(vfs_core::flags::O_RDWR)?;
    }
    let name: String = path.rsplit('/').next().unwrap_or(path).chars().take(15).collect();
    let process = Box::new(Process {
        pid: NEXT_PID.fetch_add(1, Ordering::Relaxed),
        name,
        path: String::from(path),
        space,
        ctx,
        cwd: String::from(cwd),
        brk_start: loaded.brk_start,
        brk: loaded.brk_start,
        mmap_next: exec::MMAP_TOP,
        anon_pages: 0,
        device_mappings: Vec::new(),
        retypes_seen: crate::mm::memtype::retype_count(),
        signal_actions: BTreeMap::new(),
        signal_mask: 0,
        unknown_logged: BTreeSet::new(),
    });
    let kernel_stack = vec![0u128; KERNEL_STACK_SIZE / 16].into_boxed_slice();
    let kernel_stack_top = kernel_stack.as_ptr() as u64 + KERNEL_STACK_SIZE as u64;
    process.space.activate();
    *CURRENT.lock() = Some(process);
    crate::console::clear_interrupt();
    let entry = UserEntry { rip: loaded.entry, rsp: loaded.stack_pointer, kernel_stack_top };
    // SAFETY: the loaded table is the process's, whose lower half holds only its own
    // pages and whose upper half is the kernel's (AddressSpace::activate); the kernel
    // stack is this process's, 64 KiB, alive until after enter_user returns.
    #[allow(unsafe_code)]
    let status = unsafe { usermode::enter_user(entry) };
    AddressSpace::deactivate();
    let process = CURRENT.lock().take();
    drop(process);
    drop(kernel_stack);
    crate::dev::console::reset();
    Ok(ExitStatus::decode(status))
}

#[cfg(test)]
mod tests;
