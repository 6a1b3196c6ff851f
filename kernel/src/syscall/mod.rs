//! The Linux x86-64 system-call ABI: number in RAX, arguments in RDI, RSI, RDX, R10,
//! R8, R9, result in RAX (`-errno` on failure). Numbers and layouts are Linux's
//! (`linux-raw-sys`, generated from the kernel's headers). Each call checks its user
//! pointers (see [`user`]) and works through the process's vfs Context.
//!
//! An unknown number is ENOSYS, logged once per number and process with the program's
//! name, so a learner sees what a program needs. Signal handlers are recorded
//! (rt_sigaction) but never delivered: a fault or Ctrl-C ends the program.

mod fs;
mod memory;
mod misc;
pub mod user;

use errno::{Errno, KResult};
use linux_raw_sys::general as nr;

use crate::arch::usermode::SyscallFrame;
use crate::proc::{self, CURRENT, ExitStatus, Process};

/// What a system call asks of the entry code.
pub enum Outcome {
    Return(u64),
    Exit(ExitStatus),
}

type SysResult = KResult<Outcome>;

fn ok(value: u64) -> SysResult {
    Ok(Outcome::Return(value))
}

/// The arguments, in ABI order.
#[derive(Clone, Copy, Debug)]
pub struct Args(pub [u64; 6]);

impl Args {
    fn fd(&self, i: usize) -> KResult<usize> {
        // An int in C: -1 and other negatives are EBADF.
        let fd = self.0[i] as i32;
        usize::try_from(fd).map_err(|_| Errno::EBADF)
    }
}

/// Installs the system-call handler and the process layer's fault and tick handlers in
/// arch (once, at boot). Here rather than in proc: proc is below the system calls.
pub fn init() {
    crate::arch::usermode::set_hooks(crate::arch::usermode::Hooks {
        syscall: handle,
        fault: proc::on_fault,
        tick: proc::on_tick,
    });
}

/// The SYSCALL handler arch calls on the process's kernel stack.
pub fn handle(frame: &mut SyscallFrame) {
    let number = frame.rax;
    let args = Args([frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9]);
    let outcome = {
        let mut guard = CURRENT.lock();
        match guard.as_mut() {
            Some(process) => {
                let outcome = dispatch(process, number, args);
                // A MEMRANGE_SET or /proc/mtrr write re-typed the driver's mappings:
                // the process's aliases follow before it runs again.
                if crate::mm::memtype::retype_count() != process.retypes_seen {
                    memory::sync_device_types(process);
                }
                outcome
            }
            None => Err(Errno::ENOSYS),
        }
    };
    match outcome {
        Ok(Outcome::Return(value)) => frame.rax = value,
        Ok(Outcome::Exit(status)) => proc::end(status),
        Err(errno) => frame.rax = (-i64::from(errno.number())) as u64,
    }
    // Ctrl-C typed during the call (or seen by a console read): the program ends.
    if crate::console::take_interrupt() {
        proc::end(ExitStatus::Signaled(proc::SIGINT));
    }
}

fn dispatch(p: &mut Process, number: u64, a: Args) -> SysResult {
    let Ok(n) = u32::try_from(number) else { return unknown(p, number) };
    match n {
        nr::__NR_read => fs::read(p, a),
        nr::__NR_write => fs::write(p, a),
        nr::__NR_readv => fs::readv(p, a),
        nr::__NR_writev => fs::writev(p, a),
        nr::__NR_pread64 => fs::pread(p, a),
        nr::__NR_pwrite64 => fs::pwrite(p, a),
        nr::__NR_open => fs::open(p, fs::AT_FDCWD, a.0[0], a.0[1], a.0[2]),
        nr::__NR_openat => fs::open(p, a.0[0], a.0[1], a.0[2], a.0[3]),
        nr::__NR_close => fs::close(p, a),
        nr::__NR_lseek => fs::lseek(p, a),
        nr::__NR_ioctl => fs::ioctl(p, a),
        nr::__NR_stat | nr::__NR_lstat => fs::stat_path(p, fs::AT_FDCWD, a.0[0], a.0[1], 0),
        nr::__NR_fstat => fs::fstat(p, a),
        nr::__NR_newfstatat => fs::stat_path(p, a.0[0], a.0[1], a.0[2], a.0[3]),
        nr::__NR_getdents64 => fs::getdents64(p, a),
        nr::__NR_sendfile => fs::sendfile(p, a),
        nr::__NR_poll => fs::poll(p, a.0[0], a.0[1]),
        nr::__NR_ppoll => fs::poll(p, a.0[0], a.0[1]),
        nr::__NR_dup => ok(p.ctx.dup(a.fd(0)?, 0)? as u64),
        nr::__NR_dup2 => fs::dup2(p, a),
        nr::__NR_dup3 => fs::dup3(p, a),
        nr::__NR_fcntl => fs::fcntl(p, a),
        nr::__NR_getcwd => fs::getcwd(p, a),
        nr::__NR_chdir => fs::chdir(p, a),
        nr::__NR_readlink => fs::readlink(p, fs::AT_FDCWD, a.0[0], a.0[1], a.0[2]),
        nr::__NR_readlinkat => fs::readlink(p, a.0[0], a.0[1], a.0[2], a.0[3]),
        nr::__NR_access => fs::access(p, fs::AT_FDCWD, a.0[0], a.0[1]),
        nr::__NR_faccessat | nr::__NR_faccessat2 => fs::access(p, a.0[0], a.0[1], a.0[2]),
        nr::__NR_mknod => fs::mknod(p, fs::AT_FDCWD, a.0[0], a.0[1], a.0[2]),
        nr::__NR_mknodat => fs::mknod(p, a.0[0], a.0[1], a.0[2], a.0[3]),
        nr::__NR_ftruncate => fs::ftruncate(p, a),
        nr::__NR_truncate => fs::truncate(p, a.0[0], a.0[1]),
        nr::__NR_chmod => fs::chmod(p, fs::AT_FDCWD, a.0[0], a.0[1]),
        nr::__NR_fchmodat => fs::chmod(p, a.0[0], a.0[1], a.0[2]),
        nr::__NR_chown | nr::__NR_lchown => fs::chown(p, fs::AT_FDCWD, a.0[0], a.0[1], a.0[2]),
        nr::__NR_fchownat => fs::chown(p, a.0[0], a.0[1], a.0[2], a.0[3]),
        nr::__NR_unlink => fs::unlink(p, fs::AT_FDCWD, a.0[0], 0),
        nr::__NR_unlinkat => fs::unlink(p, a.0[0], a.0[1], a.0[2]),
        nr::__NR_umask => ok(0o022),
        nr::__NR_mmap => memory::mmap(p, a),
        nr::__NR_munmap => memory::munmap(p, a),
        nr::__NR_mprotect => memory::mprotect(p, a),
        nr::__NR_brk => memory::brk(p, a),
        nr::__NR_madvise => ok(0),
        nr::__NR_exit | nr::__NR_exit_group => Ok(Outcome::Exit(ExitStatus::Exited(a.0[0] as u8))),
        nr::__NR_getpid | nr::__NR_gettid => ok(u64::from(p.pid)),
        nr::__NR_getppid => ok(1),
        nr::__NR_getpgrp | nr::__NR_getsid => ok(u64::from(p.pid)),
        nr::__NR_getpgid => ok(u64::from(p.pid)),
        nr::__NR_setpgid | nr::__NR_setsid => ok(u64::from(p.pid)),
        nr::__NR_getuid | nr::__NR_geteuid => ok(u64::from(p.ctx.cred().uid())),
        nr::__NR_getgid | nr::__NR_getegid => ok(u64::from(p.ctx.cred().gid())),
        nr::__NR_getgroups => misc::getgroups(p, a),
        nr::__NR_setuid => misc::setuid(p, a.0[0]),
        nr::__NR_setgid => misc::setgid(p, a.0[0]),
        nr::__NR_setresuid => misc::setresuid(p, a),
        nr::__NR_setresgid => misc::setresgid(p, a),
        nr::__NR_getresuid => misc::getresid(p, a, true),
        nr::__NR_getresgid => misc::getresid(p, a, false),
        nr::__NR_setgroups => misc::setgroups(p, a),
        nr::__NR_uname => misc::uname(a),
        nr::__NR_arch_prctl => misc::arch_prctl(a),
        nr::__NR_set_tid_address => ok(u64::from(p.pid)),
        nr::__NR_set_robust_list => ok(0),
        nr::__NR_rseq => Err(Errno::ENOSYS),
        nr::__NR_prlimit64 => misc::prlimit64(a.0[1], a.0[2], a.0[3]),
        nr::__NR_getrlimit => misc::prlimit64(a.0[0], 0, a.0[1]),
        nr::__NR_setrlimit => ok(0),
        nr::__NR_getrandom => misc::getrandom(a),
        nr::__NR_prctl => misc::prctl(p, a),
        nr::__NR_rt_sigaction => misc::rt_sigaction(p, a),
        nr::__NR_rt_sigprocmask => misc::rt_sigprocmask(p, a),
        nr::__NR_sigaltstack => ok(0),
        nr::__NR_clock_gettime => misc::clock_gettime(a),
        nr::__NR_clock_getres => misc::clock_getres(a),
        nr::__NR_gettimeofday => misc::gettimeofday(a),
        nr::__NR_time => misc::time(a),
        nr::__NR_nanosleep => misc::nanosleep(a.0[0]),
        nr::__NR_clock_nanosleep => misc::clock_nanosleep(a),
        nr::__NR_sched_yield => ok(0),
        nr::__NR_futex => misc::futex(a),
        nr::__NR_kill | nr::__NR_tkill | nr::__NR_tgkill => misc::kill(p, n, a),
        nr::__NR_wait4 | nr::__NR_waitid => Err(Errno::ECHILD),
        nr::__NR_sysinfo => misc::sysinfo(a),
        nr::__NR_getcpu => ok(0),
        _ => unknown(p, number),
    }
}

/// ENOSYS, logged once per number per process: `PROGRAM: unimplemented system call N (NAME)`.
fn unknown(p: &mut Process, number: u64) -> SysResult {
    if p.unknown_logged.insert(number) {
        crate::println!("{}: unimplemented system call {number} ({})", p.name, misc::syscall_name(number));
    }
    Err(Errno::ENOSYS)
}
