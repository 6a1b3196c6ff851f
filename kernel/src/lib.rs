//! devmem: a small x86_64 kernel for exploring physical memory, kernel memory and I/O
//! ports through the Unix memory devices.
//!
//! Layers, from the bottom: [`arch`] (the only code that touches the CPU and devices),
//! [`console`] (printing and logging), [`ktest`] (the in-kernel test runner). See
//! ARCHITECTURE.md at the repository root for the whole map.
#![no_std]
#![cfg_attr(test, no_main)]
#![feature(abi_x86_interrupt)]
#![feature(custom_test_frameworks)]
#![test_runner(crate::ktest::runner)]
#![reexport_test_harness_main = "test_main"]
// `unsafe` belongs in `arch` (and later `mm`) only; every other module is safe Rust.
#![deny(unsafe_code)]

// Lets `#[ktest]`, which names `::kernel::ktest`, work inside this crate too.
#[allow(unused_extern_crates)]
extern crate self as kernel;

extern crate alloc;

#[allow(unsafe_code)]
pub mod arch;
mod banner;
pub mod console;
pub mod dev;
pub mod fmtbuf;
// The fuzzer is test code: in the test kernels only (the `fuzz` feature, which the
// integration kernels' crate turns on), never in the kernel that boots into the shell.
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz;
pub mod ktest;
#[allow(unsafe_code)]
pub mod mm;
mod panic;
pub mod pci;
pub mod proc;
pub mod shell;
pub mod syscall;
pub mod vfs;

pub use bootloader_api;
use bootloader_api::BootInfo;
use bootloader_api::config::{BootloaderConfig, Mapping};

/// The kernel version, as printed in the boot banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What every kernel binary (the kernel, its test kernels) asks of the bootloader: the
/// top-level page table mapped recursively (mm::direct_map builds the direct map of
/// System RAM through it, then removes it), the kernel at a fixed
/// address (so gdb knows where its symbols are), and a roomy boot stack.
pub const BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    config.mappings.physical_memory = None;
    config.mappings.page_table_recursive = Some(Mapping::FixedAddress(mm::layout::RECURSIVE_BASE));
    config.mappings.kernel_base = Mapping::FixedAddress(ktest_protocol::KERNEL_BASE);
    config.kernel_stack_size = 256 * 1024;
    // Everything else the bootloader maps (boot stack, boot info, ramdisk) goes in the
    // kernel half too: the lower half belongs to processes.
    config.mappings.dynamic_range_start = Some(mm::layout::BOOTLOADER_DYNAMIC_BASE);
    config.mappings.dynamic_range_end = Some(mm::layout::BOOTLOADER_DYNAMIC_END);
    config
};

/// Brings the kernel up: CPU tables and console first, then the banner. Interrupts
/// stay disabled; the caller enables them when it is ready.
pub fn init(boot_info: &'static mut BootInfo) {
    arch::init();
    banner::print_name();
    console::init_logger(log::LevelFilter::Info);
    if arch::pat::program().is_none() {
        log::warn!("no PAT on this CPU: every mapping is write-back");
    }
    let boot_info: &'static BootInfo = boot_info;
    let arch_done = arch::timer::uptime_ns();
    let mm_phases = mm::init(boot_info);
    start_cpus(boot_info);
    let cpus_done = arch::timer::uptime_ns();
    vfs::init();
    dev::init();
    syscall::init();
    if let Some(archive) = mm::ramdisk(boot_info).or_else(mm::fw_cfg_ramdisk) {
        vfs::ramfs::load(archive);
    }
    pci::init();
    let startup = banner::Startup { arch_done, mm_phases, cpus_done, done: arch::timer::uptime_ns() };
    banner::print(boot_info, &startup);
}

/// Enables the local APIC (x2APIC when CPUID offers it, else the xAPIC's registers mapped
/// uncached), makes the BSP CPU 0, and starts the APs the MADT lists. Problems are
/// warnings: the kernel then runs on the CPUs it has.
fn start_cpus(boot_info: &BootInfo) {
    use arch::apic;
    if !apic::present() {
        log::warn!("no local APIC: one CPU");
        arch::smp::init_bsp();
        return;
    }
    if apic::select_mode() == apic::Mode::Off {
        // The APIC base MSR's address field is bits 12-51: a physical address.
        let base = mm::PhysAddr::new(apic::physical_base());
        // Where the MTRRs make the page UC (they do on PCs), UC- as Linux maps it: the
        // effective type is UC, and it is the type /dev/mem's rules give the page, so
        // `devmem 0xfee00030` maps it beside the kernel (one page, one type). Else UC.
        let memtype = match dev::memrange::mtrr_type_at(base.as_u64()) {
            Some(mm::MemoryType::Uncacheable) => mm::MemoryType::UncachedMinus,
            _ => mm::MemoryType::Uncacheable,
        };
        match mm::window::map_phys_range(base, mm::PAGE_SIZE, memtype) {
            #[allow(unsafe_code)]
            // SAFETY: the window maps the APIC's page uncached (UC, or UC- over MTRRs
            // that say UC: UC either way), kernel read-write, and the mapping is never
            // unmapped (it is dropped here without unmapping, its registration kept); the
            // window is in the kernel half, shared by every CPU's page tables.
            Ok(mapping) => unsafe { apic::set_xapic_mmio(mapping.va.as_u64()) },
            Err(error) => {
                log::warn!("local APIC: cannot map its registers ({error:?}): one CPU");
                arch::smp::init_bsp();
                return;
            }
        }
    }
    apic::enable_on_this_cpu(true);
    arch::smp::init_bsp();
    let madt = match mm::acpi::madt_cpus(boot_info) {
        Ok(madt) => madt,
        Err(error) => {
            log::warn!("ACPI: {error}: one CPU");
            return;
        }
    };
    if madt.aps.is_empty() {
        return;
    }
    if !mm::frames::trampoline_usable() {
        log::warn!("the AP start-up page is not usable RAM: one CPU");
        return;
    }
    // Each AP's kernel stack, between two guard pages.
    let mut new_stack = || mm::window::allocate_stack(arch::smp::AP_STACK_PAGES).ok().map(|top| top.as_u64());
    #[allow(unsafe_code)]
    // SAFETY: DIRECT_MAP_BASE maps System RAM (mm::direct_map built it); the trampoline
    // pages are usable RAM (checked above) below the frames the allocator hands out, used
    // by nothing else; `allocate_stack` maps
    // fresh frames at fresh window addresses, never freed, and returns the aligned top;
    // the BSP's APIC is enabled and init_bsp has run.
    let report = unsafe { arch::smp::start_aps(&madt.aps, mm::layout::DIRECT_MAP_BASE, &mut new_stack) };
    for id in report.not_answering {
        log::warn!("the CPU with APIC ID {id} did not answer its start-up IPIs: left out");
    }
    for id in report.no_stack {
        log::warn!("no memory for the stack of the CPU with APIC ID {id}: left out");
    }
    for id in report.over_limit {
        log::warn!(
            "the CPU with APIC ID {id} is past the kernel's limit of {} CPUs: left out",
            arch::smp::MAX_CPUS
        );
    }
}

/// Makes the crate it is used in a test kernel: the bootloader entry point, `init`,
/// then the test harness's `test_main`. The crate needs `#![no_std]`, `#![no_main]`,
/// `#![feature(custom_test_frameworks)]`, `#![test_runner(kernel::ktest::runner)]` and
/// `#![reexport_test_harness_main = "test_main"]`.
#[macro_export]
macro_rules! test_kernel {
    () => {
        $crate::bootloader_api::entry_point!(test_kernel_main, config = &$crate::BOOTLOADER_CONFIG);

        fn test_kernel_main(boot_info: &'static mut $crate::bootloader_api::BootInfo) -> ! {
            $crate::init(boot_info);
            test_main();
            $crate::arch::cpu::halt_forever()
        }
    };
}

#[cfg(test)]
test_kernel!();
