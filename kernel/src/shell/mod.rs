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

/// Runs the shell on the console, as root, forever (`poweroff` ends the machine).
pub fn run() -> ! {
    let mut ctx = Context::new(Credentials::ROOT);
    let mut editor = LineEditor::default();
    let mut status = 0;
    loop {
        print!("{}", if ctx.cred().is_root() { "# " } else { "$ " });
        status = match editor.read_line() {
            Line::Interrupted => INTERRUPTED,
            Line::Complete(text) => execute_line(&mut ctx, &text, status),
        };
    }
}

/// Splits and runs one command line; returns its status.
pub fn execute_line(ctx: &mut Context, text: &str, last_status: i32) -> i32 {
    match split_line(text, last_status) {
        Ok(words) if words.is_empty() => last_status,
        Ok(words) => match redirection(&words) {
            Some((command, path)) if !command.is_empty() => execute_to_file(ctx, command, path),
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

/// `COMMAND... > FILE`: the command and the file, when the line ends with a redirection.
fn redirection(words: &[String]) -> Option<(&[String], &str)> {
    match words {
        [command @ .., op, path] if op == ">" || op == ">>" => Some((command, path.as_str())),
        _ => None,
    }
}

/// Runs a command with its console output written to `path` (opened for writing, as
/// the command's user: `sh: PATH: Permission denied` when not allowed).
fn execute_to_file(ctx: &mut Context, command: &[String], path: &str) -> i32 {
    let fd = match ctx.open(path, vfs_core::flags::O_WRONLY, 0o644) {
        Ok(fd) => fd,
        Err(errno) => {
            print!("sh: {path}: {}\n", errno.text());
            return 1;
        }
    };
    crate::console::begin_capture();
    let status = execute(ctx, command);
    let output = crate::console::end_capture();
    let written = ctx.write(fd, crate::vfs::UserBuf::from_slice(&output));
    let _ = ctx.close(fd);
    match written {
        Ok(_) => status,
        Err(errno) => {
            print!("sh: write error: {}\n", errno.text());
            1
        }
    }
}

/// Runs `words[0]` with `words` as its arguments.
pub fn execute(ctx: &mut Context, words: &[String]) -> i32 {
    let name = words[0].as_str();
    if name == "runas" {
        return runas(words);
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

/// `runas USER COMMAND [ARGS...]`: one command with USER's uid, gid and groups.
fn runas(words: &[String]) -> i32 {
    if shell_core::args::wants_help(&words[1..2.min(words.len())]) || words.len() < 3 {
        print!("usage: runas USER COMMAND [ARGS...]\n");
        return if words.len() >= 2 && shell_core::args::wants_help(&words[1..2]) { 0 } else { 1 };
    }
    let Some(cred) = shell_core::users::resolve_user(&words[1]) else {
        print!("runas: {}: unknown user\n", words[1]);
        return 1;
    };
    let mut ctx = Context::new(cred);
    let rest: Vec<String> = words[2..].to_vec();
    execute(&mut ctx, &rest)
}
