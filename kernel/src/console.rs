//! The console: `print!`/`println!` and the `log` facade, both on COM1.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::arch::{serial, timer};

/// Bytes written since boot; the test runner compares it before and after a test to
/// know whether the test printed anything.
static BYTES_WRITTEN: AtomicUsize = AtomicUsize::new(0);
/// Whether the last byte written ended a line.
static AT_LINE_START: AtomicBool = AtomicBool::new(true);

/// Where console output goes instead of COM1 while set (the shell's `>`): each write is
/// handed to it as it comes, nothing is kept.
pub type Sink = alloc::boxed::Box<dyn FnMut(&[u8]) + Send>;

/// The sink while output is redirected.
static CAPTURE: spin::Mutex<Option<Sink>> = spin::Mutex::new(None);

struct Serial;

impl Write for Serial {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        write_bytes(text.as_bytes());
        Ok(())
    }
}

/// Sends console output to `sink` from now on, until [`end_capture`].
pub fn begin_capture(sink: Sink) {
    crate::arch::cpu::without_interrupts(|| *CAPTURE.lock() = Some(sink));
}

/// Stops redirecting; returns the sink.
pub fn end_capture() -> Option<Sink> {
    crate::arch::cpu::without_interrupts(|| CAPTURE.lock().take())
}

#[doc(hidden)]
pub fn print_args(args: fmt::Arguments<'_>) {
    // Writing to the serial port cannot fail.
    let _ = Serial.write_fmt(args);
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::print_args(format_args!($($arg)*)));
}

/// Prints to the console, with a newline.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::console::print_args(format_args!("{}\n", format_args!($($arg)*))));
}

/// Writes raw bytes (a file's contents, say) to the console.
pub fn write_bytes(bytes: &[u8]) {
    // The sink is taken out while it runs (with interrupts as they were): what it
    // prints itself, and output from an interrupt meanwhile, go to COM1.
    let sink = crate::arch::cpu::without_interrupts(|| CAPTURE.try_lock().and_then(|mut guard| guard.take()));
    if let Some(mut sink) = sink {
        sink(bytes);
        crate::arch::cpu::without_interrupts(|| {
            if let Some(mut guard) = CAPTURE.try_lock()
                && guard.is_none()
            {
                *guard = Some(sink);
            }
        });
        return;
    }
    echo(bytes);
}

/// Writes `bytes` to the terminal itself, never into a capture: what a terminal echoes
/// (`^C`) shows on the screen whatever the command's output is redirected to, as a tty's
/// line discipline does.
pub fn echo(bytes: &[u8]) {
    if let Some(&last) = bytes.last() {
        serial::write_bytes(bytes);
        BYTES_WRITTEN.fetch_add(bytes.len(), Ordering::Relaxed);
        AT_LINE_START.store(last == b'\n', Ordering::Relaxed);
    }
}

/// Bytes written to the console since boot.
pub fn bytes_written() -> usize {
    BYTES_WRITTEN.load(Ordering::Relaxed)
}

/// Starts a new line unless the cursor is already at the start of one.
pub fn ensure_line_start() {
    // The terminal's cursor: the newline goes to it, not into a capture.
    if !AT_LINE_START.load(Ordering::Relaxed) {
        echo(b"\n");
    }
}

/// Whether Ctrl-C was typed and not yet taken: long-running work polls this and stops.
pub fn interrupt_pending() -> bool {
    serial::interrupt_pending()
}

/// Forgets a pending Ctrl-C.
pub fn clear_interrupt() {
    let _ = serial::take_interrupt();
}

/// Takes a pending Ctrl-C: true if there was one.
pub fn take_interrupt() -> bool {
    serial::take_interrupt()
}

/// The Ctrl-C byte, as [`read_byte`] returns a pending interrupt.
pub const CTRL_C: u8 = 0x03;

/// The next byte typed (or piped) on the console, waiting for it. Ctrl-C comes in
/// order, as the byte 0x03 (reading it clears the pending interrupt).
pub fn read_byte() -> u8 {
    loop {
        crate::arch::cpu::disable_interrupts();
        if let Some(byte) = serial::read_byte() {
            crate::arch::cpu::enable_interrupts();
            return byte;
        }
        crate::arch::cpu::wait_for_interrupt();
    }
}

/// Makes the console usable from the panic handler, whatever the panicking code held.
pub fn prepare_for_panic() {
    serial::unlock_for_panic();
    // A panic must be seen: stop any capture (its lock is free, interrupts being off,
    // unless the panic came from inside it, and then try_lock just fails).
    if let Some(mut capture) = CAPTURE.try_lock() {
        // Not dropped: its drop could do anything; the machine is stopping anyway.
        core::mem::forget(capture.take());
    }
}

/// The `log` backend: `[seconds.micros] LEVEL target: message`.
struct Logger;

static LOGGER: Logger = Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let micros = timer::uptime_ns() / 1000;
        println!(
            "[{:5}.{:06}] {:<5} {}: {}",
            micros / 1_000_000,
            micros % 1_000_000,
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// Routes the `log` macros to the console at `level` and above.
pub fn init_logger(level: log::LevelFilter) {
    // Fails only if a logger is already set, which then keeps working.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
