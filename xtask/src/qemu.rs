//! The QEMU command line, in one place for `run` and `test`.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus};

use ktest_protocol::find_shell_exit;
use ktest_protocol::{DEBUG_EXIT_PORT, ExitCode as KernelExit};

use crate::build::BootDisk;
use crate::setup;

pub struct Qemu {
    args: Vec<OsString>,
}

impl Qemu {
    /// A machine with 256 MiB of RAM (the size the facts in ARCHITECTURE.md were measured
    /// with), no display, the isa-debug-exit device, and `-no-reboot` so that a triple
    /// fault ends the run instead of looping.
    /// The disk's ramdisk, if it has one beside the image, goes to fw_cfg. The disk is a
    /// virtio one: SeaBIOS reads it by DMA, where an IDE disk costs a port access per two
    /// bytes, and the BIOS loader reads the kernel through it (0.25 s less of every boot).
    pub fn new(disk: &BootDisk, kvm: bool) -> Self {
        let mut qemu = Self::machine(kvm);
        let mut drive = OsString::from("format=raw,if=virtio,file=");
        drive.push(&disk.image);
        qemu.arg("-drive").arg(drive);
        if let Some(ramdisk) = &disk.ramdisk {
            let mut fw_cfg = OsString::from("name=opt/devmem/ramdisk,file=");
            // fw_cfg's option syntax doubles a comma inside a value.
            fw_cfg.push(ramdisk.to_string_lossy().replace(',', ",,"));
            qemu.arg("-fw_cfg").arg(fw_cfg);
        }
        if disk.uefi
            && let Some(ovmf) = setup::ovmf()
        {
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

/// The end of the input, as the shell reads it: Ctrl-D at the start of a line.
pub const END_OF_INPUT: u8 = 0x04;

/// How a scripted run ended.
pub struct ScriptedEnd {
    pub status: ExitStatus,
    /// The shell's last status, when it ended the session itself (exit, end of input).
    pub shell_status: Option<i32>,
}

/// Runs QEMU with piped standard input: the input is held back until the shell's first
/// prompt appears, because the firmware and bootloader reset the UART while booting and
/// would drop anything that arrived before. When the input ends, the shell is told so
/// (Ctrl-D on a line of its own), as `sh < script` sees end of file. Output goes through
/// as it comes, less the shell's exit marker, which gives the session's status.
pub fn run_scripted(qemu: &Qemu) -> anyhow::Result<ScriptedEnd> {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::sync::mpsc;

    let mut child = qemu.command().stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let mut qemu_in = child.stdin.take().ok_or_else(|| anyhow::anyhow!("QEMU's stdin"))?;
    let mut qemu_out = child.stdout.take().ok_or_else(|| anyhow::anyhow!("QEMU's stdout"))?;
    let (prompt_seen, wait_for_prompt) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut out = std::io::stdout();
        let mut buf = [0u8; 4096];
        let mut pending: Vec<u8> = Vec::new();
        let mut tail: Vec<u8> = Vec::new();
        let mut waiting = true;
        let mut shell_status = None;
        while let Ok(n) = qemu_out.read(&mut buf) {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            if let Some((status, start, end)) = find_shell_exit(&pending) {
                shell_status = Some(status);
                pending.drain(start..end);
            }
            // Hold back a possible start of the marker until it is complete.
            let keep = pending.iter().rposition(|&b| b == 0x1b).filter(|&at| pending.len() - at < 32);
            let flush_to = keep.unwrap_or(pending.len());
            let _ = out.write_all(&pending[..flush_to]);
            let _ = out.flush();
            if waiting {
                tail.extend_from_slice(&pending[..flush_to]);
                if tail.windows(3).any(|w| w == b"\n# " || w == b"\n$ ") {
                    waiting = false;
                    let _ = prompt_seen.send(());
                }
            }
            pending.drain(..flush_to);
        }
        let _ = out.write_all(&pending);
        shell_status
    });
    std::thread::spawn(move || {
        if wait_for_prompt.recv().is_ok() {
            let mut input = Vec::new();
            let _ = std::io::stdin().lock().read_to_end(&mut input);
            let _ = qemu_in.write_all(&input);
            // End of input: Ctrl-D at the start of a line (after the last one if the
            // script's last line has no newline).
            if !input.is_empty() && !input.ends_with(b"\n") {
                let _ = qemu_in.write_all(b"\n");
            }
            let _ = qemu_in.write_all(&[END_OF_INPUT]);
            let _ = qemu_in.flush();
        }
        // Keep QEMU's input open after ours ends, as a terminal would be.
        std::thread::park();
    });
    let status = child.wait()?;
    let shell_status = reader.join().unwrap_or(None);
    Ok(ScriptedEnd { status, shell_status })
}

/// Whether QEMU's reset log (`-d cpu_reset -D LOG`) records a triple fault.
pub fn triple_faulted(log: &Path) -> bool {
    std::fs::read(log).is_ok_and(|bytes| bytes.windows(12).any(|w| w == b"Triple fault"))
}

/// `cargo xtask run`'s exit status, and a word on how the run ended when it was not the
/// shell's own ending: the shell's last status when it ended the session (poweroff is
/// 0), 1 when the kernel reported a failure (a panic, already printed), and for a run
/// that ended with no verdict at all a message (a triple fault resets the machine,
/// which `-no-reboot` turns into QEMU's exit).
pub fn exit_code_of_run(
    status: ExitStatus,
    shell_status: Option<i32>,
    interactive: bool,
    triple_fault: bool,
) -> ExitCode {
    if let Some(shell_status) = shell_status {
        return ExitCode::from((shell_status & 0xff) as u8);
    }
    match status.code().map(|code| (code, KernelExit::from_qemu_status(code))) {
        Some((_, Some(KernelExit::Success))) => ExitCode::SUCCESS,
        Some((_, Some(KernelExit::ShellStatus))) => ExitCode::FAILURE,
        Some((_, Some(_))) => {
            eprintln!("xtask: the kernel reported a failure (see its message above)");
            ExitCode::FAILURE
        }
        Some((0, None)) if interactive && !triple_fault => ExitCode::SUCCESS,
        Some((0, None)) => {
            eprintln!(
                "xtask: the machine reset without a word from the kernel: a triple fault, most \
                 likely caused by a write to memory the kernel uses (for example dd to /dev/mem \
                 with STRICT off)"
            );
            ExitCode::from(3)
        }
        Some((code, None)) => {
            eprintln!("xtask: QEMU exited with status {code}");
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        None => {
            eprintln!("xtask: QEMU was killed by a signal");
            ExitCode::FAILURE
        }
    }
}
