//! /dev/console (5, 1) and /dev/tty (5, 0): the serial console as a terminal, for
//! programs. A small line discipline: canonical input with echo, Backspace, Ctrl-U;
//! Ctrl-D at the start of a line is end of file; Ctrl-C is left pending for the process
//! layer, which ends the program (SIGINT), and the read returns EINTR. TCGETS, TCSETS
//! (ICANON and ECHO are honoured), TIOCGWINSZ (80x24) and the process-group ioctls
//! work; other ioctls are ENOTTY.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use errno::{Errno, KResult};
use spin::Mutex;

use crate::console;
use crate::vfs::UserBuf;
use crate::vfs::ops::{Caller, CharDriver, FileOps, SeekPolicy};

const TCGETS: u32 = 0x5401;
const TCSETS: u32 = 0x5402;
const TCSETSW: u32 = 0x5403;
const TCSETSF: u32 = 0x5404;
const TIOCGPGRP: u32 = 0x540f;
const TIOCSPGRP: u32 = 0x5410;
const TIOCGWINSZ: u32 = 0x5413;
const TIOCSWINSZ: u32 = 0x5414;

/// c_lflag bits (Linux `include/uapi/asm-generic/termbits.h`).
const ICANON: u32 = 0o000002;
const ECHO: u32 = 0o000010;

/// Linux's `struct termios` for the ioctls: four u32 flags, c_line, c_cc[19].
const TERMIOS_SIZE: usize = 36;
const WINSIZE_SIZE: usize = 8;

/// The terminal's settings, as a termios in Linux's byte layout.
struct Tty {
    termios: [u8; TERMIOS_SIZE],
    /// Input typed but not read yet (the rest of a line).
    pending: VecDeque<u8>,
}

/// Linux's defaults for a console: ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD|HUPCL,
/// ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN, and its c_cc (INTR ^C, QUIT ^\,
/// ERASE DEL, KILL ^U, EOF ^D, TIME 0, MIN 1, ...).
const fn default_termios() -> [u8; TERMIOS_SIZE] {
    let mut t = [0u8; TERMIOS_SIZE];
    let flags: [u32; 4] = [0x0500, 0x0005, 0x00bf, 0x8a3b];
    let mut i = 0;
    while i < 4 {
        let bytes = flags[i].to_le_bytes();
        t[4 * i] = bytes[0];
        t[4 * i + 1] = bytes[1];
        t[4 * i + 2] = bytes[2];
        t[4 * i + 3] = bytes[3];
        i += 1;
    }
    let cc: [u8; 17] = [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0];
    let mut j = 0;
    while j < cc.len() {
        t[17 + j] = cc[j];
        j += 1;
    }
    t
}

static TTY: Mutex<Tty> = Mutex::new(Tty { termios: default_termios(), pending: VecDeque::new() });

fn lflag() -> u32 {
    let t = TTY.lock();
    u32::from_le_bytes([t.termios[12], t.termios[13], t.termios[14], t.termios[15]])
}

/// The terminal driver (major 5).
pub struct ConsoleDriver;

impl CharDriver for ConsoleDriver {
    fn open(&self, minor: u32, _caller: &Caller) -> KResult<Arc<dyn FileOps>> {
        match minor {
            vfs_core::devnum::TTY_MINOR | vfs_core::devnum::CONSOLE_MINOR => Ok(Arc::new(Console)),
            _ => Err(Errno::ENXIO),
        }
    }
}

/// An open terminal.
pub struct Console;

/// What reading a line ended with.
enum LineEnd {
    /// A line (ending in '\n') or the bytes before Ctrl-D are in `pending`.
    Data,
    EndOfFile,
    Interrupted,
}

fn echo(bytes: &[u8], on: bool) {
    if on {
        console::write_bytes(bytes);
    }
}

/// Reads one canonical line into `pending`.
fn read_line(echo_on: bool) -> LineEnd {
    let mut line: alloc::vec::Vec<u8> = alloc::vec::Vec::new();
    loop {
        let byte = console::read_byte();
        match byte {
            console::CTRL_C => {
                // read_byte took it: leave it pending for the process layer, which ends
                // the program (the shell echoes the ^C).
                crate::arch::serial::set_interrupt();
                return LineEnd::Interrupted;
            }
            0x04 if line.is_empty() => return LineEnd::EndOfFile,
            0x04 => break,
            b'\r' | b'\n' => {
                echo(b"\n", echo_on);
                line.push(b'\n');
                break;
            }
            0x08 | 0x7f => {
                if line.pop().is_some() {
                    echo(b"\x08 \x08", echo_on);
                }
            }
            0x15 => {
                for _ in 0..line.len() {
                    echo(b"\x08 \x08", echo_on);
                }
                line.clear();
            }
            _ => {
                echo(&[byte], echo_on);
                line.push(byte);
            }
        }
    }
    TTY.lock().pending.extend(line);
    LineEnd::Data
}

impl FileOps for Console {
    fn read(&self, _offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let flags = lflag();
        if TTY.lock().pending.is_empty() {
            if flags & ICANON != 0 {
                match read_line(flags & ECHO != 0) {
                    LineEnd::Data => {}
                    LineEnd::EndOfFile => return Ok(0),
                    LineEnd::Interrupted => return Err(Errno::EINTR),
                }
            } else {
                let byte = console::read_byte();
                if byte == console::CTRL_C {
                    crate::arch::serial::set_interrupt();
                    return Err(Errno::EINTR);
                }
                echo(&[byte], flags & ECHO != 0);
                TTY.lock().pending.push_back(byte);
            }
        }
        let mut tty = TTY.lock();
        let count = tty.pending.len().min(buf.len());
        let bytes: alloc::vec::Vec<u8> = tty.pending.iter().take(count).copied().collect();
        buf.write_at(0, &bytes)?;
        tty.pending.drain(..count);
        Ok(count)
    }

    fn write(&self, _offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let mut chunk = [0u8; 256];
        let mut done = 0;
        while done < buf.len() {
            let count = (buf.len() - done).min(chunk.len());
            if let Err(errno) = buf.read_at(done, &mut chunk[..count]) {
                return if done > 0 { Ok(done) } else { Err(errno) };
            }
            console::write_bytes(&chunk[..count]);
            done += count;
        }
        Ok(done)
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Pipe
    }

    fn ioctl(&self, cmd: u32, arg: u64, caller: &Caller) -> KResult<u64> {
        match cmd {
            TCGETS => {
                let termios = TTY.lock().termios;
                caller.user_buf(arg, TERMIOS_SIZE)?.write_at(0, &termios)?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                let mut termios = [0u8; TERMIOS_SIZE];
                caller.user_buf(arg, TERMIOS_SIZE)?.read_at(0, &mut termios)?;
                let mut tty = TTY.lock();
                tty.termios = termios;
                if cmd == TCSETSF {
                    tty.pending.clear();
                }
                Ok(0)
            }
            TIOCGWINSZ => {
                // ws_row 24, ws_col 80, no pixel sizes.
                let winsize: [u8; WINSIZE_SIZE] = [24, 0, 80, 0, 0, 0, 0, 0];
                caller.user_buf(arg, WINSIZE_SIZE)?.write_at(0, &winsize)?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let mut winsize = [0u8; WINSIZE_SIZE];
                caller.user_buf(arg, WINSIZE_SIZE)?.read_at(0, &mut winsize)?;
                Ok(0)
            }
            TIOCGPGRP => {
                caller.user_buf(arg, 4)?.write_at(0, &1i32.to_le_bytes())?;
                Ok(0)
            }
            TIOCSPGRP => {
                let mut pgrp = [0u8; 4];
                caller.user_buf(arg, 4)?.read_at(0, &mut pgrp)?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }
}

/// Forgets typed-ahead input and the settings a program made (when it ends).
pub fn reset() {
    let mut tty = TTY.lock();
    tty.termios = default_termios();
    tty.pending.clear();
}
