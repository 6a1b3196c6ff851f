//! Benchmarks, for `cargo xtask bench`: each prints `bench: NAME VALUE UNIT`, which xtask
//! collects over several boots and reports as medians. Not part of `cargo xtask test`:
//! speed is measured, not asserted.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(kernel::ktest::runner)]
#![reexport_test_harness_main = "test_main"]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec;

use kernel::arch::timer::uptime_ns;
use kernel::ktest::ktest;
use kernel::mm::frames;
use kernel::println;
use kernel::vfs::{Context, UserBuf};
use memrange::{
    MDF_WRITECOMBINE, MEMRANGE_SET, MEMRANGE_SET_REMOVE, MEMRANGE_SET_UPDATE, MemRangeDesc, MemRangeOp,
};
use vfs_core::cred::Credentials;
use vfs_core::flags::{O_RDONLY, SEEK_SET};

kernel::test_kernel!();

const CHUNK: usize = 64 * 1024;
/// 64 MiB in all, as `dd bs=64K` over the first MiB 64 times.
const TOTAL: usize = 64 << 20;

fn report(name: &str, value: u64, unit: &str) {
    println!("bench: {name} {value} {unit}");
}

/// Bytes per second reading `path` in 64 KiB reads, the offset going back to 0 after
/// every `span` bytes.
fn read_throughput(path: &str, span: u64) -> u64 {
    // SAFETY: the context is given no address by number but this test's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open(path, O_RDONLY, 0).expect("open");
    let mut buf = vec![0u8; CHUNK];
    let start = uptime_ns();
    let mut done = 0;
    while done < TOTAL {
        if (done as u64).is_multiple_of(span) {
            ctx.lseek(fd, 0, SEEK_SET).expect("lseek");
        }
        let n = ctx.read(fd, UserBuf::from_mut_slice(&mut buf)).expect("read");
        assert_eq!(n, CHUNK);
        done += n;
    }
    TOTAL as u64 * 1_000_000_000 / (uptime_ns() - start).max(1)
}

#[ktest(timeout = 600)]
fn dev_mem_dev_zero_and_memcpy() {
    report("dev_mem_read", read_throughput("/dev/mem", 1 << 20), "B/s");
    report("dev_zero_read", read_throughput("/dev/zero", 1 << 20), "B/s");
    let source = vec![0x5au8; CHUNK];
    let mut target = vec![0u8; CHUNK];
    let start = uptime_ns();
    for _ in 0..TOTAL / CHUNK {
        target.copy_from_slice(core::hint::black_box(&source));
        core::hint::black_box(&mut target);
    }
    report("memcpy", TOTAL as u64 * 1_000_000_000 / (uptime_ns() - start).max(1), "B/s");
}

#[ktest(timeout = 600)]
fn dev_port() {
    // SAFETY: the context is given no address by number but this test's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open("/dev/port", O_RDONLY, 0).unwrap();
    let mut buf = vec![0u8; 4096];
    let rounds = 64;
    let start = uptime_ns();
    for _ in 0..rounds {
        // Ports 0x1000-0x1FFF: nothing answers there on QEMU's PC, so reads are harmless.
        assert_eq!(ctx.pread(fd, UserBuf::from_mut_slice(&mut buf), 0x1000), Ok(4096));
    }
    report("dev_port_read", rounds * 4096 * 1_000_000_000 / (uptime_ns() - start).max(1), "B/s");
}

#[ktest(timeout = 600)]
fn memrange_set_and_remove() {
    // SAFETY: the context is given no address by number but this test's own
    // buffers (ioctl arguments), which the drivers may write.
    #[allow(unsafe_code)]
    let mut ctx = unsafe { Context::new(Credentials::ROOT) };
    let fd = ctx.open("/dev/mem", O_RDONLY, 0).unwrap();
    let mut desc = MemRangeDesc::new(0x1_0000_0000, 0x1000_0000, MDF_WRITECOMBINE, "bench").to_bytes();
    let rounds = 200;
    let start = uptime_ns();
    for _ in 0..rounds {
        for op in [MEMRANGE_SET_UPDATE, MEMRANGE_SET_REMOVE] {
            let mut mro = MemRangeOp { mo_desc: desc.as_mut_ptr() as u64, mo_arg: [op, 0] }.to_bytes();
            ctx.ioctl(fd, MEMRANGE_SET, mro.as_mut_ptr() as u64).unwrap();
        }
    }
    report("memrange_set_remove", (uptime_ns() - start) / rounds / 1000, "us");
}

#[ktest(timeout = 600)]
fn frames_and_heap() {
    let rounds = 1_000_000u64;
    let start = uptime_ns();
    for _ in 0..rounds {
        let frame = frames::allocate().unwrap();
        frames::free(core::hint::black_box(frame)).unwrap();
    }
    report("frame_alloc_free", rounds * 1_000_000_000 / (uptime_ns() - start).max(1), "/s");
    let start = uptime_ns();
    for i in 0..rounds {
        let block = Box::new([i as u8; 64]);
        drop(core::hint::black_box(block));
    }
    report("heap_alloc_free", rounds * 1_000_000_000 / (uptime_ns() - start).max(1), "/s");
}

/// Runs `/bin/NAME ARGS...` as root and returns how long it took, in ns.
fn time_program(words: &[&str]) -> u64 {
    let args: vec::Vec<alloc::string::String> = words.iter().map(|&w| w.into()).collect();
    let path = alloc::format!("/bin/{}", words[0]);
    let start = uptime_ns();
    let status = kernel::proc::run(Credentials::ROOT, &path, &args, &[], "/").expect("the program runs");
    assert_eq!(status, kernel::proc::ExitStatus::Exited(0), "{path}");
    uptime_ns() - start
}

#[ktest(timeout = 600)]
fn processes_start_exit_and_system_calls() {
    const RUNS: u64 = 100;
    time_program(&["true"]);
    let total: u64 = (0..RUNS).map(|_| time_program(&["true"])).sum();
    let start_to_exit = total / RUNS;
    report("program_start_to_exit", start_to_exit / 1000, "us");
    // The fastest of five runs: one run is a fraction of a second, which the host's other
    // work (steal time on these machines) easily stretches by a third.
    const CALLS: u64 = 200_000;
    let loop_ns = (0..5)
        .map(|_| time_program(&["syscalls", "200000"]).saturating_sub(start_to_exit).max(1))
        .min()
        .unwrap_or(1);
    report("syscall_round_trips", CALLS * 1_000_000_000 / loop_ns, "calls/s");
    // busybox dd reading the first MiB of /dev/mem in ring 3, 16 times.
    let dd_ns: u64 = (0..16)
        .map(|_| time_program(&["busybox", "dd", "if=/dev/mem", "of=/dev/null", "bs=65536", "count=16"]))
        .sum();
    let dd_work = dd_ns.saturating_sub(16 * start_to_exit).max(1);
    report("busybox_dd_dev_mem", (16u64 << 20) * 1_000_000_000 / dd_work, "B/s");
}

/// How long each limit loop runs.
const LIMIT_NS: u64 = 100_000_000;

/// Bytes per second of `pass` (which moves `bytes` each call), run for [`LIMIT_NS`].
fn rate(bytes: u64, mut pass: impl FnMut()) -> u64 {
    let start = uptime_ns();
    let mut done = 0;
    while uptime_ns() - start < LIMIT_NS {
        pass();
        done += bytes;
    }
    done * 1_000_000_000 / (uptime_ns() - start).max(1)
}

/// The physical limits beside the /dev/mem figures (`cargo xtask conform` shows them):
/// RAM, a raw copy through the direct map, and ROM, the same through a write-back window
/// mapping (the direct map holds System RAM only): what the guest can copy at all; the
/// VGA window and the HPET, the 8-byte loads /dev/mem makes there, in one tight loop
/// through an uncached mapping (QEMU emulates those accesses one by one, so that is their limit).
#[ktest(timeout = 60)]
fn physical_limits() {
    use kernel::mm::nofault::{read_kernel, read_qwords};
    use kernel::mm::window::{map_phys_range, unmap_phys_range};
    use kernel::mm::{MemoryType, PhysAddr, VirtAddr, phys_to_virt};

    let mut buf = vec![0u8; 0x40000];
    let copy = |va: VirtAddr, len: usize, buf: &mut [u8]| {
        rate(len as u64, || read_kernel(va, &mut buf[..len]).expect("a mapped range"))
    };
    // Whole RAM pages below 640 KiB (the page at 0x9f000 is partly the EBDA).
    let ram = copy(phys_to_virt(PhysAddr::zero()), 0x9f000.min(buf.len()), &mut buf);
    let rom_mapping =
        map_phys_range(PhysAddr::new(0xc0000), 0x40000, MemoryType::WriteBack).expect("a window mapping");
    let rom = copy(rom_mapping.va, 0x40000, &mut buf);
    unmap_phys_range(rom_mapping);
    let loads = |phys: u64, len: u64| {
        let mapping =
            map_phys_range(PhysAddr::new(phys), len, MemoryType::UncachedMinus).expect("a window mapping");
        let va = mapping.va;
        let mut words = vec![0u64; (len / 8) as usize];
        let result = rate(len, || {
            assert_eq!(read_qwords(va, &mut words), words.len());
        });
        core::hint::black_box(&words);
        unmap_phys_range(mapping);
        result
    };
    let vga = loads(0xa0000, 0x20000);
    let hpet = loads(0xfed0_0000, 0x1000);
    report("limit_ram_copy", ram, "B/s");
    report("limit_vga_loads", vga, "B/s");
    report("limit_rom_copy", rom, "B/s");
    // The first MiB at each part's own limit: 640 KiB of RAM, 128 KiB of VGA, 256 KiB of ROM.
    let seconds =
        f64::from(0xa0000) / ram as f64 + f64::from(0x20000) / vga as f64 + f64::from(0x40000) / rom as f64;
    report("limit_first_mib", (f64::from(0x10_0000) / seconds) as u64, "B/s");
    report("limit_hpet_loads", hpet, "B/s");
}
