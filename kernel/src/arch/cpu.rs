//! Small CPU operations used across the kernel.

use x86_64::instructions::{hlt, interrupts};

/// Halts forever with interrupts off: the end of the line when there is nothing else to do.
pub fn halt_forever() -> ! {
    interrupts::disable();
    loop {
        hlt();
    }
}

/// Sleeps until the next interrupt, forever. Interrupts stay enabled.
pub fn idle_forever() -> ! {
    interrupts::enable();
    loop {
        hlt();
    }
}

/// Runs `f` with maskable interrupts disabled, restoring the previous state after.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    interrupts::without_interrupts(f)
}

/// Enables maskable interrupts.
pub fn enable_interrupts() {
    interrupts::enable();
}

/// Disables maskable interrupts.
pub fn disable_interrupts() {
    interrupts::disable();
}

/// The time-stamp counter (RDTSC).
pub fn read_tsc() -> u64 {
    // SAFETY: RDTSC has no side effects; CR4.TSD is clear, so it is allowed at CPL 0
    // (and the kernel only runs at CPL 0).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Resets the machine the hard way: with an empty IDT, an exception cannot be
/// delivered, which escalates to a double fault and then a triple fault, and the CPU
/// shuts down (QEMU with `-no-reboot` exits). Reset code has done this since the 286.
pub fn reset_by_triple_fault() -> ! {
    use x86_64::VirtAddr;
    use x86_64::structures::DescriptorTablePointer;
    let empty = DescriptorTablePointer { limit: 0, base: VirtAddr::zero() };
    // SAFETY: an IDT with limit 0 makes every interrupt and exception a fault that ends
    // in a triple fault, which is the purpose here; no memory is read through it.
    unsafe {
        interrupts::disable();
        x86_64::instructions::tables::lidt(&empty);
        core::arch::asm!("ud2", options(noreturn));
    }
}
