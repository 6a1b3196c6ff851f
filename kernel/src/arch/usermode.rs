//! Ring 3: entering it, and coming back through SYSCALL, an exception or an interrupt.
//!
//! - First entry with IRETQ from [`enter_user`], which saves the kernel's callee-saved
//!   registers and stack pointer; the process's end ([`resume_kernel`]) returns from
//!   that call with the process's status, abandoning the process's kernel stack (there is
//!   one process at a time, run to completion by the shell).
//! - SYSCALL (SDM Vol. 3A 5.8.8): STAR holds the selectors, LSTAR the entry point,
//!   FMASK the RFLAGS bits cleared on entry (IF among them, so the entry runs with
//!   interrupts off until it is on the kernel stack). The entry swaps GS to this CPU's
//!   area, which holds the kernel stack top, saves the user's registers in a
//!   [`SyscallFrame`] on that stack and calls the handler the process layer registered.
//!   SYSRET returns; the handler refuses a non-canonical return address first (SYSRET
//!   would raise #GP in ring 0 on the user's stack).
//! - Interrupts and exceptions from ring 3 switch to TSS.RSP0, the same kernel stack.
//!
//! Also here: SMEP/SMAP (the kernel never executes user pages, and touches user memory
//! only between STAC and CLAC, in the fault-safe copies of `extable`), and FPU/SSE.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use spin::Once;
use x86_64::VirtAddr;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags, FsBase, GsBase, KernelGsBase, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;

use super::{gdt, smp};

/// The user registers saved by the SYSCALL entry, lowest address first. The handler
/// reads the arguments and writes the result into `rax`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SyscallFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r9: u64,
    pub r8: u64,
    pub r10: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    /// The system-call number on entry, the result on return.
    pub rax: u64,
    /// The user's RIP (SYSCALL put it in RCX).
    pub rip: u64,
    /// The user's RFLAGS (SYSCALL put it in R11).
    pub rflags: u64,
    pub rsp: u64,
}

/// Where [`enter_user`] left the kernel's stack, for [`resume_kernel`]; 0 when no
/// process runs.
static RESUME_RSP: AtomicU64 = AtomicU64::new(0);

/// What the process layer registers: the system-call handler, and what to do when
/// ring-3 code faults (never returns: it ends the process).
pub struct Hooks {
    pub syscall: fn(&mut SyscallFrame),
    pub fault: fn(UserFault) -> !,
    /// Called on each timer tick that interrupted ring 3 (after the end of interrupt is
    /// sent): may end the process (Ctrl-C).
    pub tick: fn(),
}

static HOOKS: Once<Hooks> = Once::new();

/// Registers the process layer's handlers (once).
pub fn set_hooks(hooks: Hooks) {
    HOOKS.call_once(|| hooks);
}

/// A fault raised by ring-3 code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFault {
    pub vector: u8,
    pub rip: u64,
    /// CR2 for a page fault, else 0.
    pub address: u64,
    pub error_code: u64,
}

/// The end of the lower half: user addresses are below it (47-bit canonical).
pub const USER_END: u64 = 0x0000_8000_0000_0000;

const USER_RFLAGS: u64 = RFlags::INTERRUPT_FLAG.bits() | 0x2;

core::arch::global_asm!(
    r#"
    .pushsection .text.devmem_usermode, "ax"
    .global devmem_syscall_entry
devmem_syscall_entry:
    swapgs
    mov gs:[0], rsp
    mov rsp, gs:[8]
    push qword ptr gs:[0]
    push r11
    push rcx
    push rax
    push rdi
    push rsi
    push rdx
    push r10
    push r8
    push r9
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    call {dispatch}
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    pop r9
    pop r8
    pop r10
    pop rdx
    pop rsi
    pop rdi
    pop rax
    pop rcx
    pop r11
    pop rsp
    swapgs
    sysretq

    // u64 devmem_enter_user(rip, rsp, resume_slot: *mut u64, cs, ss)
    .global devmem_enter_user
devmem_enter_user:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [rdx], rsp
    push r8
    push rsi
    push {rflags}
    push rcx
    push rdi
    xor eax, eax
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    xor esi, esi
    xor edi, edi
    xor ebp, ebp
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    xor r11d, r11d
    xor r12d, r12d
    xor r13d, r13d
    xor r14d, r14d
    xor r15d, r15d
    iretq

    // ! devmem_resume_kernel(saved_rsp, status)
    .global devmem_resume_kernel
devmem_resume_kernel:
    mov rsp, rdi
    mov rax, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret
    .popsection
    "#,
    dispatch = sym syscall_dispatch,
    rflags = const USER_RFLAGS,
);

unsafe extern "C" {
    fn devmem_syscall_entry();
    fn devmem_enter_user(rip: u64, rsp: u64, resume_slot: *mut u64, cs: u64, ss: u64) -> u64;
    fn devmem_resume_kernel(saved_rsp: u64, status: u64) -> !;
}

/// Called by the SYSCALL entry on the process's kernel stack, interrupts off.
extern "C" fn syscall_dispatch(frame: &mut SyscallFrame) {
    let Some(hooks) = HOOKS.get() else {
        frame.rax = (-38i64) as u64; // ENOSYS
        return;
    };
    // The handler runs with interrupts on (the timer, the console); they go off again
    // before the entry code restores the user's stack.
    super::cpu::enable_interrupts();
    (hooks.syscall)(frame);
    super::cpu::disable_interrupts();
    if frame.rip >= USER_END {
        // SYSRET to a non-canonical or kernel address would fault in ring 0.
        (hooks.fault)(UserFault { vector: 13, rip: frame.rip, address: 0, error_code: 0 });
    }
}

/// RFLAGS bits SYSCALL clears (Linux's choice): TF, DF, IF, IOPL, AC, NT.
const SYSCALL_MASK: RFlags = RFlags::TRAP_FLAG
    .union(RFlags::DIRECTION_FLAG)
    .union(RFlags::INTERRUPT_FLAG)
    .union(RFlags::IOPL_LOW)
    .union(RFlags::IOPL_HIGH)
    .union(RFlags::ALIGNMENT_CHECK)
    .union(RFlags::NESTED_TASK);

static SMEP: AtomicBool = AtomicBool::new(false);

/// Sets up SYSCALL/SYSRET, FPU/SSE for user code, and SMEP/SMAP where CPUID has them,
/// on the BSP.
pub fn init() {
    let features = super::cpuid::structured_features();
    SMEP.store(features.smep, Ordering::Relaxed);
    // SMAP is recorded as on before CR4.SMAP is set: extable's copies open a STAC
    // window once it is.
    super::cpu::record_smap(features.smap);
    init_cpu();
}

/// The same set-up on the running CPU (an AP, or the BSP from `init`), with the BSP's
/// choice of SMEP and SMAP. Needs the CPU's GDT loaded and its GS bases set.
pub(super) fn init_cpu() {
    let s = gdt::selectors();
    // SAFETY: the selectors are the GDT's, in the order SYSCALL/SYSRET need (checked by
    // a test in gdt); LSTAR is the entry above, which switches to a kernel stack before
    // touching memory; FMASK clears IF so it cannot be interrupted before that.
    unsafe {
        Star::write(s.user_code, s.user_data, s.kernel_code, s.kernel_data)
            .expect("the GDT's selectors suit STAR");
        LStar::write(VirtAddr::new(devmem_syscall_entry as *const () as u64));
        SFMask::write(SYSCALL_MASK);
        Efer::update(|flags| flags.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
    }
    // FPU and SSE for user programs (the kernel, built soft-float, uses neither):
    // CR0.MP with EM clear, CR4.OSFXSR and OSXMMEXCPT (SDM Vol. 3A, 13.1.3).
    // SAFETY: enabling FPU/SSE instructions changes nothing for code that does not use
    // them.
    unsafe {
        Cr0::update(|flags| {
            flags.insert(Cr0Flags::MONITOR_COPROCESSOR);
            flags.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
        });
        Cr4::update(|flags| flags.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
    }
    if SMEP.load(Ordering::Relaxed) {
        // SAFETY: the kernel never executes code in user pages.
        unsafe { Cr4::update(|flags| flags.insert(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION)) };
    }
    if super::cpu::smap_recorded() {
        // SAFETY: the kernel reaches user memory only through extable's copies, which
        // open a STAC window once SMAP is recorded as on (just above).
        unsafe { Cr4::update(|flags| flags.insert(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION)) };
    }
}

/// Whether SMEP and SMAP are on.
pub fn smep_smap() -> (bool, bool) {
    (SMEP.load(Ordering::Relaxed), super::cpu::smap_recorded())
}

/// The state a program starts in.
#[derive(Clone, Copy, Debug)]
pub struct UserEntry {
    pub rip: u64,
    pub rsp: u64,
    /// The top of the process's kernel stack (16-byte aligned).
    pub kernel_stack_top: u64,
}

/// Runs ring-3 code from `entry` in the current address space until the process ends,
/// and returns the status passed to [`resume_kernel`].
///
/// # Safety
/// The current page tables must map, user-accessible, only what the process may
/// touch in the lower half, and the kernel half as the kernel has it;
/// `kernel_stack_top` must be the top of a kernel stack of at least 16 KiB that stays
/// valid until this returns and that nothing else uses.
pub unsafe fn enter_user(entry: UserEntry) -> u64 {
    if RESUME_RSP.load(Ordering::Relaxed) != 0 {
        panic!("enter_user: a process is already running");
    }
    let s = gdt::selectors();
    super::cpu::disable_interrupts();
    gdt::set_kernel_stack(entry.kernel_stack_top);
    let this_cpu = smp::this_cpu();
    this_cpu.kernel_rsp.store(entry.kernel_stack_top, Ordering::Relaxed);
    // A new program's FPU/SSE state is the reset one.
    // SAFETY: FNINIT and LDMXCSR with the default value only reset FPU/SSE state, which
    // the kernel does not use.
    unsafe {
        core::arch::asm!("fninit", "ldmxcsr [{mxcsr}]", mxcsr = in(reg) &0x1f80u32, options(nostack));
    }
    FsBase::write(VirtAddr::zero());
    // Ring 3 sees GS base 0; the kernel's GS base waits in KERNEL_GS_BASE for SWAPGS.
    GsBase::write(VirtAddr::zero());
    KernelGsBase::write(smp::this_cpu_area());
    let slot = RESUME_RSP.as_ptr();
    // SAFETY: the caller vouches for the address space and stack; the selectors are
    // user selectors with RPL 3; the assembly saves the callee-saved registers and the
    // stack pointer in `slot` for `resume_kernel`.
    let status = unsafe {
        devmem_enter_user(entry.rip, entry.rsp, slot, u64::from(s.user_code.0), u64::from(s.user_data.0))
    };
    RESUME_RSP.store(0, Ordering::Relaxed);
    // Back on the kernel's stack, perhaps from an exception handler or the SYSCALL
    // entry (GS swapped): put the kernel's view back.
    // The kernel does not use FS; the user's values are dead. Both GS bases point at this
    // CPU's state again.
    smp::install_gs(smp::current_cpu());
    FsBase::write(VirtAddr::zero());
    super::cpu::user_access_end();
    super::cpu::enable_interrupts();
    status
}

/// Ends the running process: returns from its [`enter_user`] with `status`. Called
/// from the system-call handler (exit) or the fault and tick hooks, on the process's
/// kernel stack, which is abandoned.
pub fn resume_kernel(status: u64) -> ! {
    super::cpu::disable_interrupts();
    let saved = RESUME_RSP.load(Ordering::Relaxed);
    assert_ne!(saved, 0, "resume_kernel without a running process");
    // SAFETY: `saved` is the stack pointer `enter_user` stored, on the kernel stack
    // below its frame, which is still live: enter_user has not returned.
    unsafe { devmem_resume_kernel(saved, status) }
}

/// Sets the user's FS base (arch_prctl ARCH_SET_FS): TLS in every libc.
pub fn set_user_fs_base(base: u64) -> bool {
    match VirtAddr::try_new(base) {
        Ok(addr) if base < USER_END => {
            FsBase::write(addr);
            true
        }
        _ => false,
    }
}

/// The user's FS base.
pub fn user_fs_base() -> u64 {
    FsBase::read().as_u64()
}

/// Reports a fault from ring 3 to the process layer, which ends the process. Called
/// by the exception handlers when the interrupted code segment has RPL 3.
pub(super) fn user_fault(fault: UserFault) -> ! {
    match HOOKS.get() {
        Some(hooks) => (hooks.fault)(fault),
        None => panic!("fault in ring 3 with no process layer: {fault:?}"),
    }
}

/// The timer tick interrupted ring 3.
pub(super) fn user_tick() {
    if let Some(hooks) = HOOKS.get() {
        (hooks.tick)();
    }
}
