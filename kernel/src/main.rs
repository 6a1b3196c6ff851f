//! The kernel binary: boots, prints the banner, and runs the shell on the console.
#![no_std]
#![no_main]

use bootloader_api::{BootInfo, entry_point};
use kernel::arch::cpu;

entry_point!(kernel_main, config = &kernel::BOOTLOADER_CONFIG);

fn kernel_main(boot_info: &'static mut BootInfo) -> ! {
    kernel::init(boot_info);
    cpu::enable_interrupts();
    kernel::shell::run()
}
