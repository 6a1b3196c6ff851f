//! More than one CPU: per-CPU state, starting the APs, and calls across CPUs.
//!
//! - **Per-CPU state.** [`PerCpu`], one per CPU number (the BSP is 0, the APs follow in
//!   the MADT's order), reached through GS: IA32_GS_BASE and IA32_KERNEL_GS_BASE both
//!   hold this CPU's entry while the kernel runs; in ring 3 and in a system call one of
//!   them holds the user's value, so [`current_cpu`] takes whichever points into the
//!   table. The SYSCALL entry's scratch words are its first two fields.
//! - **Start-up** (SDM Vol. 3A, 9.4.4): INIT to every AP, 10 ms, then for each AP in
//!   turn STARTUP twice (200 µs apart) at the trampoline, which goes from real mode to
//!   protected mode to long mode on a small page table of its own (below 1 MiB, so that
//!   32-bit code can load it) and calls [`ap_entry`] on the AP's own kernel stack. An
//!   AP that is not online within [`AP_START_TIMEOUT_MS`] is sent INIT again (so it
//!   can never run later on shared start-up data) and left out.
//! - **Cross-CPU calls**: a mailbox per CPU and a fixed IPI ([`CALL_VECTOR`]); the caller
//!   waits for each acknowledgement with a time limit and learns which CPUs did not
//!   answer. On top: [`rendezvous`] (lockstep phases between barriers, interrupts off,
//!   as the SDM's MTRR update procedure wants) and TLB shoot-downs.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use spin::{Mutex, Once};
use x86_64::VirtAddr;
use x86_64::registers::control::{Cr0, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{GsBase, KernelGsBase};

use super::{apic, cpu, gdt};

/// The most CPUs the kernel drives (a [`CpuSet`] is a 64-bit mask).
pub use super::percpu::{MAX_CPUS, current_cpu};

/// The physical page of the AP trampoline, and the three page-table pages after it:
/// below 1 MiB, where the frame allocator never hands out frames (`mm::frames`).
pub const TRAMPOLINE_PHYS: u64 = 0x8000;
/// The trampoline's code page and its page tables (PML4, PDPT, PD).
pub const TRAMPOLINE_LEN: u64 = 4 * 4096;

/// The vector of cross-CPU calls.
pub const CALL_VECTOR: u8 = 0xf0;

/// How long an AP has to come online after its second STARTUP. Generous, because under
/// TCG the virtual CPUs share the host's cores with everything else.
pub const AP_START_TIMEOUT_MS: u64 = 500;
/// How long a cross-CPU call waits for each acknowledgement, and a rendezvous for every
/// CPU to reach its first barrier.
pub const CALL_TIMEOUT_MS: u64 = 1000;

/// The size of each AP's kernel stack, in 4 KiB pages (64 KiB).
pub const AP_STACK_PAGES: u64 = 16;

/// A set of CPU numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuSet(pub u64);

impl CpuSet {
    pub const EMPTY: Self = Self(0);

    pub fn contains(self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.0 & (1 << cpu) != 0
    }

    pub fn insert(&mut self, cpu: usize) {
        if cpu < MAX_CPUS {
            self.0 |= 1 << cpu;
        }
    }

    pub fn remove(&mut self, cpu: usize) {
        if cpu < MAX_CPUS {
            self.0 &= !(1 << cpu);
        }
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The CPU numbers, in increasing order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..MAX_CPUS).filter(move |&cpu| self.contains(cpu))
    }
}

/// A cross-CPU call waiting in a CPU's mailbox: `func(arg)`. `request` counts the calls
/// posted, `done` the calls run; they differ while one is pending.
struct Mailbox {
    request: AtomicU64,
    done: AtomicU64,
    func: AtomicUsize,
    arg: AtomicU64,
    /// Set while this CPU runs a call: a call that itself waits for the call lock keeps
    /// polling its mailbox, and must not run itself again.
    running: AtomicBool,
}

/// One CPU's state.
#[repr(C, align(64))]
pub struct PerCpu {
    /// The user's RSP while the SYSCALL entry switches stacks (`gs:[0]`).
    pub(super) user_rsp: AtomicU64,
    /// The top of the running process's kernel stack (`gs:[8]`).
    pub(super) kernel_rsp: AtomicU64,
    apic_id: AtomicU32,
    online: AtomicBool,
    /// The top of the CPU's kernel stack (0 for the BSP, whose stack the bootloader made).
    stack_top: AtomicU64,
    identity: Once<vfs_core::cpuinfo::CpuId>,
    call: Mailbox,
}

impl PerCpu {
    const fn new() -> Self {
        Self {
            user_rsp: AtomicU64::new(0),
            kernel_rsp: AtomicU64::new(0),
            apic_id: AtomicU32::new(0),
            online: AtomicBool::new(false),
            stack_top: AtomicU64::new(0),
            identity: Once::new(),
            call: Mailbox {
                request: AtomicU64::new(0),
                done: AtomicU64::new(0),
                func: AtomicUsize::new(0),
                arg: AtomicU64::new(0),
                running: AtomicBool::new(false),
            },
        }
    }
}

static CPUS: [PerCpu; MAX_CPUS] = [const { PerCpu::new() }; MAX_CPUS];
/// Set once `start_aps` is over: from then on every online AP takes cross-CPU calls.
static BRINGUP_DONE: AtomicBool = AtomicBool::new(false);

/// Whether a change to the kernel's page tables must be shot down on other CPUs: more
/// than one CPU is online and their start-up is over. While APs start, the BSP only adds
/// mappings (their stacks, heap growth), which no CPU can have cached, and an AP still
/// starting may not take calls yet.
pub fn shootdowns_needed() -> bool {
    cpu_count() > 1 && BRINGUP_DONE.load(Ordering::Acquire)
}
static ONLINE: AtomicU64 = AtomicU64::new(0);

/// This CPU's state.
pub(super) fn this_cpu() -> &'static PerCpu {
    &CPUS[current_cpu()]
}

/// The CPUs that are online (the BSP, and every AP that answered).
pub fn online_cpus() -> CpuSet {
    CpuSet(ONLINE.load(Ordering::Acquire))
}

/// How many CPUs are online.
pub fn cpu_count() -> usize {
    online_cpus().len().max(1)
}

/// The APIC ID of CPU `cpu`, if it is online.
pub fn apic_id(cpu: usize) -> Option<u32> {
    online_cpus().contains(cpu).then(|| CPUS[cpu].apic_id.load(Ordering::Relaxed))
}

/// The top of the kernel stack [`start_aps`] gave AP `cpu` ([`AP_STACK_PAGES`] pages
/// below it), if it is an online AP.
pub fn ap_stack_top(cpu: usize) -> Option<u64> {
    let top = CPUS.get(cpu)?.stack_top.load(Ordering::Relaxed);
    (online_cpus().contains(cpu) && top != 0).then_some(top)
}

/// The CPUID registers CPU `cpu` reported when it came up.
pub fn identity(cpu: usize) -> Option<vfs_core::cpuinfo::CpuId> {
    if !online_cpus().contains(cpu) {
        return None;
    }
    CPUS[cpu].identity.get().copied()
}

/// Points IA32_GS_BASE and IA32_KERNEL_GS_BASE at CPU `cpu`'s state.
pub(super) fn install_gs(cpu: usize) {
    super::percpu::register_areas(CPUS.as_ptr() as u64, size_of::<PerCpu>() as u64);
    let area = VirtAddr::from_ptr(&CPUS[cpu]);
    GsBase::write(area);
    KernelGsBase::write(area);
}

/// The address of this CPU's state, for IA32_KERNEL_GS_BASE while ring 3 runs.
pub(super) fn this_cpu_area() -> VirtAddr {
    VirtAddr::from_ptr(this_cpu())
}

fn record_this_cpu(cpu: usize) {
    let state = &CPUS[cpu];
    state.apic_id.store(apic::id(), Ordering::Relaxed);
    state.identity.call_once(super::cpuid::identity);
    state.online.store(true, Ordering::Release);
    ONLINE.fetch_or(1 << cpu, Ordering::AcqRel);
}

/// Makes the BSP CPU 0 of the table: its GS bases, APIC ID and CPUID. Call after the
/// local APIC mode is chosen (and enabled), before [`start_aps`].
pub fn init_bsp() {
    install_gs(0);
    record_this_cpu(0);
}

// ---------------------------------------------------------------------------------------
// The trampoline

core::arch::global_asm!(
    r#"
    .pushsection .text.devmem_ap_trampoline, "ax"
    .global devmem_ap_trampoline_start
    .global devmem_ap_trampoline_end
    .global devmem_ap_trampoline_cr3
    .global devmem_ap_trampoline_stack
    .global devmem_ap_trampoline_cpu
    .global devmem_ap_trampoline_entry
    .code16
devmem_ap_trampoline_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl (devmem_ap_trampoline_gdtr - devmem_ap_trampoline_start)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $({base} + devmem_ap_trampoline_32 - devmem_ap_trampoline_start)

    .code32
devmem_ap_trampoline_32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov ({base} + devmem_ap_trampoline_cr3 - devmem_ap_trampoline_start), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $0x900, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010000, %eax
    mov %eax, %cr0
    ljmpl $0x18, $({base} + devmem_ap_trampoline_64 - devmem_ap_trampoline_start)

    .code64
devmem_ap_trampoline_64:
    xor %eax, %eax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov ({base} + devmem_ap_trampoline_stack - devmem_ap_trampoline_start), %rsp
    mov ({base} + devmem_ap_trampoline_cpu - devmem_ap_trampoline_start), %rdi
    mov ({base} + devmem_ap_trampoline_entry - devmem_ap_trampoline_start), %rax
    call *%rax
    ud2

    .balign 8
devmem_ap_trampoline_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
devmem_ap_trampoline_gdtr:
    .word 31
    .long {base} + devmem_ap_trampoline_gdt - devmem_ap_trampoline_start
    .balign 8
devmem_ap_trampoline_cr3:
    .quad 0
devmem_ap_trampoline_stack:
    .quad 0
devmem_ap_trampoline_cpu:
    .quad 0
devmem_ap_trampoline_entry:
    .quad 0
devmem_ap_trampoline_end:
    .popsection
    "#,
    base = const TRAMPOLINE_PHYS,
    options(att_syntax),
);

unsafe extern "C" {
    static devmem_ap_trampoline_start: u8;
    static devmem_ap_trampoline_end: u8;
    static devmem_ap_trampoline_cr3: u8;
    static devmem_ap_trampoline_stack: u8;
    static devmem_ap_trampoline_cpu: u8;
    static devmem_ap_trampoline_entry: u8;
}

/// The trampoline's code and data as assembled, and the offsets of its four parameters.
fn trampoline_image() -> (&'static [u8], [usize; 4]) {
    let start = &raw const devmem_ap_trampoline_start;
    let end = &raw const devmem_ap_trampoline_end;
    let offset = |p: *const u8| p as usize - start as usize;
    // SAFETY: the two symbols delimit the trampoline's bytes in the kernel's text, which
    // is mapped and never written.
    let image = unsafe { core::slice::from_raw_parts(start, end as usize - start as usize) };
    let params = [
        offset(&raw const devmem_ap_trampoline_cr3),
        offset(&raw const devmem_ap_trampoline_stack),
        offset(&raw const devmem_ap_trampoline_cpu),
        offset(&raw const devmem_ap_trampoline_entry),
    ];
    (image, params)
}

/// The kernel's top-level table, which each AP loads first thing.
static KERNEL_CR3: AtomicU64 = AtomicU64::new(0);
/// The BSP's CR4, for the bits the APs copy (global pages, which the bootloader chose).
static BSP_CR4: AtomicU64 = AtomicU64::new(0);
/// The BSP's CR0: an AP leaves INIT with the caches disabled (CD and NW set) and takes
/// the BSP's value instead.
static BSP_CR0: AtomicU64 = AtomicU64::new(0);
/// The BSP's MTRRs: the firmware programs only the BSP's (QEMU's SeaBIOS leaves the APs'
/// disabled, so all their memory would be uncached), and each AP copies them, as Linux's
/// `mtrr_ap_init` does.
/// What the rest of arch does around an AP's start (`arch::init` registers it): `smp`
/// brings the CPU up and gives it its tables and GS; the interrupt table, ring-3 set-up,
/// PAT and MTRRs are theirs.
#[derive(Clone, Copy)]
pub struct ApHooks {
    /// On the BSP, once, before the first AP starts (to record what the APs copy).
    pub before_start: fn(),
    /// On each AP, with its GDT, TSS and GS loaded, interrupts off.
    pub on_ap: fn(),
}

static AP_HOOKS: Once<ApHooks> = Once::new();

/// Registers the AP hooks (once; `arch::init`).
pub fn set_ap_hooks(hooks: ApHooks) {
    AP_HOOKS.call_once(|| hooks);
}
/// Each AP's GDT and TSS, made by the BSP before the AP starts.
static AP_TABLES: [Once<gdt::ApTables>; MAX_CPUS] = [const { Once::new() }; MAX_CPUS];
/// Set by an AP as soon as it runs Rust code.
static AP_ALIVE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// How many CPUs [`start_aps`] was asked to bring up, the BSP included (0: not called).
static LISTED: AtomicUsize = AtomicUsize::new(0);

/// How many CPUs the firmware listed for starting, the BSP included (1 when
/// [`start_aps`] never ran: no MADT, no APs, or no APIC).
pub fn listed_cpus() -> usize {
    LISTED.load(Ordering::Relaxed).max(1)
}

/// What [`start_aps`] did.
#[derive(Debug, Default)]
pub struct StartReport {
    /// APIC IDs of the APs that did not come online in time (left out).
    pub not_answering: Vec<u32>,
    /// APIC IDs beyond [`MAX_CPUS`], not started.
    pub over_limit: Vec<u32>,
    /// APIC IDs of the APs not started because no stack could be had.
    pub no_stack: Vec<u32>,
}

fn delay_us(us: u64) {
    let end = cpu::read_tsc() + super::timer::tsc_hz() / 1_000_000 * us;
    while cpu::read_tsc() < end {
        core::hint::spin_loop();
    }
}

/// Starts the APs with these APIC IDs, one after the other, as CPUs 1, 2, ...
///
/// # Safety
/// `direct_map_base` must be where physical memory is mapped (the direct map, which
/// covers the trampoline's RAM pages), and the
/// [`TRAMPOLINE_LEN`] bytes at [`TRAMPOLINE_PHYS`] RAM that nothing else uses, now or
/// later (the frame allocator never hands them out). Each address `new_stack` returns must
/// be the 16-byte aligned top of [`AP_STACK_PAGES`] pages of mapped, writable kernel
/// memory, in the kernel half, that nothing else uses for the rest of the run. The local
/// APIC of this CPU must be enabled ([`apic::enable_on_this_cpu`]) and [`init_bsp`] done.
/// Call it once: a second call would reset the APs already running.
pub unsafe fn start_aps(
    apic_ids: &[u32],
    direct_map_base: u64,
    new_stack: &mut dyn FnMut() -> Option<u64>,
) -> StartReport {
    let mut report = StartReport::default();
    let bsp_id = apic::id();
    let mut targets = Vec::new();
    for &id in apic_ids.iter().filter(|&&id| id != bsp_id) {
        if targets.len() + 1 < MAX_CPUS {
            targets.push((targets.len() + 1, id));
        } else {
            report.over_limit.push(id);
        }
    }
    LISTED.store(targets.len() + 1, Ordering::Relaxed);
    if targets.is_empty() {
        return report;
    }
    let area = (direct_map_base + TRAMPOLINE_PHYS) as *mut u8;
    let (image, [cr3_at, _, _, entry_at]) = trampoline_image();
    assert!(image.len() <= 4096, "the trampoline fits in its page");
    let kernel_root = cpu::page_table_root();
    KERNEL_CR3.store(kernel_root, Ordering::Release);
    BSP_CR4.store(Cr4::read_raw(), Ordering::Release);
    BSP_CR0.store(Cr0::read_raw(), Ordering::Release);
    if let Some(hooks) = AP_HOOKS.get() {
        (hooks.before_start)();
    }
    // SAFETY: the caller gives us the four trampoline pages (RAM, unused by anything
    // else) through the direct map; the kernel's top-level table is read through the
    // direct map too. The temporary table maps the first 2 MiB identically (the
    // trampoline runs there when paging comes on) and the kernel half as the kernel's
    // table does (the AP reaches `ap_entry` through it, and loads the kernel's table).
    unsafe {
        core::ptr::copy_nonoverlapping(image.as_ptr(), area, image.len());
        let pml4 = area.add(4096).cast::<u64>();
        let pdpt = area.add(2 * 4096).cast::<u64>();
        let pd = area.add(3 * 4096).cast::<u64>();
        core::ptr::write_bytes(pml4, 0, 3 * 512);
        let kernel = (direct_map_base + kernel_root) as *const u64;
        for i in 256..512 {
            pml4.add(i).write_volatile(kernel.add(i).read_volatile());
        }
        pml4.write_volatile((TRAMPOLINE_PHYS + 2 * 4096) | 0x3);
        pdpt.write_volatile((TRAMPOLINE_PHYS + 3 * 4096) | 0x3);
        pd.write_volatile(0x83); // 2 MiB, present, writable, at 0
        area.add(cr3_at).cast::<u64>().write_volatile(TRAMPOLINE_PHYS + 4096);
        area.add(entry_at).cast::<u64>().write_volatile(ap_entry as *const () as u64);
    }
    // INIT to all, then the 10 ms the SDM asks for, once.
    for &(_, id) in &targets {
        apic::send_init(id);
    }
    delay_us(10_000);
    TRAMPOLINE_AREA.store(area as u64, Ordering::Release);
    for (cpu, id) in targets {
        let Some(stack) = new_stack() else {
            report.no_stack.push(id);
            continue;
        };
        AP_TABLES[cpu].call_once(gdt::ApTables::new);
        CPUS[cpu].stack_top.store(stack, Ordering::Relaxed);
        // SAFETY: `area` is the trampoline, set up above; the caller vouches for the stack.
        if !unsafe { start_one(area, cpu, id, stack) } {
            report.not_answering.push(id);
        }
    }
    BRINGUP_DONE.store(true, Ordering::Release);
    report
}

/// The trampoline's address once [`start_aps`] has set it up (0 before).
static TRAMPOLINE_AREA: AtomicU64 = AtomicU64::new(0);

/// Sends STARTUP twice to `id` (after INIT and its delay) with the trampoline set to run
/// `ap_entry(cpu)` on `stack`, and waits [`AP_START_TIMEOUT_MS`] for it to come online.
/// A CPU that does not is sent INIT again (it must never run later on the next AP's
/// stack) and left out: returns false.
///
/// # Safety
/// `area` must be the trampoline as [`start_aps`] set it up, with no AP running it now;
/// `stack` as `start_aps` requires.
unsafe fn start_one(area: *mut u8, cpu: usize, id: u32, stack: u64) -> bool {
    let (_, [_, stack_at, cpu_at, _]) = trampoline_image();
    // SAFETY: the parameter slots are inside the trampoline page (offsets from the
    // assembled image); no AP runs the trampoline now (the caller's word).
    unsafe {
        area.add(stack_at).cast::<u64>().write_volatile(stack);
        area.add(cpu_at).cast::<u64>().write_volatile(cpu as u64);
    }
    core::sync::atomic::fence(Ordering::SeqCst);
    let page = (TRAMPOLINE_PHYS >> 12) as u8;
    apic::send_startup(id, page);
    delay_us(200);
    if !AP_ALIVE[cpu].load(Ordering::Acquire) {
        apic::send_startup(id, page);
    }
    let deadline = deadline_after_ms(AP_START_TIMEOUT_MS);
    while !CPUS[cpu].online.load(Ordering::Acquire) && cpu::read_tsc() < deadline {
        core::hint::spin_loop();
    }
    if CPUS[cpu].online.load(Ordering::Acquire) {
        return true;
    }
    apic::send_init(id);
    // Had it come online just now, it is reset all the same: not online.
    CPUS[cpu].online.store(false, Ordering::Release);
    ONLINE.fetch_and(!(1 << cpu), Ordering::AcqRel);
    false
}

/// Where each AP arrives from the trampoline: in long mode, on its own stack, with the
/// trampoline's page table and interrupts off.
extern "C" fn ap_entry(cpu: usize) -> ! {
    AP_ALIVE[cpu].store(true, Ordering::Release);
    // SAFETY: the kernel's own top-level table, which maps everything the kernel uses.
    unsafe { cpu::load_page_table(KERNEL_CR3.load(Ordering::Acquire)) };
    // SAFETY: the BSP's CR0, under which this kernel runs: paging, protection and WP on
    // (as the trampoline set them), caches on.
    unsafe { Cr0::write_raw(BSP_CR0.load(Ordering::Acquire)) };
    let tables = AP_TABLES[cpu].get().expect("the BSP made this AP's tables before starting it");
    tables.load(cpu);
    install_gs(cpu);
    if let Some(hooks) = AP_HOOKS.get() {
        (hooks.on_ap)();
    }
    let global = Cr4Flags::from_bits_truncate(BSP_CR4.load(Ordering::Acquire)) & Cr4Flags::PAGE_GLOBAL;
    // SAFETY: global pages only keep the kernel's translations across CR3 loads, as on
    // the BSP; full flushes toggle PGE (cpu::flush_tlb_all).
    unsafe { Cr4::update(|flags| flags.insert(global)) };
    apic::enable_on_this_cpu(false);
    record_this_cpu(cpu);
    loop {
        // Checked with interrupts off, so a wake-up between the check and HLT is not
        // missed (STI's one-instruction shadow covers the HLT).
        x86_64::instructions::interrupts::disable();
        let work = AP_WORK[cpu].lock().take();
        match work {
            Some((func, arg)) => {
                x86_64::instructions::interrupts::enable();
                func(arg);
                AP_WORK_DONE[cpu].store(true, Ordering::Release);
            }
            None => x86_64::instructions::interrupts::enable_and_hlt(),
        }
    }
}

/// Work given to an AP's idle loop ([`spawn_on`]), and whether it finished.
/// A function and its argument, for an AP's idle loop.
type Work = (fn(u64), u64);
static AP_WORK: [Mutex<Option<Work>>; MAX_CPUS] = [const { Mutex::new(None) }; MAX_CPUS];
static AP_WORK_DONE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(true) }; MAX_CPUS];

/// Runs `func(arg)` on AP `cpu` in its idle loop, with interrupts on: unlike a
/// cross-CPU call it may run for long, and cross-CPU calls, rendezvous and shoot-downs
/// still reach that CPU meanwhile. False when `cpu` is not an online AP or is still
/// running earlier work. [`work_done`] tells when it has returned.
pub fn spawn_on(cpu: usize, func: fn(u64), arg: u64) -> bool {
    if cpu == current_cpu() || cpu >= MAX_CPUS || !online_cpus().contains(cpu) || cpu == 0 {
        return false;
    }
    if !AP_WORK_DONE[cpu].swap(false, Ordering::AcqRel) {
        return false;
    }
    *AP_WORK[cpu].lock() = Some((func, arg));
    // An empty call wakes it from HLT; its idle loop then finds the work.
    let _ = run_on(cpu, |_, _| None, 0, 0);
    true
}

/// Whether the work last given to `cpu` with [`spawn_on`] has returned.
pub fn work_done(cpu: usize) -> bool {
    cpu >= MAX_CPUS || AP_WORK_DONE[cpu].load(Ordering::Acquire)
}

// ---------------------------------------------------------------------------------------
// Cross-CPU calls

/// One cross-CPU operation at a time: its owner posts to the mailboxes.
static CALL_LOCK: AtomicBool = AtomicBool::new(false);
/// The CPU holding the call lock, plus one (0: nobody).
static CALL_OWNER: AtomicUsize = AtomicUsize::new(0);

/// Runs the call waiting in this CPU's mailbox, if any.
fn run_pending_call() {
    let mailbox = &this_cpu().call;
    let request = mailbox.request.load(Ordering::Acquire);
    if request == mailbox.done.load(Ordering::Relaxed) || mailbox.running.swap(true, Ordering::Acquire) {
        return;
    }
    let raw = mailbox.func.load(Ordering::Relaxed);
    let arg = mailbox.arg.load(Ordering::Relaxed);
    // SAFETY: `post` stores only `fn(u64)` pointers in `func`, before publishing the
    // request (Release) that was read above (Acquire); a later post to this mailbox
    // waits for `done`, so `func` is the pointer posted with this request.
    let func = unsafe { core::mem::transmute::<usize, fn(u64)>(raw) };
    func(arg);
    mailbox.running.store(false, Ordering::Release);
    mailbox.done.store(request, Ordering::Release);
}

/// The IPI's handler.
pub(super) fn on_call_interrupt() {
    run_pending_call();
    apic::end_of_interrupt();
}

/// Runs `f` holding the call lock, interrupts off; while another CPU holds it, this
/// one keeps answering its own mailbox (that CPU may be waiting for it).
fn with_call_lock<R>(f: impl FnOnce() -> R) -> R {
    cpu::without_interrupts(|| {
        let me = current_cpu();
        // Either would wait forever for itself (or for the CPU waiting for it).
        assert!(
            CALL_OWNER.load(Ordering::Acquire) != me + 1 && !CPUS[me].call.running.load(Ordering::Acquire),
            "a cross-CPU call or rendezvous step may not start another cross-CPU operation"
        );
        while CALL_LOCK.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            run_pending_call();
            core::hint::spin_loop();
        }
        CALL_OWNER.store(me + 1, Ordering::Release);
        let result = f();
        CALL_OWNER.store(0, Ordering::Release);
        CALL_LOCK.store(false, Ordering::Release);
        result
    })
}

/// The calls one operation posted, on the stack: a cross-CPU operation never allocates,
/// so it may run while another CPU holds the heap's lock (and waits for a lock this CPU
/// holds: a TLB shoot-down under the page-table lock, say).
pub(crate) struct PostedList {
    items: [Posted; MAX_CPUS],
    len: usize,
}

impl PostedList {
    fn push(&mut self, posted: Posted) {
        if self.len < MAX_CPUS {
            self.items[self.len] = posted;
            self.len += 1;
        }
    }
}

impl core::ops::Deref for PostedList {
    type Target = [Posted];

    fn deref(&self) -> &[Posted] {
        &self.items[..self.len]
    }
}

/// A call posted to a CPU: the CPU, the request number it will acknowledge, and until
/// when (TSC) its answer is waited for.
type Posted = (usize, u64, u64);

/// Posts `func(arg)` to each CPU of `targets` and sends the IPIs: at once to the CPUs
/// whose mailbox is free, to the others as they free up, until `deadline` (TSC). Each
/// request's answer is then due [`CALL_TIMEOUT_MS`] after it was posted. Returns the
/// requests posted, and the CPUs skipped because their previous call was still
/// unanswered at `deadline` or the IPI could not be sent.
fn post(targets: CpuSet, func: fn(u64), arg: u64, deadline: u64) -> (PostedList, CpuSet) {
    let mut posted = PostedList { items: [(0, 0, 0); MAX_CPUS], len: 0 };
    let mut skipped = CpuSet::EMPTY;
    let free = |cpu: usize| {
        let mailbox = &CPUS[cpu].call;
        mailbox.done.load(Ordering::Acquire) == mailbox.request.load(Ordering::Relaxed)
    };
    // The request number if the IPI went out.
    let send = |cpu: usize| {
        let mailbox = &CPUS[cpu].call;
        let request = mailbox.request.load(Ordering::Relaxed) + 1;
        mailbox.func.store(func as usize, Ordering::Relaxed);
        mailbox.arg.store(arg, Ordering::Relaxed);
        mailbox.request.store(request, Ordering::Release);
        apic::send_fixed(CPUS[cpu].apic_id.load(Ordering::Relaxed), CALL_VECTOR).then_some(request)
    };
    let mut waiting = targets;
    loop {
        for cpu in waiting.iter() {
            if free(cpu) {
                waiting.remove(cpu);
                match send(cpu) {
                    Some(request) => posted.push((cpu, request, deadline_after_ms(CALL_TIMEOUT_MS))),
                    None => skipped.insert(cpu),
                }
            }
        }
        if waiting.is_empty() || cpu::read_tsc() > deadline {
            break;
        }
        core::hint::spin_loop();
    }
    skipped.0 |= waiting.0;
    (posted, skipped)
}

/// Waits until each posted request is done or its time is up; returns the CPUs that did
/// not answer.
fn wait_for(posted: &[Posted]) -> CpuSet {
    let mut missing = CpuSet::EMPTY;
    for &(cpu, request, deadline) in posted {
        while CPUS[cpu].call.done.load(Ordering::Acquire) != request {
            if cpu::read_tsc() > deadline {
                missing.insert(cpu);
                break;
            }
            core::hint::spin_loop();
        }
    }
    missing
}

fn deadline_after_ms(ms: u64) -> u64 {
    cpu::read_tsc() + super::timer::tsc_hz() / 1000 * ms
}

fn others() -> CpuSet {
    let mut set = online_cpus();
    set.remove(current_cpu());
    set
}

/// Runs `func(arg)` on every other online CPU (in its interrupt handler, interrupts
/// off) and waits for each to finish, [`CALL_TIMEOUT_MS`] at most. Returns the CPUs that
/// did not answer in time (empty when all did). `func` must not wait for other CPUs, and
/// must not start a cross-CPU operation itself (that panics: it would wait for its own
/// caller).
pub fn call_on_others(func: fn(u64), arg: u64) -> CpuSet {
    with_call_lock(|| {
        let deadline = deadline_after_ms(CALL_TIMEOUT_MS);
        let (posted, mut missing) = post(others(), func, arg, deadline);
        missing.0 |= wait_for(&posted).0;
        missing
    })
}

/// What [`run_on`] asked of the CPU it posted to: the function, its arguments, and its
/// answer. Only the holder of the call lock sets them.
/// A function [`run_on`] runs on another CPU.
pub type RemoteFn = fn(u64, u64) -> Option<u64>;
static RUN_FN: Mutex<Option<RemoteFn>> = Mutex::new(None);
static RUN_ARGS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static RUN_ANSWER: Mutex<Option<Option<u64>>> = Mutex::new(None);

fn run_requested(_: u64) {
    let f = *RUN_FN.lock();
    let answer = f.map(|f| f(RUN_ARGS[0].load(Ordering::Acquire), RUN_ARGS[1].load(Ordering::Acquire)));
    *RUN_ANSWER.lock() = answer;
}

/// Runs `f(a, b)` on CPU `cpu` (in its interrupt handler, interrupts off; here directly
/// when `cpu` is this CPU) and returns its answer; `None` when that CPU is not online or
/// did not answer within [`CALL_TIMEOUT_MS`]. What msr(4) needs: an MSR read or written
/// by the CPU it belongs to. `f` must not start a cross-CPU operation.
pub fn run_on(cpu: usize, f: RemoteFn, a: u64, b: u64) -> Option<Option<u64>> {
    if cpu == current_cpu() {
        return Some(cpu::without_interrupts(|| f(a, b)));
    }
    if cpu >= MAX_CPUS || !online_cpus().contains(cpu) {
        return None;
    }
    with_call_lock(|| {
        *RUN_FN.lock() = Some(f);
        RUN_ARGS[0].store(a, Ordering::Release);
        RUN_ARGS[1].store(b, Ordering::Release);
        *RUN_ANSWER.lock() = None;
        let (posted, skipped) = post(CpuSet(1 << cpu), run_requested, 0, deadline_after_ms(CALL_TIMEOUT_MS));
        let missing = wait_for(&posted);
        *RUN_FN.lock() = None;
        if !skipped.is_empty() || !missing.is_empty() {
            return None;
        }
        RUN_ANSWER.lock().take()
    })
}

/// The range the last shoot-down asked for: start, and a page count (0: everything).
static SHOOTDOWN_START: AtomicU64 = AtomicU64::new(0);
static SHOOTDOWN_PAGES: AtomicU64 = AtomicU64::new(0);
/// Past this many pages, a full flush is cheaper than INVLPG page by page.
const SHOOTDOWN_MAX_PAGES: u64 = 64;

fn flush_requested(_: u64) {
    #[cfg(test)]
    tests::FLUSHED[current_cpu()].fetch_add(1, Ordering::Relaxed);
    let pages = SHOOTDOWN_PAGES.load(Ordering::Acquire);
    let start = SHOOTDOWN_START.load(Ordering::Acquire);
    if pages == 0 || pages > SHOOTDOWN_MAX_PAGES {
        cpu::flush_tlb_all();
    } else {
        for page in 0..pages {
            match VirtAddr::try_new(start.wrapping_add(page * 4096)) {
                Ok(address) => cpu::flush_tlb_page(address),
                // Not an address: nothing can be cached for it; flush everything rather
                // than guess what the requester meant.
                Err(_) => {
                    cpu::flush_tlb_all();
                    break;
                }
            }
        }
    }
}

fn shootdown(start: u64, pages: u64) -> CpuSet {
    with_call_lock(|| {
        SHOOTDOWN_START.store(start, Ordering::Release);
        SHOOTDOWN_PAGES.store(pages, Ordering::Release);
        let deadline = deadline_after_ms(CALL_TIMEOUT_MS);
        let (posted, mut missing) = post(others(), flush_requested, 0, deadline);
        flush_requested(0);
        missing.0 |= wait_for(&posted).0;
        missing
    })
}

/// Invalidates the TLB entries of [start, start + len) on every online CPU (this one
/// included) and waits for the others' acknowledgements. Returns the CPUs that did not
/// answer in time.
pub fn tlb_shootdown(start: u64, len: u64) -> CpuSet {
    let first = start & !0xfff;
    let end = start.saturating_add(len.max(1)).next_multiple_of(4096);
    shootdown(first, ((end - first) / 4096).max(1))
}

/// Invalidates every TLB entry, global ones included, on every online CPU; returns the
/// CPUs that did not answer in time.
pub fn flush_all_tlbs() -> CpuSet {
    shootdown(0, 0)
}

// ---------------------------------------------------------------------------------------
// Rendezvous

/// Generation (high 32 bits) and count of CPUs at the first barrier (low 32 bits);
/// the count is `ABORTED` once the initiator gave up waiting.
static RDV_STATE: AtomicU64 = AtomicU64::new(0);
const ABORTED: u64 = 0xffff_ffff;
static RDV_ARRIVED: AtomicU64 = AtomicU64::new(0);
static RDV_PARTICIPANTS: AtomicU64 = AtomicU64::new(0);
static RDV_PHASES: AtomicUsize = AtomicUsize::new(0);
static RDV_BARRIER: AtomicU64 = AtomicU64::new(0);
static RDV_DONE: AtomicU64 = AtomicU64::new(0);

/// The step function of the rendezvous in progress.
struct StepPtr(*const (dyn Fn(usize, usize) + Sync));
// SAFETY: the pointee is Sync; the pointer is only dereferenced while the initiator
// keeps the closure alive (between the first barrier and the last CPU's `RDV_DONE`).
unsafe impl Send for StepPtr {}
static RDV_STEP: Mutex<Option<StepPtr>> = Mutex::new(None);

/// Registers this CPU at the first barrier of rendezvous `generation`; false when that
/// rendezvous is over (aborted, or another one).
fn arrive(generation: u64, cpu: usize) -> bool {
    let mut state = RDV_STATE.load(Ordering::Acquire);
    loop {
        if state >> 32 != generation || state & 0xffff_ffff == ABORTED {
            return false;
        }
        match RDV_STATE.compare_exchange_weak(state, state + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                RDV_ARRIVED.fetch_or(1 << cpu, Ordering::AcqRel);
                return true;
            }
            Err(now) => state = now,
        }
    }
}

fn wait_barrier(target: u64) {
    while RDV_BARRIER.load(Ordering::Acquire) < target {
        core::hint::spin_loop();
    }
}

/// After the first barrier: the phases, each followed by a barrier.
fn run_phases(generation: u64, cpu: usize, participants: u64) {
    if !wait_first_barrier(generation, participants) {
        return;
    }
    let phases = RDV_PHASES.load(Ordering::Acquire);
    let step = RDV_STEP.lock().as_ref().map(|p| p.0);
    for phase in 0..phases {
        if let Some(step) = step {
            // SAFETY: see `StepPtr`: the initiator waits for every participant's
            // RDV_DONE before its closure goes away.
            unsafe { (*step)(phase, cpu) };
        }
        RDV_BARRIER.fetch_add(1, Ordering::AcqRel);
        wait_barrier(participants * (phase as u64 + 1));
    }
}

/// Waits until every participant of rendezvous `generation` has arrived (true), or
/// that rendezvous is aborted or over (false).
fn wait_first_barrier(generation: u64, participants: u64) -> bool {
    loop {
        let state = RDV_STATE.load(Ordering::Acquire);
        let count = state & 0xffff_ffff;
        if state >> 32 != generation || count == ABORTED {
            return false;
        }
        if count >= participants {
            return true;
        }
        core::hint::spin_loop();
    }
}

fn rendezvous_participant(generation: u64) {
    let cpu = current_cpu();
    if !arrive(generation, cpu) {
        return;
    }
    let participants = RDV_PARTICIPANTS.load(Ordering::Acquire);
    if wait_first_barrier(generation, participants) {
        run_phases(generation, cpu, participants);
        RDV_DONE.fetch_add(1, Ordering::AcqRel);
    }
}

/// Runs `step(phase, cpu)` for `phases` phases on every online CPU (this one included),
/// in lockstep, with interrupts off: every CPU meets at a barrier before each phase and
/// after the last. If a CPU does not reach the first barrier within
/// [`CALL_TIMEOUT_MS`], no CPU runs any phase and the CPUs missing are returned. A step
/// must not start a cross-CPU operation (that panics): to flush TLBs inside a step, each
/// CPU flushes its own (`cpu::flush_tlb_all`).
pub fn rendezvous(phases: usize, step: &(dyn Fn(usize, usize) + Sync)) -> Result<(), CpuSet> {
    with_call_lock(|| {
        let cpu = current_cpu();
        let everyone = online_cpus();
        let participants = everyone.len() as u64;
        let generation = (RDV_STATE.load(Ordering::Acquire) >> 32).wrapping_add(1) & 0xffff_ffff;
        RDV_ARRIVED.store(0, Ordering::Release);
        RDV_BARRIER.store(0, Ordering::Release);
        RDV_DONE.store(0, Ordering::Release);
        RDV_PHASES.store(phases, Ordering::Release);
        RDV_PARTICIPANTS.store(participants, Ordering::Release);
        // SAFETY (of the lifetime erasure): the pointer is cleared below before `step`'s
        // borrow ends, and no participant uses it after its RDV_DONE, which is waited for.
        let erased: *const (dyn Fn(usize, usize) + Sync + '_) = step;
        // SAFETY: only the lifetime changes; see above.
        let erased: *const (dyn Fn(usize, usize) + Sync) = unsafe { core::mem::transmute(erased) };
        *RDV_STEP.lock() = Some(StepPtr(erased));
        RDV_STATE.store(generation << 32, Ordering::Release);
        let mut others = everyone;
        others.remove(cpu);
        let deadline = deadline_after_ms(CALL_TIMEOUT_MS);
        let (posted, skipped) = post(others, rendezvous_participant, generation, deadline);
        // A CPU posted late (its mailbox was busy) still gets the whole time limit.
        let deadline = posted.iter().map(|&(_, _, due)| due).max().unwrap_or(deadline).max(deadline);
        arrive(generation, cpu);
        let result = loop {
            let state = RDV_STATE.load(Ordering::Acquire);
            if state & 0xffff_ffff >= participants {
                break Ok(());
            }
            if cpu::read_tsc() > deadline
                && RDV_STATE
                    .compare_exchange(
                        state,
                        (generation << 32) | ABORTED,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok()
            {
                let arrived = RDV_ARRIVED.load(Ordering::Acquire);
                break Err(CpuSet(everyone.0 & !arrived | skipped.0));
            }
            core::hint::spin_loop();
        };
        if result.is_ok() {
            run_phases(generation, cpu, participants);
            while RDV_DONE.load(Ordering::Acquire) < participants - 1 {
                core::hint::spin_loop();
            }
            let _ = wait_for(&posted);
        }
        *RDV_STEP.lock() = None;
        result
    })
}

/// Keeps CPU `cpu` busy with interrupts off for `ms` milliseconds (a call that spins),
/// so that tests elsewhere can see what a CPU that does not answer does to them. Returns
/// a function that waits until it is free again.
#[cfg(test)]
pub(crate) fn occupy(cpu: usize, ms: u64) -> impl FnOnce() {
    fn spin(ms: u64) {
        let end = deadline_after_ms(ms);
        while cpu::read_tsc() < end {
            core::hint::spin_loop();
        }
    }
    let (posted, _) = with_call_lock(|| post(CpuSet(1 << cpu), spin, ms, deadline_after_ms(CALL_TIMEOUT_MS)));
    move || while !wait_for(&posted).is_empty() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;

    static BUMPS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

    fn bump(by: u64) {
        BUMPS[current_cpu()].fetch_add(by, Ordering::Relaxed);
    }

    fn bumps() -> [u64; MAX_CPUS] {
        core::array::from_fn(|cpu| BUMPS[cpu].load(Ordering::Relaxed))
    }

    #[ktest]
    fn the_bsp_is_cpu_0_and_online() {
        assert_eq!(current_cpu(), 0);
        assert!(online_cpus().contains(0));
        assert_eq!(cpu_count(), online_cpus().len());
        assert_eq!(apic_id(0), Some(apic::id()));
    }

    #[ktest]
    fn a_cross_call_runs_once_on_every_other_cpu() {
        let before = bumps();
        let missing = call_on_others(bump, 5);
        assert_eq!(missing, CpuSet::EMPTY);
        let after = bumps();
        let me = current_cpu();
        for cpu in 0..MAX_CPUS {
            let expected =
                if cpu != me && online_cpus().contains(cpu) { before[cpu] + 5 } else { before[cpu] };
            assert_eq!(after[cpu], expected, "cpu {cpu}");
        }
    }

    /// What a CPU found about itself.
    #[derive(Clone, Copy)]
    struct SelfReport {
        gs_is_own: bool,
        current_cpu: usize,
        apic_matches: bool,
        gdt_base: u64,
        tss_is_own: bool,
    }

    static SELF_REPORT: Mutex<[Option<SelfReport>; MAX_CPUS]> = Mutex::new([None; MAX_CPUS]);

    fn report_self(_: u64) {
        let cpu = current_cpu();
        let gs_is_own = GsBase::read() == VirtAddr::from_ptr(&CPUS[cpu]);
        let apic_matches = CPUS[cpu].apic_id.load(Ordering::Relaxed) == apic::id();
        let (gdt_base, tss_base) = gdt::loaded_tables();
        let tss_is_own = tss_base == gdt::this_cpu_tss_address();
        SELF_REPORT.lock()[cpu] =
            Some(SelfReport { gs_is_own, current_cpu: cpu, apic_matches, gdt_base, tss_is_own });
    }

    #[ktest]
    fn each_cpu_has_its_own_gs_base_gdt_and_tss() {
        *SELF_REPORT.lock() = [None; MAX_CPUS];
        cpu::without_interrupts(|| report_self(0));
        assert_eq!(call_on_others(report_self, 0), CpuSet::EMPTY);
        let report = *SELF_REPORT.lock();
        let mut gdts = Vec::new();
        for cpu in online_cpus().iter() {
            let SelfReport { gs_is_own, current_cpu: seen, apic_matches, gdt_base, tss_is_own } =
                report[cpu].unwrap_or_else(|| panic!("cpu {cpu} did not report"));
            assert!(gs_is_own, "cpu {cpu}: GS base");
            assert_eq!(seen, cpu);
            assert!(apic_matches, "cpu {cpu}: APIC ID");
            assert!(tss_is_own, "cpu {cpu}: TR selects another CPU's TSS");
            assert!(!gdts.contains(&gdt_base), "cpu {cpu} shares a GDT");
            gdts.push(gdt_base);
        }
        assert_eq!(gdts.len(), cpu_count());
    }

    static PHASE_COUNTS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
    static OUT_OF_STEP: AtomicU64 = AtomicU64::new(0);
    static INTERRUPTS_ON: AtomicU64 = AtomicU64::new(0);

    #[ktest]
    fn a_rendezvous_runs_each_phase_on_every_cpu_in_lockstep() {
        for count in &PHASE_COUNTS {
            count.store(0, Ordering::Relaxed);
        }
        OUT_OF_STEP.store(0, Ordering::Relaxed);
        INTERRUPTS_ON.store(0, Ordering::Relaxed);
        let n = cpu_count() as u64;
        let step = |phase: usize, _cpu: usize| {
            if x86_64::instructions::interrupts::are_enabled() {
                INTERRUPTS_ON.fetch_add(1, Ordering::Relaxed);
            }
            // Every CPU finished the phase before, and none has started this one's next.
            if phase > 0 && PHASE_COUNTS[phase - 1].load(Ordering::Acquire) != n {
                OUT_OF_STEP.fetch_add(1, Ordering::Relaxed);
            }
            if phase + 1 < PHASE_COUNTS.len() && PHASE_COUNTS[phase + 1].load(Ordering::Acquire) != 0 {
                OUT_OF_STEP.fetch_add(1, Ordering::Relaxed);
            }
            PHASE_COUNTS[phase].fetch_add(1, Ordering::AcqRel);
        };
        assert_eq!(rendezvous(PHASE_COUNTS.len(), &step), Ok(()));
        for (phase, count) in PHASE_COUNTS.iter().enumerate() {
            assert_eq!(count.load(Ordering::Relaxed), n, "phase {phase}");
        }
        assert_eq!(OUT_OF_STEP.load(Ordering::Relaxed), 0);
        assert_eq!(INTERRUPTS_ON.load(Ordering::Relaxed), 0);
    }

    fn spin_ms(ms: u64) {
        let end = deadline_after_ms(ms);
        while cpu::read_tsc() < end {
            core::hint::spin_loop();
        }
    }

    static STEPS_RUN: AtomicU64 = AtomicU64::new(0);

    #[ktest(timeout = 30)]
    fn a_cpu_that_does_not_answer_fails_the_rendezvous_before_any_step() {
        let Some(victim) = others().iter().next() else {
            // One CPU: nobody can be missing.
            assert_eq!(rendezvous(1, &|_, _| {}), Ok(()));
            return;
        };
        // Keep the victim busy with interrupts off past the rendezvous's time limit.
        let (posted, skipped) = with_call_lock(|| {
            post(CpuSet(1 << victim), spin_ms, CALL_TIMEOUT_MS * 5, deadline_after_ms(CALL_TIMEOUT_MS))
        });
        assert_eq!((posted.len(), skipped), (1, CpuSet::EMPTY));
        STEPS_RUN.store(0, Ordering::Relaxed);
        let result = rendezvous(2, &|_, _| {
            STEPS_RUN.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(result, Err(CpuSet(1 << victim)));
        assert_eq!(STEPS_RUN.load(Ordering::Relaxed), 0, "a step ran although a CPU was missing");
        // Still busy: a plain call reports it too, and the others answer.
        let before = bumps();
        assert_eq!(call_on_others(bump, 1), CpuSet(1 << victim));
        assert_eq!(bumps()[victim], before[victim]);
        // Once it is back, everything works again.
        while !wait_for(&posted).is_empty() {}
        assert_eq!(call_on_others(bump, 1), CpuSet::EMPTY);
        assert_eq!(rendezvous(1, &|_, _| {}), Ok(()));
    }

    /// The control registers and MSRs every CPU must have as the BSP has them.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct ControlState {
        cr0: u64,
        cr4: u64,
        efer: u64,
        pat: u64,
        star: u64,
        lstar: u64,
        fmask: u64,
    }

    static CONTROL: Mutex<[Option<ControlState>; MAX_CPUS]> = Mutex::new([None; MAX_CPUS]);

    fn report_control(_: u64) {
        use x86_64::registers::model_specific::{Efer, Msr};
        // SAFETY: STAR, LSTAR and FMASK exist on every x86-64 CPU; reads have no side
        // effects.
        let (star, lstar, fmask) = unsafe {
            (Msr::new(0xc000_0081).read(), Msr::new(0xc000_0082).read(), Msr::new(0xc000_0084).read())
        };
        let state = ControlState {
            cr0: Cr0::read_raw(),
            cr4: Cr4::read_raw(),
            efer: Efer::read_raw(),
            pat: super::super::pat::read(),
            star,
            lstar,
            fmask,
        };
        CONTROL.lock()[current_cpu()] = Some(state);
    }

    #[ktest]
    fn every_cpu_has_the_bsps_control_registers_pat_and_syscall_msrs() {
        *CONTROL.lock() = [None; MAX_CPUS];
        cpu::without_interrupts(|| report_control(0));
        assert_eq!(call_on_others(report_control, 0), CpuSet::EMPTY);
        let control = *CONTROL.lock();
        let bsp = control[current_cpu()].expect("the BSP reported");
        assert_eq!(bsp.pat, mm_core::memtype::PAT_MSR_VALUE);
        assert_ne!(bsp.lstar, 0);
        for cpu in online_cpus().iter() {
            assert_eq!(control[cpu], Some(bsp), "cpu {cpu}");
        }
    }

    #[ktest(should_panic = "may not start another cross-CPU operation")]
    fn a_rendezvous_step_cannot_start_a_cross_cpu_operation() {
        let me = current_cpu();
        let _ = rendezvous(1, &|_, cpu| {
            if cpu == me {
                let _ = flush_all_tlbs();
            }
        });
    }

    static MTRRS: Mutex<[Option<memrange::MtrrRegisters>; MAX_CPUS]> = Mutex::new([None; MAX_CPUS]);

    fn report_mtrrs(_: u64) {
        MTRRS.lock()[current_cpu()] = super::super::mtrr::read_all();
    }

    /// What the memrange code relies on before it writes them on every CPU: the firmware
    /// left every CPU's MTRRs as the BSP's.
    #[ktest]
    fn every_cpu_has_the_bsps_mtrrs() {
        *MTRRS.lock() = [None; MAX_CPUS];
        cpu::without_interrupts(|| report_mtrrs(0));
        assert_eq!(call_on_others(report_mtrrs, 0), CpuSet::EMPTY);
        let mtrrs = *MTRRS.lock();
        let bsp = mtrrs[current_cpu()];
        assert_eq!(bsp.is_some(), super::super::cpuid::has_mtrr());
        for cpu in online_cpus().iter() {
            assert_eq!(mtrrs[cpu], bsp, "cpu {cpu}");
        }
    }

    #[ktest]
    fn a_cpu_that_does_not_start_is_left_out_in_bounded_time() {
        let area = TRAMPOLINE_AREA.load(Ordering::Acquire) as *mut u8;
        if area.is_null() {
            // No AP was started (one CPU): there is no trampoline to try.
            assert_eq!(cpu_count(), 1);
            return;
        }
        let before = online_cpus();
        let cpu = MAX_CPUS - 1;
        let stack = gdt::leaked_stack_top(4096).as_u64();
        let start = cpu::read_tsc();
        // No CPU has APIC ID 0xfe on these machines.
        // SAFETY: the trampoline as start_aps left it, run by no AP now (all are online);
        // the stack is fresh and never freed.
        let started = unsafe { start_one(area, cpu, 0xfe, stack) };
        let ms = (cpu::read_tsc() - start) / (super::super::timer::tsc_hz() / 1000);
        assert!(!started);
        assert_eq!(online_cpus(), before);
        assert!((AP_START_TIMEOUT_MS..AP_START_TIMEOUT_MS * 2).contains(&ms), "gave up after {ms} ms");
    }

    pub(super) static FLUSHED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

    #[ktest]
    fn tlb_shootdowns_reach_every_cpu() {
        let flushes =
            || -> [u64; MAX_CPUS] { core::array::from_fn(|cpu| FLUSHED[cpu].load(Ordering::Relaxed)) };
        let before = flushes();
        assert_eq!(tlb_shootdown(0xffff_8000_0000_0000, 3 * 4096), CpuSet::EMPTY);
        assert_eq!(flush_all_tlbs(), CpuSet::EMPTY);
        let after = flushes();
        for cpu in 0..MAX_CPUS {
            let expected = if online_cpus().contains(cpu) { before[cpu] + 2 } else { before[cpu] };
            assert_eq!(after[cpu], expected, "cpu {cpu}");
        }
    }
}
