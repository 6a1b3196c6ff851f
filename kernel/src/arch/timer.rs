//! Time: the legacy 8259 PICs and the 8254 PIT for a periodic tick, and the TSC,
//! calibrated against the PIT, for measuring elapsed time.
//!
//! The tick drives one hook (the test runner's watchdog); elapsed time comes from the
//! TSC, which is cheap to read and finer than the tick.

use core::sync::atomic::{AtomicU64, Ordering};
use spin::Once;
use x86_64::instructions::port::Port;

/// IRQ 0's vector.
pub const TIMER_VECTOR: u8 = super::pic::vector(super::pic::TIMER_IRQ);

/// Tick rate of PIT channel 0.
pub const TICK_HZ: u64 = 100;
/// The PIT's input clock (8254 datasheet; 105/88 MHz).
const PIT_HZ: u64 = 1_193_182;
const PIT_CHANNEL0: u16 = 0x40;
const PIT_CHANNEL2: u16 = 0x42;
const PIT_COMMAND: u16 = 0x43;
/// Port B of the PC's system control: bit 0 gates PIT channel 2, bit 1 drives the
/// speaker, bit 5 reads channel 2's output.
const SYSTEM_CONTROL_B: u16 = 0x61;

static TICKS: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static TICK_HOOK: Once<fn()> = Once::new();

/// Calibrates the TSC, then starts the periodic tick on IRQ 0.
/// Interrupts stay disabled until the caller enables them.
pub fn init() {
    TSC_AT_BOOT.store(super::cpu::read_tsc(), Ordering::Relaxed);
    TSC_HZ.store(calibrate_tsc(), Ordering::Relaxed);
    let divisor = (PIT_HZ / TICK_HZ) as u16;
    // SAFETY: the 8254 command and channel-0 ports only program the PIT; mode 2 (rate
    // generator) with this divisor makes IRQ 0 fire TICK_HZ times a second.
    unsafe {
        Port::<u8>::new(PIT_COMMAND).write(0b0011_0100);
        Port::<u8>::new(PIT_CHANNEL0).write(divisor as u8);
        Port::<u8>::new(PIT_CHANNEL0).write((divisor >> 8) as u8);
    }
    super::pic::unmask(super::pic::TIMER_IRQ);
}

/// Measures TSC ticks over 10 ms of PIT channel 2 counting down in mode 0, the way
/// Linux's `pit_calibrate_tsc` does. Returns TSC ticks per second.
fn calibrate_tsc() -> u64 {
    const CALIBRATION_HZ: u64 = 100; // 10 ms
    let latch = (PIT_HZ / CALIBRATION_HZ) as u16;
    // SAFETY: port 0x61 bit 0 gates PIT channel 2 (bit 1, the speaker, stays off), and
    // ports 0x42/0x43 program channel 2 only; polling bit 5 of 0x61 reads its output.
    // None of this touches memory or the tick on channel 0.
    unsafe {
        let mut control = Port::<u8>::new(SYSTEM_CONTROL_B);
        let value = control.read();
        control.write((value & !0x02) | 0x01);
        Port::<u8>::new(PIT_COMMAND).write(0b1011_0000); // channel 2, lo/hi byte, mode 0
        Port::<u8>::new(PIT_CHANNEL2).write(latch as u8);
        Port::<u8>::new(PIT_CHANNEL2).write((latch >> 8) as u8);
        let start = super::cpu::read_tsc();
        let mut polls: u64 = 0;
        while control.read() & 0x20 == 0 {
            polls += 1;
            if polls > 100_000_000 {
                break; // no PIT: fall back below rather than hang the boot
            }
        }
        let ticks = super::cpu::read_tsc().wrapping_sub(start);
        control.write(value);
        if ticks == 0 { 1_000_000_000 } else { ticks * CALIBRATION_HZ }
    }
}

/// Installs the function called on every tick, from the interrupt handler with
/// interrupts disabled. Only the first call takes effect.
pub fn set_tick_hook(hook: fn()) {
    TICK_HOOK.call_once(|| hook);
}

/// Called by the IRQ 0 handler.
pub(super) fn on_tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
    // Acknowledge first: the hook may end the run and never return.
    super::pic::end_of_interrupt(super::pic::TIMER_IRQ);
    if let Some(hook) = TICK_HOOK.get() {
        hook();
    }
}

/// Timer ticks since `init`.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The calibrated TSC frequency in Hz.
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed).max(1)
}

/// Nanoseconds since `init`, from the TSC.
pub fn uptime_ns() -> u64 {
    let elapsed = super::cpu::read_tsc().wrapping_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    (u128::from(elapsed) * 1_000_000_000 / u128::from(tsc_hz())) as u64
}

/// Milliseconds since `init`.
pub fn uptime_ms() -> u64 {
    uptime_ns() / 1_000_000
}
