//! The QEMU command line, in one place for `run` and `test`.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus};

use ktest_protocol::{DEBUG_EXIT_PORT, ExitCode as KernelExit};

use crate::setup;

pub struct Qemu {
    args: Vec<OsString>,
}

impl Qemu {
    /// A machine with 256 MiB of RAM (the size the facts in ARCHITECTURE.md were measured
    /// with), no display, the isa-debug-exit device, and `-no-reboot` so that a triple
    /// fault ends the run instead of looping.
    pub fn new(image: &Path, uefi: bool, kvm: bool) -> Self {
        let mut qemu = Self::machine(kvm);
        let mut drive = OsString::from("format=raw,file=");
        drive.push(image);
        qemu.arg("-drive").arg(drive);
        if uefi && let Some(ovmf) = setup::ovmf() {
            qemu.arg("-bios").arg(ovmf);
        }
        qemu
    }

    /// The machine alone (memory, devices, accelerator), without a disk: `cargo xtask
    /// conform` boots its Linux peer on exactly this machine with `-kernel`/`-initrd`.
    pub fn machine(kvm: bool) -> Self {
        let mut qemu = Self { args: Vec::new() };
        qemu.arg("-m").arg("256M");
        qemu.arg("-display").arg("none");
        qemu.arg("-no-reboot");
        qemu.arg("-device").arg(format!("isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04"));
        qemu.arg("-accel").arg(if kvm { "kvm" } else { "tcg" });
        qemu
    }

    pub fn arg(&mut self, arg: impl Into<OsString>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// COM1 and QEMU's monitor multiplexed on this terminal; Ctrl-C goes to the guest,
    /// Ctrl-A X quits and Ctrl-A C switches to the monitor. Input that is piped in is
    /// forwarded to the guest.
    pub fn interactive_console(&mut self) -> &mut Self {
        self.arg("-chardev").arg("stdio,id=console,mux=on,signal=off");
        self.arg("-serial").arg("chardev:console");
        self.arg("-mon").arg("chardev=console,mode=readline")
    }

    /// COM1 on QEMU's standard output, for a test run to read; no monitor.
    pub fn captured_console(&mut self) -> &mut Self {
        self.arg("-serial").arg("stdio");
        self.arg("-monitor").arg("none")
    }

    /// Passes a small text file to the guest through fw_cfg.
    pub fn fw_cfg_string(&mut self, name: &str, value: &str) -> &mut Self {
        // QEMU's option syntax doubles a comma to escape it.
        self.arg("-fw_cfg").arg(format!("name={name},string={}", value.replace(',', ",,")))
    }

    /// A gdb stub on tcp::1234, the CPU halted until gdb continues it.
    pub fn gdb_stub(&mut self) -> &mut Self {
        self.arg("-s").arg("-S")
    }

    pub fn extra(&mut self, args: &[String]) -> &mut Self {
        self.args.extend(args.iter().map(OsString::from));
        self
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new("qemu-system-x86_64");
        command.args(&self.args);
        command
    }
}

/// Runs QEMU with piped standard input: the input is held back until the shell's first
/// prompt appears, because the firmware and bootloader reset the UART while booting and
/// would drop anything that arrived before. Output goes through as it comes.
pub fn run_scripted(qemu: &Qemu) -> anyhow::Result<ExitStatus> {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::sync::mpsc;

    let mut child = qemu.command().stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let mut qemu_in = child.stdin.take().ok_or_else(|| anyhow::anyhow!("QEMU's stdin"))?;
    let mut qemu_out = child.stdout.take().ok_or_else(|| anyhow::anyhow!("QEMU's stdout"))?;
    let (prompt_seen, wait_for_prompt) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut out = std::io::stdout();
        let mut buf = [0u8; 4096];
        let mut tail: Vec<u8> = Vec::new();
        let mut waiting = true;
        while let Ok(n) = qemu_out.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = out.write_all(&buf[..n]);
            let _ = out.flush();
            if waiting {
                tail.extend_from_slice(&buf[..n]);
                if tail.windows(3).any(|w| w == b"\n# " || w == b"\n$ ") {
                    waiting = false;
                    let _ = prompt_seen.send(());
                }
            }
        }
    });
    std::thread::spawn(move || {
        if wait_for_prompt.recv().is_ok() {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut qemu_in);
        }
        // Keep QEMU's input open after ours ends, as a terminal would be.
        std::thread::park();
    });
    Ok(child.wait()?)
}

/// `cargo xtask run`'s exit status: 0 when the kernel reported success (or the user quit
/// QEMU), 1 when it reported failure, QEMU's own status otherwise.
pub fn exit_code_of_run(status: ExitStatus) -> ExitCode {
    match status.code().map(|code| (code, KernelExit::from_qemu_status(code))) {
        Some((_, Some(KernelExit::Success))) | Some((0, None)) => ExitCode::SUCCESS,
        Some((_, Some(_))) => ExitCode::FAILURE,
        Some((code, None)) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}
