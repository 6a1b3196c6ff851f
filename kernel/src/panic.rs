//! The panic handler: report, then end the run as a failure (or let the test runner
//! decide, when a test is running).

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use ktest_protocol::ExitCode;

use crate::arch::{cpu, qemu};
use crate::{console, ktest, println};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    cpu::disable_interrupts();
    console::prepare_for_panic();
    if PANICKING.swap(true, Ordering::SeqCst) {
        // Panicked while reporting a panic: say so in as few steps as possible.
        println!("\npanic while panicking: {}", info.message());
        qemu::exit(ExitCode::Failed);
    }
    ktest::on_panic(info);
    console::ensure_line_start();
    println!("KERNEL PANIC");
    ktest::print_panic(info);
    qemu::exit(ExitCode::Failed)
}
