//! The serial shell: a console a person can use to explore the machine's memory.
//!
//! Every tool works only through the file API (`vfs::Context`): what the shell can do, a
//! user program will do the same way once there are system calls. Formats and argument
//! rules are in the host-tested `shell-core` crate; see shell.md for the contract.

mod line;
mod tools;

use alloc::string::String;
use alloc::vec::Vec;

use shell_core::lex::{LexError, split_line};
use vfs_core::cred::Credentials;

use crate::print;
use crate::vfs::Context;
use line::{Line, LineEditor};

/// The exit status of a command that was not found.
const NOT_FOUND: i32 = 127;
/// The status after Ctrl-C (128 + SIGINT), as shells set `$?`.
const INTERRUPTED: i32 = 130;

/// A context for the shell's commands, with `cred`.
fn shell_context(cred: Credentials) -> Context {
    // SAFETY: the shell's tools give a context addresses by number only as ioctl
    // arguments, and those point at the tool's own buffers (memcontrol's mem_range_op and
    // its descriptor array, both local `&mut` arrays not otherwise borrowed during the
    // call): memory they own and let the driver write.
    #[allow(unsafe_code)]
    unsafe {
        Context::new(cred)
    }
}

/// Runs the shell on the console, as root, until `poweroff`, `exit` or the end of
/// input (Ctrl-D on an empty line, or the end of a piped script).
pub fn run() -> ! {
    let mut ctx = shell_context(Credentials::ROOT);
    let mut editor = LineEditor::default();
    let mut status = 0;
    loop {
        let prompt = if ctx.cred().is_root() { "# " } else { "$ " };
        print!("{prompt}");
        status = match editor.read_line(prompt) {
            Line::Interrupted => INTERRUPTED,
            Line::EndOfInput => {
                crate::console::ensure_line_start();
                ctx.shutdown(status)
            }
            Line::Complete(text) => execute_line(&mut ctx, &text, status),
        };
    }
}

/// Splits and runs one command line; returns its status.
pub fn execute_line(ctx: &mut Context, text: &str, last_status: i32) -> i32 {
    match split_line(text, last_status) {
        Ok(words) if words.is_empty() => last_status,
        Ok(words) if words[0] == "exit" => exit(ctx, &words, last_status),
        Ok(words) => match redirection(&words) {
            Some((command, path, append)) if !command.is_empty() => {
                execute_to_file(ctx, command, path, append)
            }
            Some(_) => {
                print!("sh: syntax error: nothing to redirect\n");
                2
            }
            None => execute(ctx, &words),
        },
        Err(LexError::UnterminatedQuote) => {
            print!("sh: syntax error: unterminated quoted string\n");
            2
        }
    }
}

/// `exit [N]`: ends the session with status N (the last status without one), as sh.
fn exit(ctx: &mut Context, words: &[String], last_status: i32) -> i32 {
    let status = match words {
        [_, flag] if shell_core::args::wants_help(core::slice::from_ref(flag)) => {
            print!("usage: exit [N]\n");
            return 0;
        }
        [_] => last_status,
        [_, n] => match n.parse::<i64>() {
            Ok(n) => (n & 0xff) as i32,
            Err(_) => {
                print!("sh: exit: Illegal number: {n}\n");
                return 2;
            }
        },
        _ => {
            print!("sh: exit: too many arguments\n");
            return 1;
        }
    };
    ctx.shutdown(status)
}

/// `COMMAND... > FILE` or `>> FILE`: the command, the file, and whether to append.
fn redirection(words: &[String]) -> Option<(&[String], &str, bool)> {
    match words {
        [command @ .., op, path] if op == ">" || op == ">>" => Some((command, path.as_str(), op == ">>")),
        _ => None,
    }
}

/// The credentials a command runs with: the context's, or `runas USER`'s.
fn command_credentials(ctx: &Context, command: &[String]) -> Credentials {
    match command {
        [runas, user, _, ..] if runas == "runas" && ctx.cred().is_root() => {
            shell_core::users::resolve_user(user).unwrap_or(*ctx.cred())
        }
        _ => *ctx.cred(),
    }
}

/// A redirection's file and what is waiting to go to it: output is written a line at
/// a time (as echo writes a line in one write, which /proc files expect), or every
/// [`SINK_CHUNK`] bytes for long lines, so memory stays bounded whatever a command prints.
struct Sink {
    ctx: Context,
    fd: crate::vfs::Fd,
    pending: Vec<u8>,
    error: Option<errno::Errno>,
}

/// The most a redirection holds before writing.
const SINK_CHUNK: usize = 4096;

impl Sink {
    fn take(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        self.pending.extend_from_slice(bytes);
        let cut = if self.pending.len() >= SINK_CHUNK {
            self.pending.len()
        } else {
            self.pending.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1)
        };
        if cut > 0 {
            let chunk: Vec<u8> = self.pending.drain(..cut).collect();
            self.write(&chunk);
        }
    }

    fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.error.is_none() {
            match self.ctx.write_from_slice(self.fd, bytes) {
                Ok(0) => self.error = Some(errno::Errno::ENOSPC),
                Ok(n) => bytes = &bytes[n..],
                Err(errno) => self.error = Some(errno),
            }
        }
    }

    fn finish(&mut self) -> Option<errno::Errno> {
        let rest = core::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.write(&rest);
        }
        let _ = self.ctx.close(self.fd);
        self.error
    }
}

/// Runs a command with its console output going to `path`, opened for writing with the
/// command's credentials (`sh: PATH: Permission denied` when they do not allow it).
/// The output streams into the file as it is printed.
fn execute_to_file(ctx: &mut Context, command: &[String], path: &str, append: bool) -> i32 {
    let mut file_ctx = shell_context(command_credentials(ctx, command));
    let flags = vfs_core::flags::O_WRONLY
        | vfs_core::flags::O_CREAT
        | if append { vfs_core::flags::O_APPEND } else { vfs_core::flags::O_TRUNC };
    let fd = match file_ctx.open(path, flags, 0o644) {
        Ok(fd) => fd,
        Err(errno) => {
            print!("sh: {path}: {}\n", errno.text());
            return 1;
        }
    };
    let sink =
        alloc::sync::Arc::new(spin::Mutex::new(Sink { ctx: file_ctx, fd, pending: Vec::new(), error: None }));
    let writer = sink.clone();
    crate::console::begin_capture(alloc::boxed::Box::new(move |bytes: &[u8]| writer.lock().take(bytes)));
    let status = execute(ctx, command);
    drop(crate::console::end_capture());
    let error = sink.lock().finish();
    match error {
        None => status,
        Some(errno) => {
            print!("sh: write error: {}\n", errno.text());
            1
        }
    }
}

/// Runs `words[0]` with `words` as its arguments.
pub fn execute(ctx: &mut Context, words: &[String]) -> i32 {
    let name = words[0].as_str();
    if name == "runas" {
        return runas(ctx, words);
    }
    if name == "time" {
        return time(ctx, words);
    }
    match tools::find(name) {
        Some(tool) => (tool.run)(ctx, words),
        None => run_program(ctx, words),
    }
}

/// The environment programs start with.
const ENVIRONMENT: [&str; 3] = ["PATH=/bin", "HOME=/", "TERM=vt100"];

/// A command that is not built in: a program from /bin (or a path), run as a process
/// with the context's credentials; the shell waits for it. `$?` is its exit status, or
/// 128 + the signal that ended it (with sh's message for a fault).
fn run_program(ctx: &mut Context, words: &[String]) -> i32 {
    let name = words[0].as_str();
    let path = if name.contains('/') { String::from(name) } else { alloc::format!("/bin/{name}") };
    if !name.contains('/') && ctx.stat(&path).is_err() {
        print!("sh: {name}: not found\n");
        return NOT_FOUND;
    }
    let envp: Vec<String> = ENVIRONMENT.iter().map(|&v| String::from(v)).collect();
    match crate::proc::run(*ctx.cred(), &path, words, &envp, "/") {
        Ok(status) => {
            if let crate::proc::ExitStatus::Signaled(signal) = status {
                if signal == crate::proc::SIGINT {
                    // What a terminal echoes for the interrupt character (on the
                    // screen even when the output goes to a file).
                    crate::console::echo(b"^C");
                }
                crate::console::ensure_line_start();
                if let Some(message) = crate::proc::signal_message(signal) {
                    print!("{message}\n");
                }
                if let Some(report) = crate::proc::take_fault_report() {
                    print!("{report}\n");
                }
            }
            status.shell_status()
        }
        Err(errno::Errno::ENOENT) => {
            print!("sh: {name}: not found\n");
            NOT_FOUND
        }
        Err(errno::Errno::ENOEXEC) => 126,
        Err(errno) => {
            print!("sh: {name}: {}\n", errno.text());
            126
        }
    }
}

/// `runas USER COMMAND [ARGS...]`: one command with USER's uid, gid and groups. For
/// root only, as su and sudo are: anyone else gets EPERM.
/// `time COMMAND [ARG...]`: runs the command, then prints the wall time it took as
/// `real\tMmS.UUUUUUs` (microseconds). There is no user and sys line: the kernel keeps no
/// per-process CPU accounting. The status is the command's.
fn time(ctx: &mut Context, words: &[String]) -> i32 {
    if words.len() < 2 || shell_core::args::wants_help(&words[1..2]) {
        print!("usage: time COMMAND [ARG...]\n");
        return if words.len() >= 2 { 0 } else { 1 };
    }
    let start = crate::arch::timer::uptime_ns();
    let status = execute(ctx, &words[1..]);
    let micros = (crate::arch::timer::uptime_ns() - start) / 1000;
    crate::console::ensure_line_start();
    print!("real\t{}m{}.{:06}s\n", micros / 60_000_000, micros / 1_000_000 % 60, micros % 1_000_000);
    status
}

fn runas(ctx: &Context, words: &[String]) -> i32 {
    if shell_core::args::wants_help(&words[1..2.min(words.len())]) || words.len() < 3 {
        print!("usage: runas USER COMMAND [ARG...]\n");
        return if words.len() >= 2 && shell_core::args::wants_help(&words[1..2]) { 0 } else { 1 };
    }
    if !ctx.cred().is_root() {
        print!("runas: {}\n", errno::Errno::EPERM.text());
        return 1;
    }
    let Some(cred) = shell_core::users::resolve_user(&words[1]) else {
        print!("runas: {}: unknown user\n", words[1]);
        return 1;
    };
    let mut ctx = shell_context(cred);
    let rest: Vec<String> = words[2..].to_vec();
    execute(&mut ctx, &rest)
}
