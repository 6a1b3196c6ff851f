//! Processes in QEMU: the programs of the ramdisk's /bin (userland/ and busybox) run in
//! ring 3 and end the way Linux would end them.

use alloc::string::String;
use alloc::vec::Vec;

use errno::Errno;
use vfs_core::cred::Credentials;

use super::{ExitStatus, SIGFPE, SIGILL, SIGSEGV, run};
use crate::ktest::ktest;
use crate::vfs::{Context, UserBuf};

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|&w| String::from(w)).collect()
}

fn run_as_root(words: &[&str]) -> errno::KResult<ExitStatus> {
    run(Credentials::ROOT, &alloc::format!("/bin/{}", words[0]), &args(words), &[], "/")
}

#[ktest]
fn a_static_c_program_starts_and_exits_with_its_status() {
    assert_eq!(run_as_root(&["true"]), Ok(ExitStatus::Exited(0)));
    // fault with no argument prints its usage and exits 2.
    assert_eq!(run_as_root(&["fault"]), Ok(ExitStatus::Exited(2)));
}

#[ktest]
fn faults_end_only_the_program_with_the_signal_sh_reports() {
    assert_eq!(run_as_root(&["fault", "null"]), Ok(ExitStatus::Signaled(SIGSEGV)));
    assert_eq!(run_as_root(&["fault", "kernel"]), Ok(ExitStatus::Signaled(SIGSEGV)));
    assert_eq!(run_as_root(&["fault", "ud2"]), Ok(ExitStatus::Signaled(SIGILL)));
    assert_eq!(run_as_root(&["fault", "div0"]), Ok(ExitStatus::Signaled(SIGFPE)));
    assert_eq!(ExitStatus::Signaled(SIGSEGV).shell_status(), 139);
    assert_eq!(ExitStatus::Signaled(SIGILL).shell_status(), 132);
    assert_eq!(ExitStatus::Signaled(SIGFPE).shell_status(), 136);
    let report = super::take_fault_report().expect("the last fault is reported");
    assert!(report.contains("divide error"), "{report}");
    // The kernel is fine and the next program runs.
    assert_eq!(run_as_root(&["true"]), Ok(ExitStatus::Exited(0)));
}

#[ktest]
fn programs_that_cannot_run_are_refused_with_linux_errnos() {
    assert_eq!(run_as_root(&["no-such-program"]), Err(Errno::ENOENT));
    // Dynamically linked (PT_INTERP) and not ELF at all: ENOEXEC.
    assert_eq!(run_as_root(&["hello-dynamic"]), Err(Errno::ENOEXEC));
    assert_eq!(run_as_root(&["not-elf"]), Err(Errno::ENOEXEC));
    // Not executable: EACCES, as execve says.
    let words = args(&["passwd"]);
    assert_eq!(run(Credentials::ROOT, "/etc/passwd", &words, &[], "/"), Err(Errno::EACCES));
    assert_eq!(run(Credentials::ROOT, "/dev", &words, &[], "/"), Err(Errno::EACCES));
}

#[ktest]
fn a_rust_musl_program_runs_unchanged() {
    assert_eq!(run_as_root(&["hello-rs", "argument"]), Ok(ExitStatus::Exited(0)));
}

/// Reads 16 bytes of kernel memory through /dev/kmem.
fn kmem_bytes(address: u64) -> [u8; 16] {
    // SAFETY: the context is given no address by number but this code's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open("/dev/kmem", vfs_core::flags::O_RDONLY, 0).expect("root opens kmem");
    ctx.lseek(fd, address as i64, vfs_core::flags::SEEK_SET).expect("lseek");
    let mut bytes = [0u8; 16];
    assert_eq!(ctx.read(fd, UserBuf::from_mut_slice(&mut bytes)), Ok(16));
    bytes
}

#[ktest(timeout = 60)]
fn kernel_and_unmapped_pointers_are_efault_and_change_nothing() {
    // badptr hands these to read, write, pread and ioctl and exits 0 only when each
    // call failed as it does on Linux (EFAULT; /dev/null's write of an unmapped
    // lower-half buffer succeeds there too).
    let targets = [crate::mm::layout::DIRECT_MAP_BASE + 0x1000, crate::mm::layout::KERNEL_BASE];
    let before: Vec<[u8; 16]> = targets.iter().map(|&t| kmem_bytes(t)).collect();
    assert_eq!(run_as_root(&["badptr"]), Ok(ExitStatus::Exited(0)));
    let after: Vec<[u8; 16]> = targets.iter().map(|&t| kmem_bytes(t)).collect();
    assert_eq!(before, after);
}

#[ktest(timeout = 240)]
fn a_thousand_programs_leave_frames_and_heap_where_they_were() {
    // The first run may grow lazily made kernel structures; measure after it.
    assert_eq!(run_as_root(&["true"]), Ok(ExitStatus::Exited(0)));
    let frames = crate::mm::frames::stats().free;
    let heap = crate::mm::heap::stats().used;
    for round in 0..1000 {
        let status = if round % 100 == 7 { run_as_root(&["fault", "null"]) } else { run_as_root(&["true"]) };
        assert!(status.is_ok(), "round {round}: {status:?}");
        // The shell takes the fault's report after each program; so does this loop.
        let _ = super::take_fault_report();
    }
    assert_eq!(crate::mm::frames::stats().free, frames, "free frames");
    assert_eq!(crate::mm::heap::stats().used, heap, "heap bytes in use");
}

#[ktest]
fn busybox_runs_with_the_users_credentials() {
    // `id -u` exits 0 and nobody may not read /dev/mem (cat exits 1).
    let nobody = vfs_core::cred::user_by_name("nobody").expect("nobody").credentials();
    let words = args(&["busybox", "cat", "/dev/mem"]);
    assert_eq!(run(nobody, "/bin/busybox", &words, &[], "/"), Ok(ExitStatus::Exited(1)));
    assert_eq!(run_as_root(&["busybox", "true"]), Ok(ExitStatus::Exited(0)));
}

/// From user space: userland/msrcheck reads every CPU's memory-type MSRs through
/// /dev/cpu/N/msr and finds them alike, before, while and after a range is set.
#[ktest(timeout = 60)]
fn msrcheck_finds_every_cpu_alike_across_a_set() {
    use memrange::{
        MDF_UNCACHEABLE, MEMRANGE_SET, MEMRANGE_SET_REMOVE, MEMRANGE_SET_UPDATE, MemRangeDesc, MemRangeOp,
    };
    // SAFETY: the context is given no address by number but this code's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let mem = ctx.open("/dev/mem", vfs_core::flags::O_RDONLY, 0).unwrap();
    let set = |ctx: &mut Context, flags, op| {
        let mut desc = MemRangeDesc::new(0x1_0000_0000, 0x40_0000, flags, "check").to_bytes();
        let mut op = MemRangeOp { mo_desc: desc.as_mut_ptr() as u64, mo_arg: [op, 0] }.to_bytes();
        ctx.ioctl(mem, MEMRANGE_SET, op.as_mut_ptr() as u64)
    };
    assert_eq!(run_as_root(&["msrcheck"]), Ok(ExitStatus::Exited(0)));
    set(&mut ctx, MDF_UNCACHEABLE, MEMRANGE_SET_UPDATE).unwrap();
    assert_eq!(run_as_root(&["msrcheck"]), Ok(ExitStatus::Exited(0)));
    set(&mut ctx, 0, MEMRANGE_SET_REMOVE).unwrap();
    assert_eq!(run_as_root(&["msrcheck"]), Ok(ExitStatus::Exited(0)));
}
