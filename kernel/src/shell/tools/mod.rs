//! The tools, by name. Each takes the context it runs in (root's, or another user's
//! under `runas`) and its argument vector, and returns an exit status.

mod files;
mod io;
mod memcontrol;
mod memory;

use alloc::string::String;

use errno::Errno;
use shell_core::args::{error_line, wants_help};

use crate::print;
use crate::vfs::Context;

pub struct Tool {
    pub name: &'static str,
    pub usage: &'static str,
    pub summary: &'static str,
    pub run: fn(&mut Context, &[String]) -> i32,
}

/// Every command, in the order `help` lists them.
static TOOLS: &[Tool] = &[
    Tool { name: "help", usage: "help", summary: "list the commands", run: help },
    Tool {
        name: "echo",
        usage: "echo [ARG...]",
        summary: "print the arguments ($? is the last status)",
        run: echo,
    },
    Tool { name: "id", usage: "id", summary: "print the user and groups the shell runs as", run: id },
    Tool {
        name: "runas",
        usage: "runas USER COMMAND [ARG...]",
        summary: "run one command as root, operator or nobody",
        // Listed for `help`; the shell runs it itself, since it needs a new context.
        run: |_, _| 0,
    },
    Tool {
        name: "time",
        usage: "time COMMAND [ARG...]",
        summary: "run a command and print its wall time",
        // Listed for `help`; the shell runs it itself, since it runs another command.
        run: |_, _| 0,
    },
    Tool {
        name: "ls",
        usage: "ls [-l] [PATH]",
        summary: "list a directory (-l: mode, owner, numbers)",
        run: files::ls,
    },
    Tool { name: "cat", usage: "cat FILE...", summary: "print files", run: files::cat },
    Tool {
        name: "hexdump",
        usage: "hexdump -C [-s OFFSET] [-n LENGTH] FILE",
        summary: "canonical hex+ASCII dump of a file or device",
        run: memory::hexdump,
    },
    Tool {
        name: "devmem",
        usage: "devmem ADDRESS [WIDTH [VALUE]]",
        summary: "read or write one physical register (WIDTH 8/16/32/64)",
        run: memory::devmem,
    },
    Tool {
        name: "dd",
        usage: "dd if=FILE [of=FILE] [bs=N] [count=N] [skip=N] [seek=N]",
        summary: "copy blocks between files and devices",
        run: memory::dd,
    },
    Tool {
        name: "memcontrol",
        usage: "memcontrol list [-a] [-o OWNER] | set -b BASE -l LEN [-o OWNER] ATTR... | clear ...",
        summary: "list and set memory range attributes (MTRRs)",
        run: memcontrol::memcontrol,
    },
    Tool {
        name: "lspci",
        usage: "lspci [-n] [-v]",
        summary: "list PCI devices (-v: with BARs)",
        run: crate::pci::lspci::run,
    },
    Tool { name: "inb", usage: "inb PORT", summary: "read an I/O port through /dev/port", run: io::inb },
    Tool {
        name: "rdmsr",
        usage: "rdmsr [-p CPU | -a] MSR",
        summary: "read a model-specific register on a CPU (/dev/cpu/N/msr)",
        run: io::rdmsr,
    },
    Tool {
        name: "outb",
        usage: "outb PORT VALUE",
        summary: "write an I/O port through /dev/port",
        run: io::outb,
    },
    Tool {
        name: "mknod",
        usage: "mknod [-m MODE] PATH c MAJOR MINOR",
        summary: "make a character device node (root)",
        run: files::mknod,
    },
    Tool {
        name: "chown",
        usage: "chown OWNER[:GROUP] PATH",
        summary: "change a file's owner",
        run: files::chown,
    },
    Tool {
        name: "chmod",
        usage: "chmod MODE PATH",
        summary: "change a file's mode (octal)",
        run: files::chmod,
    },
    Tool { name: "rm", usage: "rm PATH...", summary: "remove names", run: files::rm },
    Tool { name: "poweroff", usage: "poweroff", summary: "power the machine off (root)", run: poweroff },
    Tool {
        name: "exit",
        usage: "exit [N]",
        summary: "end the session: power off with status N (default: the last status)",
        // The shell runs it itself: it needs the last status.
        run: |_, _| 0,
    },
];

pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|tool| tool.name == name)
}

/// Prints `tool`'s usage line; for `-h`/`--help` (status 0) and bad arguments (1).
fn usage(name: &str, status: i32) -> i32 {
    if let Some(tool) = find(name) {
        print!("usage: {}\n", tool.usage);
    }
    status
}

/// The status of a command stopped with Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

/// Whether Ctrl-C was typed: long loops ask between chunks, and stop with `^C` and
/// status [`INTERRUPTED`] when it was.
fn interrupted() -> bool {
    let hit = crate::console::take_interrupt();
    if hit {
        // The terminal's echo: on the screen even when the output goes to a file.
        crate::console::ensure_line_start();
        crate::console::echo(b"^C\n");
    }
    hit
}

/// `TOOL: WHAT: strerror`, status 1.
fn fail(tool: &str, what: &str, errno: Errno) -> i32 {
    print!("{}", error_line(tool, what, errno));
    1
}

/// Handles `-h`/`--help`: `Some(0)` after printing the usage.
fn help_requested(args: &[String]) -> Option<i32> {
    wants_help(args.get(1..).unwrap_or(&[])).then(|| usage(&args[0], 0))
}

fn help(_: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    for tool in TOOLS {
        if tool.usage.len() < HELP_COLUMN {
            print!("{:<width$} {}\n", tool.usage, tool.summary, width = HELP_COLUMN);
        } else {
            // Too long for the column: the summary goes under it, aligned.
            print!("{}\n{:<width$} {}\n", tool.usage, "", tool.summary, width = HELP_COLUMN);
        }
    }
    0
}

/// Where `help` starts the summaries.
const HELP_COLUMN: usize = 44;

fn echo(_: &mut Context, args: &[String]) -> i32 {
    let mut line = String::new();
    for (i, word) in args.iter().skip(1).enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(word);
    }
    print!("{line}\n");
    0
}

fn id(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    print!("{}\n", shell_core::users::id_line(ctx.cred()));
    0
}

fn poweroff(ctx: &mut Context, args: &[String]) -> i32 {
    if let Some(status) = help_requested(args) {
        return status;
    }
    match ctx.poweroff() {
        Ok(()) => 0,
        Err(errno) => {
            print!("poweroff: {}\n", errno.text());
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ktest::ktest;

    /// The shell's documentation, whose "Usage lines" block must list every tool's `-h`.
    const SHELL_DOC: &str = include_str!("../../../../docs/shell.md");

    fn documented_usages() -> alloc::vec::Vec<&'static str> {
        let block =
            SHELL_DOC.split("## Usage lines").nth(1).expect("docs/shell.md has a Usage lines section");
        let body = block.split("```").nth(1).expect("a code block");
        body.lines().map(str::trim).filter(|l| l.starts_with("usage: ")).collect()
    }

    #[ktest]
    fn every_tools_usage_is_in_the_shell_doc_and_nothing_else_is() {
        let documented = documented_usages();
        for tool in super::TOOLS {
            let line = alloc::format!("usage: {}", tool.usage);
            assert!(documented.contains(&line.as_str()), "docs/shell.md lacks `{line}`");
        }
        assert_eq!(documented.len(), super::TOOLS.len(), "docs/shell.md lists a tool the shell lacks");
    }
}
