//! The local APIC of each CPU: x2APIC (MSRs) when CPUID has it, else xAPIC (a page of
//! registers, which the caller maps uncached and hands in with [`set_xapic_mmio`]).
//!
//! The 8259 PICs stay the source of the BSP's external interrupts: LINT0 is programmed
//! as ExtINT (the "virtual wire" of the MP specification), so the PIT tick and COM1
//! arrive as before. The APs mask LINT0; they take only inter-processor interrupts.
//! Registers: SDM Vol. 3A, chapter 11 (Table 11-1 for the xAPIC offsets, 11.12.1 for
//! the x2APIC MSRs at 0x800 + offset / 16).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use x86_64::registers::model_specific::Msr;

/// IA32_APIC_BASE: the APIC's physical base, the global enable (bit 11), x2APIC mode
/// (bit 10) and "this is the BSP" (bit 8).
const IA32_APIC_BASE: u32 = 0x1b;
const BASE_ENABLE: u64 = 1 << 11;
const BASE_X2APIC: u64 = 1 << 10;
const BASE_ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

const REG_ID: u32 = 0x20;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_ESR: u32 = 0x280;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;
const REG_LVT_TIMER: u32 = 0x320;
const REG_LVT_LINT0: u32 = 0x350;
const REG_LVT_LINT1: u32 = 0x360;
const REG_LVT_ERROR: u32 = 0x370;
/// The x2APIC's ICR: one 64-bit MSR (destination in bits 63:32).
const X2APIC_ICR_MSR: u32 = 0x830;

const SVR_ENABLE: u32 = 1 << 8;
const LVT_MASKED: u32 = 1 << 16;
const DELIVERY_FIXED: u32 = 0b000 << 8;
const DELIVERY_NMI: u32 = 0b100 << 8;
const DELIVERY_INIT: u32 = 0b101 << 8;
const DELIVERY_STARTUP: u32 = 0b110 << 8;
const DELIVERY_EXTINT: u32 = 0b111 << 8;
const ICR_PENDING: u32 = 1 << 12;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;

/// The vector the APIC raises for a spurious interrupt (its low 4 bits must be ones on
/// old APICs).
pub const SPURIOUS_VECTOR: u8 = 0xff;

static X2APIC: AtomicBool = AtomicBool::new(false);
/// The virtual address of the xAPIC's registers; 0 until set.
static MMIO: AtomicU64 = AtomicU64::new(0);

/// How the local APICs are driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    X2apic,
    Xapic,
    /// xAPIC registers not mapped yet: no APIC access at all.
    Off,
}

/// Whether the CPU has an APIC at all (CPUID.1:EDX bit 9).
pub fn present() -> bool {
    super::cpuid::leaf1_edx() & (1 << 9) != 0
}

/// Whether the CPU offers x2APIC mode (CPUID.1:ECX bit 21).
pub fn has_x2apic() -> bool {
    super::cpuid::leaf1_ecx() & (1 << 21) != 0
}

/// Chooses x2APIC mode when CPUID offers it; returns the mode. In xAPIC mode the
/// registers are reached only after [`set_xapic_mmio`].
pub fn select_mode() -> Mode {
    if has_x2apic() {
        X2APIC.store(true, Ordering::Relaxed);
    }
    mode()
}

/// The mode in use.
pub fn mode() -> Mode {
    if X2APIC.load(Ordering::Relaxed) {
        Mode::X2apic
    } else if MMIO.load(Ordering::Relaxed) != 0 {
        Mode::Xapic
    } else {
        Mode::Off
    }
}

fn read_base() -> u64 {
    // SAFETY: IA32_APIC_BASE exists on every CPU with an APIC (callers check `present`
    // before enabling); reading it has no side effects.
    unsafe { Msr::new(IA32_APIC_BASE).read() }
}

/// The physical address of this CPU's xAPIC registers (IA32_APIC_BASE).
pub fn physical_base() -> u64 {
    read_base() & BASE_ADDRESS_MASK
}

/// Tells the xAPIC code where the registers are mapped.
///
/// # Safety
/// `va` must be the start of a kernel mapping of the page at [`physical_base`],
/// uncached (an effective type of UC), readable and writable, that stays mapped for the rest of the run, in
/// the page tables every CPU uses.
pub unsafe fn set_xapic_mmio(va: u64) {
    MMIO.store(va, Ordering::Release);
}

fn read(reg: u32) -> u32 {
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: x2APIC mode is on (enabled on this CPU before any register access);
        // the MSR 0x800 + reg / 16 is the register `reg`, readable without side effects.
        return unsafe { Msr::new(0x800 + (reg >> 4)).read() } as u32;
    }
    let base = MMIO.load(Ordering::Acquire);
    if base == 0 {
        return 0;
    }
    // SAFETY: `base` maps the APIC page uncached (set_xapic_mmio's contract); `reg` is one
    // of this module's register offsets, 16-byte aligned inside the page.
    unsafe { core::ptr::read_volatile((base + u64::from(reg)) as *const u32) }
}

fn write(reg: u32, value: u32) {
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: as in `read`; the registers written here (TPR, EOI, SVR, ESR, LVTs)
        // only change how this CPU's APIC delivers interrupts, whose vectors have handlers.
        unsafe { Msr::new(0x800 + (reg >> 4)).write(u64::from(value)) };
        return;
    }
    let base = MMIO.load(Ordering::Acquire);
    if base == 0 {
        return;
    }
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile((base + u64::from(reg)) as *mut u32, value) };
}

/// Enables this CPU's local APIC in the chosen mode. On the BSP, LINT0 passes the 8259's
/// interrupts through (ExtINT) and LINT1 is the NMI line; on an AP, LINT0 is masked.
/// The APIC timer stays masked. Returns false (and does nothing) when there is no APIC
/// to drive.
pub fn enable_on_this_cpu(bsp: bool) -> bool {
    if !present() || mode() == Mode::Off {
        return false;
    }
    let base = read_base();
    let enabled = base | BASE_ENABLE;
    // xAPIC first, then x2APIC: going from disabled straight to x2APIC is not allowed
    // (SDM Vol. 3A, Figure 11-27).
    // SAFETY: setting the enable bit (and the x2APIC bit when CPUID offers it) keeps the
    // base address; the APIC delivers nothing until its registers are set up below.
    unsafe {
        if base & BASE_ENABLE == 0 {
            Msr::new(IA32_APIC_BASE).write(enabled);
        }
        if X2APIC.load(Ordering::Relaxed) && base & BASE_X2APIC == 0 {
            Msr::new(IA32_APIC_BASE).write(enabled | BASE_X2APIC);
        }
    }
    write(REG_TPR, 0);
    write(REG_LVT_TIMER, LVT_MASKED);
    write(REG_LVT_ERROR, LVT_MASKED);
    write(REG_LVT_LINT0, if bsp { DELIVERY_EXTINT } else { LVT_MASKED | DELIVERY_EXTINT });
    write(REG_LVT_LINT1, if bsp { DELIVERY_NMI } else { LVT_MASKED | DELIVERY_NMI });
    write(REG_SVR, SVR_ENABLE | u32::from(SPURIOUS_VECTOR));
    // Writing ESR before reading it latches the errors (SDM 11.5.3).
    write(REG_ESR, 0);
    write(REG_ESR, 0);
    true
}

/// This CPU's APIC ID (from the APIC in use, else CPUID's initial APIC ID).
pub fn id() -> u32 {
    match mode() {
        Mode::X2apic => read(REG_ID),
        Mode::Xapic => read(REG_ID) >> 24,
        Mode::Off => super::cpuid::leaf1_ebx() >> 24,
    }
}

/// Signals the end of an APIC-delivered interrupt (not for the 8259's ExtINT ones).
pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}

/// Writes the ICR and waits (boundedly) for the xAPIC to take it. Returns false when
/// there is no APIC or the send did not complete.
fn send_icr(apic_id: u32, low: u32) -> bool {
    match mode() {
        Mode::Off => false,
        Mode::X2apic => {
            // SAFETY: the x2APIC ICR; every command sent by this module (fixed IPI to
            // a vector with a handler, INIT, STARTUP to the trampoline) is one the
            // kernel is ready for.
            unsafe { Msr::new(X2APIC_ICR_MSR).write((u64::from(apic_id) << 32) | u64::from(low)) };
            true
        }
        Mode::Xapic => super::cpu::without_interrupts(|| {
            write(REG_ICR_HIGH, apic_id << 24);
            write(REG_ICR_LOW, low);
            let deadline = super::cpu::read_tsc() + super::timer::tsc_hz() / 100;
            while read(REG_ICR_LOW) & ICR_PENDING != 0 {
                if super::cpu::read_tsc() > deadline {
                    return false;
                }
                core::hint::spin_loop();
            }
            true
        }),
    }
}

/// Sends a fixed interrupt with `vector` to the CPU with APIC ID `apic_id`.
pub(super) fn send_fixed(apic_id: u32, vector: u8) -> bool {
    send_icr(apic_id, DELIVERY_FIXED | ICR_LEVEL_ASSERT | u32::from(vector))
}

/// INIT (asserted) to `apic_id`: the CPU resets and waits for a STARTUP.
pub(super) fn send_init(apic_id: u32) -> bool {
    send_icr(apic_id, DELIVERY_INIT | ICR_LEVEL_ASSERT)
}

/// STARTUP to `apic_id`: the CPU starts in real mode at `page << 12`.
pub(super) fn send_startup(apic_id: u32, page: u8) -> bool {
    send_icr(apic_id, DELIVERY_STARTUP | ICR_LEVEL_ASSERT | u32::from(page))
}
