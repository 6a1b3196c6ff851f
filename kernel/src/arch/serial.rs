//! COM1, the kernel's console, through `uart_16550`.
//!
//! One lock guards the port; it is only taken with interrupts disabled, so an interrupt
//! handler that prints (the test watchdog does) can never deadlock against the code it
//! interrupted.

use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;
use uart_16550::backend::PioBackend;
use uart_16550::spec::registers::IER;
use uart_16550::{BaudRate, Config, Uart16550};
use x86_64::instructions::port::Port;

/// I/O base of the first PC serial port.
const COM1_BASE: u16 = 0x3f8;

static COM1: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);
/// The CPU holding the COM1 lock, plus one (0: nobody), for the panic handler.
static COM1_OWNER: AtomicUsize = AtomicUsize::new(0);

/// The COM1 lock, with its holder recorded. Take it with interrupts off.
struct Com1Guard(spin::MutexGuard<'static, Option<Uart16550<PioBackend>>>);

impl Drop for Com1Guard {
    fn drop(&mut self) {
        COM1_OWNER.store(0, Ordering::Release);
    }
}

impl core::ops::Deref for Com1Guard {
    type Target = Option<Uart16550<PioBackend>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for Com1Guard {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

fn lock_com1() -> Com1Guard {
    let guard = COM1.lock();
    COM1_OWNER.store(super::percpu::current_cpu() + 1, Ordering::Release);
    Com1Guard(guard)
}

/// Programs COM1 at 115200 8-N-1. Until this has run, output is dropped.
pub fn init() {
    // SAFETY: 0x3F8-0x3FF is COM1 on every PC and QEMU machine; this module is the only
    // code that touches those ports, and it does so under the COM1 lock.
    let Ok(mut uart) = (unsafe { Uart16550::new_port(COM1_BASE) }) else {
        return;
    };
    // `init` discards whatever waits in the receive FIFO: input that arrived while the
    // machine booted (a piped script, say). Keep it.
    {
        let mut rx = RX.lock();
        while rx.len < RX_CAPACITY {
            let Ok(byte) = uart.try_receive_byte() else { break };
            let tail = (rx.head + rx.len) % RX_CAPACITY;
            rx.bytes[tail] = byte;
            rx.len += 1;
        }
    }
    let config = Config { baud_rate: BaudRate::Baud115200, ..Config::DEFAULT };
    if uart.init(config).is_ok() {
        super::cpu::without_interrupts(|| *lock_com1() = Some(uart));
    }
}

/// Received bytes waiting for a reader. When it is full the receive interrupt is turned
/// off, so bytes wait in the UART's FIFO and the sender is held back (QEMU stops reading
/// its input while the FIFO is full): nothing is lost, however fast input arrives.
struct RxRing {
    bytes: [u8; RX_CAPACITY],
    head: usize,
    len: usize,
    paused: bool,
}

/// 64 KiB: a piped script (the console tests, `cargo xtask conform`) fits without pausing
/// reception.
const RX_CAPACITY: usize = 64 * 1024;

static RX: Mutex<RxRing> = Mutex::new(RxRing { bytes: [0; RX_CAPACITY], head: 0, len: 0, paused: false });

/// The modem control register; OUT2 gates the UART's interrupt line on PCs.
const COM1_MCR: u16 = COM1_BASE + 4;
const MCR_DTR_RTS_OUT2: u8 = 0x0b;

/// Turns on the receive interrupt (IRQ 4) and routes it to the PIC.
pub fn enable_receive_interrupts() {
    super::cpu::without_interrupts(|| {
        if let Some(uart) = lock_com1().as_mut() {
            // SAFETY: the modem control register of COM1, which this module owns; DTR,
            // RTS and OUT2 only signal readiness and enable the interrupt line.
            unsafe { Port::<u8>::new(COM1_MCR).write(MCR_DTR_RTS_OUT2) };
            uart.enable_interrupts(IER::DATA_READY);
        }
    });
    super::pic::unmask(super::pic::COM1_IRQ);
}

/// The interrupt character (Ctrl-C, ETX).
const CTRL_C: u8 = 0x03;

/// Set when Ctrl-C arrives; see [`take_interrupt`].
static INTERRUPT: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether Ctrl-C arrived since the last call, clearing it. Input typed before and up
/// to the Ctrl-C is discarded, as a terminal flushes its input on an interrupt. A later
/// Ctrl-C already in the ring (pasted or piped input) stays pending, for the next command.
pub fn take_interrupt() -> bool {
    if !INTERRUPT.swap(false, Ordering::Relaxed) {
        return false;
    }
    super::cpu::without_interrupts(|| {
        let mut rx = RX.lock();
        let position = (0..rx.len).find(|&i| rx.bytes[(rx.head + i) % RX_CAPACITY] == CTRL_C);
        if let Some(i) = position {
            rx.head = (rx.head + i + 1) % RX_CAPACITY;
            rx.len -= i + 1;
        }
        if (0..rx.len).any(|i| rx.bytes[(rx.head + i) % RX_CAPACITY] == CTRL_C) {
            INTERRUPT.store(true, Ordering::Relaxed);
        }
    });
    true
}

/// Marks Ctrl-C as pending again (a reader that took it hands it on).
pub fn set_interrupt() {
    INTERRUPT.store(true, Ordering::Relaxed);
}

/// Whether Ctrl-C arrived and was not taken yet.
pub fn interrupt_pending() -> bool {
    INTERRUPT.load(Ordering::Relaxed)
}

/// IRQ 4: moves every received byte into the ring, or pauses reception when it is full.
pub(super) fn on_interrupt() {
    let mut guard = lock_com1();
    let Some(uart) = guard.as_mut() else { return };
    let mut rx = RX.lock();
    while rx.len < RX_CAPACITY {
        let Ok(byte) = uart.try_receive_byte() else { return };
        if byte == CTRL_C {
            // Queued in order (the line editor reads it as a key), and flagged at once
            // for whoever runs meanwhile (a tool, a program) to see.
            INTERRUPT.store(true, Ordering::Relaxed);
        }
        let tail = (rx.head + rx.len) % RX_CAPACITY;
        rx.bytes[tail] = byte;
        rx.len += 1;
    }
    rx.paused = true;
    uart.disable_interrupts(IER::DATA_READY);
}

/// The next received byte, if any. Resumes reception once the ring has room again.
pub fn read_byte() -> Option<u8> {
    super::cpu::without_interrupts(|| {
        let mut rx = RX.lock();
        if rx.len == 0 {
            return None;
        }
        let byte = rx.bytes[rx.head];
        rx.head = (rx.head + 1) % RX_CAPACITY;
        rx.len -= 1;
        if byte == CTRL_C {
            // Read as a key: handled by the reader.
            INTERRUPT.store(false, Ordering::Relaxed);
        }
        if rx.paused && rx.len < RX_CAPACITY / 2 {
            rx.paused = false;
            if let Some(uart) = lock_com1().as_mut() {
                uart.enable_interrupts(IER::DATA_READY);
            }
        }
        Some(byte)
    })
}

/// Sends bytes to COM1, turning `\n` into `\r\n` for terminals in raw mode.
pub fn write_bytes(bytes: &[u8]) {
    super::cpu::without_interrupts(|| {
        if let Some(uart) = lock_com1().as_mut() {
            send(uart, bytes);
        }
    });
}

fn send(uart: &mut Uart16550<PioBackend>, bytes: &[u8]) {
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        match line.split_last() {
            Some((b'\n', text)) => {
                uart.send_bytes_exact(text);
                uart.send_bytes_exact(b"\r\n");
            }
            _ => uart.send_bytes_exact(line),
        }
    }
}

/// Releases the port's lock for the panic handler, in case the code that panicked held it.
///
/// Only a lock held by this CPU is released: the panic handler has disabled interrupts and
/// never returns to the interrupted holder, so no one will use the guard that is forgotten
/// here. A lock held by another CPU is left to it (it releases it when its write ends).
pub fn unlock_for_panic() {
    if COM1.is_locked() && COM1_OWNER.load(Ordering::Acquire) == super::percpu::current_cpu() + 1 {
        // SAFETY: see above; the previous holder will never run again.
        unsafe { COM1.force_unlock() };
    }
}
