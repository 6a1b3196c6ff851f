//! QEMU's `isa-debug-exit` device: how a kernel run reports its result to the host.

use ktest_protocol::{DEBUG_EXIT_PORT, ExitCode};
use x86_64::instructions::port::Port;

/// Ends the QEMU run with `code`. If the device is absent (a real machine, or QEMU
/// started without it), halts instead.
pub fn exit(code: ExitCode) -> ! {
    let mut port = Port::<u32>::new(DEBUG_EXIT_PORT);
    // SAFETY: writing to the isa-debug-exit port makes QEMU exit; without the device the
    // write goes nowhere. Either way no memory is affected.
    unsafe { port.write(code as u32) };
    super::cpu::halt_forever()
}
