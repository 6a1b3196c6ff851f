//! `cargo xtask`: the project's build, run and test driver.
//!
//! `run` boots the kernel in QEMU with the serial port on the terminal; `test` runs
//! the host unit tests, then the kernel's own tests and each integration kernel in
//! QEMU, and ends with `N passed, M failed`.

mod bench;
mod build;
mod conform;
mod console;
mod cpio;
mod fuzz;
mod junit;
mod ktest;
mod ktest_names;
mod qemu;
mod ramdisk;
mod setup;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, boot and test the devmem kernel",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the kernel ELF (for x86_64-unknown-none).
    Build(BuildArgs),
    /// Build the kernel and its bootable disk image.
    Image(ImageArgs),
    /// Boot the kernel in QEMU, the serial console on this terminal (Ctrl-A X quits).
    Run(RunArgs),
    /// Run the host unit tests, then the kernel tests in QEMU.
    Test(TestArgs),
    /// Check formatting (rustfmt) and lints (clippy, host and kernel), warnings as errors.
    Lint,
    /// Measure boot time, device throughput, memrange, allocators (medians of several boots).
    Bench {
        /// Use the debug build instead of the release build.
        #[arg(long)]
        debug: bool,
        /// How many boots to take the medians over.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Instead: the same workloads on Linux 6.1 and this kernel (`cargo xtask conform`'s
        /// boot, its bench scenario), side by side.
        #[arg(long)]
        vs_linux: bool,
    },
    /// Run tests/conform/*.sh on Linux 6.1 and on this kernel in QEMU and compare every line.
    Conform {
        /// Use the release build of this kernel.
        #[arg(long)]
        release: bool,
    },
    /// Run the in-kernel fuzzer (release build), and optionally the parsers' property tests.
    Fuzz {
        /// The seed; a new one (printed) when not given. The same seed replays the same run.
        #[arg(long)]
        seed: Option<u64>,
        /// How many operations.
        #[arg(long, default_value_t = 1_000_000)]
        operations: u64,
        /// Also run the host parsers' property tests with this many cases each.
        #[arg(long, default_value_t = 0)]
        host_cases: u32,
        /// Use the debug build.
        #[arg(long)]
        debug: bool,
        /// CPUs for the machine (QEMU -smp): with more than one, the fuzzer also runs on
        /// every CPU at once.
        #[arg(long, default_value_t = 1)]
        smp: u32,
    },
}

#[derive(Args, Clone, Copy)]
struct BuildArgs {
    /// Build with optimizations (the release profile).
    #[arg(long)]
    release: bool,
}

#[derive(Args)]
struct ImageArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Make a UEFI (GPT) image instead of a BIOS (MBR) one.
    #[arg(long)]
    uefi: bool,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Boot with UEFI firmware (OVMF) instead of the BIOS.
    #[arg(long)]
    uefi: bool,
    /// Start QEMU halted with a gdb stub on tcp::1234 and print the gdb command line.
    #[arg(long)]
    gdb: bool,
    /// Use KVM instead of TCG (often slower on these machines; see README).
    #[arg(long)]
    kvm: bool,
    /// Add every file of this folder to /bin (your own static Linux programs).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Extra arguments for QEMU, after `--`.
    #[arg(last = true)]
    qemu_args: Vec<String>,
}

#[derive(Args)]
struct TestArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Add every file of this folder to /bin of the test machines.
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Only run tests whose name contains this text (host and kernel tests alike).
    #[arg(long)]
    filter: Option<String>,
    /// Kill a QEMU run that prints nothing for this many seconds (a test that hangs with
    /// interrupts off escapes the kernel's own per-test watchdog).
    #[arg(long, default_value_t = 120)]
    idle_timeout: u64,
    /// Skip the host unit tests.
    #[arg(long)]
    kernel_only: bool,
    /// Print every line the kernels write to the serial port.
    #[arg(long, short)]
    verbose: bool,
    /// Rewrite the console tests' expected output (tests/console/*.expected) from what
    /// the shell printed; review the diff before committing.
    #[arg(long)]
    bless: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => cmd_build(args),
        Command::Image(args) => cmd_image(&args),
        Command::Run(args) => cmd_run(&args),
        Command::Test(args) => test::run(&args),
        Command::Lint => cmd_lint(),
        Command::Bench { debug, vs_linux: true, .. } => conform::run(&conform::Options { release: !debug }),
        Command::Bench { debug, runs, .. } => bench::run(!debug, runs.max(1)),
        Command::Conform { release } => conform::run(&conform::Options { release }),
        Command::Fuzz { seed, operations, host_cases, debug, smp } => {
            fuzz::run(!debug, seed, operations, host_cases, smp)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn cmd_build(args: BuildArgs) -> Result<ExitCode> {
    setup::ensure_toolchain()?;
    let kernel = build::kernel(args.release)?;
    println!("{}", kernel.display());
    Ok(ExitCode::SUCCESS)
}

fn cmd_image(args: &ImageArgs) -> Result<ExitCode> {
    setup::ensure_toolchain()?;
    let kernel = build::kernel(args.build.release)?;
    let disk = build::standalone_disk(&kernel, args.uefi)?;
    println!("kernel (with debug info): {}", kernel.display());
    println!("disk image:               {} (the ramdisk inside)", disk.image.display());
    Ok(ExitCode::SUCCESS)
}

fn cmd_run(args: &RunArgs) -> Result<ExitCode> {
    setup::ensure_toolchain()?;
    setup::ensure_qemu(args.uefi)?;
    if let Some(dir) = &args.bin_dir {
        let _ = build::BIN_DIR.set(dir.clone());
    }
    let kernel = build::kernel(args.build.release)?;
    let image = build::boot_disk(&kernel, args.uefi)?;
    if args.kvm {
        eprintln!(
            "xtask: --kvm: on these machines KVM is far slower than TCG (a BIOS boot took 1 min 56 s \
             to the prompt, about 70 times TCG's); use it where KVM is fast"
        );
    }
    let mut qemu = qemu::Qemu::new(&image, args.kvm);
    // Four CPUs, unless the arguments after `--` say otherwise (QEMU takes the last -smp).
    qemu.interactive_console().arg("-smp").arg("4").extra(&args.qemu_args);
    // QEMU logs CPU resets there, a triple fault with the words "Triple fault": how a
    // run that ends without a verdict is told apart from the user quitting.
    let reset_log = setup::project_root().join("target/xtask/qemu-resets.log");
    let _ = std::fs::create_dir_all(setup::project_root().join("target/xtask"));
    let _ = std::fs::remove_file(&reset_log);
    qemu.extra(&[
        "-d".to_string(),
        "cpu_reset".to_string(),
        "-D".to_string(),
        reset_log.display().to_string(),
    ]);
    if args.gdb {
        qemu.gdb_stub();
        print_gdb_help(&kernel);
    } else {
        eprintln!("xtask: booting {} (Ctrl-A X quits QEMU, Ctrl-A C its monitor)", image.image.display());
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() || args.gdb {
        let status = qemu.command().status().map_err(|e| anyhow::anyhow!("starting QEMU: {e}"))?;
        Ok(qemu::exit_code_of_run(status, None, true, qemu::triple_faulted(&reset_log)))
    } else {
        let end = qemu::run_scripted(&qemu)?;
        Ok(qemu::exit_code_of_run(end.status, end.shell_status, false, qemu::triple_faulted(&reset_log)))
    }
}

fn cmd_lint() -> Result<ExitCode> {
    setup::ensure_toolchain()?;
    let steps: [(&str, &[&str]); 3] = [
        ("rustfmt", &["fmt", "--all", "--check"]),
        ("clippy (host crates)", &["clippy", "--all-targets", "--", "-D", "warnings"]),
        (
            "clippy (kernels)",
            &[
                "clippy",
                "--package",
                "kernel",
                "--package",
                "kernel-tests",
                "--target",
                build::KERNEL_TARGET,
                "--lib",
                "--bins",
                "--tests",
                "--",
                "-D",
                "warnings",
            ],
        ),
    ];
    let mut failed = Vec::new();
    for (name, args) in steps {
        eprintln!("xtask: {name}");
        let status = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(setup::project_root())
            .args(args)
            .status()?;
        if !status.success() {
            failed.push(name);
        }
    }
    if failed.is_empty() {
        eprintln!("xtask: lint clean");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("xtask: lint failed: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

fn print_gdb_help(kernel: &std::path::Path) {
    let kernel: PathBuf = kernel.canonicalize().unwrap_or_else(|_| kernel.to_path_buf());
    eprintln!("xtask: QEMU is halted before the first instruction, waiting for gdb on tcp::1234.");
    eprintln!("xtask: in another terminal:");
    eprintln!(
        "    gdb -ex 'symbol-file {} -o {:#x}' -ex 'target remote :1234' -ex 'break kernel_main' -ex continue",
        kernel.display(),
        build::KERNEL_BASE
    );
}
