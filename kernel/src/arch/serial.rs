//! COM1, the kernel's console, through `uart_16550`.
//!
//! One lock guards the port; it is only taken with interrupts disabled, so an interrupt
//! handler that prints (the test watchdog does) can never deadlock against the code it
//! interrupted.

use spin::Mutex;
use uart_16550::backend::PioBackend;
use uart_16550::{BaudRate, Config, Uart16550};

/// I/O base of the first PC serial port.
const COM1_BASE: u16 = 0x3f8;

static COM1: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);

/// Programs COM1 at 115200 8-N-1. Until this has run, output is dropped.
pub fn init() {
    // SAFETY: 0x3F8-0x3FF is COM1 on every PC and QEMU machine; this module is the only
    // code that touches those ports, and it does so under the COM1 lock.
    let Ok(mut uart) = (unsafe { Uart16550::new_port(COM1_BASE) }) else {
        return;
    };
    let config = Config { baud_rate: BaudRate::Baud115200, ..Config::DEFAULT };
    if uart.init(config).is_ok() {
        super::cpu::without_interrupts(|| *COM1.lock() = Some(uart));
    }
}

/// Sends bytes to COM1, turning `\n` into `\r\n` for terminals in raw mode.
pub fn write_bytes(bytes: &[u8]) {
    super::cpu::without_interrupts(|| {
        if let Some(uart) = COM1.lock().as_mut() {
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
/// Sound because the panic handler has disabled interrupts and never returns to the
/// interrupted holder, and the kernel runs on one CPU: no one else will use the guard
/// that is forgotten here.
pub fn unlock_for_panic() {
    if COM1.is_locked() {
        // SAFETY: see above; the previous holder will never run again.
        unsafe { COM1.force_unlock() };
    }
}
