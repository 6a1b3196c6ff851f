//! Identity, time, limits, signals (recorded only) and the other small calls.

use errno::{Errno, KResult};
use vfs_core::cred::{Credentials, MAX_GROUPS};

use super::user;
use super::{Args, Outcome, SysResult, ok};
use crate::proc::{ExitStatus, Process};

/// getgroups: the supplementary groups in ascending order, as Linux keeps them (its
/// setgroups sorts the list: `groups_sort` in kernel/groups.c).
pub fn getgroups(p: &mut Process, a: Args) -> SysResult {
    let mut groups = p.ctx.cred().groups().to_vec();
    groups.sort_unstable();
    let size = a.0[0] as i32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if size == 0 {
        return ok(groups.len() as u64);
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: alloc::vec::Vec<u8> = groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    user::copy_out(a.0[1], &bytes)?;
    ok(groups.len() as u64)
}

fn set_ids(p: &mut Process, uid: Option<u32>, gid: Option<u32>) -> SysResult {
    let cred = *p.ctx.cred();
    let same = uid.is_none_or(|u| u == cred.uid()) && gid.is_none_or(|g| g == cred.gid());
    if !cred.is_root() && !same {
        return Err(Errno::EPERM);
    }
    let new = Credentials::new(uid.unwrap_or(cred.uid()), gid.unwrap_or(cred.gid()), cred.groups());
    p.ctx.set_cred(new);
    ok(0)
}

fn id(value: u64) -> Option<u32> {
    (value as u32 != u32::MAX).then_some(value as u32)
}

pub fn setuid(p: &mut Process, uid: u64) -> SysResult {
    set_ids(p, id(uid), None)
}

pub fn setgid(p: &mut Process, gid: u64) -> SysResult {
    set_ids(p, None, id(gid))
}

pub fn setresuid(p: &mut Process, a: Args) -> SysResult {
    let wanted = [a.0[0], a.0[1], a.0[2]].into_iter().filter_map(id).collect::<alloc::vec::Vec<_>>();
    if wanted.windows(2).any(|w| w[0] != w[1]) {
        return Err(Errno::EPERM);
    }
    set_ids(p, wanted.first().copied(), None)
}

pub fn setresgid(p: &mut Process, a: Args) -> SysResult {
    let wanted = [a.0[0], a.0[1], a.0[2]].into_iter().filter_map(id).collect::<alloc::vec::Vec<_>>();
    if wanted.windows(2).any(|w| w[0] != w[1]) {
        return Err(Errno::EPERM);
    }
    set_ids(p, None, wanted.first().copied())
}

pub fn getresid(p: &mut Process, a: Args, uid: bool) -> SysResult {
    let cred = p.ctx.cred();
    let value = if uid { cred.uid() } else { cred.gid() };
    for &ptr in &a.0[..3] {
        user::copy_out(ptr, &value.to_le_bytes())?;
    }
    ok(0)
}

pub fn setgroups(p: &mut Process, a: Args) -> SysResult {
    let cred = *p.ctx.cred();
    if !cred.is_root() {
        return Err(Errno::EPERM);
    }
    let n = a.0[0] as usize;
    if n > MAX_GROUPS {
        return Err(Errno::EINVAL);
    }
    let raw = user::copy_in(a.0[1], 4 * n)?;
    let groups: alloc::vec::Vec<u32> =
        raw.as_chunks::<4>().0.iter().map(|c| u32::from_le_bytes(*c)).collect();
    p.ctx.set_cred(Credentials::new(cred.uid(), cred.gid(), &groups));
    ok(0)
}

/// `struct utsname`: six fields of 65 bytes.
pub fn uname(a: Args) -> SysResult {
    let fields = ["devmem", "devmem", crate::VERSION, "#1 devmem kernel", "x86_64", "(none)"];
    let mut out = [0u8; 6 * 65];
    for (i, field) in fields.iter().enumerate() {
        out[65 * i..65 * i + field.len()].copy_from_slice(field.as_bytes());
    }
    user::copy_out(a.0[0], &out)?;
    ok(0)
}

pub fn arch_prctl(a: Args) -> SysResult {
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    match a.0[0] {
        ARCH_SET_FS => {
            if crate::arch::usermode::set_user_fs_base(a.0[1]) {
                ok(0)
            } else {
                Err(Errno::EPERM)
            }
        }
        ARCH_GET_FS => {
            user::write_u64(a.0[1], crate::arch::usermode::user_fs_base())?;
            ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// prlimit64 on the calling process (pid 0 or its own): reports the limits this kernel
/// keeps (8 MiB stack, 64 open files, no others); setting is accepted and ignored.
pub fn prlimit64(resource: u64, new: u64, old: u64) -> SysResult {
    const RLIMIT_STACK: u64 = 3;
    const RLIMIT_NOFILE: u64 = 7;
    const INFINITY: u64 = u64::MAX;
    if resource >= 16 {
        return Err(Errno::EINVAL);
    }
    if new != 0 {
        user::copy_in(new, 16)?;
    }
    if old != 0 {
        let (cur, max) = match resource {
            RLIMIT_STACK => (8 << 20, INFINITY),
            RLIMIT_NOFILE => (crate::vfs::MAX_FDS as u64, crate::vfs::MAX_FDS as u64),
            _ => (INFINITY, INFINITY),
        };
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&cur.to_le_bytes());
        bytes[8..].copy_from_slice(&max.to_le_bytes());
        user::copy_out(old, &bytes)?;
    }
    ok(0)
}

pub fn getrandom(a: Args) -> SysResult {
    let len = (a.0[1] as usize).min(1 << 20);
    let buf = user::buffer(a.0[0], len)?;
    let mut done = 0;
    while done < len {
        let bytes = crate::arch::cpuid::random_bytes();
        let n = bytes.len().min(len - done);
        buf.write_at(done, &bytes[..n])?;
        done += n;
    }
    ok(len as u64)
}

pub fn prctl(p: &mut Process, a: Args) -> SysResult {
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    match a.0[0] {
        PR_SET_NAME => {
            let name = user::read_string(a.0[1], 4096)?;
            p.name = name.chars().take(15).collect();
            ok(0)
        }
        PR_GET_NAME => {
            let mut out = [0u8; 16];
            let bytes = p.name.as_bytes();
            out[..bytes.len().min(15)].copy_from_slice(&bytes[..bytes.len().min(15)]);
            user::copy_out(a.0[1], &out)?;
            ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// rt_sigaction: records the action (32 bytes: handler, flags, restorer, mask) and
/// returns the old one; handlers are never called in this kernel.
pub fn rt_sigaction(p: &mut Process, a: Args) -> SysResult {
    let signal = a.0[0] as u32;
    if signal == 0 || signal > 64 || a.0[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if a.0[1] != 0 { Some(user::copy_in(a.0[1], 32)?) } else { None };
    if new.is_some() && (signal == 9 || signal == 19) {
        return Err(Errno::EINVAL);
    }
    if a.0[2] != 0 {
        let old = p.signal_actions.get(&signal).copied().unwrap_or([0; 32]);
        user::copy_out(a.0[2], &old)?;
    }
    if let Some(new) = new {
        let mut action = [0u8; 32];
        action.copy_from_slice(&new);
        p.signal_actions.insert(signal, action);
    }
    ok(0)
}

pub fn rt_sigprocmask(p: &mut Process, a: Args) -> SysResult {
    const SIG_BLOCK: u64 = 0;
    const SIG_UNBLOCK: u64 = 1;
    const SIG_SETMASK: u64 = 2;
    if a.0[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if a.0[1] != 0 { Some(user::read_u64(a.0[1])?) } else { None };
    if a.0[2] != 0 {
        user::write_u64(a.0[2], p.signal_mask)?;
    }
    if let Some(set) = new {
        p.signal_mask = match a.0[0] {
            SIG_BLOCK => p.signal_mask | set,
            SIG_UNBLOCK => p.signal_mask & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
    }
    ok(0)
}

fn now_ns() -> u64 {
    crate::arch::timer::uptime_ns()
}

fn timespec(ns: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    out[8..].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    out
}

/// Every clock counts from boot: this kernel reads no real-time clock, so
/// CLOCK_REALTIME starts at the epoch when the machine starts.
pub fn clock_gettime(a: Args) -> SysResult {
    if a.0[0] > 11 {
        return Err(Errno::EINVAL);
    }
    user::copy_out(a.0[1], &timespec(now_ns()))?;
    ok(0)
}

pub fn clock_getres(a: Args) -> SysResult {
    if a.0[0] > 11 {
        return Err(Errno::EINVAL);
    }
    if a.0[1] != 0 {
        user::copy_out(a.0[1], &timespec(1))?;
    }
    ok(0)
}

pub fn gettimeofday(a: Args) -> SysResult {
    if a.0[0] != 0 {
        let ns = now_ns();
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        out[8..].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
        user::copy_out(a.0[0], &out)?;
    }
    if a.0[1] != 0 {
        user::copy_out(a.0[1], &[0u8; 8])?;
    }
    ok(0)
}

pub fn time(a: Args) -> SysResult {
    let seconds = now_ns() / 1_000_000_000;
    if a.0[0] != 0 {
        user::write_u64(a.0[0], seconds)?;
    }
    ok(seconds)
}

fn read_timespec(addr: u64) -> KResult<u64> {
    let raw = user::copy_in(addr, 16)?;
    let sec = i64::from_le_bytes(raw[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let nsec = i64::from_le_bytes(raw[8..].try_into().map_err(|_| Errno::EFAULT)?);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64).saturating_mul(1_000_000_000).saturating_add(nsec as u64))
}

/// Sleeps until uptime reaches `until` (ns), waking for Ctrl-C (EINTR; the program
/// then ends).
fn sleep_until(until: u64) -> KResult<()> {
    while now_ns() < until {
        if crate::console::interrupt_pending() {
            return Err(Errno::EINTR);
        }
        crate::arch::cpu::disable_interrupts();
        crate::arch::cpu::wait_for_interrupt();
        crate::arch::cpu::enable_interrupts();
    }
    Ok(())
}

pub fn nanosleep(req: u64) -> SysResult {
    let ns = read_timespec(req)?;
    sleep_until(now_ns().saturating_add(ns))?;
    ok(0)
}

pub fn clock_nanosleep(a: Args) -> SysResult {
    const TIMER_ABSTIME: u64 = 1;
    let ns = read_timespec(a.0[2])?;
    let until = if a.0[1] & TIMER_ABSTIME != 0 { ns } else { now_ns().saturating_add(ns) };
    sleep_until(until)?;
    ok(0)
}

/// One thread per process: a wake wakes nobody, a wait would wait for ever (EAGAIN
/// when the value differs, as Linux; otherwise EINTR-like failure instead of a hang).
pub fn futex(a: Args) -> SysResult {
    const FUTEX_WAIT: u64 = 0;
    const FUTEX_WAKE: u64 = 1;
    match a.0[1] & 0x7f {
        FUTEX_WAKE => ok(0),
        FUTEX_WAIT => {
            let value = user::copy_in(a.0[0], 4)?;
            if u32::from_le_bytes([value[0], value[1], value[2], value[3]]) != a.0[2] as u32 {
                Err(Errno::EAGAIN)
            } else {
                Err(Errno::EINTR)
            }
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// kill/tkill/tgkill: only the process itself exists; a signal ends it (handlers are
/// not delivered), signal 0 checks that it exists.
pub fn kill(p: &mut Process, number: u32, a: Args) -> SysResult {
    let (pid, signal) =
        if number == linux_raw_sys::general::__NR_tgkill { (a.0[1], a.0[2]) } else { (a.0[0], a.0[1]) };
    let pid = pid as i32;
    if pid != 0 && pid != -1 && pid as u32 != p.pid {
        return Err(Errno::ESRCH);
    }
    match signal {
        0 => ok(0),
        1..=64 => Ok(Outcome::Exit(ExitStatus::Signaled(signal as u8))),
        _ => Err(Errno::EINVAL),
    }
}

/// `struct sysinfo`: uptime, memory from the frame allocator, one process.
pub fn sysinfo(a: Args) -> SysResult {
    let stats = crate::mm::frames::stats();
    let mut out = [0u8; 112];
    out[..8].copy_from_slice(&(now_ns() / 1_000_000_000).to_le_bytes());
    out[32..40].copy_from_slice(&(stats.managed * 4096).to_le_bytes());
    out[40..48].copy_from_slice(&(stats.free * 4096).to_le_bytes());
    out[80..82].copy_from_slice(&1u16.to_le_bytes());
    out[104..108].copy_from_slice(&1u32.to_le_bytes());
    user::copy_out(a.0[0], &out)?;
    ok(0)
}

/// Names of system calls for the "unimplemented" log line.
pub fn syscall_name(number: u64) -> &'static str {
    match number {
        7 => "poll",
        22 => "pipe",
        23 => "select",
        25 => "mremap",
        41 => "socket",
        42 => "connect",
        56 => "clone",
        57 => "fork",
        58 => "vfork",
        59 => "execve",
        61 => "wait4",
        74 => "fsync",
        76 => "truncate",
        77 => "ftruncate",
        82 => "rename",
        83 => "mkdir",
        84 => "rmdir",
        86 => "link",
        88 => "symlink",
        91 => "fchmod",
        93 => "fchown",
        99 => "sysinfo",
        137 => "statfs",
        138 => "fstatfs",
        160 => "setrlimit",
        165 => "mount",
        169 => "reboot",
        213 => "epoll_create",
        232 => "epoll_wait",
        257 => "openat",
        270 => "pselect6",
        271 => "ppoll",
        280 => "utimensat",
        293 => "pipe2",
        316 => "renameat2",
        332 => "statx",
        435 => "clone3",
        _ => "?",
    }
}
